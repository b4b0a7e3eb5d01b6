//! What a simulated run is asked to do.

use ndcm_cm::platform::Duration;

/// The parameters of one run. Equal configurations give equal runs.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Nodes on the fabric (at least 2).
    pub nodes: usize,
    /// Connection lifecycles to run.
    pub connections: u64,
    /// Lifecycles in flight at once, over all nodes.
    pub concurrency: usize,
    /// Seed of every random choice (fabric faults and the workload).
    pub seed: u64,
    /// Chance a MAD is lost.
    pub loss: f64,
    /// Chance a MAD is delivered twice.
    pub dup: f64,
    /// Chance a MAD is delayed by up to `max_extra_delay` (reordering it).
    pub reorder: f64,
    /// One-way fabric latency.
    pub delay: Duration,
    /// Largest extra delay of a reordered MAD.
    pub max_extra_delay: Duration,
    /// Chance the passive side rejects a request.
    pub reject_rate: f64,
    /// Chance a lifecycle has its QP destroyed, its connector released or
    /// its process closed at a random moment.
    pub destroy_rate: f64,
    /// Longest time a connection stays up before it is disconnected.
    pub max_hold: Duration,
    /// Chance the server is slow to Accept, and (independently) the client
    /// slow to CompleteConnect: the peer retransmits and the CM answers
    /// with MRAs (spec/CM.md §5.4).
    pub slow_rate: f64,
    /// Longest such delay.
    pub max_slow: Duration,
    /// Keep every MAD for a capture.
    pub record: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            nodes: 2,
            connections: 10_000,
            concurrency: 256,
            seed: 1,
            loss: 0.0,
            dup: 0.0,
            reorder: 0.0,
            delay: Duration::from_micros(5),
            max_extra_delay: Duration::from_micros(50),
            reject_rate: 0.0,
            destroy_rate: 0.0,
            max_hold: Duration::from_micros(100),
            slow_rate: 0.0,
            max_slow: Duration::from_millis(3_000),
            record: false,
        }
    }
}

impl SimConfig {
    /// Whether the fabric can lose, duplicate or reorder anything.
    pub fn faulty_fabric(&self) -> bool {
        self.loss > 0.0 || self.dup > 0.0 || self.reorder > 0.0
    }

    /// A rate as parts per million (clamped to 0..=1).
    pub fn ppm(rate: f64) -> u32 {
        (rate.clamp(0.0, 1.0) * 1_000_000.0).round() as u32
    }

    /// Checks the parameters; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes < 2 {
            return Err("--nodes must be at least 2".into());
        }
        if self.nodes > 250 {
            return Err("--nodes must be at most 250 (one /24 of addresses)".into());
        }
        if self.concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        // Every in-flight connection holds an ephemeral port of its node.
        if self.concurrency.div_ceil(self.nodes) > 16_000 {
            return Err("--concurrency exceeds the ephemeral ports of the nodes".into());
        }
        for (name, r) in [
            ("--loss", self.loss),
            ("--dup", self.dup),
            ("--reorder", self.reorder),
            ("--reject-rate", self.reject_rate),
            ("--destroy-rate", self.destroy_rate),
            ("--slow-rate", self.slow_rate),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        if self.loss >= 1.0 {
            return Err("--loss 1 would lose every MAD".into());
        }
        Ok(())
    }
}
