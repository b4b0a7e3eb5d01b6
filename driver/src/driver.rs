//! `DriverEntry` and the root-enumerated PnP device `root\ndcm`, whose
//! function device owns (creates and deletes) the control device. Everything
//! here runs at `PASSIVE_LEVEL`; no code is in the INIT or PAGE sections.

use core::ptr;

use wdk_sys::{
    DRIVER_OBJECT, NTSTATUS, PCUNICODE_STRING, PWDFDEVICE_INIT, STATUS_SUCCESS, WDF_DRIVER_CONFIG,
    WDF_NO_HANDLE, WDF_NO_OBJECT_ATTRIBUTES, WDFDEVICE, WDFDRIVER, WDFOBJECT,
    call_unsafe_wdf_function_binding,
};

use crate::context::{
    PNP_DEVICE_CONTEXT_TYPE_INFO, PnpDeviceContext, WDF_DRIVER_CONFIG_SIZE, object_attributes_with,
    pnp_device_context,
};
use crate::device::{create_control_device, device_state};

/// `DriverEntry`: creates the WDF driver object (`DriverCreate` rule);
/// called by `FxDriverEntry`, the image entry point wdk-build links.
/// # Safety
/// Called only by the system loader, with its driver object and path.
// SAFETY: "DriverEntry" is the symbol WdfDriverEntry.lib's FxDriverEntry
// calls; nothing else in the image exports that name.
#[unsafe(export_name = "DriverEntry")]
pub unsafe extern "system" fn driver_entry(
    driver: &mut DRIVER_OBJECT,
    registry_path: PCUNICODE_STRING,
) -> NTSTATUS {
    let mut config = WDF_DRIVER_CONFIG {
        Size: WDF_DRIVER_CONFIG_SIZE,
        EvtDriverDeviceAdd: Some(evt_driver_device_add),
        EvtDriverUnload: Some(evt_driver_unload),
        ..WDF_DRIVER_CONFIG::default()
    };
    // SAFETY: the loader's arguments; the config is initialised and sized.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDriverCreate,
            ptr::from_mut(driver),
            registry_path,
            WDF_NO_OBJECT_ATTRIBUTES,
            &raw mut config,
            WDF_NO_HANDLE.cast::<WDFDRIVER>(),
        )
    }
}

/// `EvtDriverDeviceAdd` for `root\ndcm`: function and control devices.
extern "C" fn evt_driver_device_add(
    driver: WDFDRIVER,
    mut device_init: PWDFDEVICE_INIT,
) -> NTSTATUS {
    let mut attributes = object_attributes_with(&PNP_DEVICE_CONTEXT_TYPE_INFO);
    attributes.EvtCleanupCallback = Some(evt_pnp_device_cleanup);
    let mut device: WDFDEVICE = ptr::null_mut();
    // SAFETY: the framework's init for this AddDevice; it consumes it on
    // success and frees it on failure (a PnP init, unlike a control init).
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDeviceCreate,
            &raw mut device_init,
            &raw mut attributes,
            &raw mut device,
        )
    };
    if !wdk::nt_success(status) {
        return status;
    }
    // A second root\ndcm devnode fails here: the name \Device\ndcm is taken.
    let control_device = match create_control_device(driver) {
        Ok(control_device) => control_device,
        // The framework deletes `device` when AddDevice fails.
        Err(status) => return status,
    };
    // SAFETY: just created with PnpDeviceContext; no callback of it ran.
    let context = unsafe { pnp_device_context(device.cast()) };
    // SAFETY: valid, aligned, zero-initialised context memory.
    unsafe { ptr::write(context, PnpDeviceContext { control_device }) };
    STATUS_SUCCESS
}

/// `EvtCleanupCallback` of the function device (devnode removed): deletes the
/// control device (`ControlDeviceDeleted`), so the driver can unload; open
/// handles keep the device object, their callbacks find no state.
extern "C" fn evt_pnp_device_cleanup(device: WDFOBJECT) {
    // SAFETY: the function device, created with PnpDeviceContext.
    let context = unsafe { pnp_device_context(device) };
    // SAFETY: cleanup runs once; nothing else accesses this context.
    let control = unsafe { core::mem::replace(&mut (*context).control_device, ptr::null_mut()) };
    if !control.is_null() {
        // Close the CM timer first: deleting the device disposes it before
        // any cleanup callback, and a start on it then is a verifier break.
        // SAFETY: the live control device this function device created.
        if let Some(state) = unsafe { device_state(control.cast()) } {
            state.timer.close();
        }
        // SAFETY: as above; nothing else deletes it.
        unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, control.cast()) };
    }
}

/// `EvtDriverUnload`: every WDF object the driver made is gone with its device.
extern "C" fn evt_driver_unload(_driver: WDFDRIVER) {
    wdk::println!("ndcm: unloaded");
}
