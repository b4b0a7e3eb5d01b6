//! The interop harness: boots the Linux guest (tests/interop/boot.sh) with its NIC joined to
//! an ndcm frame tunnel, drives the guest's step list through the 9p share, and checks
//! captures with tshark.
//!
//! Owns processes and files only (the VM, the share directory, tshark); it never speaks CM —
//! the tests do that through the tunnel. Included by tests/tests/interop_*.rs with `#[path]`.

#![allow(dead_code)] // each test file uses a different part

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use ndcm_host::tunnel::{FrameTap, FrameTunnel, TunnelConfig};

/// ndcm's address on the segment, and the guest's.
pub const NDCM_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
pub const GUEST_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

/// tests/interop in the source tree.
pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Whether to run, building the image if asked to: `Err(reason)` means skip.
///
/// Runs when NDCM_INTEROP=1 (building the image if missing: root needed) or when the image
/// is already built; NDCM_INTEROP=0 always skips.
pub fn prepare() -> Result<PathBuf, String> {
    let wanted = std::env::var("NDCM_INTEROP").ok();
    if wanted.as_deref() == Some("0") {
        return Err("NDCM_INTEROP=0".into());
    }
    if Command::new("qemu-system-x86_64")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        return Err("qemu-system-x86_64 is not installed".into());
    }
    let script = interop_dir().join("image.sh");
    let existing = Command::new(&script).arg("--path").output();
    if let Ok(out) = &existing
        && out.status.success()
    {
        return Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    if wanted.as_deref() != Some("1") {
        return Err(
            "the guest image is not built (run tests/interop/image.sh as root, or set NDCM_INTEROP=1)"
                .into(),
        );
    }
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("image.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!("image.sh failed ({})", out.status));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Prints why a test is skipped; when NDCM_INTEROP=1 a skip is a failure.
pub fn skip(reason: &str) {
    if std::env::var("NDCM_INTEROP").as_deref() == Ok("1") {
        panic!("NDCM_INTEROP=1 but the interop suite cannot run: {reason}");
    }
    eprintln!("SKIPPED interop with Linux: {reason}");
}

/// A fresh directory for one run (share, capture, logs), kept for inspection.
pub fn run_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("NDCM_INTEROP_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("interop"));
    let dir = base.join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("share")).expect("run directory");
    dir
}

/// A free UDP port on 127.0.0.1 (for QEMU's end of the tunnel).
fn free_udp_port() -> u16 {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

/// ndcm's end of the segment plus the port QEMU must use, capturing every frame.
pub fn tunnel(dir: &Path) -> (FrameTunnel, u16) {
    let qemu_port = free_udp_port();
    let remote = SocketAddr::from((Ipv4Addr::LOCALHOST, qemu_port));
    let local = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let tap = FrameTap::create(&dir.join("tunnel.pcap")).expect("capture file");
    let t = FrameTunnel::bind_with_tap(TunnelConfig::new(local, remote, NDCM_IP), Some(tap))
        .expect("tunnel socket");
    (t, qemu_port)
}

/// One step of the guest's list (tests/interop/guest/steps.sh).
pub struct Step<'a> {
    pub name: &'a str,
    /// `run`, `serve` or `wait`.
    pub kind: &'a str,
    pub seconds: u32,
    pub command: &'a str,
}

/// What a guest step left in the share.
#[derive(Debug)]
pub struct StepResult {
    pub rc: i32,
    pub output: String,
}

/// The running guest.
pub struct Guest {
    child: Child,
    share: PathBuf,
    dir: PathBuf,
}

impl Guest {
    /// Boots the guest with `steps`, its NIC on `tunnel` (QEMU listening on `qemu_port`).
    pub fn boot(dir: &Path, tunnel: &FrameTunnel, qemu_port: u16, steps: &[Step]) -> Guest {
        let share = dir.join("share");
        let list: String = steps
            .iter()
            .map(|s| format!("{} {} {} {}\n", s.name, s.kind, s.seconds, s.command))
            .collect();
        fs::write(share.join("steps"), list).expect("steps file");
        fs::copy(interop_dir().join("guest/steps.sh"), share.join("guest.sh")).expect("guest.sh");
        let child = Command::new(interop_dir().join("boot.sh"))
            .arg(&share)
            .env("NDCM_TUNNEL_PORT", tunnel.local_addr().port().to_string())
            .env("NDCM_QEMU_PORT", qemu_port.to_string())
            .env("NDCM_GUEST_IP", format!("{GUEST_IP}/24"))
            .env("NDCM_HOST_IP", NDCM_IP.to_string())
            .env("NDCM_VM_PCAP", dir.join("guest-nic.pcap"))
            .env("NDCM_VM_TIMEOUT", "900")
            .stdout(fs::File::create(dir.join("qemu.out")).expect("qemu.out"))
            .stderr(fs::File::create(dir.join("qemu.err")).expect("qemu.err"))
            .spawn()
            .expect("boot.sh");
        Guest {
            child,
            share,
            dir: dir.to_path_buf(),
        }
    }

    fn wait_file(&mut self, file: &str, timeout: Duration) -> bool {
        let path = self.share.join(file);
        let end = Instant::now() + timeout;
        loop {
            if path.exists() {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // One last look: the file may have been written just before power-off.
                eprintln!("guest exited ({status}) while waiting for {file}");
                return path.exists();
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until a `serve` or `wait` step signals it is ready.
    pub fn ready(&mut self, step: &str, timeout: Duration) -> bool {
        self.wait_file(&format!("{step}.ready"), timeout)
    }

    /// Lets a `wait` step end.
    pub fn go(&self, step: &str) {
        fs::write(self.share.join(format!("{step}.go")), b"").expect("go file");
    }

    /// Waits for a step to end and returns what it left.
    pub fn done(&mut self, step: &str, timeout: Duration) -> Option<StepResult> {
        if !self.wait_file(&format!("{step}.rc"), timeout) {
            return None;
        }
        // The rc file is written last (whole, by rename), after the output.
        let mut rc = String::new();
        for _ in 0..50 {
            rc = fs::read_to_string(self.share.join(format!("{step}.rc"))).unwrap_or_default();
            if !rc.trim().is_empty() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let output = fs::read_to_string(self.share.join(format!("{step}.out"))).unwrap_or_default();
        Some(StepResult {
            rc: rc.trim().parse().unwrap_or(-1),
            output,
        })
    }

    /// The kernel CM counters of the guest port before and after a step (name=value lines).
    pub fn cm_counter_delta(&self, step: &str, counter: &str) -> Option<i64> {
        let read = |suffix: &str| -> Option<i64> {
            let text = fs::read_to_string(self.share.join(format!("{step}.{suffix}"))).ok()?;
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{counter}=")))
                .and_then(|v| v.trim().parse().ok())
        };
        Some(read("cm-after")? - read("cm-before")?)
    }

    /// Waits for the guest to power off (killing it after `timeout`); returns guest.out.
    pub fn finish(mut self, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < end => thread::sleep(Duration::from_millis(100)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
        fs::read_to_string(self.share.join("guest.out")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// tshark's verdict on a capture.
#[derive(Debug)]
pub struct TsharkReport {
    pub frames: usize,
    pub malformed: usize,
    /// One summary line per CM frame (`-Y infiniband`).
    pub cm_lines: Vec<String>,
}

/// Dissects `pcap` with tshark; `None` if tshark is not installed.
pub fn tshark(pcap: &Path) -> Option<TsharkReport> {
    let count = |filter: &str| -> Option<Vec<String>> {
        let out = Command::new("tshark")
            .args(["-n", "-r"])
            .arg(pcap)
            .args(["-Y", filter])
            .output()
            .ok()?;
        if !out.status.success() {
            panic!(
                "tshark failed on {}: {}",
                pcap.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned)
                .collect(),
        )
    };
    Some(TsharkReport {
        frames: count("frame")?.len(),
        malformed: count("_ws.malformed || _ws.expert.severity == error")?.len(),
        cm_lines: count("infiniband")?,
    })
}

/// The values of one field in the frames matching `filter` (`tshark -T fields`), one entry
/// per frame; `None` if tshark is not installed.
pub fn tshark_fields(pcap: &Path, filter: &str, field: &str) -> Option<Vec<String>> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .args(["-Y", filter, "-T", "fields", "-e", field])
        .output()
        .ok()?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}
