//! The passive side's entry: LISTEN_CM (§5.8) and GET_REQ_CM (§5.9).

use super::input::{self, Output};
use super::{Ndi, Out, Reply, Work};
use crate::NdiError;
use crate::abi::*;
use crate::cm_port::{CmPort, ListenSpec};
use crate::object::{ConnState, Connection, FileState, Incoming, Listener, ReceivedPdata};
use crate::requests::{PendInfo, PendKind, QueueOwner, Requests};
use alloc::collections::VecDeque;
use ndcm_cm::platform::Platform;

/// Backlog when the caller asks for 0.
pub const DEFAULT_BACKLOG: usize = 16;
/// Largest backlog; larger requests are clamped.
pub const MAX_BACKLOG: usize = 256;

impl<P: Platform, C: CmPort, R: Requests> Ndi<P, C, R> {
    pub(super) fn listen(
        &self,
        file: u64,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
        work: &mut Work<C, R>,
    ) -> Result<Reply, NdiError> {
        let i: NdcmListenIn = input::fixed(input)?;
        input::output(output_len, Output::Exact(NdcmListenOut::SIZE))?;
        let space = input::port_space(i.protocol)?;
        let local = input::address(&i.local)?;
        let adapter = Self::adapter_of(st, i.adapter)?;
        let adapter_index = adapter.index;
        let known = self.with_adapter(adapter, |info| info.addresses.contains(&local.addr))?;
        let ip = if local.addr.is_unspecified() {
            None
        } else if known {
            Some(local.addr)
        } else {
            return Err(NdiError::InvalidParameter);
        };
        let backlog = match i.backlog as usize {
            0 => DEFAULT_BACKLOG,
            n => n.min(MAX_BACKLOG),
        };
        let port = self.reserve_port(adapter_index, space, local.port, true)?;
        // Everything created below is undone on any failure (§11 item 13).
        let undo_port = || self.release_port(adapter_index, space, port, true);
        let made = st.listeners.insert_with(|handle| {
            let owner = QueueOwner {
                instance: file,
                object: handle,
            };
            let cid = self.cm.create(owner)?;
            let spec = ListenSpec {
                adapter: adapter_index,
                space,
                port,
                ip,
            };
            if let Err(e) = self.cm.listen(st.id, cid, &spec, &mut work.fx) {
                self.cm.destroy(st.id, cid, &mut work.fx);
                return Err(e);
            }
            let queue = match self.requests.create_queue(owner) {
                Ok(q) => q,
                Err(_) => {
                    self.cm.destroy(st.id, cid, &mut work.fx);
                    return Err(NdiError::NoResources);
                }
            };
            Ok(Listener {
                adapter: i.adapter,
                adapter_index,
                queue,
                cid,
                service: (space, port),
                backlog_limit: backlog,
                backlog: VecDeque::new(),
            })
        });
        let listener = match made {
            Ok(h) => h,
            Err(e) => {
                undo_port();
                return Err(e);
            }
        };
        let out = NdcmListenOut {
            listener,
            port_be: port.to_be(),
            reserved0: 0,
            reserved1: 0,
        };
        Ok(Reply::Done(NtStatus::SUCCESS, Out::bytes(&out.to_bytes())))
    }

    /// Binds an incoming REQ to an IDLE connection: REQ_RCVD with the
    /// peer's addresses, limits and private data (§5.9).
    pub(crate) fn take_incoming(
        &self,
        conn: &mut Connection<R>,
        conn_handle: u64,
        file: u64,
        incoming: Incoming,
    ) -> Result<(), NdiError> {
        self.cm.adopt(
            incoming.cid,
            QueueOwner {
                instance: file,
                object: conn_handle,
            },
        )?;
        conn.cid = Some(incoming.cid);
        conn.state = ConnState::ReqRcvd;
        conn.target_of = None;
        conn.local = Some(incoming.req.local);
        conn.remote = Some(incoming.req.remote);
        conn.peer_limits = (
            incoming.req.responder_resources,
            incoming.req.initiator_depth,
        );
        conn.pdata = Some(ReceivedPdata::new(
            u32::from(incoming.req.responder_resources),
            u32::from(incoming.req.initiator_depth),
            &incoming.req.private_data,
        ));
        Ok(())
    }

    pub(super) fn get_req(
        &self,
        file: u64,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
        slot: &mut Option<R::Request>,
        work: &mut Work<C, R>,
    ) -> Result<Reply, NdiError> {
        let i: NdcmGetReqIn = input::fixed(input)?;
        input::output(output_len, Output::None)?;
        let listener = st
            .listeners
            .get_mut(i.listener)
            .ok_or(NdiError::InvalidHandle)?;
        let conn = st
            .connections
            .get_mut(i.connection)
            .ok_or(NdiError::InvalidHandle)?;
        if conn.adapter != listener.adapter {
            return Err(NdiError::InvalidParameter);
        }
        if conn.state != ConnState::Idle || conn.target_of.is_some() {
            return Err(NdiError::ConnectionActive);
        }
        if let Some(incoming) = listener.backlog.pop_front() {
            if let Err(e) = self.take_incoming(conn, i.connection, file, incoming) {
                self.cm.destroy(st.id, incoming.cid, &mut work.fx);
                return Err(e);
            }
            return Ok(Reply::ok());
        }
        conn.target_of = Some(i.listener);
        let info = PendInfo {
            kind: PendKind::GetReqCm,
            tag: i.connection,
        };
        if let Err(status) = self.pend(&listener.queue, slot, info) {
            conn.target_of = None;
            return Ok(Reply::Done(status, Out::Empty));
        }
        Ok(Reply::Pended)
    }
}
