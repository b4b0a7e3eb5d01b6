//! Model check (shuttle) of the cancel callback KMDF delivers on a thread
//! that holds the file's lock: thread A pends a GET_REQ_CM on a listener's
//! queue (the dispatcher forwards it under the file lock) while threads C
//! and D cancel two other GET_REQ_CMs of the same queue — a multi-threaded
//! ND process being killed. In KMDF the first canceller runs the queue's
//! dispatch loop; the second finds it busy and leaves its request on the
//! cancelled list; `WdfRequestForwardToIoQueue` on A then runs the dispatch
//! loop itself (`FxIoQueue::QueueRequestFromForward` → `DispatchEvents` →
//! `ProcessCancelledRequestsOnQueue`) and delivers that request's
//! EvtIoCanceledOnQueue on A, inside the lock A holds. A dispatcher that
//! takes the file lock there spins forever at DISPATCH_LEVEL; the host's
//! queued lock reports the re-acquisition (Driver Verifier's deadlock
//! detection). The dispatcher must defer the callback to the lock's release
//! and complete every request exactly once.
//!
//! Schedules: `NDCM_MODEL_SCHEDULES` (default 10,000 in all, half uniform
//! random, half PCT).

mod model_common;
use model_common::explore;
use ndcm_cm::platform::Duration;
use ndcm_host::client::{Client, ipv4_gid, node_ipv4};
use ndcm_host::device::{Device, Pending};
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

type Cm = NdiPort<ShuttleSys>;
type Node = (Arc<World<Cm, ShuttleSys>>, Arc<Device<Cm, ShuttleSys>>);

const PORT: u16 = 4000;
fn node() -> Node {
    let mut world: World<Cm, ShuttleSys> = World::new(
        Arc::new(Verifier::new(Mode::Strict)),
        FaultModel::default(),
        0,
    );
    let ip = node_ipv4(1);
    let gid = ipv4_gid(ip);
    let adapter = AdapterInfo::soft_roce(vec![IpAddr::V4(ip)]);
    let device = world.add_node(&[gid], vec![adapter], move |p, f| {
        ndcm_host::ndi_port::on_fabric(p, f, vec![gid])
    });
    (Arc::new(world), device)
}

/// How often the interesting order happened: a cancel callback delivered
/// on the thread that held the file's lock (deferred by the dispatcher).
static DEFERRED: AtomicUsize = AtomicUsize::new(0);

fn pend_while_two_others_are_cancelled() {
    let (world, device) = node();
    let app = Client::open(&device);
    let adapter = app.adapter();
    let (listener, _) = app.listen(adapter, PORT);
    let conns: Vec<u64> = (0..3).map(|_| app.connection(adapter)).collect();
    let first: Vec<Pending> = conns[..2]
        .iter()
        .map(|c| {
            app.get_request(listener, *c)
                .pending()
                .expect("GET_REQ_CM pends")
        })
        .collect();
    let app = Arc::new(app);
    let cancels: Vec<_> = first
        .iter()
        .map(|p| {
            let (d, p) = (Arc::clone(&device), *p);
            thread::spawn(move || assert!(d.cancel(p), "a pending request can be cancelled"))
        })
        .collect();
    let a = {
        let app = Arc::clone(&app);
        let conn = conns[2];
        thread::spawn(move || app.get_request(listener, conn).pending())
    };
    for c in cancels {
        c.join().expect("cancel thread");
    }
    let third = a.join().expect("pend thread").expect("GET_REQ_CM pends");
    for p in first {
        let done = device.poll(p).expect("a cancelled request completes");
        assert_eq!(NtStatus(done.status), NtStatus::CANCELLED);
    }
    assert!(device.poll(third).is_none(), "the third waits for a REQ");
    let deferred = device.ndi().counters().cancels_deferred;
    if deferred > 0 {
        let _ = DEFERRED.fetch_add(1, Ordering::Relaxed);
    }
    assert_eq!(device.ndi().counters().cancels_undeferrable, 0);
    match Arc::try_unwrap(app) {
        Ok(app) => app.close(),
        Err(_) => panic!("client still shared"),
    }
    let done = device.poll(third).expect("close completes the third");
    assert_eq!(NtStatus(done.status), NtStatus::CANCELLED);
    let _ = world.run_until_idle(Duration::from_millis(600_000));
    world.assert_clean();
}

#[test]
fn cancel_delivered_inside_forward_on_the_lock_holding_thread_is_deferred_not_reentered() {
    explore(pend_while_two_others_are_cancelled);
    assert!(
        DEFERRED.load(Ordering::Relaxed) > 0,
        "no schedule delivered a cancel callback on the forwarding thread"
    );
}
