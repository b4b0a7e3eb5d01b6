//! A portable platform for this crate's tests and benchmarks: a spin lock on
//! a core atomic, a virtual clock the test advances, and a settable thread id.
//!
//! It is deterministic and single-process; it never sleeps. The host platform
//! (ndcm-host) and the model-checking platform (tests/) replace it where real
//! threads matter.

use super::{Duration, Instant, Platform, QueuedSpinLock, ThreadId};
use core::cell::UnsafeCell;
use core::num::NonZeroU64;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A test-and-set spin lock. Not fair, not re-entrant; fine for tests.
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through `with`, which holds `locked`
// exclusively, so sharing the lock across threads hands out one `&mut T` at a
// time; `T: Send` lets that value be used from whichever thread holds it.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: moving the lock moves the value; `T: Send` allows that.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A lock protecting `value`.
    pub const fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }
}

/// Releases the lock even if the closure unwinds (tests that assert).
struct Release<'a>(&'a AtomicBool);
impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl<T: Send> QueuedSpinLock<T> for SpinLock<T> {
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        let _release = Release(&self.locked);
        // SAFETY: `locked` is held by this frame until `_release` drops, so
        // this is the only live reference to the value.
        let value = unsafe { &mut *self.value.get() };
        f(value)
    }
}

/// Virtual clock and settable thread id.
pub struct TestPlatform {
    now: AtomicU64,
    thread: AtomicU64,
}

impl Default for TestPlatform {
    fn default() -> Self {
        Self::new()
    }
}

impl TestPlatform {
    /// Clock at 0, thread 1.
    pub const fn new() -> Self {
        TestPlatform {
            now: AtomicU64::new(0),
            thread: AtomicU64::new(1),
        }
    }
    /// Moves the virtual clock forward.
    pub fn advance(&self, by: Duration) {
        let _ = self.now.fetch_add(by.as_nanos(), Ordering::SeqCst);
    }
    /// Sets the virtual clock (never backwards).
    pub fn set_now(&self, at: Instant) {
        let _ = self.now.fetch_max(at.0, Ordering::SeqCst);
    }
    /// Pretends the following calls come from thread `id` (0 is mapped to 1).
    pub fn set_thread(&self, id: u64) {
        self.thread.store(id.max(1), Ordering::SeqCst);
    }
}

impl Platform for TestPlatform {
    type Lock<T: Send> = SpinLock<T>;
    fn new_lock<T: Send>(&self, value: T) -> SpinLock<T> {
        SpinLock::new(value)
    }
    fn current_thread(&self) -> ThreadId {
        let id = self.thread.load(Ordering::SeqCst);
        ThreadId(NonZeroU64::new(id).unwrap_or(NonZeroU64::MIN))
    }
    fn now(&self) -> Instant {
        Instant(self.now.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_hands_out_the_value_and_releases_it() {
        let p = TestPlatform::new();
        let lock = p.new_lock(5u32);
        lock.with(|v| *v += 1);
        assert_eq!(lock.with(|v| *v), 6);
    }

    #[test]
    fn clock_moves_only_forward() {
        let p = TestPlatform::new();
        p.advance(Duration::from_millis(3));
        p.set_now(Instant(1));
        assert_eq!(p.now(), Instant(3_000_000));
        p.set_thread(0);
        assert_eq!(p.current_thread().0.get(), 1);
    }
}
