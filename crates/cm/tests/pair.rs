//! Two-node scenarios through the deterministic harness (`ndcm_cm::sim`).

mod common;

use common::*;
use ndcm_cm::sim::{Pair, SERVICE, Side};
use ndcm_cm::{EventKind, State};

#[test]
fn connect_accept_complete_disconnect() {
    let mut p = Pair::new();
    let (a, b) = p.establish(None, 0x100, 0x200);
    let (oa, ob) = (p.a.owner, p.b.owner);
    assert_eq!(p.a.mgr.state(oa, a), Ok(State::Established));
    assert_eq!(p.b.mgr.state(ob, b), Ok(State::Established));
    assert_eq!(kinds(&mut p, Side::A), vec![EventKind::RepReceived]);
    assert_eq!(
        kinds(&mut p, Side::B),
        vec![EventKind::ReqReceived, EventKind::RtuReceived]
    );
    let ia = p.a.mgr.connection_info(oa, a).unwrap();
    let ib = p.b.mgr.connection_info(ob, b).unwrap();
    assert_eq!(ia.remote_qpn, 0x200);
    assert_eq!(ib.remote_qpn, 0x100);
    assert_eq!(ia.remote_comm_id, ib.local_comm_id);
    assert_eq!(ib.remote_comm_id, ia.local_comm_id);

    p.call(Side::A, |m, o, now, out| m.dreq(o, a, b"bye", now, out))
        .unwrap();
    p.drive();
    assert_eq!(kinds(&mut p, Side::B), vec![EventKind::DreqReceived]);
    assert_eq!(p.b.mgr.state(ob, b), Ok(State::DreqRcvd));
    p.call(Side::B, |m, o, now, out| m.drep(o, b, &[], now, out))
        .unwrap();
    p.drive();
    assert_eq!(kinds(&mut p, Side::A), vec![EventKind::DrepReceived]);
    assert_eq!(p.a.mgr.state(oa, a), Ok(State::Timewait));
    assert_eq!(p.b.mgr.state(ob, b), Ok(State::Timewait));
    // Timewait ends: both back to IDLE with a TIMEWAIT_EXIT event.
    p.run_to_quiescence();
    assert_eq!(p.a.mgr.state(oa, a), Ok(State::Idle));
    assert_eq!(kinds(&mut p, Side::A), vec![EventKind::TimewaitExit]);
    assert_eq!(kinds(&mut p, Side::B), vec![EventKind::TimewaitExit]);
    teardown_and_check(&mut p);
}

#[test]
fn service_without_listener_is_rejected_with_reason_8() {
    let mut p = Pair::new();
    let a = p.connect(0x100);
    p.drive();
    let ev = p.a.take_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].1.kind, EventKind::RejReceived);
    assert_eq!(rej_reason(&ev[0].1), Some(8));
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::Idle));
    let _ = SERVICE;
    teardown_and_check(&mut p);
}

use ndcm_cm::platform::Duration;
use ndcm_cm::{
    CmError, CompareData, ListenParams, ManagerConfig, Owner, SidrRepParams, SidrReqParams,
};
use ndcm_wire::{CmMad, CmMessage};

fn sent_kinds(p: &Pair) -> Vec<&'static str> {
    in_flight(p)
}

#[test]
fn passive_reject_reaches_the_active_side_with_its_reason_and_private_data() {
    let mut p = Pair::new();
    p.listen(Side::B, SERVICE);
    let a = p.connect(0x100);
    p.drive();
    let b = p.last_new_cid(Side::B).unwrap();
    p.call(Side::B, |m, o, now, out| {
        m.rej(o, b, 28, &[], b"no thanks", now, out)
    })
    .unwrap();
    assert_eq!(p.b.mgr.state(p.b.owner, b), Ok(State::Idle));
    p.drive();
    let ev = p.a.take_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(rej_reason(&ev[0].1), Some(28));
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::Idle));
    let pd = p.a.mgr.get_pdata(p.a.owner, a).unwrap();
    assert_eq!(pd.data.len(), 148, "true REJ private data length");
    assert_eq!(&pd.data[..9], b"no thanks");
    teardown_and_check(&mut p);
}

#[test]
fn req_is_retransmitted_byte_identically_then_times_out_with_rej_4() {
    let mut p = Pair::new();
    let mut params = p.req_params(Side::A, SERVICE, 0x100);
    params.max_cm_retries = 2;
    let a = p.connect_with(Side::A, &params);
    let first = p.queue.pop_front().unwrap().mad;
    let interval = Duration::from_nanos(
        (1u64 << (17 + 12)) + (1u64 << (18 + 12)), // T(2PLT) + T(RCRT)
    );
    // Two retransmissions, each after one interval, each identical.
    for _ in 0..2 {
        p.advance(Duration::from_nanos(interval.as_nanos() - 1));
        assert!(p.queue.is_empty(), "no retransmission before the interval");
        p.now = p.now + Duration::from_nanos(1);
        p.fire_due();
        let again = p.queue.pop_front().unwrap().mad;
        assert_eq!(again, first);
    }
    p.now = p.next_timer().unwrap();
    p.fire_due();
    // REJ 4 to the peer with our CA GUID, REQ_ERROR to the consumer.
    let rej = p.queue.pop_front().unwrap().parsed().unwrap();
    match rej.message {
        CmMessage::Rej(r) => {
            assert_eq!(r.reason.code(), 4);
            assert_eq!(r.ari_used(), &0xAu64.to_be_bytes());
        }
        m => panic!("expected REJ, got {m:?}"),
    }
    assert_eq!(kinds(&mut p, Side::A), vec![EventKind::ReqError]);
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::Idle));
    teardown_and_check(&mut p);
}

#[test]
fn mra_extends_the_wait_and_is_delivered_once() {
    let mut p = Pair::new();
    p.listen(Side::B, SERVICE);
    let mut params = p.req_params(Side::A, SERVICE, 0x100);
    params.max_cm_retries = 1;
    let a = p.connect_with(Side::A, &params);
    p.drive();
    let b = p.last_new_cid(Side::B).unwrap();
    p.call(Side::B, |m, o, now, out| m.mra(o, b, 24, &[], now, out))
        .unwrap();
    p.drive();
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::MraReqRcvd));
    assert_eq!(kinds(&mut p, Side::A), vec![EventKind::MraReceived]);
    // Without the MRA the REQ would have failed after 2 × 1.6 s; now it
    // waits T(24) + T(2PLT) ≈ 69 s before its one retry.
    p.advance(Duration::from_millis(60_000));
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::MraReqRcvd));
    assert!(kinds(&mut p, Side::A).is_empty());
    // The consumer accepts late; the connection completes.
    p.accept(Side::B, b, 0x200);
    p.drive();
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::RepRcvd));
    teardown_and_check(&mut p);
}

#[test]
fn duplicate_req_sends_the_deferred_mra_then_resends_it() {
    let mut p = Pair::new();
    p.listen(Side::B, SERVICE);
    p.connect(0x100);
    let req = p.queue.front().unwrap().mad;
    p.drive();
    let b = p.last_new_cid(Side::B).unwrap();
    p.inject(Side::B, req);
    assert_eq!(p.b.mgr.state(p.b.owner, b), Ok(State::MraReqSent));
    let mra = p.queue.back().unwrap().parsed().unwrap();
    match mra.message {
        CmMessage::Mra(m) => assert_eq!(m.service_timeout, 24),
        m => panic!("{m:?}"),
    }
    p.queue.clear();
    p.inject(Side::B, req);
    assert_eq!(sent_kinds(&p), vec!["MRA"]);
    // The duplicate created no second connection.
    assert_eq!(
        p.b.events
            .iter()
            .filter(|(_, e)| e.kind == EventKind::ReqReceived)
            .count(),
        1
    );
    teardown_and_check(&mut p);
}

#[test]
fn duplicate_rep_after_rtu_gets_the_cached_rtu() {
    let mut p = Pair::new();
    p.log = true;
    let (a, _b) = p.establish(None, 0x100, 0x200);
    let rep = p
        .delivered
        .iter()
        .find(|m| matches!(m.parsed().map(|x| x.message), Some(CmMessage::Rep(_))))
        .unwrap()
        .mad;
    let rtu = p
        .delivered
        .iter()
        .find(|m| matches!(m.parsed().map(|x| x.message), Some(CmMessage::Rtu(_))))
        .unwrap()
        .mad;
    p.inject(Side::A, rep);
    assert_eq!(p.queue.back().unwrap().mad, rtu);
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::Established));
    teardown_and_check(&mut p);
}

#[test]
fn lost_rtu_is_recovered_by_rep_retransmission() {
    let mut p = Pair::new();
    p.listen(Side::B, SERVICE);
    let a = p.connect(0x100);
    p.drive();
    let b = p.last_new_cid(Side::B).unwrap();
    p.accept(Side::B, b, 0x200);
    p.drive();
    p.call(Side::A, |m, o, now, out| m.rtu(o, a, &[], now, out))
        .unwrap();
    p.queue.clear(); // the RTU is lost
    // B retransmits the REP; A answers the duplicate with its cached RTU.
    p.advance(Duration::from_millis(1_100));
    assert_eq!(p.b.mgr.state(p.b.owner, b), Ok(State::Established));
    teardown_and_check(&mut p);
}

#[test]
fn rep_timeout_sends_rej_4_and_reports_rep_error() {
    let mut p = Pair::new();
    p.listen(Side::B, SERVICE);
    let mut params = p.req_params(Side::A, SERVICE, 0x100);
    params.max_cm_retries = 1;
    p.connect_with(Side::A, &params);
    p.drive();
    let b = p.last_new_cid(Side::B).unwrap();
    p.accept(Side::B, b, 0x200);
    // Every REP is lost.
    for _ in 0..3 {
        p.queue.clear();
        let t = p.next_timer().unwrap();
        p.now = t;
        p.fire_due();
    }
    assert!(
        p.b.events
            .iter()
            .any(|(_, e)| e.kind == EventKind::RepError)
    );
    assert_eq!(p.b.mgr.state(p.b.owner, b), Ok(State::Idle));
    teardown_and_check(&mut p);
}

#[test]
fn stale_req_from_a_reused_qpn_is_rejected_and_ends_the_old_connection() {
    let mut p = Pair::new();
    let (_a, b) = p.establish(None, 0x100, 0x200);
    p.b.events.clear();
    // A "reboots": a new connection reuses QPN 0x100 with a new comm ID.
    let mut params = p.req_params(Side::A, SERVICE, 0x100);
    params.max_cm_retries = 0;
    let c = p.call(Side::A, |m, o, _, _| m.create(o)).unwrap();
    p.call(Side::A, |m, o, _, out| m.config(o, c, 9, out))
        .unwrap();
    p.call(Side::A, |m, o, now, _| m.pre_req(o, c, &params, now))
        .unwrap();
    p.call(Side::A, |m, o, now, out| m.send_req(o, c, now, out))
        .unwrap();
    deliver_to_b(&mut p);
    let rej = p.queue.iter().find_map(|m| match m.parsed()?.message {
        CmMessage::Rej(r) => Some(r),
        _ => None,
    });
    let rej = rej.expect("REJ sent");
    assert_eq!(rej.reason.code(), 10);
    assert_eq!(rej.local_comm_id.0, 0);
    // The old connection got REJ 10 and entered timewait.
    assert_eq!(p.b.mgr.state(p.b.owner, b), Ok(State::Timewait));
    let ev: Vec<_> = p.b.events.iter().filter(|(x, _)| *x == b).collect();
    assert_eq!(ev.len(), 1);
    assert_eq!(rej_reason(&ev[0].1), Some(10));
    teardown_and_check(&mut p);
}

fn deliver_to_b(p: &mut Pair) {
    while let Some(i) = p.queue.iter().position(|m| m.to == Side::B) {
        let m = p.queue.remove(i).unwrap();
        p.queue.push_front(m);
        p.deliver_one();
    }
}

#[test]
fn duplicate_req_for_a_connection_in_timewait_gets_rej_10() {
    let mut p = Pair::new();
    p.log = true;
    let (a, b) = p.establish(None, 0x100, 0x200);
    let req = p
        .delivered
        .iter()
        .find(|m| matches!(m.parsed().map(|x| x.message), Some(CmMessage::Req(_))))
        .unwrap()
        .mad;
    p.call(Side::A, |m, o, now, out| m.dreq(o, a, &[], now, out))
        .unwrap();
    p.drive();
    p.call(Side::B, |m, o, now, out| m.drep(o, b, &[], now, out))
        .unwrap();
    p.drive();
    assert_eq!(p.b.mgr.state(p.b.owner, b), Ok(State::Timewait));
    p.inject(Side::B, req);
    let rej = p.queue.back().unwrap().parsed().unwrap();
    assert!(matches!(rej.message, CmMessage::Rej(r) if r.reason.code() == 10));
    teardown_and_check(&mut p);
}

#[test]
fn dreq_in_timewait_and_unmatched_dreq_are_answered_with_drep() {
    let mut p = Pair::new();
    let (a, b) = p.establish(None, 0x100, 0x200);
    p.call(Side::A, |m, o, now, out| m.dreq(o, a, &[], now, out))
        .unwrap();
    let dreq = p.queue.front().unwrap().mad;
    p.drive();
    p.call(Side::B, |m, o, now, out| m.drep(o, b, b"x", now, out))
        .unwrap();
    p.queue.clear(); // the DREP is lost
    // A retransmits the DREQ; B in timewait re-sends its cached DREP.
    p.inject(Side::B, dreq);
    let drep = p.queue.back().unwrap().parsed().unwrap();
    assert!(matches!(drep.message, CmMessage::Drep(d) if &d.private_data.as_bytes()[..1] == b"x"));
    p.drive();
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::Timewait));
    // After everything is gone, the same DREQ gets an unaffiliated DREP.
    teardown_and_check(&mut p);
    p.inject(Side::B, dreq);
    let d = p.queue.back().unwrap().parsed().unwrap();
    assert_eq!(
        d.header.transaction_id,
        CmMad::parse(&dreq).unwrap().header.transaction_id
    );
    assert!(matches!(d.message, CmMessage::Drep(_)));
}

#[test]
fn both_sides_disconnecting_at_once_end_in_timewait() {
    let mut p = Pair::new();
    let (a, b) = p.establish(None, 0x100, 0x200);
    p.call(Side::A, |m, o, now, out| m.dreq(o, a, &[], now, out))
        .unwrap();
    p.call(Side::B, |m, o, now, out| m.dreq(o, b, &[], now, out))
        .unwrap();
    p.drive();
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::DreqRcvd));
    assert_eq!(p.b.mgr.state(p.b.owner, b), Ok(State::DreqRcvd));
    p.call(Side::A, |m, o, now, out| m.drep(o, a, &[], now, out))
        .unwrap();
    p.call(Side::B, |m, o, now, out| m.drep(o, b, &[], now, out))
        .unwrap();
    p.drive();
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::Timewait));
    assert_eq!(p.b.mgr.state(p.b.owner, b), Ok(State::Timewait));
    teardown_and_check(&mut p);
}

#[test]
fn dreq_timeout_reports_dreq_error_and_enters_timewait() {
    let mut p = Pair::new();
    let (a, _) = p.establish(None, 0x100, 0x200);
    p.call(Side::A, |m, o, now, out| m.dreq(o, a, &[], now, out))
        .unwrap();
    for _ in 0..20 {
        p.queue.clear();
        if p.a.mgr.state(p.a.owner, a) != Ok(State::DreqSent) {
            break;
        }
        let t = *p.a.timers.get(&a).unwrap();
        p.now = t;
        p.fire_due();
    }
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::Timewait));
    assert!(kinds(&mut p, Side::A).contains(&EventKind::DreqError));
    teardown_and_check(&mut p);
}

#[test]
fn sidr_resolves_a_service_and_unknown_services_get_status_1() {
    let mut p = Pair::new();
    p.listen(Side::B, SERVICE);
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
        timeout_ms: 50,
        max_retries: 2,
        private_data: vec![],
    };
    p.call(Side::A, |m, o, now, out| {
        m.sidr_req(o, a, &params, now, out)
    })
    .unwrap();
    p.drive();
    let child = p.last_new_cid(Side::B).unwrap();
    let rep = SidrRepParams {
        status: 0,
        qpn: 0x77,
        qkey: 0x1234,
        info: vec![],
        private_data: vec![],
    };
    p.call(Side::B, |m, o, now, out| {
        m.sidr_rep(o, child, &rep, now, out)
    })
    .unwrap();
    p.drive();
    let ev = p.a.take_events();
    assert_eq!(ev.last().unwrap().1.kind, EventKind::SidrRepReceived);
    match ev.last().unwrap().1.mad.unwrap().message {
        CmMessage::SidrRep(r) => {
            assert_eq!(r.qpn.get(), 0x77);
            assert_eq!(r.qkey, 0x1234);
        }
        m => panic!("{m:?}"),
    }
    // Unknown service: SIDR_REP status 1.
    let params2 = SidrReqParams {
        service_id: 0x999,
        ..params
    };
    p.call(Side::A, |m, o, now, out| {
        m.sidr_req(o, a, &params2, now, out)
    })
    .unwrap();
    p.drive();
    match p.a.take_events().last().unwrap().1.mad.unwrap().message {
        CmMessage::SidrRep(r) => assert_eq!(r.status.code(), 1),
        m => panic!("{m:?}"),
    }
    teardown_and_check(&mut p);
}

#[test]
fn sidr_timeout_reports_sidr_req_error() {
    let mut p = Pair::new();
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
        timeout_ms: 50,
        max_retries: 2,
        private_data: vec![],
    };
    p.call(Side::A, |m, o, now, out| {
        m.sidr_req(o, a, &params, now, out)
    })
    .unwrap();
    let mut sent = 0;
    for _ in 0..5 {
        sent += p.queue.len();
        p.queue.clear();
        if let Some(t) = p.next_timer() {
            p.now = t;
            p.fire_due();
        }
    }
    assert_eq!(sent, 3, "1 + 2 retries");
    assert_eq!(kinds(&mut p, Side::A), vec![EventKind::SidrReqError]);
    teardown_and_check(&mut p);
}

#[test]
fn lap_and_apr_load_an_alternate_path_on_ib() {
    let cfg = |g| ManagerConfig {
        ca_guid: g,
        alternate_paths: true,
        ..ManagerConfig::default()
    };
    let mut p = Pair::with_configs(cfg(0xA), cfg(0xB));
    let (a, b) = p.establish(None, 0x100, 0x200);
    let mut alt = p.path(Side::A);
    alt.local_gid = ndcm_wire::Gid::from_ipv4_octets([10, 0, 1, 1]);
    let lap = ndcm_cm::LapParams {
        alternate_path: alt,
        remote_cm_response_timeout: 18,
        private_data: vec![],
    };
    p.call(Side::A, |m, o, now, out| m.lap(o, a, &lap, now, out))
        .unwrap();
    p.drive();
    assert_eq!(p.b.mgr.state(p.b.owner, b), Ok(State::LapRcvd));
    p.call(Side::B, |m, o, now, _| m.pre_apr(o, b, 0, &[], &[], now))
        .unwrap();
    p.call(Side::B, |m, o, now, out| m.send_apr(o, b, now, out))
        .unwrap();
    p.drive();
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::Established));
    assert_eq!(p.b.mgr.state(p.b.owner, b), Ok(State::Established));
    assert_eq!(
        p.a.mgr
            .connection_info(p.a.owner, a)
            .unwrap()
            .alternate_path,
        alt
    );
    teardown_and_check(&mut p);
}

#[test]
fn on_roce_lap_is_refused_and_a_received_lap_gets_apr_status_2() {
    let mut p = Pair::new(); // alternate_paths: false
    let (a, b) = p.establish(None, 0x100, 0x200);
    let alt = p.path(Side::A);
    let lap = ndcm_cm::LapParams {
        alternate_path: alt,
        remote_cm_response_timeout: 18,
        private_data: vec![],
    };
    let r = p.call(Side::A, |m, o, now, out| m.lap(o, a, &lap, now, out));
    assert_eq!(r, Err(CmError::NotSupported));
    // A peer's LAP (crafted) is answered with APR 2 and changes nothing.
    let ia = p.a.mgr.connection_info(p.a.owner, a).unwrap();
    let lapm = ndcm_wire::LapRepr {
        local_comm_id: ndcm_wire::CommId(ia.local_comm_id),
        remote_comm_id: ndcm_wire::CommId(ia.remote_comm_id),
        remote_qpn: ndcm_wire::Qpn::new(0x200),
        remote_cm_response_timeout: 18,
        alternate_path: alt,
        private_data: Default::default(),
    };
    p.inject(Side::B, CmMad::new(42, CmMessage::Lap(lapm)).to_bytes());
    let apr = p.queue.back().unwrap().parsed().unwrap();
    assert_eq!(apr.header.transaction_id, 42);
    assert!(matches!(apr.message, CmMessage::Apr(x) if x.ap_status.code() == 2));
    assert_eq!(p.b.mgr.state(p.b.owner, b), Ok(State::Established));
    teardown_and_check(&mut p);
}

/// Destroy in every state a connection can be in, on either side: the spec's
/// message goes out, the peer reacts, and nothing leaks on either node.
#[test]
fn destroy_in_every_state_leaves_nothing_behind() {
    type Step = fn(&mut Pair) -> (Side, ndcm_cm::Cid, &'static str);
    let cases: Vec<(&str, Step)> = vec![
        ("IDLE", |p| {
            (
                Side::A,
                p.call(Side::A, |m, o, _, _| m.create(o)).unwrap(),
                "",
            )
        }),
        ("PRE_REQ", |p| {
            let c = p.call(Side::A, |m, o, _, _| m.create(o)).unwrap();
            let params = p.req_params(Side::A, SERVICE, 0x100);
            p.call(Side::A, |m, o, now, _| m.pre_req(o, c, &params, now))
                .unwrap();
            (Side::A, c, "")
        }),
        ("REQ_SENT", |p| {
            p.listen(Side::B, SERVICE);
            let a = p.connect(0x100);
            (Side::A, a, "REJ")
        }),
        ("REQ_RCVD", |p| {
            p.listen(Side::B, SERVICE);
            p.connect(0x100);
            p.drive();
            (Side::B, p.last_new_cid(Side::B).unwrap(), "REJ")
        }),
        ("REP_SENT", |p| {
            p.listen(Side::B, SERVICE);
            p.connect(0x100);
            p.drive();
            let b = p.last_new_cid(Side::B).unwrap();
            p.accept(Side::B, b, 0x200);
            p.queue.clear();
            (Side::B, b, "REJ")
        }),
        ("REP_RCVD", |p| {
            p.listen(Side::B, SERVICE);
            let a = p.connect(0x100);
            p.drive();
            let b = p.last_new_cid(Side::B).unwrap();
            p.accept(Side::B, b, 0x200);
            p.drive();
            (Side::A, a, "REJ")
        }),
        ("ESTABLISHED", |p| {
            let (a, _) = p.establish(None, 0x100, 0x200);
            (Side::A, a, "DREQ")
        }),
        ("DREQ_SENT", |p| {
            let (a, _) = p.establish(None, 0x100, 0x200);
            p.call(Side::A, |m, o, now, out| m.dreq(o, a, &[], now, out))
                .unwrap();
            p.queue.clear();
            (Side::A, a, "")
        }),
        ("DREQ_RCVD", |p| {
            let (a, b) = p.establish(None, 0x100, 0x200);
            p.call(Side::A, |m, o, now, out| m.dreq(o, a, &[], now, out))
                .unwrap();
            p.drive();
            (Side::B, b, "DREP")
        }),
        ("TIMEWAIT", |p| {
            let (a, b) = p.establish(None, 0x100, 0x200);
            p.call(Side::A, |m, o, now, out| m.dreq(o, a, &[], now, out))
                .unwrap();
            p.drive();
            p.call(Side::B, |m, o, now, out| m.drep(o, b, &[], now, out))
                .unwrap();
            p.drive();
            (Side::A, a, "")
        }),
        ("LISTEN", |p| (Side::B, p.listen(Side::B, SERVICE), "")),
        ("SIDR_REQ_SENT", |p| {
            let a = p.call(Side::A, |m, o, _, _| m.create(o)).unwrap();
            let params = SidrReqParams {
                service_id: 1,
                partition_key: 0xFFFF,
                to: ndcm_cm::MadAddress {
                    gid: p.b.gid,
                    port: 1,
                },
                timeout_ms: 10,
                max_retries: 3,
                private_data: vec![],
            };
            p.call(Side::A, |m, o, now, out| {
                m.sidr_req(o, a, &params, now, out)
            })
            .unwrap();
            p.queue.clear();
            (Side::A, a, "")
        }),
    ];
    for (name, setup) in cases {
        let mut p = Pair::new();
        let (side, cid, msg) = setup(&mut p);
        p.queue.clear();
        let owner = p.node(side).owner;
        p.call(side, |m, _, now, out| {
            m.destroy(owner, cid, false, now, out)
        })
        .unwrap();
        let sent = in_flight(&p);
        if msg.is_empty() {
            assert!(sent.is_empty(), "{name}: sent {sent:?}");
        } else {
            assert_eq!(sent, vec![msg], "{name}");
        }
        // Later calls with the CID fail; the slot stays until timewait ends.
        assert_eq!(
            p.node(side).mgr.state(owner, cid),
            Err(CmError::NotFound),
            "{name}"
        );
        p.drive();
        teardown_and_check(&mut p);
        assert_eq!(p.node(side).mgr.raw_state(cid), None, "{name}: slot freed");
        assert_eq!(
            p.node(side)
                .released
                .iter()
                .filter(|r| r.cid == cid)
                .count(),
            1,
            "{name}: destroy callback once"
        );
    }
}

#[test]
fn destroying_a_listener_rejects_its_untaken_connections() {
    let mut p = Pair::new();
    p.b.auto_config = false; // nobody takes the REQs
    let l = p.listen(Side::B, SERVICE);
    let a = p.connect(0x100);
    p.drive();
    let ob = p.b.owner;
    p.call(Side::B, |m, _, now, out| m.destroy(ob, l, false, now, out))
        .unwrap();
    let sent = in_flight(&p);
    assert_eq!(sent, vec!["REJ"]);
    p.drive();
    let ev = p.a.take_events();
    assert_eq!(rej_reason(&ev[0].1), Some(28));
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::Idle));
    teardown_and_check(&mut p);
}

#[test]
fn backlog_full_answers_rej_3() {
    let mut p = Pair::new();
    p.b.auto_config = false;
    let l = p.call(Side::B, |m, o, _, _| m.create(o)).unwrap();
    p.call(Side::B, |m, o, _, out| m.config(o, l, 1, out))
        .unwrap();
    let lp = ListenParams {
        service_id: SERVICE,
        port: None,
        compare: None,
        backlog: 1,
        sidr: false,
    };
    p.call(Side::B, |m, o, _, _| m.listen(o, l, &lp)).unwrap();
    p.connect(0x100);
    p.drive();
    p.a.events.clear();
    p.connect(0x101);
    p.drive();
    let ev = p.a.take_events();
    assert_eq!(rej_reason(&ev[0].1), Some(3));
    teardown_and_check(&mut p);
}

#[test]
fn generic_compare_data_selects_the_listener() {
    let mut p = Pair::new();
    let mk = |p: &mut Pair, byte: u8| {
        let l = p.call(Side::B, |m, o, _, _| m.create(o)).unwrap();
        p.call(Side::B, |m, o, _, out| m.config(o, l, u64::from(byte), out))
            .unwrap();
        let lp = ListenParams {
            service_id: 0x55,
            port: None,
            compare: Some(CompareData {
                offset: 4,
                data: vec![byte, byte],
            }),
            backlog: 8,
            sidr: false,
        };
        p.call(Side::B, |m, o, _, _| m.listen(o, l, &lp)).unwrap();
        l
    };
    let l1 = mk(&mut p, 1);
    let l2 = mk(&mut p, 2);
    let mut params = p.req_params(Side::A, 0x55, 0x100);
    params.private_data = vec![0, 0, 0, 0, 2, 2];
    p.connect_with(Side::A, &params);
    p.drive();
    assert!(
        p.b.events
            .iter()
            .any(|(c, e)| *c == l2 && e.kind == EventKind::ReqReceived)
    );
    assert!(!p.b.events.iter().any(|(c, _)| *c == l1));
    // No match: REJ 8.
    params.private_data = vec![0, 0, 0, 0, 3, 3];
    params.local_qpn = 0x101; // a new QP (reusing 0x100 would be stale)
    p.a.events.clear();
    p.connect_with(Side::A, &params);
    p.drive();
    assert_eq!(rej_reason(&p.a.take_events()[0].1), Some(8));
    // Same shape, same bytes: a duplicate listen.
    let l3 = p.call(Side::B, |m, o, _, _| m.create(o)).unwrap();
    let dup = ListenParams {
        service_id: 0x55,
        port: None,
        compare: Some(CompareData {
            offset: 4,
            data: vec![1, 1],
        }),
        backlog: 8,
        sidr: false,
    };
    assert_eq!(
        p.call(Side::B, |m, o, _, _| m.listen(o, l3, &dup)),
        Err(CmError::DuplicateListen)
    );
    teardown_and_check(&mut p);
}

fn ip_header(dst: [u8; 4]) -> Vec<u8> {
    let mut h = vec![0u8; 36];
    h[1] = 0x40;
    h[2..4].copy_from_slice(&5000u16.to_be_bytes());
    h[16..20].copy_from_slice(&[10, 0, 0, 1]);
    h[32..36].copy_from_slice(&dst);
    h
}

#[test]
fn rdma_cm_listener_matches_destination_ip_and_rejects_bad_headers() {
    let mut p = Pair::new();
    let sid = 0x0000_0000_0106_1389; // TCP port 5001
    let l = p.call(Side::B, |m, o, _, _| m.create(o)).unwrap();
    p.call(Side::B, |m, o, _, out| m.config(o, l, 1, out))
        .unwrap();
    let lp = ListenParams {
        service_id: sid,
        port: None,
        compare: Some(CompareData {
            offset: 0x04,
            data: ip_header([10, 0, 0, 2]),
        }),
        backlog: 8,
        sidr: false,
    };
    assert_eq!(p.call(Side::B, |m, o, _, _| m.listen(o, l, &lp)), Ok(sid));
    let mut params = p.req_params(Side::A, sid, 0x100);
    params.private_data = ip_header([10, 0, 0, 2]);
    p.connect_with(Side::A, &params);
    p.drive();
    assert!(
        p.b.events
            .iter()
            .any(|(c, e)| *c == l && e.kind == EventKind::ReqReceived)
    );
    for bad in [ip_header([10, 0, 0, 3]), {
        let mut h = ip_header([10, 0, 0, 2]);
        h[1] = 0x50; // invalid IP version byte
        h
    }] {
        p.a.events.clear();
        params.private_data = bad;
        params.local_qpn += 1;
        p.connect_with(Side::A, &params);
        p.drive();
        assert_eq!(rej_reason(&p.a.take_events()[0].1), Some(8));
    }
    teardown_and_check(&mut p);
}

#[test]
fn rdma_cm_port_zero_gets_an_ephemeral_port() {
    let mut p = Pair::new();
    let l = p.call(Side::B, |m, o, _, _| m.create(o)).unwrap();
    let lp = ListenParams {
        service_id: 0x0000_0000_0106_0000,
        port: None,
        compare: None,
        backlog: 1,
        sidr: false,
    };
    let sid = p.call(Side::B, |m, o, _, _| m.listen(o, l, &lp)).unwrap();
    assert!((49152..=65535).contains(&(sid & 0xFFFF)));
    let l2 = p.call(Side::B, |m, o, _, _| m.create(o)).unwrap();
    let sid2 = p.call(Side::B, |m, o, _, _| m.listen(o, l2, &lp)).unwrap();
    assert_ne!(sid, sid2);
    teardown_and_check(&mut p);
}

#[test]
fn another_owner_cannot_use_a_cid() {
    let mut p = Pair::new();
    let (a, _) = p.establish(None, 0x100, 0x200);
    let other = Owner(99);
    let r = p.call(Side::A, |m, _, now, out| m.dreq(other, a, &[], now, out));
    assert_eq!(r, Err(CmError::NotFound));
    assert_eq!(p.a.mgr.state(other, a), Err(CmError::NotFound));
    teardown_and_check(&mut p);
}

#[test]
fn config_is_refused_the_second_time() {
    let mut p = Pair::new();
    let c = p.call(Side::A, |m, o, _, _| m.create(o)).unwrap();
    p.call(Side::A, |m, o, _, out| m.config(o, c, 1, out))
        .unwrap();
    assert_eq!(
        p.call(Side::A, |m, o, _, out| m.config(o, c, 2, out)),
        Err(CmError::AlreadyConfigured)
    );
    teardown_and_check(&mut p);
}

#[test]
fn private_data_longer_than_the_message_allows_is_an_error_and_changes_nothing() {
    let mut p = Pair::new();
    let c = p.call(Side::A, |m, o, _, _| m.create(o)).unwrap();
    let mut params = p.req_params(Side::A, SERVICE, 0x100);
    params.private_data = vec![1; 93];
    assert_eq!(
        p.call(Side::A, |m, o, now, _| m.pre_req(o, c, &params, now)),
        Err(CmError::PrivateDataTooLong)
    );
    assert_eq!(p.a.mgr.state(p.a.owner, c), Ok(State::Idle));
    let (a, _) = p.establish(None, 0x100, 0x200);
    let r = p.call(Side::A, |m, o, now, out| m.dreq(o, a, &[0; 221], now, out));
    assert_eq!(r, Err(CmError::PrivateDataTooLong));
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::Established));
    assert!(p.queue.is_empty());
    teardown_and_check(&mut p);
}

#[test]
fn pre_req_gives_a_retried_connection_a_new_comm_id() {
    let mut p = Pair::new();
    let c = p.call(Side::A, |m, o, _, _| m.create(o)).unwrap();
    let params = p.req_params(Side::A, SERVICE, 0x100);
    p.call(Side::A, |m, o, now, _| m.pre_req(o, c, &params, now))
        .unwrap();
    let first = p.a.mgr.connection_info(p.a.owner, c).unwrap().local_comm_id;
    p.call(Side::A, |m, o, now, _| m.pre_req(o, c, &params, now))
        .unwrap();
    let second = p.a.mgr.connection_info(p.a.owner, c).unwrap().local_comm_id;
    assert_ne!(first, second);
    assert_eq!(first & 0x00FF_FFFF, second & 0x00FF_FFFF);
    teardown_and_check(&mut p);
}

#[test]
fn get_timewait_is_positive_and_matches_the_formula() {
    let mut p = Pair::new();
    let (a, b) = p.establish(None, 0x100, 0x200);
    // Active: T(2PLT = 17) + T(target ACK delay = 0) = 2^29 ns + 2^12 ns.
    let tw = p.a.mgr.get_timewait(p.a.owner, a).unwrap();
    assert_eq!(tw, ((1u64 << 29) + (1u64 << 12)).div_ceil(1000));
    assert!(p.b.mgr.get_timewait(p.b.owner, b).unwrap() > 0);
    teardown_and_check(&mut p);
}

#[test]
fn malformed_and_unmatched_mads_are_dropped_and_change_nothing() {
    let mut p = Pair::new();
    let (a, b) = p.establish(None, 0x100, 0x200);
    let before = (p.a.mgr.stats(), p.b.mgr.stats());
    let dropped = p.b.mgr.dropped();
    let mut junk = [0u8; 256];
    p.inject(Side::B, junk); // base version 0
    junk[0] = 1;
    junk[1] = 7;
    junk[2] = 2;
    junk[3] = 3;
    junk[16] = 0xff; // unknown attribute
    p.inject(Side::B, junk);
    let mut out = ndcm_cm::Output::new();
    let now = p.now;
    p.b.mgr
        .receive(&junk[..10], ndcm_cm::MadAddress::default(), now, &mut out);
    assert!(out.is_empty());
    // An RTU for a comm ID nobody has.
    let rtu = ndcm_wire::RtuRepr {
        local_comm_id: ndcm_wire::CommId(1),
        remote_comm_id: ndcm_wire::CommId(0x0500_0009),
        private_data: Default::default(),
    };
    p.inject(Side::B, CmMad::new(1, CmMessage::Rtu(rtu)).to_bytes());
    assert!(p.queue.is_empty());
    assert_eq!((p.a.mgr.stats(), p.b.mgr.stats()), before);
    assert_eq!(p.b.mgr.dropped(), dropped + 4);
    assert_eq!(p.a.mgr.state(p.a.owner, a), Ok(State::Established));
    assert_eq!(p.b.mgr.state(p.b.owner, b), Ok(State::Established));
    teardown_and_check(&mut p);
}

#[test]
fn non_rc_req_gets_rej_9_and_bad_mtu_gets_rej_26() {
    let mut p = Pair::new();
    p.listen(Side::B, SERVICE);
    let params = p.req_params(Side::A, SERVICE, 0x100);
    p.connect_with(Side::A, &params);
    let mut req = p.queue.pop_front().unwrap().parsed().unwrap();
    if let CmMessage::Req(r) = &mut req.message {
        r.transport_type = ndcm_wire::TransportType::Uc;
    }
    p.inject(Side::B, req.to_bytes());
    assert!(
        matches!(p.queue.back().unwrap().parsed().unwrap().message, CmMessage::Rej(r) if r.reason.code() == 9)
    );
    if let CmMessage::Req(r) = &mut req.message {
        r.transport_type = ndcm_wire::TransportType::Rc;
        r.path_mtu = ndcm_wire::Mtu::Unknown(7);
    }
    p.inject(Side::B, req.to_bytes());
    assert!(
        matches!(p.queue.back().unwrap().parsed().unwrap().message, CmMessage::Rej(r) if r.reason.code() == 26)
    );
    teardown_and_check(&mut p);
}

#[test]
fn a_late_or_cancelled_timer_is_harmless() {
    let mut p = Pair::new();
    let (a, _) = p.establish(None, 0x100, 0x200);
    let before = p.a.mgr.stats();
    let mut out = ndcm_cm::Output::new();
    let now = p.now;
    p.a.mgr.on_timer(a, now, &mut out);
    p.a.mgr.on_timer(ndcm_cm::Cid(0x7700_0001), now, &mut out);
    assert!(out.is_empty());
    assert_eq!(p.a.mgr.stats(), before);
    teardown_and_check(&mut p);
}

/// B's listener with a REQ queued and its delivery kept (not run):
/// (listener, delivery, what else the REQ produced).
fn req_delivery(p: &mut Pair) -> (ndcm_cm::Cid, ndcm_cm::Delivery, ndcm_cm::Output) {
    let l = p.listen(Side::B, SERVICE);
    p.connect(0x100);
    let m = p.queue.pop_front().unwrap();
    let mut out = ndcm_cm::Output::new();
    let now = p.now;
    p.b.mgr.receive(&m.mad, m.from, now, &mut out);
    let d = out.deliveries.pop().unwrap();
    assert!(out.deliveries.is_empty());
    (l, d, out)
}

fn is_req(ev: &ndcm_cm::CmEvent) -> bool {
    ev.kind == EventKind::ReqReceived
        && ev.new_cid.is_some()
        && matches!(ev.mad.as_ref().map(|m| &m.message), Some(CmMessage::Req(_)))
}

#[test]
fn format_event_outside_its_callback_is_refused_and_the_event_stays_pollable() {
    let mut p = Pair::new();
    let (l, d, out) = req_delivery(&mut p);
    let mgr = &p.b.mgr;
    let before = mgr.stats().scope_violations;
    let mut more = ndcm_cm::Output::new();
    // Another thread (the test platform's thread 2) uses the callback's
    // scope; the callback then gives up without polling to "none".
    let (refused, polled) = mgr.deliver(d, &mut more, |scope| {
        let rec = mgr.poll(scope).unwrap().unwrap();
        mgr.platform().set_thread(2);
        let refused = mgr.format_event(scope, rec);
        let polled = mgr.poll(scope);
        mgr.platform().set_thread(1);
        (refused, polled)
    });
    // A defined error in every build (no assertion), counted.
    assert_eq!(refused, Err(CmError::NotCallbackThread));
    assert_eq!(polled, Err(CmError::NotCallbackThread));
    let s = mgr.stats();
    assert_eq!(s.scope_violations, before + 2);
    // The record went back to the queue, and since the callback stopped
    // early a new one is scheduled for it.
    assert_eq!(s.queued_events, 1);
    assert_eq!(more.deliveries.len(), 1);
    let d = more.deliveries.pop().unwrap();
    let got = mgr.deliver(d, &mut more, |scope| {
        assert_eq!(scope.cid(), l);
        let mut got = Vec::new();
        while let Some(rec) = mgr.poll(scope).unwrap() {
            got.push(mgr.format_event(scope, rec).unwrap());
        }
        got
    });
    assert_eq!(got.len(), 1);
    assert!(is_req(&got[0]), "{got:?}");
    assert!(more.deliveries.is_empty());
    assert_eq!(mgr.stats().queued_events, 0);
    assert_eq!(mgr.stats().scope_violations, before + 2);
    p.process(Side::B, out);
    p.process(Side::B, more);
    teardown_and_check(&mut p);
}

#[test]
fn a_refused_record_is_the_next_one_the_callback_polls() {
    let mut p = Pair::new();
    let (_, d, out) = req_delivery(&mut p);
    let mgr = &p.b.mgr;
    let mut more = ndcm_cm::Output::new();
    let ev = mgr.deliver(d, &mut more, |scope| {
        let rec = mgr.poll(scope).unwrap().unwrap();
        let kept = rec.clone();
        mgr.platform().set_thread(7);
        assert_eq!(
            mgr.format_event(scope, rec),
            Err(CmError::NotCallbackThread)
        );
        mgr.platform().set_thread(1);
        let again = mgr.poll(scope).unwrap().unwrap();
        assert_eq!(again, kept);
        let ev = mgr.format_event(scope, again).unwrap();
        assert_eq!(mgr.poll(scope), Ok(None));
        ev
    });
    assert!(is_req(&ev), "{ev:?}");
    // Drained: no second callback, one violation counted.
    assert!(more.deliveries.is_empty());
    assert_eq!(mgr.stats().scope_violations, 1);
    p.process(Side::B, out);
    p.process(Side::B, more);
    teardown_and_check(&mut p);
}

#[test]
fn a_callback_that_stops_before_none_leaves_no_event_stranded() {
    let mut p = Pair::new();
    let (_, d, out) = req_delivery(&mut p);
    let mgr = &p.b.mgr;
    let mut more = ndcm_cm::Output::new();
    // Returns at once: the event is neither polled nor lost.
    mgr.deliver(d, &mut more, |_| {});
    assert_eq!(mgr.stats().queued_events, 1);
    assert_eq!(mgr.stats().scope_violations, 0);
    p.process(Side::B, out);
    p.process(Side::B, more);
    let ev = p.b.take_events();
    assert_eq!(ev.len(), 1);
    assert!(is_req(&ev[0].1), "{ev:?}");
    assert!(p.b.errors.is_empty());
    // The edge trigger works again: the listener's next event is delivered.
    p.connect(0x101);
    p.drive();
    let ev = p.b.take_events();
    assert!(ev.iter().any(|(_, e)| is_req(e)), "{ev:?}");
    teardown_and_check(&mut p);
}
