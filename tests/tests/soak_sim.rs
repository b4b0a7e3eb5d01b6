//! Soak: 100,000 simulated connection lifecycles over 20 seeds, each on a
//! fabric that loses, duplicates and reorders MADs, with requests rejected,
//! applications slow to Accept/CompleteConnect, and QPs destroyed,
//! connectors released and processes closed at random moments — all through
//! the provider API, the IOCTL ABI, the dispatcher and the CM (`ndcm sim`).
//!
//! After each run every invariant must hold: every request completed
//! exactly once, nothing leaked once the processes closed and timewait
//! passed, no KMDF rule broken, no request stuck, private data intact, no
//! status a request may never complete with. Runs are deterministic; a
//! failure names the seed and the command that replays it.

use ndcm::sim::{SimConfig, run};
use ndcm_cm::platform::Duration;

/// Lifecycles per seed; 20 seeds → 100,000.
const PER_SEED: u64 = 5_000;

/// The fault mix of seed `seed`: every seed has all of the faults, at
/// rates that vary from seed to seed.
fn config(seed: u64) -> SimConfig {
    let k = seed % 5;
    SimConfig {
        nodes: 2 + (seed % 3) as usize,
        connections: PER_SEED,
        concurrency: 64 + 48 * k as usize,
        seed,
        loss: 0.002 + 0.01 * k as f64,
        dup: 0.005 + 0.01 * ((seed / 5) % 3) as f64,
        reorder: 0.02 + 0.04 * k as f64,
        delay: Duration::from_micros(1 + seed % 7),
        max_extra_delay: Duration::from_micros(40),
        reject_rate: 0.05 + 0.02 * k as f64,
        destroy_rate: 0.05 + 0.05 * ((seed / 3) % 4) as f64,
        slow_rate: 0.01,
        max_slow: Duration::from_millis(2_000),
        ..SimConfig::default()
    }
}

fn replay(c: &SimConfig) -> String {
    format!(
        "cargo run --release -p ndcm -- sim --seed {} -n {} --nodes {} --concurrency {} \
         --loss {} --dup {} --reorder {} --delay {} --max-extra-delay-us {} \
         --reject-rate {} --destroy-rate {} --slow-rate {} --max-slow-ms {}",
        c.seed,
        c.connections,
        c.nodes,
        c.concurrency,
        c.loss,
        c.dup,
        c.reorder,
        c.delay.as_nanos() as f64 / 1000.0,
        c.max_extra_delay.as_nanos() as f64 / 1000.0,
        c.reject_rate,
        c.destroy_rate,
        c.slow_rate,
        c.max_slow.as_nanos() / 1_000_000,
    )
}

fn soak(seeds: std::ops::Range<u64>) {
    let mut failed = Vec::new();
    let mut total = 0;
    for seed in seeds {
        let cfg = config(seed);
        let report = match run(cfg.clone(), &mut |_| {}) {
            Ok(r) => r,
            Err(e) => panic!("seed {seed}: cannot start: {e}"),
        };
        total += report.lifecycles();
        let o = report.m.outcomes;
        // The faults must actually have been exercised.
        assert!(report.m.fabric.dropped > 0, "seed {seed}: nothing lost");
        assert!(
            report.m.fabric.duplicated > 0,
            "seed {seed}: nothing duplicated"
        );
        assert!(
            report.m.fabric.delayed > 0,
            "seed {seed}: nothing reordered"
        );
        assert!(report.m.destroys > 0, "seed {seed}: nothing destroyed");
        assert!(o.rejected > 0, "seed {seed}: nothing rejected");
        assert!(o.established > PER_SEED / 2, "seed {seed}: {o:?}");
        if !report.ok() {
            eprintln!(
                "SOAK FAILURE seed {seed}; replay with:\n  {}\n{}",
                replay(&cfg),
                report.table()
            );
            failed.push(seed);
        }
    }
    assert!(failed.is_empty(), "invariants broken for seeds {failed:?}");
    assert_eq!(total, 5 * PER_SEED);
}

// Four tests of five seeds each, so the harness spreads them over cores.
#[test]
fn soak_seeds_1_to_5() {
    soak(1..6);
}

#[test]
fn soak_seeds_6_to_10() {
    soak(6..11);
}

#[test]
fn soak_seeds_11_to_15() {
    soak(11..16);
}

#[test]
fn soak_seeds_16_to_20() {
    soak(16..21);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let cfg = SimConfig {
        connections: 400,
        ..config(7)
    };
    let a = run(cfg.clone(), &mut |_| {}).expect("run");
    let b = run(cfg, &mut |_| {}).expect("run");
    assert_eq!(a.m.outcomes, b.m.outcomes);
    assert_eq!(a.m.latencies, b.m.latencies);
    assert_eq!(a.m.fabric, b.m.fabric);
    assert_eq!(a.m.counters.sent, b.m.counters.sent);
    assert_eq!(a.m.counters.retransmissions, b.m.counters.retransmissions);
    assert_eq!(a.m.sim_time, b.m.sim_time);
}
