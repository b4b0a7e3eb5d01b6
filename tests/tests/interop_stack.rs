//! Interop with the Linux kernel CM through ndcm's whole host stack: IOCTLs (the host
//! `Client`, as an ND provider issues them) → KMDF-rule-checking request model → ndcm-ndi
//! dispatcher → the driver's CM adapter (`NdiPort`) → ndcm-cm → frame tunnel → Linux
//! rdma_cm in the guest.
//!
//! Scenarios (one guest boot): Linux active (`cmtime -c 1`) accepted, Linux disconnects;
//! ndcm active to a `ucmatose` server; ndcm rejects with private data; ndcm connects where
//! nothing listens (STATUS_CONNECTION_REFUSED); `cmtime -c 100` against the stack. MRA and
//! SIDR have no ND operation; they are exercised at the CM level in interop_linux.rs.
//!
//! Skipped (with a printed reason) unless the guest image is built or NDCM_INTEROP=1.

#[path = "../interop/harness.rs"]
mod harness;
#[path = "../interop/stack.rs"]
mod stack;

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use harness::{GUEST_IP, Guest, NDCM_IP, Step, StepResult};
use ndcm_host::client::{Client, header, ipv4};
use ndcm_host::device::Io;
use ndcm_host::ndi_port::NdiPort;
use ndcm_host::tunnel::DropReason;
use ndcm_ndi::NtStatus;
use ndcm_ndi::abi::{AbiField, Ioctl, NDCM_PROTOCOL_TCP, NdcmListenIn, NdcmListenOut};
use stack::Stack;

type Cl = Client<NdiPort>;

const WAIT: Duration = Duration::from_secs(120);
const REJECT_PDATA: &[u8] = b"ndcm stack rejects";
const MANY: usize = 100;

/// GetOverlappedResult with a bound. Polls with a short sleep: `Device::wait` spins
/// (yield_now), and a hundred spinning waiters starve the pump and the guest.
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
                thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

/// LISTEN_CM on the wildcard address with a backlog for `cmtime`'s burst of REQs.
fn listen(c: &Cl, adapter: u64, port: u16, backlog: u32) -> u64 {
    let i = NdcmListenIn {
        header: header(),
        adapter,
        backlog,
        protocol: NDCM_PROTOCOL_TCP,
        local: ipv4([0; 4], port),
    };
    let out = c.ok(Ioctl::ListenCm, &i.to_bytes(), NdcmListenOut::SIZE);
    NdcmListenOut::read(&out, 0).map_or(0, |o| o.listener)
}

/// The ND passive side of one connection: GetConnectionRequest, Accept (until the RTU),
/// NotifyDisconnect (until the peer's DREQ), Disconnect (DREP). The statuses, in order.
fn serve_one(c: &Cl, adapter: u64, listener: u64) -> Vec<NtStatus> {
    let conn = c.connection(adapter);
    let qp = c.qp(adapter);
    let mut got = vec![wait(c, c.get_request(listener, conn))];
    if got[0] == NtStatus::SUCCESS {
        got.push(wait(c, c.accept(conn, qp, b"ndcm accepts")));
        got.push(wait(c, c.notify_disconnect(conn)));
        got.push(wait(c, c.disconnect(conn)));
    }
    let _ = c.destroy_connection(conn);
    let _ = c.destroy_qp(qp);
    got
}

fn nm(s: NtStatus) -> String {
    s.name()
        .map_or_else(|| format!("{:#010x}", s.0), str::to_owned)
}

fn names(s: &[NtStatus]) -> Vec<String> {
    s.iter().map(|&s| nm(s)).collect()
}

struct Outcome {
    scenario: &'static str,
    passed: bool,
    detail: String,
}

#[test]
fn ndcm_host_stack_interoperates_with_the_linux_kernel_cm() {
    if let Err(reason) = harness::prepare() {
        return harness::skip(&reason);
    }
    let dir = harness::run_dir("stack");
    let (tunnel, qemu_port) = harness::tunnel(&dir);
    let mut stack = Stack::start(tunnel, &[GUEST_IP.octets()]);
    let c = Arc::new(Client::open(&stack.device));
    let adapter = c.adapter();
    let l_accept = listen(&c, adapter, 7471, 16);
    let l_reject = listen(&c, adapter, 7472, 16);
    let l_many = listen(&c, adapter, 7474, 128);

    // Passive sides run on their own threads, as an ND server's would.
    let one = {
        let c = Arc::clone(&c);
        thread::spawn(move || serve_one(&c, adapter, l_accept))
    };
    let rejecter = {
        let c = Arc::clone(&c);
        thread::spawn(move || {
            let conn = c.connection(adapter);
            let got = wait(&c, c.get_request(l_reject, conn));
            let rej = wait(&c, c.reject(conn, REJECT_PDATA));
            let _ = c.destroy_connection(conn);
            (got, rej)
        })
    };

    let steps = [
        Step {
            name: "t1_linux_active",
            kind: "run",
            seconds: 60,
            command: "cmtime -s $NDCM_PEER -p 7471 -c 1",
        },
        Step {
            name: "t2_linux_server",
            kind: "serve",
            seconds: 60,
            command: "ucmatose -b $NDCM_GUEST_IP -p 7481 -C 0",
        },
        Step {
            name: "t3_rejected",
            kind: "run",
            seconds: 60,
            command: "ucmatose -s $NDCM_PEER -p 7472 -C 0",
        },
        Step {
            name: "t4_no_listener",
            kind: "wait",
            seconds: 60,
            command: "",
        },
        Step {
            name: "t6_prepare_many",
            kind: "wait",
            seconds: 120,
            command: "",
        },
        Step {
            name: "t7_many",
            kind: "run",
            seconds: 300,
            command: "cmtime -s $NDCM_PEER -p 7474 -c 100",
        },
    ];
    let mut guest = Guest::boot(&dir, &stack.tunnel, qemu_port, &steps);
    let done = |guest: &mut Guest, step: &Step| -> StepResult {
        guest
            .done(
                step.name,
                Duration::from_secs(u64::from(step.seconds) + 120),
            )
            .unwrap_or(StepResult {
                rc: -1,
                output: format!("step {} never finished", step.name),
            })
    };
    let mut outcomes = Vec::new();

    let r = done(&mut guest, &steps[0]);
    let s = one.join().expect("server thread");
    outcomes.push(Outcome {
        scenario: "1 Linux active -> ndcm stack accepts, Linux disconnects",
        passed: r.rc == 0 && s.len() == 4 && s.iter().all(|x| *x == NtStatus::SUCCESS),
        detail: format!(
            "cmtime rc={} ; GET_REQ/REP/NOTIFY_DREQ/DREQ(=DREP): {:?}\n{}",
            r.rc,
            names(&s),
            r.output
        ),
    });

    let ready = guest.ready(steps[1].name, Duration::from_secs(120));
    let mut s2 = Vec::new();
    if ready {
        let conn = c.connection(adapter);
        let qp = c.qp(adapter);
        s2.push(wait(
            &c,
            c.connect(conn, qp, NDCM_IP.octets(), GUEST_IP.octets(), 7481, b"ndcm"),
        ));
        if s2[0] == NtStatus::SUCCESS {
            s2.push(wait(&c, c.complete_connect(conn)));
            s2.push(wait(&c, c.disconnect(conn)));
        }
        let _ = c.destroy_connection(conn);
        let _ = c.destroy_qp(qp);
    }
    let r = done(&mut guest, &steps[1]);
    outcomes.push(Outcome {
        scenario: "2 ndcm stack active -> Linux ucmatose server, ndcm disconnects",
        passed: r.rc == 0 && s2.len() == 3 && s2.iter().all(|x| *x == NtStatus::SUCCESS),
        detail: format!(
            "ucmatose rc={} ; REQ_CM/RTU_CM/DREQ_CM: {:?}\n{}",
            r.rc,
            names(&s2),
            r.output
        ),
    });

    let r = done(&mut guest, &steps[2]);
    let (got, rej) = rejecter.join().expect("rejecting thread");
    outcomes.push(Outcome {
        scenario: "3 ndcm stack rejects with private data -> Linux REJECTED 28",
        passed: r.output.contains("RDMA_CM_EVENT_REJECTED, error: 28")
            && got == NtStatus::SUCCESS
            && rej == NtStatus::SUCCESS,
        detail: format!(
            "ucmatose rc={} ; GET_REQ {} REJ_CM {}\n{}",
            r.rc,
            nm(got),
            nm(rej),
            r.output
        ),
    });

    let ready = guest.ready(steps[3].name, Duration::from_secs(120));
    let mut s4 = None;
    if ready {
        let conn = c.connection(adapter);
        let qp = c.qp(adapter);
        s4 = Some(wait(
            &c,
            c.connect(conn, qp, NDCM_IP.octets(), GUEST_IP.octets(), 7999, &[]),
        ));
        let _ = c.destroy_connection(conn);
        let _ = c.destroy_qp(qp);
    }
    guest.go(steps[3].name);
    let _ = done(&mut guest, &steps[3]);
    outcomes.push(Outcome {
        scenario: "4 ndcm stack connects where nothing listens -> STATUS_CONNECTION_REFUSED",
        passed: s4 == Some(NtStatus::CONNECTION_REFUSED),
        detail: format!("REQ_CM completed with {:?}", s4.map(nm)),
    });

    // Post the passive sides for the burst before cmtime starts.
    let _ = guest.ready(steps[4].name, Duration::from_secs(300));
    let many: Vec<_> = (0..MANY)
        .map(|_| {
            let c = Arc::clone(&c);
            thread::spawn(move || serve_one(&c, adapter, l_many))
        })
        .collect();
    thread::sleep(Duration::from_secs(3));
    guest.go(steps[4].name);
    let r = done(&mut guest, &steps[5]);
    let results: Vec<Vec<NtStatus>> = many
        .into_iter()
        .map(|t| t.join().expect("server thread"))
        .collect();
    let full = results
        .iter()
        .filter(|s| s.len() == 4 && s.iter().all(|x| *x == NtStatus::SUCCESS))
        .count();
    let connect_row = r
        .output
        .lines()
        .find(|l| l.split(':').next().is_some_and(|k| k.trim() == "connect"));
    outcomes.push(Outcome {
        scenario: "7 cmtime -c 100 against the ndcm stack",
        passed: r.rc == 0 && full == MANY,
        detail: format!(
            "cmtime rc={} ; {full}/{MANY} connections accepted, notified and disconnected through the IOCTLs ; {}\n{}",
            r.rc,
            connect_row.unwrap_or("no connect row"),
            r.output
        ),
    });

    let guest_out = guest.finish(Duration::from_secs(60));
    stack.tunnel.flush_tap().expect("flush capture");
    let stats = stack.tunnel.stats();
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
    ] {
        if stats.dropped(r) != 0 {
            failures.push(format!("tunnel dropped {r}: {stats}"));
        }
    }
    // Close the instance: every request completed, nothing leaked, no KMDF rule broken.
    match Arc::try_unwrap(c) {
        Ok(c) => c.close(),
        Err(_) => failures.push("client still shared".into()),
    }
    thread::sleep(Duration::from_millis(200));
    stack.stop();
    let violations = stack.verifier.violations();
    println!("=== verifier: {violations:?}");
    if !violations.is_empty() {
        failures.push(format!("KMDF rule violations: {violations:?}"));
    }
    match harness::tshark(&dir.join("tunnel.pcap")) {
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
