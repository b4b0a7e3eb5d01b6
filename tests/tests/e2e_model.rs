//! Model checks (shuttle) of the four races of the issue with the real CEP
//! manager: two host devices on the in-memory fabric, every lock, thread
//! and IRQL primitive taken from shuttle (`ShuttleSys`), so the checker
//! explores the interleavings of CM event delivery (the world's MAD
//! delivery running on one thread) with user-mode calls on another. Each
//! iteration ends with the full audit: every request completed exactly
//! once, no KMDF rule broken, nothing left alive after timewait.

use ndcm_cm::platform::Duration;
use ndcm_host::client::{Client, ipv4_gid, node_ipv4};
use ndcm_host::device::{Device, Io, Pending};
use ndcm_host::fabric::FaultModel;
use ndcm_host::ndi_port::NdiPort;
use ndcm_host::sys::ShuttleSys;
use ndcm_host::world::World;
use ndcm_host::{Mode, Verifier};
use ndcm_ndi::NtStatus;
use ndcm_ndi::cm_port::{AdapterInfo, IpAddr};
use shuttle::thread;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The CM port under check: the driver's CM adapter (ndcm-ndi's
/// `cm_adapter::ManagerPort`) on the host fabric, every primitive shuttle's.
type Cm = NdiPort<ShuttleSys>;

const ITERATIONS: usize = 300;
/// PCT (probabilistic concurrency testing) finds orderings that need one
/// thread to run far ahead of another — here, a whole MAD delivery before
/// a user call — which uniform random scheduling almost never produces.
const PCT_DEPTH: usize = 3;
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

/// Both outcomes of a race were seen across the iterations.
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
    shuttle::check_pct(
        || {
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
        },
        ITERATIONS,
        PCT_DEPTH,
    );
}

fn cm_close_of_the_instance_vs_the_rep_delivering_to_it(seen: &'static Outcomes) {
    shuttle::check_pct(
        || {
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
        },
        ITERATIONS,
        PCT_DEPTH,
    );
}

fn cm_rep_cm_vs_qp_destroy(seen: &'static Outcomes) {
    shuttle::check_pct(
        || {
            let n = net();
            let (server, sconn, sqp, client, cconn, connect) = request_received(&n);
            let server = Arc::new(server);
            let destroyer = {
                let server = Arc::clone(&server);
                thread::spawn(move || server.destroy_qp(sqp))
            };
            let accept = server.accept(sconn, sqp, &[]);
            assert_eq!(destroyer.join().expect("destroyer"), NtStatus::SUCCESS);
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
        },
        ITERATIONS,
        PCT_DEPTH,
    );
}

fn cm_two_threads_issuing_rep_cm_for_the_same_qp(_seen: &'static Outcomes) {
    shuttle::check_pct(
        || {
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
        },
        ITERATIONS,
        PCT_DEPTH,
    );
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
