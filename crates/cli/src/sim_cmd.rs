//! `ndcm sim`: arguments, progress bar, summary table / JSON, capture, exit
//! status. The run itself is `ndcm::sim`.

use clap::Args;
use ndcm::sim::{SimConfig, capture};
use ndcm_cm::platform::Duration;
use std::process::ExitCode;

/// Arguments of `ndcm sim`.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// Nodes on the in-memory fabric.
    #[arg(long, default_value_t = 2)]
    nodes: usize,
    /// Connection lifecycles (connect, accept, complete, exchange, disconnect).
    #[arg(long, short = 'n', default_value_t = 10_000)]
    connections: u64,
    /// Lifecycles in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Seed of every random choice: the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Chance a MAD is lost (0..1).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Chance a MAD is delivered twice (0..1).
    #[arg(long, default_value_t = 0.0)]
    dup: f64,
    /// Chance a MAD is delayed by up to --max-extra-delay-us, reordering it.
    #[arg(long, default_value_t = 0.0)]
    reorder: f64,
    /// One-way fabric latency, microseconds.
    #[arg(long, default_value_t = 5.0)]
    delay: f64,
    /// Largest extra delay of a reordered MAD, microseconds.
    #[arg(long, default_value_t = 50.0)]
    max_extra_delay_us: f64,
    /// Chance the passive side rejects a request (0..1).
    #[arg(long, default_value_t = 0.0)]
    reject_rate: f64,
    /// Chance a lifecycle has its QP destroyed, connector released or
    /// process closed at a random moment (0..1).
    #[arg(long, default_value_t = 0.0)]
    destroy_rate: f64,
    /// Chance the server is slow to Accept and (independently) the client
    /// slow to CompleteConnect, by up to --max-slow-ms: the peer
    /// retransmits and the CM answers with MRAs (0..1).
    #[arg(long, default_value_t = 0.0)]
    slow_rate: f64,
    /// Longest slow Accept / CompleteConnect, milliseconds (simulated).
    #[arg(long, default_value_t = 3000)]
    max_slow_ms: u64,
    /// Write every MAD, RoCEv2-framed, to this pcap file.
    #[arg(long)]
    pcap: Option<std::path::PathBuf>,
    /// Print the summary as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn micros(us: f64) -> Duration {
    Duration::from_nanos((us.max(0.0) * 1000.0).round() as u64)
}

impl SimArgs {
    fn config(&self) -> SimConfig {
        SimConfig {
            nodes: self.nodes,
            connections: self.connections,
            concurrency: self.concurrency,
            seed: self.seed,
            loss: self.loss,
            dup: self.dup,
            reorder: self.reorder,
            delay: micros(self.delay),
            max_extra_delay: micros(self.max_extra_delay_us),
            reject_rate: self.reject_rate,
            destroy_rate: self.destroy_rate,
            slow_rate: self.slow_rate,
            max_slow: Duration::from_millis(self.max_slow_ms),
            record: self.pcap.is_some(),
            ..SimConfig::default()
        }
    }
}

/// Runs `ndcm sim`; exit status 0 only when every invariant holds.
pub fn run(args: &SimArgs) -> ExitCode {
    let cfg = args.config();
    let bar = if cfg.connections >= 2_000 && !args.json {
        let bar = indicatif::ProgressBar::new(cfg.connections);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} lifecycles ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let mut progress = |done: u64| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    };
    let report = match ndcm::sim::run(cfg, &mut progress) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ndcm sim: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(path) = &args.pcap {
        let written = std::fs::File::create(path)
            .map(std::io::BufWriter::new)
            .and_then(|f| capture::write_pcap(f, &report.trace));
        match written {
            Ok(n) => eprintln!("ndcm sim: {n} frames written to {}", path.display()),
            Err(e) => {
                eprintln!("ndcm sim: writing {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.table());
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
