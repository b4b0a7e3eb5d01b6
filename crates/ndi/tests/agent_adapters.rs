//! The MAD agent's adapters and authority (docs/NDI-agent.md): adapters
//! exist only while an agent file registered them; the agent's close
//! withdraws them with the specified consequences; the agent IOCTLs are for
//! administrators and SYSTEM only; one user cannot reach another's objects.

mod common;
use common::*;
use ndcm_ndi::abi::*;
use ndcm_ndi::testing::CmCall;
use ndcm_ndi::{Caller, Dispatched};

const ALICE: Caller = Caller::user(1001);
const BOB: Caller = Caller::user(1002);

fn open_in(fx: &Fx, f: &TestFile, index: u32) -> NtStatus {
    fx.status(
        f,
        Ioctl::OpenAdapter,
        &open_adapter_in(index),
        NdcmOpenAdapterOut::SIZE,
    )
}

/// register → open → listen / connect / accept → the agent's file closes
/// → every consequence of §4 → a restarted agent registers again and the
/// application carries on.
#[test]
fn adapter_lifecycle_register_use_agent_close_and_re_register() {
    let fx = Fx::agentless();
    let app = fx.ndi.open_as(ALICE);
    // No agent: no adapter.
    assert_eq!(open_in(&fx, &app, 0), NtStatus::INVALID_DEVICE_STATE);

    let agent = fx.ndi.open_as(Caller::SYSTEM);
    assert_eq!(fx.register(&agent), 0);
    let view = fx.ndi.adapters_view();
    assert_eq!(view.len(), 1);
    assert_eq!(view[0].owner, Some(agent.id()));
    let a = fx.adapter(&app);

    // A listener with a GET_REQ_CM pending, a connection with REQ_CM
    // pending, an established connection with NOTIFY_DREQ pending, a
    // passive connection in REQ_RCVD and an idle connector.
    let (l, _) = fx.listen(&app, a, 5000);
    let target = fx.conn(&app, a);
    let get_req = fx.pend(&app, Ioctl::GetReqCm, &get_req_in(l, target), 0);
    let (connecting, qp1, req) = fx.connecting(&app, a);
    let cid_connecting = fx.cid_of(connecting);
    let (established, qp2) = fx.connected(&app, a);
    let notify = fx.pend(&app, Ioctl::NotifyDreq, &handle_in(established), 0);
    let (_l2, passive) = fx.req_rcvd(&app, a, 5001);
    let idle = fx.conn(&app, a);
    assert!(fx.ndi.stats().ports >= 3);

    // The agent goes away (its process died: the file's cleanup).
    fx.ndi.close(&agent);
    assert!(fx.ndi.adapters_view().is_empty());
    // Listeners: destroyed; their GET_REQ_CM → CANCELLED.
    assert_eq!(fx.done(get_req).status, NtStatus::CANCELLED);
    assert_eq!(
        fx.status(&app, Ioctl::DestroyCep, &handle_in(l), 0),
        NtStatus::INVALID_HANDLE
    );
    // Connections past IDLE: aborted; pending requests → CONNECTION_ABORTED.
    assert_eq!(fx.done(req).status, NtStatus::CONNECTION_ABORTED);
    assert_eq!(fx.done(notify).status, NtStatus::CONNECTION_ABORTED);
    assert!(
        fx.ndi
            .cm()
            .calls()
            .contains(&CmCall::Destroy(cid_connecting))
    );
    // Their QPs are unbound (ERROR once past INIT, spec/NDI.md §8), the
    // ports released.
    for (qp, state) in [
        (qp1, ndcm_cm::qp::QpState::Init),
        (qp2, ndcm_cm::qp::QpState::Err),
    ] {
        let v = fx.ndi.qp_view(&app, qp).expect("the QP handle stays valid");
        assert_eq!(v.bindings, 0);
        assert_eq!(v.state, state);
    }
    fx.ndi.audit_qp_bindings(&app).expect("S2/S3 hold");
    assert_eq!(
        fx.ndi.stats().ports,
        0,
        "every port of the adapter released"
    );
    assert_eq!(fx.ndi.cm().live(), 0, "no CM connection left");
    // The aborted connections' handles stay valid until DESTROY_CEP.
    for c in [connecting, established, passive, target] {
        assert_eq!(
            fx.status(&app, Ioctl::DestroyCep, &handle_in(c), 0),
            NtStatus::SUCCESS
        );
    }
    // The withdrawn adapter's handle: DEVICE_REMOVED; OPEN_ADAPTER: no adapter.
    assert_eq!(
        fx.status(&app, Ioctl::CreateCep, &handle_in(a), 8),
        NtStatus::DEVICE_REMOVED
    );
    assert_eq!(
        fx.status(&app, Ioctl::CreateQp, &create_qp_struct(a).to_bytes(), 16),
        NtStatus::DEVICE_REMOVED
    );
    let qp3 = {
        // A QP made before the withdrawal still takes commands.
        fx.ok(
            &app,
            Ioctl::ModifyQp,
            &modify_in(qp1, NDCM_QP_STATE_RESET),
            8,
        );
        fx.ok(
            &app,
            Ioctl::ModifyQp,
            &modify_in(qp1, NDCM_QP_STATE_INIT),
            8,
        );
        qp1
    };
    assert_eq!(
        fx.status(&app, Ioctl::ReqCm, &req_in(idle, qp3, 0), 0),
        NtStatus::DEVICE_REMOVED
    );
    assert_eq!(open_in(&fx, &app, 0), NtStatus::INVALID_DEVICE_STATE);

    // A restarted agent registers the same addresses again, at index 0.
    let agent2 = fx.ndi.open_as(Caller::administrator(500));
    assert_eq!(fx.register(&agent2), 0);
    // The old handle never reaches the new adapter (generation).
    assert_eq!(
        fx.status(&app, Ioctl::CreateCep, &handle_in(a), 8),
        NtStatus::DEVICE_REMOVED
    );
    let a2 = fx.adapter(&app);
    let _ = fx.listen(&app, a2, 5000);
    fx.ndi.close(&app);
    fx.ndi.close(&agent2);
    assert!(fx.ndi.adapters_view().is_empty());
    fx.assert_nothing_leaked();
}

/// WITHDRAW_ADAPTER has the same consequences as the close, for that
/// adapter only; only its owner may withdraw it; one agent per address.
#[test]
fn withdraw_ownership_and_one_agent_per_address() {
    let fx = Fx::agentless();
    let agent = fx.ndi.open_as(Caller::SYSTEM);
    let other = fx.ndi.open_as(Caller::administrator(7));
    assert_eq!(fx.register(&agent), 0);
    // The same address from another agent (or again): SHARING_VIOLATION.
    for f in [&other, &agent] {
        assert_eq!(
            fx.status(f, Ioctl::RegisterAdapter, &register_in(&[v4(LOCAL4, 0)]), 8),
            NtStatus::SHARING_VIOLATION
        );
    }
    let second = register_in(&[v4([10, 0, 0, 9], 0)]);
    let out = fx.ok(&other, Ioctl::RegisterAdapter, &second, 8);
    assert_eq!(
        NdcmRegisterAdapterOut::read(&out, 0).unwrap().adapter_index,
        1
    );
    // Another agent's adapter: ACCESS_DENIED; nothing there: INVALID_PARAMETER.
    assert_eq!(
        fx.status(&other, Ioctl::WithdrawAdapter, &withdraw_in(0), 0),
        NtStatus::ACCESS_DENIED
    );
    assert_eq!(
        fx.status(&other, Ioctl::WithdrawAdapter, &withdraw_in(5), 0),
        NtStatus::INVALID_PARAMETER
    );
    let app = fx.ndi.open_as(ALICE);
    let a = fx.adapter(&app);
    let (_c, _qp, req) = fx.connecting(&app, a);
    fx.ok(&agent, Ioctl::WithdrawAdapter, &withdraw_in(0), 0);
    assert_eq!(fx.done(req).status, NtStatus::CONNECTION_ABORTED);
    assert_eq!(fx.ndi.adapters_view().len(), 1, "the other agent's stays");
    assert_eq!(open_in(&fx, &app, 1), NtStatus::SUCCESS);
    // Malformed registrations change nothing.
    for (input, want) in [
        (register_in(&[]), NtStatus::INVALID_PARAMETER),
        (register_in(&[v4([0; 4], 0)]), NtStatus::INVALID_PARAMETER),
        (
            register_in(&[v4([10, 1, 1, 1], 80)]),
            NtStatus::INVALID_PARAMETER,
        ),
        (
            register_in(&[v4([10, 1, 1, 1], 0), v4([10, 1, 1, 1], 0)]),
            NtStatus::INVALID_PARAMETER,
        ),
        (
            with_tail(&register_in(&[v4([10, 1, 1, 1], 0)]), 1),
            NtStatus::INVALID_PARAMETER,
        ),
    ] {
        assert_eq!(fx.status(&agent, Ioctl::RegisterAdapter, &input, 8), want);
    }
    let mut bad_mtu = register_in(&[v4([10, 1, 1, 1], 0)]);
    bad_mtu[28] = 0x99;
    assert_eq!(
        fx.status(&agent, Ioctl::RegisterAdapter, &bad_mtu, 8),
        NtStatus::INVALID_PARAMETER
    );
    assert_eq!(fx.ndi.adapters_view().len(), 1);
    for f in [app, agent, other] {
        fx.ndi.close(&f);
    }
    fx.assert_nothing_leaked();
}

/// The authority matrix: caller × agent IOCTL → status. A non-administrator
/// gets ACCESS_DENIED before any input is read, and nothing changes.
#[test]
fn agent_ioctls_are_for_administrators_and_system_only() {
    let fx = Fx::agentless();
    let agent = fx.ndi.open_as(Caller::SYSTEM);
    assert_eq!(fx.register(&agent), 0);
    let mad = {
        let mut m = [0u8; 256];
        m[0] = 1;
        m[1] = 0x07;
        NdcmMadSubmitIn {
            header: hdr(),
            address: NdcmMadAddress {
                gid: [0; 16],
                qpn: 1,
                qkey: 0x8001_0000,
                pkey_index: 0,
                port: 1,
                reserved0: 0,
                reserved1: 0,
            },
            mad: m,
        }
        .to_bytes()
        .to_vec()
    };
    let cases: [(Ioctl, Vec<u8>, usize); 4] = [
        (
            Ioctl::MadGetOutbound,
            hdr().to_bytes().to_vec(),
            NdcmMadEnvelope::SIZE,
        ),
        (Ioctl::MadSubmitInbound, mad, 0),
        (
            Ioctl::RegisterAdapter,
            register_in(&[v4([10, 7, 7, 7], 0)]),
            8,
        ),
        (Ioctl::WithdrawAdapter, withdraw_in(0), 0),
    ];
    for caller in [ALICE, BOB, Caller::user(0)] {
        let f = fx.ndi.open_as(caller);
        for (op, input, out) in &cases {
            let before = (
                fx.ndi.adapters_view(),
                fx.ndi.cm().calls().len(),
                fx.ndi.requests().queued(),
            );
            let (id, d) = fx.call(&f, *op, input, *out);
            assert_eq!(
                d,
                Dispatched::Complete {
                    status: NtStatus::ACCESS_DENIED,
                    information: 0
                },
                "{caller:?} {op:?}"
            );
            assert_eq!(fx.done(id).status, NtStatus::ACCESS_DENIED);
            let after = (
                fx.ndi.adapters_view(),
                fx.ndi.cm().calls().len(),
                fx.ndi.requests().queued(),
            );
            assert_eq!(before, after, "{caller:?} {op:?} changed state");
        }
        // Even garbage input is refused for the caller, not the bytes.
        assert_eq!(
            fx.status(&f, Ioctl::RegisterAdapter, &[0xFF; 3], 8),
            NtStatus::ACCESS_DENIED
        );
        fx.ndi.close(&f);
    }
    // Administrators and SYSTEM: the same calls do their work.
    for caller in [Caller::SYSTEM, Caller::administrator(500)] {
        let f = fx.ndi.open_as(caller);
        let get = fx.pend(
            &f,
            Ioctl::MadGetOutbound,
            &cases[0].1,
            NdcmMadEnvelope::SIZE,
        );
        assert_eq!(
            fx.status(&f, Ioctl::MadSubmitInbound, &cases[1].1, 0),
            NtStatus::SUCCESS
        );
        let out = fx.ok(&f, Ioctl::RegisterAdapter, &cases[2].1, 8);
        let index = NdcmRegisterAdapterOut::read(&out, 0).unwrap().adapter_index;
        fx.ok(&f, Ioctl::WithdrawAdapter, &withdraw_in(index), 0);
        fx.ndi.close(&f);
        assert_eq!(fx.done(get).status, NtStatus::CANCELLED);
    }
    // The ordinary IOCTLs stay open to everyone.
    let f = fx.ndi.open_as(BOB);
    assert_eq!(open_in(&fx, &f, 0), NtStatus::SUCCESS);
    fx.ndi.close(&f);
    fx.ndi.close(&agent);
    fx.assert_nothing_leaked();
}

/// Isolation between users (S8): Bob cannot read Alice's MADs (no agent
/// role), her private data or her handles, cannot forge a MAD, cannot
/// bind her port.
#[test]
fn one_user_cannot_reach_anothers_objects_mads_or_ports() {
    let fx = Fx::agentless();
    let agent = fx.ndi.open_as(Caller::SYSTEM);
    fx.register(&agent);
    let alice = fx.ndi.open_as(ALICE);
    let bob = fx.ndi.open_as(BOB);
    let a = fx.adapter(&alice);
    let b = fx.adapter(&bob);
    let (l, port) = fx.listen(&alice, a, 6000);
    let (c, qp) = fx.connected(&alice, a);
    // Her handles in his calls: INVALID_HANDLE (his own kinds exist too).
    let _ = fx.conn(&bob, b);
    for (op, input, out) in [
        (
            Ioctl::CepGetPdata,
            handle_in(c),
            NdcmGetPdataOut::SIZE + 196,
        ),
        (Ioctl::CepGetAddress, handle_in(c), NdcmGetAddressOut::SIZE),
        (Ioctl::DreqCm, handle_in(c), 0),
        (Ioctl::DestroyCep, handle_in(l), 0),
        (Ioctl::DestroyQp, handle_in(qp), 0),
        (Ioctl::CreateCep, handle_in(a), 8),
    ] {
        assert_eq!(
            fx.status(&bob, op, &input, out),
            NtStatus::INVALID_HANDLE,
            "{op:?}"
        );
    }
    // Her port is hers.
    assert_eq!(
        fx.status(
            &bob,
            Ioctl::ListenCm,
            &listen_struct(b, port).to_bytes(),
            16
        ),
        NtStatus::SHARING_VIOLATION
    );
    // Her MADs and forged ones: the agent role is not his.
    assert_eq!(
        fx.status(
            &bob,
            Ioctl::MadGetOutbound,
            &hdr().to_bytes(),
            NdcmMadEnvelope::SIZE
        ),
        NtStatus::ACCESS_DENIED
    );
    let calls = fx.ndi.cm().calls().len();
    let forged = NdcmMadSubmitIn {
        header: hdr(),
        address: NdcmMadAddress {
            gid: [0; 16],
            qpn: 1,
            qkey: 0x8001_0000,
            pkey_index: 0,
            port: 1,
            reserved0: 0,
            reserved1: 0,
        },
        mad: [1; 256],
    };
    assert_eq!(
        fx.status(&bob, Ioctl::MadSubmitInbound, &forged.to_bytes(), 0),
        NtStatus::ACCESS_DENIED
    );
    assert_eq!(fx.ndi.cm().calls().len(), calls, "no MAD reached the CM");
    // Her connection is untouched.
    let pdata = fx.ok(
        &alice,
        Ioctl::CepGetPdata,
        &handle_in(c),
        NdcmGetPdataOut::SIZE + 196,
    );
    assert_eq!(&pdata[16..], &[7u8; 196][..]);
    for f in [bob, alice, agent] {
        fx.ndi.close(&f);
    }
    fx.assert_nothing_leaked();
}
