//! The `ndcm` command line. Each subcommand lives in its own module and
//! owns its arguments; this file only dispatches.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod sim_cmd;
use ndcm::decode;

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
    /// The user-mode MAD agent: moves CM MADs between the ndcm device's
    /// MAD-port IOCTLs and the frame tunnel (RoCEv2 frames in UDP). Opens
    /// \\.\ndcm on Windows; elsewhere an in-process host device.
    Agent(ndcm::agent::AgentArgs),
    /// Print every CM MAD in a pcap capture (RoCEv2, Ethernet or raw IP).
    Decode(decode::DecodeArgs),
    /// Simulate connection lifecycles between nodes on an in-memory fabric,
    /// through the provider API, the IOCTL ABI, the dispatcher and the CM.
    Sim(sim_cmd::SimArgs),
    /// Accept connections over the frame tunnel (RoCEv2 frames in UDP) with
    /// the whole stack in this process; pair with `ndcm connect`.
    Listen(ndcm::listen::ListenArgs),
    /// Run connection lifecycles over the frame tunnel against a listener
    /// (`ndcm listen`, or an rdma_cm server) with the whole stack in this
    /// process.
    Connect(ndcm::connect::ConnectArgs),
}

fn main() -> ExitCode {
    let command = Cli::parse().command;
    // The long-running commands stop cleanly on Ctrl-C and report (a test
    // calling their `run` in its own process keeps Ctrl-C's default).
    if matches!(
        &command,
        Command::Agent(_) | Command::Listen(_) | Command::Connect(_)
    ) {
        ndcm::interrupt::catch();
    }
    match command {
        Command::Agent(args) => ndcm::agent::run(&args),
        Command::Decode(args) => decode::run(&args),
        Command::Sim(args) => sim_cmd::run(&args),
        Command::Listen(args) => ndcm::listen::run(&args),
        Command::Connect(args) => ndcm::connect::run(&args),
    }
}
