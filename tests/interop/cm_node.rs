//! ndcm's CM on the frame tunnel, driven in real time for the interop scenarios: a
//! `CepManager` on the host platform, its MADs carried by a `FrameTunnel`, its timers kept
//! by a pump thread, and a consumer policy per listener and per connection (accept, reject
//! with private data, MRA then accept, answer SIDR, disconnect first).
//!
//! Owns the caller's side of the CM's sans-IO contract (performing every `Output` after the
//! call returns) and a log of every event; it never builds a CM message itself.

#![allow(dead_code)] // each test file uses a different part

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration as StdDuration;

use ndcm_cm::platform::{Duration, Instant, Platform};
use ndcm_cm::{
    CepManager, Cid, CmEvent, EventKind, ListenParams, MadAddress, ManagerConfig, Output, Owner,
    RepParams, ReqParams, SidrRepParams, TimerOp,
};
use ndcm_host::HostPlatform;
use ndcm_host::clock::Clock;
use ndcm_host::tunnel::FrameTunnel;
use ndcm_host::verifier::Verifier;
use ndcm_wire::ip::{IpPrivateDataHeader, IpServiceId, PortSpace};
use ndcm_wire::{CmMessage, Gid, PathRecord};

/// What ndcm does with a REQ (or SIDR_REQ) that reaches a listener.
#[derive(Clone, Debug)]
pub enum Policy {
    /// REP; after the RTU, wait for the peer's DREQ (answered with DREP).
    Accept,
    /// REP; after the RTU, disconnect first (DREQ).
    AcceptThenDisconnect,
    /// REJ reason 28 (consumer defined) with this private data.
    Reject(Vec<u8>),
    /// MRA with this service timeout exponent, then REP after `delay`; ndcm disconnects
    /// after the RTU (ucmatose clients wait for the server to disconnect).
    MraThenAccept {
        service_timeout: u8,
        delay: StdDuration,
    },
    /// SIDR_REP status 0 with this QPN and Q_Key.
    SidrAnswer { qpn: u32, qkey: u32 },
}

/// What an active connection does after its REP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Active {
    /// RTU, then DREQ at once.
    RtuThenDisconnect,
    /// RTU, then wait for the peer's DREQ.
    Rtu,
}

/// One logged event.
#[derive(Clone, Debug)]
pub struct Logged {
    pub at: Instant,
    pub cid: Cid,
    pub event: CmEvent,
}

#[derive(Default)]
struct Book {
    log: Vec<Logged>,
    listen_policy: HashMap<Cid, Policy>,
    conn_policy: HashMap<Cid, Policy>,
    active: HashMap<Cid, Active>,
    /// (deadline, connection) REPs owed after an MRA.
    delayed_accepts: Vec<(Instant, Cid)>,
    errors: Vec<String>,
    next_qpn: u32,
    /// Logged events whose reaction has not run yet: waiters look at the log only when this
    /// is 0, so "REP arrived" also means "our RTU went out".
    unsettled: usize,
}

struct Inner {
    mgr: CepManager<HostPlatform>,
    tunnel: FrameTunnel,
    owner: Owner,
    timers: Mutex<BTreeMap<Cid, Instant>>,
    book: Mutex<Book>,
    changed: Condvar,
    stop: AtomicBool,
}

/// ndcm's CM stack on the tunnel.
pub struct CmNode {
    inner: Arc<Inner>,
    pump: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CmNode {
    /// Starts the CM on `tunnel` with a real clock and a strict verifier.
    pub fn start(tunnel: FrameTunnel) -> CmNode {
        let platform =
            HostPlatform::new(Arc::new(Verifier::default()), Arc::new(Clock::new_real()));
        let inner = Arc::new(Inner {
            mgr: CepManager::new(platform, ManagerConfig::default()),
            tunnel,
            owner: Owner(1),
            timers: Mutex::new(BTreeMap::new()),
            book: Mutex::new(Book {
                next_qpn: 0x100,
                ..Book::default()
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let worker = Arc::clone(&inner);
        let pump = thread::Builder::new()
            .name("cm pump".into())
            .spawn(move || worker.pump())
            .expect("pump thread");
        CmNode {
            inner,
            pump: Some(pump),
        }
    }

    pub fn tunnel(&self) -> &FrameTunnel {
        &self.inner.tunnel
    }

    pub fn manager(&self) -> &CepManager<HostPlatform> {
        &self.inner.mgr
    }

    pub fn now(&self) -> Instant {
        self.inner.mgr.platform().now()
    }

    /// Listens on an rdma_cm service (port space, port) with `policy`.
    pub fn listen(&self, space: PortSpace, port: u16, policy: Policy) -> Cid {
        let i = &self.inner;
        let mut out = Output::new();
        let cid = i.mgr.create(i.owner).expect("create");
        i.mgr
            .config(i.owner, cid, u64::from(cid.0), &mut out)
            .expect("config");
        let params = ListenParams {
            service_id: IpServiceId {
                port_space: space,
                port,
            }
            .service_id()
            .0,
            port: None,
            compare: None,
            backlog: 1024,
            sidr: space == PortSpace::Udp,
        };
        i.mgr.listen(i.owner, cid, &params).expect("listen");
        lock(&i.book).listen_policy.insert(cid, policy);
        i.process(out);
        cid
    }

    /// Sends a REQ to `peer`'s rdma_cm TCP `port`, as rdma_cm would (IPv4-mapped GIDs in the
    /// path, the IP private-data header before `private_data`).
    pub fn connect(&self, peer: Ipv4Addr, port: u16, then: Active, private_data: &[u8]) -> Cid {
        let i = &self.inner;
        let me = i.tunnel.ip();
        let path = PathRecord {
            local_lid: 0xFFFF,
            remote_lid: 0xFFFF,
            local_gid: Gid::from_ipv4(me),
            remote_gid: Gid::from_ipv4(peer),
            hop_limit: 64,
            local_ack_timeout: 19,
            ..PathRecord::default()
        };
        let qpn = i.fresh_qpn();
        let mut params = ReqParams::new(IpServiceId::tcp(port).service_id().0, path, qpn);
        params.responder_resources = 1;
        params.initiator_depth = 1;
        params.remote_cm_response_timeout = 20;
        params.local_cm_response_timeout = 20;
        params.starting_psn = (qpn * 7) & 0xFF_FFFF;
        let hdr = IpPrivateDataHeader {
            src_port: 40000u16.wrapping_add(qpn as u16),
            src_addr: IpAddr::V4(me),
            dst_addr: IpAddr::V4(peer),
        };
        params.private_data = hdr
            .req_private_data(private_data)
            .expect("consumer private data fits")
            .as_bytes()
            .to_vec();
        let mut out = Output::new();
        let now = self.now();
        let cid = i.mgr.create(i.owner).expect("create");
        i.mgr
            .config(i.owner, cid, u64::from(cid.0), &mut out)
            .expect("config");
        lock(&i.book).active.insert(cid, then);
        i.mgr.pre_req(i.owner, cid, &params, now).expect("pre_req");
        i.mgr
            .send_req(i.owner, cid, now, &mut out)
            .expect("send_req");
        i.process(out);
        cid
    }

    /// Sends a DREQ on an established connection.
    pub fn disconnect(&self, cid: Cid) {
        let i = &self.inner;
        let mut out = Output::new();
        if let Err(e) = i.mgr.dreq(i.owner, cid, &[], self.now(), &mut out) {
            lock(&i.book).errors.push(format!("dreq {cid:?}: {e:?}"));
        }
        i.process(out);
    }

    /// Waits until `pred` holds for the log, or `timeout`; returns whether it held.
    pub fn wait_for(&self, timeout: StdDuration, mut pred: impl FnMut(&[Logged]) -> bool) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut book = lock(&self.inner.book);
        loop {
            if book.unsettled == 0 && pred(&book.log) {
                return true;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            book = self
                .inner
                .changed
                .wait_timeout(book, (deadline - now).min(StdDuration::from_millis(50)))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Destroys every connection and listener (as closing the file would) and waits up to
    /// `timeout` for the manager to hold nothing (timewait included); returns its counters.
    pub fn shutdown(&self, timeout: StdDuration) -> ndcm_cm::Stats {
        let i = &self.inner;
        let mut out = Output::new();
        i.mgr.destroy_owner(i.owner, self.now(), &mut out);
        i.process(out);
        let deadline = std::time::Instant::now() + timeout;
        while !i.mgr.stats().is_quiescent() && std::time::Instant::now() < deadline {
            thread::sleep(StdDuration::from_millis(50));
        }
        i.mgr.stats()
    }

    /// A copy of the event log.
    pub fn log(&self) -> Vec<Logged> {
        lock(&self.inner.book).log.clone()
    }

    /// Errors the policies met (CM calls that failed).
    pub fn errors(&self) -> Vec<String> {
        lock(&self.inner.book).errors.clone()
    }

    /// Events of one connection, in order.
    pub fn kinds_of(&self, cid: Cid) -> Vec<EventKind> {
        lock(&self.inner.book)
            .log
            .iter()
            .filter(|l| l.cid == cid)
            .map(|l| l.event.kind)
            .collect()
    }

    /// Connections a listener created (from its REQ/SIDR_REQ events).
    pub fn children_of(&self, listener: Cid) -> Vec<Cid> {
        lock(&self.inner.book)
            .log
            .iter()
            .filter(|l| l.cid == listener)
            .filter_map(|l| l.event.new_cid)
            .collect()
    }
}

impl Drop for CmNode {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        if let Some(p) = self.pump.take() {
            let _ = p.join();
        }
    }
}

impl Inner {
    fn fresh_qpn(&self) -> u32 {
        let mut b = lock(&self.book);
        b.next_qpn += 1;
        b.next_qpn
    }

    fn now(&self) -> Instant {
        self.mgr.platform().now()
    }

    fn pump(&self) {
        while !self.stop.load(Ordering::Relaxed) {
            let now = self.now();
            let next = lock(&self.timers).values().min().copied();
            let wait_ns = next
                .map_or(10_000_000, |t| t.0.saturating_sub(now.0))
                .clamp(100_000, 10_000_000);
            if let Some(m) = self.tunnel.recv_timeout(StdDuration::from_nanos(wait_ns)) {
                let mut out = Output::new();
                let from = MadAddress {
                    gid: m.source_gid,
                    port: 1,
                };
                self.mgr.receive(&m.mad, from, self.now(), &mut out);
                self.process(out);
            }
            self.fire_timers();
            self.run_delayed_accepts();
        }
    }

    fn fire_timers(&self) {
        let now = self.now();
        let due: Vec<Cid> = {
            let mut t = lock(&self.timers);
            let due: Vec<Cid> = t
                .iter()
                .filter(|&(_, &d)| d <= now)
                .map(|(&c, _)| c)
                .collect();
            for c in &due {
                t.remove(c);
            }
            due
        };
        for cid in due {
            let mut out = Output::new();
            self.mgr.on_timer(cid, now, &mut out);
            self.process(out);
        }
    }

    fn run_delayed_accepts(&self) {
        let now = self.now();
        let due: Vec<Cid> = {
            let mut b = lock(&self.book);
            let (due, later): (Vec<_>, Vec<_>) =
                b.delayed_accepts.drain(..).partition(|(d, _)| *d <= now);
            b.delayed_accepts = later;
            due.into_iter().map(|(_, c)| c).collect()
        };
        for cid in due {
            self.accept(cid);
        }
    }

    /// Performs an output: MADs to the tunnel, timers to the map, callbacks run here (poll,
    /// format_event), then the policies react to the events they produced.
    fn process(&self, mut out: Output) {
        let mut events = Vec::new();
        loop {
            for s in out.sends.drain(..) {
                if let Err(e) = self.tunnel.send_to_gid(&s.mad, s.to.gid) {
                    lock(&self.book).errors.push(format!("send: {e}"));
                }
            }
            {
                let mut t = lock(&self.timers);
                for op in out.timers.drain(..) {
                    match op {
                        TimerOp::Arm { cid, deadline, .. } => {
                            t.insert(cid, deadline);
                        }
                        TimerOp::Cancel { cid, .. } => {
                            t.remove(&cid);
                        }
                    }
                }
            }
            out.released.clear();
            let deliveries = std::mem::take(&mut out.deliveries);
            if deliveries.is_empty() {
                break;
            }
            for d in deliveries {
                let mgr = &self.mgr;
                mgr.deliver(d, &mut out, |scope| {
                    while let Ok(Some(rec)) = mgr.poll(scope) {
                        match mgr.format_event(scope, rec) {
                            Ok(ev) => events.push((scope.cid(), ev)),
                            Err(e) => {
                                // The record stays queued (S1); a new
                                // callback delivers it after this one.
                                lock(&self.book).errors.push(format!("format_event: {e:?}"));
                                break;
                            }
                        }
                    }
                });
            }
        }
        let at = self.now();
        {
            let mut b = lock(&self.book);
            b.unsettled += events.len();
            for (cid, event) in &events {
                b.log.push(Logged {
                    at,
                    cid: *cid,
                    event: event.clone(),
                });
            }
        }
        for (cid, event) in events {
            self.react(cid, &event);
            lock(&self.book).unsettled -= 1;
            self.changed.notify_all();
        }
    }

    fn record_error(&self, what: &str, cid: Cid, e: impl std::fmt::Debug) {
        lock(&self.book)
            .errors
            .push(format!("{what} {cid:?}: {e:?}"));
    }

    /// The consumer's reaction to one event (what ND / rdma_cm users would do).
    fn react(&self, cid: Cid, ev: &CmEvent) {
        let now = self.now();
        let mut out = Output::new();
        match ev.kind {
            EventKind::ReqReceived | EventKind::SidrReqReceived => {
                let Some(new) = ev.new_cid else { return };
                if let Err(e) = self.mgr.config(self.owner, new, u64::from(new.0), &mut out) {
                    self.record_error("config", new, e);
                }
                let policy = lock(&self.book).listen_policy.get(&cid).cloned();
                let Some(policy) = policy else { return };
                lock(&self.book).conn_policy.insert(new, policy.clone());
                match policy {
                    Policy::Accept | Policy::AcceptThenDisconnect => {
                        self.process(out);
                        self.accept(new);
                        return;
                    }
                    Policy::Reject(pd) => {
                        if let Err(e) = self.mgr.rej(self.owner, new, 28, &[], &pd, now, &mut out) {
                            self.record_error("rej", new, e);
                        }
                    }
                    Policy::MraThenAccept {
                        service_timeout,
                        delay,
                    } => {
                        if let Err(e) =
                            self.mgr
                                .mra(self.owner, new, service_timeout, &[], now, &mut out)
                        {
                            self.record_error("mra", new, e);
                        }
                        let at = now + Duration::from_nanos(delay.as_nanos() as u64);
                        lock(&self.book).delayed_accepts.push((at, new));
                    }
                    Policy::SidrAnswer { qpn, qkey } => {
                        let params = SidrRepParams {
                            status: 0,
                            qpn,
                            qkey,
                            info: Vec::new(),
                            private_data: Vec::new(),
                        };
                        if let Err(e) = self.mgr.sidr_rep(self.owner, new, &params, now, &mut out) {
                            self.record_error("sidr_rep", new, e);
                        }
                    }
                }
            }
            EventKind::RepReceived => {
                let then = lock(&self.book).active.get(&cid).copied();
                if let Err(e) = self.mgr.rtu(self.owner, cid, &[], now, &mut out) {
                    self.record_error("rtu", cid, e);
                }
                if then == Some(Active::RtuThenDisconnect)
                    && let Err(e) = self.mgr.dreq(self.owner, cid, &[], now, &mut out)
                {
                    self.record_error("dreq", cid, e);
                }
            }
            EventKind::RtuReceived => {
                let policy = lock(&self.book).conn_policy.get(&cid).cloned();
                if matches!(
                    policy,
                    Some(Policy::AcceptThenDisconnect | Policy::MraThenAccept { .. })
                ) && let Err(e) = self.mgr.dreq(self.owner, cid, &[], now, &mut out)
                {
                    self.record_error("dreq", cid, e);
                }
            }
            EventKind::DreqReceived => {
                if let Err(e) = self.mgr.drep(self.owner, cid, &[], now, &mut out) {
                    self.record_error("drep", cid, e);
                }
            }
            _ => {}
        }
        self.process(out);
    }

    /// REP for a connection a REQ created, with the resources its REQ offered.
    fn accept(&self, cid: Cid) {
        let now = self.now();
        let mut params = RepParams::new(self.fresh_qpn());
        params.starting_psn = (params.local_qpn * 13) & 0xFF_FFFF;
        if let Ok(p) = self.mgr.get_pdata(self.owner, cid) {
            params.responder_resources = p.responder_resources;
            params.initiator_depth = p.initiator_depth;
        }
        let mut out = Output::new();
        if let Err(e) = self.mgr.pre_rep(self.owner, cid, &params, now) {
            self.record_error("pre_rep", cid, e);
        } else if let Err(e) = self.mgr.send_rep(self.owner, cid, now, &mut out) {
            self.record_error("send_rep", cid, e);
        }
        self.process(out);
    }
}

/// The REJ reason of a REJ event, if it is one.
pub fn rej_reason(ev: &CmEvent) -> Option<u16> {
    match ev.mad.as_ref()?.message {
        CmMessage::Rej(r) => Some(r.reason.code()),
        _ => None,
    }
}
