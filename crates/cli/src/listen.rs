//! `ndcm listen`: the passive half of the two-process run — `ndcm agent
//! --listen PORT` under its own name: an in-process host device, the MAD
//! agent on the frame tunnel, and an ND acceptor that serves up to
//! `--max-connections` connections at once, each held until its own peer
//! disconnects.

use crate::agent::{self, AgentArgs, acceptor};
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
    /// Connections held at once, counting those waiting for a request
    /// (further requests wait in the listener's backlog).
    #[arg(long, default_value_t = acceptor::DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Untaken connection requests the listener keeps (0: the driver's
    /// default).
    #[arg(long, default_value_t = acceptor::DEFAULT_BACKLOG)]
    pub backlog: u32,
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
        // A MAD the CM sends while no MAD_GET_OUTBOUND is pended is dropped
        // and costs a retry timeout (seconds with Linux's REQ timeouts): a
        // client opening many connections at once gets as many REPs in a
        // burst, so keep enough pended for a burst.
        outstanding: 32,
        port: 1,
        capture: args.capture.clone(),
        duration: args.duration,
        stats_every: None,
        addresses: Vec::new(),
        device: String::new(),
        listen: Some(args.port),
        max_connections: args.max_connections,
        backlog: args.backlog,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        listen: ListenArgs,
    }

    const BASE: [&str; 7] = [
        "ndcm",
        "--local",
        "127.0.0.1:1",
        "--remote",
        "127.0.0.1:2",
        "--ip",
        "10.0.0.1",
    ];

    #[test]
    fn connection_limit_and_backlog_have_defaults_and_refuse_zero_connections() {
        let l = Cli::try_parse_from(BASE).expect("defaults").listen;
        assert_eq!(
            (l.max_connections, l.backlog),
            (acceptor::DEFAULT_MAX_CONNECTIONS, acceptor::DEFAULT_BACKLOG)
        );
        let args = BASE
            .iter()
            .chain(&["--max-connections", "3", "--backlog", "0"]);
        let l = Cli::try_parse_from(args).expect("explicit").listen;
        assert_eq!((l.max_connections, l.backlog), (3, 0));
        let zero = BASE.iter().chain(&["--max-connections", "0"]);
        assert!(Cli::try_parse_from(zero).is_err());
    }
}
