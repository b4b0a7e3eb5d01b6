//! The framework's bookkeeping: each request's state machine and each
//! queue's contents. Plain data under the framework's internal mutex; the
//! rule checks that read it are in ddi.rs and io.rs.

use super::queue::CanceledOnQueue;
use super::{FileId, QueueId, RequestId};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Who may act on a request now.
#[derive(Clone)]
pub(crate) enum Owner {
    /// The driver (in its dispatch routine, after retrieval, or in the
    /// EvtIoCanceledOnQueue callback the framework gave it to).
    Driver,
    /// In a manual queue: the framework owns it.
    Queued(QueueId),
    /// Cancelled while queued and waiting on the queue's cancelled list
    /// (`m_CanceledOnQueueList`) for a dispatching thread to give it to the
    /// driver's EvtIoCanceledOnQueue (`FxIoQueue::CancelForQueue`). The
    /// framework still holds it: the driver has no handle to it yet.
    CanceledOnQueue(QueueId),
    /// Marked cancelable; the framework will call the routine on cancel.
    Cancelable(Arc<dyn Fn(RequestId) + Send + Sync>),
    /// Its cancel routine has been (or is being) called: only that routine
    /// may complete it.
    CancelRoutine,
    /// Completed; every further use is a violation.
    Completed,
}

/// One request.
pub(crate) struct Request {
    pub(crate) file: FileId,
    pub(crate) code: u32,
    pub(crate) input: Vec<u8>,
    pub(crate) output: Vec<u8>,
    pub(crate) owner: Owner,
    /// User mode asked to cancel it (IoCancelIrp ran).
    pub(crate) cancel_requested: bool,
    /// It was marked cancelable at some point (InvalidReqAccess exemption
    /// for WdfRequestUnmarkCancelable).
    pub(crate) was_cancelable: bool,
    /// A driver-chosen context kept with the request while queued
    /// (the ndi PendInfo).
    pub(crate) context: [u64; 2],
    /// The result, once completed.
    pub(crate) completion: Option<super::Completion>,
    /// How many times completion was attempted (the exactly-once audit).
    pub(crate) completions: u32,
    /// Completed, forwarded or marked cancelable at least once: what
    /// RequestCompletedLocal asks of the dispatch routine. (The current
    /// owner is not enough: once forwarded, another thread may already have
    /// retrieved it when the dispatch routine returns.)
    pub(crate) handed_off: bool,
}

/// What a retrieval predicate sees of a queued request.
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'a> {
    /// The request.
    pub id: RequestId,
    /// Its IOCTL code.
    pub code: u32,
    /// Its input buffer.
    pub input: &'a [u8],
    /// The context the driver stored with it when forwarding.
    pub context: [u64; 2],
}

/// One manual queue (the parts of `FxIoQueue` the model needs).
pub(crate) struct Queue {
    /// The cancel-safe queue of requests waiting for retrieval (`m_Queue`).
    pub(crate) requests: VecDeque<RequestId>,
    /// Requests cancelled while queued, waiting for a dispatching thread to
    /// deliver EvtIoCanceledOnQueue (`m_CanceledOnQueueList`).
    pub(crate) canceled: VecDeque<RequestId>,
    /// Threads inside the queue's dispatch loop (`m_Dispatching`).
    pub(crate) dispatching: u32,
    pub(crate) on_canceled: Option<CanceledOnQueue>,
    /// False once purged or deleted: forwards fail.
    pub(crate) accepting: bool,
    /// WdfObjectDelete has run on it (`m_Disposing`): the last dispatching
    /// thread to leave an idle queue deletes it (`m_Deleted`).
    pub(crate) disposing: bool,
}

/// One file object.
#[derive(Default)]
pub(crate) struct File {
    pub(crate) closed: bool,
}

/// Everything under the internal mutex.
#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) requests: HashMap<RequestId, Request>,
    pub(crate) queues: HashMap<QueueId, Queue>,
    pub(crate) files: HashMap<FileId, File>,
}
