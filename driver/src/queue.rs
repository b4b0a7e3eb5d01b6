//! The I/O queues: the default parallel queue that hands every IOCTL to the
//! ndcm-ndi dispatcher, and the per-connection (per-listener, per-MAD-agent)
//! manual queues that implement `ndcm_ndi::Requests`.
//!
//! Owns [`KmdfRequests`] (the trait on WDF manual queues), the
//! `EvtIoDeviceControl` and `EvtIoCanceledOnQueue` callbacks. Ownership of a
//! [`KmdfRequest`] is the right to complete it: the dispatcher receives it by
//! value; once forwarded to a manual queue exactly one of retrieval (by a CM
//! event or teardown) or the framework's cancellation
//! (`EvtIoCanceledOnQueue` → `Ndi::canceled_on_queue`) takes it out again —
//! WDF settles that race under the queue's own lock.
//!
//! This module must never complete a request it has handed to the
//! dispatcher, never mark a request cancelable (queued requests are
//! cancelled by the framework, `ReqMarkCancelableSend`), and never read a
//! user buffer after completion: the input is copied before dispatch
//! because `METHOD_BUFFERED` input and output share one system buffer.

use alloc::vec::Vec;
use core::mem::MaybeUninit;
use core::ptr;

use ndcm_ndi::NdiError;
use ndcm_ndi::abi::{Ioctl, NtStatus};
use ndcm_ndi::requests::{PendInfo, PendKind, QueueOwner, Requests};
use wdk_sys::{
    _WDF_IO_QUEUE_DISPATCH_TYPE, _WDF_TRI_STATE, NTSTATUS, PVOID, STATUS_NOT_FOUND, ULONG,
    ULONG_PTR, WDF_IO_QUEUE_CONFIG, WDFDEVICE, WDFQUEUE, WDFREQUEST,
    call_unsafe_wdf_function_binding,
};

use crate::context::{
    PendRecord, QUEUE_CONTEXT_TYPE_INFO, QueueContext, WDF_IO_QUEUE_CONFIG_SIZE, object_attributes,
    object_attributes_with, queue_context, request_context,
};
use crate::device::{device_state, file_instance};
use crate::{abi_status, nt};

/// The largest IOCTL input the driver copies. Every ndcm input is a fixed
/// structure plus at most a few hundred bytes of private data or one MAD;
/// anything longer fails the dispatcher's exact-size check anyway, so it is
/// refused before a non-paged copy is made.
const MAX_INPUT: usize = 64 * 1024;

/// An owned request (WDFREQUEST).
pub struct KmdfRequest(WDFREQUEST);

// SAFETY: a WDFREQUEST handle may be used from any thread at IRQL <=
// DISPATCH_LEVEL; `KmdfRequest` is not Clone, so moving it moves the right
// to complete the request.
unsafe impl Send for KmdfRequest {}

/// A manual queue (WDFQUEUE) whose context is a [`QueueContext`].
pub struct KmdfQueue(WDFQUEUE);

// SAFETY: a WDFQUEUE handle may be used from any thread at IRQL <=
// DISPATCH_LEVEL; the queue's operations are serialised by WDF.
unsafe impl Send for KmdfQueue {}

/// `ndcm_ndi::Requests` on WDF manual queues of the control device.
pub struct KmdfRequests {
    device: WDFDEVICE,
}

// SAFETY: the device handle outlives every `KmdfRequests` (it lives in the
// device's own state) and WDF calls on it are thread-safe.
unsafe impl Send for KmdfRequests {}
// SAFETY: as above; `&KmdfRequests` only passes the handle to WDF.
unsafe impl Sync for KmdfRequests {}

impl KmdfRequests {
    /// Queues of `device` (the control device).
    pub const fn new(device: WDFDEVICE) -> Self {
        Self { device }
    }
}

impl Requests for KmdfRequests {
    type Request = KmdfRequest;
    type Queue = KmdfQueue;

    fn create_queue(&self, owner: QueueOwner) -> Result<KmdfQueue, NtStatus> {
        // A manual queue: the driver retrieves; requests in it are
        // cancellable and cancellation calls EvtIoCanceledOnQueue. A control
        // device has no power states, so the queue is not power-managed.
        let mut config = WDF_IO_QUEUE_CONFIG {
            Size: WDF_IO_QUEUE_CONFIG_SIZE,
            DispatchType: _WDF_IO_QUEUE_DISPATCH_TYPE::WdfIoQueueDispatchManual,
            PowerManaged: _WDF_TRI_STATE::WdfFalse,
            EvtIoCanceledOnQueue: Some(evt_io_canceled_on_queue),
            ..WDF_IO_QUEUE_CONFIG::default()
        };
        let mut attributes = object_attributes_with(&QUEUE_CONTEXT_TYPE_INFO);
        let mut queue: WDFQUEUE = ptr::null_mut();
        // SAFETY: the control device is live while its state (which holds
        // this `KmdfRequests`) exists; config and attributes are initialised
        // and outlive the call; WdfIoQueueCreate is callable at <= DISPATCH.
        let status = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfIoQueueCreate,
                self.device,
                &raw mut config,
                &raw mut attributes,
                &raw mut queue,
            )
        };
        if !wdk::nt_success(status) {
            return Err(abi_status(status));
        }
        // SAFETY: the queue was created with QueueContext; no request is in
        // it yet, so EvtIoCanceledOnQueue cannot read the context before
        // this write.
        let context = unsafe { queue_context(queue.cast()) };
        // SAFETY: valid, aligned, zero-initialised QueueContext memory.
        unsafe {
            ptr::write(
                context,
                QueueContext {
                    owner,
                    device: self.device,
                },
            );
        };
        Ok(KmdfQueue(queue))
    }

    fn forward(
        &self,
        queue: &KmdfQueue,
        request: KmdfRequest,
        info: PendInfo,
    ) -> Result<(), (KmdfRequest, NtStatus)> {
        // Record what the request waits for before it enters the queue: the
        // cancel callback may run as soon as it is there.
        set_pended(&request, Some(info));
        // SAFETY: we own `request` (not completed, not queued, not
        // cancelable: the dispatcher never marks requests cancelable, per
        // ReqMarkCancelableSend); `queue` is a live manual queue of the same
        // device.
        let status = unsafe {
            call_unsafe_wdf_function_binding!(WdfRequestForwardToIoQueue, request.0, queue.0)
        };
        // On success the request belongs to the queue: it may already be
        // cancelled and completed by another thread, or by EvtIoCanceledOnQueue
        // on this one inside the call above (the dispatcher defers that to
        // its lock's release, `Ndi::canceled_on_queue`). Not touched again.
        if wdk::nt_success(status) {
            Ok(())
        } else {
            // Still ours (never queued): the caller completes it.
            set_pended(&request, None);
            Err((request, abi_status(status)))
        }
    }

    fn retrieve(&self, queue: &KmdfQueue, kind: PendKind) -> Option<(KmdfRequest, PendInfo)> {
        find_and_retrieve(queue.0, |info| info.kind == kind)
    }

    fn retrieve_tagged(
        &self,
        queue: &KmdfQueue,
        kind: PendKind,
        tag: u64,
    ) -> Option<(KmdfRequest, PendInfo)> {
        find_and_retrieve(queue.0, |info| info.kind == kind && info.tag == tag)
    }

    fn retrieve_any(&self, queue: &KmdfQueue) -> Option<(KmdfRequest, PendInfo)> {
        // Not WdfIoQueueRetrieveNextRequest: a NOTIFY_DREQ at the head must
        // be skipped and stay queued (spec/NDI.md §6 rule 2).
        find_and_retrieve(queue.0, |info| info.kind != PendKind::NotifyDreq)
    }

    fn write_output(&self, request: &mut KmdfRequest, bytes: &[u8]) -> usize {
        let mut buffer: PVOID = ptr::null_mut();
        let mut length: usize = 0;
        // SAFETY: we own the not-yet-completed request; the out-pointers are
        // locals. A zero-length output buffer makes this fail, which writes
        // nothing.
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
        // SAFETY: the framework returned a system buffer of `length` bytes
        // that stays valid until the request is completed (after this call);
        // `bytes` is the dispatcher's own memory, so the ranges cannot
        // overlap (the input was copied out before dispatch).
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), buffer.cast::<u8>(), n) };
        n
    }

    fn complete(&self, request: KmdfRequest, status: NtStatus, information: usize) {
        let information = ULONG_PTR::try_from(information).unwrap_or(0);
        // SAFETY: we own the request; this consumes the token, so it is
        // completed exactly once and never touched afterwards.
        unsafe {
            call_unsafe_wdf_function_binding!(
                WdfRequestCompleteWithInformation,
                request.0,
                nt(status),
                information,
            );
        };
    }

    fn delete_queue(&self, queue: KmdfQueue) {
        // SAFETY: the dispatcher emptied the queue; deleting a manual queue
        // is allowed at <= DISPATCH_LEVEL, and a cancel callback already in
        // flight finishes before the framework frees the queue.
        unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, queue.0.cast()) };
    }
}

/// Writes the request's pend record (`None` clears it). Only for a request
/// we own that is not in a queue: once queued, other threads may read the
/// record through a find reference, so it is not written again.
fn set_pended(request: &KmdfRequest, info: Option<PendInfo>) {
    // SAFETY: every request of the control device carries a RequestContext
    // (WdfDeviceInitSetRequestAttributes); we own the request.
    let context = unsafe { request_context(request.0.cast()) };
    let record = PendRecord {
        pended: info.is_some(),
        info: info.map_or(MaybeUninit::uninit(), MaybeUninit::new),
    };
    // SAFETY: `context` is valid; projecting to a field creates no
    // reference.
    let field = unsafe { &raw mut (*context).record };
    // SAFETY: the request is ours and not queued, so nothing reads the
    // record now; it is plain data with nothing to drop.
    unsafe { field.write(record) };
}

/// The pend record of a request in (or just taken out of) a manual queue.
///
/// # Safety
/// The caller must hold a reference on `request` (found, retrieved, or
/// presented to a callback), and the record must not be written
/// concurrently (it is written only by the owner, before forwarding).
unsafe fn pended(request: WDFREQUEST) -> Option<PendInfo> {
    // SAFETY: per the contract the request is live; it carries a
    // RequestContext like every request of the device.
    let context = unsafe { request_context(request.cast()) };
    // SAFETY: read-only copy of the record while no one writes it.
    let record = unsafe { (*context).record };
    if record.pended {
        // SAFETY: `info` is written together with `pended = true`.
        Some(unsafe { record.info.assume_init() })
    } else {
        None
    }
}

/// Releases a reference taken by `WdfIoQueueFindRequest`
/// (`WdfObjectDereference` is a C macro over `WdfObjectDereferenceActual`).
fn dereference(request: WDFREQUEST) {
    // SAFETY: `request` carries a reference from WdfIoQueueFindRequest that
    // the caller gives up here; the tag (null) matches.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfObjectDereferenceActual,
            request.cast(),
            ptr::null_mut(),
            0,
            c"queue.rs".as_ptr(),
        );
    };
}

/// Bounds the find loop (steps plus restarts). A queue holds the few
/// requests of one connection, listener or MAD agent, and a restart happens
/// only when a found request is cancelled between find and retrieve, so the
/// bound is never reached in practice; reaching it reports "none", which the
/// dispatcher treats as a request being cancelled.
const MAX_FIND_STEPS: u32 = 1 << 16;

/// Walks the queue oldest first (`WdfIoQueueFindRequest`) and takes out the
/// first request whose pend record satisfies `want`
/// (`WdfIoQueueRetrieveFoundRequest`). A request cancelled in between is
/// skipped by restarting the walk (`STATUS_NOT_FOUND`).
fn find_and_retrieve(
    queue: WDFQUEUE,
    want: impl Fn(&PendInfo) -> bool,
) -> Option<(KmdfRequest, PendInfo)> {
    let mut previous: WDFREQUEST = ptr::null_mut();
    for _ in 0..MAX_FIND_STEPS {
        let mut found: WDFREQUEST = ptr::null_mut();
        // SAFETY: `queue` is a live manual queue; `previous` is null or a
        // request we still hold a find reference on; no file object or
        // parameters filter; `found` receives a referenced request.
        let status: NTSTATUS = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfIoQueueFindRequest,
                queue,
                previous,
                ptr::null_mut(),
                ptr::null_mut(),
                &raw mut found,
            )
        };
        if !previous.is_null() {
            dereference(previous);
            previous = ptr::null_mut();
        }
        if status == STATUS_NOT_FOUND {
            // `previous` left the queue (cancelled): start again.
            continue;
        }
        if !wdk::nt_success(status) {
            // STATUS_NO_MORE_ENTRIES: nothing matches.
            return None;
        }
        // SAFETY: `found` holds a find reference; its record was written
        // before it was forwarded and is not written while it is queued.
        let info = unsafe { pended(found) };
        match info {
            Some(info) if want(&info) => {
                let mut taken: WDFREQUEST = ptr::null_mut();
                // SAFETY: `found` was returned by WdfIoQueueFindRequest on
                // this queue and is still referenced.
                let status: NTSTATUS = unsafe {
                    call_unsafe_wdf_function_binding!(
                        WdfIoQueueRetrieveFoundRequest,
                        queue,
                        found,
                        &raw mut taken,
                    )
                };
                dereference(found);
                if status == STATUS_NOT_FOUND {
                    continue;
                }
                if !wdk::nt_success(status) || taken.is_null() {
                    return None;
                }
                // The record is left as it is: another walker may still
                // hold a find reference and read it; the request is
                // completed, never forwarded again.
                return Some((KmdfRequest(taken), info));
            }
            _ => previous = found,
        }
    }
    if !previous.is_null() {
        dereference(previous);
    }
    None
}

/// Creates the control device's default queue: parallel, not power-managed
/// (control device), IOCTLs only. `PASSIVE_LEVEL`.
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
    // SAFETY: `device` is the live control device being initialised; the
    // structures are initialised and outlive the call; the queue handle is
    // not needed (the queue is the device's child).
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

/// Completes a request the dispatcher never saw.
fn complete_now(request: WDFREQUEST, status: NtStatus) {
    // SAFETY: the request was presented to the calling callback, which owns
    // it and completes it exactly once, here, without touching it again.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfRequestCompleteWithInformation,
            request,
            nt(status),
            0
        );
    };
}

/// Copies the `METHOD_BUFFERED` input out of the system buffer (which is also
/// the output buffer), so the dispatcher's `&[u8]` never aliases a later
/// output write.
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
    // SAFETY: the request was presented to EvtIoDeviceControl and is owned
    // by it; the out-pointers are locals.
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
        return Err(abi_status(status));
    }
    let length = length.min(input_len);
    input
        .try_reserve_exact(length)
        .map_err(|_| NdiError::NoResources.status())?;
    // SAFETY: the framework returned a system buffer of at least `length`
    // readable bytes, valid until the request completes (after the copy).
    let source = unsafe { core::slice::from_raw_parts(buffer.cast::<u8>().cast_const(), length) };
    input.extend_from_slice(source);
    Ok(input)
}

/// `EvtIoDeviceControl` of the default queue (IRQL <= `DISPATCH_LEVEL`; for
/// user-mode callers `PASSIVE_LEVEL` in the caller's thread).
extern "C" fn evt_io_device_control(
    queue: WDFQUEUE,
    request: WDFREQUEST,
    output_len: usize,
    input_len: usize,
    code: ULONG,
) {
    // Unknown codes (including METHOD_NEITHER ones) are refused before any
    // buffer is touched.
    if Ioctl::from_code(code).is_none() {
        complete_now(request, NdiError::UnknownRequest.status());
        return;
    }
    // SAFETY: the framework passes its live default queue.
    let device = unsafe { call_unsafe_wdf_function_binding!(WdfIoQueueGetDevice, queue) };
    // SAFETY: the queue's device is the live control device; the state is
    // used only during this callback.
    let Some(state) = (unsafe { device_state(device.cast()) }) else {
        complete_now(request, NtStatus::INVALID_DEVICE_STATE);
        return;
    };
    // SAFETY: the request is presented to this callback (FileObjectConfigured:
    // the device has a file-object configuration).
    let file_object =
        unsafe { call_unsafe_wdf_function_binding!(WdfRequestGetFileObject, request) };
    // SAFETY: the file object of a presented request is live until the
    // request completes; the reference is used only in this callback.
    let Some(file) = (unsafe { file_instance(file_object) }) else {
        complete_now(request, NtStatus::INVALID_HANDLE);
        return;
    };
    let input = match copy_input(request, input_len) {
        Ok(input) => input,
        Err(status) => {
            complete_now(request, status);
            return;
        }
    };
    // The dispatcher completes the request or forwards it to a manual
    // queue before returning (RequestCompletedLocal); it is not ours after.
    let _ = state
        .ndi()
        .dispatch(file, code, &input, output_len, KmdfRequest(request));
    state.rearm_cm_timer();
}

/// `EvtIoCanceledOnQueue` of a manual queue (IRQL <= `DISPATCH_LEVEL`): user
/// mode cancelled a pended request; the framework has taken it out of the
/// queue and gives it to us to complete.
extern "C" fn evt_io_canceled_on_queue(queue: WDFQUEUE, request: WDFREQUEST) {
    // SAFETY: the framework passes the live manual queue, created with
    // QueueContext (written before any request entered it).
    let context = unsafe { queue_context(queue.cast()) };
    // SAFETY: the queue context is not written after creation.
    let queue_record = unsafe { &*context };
    let (owner, device) = (queue_record.owner, queue_record.device);
    // SAFETY: the request is presented to this callback, which owns it; its
    // record was written before it was forwarded.
    let info = unsafe { pended(request) };
    let request = KmdfRequest(request);
    // SAFETY: the queue's device is the live control device.
    let state = unsafe { device_state(device.cast()) };
    match (state, info) {
        (Some(state), Some(info)) => {
            state.ndi().canceled_on_queue(owner, request, info);
            state.rearm_cm_timer();
        }
        // No dispatcher (device going away) or no record (never forwarded
        // by `forward`): nothing to undo; the request still completes once.
        _ => complete_now(request.0, NtStatus::CANCELLED),
    }
}
