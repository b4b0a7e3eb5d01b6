//! Model checks (shuttle) of the host request model's races: the harness
//! itself must hand each queued request out exactly once, whatever the
//! interleaving of user-mode cancellation, retrieval and purge. The
//! dispatcher-level races are in `e2e_model.rs`.

use ndcm_host::framework::{Framework, RequestId, status};
use ndcm_host::ndi_requests::HostRequests;
use ndcm_host::sys::ShuttleSys;
use ndcm_host::{Mode, Verifier};
use ndcm_ndi::{NtStatus, PendInfo, PendKind, QueueOwner, Requests};
use shuttle::thread;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const ITERATIONS: usize = 2_000;

fn setup() -> (Arc<Framework<ShuttleSys>>, HostRequests<ShuttleSys>) {
    let fw = Arc::new(Framework::<ShuttleSys>::new(Arc::new(Verifier::new(
        Mode::Strict,
    ))));
    let reqs = HostRequests::new(Arc::clone(&fw));
    let fw2 = Arc::clone(&fw);
    reqs.set_cancel_entry(Arc::new(move |_owner, request, _info| {
        fw2.complete(request.id(), status::CANCELLED, 0);
    }));
    (fw, reqs)
}

const OWNER: QueueOwner = QueueOwner {
    instance: 1,
    object: 2,
};

fn pend(
    fw: &Framework<ShuttleSys>,
    reqs: &HostRequests<ShuttleSys>,
    q: &<HostRequests<ShuttleSys> as Requests>::Queue,
    kind: PendKind,
) -> RequestId {
    let file = fw.open_file();
    fw.present(file, 1, vec![], 0, |r| {
        reqs.forward(q, reqs.token(r), PendInfo { kind, tag: 0 })
            .expect("forward");
    })
}

#[test]
fn framework_cancel_vs_event_completion_hands_request_out_once() {
    static EVENT_WON: AtomicUsize = AtomicUsize::new(0);
    static CANCEL_WON: AtomicUsize = AtomicUsize::new(0);
    shuttle::check_random(
        || {
            let (fw, reqs) = setup();
            let q = reqs.create_queue(OWNER).expect("queue");
            let r = pend(&fw, &reqs, &q, PendKind::RepCm);
            let canceller = {
                let fw = Arc::clone(&fw);
                thread::spawn(move || fw.cancel(r))
            };
            // The CM event's side: retrieve by kind, complete after.
            let event_won = match reqs.retrieve(&q, PendKind::RepCm) {
                Some((req, _)) => {
                    reqs.complete(req, NtStatus::SUCCESS, 0);
                    true
                }
                None => false,
            };
            let cancel_ran = canceller.join().expect("canceller");
            assert_eq!(event_won, !cancel_ran, "exactly one side got it");
            let counter = if event_won { &EVENT_WON } else { &CANCEL_WON };
            let _ = counter.fetch_add(1, Ordering::Relaxed);
            let c = fw.poll(r).expect("completed");
            let want = if event_won {
                status::SUCCESS
            } else {
                status::CANCELLED
            };
            assert_eq!(c.status, want);
            assert_eq!(fw.completion_attempts(r), 1);
            reqs.delete_queue(q);
            fw.assert_quiescent();
        },
        ITERATIONS,
    );
    // Both orders were explored, so the check is not vacuous.
    assert!(EVENT_WON.load(Ordering::Relaxed) > 0);
    assert!(CANCEL_WON.load(Ordering::Relaxed) > 0);
}

#[test]
fn framework_purge_vs_cancel_vs_retrieve_completes_each_once() {
    shuttle::check_random(
        || {
            let (fw, reqs) = setup();
            let q = Arc::new(reqs.create_queue(OWNER).expect("queue"));
            let a = pend(&fw, &reqs, &q, PendKind::NotifyDreq);
            let b = pend(&fw, &reqs, &q, PendKind::DreqCm);
            let canceller = {
                let fw = Arc::clone(&fw);
                thread::spawn(move || {
                    let _ = fw.cancel(a);
                    let _ = fw.cancel(b);
                })
            };
            let retriever = {
                let reqs = reqs.clone();
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    if let Some((r, _)) = reqs.retrieve_any(&q) {
                        reqs.complete(r, NtStatus::SUCCESS, 0);
                    }
                })
            };
            fw.purge_queue(q.id());
            canceller.join().expect("canceller");
            retriever.join().expect("retriever");
            for r in [a, b] {
                assert_eq!(fw.completion_attempts(r), 1, "{r:?}");
            }
            fw.assert_quiescent();
        },
        ITERATIONS,
    );
}
