//! `ndcm_cm::platform::Platform` on the Windows kernel: the in-stack queued
//! spin lock, the current thread and the interrupt-time clock.
//!
//! Owns [`InStackQueuedSpinLock`], [`KmdfPlatform`] and the calls behind
//! the thread identity ([`current_thread`]). The lock is a
//! `KSPIN_LOCK` taken with `KeAcquireInStackQueuedSpinLock` /
//! `KeReleaseInStackQueuedSpinLock`; the `KLOCK_QUEUE_HANDLE` is a local of
//! [`QueuedSpinLock::with`]'s frame. That handle is an MCS queue node: the
//! lock word and a waiting successor point at it, so it must not move or die
//! between acquire and release. A guard returned by value would move it;
//! the closure API keeps it pinned in one frame (spec/KMDF.md §4).
//!
//! This module must never mix the queued and the ordinary `KeAcquireSpinLock`
//! APIs on one lock. Closures run at `DISPATCH_LEVEL`: they must not wait,
//! touch pageable memory or re-take the same lock; the driver's own closures
//! also never allocate (the portable crates' closures may, from non-paged
//! pool, which is legal at `DISPATCH_LEVEL`). WDF calls that are allowed at
//! `DISPATCH_LEVEL` (`WdfTimerStart`, `WdfRequestForwardToIoQueue`, …) may be made
//! under a lock.

use core::cell::UnsafeCell;

use ndcm_cm::platform::{Instant, KernelContext, Platform, QueuedSpinLock, ThreadId};
use wdk_sys::{
    BOOLEAN, KLOCK_QUEUE_HANDLE, KSPIN_LOCK,
    ntddk::{
        KeAcquireInStackQueuedSpinLock, KeGetCurrentProcessorNumberEx,
        KeReleaseInStackQueuedSpinLock, PsGetCurrentThreadId,
    },
};

/// A value guarded by an in-stack queued spin lock. Usable at IRQL <=
/// `DISPATCH_LEVEL`; the closure runs at `DISPATCH_LEVEL`.
pub struct InStackQueuedSpinLock<T> {
    /// `KeInitializeSpinLock` is a header inline that stores 0 (not emitted
    /// by bindgen); a zero `KSPIN_LOCK` is an initialised, free lock. While
    /// free it holds no address, so the lock may move between acquisitions.
    lock: UnsafeCell<KSPIN_LOCK>,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only inside `with`, which holds the spin lock,
// so at most one thread has `&mut T` at a time; `T: Send` allows that thread
// to be any thread.
unsafe impl<T: Send> Sync for InStackQueuedSpinLock<T> {}
// SAFETY: moving the lock moves the value (`T: Send`); a lock can only be
// moved while no `with` borrows it, i.e. while it is free and holds 0.
unsafe impl<T: Send> Send for InStackQueuedSpinLock<T> {}

impl<T> InStackQueuedSpinLock<T> {
    /// A free lock protecting `value`.
    pub const fn new(value: T) -> Self {
        Self {
            lock: UnsafeCell::new(0),
            value: UnsafeCell::new(value),
        }
    }
}

impl<T: Send> QueuedSpinLock<T> for InStackQueuedSpinLock<T> {
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // The queue node of this acquisition: a local of this frame, never
        // moved, alive until the release below (panic = abort: no unwinding
        // can leave this frame between the two calls).
        let mut handle = KLOCK_QUEUE_HANDLE::default();
        // SAFETY: `self.lock` is an initialised KSPIN_LOCK used only with
        // the in-stack queued APIs; `handle` is a fresh node in this frame;
        // callers are at IRQL <= DISPATCH_LEVEL (trait contract).
        unsafe {
            KeAcquireInStackQueuedSpinLock(self.lock.get(), &raw mut handle);
        }
        // SAFETY: the lock is held by this frame until the release below, so
        // this is the only reference to the value; the closure cannot take
        // this lock again (not re-entrant, trait contract) nor keep the
        // reference past its return.
        let value = unsafe { &mut *self.value.get() };
        let result = f(value);
        // SAFETY: `handle` is the node that acquired this lock in this frame
        // and has not moved; release restores the IRQL saved in it.
        unsafe {
            KeReleaseInStackQueuedSpinLock(&raw mut handle);
        }
        result
    }
}

// SAFETY: the signature is wdm.h's `BOOLEAN KeIsExecutingDpc(VOID)` (the
// binding the real WDK gives wdk-sys is the same); x64 has one calling
// convention.
unsafe extern "system" {
    /// `KeIsExecutingDpc` (wdm.h, Windows 7 and later, any IRQL), exported
    /// by ntoskrnl. Declared here because mingw-w64's wdm.h, which stands
    /// in for the WDK's in the Linux type-check, lacks it, so wdk-sys has
    /// no binding there.
    fn KeIsExecutingDpc() -> BOOLEAN;
}

/// The identity of the code running now (S1): the current thread, or a
/// DPC apart from the thread it interrupted. This module only asks the
/// kernel; how the answers combine is `ThreadId::from_kernel`'s (portable,
/// tested in ndcm-cm).
///
/// `PsGetCurrentThread` is a `CFORCEINLINE` over `KeGetCurrentThread` in the
/// WDK's ntddk.h, so bindgen emits no binding for it; `PsGetCurrentThreadId`
/// is an exported function.
pub fn current_thread() -> ThreadId {
    // SAFETY: PsGetCurrentThreadId has no preconditions and may be called at
    // any IRQL; it reads the current thread's client id.
    let thread = unsafe { PsGetCurrentThreadId() }.addr();
    // SAFETY: KeGetCurrentProcessorNumberEx has no preconditions; a null
    // PPROCESSOR_NUMBER asks for the index only.
    let processor = unsafe { KeGetCurrentProcessorNumberEx(core::ptr::null_mut()) };
    // SAFETY: KeIsExecutingDpc takes no arguments, has no preconditions and
    // may be called at any IRQL.
    let executing_dpc = unsafe { KeIsExecutingDpc() } != 0;
    ThreadId::from_kernel(KernelContext {
        thread_id: u64::try_from(thread).unwrap_or(u64::MAX),
        processor,
        executing_dpc,
    })
}

/// The kernel platform. Zero-sized: the kernel services are global.
#[derive(Clone, Copy, Default)]
pub struct KmdfPlatform;

/// `KI_USER_SHARED_DATA` on x64 and ARM64 (wdm.h).
const KI_USER_SHARED_DATA: usize = 0xFFFF_F780_0000_0000;
/// `KUSER_SHARED_DATA.InterruptTime`: wdm.h's `SharedInterruptTime`.
const SHARED_INTERRUPT_TIME: usize = KI_USER_SHARED_DATA + 0x8;

impl Platform for KmdfPlatform {
    type Lock<T: Send> = InStackQueuedSpinLock<T>;

    fn new_lock<T: Send>(&self, value: T) -> InStackQueuedSpinLock<T> {
        InStackQueuedSpinLock::new(value)
    }

    fn current_thread(&self) -> ThreadId {
        current_thread()
    }

    fn now(&self) -> Instant {
        // `KeQueryInterruptTime()` is a macro on x64 and ARM64 (bindgen emits
        // nothing for it): a 64-bit volatile read of the interrupt time, in
        // 100 ns units since boot, from the shared user data page.
        let at = core::ptr::with_exposed_provenance::<u64>(SHARED_INTERRUPT_TIME);
        // SAFETY: the kernel maps KUSER_SHARED_DATA at this address in every
        // process and system context, readable at any IRQL, 8-byte aligned;
        // on x64 and ARM64 the WDK's own KeQueryInterruptTime macro is
        // exactly this one 64-bit volatile read, which the kernel keeps
        // consistent for 64-bit readers.
        let ticks = unsafe { core::ptr::read_volatile(at) };
        Instant(ticks.saturating_mul(100))
    }
}
