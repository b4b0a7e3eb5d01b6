//! Two ndcm host stacks, each a host on its own end of a frame tunnel on loopback (the same
//! Ethernet-in-UDP QEMU's `-netdev dgram` speaks): ND-style connections through the IOCTLs,
//! the dispatcher and the CM, every MAD in a whole RoCEv2 frame built and verified by the
//! tunnel, ARP resolving each side. The capture of one end is dissected by tshark.
//!
//! Runs everywhere (no VM, no privileges); tshark is skipped only when absent and
//! NDCM_REQUIRE_TSHARK is not set.

#[path = "../interop/stack.rs"]
mod stack;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use ndcm_host::client::Client;
use ndcm_host::device::Io;
use ndcm_host::ndi_port::NdiPort;
use ndcm_host::tunnel::{FrameTap, FrameTunnel, TunnelConfig};
use ndcm_ndi::NtStatus;
use stack::Stack;

type Cl = Client<NdiPort>;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 2);
const CONNECTIONS: usize = 10;
const WAIT: Duration = Duration::from_secs(60);

fn wait(c: &Cl, io: Io) -> NtStatus {
    match io {
        Io::Complete(done) => NtStatus(done.status),
        Io::Pending(p) => {
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                if let Some(d) = c.device().poll(p) {
                    return NtStatus(d.status);
                }
                if std::time::Instant::now() >= deadline {
                    return NtStatus(0xFFFF_FFFF);
                }
                thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

#[test]
fn two_host_stacks_connect_over_the_frame_tunnel() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tunnel-loopback");
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("server.pcap");
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let reserve = UdpSocket::bind(any).unwrap();
    let client_udp = reserve.local_addr().unwrap();
    let server_tunnel = FrameTunnel::bind_with_tap(
        TunnelConfig::new(any, client_udp, SERVER),
        Some(FrameTap::create(&pcap).unwrap()),
    )
    .unwrap();
    let server_udp = server_tunnel.local_addr();
    drop(reserve);
    let client_tunnel =
        FrameTunnel::bind(TunnelConfig::new(client_udp, server_udp, CLIENT)).unwrap();
    let mut server = Stack::start(server_tunnel, &[CLIENT.octets()]);
    let mut client = Stack::start(client_tunnel, &[SERVER.octets()]);

    let s = Arc::new(Client::open(&server.device));
    let sa = s.adapter();
    let (listener, _) = s.listen(sa, 7471);
    let acceptor = {
        let s = Arc::clone(&s);
        thread::spawn(move || {
            (0..CONNECTIONS)
                .map(|_| {
                    let conn = s.connection(sa);
                    let qp = s.qp(sa);
                    let got = [
                        wait(&s, s.get_request(listener, conn)),
                        wait(&s, s.accept(conn, qp, b"accepted")),
                        wait(&s, s.notify_disconnect(conn)),
                        wait(&s, s.disconnect(conn)),
                    ];
                    let _ = s.destroy_connection(conn);
                    let _ = s.destroy_qp(qp);
                    got
                })
                .collect::<Vec<_>>()
        })
    };
    let c = Client::open(&client.device);
    let ca = c.adapter();
    for i in 0..CONNECTIONS {
        let conn = c.connection(ca);
        let qp = c.qp(ca);
        let got = [
            wait(
                &c,
                c.connect(conn, qp, CLIENT.octets(), SERVER.octets(), 7471, b"hello"),
            ),
            wait(&c, c.complete_connect(conn)),
            wait(&c, c.disconnect(conn)),
        ];
        assert!(
            got.iter().all(|s| *s == NtStatus::SUCCESS),
            "client connection {i}: {got:?}"
        );
        let _ = c.destroy_connection(conn);
        let _ = c.destroy_qp(qp);
    }
    let served = acceptor.join().expect("acceptor");
    for (i, got) in served.iter().enumerate() {
        assert!(
            got.iter().all(|s| *s == NtStatus::SUCCESS),
            "server connection {i}: {got:?}"
        );
    }

    let (ss, cs) = (server.tunnel.stats(), client.tunnel.stats());
    println!("server tunnel: {ss}\nclient tunnel: {cs}");
    // REQ, RTU, DREQ from the client and REP, DREP from the server, per connection at least.
    assert!(
        ss.mads_received >= 3 * CONNECTIONS as u64 && cs.mads_received >= 2 * CONNECTIONS as u64
    );
    assert_eq!(ss.dropped_total() + cs.dropped_total(), 0, "{ss} / {cs}");
    assert_eq!(
        cs.arp_requests_sent, 1,
        "the client resolved the server once"
    );
    c.close();
    match Arc::try_unwrap(s) {
        Ok(s) => s.close(),
        Err(_) => panic!("server client still shared"),
    }
    server.stop();
    client.stop();
    for st in [&server, &client] {
        assert!(
            st.verifier.violations().is_empty(),
            "{:?}",
            st.verifier.violations()
        );
    }
    server.tunnel.flush_tap().unwrap();

    let tshark = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .output();
    let Ok(out) = tshark else {
        assert!(
            std::env::var_os("NDCM_REQUIRE_TSHARK").is_none(),
            "tshark required but absent"
        );
        eprintln!("tshark not installed: capture not dissected");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("Malformed"), "{text}");
    for name in [
        "ConnectRequest",
        "ConnectReply",
        "ReadyToUse",
        "DisconnectRequest",
        "DisconnectReply",
        "ARP",
    ] {
        assert!(text.contains(name), "no {name} in the capture:\n{text}");
    }
}
