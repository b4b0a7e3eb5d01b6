//! End to end on two host devices joined by the in-memory fabric, with the
//! real CEP manager: every ND connection-management step through the IOCTL
//! ABI. Each test ends with the harness audit: every request completed
//! exactly once, no KMDF rule broken (strict verifier), nothing left alive
//! (requests, queues, files, ports, CEPs) once timewait is over.

use super::e2e_common::*;
use ndcm_ndi::NtStatus;

#[test]
fn listen_get_request_connect_accept_complete_notify_disconnect() {
    let net = Net::new();
    net.world.fabric().record();
    let server = net.server();
    let client = net.client();

    // Passive side waits for a connection request.
    let sa = server.adapter();
    let (listener, port) = server.listen(sa, 5000);
    assert_eq!(port, 5000);
    let sconn = server.connection(sa);
    let get = pending(server.get_request(listener, sconn));

    // Active side connects with private data.
    let ca = client.adapter();
    let cconn = client.connection(ca);
    let cqp = client.qp(ca);
    let connect = pending(client.connect(
        cconn,
        cqp,
        SERVER_IP_CLIENT_SIDE.0,
        SERVER_IP_CLIENT_SIDE.1,
        port,
        b"hello",
    ));
    net.deliver();
    assert_eq!(net.status(&server, get), NtStatus::SUCCESS);
    assert_eq!(
        net.poll(&client, connect),
        None,
        "connect waits for the REP"
    );

    // The request's private data reached the passive side.
    let (st, _, pdata) = server.private_data(sconn);
    assert_eq!(st, NtStatus::SUCCESS);
    assert_eq!(&pdata[..5], b"hello");

    // Accept: REP → connect completes; CompleteConnect: RTU → accept completes.
    let sqp = server.qp(sa);
    let accept = pending(server.accept(sconn, sqp, b"welcome"));
    net.deliver();
    assert_eq!(net.status(&client, connect), NtStatus::SUCCESS);
    assert_eq!(net.poll(&server, accept), None, "accept waits for the RTU");
    let (_, _, rep_pdata) = client.private_data(cconn);
    assert_eq!(&rep_pdata[..7], b"welcome");
    assert_eq!(
        sync_status(client.complete_connect(cconn)),
        NtStatus::SUCCESS
    );
    net.deliver();
    assert_eq!(net.status(&server, accept), NtStatus::SUCCESS);

    // NotifyDisconnect on the passive side; Disconnect on the active side.
    let notify = pending(server.notify_disconnect(sconn));
    let disconnect = pending(client.disconnect(cconn));
    net.deliver();
    assert_eq!(net.status(&server, notify), NtStatus::SUCCESS);
    assert_eq!(net.poll(&client, disconnect), None, "waits for the DREP");
    // The passive side answers with its own Disconnect (DREP).
    assert_eq!(sync_status(server.disconnect(sconn)), NtStatus::SUCCESS);
    net.deliver();
    assert_eq!(net.status(&client, disconnect), NtStatus::SUCCESS);

    // On the wire, in order: REQ, REP, RTU from the client's and server's
    // CMs, then the client's DREQ answered by the server's DREP.
    assert_eq!(
        net.messages(),
        vec![(1, "REQ"), (2, "REP"), (1, "RTU"), (1, "DREQ"), (2, "DREP")]
    );

    server.close();
    client.close();
    net.finish();
}
