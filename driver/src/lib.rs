//! # ndcm — the KMDF driver
//!
//! Thin Windows glue from KMDF onto the portable crates: `ndcm-ndi` (the
//! IOCTL ABI, the dispatcher, the per-connection pending-request queues) and
//! `ndcm-cm` (the CEP manager and the IB CM protocol, sans-IO). Everything
//! that can be wrong — parsing, state machines, locking discipline, request
//! completion and cancellation — lives and is tested there; this crate only
//! moves raw WDF handles and buffers across.
//!
//! One file per KMDF role, as in the Rust echo sample
//! (microsoft/Windows-rust-driver-samples `general/echo/kmdf/driver/DriverSync`):
//! - [`driver`]: `DriverEntry` → `WdfDriverCreate`, `EvtDriverDeviceAdd` for
//!   the root-enumerated `root\ndcm` device, `EvtDriverUnload`;
//! - [`device`]: the control device `\Device\ndcm` with its SDDL and symbolic
//!   link, and the file-object callbacks (one ndcm-ndi instance per open);
//! - [`queue`]: the default parallel queue (`EvtIoDeviceControl` → the
//!   dispatcher) and the per-connection manual queues that implement
//!   `ndcm_ndi::Requests`;
//! - [`sync`]: `ndcm_cm::platform::Platform` on `KSPIN_LOCK` +
//!   `KeAcquireInStackQueuedSpinLock`, `PsGetCurrentThread`, interrupt time;
//! - [`timer`]: the CM timers on one WDF timer per device;
//! - [`context`]: WDF object-context declarations and `WDF_*` structure sizes.
//!
//! Rules kept in every file: each `unsafe` block does one thing and says why
//! it is sound; no allocation and no pageable code runs under a spin lock;
//! nothing on an input path can panic (a panic is a bugcheck: wdk-panic calls
//! `KeBugCheckEx`).
//!
//! This crate builds only on Windows with the WDK (wdk-sys generates its
//! bindings at build time). See `README-windows.md`.

#![no_std]

// sync.rs reads the interrupt time from KUSER_SHARED_DATA at the address the
// x64 and ARM64 headers use; 32-bit x86 is not a target.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("ndcm builds for x86_64-pc-windows-msvc or aarch64-pc-windows-msvc only");

extern crate alloc;

#[cfg(not(test))]
extern crate wdk_panic;

#[cfg(not(test))]
use wdk_alloc::WdkAllocator;

/// Non-paged pool, tag 'rust' (wdk-alloc). Only used at IRQL <= DISPATCH and
/// never under one of the driver's spin locks.
#[cfg(not(test))]
#[global_allocator]
static GLOBAL_ALLOCATOR: WdkAllocator = WdkAllocator;

mod context;
mod device;
mod driver;
mod queue;
mod sync;
mod timer;

use ndcm_ndi::abi::NtStatus;
use wdk_sys::NTSTATUS;

/// The NTSTATUS a WDF call takes, from the ABI's status value (the same 32
/// bits: ndcm-ndi keeps them unsigned, the WDK signed).
#[must_use]
pub(crate) const fn nt(status: NtStatus) -> NTSTATUS {
    i32::from_ne_bytes(status.0.to_ne_bytes())
}

/// The ABI's status value from an NTSTATUS a WDF call returned.
#[must_use]
pub(crate) const fn abi_status(status: NTSTATUS) -> NtStatus {
    NtStatus(u32::from_ne_bytes(status.to_ne_bytes()))
}
