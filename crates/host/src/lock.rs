//! The host's in-stack queued spin lock (`KeAcquireInStackQueuedSpinLock` /
//! `KeReleaseInStackQueuedSpinLock`) with the WDM rules checked on every
//! use: callers at IRQL <= DISPATCH, acquire raises to DISPATCH and release
//! restores the IRQL saved in the handle, no re-acquisition by the holder
//! (QueuedSpinLock), strict alternation and release at DISPATCH
//! (QueuedSpinLockRelease, IrqlKeReleaseSpinLock).
//!
//! The queue handle is a pinned local of the acquiring frame. The safe API
//! is the closure `with`; the raw acquire/release pair exists so the harness
//! can model (and tests can commit) the mistakes a driver using the raw
//! DDIs can make. Never hand out a guard by value: it would move the node.

use crate::irql::require_irql;
use crate::sys::{Held, Irql, RawQueuedLock, Sys};
use crate::verifier::{Rule, Verifier};
use ndcm_cm::platform::QueuedSpinLock;
use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomPinned;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_LOCK: AtomicU64 = AtomicU64::new(1);

/// `KLOCK_QUEUE_HANDLE`: the queue node plus the IRQL to restore.
pub struct LockQueueHandle<S: Sys> {
    node: <S::RawLock as RawQueuedLock>::Node,
    old_irql: Cell<Irql>,
    /// The lock this handle is queued on, 0 when idle.
    lock: Cell<u64>,
    _pinned: PhantomPinned,
}

impl<S: Sys> Default for LockQueueHandle<S> {
    fn default() -> Self {
        LockQueueHandle {
            node: Default::default(),
            old_irql: Cell::new(Irql::PASSIVE),
            lock: Cell::new(0),
            _pinned: PhantomPinned,
        }
    }
}

/// A checked in-stack queued spin lock protecting a `T`.
pub struct QueuedLock<T, S: Sys> {
    id: u64,
    raw: S::RawLock,
    verifier: Arc<Verifier>,
    value: UnsafeCell<T>,
}

// SAFETY: `value` is reached only while `raw` is held by the calling thread
// (inside `with`, or between the raw acquire and release), one thread at a
// time; `T: Send` lets it be used from whichever thread holds the lock.
unsafe impl<T: Send, S: Sys> Sync for QueuedLock<T, S> {}
// SAFETY: moving the lock moves the value; `T: Send` allows that.
unsafe impl<T: Send, S: Sys> Send for QueuedLock<T, S> {}

impl<T, S: Sys> QueuedLock<T, S> {
    /// A lock protecting `value`, reporting to `verifier`.
    pub fn new(verifier: Arc<Verifier>, value: T) -> Self {
        QueuedLock {
            id: NEXT_LOCK.fetch_add(1, Ordering::Relaxed),
            raw: S::RawLock::default(),
            verifier,
            value: UnsafeCell::new(value),
        }
    }

    /// This lock's identity in violation reports.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether the calling thread holds this lock.
    pub fn held_by_current_thread(&self) -> bool {
        S::with_thread(|t| t.held.iter().any(|h| h.lock == self.id))
    }

    /// `KeAcquireInStackQueuedSpinLock`. A re-acquisition by the holder is
    /// reported (QueuedSpinLock, as Driver Verifier's deadlock detection
    /// reports a recursive spin lock acquisition) BEFORE the raw lock is
    /// touched, in every verifier mode and under every `Sys` (std or
    /// shuttle), and then panics: on Windows the processor would spin on
    /// its own lock forever, and a test must fail rather than hang.
    ///
    /// # Safety
    /// `handle` is idle and stays alive, pinned, until `release_in_stack`.
    #[track_caller]
    pub unsafe fn acquire_in_stack(&self, handle: Pin<&LockQueueHandle<S>>) {
        require_irql::<S>(
            &self.verifier,
            "KeAcquireInStackQueuedSpinLock",
            Irql::DISPATCH,
        );
        // Checked before any spinning: the holder would otherwise wait on
        // itself (the MCS queue, or the shuttle test-and-set loop) silently.
        if self.held_by_current_thread() {
            self.verifier.report(
                Rule::QueuedSpinLock,
                format!("lock {} re-acquired by the thread holding it", self.id),
            );
            panic!(
                "QueuedSpinLock: lock {} re-acquired by its holder (would deadlock)",
                self.id
            );
        }
        // SAFETY: the caller keeps `handle` pinned and alive until release;
        // projecting to its node keeps that guarantee.
        let node = unsafe { handle.map_unchecked(|h| &h.node) };
        // SAFETY: as above; the node is idle (the handle is idle).
        unsafe { self.raw.acquire(node) };
        let old = S::with_thread(|t| {
            let old = t.irql;
            t.irql = Irql::DISPATCH;
            t.held.push(Held {
                lock: self.id,
                old_irql: old,
            });
            old
        });
        handle.old_irql.set(old);
        handle.lock.set(self.id);
    }

    /// `KeReleaseInStackQueuedSpinLock`.
    ///
    /// # Safety
    /// `handle` was passed to `acquire_in_stack` on this lock by this thread.
    #[track_caller]
    pub unsafe fn release_in_stack(&self, handle: Pin<&LockQueueHandle<S>>) {
        if handle.lock.get() != self.id {
            self.verifier.report(
                Rule::QueuedSpinLockRelease,
                format!(
                    "lock {} released through a handle not queued on it",
                    self.id
                ),
            );
            return;
        }
        let (irql, out_of_order) = S::with_thread(|t| {
            let top = t.held.last().map(|h| h.lock);
            if let Some(i) = t.held.iter().rposition(|h| h.lock == self.id) {
                let _ = t.held.remove(i);
            }
            let irql = t.irql;
            t.irql = handle.old_irql.get();
            (irql, top != Some(self.id))
        });
        if out_of_order {
            self.verifier.report(
                Rule::QueuedSpinLockRelease,
                format!("lock {} released while a later lock is still held", self.id),
            );
        }
        if irql != Irql::DISPATCH {
            self.verifier.report(
                Rule::IrqlKeReleaseSpinLock,
                format!("lock {} released at IRQL {}", self.id, irql.0),
            );
        }
        handle.lock.set(0);
        // SAFETY: the handle is pinned by the caller; its node was queued on
        // `raw` by the matching acquire.
        let node = unsafe { handle.map_unchecked(|h| &h.node) };
        // SAFETY: this thread acquired `raw` with `node`.
        unsafe { self.raw.release(node) };
    }

    /// The protected value, for a caller between the raw acquire and release.
    ///
    /// # Safety
    /// The calling thread holds this lock through the raw API, and no other
    /// reference to the value is live.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn value_mut(&self) -> &mut T {
        // SAFETY: the caller holds the lock exclusively.
        unsafe { &mut *self.value.get() }
    }
}

impl<T: Send, S: Sys> QueuedSpinLock<T> for QueuedLock<T, S> {
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let handle = pin!(LockQueueHandle::<S>::default());
        let handle = handle.into_ref();
        // SAFETY: a fresh pinned local of this frame, released by `_release`
        // before the frame ends (on unwind too).
        unsafe { self.acquire_in_stack(handle) };
        struct Release<'a, T, S: Sys> {
            lock: &'a QueuedLock<T, S>,
            handle: Pin<&'a LockQueueHandle<S>>,
        }
        impl<T, S: Sys> Drop for Release<'_, T, S> {
            fn drop(&mut self) {
                // SAFETY: acquired in `with` by this thread with this handle.
                unsafe { self.lock.release_in_stack(self.handle) };
            }
        }
        let _release = Release { lock: self, handle };
        // SAFETY: held until `_release` drops; the only reference.
        let value = unsafe { &mut *self.value.get() };
        f(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irql::{callback_scope, current_irql};
    use crate::sys::{Callback, StdSys};
    use crate::verifier::Mode;

    fn lock(mode: Mode) -> (Arc<Verifier>, QueuedLock<u32, StdSys>) {
        let v = Arc::new(Verifier::new(mode));
        let l = QueuedLock::new(Arc::clone(&v), 0);
        (v, l)
    }

    #[test]
    fn acquire_raises_to_dispatch_and_release_restores() {
        let (v, l) = lock(Mode::Strict);
        assert_eq!(current_irql::<StdSys>(), Irql::PASSIVE);
        l.with(|_| assert_eq!(current_irql::<StdSys>(), Irql::DISPATCH));
        assert_eq!(current_irql::<StdSys>(), Irql::PASSIVE);
        v.assert_clean();
    }

    #[test]
    fn nesting_different_locks_restores_each_saved_irql() {
        let v = Arc::new(Verifier::default());
        let a = QueuedLock::<u8, StdSys>::new(Arc::clone(&v), 1);
        let b = QueuedLock::<u8, StdSys>::new(Arc::clone(&v), 2);
        a.with(|x| b.with(|y| *x + *y));
        assert_eq!(current_irql::<StdSys>(), Irql::PASSIVE);
        v.assert_clean();
    }

    #[test]
    fn reacquire_by_holder_is_queued_spin_lock_violation() {
        let (v, l) = lock(Mode::Record);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            l.with(|_| l.with(|_| ()));
        }));
        assert!(
            r.is_err(),
            "re-acquire must not proceed (it would deadlock)"
        );
        assert_eq!(v.rules(), vec![Rule::QueuedSpinLock]);
        // The outer frame released on unwind: the lock is usable again.
        assert_eq!(l.with(|x| *x), 0);
        assert_eq!(current_irql::<StdSys>(), Irql::PASSIVE);
    }

    #[test]
    fn acquire_above_dispatch_is_kmdf_irql_violation() {
        let (v, l) = lock(Mode::Record);
        StdSys::with_thread(|t| t.irql = Irql(3));
        l.with(|_| ());
        StdSys::with_thread(|t| t.irql = Irql::PASSIVE);
        assert_eq!(v.rules(), vec![Rule::KmdfIrql]);
    }

    #[test]
    fn lock_held_when_callback_returns_is_queued_spin_lock_release_violation() {
        let (v, l) = lock(Mode::Record);
        let handle = pin!(LockQueueHandle::<StdSys>::default());
        let handle = handle.into_ref();
        callback_scope::<StdSys, _>(&v, Callback::Dispatch(7), Irql::PASSIVE, || {
            // SAFETY: pinned local of the test frame, released below.
            unsafe { l.acquire_in_stack(handle) };
        });
        assert_eq!(v.rules(), vec![Rule::QueuedSpinLockRelease]);
        // SAFETY: acquired above by this thread with this handle.
        unsafe { l.release_in_stack(handle) };
    }

    #[test]
    fn out_of_order_release_is_queued_spin_lock_release_violation() {
        let v = Arc::new(Verifier::new(Mode::Record));
        let a = QueuedLock::<u8, StdSys>::new(Arc::clone(&v), 1);
        let b = QueuedLock::<u8, StdSys>::new(Arc::clone(&v), 2);
        let ha = pin!(LockQueueHandle::<StdSys>::default());
        let hb = pin!(LockQueueHandle::<StdSys>::default());
        let (ha, hb) = (ha.into_ref(), hb.into_ref());
        // SAFETY: pinned locals released below in this frame.
        unsafe {
            a.acquire_in_stack(ha);
            b.acquire_in_stack(hb);
            a.release_in_stack(ha);
        }
        // Releasing `a` first restored PASSIVE while `b` is still held, so
        // `b` is released at the wrong IRQL too.
        // SAFETY: acquired above.
        unsafe { b.release_in_stack(hb) };
        assert_eq!(
            v.rules(),
            vec![Rule::QueuedSpinLockRelease, Rule::IrqlKeReleaseSpinLock]
        );
    }

    #[test]
    fn release_through_idle_handle_is_queued_spin_lock_release_violation() {
        let (v, l) = lock(Mode::Record);
        let h = pin!(LockQueueHandle::<StdSys>::default());
        // SAFETY: the release is refused before touching the raw lock.
        unsafe { l.release_in_stack(h.into_ref()) };
        assert_eq!(v.rules(), vec![Rule::QueuedSpinLockRelease]);
    }
}
