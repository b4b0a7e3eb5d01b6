//! The simulator's driving loop and its actors.
//!
//! Each node is a host device on the shared fabric and clock. On each node
//! one server process listens and keeps several GetConnectionRequest calls
//! outstanding; client workers (one process each) run lifecycles one after
//! another: Connect → (REP private data checked) → CompleteConnect →
//! NotifyDisconnect → hold → Disconnect by one side → release. Everything
//! is a provider call on a `HostDevice`.
//!
//! The loop: poll every actor until none can move; then perform the
//! earliest scheduled thing — a fabric delivery or CM timer (the world), or
//! one of the simulator's own timers (hold, destroy) — moving the virtual
//! clock to it. All choices come from one seeded generator and all
//! collections iterate in a fixed order, so a seed replays a run.

use super::config::SimConfig;
use super::counters::MadCounters;
use super::report::{Invariants, Outcomes, SimReport};
use crate::cpu::thread_cpu_nanos;
use ndcm_cm::platform::{Duration, Instant};
use ndcm_host::HostPlatform;
use ndcm_host::device::{Device as HostDriver, HostCm};
use ndcm_host::fabric::{Datagram, Fabric, FaultModel, SeededRng, Verdict};
use ndcm_host::ndi_port::NdiPort;
use ndcm_host::verifier::{Mode, Verifier};
use ndcm_host::world::World;
use ndcm_ndi::cm_port::{AdapterInfo, IpAddr};
use ndcm_provider::host::HostDevice;
use ndcm_provider::{
    Adapter, Connector, NdError, NdResult, NtStatus, Op, Qp, QpConfig, ReadLimits,
};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

/// What the simulator needs from a CM port besides `HostCm`.
pub trait SimCm: HostCm {
    /// Duplicate MADs the CM recognised and dropped, if it counts them.
    fn duplicates_dropped(&self) -> Option<u64> {
        None
    }
}

/// Builds the CM port of node `index` (GID `gid`) on the shared platform
/// and fabric.
pub type MakeCm<'a, C> = dyn FnMut(HostPlatform, Arc<Fabric>, usize, [u8; 16]) -> C + 'a;

type Dev<C> = HostDevice<C>;
type ClientObjects<C> = (Qp<Dev<C>>, Connector<Dev<C>>);

/// The port every server listens on.
pub const SERVER_PORT: u16 = 7000;
/// Read limits asked by both sides.
const LIMITS: ReadLimits = ReadLimits {
    inbound: 4,
    outbound: 4,
};
/// GetConnectionRequest calls a server keeps outstanding at least; requests
/// beyond them wait in the listen backlog.
const SERVER_GETS: usize = 4;
/// How long a side waits for its peer to disconnect before it disconnects
/// itself. The CM sends a destroyed connection's DREQ once, best effort (as
/// Linux does); if it is lost, only the application's own timeout (a data
/// path error, a keepalive) ends the connection on the other side.
const PEER_TIMEOUT: Duration = Duration::from_millis(1_000);
/// The listen backlog asked for (the driver's maximum).
const BACKLOG: u32 = 256;

/// The IPv4 address of node `i` (10.0.0.i+1).
pub fn node_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, (i + 1) as u8)
}

/// The IPv4-mapped GID of node `i`.
pub fn node_gid(i: usize) -> [u8; 16] {
    let o = node_ip(i).octets();
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, o[0], o[1], o[2], o[3],
    ]
}

/// Which request an outstanding operation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Connect.
    Connect,
    /// CompleteConnect.
    CompleteConnect,
    /// Accept.
    Accept,
    /// Disconnect.
    Disconnect,
    /// NotifyDisconnect.
    Notify,
    /// GetConnectionRequest.
    GetRequest,
}

impl OpKind {
    /// Statuses this request may complete with in some run (faults and
    /// teardown included). Anything else is an anomaly.
    fn allowed(self) -> &'static [NtStatus] {
        use NtStatus as S;
        match self {
            OpKind::Connect => &[
                S::SUCCESS,
                S::CONNECTION_REFUSED,
                S::IO_TIMEOUT,
                S::CANCELLED,
                S::CONNECTION_ABORTED,
            ],
            OpKind::CompleteConnect => &[
                S::SUCCESS,
                S::CONNECTION_ABORTED,
                S::IO_TIMEOUT,
                S::CONNECTION_INVALID,
                S::CANCELLED,
                S::INVALID_HANDLE,
            ],
            OpKind::Accept => &[
                S::SUCCESS,
                S::CONNECTION_ABORTED,
                S::CONNECTION_REFUSED,
                S::IO_TIMEOUT,
                S::CANCELLED,
            ],
            OpKind::Disconnect => &[
                S::SUCCESS,
                S::CANCELLED,
                S::CONNECTION_INVALID,
                S::INVALID_DEVICE_STATE,
                S::INVALID_HANDLE,
            ],
            OpKind::Notify => &[
                S::SUCCESS,
                S::CONNECTION_DISCONNECTED,
                S::CANCELLED,
                S::CONNECTION_INVALID,
                S::INVALID_HANDLE,
            ],
            OpKind::GetRequest => &[S::SUCCESS, S::CANCELLED],
        }
    }
}

/// An outstanding operation and what it is.
struct Pend<C: SimCm> {
    op: Op<Dev<C>, ()>,
    kind: OpKind,
}

/// What may be destroyed at a random moment of a lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Victim {
    ClientQp,
    ClientConnector,
    ClientProcess,
    ServerQp,
    ServerConnector,
}

/// The workload's choices for one lifecycle, made when it starts.
#[derive(Clone, Copy, Debug)]
struct Plan {
    reject: bool,
    /// The server waits this long before Accept (a slow application: the
    /// client retransmits its REQ and the CM answers with an MRA).
    slow_accept: Option<Duration>,
    /// The client waits this long before CompleteConnect (MRA for the REP).
    slow_complete: Option<Duration>,
    passive_disconnects: bool,
    hold: Duration,
    destroy: Option<(Victim, Instant)>,
}

/// How an active lifecycle ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Established,
    Rejected,
    TimedOut,
    Aborted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// The client's hold is over: disconnect.
    ClientHold { id: u64 },
    /// The server's hold is over: disconnect.
    ServerHold { id: u64 },
    /// Destroy something of lifecycle `id`.
    Destroy { id: u64 },
    /// The slow server accepts now.
    Accept { id: u64 },
    /// The slow client completes now.
    Complete { id: u64 },
}

/// A process: one open file and its adapter.
struct Process<C: SimCm> {
    dev: Arc<Dev<C>>,
    adapter: Adapter<Dev<C>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum APhase {
    Connecting,
    /// Connect succeeded; a slow client waits before CompleteConnect.
    Deferring,
    Completing,
    /// Up; waiting for the hold timer (we disconnect) or the peer.
    Connected,
    Disconnecting,
}

/// The active side of one lifecycle.
struct Active<C: SimCm> {
    id: u64,
    target: usize,
    start: Instant,
    qp: Option<Qp<Dev<C>>>,
    conn: Option<Connector<Dev<C>>>,
    phase: APhase,
    main: Option<Pend<C>>,
    notify: Option<Pend<C>>,
    outcome: Option<Outcome>,
    hold_over: bool,
}

struct Worker<C: SimCm> {
    process: Option<Process<C>>,
    life: Option<Active<C>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PPhase {
    /// A slow server waits before Accept.
    Deferring,
    Accepting,
    Connected,
    Disconnecting,
}

/// The passive side of one lifecycle.
struct Passive<C: SimCm> {
    qp: Option<Qp<Dev<C>>>,
    conn: Option<Connector<Dev<C>>>,
    phase: PPhase,
    main: Option<Pend<C>>,
    notify: Option<Pend<C>>,
    hold_over: bool,
}

struct Server<C: SimCm> {
    process: Process<C>,
    /// GetConnectionRequest calls kept outstanding: enough that a burst of
    /// every in-flight REQ fits with the backlog (else the CM would answer
    /// the excess with REJ "no resources", a correct but unplanned outcome).
    want_gets: usize,
    listener: Option<ndcm_provider::Listener<Dev<C>>>,
    gets: Vec<(Connector<Dev<C>>, Pend<C>)>,
    passive: BTreeMap<u64, Passive<C>>,
}

struct Node<C: SimCm> {
    driver: Arc<HostDriver<C>>,
    server: Server<C>,
    workers: Vec<Worker<C>>,
}

/// Everything the actors change besides themselves.
struct Ctx {
    cfg: SimConfig,
    rng: SeededRng,
    now: Instant,
    timers: BinaryHeap<Reverse<(Instant, u64, Timer)>>,
    timer_seq: u64,
    plans: Vec<Plan>,
    /// Where the active side of a lifecycle runs: (node, worker).
    active_at: BTreeMap<u64, (usize, usize)>,
    /// Which node serves a lifecycle.
    served_by: BTreeMap<u64, usize>,
    started: u64,
    finished: u64,
    outcomes: Outcomes,
    latencies: Vec<u64>,
    inv: Invariants,
    issued: u64,
    taken: u64,
    destroys: u64,
    peer_timeouts: u64,
    /// Requests whose peer aborted before the server read them.
    requests_gone: u64,
    anomaly_samples: Vec<String>,
}

impl Ctx {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.chance(SimConfig::ppm(p))
    }

    fn schedule(&mut self, at: Instant, t: Timer) {
        self.timer_seq += 1;
        self.timers.push(Reverse((at, self.timer_seq, t)));
    }

    fn anomaly(&mut self, what: String) {
        self.inv.anomalies += 1;
        if self.anomaly_samples.len() < 8 {
            self.anomaly_samples.push(what);
        }
    }

    fn track<C: SimCm>(&mut self, op: Op<Dev<C>, ()>, kind: OpKind) -> Pend<C> {
        self.issued += 1;
        Pend { op, kind }
    }

    /// Takes the result of `slot` if it has completed, checking its status
    /// against what the request may complete with.
    fn poll<C: SimCm>(&mut self, slot: &mut Option<Pend<C>>, id: u64) -> Option<NdResult<()>> {
        let p = slot.as_mut()?;
        let r = p.op.poll_result()?;
        let kind = p.kind;
        *slot = None;
        self.taken += 1;
        let status = match r {
            Ok(()) => NtStatus::SUCCESS,
            Err(e) => e.status(),
        };
        if !kind.allowed().contains(&status) {
            self.anomaly(format!(
                "lifecycle {id}: {kind:?} completed with {status:?}"
            ));
        }
        Some(r)
    }

    fn plan(&self, id: u64) -> Plan {
        self.plans[id as usize]
    }

    /// Whether nothing in this run can abort a connection behind the
    /// application's back (perfect fabric, no destroys).
    fn strict_run(&self) -> bool {
        !self.cfg.faulty_fabric() && self.cfg.destroy_rate == 0.0
    }

    /// Whether this lifecycle ran on a perfect fabric with nothing
    /// destroyed, so that only the planned outcome is acceptable.
    fn strict(&self, id: u64) -> bool {
        !self.cfg.faulty_fabric() && self.plan(id).destroy.is_none()
    }
}

fn pdata(tag: &[u8; 4], id: u64) -> [u8; 12] {
    let mut p = [0u8; 12];
    p[..4].copy_from_slice(tag);
    p[4..].copy_from_slice(&id.to_le_bytes());
    p
}

fn pdata_id(tag: &[u8; 4], data: &[u8]) -> Option<u64> {
    if data.get(..4)? != tag {
        return None;
    }
    Some(u64::from_le_bytes(data.get(4..12)?.try_into().ok()?))
}

const REQ_TAG: &[u8; 4] = b"NDCM";
const REP_TAG: &[u8; 4] = b"REP!";
const REJ_TAG: &[u8; 4] = b"REJ!";

/// A simulation in progress.
pub struct Sim<C: SimCm> {
    world: World<C>,
    nodes: Vec<Node<C>>,
    ctx: Ctx,
    counters: Arc<Mutex<MadCounters>>,
    verifier: Arc<Verifier>,
}

impl<C: SimCm> Sim<C> {
    /// Builds the world: `cfg.nodes` devices, a listening server on each.
    pub fn new(cfg: SimConfig, make_cm: &mut MakeCm<'_, C>) -> Result<Self, String> {
        cfg.validate()?;
        let verifier = Arc::new(Verifier::new(Mode::Record));
        let model = FaultModel {
            latency: cfg.delay,
            loss_ppm: SimConfig::ppm(cfg.loss),
            duplicate_ppm: SimConfig::ppm(cfg.dup),
            reorder_ppm: SimConfig::ppm(cfg.reorder),
            max_extra_delay: cfg.max_extra_delay,
        };
        // The fabric and the workload draw from separate streams of the
        // seed, so changing the workload's use of randomness does not
        // change which MADs the fabric loses.
        let mut world = World::new(Arc::clone(&verifier), model, cfg.seed);
        let counters = Arc::new(Mutex::new(MadCounters::default()));
        let c = Arc::clone(&counters);
        world
            .fabric()
            .set_filter(Some(Box::new(move |d: &Datagram| {
                c.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .count(d.src, &d.mad);
                Verdict::Pass
            })));
        if cfg.record {
            world.fabric().record();
        }
        let mut drivers = Vec::new();
        for i in 0..cfg.nodes {
            let gid = node_gid(i);
            let adapters = vec![AdapterInfo::soft_roce(vec![IpAddr::V4(
                node_ip(i).octets(),
            )])];
            let driver = world.add_node(&[gid], adapters, |platform, fabric| {
                make_cm(platform, fabric, i, gid)
            });
            drivers.push(driver);
        }
        let per_node = cfg.concurrency.div_ceil(cfg.nodes);
        // The most REQs one server can see at once.
        let burst = if cfg.nodes == 2 {
            per_node
        } else {
            cfg.concurrency
        };
        let want_gets = SERVER_GETS.max((burst + SERVER_GETS).saturating_sub(BACKLOG as usize));
        let mut nodes = Vec::new();
        for (i, driver) in drivers.into_iter().enumerate() {
            let process = open_process(&driver).map_err(|e| format!("node {i}: open: {e}"))?;
            let mut listener = process.adapter.create_listener();
            listener
                .bind(SocketAddr::new(node_ip(i).into(), SERVER_PORT))
                .and_then(|()| listener.listen(BACKLOG))
                .map_err(|e| format!("node {i}: listen: {e}"))?;
            let workers = (0..per_node)
                .map(|_| Worker {
                    process: None,
                    life: None,
                })
                .collect();
            nodes.push(Node {
                driver,
                server: Server {
                    process,
                    want_gets,
                    listener: Some(listener),
                    gets: Vec::new(),
                    passive: BTreeMap::new(),
                },
                workers,
            });
        }
        let seed = cfg.seed;
        Ok(Sim {
            world,
            nodes,
            ctx: Ctx {
                cfg,
                rng: SeededRng::new(seed ^ 0xA076_1D64_78BD_642F),
                now: Instant(0),
                timers: BinaryHeap::new(),
                timer_seq: 0,
                plans: Vec::new(),
                active_at: BTreeMap::new(),
                served_by: BTreeMap::new(),
                started: 0,
                finished: 0,
                outcomes: Outcomes::default(),
                latencies: Vec::new(),
                inv: Invariants::default(),
                issued: 0,
                taken: 0,
                destroys: 0,
                peer_timeouts: 0,
                requests_gone: 0,
                anomaly_samples: Vec::new(),
            },
            counters,
            verifier,
        })
    }

    /// Runs every lifecycle, tears everything down, audits, and reports.
    /// `progress` is called with the number of lifecycles finished.
    pub fn run(mut self, progress: &mut dyn FnMut(u64)) -> SimReport {
        let wall = std::time::Instant::now();
        let cpu0 = thread_cpu_nanos();
        let mut last_progress = 0;
        let mut stalled = false;
        loop {
            self.ctx.now = self.world.now();
            self.poll_all();
            if self.ctx.finished - last_progress >= 100 {
                last_progress = self.ctx.finished;
                progress(last_progress);
            }
            if self.ctx.finished == self.ctx.cfg.connections && self.passive_count() == 0 {
                break;
            }
            let now = self.world.now();
            if let Some(Reverse((at, _, _))) = self.ctx.timers.peek()
                && *at <= now
            {
                self.fire_timers();
                continue;
            }
            let next_timer = self.ctx.timers.peek().map(|Reverse((at, _, _))| *at);
            match (self.world.next_event(), next_timer) {
                (None, None) => {
                    stalled = true;
                    break;
                }
                (Some(w), t) if t.is_none_or(|t| w <= t) => {
                    let _ = self.world.step(w);
                }
                (_, Some(t)) => {
                    let _ = self.world.platform().clock().advance_to(t);
                    let _ = self.world.run_due();
                }
                (Some(_), None) => {}
            }
        }
        progress(self.ctx.finished);
        let sim_end = self.world.now();
        let cpu = thread_cpu_nanos()
            .zip(cpu0)
            .map(|(b, a)| b.saturating_sub(a));
        let elapsed = wall.elapsed();
        self.finish(stalled, sim_end, elapsed, cpu)
    }

    fn passive_count(&self) -> usize {
        self.nodes.iter().map(|n| n.server.passive.len()).sum()
    }

    /// One pass over every actor, each moved until it waits. One pass is
    /// enough: an actor completes another's request only through the
    /// fabric or a timer, i.e. after the next step of the world.
    fn poll_all(&mut self) {
        for n in 0..self.nodes.len() {
            while self.poll_server(n) {}
            for w in 0..self.nodes[n].workers.len() {
                while self.poll_worker(n, w) {}
            }
        }
    }

    fn fire_timers(&mut self) {
        let now = self.world.now();
        while let Some(Reverse((at, _, t))) = self.ctx.timers.peek().copied() {
            if at > now {
                break;
            }
            let _ = self.ctx.timers.pop();
            match t {
                Timer::ClientHold { id } => {
                    if let Some(&(n, w)) = self.ctx.active_at.get(&id)
                        && let Some(a) = self.nodes[n].workers[w].life.as_mut()
                        && a.phase == APhase::Connected
                    {
                        a.hold_over = true;
                        if self.ctx.plan(id).passive_disconnects {
                            self.ctx.peer_timeouts += 1;
                        }
                    }
                }
                Timer::ServerHold { id } => {
                    if let Some(&n) = self.ctx.served_by.get(&id)
                        && let Some(p) = self.nodes[n].server.passive.get_mut(&id)
                        && p.phase == PPhase::Connected
                    {
                        p.hold_over = true;
                        if !self.ctx.plan(id).passive_disconnects {
                            self.ctx.peer_timeouts += 1;
                        }
                    }
                }
                Timer::Destroy { id } => self.destroy(id),
                Timer::Complete { id } => {
                    if let Some(&(n, w)) = self.ctx.active_at.get(&id)
                        && let Some(a) = self.nodes[n].workers[w].life.as_mut()
                        && a.phase == APhase::Deferring
                    {
                        a.hold_over = true;
                    }
                }
                Timer::Accept { id } => {
                    if let Some(&n) = self.ctx.served_by.get(&id)
                        && let Some(p) = self.nodes[n].server.passive.get_mut(&id)
                        && p.phase == PPhase::Deferring
                    {
                        p.hold_over = true;
                    }
                }
            }
        }
    }

    /// Performs the planned destruction of lifecycle `id`, if that part of
    /// it still exists.
    fn destroy(&mut self, id: u64) {
        let Some((victim, _)) = self.ctx.plan(id).destroy else {
            return;
        };
        match victim {
            Victim::ClientQp | Victim::ClientConnector | Victim::ClientProcess => {
                let Some(&(n, w)) = self.ctx.active_at.get(&id) else {
                    return;
                };
                let worker = &mut self.nodes[n].workers[w];
                let Some(a) = worker.life.as_mut() else {
                    return;
                };
                self.ctx.destroys += 1;
                match victim {
                    Victim::ClientQp => drop(a.qp.take()),
                    Victim::ClientConnector => drop(a.conn.take()),
                    _ => {
                        // The process dies: its file closes; what it held
                        // is released by the driver's cleanup.
                        if let Some(p) = worker.process.as_ref() {
                            ndcm_provider::Device::close(&*p.dev);
                        }
                    }
                }
            }
            Victim::ServerQp | Victim::ServerConnector => {
                let Some(&n) = self.ctx.served_by.get(&id) else {
                    return;
                };
                let Some(p) = self.nodes[n].server.passive.get_mut(&id) else {
                    return;
                };
                self.ctx.destroys += 1;
                if victim == Victim::ServerQp {
                    drop(p.qp.take());
                } else {
                    drop(p.conn.take());
                }
            }
        }
    }

    fn start_lifecycle(&mut self, n: usize, w: usize) -> bool {
        if self.ctx.started == self.ctx.cfg.connections {
            return false;
        }
        let id = self.ctx.started;
        self.ctx.started += 1;
        let nodes = self.ctx.cfg.nodes;
        let target = (n + 1 + self.ctx.rng.below_or_eq(nodes as u64 - 2) as usize) % nodes;
        let now = self.world.now();
        let reject = self.ctx.chance(self.ctx.cfg.reject_rate);
        let slow_max = self.ctx.cfg.max_slow.as_nanos() / 1000;
        let slow_accept = if self.ctx.chance(self.ctx.cfg.slow_rate) {
            Some(Duration::from_micros(self.ctx.rng.below_or_eq(slow_max)))
        } else {
            None
        };
        let slow_complete = if self.ctx.chance(self.ctx.cfg.slow_rate) {
            Some(Duration::from_micros(self.ctx.rng.below_or_eq(slow_max)))
        } else {
            None
        };
        let passive_disconnects = self.ctx.chance(0.5);
        // Whole microseconds: events of many connections then fall on the
        // same instants, which the world performs in one step.
        let hold = Duration::from_micros(
            self.ctx
                .rng
                .below_or_eq(self.ctx.cfg.max_hold.as_nanos() / 1000),
        );
        let destroy = if self.ctx.chance(self.ctx.cfg.destroy_rate) {
            let victim = match self.ctx.rng.below_or_eq(4) {
                0 => Victim::ClientQp,
                1 => Victim::ClientConnector,
                2 => Victim::ClientProcess,
                3 => Victim::ServerQp,
                _ => Victim::ServerConnector,
            };
            // Anywhere from before the REQ leaves to after the disconnect.
            let window = self.ctx.cfg.delay.as_nanos() * 8 + self.ctx.cfg.max_hold.as_nanos();
            let at = now + Duration::from_micros(self.ctx.rng.below_or_eq(window / 1000));
            Some((victim, at))
        } else {
            None
        };
        self.ctx.plans.push(Plan {
            reject,
            slow_accept,
            slow_complete,
            passive_disconnects,
            hold,
            destroy,
        });
        if let Some((_, at)) = destroy {
            self.ctx.schedule(at, Timer::Destroy { id });
        }
        let _ = self.ctx.active_at.insert(id, (n, w));
        let _ = self.ctx.served_by.insert(id, target);

        let node = &mut self.nodes[n];
        let worker = &mut node.workers[w];
        if worker.process.as_ref().is_none_or(|p| p.dev.is_closed()) {
            match open_process(&node.driver) {
                Ok(p) => worker.process = Some(p),
                Err(e) => {
                    self.ctx
                        .anomaly(format!("node {n}: reopening a process failed: {e}"));
                    self.ctx.finished += 1;
                    self.ctx.outcomes.aborted += 1;
                    return true;
                }
            }
        }
        let worker = &mut self.nodes[n].workers[w];
        let Some(process) = worker.process.as_ref() else {
            return true;
        };
        let mut life = Active {
            id,
            target,
            start: now,
            qp: None,
            conn: None,
            phase: APhase::Connecting,
            main: None,
            notify: None,
            outcome: None,
            hold_over: false,
        };
        let setup = (|| -> NdResult<ClientObjects<C>> {
            let qp = process.adapter.create_qp(&QpConfig::default())?;
            let mut conn = process.adapter.create_connector()?;
            conn.bind(SocketAddr::new(node_ip(n).into(), 0))?;
            Ok((qp, conn))
        })();
        match setup {
            Ok((qp, mut conn)) => {
                let op = conn.connect(
                    &qp,
                    SocketAddr::new(node_ip(target).into(), SERVER_PORT),
                    LIMITS,
                    &pdata(REQ_TAG, id),
                );
                life.main = Some(self.ctx.track(op, OpKind::Connect));
                life.qp = Some(qp);
                life.conn = Some(conn);
            }
            Err(e) => {
                self.ctx
                    .anomaly(format!("lifecycle {id}: setup failed: {e}"));
                life.outcome = Some(Outcome::Aborted);
            }
        }
        worker.life = Some(life);
        true
    }

    fn poll_worker(&mut self, n: usize, w: usize) -> bool {
        if self.nodes[n].workers[w].life.is_none() {
            return self.start_lifecycle(n, w);
        }
        let ctx = &mut self.ctx;
        let Some(a) = self.nodes[n].workers[w].life.as_mut() else {
            return false;
        };
        let id = a.id;
        let mut moved = false;
        if let Some(r) = ctx.poll(&mut a.main, id) {
            moved = true;
            match a.phase {
                APhase::Connecting => match r {
                    Ok(()) => {
                        check_pdata(ctx, a.conn.as_ref(), REP_TAG, id);
                        if let Some(wait) = ctx.plan(id).slow_complete {
                            a.phase = APhase::Deferring;
                            ctx.schedule(ctx.now + wait, Timer::Complete { id });
                        } else {
                            complete(ctx, a);
                        }
                    }
                    Err(e) => {
                        let outcome = match e.status() {
                            NtStatus::CONNECTION_REFUSED => {
                                // A REJ the CM sent by itself (the server's
                                // connector destroyed, a stale REQ after a
                                // lost REJ) carries no application data.
                                if ctx.strict(id) {
                                    check_pdata(ctx, a.conn.as_ref(), REJ_TAG, id);
                                }
                                Outcome::Rejected
                            }
                            NtStatus::IO_TIMEOUT => Outcome::TimedOut,
                            _ => Outcome::Aborted,
                        };
                        a.outcome = Some(outcome);
                    }
                },
                APhase::Completing => match r {
                    Ok(()) => {
                        ctx.latencies.push(ctx.now.0.saturating_sub(a.start.0));
                        ctx.outcomes.established += 1;
                        match a.conn.as_ref() {
                            Some(c) => {
                                let op = c.notify_disconnect();
                                a.notify = Some(ctx.track(op, OpKind::Notify));
                                a.phase = APhase::Connected;
                                let wait = if ctx.plan(id).passive_disconnects {
                                    PEER_TIMEOUT
                                } else {
                                    ctx.plan(id).hold
                                };
                                ctx.schedule(ctx.now + wait, Timer::ClientHold { id });
                            }
                            None => a.outcome = Some(Outcome::Established),
                        }
                    }
                    Err(e) => {
                        a.outcome = Some(if e.status() == NtStatus::IO_TIMEOUT {
                            Outcome::TimedOut
                        } else {
                            Outcome::Aborted
                        });
                    }
                },
                APhase::Disconnecting => {
                    // Done once the notify has completed too.
                    if a.notify.is_none() {
                        a.outcome = Some(Outcome::Established);
                    }
                }
                APhase::Connected | APhase::Deferring => {}
            }
        }
        if a.phase == APhase::Deferring && a.hold_over {
            a.hold_over = false;
            complete(ctx, a);
            moved = true;
        }
        if let Some(r) = ctx.poll(&mut a.notify, id) {
            moved = true;
            match a.phase {
                APhase::Connected => {
                    // The peer disconnected (SUCCESS) or we lost the
                    // connection: answer with our own Disconnect (DREP).
                    let _ = r;
                    a.hold_over = true;
                }
                APhase::Disconnecting if a.main.is_none() => {
                    a.outcome = Some(Outcome::Established);
                }
                _ => {}
            }
        }
        if a.phase == APhase::Connected && a.hold_over {
            a.hold_over = false;
            match a.conn.as_ref() {
                Some(c) => {
                    let op = c.disconnect();
                    a.main = Some(ctx.track(op, OpKind::Disconnect));
                    a.phase = APhase::Disconnecting;
                }
                None => a.outcome = Some(Outcome::Established),
            }
            moved = true;
        }
        if a.outcome.is_some() {
            self.end_active(n, w);
            moved = true;
        }
        moved
    }

    /// Releases what the lifecycle still holds and records its outcome.
    fn end_active(&mut self, n: usize, w: usize) {
        let Some(mut a) = self.nodes[n].workers[w].life.take() else {
            return;
        };
        let id = a.id;
        // Release: the connector first (it aborts what is left), then the QP.
        drop(a.conn.take());
        drop(a.qp.take());
        // Whatever was outstanding has been completed by the release.
        for slot in [&mut a.main, &mut a.notify] {
            if slot.is_some() && self.ctx.poll(slot, id).is_none() {
                let kind = slot.as_ref().map(|p| p.kind);
                self.ctx.inv.stuck_requests += 1;
                self.ctx.anomaly(format!(
                    "lifecycle {id}: {kind:?} still pending after release"
                ));
            }
        }
        let outcome = a.outcome.unwrap_or(Outcome::Aborted);
        match outcome {
            Outcome::Established => {}
            Outcome::Rejected => self.ctx.outcomes.rejected += 1,
            Outcome::TimedOut => self.ctx.outcomes.timed_out += 1,
            Outcome::Aborted => self.ctx.outcomes.aborted += 1,
        }
        if self.ctx.strict(id) {
            let want = if self.ctx.plan(id).reject {
                Outcome::Rejected
            } else {
                Outcome::Established
            };
            if outcome != want {
                self.ctx.anomaly(format!(
                    "lifecycle {id}: {outcome:?} on a perfect fabric, planned {want:?}"
                ));
            }
        }
        let _ = self.ctx.active_at.remove(&id);
        let _ = a.target;
        self.ctx.finished += 1;
    }

    fn poll_server(&mut self, n: usize) -> bool {
        let mut moved = false;
        // Keep GetConnectionRequest calls outstanding.
        {
            let node = &mut self.nodes[n];
            let server = &mut node.server;
            if let Some(listener) = server.listener.as_ref() {
                while server.gets.len() < server.want_gets {
                    let mut c = match server.process.adapter.create_connector() {
                        Ok(c) => c,
                        Err(e) => {
                            self.ctx.anomaly(format!("node {n}: create connector: {e}"));
                            break;
                        }
                    };
                    let op = listener.get_connection_request(&mut c);
                    let p = self.ctx.track(op, OpKind::GetRequest);
                    server.gets.push((c, p));
                    moved = true;
                }
            }
        }
        // Requests that arrived.
        let mut i = 0;
        while i < self.nodes[n].server.gets.len() {
            let done = {
                let (_, p) = &mut self.nodes[n].server.gets[i];
                p.op.poll_result().map(|r| (r, p.kind))
            };
            let Some((r, kind)) = done else {
                i += 1;
                continue;
            };
            moved = true;
            self.ctx.taken += 1;
            let (conn, _) = self.nodes[n].server.gets.swap_remove(i);
            match r {
                Ok(()) => self.on_request(n, conn),
                Err(e) => {
                    if !kind.allowed().contains(&e.status()) {
                        self.ctx
                            .anomaly(format!("node {n}: GetConnectionRequest {e}"));
                    }
                }
            }
        }
        // Passive connections, in id order (a cursor: they may end).
        let mut next = self.nodes[n].server.passive.keys().next().copied();
        while let Some(id) = next {
            while self.poll_passive(n, id) {}
            next = self.nodes[n]
                .server
                .passive
                .range(id + 1..)
                .next()
                .map(|(k, _)| *k);
        }
        moved
    }

    /// A request was handed to `conn`: check it, then accept or reject.
    fn on_request(&mut self, n: usize, conn: Connector<Dev<C>>) {
        let data = match conn.get_private_data() {
            Ok(d) => d,
            Err(e) => {
                self.ctx.anomaly(format!("node {n}: REQ private data: {e}"));
                return;
            }
        };
        let id = pdata_id(REQ_TAG, &data);
        if id.is_none() && data.iter().all(|b| *b == 0) && !self.ctx.strict_run() {
            // The peer aborted (its REJ replaced the REQ's data) before we
            // looked: nothing to accept. Dropping the connector releases it.
            self.ctx.requests_gone += 1;
            return;
        }
        let Some(id) = id.filter(|id| (*id as usize) < self.ctx.plans.len()) else {
            self.ctx.inv.pdata_mismatches += 1;
            self.ctx.anomaly(format!(
                "node {n}: a request without a known lifecycle id: {:02x?}",
                &data[..data.len().min(16)]
            ));
            return;
        };
        if self.ctx.served_by.get(&id) != Some(&n) || self.nodes[n].server.passive.contains_key(&id)
        {
            self.ctx.anomaly(format!(
                "lifecycle {id}: its request was delivered twice to node {n}"
            ));
            return;
        }
        let plan = self.ctx.plan(id);
        if plan.reject {
            if let Err(e) = conn.reject(&pdata(REJ_TAG, id))
                && e.status() != NtStatus::CONNECTION_ABORTED
            {
                self.ctx.anomaly(format!("lifecycle {id}: Reject {e}"));
            }
            return;
        }
        let qp = match self.nodes[n]
            .server
            .process
            .adapter
            .create_qp(&QpConfig::default())
        {
            Ok(q) => q,
            Err(e) => {
                self.ctx.anomaly(format!("lifecycle {id}: server QP: {e}"));
                return;
            }
        };
        let mut p = Passive {
            qp: Some(qp),
            conn: Some(conn),
            phase: PPhase::Deferring,
            main: None,
            notify: None,
            hold_over: false,
        };
        if let Some(wait) = plan.slow_accept {
            self.ctx.schedule(self.ctx.now + wait, Timer::Accept { id });
        } else {
            let _ = accept(&mut self.ctx, &mut p, id);
        }
        let _ = self.nodes[n].server.passive.insert(id, p);
    }

    fn poll_passive(&mut self, n: usize, id: u64) -> bool {
        let ctx = &mut self.ctx;
        let Some(p) = self.nodes[n].server.passive.get_mut(&id) else {
            return false;
        };
        let mut moved = false;
        let mut done = false;
        if let Some(r) = ctx.poll(&mut p.main, id) {
            moved = true;
            match p.phase {
                PPhase::Accepting => match (r, p.conn.as_ref()) {
                    (Ok(()), Some(c)) => {
                        let op = c.notify_disconnect();
                        p.notify = Some(ctx.track(op, OpKind::Notify));
                        p.phase = PPhase::Connected;
                        let wait = if ctx.plan(id).passive_disconnects {
                            ctx.plan(id).hold
                        } else {
                            PEER_TIMEOUT
                        };
                        ctx.schedule(ctx.now + wait, Timer::ServerHold { id });
                    }
                    _ => done = true,
                },
                PPhase::Disconnecting => done = p.notify.is_none(),
                PPhase::Connected | PPhase::Deferring => {}
            }
        }
        if p.phase == PPhase::Deferring && p.hold_over {
            p.hold_over = false;
            moved = true;
            done = !accept(ctx, p, id);
        }
        if let Some(_r) = ctx.poll(&mut p.notify, id) {
            moved = true;
            match p.phase {
                PPhase::Connected => p.hold_over = true,
                PPhase::Disconnecting => done = p.main.is_none(),
                PPhase::Accepting | PPhase::Deferring => {}
            }
        }
        if p.phase == PPhase::Connected && p.hold_over {
            p.hold_over = false;
            moved = true;
            match p.conn.as_ref() {
                Some(c) => {
                    let op = c.disconnect();
                    p.main = Some(ctx.track(op, OpKind::Disconnect));
                    p.phase = PPhase::Disconnecting;
                }
                None => done = true,
            }
        }
        if p.conn.is_none() && p.main.is_none() && p.notify.is_none() {
            done = true;
        }
        if done {
            self.end_passive(n, id);
            moved = true;
        }
        moved
    }

    fn end_passive(&mut self, n: usize, id: u64) {
        let Some(mut p) = self.nodes[n].server.passive.remove(&id) else {
            return;
        };
        drop(p.conn.take());
        drop(p.qp.take());
        for slot in [&mut p.main, &mut p.notify] {
            if slot.is_some() && self.ctx.poll(slot, id).is_none() {
                self.ctx.inv.stuck_requests += 1;
                self.ctx.anomaly(format!(
                    "lifecycle {id}: a passive request is still pending after release"
                ));
            }
        }
    }

    /// Tears everything down, drains the world, audits, reports.
    fn finish(
        mut self,
        stalled: bool,
        sim_end: Instant,
        elapsed: std::time::Duration,
        cpu: Option<u64>,
    ) -> SimReport {
        if stalled {
            let waiting = self.ctx.cfg.connections - self.ctx.finished;
            self.ctx.inv.stalled_lifecycles = waiting;
            self.ctx.inv.passive_left = self.passive_count() as u64;
            let mut notes = Vec::new();
            for (n, node) in self.nodes.iter().enumerate() {
                for a in node.workers.iter().filter_map(|w| w.life.as_ref()) {
                    notes.push(format!(
                        "stalled: lifecycle {} on node {n}: {:?}, waiting for {:?} and {:?}, plan {:?}",
                        a.id,
                        a.phase,
                        a.main.as_ref().map(|p| p.kind),
                        a.notify.as_ref().map(|p| p.kind),
                        self.ctx.plan(a.id)
                    ));
                }
                for (id, p) in &node.server.passive {
                    notes.push(format!(
                        "stalled: passive {id} on node {n}: {:?}, waiting for {:?} and {:?}, plan {:?}",
                        p.phase,
                        p.main.as_ref().map(|p| p.kind),
                        p.notify.as_ref().map(|p| p.kind),
                        self.ctx.plan(*id)
                    ));
                }
            }
            self.ctx.anomaly_samples.extend(notes);
        }
        // The servers stop: outstanding GetConnectionRequests and whatever
        // passive connection is still waiting are released; then every
        // process exits.
        let mut leftovers: Vec<Pend<C>> = Vec::new();
        for node in &mut self.nodes {
            for (_, p) in std::mem::take(&mut node.server.passive) {
                leftovers.extend(p.main);
                leftovers.extend(p.notify);
            }
            for (c, p) in std::mem::take(&mut node.server.gets) {
                drop(c);
                leftovers.push(p);
            }
            drop(node.server.listener.take());
            for w in &mut node.workers {
                if let Some(a) = w.life.take() {
                    leftovers.extend(a.main);
                    leftovers.extend(a.notify);
                }
                if let Some(p) = w.process.take() {
                    ndcm_provider::Device::close(&*p.dev);
                }
            }
            ndcm_provider::Device::close(&*node.server.process.dev);
        }
        // Closing the files completed every request still outstanding.
        for mut p in leftovers {
            match p.op.poll_result() {
                Some(r) => {
                    self.ctx.taken += 1;
                    let status = r.err().map_or(NtStatus::SUCCESS, NdError::status);
                    if !p.kind.allowed().contains(&status) {
                        self.ctx
                            .anomaly(format!("teardown: {:?} completed with {status:?}", p.kind));
                    }
                }
                None => self.ctx.inv.stuck_requests += 1,
            }
        }
        // Timewait, retransmissions of the last DREQs, ...
        let _ = self.world.run_until_idle(Duration::from_millis(3_600_000));
        let mut leaks = 0u64;
        let mut outstanding = 0u64;
        for node in &self.nodes {
            let l = node.driver.leaks();
            leaks +=
                (l.requests + l.queues + l.files + l.ndi.files + l.ndi.ports + l.cm_objects) as u64;
            outstanding += node.driver.framework().outstanding().len() as u64;
        }
        leaks += self.world.fabric().in_flight() as u64;
        self.ctx.inv.objects_leaked = leaks;
        self.ctx.inv.requests_not_completed_once = outstanding
            + self.ctx.issued.abs_diff(self.ctx.taken)
            + self
                .verifier
                .rules()
                .iter()
                .filter(|r| **r == ndcm_host::Rule::DoubleCompletion)
                .count() as u64;
        self.ctx.inv.rule_violations = self.verifier.violations().len() as u64;
        let duplicates_dropped = self
            .nodes
            .iter()
            .map(|n| n.driver.cm().duplicates_dropped())
            .try_fold(0u64, |acc, d| d.map(|d| acc + d));
        let counters = self
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let trace = if self.ctx.cfg.record {
            self.world.fabric().take_trace()
        } else {
            Vec::new()
        };
        let fabric = self.world.fabric().stats();
        let mut violations: Vec<String> = self
            .verifier
            .violations()
            .iter()
            .take(8)
            .map(|v| format!("{v:?}"))
            .collect();
        violations.extend(self.ctx.anomaly_samples.iter().cloned());
        SimReport::build(
            &self.ctx.cfg,
            super::report::Measured {
                outcomes: self.ctx.outcomes,
                latencies: std::mem::take(&mut self.ctx.latencies),
                invariants: self.ctx.inv,
                counters,
                fabric,
                duplicates_dropped,
                destroys: self.ctx.destroys,
                peer_timeouts: self.ctx.peer_timeouts,
                requests_gone: self.ctx.requests_gone,
                sim_time: Duration::from_nanos(sim_end.0),
                wall: elapsed,
                cpu_nanos: cpu,
                samples: violations,
            },
            trace,
        )
    }
}

/// CompleteConnect, or the end of a lifecycle whose connector is gone.
fn complete<C: SimCm>(ctx: &mut Ctx, a: &mut Active<C>) {
    match a.conn.as_ref() {
        Some(c) => {
            let op = c.complete_connect();
            a.main = Some(ctx.track(op, OpKind::CompleteConnect));
            a.phase = APhase::Completing;
        }
        None => a.outcome = Some(Outcome::Aborted),
    }
}

/// Accept with the passive connection's QP.
fn accept<C: SimCm>(ctx: &mut Ctx, p: &mut Passive<C>, id: u64) -> bool {
    match (p.conn.as_ref(), p.qp.as_ref()) {
        (Some(c), Some(qp)) => {
            let op = c.accept(qp, LIMITS, &pdata(REP_TAG, id));
            p.main = Some(ctx.track(op, OpKind::Accept));
            p.phase = PPhase::Accepting;
            true
        }
        _ => false,
    }
}

/// Checks the private data of the last REQ/REP/REJ received.
fn check_pdata<C: SimCm>(ctx: &mut Ctx, conn: Option<&Connector<Dev<C>>>, tag: &[u8; 4], id: u64) {
    let Some(c) = conn else { return };
    match c.get_private_data() {
        Ok(d) if pdata_id(tag, &d) == Some(id) => {}
        // Not ours but not anyone else's either: a REJ the CM sent by itself
        // (the peer destroyed, a timeout) replaced the data. Expected only
        // when something can abort the connection.
        Ok(d)
            if !ctx.strict(id)
                && [REQ_TAG, REP_TAG, REJ_TAG]
                    .iter()
                    .all(|t| pdata_id(t, &d).is_none()) => {}
        Ok(d) => {
            ctx.inv.pdata_mismatches += 1;
            ctx.anomaly(format!(
                "lifecycle {id}: wrong private data, expected {:?}: {:02x?}",
                String::from_utf8_lossy(tag),
                &d[..d.len().min(16)]
            ));
        }
        Err(e) => {
            // Released or aborted meanwhile is possible only after a destroy.
            if ctx.strict(id) {
                ctx.anomaly(format!("lifecycle {id}: GetPrivateData {e}"));
            }
        }
    }
}

fn open_process<C: SimCm>(driver: &Arc<HostDriver<C>>) -> NdResult<Process<C>> {
    let dev = Arc::new(HostDevice::open(driver));
    let adapter = Adapter::open(Arc::clone(&dev), 0)?;
    Ok(Process { dev, adapter })
}

impl<S: ndcm_host::Sys> SimCm for NdiPort<S> {
    fn duplicates_dropped(&self) -> Option<u64> {
        Some(self.manager().dropped())
    }
}

/// Runs `cfg` on the real CEP manager through the driver's CM adapter
/// (`ndcm_host::ndi_port::NdiPort`).
pub fn run(cfg: SimConfig, progress: &mut dyn FnMut(u64)) -> Result<SimReport, String> {
    let mut make =
        |platform, fabric, _i, gid| ndcm_host::ndi_port::on_fabric(platform, fabric, vec![gid]);
    let sim: Sim<NdiPort> = Sim::new(cfg, &mut make)?;
    Ok(sim.run(progress))
}
