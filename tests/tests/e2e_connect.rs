//! End to end on two host devices joined by the in-memory fabric, with the
//! real CEP manager: every ND connection-management step through the IOCTL
//! ABI. Each test ends with the harness audit: every request completed
//! exactly once, no KMDF rule broken (strict verifier), nothing left alive
//! (requests, queues, files, ports, CEPs) once timewait is over.
//!
//! On the driver's CM adapter (`ndcm_ndi::cm_adapter::ManagerPort`, as
//! `ndcm_host::ndi_port::NdiPort` on the in-memory fabric).

mod e2e_common;

use e2e_common::*;
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

#[test]
fn two_clients_whose_first_reqs_share_a_comm_id_are_two_requests() {
    // Every node's CM numbers its comm IDs alike, so the first REQs of two
    // clients carry the same Local Comm ID and only their CA GUIDs tell
    // them apart (CM.md §8: a duplicate REQ is a known (Local Comm ID,
    // Local CA GUID)). Each node has its own CA GUID, as each HCA does, so
    // the second REQ is a new request, not a retransmission of the first.
    let mut net = Net::new();
    let third_ip = ndcm_host::client::node_ipv4(3);
    let third_gid = ndcm_host::client::ipv4_gid(third_ip);
    let third = net
        .world
        .add_node(&[third_gid], vec![adapter(third_ip)], move |p, f| {
            ndcm_host::ndi_port::on_fabric(p, f, vec![third_gid])
        });
    net.world.fabric().record();
    let server = net.server();
    let sa = server.adapter();
    let (listener, port) = server.listen(sa, 5100);
    let gets: Vec<_> = (0..2)
        .map(|_| {
            let sconn = server.connection(sa);
            (sconn, pending(server.get_request(listener, sconn)))
        })
        .collect();

    let clients = [(net.client(), CLIENT_IP), (Cl::open(&third), third_ip)];
    let connects: Vec<_> = clients
        .iter()
        .map(|(c, ip)| {
            let a = c.adapter();
            let (conn, qp) = (c.connection(a), c.qp(a));
            (
                conn,
                pending(c.connect(conn, qp, *ip, SERVER_IP, port, b"req")),
            )
        })
        .collect();
    net.deliver();

    let req_ids: Vec<u32> = net
        .world
        .fabric()
        .take_trace()
        .iter()
        .filter_map(|(_, d)| match ndcm_wire::CmMad::parse(&d.mad[..]) {
            Ok(m) => match m.message {
                ndcm_wire::CmMessage::Req(r) => Some(r.local_comm_id.0),
                _ => None,
            },
            Err(_) => None,
        })
        .collect();
    assert_eq!(req_ids.len(), 2, "one REQ from each client");
    assert_eq!(req_ids[0], req_ids[1], "the scenario needs equal comm IDs");
    for (_, get) in &gets {
        assert_eq!(net.status(&server, *get), NtStatus::SUCCESS);
    }
    // The server takes both: each client's connect completes with a REP.
    for (sconn, _) in &gets {
        let qp = server.qp(sa);
        let _accept = pending(server.accept(*sconn, qp, b"rep"));
    }
    net.deliver();
    for ((c, _), (_, connect)) in clients.iter().zip(&connects) {
        assert_eq!(net.status(c, *connect), NtStatus::SUCCESS);
    }

    server.close();
    for (c, _) in clients {
        c.close();
    }
    net.finish();
}
