//! Interop with the Linux kernel CM through the `ndcm connect` command's own code path
//! (`ndcm::connect::run`: provider API → IOCTLs → dispatcher → CM → MAD agent → frame tunnel):
//! ndcm dials a Linux `ucmatose` server (rdma_cm, RDMA_PS_TCP port space, zero messages),
//! completes the connection and disconnects it. The Linux side must report the
//! disconnection and exit 0; `ndcm connect` must report every lifecycle completed; tshark
//! must find no malformed frame in the command's capture.
//!
//! Skipped (with a printed reason) unless the guest image is built or NDCM_INTEROP=1.

#[path = "../interop/harness.rs"]
mod harness;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use harness::{GUEST_IP, Guest, NDCM_IP, Step};

/// One guest at a time: the tests of this binary run on parallel threads under a plain
/// `cargo test` (tests/interop/run.sh passes --test-threads 1), and two guests booting at
/// once on a small machine starve each other, and each test frees its tunnel port before
/// the command rebinds it, where the other test's QEMU may take it.
static ONE_GUEST: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_guest() -> std::sync::MutexGuard<'static, ()> {
    // A failed test poisons the lock; the next one still runs alone.
    ONE_GUEST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn ndcm_connect_command_dials_a_linux_ucmatose_server() {
    let _alone = one_guest();
    if let Err(reason) = harness::prepare() {
        return harness::skip(&reason);
    }
    let dir = harness::run_dir("cli-connect");
    let steps = [Step {
        name: "cli_server",
        kind: "serve",
        seconds: 90,
        command: "ucmatose -b $NDCM_GUEST_IP -p 7491 -C 0",
    }];
    // QEMU is joined to the harness tunnel's UDP port; the command binds that same port
    // itself once the harness's socket is closed (the guest only talks to the port).
    let (tunnel, qemu_port) = harness::tunnel(&dir);
    let local = tunnel.local_addr();
    let mut guest = Guest::boot(&dir, &tunnel, qemu_port, &steps);
    drop(tunnel);

    assert!(
        guest.ready("cli_server", Duration::from_secs(180)),
        "the guest's ucmatose server never listened"
    );
    let capture = dir.join("ndcm-connect.pcap");
    let args = ndcm::connect::ConnectArgs {
        local,
        remote: SocketAddr::from((Ipv4Addr::LOCALHOST, qemu_port)),
        ip: NDCM_IP,
        to: SocketAddr::from((GUEST_IP, 7491)),
        count: 1,
        timeout: 20.0,
        capture: Some(capture.clone()),
    };
    let status = ndcm::connect::run(&args);
    let server = guest.done("cli_server", Duration::from_secs(120));
    guest.finish(Duration::from_secs(60));

    assert_eq!(status, ExitCode::SUCCESS, "ndcm connect reported a failure");
    let server = server.expect("the ucmatose server step ended");
    assert_eq!(server.rc, 0, "ucmatose:\n{}", server.output);
    assert!(
        server.output.contains("disconnected"),
        "ucmatose saw no disconnect:\n{}",
        server.output
    );
    let report = harness::tshark(&capture).expect("tshark dissects the capture");
    assert_eq!(report.malformed, 0, "{report:?}");
    for (attribute, filter) in [
        ("REQ", "infiniband.mad.attributeid == 0x0010"),
        ("REP", "infiniband.mad.attributeid == 0x0013"),
        ("RTU", "infiniband.mad.attributeid == 0x0014"),
        ("DREQ", "infiniband.mad.attributeid == 0x0015"),
    ] {
        let seen = harness::tshark_fields(&capture, filter, "frame.number").unwrap_or_default();
        assert!(!seen.is_empty(), "no {attribute} in the capture");
    }
}

/// `ndcm listen` (the command's code path: MAD agent on the tunnel plus an ND acceptor)
/// serves a Linux `cmtime` client: REQ with the rdma_cm header, REP, RTU, then the client's
/// DREQ answered with DREP. (`cmtime` disconnects from the active side; a `ucmatose` client
/// would wait for the server to disconnect, and the acceptor holds each connection until
/// its peer does.) The Linux side must exit 0.
#[test]
fn ndcm_listen_command_serves_a_linux_cmtime_client() {
    listen_serves_cmtime("cli-listen", 7492, 1);
}

/// The same with many connections at once: `cmtime -c 16` connects all sixteen before it
/// disconnects any, which an acceptor holding one connection at a time cannot serve. Every
/// connection must be established (a distinct RTU from Linux) and answered with a DREP.
#[test]
fn ndcm_listen_command_serves_a_linux_cmtime_client_with_many_connections() {
    listen_serves_cmtime("cli-listen-many", 7493, 16);
}

/// Distinct values of `field` in the frames matching `filter`.
fn distinct(capture: &std::path::Path, filter: &str, field: &str) -> usize {
    let mut v = harness::tshark_fields(capture, filter, field).unwrap_or_default();
    v.retain(|s| !s.is_empty());
    v.sort();
    v.dedup();
    v.len()
}

fn listen_serves_cmtime(tag: &str, port: u16, connections: usize) {
    let _alone = one_guest();
    if let Err(reason) = harness::prepare() {
        return harness::skip(&reason);
    }
    let dir = harness::run_dir(tag);
    let client_command = format!("cmtime -s $NDCM_PEER -p {port} -c {connections}");
    let steps = [
        Step {
            name: "cli_listening",
            kind: "wait",
            seconds: 120,
            command: "",
        },
        Step {
            name: "cli_client",
            kind: "run",
            seconds: 60,
            command: &client_command,
        },
    ];
    let (tunnel, qemu_port) = harness::tunnel(&dir);
    let local = tunnel.local_addr();
    let mut guest = Guest::boot(&dir, &tunnel, qemu_port, &steps);
    drop(tunnel);

    let capture = dir.join("ndcm-listen.pcap");
    let args = ndcm::listen::ListenArgs {
        local,
        remote: SocketAddr::from((Ipv4Addr::LOCALHOST, qemu_port)),
        ip: NDCM_IP,
        port,
        max_connections: ndcm::agent::acceptor::DEFAULT_MAX_CONNECTIONS,
        backlog: ndcm::agent::acceptor::DEFAULT_BACKLOG,
        duration: Some(45.0),
        capture: Some(capture.clone()),
    };
    // The command runs for a fixed time, so it starts once the guest is up (its boot time
    // varies with the machine's load: started before the boot, the command could end
    // while the client was still connecting). It binds the tunnel and listens within
    // milliseconds; the guest goes a second later. (Probing the port by binding it
    // could take it from the command.)
    assert!(
        guest.ready("cli_listening", Duration::from_secs(180)),
        "the guest never came up"
    );
    let listener = std::thread::spawn(move || ndcm::listen::run(&args));
    std::thread::sleep(Duration::from_secs(1));
    guest.go("cli_listening");
    let client = guest.done("cli_client", Duration::from_secs(120));
    let status = listener.join().expect("ndcm listen thread");
    guest.finish(Duration::from_secs(60));

    let client = client.expect("the cmtime client step ended");
    assert_eq!(client.rc, 0, "cmtime:\n{}", client.output);
    assert_eq!(status, ExitCode::SUCCESS, "ndcm listen reported a failure");
    let report = harness::tshark(&capture).expect("tshark dissects the capture");
    assert_eq!(report.malformed, 0, "{report:?}");
    for (attribute, filter) in [
        ("REQ", "infiniband.mad.attributeid == 0x0010"),
        ("REP", "infiniband.mad.attributeid == 0x0013"),
        ("RTU", "infiniband.mad.attributeid == 0x0014"),
        ("DREP", "infiniband.mad.attributeid == 0x0016"),
    ] {
        let seen = harness::tshark_fields(&capture, filter, "frame.number").unwrap_or_default();
        assert!(!seen.is_empty(), "no {attribute} in the capture");
    }
    let rtu = "infiniband.mad.attributeid == 0x0014";
    let drep = "infiniband.mad.attributeid == 0x0016";
    assert_eq!(
        distinct(&capture, rtu, "infiniband.cm.rtu.localcommid"),
        connections,
        "connections established"
    );
    assert_eq!(
        distinct(&capture, drep, "infiniband.cm.drsp.localcommid"),
        connections,
        "connections ndcm answered with a DREP"
    );
}
