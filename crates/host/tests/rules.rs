//! Each KMDF/WDM rule the harness enforces, caught by a driver that breaks
//! it on purpose, and a correct driver that breaks none.

use ndcm_cm::platform::{Platform, QueuedSpinLock};
use ndcm_host::framework::{Framework, RequestId, status};
use ndcm_host::{HostPlatform, Irql, Mode, Rule, StdSys, Sys, Verifier};
use std::sync::Arc;
use std::time::Duration;

const IOCTL_WRITE: u32 = 0x0022_2004;
const STATUS_INVALID_PARAMETER: u32 = 0xC000_000D;

fn recording() -> Arc<Framework> {
    Arc::new(Framework::new(Arc::new(Verifier::new(Mode::Record))))
}

/// The Rust echo sample's write path: on a bad length it completes the
/// request with an error, then falls through (no `return`) and completes it
/// again on the success path.
fn echo_write_with_the_sample_bug(fw: &Framework, request: RequestId) {
    let input = fw.input(request);
    if input.len() > 16 {
        fw.complete(request, STATUS_INVALID_PARAMETER, 0);
        // missing `return;` here, as in the sample
    }
    fw.complete(request, status::SUCCESS, 0);
}

#[test]
fn echo_sample_error_path_double_completion_is_caught() {
    let fw = recording();
    let file = fw.open_file();
    // The success path is fine...
    let ok = fw.present(file, IOCTL_WRITE, vec![1; 8], 0, |r| {
        echo_write_with_the_sample_bug(&fw, r)
    });
    assert_eq!(fw.poll(ok).map(|c| c.status), Some(status::SUCCESS));
    fw.verifier().assert_clean();
    // ...the error path completes twice.
    let bad = fw.present(file, IOCTL_WRITE, vec![1; 64], 0, |r| {
        echo_write_with_the_sample_bug(&fw, r)
    });
    assert_eq!(fw.verifier().rules(), vec![Rule::DoubleCompletion]);
    // User mode saw the first completion, not the second.
    assert_eq!(
        fw.poll(bad).map(|c| c.status),
        Some(STATUS_INVALID_PARAMETER)
    );
    assert_eq!(fw.completion_attempts(bad), 2);
}

#[test]
#[should_panic(expected = "DoubleCompletion")]
fn strict_verifier_fails_the_test_with_the_rule_name() {
    let fw: Framework = Framework::new(Arc::new(Verifier::default()));
    let file = fw.open_file();
    let _ = fw.present(file, IOCTL_WRITE, vec![0; 64], 0, |r| {
        echo_write_with_the_sample_bug(&fw, r)
    });
}

#[test]
fn dispatch_returning_with_request_unhandled_is_request_completed_local() {
    let fw = recording();
    let file = fw.open_file();
    let r = fw.present(file, IOCTL_WRITE, vec![], 0, |_| {});
    assert_eq!(fw.verifier().rules(), vec![Rule::RequestCompletedLocal]);
    assert_eq!(fw.outstanding(), vec![r]);
}

#[test]
fn touching_a_request_after_completion_is_invalid_req_access() {
    let fw = recording();
    let file = fw.open_file();
    let _ = fw.present(file, IOCTL_WRITE, vec![5; 4], 8, |r| {
        fw.complete(r, status::SUCCESS, 0);
        let stale = fw.input(r);
        assert!(stale.is_empty(), "buffers are gone after completion");
        assert!(fw.with_output(r, |b| b.len()).is_none());
    });
    assert_eq!(
        fw.verifier().rules(),
        vec![Rule::InvalidReqAccess, Rule::InvalidReqAccess]
    );
}

#[test]
fn touching_a_queued_request_is_invalid_req_access() {
    let fw = recording();
    let file = fw.open_file();
    let q = fw.create_queue(None);
    let r = fw.present(file, IOCTL_WRITE, vec![], 0, |r| {
        fw.forward_to_queue(r, q, [0; 2]).expect("forward");
    });
    // The framework owns it while queued.
    fw.complete(r, status::SUCCESS, 0);
    assert_eq!(fw.verifier().rules(), vec![Rule::InvalidReqAccess]);
    fw.purge_queue(q);
    assert_eq!(fw.poll(r).map(|c| c.status), Some(status::CANCELLED));
}

#[test]
fn completing_a_cancelable_request_without_unmarking_is_req_not_canceled_local() {
    let fw = recording();
    let file = fw.open_file();
    let r = fw.present(file, IOCTL_WRITE, vec![], 0, |r| {
        let fw2 = Arc::clone(&fw);
        fw.mark_cancelable(r, Arc::new(move |r| fw2.complete(r, status::CANCELLED, 0)))
            .expect("mark");
    });
    fw.complete(r, status::SUCCESS, 0);
    assert_eq!(fw.verifier().rules(), vec![Rule::ReqNotCanceledLocal]);
}

#[test]
fn completing_after_unmark_returned_cancelled_is_complete_canceled_req() {
    let fw = recording();
    let file = fw.open_file();
    // A cancel routine that defers completion (it keeps the request).
    let r = fw.present(file, IOCTL_WRITE, vec![], 0, |r| {
        fw.mark_cancelable(r, Arc::new(|_| {})).expect("mark");
    });
    assert!(fw.cancel(r));
    assert_eq!(fw.unmark_cancelable(r), Err(status::CANCELLED));
    // The request belongs to the cancel routine now.
    fw.complete(r, status::SUCCESS, 0);
    assert_eq!(fw.verifier().rules(), vec![Rule::CompleteCanceledReq]);
}

#[test]
fn unmark_then_complete_is_allowed() {
    let fw = recording();
    let file = fw.open_file();
    let r = fw.present(file, IOCTL_WRITE, vec![], 4, |r| {
        fw.mark_cancelable(r, Arc::new(|_| {})).expect("mark");
    });
    assert_eq!(fw.unmark_cancelable(r), Ok(()));
    let _ = fw.with_output(r, |b| b.copy_from_slice(&[1, 2, 3, 4]));
    fw.complete(r, status::SUCCESS, 2);
    assert_eq!(fw.poll(r).map(|c| c.output), Some(vec![1, 2]));
    fw.close_file(file, || {});
    fw.assert_quiescent();
}

#[test]
fn cancel_routine_completes_the_cancelled_request() {
    let fw = recording();
    let file = fw.open_file();
    let r = fw.present(file, IOCTL_WRITE, vec![], 0, |r| {
        let fw2 = Arc::clone(&fw);
        fw.mark_cancelable(r, Arc::new(move |r| fw2.complete(r, status::CANCELLED, 0)))
            .expect("mark");
    });
    assert!(fw.cancel(r));
    assert_eq!(fw.poll(r).map(|c| c.status), Some(status::CANCELLED));
    // A late unmark by the driver is answered CANCELLED, not a violation.
    assert_eq!(fw.unmark_cancelable(r), Err(status::CANCELLED));
    fw.close_file(file, || {});
    fw.assert_quiescent();
}

#[test]
fn marking_cancelable_twice_is_mark_canc_on_canc_req_local() {
    let fw = recording();
    let file = fw.open_file();
    let _ = fw.present(file, IOCTL_WRITE, vec![], 0, |r| {
        fw.mark_cancelable(r, Arc::new(|_| {})).expect("mark");
        let _ = fw.mark_cancelable(r, Arc::new(|_| {}));
    });
    assert_eq!(fw.verifier().rules(), vec![Rule::MarkCancOnCancReqLocal]);
}

#[test]
fn forwarding_a_cancelable_request_is_req_mark_cancelable_send() {
    let fw = recording();
    let file = fw.open_file();
    let q = fw.create_queue(None);
    let _ = fw.present(file, IOCTL_WRITE, vec![], 0, |r| {
        fw.mark_cancelable(r, Arc::new(|_| {})).expect("mark");
        assert!(fw.forward_to_queue(r, q, [0; 2]).is_err());
    });
    assert_eq!(fw.verifier().rules(), vec![Rule::ReqMarkCancelableSend]);
}

#[test]
fn closing_a_file_with_a_pending_request_is_request_completed() {
    let fw = recording();
    let file = fw.open_file();
    let q = fw.create_queue(None);
    let _ = fw.present(file, IOCTL_WRITE, vec![], 0, |r| {
        fw.forward_to_queue(r, q, [0; 2]).expect("forward");
    });
    // A cleanup that forgets the queue.
    fw.close_file(file, || {});
    assert_eq!(fw.verifier().rules(), vec![Rule::RequestCompleted]);
}

#[test]
fn completing_above_dispatch_level_is_kmdf_irql() {
    let fw = recording();
    let file = fw.open_file();
    let _ = fw.present(file, IOCTL_WRITE, vec![], 0, |r| {
        StdSys::with_thread(|t| t.irql = Irql(3));
        fw.complete(r, status::SUCCESS, 0);
        StdSys::with_thread(|t| t.irql = Irql::PASSIVE);
    });
    assert_eq!(fw.verifier().rules(), vec![Rule::KmdfIrql]);
}

#[test]
fn information_larger_than_the_output_buffer_is_caught() {
    let fw = recording();
    let file = fw.open_file();
    let r = fw.present(file, IOCTL_WRITE, vec![], 4, |r| {
        fw.complete(r, status::SUCCESS, 100);
    });
    assert_eq!(fw.verifier().rules(), vec![Rule::InformationOverrun]);
    assert_eq!(fw.poll(r).map(|c| c.information), Some(4));
}

#[test]
fn reacquiring_a_platform_lock_in_a_dispatch_routine_is_queued_spin_lock() {
    let verifier = Arc::new(Verifier::new(Mode::Record));
    let clock = Arc::new(ndcm_host::clock::Clock::new_virtual());
    let platform: HostPlatform = HostPlatform::new(Arc::clone(&verifier), clock);
    let fw: Framework = Framework::new(Arc::clone(&verifier));
    let lock = platform.new_lock(0u32);
    let file = fw.open_file();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fw.present(file, IOCTL_WRITE, vec![], 0, |r| {
            lock.with(|_| {
                fw.complete(r, status::SUCCESS, 0);
                lock.with(|_| ());
            });
        })
    }));
    assert!(outcome.is_err());
    assert_eq!(verifier.rules(), vec![Rule::QueuedSpinLock]);
}

#[test]
fn cancel_on_queue_hands_the_request_to_the_callback_once() {
    let fw = recording();
    let file = fw.open_file();
    let fw2 = Arc::clone(&fw);
    let q = fw.create_queue(Some(Arc::new(move |_q, r| {
        fw2.complete(r, status::CANCELLED, 0)
    })));
    let r = fw.present(file, IOCTL_WRITE, vec![], 0, |r| {
        fw.forward_to_queue(r, q, [7, 9]).expect("forward");
    });
    assert!(fw.cancel(r));
    assert!(
        !fw.cancel(r),
        "a completed request cannot be cancelled again"
    );
    assert_eq!(fw.retrieve_next(q), None);
    assert_eq!(fw.poll(r).map(|c| c.status), Some(status::CANCELLED));
    fw.delete_queue(q);
    fw.close_file(file, || {});
    fw.assert_quiescent();
    assert_eq!(fw.live_queues(), 0);
}

#[test]
fn a_request_cancelled_before_forwarding_is_accepted_and_cancelled_by_the_queue() {
    // KMDF (`FxIoQueue::QueueRequestFromForward`): the forward of an
    // already-cancelled request succeeds; the queue (here without
    // EvtIoCanceledOnQueue) completes it with STATUS_CANCELLED itself
    // (`CancelForQueue`), before the forward returns.
    let fw = recording();
    let file = fw.open_file();
    let q = fw.create_queue(None);
    let fw2 = Arc::clone(&fw);
    // Cancel arrives while the dispatch routine runs (from another thread).
    let _ = fw.present(file, IOCTL_WRITE, vec![], 0, |r| {
        let fw3 = Arc::clone(&fw2);
        assert!(
            !std::thread::spawn(move || fw3.cancel(r))
                .join()
                .expect("cancel thread"),
            "nothing to call yet: the cancel is only recorded"
        );
        assert_eq!(fw.forward_to_queue(r, q, [0; 2]), Ok(()));
        assert_eq!(fw.poll(r).map(|c| c.status), Some(status::CANCELLED));
    });
    assert_eq!(fw.queue_len(q), 0);
    fw.delete_queue(q);
    fw.close_file(file, || {});
    fw.assert_quiescent();
}

#[test]
fn retrieval_by_context_returns_the_oldest_match() {
    let fw = recording();
    let file = fw.open_file();
    let q = fw.create_queue(None);
    let mut ids = Vec::new();
    for kind in [1u64, 2, 1] {
        ids.push(fw.present(file, IOCTL_WRITE, vec![], 0, |r| {
            fw.forward_to_queue(r, q, [kind, 0]).expect("forward");
        }));
    }
    let (got, ctx) = fw.retrieve_first(q, |v| v.context[0] == 1).expect("one");
    assert_eq!((got, ctx), (ids[0], [1, 0]));
    fw.complete(got, status::SUCCESS, 0);
    let (got, _) = fw.retrieve_first(q, |v| v.context[0] == 1).expect("two");
    assert_eq!(got, ids[2]);
    fw.complete(got, status::SUCCESS, 0);
    assert_eq!(fw.queue_len(q), 1);
    fw.delete_queue(q);
    fw.close_file(file, || {});
    fw.assert_quiescent();
}

#[test]
fn retrieval_and_cancellation_race_completes_each_request_once() {
    let fw: Arc<Framework> = Arc::new(Framework::new(Arc::new(Verifier::default())));
    let file = fw.open_file();
    let fw2 = Arc::clone(&fw);
    let q = fw.create_queue(Some(Arc::new(move |_q, r| {
        fw2.complete(r, status::CANCELLED, 0)
    })));
    for _ in 0..300 {
        let r = fw.present(file, IOCTL_WRITE, vec![], 0, |r| {
            fw.forward_to_queue(r, q, [0; 2]).expect("forward");
        });
        let canceller = {
            let fw = Arc::clone(&fw);
            std::thread::spawn(move || fw.cancel(r))
        };
        if let Some((got, _)) = fw.retrieve_next(q) {
            fw.complete(got, status::SUCCESS, 0);
        }
        let _ = canceller.join().expect("cancel thread");
        let c = fw.wait(r, Duration::from_secs(5)).expect("completed");
        assert!(c.status == status::SUCCESS || c.status == status::CANCELLED);
        assert_eq!(fw.completion_attempts(r), 1);
    }
    fw.delete_queue(q);
    fw.close_file(file, || {});
    fw.assert_quiescent();
}

#[test]
fn a_forwarded_request_taken_by_another_thread_before_dispatch_returns_is_not_flagged() {
    // Forwarded, then retrieved and completed elsewhere while the dispatch
    // routine is still running: RequestCompletedLocal is satisfied by the
    // forward, whatever the request's state when the routine returns.
    let fw: Arc<Framework> = Arc::new(Framework::new(Arc::new(Verifier::default())));
    let file = fw.open_file();
    let q = fw.create_queue(None);
    let r = fw.present(file, IOCTL_WRITE, vec![], 0, |r| {
        fw.forward_to_queue(r, q, [0; 2]).expect("forward");
        let fw2 = Arc::clone(&fw);
        std::thread::spawn(move || {
            let (got, _) = fw2.retrieve_next(q).expect("queued");
            fw2.complete(got, status::SUCCESS, 0);
        })
        .join()
        .expect("event thread");
    });
    assert_eq!(fw.poll(r).map(|c| c.status), Some(status::SUCCESS));
    fw.delete_queue(q);
    fw.close_file(file, || {});
    fw.assert_quiescent();
}
