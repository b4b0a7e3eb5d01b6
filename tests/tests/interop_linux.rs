//! Interop with the Linux kernel CM (ib_cm / rdma_cm over soft-RoCE in a QEMU guest), issue 7:
//! ndcm's CM (ndcm-cm's CEP manager on the host platform) on the frame tunnel against a
//! stock Debian kernel and the rdma-core tools, in one guest boot:
//!
//! 1. Linux active (`cmtime -c 1`) → ndcm passive accepts; Linux disconnects (DREQ/DREP).
//! 2. ndcm active → Linux `ucmatose` server (zero messages): REQ/REP/RTU, ndcm disconnects.
//! 3. ndcm rejects a Linux REQ with consumer private data: Linux reports REJECTED, 28.
//! 4. ndcm connects to a port where nothing listens: Linux answers REJ 8 (invalid service ID).
//! 5. ndcm sends MRA and accepts later than the REQ timeout: Linux waits, no REQ retry.
//! 6. SIDR: `udaddy` resolves a UD service that ndcm serves.
//! 7. `cmtime -c 100` against ndcm, with Linux↔Linux `cmtime -c 100` on the same guest.
//!
//! Every frame is captured (target/tmp/interop/linux/tunnel.pcap) and dissected by tshark.
//! Skipped (with a printed reason) unless the guest image is built or NDCM_INTEROP=1.

#[path = "../interop/cm_node.rs"]
mod cm_node;
#[path = "../interop/harness.rs"]
mod harness;

use std::time::Duration;

use cm_node::{Active, CmNode, Policy, rej_reason};
use harness::{GUEST_IP, Guest, Step, StepResult};
use ndcm_cm::EventKind;
use ndcm_host::tunnel::DropReason;
use ndcm_wire::ip::PortSpace;

/// RDMA_UDP_QKEY: rdma_cm refuses a SIDR_REP with another Q_Key for RDMA_PS_UDP.
const RDMA_UDP_QKEY: u32 = 0x0123_4567;
const REJECT_PDATA: &[u8] = b"ndcm rejects: consumer private data";
const MRA_DELAY: Duration = Duration::from_secs(6);
const MANY: usize = 100;

struct Outcome {
    scenario: &'static str,
    passed: bool,
    detail: String,
}

fn step_timeout(secs: u32) -> Duration {
    Duration::from_secs(u64::from(secs) + 60)
}

/// The "connect" row of cmtime's table: (total ms, connections per second).
fn cmtime_connect_rate(out: &str, n: usize) -> Option<(f64, f64)> {
    let line = out
        .lines()
        // The table row "connect      :  total ..." (not the progress line "connecting").
        .find(|l| l.split(':').next().is_some_and(|k| k.trim() == "connect"))?;
    let total_ms: f64 = line
        .split(':')
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((total_ms, n as f64 / (total_ms / 1000.0)))
}

#[test]
fn ndcm_cm_interoperates_with_the_linux_kernel_cm() {
    if let Err(reason) = harness::prepare() {
        return harness::skip(&reason);
    }
    let dir = harness::run_dir("linux");
    let (tunnel, qemu_port) = harness::tunnel(&dir);
    let cm = CmNode::start(tunnel);

    let l_accept = cm.listen(PortSpace::Tcp, 7471, Policy::Accept);
    let l_reject = cm.listen(PortSpace::Tcp, 7472, Policy::Reject(REJECT_PDATA.to_vec()));
    let l_mra = cm.listen(
        PortSpace::Tcp,
        7473,
        Policy::MraThenAccept {
            service_timeout: 22,
            delay: MRA_DELAY,
        },
    );
    let l_many = cm.listen(PortSpace::Tcp, 7474, Policy::Accept);
    let l_sidr = cm.listen(
        PortSpace::Udp,
        7174,
        Policy::SidrAnswer {
            qpn: 0x0a0b0c,
            qkey: RDMA_UDP_QKEY,
        },
    );

    let many = MANY.to_string();
    let s7 = format!("cmtime -s $NDCM_PEER -p 7474 -c {many}");
    let s7l = format!(
        "cmtime -b $NDCM_GUEST_IP -p 7475 & sleep 2; cmtime -s $NDCM_GUEST_IP -p 7475 -c {many}; kill $!"
    );
    let steps = [
        Step {
            name: "s1_linux_active",
            kind: "run",
            seconds: 60,
            command: "cmtime -s $NDCM_PEER -p 7471 -c 1",
        },
        Step {
            name: "s2_linux_server",
            kind: "serve",
            seconds: 60,
            command: "ucmatose -b $NDCM_GUEST_IP -p 7481 -C 0",
        },
        Step {
            name: "s3_rejected",
            kind: "run",
            seconds: 60,
            command: "ucmatose -s $NDCM_PEER -p 7472 -C 0",
        },
        Step {
            name: "s4_no_listener",
            kind: "wait",
            seconds: 60,
            command: "",
        },
        Step {
            name: "s5_mra",
            kind: "run",
            seconds: 90,
            command: "ucmatose -s $NDCM_PEER -p 7473 -C 0",
        },
        Step {
            name: "s6_sidr",
            kind: "run",
            seconds: 60,
            command: "udaddy -s $NDCM_PEER -C 0",
        },
        Step {
            name: "s7_many",
            kind: "run",
            seconds: 300,
            command: &s7,
        },
        Step {
            name: "s7_linux_linux",
            kind: "run",
            seconds: 300,
            command: &s7l,
        },
        Step {
            name: "s7b_ndcm_active",
            kind: "serve",
            seconds: 300,
            command: "cmtime -b $NDCM_GUEST_IP -p 7476 & p=$!; \
                      while [ ! -e /mnt/share/s7b_ndcm_active.go ]; do sleep 0.2; done; kill $p",
        },
    ];
    let mut guest = Guest::boot(&dir, cm.tunnel(), qemu_port, &steps);
    let mut outcomes = Vec::new();
    let done = |guest: &mut Guest, step: &Step| -> StepResult {
        guest
            .done(step.name, step_timeout(step.seconds))
            .unwrap_or(StepResult {
                rc: -1,
                output: format!("step {} never finished", step.name),
            })
    };

    // 1. Linux active → ndcm passive; Linux disconnects.
    let r = done(&mut guest, &steps[0]);
    let kids = cm.children_of(l_accept);
    let kinds = kids.first().map(|&c| cm.kinds_of(c)).unwrap_or_default();
    outcomes.push(Outcome {
        scenario: "1 Linux active -> ndcm accepts, Linux disconnects",
        passed: r.rc == 0
            && kids.len() == 1
            && kinds.contains(&EventKind::RtuReceived)
            && kinds.contains(&EventKind::DreqReceived),
        detail: format!(
            "cmtime rc={} ; ndcm events on the connection: {kinds:?}\n{}",
            r.rc, r.output
        ),
    });

    // 2. ndcm active → Linux ucmatose server; ndcm disconnects after its RTU.
    let ready = guest.ready(steps[1].name, Duration::from_secs(120));
    let c2 = ready.then(|| cm.connect(GUEST_IP, 7481, Active::RtuThenDisconnect, b"ndcm"));
    let r = done(&mut guest, &steps[1]);
    let kinds = c2.map(|c| cm.kinds_of(c)).unwrap_or_default();
    outcomes.push(Outcome {
        scenario: "2 ndcm active -> Linux ucmatose server, ndcm disconnects",
        passed: r.rc == 0
            && r.output.contains("disconnected")
            && kinds.first() == Some(&EventKind::RepReceived)
            && (kinds.contains(&EventKind::DrepReceived)
                || kinds.contains(&EventKind::DreqReceived)),
        detail: format!(
            "ucmatose rc={} ; ndcm events: {kinds:?}\n{}",
            r.rc, r.output
        ),
    });

    // 3. ndcm rejects with private data.
    let r = done(&mut guest, &steps[2]);
    let rejected = cm.children_of(l_reject).len();
    outcomes.push(Outcome {
        scenario: "3 ndcm rejects with private data -> Linux REJECTED 28",
        passed: r.output.contains("RDMA_CM_EVENT_REJECTED, error: 28") && rejected == 1,
        detail: format!(
            "ucmatose rc={} ; REQs on the rejecting listener: {rejected}\n{}",
            r.rc, r.output
        ),
    });

    // 4. ndcm connects where nothing listens.
    let ready = guest.ready(steps[3].name, Duration::from_secs(120));
    let c4 = ready.then(|| cm.connect(GUEST_IP, 7999, Active::Rtu, &[]));
    let got = c4.is_some_and(|c| {
        cm.wait_for(Duration::from_secs(30), |log| {
            log.iter()
                .any(|l| l.cid == c && l.event.kind == EventKind::RejReceived)
        })
    });
    guest.go(steps[3].name);
    let reason = c4.and_then(|c| {
        cm.log()
            .iter()
            .find(|l| l.cid == c && l.event.kind == EventKind::RejReceived)
            .and_then(|l| rej_reason(&l.event))
    });
    let _ = done(&mut guest, &steps[3]);
    outcomes.push(Outcome {
        scenario: "4 ndcm connects to a port with no listener -> REJ invalid service ID",
        passed: got && reason == Some(8),
        detail: format!("REJ received: {got}, reason {reason:?}"),
    });

    // 5. MRA, then accept after the REQ timeout.
    let r = done(&mut guest, &steps[4]);
    let kids = cm.children_of(l_mra);
    let kinds = kids.first().map(|&c| cm.kinds_of(c)).unwrap_or_default();
    let mra_in = guest.cm_counter_delta(steps[4].name, "cm_rx_msgs/mra");
    let req_retries = guest.cm_counter_delta(steps[4].name, "cm_tx_retries/req");
    outcomes.push(Outcome {
        scenario: "5 ndcm MRA then accept -> Linux waits and connects",
        passed: r.rc == 0
            && kids.len() == 1
            && kinds.contains(&EventKind::RtuReceived)
            && mra_in == Some(1)
            && req_retries == Some(0),
        detail: format!(
            "ucmatose rc={} ; guest CM counters: MRA received {mra_in:?}, REQ retries {req_retries:?} ; ndcm events {kinds:?}\n{}",
            r.rc, r.output
        ),
    });

    // 6. SIDR.
    let r = done(&mut guest, &steps[5]);
    let sidr = cm.children_of(l_sidr).len();
    outcomes.push(Outcome {
        scenario: "6 SIDR: udaddy resolves ndcm's UD service",
        passed: r.rc == 0 && sidr == 1 && !r.output.contains("error"),
        detail: format!(
            "udaddy rc={} ; SIDR_REQs served: {sidr}\n{}",
            r.rc, r.output
        ),
    });

    // 7. Many connections, with Linux↔Linux for comparison.
    let r = done(&mut guest, &steps[6]);
    let kids = cm.children_of(l_many);
    let full = kids
        .iter()
        .filter(|&&c| {
            let k = cm.kinds_of(c);
            k.contains(&EventKind::RtuReceived) && k.contains(&EventKind::DreqReceived)
        })
        .count();
    let ndcm_rate = cmtime_connect_rate(&r.output, MANY);
    let rl = done(&mut guest, &steps[7]);
    let linux_rate = cmtime_connect_rate(&rl.output, MANY);
    outcomes.push(Outcome {
        scenario: "7 cmtime -c 100 against ndcm",
        passed: r.rc == 0 && kids.len() == MANY && full == MANY && ndcm_rate.is_some(),
        detail: format!(
            "cmtime rc={} ; ndcm accepted {} connections, {full} established and disconnected by Linux\n\
             connect rate Linux->ndcm: {ndcm_rate:?} (total ms, conn/s); Linux->Linux (same guest, rxe loopback): {linux_rate:?}\n\
             --- Linux->ndcm\n{}\n--- Linux->Linux (rc={})\n{}",
            r.rc,
            kids.len(),
            r.output,
            rl.rc,
            rl.output
        ),
    });

    // 7b. The other direction: ndcm issues 100 connects at once to a Linux cmtime server,
    // then disconnects them all.
    let ready = guest.ready("s7b_ndcm_active", Duration::from_secs(400));
    let t0 = std::time::Instant::now();
    let conns: Vec<_> = if ready {
        (0..MANY)
            .map(|_| cm.connect(GUEST_IP, 7476, Active::Rtu, &[]))
            .collect()
    } else {
        Vec::new()
    };
    let count = |kind: EventKind| {
        let log = cm.log();
        conns
            .iter()
            .filter(|&&c| log.iter().any(|l| l.cid == c && l.event.kind == kind))
            .count()
    };
    let all_rep = ready
        && cm.wait_for(Duration::from_secs(120), |log| {
            conns.iter().all(|&c| {
                log.iter()
                    .any(|l| l.cid == c && l.event.kind == EventKind::RepReceived)
            })
        });
    let connect_s = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    for &c in &conns {
        cm.disconnect(c);
    }
    let all_drep = ready
        && cm.wait_for(Duration::from_secs(120), |log| {
            conns.iter().all(|&c| {
                log.iter()
                    .any(|l| l.cid == c && l.event.kind == EventKind::DrepReceived)
            })
        });
    let disconnect_s = t1.elapsed().as_secs_f64();
    guest.go("s7b_ndcm_active");
    let rb = done(&mut guest, &steps[8]);
    let (reps, dreps) = (
        count(EventKind::RepReceived),
        count(EventKind::DrepReceived),
    );
    outcomes.push(Outcome {
        scenario: "7b ndcm active x100 -> Linux cmtime server",
        passed: all_rep && all_drep && rb.rc == 0,
        detail: format!(
            "{reps}/{MANY} REPs in {connect_s:.3} s ({:.0} conn/s), {dreps}/{MANY} DREPs in {disconnect_s:.3} s; guest rc={}\n{}",
            reps as f64 / connect_s,
            rb.rc,
            rb.output
        ),
    });

    let guest_out = guest.finish(Duration::from_secs(60));
    // Nothing leaks: closing ndcm's owner tears everything down, timewait included.
    let leftover = cm.shutdown(Duration::from_secs(30));
    cm.tunnel().flush_tap().expect("flush capture");
    let stats = cm.tunnel().stats();
    println!("=== guest\n{guest_out}");
    for o in &outcomes {
        println!(
            "=== {} : {}\n{}",
            o.scenario,
            if o.passed { "PASS" } else { "FAIL" },
            o.detail
        );
    }
    println!("=== tunnel: {stats}");
    println!(
        "=== CM: {:?}, dropped MADs {}, policy errors {:?}",
        cm.manager().stats(),
        cm.manager().dropped(),
        cm.errors()
    );

    println!("=== CM after shutdown: {leftover:?}");
    let mut failures: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| o.scenario.to_owned())
        .collect();
    for r in [
        DropReason::BadIcrc,
        DropReason::MalformedRoce,
        DropReason::NotQp1,
        DropReason::BadIpv4Checksum,
        DropReason::ArpUnresolved,
    ] {
        if stats.dropped(r) != 0 {
            failures.push(format!("tunnel dropped {r}: {stats}"));
        }
    }
    if !cm.errors().is_empty() {
        failures.push(format!(
            "CM calls of ndcm's consumer failed: {:?}",
            cm.errors()
        ));
    }
    if !leftover.is_quiescent() {
        failures.push(format!("CM objects left after shutdown: {leftover:?}"));
    }
    let pcap = dir.join("tunnel.pcap");
    // tshark's own reading of the REJ of scenario 3 and the REJ of scenario 4.
    if let Some(reasons) = harness::tshark_fields(
        &pcap,
        "infiniband.cm.rej.reason",
        "infiniband.cm.rej.reason",
    ) {
        println!("=== tshark REJ reasons: {reasons:?}");
        if !reasons.iter().any(|r| r == "0x001c") || !reasons.iter().any(|r| r == "0x0008") {
            failures.push(format!(
                "tshark REJ reasons {reasons:?}: want 0x001c (ndcm) and 0x0008 (Linux)"
            ));
        }
    }
    if let Some(pdata) = harness::tshark_fields(
        &pcap,
        "infiniband.cm.rej.reason == 0x001c",
        "infiniband.cm.rej.private",
    ) {
        let want: String = REJECT_PDATA.iter().map(|b| format!("{b:02x}")).collect();
        if !pdata.iter().any(|p| p.replace(':', "").starts_with(&want)) {
            failures.push(format!(
                "tshark shows no REJ carrying ndcm's private data: {pdata:?}"
            ));
        }
    }
    match harness::tshark(&pcap) {
        None => eprintln!("tshark not installed: capture not dissected"),
        Some(report) => {
            println!(
                "=== tshark: {} frames, {} CM frames, {} malformed",
                report.frames,
                report.cm_lines.len(),
                report.malformed
            );
            if report.malformed != 0 {
                failures.push(format!(
                    "{} malformed frames in {}",
                    report.malformed,
                    dir.display()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "failed: {failures:#?} (run directory {})",
        dir.display()
    );
}

#[test]
fn cmtime_table_row_gives_the_connect_rate() {
    let out = "connecting\ndisconnecting\nstep              total ms     max ms     min us  us / conn\n\
               connect      :      592.40     525.13    5873.00    5924.02\n\
               disconnect   :      235.33      38.72     528.00    2353.26\n";
    let (ms, rate) = cmtime_connect_rate(out, 100).unwrap();
    assert_eq!(ms, 592.40);
    assert!((rate - 168.8).abs() < 0.1, "{rate}");
    assert_eq!(cmtime_connect_rate("connecting\n", 100), None);
}
