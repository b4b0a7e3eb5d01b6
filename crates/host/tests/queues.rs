//! The manual-queue model behaves as KMDF's source does (fxioqueue.cpp,
//! fxioqueue.hpp), not kinder: where EvtIoCanceledOnQueue runs, on which
//! thread, and when it waits; the cancelable-request DDIs' answers; and the
//! queued spin lock's report of a re-acquisition by its holder.

use ndcm_cm::platform::QueuedSpinLock;
use ndcm_host::framework::{Framework, QueueId, RequestId, status};
use ndcm_host::lock::QueuedLock;
use ndcm_host::{Mode, Rule, StdSys, Verifier};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

const IOCTL: u32 = 0x0022_2004;

thread_local! {
    /// Set by this thread around its WdfRequestForwardToIoQueue call.
    static IN_FORWARD: Cell<bool> = const { Cell::new(false) };
}

/// One EvtIoCanceledOnQueue call.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    request: RequestId,
    thread: ThreadId,
    inside_forward: bool,
}

/// A manual queue whose EvtIoCanceledOnQueue logs each call and completes
/// the request with STATUS_CANCELLED; for the request named in `hold` it
/// first signals `entered` and waits for `release` (a thread kept inside
/// the queue's dispatch loop).
struct Fixture {
    fw: Arc<Framework>,
    q: QueueId,
    log: Arc<Mutex<Vec<Seen>>>,
    hold: Arc<Mutex<Option<RequestId>>>,
    entered: Receiver<()>,
    release: Sender<()>,
}

impl Fixture {
    fn new() -> Self {
        let fw: Arc<Framework> = Arc::new(Framework::new(Arc::new(Verifier::default())));
        let log = Arc::new(Mutex::new(Vec::new()));
        let hold = Arc::new(Mutex::new(None));
        let (entered_tx, entered) = channel();
        let (release, release_rx) = channel::<()>();
        let (entered_tx, release_rx) = (Mutex::new(entered_tx), Mutex::new(release_rx));
        let (fw2, log2, hold2) = (Arc::clone(&fw), Arc::clone(&log), Arc::clone(&hold));
        let q = fw.create_queue(Some(Arc::new(move |_q, r| {
            log2.lock().expect("log").push(Seen {
                request: r,
                thread: thread::current().id(),
                inside_forward: IN_FORWARD.with(Cell::get),
            });
            if *hold2.lock().expect("hold") == Some(r) {
                entered_tx.lock().expect("tx").send(()).expect("entered");
                release_rx.lock().expect("rx").recv().expect("release");
            }
            fw2.complete(r, status::CANCELLED, 0);
        })));
        Fixture {
            fw,
            q,
            log,
            hold,
            entered,
            release,
        }
    }

    /// A request presented and forwarded to the queue by its dispatch
    /// routine.
    fn pend(&self, file: ndcm_host::framework::FileId) -> RequestId {
        self.fw.present(file, IOCTL, vec![], 0, |r| {
            assert_eq!(forward(&self.fw, r, self.q), Ok(()));
        })
    }

    fn seen(&self) -> Vec<Seen> {
        self.log.lock().expect("log").clone()
    }

    /// Cancels `r` on a new thread whose EvtIoCanceledOnQueue for `r` stays
    /// blocked inside the queue's dispatch loop until `release`.
    fn park_dispatcher_in_callback_of(&self, r: RequestId) -> thread::JoinHandle<bool> {
        *self.hold.lock().expect("hold") = Some(r);
        let fw = Arc::clone(&self.fw);
        let t = thread::spawn(move || fw.cancel(r));
        self.entered
            .recv_timeout(Duration::from_secs(10))
            .expect("dispatcher entered the callback");
        t
    }
}

/// WdfRequestForwardToIoQueue, marking the calling thread as forwarding.
fn forward(fw: &Framework, r: RequestId, q: QueueId) -> Result<(), u32> {
    IN_FORWARD.with(|f| f.set(true));
    let result = fw.forward_to_queue(r, q, [0; 2]);
    IN_FORWARD.with(|f| f.set(false));
    result
}

fn here() -> ThreadId {
    thread::current().id()
}

#[test]
fn cancel_on_an_idle_queue_delivers_on_the_cancelling_thread() {
    // CancelForQueue → DispatchInternalEvents with m_Dispatching == 0.
    let f = Fixture::new();
    let file = f.fw.open_file();
    let r = f.pend(file);
    assert!(f.fw.cancel(r));
    assert_eq!(
        f.seen(),
        vec![Seen {
            request: r,
            thread: here(),
            inside_forward: false
        }]
    );
    assert_eq!(f.fw.dispatching(f.q), 0);
    f.fw.delete_queue(f.q);
    f.fw.close_file(file, || {});
    f.fw.assert_quiescent();
}

#[test]
fn cancel_while_another_thread_dispatches_waits_and_the_next_forward_delivers_it_on_the_forwarding_thread()
 {
    let f = Fixture::new();
    let file = f.fw.open_file();
    let a = f.pend(file);
    let b = f.pend(file);
    let t1 = f.park_dispatcher_in_callback_of(a);
    let t1_id = t1.thread().id();
    assert_eq!(f.fw.dispatching(f.q), 1);

    // DispatchInternalEvents: someone is dispatching, so this thread only
    // lists B and returns; no callback ran for B.
    assert!(f.fw.cancel(b));
    assert_eq!(f.fw.canceled_pending(f.q), 1);
    assert_eq!(f.fw.poll(b), None);
    assert_eq!(f.seen().len(), 1);

    // QueueRequestFromForward → DispatchEvents on the forwarding thread,
    // whatever m_Dispatching says: B's callback runs inside the forward of
    // an unrelated request C.
    let c = f.fw.present(file, IOCTL, vec![], 0, |c| {
        assert_eq!(forward(&f.fw, c, f.q), Ok(()));
        assert_eq!(
            f.fw.poll(b).map(|x| x.status),
            Some(status::CANCELLED),
            "delivered before the forward returned"
        );
    });
    assert_eq!(
        f.seen(),
        vec![
            Seen {
                request: a,
                thread: t1_id,
                inside_forward: false
            },
            Seen {
                request: b,
                thread: here(),
                inside_forward: true
            },
        ]
    );
    assert_eq!(f.fw.canceled_pending(f.q), 0);

    f.release.send(()).expect("release");
    assert!(t1.join().expect("t1"));
    assert_eq!(f.fw.dispatching(f.q), 0);
    let (got, _) = f.fw.retrieve_next(f.q).expect("c queued");
    assert_eq!(got, c);
    f.fw.complete(c, status::SUCCESS, 0);
    f.fw.delete_queue(f.q);
    f.fw.close_file(file, || {});
    f.fw.assert_quiescent();
}

#[test]
fn the_thread_already_dispatching_delivers_cancels_made_during_its_callback() {
    // ProcessCancelledRequestsOnQueue loops until the list is empty.
    let f = Fixture::new();
    let file = f.fw.open_file();
    let a = f.pend(file);
    let b = f.pend(file);
    let t1 = f.park_dispatcher_in_callback_of(a);
    let t1_id = t1.thread().id();
    assert!(f.fw.cancel(b));
    assert_eq!(f.fw.poll(b), None);
    f.release.send(()).expect("release");
    assert!(t1.join().expect("t1"));
    let threads: Vec<(RequestId, ThreadId)> =
        f.seen().iter().map(|s| (s.request, s.thread)).collect();
    assert_eq!(threads, vec![(a, t1_id), (b, t1_id)]);
    assert_eq!(f.fw.poll(b).map(|x| x.status), Some(status::CANCELLED));
    f.fw.delete_queue(f.q);
    f.fw.close_file(file, || {});
    f.fw.assert_quiescent();
}

#[test]
fn forwarding_a_cancelled_request_succeeds_and_its_callback_runs_inside_forward() {
    // QueueRequestFromForward: InsertTailIrpQueue fails (the IRP is
    // cancelled) → CancelForQueue → STATUS_SUCCESS to the driver, and the
    // callback runs on the caller's thread before the forward returns.
    let f = Fixture::new();
    let file = f.fw.open_file();
    let _ = f.fw.present(file, IOCTL, vec![], 0, |r| {
        assert!(!f.fw.cancel(r), "driver-owned: the cancel is only recorded");
        assert_eq!(forward(&f.fw, r, f.q), Ok(()));
        assert_eq!(
            f.seen(),
            vec![Seen {
                request: r,
                thread: here(),
                inside_forward: true
            }]
        );
        assert_eq!(f.fw.poll(r).map(|x| x.status), Some(status::CANCELLED));
    });
    assert_eq!(f.fw.queue_len(f.q), 0);
    f.fw.delete_queue(f.q);
    f.fw.close_file(file, || {});
    f.fw.assert_quiescent();
}

#[test]
fn forwarding_a_cancelled_request_while_another_thread_dispatches_still_delivers_inside_forward() {
    // CancelForQueue's DispatchInternalEvents returns (m_Dispatching != 0),
    // but the fromIo DispatchEvents that follows runs regardless.
    let f = Fixture::new();
    let file = f.fw.open_file();
    let a = f.pend(file);
    let t1 = f.park_dispatcher_in_callback_of(a);
    let r = f.fw.present(file, IOCTL, vec![], 0, |r| {
        assert!(!f.fw.cancel(r));
        assert_eq!(forward(&f.fw, r, f.q), Ok(()));
        assert_eq!(f.fw.poll(r).map(|x| x.status), Some(status::CANCELLED));
    });
    assert!(f.seen().contains(&Seen {
        request: r,
        thread: here(),
        inside_forward: true
    }));
    f.release.send(()).expect("release");
    assert!(t1.join().expect("t1"));
    f.fw.delete_queue(f.q);
    f.fw.close_file(file, || {});
    f.fw.assert_quiescent();
}

#[test]
fn retrieval_does_not_deliver_pending_cancellations() {
    // FxIoQueue::GetRequest runs no dispatch loop.
    let f = Fixture::new();
    let file = f.fw.open_file();
    let a = f.pend(file);
    let b = f.pend(file);
    let c = f.pend(file);
    let t1 = f.park_dispatcher_in_callback_of(a);
    assert!(f.fw.cancel(b));
    let (got, _) = f.fw.retrieve_next(f.q).expect("c");
    assert_eq!(got, c);
    assert_eq!(f.fw.retrieve_next(f.q), None, "b is not retrievable");
    assert_eq!(f.fw.canceled_pending(f.q), 1);
    assert_eq!(f.fw.poll(b), None);
    f.fw.complete(c, status::SUCCESS, 0);
    assert_eq!(f.fw.canceled_pending(f.q), 1, "nor does completion");
    f.release.send(()).expect("release");
    assert!(t1.join().expect("t1"));
    assert_eq!(f.fw.poll(b).map(|x| x.status), Some(status::CANCELLED));
    f.fw.delete_queue(f.q);
    f.fw.close_file(file, || {});
    f.fw.assert_quiescent();
}

#[test]
fn purge_delivers_every_listed_cancellation_on_the_purging_thread() {
    // QueuePurge: CancelForQueue per queued request, then DispatchEvents
    // unconditionally.
    let f = Fixture::new();
    let file = f.fw.open_file();
    let a = f.pend(file);
    let b = f.pend(file);
    let c = f.pend(file);
    let t1 = f.park_dispatcher_in_callback_of(a);
    assert!(f.fw.cancel(b));
    f.fw.purge_queue(f.q);
    let mine: Vec<RequestId> = f
        .seen()
        .iter()
        .filter(|s| s.thread == here())
        .map(|s| s.request)
        .collect();
    assert_eq!(mine, vec![b, c]);
    // A purged queue refuses forwards.
    let d = f.fw.present(file, IOCTL, vec![], 0, |d| {
        assert_eq!(forward(&f.fw, d, f.q), Err(status::INVALID_DEVICE_STATE));
        f.fw.complete(d, status::SUCCESS, 0);
    });
    assert!(f.fw.poll(d).is_some());
    f.release.send(()).expect("release");
    assert!(t1.join().expect("t1"));
    f.fw.delete_queue(f.q);
    f.fw.close_file(file, || {});
    f.fw.assert_quiescent();
}

#[test]
fn delete_at_passive_waits_for_a_thread_still_in_the_dispatch_loop() {
    // FxIoQueue::Dispose waits for m_FinishDisposing, set by the last
    // thread leaving DispatchEvents.
    let f = Fixture::new();
    let file = f.fw.open_file();
    let a = f.pend(file);
    let t1 = f.park_dispatcher_in_callback_of(a);
    let done = Arc::new(AtomicBool::new(false));
    let deleter = {
        let (fw, q, done) = (Arc::clone(&f.fw), f.q, Arc::clone(&done));
        thread::spawn(move || {
            fw.delete_queue(q);
            done.store(true, Ordering::SeqCst);
        })
    };
    thread::sleep(Duration::from_millis(100));
    assert!(!done.load(Ordering::SeqCst), "delete returned early");
    assert_eq!(f.fw.live_queues(), 1);
    f.release.send(()).expect("release");
    assert!(t1.join().expect("t1"));
    deleter.join().expect("deleter");
    assert_eq!(f.fw.live_queues(), 0);
    f.fw.close_file(file, || {});
    f.fw.assert_quiescent();
}

#[test]
fn mark_cancelable_ex_on_a_cancelled_request_returns_cancelled_without_the_routine() {
    // FxIoQueue::RequestCancelable(Cancelable, FailIfIrpIsCancelled = TRUE).
    let fw: Arc<Framework> = Arc::new(Framework::new(Arc::new(Verifier::default())));
    let file = fw.open_file();
    let routine_ran = Arc::new(AtomicBool::new(false));
    let r = fw.present(file, IOCTL, vec![], 0, |r| {
        assert!(!fw.cancel(r));
        let ran = Arc::clone(&routine_ran);
        assert_eq!(
            fw.mark_cancelable(r, Arc::new(move |_| ran.store(true, Ordering::SeqCst))),
            Err(status::CANCELLED)
        );
        // Not cancelable: the driver completes it itself, no unmark.
        fw.complete(r, status::CANCELLED, 0);
    });
    assert!(!routine_ran.load(Ordering::SeqCst));
    assert_eq!(fw.poll(r).map(|c| c.status), Some(status::CANCELLED));
    fw.close_file(file, || {});
    fw.assert_quiescent();
}

#[test]
fn unmark_racing_the_cancel_routine_returns_cancelled_exactly_when_the_routine_runs() {
    // FxIoQueue::RequestCancelable(!Cancelable): RemoveFromIrpQueue fails
    // once the cancel took the request; the routine then owns it.
    let fw: Arc<Framework> = Arc::new(Framework::new(Arc::new(Verifier::default())));
    let file = fw.open_file();
    for _ in 0..200 {
        let ran = Arc::new(AtomicBool::new(false));
        let r = fw.present(file, IOCTL, vec![], 0, |r| {
            let (fw2, ran2) = (Arc::clone(&fw), Arc::clone(&ran));
            fw.mark_cancelable(
                r,
                Arc::new(move |r| {
                    ran2.store(true, Ordering::SeqCst);
                    fw2.complete(r, status::CANCELLED, 0);
                }),
            )
            .expect("mark");
        });
        let canceller = {
            let fw = Arc::clone(&fw);
            thread::spawn(move || fw.cancel(r))
        };
        let unmarked = fw.unmark_cancelable(r);
        match unmarked {
            Ok(()) => fw.complete(r, status::SUCCESS, 0),
            Err(st) => assert_eq!(st, status::CANCELLED),
        }
        let cancelled_it = canceller.join().expect("canceller");
        let c = fw.wait(r, Duration::from_secs(5)).expect("completed");
        assert_eq!(unmarked.is_err(), cancelled_it);
        assert_eq!(ran.load(Ordering::SeqCst), unmarked.is_err());
        assert_eq!(
            c.status,
            if unmarked.is_err() {
                status::CANCELLED
            } else {
                status::SUCCESS
            }
        );
        assert_eq!(fw.completion_attempts(r), 1);
    }
    fw.close_file(file, || {});
    fw.assert_quiescent();
}

#[test]
fn touching_a_request_waiting_on_the_cancelled_list_is_invalid_req_access() {
    // Between CancelForQueue and its EvtIoCanceledOnQueue the framework
    // holds the request; a driver completing it through a stale handle
    // (e.g. one it kept while the request was queued) breaks the rules.
    let verifier = Arc::new(Verifier::new(Mode::Record));
    let fw: Arc<Framework> = Arc::new(Framework::new(Arc::clone(&verifier)));
    let (tx, rx) = channel::<()>();
    let (go_tx, go_rx) = channel::<()>();
    let (tx, go_rx) = (Mutex::new(tx), Mutex::new(go_rx));
    let fw2 = Arc::clone(&fw);
    let first = Arc::new(Mutex::new(None::<RequestId>));
    let first2 = Arc::clone(&first);
    let q = fw.create_queue(Some(Arc::new(move |_q, r| {
        if *first2.lock().expect("first") == Some(r) {
            tx.lock().expect("tx").send(()).expect("entered");
            go_rx.lock().expect("rx").recv().expect("go");
        }
        fw2.complete(r, status::CANCELLED, 0);
    })));
    let file = fw.open_file();
    let pend = |fw: &Framework| {
        fw.present(file, IOCTL, vec![], 0, |r| {
            fw.forward_to_queue(r, q, [0; 2]).expect("forward");
        })
    };
    let a = pend(&fw);
    let b = pend(&fw);
    *first.lock().expect("first") = Some(a);
    let t1 = {
        let fw = Arc::clone(&fw);
        thread::spawn(move || fw.cancel(a))
    };
    rx.recv_timeout(Duration::from_secs(10)).expect("entered");
    assert!(fw.cancel(b));
    fw.complete(b, status::SUCCESS, 0);
    assert_eq!(verifier.rules(), vec![Rule::InvalidReqAccess]);
    go_tx.send(()).expect("go");
    assert!(t1.join().expect("t1"));
    assert_eq!(fw.poll(b).map(|c| c.status), Some(status::CANCELLED));
}

#[test]
fn reacquiring_a_held_queued_lock_is_reported_in_record_mode_and_does_not_hang() {
    let verifier = Arc::new(Verifier::new(Mode::Record));
    let lock: QueuedLock<u32, StdSys> = QueuedLock::new(Arc::clone(&verifier), 0);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lock.with(|_| lock.with(|_| ()));
    }));
    assert!(outcome.is_err(), "a re-entry must fail fast, not spin");
    assert_eq!(verifier.rules(), vec![Rule::QueuedSpinLock]);
    assert_eq!(lock.with(|x| *x), 0, "released on unwind");
}

#[test]
#[should_panic(expected = "QueuedSpinLock")]
fn reacquiring_a_held_queued_lock_fails_a_strict_test_with_the_rule_name() {
    let lock: QueuedLock<u32, StdSys> = QueuedLock::new(Arc::new(Verifier::default()), 0);
    lock.with(|_| lock.with(|_| ()));
}

#[cfg(feature = "shuttle")]
mod shuttle_lock {
    use super::*;
    use ndcm_host::sys::ShuttleSys;

    #[test]
    fn reacquiring_a_held_queued_lock_under_shuttle_is_reported_then_fails_fast() {
        shuttle::check_random(
            || {
                let verifier = Arc::new(Verifier::new(Mode::Record));
                let lock = Arc::new(QueuedLock::<u32, ShuttleSys>::new(Arc::clone(&verifier), 0));
                let other = {
                    let lock = Arc::clone(&lock);
                    shuttle::thread::spawn(move || lock.with(|x| *x += 1))
                };
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    lock.with(|_| lock.with(|_| ()));
                }));
                assert!(outcome.is_err());
                assert_eq!(verifier.rules(), vec![Rule::QueuedSpinLock]);
                other.join().expect("other");
                assert_eq!(lock.with(|x| *x), 1);
            },
            50,
        );
    }

    #[test]
    #[should_panic(expected = "QueuedSpinLock")]
    fn reacquiring_a_held_queued_lock_under_shuttle_fails_a_strict_test() {
        shuttle::check_random(
            || {
                let lock = QueuedLock::<u32, ShuttleSys>::new(Arc::new(Verifier::default()), 0);
                lock.with(|_| lock.with(|_| ()));
            },
            1,
        );
    }
}
