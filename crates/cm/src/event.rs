//! Events, their delivery and the callback scope (spec/CM.md §10.2–10.3, S1).
//!
//! Owns the event records queued on a CEP, the owned references that deliver
//! them (`CepRef`, `Delivery`) and the scope token only a running callback
//! receives. It never touches the manager's state itself: `CepManager::deliver`
//! creates the scope and records the calling thread in it (the one copy of
//! that thread), `poll` and `format_event` check it.

use crate::cid::Cid;
use crate::platform::ThreadId;
use crate::stats::RefPurpose;
use alloc::boxed::Box;
use core::sync::atomic::{AtomicBool, Ordering};

/// The kind of a CM event (spec/CM.md §10.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum EventKind {
    /// REQ retries exhausted (REJ 4 sent).
    ReqError,
    /// A REQ for a listener; the record names the new CID.
    ReqReceived,
    /// REP retries exhausted.
    RepError,
    /// REP arrived.
    RepReceived,
    /// RTU arrived (or the synthetic RTU of `established`, without a MAD).
    RtuReceived,
    /// DREQ retries exhausted.
    DreqError,
    /// DREQ arrived.
    DreqReceived,
    /// DREP arrived.
    DrepReceived,
    /// REJ arrived (or a stale connection was detected: reason 10).
    RejReceived,
    /// The first MRA for an outstanding message.
    MraReceived,
    /// LAP retries exhausted.
    LapError,
    /// LAP arrived.
    LapReceived,
    /// APR arrived.
    AprReceived,
    /// SIDR_REQ retries exhausted.
    SidrReqError,
    /// A SIDR_REQ for a listener; the record names the new CID.
    SidrReqReceived,
    /// SIDR_REP arrived.
    SidrRepReceived,
    /// The connection left timewait and may be reused.
    TimewaitExit,
}

/// One queued event. The consumer owns it once polled.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EventRecord {
    /// What happened.
    pub kind: EventKind,
    /// For REQ_RECEIVED / SIDR_REQ_RECEIVED on a listener: the new CID.
    pub new_cid: Option<Cid>,
    /// The MAD (trailing zeros trimmed; `format_event` restores them). For an
    /// *_ERROR event, the message that timed out.
    pub(crate) mad: Option<Box<[u8]>>,
}

impl EventRecord {
    pub(crate) fn new(kind: EventKind, new_cid: Option<Cid>, mad: Option<Box<[u8]>>) -> Self {
        EventRecord { kind, new_cid, mad }
    }

    /// Heap bytes held by this record.
    pub fn heap_bytes(&self) -> usize {
        self.mad.as_ref().map_or(0, |m| m.len())
    }
}

/// An owned reference to a CEP with a named purpose (S6). It is not `Clone`;
/// give it back with `CepManager::release` (a dropped one stays counted in
/// `Stats` and is reported as a leak).
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a CEP reference must be released with CepManager::release"]
pub struct CepRef {
    pub(crate) cid: Cid,
    pub(crate) purpose: RefPurpose,
}

impl CepRef {
    /// The CEP this reference keeps alive.
    pub fn cid(&self) -> Cid {
        self.cid
    }
    /// Why it is held.
    pub fn purpose(&self) -> RefPurpose {
        self.purpose
    }
}

/// A scheduled callback: run it with `CepManager::deliver` after the manager
/// lock is released. It holds the callback's reference.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a delivery holds a reference; run it with CepManager::deliver"]
pub struct Delivery {
    pub(crate) cep: CepRef,
    /// The context given to `config`.
    pub context: u64,
    /// The CEP's owner, so a consumer that serves many owners routes the
    /// callback without a table of its own.
    pub owner: crate::Owner,
}

impl Delivery {
    /// The CEP whose events are pending.
    pub fn cid(&self) -> Cid {
        self.cep.cid
    }
}

/// The callback context (S1): the token a callback receives. The manager
/// creates it in `CepManager::deliver` and records in it, and only in it,
/// the thread that calls the callback. It borrows the callback's reference,
/// so it cannot outlive the callback; `poll` and `format_event` require it
/// and refuse, with `CmError::NotCallbackThread`, to run on any other
/// thread.
#[derive(Debug)]
pub struct CallbackScope<'a> {
    pub(crate) cep: &'a CepRef,
    /// The calling thread, recorded before the callback runs.
    pub(crate) thread: ThreadId,
    pub(crate) context: u64,
    /// Set when `poll` returned "none" in this callback (the edge trigger
    /// was re-armed, spec/CM.md §10.3). A callback that returns without
    /// it leaves its events to a new callback (`CepManager::deliver`).
    pub(crate) drained: AtomicBool,
}

impl<'a> CallbackScope<'a> {
    pub(crate) fn new(cep: &'a CepRef, thread: ThreadId, context: u64) -> Self {
        CallbackScope {
            cep,
            thread,
            context,
            drained: AtomicBool::new(false),
        }
    }

    /// The CEP the callback runs for.
    pub fn cid(&self) -> Cid {
        self.cep.cid
    }
    /// The context given to `config`.
    pub fn context(&self) -> u64 {
        self.context
    }
    /// The thread the manager recorded before calling the callback.
    pub fn thread(&self) -> ThreadId {
        self.thread
    }

    pub(crate) fn set_drained(&self) {
        self.drained.store(true, Ordering::Relaxed);
    }

    pub(crate) fn was_drained(&self) -> bool {
        self.drained.load(Ordering::Relaxed)
    }
}

/// The destroy callback: the last reference to a destroyed CEP is gone.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Released {
    /// The CEP.
    pub cid: Cid,
    /// Its context (0 if never configured).
    pub context: u64,
}
