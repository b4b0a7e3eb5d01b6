//! The manager's locked state and the helpers every transition uses:
//! lookups, event queuing, retried sends, timers, entering states, references
//! and freeing.
//!
//! Everything here runs with the manager lock held. It must never call out
//! (no callbacks, no sends, no timers): it appends to the `Output` the caller
//! performs after release, and it never blocks.

use super::cep::{Cep, Owner, flag};
use crate::cid::{Cid, CidTable};
use crate::codec;
use crate::error::CmError;
use crate::event::{CepRef, Delivery, EventKind, EventRecord, Released};
use crate::output::Output;
use crate::params::ManagerConfig;
use crate::platform::{Duration, Instant};
use crate::state::State;
use crate::stats::{RefPurpose, Stats};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use hashbrown::HashMap;
use ndcm_wire::Gid;
use ndcm_wire::mad::MAD_SIZE;

/// The state the manager lock protects (spec/CM.md §10.4).
pub(crate) struct Core {
    pub cfg: ManagerConfig,
    pub ceps: CidTable<Cep>,
    /// (remote comm ID, remote CA GUID) → CEP.
    pub remote_ids: HashMap<(u32, u64), Cid>,
    /// (remote QPN, remote CA GUID) → CEP.
    pub remote_qpns: HashMap<(u32, u64), Cid>,
    /// service ID → listeners.
    pub listens: BTreeMap<u64, Vec<Cid>>,
    /// (SIDR Request ID, source GID) → the SIDR_REQ_RCVD connection.
    pub sidr_seen: HashMap<(u32, Gid), Cid>,
    pub stats: Stats,
    pub next_tid: u64,
    /// The id of the last timer arming (`TimerOp`).
    pub timer_ids: u64,
    /// Received MADs dropped (malformed, unmatched or out of state).
    pub dropped: u64,
    /// Events discarded because a queue was full.
    pub events_overflowed: u64,
}

impl Core {
    pub(crate) fn new(cfg: ManagerConfig) -> Self {
        let max = cfg.max_ceps;
        Core {
            cfg,
            ceps: CidTable::new(max),
            remote_ids: HashMap::new(),
            remote_qpns: HashMap::new(),
            listens: BTreeMap::new(),
            sidr_seen: HashMap::new(),
            stats: Stats::default(),
            next_tid: 1,
            timer_ids: 0,
            dropped: 0,
            events_overflowed: 0,
        }
    }

    pub(crate) fn new_tid(&mut self) -> u64 {
        let t = self.next_tid;
        self.next_tid = self.next_tid.wrapping_add(1).max(1);
        t
    }

    // ----- lookups -----

    pub(crate) fn cep(&self, cid: Cid) -> Result<&Cep, CmError> {
        self.ceps.get(cid).ok_or(CmError::NotFound)
    }

    pub(crate) fn cep_mut(&mut self, cid: Cid) -> Result<&mut Cep, CmError> {
        self.ceps.get_mut(cid).ok_or(CmError::NotFound)
    }

    /// A caller's lookup: the CID must exist, belong to `owner` and not be
    /// destroyed (S8).
    pub(crate) fn owned(&self, owner: Owner, cid: Cid) -> Result<&Cep, CmError> {
        match self.ceps.get(cid) {
            Some(c) if c.owner == owner && c.state != State::Destroyed => Ok(c),
            _ => Err(CmError::NotFound),
        }
    }

    // ----- events and references -----

    /// Takes a reference on a CEP.
    pub(crate) fn add_ref(&mut self, cid: Cid, purpose: RefPurpose) -> Result<CepRef, CmError> {
        let cep = self.cep_mut(cid)?;
        cep.refs = cep.refs.saturating_add(1);
        self.stats.take(purpose);
        Ok(CepRef { cid, purpose })
    }

    /// Drops a reference; may run the destroy callback and free the CEP.
    pub(crate) fn release(&mut self, r: CepRef, out: &mut Output) {
        if let Ok(cep) = self.cep_mut(r.cid) {
            cep.refs = cep.refs.saturating_sub(1);
            self.stats.drop_ref(r.purpose);
            self.maybe_free(r.cid, out);
        }
    }

    /// Queues an event (spec/CM.md §10.3): discarded for a DESTROYED CEP;
    /// schedules a callback with its own reference when the queue goes from
    /// empty and unsignalled to non-empty.
    pub(crate) fn queue_event(
        &mut self,
        cid: Cid,
        kind: EventKind,
        new_cid: Option<Cid>,
        mad: Option<Box<[u8]>>,
        out: &mut Output,
    ) {
        let max = self.cfg.max_events_per_cep;
        let Ok(cep) = self.cep_mut(cid) else { return };
        if cep.state == State::Destroyed {
            return;
        }
        if cep.events.len() >= max {
            self.events_overflowed += 1;
            return;
        }
        cep.events.push_back(EventRecord::new(kind, new_cid, mad));
        self.stats.queued_events += 1;
        self.schedule(cid, out);
    }

    /// Emits a delivery if the CEP is configured, has events and no callback
    /// is already scheduled.
    pub(crate) fn schedule(&mut self, cid: Cid, out: &mut Output) {
        let Ok(cep) = self.cep_mut(cid) else { return };
        if cep.events.is_empty() || cep.has(flag::SIGNALLED) || !cep.has(flag::CONFIGURED) {
            return;
        }
        cep.set(flag::SIGNALLED);
        cep.refs = cep.refs.saturating_add(1);
        let (context, owner) = (cep.context, cep.owner);
        self.stats.take(RefPurpose::Callback);
        out.deliveries.push(Delivery {
            cep: CepRef {
                cid,
                purpose: RefPurpose::Callback,
            },
            context,
            owner,
        });
    }

    /// Drops every queued event of a CEP.
    pub(crate) fn discard_events(&mut self, cid: Cid) {
        if let Ok(cep) = self.cep_mut(cid) {
            let n = cep.events.len() as u64;
            cep.events = Default::default();
            self.stats.queued_events = self.stats.queued_events.saturating_sub(n);
        }
    }

    // ----- sends and timers -----

    /// Sends a MAD to the CEP's peer.
    pub(crate) fn send_to_peer(&self, cid: Cid, mad: [u8; MAD_SIZE], out: &mut Output) {
        if let Ok(cep) = self.cep(cid) {
            out.send(cep.peer, mad);
        }
    }

    /// Starts a retried send: send now, keep the MAD, arm the retry timer.
    pub(crate) fn start_retried(
        &mut self,
        cid: Cid,
        mad: [u8; MAD_SIZE],
        interval: Duration,
        retries: u8,
        now: Instant,
        out: &mut Output,
    ) {
        let Ok(cep) = self.cep_mut(cid) else { return };
        out.send(cep.peer, mad);
        cep.sent = Some(codec::trim(&mad));
        cep.retry_interval = interval;
        cep.retries_left = retries;
        cep.deadline = now + interval;
        let deadline = cep.deadline;
        if !cep.has(flag::RETRY_TIMER | flag::TIMEWAIT_TIMER) {
            self.stats.timers += 1;
        }
        let cep = self.cep_mut(cid).ok();
        if let Some(cep) = cep {
            cep.clear(flag::TIMEWAIT_TIMER);
            cep.set(flag::RETRY_TIMER);
        }
        self.arm_timer(cid, deadline, out);
    }

    /// Arms the CEP's timer for `deadline` (recording the arming's id, which
    /// a later cancel names).
    pub(crate) fn arm_timer(&mut self, cid: Cid, deadline: Instant, out: &mut Output) {
        self.timer_ids += 1;
        let id = self.timer_ids;
        if let Ok(cep) = self.cep_mut(cid) {
            cep.timer_id = id;
        }
        out.arm(cid, deadline, id);
    }

    /// Re-arms the retry timer to `deadline` (MRA stretch).
    pub(crate) fn rearm(&mut self, cid: Cid, deadline: Instant, out: &mut Output) {
        if let Ok(cep) = self.cep_mut(cid)
            && cep.has(flag::RETRY_TIMER)
        {
            cep.deadline = deadline;
            self.arm_timer(cid, deadline, out);
        }
    }

    /// Cancels whatever timer the CEP has; forgets a retried MAD.
    pub(crate) fn cancel_timer(&mut self, cid: Cid, out: &mut Output) {
        if let Ok(cep) = self.cep_mut(cid)
            && cep.has(flag::RETRY_TIMER | flag::TIMEWAIT_TIMER)
        {
            cep.clear(flag::RETRY_TIMER | flag::TIMEWAIT_TIMER);
            let (deadline, id) = (cep.deadline, cep.timer_id);
            self.stats.timers = self.stats.timers.saturating_sub(1);
            out.cancel(cid, deadline, id);
        }
    }

    /// Cancels an outstanding retried send (the response arrived).
    pub(crate) fn cancel_send(&mut self, cid: Cid, out: &mut Output) {
        let retrying = self
            .cep(cid)
            .map(|c| c.has(flag::RETRY_TIMER))
            .unwrap_or(false);
        if retrying {
            self.cancel_timer(cid, out);
            if let Ok(cep) = self.cep_mut(cid) {
                cep.sent = None;
            }
        }
    }

    /// The response to a retried send arrived: stop retrying and deliver it.
    pub(crate) fn answer_received(
        &mut self,
        cid: Cid,
        kind: EventKind,
        raw: &[u8],
        out: &mut Output,
    ) {
        self.cancel_send(cid, out);
        self.queue_event(cid, kind, None, Some(codec::trim(raw)), out);
    }

    /// A retried send ran out of retries: deliver the `*_ERROR` event with
    /// the message that timed out (spec/CM.md §10.2).
    pub(crate) fn retried_send_failed(
        &mut self,
        cid: Cid,
        kind: EventKind,
        out: &mut Output,
    ) -> Result<(), CmError> {
        let sent = self.cep(cid)?.sent.clone();
        self.cancel_send(cid, out);
        self.queue_event(cid, kind, None, sent, out);
        Ok(())
    }

    fn arm_timewait(&mut self, cid: Cid, now: Instant, out: &mut Output) {
        let Ok(cep) = self.cep_mut(cid) else { return };
        let had_timer = cep.has(flag::RETRY_TIMER | flag::TIMEWAIT_TIMER);
        cep.clear(flag::RETRY_TIMER);
        cep.set(flag::TIMEWAIT_TIMER);
        cep.deadline = now + cep.timewait;
        let deadline = cep.deadline;
        if !had_timer {
            self.stats.timers += 1;
        }
        self.arm_timer(cid, deadline, out);
    }

    // ----- tables -----

    pub(crate) fn insert_remote_id(&mut self, cid: Cid) -> bool {
        let Ok(cep) = self.cep(cid) else { return false };
        let key = (cep.remote_comm_id, cep.remote_ca_guid);
        if self.remote_ids.contains_key(&key) {
            return false;
        }
        self.remote_ids.insert(key, cid);
        self.stats.table_entries += 1;
        if let Ok(cep) = self.cep_mut(cid) {
            cep.set(flag::IN_REMOTE_ID);
        }
        true
    }

    pub(crate) fn remove_remote_id(&mut self, cid: Cid) {
        let Ok(cep) = self.cep_mut(cid) else { return };
        if !cep.has(flag::IN_REMOTE_ID) {
            return;
        }
        cep.clear(flag::IN_REMOTE_ID);
        let key = (cep.remote_comm_id, cep.remote_ca_guid);
        if self.remote_ids.get(&key) == Some(&cid) {
            self.remote_ids.remove(&key);
            self.stats.table_entries = self.stats.table_entries.saturating_sub(1);
        }
    }

    pub(crate) fn insert_remote_qpn(&mut self, cid: Cid) -> bool {
        let Ok(cep) = self.cep(cid) else { return false };
        let key = (cep.remote_qpn, cep.remote_ca_guid);
        if self.remote_qpns.contains_key(&key) {
            return false;
        }
        self.remote_qpns.insert(key, cid);
        self.stats.table_entries += 1;
        if let Ok(cep) = self.cep_mut(cid) {
            cep.set(flag::IN_REMOTE_QPN);
        }
        true
    }

    pub(crate) fn remove_remote_qpn(&mut self, cid: Cid) {
        let Ok(cep) = self.cep_mut(cid) else { return };
        if !cep.has(flag::IN_REMOTE_QPN) {
            return;
        }
        cep.clear(flag::IN_REMOTE_QPN);
        let key = (cep.remote_qpn, cep.remote_ca_guid);
        if self.remote_qpns.get(&key) == Some(&cid) {
            self.remote_qpns.remove(&key);
            self.stats.table_entries = self.stats.table_entries.saturating_sub(1);
        }
    }

    pub(crate) fn remove_sidr_seen(&mut self, cid: Cid) {
        let Ok(cep) = self.cep_mut(cid) else { return };
        if !cep.has(flag::IN_SIDR_SEEN) {
            return;
        }
        cep.clear(flag::IN_SIDR_SEEN);
        let key = (cep.remote_comm_id, cep.peer.gid);
        if self.sidr_seen.get(&key) == Some(&cid) {
            self.sidr_seen.remove(&key);
            self.stats.table_entries = self.stats.table_entries.saturating_sub(1);
        }
    }

    // ----- entering states -----

    /// Moves a CEP to `next` with the bookkeeping the spec ties to entering
    /// that state.
    pub(crate) fn enter(&mut self, cid: Cid, next: State, now: Instant, out: &mut Output) {
        let Ok(cep) = self.cep_mut(cid) else { return };
        let prev = cep.state;
        cep.state = next;
        match next {
            // §4.3: entering timewait removes the remote-QPN entry and arms
            // the timewait timer.
            State::Timewait => {
                self.remove_remote_qpn(cid);
                self.arm_timewait(cid, now, out);
            }
            State::Idle => {
                self.cancel_timer(cid, out);
                self.remove_remote_qpn(cid);
                self.remove_remote_id(cid);
                self.remove_sidr_seen(cid);
                if let Ok(cep) = self.cep_mut(cid) {
                    cep.sent = None;
                    cep.mra = None;
                    cep.clear(flag::DEFERRED_MRA);
                }
            }
            State::Destroyed => {
                // §9: "DESTROYED, timewait": hold the comm ID for T_tw unless
                // the timewait is already running.
                self.remove_remote_qpn(cid);
                self.remove_sidr_seen(cid);
                let tw = self
                    .cep(cid)
                    .map(|c| c.has(flag::TIMEWAIT_TIMER))
                    .unwrap_or(false);
                if !tw && prev != State::Destroyed {
                    self.arm_timewait(cid, now, out);
                }
                if let Ok(cep) = self.cep_mut(cid) {
                    cep.mra = None;
                    cep.clear(flag::DEFERRED_MRA);
                }
            }
            _ => {}
        }
    }

    /// DESTROYED without timewait (§9 "freed"): no timer, no table entries.
    pub(crate) fn enter_freed(&mut self, cid: Cid, out: &mut Output) {
        self.cancel_timer(cid, out);
        self.remove_remote_qpn(cid);
        self.remove_remote_id(cid);
        self.remove_sidr_seen(cid);
        if let Ok(cep) = self.cep_mut(cid) {
            cep.state = State::Destroyed;
            cep.sent = None;
            cep.mra = None;
        }
    }

    /// Runs the destroy callback when the last reference to a DESTROYED CEP
    /// is gone, and frees the slot once timewait is over too (§9, §10.4).
    pub(crate) fn maybe_free(&mut self, cid: Cid, out: &mut Output) {
        let Ok(cep) = self.cep_mut(cid) else { return };
        if cep.state != State::Destroyed || cep.refs != 0 {
            return;
        }
        if !cep.has(flag::RELEASED) {
            cep.set(flag::RELEASED);
            out.released.push(Released {
                cid,
                context: cep.context,
            });
        }
        if cep.has(flag::TIMEWAIT_TIMER) {
            return;
        }
        self.remove_remote_id(cid);
        self.remove_remote_qpn(cid);
        self.remove_sidr_seen(cid);
        self.discard_events(cid);
        if self.ceps.remove(cid).is_some() {
            self.stats.ceps = self.stats.ceps.saturating_sub(1);
        }
    }

    /// Allocates a CEP for `owner` with the creation reference.
    pub(crate) fn create(&mut self, owner: Owner) -> Result<Cid, CmError> {
        let cid = self
            .ceps
            .insert(|_, comm| Cep::new(owner, comm))
            .map_err(|_| CmError::NoResources)?;
        self.stats.ceps += 1;
        self.stats.take(RefPurpose::Creation);
        Ok(cid)
    }
}
