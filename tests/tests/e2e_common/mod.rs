//! Two host devices (server 10.0.0.2, client 10.0.0.1) on one fabric, each
//! with the real CEP manager behind the driver's CM adapter (`NdiPort`:
//! ndcm-ndi's `cm_adapter::ManagerPort`, its MADs on the in-memory fabric),
//! and the helpers the e2e tests share.
#![allow(dead_code)]

use ndcm_cm::platform::Duration;
use ndcm_host::client::{Client, ipv4_gid, node_ipv4};
use ndcm_host::device::{Device, Io, Pending};
use ndcm_host::fabric::FaultModel;
use ndcm_host::ndi_port::NdiPort;
use ndcm_host::world::World;
use ndcm_host::{Mode, Verifier};
use ndcm_ndi::NtStatus;
use ndcm_ndi::cm_port::{AdapterInfo, IpAddr};
use std::sync::Arc;

/// The CM port under test: the driver's adapter on the host fabric.
pub type Port = NdiPort;
pub type Dev = Device<Port>;
pub type Cl = Client<Port>;

pub const CLIENT_IP: [u8; 4] = node_ipv4(1);
pub const SERVER_IP: [u8; 4] = node_ipv4(2);
/// (local, remote) addresses of a client connecting to the server.
pub const SERVER_IP_CLIENT_SIDE: ([u8; 4], [u8; 4]) = (CLIENT_IP, SERVER_IP);

/// How long `settle` lets virtual time run: longer than any CM retry
/// sequence and timewait.
pub const HORIZON: Duration = Duration::from_millis(600_000);

pub fn adapter(ip: [u8; 4]) -> AdapterInfo {
    AdapterInfo::soft_roce(vec![IpAddr::V4(ip)])
}

pub struct Net {
    pub world: World<Port>,
    pub server: Arc<Dev>,
    pub client: Arc<Dev>,
}

impl Net {
    /// A perfect fabric, strict verifier.
    pub fn new() -> Net {
        Net::with(
            Arc::new(Verifier::new(Mode::Strict)),
            FaultModel::default(),
            0,
        )
    }

    pub fn with(verifier: Arc<Verifier>, model: FaultModel, seed: u64) -> Net {
        let mut world = World::new(verifier, model, seed);
        let node = |world: &mut World<Port>, ip: [u8; 4]| {
            let gid = ipv4_gid(ip);
            world.add_node(&[gid], vec![adapter(ip)], move |p, f| {
                ndcm_host::ndi_port::on_fabric(p, f, vec![gid])
            })
        };
        let client = node(&mut world, CLIENT_IP);
        let server = node(&mut world, SERVER_IP);
        Net {
            world,
            server,
            client,
        }
    }

    /// The CM messages sent so far (needs `world.fabric().record()`), as
    /// (sender IP's last octet, message name).
    pub fn messages(&self) -> Vec<(u8, &'static str)> {
        self.world
            .fabric()
            .take_trace()
            .iter()
            .map(|(_, d)| {
                let name = match ndcm_wire::CmMad::parse(&d.mad[..]).map(|m| m.message) {
                    Ok(ndcm_wire::CmMessage::Req(_)) => "REQ",
                    Ok(ndcm_wire::CmMessage::Rep(_)) => "REP",
                    Ok(ndcm_wire::CmMessage::Rtu(_)) => "RTU",
                    Ok(ndcm_wire::CmMessage::Rej(_)) => "REJ",
                    Ok(ndcm_wire::CmMessage::Dreq(_)) => "DREQ",
                    Ok(ndcm_wire::CmMessage::Drep(_)) => "DREP",
                    Ok(ndcm_wire::CmMessage::Mra(_)) => "MRA",
                    Ok(_) => "other",
                    Err(_) => "malformed",
                };
                (d.src[15], name)
            })
            .collect()
    }

    pub fn server(&self) -> Cl {
        Client::open(&self.server)
    }

    pub fn client(&self) -> Cl {
        Client::open(&self.client)
    }

    /// Delivers what is in flight and what it causes: one millisecond of
    /// virtual time, far below any CM timeout, so no retry fires.
    pub fn deliver(&self) {
        self.world.advance(Duration::from_millis(1));
    }

    /// Runs the world until nothing is left to do (virtual time: every
    /// retry and timewait runs out).
    pub fn settle(&self) {
        let _ = self.world.run_until_idle(HORIZON);
    }

    /// Lets `by` of virtual time pass, performing what falls due.
    pub fn advance(&self, by: Duration) {
        self.world.advance(by);
    }

    pub fn poll(&self, c: &Cl, p: Pending) -> Option<NtStatus> {
        c.device().poll(p).map(|x| NtStatus(x.status))
    }

    /// The status of a request that must have completed.
    #[track_caller]
    pub fn status(&self, c: &Cl, p: Pending) -> NtStatus {
        self.poll(c, p)
            .unwrap_or_else(|| panic!("{p:?} has not completed"))
    }

    /// After every handle is closed: run out timewait, then audit both
    /// devices and the CMs.
    #[track_caller]
    pub fn finish(&self) {
        self.settle();
        self.world.assert_clean();
        for d in [&self.server, &self.client] {
            assert!(
                d.cm().manager().stats().is_quiescent(),
                "CM not quiescent: {:?}",
                d.cm().manager().stats()
            );
        }
    }
}

#[track_caller]
pub fn pending(io: Io) -> Pending {
    match io {
        Io::Pending(p) => p,
        Io::Complete(c) => panic!(
            "expected the request to pend, it completed: {:?}",
            NtStatus(c.status).name()
        ),
    }
}

#[track_caller]
pub fn sync_status(io: Io) -> NtStatus {
    match io {
        Io::Complete(c) => NtStatus(c.status),
        Io::Pending(p) => panic!("expected a synchronous completion, {p:?} pended"),
    }
}

/// The steps of an ND connection, each leaving one kind of request pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// The server's GET_REQ_CM waits for a REQ.
    GetRequest,
    /// The client's REQ_CM waits for the REP (the server holds the REQ).
    Connect,
    /// The server's REP_CM waits for the RTU (the client holds the REP).
    Accept,
    /// Connected; the server's NOTIFY_DREQ waits for a disconnect.
    Connected,
    /// The client's DREQ_CM waits for the DREP (the server holds the DREQ).
    Disconnect,
}

/// A pair of instances driven to a step, with every handle.
pub struct Scenario {
    pub server: Cl,
    pub client: Cl,
    pub listener: u64,
    pub sconn: u64,
    pub sqp: u64,
    pub cconn: u64,
    pub cqp: u64,
    /// The request left pending at this step, and whose it is.
    pub pending: Pending,
    pub pending_on_server: bool,
}

impl Net {
    /// Drives a fresh pair of instances to `step`.
    pub fn drive_to(&self, step: Step) -> Scenario {
        let server = self.server();
        let client = self.client();
        let sa = server.adapter();
        let ca = client.adapter();
        let (listener, port) = server.listen(sa, 6000);
        let sconn = server.connection(sa);
        let sqp = server.qp(sa);
        let cconn = client.connection(ca);
        let cqp = client.qp(ca);
        let get = pending(server.get_request(listener, sconn));
        let mut s = Scenario {
            server,
            client,
            listener,
            sconn,
            sqp,
            cconn,
            cqp,
            pending: get,
            pending_on_server: true,
        };
        if step == Step::GetRequest {
            return s;
        }
        let connect = pending(
            s.client
                .connect(cconn, cqp, CLIENT_IP, SERVER_IP, port, b"req"),
        );
        self.deliver();
        assert_eq!(self.status(&s.server, get), NtStatus::SUCCESS);
        s.pending = connect;
        s.pending_on_server = false;
        if step == Step::Connect {
            return s;
        }
        let accept = pending(s.server.accept(sconn, sqp, b"rep"));
        self.deliver();
        assert_eq!(self.status(&s.client, connect), NtStatus::SUCCESS);
        s.pending = accept;
        s.pending_on_server = true;
        if step == Step::Accept {
            return s;
        }
        assert_eq!(
            sync_status(s.client.complete_connect(cconn)),
            NtStatus::SUCCESS
        );
        self.deliver();
        assert_eq!(self.status(&s.server, accept), NtStatus::SUCCESS);
        let notify = pending(s.server.notify_disconnect(sconn));
        s.pending = notify;
        if step == Step::Connected {
            return s;
        }
        let disconnect = pending(s.client.disconnect(cconn));
        self.deliver();
        assert_eq!(self.status(&s.server, notify), NtStatus::SUCCESS);
        s.pending = disconnect;
        s.pending_on_server = false;
        s
    }

    /// The status of the scenario's pending request, if completed.
    pub fn pending_status(&self, s: &Scenario) -> Option<NtStatus> {
        let owner = if s.pending_on_server {
            &s.server
        } else {
            &s.client
        };
        self.poll(owner, s.pending)
    }
}

pub const ALL_STEPS: [Step; 5] = [
    Step::GetRequest,
    Step::Connect,
    Step::Accept,
    Step::Connected,
    Step::Disconnect,
];
