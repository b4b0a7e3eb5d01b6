//! Cancellation and teardown (spec/NDI.md §6 rule 4, §9): the framework's
//! cancel entry point, the per-kind cancel actions, CANCEL_CM_IRPS,
//! connection/listener destruction and file cleanup.
//!
//! Every request taken out of a queue here completes exactly once with
//! STATUS_CANCELLED, after the file lock is released (S5). The cancel entry
//! point finds its object by lookup under the lock, never through a pointer
//! it holds no reference to.

use super::{Deferred, File, Ndi, Work};
use crate::abi::NtStatus;
use crate::cm_port::CmPort;
use crate::handle::HandleTable;
use crate::object::{CloseCause, ConnState, Connection, FileState, Listener, Qp};
use crate::requests::{PendInfo, PendKind, QueueOwner, Requests};
use alloc::collections::VecDeque;
use core::sync::atomic::Ordering;
use ndcm_cm::platform::{Instant, Platform, QueuedSpinLock};
use ndcm_cm::qp::{QpState, QpVerbs};

/// IB REJ reason "consumer reject".
pub(crate) const REJ_CONSUMER: u16 = 28;

impl<P: Platform, C: CmPort, R: Requests> Ndi<P, C, R> {
    /// EvtIoCanceledOnQueue: the framework took `request` out of the queue
    /// of `owner` because user mode cancelled it. Runs the kind's cancel
    /// action and completes it with STATUS_CANCELLED.
    ///
    /// KMDF may call this on any thread, including one that holds the
    /// file's lock further up its stack: `WdfRequestForwardToIoQueue` and
    /// the retrieve DDIs run the queue's dispatch loop on the caller's
    /// thread (`FxIoQueue::QueueRequestFromForward` → `DispatchEvents` →
    /// `ProcessCancelledRequestsOnQueue`), which delivers every request
    /// cancelled meanwhile by other threads, and the forwarded one itself if
    /// it was already cancelled. Taking the lock then would spin forever at
    /// DISPATCH_LEVEL; the callback is deferred instead and run, exactly
    /// once, when that thread lets go of the lock ([`Ndi::locked`]).
    pub fn canceled_on_queue(&self, owner: QueueOwner, request: R::Request, info: PendInfo) {
        let Some(file) = self.file(owner.instance) else {
            self.requests.complete(request, NtStatus::CANCELLED, 0);
            return;
        };
        if self.holds(&file) {
            let entry = Deferred {
                object: owner.object,
                request,
                info,
            };
            let refused = file.deferred.with(|d| match d.try_reserve(1) {
                Ok(()) => {
                    d.push_back(entry);
                    None
                }
                Err(_) => Some(entry),
            });
            match refused {
                None => {
                    self.cancels_deferred.fetch_add(1, Ordering::Relaxed);
                }
                Some(entry) => {
                    // No memory to wait in: the request still completes
                    // once (allowed at DISPATCH_LEVEL in its own cancel
                    // callback); its cancel action is lost and counted.
                    self.cancels_undeferrable.fetch_add(1, Ordering::Relaxed);
                    self.requests
                        .complete(entry.request, NtStatus::CANCELLED, 0);
                }
            }
            return;
        }
        self.cancel_now(&file, owner.object, request, info);
        self.run_deferred(&file);
    }

    /// The cancel action and completion of one cancelled request, under the
    /// file's lock (without running deferred callbacks: the caller does).
    fn cancel_now(&self, file: &File<P, R>, object: u64, request: R::Request, info: PendInfo) {
        let mut work = Work::new();
        work.complete(request, NtStatus::CANCELLED);
        self.locked_only(file, |st| self.cancel_action(st, object, info, &mut work));
        self.run(work);
    }

    /// Runs the cancel callbacks deferred while this thread held `file`'s
    /// lock, oldest first, until none is left (a cancel action may retrieve
    /// and so defer more).
    pub(crate) fn run_deferred(&self, file: &File<P, R>) {
        while let Some(d) = file.deferred.with(VecDeque::pop_front) {
            self.cancel_now(file, d.object, d.request, d.info);
        }
    }

    /// The cancel action of spec §6 for a request of `info.kind` that is no
    /// longer queued on `object`.
    pub(crate) fn cancel_action(
        &self,
        st: &mut FileState<R>,
        object: u64,
        info: PendInfo,
        work: &mut Work<C, R>,
    ) {
        match info.kind {
            PendKind::ReqCm | PendKind::RepCm => {
                let Some(conn) = st.connections.get_mut(object) else {
                    return;
                };
                let flag = if info.kind == PendKind::ReqCm {
                    &mut conn.outstanding_req
                } else {
                    &mut conn.outstanding_rep
                };
                if !core::mem::replace(flag, false) {
                    return;
                }
                if conn.state != ConnState::Closed {
                    if info.kind == PendKind::RepCm
                        && let Some(cid) = conn.cid
                    {
                        let _ = self.cm.reject(st.id, cid, REJ_CONSUMER, &[], &mut work.fx);
                    }
                    self.close_connection(st.id, &mut st.qps, conn, CloseCause::LocalAbort, work);
                }
            }
            PendKind::DreqCm => {
                let Some(conn) = st.connections.get_mut(object) else {
                    return;
                };
                conn.outstanding_dreq = false;
                // The disconnect goes on in the CM; only the flush is early.
                if let Some(b) = &conn.binding
                    && let Some(qp) = st.qps.get_mut(b.qp)
                {
                    let _ = qp.verbs.modify(QpState::Err, self.platform.now());
                }
            }
            PendKind::NotifyDreq => {}
            PendKind::GetReqCm => {
                if let Some(conn) = st.connections.get_mut(info.tag)
                    && conn.target_of == Some(object)
                {
                    conn.target_of = None;
                }
            }
            PendKind::MadOutbound => {
                st.mad_outstanding = st.mad_outstanding.saturating_sub(1);
            }
        }
    }

    /// Takes every request out of `queue` (NOTIFY_DREQ last, as the
    /// reference does) and completes each with CANCELLED after release.
    /// Returns the infos so callers can undo per-request state.
    pub(crate) fn drain(
        &self,
        queue: &R::Queue,
        work: &mut Work<C, R>,
    ) -> alloc::vec::Vec<PendInfo> {
        self.drain_with(queue, NtStatus::CANCELLED, work)
    }

    /// `drain`, completing with `status`.
    pub(crate) fn drain_with(
        &self,
        queue: &R::Queue,
        status: NtStatus,
        work: &mut Work<C, R>,
    ) -> alloc::vec::Vec<PendInfo> {
        let mut infos = alloc::vec::Vec::new();
        while let Some((request, info)) = self.requests.retrieve_any(queue) {
            work.complete(request, status);
            infos.push(info);
        }
        while let Some((request, info)) = self.requests.retrieve(queue, PendKind::NotifyDreq) {
            work.complete(request, status);
            infos.push(info);
        }
        infos
    }

    /// Releases the connection's QP binding (spec §8): slot back to Invalid
    /// (Reserved stays), and if the QP went past INIT, ERROR with a
    /// positive timewait stamp.
    pub(crate) fn unbind(&self, file: u64, qps: &mut HandleTable<Qp>, conn: &mut Connection<R>) {
        let Some(binding) = conn.binding.take() else {
            return;
        };
        let Some(qp) = qps.get_mut(binding.qp) else {
            return;
        };
        if let Some(cid) = conn.cid {
            qp.slot.unbind(cid);
        }
        qp.bound_to = None;
        if matches!(qp.verbs.state(), QpState::Rtr | QpState::Rts) {
            let now = self.platform.now();
            let tw = conn
                .cid
                .map(|c| self.cm.timewait(file, c))
                .unwrap_or(ndcm_cm::platform::Duration::ZERO);
            let _ = qp.verbs.modify(QpState::Err, now);
            let until = Instant(now.0.saturating_add(tw.as_nanos()).saturating_add(1));
            qp.verbs.set_timewait(until);
            if until > qp.timewait_until {
                qp.timewait_until = until;
            }
        }
    }

    /// Moves a connection to CLOSED: unbinds its QP, destroys its CM
    /// connection (aborting by state) and releases its port. Pending
    /// requests are the caller's business.
    pub(crate) fn close_connection(
        &self,
        file: u64,
        qps: &mut HandleTable<Qp>,
        conn: &mut Connection<R>,
        cause: CloseCause,
        work: &mut Work<C, R>,
    ) {
        self.unbind(file, qps, conn);
        if let Some(cid) = conn.cid.take() {
            self.cm.destroy(file, cid, &mut work.fx);
        }
        if let Some((space, port)) = conn.port.take() {
            self.release_port(conn.adapter_index, space, port, false);
        }
        if conn.state != ConnState::Closed {
            conn.state = ConnState::Closed;
            conn.cause = cause;
        }
        conn.target_of = None;
    }

    /// Aborts a connection in place (QP destroy, S4): every pending request
    /// → CANCELLED, CM abort, unbind, CLOSED.
    pub(crate) fn abort_connection(
        &self,
        st: &mut FileState<R>,
        handle: u64,
        work: &mut Work<C, R>,
    ) {
        let Some(conn) = st.connections.get_mut(handle) else {
            return;
        };
        let _ = self.drain(&conn.queue, work);
        conn.outstanding_req = false;
        conn.outstanding_rep = false;
        conn.outstanding_dreq = false;
        self.close_connection(st.id, &mut st.qps, conn, CloseCause::LocalAbort, work);
    }

    /// DESTROY_CEP of a connection (spec §9.1): its own requests and a
    /// GET_REQ_CM pended on a listener for it → CANCELLED.
    pub(crate) fn destroy_connection(
        &self,
        st: &mut FileState<R>,
        handle: u64,
        work: &mut Work<C, R>,
    ) {
        let listener = st.connections.get(handle).and_then(|c| c.target_of);
        if let Some(l) = listener.and_then(|l| st.listeners.get(l)) {
            // Not found: the framework is cancelling it, and the cancel
            // action finds no target any more.
            if let Some((request, _)) =
                self.requests
                    .retrieve_tagged(&l.queue, PendKind::GetReqCm, handle)
            {
                work.complete(request, NtStatus::CANCELLED);
            }
        }
        self.abort_connection(st, handle, work);
        if let Some(conn) = st.connections.remove(handle) {
            self.requests.delete_queue(conn.queue);
        }
    }

    /// DESTROY_CEP of a listener (spec §9.1): its GET_REQ_CM requests →
    /// CANCELLED (targets back to IDLE), untaken REQs rejected (REJ 28).
    pub(crate) fn destroy_listener(
        &self,
        st: &mut FileState<R>,
        handle: u64,
        work: &mut Work<C, R>,
    ) {
        let Some(listener) = st.listeners.remove(handle) else {
            return;
        };
        let Listener {
            queue,
            cid,
            backlog,
            adapter_index,
            service,
            ..
        } = listener;
        for info in self.drain(&queue, work) {
            if let Some(conn) = st.connections.get_mut(info.tag)
                && conn.target_of == Some(handle)
            {
                conn.target_of = None;
            }
        }
        for incoming in backlog {
            let _ = self
                .cm
                .reject(st.id, incoming.cid, REJ_CONSUMER, &[], &mut work.fx);
            self.cm.destroy(st.id, incoming.cid, &mut work.fx);
        }
        self.cm.destroy(st.id, cid, &mut work.fx);
        self.release_port(adapter_index, service.0, service.1, true);
        self.requests.delete_queue(queue);
    }

    /// CANCEL_CM_IRPS on a connection or listener: every pending request
    /// through its cancel action; the object stays.
    pub(crate) fn cancel_object(&self, st: &mut FileState<R>, handle: u64, work: &mut Work<C, R>) {
        let infos = if let Some(conn) = st.connections.get(handle) {
            self.drain(&conn.queue, work)
        } else if let Some(l) = st.listeners.get(handle) {
            self.drain(&l.queue, work)
        } else {
            return;
        };
        for info in infos {
            self.cancel_action(st, handle, info, work);
        }
    }

    /// IRP_MJ_CLEANUP / close of the file (spec §9.3): new requests fail
    /// with CANCELLED; listeners, connections and QPs are destroyed; every
    /// pending request completes with CANCELLED; the file leaves the
    /// directory. Safe to call more than once.
    pub fn close(&self, file: &File<P, R>) {
        let mut work = Work::new();
        self.locked(file, |st| {
            st.closing = true;
            for h in st.listeners.handles() {
                self.destroy_listener(st, h, &mut work);
            }
            for h in st.connections.handles() {
                self.destroy_connection(st, h, &mut work);
            }
            for h in st.qps.handles() {
                let _ = st.qps.remove(h);
            }
            for h in st.adapters.handles() {
                let _ = st.adapters.remove(h);
            }
            if let Some(q) = st.mad_queue.take() {
                let _ = self.drain(&q, &mut work);
                st.mad_outstanding = 0;
                self.requests.delete_queue(q);
            }
        });
        self.files.with(|files| {
            let _ = files.remove(&file.id);
        });
        self.run(work);
        // An agent's adapters go with it (docs/NDI-agent.md §4).
        self.withdraw_owned(file);
    }

    /// Objects still owned by a file: (adapters, qps, connections, listeners).
    pub fn file_objects(&self, file: &File<P, R>) -> (usize, usize, usize, usize) {
        self.locked(file, |st| {
            (
                st.adapters.len(),
                st.qps.len(),
                st.connections.len(),
                st.listeners.len(),
            )
        })
    }
}
