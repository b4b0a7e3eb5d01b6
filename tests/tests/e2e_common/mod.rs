//! Two host devices (server 10.0.0.2, client 10.0.0.1) on one fabric with
//! the real CEP manager, and the helpers the e2e tests share.
#![allow(dead_code)]

use ndcm_cm::platform::Duration;
use ndcm_host::client::{Client, ipv4_gid, node_ipv4};
use ndcm_host::device::{Device, Io, Pending};
use ndcm_host::fabric::FaultModel;
use ndcm_host::manager_port::ManagerPort;
use ndcm_host::world::World;
use ndcm_host::{Mode, Verifier};
use ndcm_ndi::NtStatus;
use ndcm_ndi::cm_port::{AdapterInfo, IpAddr};
use std::sync::Arc;

pub type Dev = Device<ManagerPort>;
pub type Cl = Client<ManagerPort>;

pub const CLIENT_IP: [u8; 4] = node_ipv4(1);
pub const SERVER_IP: [u8; 4] = node_ipv4(2);
/// (local, remote) addresses of a client connecting to the server.
pub const SERVER_IP_CLIENT_SIDE: ([u8; 4], [u8; 4]) = (CLIENT_IP, SERVER_IP);

/// How long `settle` lets virtual time run: longer than any CM retry
/// sequence and timewait.
pub const HORIZON: Duration = Duration::from_millis(600_000);

pub fn adapter(ip: [u8; 4]) -> AdapterInfo {
    AdapterInfo {
        addresses: vec![IpAddr::V4(ip)],
        max_inbound_read_limit: 16,
        max_outbound_read_limit: 16,
        max_qp_depth: 1024,
        max_sge: 4,
        max_inline: 64,
    }
}

pub struct Net {
    pub world: World<ManagerPort>,
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
        let node = |world: &mut World<ManagerPort>, ip: [u8; 4]| {
            let gid = ipv4_gid(ip);
            world.add_node(&[gid], vec![adapter(ip)], move |p, f| {
                ManagerPort::new(p, f, vec![gid])
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
                d.cm().stats().is_quiescent(),
                "CM not quiescent: {:?}",
                d.cm().stats()
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
