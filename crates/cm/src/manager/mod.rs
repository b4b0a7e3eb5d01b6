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
//! Callers name their owner (the open file) on every call; a CID of
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
use self::core::Core;
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

    /// `pre_req`: validate, new comm ID, format the REQ.
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

    /// `pre_rep`: validate, format the REP.
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

    /// Owner teardown (file closed): destroy every connection of the owner.
    /// Takes the lock once per connection, so other callers interleave.
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

    /// Runs a scheduled callback: creates the callback context (the scope)
    /// with the current thread recorded in it, calls `f` with it (outside
    /// the lock), then releases the callback's reference. `f` should `poll`
    /// until `None`.
    ///
    /// A callback that returns before `poll` said "none" (it stopped after
    /// a refused call, S1, or simply stopped) would leave its events queued
    /// behind a set edge trigger that nothing clears: no callback would
    /// ever run for them. So the trigger is re-armed here and, if events
    /// remain, a new delivery is emitted in `out`, taken before this
    /// callback's reference is dropped (spec/CM.md §10.3).
    pub fn deliver<R>(
        &self,
        delivery: Delivery,
        out: &mut Output,
        f: impl FnOnce(&CallbackScope<'_>) -> R,
    ) -> R {
        let scope = CallbackScope::new(
            &delivery.cep,
            self.platform.current_thread(),
            delivery.context,
        );
        let r = f(&scope);
        let cid = delivery.cep.cid;
        let drained = scope.was_drained();
        self.with(|c| {
            // Only this callback can have left SIGNALLED set: another
            // delivery is emitted only after a `poll` that said "none",
            // which is `drained`.
            if !drained && let Ok(cep) = c.cep_mut(cid) {
                cep.clear(flag::SIGNALLED);
                c.schedule(cid, out);
            }
            c.release(delivery.cep, out);
        });
        r
    }

    /// S1: a scope is used only on the thread its callback runs on. Checked
    /// in every build; a refusal is counted and reported to the caller,
    /// never asserted (a panic in the driver is a bugcheck).
    fn on_callback_thread(&self, scope: &CallbackScope<'_>) -> bool {
        self.platform.current_thread() == scope.thread
    }

    /// `poll`: the next event of the callback's CEP, or `None` (which also
    /// re-arms the edge trigger, §10.3). On a thread other than the
    /// callback's: `NotCallbackThread`, counted, and the event stays queued.
    pub fn poll(&self, scope: &CallbackScope<'_>) -> Result<Option<EventRecord>, CmError> {
        let cid = scope.cep.cid;
        if !self.on_callback_thread(scope) {
            self.with(|c| c.stats.count_scope_violation());
            return Err(CmError::NotCallbackThread);
        }
        let polled = self.with(|c| {
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
        });
        if polled.is_none() {
            scope.set_drained();
        }
        Ok(polled)
    }

    /// `format_event`: the typed event of a polled record. Requires the
    /// callback's scope and checks that it runs on the thread recorded in
    /// it (S1). The record is owned by the caller, so nothing of the CEP is
    /// read without the lock.
    ///
    /// On another thread the call is refused with `NotCallbackThread` in
    /// every build, counted in `Stats::scope_violations`, and the record is
    /// not consumed: it goes back to the head of the CEP's queue, so the
    /// next `poll` in the right callback returns it again (or, if the
    /// callback stops, the callback `deliver` schedules next). A record of
    /// a CEP destroyed meanwhile is discarded, as at queue time.
    pub fn format_event(
        &self,
        scope: &CallbackScope<'_>,
        record: EventRecord,
    ) -> Result<CmEvent, CmError> {
        if !self.on_callback_thread(scope) {
            self.with(|c| {
                c.stats.count_scope_violation();
                if let Ok(cep) = c.cep_mut(scope.cep.cid)
                    && cep.state != State::Destroyed
                {
                    cep.events.push_front(record);
                    c.stats.queued_events = c.stats.queued_events.saturating_add(1);
                }
            });
            return Err(CmError::NotCallbackThread);
        }
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
