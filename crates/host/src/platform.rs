//! `HostPlatform`: the CM core's kernel services on the host — checked
//! in-stack queued spin locks, thread identity and a clock — all reporting
//! to one `Verifier`.
//!
//! Generic over `Sys` so the same platform runs on std threads and under the
//! shuttle model checker. Timers are not here (the core is sans-IO): see
//! timers.rs and the device that drives them.

use crate::clock::Clock;
use crate::lock::QueuedLock;
use crate::sys::{StdSys, Sys};
use crate::verifier::Verifier;
use ndcm_cm::platform::{Instant, Platform, ThreadId};
use std::marker::PhantomData;
use std::sync::Arc;

/// The host platform. Clones share the verifier and the clock.
pub struct HostPlatform<S: Sys = StdSys> {
    verifier: Arc<Verifier>,
    clock: Arc<Clock>,
    _sys: PhantomData<fn() -> S>,
}

impl<S: Sys> Clone for HostPlatform<S> {
    fn clone(&self) -> Self {
        HostPlatform {
            verifier: Arc::clone(&self.verifier),
            clock: Arc::clone(&self.clock),
            _sys: PhantomData,
        }
    }
}

impl<S: Sys> HostPlatform<S> {
    /// A platform reporting to `verifier` and reading `clock`.
    pub fn new(verifier: Arc<Verifier>, clock: Arc<Clock>) -> Self {
        HostPlatform {
            verifier,
            clock,
            _sys: PhantomData,
        }
    }

    /// A strict verifier and a virtual clock at 0.
    pub fn new_virtual() -> Self {
        Self::new(
            Arc::new(Verifier::default()),
            Arc::new(Clock::new_virtual()),
        )
    }

    /// The verifier this platform's locks report to.
    pub fn verifier(&self) -> &Arc<Verifier> {
        &self.verifier
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<Clock> {
        &self.clock
    }
}

impl<S: Sys> Platform for HostPlatform<S> {
    type Lock<T: Send> = QueuedLock<T, S>;

    fn new_lock<T: Send>(&self, value: T) -> QueuedLock<T, S> {
        QueuedLock::new(Arc::clone(&self.verifier), value)
    }

    fn current_thread(&self) -> ThreadId {
        ThreadId(S::thread_id())
    }

    fn now(&self) -> Instant {
        self.clock.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndcm_cm::platform::{Duration, QueuedSpinLock};

    #[test]
    fn threads_have_distinct_stable_ids() {
        let p = Arc::new(HostPlatform::<StdSys>::new_virtual());
        let here = p.current_thread();
        assert_eq!(here, p.current_thread());
        let q = Arc::clone(&p);
        let there = std::thread::spawn(move || q.current_thread())
            .join()
            .expect("thread");
        assert_ne!(here, there);
    }

    #[test]
    fn platform_locks_exclude_across_threads() {
        let p = Arc::new(HostPlatform::<StdSys>::new_virtual());
        let lock = Arc::new(p.new_lock(0u64));
        let ts: Vec<_> = (0..3)
            .map(|_| {
                let l = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for _ in 0..1_000 {
                        l.with(|n| *n += 1);
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().expect("thread");
        }
        assert_eq!(lock.with(|n| *n), 3_000);
        p.verifier().assert_clean();
    }

    #[test]
    fn virtual_time_is_what_the_test_sets() {
        let p = HostPlatform::<StdSys>::new_virtual();
        let _ = p.clock().advance(Duration::from_millis(7));
        assert_eq!(p.now(), Instant(7_000_000));
    }
}
