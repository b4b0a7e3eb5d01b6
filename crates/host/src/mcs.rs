//! The MCS queue lock behind the host's in-stack queued spin lock
//! (spec/KMDF.md §4): each waiter links a node that lives in its own frame
//! into the queue and spins on a flag in that node; release hands the lock
//! to the successor, first come first served.
//!
//! This module owns only the queue discipline. It never checks IRQL or lock
//! order (lock.rs does) and never allocates.

use crate::sys::RawQueuedLock;
use std::hint::spin_loop;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// Spins before yielding the CPU: on a 2-core machine a descheduled holder
/// would otherwise make waiters burn their whole time slice.
const SPINS_BEFORE_YIELD: u32 = 64;

/// A queue node (`KSPIN_LOCK_QUEUE`): the successor's address and the flag
/// its owner spins on. Pinned: the lock word and the predecessor hold its
/// address.
#[derive(Debug)]
pub struct McsNode {
    next: AtomicPtr<McsNode>,
    waiting: AtomicBool,
    _pinned: PhantomPinned,
}

impl Default for McsNode {
    fn default() -> Self {
        McsNode {
            next: AtomicPtr::new(ptr::null_mut()),
            waiting: AtomicBool::new(false),
            _pinned: PhantomPinned,
        }
    }
}

/// The lock word: the address of the last node in the queue, or null.
#[derive(Debug, Default)]
pub struct McsLock {
    tail: AtomicPtr<McsNode>,
}

fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < SPINS_BEFORE_YIELD {
        spin_loop();
    } else {
        *spins = 0;
        std::thread::yield_now();
    }
}

impl McsLock {
    /// Whether some thread holds or waits for the lock (for tests).
    pub fn is_contended_or_held(&self) -> bool {
        !self.tail.load(Ordering::Acquire).is_null()
    }
}

impl RawQueuedLock for McsLock {
    type Node = McsNode;

    unsafe fn acquire(&self, node: Pin<&McsNode>) {
        let me = ptr::from_ref::<McsNode>(node.get_ref()).cast_mut();
        node.next.store(ptr::null_mut(), Ordering::Relaxed);
        node.waiting.store(true, Ordering::Relaxed);
        let prev = self.tail.swap(me, Ordering::AcqRel);
        if prev.is_null() {
            return;
        }
        // SAFETY: `prev` is the node of the thread ahead of us; it stays
        // alive until that thread's release, which waits for this link
        // (it sees `tail != prev` and spins until `next` is set).
        unsafe { (*prev).next.store(me, Ordering::Release) };
        let mut spins = 0;
        while node.waiting.load(Ordering::Acquire) {
            backoff(&mut spins);
        }
    }

    unsafe fn release(&self, node: Pin<&McsNode>) {
        let me = ptr::from_ref::<McsNode>(node.get_ref()).cast_mut();
        let mut next = node.next.load(Ordering::Acquire);
        if next.is_null() {
            if self
                .tail
                .compare_exchange(me, ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return;
            }
            // A successor swapped itself into the tail but has not linked
            // its node yet: wait for the link (the brief spin of
            // KeReleaseInStackQueuedSpinLock).
            let mut spins = 0;
            loop {
                next = node.next.load(Ordering::Acquire);
                if !next.is_null() {
                    break;
                }
                backoff(&mut spins);
            }
        }
        // SAFETY: `next` is the successor's node, alive while it spins on
        // `waiting`; after this store it owns the lock and we never touch
        // its node again.
        unsafe { (*next).waiting.store(false, Ordering::Release) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{RawMutex, StdSys};
    use std::sync::Arc;

    #[test]
    fn mcs_lock_excludes_and_hands_over_between_threads() {
        let m = Arc::new(RawMutex::<(u64, bool), StdSys>::new((0, false)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    for _ in 0..2_000 {
                        m.with(|(n, inside)| {
                            assert!(!*inside, "two holders at once");
                            *inside = true;
                            *n += 1;
                            *inside = false;
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(m.with(|(n, _)| *n), 8_000);
    }

    #[test]
    fn waiters_are_served_in_arrival_order() {
        // Hold the lock, queue three waiters one at a time (each is queued
        // once the tail moves), release: they must run in arrival order.
        let lock = Arc::new(McsLock::default());
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let node = std::pin::pin!(McsNode::default());
        let node = node.into_ref();
        // SAFETY: fresh pinned node, released below in this frame.
        unsafe { lock.acquire(node) };
        let mut handles = Vec::new();
        for i in 0..3 {
            let before = lock.tail.load(Ordering::Acquire);
            let (l, o) = (Arc::clone(&lock), Arc::clone(&order));
            handles.push(std::thread::spawn(move || {
                let n = std::pin::pin!(McsNode::default());
                let n = n.into_ref();
                // SAFETY: fresh pinned node released in this frame.
                unsafe { l.acquire(n) };
                o.lock().expect("order").push(i);
                // SAFETY: acquired above with this node.
                unsafe { l.release(n) };
            }));
            while lock.tail.load(Ordering::Acquire) == before {
                std::thread::yield_now();
            }
        }
        // SAFETY: acquired above with this node.
        unsafe { lock.release(node) };
        for h in handles {
            h.join().expect("thread");
        }
        assert_eq!(*order.lock().expect("order"), vec![0, 1, 2]);
        assert!(!lock.is_contended_or_held());
    }
}
