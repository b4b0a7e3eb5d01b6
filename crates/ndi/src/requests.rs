//! The KMDF manual-queue operations the dispatcher needs (spec/NDI.md §6),
//! as a trait implemented by `ndcm-host` (the rule-enforcing model) and by
//! `driver/queue.rs` (WDF manual queues with EvtIoCanceledOnQueue).
//!
//! # Ownership is the exactly-once rule
//!
//! A [`Requests::Request`] is an owned, non-`Clone` token: whoever holds it
//! is the only party allowed to complete it. `dispatch` receives it by value;
//! it either returns it completed (`Dispatched::Complete`, the caller
//! completes) or moves it into a queue with [`Requests::forward`]. From then
//! on exactly one of these takes it out again, atomically with respect to
//! the others:
//!
//! * a CM event, through [`Requests::retrieve`] (by kind);
//! * teardown, through [`Requests::retrieve`] / [`Requests::retrieve_any`];
//! * the framework, when user mode cancels it while it is queued: the
//!   framework removes it from the queue and calls the dispatcher's cancel
//!   entry point (`Ndi::canceled_on_queue`) with the request by value.
//!
//! Retrieval and framework cancellation race only inside the implementation,
//! which must settle it under its own queue lock: a request is handed out
//! once. The loser sees `None` and must not complete anything. Completion
//! consumes the token, so "no access after completion" is enforced by the
//! borrow checker; implementations should also poison buffers on completion
//! (InvalidReqAccess).
//!
//! # Rules for implementations
//!
//! 1. Every method may be called at IRQL <= DISPATCH_LEVEL and while the
//!    dispatcher holds one of its spin locks (forward happens under the
//!    object's lock after the state check, rule 1 of spec §6). So no method
//!    may block. As in KMDF, `forward` and the `retrieve*`/`delete_queue`
//!    calls may run the queue's dispatch loop on the calling thread and so
//!    call the cancel entry point there, for this request (forwarded after
//!    it was cancelled: `forward` still succeeds) or for others cancelled
//!    meanwhile (`FxIoQueue::QueueRequestFromForward` → `DispatchEvents` →
//!    `ProcessCancelledRequestsOnQueue`). The dispatcher defers such a
//!    callback until it lets go of the lock (`Ndi::canceled_on_queue`).
//! 2. `complete` is never called with a dispatcher lock held (the
//!    dispatcher retrieves under the lock and completes after releasing it).
//! 3. A request handed to the cancel entry point must be completed by the
//!    dispatcher from that call (the cancel "callback context"), never
//!    unmarked or re-queued.
//! 4. `retrieve*` never returns a request that the framework has started to
//!    cancel; a plain `retrieve_any` never returns a NOTIFY_DREQ.
//! 5. `delete_queue` is called after the queue has been emptied with
//!    `retrieve_any`/`retrieve(NotifyDreq)`; a cancel callback already in
//!    flight for that queue may still arrive afterwards and must be
//!    delivered (the dispatcher finds the object gone and completes the
//!    request with STATUS_CANCELLED).

use crate::abi::NtStatus;

/// What a pended request is waiting for; stored with the request and used
/// for retrieval by kind (spec §6 rule 2) and to pick the cancel action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PendKind {
    /// Connect: waits for REP / REJ / timeout.
    ReqCm,
    /// Accept: waits for RTU / established / REJ / timeout.
    RepCm,
    /// Disconnect: waits for DREP / DREQ / REJ / timeout.
    DreqCm,
    /// NotifyDisconnect: waits for DREQ / REJ / local disconnect.
    NotifyDreq,
    /// GetConnectionRequest (on a listener): waits for a REQ.
    GetReqCm,
    /// MAD agent: waits for an outbound MAD.
    MadOutbound,
}

/// What the framework stores with a pended request and gives back on
/// retrieval and on cancellation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendInfo {
    /// What the request waits for.
    pub kind: PendKind,
    /// Kind-specific datum: for GET_REQ_CM the target connection's handle.
    pub tag: u64,
}

/// Identifies the object that owns a queue, so the cancel entry point can
/// find it by lookup under the lock rather than through a pointer that may
/// be stale (S5: the cancel path never touches an object it does not hold
/// a reference to; the lookup yields one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QueueOwner {
    /// The instance (open file) id.
    pub instance: u64,
    /// The owning object's handle (connection, listener), or 0 for the
    /// instance's own queue (MAD agent).
    pub object: u64,
}

/// The KMDF manual-queue operations.
pub trait Requests: Send + Sync {
    /// An incoming request (WDFREQUEST). Owning it is the right to complete it.
    type Request: Send;
    /// A manual queue (WDFQUEUE) whose context is a [`QueueOwner`].
    type Queue: Send;

    /// Creates a manual queue for an object. The framework calls the
    /// dispatcher's cancel entry point with `owner` for every request
    /// cancelled while queued.
    fn create_queue(&self, owner: QueueOwner) -> Result<Self::Queue, NtStatus>;

    /// Moves `request` into `queue` with `info` (WdfRequestForwardToIoQueue,
    /// cancellable while queued). A request user mode already cancelled is
    /// accepted and handed to the cancel entry point, possibly on this
    /// thread before `forward` returns (rule 1). On failure (the queue no
    /// longer accepts requests) the request is returned with the status to
    /// complete it with.
    fn forward(
        &self,
        queue: &Self::Queue,
        request: Self::Request,
        info: PendInfo,
    ) -> Result<(), (Self::Request, NtStatus)>;

    /// Takes the oldest queued request of `kind` out of `queue`, if any
    /// (WdfIoQueueFindRequest + WdfIoQueueRetrieveFoundRequest).
    fn retrieve(&self, queue: &Self::Queue, kind: PendKind) -> Option<(Self::Request, PendInfo)>;

    /// Takes the oldest queued request of `kind` whose tag is `tag` (a
    /// GET_REQ_CM for one target connection).
    fn retrieve_tagged(
        &self,
        queue: &Self::Queue,
        kind: PendKind,
        tag: u64,
    ) -> Option<(Self::Request, PendInfo)>;

    /// Takes the oldest queued request of any kind except NOTIFY_DREQ.
    fn retrieve_any(&self, queue: &Self::Queue) -> Option<(Self::Request, PendInfo)>;

    /// Copies `bytes` to the start of the request's output buffer and
    /// returns how many were written (at most the output length).
    fn write_output(&self, request: &mut Self::Request, bytes: &[u8]) -> usize;

    /// Completes the request (WdfRequestCompleteWithInformation). Consumes it.
    fn complete(&self, request: Self::Request, status: NtStatus, information: usize);

    /// Deletes an emptied queue (WdfObjectDelete).
    fn delete_queue(&self, queue: Self::Queue);
}
