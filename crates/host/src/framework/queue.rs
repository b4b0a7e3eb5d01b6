//! Manual queues (WdfIoQueueCreate with WdfIoQueueDispatchManual and an
//! EvtIoCanceledOnQueue callback): forward, retrieve, purge, delete — and the
//! queue's dispatch loop, modelled on Microsoft's KMDF source
//! (Windows-Driver-Frameworks, src/framework/shared/irphandlers/io/
//! fxioqueue.cpp and inc/private/common/fxioqueue.hpp), not kinder:
//!
//! - A request cancelled while queued is taken out of the queue and put on
//!   the queue's cancelled list under the queue lock (`CancelForQueue`). The
//!   driver's EvtIoCanceledOnQueue is called by whichever thread runs the
//!   queue's dispatch loop next (`DispatchEvents` →
//!   `ProcessCancelledRequestsOnQueue`), with the lock dropped around each
//!   callback and the queue's `dispatching` counter (`m_Dispatching`) raised
//!   for the whole loop.
//! - The cancelling thread runs the loop itself only if nobody is
//!   dispatching (`DispatchInternalEvents`); otherwise the request waits on
//!   the list for the thread already in the loop, or for the next forward.
//! - WdfRequestForwardToIoQueue always runs the loop on the caller's thread
//!   for a request that came from the I/O manager (`QueueRequestFromForward`),
//!   so the forwarding thread may receive EvtIoCanceledOnQueue — for the
//!   request it forwards, if it was already cancelled, and for requests other
//!   threads cancelled meanwhile — inside the forward call.
//! - Retrieval never runs the loop (`FxIoQueue::GetRequest`).
//!
//! Queue bookkeeping sits under the framework's internal mutex (the queue
//! lock), never held while a driver callback runs. Callbacks run at
//! DISPATCH_LEVEL (the highest IRQL KMDF may use for them) inside a checked
//! callback scope.

use super::state::{Inner, Owner, Queue, RequestView};
use super::{Framework, QueueId, RequestId, status};
use crate::irql::{callback_scope, current_irql, require_irql};
use crate::sys::{Callback, Irql, Sys};
use crate::verifier::Rule;
use std::collections::VecDeque;
use std::sync::Arc;

/// How long WdfObjectDelete on a queue waits (at PASSIVE_LEVEL) for other
/// threads still in the queue's dispatch loop.
const DISPOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// The same bound in scheduler yields (under the model checker).
const DISPOSE_WAIT_YIELDS: u32 = 100_000;

/// EvtIoCanceledOnQueue: called with a request the framework has removed
/// from the queue because user mode cancelled it (or the queue was purged).
/// The driver owns the request in the callback and must complete it.
pub type CanceledOnQueue = Arc<dyn Fn(QueueId, RequestId) + Send + Sync>;

/// What `cancel_for_queue` left for the caller to do once the queue lock is
/// released.
#[must_use]
pub(super) struct AfterCancel {
    /// No EvtIoCanceledOnQueue: the framework completes the request with
    /// STATUS_CANCELLED itself (with the lock dropped).
    pub(super) complete: Option<RequestId>,
    /// `DispatchInternalEvents` found nobody dispatching: this thread entered
    /// the dispatch loop (the counter is already raised) and must run it.
    pub(super) dispatch: bool,
}

/// `FxIoQueue::CancelForQueue`, with the queue lock held: `request` has just
/// been taken out of `queue`'s cancel-safe queue. With an EvtIoCanceledOnQueue
/// callback it goes on the queue's cancelled list (framework-held until a
/// dispatching thread delivers it); without one the framework completes it.
/// Then `DispatchInternalEvents`: enter the dispatch loop only if nobody is
/// in it.
pub(super) fn cancel_for_queue(i: &mut Inner, queue: QueueId, request: RequestId) -> AfterCancel {
    let Some(q) = i.queues.get_mut(&queue) else {
        return AfterCancel {
            complete: None,
            dispatch: false,
        };
    };
    let listed = q.on_canceled.is_some();
    if listed {
        q.canceled.push_back(request);
    }
    let dispatch = enter_dispatch(q, true);
    if let Some(r) = i.requests.get_mut(&request) {
        r.owner = if listed {
            Owner::CanceledOnQueue(queue)
        } else {
            Owner::Driver
        };
    }
    AfterCancel {
        complete: (!listed).then_some(request),
        dispatch,
    }
}

/// The exit of `FxIoQueue::DispatchEvents` (queue lock held, list empty):
/// `m_Dispatching--`; the last thread to leave a disposing queue with
/// nothing queued deletes it (`m_Disposing` → `m_Deleted`,
/// `m_FinishDisposing`).
fn leave_dispatch(i: &mut Inner, queue: QueueId) {
    let Some(q) = i.queues.get_mut(&queue) else {
        return;
    };
    q.dispatching = q.dispatching.saturating_sub(1);
    if q.disposing && q.dispatching == 0 && q.requests.is_empty() && q.canceled.is_empty() {
        let _ = i.queues.remove(&queue);
    }
}

/// The entry of `FxIoQueue::DispatchEvents` (queue lock held): raises the
/// `dispatching` counter (`m_Dispatching++`) unless `only_if_idle` and some
/// thread is already dispatching (`DispatchInternalEvents`). Returns whether
/// the caller entered the loop and must run it.
fn enter_dispatch(q: &mut Queue, only_if_idle: bool) -> bool {
    if only_if_idle && q.dispatching != 0 {
        return false;
    }
    q.dispatching += 1;
    true
}

impl<S: Sys> Framework<S> {
    /// Creates a manual queue. Without `on_canceled` the framework completes
    /// a request cancelled in the queue with STATUS_CANCELLED itself
    /// (`FxIoQueue::CancelForQueue` without `m_IoCanceledOnQueue`).
    pub fn create_queue(&self, on_canceled: Option<CanceledOnQueue>) -> QueueId {
        require_irql::<S>(&self.verifier, "WdfIoQueueCreate", Irql::DISPATCH);
        let id = QueueId(self.fresh_id());
        self.inner.with(|i| {
            let _ = i.queues.insert(
                id,
                Queue {
                    requests: VecDeque::new(),
                    canceled: VecDeque::new(),
                    dispatching: 0,
                    on_canceled,
                    accepting: true,
                    disposing: false,
                },
            );
        });
        id
    }

    /// WdfRequestForwardToIoQueue (`FxIoQueue::ForwardRequestWorker` →
    /// `FxIoQueue::QueueRequestFromForward`). The request must be
    /// driver-owned and not cancelable (ReqMarkCancelableSend). `context` is
    /// kept with it for retrieval.
    ///
    /// Fails, leaving the request with the driver, only if the queue no
    /// longer accepts requests (INVALID_DEVICE_STATE; KMDF says
    /// STATUS_WDF_BUSY) or on a rule violation. A request user mode has
    /// already cancelled is NOT refused: its insertion into the cancel-safe
    /// queue fails internally, it goes to the queue's cancelled list
    /// (`CancelForQueue`) and the forward returns success. Then, because the
    /// request came from the I/O manager (`fromIo`), the forward runs the
    /// queue's dispatch loop on the caller's thread whatever the
    /// `dispatching` counter says (`DispatchEvents`): EvtIoCanceledOnQueue
    /// runs inside this call for every request on the list — this one and
    /// any other thread's cancelled earlier while someone else dispatched.
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
            // QueueRequestFromForward: `!IsState(WdfIoQueueAcceptRequests)`.
            if accepting != Some(true) {
                return Err((None, status::INVALID_DEVICE_STATE));
            }
            r.handed_off = true;
            r.context = context;
            let cancelled = r.cancel_requested;
            r.owner = Owner::Queued(queue);
            let after = if cancelled {
                // InsertTailIrpQueue fails with STATUS_CANCELLED (the IRP's
                // Cancel flag is set): CancelForQueue, which may enter the
                // loop itself (DispatchInternalEvents).
                Some(cancel_for_queue(i, queue, request))
            } else {
                if let Some(q) = i.queues.get_mut(&queue) {
                    q.requests.push_back(request);
                }
                None
            };
            Ok(after)
        });
        let after = match outcome {
            Ok(after) => after,
            Err((rule, st)) => {
                if let Some(rule) = rule {
                    self.verifier.report(
                        rule,
                        format!("WdfRequestForwardToIoQueue({request:?}) in the wrong state"),
                    );
                }
                return Err(st);
            }
        };
        if let Some(after) = after {
            self.finish_cancel_for_queue(queue, after);
        }
        // Every request of the model comes from the I/O manager
        // (`IsAllocatedFromIo`), so QueueRequestFromForward calls
        // DispatchEvents unconditionally (the `fromIo == FALSE &&
        // m_Dispatching != 0` skip is for driver-created requests only).
        self.dispatch_events(queue, false);
        Ok(())
    }

    /// WdfIoQueueRetrieveNextRequest.
    pub fn retrieve_next(&self, queue: QueueId) -> Option<(RequestId, [u64; 2])> {
        self.retrieve_first(queue, |_| true)
    }

    /// WdfIoQueueFindRequest + WdfIoQueueRetrieveFoundRequest: the oldest
    /// queued request that `matches`, removed from the queue and given to
    /// the driver, with its context.
    ///
    /// As `FxIoQueue::GetRequest`: the request is taken from the cancel-safe
    /// queue under the queue lock (so a request being cancelled is never
    /// returned), and the queue's dispatch loop is NOT run — retrieval
    /// delivers no EvtIoCanceledOnQueue, not even for requests waiting on
    /// the cancelled list.
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

    /// How many requests wait in `queue` (not counting cancelled ones
    /// waiting for their EvtIoCanceledOnQueue).
    pub fn queue_len(&self, queue: QueueId) -> usize {
        self.inner
            .with(|i| i.queues.get(&queue).map_or(0, |q| q.requests.len()))
    }

    /// How many cancelled requests of `queue` wait on its cancelled list for
    /// a dispatching thread to deliver EvtIoCanceledOnQueue.
    pub fn canceled_pending(&self, queue: QueueId) -> usize {
        self.inner
            .with(|i| i.queues.get(&queue).map_or(0, |q| q.canceled.len()))
    }

    /// How many threads are in `queue`'s dispatch loop (`m_Dispatching`).
    pub fn dispatching(&self, queue: QueueId) -> u32 {
        self.inner
            .with(|i| i.queues.get(&queue).map_or(0, |q| q.dispatching))
    }

    /// WdfIoQueuePurge (`FxIoQueue::QueuePurge`): the queue stops accepting
    /// requests; each queued request in turn is taken out and cancelled
    /// (`CancelForQueue`: to the cancelled list, or completed with
    /// STATUS_CANCELLED by the framework when there is no callback), each
    /// followed by `DispatchInternalEvents`; finally `DispatchEvents` runs
    /// unconditionally on the caller's thread, so the caller receives
    /// EvtIoCanceledOnQueue for everything still on the list (whichever
    /// thread cancelled it). Purge does not set the IRP's Cancel flag.
    pub fn purge_queue(&self, queue: QueueId) {
        require_irql::<S>(&self.verifier, "WdfIoQueuePurge", Irql::DISPATCH);
        let known = self.inner.with(|i| match i.queues.get_mut(&queue) {
            Some(q) => {
                q.accepting = false;
                true
            }
            None => false,
        });
        if !known {
            return;
        }
        loop {
            let after = self.inner.with(|i| {
                let id = i.queues.get_mut(&queue)?.requests.pop_front()?;
                Some(cancel_for_queue(i, queue, id))
            });
            match after {
                Some(after) => self.finish_cancel_for_queue(queue, after),
                None => break,
            }
        }
        self.dispatch_events(queue, false);
    }

    /// WdfObjectDelete on a queue (`FxIoQueue::Dispose`): purges it, marks it
    /// disposing and runs `DispatchEvents`; the last thread to leave the
    /// dispatch loop of an empty disposing queue deletes it (`m_Deleted`).
    /// At PASSIVE_LEVEL the caller then waits, bounded, for other threads
    /// still in the loop (`WaitForSignal(m_FinishDisposing)`).
    ///
    /// Not modelled: KMDF also waits for requests retrieved from the queue
    /// and not yet completed (`m_DriverIoCount`), and at DISPATCH_LEVEL it
    /// defers the whole dispose to a PASSIVE work item (`MarkPassiveDispose`);
    /// the model runs the purge inline and does not wait then.
    pub fn delete_queue(&self, queue: QueueId) {
        self.purge_queue(queue);
        let entered = self.inner.with(|i| match i.queues.get_mut(&queue) {
            Some(q) => {
                q.disposing = true;
                enter_dispatch(q, false)
            }
            None => false,
        });
        if entered {
            self.dispatch_loop(queue);
        }
        if current_irql::<S>() == Irql::PASSIVE {
            let deadline = std::time::Instant::now() + DISPOSE_WAIT;
            let mut spins = 0u32;
            while self.inner.with(|i| i.queues.contains_key(&queue))
                && spins < DISPOSE_WAIT_YIELDS
                && std::time::Instant::now() < deadline
            {
                // Real threads sleep after a short spin (so the bound is
                // the deadline, not a count of instant yields); the model
                // checker's threads yield.
                S::wait_backoff(spins);
                spins += 1;
            }
        }
    }

    /// Number of live queues (leak accounting). A deleted queue stays live
    /// until the last thread in its dispatch loop leaves it.
    pub fn live_queues(&self) -> usize {
        self.inner.with(|i| i.queues.len())
    }

    /// The rest of `FxIoQueue::CancelForQueue` once the queue lock is
    /// dropped: the framework's own completion when the queue has no
    /// EvtIoCanceledOnQueue, then the dispatch loop if
    /// `DispatchInternalEvents` entered it.
    pub(super) fn finish_cancel_for_queue(&self, queue: QueueId, after: AfterCancel) {
        if let Some(request) = after.complete {
            self.deliver_canceled_on_queue(queue, request, None);
        }
        if after.dispatch {
            self.dispatch_loop(queue);
        }
    }

    /// `FxIoQueue::DispatchEvents` (or, with `only_if_idle`,
    /// `DispatchInternalEvents` from fxioqueue.hpp): enters the queue's
    /// dispatch loop on the calling thread and runs it. Does nothing on a
    /// deleted queue (`m_Deleted`).
    pub(super) fn dispatch_events(&self, queue: QueueId, only_if_idle: bool) {
        let entered = self.inner.with(|i| {
            i.queues
                .get_mut(&queue)
                .is_some_and(|q| enter_dispatch(q, only_if_idle))
        });
        if entered {
            self.dispatch_loop(queue);
        }
    }

    /// The body of `FxIoQueue::DispatchEvents` for a manual queue without
    /// power management or ready notification, entered with the counter
    /// raised: `ProcessCancelledRequestsOnQueue` — take the first request
    /// off the cancelled list under the lock, drop the lock, call
    /// EvtIoCanceledOnQueue, retake the lock — until the list is empty; then
    /// leave (`m_Dispatching--`), deleting a disposing queue that is idle.
    fn dispatch_loop(&self, queue: QueueId) {
        /// Leaves the loop if a callback unwinds (a strict-mode panic), so
        /// the counter never stays raised.
        struct OnUnwind<'a, S: Sys> {
            fw: &'a Framework<S>,
            queue: QueueId,
            left: bool,
        }
        impl<S: Sys> Drop for OnUnwind<'_, S> {
            fn drop(&mut self) {
                if !self.left {
                    self.fw.inner.with(|i| leave_dispatch(i, self.queue));
                }
            }
        }
        let mut guard = OnUnwind {
            fw: self,
            queue,
            left: false,
        };
        loop {
            // The emptiness check and the leave are one lock hold, as in
            // DispatchEvents: a cancel that finds the counter raised is
            // sure to be seen by this loop.
            let next = self.inner.with(|i| {
                let q = i.queues.get_mut(&queue)?;
                let Some(id) = q.canceled.pop_front() else {
                    leave_dispatch(i, queue);
                    return None;
                };
                let callback = q.on_canceled.clone();
                if let Some(r) = i.requests.get_mut(&id) {
                    r.owner = Owner::Driver;
                }
                Some((id, callback))
            });
            match next {
                Some((id, callback)) => self.deliver_canceled_on_queue(queue, id, callback),
                None => break,
            }
        }
        guard.left = true;
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
