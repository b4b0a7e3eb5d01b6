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
