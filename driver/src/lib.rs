//! # ndcm — the KMDF driver: glue from KMDF onto `ndcm-ndi` and `ndcm-cm`
//! (each function calls a WDF/WDM routine or is a callback trampoline; every
//! decision lives, and is tested, in those crates). Design and rules:
//! `README-windows.md`. Nothing on an input path may panic (a bugcheck).

#![no_std]

// sync.rs reads the interrupt time from KUSER_SHARED_DATA at the address the
// x64 and ARM64 headers use; 32-bit x86 is not a target.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("ndcm builds for x86_64-pc-windows-msvc or aarch64-pc-windows-msvc only");

extern crate alloc;

#[cfg(not(test))]
extern crate wdk_panic;

/// Non-paged pool (wdk-alloc), at IRQL <= DISPATCH, never under our locks.
#[cfg(not(test))]
#[global_allocator]
static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;

mod context;
mod device;
mod driver;
mod queue;
mod sync;
mod timer;
