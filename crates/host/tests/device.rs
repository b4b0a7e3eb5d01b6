//! The host device over the scripted CM: overlapped IOCTLs, pending
//! requests completed by injected CM events (on other threads too),
//! cancellation, instance isolation and teardown — each run also a KMDF
//! rule check (strict verifier) and a leak audit.

use ndcm_host::client::{Client, node_ipv4};
use ndcm_host::device::{Device, Io, Pending};
use ndcm_host::scripted::ScriptedHostCm;
use ndcm_host::{HostPlatform, StdSys};
use ndcm_ndi::QueueOwner;
use ndcm_ndi::abi::{Ioctl, NtStatus};
use ndcm_ndi::cm_port::{AdapterInfo, CmEvent, IpAddr, IpEndpoint, ReqInfo};
use ndcm_ndi::testing::CmCall;
use std::sync::Arc;
use std::time::Duration;

type Dev = Device<ScriptedHostCm, StdSys>;

fn device() -> Arc<Dev> {
    Device::new(
        HostPlatform::new_virtual(),
        ScriptedHostCm::new(),
        vec![AdapterInfo::soft_roce(vec![IpAddr::V4(node_ipv4(1))])],
    )
}

fn owner(c: &Client<ScriptedHostCm>, object: u64) -> QueueOwner {
    QueueOwner {
        instance: c.device().file(c.handle()).expect("open").id(),
        object,
    }
}

fn status(d: &Dev, p: Pending) -> Option<NtStatus> {
    d.poll(p).map(|c| NtStatus(c.status))
}

fn connecting(c: &Client<ScriptedHostCm>) -> (u64, u64, Pending) {
    let a = c.adapter();
    let conn = c.connection(a);
    let qp = c.qp(a);
    let p = c
        .connect(conn, qp, node_ipv4(1), node_ipv4(2), 4791, b"hello")
        .pending()
        .expect("REQ_CM pends");
    (conn, qp, p)
}

fn rep() -> CmEvent {
    CmEvent::RepReceived {
        responder_resources: 4,
        initiator_depth: 4,
        private_data: [3; 196],
    }
}

#[test]
fn noop_completes_synchronously_and_close_leaves_nothing() {
    let d = device();
    let c = Client::open(&d);
    let out = c.sync(Ioctl::Noop, &ndcm_host::client::header().to_bytes(), 0);
    assert_eq!(NtStatus(out.status), NtStatus::SUCCESS);
    c.close();
    d.assert_clean();
}

#[test]
fn connect_pends_until_the_rep_event_completes_it() {
    let d = device();
    let c = Client::open(&d);
    let (conn, _qp, p) = connecting(&c);
    assert_eq!(d.poll(p), None);
    assert!(d.cm().inject(owner(&c, conn), rep()));
    assert_eq!(status(&d, p), Some(NtStatus::SUCCESS));
    c.close();
    d.assert_clean();
}

#[test]
fn a_pending_request_completes_from_another_thread() {
    let d = device();
    let c = Client::open(&d);
    let (conn, _qp, p) = connecting(&c);
    let who = owner(&c, conn);
    let d2 = Arc::clone(&d);
    let t = std::thread::spawn(move || d2.cm().inject(who, rep()));
    let done = d.wait(p, Duration::from_secs(10)).expect("completed");
    assert_eq!(NtStatus(done.status), NtStatus::SUCCESS);
    assert!(t.join().expect("event thread"));
    c.close();
    d.assert_clean();
}

#[test]
fn cancelling_a_pending_connect_completes_it_cancelled_and_aborts_the_cm_exchange() {
    let d = device();
    let c = Client::open(&d);
    let (conn, _qp, p) = connecting(&c);
    let before = d.cm().script().calls().len();
    assert!(d.cancel(p));
    assert_eq!(status(&d, p), Some(NtStatus::CANCELLED));
    let after: Vec<CmCall> = d.cm().script().calls()[before..].to_vec();
    assert!(
        after
            .iter()
            .any(|c| matches!(c, CmCall::Reject(_, 4, _) | CmCall::Destroy(_))),
        "the cancel action aborted the CM exchange: {after:?}"
    );
    // A late REP finds no request to complete and changes nothing.
    let _ = d.cm().inject(owner(&c, conn), rep());
    assert_eq!(d.framework().completion_attempts(p.0), 1);
    c.close();
    d.assert_clean();
}

#[test]
fn close_completes_every_pending_request_of_the_instance_cancelled() {
    let d = device();
    let c = Client::open(&d);
    let a = c.adapter();
    let (l, _port) = c.listen(a, 0);
    let passive = c.connection(a);
    let get = c
        .get_request(l, passive)
        .pending()
        .expect("GET_REQ_CM pends");
    let (_conn, _qp, req) = connecting(&c);
    c.close();
    for p in [get, req] {
        assert_eq!(status(&d, p), Some(NtStatus::CANCELLED), "{p:?}");
    }
    d.assert_clean();
}

#[test]
fn handles_of_another_instance_are_invalid_handles() {
    let d = device();
    let first = Client::open(&d);
    let second = Client::open(&d);
    let a = first.adapter();
    let conn = first.connection(a);
    let qp = first.qp(a);
    let a2 = second.adapter();
    let conn2 = second.connection(a2);
    assert_eq!(second.destroy_connection(conn), NtStatus::INVALID_HANDLE);
    assert_eq!(second.destroy_qp(qp), NtStatus::INVALID_HANDLE);
    match second.accept(conn2, qp, &[]) {
        Io::Complete(c) => assert_eq!(NtStatus(c.status), NtStatus::INVALID_HANDLE),
        Io::Pending(p) => panic!("accept with a foreign QP pended: {p:?}"),
    }
    first.close();
    second.close();
    d.assert_clean();
}

#[test]
fn get_request_completes_when_a_req_arrives_on_the_listener() {
    let d = device();
    let c = Client::open(&d);
    let a = c.adapter();
    let (l, port) = c.listen(a, 0);
    assert_ne!(port, 0, "a port was allocated");
    let conn = c.connection(a);
    let get = c.get_request(l, conn).pending().expect("pends");
    let cid = d.cm().script().incoming();
    let req = ReqInfo {
        local: IpEndpoint {
            addr: IpAddr::V4(node_ipv4(1)),
            port,
        },
        remote: IpEndpoint {
            addr: IpAddr::V4(node_ipv4(2)),
            port: 50000,
        },
        responder_resources: 4,
        initiator_depth: 4,
        private_data: [9; 56],
    };
    assert!(
        d.cm()
            .inject(owner(&c, l), CmEvent::ReqReceived { cid, req })
    );
    assert_eq!(status(&d, get), Some(NtStatus::SUCCESS));
    assert!(
        d.cm()
            .script()
            .calls()
            .iter()
            .any(|call| matches!(call, CmCall::Adopt(x, _) if *x == cid)),
        "the new CM connection was adopted by the instance"
    );
    let (st, _fixed, pdata) = c.private_data(conn);
    assert_eq!(st, NtStatus::SUCCESS);
    assert_eq!(&pdata[..56], &[9; 56]);
    c.close();
    d.assert_clean();
}
