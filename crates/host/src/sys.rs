//! The primitives under everything else: per-thread state (the emulated
//! IRQL, the held-lock stack, the callback contexts), thread identity, and
//! the raw queued lock. `StdSys` uses std threads and the MCS lock; the
//! `shuttle` feature adds `ShuttleSys`, whose primitives come from the model
//! checker so it can explore interleavings.
//!
//! Nothing here checks a rule; `lock.rs` and `framework` do, using the state
//! this module keeps.

use crate::mcs::McsLock;
use std::cell::{RefCell, UnsafeCell};
use std::num::NonZeroU64;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU64, Ordering};

/// An interrupt request level, emulated per thread.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash, Default)]
pub struct Irql(pub u8);

impl Irql {
    /// PASSIVE_LEVEL: threads, dispatch routines, work items.
    pub const PASSIVE: Irql = Irql(0);
    /// APC_LEVEL.
    pub const APC: Irql = Irql(1);
    /// DISPATCH_LEVEL: spin locks held, DPCs, timers, cancel routines.
    pub const DISPATCH: Irql = Irql(2);
}

/// Which driver callback a thread is running, innermost last.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Callback {
    /// EvtIoDeviceControl for this request.
    Dispatch(u64),
    /// EvtIoCanceledOnQueue / EvtRequestCancel for this request.
    Cancel(u64),
    /// A CM event, timer DPC, work item or file cleanup.
    Other(&'static str),
}

/// A lock this thread holds, with the IRQL to restore on release.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Held {
    /// The lock's identity.
    pub lock: u64,
    /// IRQL before the acquire (KLOCK_QUEUE_HANDLE.OldIrql).
    pub old_irql: Irql,
}

/// The state the harness keeps for each thread.
#[derive(Default, Debug)]
pub struct ThreadState {
    /// The emulated current IRQL.
    pub irql: Irql,
    /// Locks held, in acquisition order.
    pub held: Vec<Held>,
    /// Driver callbacks being run, innermost last.
    pub callbacks: Vec<Callback>,
}

/// A spin lock word whose waiters queue on nodes in their own frames.
pub trait RawQueuedLock: Send + Sync + Default {
    /// The queue node (KLOCK_QUEUE_HANDLE's LockQueue).
    type Node: Default;
    /// Takes the lock, queueing `node`.
    ///
    /// # Safety
    /// `node` is not queued on any lock, and stays alive and unmoved (it is
    /// pinned) until the matching `release` returns.
    unsafe fn acquire(&self, node: Pin<&Self::Node>);
    /// Hands the lock to the next waiter or frees it.
    ///
    /// # Safety
    /// `node` is the node this thread passed to the matching `acquire`.
    unsafe fn release(&self, node: Pin<&Self::Node>);
}

/// The thread and lock primitives the harness is built from.
pub trait Sys: Send + Sync + 'static {
    /// The raw queued lock.
    type RawLock: RawQueuedLock;
    /// The calling thread's identity (never 0).
    fn thread_id() -> NonZeroU64;
    /// Runs `f` on the calling thread's state. `f` must not call back in.
    fn with_thread<R>(f: impl FnOnce(&mut ThreadState) -> R) -> R;
    /// Lets another thread run (a spin-wait's back-off).
    fn yield_now();
    /// The back-off of round `round` of a long wait (a user thread waiting
    /// for an overlapped completion, not a spin lock). The default yields;
    /// real threads sleep after a short spin, so a hundred waiters do not
    /// starve the threads that would complete their requests.
    fn wait_backoff(round: u32) {
        let _ = round;
        Self::yield_now();
    }
}

static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

/// std threads and the MCS lock.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdSys;

std::thread_local! {
    static STD_THREAD_ID: NonZeroU64 =
        NonZeroU64::new(NEXT_THREAD.fetch_add(1, Ordering::Relaxed)).unwrap_or(NonZeroU64::MIN);
    static STD_THREAD_STATE: RefCell<ThreadState> = RefCell::new(ThreadState::default());
}

impl Sys for StdSys {
    type RawLock = McsLock;
    fn thread_id() -> NonZeroU64 {
        STD_THREAD_ID.with(|id| *id)
    }
    fn with_thread<R>(f: impl FnOnce(&mut ThreadState) -> R) -> R {
        STD_THREAD_STATE.with(|s| f(&mut s.borrow_mut()))
    }
    fn yield_now() {
        std::thread::yield_now();
    }
    fn wait_backoff(round: u32) {
        if round < 64 {
            std::thread::yield_now();
        } else {
            // 10 µs doubling to at most 1 ms.
            let shift = (round - 64).min(7);
            std::thread::sleep(std::time::Duration::from_micros(10 << shift));
        }
    }
}

/// A mutex for the harness's own bookkeeping, built on the raw lock. It is
/// invisible to the rule checks: the framework's internal lock is not a
/// driver lock.
pub struct RawMutex<T, S: Sys> {
    raw: S::RawLock,
    value: UnsafeCell<T>,
}

// SAFETY: `value` is reached only inside `with`, which holds `raw`
// exclusively, so one thread at a time gets `&mut T`; `T: Send` lets the
// value be used from whichever thread holds the lock.
unsafe impl<T: Send, S: Sys> Sync for RawMutex<T, S> {}
// SAFETY: moving the mutex moves the value; `T: Send` allows that.
unsafe impl<T: Send, S: Sys> Send for RawMutex<T, S> {}

impl<T, S: Sys> RawMutex<T, S> {
    /// A mutex protecting `value`.
    pub fn new(value: T) -> Self {
        RawMutex {
            raw: S::RawLock::default(),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` with the mutex held. Releases on unwind too.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let node = pin!(<S::RawLock as RawQueuedLock>::Node::default());
        let node = node.into_ref();
        // SAFETY: `node` is a fresh pinned local of this frame, released by
        // `_release` below before the frame ends.
        unsafe { self.raw.acquire(node) };
        let _release = ReleaseOnDrop::<S> {
            raw: &self.raw,
            node,
        };
        // SAFETY: the raw lock is held until `_release` drops, so this is the
        // only reference to the value.
        let value = unsafe { &mut *self.value.get() };
        f(value)
    }
}

/// Releases a raw lock when dropped (normal return or unwind).
pub(crate) struct ReleaseOnDrop<'a, S: Sys> {
    pub(crate) raw: &'a S::RawLock,
    pub(crate) node: Pin<&'a <S::RawLock as RawQueuedLock>::Node>,
}

impl<S: Sys> Drop for ReleaseOnDrop<'_, S> {
    fn drop(&mut self) {
        // SAFETY: `node` was passed to `acquire` on `raw` by this thread and
        // has not been released.
        unsafe { self.raw.release(self.node) };
    }
}

#[cfg(feature = "shuttle")]
pub use shuttle_sys::ShuttleSys;

#[cfg(feature = "shuttle")]
mod shuttle_sys {
    use super::{NEXT_THREAD, RawQueuedLock, Sys, ThreadState};
    use shuttle::sync::atomic::{AtomicBool, Ordering};
    use std::cell::RefCell;
    use std::num::NonZeroU64;
    use std::pin::Pin;

    /// Model-checked primitives: shuttle's threads and atomics, so each
    /// lock operation is a point where the checker may switch threads.
    #[derive(Debug, Default, Clone, Copy)]
    pub struct ShuttleSys;

    /// A test-and-set lock on a shuttle atomic. The MCS queue itself is
    /// checked by the std tests; here only the interleavings matter.
    #[derive(Default)]
    pub struct ShuttleLock {
        locked: AtomicBool,
    }

    impl RawQueuedLock for ShuttleLock {
        type Node = ();
        unsafe fn acquire(&self, _node: Pin<&()>) {
            while self
                .locked
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                shuttle::thread::yield_now();
            }
        }
        unsafe fn release(&self, _node: Pin<&()>) {
            self.locked.store(false, Ordering::Release);
        }
    }

    shuttle::thread_local! {
        static ID: NonZeroU64 = NonZeroU64::new(
            NEXT_THREAD.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        )
        .unwrap_or(NonZeroU64::MIN);
        static STATE: RefCell<ThreadState> = RefCell::new(ThreadState::default());
    }

    impl Sys for ShuttleSys {
        type RawLock = ShuttleLock;
        fn thread_id() -> NonZeroU64 {
            ID.with(|id| *id)
        }
        fn with_thread<R>(f: impl FnOnce(&mut ThreadState) -> R) -> R {
            STATE.with(|s| f(&mut s.borrow_mut()))
        }
        fn yield_now() {
            shuttle::thread::yield_now();
        }
    }
}
