//! `ManagerPort`: the dispatcher's `CmPort` over ndcm-cm's `CepManager`, on
//! the host platform, with its MADs on the in-memory fabric and its timers
//! in a host timer queue.
//!
//! It translates NDI's requests into CM-interface calls (rdma_cm service IDs
//! and the 36-byte IP private-data header, RoCE paths from IPv4-mapped
//! GIDs) and CM events back into NDI's `CmEvent`s. Every call made under
//! the dispatcher's lock only appends to the caller's `Output`; `perform`
//! runs it with no lock held: MADs to the fabric, timer operations to the
//! queue, callbacks through `CepManager::deliver` (poll + format_event in
//! the callback scope, S1), and the resulting events to the dispatcher.
//!
//! ndcm-ndi does not provide this adapter (the driver's device.rs names one
//! it expects in `ndcm_ndi::cm_port`); this is the host's, written against
//! the same two public APIs, so it can move there as it is.

use crate::device::{EventSink, HostCm};
use crate::fabric::{Datagram, Fabric};
use crate::platform::HostPlatform;
use crate::sys::{RawMutex, StdSys, Sys};
use crate::timers::TimerQueue;
use ndcm_cm::platform::{Duration, Instant, Platform};
use ndcm_cm::{
    CepManager, Cid, CmError, CmEvent as CmCoreEvent, EventKind, ListenParams, MadAddress,
    ManagerConfig, Output, Owner, RepParams, ReqParams, Stats, TimerOp,
};
use ndcm_ndi::NdiError;
use ndcm_ndi::QueueOwner;
use ndcm_ndi::abi::NdcmMadAddress;
use ndcm_ndi::cm_port::{
    AcceptSpec, CmEvent, CmPort, ConnectSpec, IpAddr, IpEndpoint, ListenSpec, PortSpace, ReqInfo,
};
use ndcm_wire::ip::{IpPrivateDataHeader, IpServiceId, PortSpace as WirePortSpace};
use ndcm_wire::{CmMessage, Gid, PathRecord};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// The one CM owner of a device: isolation between open files is the
/// dispatcher's (per-file handle tables), so the CM sees one consumer.
const OWNER: Owner = Owner(1);
/// REJ "consumer defined", for REQs nobody can take.
const REJ_CONSUMER: u16 = 28;
/// Listener backlog in the CM; the dispatcher enforces the ND backlog.
const CM_BACKLOG: u32 = 1024;

/// The CM port of one host device.
pub struct ManagerPort<S: Sys = StdSys> {
    mgr: CepManager<HostPlatform<S>>,
    fabric: Arc<Fabric<S>>,
    /// This node's GIDs; MADs leave from the first one of the right family.
    gids: Vec<[u8; 16]>,
    /// Armed deadlines, one entry per `TimerOp::Arm` (see `perform`).
    timers: RawMutex<(TimerQueue<(Cid, u64)>, u64), S>,
    /// Who receives each connection's events (the `QueueOwner` given at
    /// create/adopt); removed at destroy.
    owners: RawMutex<HashMap<Cid, QueueOwner>, S>,
    /// Output produced by calls that have no `Effects` parameter (create,
    /// adopt), performed by the next `perform`.
    stash: RawMutex<Output, S>,
    sink: OnceLock<EventSink>,
    /// Every CID this port has seen (diagnostics: `live_connections`).
    known: RawMutex<std::collections::BTreeSet<u32>, S>,
}

fn to_std(addr: IpAddr) -> core::net::IpAddr {
    match addr {
        IpAddr::V4(a) => core::net::IpAddr::from(a),
        IpAddr::V6(a) => core::net::IpAddr::from(a),
    }
}

fn from_std(addr: core::net::IpAddr) -> IpAddr {
    match addr {
        core::net::IpAddr::V4(a) => IpAddr::V4(a.octets()),
        core::net::IpAddr::V6(a) => IpAddr::V6(a.octets()),
    }
}

fn space(s: PortSpace) -> WirePortSpace {
    match s {
        PortSpace::Tcp => WirePortSpace::Tcp,
        PortSpace::Udp => WirePortSpace::Udp,
    }
}

/// The NDI status of a CM refusal.
fn ndi_error(e: CmError) -> NdiError {
    match e {
        CmError::NotFound => NdiError::InvalidHandle,
        CmError::InvalidState | CmError::AlreadyConfigured | CmError::InTimewait => {
            NdiError::InvalidDeviceState
        }
        CmError::PrivateDataTooLong => NdiError::PrivateDataTooLong,
        CmError::InvalidParameter | CmError::NotSupported | CmError::MalformedEvent => {
            NdiError::InvalidParameter
        }
        CmError::Bind(_) => NdiError::ConnectionActive,
        CmError::NoResources => NdiError::NoResources,
        CmError::DuplicateListen => NdiError::SharingViolation,
        CmError::NotCallbackThread => NdiError::Unsuccessful,
    }
}

fn fixed<const N: usize>(src: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let n = src.len().min(N);
    if let (Some(d), Some(s)) = (out.get_mut(..n), src.get(..n)) {
        d.copy_from_slice(s);
    }
    out
}

impl<S: Sys> ManagerPort<S> {
    /// A CM on `platform` whose node owns `gids` on `fabric`.
    pub fn new(platform: HostPlatform<S>, fabric: Arc<Fabric<S>>, gids: Vec<[u8; 16]>) -> Self {
        ManagerPort {
            mgr: CepManager::new(platform, ManagerConfig::default()),
            fabric,
            gids,
            timers: RawMutex::new((TimerQueue::new(), 0)),
            owners: RawMutex::new(HashMap::new()),
            stash: RawMutex::new(Output::new()),
            sink: OnceLock::new(),
            known: RawMutex::new(std::collections::BTreeSet::new()),
        }
    }

    /// The connections the CM still holds, with their state (what a leak
    /// report names).
    pub fn live_connections(&self) -> Vec<(Cid, ndcm_cm::State)> {
        let known: Vec<u32> = self.known.with(|k| k.iter().copied().collect());
        known
            .into_iter()
            .filter_map(|c| self.mgr.raw_state(Cid(c)).map(|st| (Cid(c), st)))
            .collect()
    }

    fn know(&self, cid: Cid) {
        self.known.with(|k| {
            let _ = k.insert(cid.0);
        });
    }

    /// The CEP manager (state inspection in tests).
    pub fn manager(&self) -> &CepManager<HostPlatform<S>> {
        &self.mgr
    }

    /// The manager's live-object counters.
    pub fn stats(&self) -> Stats {
        self.mgr.stats()
    }

    fn now(&self) -> Instant {
        self.mgr.platform().now()
    }

    /// The GID a MAD to `to` leaves from: ours of the same family.
    fn source_for(&self, to: &Gid) -> [u8; 16] {
        let v4 = to.to_ipv4().is_some();
        self.gids
            .iter()
            .find(|g| Gid(**g).to_ipv4().is_some() == v4)
            .or(self.gids.first())
            .copied()
            .unwrap_or_default()
    }

    fn stash(&self, out: Output) {
        if out.is_empty() {
            return;
        }
        self.stash.with(|s| {
            s.sends.extend(out.sends);
            s.timers.extend(out.timers);
            s.deliveries.extend(out.deliveries);
            s.released.extend(out.released);
        });
    }

    fn set_owner(&self, cid: Cid, owner: QueueOwner) {
        self.know(cid);
        self.owners.with(|o| {
            let _ = o.insert(cid, owner);
        });
    }

    /// Gives a REQ nobody will take back to the CM: REJ, then destroy.
    fn refuse(&self, cid: Cid, out: &mut Output) {
        let now = self.now();
        let _ = self.mgr.rej(OWNER, cid, REJ_CONSUMER, &[], &[], now, out);
        let _ = self.mgr.destroy(OWNER, cid, false, now, out);
    }

    /// NDI's view of a CM event on `cid`, or `None` when NDI has no use
    /// for it. A REQ whose rdma_cm header is unusable is refused here.
    fn translate(&self, event: &CmCoreEvent, out: &mut Output) -> Option<CmEvent> {
        let message = event.mad.as_ref().map(|m| &m.message);
        Some(match event.kind {
            EventKind::ReqReceived => {
                let new = event.new_cid?;
                self.know(new);
                let Some(CmMessage::Req(req)) = message else {
                    self.refuse(new, out);
                    return None;
                };
                let pdata = req.private_data.0;
                let (Ok(header), Some(sid)) = (
                    IpPrivateDataHeader::parse(&pdata),
                    IpServiceId::from_service_id(req.service_id),
                ) else {
                    self.refuse(new, out);
                    return None;
                };
                CmEvent::ReqReceived {
                    cid: new,
                    req: ReqInfo {
                        local: IpEndpoint {
                            addr: from_std(header.dst_addr),
                            port: sid.port,
                        },
                        remote: IpEndpoint {
                            addr: from_std(header.src_addr),
                            port: header.src_port,
                        },
                        responder_resources: req.responder_resources,
                        initiator_depth: req.initiator_depth,
                        private_data: fixed(pdata.get(36..).unwrap_or_default()),
                    },
                }
            }
            EventKind::RepReceived => {
                let Some(CmMessage::Rep(rep)) = message else {
                    return None;
                };
                CmEvent::RepReceived {
                    responder_resources: rep.responder_resources,
                    initiator_depth: rep.initiator_depth,
                    private_data: rep.private_data.0,
                }
            }
            EventKind::RtuReceived if event.mad.is_none() => CmEvent::Established,
            EventKind::RtuReceived => CmEvent::RtuReceived,
            EventKind::RejReceived => {
                let Some(CmMessage::Rej(rej)) = message else {
                    return None;
                };
                CmEvent::RejReceived {
                    reason: rej.reason.code(),
                    private_data: rej.private_data.0,
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

    /// Runs one callback: polls and formats its events inside the scope,
    /// then hands them to the dispatcher (outside the manager lock).
    fn run_delivery(&self, delivery: ndcm_cm::Delivery, out: &mut Output) {
        let mut polled = Vec::new();
        let cid = self.mgr.deliver(delivery, out, |scope| {
            while let Ok(Some(record)) = self.mgr.poll(scope) {
                if let Ok(event) = self.mgr.format_event(scope, &record) {
                    polled.push(event);
                }
            }
            scope.cid()
        });
        for event in polled {
            let owner = self.owners.with(|o| o.get(&cid).copied());
            let translated = self.translate(&event, out);
            match (owner, translated) {
                (Some(owner), Some(e)) => {
                    if let Some(sink) = self.sink.get() {
                        sink(owner, e);
                    }
                }
                // A REQ for a listener that is gone: nobody can take it.
                (None, Some(CmEvent::ReqReceived { cid: new, .. })) => self.refuse(new, out),
                _ => {}
            }
        }
    }
}

impl<S: Sys> CmPort for ManagerPort<S> {
    type Effects = Output;

    fn create(&self, owner: QueueOwner) -> Result<Cid, NdiError> {
        let cid = self.mgr.create(OWNER).map_err(ndi_error)?;
        let mut out = Output::new();
        self.mgr
            .config(OWNER, cid, u64::from(cid.0), &mut out)
            .map_err(ndi_error)?;
        self.set_owner(cid, owner);
        self.stash(out);
        Ok(cid)
    }

    fn adopt(&self, cid: Cid, owner: QueueOwner) -> Result<(), NdiError> {
        // Owner first: `config` may schedule the events already queued.
        self.set_owner(cid, owner);
        let mut out = Output::new();
        let r = self.mgr.config(OWNER, cid, u64::from(cid.0), &mut out);
        self.stash(out);
        r.map_err(ndi_error)
    }

    fn listen(&self, cid: Cid, spec: &ListenSpec, _fx: &mut Output) -> Result<(), NdiError> {
        let params = ListenParams {
            service_id: IpServiceId {
                port_space: space(spec.space),
                port: spec.port,
            }
            .service_id()
            .0,
            port: None,
            compare: None,
            backlog: CM_BACKLOG,
            sidr: false,
        };
        self.mgr
            .listen(OWNER, cid, &params)
            .map(|_| ())
            .map_err(ndi_error)
    }

    fn connect(&self, cid: Cid, spec: &ConnectSpec<'_>, fx: &mut Output) -> Result<(), NdiError> {
        let path = PathRecord {
            local_lid: 0xFFFF,
            remote_lid: 0xFFFF,
            local_gid: Gid::from_ip(to_std(spec.local.addr)),
            remote_gid: Gid::from_ip(to_std(spec.remote.addr)),
            hop_limit: 64,
            local_ack_timeout: 19,
            ..PathRecord::default()
        };
        let service = IpServiceId {
            port_space: space(spec.space),
            port: spec.remote.port,
        };
        let mut params = ReqParams::new(service.service_id().0, path, spec.qpn);
        params.responder_resources = spec.responder_resources;
        params.initiator_depth = spec.initiator_depth;
        params.starting_psn = spec.qpn.wrapping_mul(7) & 0xFF_FFFF;
        let header = IpPrivateDataHeader {
            src_port: spec.local.port,
            src_addr: to_std(spec.local.addr),
            dst_addr: to_std(spec.remote.addr),
        };
        params.private_data = header
            .req_private_data(spec.private_data)
            .ok_or(NdiError::PrivateDataTooLong)?
            .0
            .to_vec();
        let now = self.now();
        self.mgr
            .pre_req(OWNER, cid, &params, now)
            .map_err(ndi_error)?;
        self.mgr.send_req(OWNER, cid, now, fx).map_err(ndi_error)
    }

    fn accept(&self, cid: Cid, spec: &AcceptSpec<'_>, fx: &mut Output) -> Result<(), NdiError> {
        let mut params = RepParams::new(spec.qpn);
        params.responder_resources = spec.responder_resources;
        params.initiator_depth = spec.initiator_depth;
        params.starting_psn = spec.qpn.wrapping_mul(11) & 0xFF_FFFF;
        params.private_data = spec.private_data.to_vec();
        let now = self.now();
        self.mgr
            .pre_rep(OWNER, cid, &params, now)
            .map_err(ndi_error)?;
        self.mgr.send_rep(OWNER, cid, now, fx).map_err(ndi_error)
    }

    fn rtu(&self, cid: Cid, fx: &mut Output) -> Result<(), NdiError> {
        self.mgr
            .rtu(OWNER, cid, &[], self.now(), fx)
            .map_err(ndi_error)
    }

    fn reject(
        &self,
        cid: Cid,
        reason: u16,
        private_data: &[u8],
        fx: &mut Output,
    ) -> Result<(), NdiError> {
        self.mgr
            .rej(OWNER, cid, reason, &[], private_data, self.now(), fx)
            .map_err(ndi_error)
    }

    fn dreq(&self, cid: Cid, fx: &mut Output) -> Result<(), NdiError> {
        self.mgr
            .dreq(OWNER, cid, &[], self.now(), fx)
            .map_err(ndi_error)
    }

    fn drep(&self, cid: Cid, fx: &mut Output) -> Result<(), NdiError> {
        self.mgr
            .drep(OWNER, cid, &[], self.now(), fx)
            .map_err(ndi_error)
    }

    fn destroy(&self, cid: Cid, fx: &mut Output) {
        self.owners.with(|o| {
            let _ = o.remove(&cid);
        });
        let _ = self.mgr.destroy(OWNER, cid, false, self.now(), fx);
    }

    fn timewait(&self, cid: Cid) -> Duration {
        self.mgr
            .get_timewait(OWNER, cid)
            .map_or(Duration::from_micros(1), |us| {
                Duration::from_micros(us.max(1))
            })
    }

    fn submit_mad(
        &self,
        address: &NdcmMadAddress,
        mad: &[u8; 256],
        fx: &mut Output,
    ) -> Result<(), NdiError> {
        let from = MadAddress {
            gid: Gid(address.gid),
            port: address.port,
        };
        self.mgr.receive(mad, from, self.now(), fx);
        Ok(())
    }

    fn perform(&self, fx: Output) {
        let mut out = fx;
        let stashed = self.stash.with(std::mem::take);
        out.sends.extend(stashed.sends);
        out.timers.extend(stashed.timers);
        out.deliveries.extend(stashed.deliveries);
        loop {
            let now = self.now();
            for send in out.sends.drain(..) {
                self.fabric.send(
                    now,
                    Datagram {
                        src: self.source_for(&send.to.gid),
                        dst: send.to.gid.0,
                        mad: Box::new(send.mad),
                    },
                );
            }
            // Outputs of different calls are performed on different
            // threads, so their timer operations can be applied out of
            // order: a Cancel from an earlier call applied after an Arm from
            // a later one would lose that timer, and a CEP waiting for its
            // timewait timer would never be freed (found by e2e_model). A
            // stale or early expiry is harmless (the manager re-arms or
            // ignores it), a lost one is not: so every Arm is kept as its
            // own entry and Cancel is not applied.
            let ops: Vec<TimerOp> = out.timers.drain(..).collect();
            self.timers.with(|(queue, seq)| {
                for op in ops {
                    if let TimerOp::Arm { cid, deadline } = op {
                        *seq += 1;
                        queue.arm((cid, *seq), deadline);
                    }
                }
            });
            // Destroy callbacks: the dispatcher keeps no per-CEP memory to
            // free, so there is nothing to run.
            out.released.clear();
            let deliveries = std::mem::take(&mut out.deliveries);
            if deliveries.is_empty() {
                break;
            }
            for d in deliveries {
                self.run_delivery(d, &mut out);
            }
        }
    }
}

impl<S: Sys> HostCm for ManagerPort<S> {
    fn bind_events(&self, sink: EventSink) {
        let _ = self.sink.set(sink);
    }

    fn receive(&self, from: [u8; 16], mad: &[u8; 256]) {
        let mut out = Output::new();
        let from = MadAddress {
            gid: Gid(from),
            port: 1,
        };
        self.mgr.receive(mad, from, self.now(), &mut out);
        self.perform(out);
    }

    fn fire_timers(&self, now: Instant) {
        let mut due: Vec<Cid> = self
            .timers
            .with(|(queue, _)| queue.expired(now))
            .into_iter()
            .map(|((cid, _), _)| cid)
            .collect();
        due.dedup();
        for cid in due {
            let mut out = Output::new();
            self.mgr.on_timer(cid, now, &mut out);
            self.perform(out);
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        self.timers.with(|(queue, _)| queue.next_deadline())
    }

    fn live_objects(&self) -> usize {
        usize::try_from(self.mgr.stats().ceps).unwrap_or(usize::MAX)
    }
}
