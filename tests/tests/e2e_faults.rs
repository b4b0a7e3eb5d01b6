//! End to end on a faulty fabric: several ND connections between two host
//! devices, each through connect / accept / complete-connect /
//! notify-disconnect / disconnect, while the fabric loses, duplicates and
//! reorders MADs as a seeded generator decides (the deterministic world the
//! simulator builds on). The CM's retries must carry every connection
//! through; every request completes exactly once; nothing leaks.
//!
//! On the driver's CM adapter (`ndcm_ndi::cm_adapter::ManagerPort`, as
//! `ndcm_host::ndi_port::NdiPort` on the in-memory fabric).

mod e2e_common;

use e2e_common::*;
use ndcm_cm::platform::Duration;
use ndcm_host::device::{Io, Pending};
use ndcm_host::fabric::FaultModel;
use ndcm_host::{Mode, Verifier};
use ndcm_ndi::NtStatus;
use std::sync::Arc;

/// Connections attempted at once: the listen backlog (4, see
/// `Client::listen`) plus the one GET_REQ_CM the server keeps pending.
const CONNECTIONS: usize = 5;

enum Active {
    Connecting(u64, Pending),
    Disconnecting(Pending),
    Done(NtStatus),
}

enum Passive {
    /// GET_REQ_CM pending, or already answered from the backlog.
    Waiting(u64, u64, Result<Pending, NtStatus>),
    Accepting(u64, Pending),
    Notified(u64, Result<Pending, NtStatus>),
    Done(NtStatus),
}

/// A request that may pend or complete at once (the event it waits for may
/// already have happened): its pending handle, or its status.
fn settled(io: Io) -> Result<Pending, NtStatus> {
    match io {
        Io::Pending(p) => Ok(p),
        Io::Complete(c) => Err(NtStatus(c.status)),
    }
}

/// Runs the scenario on a fabric with `model` and `seed`; returns how many
/// connections were established and fully disconnected, and the fabric's
/// counters.
fn run(model: FaultModel, seed: u64) -> (usize, ndcm_host::fabric::FabricStats) {
    run_n(model, seed, CONNECTIONS).0
}

/// As `run` with `n` connections; also returns the connects refused.
fn run_n(
    model: FaultModel,
    seed: u64,
    n: usize,
) -> ((usize, ndcm_host::fabric::FabricStats), usize) {
    let net = Net::with(Arc::new(Verifier::new(Mode::Strict)), model, seed);
    let server = net.server();
    let client = net.client();
    let sa = server.adapter();
    let ca = client.adapter();
    let (listener, port) = server.listen(sa, 7000);
    let accept_next = |server: &Cl| {
        let conn = server.connection(sa);
        let qp = server.qp(sa);
        Passive::Waiting(conn, qp, settled(server.get_request(listener, conn)))
    };
    let mut passive = vec![accept_next(&server)];
    let mut active: Vec<Active> = (0..n)
        .map(|i| {
            let conn = client.connection(ca);
            let qp = client.qp(ca);
            let p = pending(client.connect(conn, qp, CLIENT_IP, SERVER_IP, port, &[i as u8]));
            Active::Connecting(conn, p)
        })
        .collect();
    let done = |a: &[Active], p: &[Passive]| {
        a.iter().all(|x| matches!(x, Active::Done(_)))
            && p.iter()
                .all(|x| matches!(x, Passive::Done(_) | Passive::Waiting(..)))
    };
    let deadline = net.world.now() + Duration::from_millis(3_600_000);
    while !done(&active, &passive) && net.world.now() < deadline {
        if !net.world.step(deadline) {
            break;
        }
        for a in active.iter_mut() {
            let next = match a {
                Active::Connecting(conn, p) => match net.poll(&client, *p) {
                    Some(NtStatus::SUCCESS) => {
                        let rtu = sync_status(client.complete_connect(*conn));
                        if rtu == NtStatus::SUCCESS {
                            Some(Active::Disconnecting(pending(client.disconnect(*conn))))
                        } else {
                            Some(Active::Done(rtu))
                        }
                    }
                    Some(st) => Some(Active::Done(st)),
                    None => None,
                },
                Active::Disconnecting(p) => net.poll(&client, *p).map(Active::Done),
                Active::Done(_) => None,
            };
            if let Some(n) = next {
                *a = n;
            }
        }
        let mut more = 0;
        for s in passive.iter_mut() {
            let next = match s {
                Passive::Waiting(conn, qp, p) => {
                    match p.map_or_else(Some, |p| net.poll(&server, p)) {
                        Some(NtStatus::SUCCESS) => {
                            more += 1;
                            Some(Passive::Accepting(
                                *conn,
                                pending(server.accept(*conn, *qp, &[])),
                            ))
                        }
                        Some(st) => Some(Passive::Done(st)),
                        None => None,
                    }
                }
                Passive::Accepting(conn, p) => match net.poll(&server, *p) {
                    Some(NtStatus::SUCCESS) => Some(Passive::Notified(
                        *conn,
                        settled(server.notify_disconnect(*conn)),
                    )),
                    Some(st) => Some(Passive::Done(st)),
                    None => None,
                },
                Passive::Notified(conn, p) => match p.map_or_else(Some, |p| net.poll(&server, p)) {
                    Some(NtStatus::SUCCESS) => {
                        // Answer the peer's DREQ with ours (sends the DREP).
                        let _ = server.disconnect(*conn);
                        Some(Passive::Done(NtStatus::SUCCESS))
                    }
                    Some(st) => Some(Passive::Done(st)),
                    None => None,
                },
                Passive::Done(_) => None,
            };
            if let Some(n) = next {
                *s = n;
            }
        }
        for _ in 0..more {
            passive.push(accept_next(&server));
        }
    }
    let completed = active
        .iter()
        .filter(|a| matches!(a, Active::Done(NtStatus::SUCCESS)))
        .count();
    let passive_done = passive
        .iter()
        .filter(|p| matches!(p, Passive::Done(NtStatus::SUCCESS)))
        .count();
    assert_eq!(
        passive_done, completed,
        "both sides saw the same connections end"
    );
    let refused = active
        .iter()
        .filter(|a| matches!(a, Active::Done(NtStatus::CONNECTION_REFUSED)))
        .count();
    server.close();
    client.close();
    net.finish();
    ((completed, net.world.fabric().stats()), refused)
}

#[test]
fn every_connection_completes_on_a_perfect_fabric() {
    let (ok, stats) = run(FaultModel::default(), 1);
    assert_eq!(ok, CONNECTIONS);
    assert_eq!(stats.dropped, 0);
}

#[test]
fn a_request_beyond_the_listen_backlog_is_refused() {
    // Six REQs at once against one pending GET_REQ_CM and a backlog of 4:
    // the sixth is rejected (REJ "no resources") and its connect refused.
    let ((ok, _), refused) = run_n(FaultModel::default(), 1, CONNECTIONS + 1);
    assert_eq!((ok, refused), (CONNECTIONS, 1));
}

#[test]
fn cm_retries_carry_every_connection_through_loss_duplication_and_reordering() {
    let model = FaultModel {
        latency: Duration::from_micros(5),
        loss_ppm: 100_000,
        duplicate_ppm: 50_000,
        reorder_ppm: 200_000,
        max_extra_delay: Duration::from_millis(2),
    };
    let (mut dropped, mut duplicated, mut delayed) = (0, 0, 0);
    for seed in 1..=8 {
        let (ok, stats) = run(model, seed);
        assert_eq!(ok, CONNECTIONS, "seed {seed}: {stats:?}");
        dropped += stats.dropped;
        duplicated += stats.duplicated;
        delayed += stats.delayed;
    }
    // The runs did meet every kind of fault.
    assert!(dropped > 0 && duplicated > 0 && delayed > 0);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let model = FaultModel {
        loss_ppm: 150_000,
        duplicate_ppm: 100_000,
        reorder_ppm: 300_000,
        max_extra_delay: Duration::from_millis(1),
        ..FaultModel::default()
    };
    assert_eq!(run(model, 42), run(model, 42));
}
