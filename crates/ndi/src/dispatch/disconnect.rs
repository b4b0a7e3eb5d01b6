//! Ending a connection: DREQ_CM (§5.12), NOTIFY_DREQ (§5.13) and
//! CANCEL_CM_IRPS (§5.14).

use super::input::{self, Output};
use super::{Ndi, Out, Reply, Work};
use crate::NdiError;
use crate::abi::*;
use crate::cm_port::CmPort;
use crate::handle::HandleKind;
use crate::object::{CloseCause, ConnState, FileState};
use crate::requests::{PendInfo, PendKind, Requests};
use ndcm_cm::platform::Platform;

impl<P: Platform, C: CmPort, R: Requests> Ndi<P, C, R> {
    pub(super) fn dreq(
        &self,
        _file: u64,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
        slot: &mut Option<R::Request>,
        work: &mut Work<C, R>,
    ) -> Result<Reply, NdiError> {
        let i: NdcmHandleIn = input::fixed(input)?;
        input::output(output_len, Output::None)?;
        let conn = st
            .connections
            .get_mut(i.handle)
            .ok_or(NdiError::InvalidHandle)?;
        match conn.state {
            ConnState::Connected => {
                let cid = conn.cid.ok_or(NdiError::ConnectionInvalid)?;
                self.cm.dreq(st.id, cid, &mut work.fx)?;
                // The local side starts the disconnect: NotifyDisconnect
                // learns it (the reference never told it, §11 item 15).
                while let Some((r, _)) = self.requests.retrieve(&conn.queue, PendKind::NotifyDreq) {
                    work.complete(r, NtStatus::CONNECTION_DISCONNECTED);
                }
                conn.state = ConnState::Disconnecting;
                conn.cause = CloseCause::LocalDisconnect;
                conn.outstanding_dreq = true;
                let info = PendInfo {
                    kind: PendKind::DreqCm,
                    tag: 0,
                };
                if let Err(status) = self.pend(&conn.queue, slot, info) {
                    // Cancelled before queued: the disconnect continues in
                    // the CM, the QP is flushed now (cancel action).
                    conn.outstanding_dreq = false;
                    self.cancel_action(st, i.handle, info, work);
                    return Ok(Reply::Done(status, Out::Empty));
                }
                Ok(Reply::Pended)
            }
            ConnState::DreqRcvd => {
                if let Some(cid) = conn.cid {
                    let _ = self.cm.drep(st.id, cid, &mut work.fx);
                }
                self.unbind(st.id, &mut st.qps, conn);
                conn.state = ConnState::Closed;
                Ok(Reply::ok())
            }
            ConnState::Disconnecting => Err(NdiError::InvalidDeviceState),
            _ => Err(NdiError::ConnectionInvalid),
        }
    }

    pub(super) fn notify_dreq(
        &self,
        _file: u64,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
        slot: &mut Option<R::Request>,
        _work: &mut Work<C, R>,
    ) -> Result<Reply, NdiError> {
        let i: NdcmHandleIn = input::fixed(input)?;
        input::output(output_len, Output::None)?;
        let conn = st
            .connections
            .get(i.handle)
            .ok_or(NdiError::InvalidHandle)?;
        match (conn.state, conn.cause) {
            (ConnState::Connected, _) => {
                let info = PendInfo {
                    kind: PendKind::NotifyDreq,
                    tag: 0,
                };
                match self.pend(&conn.queue, slot, info) {
                    Ok(()) => Ok(Reply::Pended),
                    Err(status) => Ok(Reply::Done(status, Out::Empty)),
                }
            }
            (ConnState::DreqRcvd, _) => Ok(Reply::ok()),
            (
                ConnState::Closed,
                CloseCause::PeerDisconnect | CloseCause::PeerAbort | CloseCause::PeerTimeout,
            ) if conn.ever_connected => Ok(Reply::ok()),
            (ConnState::Disconnecting, _) => Err(NdiError::ConnectionDisconnected),
            (ConnState::Closed, _) if conn.ever_connected => Err(NdiError::ConnectionDisconnected),
            _ => Err(NdiError::ConnectionInvalid),
        }
    }

    pub(super) fn cancel_irps(
        &self,
        _file: u64,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
        work: &mut Work<C, R>,
    ) -> Result<Reply, NdiError> {
        let i: NdcmHandleIn = input::fixed(input)?;
        input::output(output_len, Output::None)?;
        let exists = match HandleKind::of(i.handle) {
            Some(HandleKind::Connection) => st.connections.get(i.handle).is_some(),
            Some(HandleKind::Listener) => st.listeners.get(i.handle).is_some(),
            _ => false,
        };
        if !exists {
            return Err(NdiError::InvalidHandle);
        }
        self.cancel_object(st, i.handle, work);
        Ok(Reply::ok())
    }
}
