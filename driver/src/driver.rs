//! Driver entry and the root-enumerated PnP device.
//!
//! Owns `DriverEntry` (→ `WdfDriverCreate`, `DriverCreate` rule),
//! `EvtDriverDeviceAdd` for `root\ndcm` and `EvtDriverUnload`. The INF
//! installs the driver for the root-enumerated hardware id `root\ndcm`
//! (`devgen /add /hardwareid root\ndcm`); PnP then loads it and calls
//! `EvtDriverDeviceAdd`, which creates the function device for that devnode
//! and the control device `\Device\ndcm` (device.rs) that user mode opens.
//! The function device has no queues of its own; it owns the control
//! device's lifetime: its cleanup deletes the control device
//! (`ControlDeviceDeleted`), so removing or updating the devnode unloads the
//! driver.
//!
//! All code here runs at `PASSIVE_LEVEL`. No code is placed in the INIT or
//! PAGE sections: the driver is small, and non-pageable code cannot fault
//! at raised IRQL (`PagedCodeAtD0`). This module must never let the control
//! device outlive the function device, nor touch the control device's state
//! (device.rs owns it).

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

/// `DriverEntry`: creates the WDF driver object. Called by the framework's
/// `FxDriverEntry` (the image entry point wdk-build links) at `PASSIVE_LEVEL`.
///
/// # Safety
/// Called only by the system loader, with its driver object and registry
/// path.
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
    // SAFETY: `driver` and `registry_path` are the loader's, valid for the
    // call; no driver attributes; the config is initialised with its size;
    // the driver handle is not needed (WDF_NO_HANDLE).
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

/// `EvtDriverDeviceAdd` for the `root\ndcm` devnode: the function device and
/// the control device.
extern "C" fn evt_driver_device_add(
    driver: WDFDRIVER,
    mut device_init: PWDFDEVICE_INIT,
) -> NTSTATUS {
    let mut attributes = object_attributes_with(&PNP_DEVICE_CONTEXT_TYPE_INFO);
    attributes.EvtCleanupCallback = Some(evt_pnp_device_cleanup);
    let mut device: WDFDEVICE = ptr::null_mut();
    // SAFETY: `device_init` is the framework's init structure for this
    // AddDevice; the framework consumes it on success and frees it itself
    // on failure (a PnP init, unlike a control init).
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
    let control = match create_control_device(driver) {
        Ok(control) => control,
        // The framework deletes `device` when AddDevice fails.
        Err(status) => return status,
    };
    // SAFETY: `device` was just created with PnpDeviceContext and no other
    // callback of it has run yet.
    let context = unsafe { pnp_device_context(device.cast()) };
    // SAFETY: valid, aligned, zero-initialised context memory.
    unsafe {
        ptr::write(
            context,
            PnpDeviceContext {
                control_device: control,
            },
        );
    };
    STATUS_SUCCESS
}

/// `EvtCleanupCallback` of the function device (`PASSIVE_LEVEL`, when the
/// devnode is removed): deletes the control device. Open handles keep the
/// underlying device object until they are closed; the file callbacks then
/// find no dispatcher state and fail or complete what remains.
extern "C" fn evt_pnp_device_cleanup(device: WDFOBJECT) {
    // SAFETY: the framework passes the function device created with
    // PnpDeviceContext.
    let context = unsafe { pnp_device_context(device) };
    // SAFETY: cleanup runs once; nothing else accesses this context.
    let control = unsafe { core::mem::replace(&mut (*context).control_device, ptr::null_mut()) };
    if !control.is_null() {
        // Close the CM timer first: deleting the device disposes it (stop,
        // wait for its callback) before any cleanup callback runs, and a
        // start on a disposing timer is a verifier break.
        // SAFETY: `control` is the live control device this function device
        // created (with DeviceContext); its state outlives this call.
        if let Some(state) = unsafe { device_state(control.cast()) } {
            state.timer().close();
        }
        // SAFETY: `control` is the control device this function device
        // created and nothing else deletes it.
        unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, control.cast()) };
    }
}

/// `EvtDriverUnload` (`PASSIVE_LEVEL`): every WDF object the driver made is a
/// child of a device that is gone by now; nothing is left to free.
extern "C" fn evt_driver_unload(_driver: WDFDRIVER) {
    wdk::println!("ndcm: unloaded");
}
