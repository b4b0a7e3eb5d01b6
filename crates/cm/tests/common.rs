//! Shared helpers for the integration tests.
#![allow(dead_code)]

use ndcm_cm::platform::Duration;
use ndcm_cm::sim::{Pair, Side};
use ndcm_cm::{Cid, CmEvent, EventKind};
use ndcm_wire::CmMessage;

/// The kinds of the events recorded on `side`, draining them.
pub fn kinds(p: &mut Pair, side: Side) -> Vec<EventKind> {
    p.node(side)
        .take_events()
        .into_iter()
        .map(|(_, e)| e.kind)
        .collect()
}

/// The attribute names of the MADs in flight.
pub fn in_flight(p: &Pair) -> Vec<&'static str> {
    p.queue
        .iter()
        .map(|m| m.parsed().map_or("?", |x| x.message.attribute_id().name()))
        .collect()
}

/// Destroys everything on both nodes and runs timers until both managers are
/// empty; asserts nothing leaked (every CEP, QP, reference, timer, event and
/// table entry released).
pub fn teardown_and_check(p: &mut Pair) {
    for side in [Side::A, Side::B] {
        let owner = p.node(side).owner;
        let now = p.now;
        p.call(side, |m, _, _, out| m.destroy_owner(owner, now, out));
    }
    p.run_to_quiescence();
    p.advance(Duration::from_millis(10));
    for side in [Side::A, Side::B] {
        let s = p.node(side).stats();
        assert!(s.is_quiescent(), "{side:?} leaked: {s:?}");
        assert!(p.node(side).timers.is_empty(), "{side:?} timers left");
    }
}

/// The REJ reason of a recorded event.
pub fn rej_reason(e: &CmEvent) -> Option<u16> {
    match e.mad.map(|m| m.message) {
        Some(CmMessage::Rej(r)) => Some(r.reason.code()),
        _ => None,
    }
}

/// Events of `side` for `cid`.
pub fn events_of(p: &mut Pair, side: Side, cid: Cid) -> Vec<EventKind> {
    p.node(side)
        .events
        .iter()
        .filter(|(c, _)| *c == cid)
        .map(|(_, e)| e.kind)
        .collect()
}
