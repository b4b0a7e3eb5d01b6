//! [`CmPort`] over the real CEP manager (`ndcm_cm::CepManager`): NDI's
//! narrow CM interface adapted to the CM-only interface of CM.md §10.
//!
//! This module owns the translation in both directions: NDI requests become
//! `create`/`config`/`listen`/`pre_req`+`send_req`/`pre_rep`+`send_rep`/…
//! calls (building the rdma_cm REQ header and the RoCE path from the
//! addresses the dispatcher validated, WIRE.md §7), and delivered CM events
//! (`deliver` → `poll` → `format_event`, inside the callback with its
//! reference, S1) become [`CmEvent`]s handed to the event sink, normally
//! `Ndi::on_cm_event`. It keeps the manager's armed deadlines (see `Timers`) for the
//! platform to fire, and hands MADs to send to the MAD sink (the host's
//! fabric, or `Ndi::deliver_outbound_mad` for the MAD agent IOCTLs).
//!
//! Events are routed by what the manager's delivery carries (the CEP's
//! owner and the context given at `config`), and every call on a
//! connection names the file that owns it, which the manager checks: the
//! adapter keeps no owner table of its own.
//!
//! It must never call a sink while holding one of its own locks or the
//! manager lock: every sink call happens in `perform`, after the dispatcher
//! released the file lock.

use crate::NdiError;
use crate::abi::NdcmMadAddress;
use crate::cm_port::{
    AcceptSpec, CmEvent, CmPort, ConnectSpec, IpAddr, IpEndpoint, ListenSpec, PortSpace, ReqInfo,
};
use crate::requests::QueueOwner;
use alloc::boxed::Box;
use alloc::collections::BinaryHeap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ndcm_cm::platform::{Duration, Instant, Platform, QueuedSpinLock};
use ndcm_cm::{
    CepManager, Cid, CmError, CompareData, Delivery, EventKind, ListenParams, MadAddress, Outgoing,
    Output, Owner, RepParams, ReqParams, TimerOp,
};
use ndcm_wire::ip::{IpPrivateDataHeader, IpServiceId};
use ndcm_wire::{CmMessage, Gid, PathRecord};
use once_cell::race::OnceBox;

/// Where CM events go (normally `Ndi::on_cm_event`).
pub type EventSink = Arc<dyn Fn(QueueOwner, CmEvent) + Send + Sync>;
/// Where MADs to send go; `false` when the MAD could not be taken (the MAD
/// agent had no request pending): it is dropped like a lost packet and the
/// CM's retries cover it, and the adapter counts it (`unsent`).
pub type MadSink = Arc<dyn Fn(&Outgoing) -> bool + Send + Sync>;

struct Tables {
    timers: Timers,
    pending: Output,
    /// Emptied outputs kept with their allocations (a lookaside list), so
    /// that the sends, timer operations and callbacks of a call need no
    /// pool allocation at DISPATCH_LEVEL once the adapter is warm.
    spare: Vec<Output>,
}

/// How many emptied outputs the adapter keeps.
const SPARE_OUTPUTS: usize = 16;
/// An output whose lists grew beyond this many entries (a file closing
/// with thousands of connections) is freed rather than kept.
const SPARE_CAPACITY: usize = 64;

/// The effects of NDI calls on the adapter: an output drawn from the
/// adapter's spare list when a call first produces something, performed
/// and given back by `perform`. Calls that touch no connection cost
/// nothing here.
#[derive(Debug, Default)]
pub struct Deferred(Option<Output>);

impl From<Output> for Deferred {
    /// Work produced by a direct call on the manager, to be performed.
    fn from(out: Output) -> Self {
        Deferred(Some(out))
    }
}

impl Deferred {
    /// True when no call left anything to perform.
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(Output::is_empty)
    }
}

/// The real CM behind NDI.
pub struct ManagerPort<P: Platform> {
    manager: CepManager<P>,
    tables: P::Lock<Tables>,
    /// Set (under the tables lock) when `pending` has work, so that the
    /// many `perform` calls with nothing to do skip the lock. A thread that
    /// parks work always runs `process` itself afterwards, so a stale
    /// `false` seen by another thread loses nothing.
    parked: AtomicBool,
    /// The sinks, bound once when the device is built and read without a
    /// lock or a reference count afterwards.
    events: OnceBox<EventSink>,
    mads: OnceBox<MadSink>,
    /// MADs the sink did not take, or sent before a sink was bound.
    unsent: AtomicU64,
    local_port: u8,
}

fn cm_error(e: CmError) -> NdiError {
    match e {
        CmError::NotFound => NdiError::InvalidHandle,
        CmError::InvalidState | CmError::InTimewait => NdiError::InvalidDeviceState,
        CmError::PrivateDataTooLong => NdiError::PrivateDataTooLong,
        CmError::InvalidParameter => NdiError::InvalidParameter,
        CmError::NoResources => NdiError::NoResources,
        CmError::DuplicateListen => NdiError::SharingViolation,
        // The dispatcher never configures twice nor asks for LAP; the
        // scope and event errors stay inside the adapter's callback (S1).
        CmError::AlreadyConfigured
        | CmError::NotSupported
        | CmError::NotCallbackThread
        | CmError::MalformedEvent => NdiError::Unsuccessful,
    }
}

fn gid(addr: &IpAddr) -> Gid {
    match addr {
        IpAddr::V4(a) => Gid::from_ipv4_octets(*a),
        IpAddr::V6(a) => Gid(*a),
    }
}

fn core_ip(addr: &IpAddr) -> core::net::IpAddr {
    match addr {
        IpAddr::V4(a) => core::net::IpAddr::V4((*a).into()),
        IpAddr::V6(a) => core::net::IpAddr::V6((*a).into()),
    }
}

fn ndi_ip(addr: core::net::IpAddr) -> IpAddr {
    match addr {
        core::net::IpAddr::V4(a) => IpAddr::V4(a.octets()),
        core::net::IpAddr::V6(a) => IpAddr::V6(a.octets()),
    }
}

fn service(space: PortSpace, port: u16) -> u64 {
    let mut s = IpServiceId::tcp(port);
    if space == PortSpace::Udp {
        s.port_space = ndcm_wire::ip::PortSpace::Udp;
    }
    s.service_id().0
}

/// The RoCE path between two addresses (routed: LIDs 0xFFFF).
fn roce_path(local: &IpAddr, remote: &IpAddr) -> PathRecord {
    PathRecord {
        local_lid: 0xFFFF,
        remote_lid: 0xFFFF,
        local_gid: gid(local),
        remote_gid: gid(remote),
        hop_limit: 64,
        local_ack_timeout: 17,
        ..PathRecord::default()
    }
}

/// An incoming REQ in NDI's terms; `None` if it carries no valid rdma_cm
/// header (the listener then rejects it).
fn req_info(mad: &ndcm_wire::CmMad) -> Option<ReqInfo> {
    let CmMessage::Req(req) = &mad.message else {
        return None;
    };
    let pdata = req.private_data.as_bytes();
    let header = IpPrivateDataHeader::parse(pdata).ok()?;
    let port = IpServiceId::from_service_id(req.service_id)?.port;
    let mut consumer = [0u8; 56];
    consumer.copy_from_slice(pdata.get(36..92)?);
    Some(ReqInfo {
        local: IpEndpoint {
            addr: ndi_ip(header.dst_addr),
            port,
        },
        remote: IpEndpoint {
            addr: ndi_ip(header.src_addr),
            port: header.src_port,
        },
        responder_resources: req.responder_resources,
        initiator_depth: req.initiator_depth,
        private_data: consumer,
    })
}

/// The armed timers. Outputs of different calls are performed on
/// different threads, so their timer operations arrive here out of order;
/// every arming has an id, ids grow in the manager's order and only a
/// CID's newest arming matters to the manager (`TimerOp`). So per CID index
/// this keeps the newest arming id seen and whether it is still armed: an
/// older Arm arriving late is superseded, a Cancel removes exactly the
/// arming it names and never a newer one (a CEP waiting for its timewait
/// timer is never left without it), and a Cancel arriving before its Arm
/// makes that Arm dead on arrival. An index is reused only after its CEP is
/// freed, so the larger id at an index is the newer CEP's.
///
/// The deadlines are a min-heap with lazy deletion: dead entries are
/// dropped when they reach the top, and the heap is compacted when they
/// outnumber the live ones, so memory follows the live timers.
#[derive(Default)]
struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u32, u64)>>,
    /// By CID index: (CID, newest arming id seen, still armed).
    newest: Vec<(u32, u64, bool)>,
    live: usize,
    /// The largest id applied.
    last_id: u64,
}

impl Timers {
    fn apply(&mut self, op: TimerOp) {
        let (cid, id, arm) = match op {
            TimerOp::Arm { cid, deadline, id } => (cid, id, Some(deadline)),
            TimerOp::Cancel { cid, id, .. } => (cid, id, None),
        };
        self.last_id = self.last_id.max(id);
        let i = cid.index() as usize;
        if self.newest.len() <= i {
            self.newest.resize(i + 1, (0, 0, false));
        }
        let Some(slot) = self.newest.get_mut(i) else {
            return;
        };
        let same = slot.0 == cid.0;
        // Older than what this index has seen: superseded (or a freed
        // connection's). The same id again: only the Cancel of the live
        // arming means anything; an Arm whose Cancel came first is dead.
        if id < slot.1 || (id == slot.1 && !(same && slot.2 && arm.is_none())) {
            return;
        }
        // This operation replaces the index's newest arming, whoever's it
        // was: it stops counting as live.
        if slot.2 {
            self.live = self.live.saturating_sub(1);
        }
        *slot = (cid.0, id, arm.is_some());
        if let Some(deadline) = arm {
            self.heap.push(Reverse((deadline, cid.0, id)));
            self.live += 1;
        }
        if self.heap.len() > 2 * self.live + 64 {
            let newest = &self.newest;
            self.heap.retain(|Reverse(e)| is_live(newest, *e));
        }
    }

    /// Drops dead entries from the top.
    fn prune(&mut self) {
        while let Some(Reverse(top)) = self.heap.peek() {
            if is_live(&self.newest, *top) {
                return;
            }
            let _ = self.heap.pop();
        }
    }

    /// Removes and returns one CID whose deadline is at or before `now`,
    /// armed with an id at most `horizon`.
    fn pop_due(&mut self, now: Instant, horizon: u64) -> Option<u32> {
        self.prune();
        let Reverse((deadline, cid, id)) = *self.heap.peek()?;
        if deadline > now || id > horizon {
            return None;
        }
        let _ = self.heap.pop();
        // Fired: this arming is used up.
        if let Some(slot) = self.newest.get_mut(Cid(cid).index() as usize) {
            slot.2 = false;
        }
        self.live = self.live.saturating_sub(1);
        Some(cid)
    }

    fn next(&mut self) -> Option<Instant> {
        self.prune();
        self.heap.peek().map(|Reverse((d, _, _))| *d)
    }
}

/// True when `(deadline, cid, id)` is its CID's newest arming, still armed.
fn is_live(newest: &[(u32, u64, bool)], (_, cid, id): (Instant, u32, u64)) -> bool {
    newest
        .get(Cid(cid).index() as usize)
        .is_some_and(|s| *s == (cid, id, true))
}

/// A starting PSN (CM.md §5.6: random, 24 bits): the time, the CID and the
/// QPN mixed by the splitmix64 finaliser, so that successive connections of
/// one QP start far apart and late packets of an earlier connection do not
/// fall into the new one's window. Not a secret: the peer learns it from the
/// REQ or REP anyway.
fn starting_psn(now: Instant, cid: Cid, qpn: u32) -> u32 {
    let mut x = now.0 ^ (u64::from(cid.0) << 32) ^ u64::from(qpn);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((x ^ (x >> 31)) & 0x00FF_FFFF) as u32
}

/// Moves everything in `from` to the end of `to`.
#[inline]
fn append(to: &mut Output, from: &mut Output) {
    to.sends.append(&mut from.sends);
    to.timers.append(&mut from.timers);
    to.deliveries.append(&mut from.deliveries);
    to.released.append(&mut from.released);
}

impl<P: Platform> ManagerPort<P> {
    /// Adapts `manager`; `local_port` is the HCA port MADs go out of.
    pub fn new(manager: CepManager<P>, local_port: u8) -> Self {
        let tables = manager.platform().new_lock(Tables {
            timers: Timers::default(),
            pending: Output::new(),
            spare: Vec::new(),
        });
        ManagerPort {
            manager,
            tables,
            parked: AtomicBool::new(false),
            events: OnceBox::new(),
            mads: OnceBox::new(),
            unsent: AtomicU64::new(0),
            local_port,
        }
    }

    /// The manager.
    pub fn manager(&self) -> &CepManager<P> {
        &self.manager
    }

    /// Routes CM events, once, when the device is built (before any
    /// connection exists). A second binding is refused: `false`.
    pub fn bind_events(&self, sink: EventSink) -> bool {
        self.events.set(Box::new(sink)).is_ok()
    }

    /// Routes MADs to send, once, like `bind_events`.
    pub fn bind_mads(&self, sink: MadSink) -> bool {
        self.mads.set(Box::new(sink)).is_ok()
    }

    /// A MAD from the wire.
    pub fn receive(&self, from: MadAddress, mad: &[u8]) {
        let mut out = self.output();
        self.manager
            .receive(mad, from, self.manager.platform().now(), &mut out);
        self.process(out);
    }

    /// Fires every timer due at `now`, one at a time, allocating nothing
    /// (this runs in the timer DPC). A timer armed while firing (an id
    /// above the last one applied before) waits for the next call even if
    /// it is already due, so the loop ends.
    pub fn fire_timers(&self, now: Instant) {
        let horizon = self.tables.with(|t| t.timers.last_id);
        while let Some(cid) = self.tables.with(|t| t.timers.pop_due(now, horizon)) {
            let mut out = self.output();
            self.manager.on_timer(Cid(cid), now, &mut out);
            self.process(out);
        }
    }

    /// The earliest armed timer.
    pub fn next_timer(&self) -> Option<Instant> {
        self.tables.with(|t| t.timers.next())
    }

    /// MADs dropped because the sink did not take them (or none was
    /// bound).
    pub fn unsent(&self) -> u64 {
        self.unsent.load(Ordering::Relaxed)
    }

    /// CEPs alive in the manager (leak accounting).
    pub fn live_objects(&self) -> usize {
        usize::try_from(self.manager.stats().ceps).unwrap_or(usize::MAX)
    }

    fn now(&self) -> Instant {
        self.manager.platform().now()
    }

    /// An empty output, from the spare list if it has one.
    fn output(&self) -> Output {
        self.tables.with(|t| t.spare.pop()).unwrap_or_default()
    }

    /// The output of `fx`, drawn from the spare list on first use.
    fn out<'a>(&self, fx: &'a mut Deferred) -> &'a mut Output {
        fx.0.get_or_insert_with(|| self.output())
    }

    /// Keeps a performed (empty) output for reuse, unless the list is full
    /// or the output grew large.
    fn recycle(&self, out: Output) {
        let small = out.sends.capacity() <= SPARE_CAPACITY
            && out.timers.capacity() <= SPARE_CAPACITY
            && out.deliveries.capacity() <= SPARE_CAPACITY
            && out.released.capacity() <= SPARE_CAPACITY;
        if !small || !out.is_empty() {
            return;
        }
        self.tables.with(|t| {
            if t.spare.len() < SPARE_OUTPUTS {
                t.spare.push(out);
            }
        });
    }

    /// Performs an output: sends, timers, callbacks (which deliver events
    /// to the sink), until nothing is left. Callbacks run in the order the
    /// manager scheduled them; the sends and timers a callback produces
    /// (and work parked in `pending` by calls without an output parameter)
    /// are performed before the next callback runs.
    fn process(&self, mut out: Output) {
        loop {
            self.flush(&mut out);
            if out.deliveries.is_empty() {
                if self.parked.load(Ordering::Acquire) {
                    continue;
                }
                self.recycle(out);
                return;
            }
            let mut batch = core::mem::take(&mut out.deliveries);
            for d in batch.drain(..) {
                self.callback(d, &mut out);
                self.flush(&mut out);
            }
            // Keep the allocation for the next callbacks.
            if out.deliveries.is_empty() {
                out.deliveries = batch;
            }
        }
    }

    /// Takes in parked work, applies timer operations (under the tables
    /// lock, only when there is something to do) and sends the MADs.
    fn flush(&self, out: &mut Output) {
        if !out.timers.is_empty() || self.parked.load(Ordering::Acquire) {
            self.tables.with(|t| {
                if self.parked.swap(false, Ordering::Relaxed) {
                    append(out, &mut t.pending);
                }
                // In any order: see `Timers`.
                out.timers.drain(..).for_each(|op| t.timers.apply(op));
            });
        }
        // Destroy callbacks: NDI keeps no per-CEP memory to free.
        out.released.clear();
        let sink = self.mads.get();
        let taken = out
            .sends
            .iter()
            .filter(|s| sink.is_some_and(|send| send(s)))
            .count();
        let dropped = out.sends.len() - taken;
        if dropped > 0 {
            let _ = self.unsent.fetch_add(dropped as u64, Ordering::Relaxed);
        }
        out.sends.clear();
    }

    /// Runs one scheduled callback: polls the CEP's events and hands each
    /// to the owner the delivery names (S1: inside the callback, with its
    /// reference).
    ///
    /// An error from `poll` or `format_event` ends the callback, never
    /// skips an event: on `NotCallbackThread` (S1; impossible here unless
    /// the platform's thread identity is wrong, since both calls run in
    /// this callback's frame) the manager has kept the event queued and
    /// counted the refusal (`Stats::scope_violations`); on `MalformedEvent`
    /// (a record the manager did not make) the record is gone. Either way
    /// the events left are not lost: `deliver` sees the callback stopped
    /// before "none" and emits a new delivery into `out`, which `process`
    /// runs next.
    fn callback(&self, d: Delivery, out: &mut Output) {
        let owner = QueueOwner {
            instance: d.owner.0,
            object: d.context,
        };
        let sink = self.events.get();
        self.manager.deliver(d, out, |scope| {
            while let Ok(Some(record)) = self.manager.poll(scope) {
                let Ok(ev) = self.manager.format_event(scope, record) else {
                    break;
                };
                if let Some(sink) = sink
                    && let Some(e) = self.translate(owner, &ev)
                {
                    sink(owner, e);
                }
            }
        });
    }

    /// Leaves `out` for the next `process` (calls without an output
    /// parameter; callbacks that create work for another CEP).
    fn park(&self, mut out: Output) {
        if out.is_empty() {
            return;
        }
        self.tables.with(|t| {
            append(&mut t.pending, &mut out);
            self.parked.store(true, Ordering::Release);
        });
    }

    fn translate(&self, owner: QueueOwner, ev: &ndcm_cm::CmEvent) -> Option<CmEvent> {
        let mad = ev.mad.as_ref();
        Some(match ev.kind {
            EventKind::ReqReceived => {
                // The new connection belongs to the listener's file (the
                // manager gave it the listener's owner) until NDI adopts it
                // for a connector; it has no callbacks before that.
                let cid = ev.new_cid?;
                match mad.and_then(req_info) {
                    Some(req) => CmEvent::ReqReceived { cid, req },
                    None => {
                        let mut out = Output::new();
                        let now = self.now();
                        let o = Owner(owner.instance);
                        let _ = self.manager.rej(o, cid, 28, &[], &[], now, &mut out);
                        let _ = self.manager.destroy(o, cid, false, now, &mut out);
                        self.park(out);
                        return None;
                    }
                }
            }
            EventKind::RepReceived => {
                let Some(CmMessage::Rep(rep)) = mad.map(|m| &m.message) else {
                    return None;
                };
                CmEvent::RepReceived {
                    responder_resources: rep.responder_resources,
                    initiator_depth: rep.initiator_depth,
                    private_data: *rep.private_data.as_bytes(),
                }
            }
            // A synthetic RTU (CM.md §4 `established`: the QP saw data
            // before the RTU) carries no MAD; NDI names it apart.
            EventKind::RtuReceived if mad.is_none() => CmEvent::Established,
            EventKind::RtuReceived => CmEvent::RtuReceived,
            EventKind::RejReceived => {
                let Some(CmMessage::Rej(rej)) = mad.map(|m| &m.message) else {
                    return None;
                };
                CmEvent::RejReceived {
                    reason: rej.reason.code(),
                    private_data: *rej.private_data.as_bytes(),
                }
            }
            EventKind::DreqReceived => CmEvent::DreqReceived,
            EventKind::DrepReceived => CmEvent::DrepReceived,
            EventKind::ReqError => CmEvent::ReqTimeout,
            EventKind::RepError => CmEvent::RepTimeout,
            EventKind::DreqError => CmEvent::DreqTimeout,
            EventKind::TimewaitExit => CmEvent::TimewaitExit,
            _ => return None,
        })
    }
}

impl<P: Platform> CmPort for ManagerPort<P> {
    type Effects = Deferred;

    fn create(&self, owner: QueueOwner) -> Result<Cid, NdiError> {
        let o = Owner(owner.instance);
        let cid = self.manager.create(o).map_err(cm_error)?;
        let mut out = Output::new();
        if let Err(e) = self.manager.config(o, cid, owner.object, &mut out) {
            let _ = self.manager.destroy(o, cid, true, self.now(), &mut out);
            self.park(out);
            return Err(cm_error(e));
        }
        self.park(out);
        Ok(cid)
    }

    fn adopt(&self, cid: Cid, owner: QueueOwner) -> Result<(), NdiError> {
        let mut out = Output::new();
        self.manager
            .config(Owner(owner.instance), cid, owner.object, &mut out)
            .map_err(cm_error)?;
        self.park(out);
        Ok(())
    }

    fn listen(
        &self,
        file: u64,
        cid: Cid,
        spec: &ListenSpec,
        _fx: &mut Deferred,
    ) -> Result<(), NdiError> {
        // A specific IP listens with compare data "destination IP" (mask
        // 0x04) over the 36-byte header (spec/NDI.md §5.8).
        let compare = spec.ip.map(|ip| {
            let header = IpPrivateDataHeader {
                src_port: 0,
                src_addr: core_ip(&ip),
                dst_addr: core_ip(&ip),
            };
            let mut data = [0u8; 36];
            header.emit(&mut data);
            CompareData {
                offset: 0x04,
                data: data.to_vec(),
            }
        });
        let params = ListenParams {
            service_id: service(spec.space, spec.port),
            port: None,
            compare,
            backlog: 256,
            sidr: false,
        };
        self.manager
            .listen(Owner(file), cid, &params)
            .map(|_| ())
            .map_err(cm_error)
    }

    fn connect(
        &self,
        file: u64,
        cid: Cid,
        spec: &ConnectSpec<'_>,
        fx: &mut Deferred,
    ) -> Result<(), NdiError> {
        let header = IpPrivateDataHeader {
            src_port: spec.local.port,
            src_addr: core_ip(&spec.local.addr),
            dst_addr: core_ip(&spec.remote.addr),
        };
        let pdata = header
            .req_private_data(spec.private_data)
            .ok_or(NdiError::PrivateDataTooLong)?;
        let mut params = ReqParams::new(
            service(spec.space, spec.remote.port),
            roce_path(&spec.local.addr, &spec.remote.addr),
            spec.qpn,
        );
        params.port = self.local_port;
        params.private_data = pdata.as_bytes().to_vec();
        params.responder_resources = spec.responder_resources;
        params.initiator_depth = spec.initiator_depth;
        let now = self.now();
        params.starting_psn = starting_psn(now, cid, spec.qpn);
        let owner = Owner(file);
        self.manager
            .pre_req(owner, cid, &params, now)
            .map_err(cm_error)?;
        self.manager
            .send_req(owner, cid, now, self.out(fx))
            .map_err(cm_error)
    }

    fn accept(
        &self,
        file: u64,
        cid: Cid,
        spec: &AcceptSpec<'_>,
        fx: &mut Deferred,
    ) -> Result<(), NdiError> {
        let mut params = RepParams::new(spec.qpn);
        params.private_data = spec.private_data.to_vec();
        params.responder_resources = spec.responder_resources;
        params.initiator_depth = spec.initiator_depth;
        let now = self.now();
        params.starting_psn = starting_psn(now, cid, spec.qpn);
        let owner = Owner(file);
        self.manager
            .pre_rep(owner, cid, &params, now)
            .map_err(cm_error)?;
        self.manager
            .send_rep(owner, cid, now, self.out(fx))
            .map_err(cm_error)
    }

    fn rtu(&self, file: u64, cid: Cid, fx: &mut Deferred) -> Result<(), NdiError> {
        self.manager
            .rtu(Owner(file), cid, &[], self.now(), self.out(fx))
            .map_err(cm_error)
    }

    fn reject(
        &self,
        file: u64,
        cid: Cid,
        reason: u16,
        pdata: &[u8],
        fx: &mut Deferred,
    ) -> Result<(), NdiError> {
        self.manager
            .rej(
                Owner(file),
                cid,
                reason,
                &[],
                pdata,
                self.now(),
                self.out(fx),
            )
            .map_err(cm_error)
    }

    fn dreq(&self, file: u64, cid: Cid, fx: &mut Deferred) -> Result<(), NdiError> {
        self.manager
            .dreq(Owner(file), cid, &[], self.now(), self.out(fx))
            .map_err(cm_error)
    }

    fn drep(&self, file: u64, cid: Cid, fx: &mut Deferred) -> Result<(), NdiError> {
        self.manager
            .drep(Owner(file), cid, &[], self.now(), self.out(fx))
            .map_err(cm_error)
    }

    fn destroy(&self, file: u64, cid: Cid, fx: &mut Deferred) {
        let _ = self
            .manager
            .destroy(Owner(file), cid, false, self.now(), self.out(fx));
    }

    fn timewait(&self, file: u64, cid: Cid) -> Duration {
        self.manager
            .get_timewait(Owner(file), cid)
            .map_or(Duration::from_millis(1), Duration::from_micros)
    }

    fn submit_mad(
        &self,
        address: &NdcmMadAddress,
        mad: &[u8; 256],
        fx: &mut Deferred,
    ) -> Result<(), NdiError> {
        // Only CM class MADs (management class 0x07) go to the CM.
        if mad.get(1) != Some(&0x07) {
            return Err(NdiError::InvalidParameter);
        }
        let from = MadAddress {
            gid: Gid(address.gid),
            port: address.port,
        };
        self.manager.receive(mad, from, self.now(), self.out(fx));
        Ok(())
    }

    fn perform(&self, fx: Deferred) {
        match fx.0 {
            Some(out) => self.process(out),
            // Nothing of this call's, but work parked by another one.
            None if self.parked.load(Ordering::Acquire) => self.process(Output::new()),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Deferred, ManagerPort, SPARE_CAPACITY, SPARE_OUTPUTS, Timers};
    use crate::cm_port::{CmPort, ConnectSpec, IpAddr, IpEndpoint, PortSpace};
    use crate::requests::QueueOwner;
    use alloc::sync::Arc;
    use ndcm_cm::platform::{Instant, QueuedSpinLock, TestPlatform};
    use ndcm_cm::{CepManager, Cid, ManagerConfig, Outgoing, Output, TimerOp};

    fn port() -> ManagerPort<TestPlatform> {
        ManagerPort::new(
            CepManager::new(TestPlatform::new(), ManagerConfig::default()),
            1,
        )
    }

    #[test]
    fn the_lookaside_list_is_bounded_and_frees_large_outputs() {
        let p = port();
        let spare = |p: &ManagerPort<TestPlatform>| p.tables.with(|t| t.spare.len());
        for _ in 0..SPARE_OUTPUTS + 3 {
            let mut o = Output::new();
            o.timers.reserve(4);
            p.recycle(o);
        }
        assert_eq!(spare(&p), SPARE_OUTPUTS);
        let taken: alloc::vec::Vec<Output> = (0..SPARE_OUTPUTS).map(|_| p.output()).collect();
        assert!(taken.iter().all(|o| o.timers.capacity() >= 4));
        assert_eq!(spare(&p), 0);
        // An output that grew for a burst (a file closing with thousands
        // of connections) does not keep its memory.
        let mut big = Output::new();
        big.deliveries.reserve(SPARE_CAPACITY + 1);
        p.recycle(big);
        assert_eq!(spare(&p), 0);
        // A warm adapter hands a used output back out, allocation and all.
        let mut used = Output::new();
        used.sends.reserve(2);
        p.recycle(used);
        assert!(p.output().sends.capacity() >= 2);
    }

    #[test]
    fn mads_the_sink_does_not_take_are_counted_as_unsent() {
        let p = port();
        let connect = |p: &ManagerPort<TestPlatform>, object| {
            let owner = QueueOwner {
                instance: 7,
                object,
            };
            let cid = p.create(owner).expect("create");
            let spec = ConnectSpec {
                adapter: 0,
                space: PortSpace::Tcp,
                local: IpEndpoint {
                    addr: IpAddr::V4([10, 0, 0, 1]),
                    port: 40_000,
                },
                remote: IpEndpoint {
                    addr: IpAddr::V4([10, 0, 0, 2]),
                    port: 5000,
                },
                qpn: 0x100 + object as u32,
                responder_resources: 1,
                initiator_depth: 1,
                private_data: &[],
            };
            let mut fx = Deferred::default();
            p.connect(7, cid, &spec, &mut fx).expect("connect");
            p.perform(fx);
        };
        // No sink yet: the REQ is dropped and counted.
        connect(&p, 1);
        assert_eq!(p.unsent(), 1);
        // A sink that refuses (no MAD agent request pending).
        assert!(p.bind_mads(Arc::new(|_: &Outgoing| false)));
        connect(&p, 2);
        assert_eq!(p.unsent(), 2);
        // Bound once only.
        assert!(!p.bind_mads(Arc::new(|_: &Outgoing| true)));
        connect(&p, 3);
        assert_eq!(p.unsent(), 3);
    }

    #[test]
    fn starting_psns_are_24_bits_and_differ_between_connections() {
        let psns: alloc::collections::BTreeSet<u32> = (0..1000u64)
            .map(|i| super::starting_psn(Instant(1_000 * i), Cid(0x0100_0000 | i as u32), 0x100))
            .collect();
        assert!(psns.iter().all(|p| *p <= 0x00FF_FFFF));
        // 1,000 draws from 2^24 values: a few coincidences at most.
        assert!(psns.len() > 990, "{} distinct", psns.len());
        // The same QP reconnecting a moment later starts elsewhere.
        let a = super::starting_psn(Instant(5_000), Cid(0x0100_0001), 0x100);
        let b = super::starting_psn(Instant(5_100), Cid(0x0200_0001), 0x100);
        assert_ne!(a, b);
    }

    fn arm(cid: u32, at: u64, id: u64) -> TimerOp {
        TimerOp::Arm {
            cid: Cid(cid),
            deadline: Instant(at),
            id,
        }
    }

    fn cancel(cid: u32, at: u64, id: u64) -> TimerOp {
        TimerOp::Cancel {
            cid: Cid(cid),
            deadline: Instant(at),
            id,
        }
    }

    #[test]
    fn due_timers_come_out_in_deadline_order_and_once() {
        let mut t = Timers::default();
        t.apply(arm(7, 300, 1));
        t.apply(arm(9, 200, 2));
        assert_eq!(t.next(), Some(Instant(200)));
        assert_eq!(t.pop_due(Instant(199), u64::MAX), None);
        assert_eq!(t.pop_due(Instant(250), u64::MAX), Some(9));
        assert_eq!(t.pop_due(Instant(250), u64::MAX), None);
        // Re-armed earlier: only the newest arming of a CID counts.
        t.apply(arm(7, 100, 3));
        assert_eq!(t.pop_due(Instant(1000), u64::MAX), Some(7));
        assert_eq!(t.pop_due(Instant(1000), u64::MAX), None);
        assert_eq!(t.next(), None);
    }

    #[test]
    fn an_arming_above_the_horizon_waits_for_the_next_call() {
        let mut t = Timers::default();
        t.apply(arm(7, 100, 1));
        let horizon = t.last_id;
        // Armed while firing, already due.
        t.apply(arm(9, 50, 2));
        assert_eq!(t.pop_due(Instant(200), horizon), None);
        assert_eq!(t.pop_due(Instant(200), t.last_id), Some(9));
        assert_eq!(t.pop_due(Instant(200), t.last_id), Some(7));
    }

    #[test]
    fn a_cancel_removes_its_arming_only_whatever_the_order() {
        let mut t = Timers::default();
        // In order: armed, cancelled, gone.
        t.apply(arm(7, 100, 1));
        t.apply(cancel(7, 100, 1));
        assert_eq!(t.next(), None);
        // A later call's Arm applied before an earlier call's Cancel: the
        // later arming survives (a timewait timer must not be lost).
        t.apply(arm(7, 500, 3));
        t.apply(cancel(7, 100, 2));
        assert_eq!(t.next(), Some(Instant(500)));
        // An older Arm arriving late is superseded.
        t.apply(arm(7, 50, 2));
        assert_eq!(t.next(), Some(Instant(500)));
        // A Cancel applied before its own Arm: the Arm is dead on arrival.
        t.apply(cancel(9, 200, 4));
        t.apply(arm(9, 200, 4));
        assert_eq!(t.pop_due(Instant(1000), u64::MAX), Some(7));
        assert_eq!(t.pop_due(Instant(1000), u64::MAX), None);
    }

    #[test]
    fn a_reused_index_belongs_to_the_newer_connection() {
        let mut t = Timers::default();
        let (old, new) = (0x0100_0005, 0x0200_0005);
        t.apply(arm(new, 400, 10));
        // The freed connection's late operations change nothing.
        t.apply(arm(old, 100, 4));
        t.apply(cancel(old, 100, 5));
        assert_eq!(t.next(), Some(Instant(400)));
        assert_eq!(t.pop_due(Instant(400), u64::MAX), Some(new));
        assert_eq!(t.live, 0);
        // A connection freed with its timer still armed: the index's next
        // connection takes over, and the count of live timers stays exact.
        t.apply(arm(old, 500, 11));
        t.apply(arm(new, 600, 12));
        assert_eq!(t.live, 1);
        assert_eq!(t.pop_due(Instant(1000), u64::MAX), Some(new));
        assert_eq!((t.live, t.next()), (0, None));
    }

    #[test]
    fn dead_entries_do_not_pile_up() {
        let mut t = Timers::default();
        for id in 1..10_000u64 {
            let cid = (id % 100) as u32 + 1;
            t.apply(arm(cid, 1_000_000 + id, id));
            t.apply(cancel(cid, 1_000_000 + id, id));
        }
        assert!(t.heap.len() <= 64 + 2 * t.live, "{} entries", t.heap.len());
        assert_eq!(t.next(), None);
    }
}
