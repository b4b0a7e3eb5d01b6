//! The default queue (`EvtIoDeviceControl` → the dispatcher), the manual
//! queues behind `ndcm_ndi::Requests` and `EvtIoCanceledOnQueue`. Owning a
//! [`KmdfRequest`] is the right to complete it (README-windows.md).

use alloc::vec::Vec;
use core::mem::MaybeUninit;
use core::ptr;

use ndcm_ndi::NdiError;
use ndcm_ndi::abi::{Ioctl, NtStatus};
use ndcm_ndi::find::{FoundQueue, Want, find_and_retrieve};
use ndcm_ndi::requests::{PendInfo, PendKind, QueueOwner, Requests};
use wdk_sys::{
    _WDF_IO_QUEUE_DISPATCH_TYPE, _WDF_TRI_STATE, NTSTATUS, PVOID, ULONG, ULONG_PTR,
    WDF_IO_QUEUE_CONFIG, WDFDEVICE, WDFQUEUE, WDFREQUEST, call_unsafe_wdf_function_binding,
};

use crate::context::{
    PendRecord, QUEUE_CONTEXT_TYPE_INFO, QueueContext, WDF_IO_QUEUE_CONFIG_SIZE, object_attributes,
    object_attributes_with, queue_context, request_context,
};
use crate::device::{device_state, file_instance};

/// The largest input copied (a longer one fails the size check anyway).
const MAX_INPUT: usize = 64 * 1024;

/// An owned request (WDFREQUEST).
pub struct KmdfRequest(WDFREQUEST);

// SAFETY: a WDFREQUEST may be used from any thread; not Clone.
unsafe impl Send for KmdfRequest {}

/// A manual queue (WDFQUEUE) whose context is a [`QueueContext`].
pub struct KmdfQueue(WDFQUEUE);

// SAFETY: a WDFQUEUE may be used from any thread at IRQL <= DISPATCH.
unsafe impl Send for KmdfQueue {}

/// `ndcm_ndi::Requests` on WDF manual queues of the control device.
pub struct KmdfRequests(pub WDFDEVICE);

// SAFETY: the device outlives its state, which holds every `KmdfRequests`.
unsafe impl Send for KmdfRequests {}
// SAFETY: as above; `&KmdfRequests` only passes the handle to WDF.
unsafe impl Sync for KmdfRequests {}

impl Requests for KmdfRequests {
    type Request = KmdfRequest;
    type Queue = KmdfQueue;

    fn create_queue(&self, owner: QueueOwner) -> Result<KmdfQueue, NtStatus> {
        // Manual, cancellable (EvtIoCanceledOnQueue), not power-managed.
        let mut config = WDF_IO_QUEUE_CONFIG {
            Size: WDF_IO_QUEUE_CONFIG_SIZE,
            DispatchType: _WDF_IO_QUEUE_DISPATCH_TYPE::WdfIoQueueDispatchManual,
            PowerManaged: _WDF_TRI_STATE::WdfFalse,
            EvtIoCanceledOnQueue: Some(evt_io_canceled_on_queue),
            ..WDF_IO_QUEUE_CONFIG::default()
        };
        let mut attributes = object_attributes_with(&QUEUE_CONTEXT_TYPE_INFO);
        let mut queue: WDFQUEUE = ptr::null_mut();
        // SAFETY: a live device; the structures outlive the call; <= DISPATCH.
        let status = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfIoQueueCreate,
                self.0,
                &raw mut config,
                &raw mut attributes,
                &raw mut queue,
            )
        };
        if !wdk::nt_success(status) {
            return Err(NtStatus::from_raw(status));
        }
        // SAFETY: with QueueContext; empty, so no callback reads it yet.
        let context = unsafe { queue_context(queue.cast()) };
        let device = self.0;
        // SAFETY: valid, aligned, zero-initialised QueueContext memory.
        unsafe { ptr::write(context, QueueContext { owner, device }) };
        Ok(KmdfQueue(queue))
    }

    fn forward(
        &self,
        queue: &KmdfQueue,
        request: KmdfRequest,
        info: PendInfo,
    ) -> Result<(), (KmdfRequest, NtStatus)> {
        // Before it enters the queue: the cancel callback may run from then.
        set_pended(&request, Some(info));
        // SAFETY: we own `request` (not completed, queued or cancelable:
        // ReqMarkCancelableSend); `queue` is a live manual queue of its device.
        let status = unsafe {
            call_unsafe_wdf_function_binding!(WdfRequestForwardToIoQueue, request.0, queue.0)
        };
        // Now the queue's, maybe cancelled already (on this thread too).
        if wdk::nt_success(status) {
            Ok(())
        } else {
            // Still ours (never queued): the caller completes it.
            set_pended(&request, None);
            Err((request, NtStatus::from_raw(status)))
        }
    }

    fn retrieve(&self, queue: &KmdfQueue, kind: PendKind) -> Option<(KmdfRequest, PendInfo)> {
        find_and_retrieve(queue, Want::Kind(kind))
    }

    fn retrieve_tagged(
        &self,
        queue: &KmdfQueue,
        kind: PendKind,
        tag: u64,
    ) -> Option<(KmdfRequest, PendInfo)> {
        find_and_retrieve(queue, Want::Tagged(kind, tag))
    }

    fn retrieve_any(&self, queue: &KmdfQueue) -> Option<(KmdfRequest, PendInfo)> {
        find_and_retrieve(queue, Want::AnyButNotifyDreq)
    }

    fn write_output(&self, request: &mut KmdfRequest, bytes: &[u8]) -> usize {
        let mut buffer: PVOID = ptr::null_mut();
        let mut length: usize = 0;
        // SAFETY: we own the request; a zero-length output buffer fails.
        let status = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfRequestRetrieveOutputBuffer,
                request.0,
                0,
                &raw mut buffer,
                &raw mut length,
            )
        };
        if !wdk::nt_success(status) || buffer.is_null() {
            return 0;
        }
        let n = length.min(bytes.len());
        // SAFETY: `length` valid bytes; `bytes` is the dispatcher's memory.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), buffer.cast::<u8>(), n) };
        n
    }

    fn complete(&self, request: KmdfRequest, status: NtStatus, information: usize) {
        complete(request.0, status, information); // consumes the token
    }

    fn delete_queue(&self, queue: KmdfQueue) {
        // SAFETY: emptied; a cancel callback in flight finishes first.
        unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, queue.0.cast()) };
    }
}

/// Writes the pend record of a request we own that is not queued.
fn set_pended(request: &KmdfRequest, info: Option<PendInfo>) {
    let record = PendRecord {
        pended: info.is_some(),
        info: info.map_or(MaybeUninit::uninit(), MaybeUninit::new),
    };
    // SAFETY: every request of the device has a PendRecord context.
    let context = unsafe { request_context(request.0.cast()) };
    // SAFETY: ours and not queued, so nothing reads it; nothing to drop.
    unsafe { context.write(record) };
}

/// The pend record of a request in (or just out of) a manual queue.
/// # Safety
/// The caller holds a reference on `request` (found, retrieved, presented).
unsafe fn pended(request: WDFREQUEST) -> Option<PendInfo> {
    // SAFETY: per the contract the request is live, with a PendRecord.
    let context = unsafe { request_context(request.cast()) };
    // SAFETY: read-only copy of the record while no one writes it.
    let record = unsafe { *context };
    // SAFETY: `info` is written together with `pended = true`.
    record.pended.then(|| unsafe { record.info.assume_init() })
}

/// The walk itself is `ndcm_ndi::find::find_and_retrieve`.
impl FoundQueue for KmdfQueue {
    type Found = WDFREQUEST;
    type Taken = KmdfRequest;

    fn find(&self, previous: Option<WDFREQUEST>) -> Result<WDFREQUEST, NtStatus> {
        let mut found: WDFREQUEST = ptr::null_mut();
        // SAFETY: a live queue; `previous` is null or held by a reference.
        let status: NTSTATUS = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfIoQueueFindRequest,
                self.0,
                previous.unwrap_or(ptr::null_mut()),
                ptr::null_mut(),
                ptr::null_mut(),
                &raw mut found,
            )
        };
        if wdk::nt_success(status) && !found.is_null() {
            Ok(found)
        } else {
            Err(NtStatus::from_raw(status))
        }
    }

    fn info(&self, found: WDFREQUEST) -> Option<PendInfo> {
        // SAFETY: `found` holds a find reference (record not written now).
        unsafe { pended(found) }
    }

    fn retrieve_found(&self, found: WDFREQUEST) -> Result<KmdfRequest, NtStatus> {
        let mut taken: WDFREQUEST = ptr::null_mut();
        // SAFETY: found on this queue and still referenced.
        let status: NTSTATUS = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfIoQueueRetrieveFoundRequest,
                self.0,
                found,
                &raw mut taken,
            )
        };
        if wdk::nt_success(status) && !taken.is_null() {
            Ok(KmdfRequest(taken))
        } else {
            Err(NtStatus::from_raw(status))
        }
    }

    fn release(&self, found: WDFREQUEST) {
        // SAFETY: gives up the find reference (`WdfObjectDereference`).
        unsafe {
            call_unsafe_wdf_function_binding!(
                WdfObjectDereferenceActual,
                found.cast(),
                ptr::null_mut(),
                0,
                c"queue.rs".as_ptr(),
            );
        };
    }
}

/// Creates the default queue: parallel, not power-managed, IOCTLs only.
pub fn create_default_queue(device: WDFDEVICE) -> Result<(), NTSTATUS> {
    let mut config = WDF_IO_QUEUE_CONFIG {
        Size: WDF_IO_QUEUE_CONFIG_SIZE,
        DispatchType: _WDF_IO_QUEUE_DISPATCH_TYPE::WdfIoQueueDispatchParallel,
        PowerManaged: _WDF_TRI_STATE::WdfFalse,
        DefaultQueue: 1,
        EvtIoDeviceControl: Some(evt_io_device_control),
        ..WDF_IO_QUEUE_CONFIG::default()
    };
    // WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE: unlimited presented requests.
    config.Settings.Parallel.NumberOfPresentedRequests = ULONG::MAX;
    let mut attributes = object_attributes();
    // SAFETY: a live device; the structures outlive the call.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfIoQueueCreate,
            device,
            &raw mut config,
            &raw mut attributes,
            ptr::null_mut(),
        )
    };
    if wdk::nt_success(status) {
        Ok(())
    } else {
        Err(status)
    }
}

/// Completes a request the caller owns (consumed, or never dispatched).
fn complete(request: WDFREQUEST, status: NtStatus, information: usize) {
    let information = ULONG_PTR::try_from(information).unwrap_or(0);
    // SAFETY: the caller owns the request and completes it exactly once.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfRequestCompleteWithInformation,
            request,
            status.to_raw(),
            information,
        );
    };
}

/// Copies the `METHOD_BUFFERED` input out of the system buffer (also the
/// output buffer): the dispatcher's `&[u8]` never aliases an output write.
fn copy_input(request: WDFREQUEST, input_len: usize) -> Result<Vec<u8>, NtStatus> {
    let mut input = Vec::new();
    if input_len == 0 {
        return Ok(input);
    }
    if input_len > MAX_INPUT {
        return Err(NdiError::InputSize.status());
    }
    let mut buffer: PVOID = ptr::null_mut();
    let mut length: usize = 0;
    // SAFETY: presented to EvtIoDeviceControl; the out-pointers are locals.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfRequestRetrieveInputBuffer,
            request,
            input_len,
            &raw mut buffer,
            &raw mut length,
        )
    };
    if !wdk::nt_success(status) || buffer.is_null() {
        return Err(NtStatus::from_raw(status));
    }
    let length = length.min(input_len);
    input
        .try_reserve_exact(length)
        .map_err(|_| NdiError::NoResources.status())?;
    // SAFETY: a system buffer of >= `length` bytes, valid until completion.
    let source = unsafe { core::slice::from_raw_parts(buffer.cast::<u8>().cast_const(), length) };
    input.extend_from_slice(source);
    Ok(input)
}

/// `EvtIoDeviceControl` (user-mode callers: `PASSIVE_LEVEL`, their thread).
extern "C" fn evt_io_device_control(
    queue: WDFQUEUE,
    request: WDFREQUEST,
    output_len: usize,
    input_len: usize,
    code: ULONG,
) {
    if let Err(status) = device_control(queue, request, output_len, input_len, code) {
        complete(request, status, 0);
    }
}

/// Hands the request to the dispatcher (completes or forwards it); Err: never got it.
fn device_control(
    queue: WDFQUEUE,
    request: WDFREQUEST,
    output_len: usize,
    input_len: usize,
    code: ULONG,
) -> Result<(), NtStatus> {
    // Unknown (and METHOD_NEITHER) codes: refused before any buffer access.
    Ioctl::from_code(code).ok_or_else(|| NdiError::UnknownRequest.status())?;
    // SAFETY: the framework passes its live default queue.
    let device = unsafe { call_unsafe_wdf_function_binding!(WdfIoQueueGetDevice, queue) };
    // SAFETY: the live control device; the state is used in this callback.
    let state = unsafe { device_state(device.cast()) }.ok_or(NtStatus::INVALID_DEVICE_STATE)?;
    // SAFETY: presented to us; the device has a file-object configuration.
    let file_object =
        unsafe { call_unsafe_wdf_function_binding!(WdfRequestGetFileObject, request) };
    // SAFETY: live until the request completes; used in this callback only.
    let file = unsafe { file_instance(file_object) }.ok_or(NtStatus::INVALID_HANDLE)?;
    let input = copy_input(request, input_len)?;
    let _ = state
        .ndi
        .dispatch(file, code, &input, output_len, KmdfRequest(request));
    state.rearm_cm_timer();
    Ok(())
}

/// `EvtIoCanceledOnQueue`: a pended request was cancelled and dequeued.
extern "C" fn evt_io_canceled_on_queue(queue: WDFQUEUE, request: WDFREQUEST) {
    // SAFETY: a live manual queue with QueueContext.
    let context = unsafe { queue_context(queue.cast()) };
    // SAFETY: written before any request entered the queue, never after.
    let QueueContext { owner, device } = unsafe { *context };
    // SAFETY: presented to this callback, which owns it.
    let info = unsafe { pended(request) };
    let request = KmdfRequest(request);
    // SAFETY: the queue's device is the live control device.
    let state = unsafe { device_state(device.cast()) };
    match (state, info) {
        (Some(state), Some(info)) => {
            state.ndi.canceled_on_queue(owner, request, info);
            state.rearm_cm_timer();
        }
        // No dispatcher (device going away) or never `forward`ed.
        _ => complete(request.0, NtStatus::CANCELLED, 0),
    }
}
