//! Two processes, each running the whole stack (provider API, IOCTL ABI,
//! dispatcher, CEP manager on a MAD port, MAD agent), exchange whole RoCEv2
//! QP1 frames over the frame tunnel on loopback: one is `ndcm listen`, the
//! other `ndcm connect` running lifecycles against it. The listener's
//! capture of the tunnel is then dissected by tshark: no malformed frame,
//! and every lifecycle's REQ, REP, RTU, DREQ and DREP is on the wire.
//!
//! The processes are this test binary re-executed in a child role (the
//! `ndcm` binary of another package is not built for this one), calling the
//! same `ndcm::listen::run` / `ndcm::connect::run` the commands call.
//! Skipped when tshark is absent unless NDCM_REQUIRE_TSHARK=1 (the frame
//! exchange itself is checked either way).

mod tshark_common;
use std::net::UdpSocket;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};
use tshark_common::tshark_available;

const ROLE: &str = "NDCM_TWO_PROCESS_ROLE";
const ARGS: &str = "NDCM_TWO_PROCESS_ARGS";
const LIFECYCLES: u64 = 25;

/// The child entry: runs a role when the parent asked for one. `ARGS` is
/// "ours theirs [capture]": the two tunnel UDP ports and the listener's
/// capture file.
#[test]
#[ignore = "entry point of the child processes of two_processes_over_the_frame_tunnel"]
fn child_role() {
    let (Ok(role), Ok(args)) = (std::env::var(ROLE), std::env::var(ARGS)) else {
        return;
    };
    let v: Vec<&str> = args.split(' ').collect();
    let udp = |p: &str| format!("127.0.0.1:{p}").parse().expect("port");
    let code = match role.as_str() {
        "listen" => ndcm::listen::run(&ndcm::listen::ListenArgs {
            local: udp(v[0]),
            remote: udp(v[1]),
            ip: "10.77.0.1".parse().expect("ip"),
            port: 7000,
            max_connections: ndcm::agent::acceptor::DEFAULT_MAX_CONNECTIONS,
            backlog: ndcm::agent::acceptor::DEFAULT_BACKLOG,
            duration: Some(12.0),
            capture: v.get(2).map(std::path::PathBuf::from),
        }),
        "connect" => ndcm::connect::run(&ndcm::connect::ConnectArgs {
            local: udp(v[0]),
            remote: udp(v[1]),
            ip: "10.77.0.2".parse().expect("ip"),
            to: "10.77.0.1:7000".parse().expect("addr"),
            count: LIFECYCLES,
            timeout: 8.0,
            capture: None,
        }),
        other => panic!("unknown role {other}"),
    };
    assert_eq!(code, ExitCode::SUCCESS, "{role} failed");
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

fn child(role: &str, args: &str) -> std::process::Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "child_role",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(ARGS, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child")
}

#[test]
fn two_processes_over_the_frame_tunnel() {
    let (a, b) = (free_udp_port(), free_udp_port());
    let capture =
        std::env::temp_dir().join(format!("ndcm-two-process-{}.pcap", std::process::id()));
    let listener = child("listen", &format!("{a} {b} {}", capture.display()));
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let connector = child("connect", &format!("{b} {a}"));
    let c = connector.wait_with_output().expect("connect");
    let took = started.elapsed();
    let l = listener.wait_with_output().expect("listen");
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(c.status.success(), "connect failed:\n{}", text(&c));
    assert!(
        text(&c).contains(&format!("ndcm connect: {LIFECYCLES} completed, 0 failed")),
        "{}",
        text(&c)
    );
    assert!(l.status.success(), "listen failed:\n{}", text(&l));
    assert!(
        text(&l).contains(&format!(
            "established {LIFECYCLES} disconnected {LIFECYCLES}"
        )),
        "listener did not see every lifecycle:\n{}",
        text(&l)
    );
    println!("{LIFECYCLES} lifecycles between two processes in {took:?}");

    if !tshark_available() {
        return;
    }
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&capture)
        .args(["-Y", "_ws.malformed || _ws.expert.severity >= 8388608"])
        .output()
        .expect("tshark");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "malformed frames");
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&capture)
        .args([
            "-Y",
            "infiniband",
            "-T",
            "fields",
            "-e",
            "infiniband.mad.attributeid",
        ])
        .output()
        .expect("tshark");
    let ids = String::from_utf8_lossy(&out.stdout);
    let count = |attr: &str| ids.lines().filter(|l| *l == attr).count() as u64;
    // At least one of each per lifecycle (retransmissions may add more).
    for (name, attr) in [
        ("REQ", "0x0010"),
        ("REP", "0x0013"),
        ("RTU", "0x0014"),
        ("DREQ", "0x0015"),
        ("DREP", "0x0016"),
    ] {
        assert!(count(attr) >= LIFECYCLES, "{name}: {} frames", count(attr));
    }
    let _ = std::fs::remove_file(capture);
}
