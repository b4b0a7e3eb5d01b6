//! Establishing a connection: REQ_CM (§5.6), REP_CM (§5.10), RTU_CM (§5.7),
//! REJ_CM (§5.11), including the atomic QP binding of §8 (S2, S3).

use super::input::{self, Output};
use super::{Ndi, Out, Reply, Work};
use crate::NdiError;
use crate::abi::*;
use crate::cm_port::{AcceptSpec, CmPort, ConnectSpec};
use crate::handle::HandleTable;
use crate::object::{CloseCause, ConnState, Connection, FileState, Qp, QpBinding};
use crate::requests::{PendInfo, PendKind, Requests};
use ndcm_cm::cid::Cid;
use ndcm_cm::platform::Platform;
use ndcm_cm::qp::{BindError, QpState, QpVerbs};

/// Checks a QP for Connect/Accept and binds it to `cid` in one step under
/// the file lock (§8): same adapter and INIT (INVALID_DEVICE_STATE), then
/// the compare-and-set Invalid → Bound (Bound → CONNECTION_ACTIVE, Reserved
/// → CANCELLED). The returned binding is the connection's QP reference.
fn bind_qp(
    qps: &mut HandleTable<Qp>,
    qp_handle: u64,
    adapter: u64,
    conn_handle: u64,
    cid: Cid,
) -> Result<QpBinding, NdiError> {
    qp_bindable(qps, qp_handle, adapter)?;
    let qp = qps.get_mut(qp_handle).ok_or(NdiError::InvalidHandle)?;
    qp.slot.try_bind(cid).map_err(|e| match e {
        BindError::AlreadyBound => NdiError::ConnectionActive,
        BindError::QpDestroying => NdiError::Cancelled,
    })?;
    qp.bound_to = Some(conn_handle);
    Ok(QpBinding { qp: qp_handle })
}

/// The QP's number, if it exists in this file.
fn qp_ready(qps: &HandleTable<Qp>, qp_handle: u64) -> Result<u32, NdiError> {
    let qp = qps.get(qp_handle).ok_or(NdiError::InvalidHandle)?;
    Ok(qp.qpn)
}

/// Every check `bind_qp` makes, without binding: lets REQ_CM refuse before
/// it creates anything in the CM (bad input changes nothing). Under the same
/// lock hold, the later `bind_qp` then cannot fail.
///
/// The slot is judged before the QP state: a QP that another connection has
/// bound (and moved past INIT) is "already connected", CONNECTION_ACTIVE, and
/// one being destroyed is CANCELLED (spec/NDI.md §8), whatever its state.
fn qp_bindable(qps: &HandleTable<Qp>, qp_handle: u64, adapter: u64) -> Result<(), NdiError> {
    let qp = qps.get(qp_handle).ok_or(NdiError::InvalidHandle)?;
    if qp.adapter != adapter {
        return Err(NdiError::InvalidParameter);
    }
    match qp.slot {
        ndcm_cm::qp::CidSlot::Invalid => {}
        ndcm_cm::qp::CidSlot::Bound(_) => return Err(NdiError::ConnectionActive),
        ndcm_cm::qp::CidSlot::Reserved => return Err(NdiError::Cancelled),
    }
    if qp.verbs.state() != QpState::Init {
        return Err(NdiError::InvalidDeviceState);
    }
    Ok(())
}

fn clamp(asked: u32, limit: u8) -> u8 {
    u8::try_from(asked).unwrap_or(u8::MAX).min(limit)
}

impl<P: Platform, C: CmPort, R: Requests> Ndi<P, C, R> {
    pub(super) fn req(
        &self,
        file: u64,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
        slot: &mut Option<R::Request>,
        work: &mut Work<C, R>,
    ) -> Result<Reply, NdiError> {
        let (i, pdata) = input::with_pdata::<NdcmReqCmIn>(
            input,
            |s| (s.pdata_length, s.pdata_offset),
            NDCM_MAX_REQ_PDATA,
        )?;
        input::reserved(&[u64::from(i.reserved)])?;
        input::output(output_len, Output::None)?;
        let space = input::port_space(i.protocol)?;
        let local = input::address(&i.local)?;
        let remote = input::address(&i.remote)?;
        if !local.addr.same_family(&remote.addr) || remote.addr.is_unspecified() || remote.port == 0
        {
            return Err(NdiError::InvalidParameter);
        }
        let conn = st
            .connections
            .get(i.connection)
            .ok_or(NdiError::InvalidHandle)?;
        let qpn = qp_ready(&st.qps, i.qp)?;
        if conn.state != ConnState::Idle || conn.target_of.is_some() {
            return Err(NdiError::ConnectionActive);
        }
        let adapter = Self::adapter_of(st, conn.adapter)?;
        let (known, max_in, max_out) = self.with_adapter(adapter, |info| {
            (
                info.addresses.contains(&local.addr),
                info.max_inbound_read_limit,
                info.max_outbound_read_limit,
            )
        })?;
        if !known {
            return Err(NdiError::InvalidParameter);
        }
        let (adapter, adapter_index) = (conn.adapter, conn.adapter_index);
        qp_bindable(&st.qps, i.qp, adapter)?;
        let limits = (
            clamp(i.inbound_read_limit, max_in),
            clamp(i.outbound_read_limit, max_out),
        );
        let port = self.reserve_port(adapter_index, space, local.port, false)?;
        let local = crate::cm_port::IpEndpoint { port, ..local };
        let owner = crate::requests::QueueOwner {
            instance: file,
            object: i.connection,
        };
        let cid = match self.cm.create(owner) {
            Ok(c) => c,
            Err(e) => {
                self.release_port(adapter_index, space, port, false);
                return Err(e);
            }
        };
        let binding = match bind_qp(&mut st.qps, i.qp, adapter, i.connection, cid) {
            Ok(b) => b,
            Err(e) => {
                // Nothing was published: the new CM connection goes, the
                // port is returned, the connection stays IDLE.
                self.cm.destroy(st.id, cid, &mut work.fx);
                self.release_port(adapter_index, space, port, false);
                return Err(e);
            }
        };
        let conn = st
            .connections
            .get_mut(i.connection)
            .ok_or(NdiError::InvalidHandle)?;
        conn.cid = Some(cid);
        conn.binding = Some(binding);
        conn.port = Some((space, port));
        conn.local = Some(local);
        conn.remote = Some(remote);
        let spec = ConnectSpec {
            adapter: adapter_index,
            space,
            local,
            remote,
            qpn,
            responder_resources: limits.0,
            initiator_depth: limits.1,
            private_data: pdata,
        };
        if let Err(e) = self.cm.connect(st.id, cid, &spec, &mut work.fx) {
            // Route resolution or send failed: CLOSED, QP unbound, left in
            // INIT (the ND contract for a failed Connect).
            self.close_connection(st.id, &mut st.qps, conn, CloseCause::LocalAbort, work);
            return Err(e);
        }
        conn.state = ConnState::ReqSent;
        conn.outstanding_req = true;
        let info = PendInfo {
            kind: PendKind::ReqCm,
            tag: 0,
        };
        if let Err(status) = self.pend(&conn.queue, slot, info) {
            conn.outstanding_req = false;
            self.close_connection(st.id, &mut st.qps, conn, CloseCause::LocalAbort, work);
            return Ok(Reply::Done(status, Out::Empty));
        }
        Ok(Reply::Pended)
    }

    pub(super) fn rep(
        &self,
        _file: u64,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
        slot: &mut Option<R::Request>,
        work: &mut Work<C, R>,
    ) -> Result<Reply, NdiError> {
        let (i, pdata) = input::with_pdata::<NdcmRepCmIn>(
            input,
            |s| (s.pdata_length, s.pdata_offset),
            NDCM_MAX_REP_PDATA,
        )?;
        input::output(output_len, Output::None)?;
        let conn = st
            .connections
            .get(i.connection)
            .ok_or(NdiError::InvalidHandle)?;
        let qpn = qp_ready(&st.qps, i.qp)?;
        match (conn.state, conn.cause) {
            (ConnState::ReqRcvd, _) => {}
            (ConnState::Closed, CloseCause::PeerAbort | CloseCause::PeerTimeout) => {
                return Err(NdiError::ConnectionAborted);
            }
            _ => return Err(NdiError::ConnectionActive),
        }
        let cid = conn.cid.ok_or(NdiError::ConnectionInvalid)?;
        let adapter = Self::adapter_of(st, conn.adapter)?;
        let (max_in, max_out) = self.with_adapter(adapter, |info| {
            (info.max_inbound_read_limit, info.max_outbound_read_limit)
        })?;
        let limits = (
            clamp(i.inbound_read_limit, max_in.min(conn.peer_limits.1)),
            clamp(i.outbound_read_limit, max_out.min(conn.peer_limits.0)),
        );
        let binding = bind_qp(&mut st.qps, i.qp, conn.adapter, i.connection, cid)?;
        let now = self.platform.now();
        let conn = st
            .connections
            .get_mut(i.connection)
            .ok_or(NdiError::InvalidHandle)?;
        conn.binding = Some(binding);
        let spec = AcceptSpec {
            qpn,
            responder_resources: limits.0,
            initiator_depth: limits.1,
            private_data: pdata,
        };
        // QP → RTR → RTS, then the REP (§5.10). The software QP transitions
        // cannot wait, so they run here under the lock.
        let moved = st.qps.get_mut(i.qp).is_some_and(|qp| {
            qp.verbs.modify(QpState::Rtr, now).is_ok() && qp.verbs.modify(QpState::Rts, now).is_ok()
        });
        let sent = moved && self.cm.accept(st.id, cid, &spec, &mut work.fx).is_ok();
        if !sent {
            let _ = self.cm.reject(st.id, cid, 1, &[], &mut work.fx);
            self.close_connection(st.id, &mut st.qps, conn, CloseCause::LocalAbort, work);
            return Err(NdiError::ConnectionAborted);
        }
        conn.state = ConnState::RepSent;
        conn.outstanding_rep = true;
        let pend = PendInfo {
            kind: PendKind::RepCm,
            tag: 0,
        };
        if let Err(status) = self.pend(&conn.queue, slot, pend) {
            conn.outstanding_rep = false;
            let _ = self
                .cm
                .reject(st.id, cid, super::cancel::REJ_CONSUMER, &[], &mut work.fx);
            self.close_connection(st.id, &mut st.qps, conn, CloseCause::LocalAbort, work);
            return Ok(Reply::Done(status, Out::Empty));
        }
        Ok(Reply::Pended)
    }

    pub(super) fn rtu(
        &self,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
        work: &mut Work<C, R>,
    ) -> Result<Reply, NdiError> {
        let i: NdcmHandleIn = input::fixed(input)?;
        input::output(output_len, Output::None)?;
        let conn = st
            .connections
            .get_mut(i.handle)
            .ok_or(NdiError::InvalidHandle)?;
        match (conn.state, conn.cause) {
            (ConnState::RepRcvd, _) => {}
            (ConnState::Closed, CloseCause::PeerTimeout) => return Err(NdiError::Timeout),
            (ConnState::Closed, CloseCause::PeerAbort) => return Err(NdiError::ConnectionAborted),
            _ => return Err(NdiError::ConnectionInvalid),
        }
        let cid = conn.cid.ok_or(NdiError::ConnectionInvalid)?;
        let now = self.platform.now();
        let moved = conn
            .binding
            .as_ref()
            .and_then(|b| st.qps.get_mut(b.qp))
            .is_some_and(|qp| {
                qp.verbs.modify(QpState::Rtr, now).is_ok()
                    && qp.verbs.modify(QpState::Rts, now).is_ok()
            });
        if !moved || self.cm.rtu(st.id, cid, &mut work.fx).is_err() {
            let _ = self.cm.reject(st.id, cid, 1, &[], &mut work.fx);
            self.close_connection(st.id, &mut st.qps, conn, CloseCause::LocalAbort, work);
            return Err(NdiError::ConnectionAborted);
        }
        conn.state = ConnState::Connected;
        conn.ever_connected = true;
        Ok(Reply::ok())
    }

    pub(super) fn rej(
        &self,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
        work: &mut Work<C, R>,
    ) -> Result<Reply, NdiError> {
        let (i, pdata) = input::with_pdata::<NdcmRejCmIn>(
            input,
            |s| (s.pdata_length, s.pdata_offset),
            NDCM_MAX_REJ_PDATA,
        )?;
        input::output(output_len, Output::None)?;
        let conn: &mut Connection<R> = st
            .connections
            .get_mut(i.connection)
            .ok_or(NdiError::InvalidHandle)?;
        match (conn.state, conn.cause) {
            (ConnState::ReqRcvd | ConnState::RepRcvd, _) => {}
            (ConnState::Closed, CloseCause::PeerAbort | CloseCause::PeerTimeout) => {
                return Err(NdiError::ConnectionAborted);
            }
            _ => return Err(NdiError::InvalidDeviceState),
        }
        if let Some(cid) = conn.cid {
            self.cm
                .reject(st.id, cid, super::cancel::REJ_CONSUMER, pdata, &mut work.fx)?;
        }
        self.close_connection(st.id, &mut st.qps, conn, CloseCause::LocalAbort, work);
        Ok(Reply::ok())
    }
}

#[cfg(test)]
mod tests {
    //! S2 on the slot the driver runs: `bind_qp` and `qp_bindable` over a
    //! file's QP table (formerly proved on the CM manager's own QP table,
    //! which the driver never used).

    use super::{bind_qp, qp_bindable};
    use crate::NdiError;
    use crate::handle::{HandleKind, HandleTable};
    use crate::object::Qp;
    use ndcm_cm::cid::Cid;
    use ndcm_cm::platform::Instant;
    use ndcm_cm::qp::{CidSlot, QpState, QpVerbs, SoftQp};

    const ADAPTER: u64 = 0x11;
    const CONN_A: u64 = 0xA;
    const CONN_B: u64 = 0xB;
    const A: Cid = Cid(0x0100_0001);
    const B: Cid = Cid(0x0100_0002);

    /// A table with one QP of `ADAPTER` in INIT, slot Invalid.
    fn table() -> (HandleTable<Qp>, u64) {
        let mut qps = HandleTable::new(HandleKind::Qp, 7);
        let mut verbs = SoftQp::new();
        verbs.modify(QpState::Init, Instant(0)).unwrap();
        let qp = qps
            .insert(Qp {
                adapter: ADAPTER,
                qpn: 0x100,
                verbs,
                slot: CidSlot::Invalid,
                bound_to: None,
                timewait_until: Instant(0),
            })
            .unwrap();
        (qps, qp)
    }

    fn slot(qps: &HandleTable<Qp>, qp: u64) -> (CidSlot, Option<u64>) {
        let q = qps.get(qp).unwrap();
        (q.slot, q.bound_to)
    }

    #[test]
    fn binding_is_a_compare_and_set_from_invalid() {
        let (mut qps, qp) = table();
        let binding = bind_qp(&mut qps, qp, ADAPTER, CONN_A, A).unwrap();
        assert_eq!(binding.qp, qp, "the binding is the QP reference");
        assert_eq!(slot(&qps, qp), (CidSlot::Bound(A), Some(CONN_A)));
    }

    #[test]
    fn a_bound_qp_is_already_connected_and_stays_bound_to_its_owner() {
        let (mut qps, qp) = table();
        let _a = bind_qp(&mut qps, qp, ADAPTER, CONN_A, A).unwrap();
        assert_eq!(
            bind_qp(&mut qps, qp, ADAPTER, CONN_B, B).map(|b| b.qp),
            Err(NdiError::ConnectionActive)
        );
        assert_eq!(
            qp_bindable(&qps, qp, ADAPTER),
            Err(NdiError::ConnectionActive)
        );
        // The loser changed nothing, and only the owner's CID unbinds.
        assert_eq!(slot(&qps, qp), (CidSlot::Bound(A), Some(CONN_A)));
        qps.get_mut(qp).unwrap().slot.unbind(B);
        assert_eq!(slot(&qps, qp).0, CidSlot::Bound(A));
        // Past INIT (the owner moved it to RTS) it is still "already
        // connected", not "wrong state".
        let q = qps.get_mut(qp).unwrap();
        q.verbs.modify(QpState::Rtr, Instant(0)).unwrap();
        q.verbs.modify(QpState::Rts, Instant(0)).unwrap();
        assert_eq!(
            qp_bindable(&qps, qp, ADAPTER),
            Err(NdiError::ConnectionActive)
        );
    }

    #[test]
    fn a_reserved_qp_is_never_bindable() {
        let (mut qps, qp) = table();
        let _a = bind_qp(&mut qps, qp, ADAPTER, CONN_A, A).unwrap();
        let q = qps.get_mut(qp).unwrap();
        assert_eq!(q.slot.reserve(), CidSlot::Bound(A));
        // The old owner's unbind leaves it Reserved, and nothing binds.
        q.slot.unbind(A);
        q.bound_to = None;
        for (conn, cid) in [(CONN_A, A), (CONN_B, B)] {
            assert_eq!(
                bind_qp(&mut qps, qp, ADAPTER, conn, cid).map(|b| b.qp),
                Err(NdiError::Cancelled)
            );
        }
        assert_eq!(qp_bindable(&qps, qp, ADAPTER), Err(NdiError::Cancelled));
        assert_eq!(slot(&qps, qp), (CidSlot::Reserved, None));
    }

    #[test]
    fn a_refused_bind_changes_nothing() {
        let (mut qps, qp) = table();
        // Another adapter's QP, a QP not in INIT, a stale handle.
        assert_eq!(
            bind_qp(&mut qps, qp, ADAPTER + 1, CONN_A, A).map(|b| b.qp),
            Err(NdiError::InvalidParameter)
        );
        qps.get_mut(qp)
            .unwrap()
            .verbs
            .modify(QpState::Err, Instant(0))
            .unwrap();
        assert_eq!(
            bind_qp(&mut qps, qp, ADAPTER, CONN_A, A).map(|b| b.qp),
            Err(NdiError::InvalidDeviceState)
        );
        assert_eq!(
            bind_qp(&mut qps, qp ^ 0x1_0000, ADAPTER, CONN_A, A).map(|b| b.qp),
            Err(NdiError::InvalidHandle)
        );
        assert_eq!(slot(&qps, qp), (CidSlot::Invalid, None));
    }
}
