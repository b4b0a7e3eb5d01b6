//! End to end: reject, connect timeout, and every way an ND connection can
//! be cut short — cancel of each pending kind, QP destroy and process close
//! at each step, on either side — on two host devices with the real CEP
//! manager. After each: every request completed exactly once with the
//! status the spec gives, no KMDF rule broken, nothing left alive once
//! timewait is over.
//!
//! On the driver's CM adapter (`ndcm_ndi::cm_adapter::ManagerPort`, as
//! `ndcm_host::ndi_port::NdiPort` on the in-memory fabric).

mod e2e_common;

use e2e_common::*;
use ndcm_ndi::NtStatus;

#[test]
fn reject_completes_connect_with_connection_refused_and_carries_private_data() {
    let net = Net::new();
    net.world.fabric().record();
    let s = net.drive_to(Step::Connect);
    assert_eq!(
        sync_status(s.server.reject(s.sconn, b"busy")),
        NtStatus::SUCCESS
    );
    net.deliver();
    assert_eq!(net.pending_status(&s), Some(NtStatus::CONNECTION_REFUSED));
    let (_, _, pdata) = s.client.private_data(s.cconn);
    assert_eq!(&pdata[..4], b"busy");
    assert_eq!(net.messages(), vec![(1, "REQ"), (2, "REJ")]);
    s.server.close();
    s.client.close();
    net.finish();
}

#[test]
fn connect_to_an_unreachable_node_times_out() {
    let net = Net::new();
    let client = net.client();
    let a = client.adapter();
    let conn = client.connection(a);
    let qp = client.qp(a);
    let p = pending(client.connect(conn, qp, CLIENT_IP, [10, 0, 0, 9], 6000, &[]));
    net.deliver();
    assert_eq!(net.poll(&client, p), None, "still retrying");
    net.settle();
    assert_eq!(net.status(&client, p), NtStatus::IO_TIMEOUT);
    assert!(net.world.fabric().stats().sent > 1, "the REQ was retried");
    client.close();
    net.finish();
}

#[test]
fn connect_to_a_port_nobody_listens_on_is_refused() {
    let net = Net::new();
    let _server = net.server();
    let client = net.client();
    let a = client.adapter();
    let conn = client.connection(a);
    let qp = client.qp(a);
    let p = pending(client.connect(conn, qp, CLIENT_IP, SERVER_IP, 7777, &[]));
    net.deliver();
    assert_eq!(net.status(&client, p), NtStatus::CONNECTION_REFUSED);
    _server.close();
    client.close();
    net.finish();
}

/// Cancels the pending request of `step` with CancelIoEx.
fn cancel_at(step: Step) {
    let net = Net::new();
    let s = net.drive_to(step);
    let owner = if s.pending_on_server {
        &s.server
    } else {
        &s.client
    };
    assert!(
        owner.device().cancel(s.pending),
        "{step:?}: a cancel callback ran"
    );
    assert_eq!(
        net.pending_status(&s),
        Some(NtStatus::CANCELLED),
        "{step:?}"
    );
    net.deliver();
    s.server.close();
    s.client.close();
    net.finish();
}

#[test]
fn cancel_of_a_pending_get_request() {
    cancel_at(Step::GetRequest);
}

#[test]
fn cancel_of_a_pending_connect() {
    cancel_at(Step::Connect);
}

#[test]
fn cancel_of_a_pending_accept() {
    cancel_at(Step::Accept);
}

#[test]
fn cancel_of_a_pending_notify_disconnect() {
    cancel_at(Step::Connected);
}

#[test]
fn cancel_of_a_pending_disconnect() {
    cancel_at(Step::Disconnect);
}

#[test]
fn cancel_cm_irps_cancels_every_pending_request_of_the_connection() {
    let net = Net::new();
    let s = net.drive_to(Step::Connected);
    let p = s.pending;
    assert_eq!(
        sync_status(s.server.cancel_requests(s.sconn)),
        NtStatus::SUCCESS
    );
    assert_eq!(net.poll(&s.server, p), Some(NtStatus::CANCELLED));
    s.server.close();
    s.client.close();
    net.finish();
}

#[test]
fn accepted_connection_cancelled_by_peer_reject_is_refused_on_the_client() {
    // The server cancels its accept: REJ 28 reaches a client that has the
    // REP; its CompleteConnect then fails and nothing leaks.
    let net = Net::new();
    let s = net.drive_to(Step::Accept);
    assert!(s.server.device().cancel(s.pending));
    net.deliver();
    let rtu = sync_status(s.client.complete_connect(s.cconn));
    assert_ne!(rtu, NtStatus::SUCCESS, "RTU after the peer rejected");
    s.server.close();
    s.client.close();
    net.finish();
}

/// Destroys `side`'s QP at `step`: the side's pending requests of that
/// connection complete CANCELLED at once (S4).
fn destroy_qp_at(step: Step, server_side: bool) {
    let net = Net::new();
    let s = net.drive_to(step);
    let (who, qp) = if server_side {
        (&s.server, s.sqp)
    } else {
        (&s.client, s.cqp)
    };
    assert_eq!(who.destroy_qp(qp), NtStatus::SUCCESS);
    if s.pending_on_server == server_side && step != Step::GetRequest {
        assert_eq!(
            net.pending_status(&s),
            Some(NtStatus::CANCELLED),
            "{step:?}: the destroyed QP's pending request"
        );
    }
    net.deliver();
    s.server.close();
    s.client.close();
    net.finish();
}

/// Closes `side`'s instance at `step`: all its requests complete
/// CANCELLED; the peer learns by REJ/DREQ and nothing leaks on either side.
fn close_at(step: Step, server_side: bool) {
    let net = Net::new();
    let s = net.drive_to(step);
    let (closing, other) = if server_side {
        (s.server, s.client)
    } else {
        (s.client, s.server)
    };
    let device = std::sync::Arc::clone(closing.device());
    closing.close();
    if s.pending_on_server == server_side {
        assert_eq!(
            device.poll(s.pending).map(|c| NtStatus(c.status)),
            Some(NtStatus::CANCELLED),
            "{step:?}"
        );
    }
    net.deliver();
    if s.pending_on_server != server_side {
        // The abort reached the peer (REJ, DREQ or DREP): its pending
        // request is over without the peer doing anything.
        let st = other.device().poll(s.pending).map(|c| NtStatus(c.status));
        assert!(
            st.is_some(),
            "{step:?}: the peer's request is still pending"
        );
        // spec/NDI.md §4-§5: a REJ fails a connect with CONNECTION_REFUSED
        // and an accept with CONNECTION_ABORTED; a DREQ completes
        // NotifyDisconnect and a DREP completes Disconnect, with SUCCESS.
        let want = match step {
            Step::Connect => NtStatus::CONNECTION_REFUSED,
            Step::Accept => NtStatus::CONNECTION_ABORTED,
            _ => NtStatus::SUCCESS,
        };
        assert_eq!(st, Some(want), "{step:?}");
    }
    other.close();
    net.finish();
}

macro_rules! at_every_step {
    ($($name:ident: $f:ident($step:expr, $server:expr);)*) => {
        $( #[test] fn $name() { $f($step, $server); } )*
    };
}

at_every_step! {
    qp_destroy_on_client_while_server_waits_for_a_request: destroy_qp_at(Step::GetRequest, false);
    qp_destroy_on_client_while_connecting: destroy_qp_at(Step::Connect, false);
    qp_destroy_on_server_while_connecting: destroy_qp_at(Step::Connect, true);
    qp_destroy_on_server_while_accepting: destroy_qp_at(Step::Accept, true);
    qp_destroy_on_client_while_accepting: destroy_qp_at(Step::Accept, false);
    qp_destroy_on_server_when_connected: destroy_qp_at(Step::Connected, true);
    qp_destroy_on_client_when_connected: destroy_qp_at(Step::Connected, false);
    qp_destroy_on_client_while_disconnecting: destroy_qp_at(Step::Disconnect, false);
    qp_destroy_on_server_while_disconnecting: destroy_qp_at(Step::Disconnect, true);
    close_server_while_waiting_for_a_request: close_at(Step::GetRequest, true);
    close_client_while_connecting: close_at(Step::Connect, false);
    close_server_while_connecting: close_at(Step::Connect, true);
    close_server_while_accepting: close_at(Step::Accept, true);
    close_client_while_accepting: close_at(Step::Accept, false);
    close_server_when_connected: close_at(Step::Connected, true);
    close_client_when_connected: close_at(Step::Connected, false);
    close_client_while_disconnecting: close_at(Step::Disconnect, false);
    close_server_while_disconnecting: close_at(Step::Disconnect, true);
}

#[test]
#[should_panic(expected = "leaked")]
fn the_audit_catches_an_instance_left_open() {
    let net = Net::new();
    let s = net.drive_to(Step::Connected);
    s.server.close();
    // The client is never closed: its file, connection and QP stay.
    std::mem::forget(s.client);
    net.finish();
}

#[test]
fn closing_a_listener_refuses_the_request_it_holds_untaken() {
    // A REQ parked in the listener's backlog (no GetConnectionRequest yet)
    // when the listener's process closes: nobody can take it, so it is
    // refused (REJ 28, CM.md §9 LISTEN row; NDI.md §9.3) and the client's
    // Connect completes CONNECTION_REFUSED; nothing is left behind.
    let net = Net::new();
    net.world.fabric().record();
    let server = net.server();
    let client = net.client();
    let (_, port) = server.listen(server.adapter(), 6100);
    let a = client.adapter();
    let (conn, qp) = (client.connection(a), client.qp(a));
    let connect = pending(client.connect(conn, qp, CLIENT_IP, SERVER_IP, port, b"req"));
    net.deliver();
    assert_eq!(net.poll(&client, connect), None, "the REQ waits untaken");
    server.close();
    net.deliver();
    assert_eq!(net.status(&client, connect), NtStatus::CONNECTION_REFUSED);
    assert_eq!(net.messages(), vec![(1, "REQ"), (2, "REJ")]);
    client.close();
    net.finish();
}

#[test]
fn a_request_reaching_a_listener_closed_meanwhile_is_refused() {
    // The REQ is on the wire when the listener's process closes: it finds
    // no listener (REJ 8) and the client's Connect is refused.
    let net = Net::new();
    let server = net.server();
    let client = net.client();
    let (_, port) = server.listen(server.adapter(), 6200);
    let a = client.adapter();
    let (conn, qp) = (client.connection(a), client.qp(a));
    let connect = pending(client.connect(conn, qp, CLIENT_IP, SERVER_IP, port, b"req"));
    server.close();
    net.deliver();
    assert_eq!(net.status(&client, connect), NtStatus::CONNECTION_REFUSED);
    client.close();
    net.finish();
}
