//! `CepManager`: the CM-only kernel interface (spec/CM.md §10) over one
//! manager lock.
//!
//! Every call takes the lock once (a `QueuedSpinLock` closure), does its
//! work on the locked `Core`, and appends what must happen next to the
//! caller's `Output`: MADs to send, timers to arm or cancel, callbacks and
//! destroy callbacks to run. The caller performs them after the call
//! returns, i.e. after the lock is released. Nothing in this module calls
//! out while the lock is held, and nothing blocks.
//!
//! Callers name their owner (the open file) on every call; a CID or QP of
//! another owner is `NotFound` (S8). MADs find connections only by their
//! full communication ID.

mod actions;
mod cep;
mod core;
mod listen;
mod recv;

pub use cep::Owner;

use self::actions::Args;
use self::cep::{Ext, flag};
use self::core::{Core, QpEntry};
use crate::cid::{Cid, CidTable};
use crate::codec;
use crate::error::CmError;
use crate::event::{CallbackScope, CepRef, Delivery, EventKind, EventRecord};
use crate::output::Output;
use crate::params::{
    LapParams, ListenParams, MadAddress, ManagerConfig, PrivateDataInfo, RepParams, ReqParams,
    SidrRepParams, SidrReqParams,
};
use crate::platform::{Instant, Platform, QueuedSpinLock};
use crate::qp::{CidSlot, QpId};
use crate::state::State;
use crate::stats::{RefPurpose, Stats};
use crate::table::Input;
use alloc::vec::Vec;
use ndcm_wire::{CmMad, PathRecord};

/// A polled event turned into typed data by `format_event`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CmEvent {
    /// What happened.
    pub kind: EventKind,
    /// The new CID of a REQ/SIDR_REQ received on a listener.
    pub new_cid: Option<Cid>,
    /// The message (for *_ERROR events: the message that timed out); `None`
    /// for TIMEWAIT_EXIT and the synthetic RTU of `established`.
    pub mad: Option<CmMad>,
}

/// What `connection_info` reports (the QP attributes of spec/CM.md §10.1
/// get_qp_attr, and the identifiers).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ConnectionInfo {
    /// Protocol state.
    pub state: State,
    /// Our comm ID.
    pub local_comm_id: u32,
    /// The peer's comm ID (0 until known).
    pub remote_comm_id: u32,
    /// Our QPN.
    pub local_qpn: u32,
    /// The peer's QPN (RTR: destination QPN).
    pub remote_qpn: u32,
    /// RTR receive PSN (the peer's starting PSN).
    pub receive_psn: u32,
    /// RTS send PSN (our starting PSN).
    pub send_psn: u32,
    /// Responder resources (swapped from the peer's message).
    pub responder_resources: u8,
    /// Initiator depth.
    pub initiator_depth: u8,
    /// RTS local ACK timeout exponent.
    pub local_ack_timeout: u8,
    /// Path MTU code.
    pub path_mtu: u8,
    /// QP retry count / RNR retry count.
    pub retry_count: u8,
    /// RNR retry count.
    pub rnr_retry_count: u8,
    /// Primary path.
    pub primary_path: PathRecord,
    /// Alternate path (all zero when absent).
    pub alternate_path: PathRecord,
    /// The bound QP.
    pub qp: Option<QpId>,
}

/// An owned reference to a QP (purpose: a consumer holding it, e.g. a
/// dispatch routine). Release with `CepManager::release_qp`.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a QP reference must be released with CepManager::release_qp"]
pub struct QpRef {
    qp: QpId,
}

impl QpRef {
    /// The QP.
    pub fn qp(&self) -> QpId {
        self.qp
    }
}

/// The CEP manager.
pub struct CepManager<P: Platform> {
    platform: P,
    core: P::Lock<Core>,
}

impl<P: Platform> CepManager<P> {
    /// A manager on `platform`.
    pub fn new(platform: P, config: ManagerConfig) -> Self {
        let core = platform.new_lock(Core::new(config));
        CepManager { platform, core }
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    fn with<R>(&self, f: impl FnOnce(&mut Core) -> R) -> R {
        self.core.with(f)
    }

    /// Live-object counters (leak accounting).
    pub fn stats(&self) -> Stats {
        self.with(|c| c.stats)
    }

    /// Received MADs dropped so far (malformed, unmatched, out of state).
    pub fn dropped(&self) -> u64 {
        self.with(|c| c.dropped)
    }

    // ----- CEPs -----

    /// `create`: a CID in IDLE owned by `owner`, holding its creation
    /// reference (dropped by `destroy`).
    pub fn create(&self, owner: Owner) -> Result<Cid, CmError> {
        self.with(|c| c.create(owner))
    }

    /// `config`: set the context delivered with callbacks and destroy
    /// callbacks. Once per CID (§11 item 5). For a connection created by a
    /// REQ this also "takes" it from its listener's backlog. If events are
    /// already queued, a delivery is emitted.
    pub fn config(
        &self,
        owner: Owner,
        cid: Cid,
        context: u64,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.with(|c| {
            let cep = c.owned(owner, cid)?;
            if cep.has(flag::CONFIGURED) {
                return Err(CmError::AlreadyConfigured);
            }
            let parent = cep.parent;
            let cep = c.cep_mut(cid)?;
            cep.context = context;
            cep.set(flag::CONFIGURED);
            cep.parent = None;
            if let Some(p) = parent
                && let Some(info) = c.cep_mut(p).ok().and_then(|l| l.listen_info_mut())
            {
                info.untaken.retain(|&x| x != cid);
            }
            c.schedule(cid, out);
            Ok(())
        })
    }

    /// `listen`: IDLE → LISTEN. Returns the service ID listened on (an
    /// rdma_cm service ID with port 0 gets a free ephemeral port).
    pub fn listen(&self, owner: Owner, cid: Cid, params: &ListenParams) -> Result<u64, CmError> {
        self.with(|c| {
            c.owned(owner, cid)?;
            c.listen(cid, params)
        })
    }

    /// `cancel_listen`: LISTEN → IDLE; untaken REQs are destroyed (REJ 28).
    pub fn cancel_listen(
        &self,
        owner: Owner,
        cid: Cid,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.with(|c| {
            c.owned(owner, cid)?;
            c.cancel_listen(cid, now, out)
        })
    }

    fn call(
        &self,
        owner: Owner,
        cid: Cid,
        input: Input,
        args: &Args<'_>,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.with(|c| {
            c.owned(owner, cid)?;
            c.apply(cid, input, args, now, out)
        })
    }

    /// `pre_req`: validate, bind the QP if given (S2/S3), new comm ID,
    /// format the REQ.
    pub fn pre_req(
        &self,
        owner: Owner,
        cid: Cid,
        params: &ReqParams,
        now: Instant,
    ) -> Result<(), CmError> {
        let mut out = Output::new();
        let r = self.call(owner, cid, Input::PreReq, &Args::Req(params), now, &mut out);
        // Formatting sends, arms and delivers nothing (the send is a later
        // call), so there is no output to hand back.
        debug_assert!(out.is_empty(), "PreReq produced output");
        r
    }

    /// `send_req`: retried send of the formatted REQ.
    pub fn send_req(
        &self,
        owner: Owner,
        cid: Cid,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.call(owner, cid, Input::SendReq, &Args::None, now, out)
    }

    /// `pre_rep`: bind the QP if given (S2/S3), format the REP.
    pub fn pre_rep(
        &self,
        owner: Owner,
        cid: Cid,
        params: &RepParams,
        now: Instant,
    ) -> Result<(), CmError> {
        let mut out = Output::new();
        let r = self.call(owner, cid, Input::PreRep, &Args::Rep(params), now, &mut out);
        // Formatting sends, arms and delivers nothing (the send is a later
        // call), so there is no output to hand back.
        debug_assert!(out.is_empty(), "PreRep produced output");
        r
    }

    /// `send_rep`: retried send of the formatted REP.
    pub fn send_rep(
        &self,
        owner: Owner,
        cid: Cid,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.call(owner, cid, Input::SendRep, &Args::None, now, out)
    }

    /// `rtu` (≤ 224 bytes of private data).
    pub fn rtu(
        &self,
        owner: Owner,
        cid: Cid,
        private_data: &[u8],
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.call(owner, cid, Input::Rtu, &Args::Pdata(private_data), now, out)
    }

    /// `rej` (reason, ARI ≤ 72, private data ≤ 148).
    #[allow(clippy::too_many_arguments)] // the spec's inputs, plus owner/cid/now/out
    pub fn rej(
        &self,
        owner: Owner,
        cid: Cid,
        reason: u16,
        ari: &[u8],
        private_data: &[u8],
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.call(
            owner,
            cid,
            Input::Rej,
            &Args::Rej {
                reason,
                ari,
                pdata: private_data,
            },
            now,
            out,
        )
    }

    /// `mra` (service timeout exponent, private data ≤ 222), sent once.
    #[allow(clippy::too_many_arguments)]
    pub fn mra(
        &self,
        owner: Owner,
        cid: Cid,
        service_timeout: u8,
        private_data: &[u8],
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.call(
            owner,
            cid,
            Input::Mra,
            &Args::Mra {
                service_timeout,
                pdata: private_data,
            },
            now,
            out,
        )
    }

    /// `dreq` (≤ 220 bytes), retried.
    pub fn dreq(
        &self,
        owner: Owner,
        cid: Cid,
        private_data: &[u8],
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.call(
            owner,
            cid,
            Input::Dreq,
            &Args::Pdata(private_data),
            now,
            out,
        )
    }

    /// `drep` (≤ 224 bytes), sent once.
    pub fn drep(
        &self,
        owner: Owner,
        cid: Cid,
        private_data: &[u8],
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.call(
            owner,
            cid,
            Input::Drep,
            &Args::Pdata(private_data),
            now,
            out,
        )
    }

    /// `lap` (active side, IB only: `NotSupported` without alternate paths).
    pub fn lap(
        &self,
        owner: Owner,
        cid: Cid,
        params: &LapParams,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.call(owner, cid, Input::Lap, &Args::Lap(params), now, out)
    }

    /// `pre_apr`: format the APR answering a received LAP.
    pub fn pre_apr(
        &self,
        owner: Owner,
        cid: Cid,
        status: u8,
        info: &[u8],
        private_data: &[u8],
        now: Instant,
    ) -> Result<(), CmError> {
        let mut out = Output::new();
        self.call(
            owner,
            cid,
            Input::PreApr,
            &Args::Apr {
                status,
                info,
                pdata: private_data,
            },
            now,
            &mut out,
        )
    }

    /// `send_apr`: send the formatted APR once.
    pub fn send_apr(
        &self,
        owner: Owner,
        cid: Cid,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.call(owner, cid, Input::SendApr, &Args::None, now, out)
    }

    /// `established`: the QP saw data before the RTU (synthetic RTU).
    pub fn established(
        &self,
        owner: Owner,
        cid: Cid,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.call(owner, cid, Input::Established, &Args::None, now, out)
    }

    /// `sidr_req`: send a SIDR_REQ with the caller's timeout and retries.
    pub fn sidr_req(
        &self,
        owner: Owner,
        cid: Cid,
        params: &SidrReqParams,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.call(owner, cid, Input::SidrReq, &Args::SidrReq(params), now, out)
    }

    /// `sidr_rep`: answer a received SIDR_REQ.
    pub fn sidr_rep(
        &self,
        owner: Owner,
        cid: Cid,
        params: &SidrRepParams,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.call(owner, cid, Input::SidrRep, &Args::SidrRep(params), now, out)
    }

    /// `get_timewait`: T_tw in µs, positive (§5.5, §11 item 6).
    pub fn get_timewait(&self, owner: Owner, cid: Cid) -> Result<u64, CmError> {
        self.with(|c| Ok(c.owned(owner, cid)?.timewait.as_micros_ceil()))
    }

    /// `get_pdata`: resources and the private data of the last REQ, REP or
    /// REJ received, at its true field length.
    pub fn get_pdata(&self, owner: Owner, cid: Cid) -> Result<PrivateDataInfo, CmError> {
        self.with(|c| {
            let cep = c.owned(owner, cid)?;
            let mut data = Vec::new();
            let len = cep.pdata_kind.field_len();
            if len > 0 {
                data.resize(len, 0);
                if let Some(p) = cep.pdata.as_deref() {
                    let n = p.len().min(len);
                    if let (Some(d), Some(s)) = (data.get_mut(..n), p.get(..n)) {
                        d.copy_from_slice(s);
                    }
                }
            }
            Ok(PrivateDataInfo {
                responder_resources: cep.responder_resources,
                initiator_depth: cep.initiator_depth,
                data,
            })
        })
    }

    /// Identifiers and QP attributes of a connection.
    pub fn connection_info(&self, owner: Owner, cid: Cid) -> Result<ConnectionInfo, CmError> {
        self.with(|c| {
            c.owned(owner, cid)?;
            Self::info_of(c, cid)
        })
    }

    /// `connection_info` of any slot, including DESTROYED ones (tests,
    /// diagnostics; no owner check).
    pub fn raw_connection_info(&self, cid: Cid) -> Result<ConnectionInfo, CmError> {
        self.with(|c| Self::info_of(c, cid))
    }

    fn info_of(c: &Core, cid: Cid) -> Result<ConnectionInfo, CmError> {
        {
            let cep = c.cep(cid)?;
            let (primary, alternate, path_mtu, retry_count, rnr_retry_count) =
                match cep.ext.as_deref() {
                    Some(Ext::Paths {
                        primary,
                        alternate,
                        path_mtu,
                        retry_count,
                        rnr_retry_count,
                    }) => (
                        *primary,
                        *alternate,
                        *path_mtu,
                        *retry_count,
                        *rnr_retry_count,
                    ),
                    _ => (PathRecord::default(), PathRecord::default(), 0, 0, 0),
                };
            Ok(ConnectionInfo {
                state: cep.state,
                local_comm_id: cep.local_comm_id,
                remote_comm_id: cep.remote_comm_id,
                local_qpn: cep.local_qpn,
                remote_qpn: cep.remote_qpn,
                receive_psn: cep.remote_psn,
                send_psn: cep.local_psn,
                responder_resources: cep.responder_resources,
                initiator_depth: cep.initiator_depth,
                local_ack_timeout: cep.local_ack_timeout,
                path_mtu,
                retry_count,
                rnr_retry_count,
                primary_path: primary,
                alternate_path: alternate,
                qp: cep.qp,
            })
        }
    }

    /// The protocol state of a CID (`NotFound` once destroyed).
    pub fn state(&self, owner: Owner, cid: Cid) -> Result<State, CmError> {
        self.with(|c| Ok(c.owned(owner, cid)?.state))
    }

    /// The state of any slot, including DESTROYED ones (tests, diagnostics).
    pub fn raw_state(&self, cid: Cid) -> Option<State> {
        self.with(|c| c.cep(cid).ok().map(|c| c.state))
    }

    /// `destroy` (§9). `quiet` sets REQ_RCVD/MRA_REQ_SENT to idle without a
    /// REJ so the peer retries.
    pub fn destroy(
        &self,
        owner: Owner,
        cid: Cid,
        quiet: bool,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        self.with(|c| {
            c.owned(owner, cid)?;
            c.destroy(cid, quiet, now, out);
            Ok(())
        })
    }

    /// Owner teardown (file closed): destroy every connection and QP of the
    /// owner. Takes the lock once per object, so other callers interleave.
    pub fn destroy_owner(&self, owner: Owner, now: Instant, out: &mut Output) {
        let cids: Vec<Cid> = self.with(|c| {
            c.ceps
                .cids()
                .filter(|&cid| c.owned(owner, cid).is_ok())
                .collect()
        });
        for cid in cids {
            let _ = self.destroy(owner, cid, false, now, out);
        }
        let qps: Vec<QpId> = self.with(|c| {
            c.qps
                .cids()
                .filter(|&q| {
                    c.qps
                        .get(q)
                        .is_some_and(|e| e.owner == owner && !e.handle_closed)
                })
                .map(|q| QpId(q.0))
                .collect()
        });
        for qp in qps {
            let _ = self.destroy_qp(owner, qp, now, out);
        }
    }

    /// Takes a consumer reference (spec/CM.md §10.1 get_context).
    pub fn add_ref(&self, owner: Owner, cid: Cid) -> Result<CepRef, CmError> {
        self.with(|c| {
            c.owned(owner, cid)?;
            c.add_ref(cid, RefPurpose::Consumer)
        })
    }

    /// Drops a reference; the last one of a destroyed CEP emits its destroy
    /// callback in `out.released`.
    pub fn release(&self, r: CepRef, out: &mut Output) {
        self.with(|c| c.release(r, out));
    }

    // ----- MADs and timers -----

    /// A MAD arrived (raw 256 bytes) from `from`.
    pub fn receive(&self, mad: &[u8], from: MadAddress, now: Instant, out: &mut Output) {
        self.with(|c| c.receive(mad, from, now, out));
    }

    /// A timer armed through `TimerOp::Arm` fired.
    pub fn on_timer(&self, cid: Cid, now: Instant, out: &mut Output) {
        self.with(|c| c.on_timer(cid, now, out));
    }

    // ----- callbacks -----

    /// Runs a scheduled callback: records the current thread in the CEP,
    /// calls `f` with the scope token (outside the lock), then releases the
    /// callback's reference. `f` should `poll` until `None`.
    pub fn deliver<R>(
        &self,
        delivery: Delivery,
        out: &mut Output,
        f: impl FnOnce(&CallbackScope<'_>) -> R,
    ) -> R {
        let thread = self.platform.current_thread();
        let cid = delivery.cep.cid;
        self.with(|c| {
            if let Ok(cep) = c.cep_mut(cid) {
                cep.callback_thread = Some(thread);
            }
        });
        let scope = CallbackScope {
            cep: &delivery.cep,
            thread,
            context: delivery.context,
        };
        let r = f(&scope);
        self.with(|c| {
            if let Ok(cep) = c.cep_mut(cid)
                && cep.callback_thread == Some(thread)
            {
                cep.callback_thread = None;
            }
            c.release(delivery.cep, out);
        });
        r
    }

    fn check_thread(&self, scope: &CallbackScope<'_>) -> Result<(), CmError> {
        let current = self.platform.current_thread();
        // S1: only the thread running the callback may use its scope.
        debug_assert_eq!(
            current, scope.thread,
            "CM scope used outside its callback's thread"
        );
        if current != scope.thread {
            return Err(CmError::NotCallbackThread);
        }
        Ok(())
    }

    /// `poll`: the next event of the callback's CEP, or `None` (which also
    /// re-arms the edge trigger, §10.3).
    pub fn poll(&self, scope: &CallbackScope<'_>) -> Result<Option<EventRecord>, CmError> {
        self.check_thread(scope)?;
        let cid = scope.cep.cid;
        Ok(self.with(|c| {
            let cep = c.cep_mut(cid).ok()?;
            match cep.events.pop_front() {
                Some(e) => {
                    if cep.events.is_empty() {
                        // Release the queue's memory: idle CEPs stay small.
                        cep.events = Default::default();
                    }
                    c.stats.queued_events = c.stats.queued_events.saturating_sub(1);
                    Some(e)
                }
                None => {
                    cep.clear(flag::SIGNALLED);
                    None
                }
            }
        }))
    }

    /// `format_event`: the typed event of a polled record. Requires the
    /// callback's scope and asserts it runs on the callback's thread (S1).
    /// The record is owned by the caller, so nothing of the CEP is read
    /// without the lock.
    pub fn format_event(
        &self,
        scope: &CallbackScope<'_>,
        record: &EventRecord,
    ) -> Result<CmEvent, CmError> {
        self.check_thread(scope)?;
        let alive = self.with(|c| c.cep(scope.cep.cid).is_ok_and(|cep| cep.refs > 0));
        debug_assert!(alive, "a callback's reference keeps its CEP alive");
        let mad = match record.mad.as_deref() {
            Some(m) => Some(codec::parse_trimmed(m).ok_or(CmError::MalformedEvent)?),
            None => None,
        };
        Ok(CmEvent {
            kind: record.kind,
            new_cid: record.new_cid,
            mad,
        })
    }

    // ----- QPs -----

    /// Creates a QP object for `owner` with its slot Invalid.
    pub fn create_qp(&self, owner: Owner) -> Result<QpId, CmError> {
        self.with(|c| {
            let id = c
                .qps
                .insert(|_, _| QpEntry {
                    owner,
                    slot: CidSlot::Invalid,
                    refs: 1,
                    handle_closed: false,
                    timewait_until: Instant(0),
                })
                .map_err(|_| CmError::NoResources)?;
            c.stats.qps += 1;
            c.stats.take(RefPurpose::QpHandle);
            Ok(QpId(id.0))
        })
    }

    /// Takes a reference on a QP (it stays observable after `destroy_qp`).
    pub fn add_qp_ref(&self, owner: Owner, qp: QpId) -> Result<QpRef, CmError> {
        self.with(|c| {
            let e = c
                .qps
                .get_mut(Cid(qp.0))
                .filter(|e| e.owner == owner && !e.handle_closed);
            let e = e.ok_or(CmError::NotFound)?;
            e.refs = e.refs.saturating_add(1);
            Ok(QpRef { qp })
        })
    }

    /// Drops a QP reference.
    pub fn release_qp(&self, r: QpRef) {
        self.with(|c| {
            if let Some(e) = c.qps.get_mut(Cid(r.qp.0)) {
                e.refs = e.refs.saturating_sub(1);
            }
            c.maybe_free_qp(r.qp);
        });
    }

    /// The slot of a QP a reference is held on.
    pub fn qp_slot(&self, r: &QpRef) -> Option<CidSlot> {
        self.with(|c| c.qps.get(Cid(r.qp.0)).map(|e| e.slot))
    }

    /// The quarantine stamp of a QP (timewait of the last bound connection).
    pub fn qp_timewait_until(&self, r: &QpRef) -> Option<Instant> {
        self.with(|c| c.qps.get(Cid(r.qp.0)).map(|e| e.timewait_until))
    }

    /// QP destroy (S4, spec/NDI.md §9.2): under one lock hold, swap the slot
    /// to Reserved, destroy the bound connection (abort by state), close the
    /// handle. Returns the quarantine stamp for the HCA's destroy.
    pub fn destroy_qp(
        &self,
        owner: Owner,
        qp: QpId,
        now: Instant,
        out: &mut Output,
    ) -> Result<Instant, CmError> {
        self.with(|c| {
            let key = Cid(qp.0);
            let e = c
                .qps
                .get_mut(key)
                .filter(|e| e.owner == owner && !e.handle_closed);
            let e = e.ok_or(CmError::NotFound)?;
            e.handle_closed = true;
            let old = e.slot.reserve();
            if let CidSlot::Bound(cid) = old {
                c.destroy(cid, false, now, out);
            }
            let until = c.qps.get(key).map_or(Instant(0), |e| e.timewait_until);
            if let Some(e) = c.qps.get_mut(key) {
                e.refs = e.refs.saturating_sub(1);
            }
            c.stats.drop_ref(RefPurpose::QpHandle);
            c.maybe_free_qp(qp);
            Ok(until)
        })
    }

    // ----- measurement -----

    /// Bytes held per CEP in `cid`'s state: its slot plus its heap.
    pub fn cep_memory(&self, cid: Cid) -> Option<usize> {
        self.with(|c| {
            c.cep(cid)
                .ok()
                .map(|cep| CidTable::<cep::Cep>::slot_size() + cep.heap_bytes())
        })
    }

    /// Pre-sizes the CID table (outside the hot path; for benchmarks).
    /// The remote-ID and remote-QPN tables get twice that, so removals
    /// leave empty slots rather than tombstones that force rehashing.
    pub fn reserve(&self, n: usize) {
        self.with(|c| {
            c.ceps.reserve(n);
            c.remote_ids.reserve(n.saturating_mul(2));
            c.remote_qpns.reserve(n.saturating_mul(2));
        });
    }
}
