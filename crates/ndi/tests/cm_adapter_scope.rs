//! S1 at the CM adapter (`cm_adapter::ManagerPort`): when the manager
//! refuses a `format_event` because it does not run on the callback's
//! thread, the adapter neither skips nor loses the event. The manager keeps
//! it queued and counts the refusal; the adapter ends that callback and
//! runs the one the manager schedules for what is left, so the event
//! reaches the sink exactly once.
//!
//! The refusal is provoked with a platform whose thread identity is wrong
//! for one chosen call, as a broken kernel thread identity would be.

use ndcm_cm::platform::{Instant, Platform, SpinLock, TestPlatform, ThreadId};
use ndcm_cm::{CepManager, MadAddress, ManagerConfig, Outgoing};
use ndcm_ndi::QueueOwner;
use ndcm_ndi::cm_adapter::{Deferred, ManagerPort};
use ndcm_ndi::cm_port::{CmEvent, CmPort, ConnectSpec, IpAddr, IpEndpoint, ListenSpec, PortSpace};
use ndcm_wire::Gid;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const SERVER_IP: [u8; 4] = [10, 0, 0, 2];
const CLIENT_IP: [u8; 4] = [10, 0, 0, 1];
const PORT: u16 = 5000;

/// The test platform, except that the `n`th `current_thread` call after
/// `foreign_at(n)` answers another thread.
#[derive(Default)]
struct OneForeignCall {
    inner: TestPlatform,
    /// Calls left before the foreign one; 0 = none armed.
    countdown: AtomicU64,
}

impl OneForeignCall {
    fn foreign_at(&self, n: u64) {
        self.countdown.store(n, Ordering::SeqCst);
    }
}

impl Platform for OneForeignCall {
    type Lock<T: Send> = SpinLock<T>;
    fn new_lock<T: Send>(&self, value: T) -> SpinLock<T> {
        SpinLock::new(value)
    }
    fn current_thread(&self) -> ThreadId {
        let left = self.countdown.load(Ordering::SeqCst);
        if left > 0 {
            self.countdown.store(left - 1, Ordering::SeqCst);
            if left == 1 {
                return ThreadId(NonZeroU64::new(0xF0F0).unwrap());
            }
        }
        self.inner.current_thread()
    }
    fn now(&self) -> Instant {
        self.inner.now()
    }
}

type Events = Arc<Mutex<Vec<(QueueOwner, CmEvent)>>>;
type Wire = Arc<Mutex<Vec<Outgoing>>>;

fn port<P: Platform>(platform: P) -> (ManagerPort<P>, Events, Wire) {
    let port = ManagerPort::new(CepManager::new(platform, ManagerConfig::default()), 1);
    let events: Events = Arc::default();
    let wire: Wire = Arc::default();
    let e = Arc::clone(&events);
    assert!(port.bind_events(Arc::new(move |o, ev| e.lock().unwrap().push((o, ev)))));
    let w = Arc::clone(&wire);
    assert!(port.bind_mads(Arc::new(move |o: &Outgoing| {
        w.lock().unwrap().push(o.clone());
        true
    })));
    (port, events, wire)
}

#[test]
fn a_refused_format_event_does_not_lose_the_event_at_the_adapter() {
    let (server, events, _) = port(OneForeignCall::default());
    let (client, _, wire) = port(TestPlatform::new());

    let listener = QueueOwner {
        instance: 1,
        object: 0x10,
    };
    let lcid = server.create(listener).unwrap();
    let mut fx = Deferred::default();
    let listen = ListenSpec {
        adapter: 0,
        space: PortSpace::Tcp,
        port: PORT,
        ip: None,
    };
    server.listen(1, lcid, &listen, &mut fx).unwrap();
    server.perform(fx);

    let connector = QueueOwner {
        instance: 2,
        object: 0x20,
    };
    let ccid = client.create(connector).unwrap();
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
    client.connect(2, ccid, &connect, &mut fx).unwrap();
    client.perform(fx);
    let req = wire.lock().unwrap().pop().expect("the REQ");

    // The listener's callback: `deliver` records the thread (call 1),
    // `poll` (2) takes the REQ_RECEIVED record, `format_event` (3) is
    // refused as if it ran elsewhere.
    server.manager().platform().foreign_at(3);
    let from = MadAddress {
        gid: Gid::from_ipv4_octets(CLIENT_IP),
        port: 1,
    };
    server.receive(from, &req.mad);

    let stats = server.manager().stats();
    assert_eq!(stats.scope_violations, 1, "the refusal is counted");
    assert_eq!(
        stats.queued_events, 0,
        "and the event was delivered after all"
    );
    let got = std::mem::take(&mut *events.lock().unwrap());
    let [(to, CmEvent::ReqReceived { .. })] = got[..] else {
        panic!("expected the REQ exactly once, got {got:?}");
    };
    assert_eq!(to, listener);
}
