//! Pending requests (spec/NDI.md §5, §6): each CM event completes the right
//! request with the right status, framework cancellation runs the kind's
//! cancel action, and teardown (DESTROY_CEP, QP destroy, file close)
//! completes everything exactly once and leaks nothing (S4, S5).

mod common;
use common::*;
use ndcm_ndi::abi::*;
use ndcm_ndi::cm_port::CmEvent;
use ndcm_ndi::testing::{CmCall, TestRequest};
use ndcm_ndi::{Dispatched, NdiError};

#[test]
fn connect_completes_with_success_on_rep_and_reports_peer_pdata() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let (c, _qp, id) = fx.connecting(&f, a);
    // Read limits were lowered to the adapter's and pdata passed through.
    let cid = fx.cid_of(c);
    assert!(
        fx.ndi
            .cm()
            .calls()
            .contains(&CmCall::Connect(cid, 0x100, 4, 4, (0..8).collect()))
    );
    fx.ndi.on_cm_event(owner(&f, c), rep_event());
    assert_eq!(fx.done(id).status, NtStatus::SUCCESS);
    // Duplicate REP changes nothing.
    fx.ndi.on_cm_event(owner(&f, c), rep_event());
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn connect_rejected_is_refused_timeout_is_io_timeout_and_the_qp_is_free_again() {
    for (event, want) in [
        (rej_event(28), NtStatus::CONNECTION_REFUSED),
        (rej_event(8), NtStatus::CONNECTION_REFUSED),
        (rej_event(4), NtStatus::IO_TIMEOUT),
        (CmEvent::ReqTimeout, NtStatus::IO_TIMEOUT),
    ] {
        let fx = Fx::new();
        let f = fx.ndi.open();
        let a = fx.adapter(&f);
        let (c, qp, id) = fx.connecting(&f, a);
        fx.ndi.on_cm_event(owner(&f, c), event);
        assert_eq!(fx.done(id).status, want, "{event:?}");
        // The failed connection is not reused; the QP (still INIT) is.
        assert_eq!(
            fx.status(&f, Ioctl::ReqCm, &req_in(c, qp, 0), 0),
            NtStatus::CONNECTION_ACTIVE
        );
        let c2 = fx.conn(&f, a);
        let again = fx.pend(&f, Ioctl::ReqCm, &req_in(c2, qp, 0), 0);
        fx.ndi.close(&f);
        assert_eq!(fx.done(again).status, NtStatus::CANCELLED);
        fx.assert_nothing_leaked();
    }
}

#[test]
fn a_bound_qp_refuses_a_second_connection_and_reset() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let (_c, qp, _id) = fx.connecting(&f, a);
    let c2 = fx.conn(&f, a);
    assert_eq!(
        fx.status(&f, Ioctl::ReqCm, &req_in(c2, qp, 0), 0),
        NtStatus::CONNECTION_ACTIVE
    );
    assert_eq!(
        fx.status(&f, Ioctl::ModifyQp, &modify_in(qp, NDCM_QP_STATE_RESET), 8),
        NtStatus::INVALID_DEVICE_STATE
    );
    assert_eq!(
        fx.status(&f, Ioctl::ModifyQp, &modify_in(qp, NDCM_QP_STATE_INIT), 8),
        NtStatus::INVALID_DEVICE_STATE
    );
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn route_failure_completes_at_once_and_closes() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let c = fx.conn(&f, a);
    let qp = fx.qp_init(&f, a);
    fx.ndi.cm().fail_next_connect(NdiError::HostUnreachable);
    assert_eq!(
        fx.status(&f, Ioctl::ReqCm, &req_in(c, qp, 0), 0),
        NtStatus::HOST_UNREACHABLE
    );
    assert_eq!(fx.ndi.stats().ports, 0, "port released");
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn explicit_local_port_in_use_is_sharing_violation() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let mk = |c, qp| {
        let mut s = req_struct(c, qp, 0);
        s.local.port_be = 40000u16.to_be();
        s.to_bytes().to_vec()
    };
    let c1 = fx.conn(&f, a);
    let q1 = fx.qp_init(&f, a);
    fx.pend(&f, Ioctl::ReqCm, &mk(c1, q1), 0);
    let c2 = fx.conn(&f, a);
    let q2 = fx.qp_init(&f, a);
    assert_eq!(
        fx.status(&f, Ioctl::ReqCm, &mk(c2, q2), 0),
        NtStatus::SHARING_VIOLATION
    );
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn cancelling_connect_aborts_the_cm_exchange_and_unbinds() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let (c, qp, id) = fx.connecting(&f, a);
    let cid = fx.cid_of(c);
    fx.cancel(id);
    assert_eq!(fx.done(id).status, NtStatus::CANCELLED);
    assert!(
        fx.ndi.cm().calls().contains(&CmCall::Destroy(cid)),
        "CM exchange aborted"
    );
    // A late REP finds nothing to complete.
    fx.ndi.on_cm_event(owner(&f, c), rep_event());
    let c2 = fx.conn(&f, a);
    fx.pend(&f, Ioctl::ReqCm, &req_in(c2, qp, 0), 0);
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn cancel_racing_the_rep_completes_once_with_cancelled() {
    // The framework has taken the request out (cancel in flight) when the
    // REP arrives: the event finds nothing, the cancel path completes it.
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let (c, _qp, id) = fx.connecting(&f, a);
    let (o, r, info) = fx.ndi.requests().cancel(id).unwrap();
    fx.ndi.on_cm_event(owner(&f, c), rep_event());
    assert!(
        fx.ndi.requests().completion(id).is_none(),
        "event must not complete it"
    );
    fx.ndi.canceled_on_queue(o, r, info);
    assert_eq!(fx.done(id).status, NtStatus::CANCELLED);
    // The connection was aborted, not left half-open in REP_RCVD.
    assert_eq!(
        fx.status(&f, Ioctl::RtuCm, &handle_in(c), 0),
        NtStatus::CONNECTION_INVALID
    );
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn a_request_cancelled_before_it_is_queued_completes_cancelled_and_undoes() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let c = fx.conn(&f, a);
    let qp = fx.qp_init(&f, a);
    let d = fx.ndi.dispatch(
        &f,
        Ioctl::ReqCm.code(),
        &req_in(c, qp, 0),
        0,
        TestRequest::cancelled(999),
    );
    assert_eq!(
        d,
        Dispatched::Complete {
            status: NtStatus::CANCELLED,
            information: 0
        }
    );
    assert_eq!(fx.ndi.stats().ports, 0);
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn accept_completes_on_rtu_or_established_and_fails_on_rej_or_timeout() {
    for (event, want) in [
        (CmEvent::RtuReceived, NtStatus::SUCCESS),
        (CmEvent::Established, NtStatus::SUCCESS),
        (CmEvent::DreqReceived, NtStatus::SUCCESS),
        (rej_event(28), NtStatus::CONNECTION_ABORTED),
        (CmEvent::RepTimeout, NtStatus::IO_TIMEOUT),
    ] {
        let fx = Fx::new();
        let f = fx.ndi.open();
        let a = fx.adapter(&f);
        let (_l, c) = fx.req_rcvd(&f, a, 5000);
        // Peer's REQ pdata (56 bytes, header stripped) is readable.
        let out = fx.ok(&f, Ioctl::CepGetPdata, &handle_in(c), 16 + 56);
        assert_eq!(&out[16..], &[5u8; 56][..]);
        let qp = fx.qp_init(&f, a);
        let id = fx.pend(&f, Ioctl::RepCm, &rep_in(c, qp, 0), 0);
        let cid = fx.cid_of(c);
        // Limits = min(asked 100, peer's offer, adapter max): (2, 4).
        assert!(
            fx.ndi
                .cm()
                .calls()
                .contains(&CmCall::Accept(cid, 0x100, 2, 4, vec![]))
        );
        fx.ndi.on_cm_event(owner(&f, c), event);
        assert_eq!(fx.done(id).status, want, "{event:?}");
        fx.ndi.close(&f);
        fx.assert_nothing_leaked();
    }
}

#[test]
fn accept_after_peer_abort_is_connection_aborted() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let (_l, c) = fx.req_rcvd(&f, a, 5000);
    fx.ndi.on_cm_event(owner(&f, c), rej_event(28));
    let qp = fx.qp_init(&f, a);
    assert_eq!(
        fx.status(&f, Ioctl::RepCm, &rep_in(c, qp, 0), 0),
        NtStatus::CONNECTION_ABORTED
    );
    assert_eq!(
        fx.status(&f, Ioctl::RejCm, &rej_in(c, 0), 0),
        NtStatus::CONNECTION_ABORTED
    );
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn cancelling_accept_rejects_and_flushes_the_qp() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let (_l, c) = fx.req_rcvd(&f, a, 5000);
    let qp = fx.qp_init(&f, a);
    let id = fx.pend(&f, Ioctl::RepCm, &rep_in(c, qp, 0), 0);
    let cid = fx.cid_of(c);
    fx.cancel(id);
    assert_eq!(fx.done(id).status, NtStatus::CANCELLED);
    assert!(
        fx.ndi
            .cm()
            .calls()
            .contains(&CmCall::Reject(cid, 28, vec![]))
    );
    // QP is in ERROR with a timewait stamp: INIT refused even after RESET.
    fx.ok(&f, Ioctl::ModifyQp, &modify_in(qp, NDCM_QP_STATE_RESET), 8);
    assert_eq!(
        fx.status(&f, Ioctl::ModifyQp, &modify_in(qp, NDCM_QP_STATE_INIT), 8),
        NtStatus::INVALID_DEVICE_STATE
    );
    fx.ndi
        .platform()
        .advance(ndcm_cm::platform::Duration::from_millis(2));
    fx.ok(&f, Ioctl::ModifyQp, &modify_in(qp, NDCM_QP_STATE_INIT), 8);
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn accept_refused_by_the_cm_after_the_bind_unbinds_and_completes_once() {
    // The seed's path: REP_CM binds the QP, then the CM refuses the REP
    // (the connection left REQ_RCVD after NDI checked its state: a REJ or
    // a timeout arrived, or it was destroyed). The slot returns to
    // Invalid, the binding (the QP reference) is dropped, the request
    // completes once, and the QP is bindable again after its timewait.
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let (_l, c) = fx.req_rcvd(&f, a, 5000);
    let qp = fx.qp_init(&f, a);
    let cid = fx.cid_of(c);
    fx.ndi.cm().fail_next_accept(NdiError::ConnectionInvalid);
    let (id, d) = fx.call(&f, Ioctl::RepCm, &rep_in(c, qp, 0), 0);
    assert!(
        matches!(d, Dispatched::Complete { status, .. } if status == NtStatus::CONNECTION_ABORTED),
        "{d:?}"
    );
    let once = fx.ndi.requests().completions();
    assert_eq!(once.iter().filter(|x| x.id == id).count(), 1);
    let view = fx.ndi.qp_view(&f, qp).expect("QP");
    assert_eq!(view.slot, ndcm_cm::CidSlot::Invalid);
    assert_eq!(view.bound_to, None);
    assert_eq!(view.bindings, 0, "the QP reference was dropped");
    assert_eq!(
        view.state,
        ndcm_cm::QpState::Err,
        "the bind moved it; flushed"
    );
    assert_eq!(fx.ndi.audit_qp_bindings(&f), Ok(0));
    // The CM connection is gone and the connection is CLOSED.
    assert!(fx.ndi.cm().calls().contains(&CmCall::Destroy(cid)));
    assert_eq!(
        fx.status(&f, Ioctl::RepCm, &rep_in(c, qp, 0), 0),
        NtStatus::CONNECTION_ACTIVE
    );
    // Free again: RESET now, INIT after the timewait, then another bind.
    fx.ok(&f, Ioctl::ModifyQp, &modify_in(qp, NDCM_QP_STATE_RESET), 8);
    fx.ndi
        .platform()
        .advance(ndcm_cm::platform::Duration::from_millis(2));
    fx.ok(&f, Ioctl::ModifyQp, &modify_in(qp, NDCM_QP_STATE_INIT), 8);
    let (_l2, c2) = fx.req_rcvd(&f, a, 5001);
    let again = fx.pend(&f, Ioctl::RepCm, &rep_in(c2, qp, 0), 0);
    assert_eq!(fx.ndi.audit_qp_bindings(&f), Ok(1));
    fx.ndi.close(&f);
    assert_eq!(fx.done(again).status, NtStatus::CANCELLED);
    fx.assert_nothing_leaked();
}

#[test]
fn disconnect_and_notify_follow_the_spec_table() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    // Peer disconnects first: NOTIFY completes SUCCESS, the QP is left alone,
    // then DREQ_CM answers with a DREP at once.
    let (c, _qp) = fx.connected(&f, a);
    let n1 = fx.pend(&f, Ioctl::NotifyDreq, &handle_in(c), 0);
    let n2 = fx.pend(&f, Ioctl::NotifyDreq, &handle_in(c), 0);
    fx.ndi.on_cm_event(owner(&f, c), CmEvent::DreqReceived);
    assert_eq!(fx.done(n1).status, NtStatus::SUCCESS);
    assert_eq!(fx.done(n2).status, NtStatus::SUCCESS);
    assert_eq!(
        fx.status(&f, Ioctl::NotifyDreq, &handle_in(c), 0),
        NtStatus::SUCCESS
    );
    let cid = fx.cid_of(c);
    fx.ok(&f, Ioctl::DreqCm, &handle_in(c), 0);
    assert!(fx.ndi.cm().calls().contains(&CmCall::Drep(cid)));
    assert_eq!(
        fx.status(&f, Ioctl::NotifyDreq, &handle_in(c), 0),
        NtStatus::SUCCESS
    );
    // Local disconnect: a second DREQ_CM is INVALID_DEVICE_STATE, NOTIFY is
    // CONNECTION_DISCONNECTED; DREQ timeout still completes SUCCESS.
    let (c, _qp) = fx.connected(&f, a);
    let d = fx.pend(&f, Ioctl::DreqCm, &handle_in(c), 0);
    assert_eq!(
        fx.status(&f, Ioctl::DreqCm, &handle_in(c), 0),
        NtStatus::INVALID_DEVICE_STATE
    );
    assert_eq!(
        fx.status(&f, Ioctl::NotifyDreq, &handle_in(c), 0),
        NtStatus::CONNECTION_DISCONNECTED
    );
    fx.ndi.on_cm_event(owner(&f, c), CmEvent::DreqTimeout);
    assert_eq!(fx.done(d).status, NtStatus::SUCCESS);
    assert_eq!(
        fx.status(&f, Ioctl::NotifyDreq, &handle_in(c), 0),
        NtStatus::CONNECTION_DISCONNECTED
    );
    // Cancelling a disconnect: CANCELLED, the CM disconnect goes on.
    let (c, _qp) = fx.connected(&f, a);
    let d = fx.pend(&f, Ioctl::DreqCm, &handle_in(c), 0);
    fx.cancel(d);
    assert_eq!(fx.done(d).status, NtStatus::CANCELLED);
    fx.ndi.on_cm_event(owner(&f, c), CmEvent::DrepReceived);
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn get_connection_request_uses_the_backlog_then_fifo_and_cancels_back_to_idle() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let (l, port) = fx.listen(&f, a, 0);
    assert!(port >= 49152, "port 0 allocates an ephemeral port");
    // REQ before any GET_REQ: parked, taken at once by the next GET_REQ.
    fx.incoming_req(&f, l, req_info());
    let c1 = fx.conn(&f, a);
    fx.ok(&f, Ioctl::GetReqCm, &get_req_in(l, c1), 0);
    assert_eq!(
        fx.status(&f, Ioctl::GetReqCm, &get_req_in(l, c1), 0),
        NtStatus::CONNECTION_ACTIVE
    );
    // Two pending: FIFO.
    let c2 = fx.conn(&f, a);
    let c3 = fx.conn(&f, a);
    let g2 = fx.pend(&f, Ioctl::GetReqCm, &get_req_in(l, c2), 0);
    let g3 = fx.pend(&f, Ioctl::GetReqCm, &get_req_in(l, c3), 0);
    // A target of a pending GET_REQ cannot connect.
    let qp = fx.qp_init(&f, a);
    assert_eq!(
        fx.status(&f, Ioctl::ReqCm, &req_in(c3, qp, 0), 0),
        NtStatus::CONNECTION_ACTIVE
    );
    fx.incoming_req(&f, l, req_info());
    assert_eq!(fx.done(g2).status, NtStatus::SUCCESS);
    assert!(fx.ndi.requests().completion(g3).is_none());
    fx.cancel(g3);
    assert_eq!(fx.done(g3).status, NtStatus::CANCELLED);
    // c3 is IDLE again: it can connect.
    fx.pend(&f, Ioctl::ReqCm, &req_in(c3, qp, 0), 0);
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn destroying_the_target_of_a_get_req_cancels_it_at_once() {
    // spec §9.1: DESTROY_CEP completes every pending request of the object
    // with CANCELLED, the GET_REQ_CM pended on a listener for it included;
    // the next REQ goes to the next waiting GET_REQ_CM.
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let (l, _) = fx.listen(&f, a, 5000);
    let (c1, c2) = (fx.conn(&f, a), fx.conn(&f, a));
    let g1 = fx.pend(&f, Ioctl::GetReqCm, &get_req_in(l, c1), 0);
    let g2 = fx.pend(&f, Ioctl::GetReqCm, &get_req_in(l, c2), 0);
    fx.ok(&f, Ioctl::DestroyCep, &handle_in(c1), 0);
    assert_eq!(fx.done(g1).status, NtStatus::CANCELLED);
    assert!(fx.ndi.requests().completion(g2).is_none());
    fx.incoming_req(&f, l, req_info());
    assert_eq!(fx.done(g2).status, NtStatus::SUCCESS);
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn full_backlog_rejects_with_no_resources() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let (l, _) = fx.listen(&f, a, 5000); // backlog 2
    let cids: Vec<_> = (0..3).map(|_| fx.ndi.cm().incoming()).collect();
    for cid in &cids {
        fx.ndi.on_cm_event(
            owner(&f, l),
            CmEvent::ReqReceived {
                cid: *cid,
                req: req_info(),
            },
        );
    }
    assert!(
        fx.ndi
            .cm()
            .calls()
            .contains(&CmCall::Reject(cids[2], 3, vec![]))
    );
    // Listener destroy rejects the untaken ones (REJ 28) and frees them.
    fx.ok(&f, Ioctl::DestroyCep, &handle_in(l), 0);
    assert!(
        fx.ndi
            .cm()
            .calls()
            .contains(&CmCall::Reject(cids[0], 28, vec![]))
    );
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn cancel_cm_irps_cancels_every_kind_but_keeps_the_object() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let (c, _qp) = fx.connected(&f, a);
    let n = fx.pend(&f, Ioctl::NotifyDreq, &handle_in(c), 0);
    fx.ok(&f, Ioctl::CancelCmIrps, &handle_in(c), 0);
    assert_eq!(fx.done(n).status, NtStatus::CANCELLED);
    // The connection is still there and still connected.
    fx.pend(&f, Ioctl::NotifyDreq, &handle_in(c), 0);
    let (l, _) = fx.listen(&f, a, 5000);
    let c2 = fx.conn(&f, a);
    let g = fx.pend(&f, Ioctl::GetReqCm, &get_req_in(l, c2), 0);
    fx.ok(&f, Ioctl::CancelCmIrps, &handle_in(l), 0);
    assert_eq!(fx.done(g).status, NtStatus::CANCELLED);
    fx.pend(&f, Ioctl::GetReqCm, &get_req_in(l, c2), 0);
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn destroying_the_qp_aborts_its_connection_at_every_step() {
    // S4: connecting, accepting, connected (with NOTIFY), disconnecting.
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let (c, qp, id) = fx.connecting(&f, a);
    fx.ok(&f, Ioctl::DestroyQp, &handle_in(qp), 0);
    assert_eq!(fx.done(id).status, NtStatus::CANCELLED);
    assert_eq!(
        fx.status(&f, Ioctl::RtuCm, &handle_in(c), 0),
        NtStatus::CONNECTION_INVALID
    );

    let (_l, c) = fx.req_rcvd(&f, a, 5000);
    let qp = fx.qp_init(&f, a);
    let id = fx.pend(&f, Ioctl::RepCm, &rep_in(c, qp, 0), 0);
    fx.ok(&f, Ioctl::DestroyQp, &handle_in(qp), 0);
    assert_eq!(fx.done(id).status, NtStatus::CANCELLED);
    fx.ndi.on_cm_event(owner(&f, c), CmEvent::RtuReceived); // late: nothing

    let (c, qp) = fx.connected(&f, a);
    let n = fx.pend(&f, Ioctl::NotifyDreq, &handle_in(c), 0);
    let d = fx.pend(&f, Ioctl::DreqCm, &handle_in(c), 0);
    fx.ok(&f, Ioctl::DestroyQp, &handle_in(qp), 0);
    assert_eq!(fx.done(n).status, NtStatus::CONNECTION_DISCONNECTED);
    assert_eq!(fx.done(d).status, NtStatus::CANCELLED);
    assert_eq!(
        fx.status(&f, Ioctl::DestroyQp, &handle_in(qp), 0),
        NtStatus::INVALID_HANDLE
    );
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn closing_the_file_completes_everything_once_and_releases_everything() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let (_c, _qp, req) = fx.connecting(&f, a);
    let (l, c) = fx.req_rcvd(&f, a, 5000);
    let qp = fx.qp_init(&f, a);
    let rep = fx.pend(&f, Ioctl::RepCm, &rep_in(c, qp, 0), 0);
    let c2 = fx.conn(&f, a);
    let get = fx.pend(&f, Ioctl::GetReqCm, &get_req_in(l, c2), 0);
    let cid = fx.ndi.cm().incoming();
    let c3 = fx.conn(&f, a);
    let get2 = fx.pend(&f, Ioctl::GetReqCm, &get_req_in(l, c3), 0);
    fx.ndi.on_cm_event(
        owner(&f, l),
        CmEvent::ReqReceived {
            cid,
            req: req_info(),
        },
    );
    let (cc, _) = fx.connected(&f, a);
    let notify = fx.pend(&f, Ioctl::NotifyDreq, &handle_in(cc), 0);
    let mad = fx.pend(&f, Ioctl::MadGetOutbound, &hdr().to_bytes(), 288);
    fx.ndi.close(&f);
    for id in [req, rep, get2, notify, mad] {
        assert_eq!(fx.done(id).status, NtStatus::CANCELLED, "request {id}");
    }
    assert_eq!(fx.done(get).status, NtStatus::SUCCESS);
    // After close: new requests are CANCELLED, events and cancels are harmless.
    assert_eq!(
        fx.status(&f, Ioctl::Noop, &hdr().to_bytes(), 0),
        NtStatus::CANCELLED
    );
    fx.ndi.on_cm_event(owner(&f, cc), CmEvent::DreqReceived);
    fx.incoming_req(&f, l, req_info());
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
    assert_eq!(fx.ndi.file_objects(&f), (0, 0, 0, 0));
}

#[test]
fn get_pdata_overflow_copies_what_fits_and_reports_the_size() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let (c, _qp, _id) = fx.connecting(&f, a);
    fx.ndi.on_cm_event(owner(&f, c), rep_event());
    let (id, d) = fx.call(&f, Ioctl::CepGetPdata, &handle_in(c), 16 + 10);
    assert_eq!(
        d,
        Dispatched::Complete {
            status: NtStatus::BUFFER_OVERFLOW,
            information: 26
        }
    );
    let out = fx.done(id).output;
    assert_eq!(NdcmGetPdataOut::read(&out, 0).unwrap().length, 196);
    assert_eq!(&out[16..], &[7u8; 10][..]);
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn complete_connect_after_the_peer_gave_up_is_io_timeout_or_aborted() {
    for (reason, want) in [
        (4, NtStatus::IO_TIMEOUT),
        (28, NtStatus::CONNECTION_ABORTED),
    ] {
        let fx = Fx::new();
        let f = fx.ndi.open();
        let a = fx.adapter(&f);
        let (c, _qp, id) = fx.connecting(&f, a);
        fx.ndi.on_cm_event(owner(&f, c), rep_event());
        assert_eq!(fx.done(id).status, NtStatus::SUCCESS);
        fx.ndi.on_cm_event(owner(&f, c), rej_event(reason));
        assert_eq!(
            fx.status(&f, Ioctl::RtuCm, &handle_in(c), 0),
            want,
            "REJ {reason}"
        );
        fx.ndi.close(&f);
        fx.assert_nothing_leaked();
    }
}
