//! The Windows build of the `ndcm` command (x86_64-pc-windows-gnu, mingw-w64)
//! run under Wine, against the Linux build:
//! - `ndcm.exe sim` runs thousands of lifecycles with every invariant 0;
//! - `ndcm.exe decode` of the repository's fixture prints what the Linux
//!   build prints, byte for byte;
//! - `ndcm.exe connect` completes every lifecycle against a Linux `ndcm
//!   listen` over the frame tunnel, and a Linux `ndcm connect` against
//!   `ndcm.exe listen`; both captures are clean in tshark.
//!
//! `tests/windows/wine/setup.sh` builds ndcm.exe and the Wine prefix and
//! prints the environment these tests read: `NDCM_WINE_EXE` (the .exe) and
//! `WINEPREFIX`. Without them the tests skip, unless `NDCM_REQUIRE_WINE=1`
//! (CI) makes that a failure.

mod tshark_common;
mod tunnel_common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use tshark_common::tshark_available;
use tunnel_common::{RoleArgs, check_capture, free_udp_port, spawn_role, text};

const LIFECYCLES: u64 = 20;

#[test]
#[ignore = "entry point of the Linux child processes of the Wine tests"]
fn child_role() {
    tunnel_common::child_role();
}

/// The Windows `ndcm.exe` to run, or `None` (skip) when the set-up has not
/// run; panics instead under `NDCM_REQUIRE_WINE=1`.
fn wine_exe() -> Option<PathBuf> {
    let exe = std::env::var_os("NDCM_WINE_EXE").map(PathBuf::from);
    let wine = Command::new("wine")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    match exe {
        Some(exe) if wine && exe.is_file() => Some(exe),
        _ => {
            let why = "NDCM_WINE_EXE names no ndcm.exe or wine is not installed \
                       (run tests/windows/wine/setup.sh)";
            assert!(
                std::env::var("NDCM_REQUIRE_WINE").as_deref() != Ok("1"),
                "{why}, and NDCM_REQUIRE_WINE=1"
            );
            println!("SKIPPED: {why}");
            None
        }
    }
}

fn wine(exe: &Path) -> Command {
    let mut c = Command::new("wine");
    c.arg(exe).env("WINEDEBUG", "-all");
    c
}

/// `ndcm.exe COMMAND` on the frame tunnel from UDP port `ours` to `theirs`
/// (loopback), with `ip` on the tunnel's segment.
fn wine_on_tunnel(exe: &Path, command: &str, ours: u16, theirs: u16, ip: &str) -> Command {
    let mut c = wine(exe);
    c.args([command, "--local", &format!("127.0.0.1:{ours}")])
        .args(["--remote", &format!("127.0.0.1:{theirs}")])
        .args(["--ip", ip]);
    c
}

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn wine_sim_runs_thousands_of_lifecycles_with_every_invariant_zero() {
    let Some(exe) = wine_exe() else { return };
    let out = wine(&exe)
        .args(["sim", "--connections", "3000", "--loss", "0.01", "--json"])
        .output()
        .expect("wine ndcm.exe sim");
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(json["ok"], true, "{json}");
    let invariants = json["invariants"].as_object().expect("invariants");
    assert!(!invariants.is_empty());
    for (name, value) in invariants {
        assert_eq!(value, 0, "invariant {name}");
    }
    assert_eq!(
        json["outcomes"]["established"]
            .as_u64()
            .expect("established")
            + json["outcomes"]["rejected"].as_u64().expect("rejected")
            + json["outcomes"]["timed_out"].as_u64().expect("timed_out"),
        3000,
        "{json}"
    );
    // CPU time comes from GetThreadTimes on Windows.
    assert!(
        json["performance"]["cpu_ns_per_connection"]
            .as_u64()
            .is_some(),
        "no CPU time under Wine: {json}"
    );
    println!("ndcm.exe sim: {}", json["performance"]);
}

#[test]
fn wine_decode_prints_what_linux_prints_byte_for_byte() {
    let Some(exe) = wine_exe() else { return };
    let fixture = repo_file("fixtures/cm-handshake.pcap");
    for json in [false, true] {
        let mut w = wine(&exe);
        w.arg("decode").arg(&fixture);
        let mut args = vec![fixture.display().to_string()];
        if json {
            w.arg("--json");
            args.push("--json".into());
        }
        let windows = w.output().expect("wine ndcm.exe decode");
        assert!(windows.status.success(), "{}", text(&windows));
        let linux = decode_on_linux(&fixture, json);
        assert!(!linux.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&windows.stdout),
            linux,
            "ndcm.exe decode{} differs from Linux",
            if json { " --json" } else { "" }
        );
    }
}

/// The Linux build's `ndcm decode` output, by the function the command runs.
fn decode_on_linux(fixture: &Path, json: bool) -> String {
    let mut out = Vec::new();
    ndcm::decode::write_capture(fixture, json, &mut out).expect("decode on Linux");
    String::from_utf8(out).expect("utf-8")
}

fn wait_ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed:\n{}", text(out));
}

#[test]
fn wine_connect_completes_every_lifecycle_against_linux_listen() {
    let Some(exe) = wine_exe() else { return };
    let (l, c) = (free_udp_port(), free_udp_port());
    let capture = std::env::temp_dir().join(format!("ndcm-wine-c-{}.pcap", std::process::id()));
    let listener = spawn_role(
        "listen",
        &RoleArgs {
            ours: l,
            theirs: c,
            amount: 20,
            capture: Some(&capture),
        },
    );
    std::thread::sleep(Duration::from_millis(500));
    let connect = wine_on_tunnel(&exe, "connect", c, l, tunnel_common::CONNECT_IP)
        .args([
            "--to",
            &format!(
                "{}:{}",
                tunnel_common::LISTEN_IP,
                tunnel_common::LISTEN_PORT
            ),
        ])
        .args(["--count", &LIFECYCLES.to_string(), "--timeout", "8"])
        .output()
        .expect("wine ndcm.exe connect");
    let listen = listener.wait_with_output().expect("listen");
    wait_ok(&connect, "ndcm.exe connect");
    assert!(
        text(&connect).contains(&format!("ndcm connect: {LIFECYCLES} completed, 0 failed")),
        "{}",
        text(&connect)
    );
    wait_ok(&listen, "Linux ndcm listen");
    assert!(
        text(&listen).contains(&format!(
            "established {LIFECYCLES} disconnected {LIFECYCLES}"
        )),
        "{}",
        text(&listen)
    );
    if tshark_available() {
        check_capture(&capture, LIFECYCLES);
    }
    let _ = std::fs::remove_file(capture);
}

#[test]
fn linux_connect_completes_every_lifecycle_against_wine_listen() {
    let Some(exe) = wine_exe() else { return };
    let (l, c) = (free_udp_port(), free_udp_port());
    let capture = std::env::temp_dir().join(format!("ndcm-wine-l-{}.pcap", std::process::id()));
    let listener = wine_on_tunnel(&exe, "listen", l, c, tunnel_common::LISTEN_IP)
        .args(["--port", &tunnel_common::LISTEN_PORT.to_string()])
        .args(["--duration", "20", "--capture"])
        .arg(&capture)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("wine ndcm.exe listen");
    // Wine takes a few seconds to start a process; the connector's REQ
    // retransmissions cover a listener that is not up yet.
    std::thread::sleep(Duration::from_secs(3));
    let connect = spawn_role(
        "connect",
        &RoleArgs {
            ours: c,
            theirs: l,
            amount: LIFECYCLES,
            capture: None,
        },
    )
    .wait_with_output()
    .expect("connect");
    let listen = listener.wait_with_output().expect("wine listen");
    wait_ok(&connect, "Linux ndcm connect");
    assert!(
        text(&connect).contains(&format!("ndcm connect: {LIFECYCLES} completed, 0 failed")),
        "{}",
        text(&connect)
    );
    wait_ok(&listen, "ndcm.exe listen");
    assert!(
        text(&listen).contains(&format!(
            "established {LIFECYCLES} disconnected {LIFECYCLES}"
        )),
        "{}",
        text(&listen)
    );
    if tshark_available() {
        check_capture(&capture, LIFECYCLES);
    }
    let _ = std::fs::remove_file(capture);
}

/// Ctrl-C (the console control handler Wine raises for SIGINT) stops an
/// open-ended `ndcm.exe listen`: it reports and exits 0, with its CPU time
/// from GetProcessTimes.
#[test]
fn wine_ctrl_c_stops_listen_and_it_reports() {
    let Some(exe) = wine_exe() else { return };
    let (l, c) = (free_udp_port(), free_udp_port());
    let listener = wine_on_tunnel(&exe, "listen", l, c, tunnel_common::LISTEN_IP)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("wine ndcm.exe listen");
    std::thread::sleep(Duration::from_secs(4));
    let kill = Command::new("kill")
        .args(["-INT", &listener.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let out = listener.wait_with_output().expect("wine listen");
    wait_ok(&out, "ndcm.exe listen after Ctrl-C");
    let t = text(&out);
    assert!(t.contains("acceptor: requests 0"), "no report:\n{t}");
    let agent = t
        .lines()
        .find(|l| l.starts_with("agent: "))
        .unwrap_or_else(|| panic!("no agent report:\n{t}"));
    assert!(!agent.ends_with("cpu n/a"), "no CPU time: {agent}");
}
