//! Received MADs and timer expiries (spec/CM.md §2 lookup, §4.6, §5, §8).
//!
//! Owns how a message finds its connection (full comm ID only, S8), the
//! duplicate and stale checks of the REQ, the answers to messages that
//! match nothing, and retransmission on timer expiry. Every MAD is
//! untrusted: anything malformed or out of state is dropped (counted) and
//! changes nothing. Runs under the manager lock.

use super::actions::{Args, Received, rej_message};
use super::cep::flag;
use super::core::Core;
use crate::cid::Cid;
use crate::codec;
use crate::output::Output;
use crate::params::MadAddress;
use crate::platform::Instant;
use crate::state::State;
use crate::table::Input;
use ndcm_wire::{
    AprRepr, AprStatus, CmMad, CmMessage, CommId, DrepRepr, MraMessage, RejMessage, RejReason,
    ServiceId, SidrRepRepr, SidrStatus, TransportType,
};

impl Core {
    /// Handles one received MAD from `from`.
    pub(crate) fn receive(&mut self, raw: &[u8], from: MadAddress, now: Instant, out: &mut Output) {
        let Ok(mad) = CmMad::parse(raw) else {
            self.dropped += 1;
            return;
        };
        let r = Received { raw, mad, from };
        let handled = match r.mad.message {
            CmMessage::Req(_) => {
                self.receive_req(&r, now, out);
                true
            }
            CmMessage::Rep(rep) => self.by_remote(
                &r,
                rep.remote_comm_id.0,
                rep.local_comm_id.0,
                now,
                out,
                |c| {
                    if c.remote_comm_id != 0 {
                        Input::RecvRepDuplicate
                    } else {
                        Input::RecvRep
                    }
                },
            ),
            CmMessage::Mra(m) => {
                let input = match m.message_mraed {
                    MraMessage::Req => Input::RecvMraForReq,
                    MraMessage::Rep => Input::RecvMraForRep,
                    MraMessage::Lap => Input::RecvMraForLap,
                    MraMessage::Unknown(_) => return self.drop_mad(),
                };
                self.by_remote(&r, m.remote_comm_id.0, m.local_comm_id.0, now, out, |_| {
                    input
                })
            }
            CmMessage::Rtu(m) => {
                self.by_remote(&r, m.remote_comm_id.0, m.local_comm_id.0, now, out, |_| {
                    Input::RecvRtu
                })
            }
            CmMessage::Rej(m) => self.receive_rej(&r, &m, now, out),
            CmMessage::Dreq(m) => {
                let found = self.ceps.find_comm_id(m.remote_comm_id.0).filter(|&c| {
                    self.cep(c).is_ok_and(|cep| {
                        cep.remote_comm_id == m.local_comm_id.0
                            && cep.local_qpn == m.remote_qpn.get()
                    })
                });
                match found {
                    Some(cid) => self
                        .apply(cid, Input::RecvDreq, &Args::Recv(&r), now, out)
                        .is_ok(),
                    None => {
                        // §4.6: unaffiliated DREP, IDs swapped, TID echoed.
                        let drep = CmMessage::Drep(DrepRepr {
                            local_comm_id: m.remote_comm_id,
                            remote_comm_id: m.local_comm_id,
                            private_data: Default::default(),
                        });
                        Core::send_unaffiliated(out, from, r.mad.header.transaction_id, drep);
                        true
                    }
                }
            }
            CmMessage::Drep(m) => {
                self.by_remote(&r, m.remote_comm_id.0, m.local_comm_id.0, now, out, |_| {
                    Input::RecvDrep
                })
            }
            CmMessage::Lap(m) => {
                if !self.cfg.alternate_paths {
                    // §4.4 on RoCEv2: APR status 2 to a matching connection.
                    let matched = self
                        .ceps
                        .find_comm_id(m.remote_comm_id.0)
                        .and_then(|c| self.cep(c).ok())
                        .filter(|c| {
                            c.remote_comm_id == m.local_comm_id.0 && c.state.is_established()
                        })
                        .map(|c| c.local_comm_id);
                    if let Some(local) = matched {
                        let apr = CmMessage::Apr(AprRepr {
                            local_comm_id: CommId(local),
                            remote_comm_id: m.local_comm_id,
                            additional_info_length: 0,
                            ap_status: AprStatus::UnsupportedRequest,
                            additional_info: [0; 72],
                            private_data: Default::default(),
                        });
                        Core::send_unaffiliated(out, from, r.mad.header.transaction_id, apr);
                        true
                    } else {
                        false
                    }
                } else {
                    self.by_remote(&r, m.remote_comm_id.0, m.local_comm_id.0, now, out, |_| {
                        Input::RecvLap
                    })
                }
            }
            CmMessage::Apr(m) => {
                self.cfg.alternate_paths
                    && self.by_remote(&r, m.remote_comm_id.0, m.local_comm_id.0, now, out, |_| {
                        Input::RecvApr
                    })
            }
            CmMessage::SidrReq(s) => {
                self.receive_sidr_req(&r, s.request_id, s.service_id, now, out);
                true
            }
            CmMessage::SidrRep(s) => match self.ceps.find_comm_id(s.request_id) {
                Some(cid) => self
                    .apply(cid, Input::RecvSidrRep, &Args::Recv(&r), now, out)
                    .is_ok(),
                None => false,
            },
            CmMessage::ClassPortInfo(_) => false,
        };
        if !handled {
            self.dropped += 1;
        }
    }

    fn drop_mad(&mut self) {
        self.dropped += 1;
    }

    /// Looks up by the message's Remote Comm ID; if the connection already
    /// knows a remote ID, it must equal the message's Local Comm ID (§2).
    fn by_remote(
        &mut self,
        r: &Received<'_>,
        remote_comm_id: u32,
        local_comm_id: u32,
        now: Instant,
        out: &mut Output,
        input: impl FnOnce(&super::cep::Cep) -> Input,
    ) -> bool {
        let Some(cid) = self.ceps.find_comm_id(remote_comm_id) else {
            return false;
        };
        let Ok(cep) = self.cep(cid) else { return false };
        let input = input(cep);
        let needs_match = !matches!(input, Input::RecvRep | Input::RecvMraForReq);
        if needs_match && cep.remote_comm_id != local_comm_id {
            return false;
        }
        if input == Input::RecvMraForReq
            && cep.remote_comm_id != 0
            && cep.remote_comm_id != local_comm_id
        {
            return false;
        }
        self.apply(cid, input, &Args::Recv(r), now, out).is_ok()
    }

    fn receive_rej(
        &mut self,
        r: &Received<'_>,
        m: &ndcm_wire::RejRepr,
        now: Instant,
        out: &mut Output,
    ) -> bool {
        let cid = if m.remote_comm_id.0 != 0 {
            let Some(cid) = self.ceps.find_comm_id(m.remote_comm_id.0) else {
                return false;
            };
            let Ok(cep) = self.cep(cid) else { return false };
            if cep.remote_comm_id != 0 && cep.remote_comm_id != m.local_comm_id.0 {
                return false;
            }
            cid
        } else if m.reason == RejReason::Timeout
            && m.reject_info_length == 8
            && m.local_comm_id.0 != 0
        {
            let mut guid = [0u8; 8];
            if let Some(a) = m.ari.get(..8) {
                guid.copy_from_slice(a);
            }
            match self
                .remote_ids
                .get(&(m.local_comm_id.0, u64::from_be_bytes(guid)))
            {
                Some(&cid) => cid,
                None => return false,
            }
        } else {
            return false;
        };
        self.apply(cid, Input::RecvRej, &Args::Recv(r), now, out)
            .is_ok()
    }

    fn reject_req(&mut self, r: &Received<'_>, local: u32, reason: RejReason, out: &mut Output) {
        let CmMessage::Req(req) = r.mad.message else {
            return;
        };
        if let Ok(msg) = rej_message(
            local,
            req.local_comm_id.0,
            RejMessage::Req,
            reason,
            &[],
            &[],
        ) {
            Core::send_unaffiliated(out, r.from, r.mad.header.transaction_id, msg);
        }
    }

    fn receive_req(&mut self, r: &Received<'_>, now: Instant, out: &mut Output) {
        let CmMessage::Req(req) = r.mad.message else {
            return;
        };
        if req.transport_type != TransportType::Rc || req.local_qpn.get() == 0 {
            return self.reject_req(r, 0, RejReason::InvalidTransportServiceType, out);
        }
        // §8 duplicate REQ.
        if let Some(&cid) = self
            .remote_ids
            .get(&(req.local_comm_id.0, req.local_ca_guid))
        {
            let Ok(cep) = self.cep(cid) else { return };
            match cep.state {
                State::Timewait | State::Destroyed => {
                    let local = cep.local_comm_id;
                    self.reject_req(r, local, RejReason::StaleConnection, out);
                }
                State::ReqRcvd | State::MraReqSent | State::PreRep | State::PreRepMraSent => {
                    let _ = self.apply(cid, Input::RecvReqDuplicate, &Args::Recv(r), now, out);
                }
                _ => self.dropped += 1,
            }
            return;
        }
        // §8 stale connection: the peer reused a QPN we consider connected.
        if let Some(&old) = self
            .remote_qpns
            .get(&(req.local_qpn.get(), req.local_ca_guid))
        {
            self.reject_req(r, 0, RejReason::StaleConnection, out);
            self.stale_old(old, now, out);
            return;
        }
        let mtu = req.path_mtu.code();
        if req.path_mtu.bytes().is_none() || mtu > self.cfg.port_mtu.code() {
            return self.reject_req(r, 0, RejReason::InvalidMtu, out);
        }
        let Some(listener) = self.match_listener(
            req.service_id.0,
            r.from.port,
            req.private_data.as_bytes(),
            false,
        ) else {
            return self.reject_req(r, 0, RejReason::InvalidServiceId, out);
        };
        let full = self
            .cep(listener)
            .ok()
            .and_then(|l| l.listen_info())
            .is_none_or(|i| i.untaken.len() >= i.backlog as usize);
        if full || self.ceps.len() >= self.cfg.max_ceps {
            return self.reject_req(r, 0, RejReason::NoResources, out);
        }
        if self
            .apply(listener, Input::RecvReq, &Args::Recv(r), now, out)
            .is_err()
        {
            self.reject_req(r, 0, RejReason::NoResources, out);
        }
    }

    fn receive_sidr_req(
        &mut self,
        r: &Received<'_>,
        request_id: u32,
        service_id: ServiceId,
        now: Instant,
        out: &mut Output,
    ) {
        if self.sidr_seen.contains_key(&(request_id, r.from.gid)) {
            self.dropped += 1;
            return;
        }
        let listener = self.match_listener(service_id.0, r.from.port, &[], true);
        let ok = match listener {
            Some(l) => self
                .apply(l, Input::RecvSidrReq, &Args::Recv(r), now, out)
                .is_ok(),
            None => false,
        };
        if !ok {
            let rep = CmMessage::SidrRep(SidrRepRepr {
                request_id,
                status: SidrStatus::ServiceIdNotSupported,
                additional_info_length: 0,
                ece_vendor_id: 0,
                qpn: Default::default(),
                service_id,
                qkey: 0,
                additional_info: [0; 72],
                private_data: Default::default(),
            });
            Core::send_unaffiliated(out, r.from, r.mad.header.transaction_id, rep);
        }
    }

    /// A CID's timer fired. Early, late, duplicate or cancelled firings are
    /// harmless: only an armed timer whose deadline has passed acts.
    pub(crate) fn on_timer(&mut self, cid: Cid, now: Instant, out: &mut Output) {
        let Ok(cep) = self.cep_mut(cid) else { return };
        if !cep.has(flag::RETRY_TIMER | flag::TIMEWAIT_TIMER) {
            return;
        }
        if now < cep.deadline {
            let d = cep.deadline;
            self.arm_timer(cid, d, out);
            return;
        }
        if cep.has(flag::TIMEWAIT_TIMER) {
            let _ = self.apply(cid, Input::TimewaitExpired, &Args::None, now, out);
            self.maybe_free(cid, out);
            return;
        }
        if cep.retries_left > 0 {
            // §5.2: byte-identical retransmission.
            cep.retries_left -= 1;
            cep.deadline = now + cep.retry_interval;
            let deadline = cep.deadline;
            if let Some(m) = cep.sent.as_deref() {
                out.send(cep.peer, codec::untrim(m));
            }
            self.arm_timer(cid, deadline, out);
            return;
        }
        let _ = self.apply(cid, Input::RetriesExhausted, &Args::None, now, out);
    }
}
