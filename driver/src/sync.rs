//! `ndcm_cm::platform::Platform` on the Windows kernel: the in-stack queued
//! spin lock, the current thread and the interrupt-time clock. Lock rules:
//! README-windows.md, "Driver sources".

use core::cell::UnsafeCell;

use ndcm_cm::platform::{Instant, KernelContext, Platform, QueuedSpinLock, ThreadId};
use wdk_sys::{
    BOOLEAN, KLOCK_QUEUE_HANDLE, KSPIN_LOCK,
    ntddk::{
        KeAcquireInStackQueuedSpinLock, KeGetCurrentProcessorNumberEx,
        KeReleaseInStackQueuedSpinLock, PsGetCurrentThreadId,
    },
};

/// A value guarded by an in-stack queued spin lock (`KSPIN_LOCK`, only with
/// `KeAcquireInStackQueuedSpinLock`), at IRQL <= `DISPATCH_LEVEL`; the closure
/// runs at `DISPATCH_LEVEL`: no waits, no pageable memory, no re-taking.
pub struct InStackQueuedSpinLock<T> {
    /// 0 is a free lock (what `KeInitializeSpinLock` stores); free, it may move.
    lock: UnsafeCell<KSPIN_LOCK>,
    value: UnsafeCell<T>,
}

// SAFETY: `&mut T` exists only in `with`, under the lock; `T: Send`.
unsafe impl<T: Send> Sync for InStackQueuedSpinLock<T> {}
// SAFETY: `T: Send`; it moves only when no `with` borrows it (free, 0).
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
        // The MCS queue node: the lock word and a waiting successor point
        // at it, so it stays in this frame, unmoved, until the release (no
        // guard object: spec/KMDF.md §4; panic = abort: no unwinding).
        let mut handle = KLOCK_QUEUE_HANDLE::default();
        // SAFETY: a queued-only KSPIN_LOCK; a fresh node; IRQL <= DISPATCH.
        unsafe { KeAcquireInStackQueuedSpinLock(self.lock.get(), &raw mut handle) };
        // SAFETY: the lock is held: the only reference, not kept by `f`.
        let value = unsafe { &mut *self.value.get() };
        let result = f(value);
        // SAFETY: the unmoved node that acquired the lock; restores the IRQL.
        unsafe { KeReleaseInStackQueuedSpinLock(&raw mut handle) };
        result
    }
}

// SAFETY: wdm.h's `BOOLEAN KeIsExecutingDpc(VOID)`, as the WDK binds it.
unsafe extern "system" {
    /// `KeIsExecutingDpc` (any IRQL); mingw-w64's wdm.h (Linux CI) lacks it.
    fn KeIsExecutingDpc() -> BOOLEAN;
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

    /// The identity of the code running now (S1), from the kernel's answers
    /// combined by `ThreadId::from_kernel` (ndcm-cm). `PsGetCurrentThreadId`:
    /// `PsGetCurrentThread` is an inline bindgen does not emit.
    fn current_thread(&self) -> ThreadId {
        // SAFETY: no preconditions, any IRQL.
        let thread = unsafe { PsGetCurrentThreadId() }.addr();
        // SAFETY: no preconditions; a null PPROCESSOR_NUMBER asks for the index.
        let processor = unsafe { KeGetCurrentProcessorNumberEx(core::ptr::null_mut()) };
        // SAFETY: no arguments or preconditions, any IRQL.
        let executing_dpc = unsafe { KeIsExecutingDpc() } != 0;
        ThreadId::from_kernel(KernelContext {
            thread_id: u64::try_from(thread).unwrap_or(u64::MAX),
            processor,
            executing_dpc,
        })
    }

    fn now(&self) -> Instant {
        // `KeQueryInterruptTime()`, a macro bindgen does not emit (100 ns).
        let at = core::ptr::with_exposed_provenance::<u64>(SHARED_INTERRUPT_TIME);
        // SAFETY: KUSER_SHARED_DATA is mapped here in every context, readable
        // at any IRQL, aligned; on x64/ARM64 the WDK's macro is exactly this
        // 64-bit volatile read, which the kernel keeps consistent.
        let ticks = unsafe { core::ptr::read_volatile(at) };
        Instant(ticks.saturating_mul(100))
    }
}
