//! The capture `ndcm sim --pcap` writes (the simulator's trace framed as
//! RoCEv2 by `ndcm::sim::capture`, the code the command runs) is read back
//! by Wireshark's dissector: no frame is malformed or carries an expert
//! error, every frame is a CM MAD, and for every connection (the active
//! side's address and local communication ID of its REQ) the messages come
//! in protocol order: REQ, then REP, RTU, DREQ, DREP — or REQ then REJ.
//!
//! Skipped (with a message) when tshark is not installed, unless
//! NDCM_REQUIRE_TSHARK=1.

mod tshark_common;
use ndcm::sim::{SimConfig, capture, run};
use std::collections::BTreeMap;
use std::process::Command;
use tshark_common::tshark_available;

/// Runs the simulator and writes its capture; returns the path and the
/// number of frames.
fn capture_of(cfg: SimConfig, name: &str) -> (std::path::PathBuf, usize, ndcm::sim::SimReport) {
    let report = run(
        SimConfig {
            record: true,
            ..cfg
        },
        &mut |_| {},
    )
    .expect("sim starts");
    assert!(report.ok(), "{}", report.table());
    let path = std::env::temp_dir().join(format!("ndcm-{name}-{}.pcap", std::process::id()));
    let file = std::fs::File::create(&path).expect("create capture");
    let n = capture::write_pcap(std::io::BufWriter::new(file), &report.trace).expect("write");
    assert_eq!(n as u64, report.m.counters.sent, "one frame per MAD sent");
    (path, n, report)
}

fn tshark(path: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Frames tshark marks malformed or with an error-level expert item.
fn bad_frames(path: &std::path::Path) -> Vec<String> {
    tshark(
        path,
        &[
            "-Y",
            "_ws.malformed || _ws.expert.severity >= 8388608",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

const FIELDS: &[&str] = &[
    "frame.number",
    "ip.src",
    "ip.dst",
    "infiniband.mad.attributeid",
    // Wireshark names the REQ's Local Communication ID "infiniband.cm.req".
    "infiniband.cm.req",
    "infiniband.cm.rep.remotecommid",
    "infiniband.cm.rtu.localcommid",
    "infiniband.cm.rej.remotecommid",
    "infiniband.cm.dreq.localcommid",
    "infiniband.cm.dreq.remotecommid",
    "infiniband.cm.drsp.localcommid",
    "infiniband.cm.drsp.remotecommid",
    "infiniband.cm.rej.localcommid",
];

#[derive(Debug)]
struct Row {
    frame: u64,
    src: String,
    dst: String,
    attr: String,
    f: Vec<String>,
}

fn rows(path: &std::path::Path) -> Vec<Row> {
    let mut args = vec!["-T", "fields", "-E", "separator=,", "-E", "occurrence=f"];
    for f in FIELDS {
        args.push("-e");
        args.push(f);
    }
    tshark(path, &args)
        .lines()
        .map(|l| {
            let v: Vec<String> = l.split(',').map(str::to_owned).collect();
            assert_eq!(v.len(), FIELDS.len(), "line {l:?}");
            Row {
                frame: v[0].parse().expect("frame number"),
                src: v[1].clone(),
                dst: v[2].clone(),
                attr: v[3].clone(),
                f: v,
            }
        })
        .collect()
}

/// The message sequence of each connection, keyed by (active address, REQ
/// local communication ID), in capture order; and the number of MRAs
/// (which tshark does not dissect beyond the MAD header).
type Sequences = BTreeMap<(String, String), Vec<(&'static str, u64)>>;

fn sequences(rows: &[Row]) -> (Sequences, u64) {
    let mut seq: Sequences = BTreeMap::new();
    let mut mras = 0;
    for r in rows {
        if r.attr == "0x0011" {
            mras += 1;
            continue;
        }
        let f = |i: usize| r.f[i].clone();
        // (key candidates, message name): a message belongs to the
        // connection whose active side is its sender (local ID) or its
        // receiver (remote ID).
        let (name, keys): (&'static str, Vec<(String, String)>) = match r.attr.as_str() {
            "0x0010" => ("REQ", vec![(r.src.clone(), f(4))]),
            "0x0013" => ("REP", vec![(r.dst.clone(), f(5))]),
            "0x0014" => ("RTU", vec![(r.src.clone(), f(6))]),
            // From the passive side (remote = the REQ's ID) or the active
            // side (local = the REQ's ID).
            "0x0012" => ("REJ", vec![(r.dst.clone(), f(7)), (r.src.clone(), f(12))]),
            "0x0015" => ("DREQ", vec![(r.src.clone(), f(8)), (r.dst.clone(), f(9))]),
            "0x0016" => ("DREP", vec![(r.src.clone(), f(10)), (r.dst.clone(), f(11))]),
            other => panic!("frame {}: not a CM message tshark knows: {other}", r.frame),
        };
        let key = if name == "REQ" {
            keys.into_iter().next()
        } else {
            keys.into_iter().find(|k| seq.contains_key(k))
        };
        let key = key.unwrap_or_else(|| panic!("frame {}: {name} of no REQ seen before", r.frame));
        seq.entry(key).or_default().push((name, r.frame));
    }
    (seq, mras)
}

#[test]
fn every_connection_of_a_clean_run_is_dissected_in_protocol_order() {
    if !tshark_available() {
        return;
    }
    let cfg = SimConfig {
        connections: 300,
        concurrency: 32,
        seed: 11,
        reject_rate: 0.1,
        ..SimConfig::default()
    };
    let (path, frames, report) = capture_of(cfg, "clean");
    assert_eq!(bad_frames(&path), Vec::<String>::new(), "malformed frames");
    let rows = rows(&path);
    assert_eq!(rows.len(), frames, "tshark read every frame");
    let (seq, mras) = sequences(&rows);
    assert_eq!(mras, 0);
    assert_eq!(seq.len(), 300, "one REQ per lifecycle");
    let (mut up, mut refused) = (0, 0);
    for (key, msgs) in &seq {
        let names: Vec<&str> = msgs.iter().map(|(n, _)| *n).collect();
        match names.as_slice() {
            ["REQ", "REP", "RTU", "DREQ", "DREP"] => up += 1,
            ["REQ", "REJ"] => refused += 1,
            other => panic!("connection {key:?}: messages out of order: {other:?}"),
        }
    }
    assert_eq!(up, report.m.outcomes.established);
    assert_eq!(refused, report.m.outcomes.rejected);
    assert!(refused > 0);
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_faulty_run_with_destroys_has_no_malformed_frame_and_no_reply_before_its_req() {
    if !tshark_available() {
        return;
    }
    let cfg = SimConfig {
        connections: 400,
        concurrency: 48,
        seed: 12,
        loss: 0.03,
        dup: 0.03,
        reorder: 0.1,
        reject_rate: 0.1,
        destroy_rate: 0.3,
        slow_rate: 0.05,
        ..SimConfig::default()
    };
    let (path, frames, report) = capture_of(cfg, "faulty");
    assert!(report.m.counters.retransmissions > 0 && report.m.counters.mras() > 0);
    assert_eq!(bad_frames(&path), Vec::<String>::new(), "malformed frames");
    let rows = rows(&path);
    assert_eq!(rows.len(), frames);
    // Every message names a connection whose REQ was sent before it, and
    // each connection's first reply comes after its first REQ.
    let (seq, mras) = sequences(&rows);
    assert_eq!(
        mras,
        report.m.counters.mras(),
        "every MRA sent is in the capture"
    );
    for (key, msgs) in seq {
        assert_eq!(msgs[0].0, "REQ", "connection {key:?}: {msgs:?}");
        if let Some(rtu) = msgs.iter().find(|(n, _)| *n == "RTU") {
            let rep = msgs.iter().find(|(n, _)| *n == "REP");
            assert!(
                rep.is_some_and(|r| r.1 < rtu.1),
                "connection {key:?}: RTU without an earlier REP: {msgs:?}"
            );
        }
    }
    let _ = std::fs::remove_file(path);
}
