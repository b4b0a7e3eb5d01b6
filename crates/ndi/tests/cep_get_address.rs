//! CEP_GET_ADDRESS (GetLocalAddress / GetPeerAddress, spec/NDI.md §10):
//! what each side reports, in which states, and that it changes nothing.
//! The envelope failures (sizes, version, handles of other files, stale
//! handles) are in the IOCTL matrix with every other request.

mod common;
use common::*;
use ndcm_ndi::Dispatched;
use ndcm_ndi::abi::*;
use ndcm_ndi::cm_port::{CmEvent, IpAddr, IpEndpoint, ReqInfo};

/// An IPv6 address of the test adapter (see `adapter_info`).
const LOCAL6: [u8; 16] = [0xfe; 16];
const REMOTE6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn v6(a: [u8; 16], port: u16) -> NdcmAddress {
    NdcmAddress {
        family: NDCM_AF_INET6,
        port_be: port.to_be(),
        reserved: 0,
        addr: a,
    }
}

/// The endpoints of `conn`, or the failure status.
fn addresses(fx: &Fx, f: &TestFile, conn: u64) -> Result<NdcmGetAddressOut, NtStatus> {
    let (id, d) = fx.call(
        f,
        Ioctl::CepGetAddress,
        &handle_in(conn),
        NdcmGetAddressOut::SIZE,
    );
    match d {
        Dispatched::Complete {
            status: NtStatus::SUCCESS,
            information,
        } => {
            assert_eq!(information, NdcmGetAddressOut::SIZE, "Information");
            Ok(NdcmGetAddressOut::read(&fx.done(id).output, 0).unwrap())
        }
        Dispatched::Complete {
            status,
            information,
        } => {
            assert_eq!(information, 0, "Information on failure");
            Err(status)
        }
        Dispatched::Pending => panic!("CEP_GET_ADDRESS pended"),
    }
}

#[test]
fn active_side_reports_its_bound_address_with_the_allocated_port_and_the_destination() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    // Port 0 asked: the driver allocates an ephemeral port and reports it.
    let (c, _qp, connect) = fx.connecting(&f, a);
    let got = addresses(&fx, &f, c).unwrap();
    assert_eq!(got.remote, v4(REMOTE4, 4791));
    let port = u16::from_be(got.local.port_be);
    assert!(port >= 49152, "ephemeral port, got {port}");
    assert_eq!(got.local, v4(LOCAL4, port));
    assert!(
        fx.ndi.requests().completion(connect).is_none(),
        "reading the addresses leaves Connect pending"
    );
    // A specific port asked: that one.
    let c2 = fx.conn(&f, a);
    let qp2 = fx.qp_init(&f, a);
    let mut req = req_struct(c2, qp2, 0);
    req.local = v4(LOCAL4, 7000);
    req.remote = v4(REMOTE4, 9);
    fx.pend(&f, Ioctl::ReqCm, &req.to_bytes(), 0);
    let got = addresses(&fx, &f, c2).unwrap();
    assert_eq!((got.local, got.remote), (v4(LOCAL4, 7000), v4(REMOTE4, 9)));
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn passive_side_reports_the_endpoints_of_the_request_it_took() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    // Through a pending GET_REQ_CM completed by the REQ.
    let (_l, c) = fx.req_rcvd(&f, a, 5000);
    let got = addresses(&fx, &f, c).unwrap();
    // req_info(): the client 10.0.0.2:50000 dialled 10.0.0.1:5000.
    assert_eq!(got.local, v4(LOCAL4, 5000));
    assert_eq!(got.remote, v4(REMOTE4, 50000));
    // Through the backlog: the REQ arrives first, GET_REQ_CM takes it.
    let (l2, _) = fx.listen(&f, a, 5002);
    let mut req = req_info();
    req.local.port = 5002;
    req.remote = IpEndpoint {
        addr: IpAddr::V4([10, 0, 0, 7]),
        port: 40001,
    };
    fx.incoming_req(&f, l2, req);
    let c2 = fx.conn(&f, a);
    fx.ok(&f, Ioctl::GetReqCm, &get_req_in(l2, c2), 0);
    let got = addresses(&fx, &f, c2).unwrap();
    assert_eq!(
        (got.local, got.remote),
        (v4(LOCAL4, 5002), v4([10, 0, 0, 7], 40001))
    );
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn an_idle_connector_has_no_addresses_even_while_waiting_for_a_request() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let c = fx.conn(&f, a);
    assert_eq!(addresses(&fx, &f, c), Err(NtStatus::CONNECTION_INVALID));
    let (l, _) = fx.listen(&f, a, 5000);
    let get = fx.pend(&f, Ioctl::GetReqCm, &get_req_in(l, c), 0);
    assert_eq!(addresses(&fx, &f, c), Err(NtStatus::CONNECTION_INVALID));
    // Cancelling the GetConnectionRequest returns it to IDLE: still none.
    fx.cancel(get);
    assert_eq!(fx.done(get).status, NtStatus::CANCELLED);
    assert_eq!(addresses(&fx, &f, c), Err(NtStatus::CONNECTION_INVALID));
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn addresses_stay_readable_until_the_connection_closes() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    // Local disconnect: REQ_SENT, REP_RCVD, CONNECTED, DISCONNECTING, CLOSED.
    let (c, _qp, connect) = fx.connecting(&f, a);
    let first = addresses(&fx, &f, c).unwrap();
    fx.ndi.on_cm_event(owner(&f, c), rep_event());
    assert_eq!(fx.done(connect).status, NtStatus::SUCCESS);
    assert_eq!(addresses(&fx, &f, c), Ok(first), "REP_RCVD");
    fx.ok(&f, Ioctl::RtuCm, &handle_in(c), 0);
    assert_eq!(addresses(&fx, &f, c), Ok(first), "CONNECTED");
    let disc = fx.pend(&f, Ioctl::DreqCm, &handle_in(c), 0);
    assert_eq!(addresses(&fx, &f, c), Ok(first), "DISCONNECTING");
    fx.ndi.on_cm_event(owner(&f, c), CmEvent::DrepReceived);
    assert_eq!(fx.done(disc).status, NtStatus::SUCCESS);
    assert_eq!(
        addresses(&fx, &f, c),
        Err(NtStatus::CONNECTION_INVALID),
        "CLOSED after a local disconnect"
    );
    // Peer disconnect: DREQ_RCVD still connected, CLOSED after our DREQ_CM.
    let (c, _qp) = fx.connected(&f, a);
    fx.ndi.on_cm_event(owner(&f, c), CmEvent::DreqReceived);
    assert!(addresses(&fx, &f, c).is_ok(), "DREQ_RCVD");
    fx.ok(&f, Ioctl::DreqCm, &handle_in(c), 0);
    assert_eq!(addresses(&fx, &f, c), Err(NtStatus::CONNECTION_INVALID));
    // Passive side: REQ_RCVD, REP_SENT, CONNECTED.
    let (_l, c) = fx.req_rcvd(&f, a, 6000);
    let first = addresses(&fx, &f, c).unwrap();
    let qp = fx.qp_init(&f, a);
    let accept = fx.pend(&f, Ioctl::RepCm, &rep_in(c, qp, 0), 0);
    assert_eq!(addresses(&fx, &f, c), Ok(first), "REP_SENT");
    fx.ndi.on_cm_event(owner(&f, c), CmEvent::RtuReceived);
    assert_eq!(fx.done(accept).status, NtStatus::SUCCESS);
    assert_eq!(addresses(&fx, &f, c), Ok(first), "passive CONNECTED");
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn a_failed_or_refused_connection_has_no_addresses() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    // Connect refused by the peer.
    let (c, _qp, connect) = fx.connecting(&f, a);
    fx.ndi.on_cm_event(owner(&f, c), rej_event(28));
    assert_eq!(fx.done(connect).status, NtStatus::CONNECTION_REFUSED);
    assert_eq!(addresses(&fx, &f, c), Err(NtStatus::CONNECTION_INVALID));
    // Connect cancelled.
    let (c, _qp, connect) = fx.connecting(&f, a);
    fx.cancel(connect);
    assert_eq!(addresses(&fx, &f, c), Err(NtStatus::CONNECTION_INVALID));
    // A request we rejected.
    let (_l, c) = fx.req_rcvd(&f, a, 6001);
    fx.ok(&f, Ioctl::RejCm, &rej_in(c, 0), 0);
    assert_eq!(addresses(&fx, &f, c), Err(NtStatus::CONNECTION_INVALID));
    // A connection whose QP was destroyed (aborted, S4).
    let (c, qp) = fx.connected(&f, a);
    fx.ok(&f, Ioctl::DestroyQp, &handle_in(qp), 0);
    assert_eq!(addresses(&fx, &f, c), Err(NtStatus::CONNECTION_INVALID));
    // A destroyed connector's handle is stale.
    fx.ok(&f, Ioctl::DestroyCep, &handle_in(c), 0);
    assert_eq!(addresses(&fx, &f, c), Err(NtStatus::INVALID_HANDLE));
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}

#[test]
fn ipv6_endpoints_are_reported_on_both_sides() {
    let fx = Fx::new();
    let f = fx.ndi.open();
    let a = fx.adapter(&f);
    let c = fx.conn(&f, a);
    let qp = fx.qp_init(&f, a);
    let mut req = req_struct(c, qp, 0);
    req.local = v6(LOCAL6, 0);
    req.remote = v6(REMOTE6, 4791);
    fx.pend(&f, Ioctl::ReqCm, &req.to_bytes(), 0);
    let got = addresses(&fx, &f, c).unwrap();
    assert_eq!(got.remote, v6(REMOTE6, 4791));
    assert_eq!(got.local, v6(LOCAL6, u16::from_be(got.local.port_be)));
    assert_ne!(got.local.port_be, 0);
    // Passive: an IPv6 rdma_cm header.
    let (l, _) = fx.listen(&f, a, 5005);
    let pc = fx.conn(&f, a);
    let get = fx.pend(&f, Ioctl::GetReqCm, &get_req_in(l, pc), 0);
    let req = ReqInfo {
        local: IpEndpoint {
            addr: IpAddr::V6(LOCAL6),
            port: 5005,
        },
        remote: IpEndpoint {
            addr: IpAddr::V6(REMOTE6),
            port: 33333,
        },
        ..req_info()
    };
    fx.incoming_req(&f, l, req);
    assert_eq!(fx.done(get).status, NtStatus::SUCCESS);
    let got = addresses(&fx, &f, pc).unwrap();
    assert_eq!(
        (got.local, got.remote),
        (v6(LOCAL6, 5005), v6(REMOTE6, 33333))
    );
    fx.ndi.close(&f);
    fx.assert_nothing_leaked();
}
