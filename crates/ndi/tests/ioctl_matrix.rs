//! For every IOCTL: the success path, every validation failure with its
//! precise NTSTATUS (spec/NDI.md §1, §5), that a failure changes nothing,
//! and that another file's handles are STATUS_INVALID_HANDLE (S8).

mod common;
use common::*;
use ndcm_ndi::abi::*;
use ndcm_ndi::cm_port::CmEvent;
use ndcm_ndi::{Dispatched, NdiError};

/// A file with one of everything, and a second file with its own.
struct World {
    fx: Fx,
    f: TestFile,
    f2: TestFile,
    adapter: u64,
    qp: u64,
    conn: u64,
    listener: u64,
}

fn world() -> World {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let f2 = fx.ndi.open();
    let adapter = fx.adapter(&f);
    let qp = fx.qp_init(&f, adapter);
    let conn = fx.conn(&f, adapter);
    let (listener, _) = fx.listen(&f, adapter, 5000);
    // The second file owns objects of every kind too, so a handle mix-up
    // would find something if handles were not per file.
    let a2 = fx.adapter(&f2);
    let _ = fx.qp_init(&f2, a2);
    let _ = fx.conn(&f2, a2);
    let _ = fx.listen(&f2, a2, 5001);
    World {
        fx,
        f,
        f2,
        adapter,
        qp,
        conn,
        listener,
    }
}

/// A valid input and output length for `op` in a fresh world.
fn valid(op: Ioctl, w: &World) -> (Vec<u8>, usize) {
    match op {
        Ioctl::Noop => (hdr().to_bytes().to_vec(), 0),
        Ioctl::OpenAdapter => (
            NdcmOpenAdapterIn {
                header: hdr(),
                adapter_index: 0,
                reserved: 0,
            }
            .to_bytes()
            .to_vec(),
            NdcmOpenAdapterOut::SIZE,
        ),
        Ioctl::CreateQp => (
            create_qp_struct(w.adapter).to_bytes().to_vec(),
            NdcmCreateQpOut::SIZE,
        ),
        Ioctl::DestroyQp => (handle_in(w.qp), 0),
        Ioctl::ModifyQp => (modify_in(w.qp, NDCM_QP_STATE_ERROR), 8),
        Ioctl::CreateCep => (handle_in(w.adapter), 8),
        Ioctl::DestroyCep => (handle_in(w.conn), 0),
        Ioctl::CepGetPdata => (handle_in(w.conn), NdcmGetPdataOut::SIZE),
        Ioctl::ListenCm => (
            listen_struct(w.adapter, 6000).to_bytes().to_vec(),
            NdcmListenOut::SIZE,
        ),
        Ioctl::GetReqCm => (get_req_in(w.listener, w.conn), 0),
        Ioctl::ReqCm => (req_in(w.conn, w.qp, 8), 0),
        Ioctl::RepCm => (rep_in(w.conn, w.qp, 8), 0),
        Ioctl::RtuCm => (handle_in(w.conn), 0),
        Ioctl::RejCm => (rej_in(w.conn, 4), 0),
        Ioctl::DreqCm => (handle_in(w.conn), 0),
        Ioctl::NotifyDreq => (handle_in(w.conn), 0),
        Ioctl::CancelCmIrps => (handle_in(w.conn), 0),
        Ioctl::CepGetAddress => (handle_in(w.conn), NdcmGetAddressOut::SIZE),
        Ioctl::MadGetOutbound => (hdr().to_bytes().to_vec(), NdcmMadEnvelope::SIZE),
        Ioctl::MadSubmitInbound => (mad_in(1, 0x07), 0),
        Ioctl::RegisterAdapter => (register_in(&[v4([10, 9, 9, 9], 0)]), 8),
        Ioctl::WithdrawAdapter => (withdraw_in(0), 0),
    }
}

fn mad_in(port: u8, class: u8) -> Vec<u8> {
    let mut mad = [0u8; 256];
    mad[0] = 1;
    mad[1] = class;
    NdcmMadSubmitIn {
        header: hdr(),
        address: NdcmMadAddress {
            gid: [0; 16],
            qpn: 1,
            qkey: 0x8001_0000,
            pkey_index: 0,
            port,
            reserved0: 0,
            reserved1: 0,
        },
        mad,
    }
    .to_bytes()
    .to_vec()
}

/// What the world looks like from outside, to show a failure changed nothing.
fn snapshot(w: &World) -> impl PartialEq + std::fmt::Debug {
    (
        w.fx.ndi.file_objects(&w.f),
        w.fx.ndi.file_objects(&w.f2),
        w.fx.ndi.cm().calls().len(),
        w.fx.ndi.requests().queued(),
        w.fx.ndi.requests().completions().len(),
        w.fx.ndi.stats(),
    )
}

/// Runs `input` on `file` and checks the status, that it completed with
/// Information 0, and that nothing else changed.
fn expect_fail(
    w: &World,
    on_second: bool,
    op_code: u32,
    input: &[u8],
    out: usize,
    want: NtStatus,
    case: &str,
) {
    let before = snapshot(w);
    let file = if on_second { &w.f2 } else { &w.f };
    let (id, d) = w.fx.call_code(file, op_code, input, out);
    assert_eq!(
        d,
        Dispatched::Complete {
            status: want,
            information: 0
        },
        "{case}"
    );
    assert_eq!(w.fx.done(id).status, want, "{case}");
    // The failed request's own completion is the only new one.
    let after_calls = w.fx.ndi.requests().completions().len();
    let mut b = format!("{before:?}");
    let a = format!("{:?}", snapshot(w));
    // Replace the completion count, which grows by exactly one.
    b = b.replace(
        &format!(", {}, NdiStats", after_calls - 1),
        &format!(", {after_calls}, NdiStats"),
    );
    assert_eq!(a, b, "{case}: a failed request changed state");
}

fn has_handle(op: Ioctl) -> bool {
    !matches!(
        op,
        Ioctl::Noop
            | Ioctl::OpenAdapter
            | Ioctl::MadGetOutbound
            | Ioctl::MadSubmitInbound
            | Ioctl::RegisterAdapter
            | Ioctl::WithdrawAdapter
    )
}

fn output_size(op: Ioctl) -> Option<(usize, usize)> {
    match op {
        Ioctl::OpenAdapter => Some((24, 24)),
        Ioctl::CreateQp => Some((16, 16)),
        Ioctl::ModifyQp => Some((8, 8)),
        Ioctl::CreateCep => Some((8, 8)),
        Ioctl::CepGetPdata => Some((16, 16 + 196)),
        Ioctl::CepGetAddress => Some((48, 48)),
        Ioctl::ListenCm => Some((16, 16)),
        Ioctl::MadGetOutbound => Some((288, 288)),
        Ioctl::RegisterAdapter => Some((8, 8)),
        _ => None,
    }
}

/// The generic failure cases that apply to every IOCTL: short input,
/// unknown version, flags, extra input, output too small / too large,
/// null / wrong-type / stale handle, another file's handle.
#[test]
fn every_ioctl_rejects_malformed_envelopes_with_the_precise_status() {
    let mut cases = 0;
    for &op in Ioctl::ALL {
        let w = world();
        let (input, out) = valid(op, &w);
        let c = op.code();
        let p = NtStatus::INVALID_PARAMETER;
        expect_fail(&w, false, c, &input[..4], out, p, &format!("{op:?} short"));
        let mut v = input.clone();
        v[0] = 99;
        expect_fail(
            &w,
            false,
            c,
            &v,
            out,
            NtStatus::INVALID_DEVICE_REQUEST,
            &format!("{op:?} version"),
        );
        let mut v = input.clone();
        v[4] = 1;
        expect_fail(&w, false, c, &v, out, p, &format!("{op:?} flags"));
        let mut v = input.clone();
        v.push(0);
        expect_fail(&w, false, c, &v, out, p, &format!("{op:?} extra byte"));
        expect_fail(&w, false, c, &[], out, p, &format!("{op:?} empty"));
        cases += 5;
        match output_size(op) {
            Some((min, max)) => {
                expect_fail(
                    &w,
                    false,
                    c,
                    &input,
                    min - 1,
                    NtStatus::BUFFER_TOO_SMALL,
                    &format!("{op:?} out small"),
                );
                expect_fail(
                    &w,
                    false,
                    c,
                    &input,
                    max + 1,
                    p,
                    &format!("{op:?} out large"),
                );
                cases += 2;
            }
            None => {
                expect_fail(
                    &w,
                    false,
                    c,
                    &input,
                    1,
                    p,
                    &format!("{op:?} unexpected output"),
                );
                cases += 1;
            }
        }
        if has_handle(op) {
            let h = NtStatus::INVALID_HANDLE;
            // S8: the very same request from the second file.
            expect_fail(&w, true, c, &input, out, h, &format!("{op:?} other file"));
            let mut v = input.clone();
            v[8..16].copy_from_slice(&0u64.to_le_bytes());
            expect_fail(&w, false, c, &v, out, h, &format!("{op:?} null handle"));
            // Wrong type: an adapter handle where an object is expected, or
            // a QP handle where an adapter is expected.
            let wrong = if matches!(op, Ioctl::CreateQp | Ioctl::CreateCep | Ioctl::ListenCm) {
                w.qp
            } else {
                w.adapter
            };
            let mut v = input.clone();
            v[8..16].copy_from_slice(&wrong.to_le_bytes());
            expect_fail(&w, false, c, &v, out, h, &format!("{op:?} wrong type"));
            // Stale: right type and file, generation bumped.
            let first = u64::from_le_bytes(input[8..16].try_into().unwrap());
            let stale = first ^ (1 << 16);
            let mut v = input.clone();
            v[8..16].copy_from_slice(&stale.to_le_bytes());
            expect_fail(&w, false, c, &v, out, h, &format!("{op:?} stale"));
            cases += 4;
        }
    }
    eprintln!("generic failure cases checked: {cases}");
    assert!(cases > 150);
}

#[test]
fn unknown_codes_are_invalid_device_request() {
    let w = world();
    let input = hdr().to_bytes();
    // The reference's UAL_NDI_REQ_CM, a neighbour of ours, and garbage.
    for code in [0x003B_01C8, Ioctl::WithdrawAdapter.code() + 4, 0, u32::MAX] {
        expect_fail(
            &w,
            false,
            code,
            &input,
            0,
            NtStatus::INVALID_DEVICE_REQUEST,
            "unknown code",
        );
    }
}

#[test]
fn second_files_handles_in_second_fields_are_invalid_handle_too() {
    // GET_REQ_CM and REQ/REP carry a second handle at offset 16.
    let w = world();
    let a2 = w.fx.adapter(&w.f2);
    let qp2 = w.fx.qp_init(&w.f2, a2);
    let c2 = w.fx.conn(&w.f2, a2);
    let h = NtStatus::INVALID_HANDLE;
    let c = |op: Ioctl| op.code();
    expect_fail(
        &w,
        false,
        c(Ioctl::GetReqCm),
        &get_req_in(w.listener, c2),
        0,
        h,
        "get_req conn",
    );
    expect_fail(
        &w,
        false,
        c(Ioctl::ReqCm),
        &req_in(w.conn, qp2, 0),
        0,
        h,
        "req qp",
    );
    expect_fail(
        &w,
        false,
        c(Ioctl::RepCm),
        &rep_in(w.conn, qp2, 0),
        0,
        h,
        "rep qp",
    );
}

/// The success path of every IOCTL, in a state where it applies.
#[test]
fn every_ioctl_succeeds_on_valid_input() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    assert!(fx.ok(&f, Ioctl::Noop, &hdr().to_bytes(), 0).is_empty());
    let a = fx.adapter(&f);
    let qp = fx.qp(&f, a);
    let out = fx.ok(&f, Ioctl::ModifyQp, &modify_in(qp, NDCM_QP_STATE_INIT), 8);
    assert_eq!(
        NdcmModifyQpOut::read(&out, 0).unwrap().state,
        NDCM_QP_STATE_INIT
    );
    fx.ok(&f, Ioctl::DestroyQp, &handle_in(qp), 0);
    // Active side through RTU, NOTIFY_DREQ, DREQ.
    let (c, _qp) = fx.connected(&f, a);
    let out = fx.ok(&f, Ioctl::CepGetAddress, &handle_in(c), 48);
    let addrs = NdcmGetAddressOut::read(&out, 0).unwrap();
    assert_eq!(addrs.remote, v4(REMOTE4, 4791));
    assert_eq!(addrs.local.addr, v4(LOCAL4, 0).addr);
    let notify = fx.pend(&f, Ioctl::NotifyDreq, &handle_in(c), 0);
    let disc = fx.pend(&f, Ioctl::DreqCm, &handle_in(c), 0);
    assert_eq!(fx.done(notify).status, NtStatus::CONNECTION_DISCONNECTED);
    fx.ndi.on_cm_event(owner(&f, c), CmEvent::DrepReceived);
    assert_eq!(fx.done(disc).status, NtStatus::SUCCESS);
    // REP private data is readable.
    let out = fx.ok(&f, Ioctl::CepGetPdata, &handle_in(c), 16 + 196);
    let head = NdcmGetPdataOut::read(&out, 0).unwrap();
    assert_eq!(
        (
            head.inbound_read_limit,
            head.outbound_read_limit,
            head.length
        ),
        (3, 2, 196)
    );
    assert_eq!(&out[16..], &[7u8; 196][..]);
    fx.ok(&f, Ioctl::DestroyCep, &handle_in(c), 0);
    // Passive side: LISTEN, GET_REQ, REP, RTU event; REJ on another.
    let (l, c) = fx.req_rcvd(&f, a, 7000);
    let qp = fx.qp_init(&f, a);
    let accept = fx.pend(&f, Ioctl::RepCm, &rep_in(c, qp, 196), 0);
    fx.ndi.on_cm_event(owner(&f, c), CmEvent::RtuReceived);
    assert_eq!(fx.done(accept).status, NtStatus::SUCCESS);
    let c2 = fx.conn(&f, a);
    let get = fx.pend(&f, Ioctl::GetReqCm, &get_req_in(l, c2), 0);
    fx.incoming_req(&f, l, req_info());
    assert_eq!(fx.done(get).status, NtStatus::SUCCESS);
    fx.ok(&f, Ioctl::RejCm, &rej_in(c2, 148), 0);
    fx.ok(&f, Ioctl::CancelCmIrps, &handle_in(l), 0);
    fx.ok(&f, Ioctl::DestroyCep, &handle_in(l), 0);
    // MAD agent.
    let get = fx.pend(&f, Ioctl::MadGetOutbound, &hdr().to_bytes(), 288);
    let env = NdcmMadEnvelope {
        address: NdcmMadAddress {
            gid: [1; 16],
            qpn: 1,
            qkey: 0x8001_0000,
            pkey_index: 0,
            port: 1,
            reserved0: 0,
            reserved1: 0,
        },
        mad: [0x42; 256],
    };
    assert!(fx.ndi.deliver_outbound_mad(&env));
    let done = fx.done(get);
    assert_eq!((done.status, done.information), (NtStatus::SUCCESS, 288));
    assert_eq!(NdcmMadEnvelope::read(&done.output, 0).unwrap(), env);
    fx.ok(&f, Ioctl::MadSubmitInbound, &mad_in(1, 0x07), 0);
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

/// Specific validation failures, one line each: (what, op, input, out, status).
#[test]
fn operation_specific_validation_failures() {
    let w = world();
    let (fx, f, a) = (&w.fx, &w.f, w.adapter);
    let p = NtStatus::INVALID_PARAMETER;
    let mut n = 0;
    let mut check = |name: &str, op: Ioctl, input: Vec<u8>, out: usize, want: NtStatus| {
        expect_fail(&w, false, op.code(), &input, out, want, name);
        n += 1;
    };
    // OPEN_ADAPTER
    let oa = |idx: u32, res: u32| {
        NdcmOpenAdapterIn {
            header: hdr(),
            adapter_index: idx,
            reserved: res,
        }
        .to_bytes()
        .to_vec()
    };
    // No adapter registered there (docs/NDI-agent.md §3).
    check(
        "adapter index out of range",
        Ioctl::OpenAdapter,
        oa(1, 0),
        24,
        NtStatus::INVALID_DEVICE_STATE,
    );
    check("adapter reserved", Ioctl::OpenAdapter, oa(0, 1), 24, p);
    // CREATE_QP
    let cq = |m: &dyn Fn(&mut NdcmCreateQpIn)| {
        let mut s = create_qp_struct(a);
        m(&mut s);
        s.to_bytes().to_vec()
    };
    check(
        "qp send depth 0",
        Ioctl::CreateQp,
        cq(&|s| s.send_depth = 0),
        16,
        p,
    );
    check(
        "qp recv depth > max",
        Ioctl::CreateQp,
        cq(&|s| s.receive_depth = 1025),
        16,
        p,
    );
    check(
        "qp send sge 0",
        Ioctl::CreateQp,
        cq(&|s| s.send_sge = 0),
        16,
        p,
    );
    check(
        "qp recv sge > max",
        Ioctl::CreateQp,
        cq(&|s| s.receive_sge = 5),
        16,
        p,
    );
    check(
        "qp inline > max",
        Ioctl::CreateQp,
        cq(&|s| s.inline_data = 65),
        16,
        p,
    );
    check(
        "qp reserved",
        Ioctl::CreateQp,
        cq(&|s| s.reserved = 1),
        16,
        p,
    );
    // MODIFY_QP
    check(
        "modify to RTR",
        Ioctl::ModifyQp,
        modify_in(w.qp, NDCM_QP_STATE_RTR),
        8,
        p,
    );
    check(
        "modify to RTS",
        Ioctl::ModifyQp,
        modify_in(w.qp, NDCM_QP_STATE_RTS),
        8,
        p,
    );
    check(
        "modify to unknown",
        Ioctl::ModifyQp,
        modify_in(w.qp, 5),
        8,
        p,
    );
    let mut v = modify_in(w.qp, NDCM_QP_STATE_INIT);
    v[20] = 1;
    check("modify reserved", Ioctl::ModifyQp, v, 8, p);
    // CEP_GET_PDATA
    check(
        "pdata none yet",
        Ioctl::CepGetPdata,
        handle_in(w.conn),
        16,
        NtStatus::CONNECTION_INVALID,
    );
    check(
        "pdata on listener",
        Ioctl::CepGetPdata,
        handle_in(w.listener),
        16,
        NtStatus::INVALID_HANDLE,
    );
    // CEP_GET_ADDRESS
    check(
        "address on idle",
        Ioctl::CepGetAddress,
        handle_in(w.conn),
        48,
        NtStatus::CONNECTION_INVALID,
    );
    check(
        "address on listener",
        Ioctl::CepGetAddress,
        handle_in(w.listener),
        48,
        NtStatus::INVALID_HANDLE,
    );
    check(
        "address on qp",
        Ioctl::CepGetAddress,
        handle_in(w.qp),
        48,
        NtStatus::INVALID_HANDLE,
    );
    // DESTROY_CEP / CANCEL on a QP handle
    check(
        "destroy_cep qp",
        Ioctl::DestroyCep,
        handle_in(w.qp),
        0,
        NtStatus::INVALID_HANDLE,
    );
    check(
        "cancel qp",
        Ioctl::CancelCmIrps,
        handle_in(w.qp),
        0,
        NtStatus::INVALID_HANDLE,
    );
    check(
        "destroy_qp conn",
        Ioctl::DestroyQp,
        handle_in(w.conn),
        0,
        NtStatus::INVALID_HANDLE,
    );
    // LISTEN_CM
    let li = |m: &dyn Fn(&mut NdcmListenIn)| {
        let mut s = listen_struct(a, 6000);
        m(&mut s);
        s.to_bytes().to_vec()
    };
    check(
        "listen protocol",
        Ioctl::ListenCm,
        li(&|s| s.protocol = 7),
        16,
        p,
    );
    check(
        "listen family",
        Ioctl::ListenCm,
        li(&|s| s.local.family = 3),
        16,
        p,
    );
    check(
        "listen addr reserved",
        Ioctl::ListenCm,
        li(&|s| s.local.reserved = 1),
        16,
        p,
    );
    check(
        "listen v4 trailing bytes",
        Ioctl::ListenCm,
        li(&|s| s.local.addr[5] = 1),
        16,
        p,
    );
    check(
        "listen foreign ip",
        Ioctl::ListenCm,
        li(&|s| s.local = v4(REMOTE4, 6000)),
        16,
        p,
    );
    check(
        "listen duplicate",
        Ioctl::ListenCm,
        li(&|s| s.local.port_be = 5000u16.to_be()),
        16,
        NtStatus::SHARING_VIOLATION,
    );
    // REQ_CM
    let rq = |m: &dyn Fn(&mut NdcmReqCmIn)| {
        let mut s = req_struct(w.conn, w.qp, 0);
        m(&mut s);
        s.to_bytes().to_vec()
    };
    check(
        "req pdata 57",
        Ioctl::ReqCm,
        req_in(w.conn, w.qp, 57),
        0,
        NtStatus::INVALID_BUFFER_SIZE,
    );
    let mut v = req_in(w.conn, w.qp, 8);
    v[40] = 100;
    check("req pdata offset", Ioctl::ReqCm, v, 0, p);
    check(
        "req pdata offset when empty",
        Ioctl::ReqCm,
        rq(&|s| s.pdata_offset = 3),
        0,
        p,
    );
    check("req protocol", Ioctl::ReqCm, rq(&|s| s.protocol = 0), 0, p);
    check("req reserved", Ioctl::ReqCm, rq(&|s| s.reserved = 1), 0, p);
    check(
        "req families differ",
        Ioctl::ReqCm,
        rq(&|s| s.remote.family = NDCM_AF_INET6),
        0,
        p,
    );
    check(
        "req remote port 0",
        Ioctl::ReqCm,
        rq(&|s| s.remote.port_be = 0),
        0,
        p,
    );
    check(
        "req remote unspecified",
        Ioctl::ReqCm,
        rq(&|s| s.remote = v4([0; 4], 1)),
        0,
        p,
    );
    check(
        "req local not adapter's",
        Ioctl::ReqCm,
        rq(&|s| s.local = v4([10, 9, 9, 9], 0)),
        0,
        p,
    );
    let raw_qp = fx.qp(f, a);
    check(
        "req qp in RESET",
        Ioctl::ReqCm,
        req_in(w.conn, raw_qp, 0),
        0,
        NtStatus::INVALID_DEVICE_STATE,
    );
    check(
        "req with listener handle",
        Ioctl::ReqCm,
        req_in(w.listener, w.qp, 0),
        0,
        NtStatus::INVALID_HANDLE,
    );
    // REP_CM / RTU_CM / REJ_CM / DREQ_CM / NOTIFY_DREQ on an IDLE connection
    check(
        "rep pdata 197",
        Ioctl::RepCm,
        rep_in(w.conn, w.qp, 197),
        0,
        NtStatus::INVALID_BUFFER_SIZE,
    );
    check(
        "rep on idle",
        Ioctl::RepCm,
        rep_in(w.conn, w.qp, 0),
        0,
        NtStatus::CONNECTION_ACTIVE,
    );
    check(
        "rtu on idle",
        Ioctl::RtuCm,
        handle_in(w.conn),
        0,
        NtStatus::CONNECTION_INVALID,
    );
    check(
        "rej pdata 149",
        Ioctl::RejCm,
        rej_in(w.conn, 149),
        0,
        NtStatus::INVALID_BUFFER_SIZE,
    );
    check(
        "rej on idle",
        Ioctl::RejCm,
        rej_in(w.conn, 0),
        0,
        NtStatus::INVALID_DEVICE_STATE,
    );
    check(
        "dreq on idle",
        Ioctl::DreqCm,
        handle_in(w.conn),
        0,
        NtStatus::CONNECTION_INVALID,
    );
    check(
        "notify on never connected",
        Ioctl::NotifyDreq,
        handle_in(w.conn),
        0,
        NtStatus::CONNECTION_INVALID,
    );
    check(
        "get_req with conn as listener",
        Ioctl::GetReqCm,
        get_req_in(w.conn, w.conn),
        0,
        NtStatus::INVALID_HANDLE,
    );
    // MAD_SUBMIT_INBOUND
    check("mad port 0", Ioctl::MadSubmitInbound, mad_in(0, 7), 0, p);
    check(
        "mad not CM class",
        Ioctl::MadSubmitInbound,
        mad_in(1, 0x81),
        0,
        p,
    );
    let mut v = mad_in(1, 7);
    v[8 + 27] = 1;
    check("mad reserved", Ioctl::MadSubmitInbound, v, 0, p);
    eprintln!("specific failure cases checked: {n}");
}

#[test]
fn error_mapping_is_the_spec_table() {
    assert_eq!(NdiError::UnknownRequest.status().0, 0xC000_0010);
    assert_eq!(NdiError::InvalidHandle.status().0, 0xC000_0008);
    assert_eq!(NdiError::PrivateDataTooLong.status().0, 0xC000_0206);
    assert_eq!(NdiError::OutputTooSmall.status().0, 0xC000_0023);
    assert_eq!(NdiError::ConnectionActive.status().0, 0xC000_023B);
    assert!(!NtStatus::IO_TIMEOUT.is_success());
}
