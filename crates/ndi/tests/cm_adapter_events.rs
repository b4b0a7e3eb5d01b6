//! The CM events ndcm-ndi's CM adapter (`cm_adapter::ManagerPort`) hands
//! to the dispatcher, checked at the adapter's event sink: two of them on
//! their own CEP managers, MADs carried between them by the test, no
//! dispatcher. What an event means to NDI (spec/NDI.md §5.10, §6) depends
//! on telling these apart, so each is asserted exactly.

use ndcm_cm::platform::{Platform, TestPlatform};
use ndcm_cm::{CepManager, Cid, MadAddress, ManagerConfig, Outgoing, Output, Owner};
use ndcm_ndi::QueueOwner;
use ndcm_ndi::cm_adapter::{Deferred, ManagerPort};
use ndcm_ndi::cm_port::{
    AcceptSpec, CmEvent, CmPort, ConnectSpec, IpAddr, IpEndpoint, ListenSpec, PortSpace,
};
use ndcm_wire::Gid;
use std::sync::{Arc, Mutex};

const SERVER_IP: [u8; 4] = [10, 0, 0, 2];
const CLIENT_IP: [u8; 4] = [10, 0, 0, 1];
const PORT: u16 = 5000;
const SERVER_FILE: u64 = 1;
const CLIENT_FILE: u64 = 2;

type Events = Arc<Mutex<Vec<(QueueOwner, CmEvent)>>>;
type Wire = Arc<Mutex<Vec<Outgoing>>>;

struct Side {
    port: ManagerPort<TestPlatform>,
    events: Events,
    wire: Wire,
    ip: [u8; 4],
}

fn side(ip: [u8; 4]) -> Side {
    let port = ManagerPort::new(
        CepManager::new(TestPlatform::new(), ManagerConfig::default()),
        1,
    );
    let events: Events = Arc::default();
    let wire: Wire = Arc::default();
    let e = Arc::clone(&events);
    port.bind_events(Arc::new(move |o, ev| e.lock().unwrap().push((o, ev))));
    let w = Arc::clone(&wire);
    port.bind_mads(Arc::new(move |o: &Outgoing| {
        w.lock().unwrap().push(o.clone());
        true
    }));
    Side {
        port,
        events,
        wire,
        ip,
    }
}

impl Side {
    /// Hands every MAD this side sent to `to`.
    fn send_to(&self, to: &Side) {
        let mads: Vec<Outgoing> = std::mem::take(&mut *self.wire.lock().unwrap());
        for m in mads {
            let from = MadAddress {
                gid: Gid::from_ipv4_octets(self.ip),
                port: 1,
            };
            to.port.receive(from, &m.mad);
        }
    }

    fn take_events(&self) -> Vec<(QueueOwner, CmEvent)> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

fn owner(instance: u64, object: u64) -> QueueOwner {
    QueueOwner { instance, object }
}

/// A connection up to the server's REP (server in REP_SENT, the client
/// holding the REP and not yet answering it): (server, client, the
/// server's connection, its owner, the client's connection).
fn rep_sent() -> (Side, Side, Cid, QueueOwner, Cid) {
    let server = side(SERVER_IP);
    let client = side(CLIENT_IP);
    let listener = owner(SERVER_FILE, 0x10);
    let lcid = server.port.create(listener).unwrap();
    let mut fx = Deferred::default();
    let listen = ListenSpec {
        adapter: 0,
        space: PortSpace::Tcp,
        port: PORT,
        ip: None,
    };
    server
        .port
        .listen(SERVER_FILE, lcid, &listen, &mut fx)
        .unwrap();
    server.port.perform(fx);

    let connector = owner(CLIENT_FILE, 0x20);
    let ccid = client.port.create(connector).unwrap();
    let mut fx = Deferred::default();
    let connect = ConnectSpec {
        adapter: 0,
        space: PortSpace::Tcp,
        local: IpEndpoint {
            addr: IpAddr::V4(CLIENT_IP),
            port: 40000,
        },
        remote: IpEndpoint {
            addr: IpAddr::V4(SERVER_IP),
            port: PORT,
        },
        qpn: 0x101,
        responder_resources: 4,
        initiator_depth: 4,
        private_data: b"req",
    };
    client
        .port
        .connect(CLIENT_FILE, ccid, &connect, &mut fx)
        .unwrap();
    client.port.perform(fx);
    client.send_to(&server);

    let got = server.take_events();
    let [(to, CmEvent::ReqReceived { cid: scid, .. })] = got[..] else {
        panic!("expected one REQ on the listener, got {got:?}");
    };
    assert_eq!(to, listener);
    let sowner = owner(SERVER_FILE, 0x30);
    server.port.adopt(scid, sowner).unwrap();
    let mut fx = Deferred::default();
    let accept = AcceptSpec {
        qpn: 0x202,
        responder_resources: 4,
        initiator_depth: 4,
        private_data: b"rep",
    };
    server
        .port
        .accept(SERVER_FILE, scid, &accept, &mut fx)
        .unwrap();
    server.port.perform(fx);
    server.send_to(&client);
    let got = client.take_events();
    assert!(
        matches!(got[..], [(o, CmEvent::RepReceived { .. })] if o == connector),
        "{got:?}"
    );
    (server, client, scid, sowner, ccid)
}

#[test]
fn an_rtu_from_the_peer_is_rtu_received() {
    let (server, client, _scid, sowner, ccid) = rep_sent();
    let mut fx = Deferred::default();
    client.port.rtu(CLIENT_FILE, ccid, &mut fx).unwrap();
    client.port.perform(fx);
    client.send_to(&server);
    assert_eq!(server.take_events(), vec![(sowner, CmEvent::RtuReceived)]);
}

#[test]
fn data_before_the_rtu_is_established_not_an_rtu() {
    // CM.md §4: `established` (the QP's "communication established" event:
    // data arrived before the RTU) delivers a synthetic RTU, which carries
    // no MAD; NDI names it Established (cm_port, NDI.md §6 REP_CM).
    let (server, _client, scid, sowner, _ccid) = rep_sent();
    let mut out = Output::new();
    let now = server.port.manager().platform().now();
    server
        .port
        .manager()
        .established(Owner(SERVER_FILE), scid, now, &mut out)
        .unwrap();
    server.port.perform(Deferred::from(out));
    assert_eq!(server.take_events(), vec![(sowner, CmEvent::Established)]);
}

#[test]
fn a_call_naming_another_file_is_refused_and_changes_nothing() {
    // S8: the file named with a CID must own it; the CM checks it on every
    // call, so a handle confused between files reaches nothing.
    let (server, client, _scid, sowner, ccid) = rep_sent();
    let mut fx = Deferred::default();
    assert_eq!(
        client.port.rtu(SERVER_FILE, ccid, &mut fx),
        Err(ndcm_ndi::NdiError::InvalidHandle)
    );
    client.port.destroy(SERVER_FILE, ccid, &mut fx);
    assert_eq!(
        client.port.timewait(SERVER_FILE, ccid),
        ndcm_cm::platform::Duration::from_millis(1)
    );
    assert!(fx.is_empty(), "nothing sent, armed or delivered: {fx:?}");
    // The owner's own RTU still goes through.
    client.port.rtu(CLIENT_FILE, ccid, &mut fx).unwrap();
    client.port.perform(fx);
    client.send_to(&server);
    assert_eq!(server.take_events(), vec![(sowner, CmEvent::RtuReceived)]);
}
