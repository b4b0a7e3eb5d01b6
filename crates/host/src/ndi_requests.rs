//! `ndcm_ndi::Requests` on the rule-enforcing framework: the dispatcher's
//! manual-queue operations become framework DDIs, so every request the
//! dispatcher handles is checked against the KMDF rules.
//!
//! The framework's EvtIoCanceledOnQueue for a queue is routed to the
//! dispatcher's cancel entry point (`Ndi::canceled_on_queue`) through a
//! late-bound sink, set by the device once the dispatcher exists.
//!
//! As in KMDF, the cancel entry point may run on the thread that called one
//! of this module's methods: `forward` (WdfRequestForwardToIoQueue,
//! `FxIoQueue::QueueRequestFromForward`) runs the queue's dispatch loop on
//! the caller's thread, which delivers EvtIoCanceledOnQueue — and so calls
//! `Ndi::canceled_on_queue` — inside the call, for the forwarded request if
//! user mode had already cancelled it and for any request of that queue
//! another thread cancelled while someone else was dispatching. (`forward`
//! then still returns `Ok`.) `delete_queue` (WdfObjectDelete →
//! `FxIoQueue::Dispose` → `QueuePurge`) does the same. The `retrieve*`
//! methods never do (`FxIoQueue::GetRequest` runs no dispatch loop), nor do
//! `write_output` and `complete` in the model (KMDF's
//! `RequestCompletedCallback` → `DispatchInternalEvents` finds the
//! cancelled list empty whenever nobody is dispatching).

use crate::framework::{Framework, QueueId, RequestId, status};
use crate::sys::{StdSys, Sys};
use ndcm_ndi::{NtStatus, PendInfo, PendKind, QueueOwner, Requests};
use std::sync::{Arc, OnceLock};

/// A request handed to the dispatcher: an owned, non-`Clone` token.
#[derive(Debug, PartialEq, Eq)]
pub struct HostRequest {
    id: RequestId,
}

impl HostRequest {
    /// The framework request this token stands for.
    pub fn id(&self) -> RequestId {
        self.id
    }
}

/// A manual queue of the dispatcher.
#[derive(Debug)]
pub struct HostQueue {
    id: QueueId,
    owner: QueueOwner,
}

impl HostQueue {
    /// The framework queue.
    pub fn id(&self) -> QueueId {
        self.id
    }
    /// The object owning it.
    pub fn owner(&self) -> QueueOwner {
        self.owner
    }
}

/// The dispatcher's cancel entry point.
pub type CancelEntry = Arc<dyn Fn(QueueOwner, HostRequest, PendInfo) + Send + Sync>;

/// The `Requests` implementation over a `Framework`.
pub struct HostRequests<S: Sys = StdSys> {
    framework: Arc<Framework<S>>,
    cancel_entry: Arc<OnceLock<CancelEntry>>,
}

impl<S: Sys> Clone for HostRequests<S> {
    fn clone(&self) -> Self {
        HostRequests {
            framework: Arc::clone(&self.framework),
            cancel_entry: Arc::clone(&self.cancel_entry),
        }
    }
}

fn kind_code(kind: PendKind) -> u64 {
    match kind {
        PendKind::ReqCm => 1,
        PendKind::RepCm => 2,
        PendKind::DreqCm => 3,
        PendKind::NotifyDreq => 4,
        PendKind::GetReqCm => 5,
        PendKind::MadOutbound => 6,
    }
}

fn decode(context: [u64; 2]) -> Option<PendInfo> {
    let kind = match context[0] {
        1 => PendKind::ReqCm,
        2 => PendKind::RepCm,
        3 => PendKind::DreqCm,
        4 => PendKind::NotifyDreq,
        5 => PendKind::GetReqCm,
        6 => PendKind::MadOutbound,
        _ => return None,
    };
    Some(PendInfo {
        kind,
        tag: context[1],
    })
}

impl<S: Sys> HostRequests<S> {
    /// Requests on `framework`; cancellations are completed with
    /// STATUS_CANCELLED until `set_cancel_entry` is called.
    pub fn new(framework: Arc<Framework<S>>) -> Self {
        HostRequests {
            framework,
            cancel_entry: Arc::new(OnceLock::new()),
        }
    }

    /// Routes EvtIoCanceledOnQueue to the dispatcher. Set once.
    pub fn set_cancel_entry(&self, entry: CancelEntry) {
        let _ = self.cancel_entry.set(entry);
    }

    /// The framework.
    pub fn framework(&self) -> &Arc<Framework<S>> {
        &self.framework
    }

    /// The token for a request the framework just presented to the driver
    /// (inside EvtIoDeviceControl).
    pub fn token(&self, id: RequestId) -> HostRequest {
        HostRequest { id }
    }
}

impl<S: Sys> Requests for HostRequests<S> {
    type Request = HostRequest;
    type Queue = HostQueue;

    fn create_queue(&self, owner: QueueOwner) -> Result<HostQueue, NtStatus> {
        let framework = Arc::downgrade(&self.framework);
        let entry = Arc::clone(&self.cancel_entry);
        let id = self
            .framework
            .create_queue(Some(Arc::new(move |_q, request| {
                let Some(fw) = framework.upgrade() else {
                    return;
                };
                match (entry.get(), decode(fw.context(request))) {
                    (Some(cancel), Some(info)) => cancel(owner, HostRequest { id: request }, info),
                    _ => fw.complete(request, status::CANCELLED, 0),
                }
            })));
        Ok(HostQueue { id, owner })
    }

    /// WdfRequestForwardToIoQueue. An already-cancelled request is accepted
    /// (`Ok`) and handed to the cancel entry point on this thread before
    /// this returns; `Err` only when the queue no longer accepts requests.
    fn forward(
        &self,
        queue: &HostQueue,
        request: HostRequest,
        info: PendInfo,
    ) -> Result<(), (HostRequest, NtStatus)> {
        self.framework
            .forward_to_queue(request.id, queue.id, [kind_code(info.kind), info.tag])
            .map_err(|st| (request, NtStatus(st)))
    }

    fn retrieve(&self, queue: &HostQueue, kind: PendKind) -> Option<(HostRequest, PendInfo)> {
        let want = kind_code(kind);
        let (id, context) = self
            .framework
            .retrieve_first(queue.id, |v| v.context[0] == want)?;
        Some((HostRequest { id }, decode(context)?))
    }

    fn retrieve_tagged(
        &self,
        queue: &HostQueue,
        kind: PendKind,
        tag: u64,
    ) -> Option<(HostRequest, PendInfo)> {
        let want = [kind_code(kind), tag];
        let (id, context) = self
            .framework
            .retrieve_first(queue.id, |v| v.context == want)?;
        Some((HostRequest { id }, decode(context)?))
    }

    fn retrieve_any(&self, queue: &HostQueue) -> Option<(HostRequest, PendInfo)> {
        let notify = kind_code(PendKind::NotifyDreq);
        let (id, context) = self
            .framework
            .retrieve_first(queue.id, |v| v.context[0] != notify)?;
        Some((HostRequest { id }, decode(context)?))
    }

    fn write_output(&self, request: &mut HostRequest, bytes: &[u8]) -> usize {
        self.framework
            .with_output(request.id, |out| {
                let n = bytes.len().min(out.len());
                if let (Some(dst), Some(src)) = (out.get_mut(..n), bytes.get(..n)) {
                    dst.copy_from_slice(src);
                }
                n
            })
            .unwrap_or(0)
    }

    fn complete(&self, request: HostRequest, status: NtStatus, information: usize) {
        self.framework.complete(request.id, status.0, information);
    }

    fn delete_queue(&self, queue: HostQueue) {
        self.framework.delete_queue(queue.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verifier::Verifier;
    use std::sync::Mutex;

    type Seen = Arc<Mutex<Vec<(QueueOwner, PendInfo)>>>;

    fn setup() -> (HostRequests, Seen) {
        let fw = Arc::new(Framework::new(Arc::new(Verifier::default())));
        let reqs = HostRequests::new(Arc::clone(&fw));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (seen2, fw2) = (Arc::clone(&seen), Arc::clone(&fw));
        reqs.set_cancel_entry(Arc::new(move |owner, request, info| {
            seen2.lock().expect("seen").push((owner, info));
            fw2.complete(request.id(), status::CANCELLED, 0);
        }));
        (reqs, seen)
    }

    const OWNER: QueueOwner = QueueOwner {
        instance: 3,
        object: 9,
    };

    #[test]
    fn cancel_while_queued_reaches_the_cancel_entry_with_owner_and_info() {
        let (reqs, seen) = setup();
        let fw = Arc::clone(reqs.framework());
        let file = fw.open_file();
        let q = reqs.create_queue(OWNER).expect("queue");
        let info = PendInfo {
            kind: PendKind::GetReqCm,
            tag: 77,
        };
        let id = fw.present(file, 1, vec![], 0, |r| {
            reqs.forward(&q, reqs.token(r), info).expect("forward");
        });
        assert!(fw.cancel(id));
        assert_eq!(*seen.lock().expect("seen"), vec![(OWNER, info)]);
        assert_eq!(fw.poll(id).map(|c| c.status), Some(status::CANCELLED));
        assert!(reqs.retrieve_any(&q).is_none());
        reqs.delete_queue(q);
        fw.close_file(file, || {});
        fw.assert_quiescent();
    }

    #[test]
    fn retrieve_any_skips_notify_disconnect_and_retrieve_finds_it() {
        let (reqs, _) = setup();
        let fw = Arc::clone(reqs.framework());
        let file = fw.open_file();
        let q = reqs.create_queue(OWNER).expect("queue");
        for kind in [PendKind::NotifyDreq, PendKind::DreqCm] {
            let _ = fw.present(file, 1, vec![], 8, |r| {
                reqs.forward(&q, reqs.token(r), PendInfo { kind, tag: 0 })
                    .expect("forward");
            });
        }
        let (mut r, info) = reqs.retrieve_any(&q).expect("dreq");
        assert_eq!(info.kind, PendKind::DreqCm);
        assert_eq!(reqs.write_output(&mut r, &[1; 20]), 8);
        let id = r.id();
        reqs.complete(r, NtStatus::SUCCESS, 8);
        assert_eq!(fw.poll(id).map(|c| c.output), Some(vec![1; 8]));
        assert!(reqs.retrieve_any(&q).is_none());
        let (r, info) = reqs.retrieve(&q, PendKind::NotifyDreq).expect("notify");
        assert_eq!(info.kind, PendKind::NotifyDreq);
        reqs.complete(r, NtStatus::SUCCESS, 0);
        reqs.delete_queue(q);
        fw.close_file(file, || {});
        fw.assert_quiescent();
    }
}
