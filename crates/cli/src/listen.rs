//! `ndcm listen`: the passive half of the two-process run — `ndcm agent
//! --listen PORT` under its own name: an in-process host device, the MAD
//! agent on the frame tunnel, and an ND acceptor that accepts each request
//! and holds the connection until the peer disconnects.

use crate::agent::{self, AgentArgs};
use clap::Args;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

/// Options of `ndcm listen`.
#[derive(Args, Debug, Clone)]
pub struct ListenArgs {
    /// UDP address our end of the frame tunnel binds.
    #[arg(long, value_name = "ADDR:PORT")]
    pub local: SocketAddr,
    /// UDP address of the other end of the tunnel.
    #[arg(long, value_name = "ADDR:PORT")]
    pub remote: SocketAddr,
    /// Our IPv4 address on the tunnel's segment.
    #[arg(long)]
    pub ip: Ipv4Addr,
    /// The TCP-space port to listen on.
    #[arg(long, default_value_t = 7000)]
    pub port: u16,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Write every tunnel frame (ARP included) to this pcap file.
    #[arg(long)]
    pub capture: Option<std::path::PathBuf>,
}

/// `ndcm listen`.
pub fn run(args: &ListenArgs) -> ExitCode {
    agent::run(&AgentArgs {
        local: args.local,
        remote: args.remote,
        ip: args.ip,
        mac: None,
        outstanding: 8,
        port: 1,
        capture: args.capture.clone(),
        duration: args.duration,
        stats_every: None,
        device: String::new(),
        listen: Some(args.port),
    })
}
