//! Manual queues (WdfIoQueueCreate with WdfIoQueueDispatchManual and an
//! EvtIoCanceledOnQueue callback): forward, retrieve, purge, delete.
//!
//! Retrieval and cancellation are decided under the framework's internal
//! mutex, so a queued request is handed out exactly once: to a retriever or
//! to the cancel callback, never both. Callbacks run after the mutex is
//! released, at DISPATCH_LEVEL, inside a checked callback scope.

use super::state::{Owner, Queue, RequestView};
use super::{Framework, QueueId, RequestId, status};
use crate::irql::{callback_scope, require_irql};
use crate::sys::{Callback, Irql, Sys};
use crate::verifier::Rule;
use std::collections::VecDeque;
use std::sync::Arc;

/// EvtIoCanceledOnQueue: called with a request the framework has just
/// removed from the queue because user mode cancelled it. The driver owns
/// the request in the callback and must complete it.
pub type CanceledOnQueue = Arc<dyn Fn(QueueId, RequestId) + Send + Sync>;

impl<S: Sys> Framework<S> {
    /// Creates a manual queue. Without `on_canceled` the framework completes
    /// a request cancelled in the queue with STATUS_CANCELLED itself.
    pub fn create_queue(&self, on_canceled: Option<CanceledOnQueue>) -> QueueId {
        require_irql::<S>(&self.verifier, "WdfIoQueueCreate", Irql::DISPATCH);
        let id = QueueId(self.fresh_id());
        self.inner.with(|i| {
            let _ = i.queues.insert(
                id,
                Queue {
                    requests: VecDeque::new(),
                    on_canceled,
                    accepting: true,
                },
            );
        });
        id
    }

    /// WdfRequestForwardToIoQueue. The request must be driver-owned and not
    /// cancelable (ReqMarkCancelableSend). `context` is kept with it for
    /// retrieval. Fails, leaving the request with the driver, if the queue
    /// no longer accepts requests (INVALID_DEVICE_STATE) or if user mode has
    /// already cancelled the request (CANCELLED): the driver completes it.
    #[track_caller]
    pub fn forward_to_queue(
        &self,
        request: RequestId,
        queue: QueueId,
        context: [u64; 2],
    ) -> Result<(), u32> {
        require_irql::<S>(&self.verifier, "WdfRequestForwardToIoQueue", Irql::DISPATCH);
        let outcome = self.inner.with(|i| {
            let accepting = i.queues.get(&queue).map(|q| q.accepting);
            let Some(r) = i.requests.get_mut(&request) else {
                return Err((Some(Rule::InvalidReqAccess), status::INVALID_DEVICE_REQUEST));
            };
            match r.owner {
                Owner::Driver => {}
                Owner::Cancelable(_) => {
                    return Err((
                        Some(Rule::ReqMarkCancelableSend),
                        status::INVALID_DEVICE_REQUEST,
                    ));
                }
                _ => {
                    return Err((Some(Rule::InvalidReqAccess), status::INVALID_DEVICE_REQUEST));
                }
            }
            if accepting != Some(true) {
                return Err((None, status::INVALID_DEVICE_STATE));
            }
            if r.cancel_requested {
                return Err((None, status::CANCELLED));
            }
            r.owner = Owner::Queued(queue);
            r.handed_off = true;
            r.context = context;
            if let Some(q) = i.queues.get_mut(&queue) {
                q.requests.push_back(request);
            }
            Ok(())
        });
        outcome.map_err(|(rule, st)| {
            if let Some(rule) = rule {
                self.verifier.report(
                    rule,
                    format!("WdfRequestForwardToIoQueue({request:?}) in the wrong state"),
                );
            }
            st
        })
    }

    /// WdfIoQueueRetrieveNextRequest.
    pub fn retrieve_next(&self, queue: QueueId) -> Option<(RequestId, [u64; 2])> {
        self.retrieve_first(queue, |_| true)
    }

    /// WdfIoQueueFindRequest + WdfIoQueueRetrieveFoundRequest: the oldest
    /// queued request that `matches`, removed from the queue and given to
    /// the driver, with its context.
    pub fn retrieve_first(
        &self,
        queue: QueueId,
        matches: impl Fn(&RequestView<'_>) -> bool,
    ) -> Option<(RequestId, [u64; 2])> {
        require_irql::<S>(
            &self.verifier,
            "WdfIoQueueRetrieveFoundRequest",
            Irql::DISPATCH,
        );
        self.inner.with(|i| {
            let q = i.queues.get(&queue)?;
            let pos = q.requests.iter().position(|id| {
                i.requests.get(id).is_some_and(|r| {
                    matches(&RequestView {
                        id: *id,
                        code: r.code,
                        input: &r.input,
                        context: r.context,
                    })
                })
            })?;
            let id = i.queues.get_mut(&queue)?.requests.remove(pos)?;
            let r = i.requests.get_mut(&id)?;
            r.owner = Owner::Driver;
            Some((id, r.context))
        })
    }

    /// How many requests wait in `queue`.
    pub fn queue_len(&self, queue: QueueId) -> usize {
        self.inner
            .with(|i| i.queues.get(&queue).map_or(0, |q| q.requests.len()))
    }

    /// WdfIoQueuePurge: the queue stops accepting requests and every queued
    /// request is cancelled (EvtIoCanceledOnQueue, or completed with
    /// STATUS_CANCELLED by the framework when there is no callback).
    pub fn purge_queue(&self, queue: QueueId) {
        require_irql::<S>(&self.verifier, "WdfIoQueuePurge", Irql::DISPATCH);
        let (taken, callback) = self.inner.with(|i| {
            let Some(q) = i.queues.get_mut(&queue) else {
                return (Vec::new(), None);
            };
            q.accepting = false;
            let taken: Vec<RequestId> = q.requests.drain(..).collect();
            let callback = q.on_canceled.clone();
            for id in &taken {
                if let Some(r) = i.requests.get_mut(id) {
                    r.owner = Owner::Driver;
                    r.cancel_requested = true;
                }
            }
            (taken, callback)
        });
        for id in taken {
            self.deliver_canceled_on_queue(queue, id, callback.clone());
        }
    }

    /// WdfObjectDelete on a queue: purges it, then forgets it.
    pub fn delete_queue(&self, queue: QueueId) {
        self.purge_queue(queue);
        self.inner.with(|i| {
            let _ = i.queues.remove(&queue);
        });
    }

    /// Number of live queues (leak accounting).
    pub fn live_queues(&self) -> usize {
        self.inner.with(|i| i.queues.len())
    }

    /// Runs EvtIoCanceledOnQueue for `request` (already removed from the
    /// queue and given to the driver), or completes it with CANCELLED when
    /// the queue has no callback.
    pub(super) fn deliver_canceled_on_queue(
        &self,
        queue: QueueId,
        request: RequestId,
        callback: Option<CanceledOnQueue>,
    ) {
        match callback {
            Some(cb) => callback_scope::<S, _>(
                &self.verifier,
                Callback::Cancel(request.0),
                Irql::DISPATCH,
                || cb(queue, request),
            ),
            None => {
                callback_scope::<S, _>(
                    &self.verifier,
                    Callback::Cancel(request.0),
                    Irql::DISPATCH,
                    || self.complete(request, status::CANCELLED, 0),
                );
            }
        }
    }
}
