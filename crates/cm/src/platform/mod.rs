//! What the CM core needs from the kernel: a queued spin lock used only
//! through a closure, the current thread's identity, and monotonic time.
//!
//! This module owns the trait shapes shared with `ndcm-host` and `driver/`
//! (team CONTRACTS.md). It must never name a Windows or std type: the same
//! core runs in the kernel, on the host, in the deterministic harness and
//! under a model checker.
//!
//! Timers are not part of the platform: the manager returns "arm timer
//! (cid, deadline)" / "cancel timer (cid)" and the platform owner arms a real
//! timer and calls the manager back when it fires.

mod test_platform;
mod thread;
mod time;

pub use test_platform::{SpinLock, TestPlatform};
pub use thread::KernelContext;
pub use time::{Duration, Instant};

use core::num::NonZeroU64;

/// The identity of the code running now: a thread, or on Windows a DPC
/// apart from the thread it interrupted (`ThreadId::from_kernel`). Used to
/// check that `poll` and `format_event` run on the thread that runs the
/// CEP's callback (S1).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct ThreadId(pub NonZeroU64);

/// A spin lock taken through an in-stack queue handle. The handle lives in
/// the frame of `with` (KLOCK_QUEUE_HANDLE on Windows) and must not move while
/// held, so there is no guard returned by value. Usable at IRQL <= DISPATCH.
///
/// The closure must not block, must not call out of the CM and must not take
/// the same lock again (the lock is not re-entrant).
pub trait QueuedSpinLock<T>: Send + Sync {
    /// Runs `f` with the lock held and returns its result.
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R;
}

/// The kernel services the CM core uses.
pub trait Platform: Send + Sync + 'static {
    /// The manager lock type.
    type Lock<T: Send>: QueuedSpinLock<T>;
    /// Creates a lock protecting `value`.
    fn new_lock<T: Send>(&self, value: T) -> Self::Lock<T>;
    /// The calling thread.
    fn current_thread(&self) -> ThreadId;
    /// Monotonic time in nanoseconds (KeQueryInterruptTime * 100 on Windows).
    fn now(&self) -> Instant;
}
