//! Adapters, QPs and connections as objects: OPEN_ADAPTER, CREATE_QP,
//! DESTROY_QP (§9.2), MODIFY_QP (§5.5), CREATE_CEP (§5.1), DESTROY_CEP
//! (§5.2, §9.1) and CEP_GET_PDATA (§5.3).

use super::input::{self, Output};
use super::{File, Ndi, Out, Reply, Work};
use crate::NdiError;
use crate::abi::*;
use crate::cm_port::CmPort;
use crate::handle::HandleKind;
use crate::object::{
    Adapter, BindingFault, CloseCause, ConnState, Connection, FileState, Qp, QpView,
};
use crate::requests::{QueueOwner, Requests};
use alloc::vec::Vec;
use ndcm_cm::platform::{Instant, Platform, QueuedSpinLock};
use ndcm_cm::qp::{CidSlot, QpState, QpVerbs, SoftQp};

impl<P: Platform, C: CmPort, R: Requests> Ndi<P, C, R> {
    /// The CID slot of `qp` in `file` and what refers to it, read under the
    /// file's lock (tests, diagnostics). `None` when the handle is not a
    /// live QP of the file.
    pub fn qp_view(&self, file: &File<P, R>, qp: u64) -> Option<QpView> {
        self.locked(file, |st| {
            let q = st.qps.get(qp)?;
            let bindings = st
                .connections
                .handles()
                .into_iter()
                .filter_map(|h| st.connections.get(h))
                .filter(|c| c.binding.as_ref().is_some_and(|b| b.qp == qp))
                .count();
            Some(QpView {
                slot: q.slot,
                bound_to: q.bound_to,
                bindings,
                state: q.verbs.state(),
            })
        })
    }

    /// Checks S2/S3 on every QP and connection of `file` under its lock: a
    /// QP's slot is Bound(cid) exactly when one connection, whose CID is
    /// `cid` and which the QP names in `bound_to`, holds the binding (the
    /// QP reference) on it. Returns the number of bound QPs.
    pub fn audit_qp_bindings(&self, file: &File<P, R>) -> Result<usize, BindingFault> {
        self.locked(file, |st| {
            let mut bound = 0;
            for qp in st.qps.handles() {
                let Some(q) = st.qps.get(qp) else { continue };
                let holders: Vec<(u64, Option<ndcm_cm::cid::Cid>)> = st
                    .connections
                    .handles()
                    .into_iter()
                    .filter_map(|h| st.connections.get(h).map(|c| (h, c)))
                    .filter(|(_, c)| c.binding.as_ref().is_some_and(|b| b.qp == qp))
                    .map(|(h, c)| (h, c.cid))
                    .collect();
                if holders.len() > 1 {
                    return Err(BindingFault::SharedBinding { qp });
                }
                match (q.slot, holders.first()) {
                    (CidSlot::Bound(cid), Some(&(h, Some(c))))
                        if c == cid && q.bound_to == Some(h) =>
                    {
                        bound += 1;
                    }
                    (CidSlot::Bound(_), _) => return Err(BindingFault::SlotWithoutBinding { qp }),
                    (_, Some(&(connection, _))) => {
                        return Err(BindingFault::BindingWithoutSlot { connection });
                    }
                    (_, None) => {}
                }
            }
            for connection in st.connections.handles() {
                let Some(c) = st.connections.get(connection) else {
                    continue;
                };
                if let Some(b) = &c.binding
                    && st.qps.get(b.qp).is_none()
                {
                    return Err(BindingFault::BindingWithoutSlot { connection });
                }
            }
            Ok(bound)
        })
    }

    pub(super) fn open_adapter(
        &self,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
    ) -> Result<Reply, NdiError> {
        let i: NdcmOpenAdapterIn = input::fixed(input)?;
        input::reserved(&[u64::from(i.reserved)])?;
        input::output(output_len, Output::Exact(NdcmOpenAdapterOut::SIZE))?;
        // docs/NDI-agent.md §3: only a registered (or built-in) adapter.
        let found = self.adapters.with(|t| {
            t.get(i.adapter_index).map(|s| {
                let a = Adapter {
                    index: i.adapter_index,
                    generation: s.generation(),
                };
                let info = s.info();
                (
                    a,
                    info.max_inbound_read_limit,
                    info.max_outbound_read_limit,
                    info.addresses.len(),
                )
            })
        });
        let (adapter, inbound, outbound, addresses) = found.ok_or(NdiError::InvalidDeviceState)?;
        let handle = st.adapters.insert(adapter)?;
        let out = NdcmOpenAdapterOut {
            adapter: handle,
            max_inbound_read_limit: u32::from(inbound),
            max_outbound_read_limit: u32::from(outbound),
            address_count: u32::try_from(addresses).unwrap_or(u32::MAX),
            reserved: 0,
        };
        Ok(Reply::Done(NtStatus::SUCCESS, Out::bytes(&out.to_bytes())))
    }

    /// The adapter named by a handle of this file.
    pub(crate) fn adapter_of(st: &FileState<R>, handle: u64) -> Result<Adapter, NdiError> {
        st.adapters
            .get(handle)
            .copied()
            .ok_or(NdiError::InvalidHandle)
    }

    pub(super) fn create_qp(
        &self,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
    ) -> Result<Reply, NdiError> {
        let i: NdcmCreateQpIn = input::fixed(input)?;
        input::reserved(&[u64::from(i.reserved)])?;
        input::output(output_len, Output::Exact(NdcmCreateQpOut::SIZE))?;
        let adapter = Self::adapter_of(st, i.adapter)?;
        let fits = self.with_adapter(adapter, |info| {
            let depth_ok = |d: u32| (1..=info.max_qp_depth).contains(&d);
            let sge_ok = |s: u32| (1..=info.max_sge).contains(&s);
            depth_ok(i.send_depth)
                && depth_ok(i.receive_depth)
                && sge_ok(i.send_sge)
                && sge_ok(i.receive_sge)
                && i.inline_data <= info.max_inline
        })?;
        if !fits {
            return Err(NdiError::InvalidParameter);
        }
        let qpn = self.new_qpn();
        let qp = st.qps.insert(Qp {
            adapter: i.adapter,
            qpn,
            verbs: SoftQp::new(),
            slot: CidSlot::Invalid,
            bound_to: None,
            timewait_until: Instant(0),
        })?;
        let out = NdcmCreateQpOut {
            qp,
            qpn,
            reserved: 0,
        };
        Ok(Reply::Done(NtStatus::SUCCESS, Out::bytes(&out.to_bytes())))
    }

    pub(super) fn destroy_qp(
        &self,
        _file: u64,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
        work: &mut Work<C, R>,
    ) -> Result<Reply, NdiError> {
        let i: NdcmHandleIn = input::fixed(input)?;
        input::output(output_len, Output::None)?;
        let qp = st.qps.get_mut(i.handle).ok_or(NdiError::InvalidHandle)?;
        // §9.2: the slot becomes Reserved first, so no bind can succeed from
        // here on, then the bound connection (if any) is aborted.
        let old = qp.slot.reserve();
        let bound = qp.bound_to;
        if let (CidSlot::Bound(_), Some(conn)) = (old, bound) {
            self.abort_connection(st, conn, work);
        }
        let _ = st.qps.remove(i.handle);
        Ok(Reply::ok())
    }

    pub(super) fn modify_qp(
        &self,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
    ) -> Result<Reply, NdiError> {
        let i: NdcmModifyQpIn = input::fixed(input)?;
        input::reserved(&[u64::from(i.reserved)])?;
        input::output(output_len, Output::Exact(NdcmModifyQpOut::SIZE))?;
        let target = match i.state {
            NDCM_QP_STATE_RESET => QpState::Reset,
            NDCM_QP_STATE_INIT => QpState::Init,
            NDCM_QP_STATE_ERROR => QpState::Err,
            // RTR and RTS only through the CM (spec §5.5); others unknown.
            _ => return Err(NdiError::InvalidParameter),
        };
        let qp = st.qps.get_mut(i.qp).ok_or(NdiError::InvalidHandle)?;
        let now = self.platform.now();
        if target != QpState::Err {
            if matches!(qp.slot, CidSlot::Bound(_)) {
                return Err(NdiError::InvalidDeviceState);
            }
            if target == QpState::Init && now < qp.timewait_until {
                return Err(NdiError::InvalidDeviceState);
            }
        }
        qp.verbs
            .modify(target, now)
            .map_err(|_| NdiError::InvalidDeviceState)?;
        let out = NdcmModifyQpOut {
            state: qp_state_code(qp.verbs.state()),
            reserved: 0,
        };
        Ok(Reply::Done(NtStatus::SUCCESS, Out::bytes(&out.to_bytes())))
    }

    pub(super) fn create_cep(
        &self,
        file: u64,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
    ) -> Result<Reply, NdiError> {
        let i: NdcmHandleIn = input::fixed(input)?;
        input::output(output_len, Output::Exact(NdcmHandleOut::SIZE))?;
        let adapter = Self::adapter_of(st, i.handle)?;
        self.with_adapter(adapter, |_| ())?;
        let adapter_index = adapter.index;
        // The queue's owner names the handle, which exists only after the
        // insert; reserve the slot with a placeholder-free two-step: insert,
        // then create the queue and undo on failure.
        let handle = st.connections.insert_with(|handle| {
            let queue = self
                .requests
                .create_queue(QueueOwner {
                    instance: file,
                    object: handle,
                })
                .map_err(|_| NdiError::NoResources)?;
            Ok(Connection {
                adapter: i.handle,
                adapter_index,
                queue,
                state: ConnState::Idle,
                cause: CloseCause::Open,
                ever_connected: false,
                cid: None,
                binding: None,
                target_of: None,
                port: None,
                local: None,
                remote: None,
                peer_limits: (0, 0),
                pdata: None,
                outstanding_req: false,
                outstanding_rep: false,
                outstanding_dreq: false,
            })
        })?;
        let out = NdcmHandleOut { handle };
        Ok(Reply::Done(NtStatus::SUCCESS, Out::bytes(&out.to_bytes())))
    }

    pub(super) fn destroy_cep(
        &self,
        _file: u64,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
        work: &mut Work<C, R>,
    ) -> Result<Reply, NdiError> {
        let i: NdcmHandleIn = input::fixed(input)?;
        input::output(output_len, Output::None)?;
        match HandleKind::of(i.handle) {
            Some(HandleKind::Connection) if st.connections.get(i.handle).is_some() => {
                self.destroy_connection(st, i.handle, work);
            }
            Some(HandleKind::Listener) if st.listeners.get(i.handle).is_some() => {
                self.destroy_listener(st, i.handle, work);
            }
            _ => return Err(NdiError::InvalidHandle),
        }
        Ok(Reply::ok())
    }

    pub(super) fn get_pdata(
        &self,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
    ) -> Result<Reply, NdiError> {
        let i: NdcmHandleIn = input::fixed(input)?;
        let max = NdcmGetPdataOut::SIZE + NDCM_MAX_REP_PDATA as usize;
        input::output(output_len, Output::Range(NdcmGetPdataOut::SIZE, max))?;
        let conn = st
            .connections
            .get(i.handle)
            .ok_or(NdiError::InvalidHandle)?;
        let pdata = conn.pdata.as_ref().ok_or(NdiError::ConnectionInvalid)?;
        let head = NdcmGetPdataOut {
            inbound_read_limit: pdata.inbound,
            outbound_read_limit: pdata.outbound,
            length: u32::try_from(pdata.bytes().len()).unwrap_or(u32::MAX),
            reserved: 0,
        };
        let room = output_len - NdcmGetPdataOut::SIZE;
        let fits = pdata.bytes().len().min(room);
        let mut out = Vec::with_capacity(NdcmGetPdataOut::SIZE + fits);
        out.extend_from_slice(&head.to_bytes());
        out.extend_from_slice(pdata.bytes().get(..fits).unwrap_or(&[]));
        let status = if fits < pdata.bytes().len() {
            NtStatus::BUFFER_OVERFLOW
        } else {
            NtStatus::SUCCESS
        };
        Ok(Reply::Done(status, Out::Heap(out)))
    }
}

/// The ABI code of a verbs state.
pub(crate) fn qp_state_code(s: QpState) -> u32 {
    match s {
        QpState::Reset => NDCM_QP_STATE_RESET,
        QpState::Init => NDCM_QP_STATE_INIT,
        QpState::Rtr => NDCM_QP_STATE_RTR,
        QpState::Rts => NDCM_QP_STATE_RTS,
        QpState::Err => NDCM_QP_STATE_ERROR,
    }
}
