//! A deterministic two-node harness in the manner of quinn-proto's `Pair`:
//! two managers, a queue of MADs between them and a virtual clock.
//!
//! It plays the caller's part of the sans-IO contract: it performs every
//! `Output` (queues MADs, keeps timers, runs callbacks that poll and
//! `format_event`, records destroy callbacks), and plays the consumer's part
//! of a listener (it `config`s each new connection a REQ creates). Tests and
//! benchmarks use it; it never sleeps and never uses real time.

use crate::cid::Cid;
use crate::error::CmError;
use crate::event::Released;
use crate::manager::{CepManager, CmEvent, Owner};
use crate::output::{Output, TimerOp};
use crate::params::{ListenParams, MadAddress, ManagerConfig, RepParams, ReqParams};
use crate::platform::{Duration, Instant, TestPlatform};
use crate::stats::Stats;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use ndcm_wire::mad::MAD_SIZE;
use ndcm_wire::{CmMad, Gid, PathRecord};

/// Which node.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    /// The active side in the helpers.
    A,
    /// The passive side in the helpers.
    B,
}

impl Side {
    /// The other node.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// A MAD in flight.
#[derive(Clone, Debug)]
pub struct InFlight {
    /// Destination node.
    pub to: Side,
    /// Source address (as the receiver sees it).
    pub from: MadAddress,
    /// The bytes.
    pub mad: [u8; MAD_SIZE],
}

impl InFlight {
    /// The parsed MAD (for assertions).
    pub fn parsed(&self) -> Option<CmMad> {
        CmMad::parse(&self.mad).ok()
    }
}

/// One node: a manager plus what its caller keeps.
pub struct Node {
    /// The manager.
    pub mgr: CepManager<TestPlatform>,
    /// The single owner used by the helpers.
    pub owner: Owner,
    /// This node's GID.
    pub gid: Gid,
    /// Armed timers.
    pub timers: BTreeMap<Cid, Instant>,
    /// Events formatted by callbacks, in order: (CEP the callback ran for,
    /// event).
    pub events: Vec<(Cid, CmEvent)>,
    /// Destroy callbacks run.
    pub released: Vec<Released>,
    /// `poll`/`format_event` errors the callbacks got, in order (CEP,
    /// error); the callback stopped at each and a new one delivered the
    /// rest. Empty unless a test breaks S1.
    pub errors: Vec<(Cid, CmError)>,
    /// `config` each new connection a REQ/SIDR_REQ creates (as NDI would).
    pub auto_config: bool,
}

impl Node {
    fn new(gid: Gid, config: ManagerConfig) -> Self {
        Node {
            mgr: CepManager::new(TestPlatform::new(), config),
            owner: Owner(1),
            gid,
            timers: BTreeMap::new(),
            events: Vec::new(),
            released: Vec::new(),
            errors: Vec::new(),
            auto_config: true,
        }
    }

    /// Takes the recorded events.
    pub fn take_events(&mut self) -> Vec<(Cid, CmEvent)> {
        core::mem::take(&mut self.events)
    }

    /// Live-object counters.
    pub fn stats(&self) -> Stats {
        self.mgr.stats()
    }
}

/// Two nodes, a MAD queue and a virtual clock.
pub struct Pair {
    /// Virtual time.
    pub now: Instant,
    /// Node A.
    pub a: Node,
    /// Node B.
    pub b: Node,
    /// MADs in flight, oldest first.
    pub queue: VecDeque<InFlight>,
    /// Every MAD delivered so far, in order (kept only if `log` is set).
    pub delivered: Vec<InFlight>,
    /// Record delivered MADs.
    pub log: bool,
}

/// The service ID the helpers listen on.
pub const SERVICE: u64 = 0x0000_0000_0106_1d2f;

impl Pair {
    /// Two nodes with the default configuration (distinct CA GUIDs).
    pub fn new() -> Self {
        let ca = ManagerConfig {
            ca_guid: 0xA,
            ..ManagerConfig::default()
        };
        let cb = ManagerConfig {
            ca_guid: 0xB,
            ..ManagerConfig::default()
        };
        Pair::with_configs(ca, cb)
    }

    /// Two nodes with the given configurations.
    pub fn with_configs(a: ManagerConfig, b: ManagerConfig) -> Self {
        Pair {
            now: Instant(1_000_000_000),
            a: Node::new(Gid::from_ipv4_octets([10, 0, 0, 1]), a),
            b: Node::new(Gid::from_ipv4_octets([10, 0, 0, 2]), b),
            queue: VecDeque::new(),
            delivered: Vec::new(),
            log: false,
        }
    }

    /// The node on `side`.
    pub fn node(&mut self, side: Side) -> &mut Node {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// The path from `side` to the other node.
    pub fn path(&self, side: Side) -> PathRecord {
        let (l, r) = match side {
            Side::A => (self.a.gid, self.b.gid),
            Side::B => (self.b.gid, self.a.gid),
        };
        PathRecord {
            local_lid: 0xFFFF,
            remote_lid: 0xFFFF,
            local_gid: l,
            remote_gid: r,
            hop_limit: 64,
            local_ack_timeout: 17,
            ..PathRecord::default()
        }
    }

    /// Performs an `Output` produced by `side`'s manager.
    pub fn process(&mut self, side: Side, mut out: Output) {
        loop {
            let from_gid = self.node(side).gid;
            for s in out.sends.drain(..) {
                self.queue.push_back(InFlight {
                    to: side.other(),
                    from: MadAddress {
                        gid: from_gid,
                        port: s.to.port.max(1),
                    },
                    mad: s.mad,
                });
            }
            let node = self.node(side);
            for t in out.timers.drain(..) {
                match t {
                    TimerOp::Arm { cid, deadline, .. } => {
                        node.timers.insert(cid, deadline);
                    }
                    TimerOp::Cancel { cid, .. } => {
                        node.timers.remove(&cid);
                    }
                }
            }
            node.released.append(&mut out.released);
            let deliveries = core::mem::take(&mut out.deliveries);
            if deliveries.is_empty() {
                break;
            }
            for d in deliveries {
                let mut new_cids = Vec::new();
                let node = self.node(side);
                let (mgr, events) = (&node.mgr, &mut node.events);
                // The callback polls until "none". A refused call (S1,
                // `NotCallbackThread`: counted in `Stats::scope_violations`,
                // the event kept queued) or an unformattable record ends
                // it: the manager then schedules a new callback for what is
                // left (`deliver`), and the error is recorded in `errors`.
                let errors = &mut node.errors;
                mgr.deliver(d, &mut out, |scope| {
                    loop {
                        let result = match mgr.poll(scope) {
                            Ok(Some(rec)) => mgr.format_event(scope, rec),
                            Ok(None) => break,
                            Err(e) => Err(e),
                        };
                        match result {
                            Ok(ev) => {
                                if let Some(c) = ev.new_cid {
                                    new_cids.push(c);
                                }
                                events.push((scope.cid(), ev));
                            }
                            Err(e) => {
                                errors.push((scope.cid(), e));
                                break;
                            }
                        }
                    }
                });
                if node.auto_config {
                    for c in new_cids {
                        let _ = node.mgr.config(node.owner, c, u64::from(c.0), &mut out);
                    }
                }
            }
        }
    }

    /// Delivers the oldest MAD in flight; false if none.
    pub fn deliver_one(&mut self) -> bool {
        let Some(m) = self.queue.pop_front() else {
            return false;
        };
        let now = self.now;
        let mut out = Output::new();
        self.node(m.to).mgr.receive(&m.mad, m.from, now, &mut out);
        if self.log {
            self.delivered.push(m.clone());
        }
        self.process(m.to, out);
        true
    }

    /// Delivers `mad` to `to` at once, as if sent by the other node.
    pub fn inject(&mut self, to: Side, mad: [u8; MAD_SIZE]) {
        let from = MadAddress {
            gid: self.node(to.other()).gid,
            port: 1,
        };
        self.queue.push_front(InFlight { to, from, mad });
        self.deliver_one();
    }

    /// Delivers MADs until none is in flight.
    pub fn drive(&mut self) {
        let mut guard = 0u32;
        while self.deliver_one() {
            guard += 1;
            if guard > 100_000 {
                break;
            }
        }
    }

    /// The earliest armed timer of either node.
    pub fn next_timer(&self) -> Option<Instant> {
        let a = self.a.timers.values().min().copied();
        let b = self.b.timers.values().min().copied();
        match (a, b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }
    }

    /// Fires every timer due at `now`.
    pub fn fire_due(&mut self) {
        for side in [Side::A, Side::B] {
            let now = self.now;
            let due: Vec<Cid> = self
                .node(side)
                .timers
                .iter()
                .filter(|&(_, &d)| d <= now)
                .map(|(&c, _)| c)
                .collect();
            for cid in due {
                self.node(side).timers.remove(&cid);
                let mut out = Output::new();
                self.node(side).mgr.on_timer(cid, now, &mut out);
                self.process(side, out);
            }
        }
    }

    /// Advances the clock by `d`, firing timers in deadline order and
    /// delivering MADs as they are produced.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        self.drive();
        while let Some(t) = self.next_timer() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.fire_due();
            self.drive();
        }
        self.now = end;
    }

    /// Runs until no MAD is in flight and no timer is armed (bounded).
    pub fn run_to_quiescence(&mut self) {
        self.drive();
        let mut guard = 0u32;
        while let Some(t) = self.next_timer() {
            self.now = self.now.max(t);
            self.fire_due();
            self.drive();
            guard += 1;
            if guard > 100_000 {
                break;
            }
        }
    }

    /// A listener on B for `service_id`.
    pub fn listen(&mut self, side: Side, service_id: u64) -> Cid {
        let node = self.node(side);
        let owner = node.owner;
        let mut out = Output::new();
        let cid = node.mgr.create(owner).unwrap_or(Cid(0));
        let _ = node.mgr.config(owner, cid, u64::from(cid.0), &mut out);
        let params = ListenParams {
            service_id,
            port: None,
            compare: None,
            backlog: 1024,
            sidr: true,
        };
        let _ = node.mgr.listen(owner, cid, &params);
        self.process(side, out);
        cid
    }

    /// Default REQ parameters from `side` to the other node.
    pub fn req_params(&self, side: Side, service_id: u64, qpn: u32) -> ReqParams {
        ReqParams::new(service_id, self.path(side), qpn)
    }

    /// Creates a connection on `side` and sends a REQ (does not drive).
    pub fn connect_with(&mut self, side: Side, params: &ReqParams) -> Cid {
        let now = self.now;
        let node = self.node(side);
        let owner = node.owner;
        let mut out = Output::new();
        let cid = node.mgr.create(owner).unwrap_or(Cid(0));
        let _ = node.mgr.config(owner, cid, u64::from(cid.0), &mut out);
        let _ = node.mgr.pre_req(owner, cid, params, now);
        let _ = node.mgr.send_req(owner, cid, now, &mut out);
        self.process(side, out);
        cid
    }

    /// A → B REQ for `SERVICE` with QPN `qpn` (does not drive).
    pub fn connect(&mut self, qpn: u32) -> Cid {
        let p = self.req_params(Side::A, SERVICE, qpn);
        self.connect_with(Side::A, &p)
    }

    /// The newest connection a REQ created on `side` (from the events).
    pub fn last_new_cid(&self, side: Side) -> Option<Cid> {
        let node = match side {
            Side::A => &self.a,
            Side::B => &self.b,
        };
        node.events.iter().rev().find_map(|(_, e)| e.new_cid)
    }

    /// pre_rep + send_rep on `side`.
    pub fn accept(&mut self, side: Side, cid: Cid, qpn: u32) {
        let now = self.now;
        let node = self.node(side);
        let owner = node.owner;
        let mut out = Output::new();
        let _ = node.mgr.pre_rep(owner, cid, &RepParams::new(qpn), now);
        let _ = node.mgr.send_rep(owner, cid, now, &mut out);
        self.process(side, out);
    }

    /// Runs an API call on `side` that produces output, then performs it.
    pub fn call<R>(
        &mut self,
        side: Side,
        f: impl FnOnce(&CepManager<TestPlatform>, Owner, Instant, &mut Output) -> R,
    ) -> R {
        let now = self.now;
        let node = self.node(side);
        let mut out = Output::new();
        let r = f(&node.mgr, node.owner, now, &mut out);
        self.process(side, out);
        r
    }

    /// A full connect: listen on B (if `listener` is None), REQ, REP, RTU.
    /// Returns (A's CID, B's CID).
    pub fn establish(&mut self, listener: Option<Cid>, qpn_a: u32, qpn_b: u32) -> (Cid, Cid) {
        if listener.is_none() {
            self.listen(Side::B, SERVICE);
        }
        let a = self.connect(qpn_a);
        self.drive();
        let b = self.last_new_cid(Side::B).unwrap_or(Cid(0));
        self.accept(Side::B, b, qpn_b);
        self.drive();
        self.call(Side::A, |m, o, now, out| m.rtu(o, a, &[], now, out).ok());
        self.drive();
        (a, b)
    }
}

impl Default for Pair {
    fn default() -> Self {
        Pair::new()
    }
}
