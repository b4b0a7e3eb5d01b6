//! What the ABI layer costs, and how fast connections are set up.
//!
//! - `full_stack_lifecycle`: one connection lifecycle through everything a
//!   Windows ND application would go through — the provider API, the IOCTL
//!   ABI (encoded, dispatched by the framework model with its KMDF rule
//!   checks, validated by the dispatcher), the CEP manager and the
//!   in-memory fabric, both sides: QP and connector create, Listen's
//!   GetConnectionRequest, Connect, Accept, CompleteConnect,
//!   NotifyDisconnect, Disconnect, releases, timewait.
//! - `cm_only_lifecycle`: the same exchange on two bare CEP managers
//!   (`ndcm_cm::sim::Pair`): create, REQ, REP, RTU, DREQ, DREP, destroy,
//!   timewait — no IOCTLs, no framework, no provider.
//! - `lean_stack_lifecycle`: the layers the driver ships, on the footing of
//!   the CM-only one (`support/lean.rs`): provider → IOCTL ABI → dispatcher
//!   → the driver's CM adapter → CEP manager → a MAD queue, on ndcm-cm's
//!   test platform, with a lean request model in place of the KMDF emulator
//!   (which checks every DDI rule and keeps every request for its
//!   exactly-once audit).
//! - `setup_1000_at_once`: 1,000 Connects issued together against one
//!   listener, until all 1,000 are established (CompleteConnect done).
//!
//! After criterion's figures the harness times the lifecycles again,
//! interleaved in short rounds, and prints the ratio of the lean stack (and
//! of the emulator stack) to CM only (goal ≤ 2×), with no other connection
//! and with 1,000 established on each side as ndcm-cm's own benchmark
//! does; then the setup rate next to Linux rdma_cm's published ~1,100
//! connections/s (rdma-core `cmtime`, 1,000 concurrent connects in 0.89 s).
//!
//! One thread, virtual clock: the figures are CPU cost, not wire latency.

#[path = "support/lean.rs"]
mod lean;

use criterion::Criterion;
use lean::{LeanDevice, LeanWorld};
use ndcm_cm::Cid;
use ndcm_cm::platform::Duration;
use ndcm_cm::sim::{Pair, SERVICE, Side};
use ndcm_host::device::Device as HostDriver;
use ndcm_host::fabric::FaultModel;
use ndcm_host::ndi_port::{self, NdiPort};
use ndcm_host::verifier::{Mode, Verifier};
use ndcm_host::world::World;
use ndcm_ndi::cm_port::{AdapterInfo, IpAddr};
use ndcm_provider::host::HostDevice;
use ndcm_provider::{Adapter, Connector, Device, Listener, Op, Qp, QpConfig, ReadLimits};
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

type Dev = HostDevice<NdiPort>;

const LIMITS: ReadLimits = ReadLimits {
    inbound: 4,
    outbound: 4,
};

fn gid(n: u8) -> [u8; 16] {
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, n]
}

fn addr(n: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, n], port))
}

/// One side of a connection being set up: its QP, connector, pending op.
type Setup<D> = (Qp<D>, Connector<D>, Op<D, ()>);

/// Moves a world of devices forward.
trait Drive {
    /// Performs the next scheduled thing; false if nothing is.
    fn step(&self) -> bool;
}

impl Drive for World<NdiPort> {
    fn step(&self) -> bool {
        World::step(self, self.now() + Duration::from_millis(600_000))
    }
}

impl Drive for LeanWorld {
    fn step(&self) -> bool {
        LeanWorld::step(self, Duration::from_millis(600_000))
    }
}

fn adapter_info(n: u8) -> AdapterInfo {
    AdapterInfo::soft_roce(vec![IpAddr::V4([10, 0, 0, n])])
}

/// Two devices on a perfect fabric, a process on each, a listener on B.
struct Stack<D: Device, W: Drive> {
    world: W,
    client: Adapter<D>,
    server: Adapter<D>,
    listener: Listener<D>,
}

fn stack<D: Device, W: Drive>(world: W, client: D, server: D) -> Stack<D, W> {
    let client = Adapter::open(Arc::new(client), 0).expect("adapter");
    let server = Adapter::open(Arc::new(server), 0).expect("adapter");
    let mut listener = server.create_listener();
    listener.bind(addr(2, 7000)).expect("bind");
    listener.listen(256).expect("listen");
    Stack {
        world,
        client,
        server,
        listener,
    }
}

/// The stack on the KMDF emulator (the simulator's configuration).
fn host_stack() -> Stack<Dev, World<NdiPort>> {
    {
        let verifier = Arc::new(Verifier::new(Mode::Strict));
        let mut world = World::new(verifier, FaultModel::default(), 1);
        let mut drivers: Vec<Arc<HostDriver<NdiPort>>> = Vec::new();
        for n in 1..=2u8 {
            drivers.push(world.add_node(&[gid(n)], vec![adapter_info(n)], |p, f| {
                ndi_port::on_fabric(p, f, vec![gid(n)])
            }));
        }
        let client = HostDevice::open(&drivers[0]);
        let server = HostDevice::open(&drivers[1]);
        stack(world, client, server)
    }
}

/// The stack on the lean request model.
fn lean_stack() -> Stack<LeanDevice, LeanWorld> {
    let mut world = LeanWorld::new();
    let a = world.add_node(gid(1), adapter_info(1));
    let b = world.add_node(gid(2), adapter_info(2));
    let (client, server) = (world.open(a), world.open(b));
    stack(world, client, server)
}

impl<D: Device, W: Drive> Stack<D, W> {
    /// Runs the world until `op` completes; its result must be success.
    fn until(&self, op: &mut Op<D, ()>) {
        loop {
            if let Some(r) = op.poll_result() {
                r.expect("operation failed");
                return;
            }
            assert!(
                self.world.step(),
                "nothing scheduled while an operation is pending"
            );
        }
    }

    /// One whole lifecycle; the client disconnects.
    fn lifecycle(&self) {
        let cqp = self.client.create_qp(&QpConfig::default()).expect("qp");
        let mut c = self.client.create_connector().expect("connector");
        c.bind(addr(1, 0)).expect("bind");
        let mut s = self.server.create_connector().expect("connector");
        let mut get = self.listener.get_connection_request(&mut s);
        let mut connect = c.connect(&cqp, addr(2, 7000), LIMITS, b"bench");
        self.until(&mut get);
        let sqp = self.server.create_qp(&QpConfig::default()).expect("qp");
        let mut accept = s.accept(&sqp, LIMITS, b"ok");
        self.until(&mut connect);
        let mut rtu = c.complete_connect();
        self.until(&mut rtu);
        self.until(&mut accept);
        let mut s_notify = s.notify_disconnect();
        let mut c_notify = c.notify_disconnect();
        let mut disc = c.disconnect();
        self.until(&mut s_notify);
        let mut s_disc = s.disconnect();
        self.until(&mut s_disc);
        self.until(&mut disc);
        // The local disconnect ends the client's own NotifyDisconnect.
        assert!(c_notify.poll_result().is_some());
        drop((c, s, cqp, sqp));
        // Timewait passes; nothing stays behind for the next iteration.
        while self.world.step() {}
    }

    /// `n` Connects issued together; returns once all are established.
    fn setup_at_once(&self, n: usize) {
        let connections = self.connect_many(n);
        // Release everything (aborts with DREQ), drain, so the next
        // iteration starts from the same state.
        drop(connections);
        while self.world.step() {}
        black_box(&self.listener);
    }

    /// `n` Connects issued together, accepted and completed; the
    /// established connections (both sides) are returned.
    fn connect_many(&self, n: usize) -> Vec<Setup<D>> {
        let mut clients: Vec<Setup<D>> = Vec::with_capacity(n);
        let mut servers: Vec<(Connector<D>, Op<D, ()>)> = Vec::with_capacity(n);
        for _ in 0..n {
            let mut s = self.server.create_connector().expect("connector");
            let get = self.listener.get_connection_request(&mut s);
            servers.push((s, get));
        }
        for _ in 0..n {
            let qp = self.client.create_qp(&QpConfig::default()).expect("qp");
            let mut c = self.client.create_connector().expect("connector");
            c.bind(addr(1, 0)).expect("bind");
            let op = c.connect(&qp, addr(2, 7000), LIMITS, &[]);
            clients.push((qp, c, op));
        }
        let mut accepts: Vec<Setup<D>> = Vec::with_capacity(n);
        let mut rtus: Vec<Option<Op<D, ()>>> = (0..n).map(|_| None).collect();
        let mut established = 0;
        let mut accepted = 0;
        while established < n || accepted < n {
            let _ = self.world.step();
            let mut i = 0;
            while i < servers.len() {
                if let Some(r) = servers[i].1.poll_result() {
                    r.expect("request");
                    let (s, _) = servers.swap_remove(i);
                    let qp = self.server.create_qp(&QpConfig::default()).expect("qp");
                    let op = s.accept(&qp, LIMITS, &[]);
                    accepts.push((qp, s, op));
                } else {
                    i += 1;
                }
            }
            for (k, (_, c, op)) in clients.iter_mut().enumerate() {
                if rtus[k].is_none()
                    && let Some(r) = op.poll_result()
                {
                    r.expect("connect");
                    rtus[k] = Some(c.complete_connect());
                }
                if let Some(rtu) = rtus[k].as_mut()
                    && let Some(r) = rtu.poll_result()
                {
                    r.expect("complete");
                    established += 1;
                }
            }
            for (_, _, op) in accepts.iter_mut() {
                if let Some(r) = op.poll_result() {
                    r.expect("accept");
                    accepted += 1;
                }
            }
        }
        clients.extend(accepts);
        clients
    }
}

/// QPNs for CM-only lifecycles: a new pair each time, as the dispatcher
/// numbers QPs (the CM's QPN-keyed tables then see the keys a real stream
/// of connections gives them), above the 1,000 kept connections' range.
static NEXT_QPN: AtomicU32 = AtomicU32::new(0);

/// Two bare managers, a listener on B and `established` connections kept
/// open between them.
fn cm_pair(established: u32) -> (Pair, Cid) {
    let mut pair = Pair::new();
    let listener = pair.listen(Side::B, SERVICE);
    for i in 0..established {
        let qpn = 0x10_0000 + i;
        let _ = pair.establish(Some(listener), qpn, qpn);
        pair.a.events.clear();
        pair.b.events.clear();
    }
    (pair, listener)
}

/// One CM-only lifecycle on two bare managers.
fn cm_lifecycle(pair: &mut Pair, listener: Cid) {
    let n = NEXT_QPN.fetch_add(2, Ordering::Relaxed) % 0x00E0_0000;
    let qpn = 0x0020_0000 + n;
    let (a, b) = pair.establish(Some(listener), qpn, qpn + 1);
    pair.call(Side::A, |m, o, now, out| m.dreq(o, a, &[], now, out).ok());
    pair.drive();
    pair.call(Side::B, |m, o, now, out| m.drep(o, b, &[], now, out).ok());
    pair.drive();
    pair.call(Side::A, |m, o, now, out| {
        m.destroy(o, a, false, now, out).ok()
    });
    pair.call(Side::B, |m, o, now, out| {
        m.destroy(o, b, false, now, out).ok()
    });
    pair.run_to_quiescence();
    let _ = pair.a.take_events();
    let _ = pair.b.take_events();
}

/// Times `runs` (the full stack first, CM only second, others after)
/// interleaved in short batches, so all see the same machine load (this
/// machine is shared), and prints the ratio of each to CM only: the median
/// over rounds of the ratio within a round (neighbours in time), and the
/// ratio of the fastest batches.
fn report_ratio(label: &str, runs: &[&dyn Fn()]) {
    let (rounds, per_batch) = (1000, 5);
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); runs.len()];
    for _ in 0..rounds {
        for (k, run) in runs.iter().enumerate() {
            let t = std::time::Instant::now();
            for _ in 0..per_batch {
                run();
            }
            times[k].push(t.elapsed().as_secs_f64() / f64::from(per_batch));
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let fastest = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let paired = |k: usize| median(times[k].iter().zip(&times[1]).map(|(a, b)| a / b).collect());
    let names = [
        "provider+ABI+dispatcher+CM+wire",
        "CM only",
        "same on the KMDF rule-checking emulator",
    ];
    println!("lifecycle, {label} (one core, {rounds} interleaved rounds of {per_batch}):");
    for (k, name) in names.iter().enumerate().take(runs.len()) {
        let f = fastest(&times[k]);
        print!(
            "  {name}: {:.2} µs fastest, {:.2} µs median ({:.0}/s)",
            f * 1e6,
            median(times[k].clone()) * 1e6,
            1.0 / f
        );
        if k == 1 {
            println!();
        } else {
            println!(
                "; {:.2}x CM only (median of paired rounds; fastest/fastest {:.2}x{})",
                paired(k),
                f / fastest(&times[1]),
                if k == 0 { "; goal <= 2x" } else { "" }
            );
        }
    }
}

/// `NDCM_PROBE=WHAT:N`: N lifecycles and nothing else, no timing, for an
/// instruction or allocation profiler (callgrind, dhat): WHAT is `lean` or
/// `cm`, `leanloaded` or `cmloaded` with 1,000 established connections on
/// each side. Two runs with different N give the cost of one lifecycle
/// without the set-up: (cost(N2) - cost(N1)) / (N2 - N1).
fn run_probe(probe: &str) {
    let (what, n) = probe.split_once(':').expect("NDCM_PROBE=WHAT:N");
    let n: usize = n.parse().expect("NDCM_PROBE count");
    let loaded = what.ends_with("loaded");
    let lean = lean_stack();
    let _kept = loaded.then(|| lean.connect_many(1000));
    let (mut pair, listener) = cm_pair(if loaded { 1000 } else { 0 });
    for _ in 0..n {
        if what.starts_with("lean") {
            lean.lifecycle();
        } else {
            cm_lifecycle(&mut pair, listener);
        }
    }
}

fn main() {
    if let Ok(probe) = std::env::var("NDCM_PROBE") {
        return run_probe(&probe);
    }
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));

    let stack = host_stack();
    c.bench_function("full_stack_lifecycle", |b| b.iter(|| stack.lifecycle()));
    let lean = lean_stack();
    let lean_base = lean.world.live();
    c.bench_function("lean_stack_lifecycle", |b| b.iter(|| lean.lifecycle()));

    let (pair, listener) = cm_pair(0);
    let pair = std::cell::RefCell::new(pair);
    c.bench_function("cm_only_lifecycle", |b| {
        b.iter(|| cm_lifecycle(&mut pair.borrow_mut(), listener))
    });

    let mut g = c.benchmark_group("setup");
    g.sample_size(10);
    g.bench_function("setup_1000_at_once", |b| {
        b.iter(|| stack.setup_at_once(1000))
    });
    g.bench_function("lean_setup_1000_at_once", |b| {
        b.iter(|| lean.setup_at_once(1000))
    });
    g.finish();

    // The ratio, as ndcm-cm's own benchmark measures its lifecycle: with
    // no other connection, and with 1,000 established ones in the tables
    // on both sides (kept open while the lifecycles run).
    let lifecycles: [&dyn Fn(); 3] = [
        &|| lean.lifecycle(),
        &|| cm_lifecycle(&mut pair.borrow_mut(), listener),
        &|| stack.lifecycle(),
    ];
    report_ratio("no other connection", &lifecycles);
    assert_eq!(lean.world.live(), lean_base, "CM objects left behind");

    let loaded = lean_stack();
    let kept = loaded.connect_many(1000);
    let (loaded_pair, loaded_listener) = cm_pair(1000);
    let loaded_pair = std::cell::RefCell::new(loaded_pair);
    let lifecycles: [&dyn Fn(); 2] = [&|| loaded.lifecycle(), &|| {
        cm_lifecycle(&mut loaded_pair.borrow_mut(), loaded_listener)
    }];
    report_ratio("1,000 established on each side", &lifecycles);
    drop(kept);

    let sets = 5;
    let lean_setup = || lean.setup_at_once(1000);
    let host_setup = || stack.setup_at_once(1000);
    let runs: [(&str, &dyn Fn()); 2] = [("lean", &lean_setup), ("KMDF emulator", &host_setup)];
    for (name, f) in runs {
        let t = std::time::Instant::now();
        for _ in 0..sets {
            f();
        }
        let per = t.elapsed().as_secs_f64() / f64::from(sets);
        println!(
            "setup ({name}): 1000 connections at once in {:.3} s = {:.0} conn/s \
             (Linux rdma_cm cmtime: 1000 in 0.89 s = ~1,100 conn/s)",
            per,
            1000.0 / per
        );
    }
    c.final_summary();
}
