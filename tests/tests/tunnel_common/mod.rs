//! Two processes over the frame tunnel on loopback: the child roles (`ndcm
//! listen` / `ndcm connect`, run by re-executing the test binary, since the
//! `ndcm` binary of another package is not built for this one) and the
//! tshark checks of a tunnel capture. Used by the Linux two-process test and
//! by the Wine tests, whose Linux half these roles are.
//!
//! A test file using it declares the child entry point:
//! `#[test] #[ignore = "child entry"] fn child_role() { tunnel_common::child_role() }`.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Output, Stdio};

const ROLE: &str = "NDCM_TUNNEL_ROLE";
const ARGS: &str = "NDCM_TUNNEL_ARGS";

/// The listener's and the connector's addresses on the tunnel's segment.
pub const LISTEN_IP: &str = "10.77.0.1";
pub const CONNECT_IP: &str = "10.77.0.2";
pub const LISTEN_PORT: u16 = 7000;

/// What a child role runs.
pub struct RoleArgs<'a> {
    /// Our and the other end's tunnel UDP ports (127.0.0.1).
    pub ours: u16,
    pub theirs: u16,
    /// Lifecycles (connect) or seconds to run (listen).
    pub amount: u64,
    /// Where the listener writes its capture.
    pub capture: Option<&'a Path>,
}

/// Runs the role the parent asked for, if any (the body of `child_role`).
pub fn child_role() {
    let (Ok(role), Ok(args)) = (std::env::var(ROLE), std::env::var(ARGS)) else {
        return;
    };
    let v: Vec<&str> = args.split(' ').collect();
    let udp = |p: &str| format!("127.0.0.1:{p}").parse().expect("port");
    let amount: u64 = v[2].parse().expect("amount");
    let code = match role.as_str() {
        "listen" => ndcm::listen::run(&ndcm::listen::ListenArgs {
            local: udp(v[0]),
            remote: udp(v[1]),
            ip: LISTEN_IP.parse().expect("ip"),
            port: LISTEN_PORT,
            max_connections: ndcm::agent::acceptor::DEFAULT_MAX_CONNECTIONS,
            backlog: ndcm::agent::acceptor::DEFAULT_BACKLOG,
            duration: Some(amount as f64),
            capture: v.get(3).map(std::path::PathBuf::from),
        }),
        "connect" => ndcm::connect::run(&ndcm::connect::ConnectArgs {
            local: udp(v[0]),
            remote: udp(v[1]),
            ip: CONNECT_IP.parse().expect("ip"),
            to: format!("{LISTEN_IP}:{LISTEN_PORT}").parse().expect("addr"),
            count: amount,
            timeout: 8.0,
            capture: v.get(3).map(std::path::PathBuf::from),
        }),
        other => panic!("unknown role {other}"),
    };
    assert_eq!(code, ExitCode::SUCCESS, "{role} failed");
}

/// Starts this test binary again in `role` ("listen" or "connect").
pub fn spawn_role(role: &str, args: &RoleArgs<'_>) -> Child {
    let mut line = format!("{} {} {}", args.ours, args.theirs, args.amount);
    if let Some(c) = args.capture {
        line.push_str(&format!(" {}", c.display()));
    }
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "child_role",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(ARGS, line)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child")
}

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

/// A finished process's stdout and stderr, as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// tshark finds no malformed frame and no error in `capture`, and at least
/// `lifecycles` of each of REQ, REP, RTU, DREQ and DREP (retransmissions may
/// add more).
pub fn check_capture(capture: &Path, lifecycles: u64) {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(capture)
        .args(["-Y", "_ws.malformed || _ws.expert.severity >= 8388608"])
        .output()
        .expect("tshark");
    assert!(out.status.success(), "tshark: {}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "malformed frames");
    let out = Command::new("tshark")
        .arg("-r")
        .arg(capture)
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
    for (name, attr) in [
        ("REQ", "0x0010"),
        ("REP", "0x0013"),
        ("RTU", "0x0014"),
        ("DREQ", "0x0015"),
        ("DREP", "0x0016"),
    ] {
        assert!(count(attr) >= lifecycles, "{name}: {} frames", count(attr));
    }
}
