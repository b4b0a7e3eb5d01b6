//! The control device `\Device\ndcm` (no PnP/power state) and its file
//! callbacks (`PASSIVE_LEVEL`; state methods and CM sinks never wait).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ptr;

use ndcm_cm::ManagerConfig;
use ndcm_cm::platform::Platform;
use ndcm_ndi::abi::codes::NDCM_DEVICE_TYPE;
use ndcm_ndi::abi::device::{
    NDCM_DEVICE_NAME_UTF16, NDCM_DEVICE_SDDL_UTF16, NDCM_SYMBOLIC_LINK_UTF16,
};
use ndcm_ndi::cm_adapter::ManagerPort;
use ndcm_ndi::compose::{DeviceLink, agent_device, bind_agent_sinks, drawn_ca_guid};
use ndcm_ndi::{Caller, File, Ndi};
use wdk_sys::ntddk::{
    SeCaptureSubjectContext, SeQueryAuthenticationIdToken, SeReleaseSubjectContext, SeTokenIsAdmin,
};
use wdk_sys::{
    _WDF_FILEOBJECT_CLASS, _WDF_TRI_STATE, FILE_DEVICE_SECURE_OPEN, LUID, NTSTATUS,
    PWDFDEVICE_INIT, SECURITY_SUBJECT_CONTEXT, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_DEVICE_STATE, STATUS_SUCCESS, UNICODE_STRING, WDF_FILEOBJECT_CONFIG, WDFDEVICE,
    WDFDRIVER, WDFFILEOBJECT, WDFOBJECT, WDFREQUEST, call_unsafe_wdf_function_binding,
};

use crate::context::{
    DEVICE_CONTEXT_TYPE_INFO, DeviceContext, FILE_CONTEXT_TYPE_INFO, FileContext,
    REQUEST_CONTEXT_TYPE_INFO, WDF_FILEOBJECT_CONFIG_SIZE, device_context, file_context,
    object_attributes_with,
};
use crate::queue::{KmdfRequests, create_default_queue};
use crate::sync::KmdfPlatform;
use crate::timer::CmTimer;

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
    /// The dispatcher.
    pub ndi: KmdfNdi,
    /// The CM timer.
    pub timer: CmTimer,
}

impl DeviceState {
    /// Sets the CM timer for the CM's earliest deadline (no lock held).
    pub fn rearm_cm_timer(&self) {
        if let Some(at) = self.ndi.cm().next_timer() {
            self.timer.arm_at(at);
        }
    }
}

/// The control device, as the CM's sinks (owned by its state) reach it.
#[derive(Clone, Copy)]
struct DeviceHandle(WDFDEVICE);

// SAFETY: a WDFDEVICE may be used from any thread; the state only as `&`.
unsafe impl Send for DeviceHandle {}
// SAFETY: as above.
unsafe impl Sync for DeviceHandle {}

impl DeviceLink<KmdfNdi> for DeviceHandle {
    fn with_ndi<T>(&self, f: impl FnOnce(&KmdfNdi) -> T) -> Option<T> {
        // SAFETY: sinks run inside this live device's callbacks, within `f`.
        let state = unsafe { device_state(self.0.cast()) }?;
        Some(f(&state.ndi))
    }
}

/// A `UNICODE_STRING` over a static UTF-16 buffer the callee only reads.
fn unicode(buffer: &'static [u16]) -> UNICODE_STRING {
    let bytes = u16::try_from(buffer.len().saturating_mul(2)).unwrap_or(u16::MAX);
    UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: buffer.as_ptr().cast_mut(),
    }
}

/// Creates the control device with its queue, CM timer and dispatcher; the
/// caller deletes it when the PnP device goes away. `PASSIVE_LEVEL`.
pub fn create_control_device(driver: WDFDRIVER) -> Result<WDFDEVICE, NTSTATUS> {
    let sddl = unicode(&NDCM_DEVICE_SDDL_UTF16);
    // SAFETY: the live driver object; `sddl` is over a static buffer.
    let init: PWDFDEVICE_INIT = unsafe {
        call_unsafe_wdf_function_binding!(WdfControlDeviceInitAllocate, driver, &raw const sddl)
    };
    if init.is_null() {
        return Err(STATUS_INSUFFICIENT_RESOURCES);
    }
    create_from_init(init).map_err(|failure| match failure {
        Failure::BeforeCreate(status) => {
            // SAFETY: from WdfControlDeviceInitAllocate, not consumed by
            // WdfDeviceCreate: the driver frees it (InitFreeDeviceCreate).
            unsafe { call_unsafe_wdf_function_binding!(WdfDeviceInitFree, init) };
            status
        }
        Failure::AfterCreate(device, status) => {
            // SAFETY: the documented cleanup for an unfinished control device.
            unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, device.cast()) };
            status
        }
    })
}

enum Failure {
    BeforeCreate(NTSTATUS),
    AfterCreate(WDFDEVICE, NTSTATUS),
}

fn create_from_init(mut init: PWDFDEVICE_INIT) -> Result<WDFDEVICE, Failure> {
    // SAFETY: a live, unconsumed init from WdfControlDeviceInitAllocate,
    // at PASSIVE_LEVEL before WdfDeviceCreate (DeviceInitAPI; "as above").
    unsafe { call_unsafe_wdf_function_binding!(WdfDeviceInitSetExclusive, init, 0) };
    // SAFETY: as above; the device type is the one the IOCTL codes encode.
    unsafe {
        call_unsafe_wdf_function_binding!(WdfDeviceInitSetDeviceType, init, NDCM_DEVICE_TYPE);
    };
    // SAFETY: as above. FILE_DEVICE_SECURE_OPEN: the DACL also guards
    // `\Device\ndcm\anything` (as in the INF).
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceInitSetCharacteristics,
            init,
            FILE_DEVICE_SECURE_OPEN,
            1,
        );
    };
    let name = unicode(&NDCM_DEVICE_NAME_UTF16);
    // SAFETY: as above; `name` is valid (the framework copies it).
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
    // SAFETY: as above; both structures outlive the call.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceInitSetFileObjectConfig,
            init,
            &raw mut file_config,
            &raw mut file_attributes,
        );
    };
    // Every request carries a PendRecord context.
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
    // SAFETY: `init` is consumed (nulled) on success.
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
    let after = |status| Failure::AfterCreate(device, status);
    let link = unicode(&NDCM_SYMBOLIC_LINK_UTF16);
    // SAFETY: `device` is the live device just created; `link` is valid.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(WdfDeviceCreateSymbolicLink, device, &raw const link)
    };
    if !wdk::nt_success(status) {
        return Err(after(status));
    }
    create_default_queue(device).map_err(after)?;
    let timer = CmTimer::create(device).map_err(after)?;
    let state = DeviceState::new(device, timer).map_err(after)?;
    // SAFETY: nothing reads it before WdfControlFinishInitializing below.
    let context = unsafe { device_context(device.cast()) };
    // SAFETY: valid, aligned, zeroed memory; `None` is not read.
    unsafe { ptr::write(context, DeviceContext { state: Some(state) }) };
    // SAFETY: fully initialised; from here on it may receive requests.
    unsafe { call_unsafe_wdf_function_binding!(WdfControlFinishInitializing, device) };
    Ok(device)
}

impl DeviceState {
    fn new(device: WDFDEVICE, timer: CmTimer) -> Result<alloc::boxed::Box<Self>, NTSTATUS> {
        // No HCA node GUID: the CA GUID is drawn from the time and address.
        let seed = KmdfPlatform.now().0 ^ (device as usize as u64).rotate_left(32);
        let config = ManagerConfig {
            ca_guid: drawn_ca_guid(seed),
            ..ManagerConfig::default()
        };
        // No adapter until the MAD agent registers one (docs/NDI-agent.md).
        let ndi = agent_device(KmdfPlatform, config, LOCAL_PORT, KmdfRequests(device));
        let mut boxed = Vec::new();
        boxed
            .try_reserve_exact(1)
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        boxed.push(Self { ndi, timer });
        // A one-element Vec into a Box without a second allocation.
        let slice = boxed.into_boxed_slice();
        let raw = alloc::boxed::Box::into_raw(slice).cast::<Self>();
        // SAFETY: a one-element boxed slice has the layout of one `Self`.
        let state = unsafe { alloc::boxed::Box::from_raw(raw) };
        // The sinks hold the handle, not a reference: no cycle.
        let _ = bind_agent_sinks(&state.ndi, DeviceHandle(device));
        Ok(state)
    }
}

/// The device state, if initialised and not yet destroyed.
/// # Safety
/// `device` is the live control device; the result is used in one callback.
pub unsafe fn device_state<'a>(device: WDFOBJECT) -> Option<&'a DeviceState> {
    // SAFETY: per the contract `device` is the live control device.
    let context = unsafe { device_context(device) };
    // SAFETY: shared references only, outside creation and destruction.
    unsafe { (*context).state.as_deref() }
}

/// `EvtDestroyCallback`: every child and callback is gone; drop the state.
extern "C" fn evt_control_device_destroy(device: WDFOBJECT) {
    // SAFETY: the control device being destroyed; its context is valid.
    let context = unsafe { device_context(device) };
    // SAFETY: nothing else can reach the context any more.
    drop(unsafe { (*context).state.take() });
}

/// The ndcm-ndi instance of a file object, if it was opened.
/// # Safety
/// A live file object of the device; the result is used in one callback.
pub unsafe fn file_instance<'a>(file_object: WDFFILEOBJECT) -> Option<&'a NdiFile> {
    if file_object.is_null() {
        return None;
    }
    // SAFETY: per the contract, a live file object created with FileContext.
    let context = unsafe { file_context(file_object.cast()) };
    // SAFETY: set before the file's first request, taken after its last.
    unsafe { (*context).file.as_deref() }
}

/// The opener (create runs in its thread): admin (elevated) or SYSTEM, logon.
fn requestor() -> Caller {
    let (mut s, mut luid) = (SECURITY_SUBJECT_CONTEXT::default(), LUID::default());
    // SAFETY: PASSIVE_LEVEL, into a local; released below.
    unsafe { SeCaptureSubjectContext(&raw mut s) };
    let token = Some(s.ClientToken)
        .filter(|t| !t.is_null())
        .unwrap_or(s.PrimaryToken);
    // SAFETY: a token of the captured context, held until the release.
    let _ = unsafe { SeQueryAuthenticationIdToken(token, &raw mut luid) };
    // SAFETY: as above.
    let admin = unsafe { SeTokenIsAdmin(token) } != 0;
    // SAFETY: captured above, released once.
    unsafe { SeReleaseSubjectContext(&raw mut s) };
    Caller::from_logon(admin, luid.LowPart, luid.HighPart)
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
            let file: Arc<NdiFile> = state.ndi.open_as(requestor());
            // SAFETY: the new file object; no callback of it runs yet.
            let context = unsafe { file_context(file_object.cast()) };
            // SAFETY: valid, aligned, zeroed memory; `None` is not read.
            unsafe { ptr::write(context, FileContext { file: Some(file) }) };
            STATUS_SUCCESS
        });
    // SAFETY: presented to this callback, which completes it once, here.
    unsafe { call_unsafe_wdf_function_binding!(WdfRequestComplete, request, status) };
}

/// `EvtFileCleanup`: the last handle is closed (spec/NDI.md §9.3).
extern "C" fn evt_file_cleanup(file_object: WDFFILEOBJECT) {
    // SAFETY: a live file object of the control device.
    let Some(file) = (unsafe { file_instance(file_object) }) else {
        return;
    };
    // SAFETY: the file object's device is the live control device.
    let device = unsafe { call_unsafe_wdf_function_binding!(WdfFileObjectGetDevice, file_object) };
    // SAFETY: as above.
    if let Some(state) = unsafe { device_state(device.cast()) } {
        state.ndi.close(file);
        state.rearm_cm_timer();
    }
}

/// `EvtFileClose`: no request of the file is left; drop our reference.
extern "C" fn evt_file_close(file_object: WDFFILEOBJECT) {
    if file_object.is_null() {
        return;
    }
    // SAFETY: a live file object with FileContext; close is its last callback.
    let context = unsafe { file_context(file_object.cast()) };
    // SAFETY: no other callback of this file runs concurrently with close.
    drop(unsafe { (*context).file.take() });
}
