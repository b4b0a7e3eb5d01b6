//! The `ndcm` command line. Each subcommand lives in its own module and
//! owns its arguments; this file only dispatches.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod decode;

#[derive(Parser)]
#[command(
    name = "ndcm",
    version,
    about = "InfiniBand / RoCE connection management for NetworkDirect"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print every CM MAD in a pcap capture (RoCEv2, Ethernet or raw IP).
    Decode(decode::DecodeArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Decode(args) => decode::run(&args),
    }
}
