//! The actions of the transition table (spec/CM.md §4, §9): `apply` looks up
//! the row for a CEP's state and an input, runs the row's action and enters
//! the row's next state.
//!
//! Each action validates everything first and changes nothing when it
//! fails: an API call gets the error, a received message is dropped. Runs
//! under the manager lock and only appends to `Output`.

use super::cep::{Ext, PdataKind, flag};
use super::core::Core;
use crate::cid::Cid;
use crate::codec;
use crate::error::CmError;
use crate::event::EventKind;
use crate::output::Output;
use crate::params::{LapParams, MadAddress, RepParams, ReqParams, SidrRepParams, SidrReqParams};
use crate::platform::{Duration, Instant};
use crate::state::State;
use crate::table::{self, Action, Input, Next};
use crate::timeouts;
use ndcm_wire::mad::MAD_SIZE;
use ndcm_wire::{
    AprRepr, AprStatus, CmMad, CmMessage, CommId, DrepRepr, DreqRepr, ExtendedTransportType,
    FailoverAccepted, LapRepr, MraMessage, MraRepr, PathRecord, Psn, Qpn, RejMessage, RejReason,
    RejRepr, RepRepr, ReqRepr, RtuRepr, ServiceId, SidrRepRepr, SidrReqRepr, SidrStatus,
    TransportType,
};

/// A received MAD after parsing.
pub(crate) struct Received<'a> {
    pub raw: &'a [u8],
    pub mad: CmMad,
    pub from: MadAddress,
}

/// The inputs of an action.
pub(crate) enum Args<'a> {
    None,
    Req(&'a ReqParams),
    Rep(&'a RepParams),
    Pdata(&'a [u8]),
    Rej {
        reason: u16,
        ari: &'a [u8],
        pdata: &'a [u8],
    },
    Mra {
        service_timeout: u8,
        pdata: &'a [u8],
    },
    Lap(&'a LapParams),
    Apr {
        status: u8,
        info: &'a [u8],
        pdata: &'a [u8],
    },
    SidrReq(&'a SidrReqParams),
    SidrRep(&'a SidrRepParams),
    Recv(&'a Received<'a>),
}

/// What an action reports back to `apply`.
#[derive(Default)]
struct Effect {
    stale: bool,
    deferred_sent: bool,
    next_override: Option<State>,
}

fn pd<const N: usize>(src: &[u8]) -> Result<ndcm_wire::PrivateData<N>, CmError> {
    codec::private_data::<N>(src).ok_or(CmError::PrivateDataTooLong)
}

fn info<const N: usize>(src: &[u8]) -> Result<[u8; N], CmError> {
    let mut out = [0u8; N];
    out.get_mut(..src.len())
        .ok_or(CmError::PrivateDataTooLong)?
        .copy_from_slice(src);
    Ok(out)
}

/// A REJ message.
pub(crate) fn rej_message(
    local: u32,
    remote: u32,
    rejected: RejMessage,
    reason: RejReason,
    ari: &[u8],
    pdata: &[u8],
) -> Result<CmMessage, CmError> {
    Ok(CmMessage::Rej(RejRepr {
        local_comm_id: CommId(local),
        remote_comm_id: CommId(remote),
        message_rejected: rejected,
        reject_info_length: u8::try_from(ari.len()).map_err(|_| CmError::PrivateDataTooLong)?,
        reason,
        ari: info(ari)?,
        private_data: pd(pdata)?,
    }))
}

impl Core {
    /// Runs the table row for `(state of cid, input)`.
    pub(crate) fn apply(
        &mut self,
        cid: Cid,
        input: Input,
        args: &Args<'_>,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        let state = self.cep(cid)?.state;
        let row = table::lookup(state, input).ok_or(CmError::InvalidState)?;
        let eff = self.act(cid, row.action, args, now, out)?;
        let next = eff.next_override.map(Next::To).unwrap_or(row.next);
        match next {
            Next::To(s) => self.enter(cid, s, now, out),
            Next::Same => {}
            Next::TimewaitIfStaleElseIdle => {
                let s = if eff.stale {
                    State::Timewait
                } else {
                    State::Idle
                };
                self.enter(cid, s, now, out)
            }
            Next::ToIfDeferredMra(s) => {
                if eff.deferred_sent {
                    self.enter(cid, s, now, out)
                }
            }
            Next::Freed => self.enter_freed(cid, out),
        }
        Ok(())
    }

    fn act(
        &mut self,
        cid: Cid,
        action: Action,
        args: &Args<'_>,
        now: Instant,
        out: &mut Output,
    ) -> Result<Effect, CmError> {
        let mut eff = Effect::default();
        match (action, args) {
            (Action::EnterListen, _) | (Action::CancelListen, _) => {
                // Handled by `listen` / `cancel_listen`, which own the table.
                return Err(CmError::InvalidState);
            }
            (Action::FormatReq, Args::Req(p)) => self.format_req(cid, p)?,
            (Action::RefuseInTimewait, _) => return Err(CmError::InTimewait),
            (Action::SendReq, _) => {
                let cep = self.cep(cid)?;
                let mad = codec::untrim(cep.sent.as_deref().ok_or(CmError::InvalidState)?);
                let (interval, retries) = (cep.retry_interval, cep.max_cm_retries);
                self.start_retried(cid, mad, interval, retries, now, out);
            }
            (Action::StretchAndDeliverMra, Args::Recv(r)) | (Action::Stretch, Args::Recv(r)) => {
                let CmMessage::Mra(m) = r.mad.message else {
                    return Err(CmError::InvalidState);
                };
                let two_plt = self.cep(cid)?.two_plt;
                let deadline = now + timeouts::mra_wait(m.service_timeout, two_plt);
                self.rearm(cid, deadline, out);
                if action == Action::StretchAndDeliverMra {
                    self.queue_event(
                        cid,
                        EventKind::MraReceived,
                        None,
                        Some(codec::trim(r.raw)),
                        out,
                    );
                }
            }
            (Action::AcceptRep, Args::Recv(r)) => eff = self.accept_rep(cid, r, now, out)?,
            (Action::DeliverRej, Args::Recv(r)) => {
                let CmMessage::Rej(rej) = r.mad.message else {
                    return Err(CmError::InvalidState);
                };
                self.cancel_send(cid, out);
                let cep = self.cep_mut(cid)?;
                cep.pdata = Some(codec::trim(rej.private_data.as_bytes()));
                cep.pdata_kind = PdataKind::Rej;
                eff.stale = rej.reason == RejReason::StaleConnection;
                self.queue_event(
                    cid,
                    EventKind::RejReceived,
                    None,
                    Some(codec::trim(r.raw)),
                    out,
                );
            }
            (Action::ReqTimedOut, _) | (Action::RepTimedOut, _) => {
                let (local, remote, sent) = {
                    let c = self.cep(cid)?;
                    (c.local_comm_id, c.remote_comm_id, c.sent.clone())
                };
                let (rejected, kind) = if action == Action::ReqTimedOut {
                    (RejMessage::Req, EventKind::ReqError)
                } else {
                    (RejMessage::Rep, EventKind::RepError)
                };
                self.send_rej_timeout(cid, local, remote, rejected, out)?;
                self.cancel_send(cid, out);
                self.queue_event(cid, kind, None, sent, out);
            }
            (
                Action::SendMra,
                Args::Mra {
                    service_timeout,
                    pdata,
                },
            ) => {
                self.send_mra(cid, *service_timeout, pdata, out)?;
            }
            (Action::SendDeferredMra, _) => {
                if self.cep(cid)?.has(flag::DEFERRED_MRA) {
                    self.send_mra(cid, timeouts::MRA_SERVICE_TIMEOUT, &[], out)?;
                    eff.deferred_sent = true;
                }
            }
            (Action::ResendMra, _) => {
                let cep = self.cep(cid)?;
                if let Some(m) = cep.mra.as_deref() {
                    out.send(cep.peer, codec::untrim(m));
                }
            }
            (Action::SendRtu, Args::Pdata(p)) => {
                let private_data = pd(p)?;
                let cep = self.cep_mut(cid)?;
                let msg = CmMessage::Rtu(RtuRepr {
                    local_comm_id: CommId(cep.local_comm_id),
                    remote_comm_id: CommId(cep.remote_comm_id),
                    private_data,
                });
                let mad = codec::emit(cep.tid, msg);
                cep.sent = Some(codec::trim(&mad));
                cep.clear(flag::DEFERRED_MRA);
                cep.mra = None;
                out.send(cep.peer, mad);
            }
            (Action::ResendRtu, _) => {
                let cep = self.cep(cid)?;
                if let Some(m) = cep.sent.as_deref() {
                    out.send(cep.peer, codec::untrim(m));
                }
            }
            (Action::SendRej, Args::Rej { reason, ari, pdata }) => {
                let cep = self.cep(cid)?;
                let (rejected, local) = match cep.state {
                    // §4.2: from REQ_RCVD with Local Comm ID 0.
                    State::ReqRcvd | State::PreRep => (RejMessage::Req, 0),
                    State::MraReqSent | State::PreRepMraSent => {
                        (RejMessage::Req, cep.local_comm_id)
                    }
                    State::RepRcvd | State::MraRepSent => (RejMessage::Rep, cep.local_comm_id),
                    _ => (RejMessage::Other, cep.local_comm_id),
                };
                let msg = rej_message(
                    local,
                    cep.remote_comm_id,
                    rejected,
                    RejReason::from_code(*reason),
                    ari,
                    pdata,
                )?;
                let mad = codec::emit(cep.tid, msg);
                self.cancel_send(cid, out);
                self.send_to_peer(cid, mad, out);
            }
            (Action::CreateFromReq, Args::Recv(r)) => self.create_from_req(cid, r, out)?,
            (Action::FormatRep, Args::Rep(p)) => self.format_rep(cid, p)?,
            (Action::SendRep, _) => {
                let cep = self.cep(cid)?;
                let mad = codec::untrim(cep.sent.as_deref().ok_or(CmError::InvalidState)?);
                let interval = timeouts::rep_interval(cep.local_cm_response_timeout);
                let retries = cep.max_cm_retries;
                self.cep_mut(cid)?.retry_interval = interval;
                self.start_retried(cid, mad, interval, retries, now, out);
            }
            (Action::AcceptRtu, Args::Recv(r)) => {
                self.answer_received(cid, EventKind::RtuReceived, r.raw, out);
            }
            (Action::SyntheticRtu, _) => {
                self.cancel_send(cid, out);
                self.queue_event(cid, EventKind::RtuReceived, None, None, out);
            }
            (Action::SendDreq, Args::Pdata(p)) => {
                let private_data = pd(p)?;
                self.cancel_send(cid, out);
                let tid = self.new_tid();
                let cep = self.cep_mut(cid)?;
                cep.tid = tid;
                let msg = CmMessage::Dreq(DreqRepr {
                    local_comm_id: CommId(cep.local_comm_id),
                    remote_comm_id: CommId(cep.remote_comm_id),
                    // The receiver's QPN: the peer's (§4.3).
                    remote_qpn: Qpn::new(cep.remote_qpn),
                    private_data,
                });
                let mad = codec::emit(tid, msg);
                let (interval, retries) = (cep.retry_interval, cep.max_cm_retries);
                self.start_retried(cid, mad, interval, retries, now, out);
            }
            (Action::DeliverDreq, Args::Recv(r)) => {
                self.cancel_send(cid, out);
                self.cep_mut(cid)?.peer_tid = r.mad.header.transaction_id;
                self.queue_event(
                    cid,
                    EventKind::DreqReceived,
                    None,
                    Some(codec::trim(r.raw)),
                    out,
                );
            }
            (Action::DeliverDrep, Args::Recv(r)) => {
                self.answer_received(cid, EventKind::DrepReceived, r.raw, out);
            }
            (Action::DreqTimedOut, _) => {
                self.retried_send_failed(cid, EventKind::DreqError, out)?;
            }
            (Action::SendDrep, Args::Pdata(p)) => {
                let private_data = pd(p)?;
                let cep = self.cep_mut(cid)?;
                let mad = codec::emit(
                    cep.peer_tid,
                    CmMessage::Drep(DrepRepr {
                        local_comm_id: CommId(cep.local_comm_id),
                        remote_comm_id: CommId(cep.remote_comm_id),
                        private_data,
                    }),
                );
                cep.sent = Some(codec::trim(&mad));
                out.send(cep.peer, mad);
            }
            (Action::ResendDrep, Args::Recv(r)) => {
                // Re-send the cached DREP, or format one without private data.
                let tid = r.mad.header.transaction_id;
                let cep = self.cep_mut(cid)?;
                cep.peer_tid = tid;
                let cached = cep.sent.as_deref().and_then(codec::parse_trimmed);
                let mad = match cached {
                    Some(CmMad {
                        message: CmMessage::Drep(d),
                        ..
                    }) => codec::emit(tid, CmMessage::Drep(d)),
                    _ => codec::emit(
                        tid,
                        CmMessage::Drep(DrepRepr {
                            local_comm_id: CommId(cep.local_comm_id),
                            remote_comm_id: CommId(cep.remote_comm_id),
                            private_data: Default::default(),
                        }),
                    ),
                };
                out.send(r.from, mad);
            }
            (Action::Drop, _) => {}
            (Action::ExitTimewait, _) => {
                self.remove_remote_id(cid);
                self.cancel_timer(cid, out);
                self.queue_event(cid, EventKind::TimewaitExit, None, None, out);
            }
            (Action::FreeAfterTimewait, _) => {
                self.cancel_timer(cid, out);
                self.remove_remote_id(cid);
            }
            (Action::SendLap, Args::Lap(p)) => self.send_lap(cid, p, now, out)?,
            (Action::DeliverApr, Args::Recv(r)) => {
                let CmMessage::Apr(a) = r.mad.message else {
                    return Err(CmError::InvalidState);
                };
                let lap = self
                    .cep(cid)?
                    .sent
                    .as_deref()
                    .and_then(codec::parse_trimmed);
                self.cancel_send(cid, out);
                if a.ap_status == AprStatus::Success
                    && let Some(CmMad {
                        message: CmMessage::Lap(l),
                        ..
                    }) = lap
                {
                    self.load_alternate(cid, l.alternate_path)?;
                }
                self.queue_event(
                    cid,
                    EventKind::AprReceived,
                    None,
                    Some(codec::trim(r.raw)),
                    out,
                );
            }
            (Action::LapTimedOut, _) => {
                self.retried_send_failed(cid, EventKind::LapError, out)?;
            }
            (Action::DeliverLap, Args::Recv(r)) => {
                let CmMessage::Lap(l) = r.mad.message else {
                    return Err(CmError::InvalidState);
                };
                if l.alternate_path.is_absent() {
                    return Err(CmError::InvalidParameter);
                }
                self.load_alternate(cid, l.alternate_path)?;
                self.cep_mut(cid)?.peer_tid = r.mad.header.transaction_id;
                self.queue_event(
                    cid,
                    EventKind::LapReceived,
                    None,
                    Some(codec::trim(r.raw)),
                    out,
                );
            }
            (
                Action::FormatApr,
                Args::Apr {
                    status,
                    info: i,
                    pdata,
                },
            ) => {
                let msg = CmMessage::Apr(AprRepr {
                    local_comm_id: CommId(self.cep(cid)?.local_comm_id),
                    remote_comm_id: CommId(self.cep(cid)?.remote_comm_id),
                    additional_info_length: u8::try_from(i.len())
                        .map_err(|_| CmError::PrivateDataTooLong)?,
                    ap_status: AprStatus::from_code(*status),
                    additional_info: info(i)?,
                    private_data: pd(pdata)?,
                });
                let cep = self.cep_mut(cid)?;
                cep.sent = Some(codec::trim(&codec::emit(cep.peer_tid, msg)));
            }
            (Action::SendApr, _) => {
                let cep = self.cep(cid)?;
                let mad = codec::untrim(cep.sent.as_deref().ok_or(CmError::InvalidState)?);
                out.send(cep.peer, mad);
            }
            (Action::SendSidrReq, Args::SidrReq(p)) => {
                let private_data = pd(p.private_data.as_slice())?;
                let tid = self.new_tid();
                let cep = self.cep_mut(cid)?;
                cep.peer = p.to;
                cep.tid = tid;
                cep.service_id = p.service_id;
                let msg = CmMessage::SidrReq(SidrReqRepr {
                    request_id: cep.local_comm_id,
                    partition_key: p.partition_key,
                    service_id: ServiceId(p.service_id),
                    private_data,
                });
                let mad = codec::emit(tid, msg);
                let interval =
                    timeouts::at_least_min(Duration::from_millis(u64::from(p.timeout_ms)));
                self.start_retried(cid, mad, interval, p.max_retries, now, out);
            }
            (Action::DeliverSidrRep, Args::Recv(r)) => {
                self.answer_received(cid, EventKind::SidrRepReceived, r.raw, out);
            }
            (Action::SidrReqTimedOut, _) => {
                self.retried_send_failed(cid, EventKind::SidrReqError, out)?;
            }
            (Action::CreateFromSidrReq, Args::Recv(r)) => self.create_from_sidr_req(cid, r, out)?,
            (Action::SendSidrRep, Args::SidrRep(p)) => {
                self.send_sidr_rep(cid, SidrStatus::from_code(p.status), p, out)?;
                self.remove_sidr_seen(cid);
            }
            // §9 destroy
            (Action::DestroyQuietly, _) | (Action::DestroyListener, _) => {}
            (Action::DestroyWithRejTimeout, _) => {
                let (local, remote) = {
                    let c = self.cep(cid)?;
                    (c.local_comm_id, c.remote_comm_id)
                };
                self.cancel_send(cid, out);
                self.send_rej_timeout(cid, local, remote, RejMessage::Req, out)?;
            }
            (Action::DestroyWithRejConsumer, _) => {
                let cep = self.cep(cid)?;
                let rejected = match cep.state {
                    State::RepRcvd | State::MraRepSent => RejMessage::Rep,
                    State::RepSent | State::MraRepRcvd => RejMessage::Other,
                    _ => RejMessage::Req,
                };
                let msg = rej_message(
                    cep.local_comm_id,
                    cep.remote_comm_id,
                    rejected,
                    RejReason::ConsumerDefined,
                    &[],
                    &[],
                )?;
                let mad = codec::emit(cep.tid, msg);
                self.cancel_send(cid, out);
                self.send_to_peer(cid, mad, out);
            }
            (Action::DestroyWithDreq, _) => {
                // One DREQ without retransmission (§9).
                self.cancel_send(cid, out);
                let tid = self.new_tid();
                let cep = self.cep_mut(cid)?;
                cep.tid = tid;
                let mad = codec::emit(
                    tid,
                    CmMessage::Dreq(DreqRepr {
                        local_comm_id: CommId(cep.local_comm_id),
                        remote_comm_id: CommId(cep.remote_comm_id),
                        remote_qpn: Qpn::new(cep.remote_qpn),
                        private_data: Default::default(),
                    }),
                );
                out.send(cep.peer, mad);
            }
            (Action::DestroyCancelDreq, _) | (Action::DestroyCancelSidr, _) => {
                self.cancel_send(cid, out);
            }
            (Action::DestroyWithDrep, _) => {
                let cep = self.cep_mut(cid)?;
                let mad = codec::emit(
                    cep.peer_tid,
                    CmMessage::Drep(DrepRepr {
                        local_comm_id: CommId(cep.local_comm_id),
                        remote_comm_id: CommId(cep.remote_comm_id),
                        private_data: Default::default(),
                    }),
                );
                cep.sent = Some(codec::trim(&mad));
                out.send(cep.peer, mad);
            }
            (Action::DestroyInTimewait, _) => {}
            (Action::DestroyWithSidrRepReject, _) => {
                let p = SidrRepParams {
                    status: SidrStatus::Rejected.code(),
                    qpn: 0,
                    qkey: 0,
                    info: alloc::vec::Vec::new(),
                    private_data: alloc::vec::Vec::new(),
                };
                self.send_sidr_rep(cid, SidrStatus::Rejected, &p, out)?;
            }
            _ => return Err(CmError::InvalidParameter),
        }
        Ok(eff)
    }

    fn send_rej_timeout(
        &mut self,
        cid: Cid,
        local: u32,
        remote: u32,
        rejected: RejMessage,
        out: &mut Output,
    ) -> Result<(), CmError> {
        // REJ 4 carries our CA GUID as an 8-byte ARI (§6).
        let guid = self.cfg.ca_guid.to_be_bytes();
        let msg = rej_message(local, remote, rejected, RejReason::Timeout, &guid, &[])?;
        let tid = self.cep(cid)?.tid;
        self.send_to_peer(cid, codec::emit(tid, msg), out);
        Ok(())
    }

    fn send_mra(
        &mut self,
        cid: Cid,
        service_timeout: u8,
        pdata: &[u8],
        out: &mut Output,
    ) -> Result<(), CmError> {
        if service_timeout > 31 {
            return Err(CmError::InvalidParameter);
        }
        let private_data = pd(pdata)?;
        let cep = self.cep_mut(cid)?;
        let message_mraed = match cep.state {
            State::ReqRcvd | State::PreRep | State::MraReqSent | State::PreRepMraSent => {
                MraMessage::Req
            }
            State::RepRcvd | State::MraRepSent => MraMessage::Rep,
            _ => MraMessage::Lap,
        };
        let tid = if message_mraed == MraMessage::Lap {
            cep.peer_tid
        } else {
            cep.tid
        };
        let mad = codec::emit(
            tid,
            CmMessage::Mra(MraRepr {
                local_comm_id: CommId(cep.local_comm_id),
                remote_comm_id: CommId(cep.remote_comm_id),
                message_mraed,
                service_timeout,
                private_data,
            }),
        );
        cep.mra = Some(codec::trim(&mad));
        cep.clear(flag::DEFERRED_MRA);
        out.send(cep.peer, mad);
        Ok(())
    }

    fn format_req(&mut self, cid: Cid, p: &ReqParams) -> Result<(), CmError> {
        let private_data = pd(p.private_data.as_slice())?;
        let mtu_ok = p.path_mtu.bytes().is_some() && p.path_mtu.code() <= self.cfg.port_mtu.code();
        if p.primary_path.is_absent()
            || !mtu_ok
            || p.max_cm_retries > 15
            || p.remote_cm_response_timeout > 31
            || p.local_cm_response_timeout > 31
            || p.local_qpn == 0
            || p.local_qpn > 0x00FF_FFFF
        {
            return Err(CmError::InvalidParameter);
        }
        if let Some(alt) = &p.alternate_path {
            // Same CA: the alternate leaves from a local GID of ours, and a
            // present alternate must be complete.
            if alt.is_absent()
                || alt.local_gid != p.primary_path.local_gid && alt.local_gid.0 == [0; 16]
            {
                return Err(CmError::InvalidParameter);
            }
        }
        let comm = self.ceps.bump_modifier(cid).ok_or(CmError::NotFound)?;
        let tid = self.new_tid();
        let ca_guid = self.cfg.ca_guid;
        let alt = p.alternate_path.unwrap_or_default();
        let two_plt = timeouts::two_plt_from_ack_timeouts(
            p.primary_path.local_ack_timeout,
            p.alternate_path.map(|a| a.local_ack_timeout),
        );
        let req = ReqRepr {
            local_comm_id: CommId(comm),
            ece_vendor_id: 0,
            service_id: ServiceId(p.service_id),
            local_ca_guid: ca_guid,
            local_qkey: 0,
            local_qpn: Qpn::new(p.local_qpn),
            responder_resources: p.responder_resources,
            local_eecn: 0,
            initiator_depth: p.initiator_depth,
            remote_eecn: 0,
            remote_cm_response_timeout: p.remote_cm_response_timeout,
            transport_type: TransportType::Rc,
            end_to_end_flow_control: p.flow_control,
            starting_psn: Psn::new(p.starting_psn),
            local_cm_response_timeout: p.local_cm_response_timeout,
            retry_count: p.retry_count & 7,
            partition_key: p.partition_key,
            path_mtu: p.path_mtu,
            rdc_exists: false,
            rnr_retry_count: p.rnr_retry_count & 7,
            max_cm_retries: p.max_cm_retries,
            srq: p.srq,
            extended_transport_type: ExtendedTransportType::None,
            primary_path: p.primary_path,
            alternate_path: alt,
            sap_supported: false,
            private_data,
        };
        let mad = codec::emit(tid, CmMessage::Req(req));
        let cep = self.cep_mut(cid)?;
        cep.local_comm_id = comm;
        cep.remote_comm_id = 0;
        cep.remote_qpn = 0;
        cep.remote_ca_guid = 0;
        cep.set(flag::ACTIVE);
        cep.tid = tid;
        cep.service_id = p.service_id;
        cep.local_qpn = p.local_qpn;
        cep.local_psn = p.starting_psn & 0x00FF_FFFF;
        cep.peer = MadAddress {
            gid: p.primary_path.remote_gid,
            port: p.port,
        };
        cep.two_plt = two_plt;
        cep.remote_cm_response_timeout = p.remote_cm_response_timeout;
        cep.local_cm_response_timeout = p.local_cm_response_timeout;
        cep.max_cm_retries = p.max_cm_retries;
        cep.retry_interval = timeouts::req_interval(two_plt, p.remote_cm_response_timeout);
        cep.timewait = timeouts::timewait(two_plt, 0);
        cep.local_ack_timeout = p.primary_path.local_ack_timeout;
        cep.responder_resources = p.responder_resources;
        cep.initiator_depth = p.initiator_depth;
        cep.sent = Some(codec::trim(&mad));
        cep.ext = Some(alloc::boxed::Box::new(Ext::Paths {
            primary: p.primary_path,
            alternate: alt,
            path_mtu: p.path_mtu.code(),
            retry_count: p.retry_count & 7,
            rnr_retry_count: p.rnr_retry_count & 7,
        }));
        Ok(())
    }

    fn accept_rep(
        &mut self,
        cid: Cid,
        r: &Received<'_>,
        now: Instant,
        out: &mut Output,
    ) -> Result<Effect, CmError> {
        let CmMessage::Rep(rep) = r.mad.message else {
            return Err(CmError::InvalidState);
        };
        let mut eff = Effect::default();
        let id_key = (rep.local_comm_id.0, rep.local_ca_guid);
        if self.remote_ids.contains_key(&id_key) {
            // Another connection already holds this remote ID: duplicate.
            return Err(CmError::InvalidState);
        }
        let qpn_key = (rep.local_qpn.get(), rep.local_ca_guid);
        if let Some(&old) = self.remote_qpns.get(&qpn_key) {
            // §8 stale REP: REJ 10 to the peer, fail this connection as if it
            // had received REJ 10, and end the old one the same way.
            let (local, tid) = {
                let c = self.cep(cid)?;
                (c.local_comm_id, c.tid)
            };
            let msg = rej_message(
                local,
                rep.local_comm_id.0,
                RejMessage::Rep,
                RejReason::StaleConnection,
                &[],
                &[],
            )?;
            out.send(r.from, codec::emit(tid, msg));
            self.cancel_send(cid, out);
            self.deliver_stale_rej(cid, out);
            self.stale_old(old, now, out);
            eff.next_override = Some(State::Timewait);
            return Ok(eff);
        }
        self.cancel_send(cid, out);
        let ack_delay = rep.target_ack_delay;
        let cep = self.cep_mut(cid)?;
        cep.remote_comm_id = rep.local_comm_id.0;
        cep.remote_ca_guid = rep.local_ca_guid;
        cep.remote_qpn = rep.local_qpn.get();
        cep.remote_psn = rep.starting_psn.get();
        // Swapped resources: our initiator depth is their responder resources.
        cep.initiator_depth = rep.responder_resources;
        cep.responder_resources = rep.initiator_depth;
        cep.target_ack_delay = ack_delay;
        cep.local_ack_timeout = timeouts::local_ack_timeout(cep.two_plt, ack_delay);
        cep.timewait = timeouts::timewait(cep.two_plt, ack_delay);
        cep.pdata = Some(codec::trim(rep.private_data.as_bytes()));
        cep.pdata_kind = PdataKind::Rep;
        cep.set(flag::DEFERRED_MRA);
        self.insert_remote_id(cid);
        self.insert_remote_qpn(cid);
        self.queue_event(
            cid,
            EventKind::RepReceived,
            None,
            Some(codec::trim(r.raw)),
            out,
        );
        Ok(eff)
    }

    /// Delivers a synthetic REJ 10 to a connection (§8).
    pub(crate) fn deliver_stale_rej(&mut self, cid: Cid, out: &mut Output) {
        let Ok(cep) = self.cep(cid) else { return };
        let msg = rej_message(
            cep.remote_comm_id,
            cep.local_comm_id,
            RejMessage::Other,
            RejReason::StaleConnection,
            &[],
            &[],
        );
        let tid = cep.tid;
        if let Ok(msg) = msg {
            let mad = codec::emit(tid, msg);
            self.queue_event(
                cid,
                EventKind::RejReceived,
                None,
                Some(codec::trim(&mad)),
                out,
            );
        }
    }

    /// §8: the old connection of a stale pair is treated as if it had
    /// received REJ 10: send cancelled, TIMEWAIT, REJ event.
    pub(crate) fn stale_old(&mut self, old: Cid, now: Instant, out: &mut Output) {
        let Ok(state) = self.cep(old).map(|c| c.state) else {
            return;
        };
        self.cancel_send(old, out);
        if state == State::Destroyed {
            self.remove_remote_qpn(old);
            return;
        }
        self.deliver_stale_rej(old, out);
        self.enter(old, State::Timewait, now, out);
    }

    fn create_from_req(
        &mut self,
        listener: Cid,
        r: &Received<'_>,
        out: &mut Output,
    ) -> Result<(), CmError> {
        let CmMessage::Req(req) = r.mad.message else {
            return Err(CmError::InvalidState);
        };
        let owner = self.cep(listener)?.owner;
        let child = self.create(owner)?;
        let ca_ack_delay = self.cfg.ca_ack_delay;
        let _ = ca_ack_delay;
        let two_plt = timeouts::two_plt_from_ack_timeouts(
            req.primary_path.local_ack_timeout,
            (!req.alternate_path.is_absent()).then_some(req.alternate_path.local_ack_timeout),
        );
        let cep = self.cep_mut(child)?;
        cep.state = State::ReqRcvd;
        cep.remote_comm_id = req.local_comm_id.0;
        cep.remote_ca_guid = req.local_ca_guid;
        cep.remote_qpn = req.local_qpn.get();
        cep.remote_psn = req.starting_psn.get();
        cep.tid = r.mad.header.transaction_id;
        cep.service_id = req.service_id.0;
        cep.peer = r.from;
        cep.two_plt = two_plt;
        cep.local_cm_response_timeout = req.local_cm_response_timeout;
        cep.remote_cm_response_timeout = req.remote_cm_response_timeout;
        cep.max_cm_retries = req.max_cm_retries;
        cep.retry_interval = timeouts::rep_interval(req.local_cm_response_timeout);
        // Passive side: TargetACKDelay 0 (§5.5).
        cep.timewait = timeouts::timewait(two_plt, 0);
        cep.local_ack_timeout = req.primary_path.local_ack_timeout;
        // Swapped resources.
        cep.responder_resources = req.initiator_depth;
        cep.initiator_depth = req.responder_resources;
        cep.pdata = Some(codec::trim(req.private_data.as_bytes()));
        cep.pdata_kind = PdataKind::Req;
        cep.parent = Some(listener);
        cep.set(flag::DEFERRED_MRA);
        cep.ext = Some(alloc::boxed::Box::new(Ext::Paths {
            primary: req.primary_path,
            alternate: req.alternate_path,
            path_mtu: req.path_mtu.code(),
            retry_count: req.retry_count,
            rnr_retry_count: req.rnr_retry_count,
        }));
        self.insert_remote_id(child);
        self.insert_remote_qpn(child);
        if let Ok(l) = self.cep_mut(listener)
            && let Some(info) = l.listen_info_mut()
        {
            info.untaken.push(child);
        }
        self.queue_event(
            listener,
            EventKind::ReqReceived,
            Some(child),
            Some(codec::trim(r.raw)),
            out,
        );
        Ok(())
    }

    fn create_from_sidr_req(
        &mut self,
        listener: Cid,
        r: &Received<'_>,
        out: &mut Output,
    ) -> Result<(), CmError> {
        let CmMessage::SidrReq(s) = r.mad.message else {
            return Err(CmError::InvalidState);
        };
        let owner = self.cep(listener)?.owner;
        let child = self.create(owner)?;
        let cep = self.cep_mut(child)?;
        cep.state = State::SidrReqRcvd;
        cep.remote_comm_id = s.request_id;
        cep.peer = r.from;
        cep.peer_tid = r.mad.header.transaction_id;
        cep.service_id = s.service_id.0;
        cep.parent = Some(listener);
        cep.set(flag::IN_SIDR_SEEN);
        self.sidr_seen.insert((s.request_id, r.from.gid), child);
        self.stats.table_entries += 1;
        if let Ok(l) = self.cep_mut(listener)
            && let Some(info) = l.listen_info_mut()
        {
            info.untaken.push(child);
        }
        self.queue_event(
            listener,
            EventKind::SidrReqReceived,
            Some(child),
            Some(codec::trim(r.raw)),
            out,
        );
        Ok(())
    }

    fn send_sidr_rep(
        &mut self,
        cid: Cid,
        status: SidrStatus,
        p: &SidrRepParams,
        out: &mut Output,
    ) -> Result<(), CmError> {
        let cep = self.cep(cid)?;
        let msg = CmMessage::SidrRep(SidrRepRepr {
            request_id: cep.remote_comm_id,
            status,
            additional_info_length: u8::try_from(p.info.len())
                .map_err(|_| CmError::PrivateDataTooLong)?,
            ece_vendor_id: 0,
            qpn: Qpn::new(p.qpn),
            service_id: ServiceId(cep.service_id),
            qkey: p.qkey,
            additional_info: info(&p.info)?,
            private_data: pd(&p.private_data)?,
        });
        out.send(cep.peer, codec::emit(cep.peer_tid, msg));
        Ok(())
    }

    fn format_rep(&mut self, cid: Cid, p: &RepParams) -> Result<(), CmError> {
        let private_data = pd(p.private_data.as_slice())?;
        if p.local_qpn == 0 || p.local_qpn > 0x00FF_FFFF {
            return Err(CmError::InvalidParameter);
        }
        let responder_resources = p.responder_resources.min(self.cfg.max_responder_resources);
        let target_ack_delay = self.cfg.ca_ack_delay;
        let ca_guid = self.cfg.ca_guid;
        let cep = self.cep_mut(cid)?;
        let rep = RepRepr {
            local_comm_id: CommId(cep.local_comm_id),
            remote_comm_id: CommId(cep.remote_comm_id),
            local_qkey: 0,
            local_qpn: Qpn::new(p.local_qpn),
            ece_vendor_id: 0,
            local_eecn: 0,
            starting_psn: Psn::new(p.starting_psn),
            responder_resources,
            initiator_depth: p.initiator_depth,
            target_ack_delay,
            failover_accepted: if p.failover_accepted {
                FailoverAccepted::Accepted
            } else {
                FailoverAccepted::NotSupported
            },
            end_to_end_flow_control: p.flow_control,
            rnr_retry_count: p.rnr_retry_count & 7,
            srq: p.srq,
            local_ca_guid: ca_guid,
            private_data,
        };
        let mad = codec::emit(cep.tid, CmMessage::Rep(rep));
        cep.local_qpn = p.local_qpn;
        cep.local_psn = p.starting_psn & 0x00FF_FFFF;
        cep.sent = Some(codec::trim(&mad));
        Ok(())
    }

    fn send_lap(
        &mut self,
        cid: Cid,
        p: &LapParams,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        if !self.cfg.alternate_paths {
            return Err(CmError::NotSupported);
        }
        let private_data = pd(p.private_data.as_slice())?;
        let cep = self.cep(cid)?;
        if !cep.has(flag::ACTIVE)
            || p.alternate_path.is_absent()
            || p.remote_cm_response_timeout > 31
        {
            return Err(CmError::InvalidParameter);
        }
        let tid = self.new_tid();
        let cep = self.cep_mut(cid)?;
        cep.tid = tid;
        let msg = CmMessage::Lap(LapRepr {
            local_comm_id: CommId(cep.local_comm_id),
            remote_comm_id: CommId(cep.remote_comm_id),
            remote_qpn: Qpn::new(cep.remote_qpn),
            remote_cm_response_timeout: p.remote_cm_response_timeout,
            alternate_path: p.alternate_path,
            private_data,
        });
        let mad = codec::emit(tid, msg);
        let interval = timeouts::at_least_min(
            timeouts::t(cep.two_plt) + timeouts::t(p.remote_cm_response_timeout),
        );
        let retries = cep.max_cm_retries;
        self.start_retried(cid, mad, interval, retries, now, out);
        Ok(())
    }

    fn load_alternate(&mut self, cid: Cid, path: PathRecord) -> Result<(), CmError> {
        let cep = self.cep_mut(cid)?;
        if let Some(Ext::Paths { alternate, .. }) = cep.ext.as_deref_mut() {
            *alternate = path;
        }
        Ok(())
    }

    /// Sends a reply that no connection owns (REJ 8/9/3/10/26 with local ID 0,
    /// unaffiliated DREP, SIDR_REP 1, APR 2).
    pub(crate) fn send_unaffiliated(out: &mut Output, to: MadAddress, tid: u64, msg: CmMessage) {
        let mad: [u8; MAD_SIZE] = codec::emit(tid, msg);
        out.send(to, mad);
    }
}
