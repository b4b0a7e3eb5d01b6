//! The outcome of a simulated run: counts, latencies, rates, the invariant
//! checks, the summary table and the JSON form.

use super::config::SimConfig;
use super::counters::{ATTR_DREP, ATTR_DREQ, ATTR_REJ, ATTR_REP, ATTR_REQ, ATTR_RTU, MadCounters};
use ndcm_cm::platform::{Duration, Instant};
use ndcm_host::fabric::{Datagram, FabricStats};
use serde_json::json;
use std::fmt::Write;

/// How the lifecycles ended (active side).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Reached CONNECTED (CompleteConnect succeeded).
    pub established: u64,
    /// Connect answered CONNECTION_REFUSED.
    pub rejected: u64,
    /// Connect or CompleteConnect answered IO_TIMEOUT.
    pub timed_out: u64,
    /// Ended by a destroy, a close or a peer's abort before CONNECTED.
    pub aborted: u64,
}

/// The checks that must all be 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Invariants {
    /// Requests not completed, or completed twice, or results not taken
    /// exactly once by the provider.
    pub requests_not_completed_once: u64,
    /// Objects alive after every process closed and the world drained:
    /// framework requests, queues, files; dispatcher files and ports; CM
    /// connections; MADs in flight.
    pub objects_leaked: u64,
    /// KMDF/WDM DDI rule violations recorded by the verifier.
    pub rule_violations: u64,
    /// Requests still pending after their connector was released.
    pub stuck_requests: u64,
    /// Private data that did not round-trip (REQ, REP, REJ).
    pub pdata_mismatches: u64,
    /// Statuses a request may never complete with, outcomes other than the
    /// planned one on a perfect fabric, duplicate deliveries to the
    /// application.
    pub anomalies: u64,
    /// Lifecycles unfinished when nothing was left to happen.
    pub stalled_lifecycles: u64,
    /// Passive connections unfinished when nothing was left to happen.
    pub passive_left: u64,
}

impl Invariants {
    /// The sum of every check.
    pub fn total(&self) -> u64 {
        self.requests_not_completed_once
            + self.objects_leaked
            + self.rule_violations
            + self.stuck_requests
            + self.pdata_mismatches
            + self.anomalies
            + self.stalled_lifecycles
            + self.passive_left
    }
}

/// What the engine measured.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Outcomes.
    pub outcomes: Outcomes,
    /// Connect latencies (start to CompleteConnect done), simulated ns.
    pub latencies: Vec<u64>,
    /// Checks.
    pub invariants: Invariants,
    /// MADs sent, by kind.
    pub counters: MadCounters,
    /// The fabric's own counters.
    pub fabric: FabricStats,
    /// From the CM, when it counts them.
    pub duplicates_dropped: Option<u64>,
    /// Destroys and closes performed.
    pub destroys: u64,
    /// Connections ended by the application's own timeout because the
    /// peer's disconnect never came (its single DREQ on destroy was lost).
    pub peer_timeouts: u64,
    /// Requests the server found already aborted by the peer.
    pub requests_gone: u64,
    /// Simulated time at the end of the last lifecycle.
    pub sim_time: Duration,
    /// Wall-clock time of the run.
    pub wall: std::time::Duration,
    /// CPU time of the run.
    pub cpu_nanos: Option<u64>,
    /// The first few violations and anomalies, for the reader.
    pub samples: Vec<String>,
}

/// The report of one run.
#[derive(Clone, Debug)]
pub struct SimReport {
    /// The configuration that ran.
    pub config: SimConfig,
    /// What was measured.
    pub m: Measured,
    /// Every MAD sent, when the run recorded them.
    pub trace: Vec<(Instant, Datagram)>,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn fmt_ns(ns: u64) -> String {
    if ns >= 10_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else if ns >= 10_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{ns} ns")
    }
}

impl SimReport {
    /// Assembles the report.
    pub fn build(config: &SimConfig, mut m: Measured, trace: Vec<(Instant, Datagram)>) -> Self {
        m.latencies.sort_unstable();
        SimReport {
            config: config.clone(),
            m,
            trace,
        }
    }

    /// Whether every invariant holds.
    pub fn ok(&self) -> bool {
        self.m.invariants.total() == 0 && self.lifecycles() == self.config.connections
    }

    /// Lifecycles that ended, by any outcome.
    pub fn lifecycles(&self) -> u64 {
        let o = &self.m.outcomes;
        o.established + o.rejected + o.timed_out + o.aborted
    }

    /// Connect latency percentile (simulated ns).
    pub fn latency(&self, p: f64) -> u64 {
        percentile(&self.m.latencies, p)
    }

    /// Lifecycles per second of wall-clock time.
    pub fn per_second(&self) -> f64 {
        self.lifecycles() as f64 / self.m.wall.as_secs_f64().max(1e-9)
    }

    /// CPU time per lifecycle, ns.
    pub fn cpu_per_connection(&self) -> Option<u64> {
        self.m.cpu_nanos.map(|c| c / self.lifecycles().max(1))
    }

    /// The human summary.
    pub fn table(&self) -> String {
        let m = &self.m;
        let o = &m.outcomes;
        let i = &m.invariants;
        let c = &self.config;
        let mut t = String::new();
        let row = |t: &mut String, k: &str, v: String| {
            let _ = writeln!(t, "  {k:<34} {v:>14}");
        };
        let _ = writeln!(
            t,
            "ndcm sim: {} nodes, {} connections, concurrency {}, seed {}",
            c.nodes, c.connections, c.concurrency, c.seed
        );
        let _ = writeln!(
            t,
            "  faults: loss {} dup {} reorder {} delay {} reject-rate {} destroy-rate {} slow-rate {}",
            c.loss,
            c.dup,
            c.reorder,
            fmt_ns(c.delay.as_nanos()),
            c.reject_rate,
            c.destroy_rate,
            c.slow_rate
        );
        let _ = writeln!(t, "outcomes");
        row(&mut t, "established", o.established.to_string());
        row(&mut t, "rejected", o.rejected.to_string());
        row(&mut t, "timed out", o.timed_out.to_string());
        row(&mut t, "aborted", o.aborted.to_string());
        row(&mut t, "destroys/closes injected", m.destroys.to_string());
        row(
            &mut t,
            "peer disconnect timeouts",
            m.peer_timeouts.to_string(),
        );
        row(
            &mut t,
            "requests aborted before accept",
            m.requests_gone.to_string(),
        );
        let _ = writeln!(t, "protocol");
        row(&mut t, "MADs sent", m.counters.sent.to_string());
        row(
            &mut t,
            "  REQ/REP/RTU",
            format!(
                "{}/{}/{}",
                m.counters.of(ATTR_REQ),
                m.counters.of(ATTR_REP),
                m.counters.of(ATTR_RTU)
            ),
        );
        row(
            &mut t,
            "  REJ/DREQ/DREP",
            format!(
                "{}/{}/{}",
                m.counters.of(ATTR_REJ),
                m.counters.of(ATTR_DREQ),
                m.counters.of(ATTR_DREP)
            ),
        );
        row(
            &mut t,
            "retransmissions",
            m.counters.retransmissions.to_string(),
        );
        row(&mut t, "MRAs", m.counters.mras().to_string());
        row(
            &mut t,
            "duplicates dropped (CM)",
            m.duplicates_dropped
                .map_or("n/a".to_string(), |d| d.to_string()),
        );
        row(
            &mut t,
            "fabric lost/duplicated/delayed",
            format!(
                "{}/{}/{}",
                m.fabric.dropped, m.fabric.duplicated, m.fabric.delayed
            ),
        );
        let _ = writeln!(t, "performance");
        row(
            &mut t,
            "connections per second (wall)",
            format!("{:.0}", self.per_second()),
        );
        row(
            &mut t,
            "connect latency p50 (simulated)",
            fmt_ns(self.latency(50.0)),
        );
        row(
            &mut t,
            "connect latency p99 (simulated)",
            fmt_ns(self.latency(99.0)),
        );
        row(
            &mut t,
            "connect latency max (simulated)",
            fmt_ns(m.latencies.last().copied().unwrap_or(0)),
        );
        row(
            &mut t,
            "CPU time per connection",
            self.cpu_per_connection().map_or("n/a".to_string(), fmt_ns),
        );
        row(&mut t, "simulated time", fmt_ns(m.sim_time.as_nanos()));
        row(
            &mut t,
            "wall time",
            format!("{:.2} s", m.wall.as_secs_f64()),
        );
        let _ = writeln!(t, "invariants (must be 0)");
        row(
            &mut t,
            "requests not completed exactly once",
            i.requests_not_completed_once.to_string(),
        );
        row(&mut t, "objects leaked", i.objects_leaked.to_string());
        row(&mut t, "rule violations", i.rule_violations.to_string());
        row(
            &mut t,
            "requests stuck after release",
            i.stuck_requests.to_string(),
        );
        row(
            &mut t,
            "private data mismatches",
            i.pdata_mismatches.to_string(),
        );
        row(&mut t, "anomalies", i.anomalies.to_string());
        row(
            &mut t,
            "stalled lifecycles",
            i.stalled_lifecycles.to_string(),
        );
        row(
            &mut t,
            "passive connections left",
            i.passive_left.to_string(),
        );
        for s in &m.samples {
            let _ = writeln!(t, "  ! {s}");
        }
        let _ = writeln!(t, "result: {}", if self.ok() { "PASS" } else { "FAIL" });
        t
    }

    /// The machine-readable summary.
    pub fn json(&self) -> serde_json::Value {
        let m = &self.m;
        let o = &m.outcomes;
        let i = &m.invariants;
        let c = &self.config;
        json!({
            "config": {
                "nodes": c.nodes, "connections": c.connections, "concurrency": c.concurrency,
                "seed": c.seed, "loss": c.loss, "dup": c.dup, "reorder": c.reorder,
                "delay_ns": c.delay.as_nanos(), "reject_rate": c.reject_rate,
                "destroy_rate": c.destroy_rate, "slow_rate": c.slow_rate,
            },
            "outcomes": {
                "established": o.established, "rejected": o.rejected,
                "timed_out": o.timed_out, "aborted": o.aborted, "destroys": m.destroys,
                "peer_timeouts": m.peer_timeouts, "requests_gone": m.requests_gone,
            },
            "protocol": {
                "mads_sent": m.counters.sent,
                "req": m.counters.of(ATTR_REQ), "rep": m.counters.of(ATTR_REP),
                "rtu": m.counters.of(ATTR_RTU), "rej": m.counters.of(ATTR_REJ),
                "dreq": m.counters.of(ATTR_DREQ), "drep": m.counters.of(ATTR_DREP),
                "retransmissions": m.counters.retransmissions,
                "mras": m.counters.mras(),
                "duplicates_dropped": m.duplicates_dropped,
                "fabric_lost": m.fabric.dropped, "fabric_duplicated": m.fabric.duplicated,
                "fabric_delayed": m.fabric.delayed,
            },
            "performance": {
                "connections_per_second": self.per_second(),
                "latency_ns": { "p50": self.latency(50.0), "p99": self.latency(99.0),
                                "max": m.latencies.last().copied().unwrap_or(0) },
                "cpu_ns_per_connection": self.cpu_per_connection(),
                "simulated_ns": m.sim_time.as_nanos(),
                "wall_s": m.wall.as_secs_f64(),
            },
            "invariants": {
                "requests_not_completed_once": i.requests_not_completed_once,
                "objects_leaked": i.objects_leaked,
                "rule_violations": i.rule_violations,
                "stuck_requests": i.stuck_requests,
                "pdata_mismatches": i.pdata_mismatches,
                "anomalies": i.anomalies,
                "stalled_lifecycles": i.stalled_lifecycles,
                "passive_left": i.passive_left,
            },
            "samples": m.samples,
            "ok": self.ok(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }
}
