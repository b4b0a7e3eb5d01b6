//! One test per row of the transition table (spec/CM.md §4, §9), both sides:
//! bring a connection to the row's state through the two-node harness, feed
//! the row's input (an API call, a crafted MAD from the peer, or a timer),
//! and check the row's action (MAD sent, event delivered) and next state.
//! Prints the coverage: rows tested / rows in the table.

mod common;

use ndcm_cm::sim::{Pair, SERVICE, Side};
use ndcm_cm::table::{Action, Input, Next, ROWS, Row};
use ndcm_cm::{
    Cid, EventKind, LapParams, ListenParams, ManagerConfig, RepParams, SidrRepParams,
    SidrReqParams, State,
};
use ndcm_wire::mad::MAD_SIZE;
use ndcm_wire::{
    AprRepr, AprStatus, CmMad, CmMessage, CommId, DrepRepr, DreqRepr, FailoverAccepted, Gid,
    LapRepr, MraMessage, MraRepr, Psn, Qpn, RejMessage, RejReason, RejRepr, RepRepr, RtuRepr,
    SidrRepRepr, SidrStatus,
};

type ApiCall<'a> = dyn Fn(
        &ndcm_cm::CepManager<ndcm_cm::platform::TestPlatform>,
        ndcm_cm::Owner,
        ndcm_cm::platform::Instant,
        &mut ndcm_cm::Output,
    ) -> Result<(), ndcm_cm::CmError>
    + 'a;

struct Setup {
    p: Pair,
    side: Side,
    cid: Cid,
    /// The REQ as B received it (for duplicate REQs).
    req: Option<[u8; MAD_SIZE]>,
}

fn pair() -> Pair {
    let cfg = |guid| ManagerConfig {
        ca_guid: guid,
        alternate_paths: true,
        ..ManagerConfig::default()
    };
    let mut p = Pair::with_configs(cfg(0xA), cfg(0xB));
    p.log = true;
    p
}

fn state_of(p: &Pair, side: Side, cid: Cid) -> Option<State> {
    match side {
        Side::A => p.a.mgr.raw_state(cid),
        Side::B => p.b.mgr.raw_state(cid),
    }
}

fn drain(p: &mut Pair) {
    p.a.events.clear();
    p.b.events.clear();
}

/// Delivers the MADs in flight to B only (A's answers stay queued).
fn deliver_to(p: &mut Pair, to: Side) {
    while let Some(i) = p.queue.iter().position(|m| m.to == to) {
        let m = p.queue.remove(i).unwrap();
        p.queue.push_front(m);
        p.deliver_one();
    }
}

fn mra(p: &mut Pair, side: Side, cid: Cid) {
    p.call(side, |m, o, now, out| m.mra(o, cid, 20, &[], now, out))
        .unwrap();
}

fn lap_params(p: &Pair) -> LapParams {
    let mut alt = p.path(Side::A);
    alt.local_gid = Gid::from_ipv4_octets([10, 0, 1, 1]);
    alt.remote_gid = Gid::from_ipv4_octets([10, 0, 1, 2]);
    LapParams {
        alternate_path: alt,
        remote_cm_response_timeout: 18,
        private_data: vec![],
    }
}

/// Brings a connection to `state`; `active` chooses the side where both
/// exist (ESTABLISHED, TIMEWAIT).
fn reach(state: State, active: bool) -> Setup {
    let mut p = pair();
    let listener = p.listen(Side::B, SERVICE);
    let mut s = Setup {
        side: Side::A,
        cid: listener,
        req: None,
        p: pair(),
    };
    let a_req = |p: &mut Pair| -> (Cid, Cid, [u8; MAD_SIZE]) {
        let a = p.connect(0x100);
        let req = p.queue.back().unwrap().mad;
        deliver_to(p, Side::B);
        let b = p.last_new_cid(Side::B).unwrap();
        (a, b, req)
    };
    match state {
        State::Idle => {
            s.cid = p.call(Side::A, |m, o, _, _| m.create(o)).unwrap();
        }
        State::Listen => {
            s.side = Side::B;
            s.cid = listener;
        }
        State::PreReq => {
            let a = p.call(Side::A, |m, o, _, _| m.create(o)).unwrap();
            let params = p.req_params(Side::A, SERVICE, 0x100);
            p.call(Side::A, |m, o, now, _| m.pre_req(o, a, &params, now))
                .unwrap();
            s.cid = a;
        }
        State::ReqSent => {
            s.cid = p.connect(0x100);
            p.queue.clear();
        }
        State::MraReqRcvd => {
            let (a, b, _) = a_req(&mut p);
            mra(&mut p, Side::B, b);
            deliver_to(&mut p, Side::A);
            s.cid = a;
        }
        State::ReqRcvd | State::MraReqSent | State::PreRep | State::PreRepMraSent => {
            let (_, b, req) = a_req(&mut p);
            if matches!(state, State::MraReqSent | State::PreRepMraSent) {
                mra(&mut p, Side::B, b);
            }
            if matches!(state, State::PreRep | State::PreRepMraSent) {
                p.call(Side::B, |m, o, now, _| {
                    m.pre_rep(o, b, &RepParams::new(0x200), now)
                })
                .unwrap();
            }
            p.queue.clear();
            s.side = Side::B;
            s.cid = b;
            s.req = Some(req);
        }
        State::RepSent | State::MraRepRcvd | State::RepRcvd | State::MraRepSent => {
            let (a, b, _) = a_req(&mut p);
            p.accept(Side::B, b, 0x200);
            if matches!(state, State::RepSent) {
                p.queue.clear();
                s.side = Side::B;
                s.cid = b;
            } else {
                deliver_to(&mut p, Side::A);
                if state == State::MraRepRcvd {
                    mra(&mut p, Side::A, a);
                    deliver_to(&mut p, Side::B);
                    s.side = Side::B;
                    s.cid = b;
                } else {
                    if state == State::MraRepSent {
                        mra(&mut p, Side::A, a);
                    }
                    s.cid = a;
                }
                p.queue.clear();
            }
        }
        State::Established
        | State::LapSent
        | State::MraLapRcvd
        | State::LapRcvd
        | State::MraLapSent
        | State::PreApr
        | State::DreqSent
        | State::DreqRcvd
        | State::Timewait
        | State::Destroyed => {
            let (a, b) = p.establish(Some(listener), 0x100, 0x200);
            s.cid = if active { a } else { b };
            s.side = if active { Side::A } else { Side::B };
            match state {
                State::LapSent
                | State::MraLapRcvd
                | State::LapRcvd
                | State::MraLapSent
                | State::PreApr => {
                    let lp = lap_params(&p);
                    p.call(Side::A, |m, o, now, out| m.lap(o, a, &lp, now, out))
                        .unwrap();
                    if state == State::LapSent {
                        p.queue.clear();
                        s.side = Side::A;
                        s.cid = a;
                    } else {
                        deliver_to(&mut p, Side::B);
                        s.side = Side::B;
                        s.cid = b;
                        if state == State::MraLapRcvd || state == State::MraLapSent {
                            mra(&mut p, Side::B, b);
                        }
                        if state == State::PreApr {
                            p.call(Side::B, |m, o, now, _| m.pre_apr(o, b, 0, &[], &[], now))
                                .unwrap();
                        }
                        if state == State::MraLapRcvd {
                            deliver_to(&mut p, Side::A);
                            s.side = Side::A;
                            s.cid = a;
                        }
                        p.queue.clear();
                    }
                }
                State::DreqSent => {
                    p.call(Side::A, |m, o, now, out| m.dreq(o, a, &[], now, out))
                        .unwrap();
                    p.queue.clear();
                    s.side = Side::A;
                    s.cid = a;
                }
                State::DreqRcvd => {
                    p.call(Side::A, |m, o, now, out| m.dreq(o, a, &[], now, out))
                        .unwrap();
                    deliver_to(&mut p, Side::B);
                    p.queue.clear();
                    s.side = Side::B;
                    s.cid = b;
                }
                State::Timewait => {
                    p.call(Side::A, |m, o, now, out| m.dreq(o, a, &[], now, out))
                        .unwrap();
                    p.drive();
                    p.call(Side::B, |m, o, now, out| m.drep(o, b, &[], now, out))
                        .unwrap();
                    p.drive();
                }
                State::Destroyed => {
                    let (o, now) = (p.a.owner, p.now);
                    p.call(Side::A, |m, _, _, out| m.destroy(o, a, false, now, out))
                        .unwrap();
                    p.queue.clear();
                    s.side = Side::A;
                    s.cid = a;
                }
                _ => {}
            }
        }
        State::SidrReqSent | State::SidrReqRcvd => {
            let a = p.call(Side::A, |m, o, _, _| m.create(o)).unwrap();
            p.call(Side::A, |m, o, _, out| m.config(o, a, 1, out))
                .unwrap();
            let params = SidrReqParams {
                service_id: SERVICE,
                partition_key: 0xFFFF,
                to: ndcm_cm::MadAddress {
                    gid: p.b.gid,
                    port: 1,
                },
                timeout_ms: 100,
                max_retries: 2,
                private_data: vec![],
            };
            p.call(Side::A, |m, o, now, out| {
                m.sidr_req(o, a, &params, now, out)
            })
            .unwrap();
            if state == State::SidrReqSent {
                p.queue.clear();
                s.cid = a;
            } else {
                deliver_to(&mut p, Side::B);
                p.queue.clear();
                s.side = Side::B;
                s.cid = p.last_new_cid(Side::B).unwrap();
            }
        }
    }
    drain(&mut p);
    p.queue.clear();
    s.p = p;
    s
}

fn info(p: &Pair, side: Side, cid: Cid) -> ndcm_cm::ConnectionInfo {
    let n = match side {
        Side::A => &p.a,
        Side::B => &p.b,
    };
    n.mgr.raw_connection_info(cid).unwrap()
}

fn emit(tid: u64, msg: CmMessage) -> [u8; MAD_SIZE] {
    CmMad::new(tid, msg).to_bytes()
}

fn peer_guid(side: Side) -> u64 {
    match side {
        Side::A => 0xB,
        Side::B => 0xA,
    }
}

/// Feeds the row's input; returns false if the call itself failed.
fn feed(s: &mut Setup, input: Input) -> Result<(), String> {
    let (side, cid) = (s.side, s.cid);
    let p = &mut s.p;
    let i = info(p, side, cid);
    let remote = if i.remote_comm_id != 0 {
        i.remote_comm_id
    } else {
        0x7777_0001
    };
    let api = |p: &mut Pair, f: &ApiCall<'_>| {
        p.call(side, |m, o, now, out| f(m, o, now, out))
            .map_err(|e| format!("{e:?}"))
    };
    let lp = lap_params(p);
    match input {
        Input::Listen => api(p, &|m, o, _, _| {
            m.listen(
                o,
                cid,
                &ListenParams {
                    service_id: 0x4242,
                    port: None,
                    compare: None,
                    backlog: 4,
                    sidr: false,
                },
            )
            .map(|_| ())
        }),
        Input::CancelListen => api(p, &|m, o, now, out| m.cancel_listen(o, cid, now, out)),
        Input::PreReq => {
            let params = p.req_params(side, SERVICE, 0x100);
            api(p, &|m, o, now, _| m.pre_req(o, cid, &params, now))
        }
        Input::SendReq => api(p, &|m, o, now, out| m.send_req(o, cid, now, out)),
        Input::PreRep => api(p, &|m, o, now, _| {
            m.pre_rep(o, cid, &RepParams::new(0x200), now)
        }),
        Input::SendRep => api(p, &|m, o, now, out| m.send_rep(o, cid, now, out)),
        Input::Rtu => api(p, &|m, o, now, out| m.rtu(o, cid, &[], now, out)),
        Input::Rej => api(p, &|m, o, now, out| m.rej(o, cid, 28, &[], &[], now, out)),
        Input::Mra => api(p, &|m, o, now, out| m.mra(o, cid, 20, &[], now, out)),
        Input::Dreq => api(p, &|m, o, now, out| m.dreq(o, cid, &[], now, out)),
        Input::Drep => api(p, &|m, o, now, out| m.drep(o, cid, &[], now, out)),
        Input::Lap => api(p, &|m, o, now, out| m.lap(o, cid, &lp, now, out)),
        Input::PreApr => api(p, &|m, o, now, _| m.pre_apr(o, cid, 0, &[], &[], now)),
        Input::SendApr => api(p, &|m, o, now, out| m.send_apr(o, cid, now, out)),
        Input::Established => api(p, &|m, o, now, out| m.established(o, cid, now, out)),
        Input::SidrReq => {
            let params = SidrReqParams {
                service_id: SERVICE,
                partition_key: 0xFFFF,
                to: ndcm_cm::MadAddress {
                    gid: p.b.gid,
                    port: 1,
                },
                timeout_ms: 100,
                max_retries: 1,
                private_data: vec![],
            };
            api(p, &|m, o, now, out| m.sidr_req(o, cid, &params, now, out))
        }
        Input::SidrRep => {
            let params = SidrRepParams {
                status: 0,
                qpn: 0x55,
                qkey: 0x1111,
                info: vec![],
                private_data: vec![],
            };
            api(p, &|m, o, now, out| m.sidr_rep(o, cid, &params, now, out))
        }
        Input::Destroy => api(p, &|m, o, now, out| m.destroy(o, cid, false, now, out)),
        Input::QuietDestroy => api(p, &|m, o, now, out| m.destroy(o, cid, true, now, out)),
        Input::RecvReq => {
            p.connect(0x300);
            deliver_to(p, Side::B);
            Ok(())
        }
        Input::RecvReqDuplicate => {
            let req = s.req.ok_or("no REQ kept")?;
            p.inject(side, req);
            Ok(())
        }
        Input::RecvMraForReq | Input::RecvMraForRep | Input::RecvMraForLap => {
            let msg = match input {
                Input::RecvMraForReq => MraMessage::Req,
                Input::RecvMraForRep => MraMessage::Rep,
                _ => MraMessage::Lap,
            };
            let mra = MraRepr {
                local_comm_id: CommId(remote),
                remote_comm_id: CommId(i.local_comm_id),
                message_mraed: msg,
                service_timeout: 20,
                private_data: Default::default(),
            };
            p.inject(side, emit(1, CmMessage::Mra(mra)));
            Ok(())
        }
        Input::RecvRep | Input::RecvRepDuplicate => {
            let rep = RepRepr {
                local_comm_id: CommId(remote),
                remote_comm_id: CommId(i.local_comm_id),
                local_qkey: 0,
                local_qpn: Qpn::new(if i.remote_qpn != 0 {
                    i.remote_qpn
                } else {
                    0x300
                }),
                ece_vendor_id: 0,
                local_eecn: 0,
                starting_psn: Psn::new(5),
                responder_resources: 1,
                initiator_depth: 1,
                target_ack_delay: 10,
                failover_accepted: FailoverAccepted::NotSupported,
                end_to_end_flow_control: true,
                rnr_retry_count: 7,
                srq: false,
                local_ca_guid: peer_guid(side),
                private_data: Default::default(),
            };
            p.inject(side, emit(1, CmMessage::Rep(rep)));
            Ok(())
        }
        Input::RecvRtu => {
            let m = RtuRepr {
                local_comm_id: CommId(remote),
                remote_comm_id: CommId(i.local_comm_id),
                private_data: Default::default(),
            };
            p.inject(side, emit(1, CmMessage::Rtu(m)));
            Ok(())
        }
        Input::RecvRej => {
            let m = RejRepr {
                local_comm_id: CommId(remote),
                remote_comm_id: CommId(i.local_comm_id),
                message_rejected: RejMessage::Req,
                reject_info_length: 0,
                reason: RejReason::ConsumerDefined,
                ari: [0; 72],
                private_data: Default::default(),
            };
            p.inject(side, emit(1, CmMessage::Rej(m)));
            Ok(())
        }
        Input::RecvDreq => {
            let m = DreqRepr {
                local_comm_id: CommId(remote),
                remote_comm_id: CommId(i.local_comm_id),
                remote_qpn: Qpn::new(i.local_qpn),
                private_data: Default::default(),
            };
            p.inject(side, emit(77, CmMessage::Dreq(m)));
            Ok(())
        }
        Input::RecvDrep => {
            let m = DrepRepr {
                local_comm_id: CommId(remote),
                remote_comm_id: CommId(i.local_comm_id),
                private_data: Default::default(),
            };
            p.inject(side, emit(1, CmMessage::Drep(m)));
            Ok(())
        }
        Input::RecvLap => {
            let m = LapRepr {
                local_comm_id: CommId(remote),
                remote_comm_id: CommId(i.local_comm_id),
                remote_qpn: Qpn::new(i.local_qpn),
                remote_cm_response_timeout: 18,
                alternate_path: lp.alternate_path,
                private_data: Default::default(),
            };
            p.inject(side, emit(5, CmMessage::Lap(m)));
            Ok(())
        }
        Input::RecvApr => {
            let m = AprRepr {
                local_comm_id: CommId(remote),
                remote_comm_id: CommId(i.local_comm_id),
                additional_info_length: 0,
                ap_status: AprStatus::Success,
                additional_info: [0; 72],
                private_data: Default::default(),
            };
            p.inject(side, emit(1, CmMessage::Apr(m)));
            Ok(())
        }
        Input::RecvSidrReq => {
            let a = p.call(Side::A, |m, o, _, _| m.create(o)).unwrap();
            let params = SidrReqParams {
                service_id: SERVICE,
                partition_key: 0xFFFF,
                to: ndcm_cm::MadAddress {
                    gid: p.b.gid,
                    port: 1,
                },
                timeout_ms: 100,
                max_retries: 1,
                private_data: vec![],
            };
            p.call(Side::A, |m, o, now, out| {
                m.sidr_req(o, a, &params, now, out)
            })
            .unwrap();
            deliver_to(p, Side::B);
            Ok(())
        }
        Input::RecvSidrRep => {
            let m = SidrRepRepr {
                request_id: i.local_comm_id,
                status: SidrStatus::Success,
                additional_info_length: 0,
                ece_vendor_id: 0,
                qpn: Qpn::new(9),
                service_id: ndcm_wire::ServiceId(SERVICE),
                qkey: 0,
                additional_info: [0; 72],
                private_data: Default::default(),
            };
            p.inject(side, emit(1, CmMessage::SidrRep(m)));
            Ok(())
        }
        Input::RetriesExhausted => {
            // Let every retransmission go unanswered; keep only the output
            // of the final expiry.
            for _ in 0..64 {
                let Some(&deadline) = p.node(side).timers.get(&cid) else {
                    break;
                };
                p.queue.clear();
                p.now = p.now.max(deadline);
                let before = state_of(p, side, cid);
                p.node(side).timers.remove(&cid);
                let mut out = ndcm_cm::Output::new();
                let now = p.now;
                p.node(side).mgr.on_timer(cid, now, &mut out);
                p.process(side, out);
                if state_of(p, side, cid) != before {
                    break;
                }
            }
            Ok(())
        }
        Input::TimewaitExpired => {
            let deadline = *p.node(side).timers.get(&cid).ok_or("no timewait timer")?;
            p.now = p.now.max(deadline);
            p.node(side).timers.remove(&cid);
            let mut out = ndcm_cm::Output::new();
            let now = p.now;
            p.node(side).mgr.on_timer(cid, now, &mut out);
            p.process(side, out);
            Ok(())
        }
    }
}

/// What the row's action must visibly do: the MAD it sends, the event it
/// delivers.
fn expected(action: Action) -> (Option<&'static str>, Option<EventKind>) {
    use Action as A;
    use EventKind as E;
    match action {
        A::SendReq => (Some("REQ"), None),
        A::StretchAndDeliverMra => (None, Some(E::MraReceived)),
        A::AcceptRep => (None, Some(E::RepReceived)),
        A::DeliverRej => (None, Some(E::RejReceived)),
        A::ReqTimedOut => (Some("REJ"), Some(E::ReqError)),
        A::RepTimedOut => (Some("REJ"), Some(E::RepError)),
        A::SendMra | A::SendDeferredMra | A::ResendMra => (Some("MRA"), None),
        A::SendRtu | A::ResendRtu => (Some("RTU"), None),
        A::SendRej => (Some("REJ"), None),
        A::CreateFromReq => (None, Some(E::ReqReceived)),
        A::SendRep => (Some("REP"), None),
        A::AcceptRtu | A::SyntheticRtu => (None, Some(E::RtuReceived)),
        A::SendDreq | A::DestroyWithDreq => (Some("DREQ"), None),
        A::DeliverDreq => (None, Some(E::DreqReceived)),
        A::DeliverDrep => (None, Some(E::DrepReceived)),
        A::DreqTimedOut => (None, Some(E::DreqError)),
        A::SendDrep | A::ResendDrep | A::DestroyWithDrep => (Some("DREP"), None),
        A::ExitTimewait => (None, Some(E::TimewaitExit)),
        A::SendLap => (Some("LAP"), None),
        A::DeliverApr => (None, Some(E::AprReceived)),
        A::LapTimedOut => (None, Some(E::LapError)),
        A::DeliverLap => (None, Some(E::LapReceived)),
        A::SendApr => (Some("APR"), None),
        A::SendSidrReq => (Some("SIDR_REQ"), None),
        A::DeliverSidrRep => (None, Some(E::SidrRepReceived)),
        A::SidrReqTimedOut => (None, Some(E::SidrReqError)),
        A::CreateFromSidrReq => (None, Some(E::SidrReqReceived)),
        A::SendSidrRep | A::DestroyWithSidrRepReject => (Some("SIDR_REP"), None),
        A::DestroyWithRejTimeout | A::DestroyWithRejConsumer => (Some("REJ"), None),
        _ => (None, None),
    }
}

fn check_row(row: &Row) -> Result<(), String> {
    // Where both sides exist, pick the side the input belongs to.
    let active = !matches!(
        (row.state, row.input),
        (State::Established, Input::RecvLap) | (State::Established, Input::RecvDreq)
    );
    let mut s = reach(row.state, active);
    let got = state_of(&s.p, s.side, s.cid);
    if got != Some(row.state) {
        return Err(format!("setup reached {got:?}"));
    }
    let result = feed(&mut s, row.input);
    if row.action == Action::RefuseInTimewait {
        return match result {
            Err(e) if e.contains("InTimewait") => Ok(()),
            other => Err(format!("expected refusal, got {other:?}")),
        };
    }
    result?;
    let (send, event) = expected(row.action);
    let sent: Vec<&str> =
        s.p.queue
            .iter()
            .filter(|m| m.to == s.side.other())
            .filter_map(|m| m.parsed().map(|x| x.message.attribute_id().name()))
            .collect();
    match send {
        Some(kind) if !sent.contains(&kind) => {
            return Err(format!("expected {kind} sent, got {sent:?}"));
        }
        None if !sent.is_empty()
            && row.input != Input::RecvReq
            && row.input != Input::RecvSidrReq =>
        {
            return Err(format!("expected nothing sent, got {sent:?}"));
        }
        _ => {}
    }
    let events: Vec<EventKind> =
        s.p.node(s.side)
            .events
            .iter()
            .map(|(_, e)| e.kind)
            .collect();
    match event {
        Some(k) if !events.contains(&k) => return Err(format!("expected {k:?}, got {events:?}")),
        None if !events.is_empty() => return Err(format!("expected no event, got {events:?}")),
        _ => {}
    }
    let now_state = state_of(&s.p, s.side, s.cid);
    let want = match row.next {
        Next::To(st) => Some(st),
        Next::Same => Some(row.state),
        Next::TimewaitIfStaleElseIdle => Some(State::Idle), // reason 28 here
        Next::ToIfDeferredMra(st) => Some(st),              // deferred MRA armed
        Next::Freed => None,
    };
    let ok = match row.next {
        // Freed: gone, or DESTROYED waiting for a reference.
        Next::Freed => now_state.is_none() || now_state == Some(State::Destroyed),
        _ => now_state == want,
    };
    if !ok {
        return Err(format!("expected next {want:?}, got {now_state:?}"));
    }
    // Nothing leaks whatever the row did.
    common::teardown_and_check(&mut s.p);
    Ok(())
}

#[test]
fn every_transition_of_the_spec_table() {
    let mut failures = Vec::new();
    for row in ROWS {
        let r = std::panic::catch_unwind(|| check_row(row));
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!(
                "{:?} × {:?} ({:?}): {e}",
                row.state, row.input, row.action
            )),
            Err(_) => failures.push(format!("{:?} × {:?}: panicked", row.state, row.input)),
        }
    }
    let tested = ROWS.len() - failures.len();
    println!("transition coverage: {tested}/{} rows", ROWS.len());
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
