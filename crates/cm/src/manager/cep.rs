//! The connection end point as the manager stores it (spec/CM.md §1, §10.4).
//!
//! Owns the per-connection fields and flags. Everything here is reached only
//! under the manager lock; nothing here sends, arms or delivers.

use crate::cid::Cid;
use crate::event::EventRecord;
use crate::params::MadAddress;
use crate::platform::{Duration, Instant};
use crate::state::State;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use ndcm_wire::PathRecord;

/// The owner of a handle: one per open file (S8).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Owner(pub u64);

/// CEP flag bits.
pub(crate) mod flag {
    /// The active side (sent the REQ).
    pub const ACTIVE: u16 = 1 << 0;
    /// `config` was called.
    pub const CONFIGURED: u16 = 1 << 1;
    /// A callback is scheduled or running (edge trigger, §10.3).
    pub const SIGNALLED: u16 = 1 << 2;
    /// The retry timer of a retried send is armed.
    pub const RETRY_TIMER: u16 = 1 << 3;
    /// The timewait timer is armed.
    pub const TIMEWAIT_TIMER: u16 = 1 << 4;
    /// A deferred MRA is armed (§5.4).
    pub const DEFERRED_MRA: u16 = 1 << 5;
    /// Entered in the remote-ID table.
    pub const IN_REMOTE_ID: u16 = 1 << 6;
    /// Entered in the remote-QPN table.
    pub const IN_REMOTE_QPN: u16 = 1 << 7;
    /// The destroy callback was emitted.
    pub const RELEASED: u16 = 1 << 8;
    /// Entered in the SIDR duplicate table.
    pub const IN_SIDR_SEEN: u16 = 1 << 9;
    /// In the listen table.
    pub const IN_LISTEN: u16 = 1 << 10;
}

/// What a `pdata` buffer holds, for `get_pdata` (true field length).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PdataKind {
    None,
    Req,
    Rep,
    Rej,
}

impl PdataKind {
    pub(crate) const fn field_len(self) -> usize {
        match self {
            PdataKind::None => 0,
            PdataKind::Req => 92,
            PdataKind::Rep => 196,
            PdataKind::Rej => 148,
        }
    }
}

/// Listener data (spec/CM.md §7).
#[derive(Debug)]
pub(crate) struct ListenInfo {
    pub service_id: u64,
    pub port: Option<u8>,
    pub compare_offset: u8,
    pub compare: Option<Box<[u8]>>,
    pub backlog: u32,
    pub sidr: bool,
    /// REQ connections created for this listener and not yet taken
    /// (`config`ed) by the consumer.
    pub untaken: Vec<Cid>,
}

/// Rarely used per-connection data, kept out of line.
#[derive(Debug)]
pub(crate) enum Ext {
    Listen(ListenInfo),
    Paths {
        primary: PathRecord,
        alternate: PathRecord,
        path_mtu: u8,
        retry_count: u8,
        rnr_retry_count: u8,
    },
}

/// One connection.
#[derive(Debug)]
pub(crate) struct Cep {
    pub owner: Owner,
    pub state: State,
    pub flags: u16,
    pub pdata_kind: PdataKind,
    /// Creation + callback + consumer references.
    pub refs: u32,
    pub local_comm_id: u32,
    pub remote_comm_id: u32,
    pub local_qpn: u32,
    pub remote_qpn: u32,
    pub remote_psn: u32,
    pub local_psn: u32,
    pub remote_ca_guid: u64,
    pub service_id: u64,
    /// The connection's transaction ID (the REQ's; REP, RTU, MRA, REJ reuse
    /// it) or the TID of our latest DREQ/LAP/SIDR_REQ.
    pub tid: u64,
    /// The TID of the peer's last DREQ, LAP or SIDR_REQ (echoed).
    pub peer_tid: u64,
    pub context: u64,
    pub peer: MadAddress,
    pub deadline: Instant,
    /// The id of the arming of `deadline` (`TimerOp`).
    pub timer_id: u64,
    pub retry_interval: Duration,
    pub timewait: Duration,
    pub retries_left: u8,
    pub max_cm_retries: u8,
    pub two_plt: u8,
    pub local_cm_response_timeout: u8,
    pub remote_cm_response_timeout: u8,
    pub target_ack_delay: u8,
    pub local_ack_timeout: u8,
    pub responder_resources: u8,
    pub initiator_depth: u8,
    /// The listener of an untaken passive connection.
    pub parent: Option<Cid>,
    /// The MAD being retransmitted, or the cached once-sent message (RTU,
    /// DREP, APR), trimmed.
    pub sent: Option<Box<[u8]>>,
    /// The MRA sent (re-sent on duplicates), trimmed.
    pub mra: Option<Box<[u8]>>,
    /// Private data of the last REQ, REP or REJ received, trimmed.
    pub pdata: Option<Box<[u8]>>,
    pub events: VecDeque<EventRecord>,
    pub ext: Option<Box<Ext>>,
}

impl Cep {
    pub(crate) fn new(owner: Owner, local_comm_id: u32) -> Self {
        Cep {
            owner,
            state: State::Idle,
            flags: 0,
            pdata_kind: PdataKind::None,
            refs: 1,
            local_comm_id,
            remote_comm_id: 0,
            local_qpn: 0,
            remote_qpn: 0,
            remote_psn: 0,
            local_psn: 0,
            remote_ca_guid: 0,
            service_id: 0,
            tid: 0,
            peer_tid: 0,
            context: 0,
            peer: MadAddress::default(),
            deadline: Instant(0),
            timer_id: 0,
            retry_interval: Duration::ZERO,
            timewait: Duration::ZERO,
            retries_left: 0,
            max_cm_retries: 0,
            two_plt: 0,
            local_cm_response_timeout: 0,
            remote_cm_response_timeout: 0,
            target_ack_delay: 0,
            local_ack_timeout: 0,
            responder_resources: 0,
            initiator_depth: 0,
            parent: None,
            sent: None,
            mra: None,
            pdata: None,
            events: VecDeque::new(),
            ext: None,
        }
    }

    pub(crate) fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
    pub(crate) fn set(&mut self, f: u16) {
        self.flags |= f;
    }
    pub(crate) fn clear(&mut self, f: u16) {
        self.flags &= !f;
    }

    pub(crate) fn listen_info(&self) -> Option<&ListenInfo> {
        match self.ext.as_deref() {
            Some(Ext::Listen(l)) => Some(l),
            _ => None,
        }
    }
    pub(crate) fn listen_info_mut(&mut self) -> Option<&mut ListenInfo> {
        match self.ext.as_deref_mut() {
            Some(Ext::Listen(l)) => Some(l),
            _ => None,
        }
    }

    /// Heap bytes owned by this CEP (for the memory-per-CEP figure):
    /// requested sizes, without allocator overhead.
    pub(crate) fn heap_bytes(&self) -> usize {
        let boxed = |b: &Option<Box<[u8]>>| b.as_ref().map_or(0, |b| b.len());
        let ext = match self.ext.as_deref() {
            None => 0,
            Some(Ext::Listen(l)) => {
                core::mem::size_of::<Ext>()
                    + l.compare.as_ref().map_or(0, |c| c.len())
                    + l.untaken.capacity() * core::mem::size_of::<Cid>()
            }
            Some(Ext::Paths { .. }) => core::mem::size_of::<Ext>(),
        };
        boxed(&self.sent)
            + boxed(&self.mra)
            + boxed(&self.pdata)
            + self.events.capacity() * core::mem::size_of::<EventRecord>()
            + self
                .events
                .iter()
                .map(EventRecord::heap_bytes)
                .sum::<usize>()
            + ext
    }
}
