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
mod tunnel_common;
use std::time::{Duration, Instant};
use tshark_common::tshark_available;
use tunnel_common::{RoleArgs, check_capture, free_udp_port, spawn_role, text};

const LIFECYCLES: u64 = 25;

#[test]
#[ignore = "entry point of the child processes of two_processes_over_the_frame_tunnel"]
fn child_role() {
    tunnel_common::child_role();
}

#[test]
fn two_processes_over_the_frame_tunnel() {
    let (a, b) = (free_udp_port(), free_udp_port());
    let capture =
        std::env::temp_dir().join(format!("ndcm-two-process-{}.pcap", std::process::id()));
    let listener = spawn_role(
        "listen",
        &RoleArgs {
            ours: a,
            theirs: b,
            amount: 12,
            capture: Some(&capture),
        },
    );
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let connector = spawn_role(
        "connect",
        &RoleArgs {
            ours: b,
            theirs: a,
            amount: LIFECYCLES,
            capture: None,
        },
    );
    let c = connector.wait_with_output().expect("connect");
    let took = started.elapsed();
    let l = listener.wait_with_output().expect("listen");
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

    if tshark_available() {
        check_capture(&capture, LIFECYCLES);
    }
    let _ = std::fs::remove_file(capture);
}
