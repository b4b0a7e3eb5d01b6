//! `ndcm agent`: the user-mode MAD agent. It opens the ndcm device, keeps
//! MAD_GET_OUTBOUND requests pended, sends each MAD the CM hands it as a
//! whole RoCEv2 frame through the frame tunnel, and submits every verified
//! received CM MAD with MAD_SUBMIT_INBOUND (ndcm-provider's `mad_agent`
//! loop).
//!
//! What runs where: on Windows it opens `\\.\ndcm` through the provider's
//! DeviceIoControl backend (not built or run here; see
//! driver/README-windows.md). Elsewhere there is no driver: it runs against
//! an in-process host device (`host_port`: the KMDF-rule-checking model with
//! the driver's CM adapter and no fabric), which has no ND consumer of its
//! own, so it answers incoming connection requests with REJ (no listener)
//! unless `--listen` starts an in-process acceptor.
//!
//! This module owns the command's options and reporting; it never builds a
//! frame (the tunnel does) or interprets a MAD.

pub mod acceptor;
pub mod host_port;
pub mod tunnel;

use crate::interrupt;
use clap::Args;
use ndcm_host::tunnel::{FrameTap, FrameTunnel, MacAddress, TunnelConfig, TunnelStats};
use ndcm_ndi::NtStatus;
use ndcm_provider::Device;
use ndcm_provider::mad_agent::{
    AdapterDeclaration, AgentConfig, AgentStats, MadAgent, register_adapter,
};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tunnel::TunnelTransport;

/// Options of `ndcm agent`.
#[derive(Args, Debug, Clone)]
pub struct AgentArgs {
    /// UDP address the frame tunnel binds (QEMU's `remote.*` of
    /// `-netdev dgram`).
    #[arg(long, value_name = "ADDR:PORT")]
    pub local: SocketAddr,
    /// UDP address frames are sent to (QEMU's `local.*`, or the other
    /// agent's --local).
    #[arg(long, value_name = "ADDR:PORT")]
    pub remote: SocketAddr,
    /// Our IPv4 address on the tunnel's Ethernet segment (the GID the CM
    /// uses is its IPv4-mapped form). With the host device it is also the
    /// adapter's address.
    #[arg(long)]
    pub ip: Ipv4Addr,
    /// Our MAC on the segment (default: locally administered, from --ip).
    #[arg(long, value_parser = parse_mac)]
    pub mac: Option<MacAddress>,
    /// MAD_GET_OUTBOUND requests kept pended (a MAD the CM sends while
    /// none is pending is dropped; the CM retransmits).
    #[arg(long, default_value_t = 8)]
    pub outstanding: usize,
    /// HCA port number reported with received MADs.
    #[arg(long, default_value_t = 1)]
    pub port: u8,
    /// Write every tunnel frame (ARP included) to this pcap file.
    #[arg(long)]
    pub capture: Option<std::path::PathBuf>,
    /// Stop after this many seconds (default: until Ctrl-C on Unix; on
    /// Windows until the process is ended, which closes the file and makes
    /// the driver cancel the pended requests).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Print the counters every this many seconds.
    #[arg(long)]
    pub stats_every: Option<f64>,
    /// More adapters to register, one per address (the tunnel address --ip
    /// is always the first); each must be unique on the device.
    #[arg(long = "address", value_name = "IP")]
    pub addresses: Vec<std::net::IpAddr>,
    /// Device path (Windows only).
    #[arg(long, default_value = r"\\.\ndcm")]
    pub device: String,
    /// Host device only (not Windows): accept connections on this TCP-space
    /// port of --ip with an in-process ND acceptor, several at once, holding
    /// each until its peer disconnects.
    #[arg(long)]
    pub listen: Option<u16>,
    /// With --listen: connections held at once, counting those waiting for
    /// a request (further requests wait in the listener's backlog).
    #[arg(long, default_value_t = acceptor::DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// With --listen: untaken connection requests the listener keeps
    /// (0: the driver's default).
    #[arg(long, default_value_t = acceptor::DEFAULT_BACKLOG)]
    pub backlog: u32,
}

fn parse_mac(s: &str) -> Result<MacAddress, String> {
    let bytes: Vec<u8> = s
        .split([':', '-'])
        .map(|p| u8::from_str_radix(p, 16).map_err(|e| format!("{s}: {e}")))
        .collect::<Result<_, _>>()?;
    let mac: [u8; 6] = bytes
        .try_into()
        .map_err(|_| format!("{s}: a MAC has six bytes"))?;
    Ok(MacAddress(mac))
}

/// The tunnel endpoint the options describe.
pub fn bind_tunnel(args: &AgentArgs) -> std::io::Result<FrameTunnel> {
    let mut config = TunnelConfig::new(args.local, args.remote, args.ip);
    if let Some(mac) = args.mac {
        config.mac = mac;
    }
    let tap = match &args.capture {
        Some(path) => Some(FrameTap::create(path)?),
        None => None,
    };
    FrameTunnel::bind_with_tap(config, tap)
}

/// The adapters the agent registers: the one of its tunnel address, then
/// one per `--address`.
pub fn declarations(args: &AgentArgs) -> Vec<AdapterDeclaration> {
    std::iter::once(std::net::IpAddr::V4(args.ip))
        .chain(args.addresses.iter().copied())
        .map(|a| AdapterDeclaration::soft_roce(vec![a], args.port))
        .collect()
}

/// Registers every adapter of `args` on the agent's file `device`;
/// reports each and explains a refusal.
pub fn register_all<D: Device>(device: &D, args: &AgentArgs) -> Result<(), ExitCode> {
    for d in declarations(args) {
        match register_adapter(device, &d) {
            Ok(index) => println!("ndcm agent: adapter {index}: {:?} registered", d.addresses),
            Err(status) => {
                let why = match status {
                    NtStatus::ACCESS_DENIED => " (run ndcm agent as administrator)",
                    NtStatus::SHARING_VIOLATION => " (another agent carries this address)",
                    NtStatus::INVALID_DEVICE_REQUEST => " (driver and ndcm versions differ)",
                    _ => "",
                };
                eprintln!(
                    "ndcm agent: REGISTER_ADAPTER {:?} refused: {status:?}{why}",
                    d.addresses
                );
                return Err(ExitCode::FAILURE);
            }
        }
    }
    Ok(())
}

fn agent_config(args: &AgentArgs) -> AgentConfig {
    AgentConfig {
        outstanding: args.outstanding,
        local_port: args.port,
        ..AgentConfig::default()
    }
}

fn print_stats(agent: &AgentStats, tunnel: &TunnelStats) {
    println!(
        "agent: {agent}; tunnel: frames rx {} tx {}, MADs rx {} tx {}, dropped {}; cpu {}",
        tunnel.frames_received,
        tunnel.frames_sent,
        tunnel.mads_received,
        tunnel.mads_sent,
        tunnel.dropped_total(),
        crate::cpu::describe_process()
    );
}

/// Runs the agent on `device` until the duration ends, Ctrl-C, or the
/// driver refuses the MAD port; then shuts it down and reports.
pub fn drive<D: Device>(device: Arc<D>, transport: TunnelTransport, args: &AgentArgs) -> ExitCode {
    let start = Instant::now();
    let until = args
        .duration
        .map(|s| start + Duration::from_secs_f64(s.max(0.0)));
    let every = args
        .stats_every
        .map(|s| Duration::from_secs_f64(s.max(0.1)));
    let mut next_report = every.map(|e| start + e);
    let mut agent = MadAgent::new(device, transport, agent_config(args));
    let mut failure = None;
    while !interrupt::interrupted() && until.is_none_or(|u| Instant::now() < u) {
        if let Err(e) = agent.turn() {
            failure = Some(e);
            break;
        }
        if let (Some(at), Some(e)) = (next_report, every)
            && Instant::now() >= at
        {
            print_stats(&agent.stats(), &agent.transport().tunnel().stats());
            next_report = Some(at + e);
        }
    }
    let tunnel_stats = agent.transport().tunnel().stats();
    let stats = agent.shutdown();
    print_stats(&stats, &tunnel_stats);
    match failure {
        Some(e) => {
            eprintln!("ndcm agent: {e}");
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    }
}

/// `ndcm agent`.
pub fn run(args: &AgentArgs) -> ExitCode {
    let transport = match bind_tunnel(args) {
        Ok(t) => TunnelTransport::new(t),
        Err(e) => {
            eprintln!("ndcm agent: tunnel on {}: {e}", args.local);
            return ExitCode::FAILURE;
        }
    };
    println!(
        "ndcm agent: tunnel {} -> {}, ip {}, mac {}",
        transport.tunnel().local_addr(),
        args.remote,
        args.ip,
        transport.tunnel().mac()
    );
    run_on_device(args, transport)
}

/// On Windows the agent serves the ndcm driver (`\\.\ndcm`); `--listen`
/// (what `ndcm listen` runs) brings its own in-process stack on every OS.
#[cfg(windows)]
fn run_on_device(args: &AgentArgs, transport: TunnelTransport) -> ExitCode {
    use ndcm_provider::windows::WindowsDevice;
    if args.listen.is_some() {
        return run_on_host_device(args, transport);
    }
    match WindowsDevice::open_path(&args.device) {
        Ok(device) => match register_all(&device, args) {
            Ok(()) => drive(Arc::new(device), transport, args),
            Err(code) => code,
        },
        Err(e) => {
            eprintln!("ndcm agent: open {}: {e}", args.device);
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(windows))]
fn run_on_device(args: &AgentArgs, transport: TunnelTransport) -> ExitCode {
    if args.listen.is_none() {
        println!(
            "ndcm agent: no ndcm driver on this OS; running against an in-process host device"
        );
    }
    run_on_host_device(args, transport)
}

/// The agent over an in-process host device (the driver's model), with the
/// acceptor of `--listen` when asked.
fn run_on_host_device(args: &AgentArgs, transport: TunnelTransport) -> ExitCode {
    use ndcm_host::clock::Clock;
    use ndcm_host::{HostPlatform, Verifier};
    use ndcm_provider::host::HostDevice;
    let platform = HostPlatform::new(Arc::new(Verifier::default()), Arc::new(Clock::new_real()));
    let device =
        host_port::mad_port_device(platform, vec![acceptor::adapter_info(args.ip)], args.port);
    let timers = match host_port::TimerPump::start(&device) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ndcm agent: timer thread: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The agent's file first: its adapters must exist before the acceptor
    // opens one.
    let file = Arc::new(HostDevice::open(&device));
    if let Err(code) = register_all(file.as_ref(), args) {
        file.close();
        return code;
    }
    let acceptor = match args.listen {
        Some(port) => {
            let config = acceptor::AcceptorConfig {
                max_connections: args.max_connections,
                backlog: args.backlog,
            };
            let local = SocketAddr::new(args.ip.into(), port);
            match acceptor::Acceptor::start(&device, local, config) {
                Ok(a) => Some(a),
                Err(e) => {
                    eprintln!("ndcm agent: listen on {}:{port}: {e}", args.ip);
                    file.close();
                    return ExitCode::FAILURE;
                }
            }
        }
        None => None,
    };
    let code = drive(Arc::clone(&file), transport, args);
    if let Some(a) = acceptor {
        println!("acceptor: {}", a.stop());
    }
    file.close();
    drop(timers);
    code
}
