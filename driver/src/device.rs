//! The control device `\Device\ndcm` and its file objects.
//!
//! Owns the control device's creation (name, SDDL, symbolic link
//! `\DosDevices\Global\ndcm`, file-object configuration, request context,
//! default queue, CM timers, the ndcm-ndi dispatcher), its destruction, and the
//! file-object callbacks: `EvtDeviceFileCreate` opens one ndcm-ndi instance per
//! open file, `EvtFileCleanup` tears it down (every pending request of the file
//! completes with `STATUS_CANCELLED`, spec/NDI.md §9.3), `EvtFileClose` drops the
//! driver's reference to it.
//!
//! The device is a KMDF *control* device (`WdfControlDeviceInitAllocate`):
//! it has no PnP or power state, so its queues are not power-managed, and
//! the driver deletes it itself when the root-enumerated PnP device that
//! loaded the driver goes away (driver.rs). It must never be given
//! power-managed queues. The device and file callbacks here run at
//! `PASSIVE_LEVEL`; [`DeviceState`]'s methods and the CM sinks may also run at
//! `DISPATCH_LEVEL` (timer, cancellation) and must not wait there.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ptr;

use ndcm_cm::ManagerConfig;
use ndcm_cm::platform::{Instant, Platform};
use ndcm_ndi::abi::codes::NDCM_DEVICE_TYPE;
use ndcm_ndi::cm_adapter::ManagerPort;
use ndcm_ndi::compose::{DeviceLink, agent_device, bind_agent_sinks, drawn_ca_guid};
use ndcm_ndi::{File, Ndi};
use wdk_sys::{
    _WDF_FILEOBJECT_CLASS, _WDF_TRI_STATE, FILE_DEVICE_SECURE_OPEN, NTSTATUS, PWDFDEVICE_INIT,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_DEVICE_STATE, STATUS_SUCCESS, UNICODE_STRING,
    WDF_FILEOBJECT_CONFIG, WDFDEVICE, WDFDRIVER, WDFFILEOBJECT, WDFOBJECT, WDFREQUEST,
    call_unsafe_wdf_function_binding,
};

use crate::context::{
    DEVICE_CONTEXT_TYPE_INFO, DeviceContext, FILE_CONTEXT_TYPE_INFO, FileContext,
    REQUEST_CONTEXT_TYPE_INFO, WDF_FILEOBJECT_CONFIG_SIZE, device_context, file_context,
    object_attributes_with,
};
use crate::queue::{KmdfRequests, create_default_queue};
use crate::sync::KmdfPlatform;
use crate::timer::CmTimer;

/// The control device's NT name.
pub const NDCM_DEVICE_NAME: &str = "\\Device\\ndcm";
/// Its symbolic link; user mode opens `\\.\ndcm`.
pub const NDCM_SYMBOLIC_LINK: &str = "\\DosDevices\\Global\\ndcm";
/// Device object security, the same string as the INF's
/// `HKR,,Security` (`tests/tests/inx_lint.rs` checks they match): SYSTEM and
/// Administrators get all access; authenticated users may open the device
/// for read and write, which NetworkDirect applications need. Only the
/// `IoCreateDeviceSecure` subset of SDDL ("D:P" + `(A;;access;;;SID)`).
pub const NDCM_DEVICE_SDDL: &str = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;AU)";

/// The HCA port number CM MADs leave from (the MAD agent's one port).
const LOCAL_PORT: u8 = 1;

/// The dispatcher of this driver.
pub type KmdfNdi = Ndi<KmdfPlatform, KmdfCm, KmdfRequests>;
/// One open file's ndcm-ndi instance.
pub type NdiFile = File<KmdfPlatform, KmdfRequests>;
/// The CEP manager behind the dispatcher, as ndcm-ndi's `CmPort`.
pub type KmdfCm = ManagerPort<KmdfPlatform>;

/// Everything the control device owns besides WDF objects.
pub struct DeviceState {
    ndi: KmdfNdi,
    timer: CmTimer,
}

impl DeviceState {
    /// The dispatcher.
    pub const fn ndi(&self) -> &KmdfNdi {
        &self.ndi
    }

    /// The CM timer.
    pub const fn timer(&self) -> &CmTimer {
        &self.timer
    }

    /// Sets the CM timer for the CM's earliest deadline. Called after every
    /// entry into the dispatcher or the CM, with no lock held.
    pub fn rearm_cm_timer(&self) {
        if let Some(at) = self.ndi.cm().next_timer() {
            self.timer.arm_at(at);
        }
    }

    /// The CM timer fired (`DISPATCH_LEVEL`, no lock held): every CM timer due
    /// runs (`CepManager::on_timer` and its output: MADs, events, new
    /// timers), then the timer is set for the next deadline.
    pub fn on_cm_timer(&self, now: Instant) {
        self.ndi.cm().fire_timers(now);
        self.rearm_cm_timer();
    }
}

/// The control device's handle, captured by the CM's event and MAD sinks.
/// They are owned by the device's own state, so they never outlive it.
#[derive(Clone, Copy)]
struct DeviceHandle(WDFDEVICE);

// SAFETY: a WDFDEVICE handle may be used from any thread; the state it
// leads to is shared through `&DeviceState` only.
unsafe impl Send for DeviceHandle {}
// SAFETY: as above.
unsafe impl Sync for DeviceHandle {}

impl DeviceLink<KmdfNdi> for DeviceHandle {
    fn with_ndi<T>(&self, f: impl FnOnce(&KmdfNdi) -> T) -> Option<T> {
        // SAFETY: the sinks holding this handle are called only from inside
        // the dispatcher or the CM, i.e. from a callback of this live device,
        // and the state outlives every such call (destroy comes last); the
        // reference does not outlive `f`.
        let state = unsafe { device_state(self.0.cast()) }?;
        Some(f(state.ndi()))
    }
}

/// A `UNICODE_STRING` over a static UTF-16 buffer (the callee reads it only).
fn unicode(buffer: &'static [u16]) -> UNICODE_STRING {
    // Lengths are in bytes, without a terminator; our strings are short
    // constants, so the conversion cannot fail in practice and saturates.
    let bytes = u16::try_from(buffer.len().saturating_mul(2)).unwrap_or(u16::MAX);
    UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: buffer.as_ptr().cast_mut(),
    }
}

/// ASCII `&str` → UTF-16 array at compile time.
const fn utf16<const N: usize>(s: &str) -> [u16; N] {
    let bytes = s.as_bytes();
    assert!(bytes.len() == N, "length mismatch");
    let mut out = [0u16; N];
    let mut i = 0;
    while i < N {
        #[allow(
            clippy::indexing_slicing,
            clippy::cast_lossless,
            clippy::arithmetic_side_effects,
            reason = "evaluated at compile time only (statics): an out-of-range index or an overflow is a compile error, never a run-time panic; u16::from is not const"
        )]
        {
            assert!(bytes[i].is_ascii(), "ASCII only");
            out[i] = bytes[i] as u16;
            i += 1;
        }
    }
    out
}

static DEVICE_NAME_UTF16: [u16; NDCM_DEVICE_NAME.len()] = utf16(NDCM_DEVICE_NAME);
static SYMBOLIC_LINK_UTF16: [u16; NDCM_SYMBOLIC_LINK.len()] = utf16(NDCM_SYMBOLIC_LINK);
static SDDL_UTF16: [u16; NDCM_DEVICE_SDDL.len()] = utf16(NDCM_DEVICE_SDDL);

/// Creates, names and secures the control device, its default queue, CM
/// timers and dispatcher. `PASSIVE_LEVEL` (`EvtDriverDeviceAdd`). On success the
/// caller owns the returned device and must delete it when the PnP device
/// goes away.
pub fn create_control_device(driver: WDFDRIVER) -> Result<WDFDEVICE, NTSTATUS> {
    let sddl = unicode(&SDDL_UTF16);
    // SAFETY: `driver` is the live driver object handed to EvtDriverDeviceAdd;
    // `sddl` is a valid UNICODE_STRING over a static buffer.
    let init: PWDFDEVICE_INIT = unsafe {
        call_unsafe_wdf_function_binding!(WdfControlDeviceInitAllocate, driver, &raw const sddl)
    };
    if init.is_null() {
        return Err(STATUS_INSUFFICIENT_RESOURCES);
    }
    match create_from_init(init) {
        Ok(device) => Ok(device),
        Err(Failure::BeforeCreate(status)) => {
            // ControlDeviceInitAPI / InitFreeDeviceCreate: an init structure
            // that did not become a device is freed by the driver.
            // SAFETY: `init` came from WdfControlDeviceInitAllocate and
            // WdfDeviceCreate did not consume it.
            unsafe { call_unsafe_wdf_function_binding!(WdfDeviceInitFree, init) };
            Err(status)
        }
        Err(Failure::AfterCreate(device, status)) => {
            // SAFETY: the device exists but was never finished; deleting it
            // (and its children: queue, timer, symbolic link) is the
            // documented cleanup for a failed control device.
            unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, device.cast()) };
            Err(status)
        }
    }
}

enum Failure {
    BeforeCreate(NTSTATUS),
    AfterCreate(WDFDEVICE, NTSTATUS),
}

fn create_from_init(mut init: PWDFDEVICE_INIT) -> Result<WDFDEVICE, Failure> {
    // SAFETY: `init` is a live, not yet consumed WDFDEVICE_INIT from
    // WdfControlDeviceInitAllocate, used at PASSIVE_LEVEL before
    // WdfDeviceCreate, as DeviceInitAPI requires (and so below: "as above").
    unsafe { call_unsafe_wdf_function_binding!(WdfDeviceInitSetExclusive, init, 0) };
    // SAFETY: as above; the device type is the one the IOCTL codes encode.
    unsafe {
        call_unsafe_wdf_function_binding!(WdfDeviceInitSetDeviceType, init, NDCM_DEVICE_TYPE);
    };
    // SAFETY: as above. FILE_DEVICE_SECURE_OPEN applies the DACL to opens
    // of `\Device\ndcm\anything` too (matches the INF).
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceInitSetCharacteristics,
            init,
            FILE_DEVICE_SECURE_OPEN,
            1,
        );
    };

    let name = unicode(&DEVICE_NAME_UTF16);
    // SAFETY: as above; `name` is a valid UNICODE_STRING the framework copies.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(WdfDeviceInitAssignName, init, &raw const name)
    };
    if !wdk::nt_success(status) {
        return Err(Failure::BeforeCreate(status));
    }

    // WDF_FILEOBJECT_CONFIG_INIT: zero would be WdfFileObjectInvalid.
    let mut file_config = WDF_FILEOBJECT_CONFIG {
        Size: WDF_FILEOBJECT_CONFIG_SIZE,
        EvtDeviceFileCreate: Some(evt_device_file_create),
        EvtFileClose: Some(evt_file_close),
        EvtFileCleanup: Some(evt_file_cleanup),
        AutoForwardCleanupClose: _WDF_TRI_STATE::WdfUseDefault,
        FileObjectClass: _WDF_FILEOBJECT_CLASS::WdfFileObjectWdfCannotUseFsContexts,
    };
    let mut file_attributes = object_attributes_with(&FILE_CONTEXT_TYPE_INFO);
    // SAFETY: as above; both structures are initialised and outlive the call.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceInitSetFileObjectConfig,
            init,
            &raw mut file_config,
            &raw mut file_attributes,
        );
    };

    // Every request of the device carries a RequestContext (what it waits
    // for while in a manual queue).
    let mut request_attributes = object_attributes_with(&REQUEST_CONTEXT_TYPE_INFO);
    // SAFETY: as above.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceInitSetRequestAttributes,
            init,
            &raw mut request_attributes,
        );
    };

    let mut device_attributes = object_attributes_with(&DEVICE_CONTEXT_TYPE_INFO);
    device_attributes.EvtDestroyCallback = Some(evt_control_device_destroy);
    let mut device: WDFDEVICE = ptr::null_mut();
    // SAFETY: `init` is consumed on success (and set to null by the
    // framework); the attributes name DeviceContext; `device` receives the
    // handle.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceCreate,
            &raw mut init,
            &raw mut device_attributes,
            &raw mut device,
        )
    };
    if !wdk::nt_success(status) {
        return Err(Failure::BeforeCreate(status));
    }

    let link = unicode(&SYMBOLIC_LINK_UTF16);
    // SAFETY: `device` is the live device just created; `link` is valid.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(WdfDeviceCreateSymbolicLink, device, &raw const link)
    };
    if !wdk::nt_success(status) {
        return Err(Failure::AfterCreate(device, status));
    }

    create_default_queue(device).map_err(|status| Failure::AfterCreate(device, status))?;
    let timer = CmTimer::create(device).map_err(|status| Failure::AfterCreate(device, status))?;
    let state =
        DeviceState::new(device, timer).map_err(|status| Failure::AfterCreate(device, status))?;
    // SAFETY: `device` was created with DeviceContext; no callback reads the
    // context before WdfControlFinishInitializing below, so this write is
    // the only access.
    let context = unsafe { device_context(device.cast()) };
    // SAFETY: `context` is valid, aligned, zero-initialised memory for a
    // DeviceContext owned by the device; writing replaces the all-zero
    // `None` without reading it.
    unsafe { ptr::write(context, DeviceContext { state: Some(state) }) };

    // SAFETY: the device is fully initialised; from here on the I/O
    // manager may send it requests.
    unsafe { call_unsafe_wdf_function_binding!(WdfControlFinishInitializing, device) };
    Ok(device)
}

impl DeviceState {
    fn new(device: WDFDEVICE, timer: CmTimer) -> Result<alloc::boxed::Box<Self>, NTSTATUS> {
        // No HCA node GUID here: the device draws its CA GUID from the
        // interrupt time and its device object's address.
        let seed = KmdfPlatform.now().0 ^ (device as usize as u64).rotate_left(32);
        let config = ManagerConfig {
            ca_guid: drawn_ca_guid(seed),
            ..ManagerConfig::default()
        };
        // No hardware adapter yet: the MAD agent (`ndcm agent`) carries the
        // MADs, so the device exposes no RDMA adapter to OPEN_ADAPTER.
        let ndi = agent_device(
            KmdfPlatform,
            config,
            LOCAL_PORT,
            KmdfRequests::new(device),
            Vec::new(),
        );
        let mut boxed = Vec::new();
        boxed
            .try_reserve_exact(1)
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        boxed.push(Self { ndi, timer });
        // A one-element Vec into a Box without a second allocation.
        let slice = boxed.into_boxed_slice();
        let raw = alloc::boxed::Box::into_raw(slice).cast::<Self>();
        // SAFETY: `raw` is the allocation of a one-element boxed slice of
        // `Self`, whose layout equals that of one `Self`.
        let state = unsafe { alloc::boxed::Box::from_raw(raw) };
        // The sinks reach the state through the device handle, not a
        // reference, so the state owns no cycle.
        let _ = bind_agent_sinks(&state.ndi, DeviceHandle(device));
        Ok(state)
    }
}

/// The device state, if the device is initialised and not cleaned up.
///
/// # Safety
/// `device` must be the live control device (created with `DeviceContext`),
/// and the returned reference must not outlive the callback it is used in
/// (the state is dropped in the device's destroy callback).
pub unsafe fn device_state<'a>(device: WDFOBJECT) -> Option<&'a DeviceState> {
    // SAFETY: per the contract `device` is the live control device.
    let context = unsafe { device_context(device) };
    // SAFETY: the context lives as long as the device; only shared
    // references are taken outside creation and cleanup.
    unsafe { (*context).state.as_deref() }
}

/// `EvtDestroyCallback` of the control device (IRQL <= `DISPATCH_LEVEL`): the
/// device and every child (queues, CM timer) are gone and no callback of
/// theirs runs any more; drop the state. Dropping it makes no WDF call.
extern "C" fn evt_control_device_destroy(device: WDFOBJECT) {
    // SAFETY: the framework passes the control device being destroyed,
    // created with DeviceContext; its context is still valid here.
    let context = unsafe { device_context(device) };
    // SAFETY: nothing else can reach the context any more (no child, no
    // callback, no reference), so taking the state is the only access.
    let state = unsafe { (*context).state.take() };
    drop(state);
}

/// The ndcm-ndi instance of a file object, if it was opened.
///
/// # Safety
/// `file_object` must be a live file object of the control device, and the
/// returned reference must not outlive the callback it is used in.
pub unsafe fn file_instance<'a>(file_object: WDFFILEOBJECT) -> Option<&'a NdiFile> {
    if file_object.is_null() {
        return None;
    }
    // SAFETY: per the contract, a live file object created with FileContext.
    let context = unsafe { file_context(file_object.cast()) };
    // SAFETY: written once in EvtDeviceFileCreate before any request of the
    // file is presented, taken only in EvtFileClose after the last one.
    unsafe { (*context).file.as_deref() }
}

/// `EvtDeviceFileCreate` (`PASSIVE_LEVEL`): one ndcm-ndi instance per open.
extern "C" fn evt_device_file_create(
    device: WDFDEVICE,
    request: WDFREQUEST,
    file_object: WDFFILEOBJECT,
) {
    // SAFETY: the framework passes its live control device.
    let status =
        unsafe { device_state(device.cast()) }.map_or(STATUS_INVALID_DEVICE_STATE, |state| {
            let file: Arc<NdiFile> = state.ndi().open();
            // SAFETY: the framework passes the new file object, created with
            // FileContext; no other callback of this file runs before the create
            // request is completed below.
            let context = unsafe { file_context(file_object.cast()) };
            // SAFETY: valid, aligned, zero-initialised FileContext memory;
            // written without reading the all-zero `None`.
            unsafe { ptr::write(context, FileContext { file: Some(file) }) };
            STATUS_SUCCESS
        });
    // SAFETY: the create request is presented to this callback, which must
    // complete it; it is completed exactly once, here.
    unsafe { call_unsafe_wdf_function_binding!(WdfRequestComplete, request, status) };
}

/// `EvtFileCleanup` (`IRP_MJ_CLEANUP`, `PASSIVE_LEVEL`): the last user handle is
/// closed; tear the instance down (spec/NDI.md §9.3).
extern "C" fn evt_file_cleanup(file_object: WDFFILEOBJECT) {
    // SAFETY: the framework passes a live file object of the control device.
    let Some(file) = (unsafe { file_instance(file_object) }) else {
        return;
    };
    // SAFETY: the file object's device is the live control device.
    let device = unsafe { call_unsafe_wdf_function_binding!(WdfFileObjectGetDevice, file_object) };
    // SAFETY: as above.
    if let Some(state) = unsafe { device_state(device.cast()) } {
        state.ndi().close(file);
        state.rearm_cm_timer();
    }
}

/// `EvtFileClose` (`IRP_MJ_CLOSE`, `PASSIVE_LEVEL`): no request of the file is
/// left; drop the driver's reference to the instance (others, e.g. a CM
/// callback in flight, keep theirs until they finish).
extern "C" fn evt_file_close(file_object: WDFFILEOBJECT) {
    if file_object.is_null() {
        return;
    }
    // SAFETY: the framework passes a live file object created with
    // FileContext; close is the last callback for it.
    let context = unsafe { file_context(file_object.cast()) };
    // SAFETY: no other callback of this file runs concurrently with close.
    let file = unsafe { (*context).file.take() };
    drop(file);
}
