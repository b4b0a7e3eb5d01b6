//! Model checks (shuttle) of the host request model's races: the harness
//! itself must hand each queued request out exactly once, whatever the
//! interleaving of user-mode cancellation, retrieval and purge. The
//! dispatcher-level races are in `e2e_model.rs`.

mod model_common;
use model_common::explore;
use ndcm_host::framework::{Framework, RequestId, status};
use ndcm_host::ndi_requests::HostRequests;
use ndcm_host::sys::ShuttleSys;
use ndcm_host::{Mode, Verifier};
use ndcm_ndi::{NtStatus, PendInfo, PendKind, QueueOwner, Requests};
use shuttle::thread;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    explore(|| {
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
    });
    // Both orders were explored, so the check is not vacuous.
    assert!(EVENT_WON.load(Ordering::Relaxed) > 0);
    assert!(CANCEL_WON.load(Ordering::Relaxed) > 0);
}

#[test]
fn framework_purge_vs_cancel_vs_retrieve_completes_each_once() {
    explore(|| {
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
    });
}

// ---------------------------------------------------------------------------
// Dispatcher-level races: a host device (dispatcher + checked framework) on
// shuttle's primitives, with the scripted CM so the checker controls when a
// CM event is delivered.

mod dispatch {
    use super::explore;
    use ndcm_host::HostPlatform;
    use ndcm_host::client::{Client, node_ipv4};
    use ndcm_host::device::{Device, Io, Pending};
    use ndcm_host::scripted::ScriptedHostCm;
    use ndcm_host::sys::ShuttleSys;
    use ndcm_ndi::NtStatus;
    use ndcm_ndi::QueueOwner;
    use ndcm_ndi::cm_port::{AdapterInfo, CmEvent, IpAddr, IpEndpoint, ReqInfo};
    use shuttle::thread;
    use std::sync::Arc;

    use std::sync::atomic::{AtomicUsize, Ordering};

    type Dev = Device<ScriptedHostCm, ShuttleSys>;

    /// Counts the two outcomes of a race, to show both were explored.
    struct Outcomes([AtomicUsize; 2]);

    impl Outcomes {
        const fn new() -> Self {
            Outcomes([AtomicUsize::new(0), AtomicUsize::new(0)])
        }
        fn saw(&self, second: bool) {
            let _ = self.0[usize::from(second)].fetch_add(1, Ordering::Relaxed);
        }
        #[track_caller]
        fn assert_both(&self) {
            let (a, b) = (
                self.0[0].load(Ordering::Relaxed),
                self.0[1].load(Ordering::Relaxed),
            );
            assert!(a > 0 && b > 0, "only one order was explored: {a} / {b}");
        }
    }
    type Cl = Client<ScriptedHostCm, ShuttleSys>;

    fn device() -> Arc<Dev> {
        Device::new(
            HostPlatform::new_virtual(),
            ScriptedHostCm::new(),
            vec![AdapterInfo::soft_roce(vec![IpAddr::V4(node_ipv4(1))])],
        )
    }

    fn owner(c: &Cl, object: u64) -> QueueOwner {
        QueueOwner {
            instance: c.device().file(c.handle()).expect("open").id(),
            object,
        }
    }

    fn rep() -> CmEvent {
        CmEvent::RepReceived {
            responder_resources: 4,
            initiator_depth: 4,
            private_data: [1; 196],
        }
    }

    fn completed(d: &Dev, p: Pending) -> NtStatus {
        NtStatus(d.poll(p).expect("request completed").status)
    }

    /// An active connection with a pending REQ_CM.
    fn connecting(c: &Cl) -> (u64, u64, Pending) {
        let a = c.adapter();
        let conn = c.connection(a);
        let qp = c.qp(a);
        let p = c
            .connect(conn, qp, node_ipv4(1), node_ipv4(2), 4791, &[])
            .pending()
            .expect("REQ_CM pends");
        (conn, qp, p)
    }

    /// A passive connection in REQ_RCVD (through LISTEN + GET_REQ_CM).
    fn request_received(c: &Cl, adapter: u64, listener: u64, port: u16) -> u64 {
        let d = c.device();
        let conn = c.connection(adapter);
        let get = c.get_request(listener, conn).pending().expect("pends");
        let cid = d.cm().script().incoming();
        let req = ReqInfo {
            local: IpEndpoint {
                addr: IpAddr::V4(node_ipv4(1)),
                port,
            },
            remote: IpEndpoint {
                addr: IpAddr::V4(node_ipv4(2)),
                port: 50_000,
            },
            responder_resources: 4,
            initiator_depth: 4,
            private_data: [0; 56],
        };
        assert!(
            d.cm()
                .inject(owner(c, listener), CmEvent::ReqReceived { cid, req })
        );
        assert_eq!(completed(d, get), NtStatus::SUCCESS);
        conn
    }

    #[test]
    fn cancel_vs_completion_of_the_same_pending_request() {
        static SEEN: Outcomes = Outcomes::new();
        explore(|| {
            let d = device();
            let c = Client::open(&d);
            let (conn, _qp, p) = connecting(&c);
            let who = owner(&c, conn);
            let canceller = {
                let d = Arc::clone(&d);
                thread::spawn(move || {
                    let _ = d.cancel(p);
                })
            };
            let _ = d.cm().inject(who, rep());
            canceller.join().expect("canceller");
            let st = completed(&d, p);
            assert!(
                st == NtStatus::SUCCESS || st == NtStatus::CANCELLED,
                "{:?}",
                st.name()
            );
            assert_eq!(d.framework().completion_attempts(p.0), 1);
            SEEN.saw(st == NtStatus::CANCELLED);
            c.close();
            d.assert_clean();
        });
        SEEN.assert_both();
    }

    #[test]
    fn rep_cm_vs_qp_destroy() {
        static SEEN: Outcomes = Outcomes::new();
        explore(|| {
            let d = device();
            let c = Arc::new(Client::open(&d));
            let a = c.adapter();
            let (l, port) = c.listen(a, 0);
            let conn = request_received(&c, a, l, port);
            let qp = c.qp(a);
            let destroyer = {
                let c = Arc::clone(&c);
                thread::spawn(move || c.destroy_qp(qp))
            };
            let accept = c.accept(conn, qp, &[]);
            let destroyed = destroyer.join().expect("destroyer");
            assert_eq!(destroyed, NtStatus::SUCCESS);
            // Whatever the order, the accept is over once the QP is
            // gone: refused up front, or pended and then aborted (S4).
            SEEN.saw(matches!(accept, Io::Pending(_)));
            let st = match accept {
                Io::Complete(done) => NtStatus(done.status),
                Io::Pending(p) => completed(&d, p),
            };
            assert_ne!(st, NtStatus::SUCCESS, "accept on a destroyed QP");
            let c = Arc::into_inner(c).expect("sole owner");
            c.close();
            d.assert_clean();
        });
        SEEN.assert_both();
    }

    #[test]
    fn close_of_the_instance_vs_a_cm_event_delivering_to_it() {
        static SEEN: Outcomes = Outcomes::new();
        explore(|| {
            let d = device();
            let c = Client::open(&d);
            let (conn, _qp, p) = connecting(&c);
            let who = owner(&c, conn);
            let event = {
                let d = Arc::clone(&d);
                thread::spawn(move || {
                    let _ = d.cm().inject(who, rep());
                })
            };
            c.close();
            event.join().expect("event thread");
            let st = completed(&d, p);
            assert!(
                st == NtStatus::SUCCESS || st == NtStatus::CANCELLED,
                "{:?}",
                st.name()
            );
            assert_eq!(d.framework().completion_attempts(p.0), 1);
            SEEN.saw(st == NtStatus::CANCELLED);
            d.assert_clean();
        });
        SEEN.assert_both();
    }

    #[test]
    fn two_threads_issuing_rep_cm_for_the_same_qp() {
        explore(|| {
            let d = device();
            let c = Arc::new(Client::open(&d));
            let a = c.adapter();
            let (l, port) = c.listen(a, 0);
            let first = request_received(&c, a, l, port);
            let second = request_received(&c, a, l, port);
            let qp = c.qp(a);
            let other = {
                let c = Arc::clone(&c);
                thread::spawn(move || c.accept(second, qp, &[]))
            };
            let mine = c.accept(first, qp, &[]);
            let theirs = other.join().expect("other accept");
            // The QP binds to exactly one connection (S2): one accept
            // pends waiting for the RTU, the other is refused as "already
            // connected" (CONNECTION_ACTIVE, spec/NDI.md §8), even when
            // the winner has already moved the QP past INIT.
            let pended = [&mine, &theirs]
                .iter()
                .filter(|io| matches!(io, Io::Pending(_)))
                .count();
            assert_eq!(pended, 1, "{mine:?} / {theirs:?}");
            for io in [&mine, &theirs] {
                if let Io::Complete(done) = io {
                    let st = NtStatus(done.status);
                    assert_eq!(st, NtStatus::CONNECTION_ACTIVE, "{:?}", st.name());
                }
            }
            let c = Arc::into_inner(c).expect("sole owner");
            c.close();
            for io in [mine, theirs] {
                if let Io::Pending(p) = io {
                    assert_eq!(completed(&d, p), NtStatus::CANCELLED);
                }
            }
            d.assert_clean();
        });
    }
}
