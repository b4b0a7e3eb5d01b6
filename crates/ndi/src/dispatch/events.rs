//! CM events → the pending request they complete (spec/NDI.md §4, §5, §6
//! rule 2). Runs in the CM callback (DISPATCH_LEVEL): it retrieves under the
//! file lock and completes after release; it never modifies a QP beyond the
//! ERROR transition a software QP does without waiting.
//!
//! If a retrieve finds nothing although the request is outstanding, the
//! framework is cancelling it: the event still moves the state, and the
//! cancel entry point, which owns the request, runs the cancel action.

use super::{Ndi, Work};
use crate::abi::NtStatus;
use crate::cm_port::{CmEvent, CmPort};
use crate::handle::HandleKind;
use crate::object::{CloseCause, ConnState, FileState, Incoming, ReceivedPdata};
use crate::requests::{PendKind, QueueOwner, Requests};
use ndcm_cm::platform::Platform;

/// IB REJ reason "timeout".
const REJ_TIMEOUT: u16 = 4;
/// IB REJ reason "no resources" (listener backlog full).
const REJ_NO_RESOURCES: u16 = 3;

impl<P: Platform, C: CmPort, R: Requests> Ndi<P, C, R> {
    /// Delivers a CM event for the connection or listener `owner` (the
    /// owner given to `CmPort::create`/`adopt`). Events for objects that are
    /// gone are dropped; a REQ for a vanished listener is rejected.
    pub fn on_cm_event(&self, owner: QueueOwner, event: CmEvent) {
        let mut work: Work<C, R> = Work::new();
        match self.file(owner.instance) {
            Some(file) => self.locked(&file, |st| {
                self.apply(owner.instance, st, owner.object, event, &mut work);
            }),
            None => self.orphan(owner.instance, event, &mut work),
        }
        self.run(work);
    }

    /// An event no object of `file` takes: a REQ is refused (the new
    /// connection still belongs to `file`, the listener's file).
    fn orphan(&self, file: u64, event: CmEvent, work: &mut Work<C, R>) {
        if let CmEvent::ReqReceived { cid, .. } = event {
            let _ = self
                .cm
                .reject(file, cid, super::cancel::REJ_CONSUMER, &[], &mut work.fx);
            self.cm.destroy(file, cid, &mut work.fx);
        }
    }

    fn complete_kind(
        &self,
        queue: &R::Queue,
        kind: PendKind,
        status: NtStatus,
        work: &mut Work<C, R>,
    ) -> bool {
        match self.requests.retrieve(queue, kind) {
            Some((r, _)) => {
                work.complete(r, status);
                true
            }
            None => false,
        }
    }

    fn complete_all(
        &self,
        queue: &R::Queue,
        kind: PendKind,
        status: NtStatus,
        work: &mut Work<C, R>,
    ) {
        while self.complete_kind(queue, kind, status, work) {}
    }

    fn apply(
        &self,
        file: u64,
        st: &mut FileState<R>,
        object: u64,
        event: CmEvent,
        work: &mut Work<C, R>,
    ) {
        if HandleKind::of(object) == Some(HandleKind::Listener) {
            self.listener_event(file, st, object, event, work);
            return;
        }
        if let CmEvent::ReqReceived { cid, .. } = event {
            // Only listeners receive REQs.
            self.orphan(file, CmEvent::ReqReceived { cid, req: no_req() }, work);
            return;
        }
        let Some(conn) = st.connections.get_mut(object) else {
            return;
        };
        use CmEvent as E;
        use ConnState as S;
        match (conn.state, event) {
            (
                S::ReqSent,
                E::RepReceived {
                    responder_resources,
                    initiator_depth,
                    private_data,
                },
            ) => {
                conn.state = S::RepRcvd;
                conn.pdata = Some(ReceivedPdata::new(
                    u32::from(responder_resources),
                    u32::from(initiator_depth),
                    &private_data,
                ));
                if self.complete_kind(&conn.queue, PendKind::ReqCm, NtStatus::SUCCESS, work) {
                    conn.outstanding_req = false;
                }
            }
            (
                S::ReqSent,
                E::RejReceived {
                    reason,
                    private_data,
                },
            ) => {
                conn.pdata = Some(ReceivedPdata::new(0, 0, &private_data));
                let status = if reason == REJ_TIMEOUT {
                    NtStatus::IO_TIMEOUT
                } else {
                    NtStatus::CONNECTION_REFUSED
                };
                if self.complete_kind(&conn.queue, PendKind::ReqCm, status, work) {
                    conn.outstanding_req = false;
                }
                self.close_connection(st.id, &mut st.qps, conn, CloseCause::PeerAbort, work);
            }
            (S::ReqSent, E::ReqTimeout) => {
                if self.complete_kind(&conn.queue, PendKind::ReqCm, NtStatus::IO_TIMEOUT, work) {
                    conn.outstanding_req = false;
                }
                self.close_connection(st.id, &mut st.qps, conn, CloseCause::PeerAbort, work);
            }
            (S::RepSent, E::RtuReceived | E::Established) => {
                conn.state = S::Connected;
                conn.ever_connected = true;
                if self.complete_kind(&conn.queue, PendKind::RepCm, NtStatus::SUCCESS, work) {
                    conn.outstanding_rep = false;
                }
            }
            (S::RepSent, E::DreqReceived) => {
                // The RTU was lost: established, and the peer already left.
                conn.state = S::DreqRcvd;
                conn.ever_connected = true;
                conn.cause = CloseCause::PeerDisconnect;
                if self.complete_kind(&conn.queue, PendKind::RepCm, NtStatus::SUCCESS, work) {
                    conn.outstanding_rep = false;
                }
            }
            (S::RepSent, E::RejReceived { .. } | E::RepTimeout) => {
                let status = if event == E::RepTimeout {
                    NtStatus::IO_TIMEOUT
                } else {
                    NtStatus::CONNECTION_ABORTED
                };
                if self.complete_kind(&conn.queue, PendKind::RepCm, status, work) {
                    conn.outstanding_rep = false;
                }
                self.close_connection(st.id, &mut st.qps, conn, CloseCause::PeerAbort, work);
            }
            (
                S::ReqRcvd | S::RepRcvd,
                E::RejReceived {
                    reason,
                    private_data,
                },
            ) => {
                conn.pdata = Some(ReceivedPdata::new(0, 0, &private_data));
                // RTU_CM after the peer's REP timeout answers IO_TIMEOUT
                // (spec §5.7), other aborts CONNECTION_ABORTED.
                let cause = if reason == REJ_TIMEOUT {
                    CloseCause::PeerTimeout
                } else {
                    CloseCause::PeerAbort
                };
                self.close_connection(st.id, &mut st.qps, conn, cause, work);
            }
            (S::Connected, E::DreqReceived | E::RejReceived { .. }) => {
                // The QP is left alone: ND only tells NotifyDisconnect.
                conn.state = S::DreqRcvd;
                conn.cause = CloseCause::PeerDisconnect;
                self.complete_all(&conn.queue, PendKind::NotifyDreq, NtStatus::SUCCESS, work);
            }
            (
                S::Disconnecting,
                E::DrepReceived | E::DreqReceived | E::RejReceived { .. } | E::DreqTimeout,
            ) => {
                if self.complete_kind(&conn.queue, PendKind::DreqCm, NtStatus::SUCCESS, work) {
                    conn.outstanding_dreq = false;
                }
                self.unbind(st.id, &mut st.qps, conn);
                conn.state = S::Closed;
            }
            // Anything else (duplicates, TimewaitExit, events after a local
            // abort) changes nothing.
            _ => {}
        }
    }

    fn listener_event(
        &self,
        file: u64,
        st: &mut FileState<R>,
        object: u64,
        event: CmEvent,
        work: &mut Work<C, R>,
    ) {
        let CmEvent::ReqReceived { cid, req } = event else {
            return;
        };
        let Some(listener) = st.listeners.get_mut(object) else {
            self.orphan(file, event, work);
            return;
        };
        let incoming = Incoming { cid, req };
        // The oldest GET_REQ_CM whose target connection is still waiting
        // takes it; requests whose target vanished complete CANCELLED.
        while let Some((request, info)) =
            self.requests.retrieve(&listener.queue, PendKind::GetReqCm)
        {
            match st.connections.get_mut(info.tag) {
                Some(conn) if conn.target_of == Some(object) && conn.state == ConnState::Idle => {
                    match self.take_incoming(conn, info.tag, file, incoming) {
                        Ok(()) => work.complete(request, NtStatus::SUCCESS),
                        Err(e) => {
                            conn.target_of = None;
                            work.complete(request, e.status());
                            self.orphan(file, event, work);
                        }
                    }
                    return;
                }
                _ => work.complete(request, NtStatus::CANCELLED),
            }
        }
        if listener.backlog.len() < listener.backlog_limit {
            listener.backlog.push_back(incoming);
        } else {
            let _ = self
                .cm
                .reject(st.id, cid, REJ_NO_RESOURCES, &[], &mut work.fx);
            self.cm.destroy(st.id, cid, &mut work.fx);
        }
    }
}

fn no_req() -> crate::cm_port::ReqInfo {
    let any = crate::cm_port::IpEndpoint {
        addr: crate::cm_port::IpAddr::V4([0; 4]),
        port: 0,
    };
    crate::cm_port::ReqInfo {
        local: any,
        remote: any,
        responder_resources: 0,
        initiator_depth: 0,
        private_data: [0; 56],
    }
}
