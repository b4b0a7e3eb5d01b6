//! Model checks (shuttle) of the races of the issue with the real CEP
//! manager: two host devices on the in-memory fabric, every lock, thread
//! and IRQL primitive taken from shuttle (`ShuttleSys`), so the checker
//! explores the interleavings of CM event delivery (the world's MAD
//! delivery running on one thread) with user-mode calls on another. Each
//! iteration ends with the full audit: every request completed exactly
//! once, no KMDF rule broken, nothing left alive after timewait.
//!
//! The QP's CID slot checked here (S2, S3) is the one the driver runs, the
//! dispatcher's `Qp::slot` under the file lock; `audit` checks after each
//! race that every Bound slot has exactly one connection holding its
//! binding (the QP reference) and no binding outlives its slot.
//!
//! Schedules per check: `schedules()` (10,000 unless
//! `NDCM_MODEL_SCHEDULES` says otherwise; a soak sets it higher), half
//! uniform random (`check_random`), half PCT (`check_pct`, depth 3).

mod model_common;
use model_common::explore;
use ndcm_cm::platform::Duration;
use ndcm_host::client::{Client, ipv4_gid, node_ipv4};
use ndcm_host::device::{Device, Io, Pending};
use ndcm_host::fabric::FaultModel;
use ndcm_host::ndi_port::NdiPort;
use ndcm_host::sys::ShuttleSys;
use ndcm_host::world::World;
use ndcm_host::{Mode, Verifier};
use ndcm_ndi::NtStatus;
use ndcm_ndi::abi::{Ioctl, NDCM_QP_STATE_RESET, NdcmModifyQpIn, NdcmModifyQpOut};
use ndcm_ndi::cm_port::{AdapterInfo, IpAddr};
use ndcm_ndi::object::QpView;
use shuttle::thread;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The CM port under check: the driver's CM adapter (ndcm-ndi's
/// `cm_adapter::ManagerPort`) on the host fabric, every primitive shuttle's.
type Cm = NdiPort<ShuttleSys>;

const CLIENT_IP: [u8; 4] = node_ipv4(1);
const SERVER_IP: [u8; 4] = node_ipv4(2);
const PORT: u16 = 4000;

struct Net {
    world: Arc<World<Cm, ShuttleSys>>,
    client: Arc<Device<Cm, ShuttleSys>>,
    server: Arc<Device<Cm, ShuttleSys>>,
}

fn net() -> Net {
    let mut world: World<Cm, ShuttleSys> = World::new(
        Arc::new(Verifier::new(Mode::Strict)),
        FaultModel::default(),
        0,
    );
    let mut node = |ip: [u8; 4]| {
        let gid = ipv4_gid(ip);
        let adapter = AdapterInfo::soft_roce(vec![IpAddr::V4(ip)]);
        world.add_node(&[gid], vec![adapter], move |p, f| {
            ndcm_host::ndi_port::on_fabric(p, f, vec![gid])
        })
    };
    let client = node(CLIENT_IP);
    let server = node(SERVER_IP);
    Net {
        world: Arc::new(world),
        client,
        server,
    }
}

impl Net {
    fn deliver(&self) {
        self.world.advance(Duration::from_millis(1));
    }
    fn finish(&self) {
        let _ = self.world.run_until_idle(Duration::from_millis(600_000));
        for d in [&self.client, &self.server] {
            assert!(
                d.cm().manager().stats().is_quiescent(),
                "CM not quiescent: {:?}, timers armed: {:?}",
                d.cm().manager().stats(),
                d.cm().next_timer()
            );
        }
        self.world.assert_clean();
    }
}

fn pending(io: Io) -> Pending {
    io.pending().expect("pends")
}

fn status(c: &Client<Cm, ShuttleSys>, p: Pending) -> Option<NtStatus> {
    c.device().poll(p).map(|x| NtStatus(x.status))
}

/// How often each outcome of a race was seen across the schedules.
struct Outcomes<const N: usize = 2>([AtomicUsize; N]);

impl<const N: usize> Outcomes<N> {
    const fn new() -> Self {
        Outcomes([const { AtomicUsize::new(0) }; N])
    }
    fn saw_outcome(&self, i: usize) {
        let _ = self.0[i].fetch_add(1, Ordering::Relaxed);
    }
    fn counts(&self) -> [usize; N] {
        std::array::from_fn(|i| self.0[i].load(Ordering::Relaxed))
    }
    /// Every outcome was seen.
    #[track_caller]
    fn assert_all(&self) {
        let c = self.counts();
        assert!(
            c.iter().all(|&x| x > 0),
            "not every order was explored: {c:?}"
        );
    }
}

impl Outcomes<2> {
    fn saw(&self, second: bool) {
        self.saw_outcome(usize::from(second));
    }
    #[track_caller]
    fn assert_both(&self) {
        self.assert_all();
    }
}

/// The dispatcher's view of `qp` in `c`'s file.
fn view(c: &Client<Cm, ShuttleSys>, qp: u64) -> Option<QpView> {
    let file = c.device().file(c.handle()).expect("open");
    c.device().ndi().qp_view(&file, qp)
}

/// S2/S3 over `c`'s file: the number of bound QPs, or the broken
/// invariant.
#[track_caller]
fn audit(c: &Client<Cm, ShuttleSys>) -> usize {
    let file = c.device().file(c.handle()).expect("open");
    match c.device().ndi().audit_qp_bindings(&file) {
        Ok(n) => n,
        Err(fault) => panic!("QP binding invariant broken: {fault:?}"),
    }
}

/// MODIFY_QP to RESET: refused while the slot is Bound.
fn reset_qp(c: &Client<Cm, ShuttleSys>, qp: u64) -> NtStatus {
    let m = NdcmModifyQpIn {
        header: ndcm_host::client::header(),
        qp,
        state: NDCM_QP_STATE_RESET,
        reserved: 0,
    };
    c.status(Ioctl::ModifyQp, &m.to_bytes(), NdcmModifyQpOut::SIZE)
}

/// Server instance with a listener; client instance with a connect whose
/// REQ the server has received (REQ_RCVD): (server, sconn, sqp, client,
/// cconn, connect).
#[allow(clippy::type_complexity)]
fn request_received(
    n: &Net,
) -> (
    Client<Cm, ShuttleSys>,
    u64,
    u64,
    Client<Cm, ShuttleSys>,
    u64,
    Pending,
) {
    let server = Client::open(&n.server);
    let client = Client::open(&n.client);
    let sa = server.adapter();
    let (listener, _) = server.listen(sa, PORT);
    let sconn = server.connection(sa);
    let sqp = server.qp(sa);
    let get = pending(server.get_request(listener, sconn));
    let ca = client.adapter();
    let cconn = client.connection(ca);
    let cqp = client.qp(ca);
    let connect = pending(client.connect(cconn, cqp, CLIENT_IP, SERVER_IP, PORT, &[]));
    n.deliver();
    assert_eq!(status(&server, get), Some(NtStatus::SUCCESS));
    (server, sconn, sqp, client, cconn, connect)
}

fn cm_cancel_vs_rep_completing_the_same_connect(seen: &'static Outcomes) {
    explore(move || {
        let n = net();
        let (server, sconn, sqp, client, _cconn, connect) = request_received(&n);
        let _accept = server.accept(sconn, sqp, &[]);
        // The REP is in flight; its delivery races the user's cancel.
        let world = Arc::clone(&n.world);
        let deliverer = thread::spawn(move || world.advance(Duration::from_millis(1)));
        let _ = client.device().cancel(connect);
        deliverer.join().expect("deliverer");
        let st = status(&client, connect).expect("completed");
        assert!(
            st == NtStatus::SUCCESS || st == NtStatus::CANCELLED,
            "{:?}",
            st.name()
        );
        assert_eq!(
            client.device().framework().completion_attempts(connect.0),
            1
        );
        seen.saw(st == NtStatus::CANCELLED);
        n.deliver();
        client.close();
        server.close();
        n.finish();
    });
}

fn cm_close_of_the_instance_vs_the_rep_delivering_to_it(seen: &'static Outcomes) {
    explore(move || {
        let n = net();
        let (server, sconn, sqp, client, _cconn, connect) = request_received(&n);
        let accept = pending(server.accept(sconn, sqp, &[]));
        let device = Arc::clone(client.device());
        let world = Arc::clone(&n.world);
        let deliverer = thread::spawn(move || world.advance(Duration::from_millis(1)));
        client.close();
        deliverer.join().expect("deliverer");
        let st = device
            .poll(connect)
            .map(|c| NtStatus(c.status))
            .expect("completed");
        assert!(
            st == NtStatus::SUCCESS || st == NtStatus::CANCELLED,
            "{:?}",
            st.name()
        );
        seen.saw(st == NtStatus::CANCELLED);
        // The client's abort reaches the server: its accept is over.
        let _ = n.world.run_until_idle(Duration::from_millis(600_000));
        assert!(status(&server, accept).is_some(), "accept still pending");
        server.close();
        n.finish();
    });
}

fn cm_rep_cm_vs_qp_destroy(seen: &'static Outcomes) {
    explore(move || {
        let n = net();
        let (server, sconn, sqp, client, cconn, connect) = request_received(&n);
        let server = Arc::new(server);
        let destroyer = {
            let server = Arc::clone(&server);
            thread::spawn(move || server.destroy_qp(sqp))
        };
        let accept = server.accept(sconn, sqp, &[]);
        assert_eq!(destroyer.join().expect("destroyer"), NtStatus::SUCCESS);
        // S3: whichever ran first, no binding outlives the QP.
        assert_eq!(view(&server, sqp), None);
        assert_eq!(audit(&server), 0);
        seen.saw(matches!(accept, Io::Pending(_)));
        let st = match accept {
            Io::Complete(c) => NtStatus(c.status),
            Io::Pending(p) => status(&server, p).expect("destroy completed the accept"),
        };
        assert_ne!(st, NtStatus::SUCCESS);
        let _ = n.world.run_until_idle(Duration::from_millis(600_000));
        // The client's connect is over: refused, timed out, or (when
        // the REP left before the destroy) completed by that REP — and
        // then the REJ that follows makes CompleteConnect fail.
        if status(&client, connect) == Some(NtStatus::SUCCESS) {
            let rtu = client.complete_connect(cconn);
            let rtu = rtu.completed().map(|c| NtStatus(c.status));
            assert_ne!(rtu, Some(NtStatus::SUCCESS), "RTU to a destroyed QP's peer");
        }
        // If the accept was refused before anything was sent, the
        // server still holds the REQ (REQ_RCVD) until it rejects or
        // closes; its close sends the REJ that ends the client's wait.
        Arc::into_inner(server).expect("sole owner").close();
        let _ = n.world.run_until_idle(Duration::from_millis(600_000));
        assert!(status(&client, connect).is_some(), "connect still pending");
        client.close();
        n.finish();
    });
}

fn cm_two_threads_issuing_rep_cm_for_the_same_qp(_seen: &'static Outcomes) {
    explore(move || {
        let n = net();
        let server = Arc::new(Client::open(&n.server));
        let client = Client::open(&n.client);
        let sa = server.adapter();
        let (listener, _) = server.listen(sa, PORT);
        let ca = client.adapter();
        let mut sconns = Vec::new();
        let mut connects = Vec::new();
        for _ in 0..2 {
            let sconn = server.connection(sa);
            let get = pending(server.get_request(listener, sconn));
            let cconn = client.connection(ca);
            let cqp = client.qp(ca);
            connects.push(pending(client.connect(
                cconn,
                cqp,
                CLIENT_IP,
                SERVER_IP,
                PORT,
                &[],
            )));
            n.deliver();
            assert_eq!(status(&server, get), Some(NtStatus::SUCCESS));
            sconns.push(sconn);
        }
        let sqp = server.qp(sa);
        let other = {
            let server = Arc::clone(&server);
            let second = sconns[1];
            thread::spawn(move || server.accept(second, sqp, &[]))
        };
        let mine = server.accept(sconns[0], sqp, &[]);
        let theirs = other.join().expect("other accept");
        let pended = [&mine, &theirs]
            .iter()
            .filter(|io| matches!(io, Io::Pending(_)))
            .count();
        assert_eq!(pended, 1, "the QP bound to exactly one connection (S2)");
        let winner = if matches!(mine, Io::Pending(_)) {
            sconns[0]
        } else {
            sconns[1]
        };
        let v = view(&server, sqp).expect("QP");
        assert!(matches!(v.slot, ndcm_cm::CidSlot::Bound(_)), "{v:?}");
        assert_eq!((v.bound_to, v.bindings), (Some(winner), 1));
        assert_eq!(audit(&server), 1);
        // The loser was refused before anything changed: CONNECTION_ACTIVE.
        let loser = if matches!(mine, Io::Pending(_)) {
            &theirs
        } else {
            &mine
        };
        let loser = match loser {
            Io::Complete(c) => NtStatus(c.status),
            Io::Pending(_) => unreachable!(),
        };
        assert_eq!(loser, NtStatus::CONNECTION_ACTIVE);
        n.deliver();
        // Exactly one client connect got a REP.
        let got_rep = connects
            .iter()
            .filter(|p| status(&client, **p) == Some(NtStatus::SUCCESS))
            .count();
        assert_eq!(got_rep, 1);
        client.close();
        Arc::into_inner(server).expect("sole owner").close();
        n.finish();
    });
}

fn cm_req_cm_vs_qp_destroy(seen: &'static Outcomes) {
    explore(move || {
        let n = net();
        let server = Client::open(&n.server);
        let sa = server.adapter();
        let (_listener, _) = server.listen(sa, PORT);
        let client = Arc::new(Client::open(&n.client));
        let ca = client.adapter();
        let cconn = client.connection(ca);
        let cqp = client.qp(ca);
        let destroyer = {
            let client = Arc::clone(&client);
            thread::spawn(move || client.destroy_qp(cqp))
        };
        let connect = client.connect(cconn, cqp, CLIENT_IP, SERVER_IP, PORT, &[]);
        assert_eq!(destroyer.join().expect("destroyer"), NtStatus::SUCCESS);
        // S2/S3 on the active side: the bind either lost to the destroy
        // (nothing published, nothing sent) or won and the destroy took
        // the binding back with the connection.
        assert_eq!(view(&client, cqp), None);
        assert_eq!(audit(&client), 0);
        let st = match connect {
            Io::Complete(c) => NtStatus(c.status),
            Io::Pending(p) => {
                seen.saw(true);
                status(&client, p).expect("destroy completed the connect")
            }
        };
        if st == NtStatus::INVALID_HANDLE {
            seen.saw(false);
        }
        assert!(
            st == NtStatus::INVALID_HANDLE || st == NtStatus::CANCELLED,
            "{:?}",
            st.name()
        );
        let _ = n.world.run_until_idle(Duration::from_millis(600_000));
        Arc::into_inner(client).expect("sole owner").close();
        server.close();
        n.finish();
    });
}

/// Outcomes of the REP_CM-vs-REJ race: 0 = REP_CM pended before the REJ
/// (the REJ then ends it), 1 = NDI had seen the REJ and refused before
/// binding, 2 = REP_CM bound the QP and the CM refused the REP (the
/// connection had left REQ_RCVD): the failure path after the bind.
fn cm_rep_cm_failing_after_the_bind(seen: &'static Outcomes<3>) {
    explore(move || {
        let n = net();
        let (server, sconn, sqp, client, _cconn, connect) = request_received(&n);
        // The client gives up: its CM sends a REJ, which the server's CM
        // takes (leaving REQ_RCVD) before NDI hears of it.
        let _ = client.device().cancel(connect);
        assert_eq!(status(&client, connect), Some(NtStatus::CANCELLED));
        let world = Arc::clone(&n.world);
        let deliverer = thread::spawn(move || world.advance(Duration::from_millis(1)));
        let accept = server.accept(sconn, sqp, &[]);
        let early = match &accept {
            Io::Complete(c) => Some(NtStatus(c.status)),
            Io::Pending(_) => None,
        };
        let qp_state = view(&server, sqp).expect("QP").state;
        deliverer.join().expect("deliverer");
        let _ = n.world.run_until_idle(Duration::from_millis(600_000));
        // Completed exactly once: inline (the strict verifier refuses a
        // second completion), or later by the REJ.
        let st = match accept {
            Io::Complete(c) => NtStatus(c.status),
            Io::Pending(p) => {
                assert_eq!(server.device().framework().completion_attempts(p.0), 1);
                status(&server, p).expect("the REJ ended the accept")
            }
        };
        assert_ne!(st, NtStatus::SUCCESS);
        match (early, qp_state) {
            (None, _) => seen.saw_outcome(0),
            (Some(st), ndcm_cm::QpState::Init) => {
                assert_eq!(st, NtStatus::CONNECTION_ABORTED);
                seen.saw_outcome(1);
            }
            (Some(st), s) => {
                // Bound, moved to RTR/RTS, then refused: flushed, unbound.
                assert_eq!(st, NtStatus::CONNECTION_ABORTED);
                assert_eq!(s, ndcm_cm::QpState::Err);
                seen.saw_outcome(2);
            }
        }
        // Whatever the order: the slot is Invalid again, the binding (the
        // QP reference) is gone, and the QP can be reset for reuse.
        let v = view(&server, sqp).expect("QP");
        assert_eq!(
            (v.slot, v.bound_to, v.bindings),
            (ndcm_cm::CidSlot::Invalid, None, 0)
        );
        assert_eq!(audit(&server), 0);
        assert_eq!(reset_qp(&server, sqp), NtStatus::SUCCESS);
        client.close();
        server.close();
        n.finish();
    });
}

#[test]
fn cancel_vs_completion_of_the_same_pending_request() {
    static SEEN: Outcomes = Outcomes::new();
    cm_cancel_vs_rep_completing_the_same_connect(&SEEN);
    SEEN.assert_both();
}

#[test]
fn close_of_the_instance_vs_a_cm_event_delivering_to_it() {
    static SEEN: Outcomes = Outcomes::new();
    cm_close_of_the_instance_vs_the_rep_delivering_to_it(&SEEN);
    SEEN.assert_both();
}

// The adapter once applied each output's TimerOps in the order threads
// reached its table, so a Cancel from an earlier output could erase an Arm
// from a later one and leave a CEP in timewait with no timer; the two
// checks above found it and now guard the fix.

#[test]
fn rep_cm_vs_qp_destroy() {
    static SEEN: Outcomes = Outcomes::new();
    cm_rep_cm_vs_qp_destroy(&SEEN);
    SEEN.assert_both();
}

#[test]
fn two_threads_issuing_rep_cm_for_the_same_qp() {
    static SEEN: Outcomes = Outcomes::new();
    cm_two_threads_issuing_rep_cm_for_the_same_qp(&SEEN);
}

#[test]
fn req_cm_vs_qp_destroy() {
    static SEEN: Outcomes = Outcomes::new();
    cm_req_cm_vs_qp_destroy(&SEEN);
    SEEN.assert_both();
}

#[test]
fn rep_cm_failing_after_the_bind() {
    static SEEN: Outcomes<3> = Outcomes::new();
    cm_rep_cm_failing_after_the_bind(&SEEN);
    let [pended, refused_early, refused_after_bind] = SEEN.counts();
    println!(
        "REP_CM vs REJ: {pended} pended, {refused_early} refused before the bind, \
         {refused_after_bind} refused after it"
    );
    assert!(
        refused_after_bind > 0,
        "the failure path after the bind was never reached: {pended} pended, \
         {refused_early} refused before the bind"
    );
}
