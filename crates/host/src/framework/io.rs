//! The I/O manager's side: open and close file objects, present a request
//! to the driver's dispatch routine, cancel it (CancelIoEx), wait for it,
//! and audit that every request was completed exactly once.

use super::state::{File, Owner, Request};
use super::{FileId, Framework, RequestId};
use crate::irql::callback_scope;
use crate::sys::{Callback, Irql, Sys};
use crate::verifier::Rule;

/// How long close waits for requests being completed on other threads.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// The same bound in scheduler yields (what bounds it under the model
/// checker, where real time does not pass).
const CLOSE_WAIT_YIELDS: u32 = 100_000;

/// What user mode gets back: the IO_STATUS_BLOCK and the output bytes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Completion {
    /// The NTSTATUS.
    pub status: u32,
    /// Bytes of output returned.
    pub information: usize,
    /// The first `information` bytes of the output buffer.
    pub output: Vec<u8>,
}

impl<S: Sys> Framework<S> {
    /// Opens a file object (IRP_MJ_CREATE).
    pub fn open_file(&self) -> FileId {
        let id = FileId(self.fresh_id());
        self.inner.with(|i| {
            let _ = i.files.insert(id, File::default());
        });
        id
    }

    /// Closes a file object: runs the driver's EvtFileCleanup (`cleanup`,
    /// at PASSIVE_LEVEL), then checks RequestCompleted. A request of the file
    /// still in a queue (or marked cancelable) after cleanup is a violation
    /// at once. One the driver holds may be in flight on another thread
    /// (retrieved by a CM event, completed after its lock is released); as
    /// the I/O manager holds IRP_MJ_CLOSE until the file's requests finish,
    /// the framework waits a bounded time for those before reporting them.
    pub fn close_file(&self, file: FileId, cleanup: impl FnOnce()) {
        self.inner.with(|i| {
            if let Some(f) = i.files.get_mut(&file) {
                f.closed = true;
            }
        });
        callback_scope::<S, _>(
            &self.verifier,
            Callback::Other("EvtFileCleanup"),
            Irql::PASSIVE,
            cleanup,
        );
        let pending = |queued_only: bool| -> Vec<RequestId> {
            self.inner.with(|i| {
                let mut v: Vec<RequestId> = i
                    .requests
                    .iter()
                    .filter(|(_, r)| r.file == file)
                    .filter(|(_, r)| match r.owner {
                        Owner::Completed => false,
                        Owner::Queued(_) | Owner::Cancelable(_) => true,
                        _ => !queued_only,
                    })
                    .map(|(id, _)| *id)
                    .collect();
                v.sort();
                v
            })
        };
        let mut left = pending(true);
        if left.is_empty() {
            let deadline = std::time::Instant::now() + CLOSE_WAIT;
            let mut spins = 0u32;
            loop {
                left = pending(false);
                if left.is_empty()
                    || spins >= CLOSE_WAIT_YIELDS
                    || std::time::Instant::now() >= deadline
                {
                    break;
                }
                spins += 1;
                S::yield_now();
            }
        }
        self.inner.with(|i| {
            let _ = i.files.remove(&file);
        });
        if !left.is_empty() {
            self.verifier.report(
                Rule::RequestCompleted,
                format!("{file:?} cleaned up with requests still pending: {left:?}"),
            );
        }
    }

    /// Number of open file objects.
    pub fn open_files(&self) -> usize {
        self.inner.with(|i| i.files.len())
    }

    /// Sends a DeviceIoControl request on `file`: the framework creates the
    /// request and calls the driver's EvtIoDeviceControl (`dispatch`) at
    /// PASSIVE_LEVEL. When it returns, the request must be completed,
    /// forwarded to a queue or marked cancelable (RequestCompletedLocal).
    pub fn present(
        &self,
        file: FileId,
        code: u32,
        input: Vec<u8>,
        output_len: usize,
        dispatch: impl FnOnce(RequestId),
    ) -> RequestId {
        let id = RequestId(self.fresh_id());
        self.inner.with(|i| {
            assert!(
                i.files.get(&file).is_some_and(|f| !f.closed),
                "harness misuse: request on a closed or unknown file"
            );
            let _ = i.requests.insert(
                id,
                Request {
                    file,
                    code,
                    input,
                    output: vec![0; output_len],
                    owner: Owner::Driver,
                    cancel_requested: false,
                    was_cancelable: false,
                    context: [0; 2],
                    completion: None,
                    completions: 0,
                    handed_off: false,
                },
            );
        });
        callback_scope::<S, _>(
            &self.verifier,
            Callback::Dispatch(id.0),
            Irql::PASSIVE,
            || dispatch(id),
        );
        let left_with_driver = self
            .inner
            .with(|i| i.requests.get(&id).map(|r| !r.handed_off));
        if left_with_driver == Some(true) {
            self.verifier.report(
                Rule::RequestCompletedLocal,
                format!(
                    "EvtIoDeviceControl returned without completing, forwarding or marking {id:?} (IOCTL {code:#x}) cancelable"
                ),
            );
        }
        id
    }

    /// CancelIoEx on one request (IoCancelIrp), on the calling thread.
    ///
    /// - Queued: the IRP's cancel routine (FxIrpQueue's, then
    ///   `FxIoQueue::_IrpCancelForQueue` → `FxIoQueue::CancelForQueue`)
    ///   takes it out of the queue and puts it on the queue's cancelled list
    ///   under the queue lock; then `DispatchInternalEvents`: if no thread is
    ///   in the queue's dispatch loop, this thread runs it and delivers
    ///   EvtIoCanceledOnQueue (for this and any other listed request);
    ///   otherwise it returns at once and the request waits on the list for
    ///   the thread already dispatching, or the next forward or purge.
    ///   Without EvtIoCanceledOnQueue the framework completes it with
    ///   STATUS_CANCELLED here.
    /// - Marked cancelable: its cancel routine runs here (the model does not
    ///   defer it through the queue's `m_Cancelled` list as
    ///   `FxIoQueue::CancelForDriver` does).
    /// - Otherwise the cancel is only recorded (the IRP's Cancel flag): a
    ///   later WdfRequestMarkCancelableEx returns STATUS_CANCELLED and a
    ///   later forward lists it for EvtIoCanceledOnQueue.
    ///
    /// Returns whether the cancel took the request from the framework or the
    /// driver's cancelable state: a driver callback ran, or is due on the
    /// queue's cancelled list.
    pub fn cancel(&self, id: RequestId) -> bool {
        enum Action {
            OnQueue(super::QueueId, super::queue::AfterCancel),
            Routine(std::sync::Arc<dyn Fn(RequestId) + Send + Sync>),
            Nothing,
        }
        let action = self.inner.with(|i| {
            let Some(r) = i.requests.get_mut(&id) else {
                return Action::Nothing;
            };
            if matches!(r.owner, Owner::Completed) {
                return Action::Nothing;
            }
            r.cancel_requested = true;
            match r.owner.clone() {
                Owner::Queued(q) => {
                    if let Some(queue) = i.queues.get_mut(&q) {
                        queue.requests.retain(|x| *x != id);
                    }
                    Action::OnQueue(q, super::queue::cancel_for_queue(i, q, id))
                }
                Owner::Cancelable(routine) => {
                    r.owner = Owner::CancelRoutine;
                    Action::Routine(routine)
                }
                _ => Action::Nothing,
            }
        });
        match action {
            Action::OnQueue(q, after) => {
                self.finish_cancel_for_queue(q, after);
                true
            }
            Action::Routine(routine) => {
                callback_scope::<S, _>(
                    &self.verifier,
                    Callback::Cancel(id.0),
                    Irql::DISPATCH,
                    || routine(id),
                );
                true
            }
            Action::Nothing => false,
        }
    }

    /// The completion, if the request has completed.
    pub fn poll(&self, id: RequestId) -> Option<Completion> {
        self.inner
            .with(|i| i.requests.get(&id).and_then(|r| r.completion.clone()))
    }

    /// Waits (yielding) until the request completes or `timeout` of real
    /// time passes.
    pub fn wait(&self, id: RequestId, timeout: std::time::Duration) -> Option<Completion> {
        let deadline = std::time::Instant::now() + timeout;
        let mut round = 0u32;
        loop {
            if let Some(c) = self.poll(id) {
                return Some(c);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            S::wait_backoff(round);
            round = round.saturating_add(1);
        }
    }

    /// Requests not yet completed, oldest first.
    pub fn outstanding(&self) -> Vec<RequestId> {
        let mut v: Vec<RequestId> = self.inner.with(|i| {
            i.requests
                .iter()
                .filter(|(_, r)| !matches!(r.owner, Owner::Completed))
                .map(|(id, _)| *id)
                .collect()
        });
        v.sort();
        v
    }

    /// How many times completion was attempted on `id` (the exactly-once
    /// audit: 1 for every finished request).
    pub fn completion_attempts(&self, id: RequestId) -> u32 {
        self.inner
            .with(|i| i.requests.get(&id).map_or(0, |r| r.completions))
    }

    /// Requests presented so far.
    pub fn presented(&self) -> usize {
        self.inner.with(|i| i.requests.len())
    }

    /// Checks the end-of-test audit: every request presented was completed
    /// exactly once, and no rule was broken.
    #[track_caller]
    pub fn assert_quiescent(&self) {
        let (left, twice) = self.inner.with(|i| {
            let left: Vec<RequestId> = i
                .requests
                .iter()
                .filter(|(_, r)| !matches!(r.owner, Owner::Completed))
                .map(|(id, _)| *id)
                .collect();
            let twice: Vec<RequestId> = i
                .requests
                .iter()
                .filter(|(_, r)| r.completions != 1)
                .map(|(id, _)| *id)
                .collect();
            (left, twice)
        });
        assert!(left.is_empty(), "requests never completed: {left:?}");
        assert!(
            twice.is_empty(),
            "requests not completed exactly once: {twice:?}"
        );
        self.verifier.assert_clean();
    }
}
