//! The `ndcm` command line.
use clap::Parser;

#[derive(Parser)]
#[command(name = "ndcm", version, about = "InfiniBand / RoCE connection management for NetworkDirect")]
enum Cli {}

fn main() {
    let _ = Cli::parse();
}
