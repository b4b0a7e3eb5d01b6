//! The dispatcher on the real CEP manager (`ndcm_cm::CepManager` through
//! `ManagerPort`): two nodes joined by an in-test MAD pump, driven only by
//! IOCTLs, CM MADs and timers.

mod common;
use common::*;
use ndcm_cm::platform::{Duration, Platform, TestPlatform};
use ndcm_cm::{CepManager, MadAddress, ManagerConfig};
use ndcm_ndi::abi::*;
use ndcm_ndi::cm_adapter::ManagerPort;
use ndcm_ndi::cm_port::{AdapterInfo, IpAddr};
use ndcm_ndi::testing::{QueueRequests, TestRequest};
use ndcm_ndi::{Dispatched, File, Ndi};
use ndcm_wire::Gid;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

type RealNdi = Ndi<TestPlatform, ManagerPort<TestPlatform>, QueueRequests>;
type RealFile = Arc<File<TestPlatform, QueueRequests>>;

struct Node {
    ndi: Arc<RealNdi>,
    gid: Gid,
}

struct Net {
    nodes: Vec<Node>,
    wire: Arc<Mutex<VecDeque<(usize, ndcm_cm::Outgoing)>>>,
    next: std::cell::Cell<u64>,
}

fn node(
    ip: [u8; 4],
    index: usize,
    wire: &Arc<Mutex<VecDeque<(usize, ndcm_cm::Outgoing)>>>,
) -> Node {
    let manager = CepManager::new(TestPlatform::new(), ManagerConfig::default());
    let port = ManagerPort::new(manager, 1);
    let adapter = AdapterInfo {
        addresses: vec![IpAddr::V4(ip)],
        ..adapter_info()
    };
    let ndi = Arc::new(Ndi::new(
        TestPlatform::new(),
        port,
        QueueRequests::new(),
        vec![adapter],
    ));
    let weak = Arc::downgrade(&ndi);
    ndi.cm().bind_events(Arc::new(move |o, e| {
        if let Some(n) = weak.upgrade() {
            n.on_cm_event(o, e);
        }
    }));
    let w = wire.clone();
    ndi.cm().bind_mads(Arc::new(move |s| {
        w.lock().unwrap().push_back((index, s.clone()));
        true
    }));
    Node {
        ndi,
        gid: Gid::from_ipv4_octets(ip),
    }
}

impl Net {
    fn new() -> Net {
        let wire = Arc::new(Mutex::new(VecDeque::new()));
        let nodes = vec![node(LOCAL4, 0, &wire), node(REMOTE4, 1, &wire)];
        Net {
            nodes,
            wire,
            next: std::cell::Cell::new(1),
        }
    }

    /// Delivers MADs until the wire is empty; returns how many.
    fn pump(&self) -> usize {
        let mut n = 0;
        loop {
            let next = self.wire.lock().unwrap().pop_front();
            let Some((from, out)) = next else {
                return n;
            };
            n += 1;
            let to = usize::from(from == 0);
            let addr = MadAddress {
                gid: self.nodes[from].gid,
                port: 1,
            };
            self.nodes[to].ndi.cm().receive(addr, &out.mad);
        }
    }

    /// Moves both clocks forward and fires due timers; what they send stays
    /// on the wire.
    fn advance(&self, by: Duration) {
        for n in &self.nodes {
            n.ndi.cm().manager().platform().advance(by);
            n.ndi.platform().advance(by);
            let now = n.ndi.cm().manager().platform().now();
            n.ndi.cm().fire_timers(now);
        }
    }

    fn call(
        &self,
        n: usize,
        f: &RealFile,
        op: Ioctl,
        input: &[u8],
        out: usize,
    ) -> (u64, Dispatched) {
        let id = self.next.get();
        self.next.set(id + 1);
        let d = self.nodes[n]
            .ndi
            .dispatch(f, op.code(), input, out, TestRequest::new(id, out));
        (id, d)
    }

    fn ok(&self, n: usize, f: &RealFile, op: Ioctl, input: &[u8], out: usize) -> Vec<u8> {
        let (id, d) = self.call(n, f, op, input, out);
        assert!(
            matches!(
                d,
                Dispatched::Complete {
                    status: NtStatus::SUCCESS,
                    ..
                }
            ),
            "{op:?}: {d:?}"
        );
        self.nodes[n].ndi.requests().completion(id).unwrap().output
    }

    fn pend(&self, n: usize, f: &RealFile, op: Ioctl, input: &[u8], out: usize) -> u64 {
        let (id, d) = self.call(n, f, op, input, out);
        assert_eq!(d, Dispatched::Pending, "{op:?}");
        id
    }

    fn status_of(&self, n: usize, id: u64) -> Option<NtStatus> {
        self.nodes[n]
            .ndi
            .requests()
            .completion(id)
            .map(|c| c.status)
    }

    fn setup(&self, n: usize, f: &RealFile) -> (u64, u64, u64) {
        let i = NdcmOpenAdapterIn {
            header: hdr(),
            adapter_index: 0,
            reserved: 0,
        };
        let a = NdcmOpenAdapterOut::read(&self.ok(n, f, Ioctl::OpenAdapter, &i.to_bytes(), 24), 0)
            .unwrap()
            .adapter;
        let qp = NdcmCreateQpOut::read(
            &self.ok(n, f, Ioctl::CreateQp, &create_qp_struct(a).to_bytes(), 16),
            0,
        )
        .unwrap()
        .qp;
        self.ok(n, f, Ioctl::ModifyQp, &modify_in(qp, NDCM_QP_STATE_INIT), 8);
        let c = NdcmHandleOut::read(&self.ok(n, f, Ioctl::CreateCep, &handle_in(a), 8), 0)
            .unwrap()
            .handle;
        (a, qp, c)
    }

    fn assert_clean(&self) {
        for n in &self.nodes {
            assert_eq!(n.ndi.requests().live(), (0, 0));
            assert_eq!(n.ndi.stats().ports, 0);
        }
    }
}

fn connect_input(conn: u64, qp: u64, port: u16) -> Vec<u8> {
    let mut s = req_struct(conn, qp, 8);
    s.remote = v4(REMOTE4, port);
    with_tail(&s.to_bytes(), 8)
}

#[test]
fn connect_accept_complete_disconnect_over_the_real_cm() {
    let net = Net::new();
    let fa = net.nodes[0].ndi.open();
    let fb = net.nodes[1].ndi.open();
    let (_aa, qa, ca) = net.setup(0, &fa);
    let (ab, qb, cb) = net.setup(1, &fb);
    let l = NdcmListenOut::read(
        &net.ok(
            1,
            &fb,
            Ioctl::ListenCm,
            &listen_struct(ab, 7471).to_bytes(),
            16,
        ),
        0,
    )
    .unwrap()
    .listener;
    let get = net.pend(1, &fb, Ioctl::GetReqCm, &get_req_in(l, cb), 0);
    let connect = net.pend(0, &fa, Ioctl::ReqCm, &connect_input(ca, qa, 7471), 0);
    assert!(net.pump() > 0, "a REQ went out");
    assert_eq!(
        net.status_of(1, get),
        Some(NtStatus::SUCCESS),
        "REQ reached the listener"
    );
    // The passive side sees the active side's consumer private data.
    let pd = net.ok(1, &fb, Ioctl::CepGetPdata, &handle_in(cb), 16 + 56);
    assert_eq!(&pd[16..24], &(0..8).collect::<Vec<u8>>()[..]);
    let accept = net.pend(1, &fb, Ioctl::RepCm, &rep_in(cb, qb, 5), 0);
    net.pump();
    assert_eq!(
        net.status_of(0, connect),
        Some(NtStatus::SUCCESS),
        "REP completes Connect"
    );
    assert_eq!(net.status_of(1, accept), None, "Accept waits for the RTU");
    net.ok(0, &fa, Ioctl::RtuCm, &handle_in(ca), 0);
    net.pump();
    assert_eq!(
        net.status_of(1, accept),
        Some(NtStatus::SUCCESS),
        "RTU completes Accept"
    );
    // Peer-side NotifyDisconnect, then A disconnects.
    let notify = net.pend(1, &fb, Ioctl::NotifyDreq, &handle_in(cb), 0);
    let disc = net.pend(0, &fa, Ioctl::DreqCm, &handle_in(ca), 0);
    net.pump();
    assert_eq!(
        net.status_of(1, notify),
        Some(NtStatus::SUCCESS),
        "DREQ completes NotifyDisconnect"
    );
    net.ok(1, &fb, Ioctl::DreqCm, &handle_in(cb), 0);
    net.pump();
    assert_eq!(
        net.status_of(0, disc),
        Some(NtStatus::SUCCESS),
        "DREP completes Disconnect"
    );
    net.nodes[0].ndi.close(&fa);
    net.nodes[1].ndi.close(&fb);
    net.pump();
    net.assert_clean();
}

#[test]
fn connect_to_no_listener_is_refused_and_to_nobody_times_out() {
    let net = Net::new();
    let fa = net.nodes[0].ndi.open();
    let (a, qa, ca) = net.setup(0, &fa);
    let refused = net.pend(0, &fa, Ioctl::ReqCm, &connect_input(ca, qa, 9999), 0);
    net.pump();
    assert_eq!(
        net.status_of(0, refused),
        Some(NtStatus::CONNECTION_REFUSED)
    );
    // Drop every MAD: the REQ retries run out.
    let c2 = NdcmHandleOut::read(&net.ok(0, &fa, Ioctl::CreateCep, &handle_in(a), 8), 0)
        .unwrap()
        .handle;
    let timeout = net.pend(0, &fa, Ioctl::ReqCm, &connect_input(c2, qa, 9999), 0);
    for _ in 0..200 {
        net.wire.lock().unwrap().clear();
        net.advance(Duration::from_millis(500));
        if net.status_of(0, timeout).is_some() {
            break;
        }
    }
    assert_eq!(net.status_of(0, timeout), Some(NtStatus::IO_TIMEOUT));
    net.nodes[0].ndi.close(&fa);
    net.assert_clean();
}

#[test]
fn rejected_by_the_peer_and_cancelled_connect_abort_the_exchange() {
    let net = Net::new();
    let fa = net.nodes[0].ndi.open();
    let fb = net.nodes[1].ndi.open();
    let (_aa, qa, ca) = net.setup(0, &fa);
    let (ab, _qb, cb) = net.setup(1, &fb);
    let l = NdcmListenOut::read(
        &net.ok(
            1,
            &fb,
            Ioctl::ListenCm,
            &listen_struct(ab, 7000).to_bytes(),
            16,
        ),
        0,
    )
    .unwrap()
    .listener;
    net.pend(1, &fb, Ioctl::GetReqCm, &get_req_in(l, cb), 0);
    let connect = net.pend(0, &fa, Ioctl::ReqCm, &connect_input(ca, qa, 7000), 0);
    net.pump();
    net.ok(1, &fb, Ioctl::RejCm, &rej_in(cb, 3), 0);
    net.pump();
    assert_eq!(
        net.status_of(0, connect),
        Some(NtStatus::CONNECTION_REFUSED)
    );
    // Cancel of a pending Connect: CANCELLED, and the peer's listener sees
    // the REJ (its backlog entry goes away).
    let (a2, q2, c2) = net.setup(0, &fa);
    let _ = a2;
    let id = net.pend(0, &fa, Ioctl::ReqCm, &connect_input(c2, q2, 7000), 0);
    let (owner, r, info) = net.nodes[0].ndi.requests().cancel(id).unwrap();
    net.nodes[0].ndi.canceled_on_queue(owner, r, info);
    assert_eq!(net.status_of(0, id), Some(NtStatus::CANCELLED));
    net.pump();
    net.nodes[0].ndi.close(&fa);
    net.nodes[1].ndi.close(&fb);
    net.pump();
    net.assert_clean();
}
