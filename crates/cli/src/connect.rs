//! `ndcm connect`: the active half of the two-process run. One process
//! runs the whole stack — an in-process host device (the KMDF model, the
//! dispatcher, the real CEP manager on a MAD port), the MAD agent moving
//! its MADs as RoCEv2 frames through the frame tunnel, and a dialer that
//! runs `--count` lifecycles through the provider API against `--to`:
//! Connect → (REP private data checked) → CompleteConnect →
//! NotifyDisconnect → Disconnect → release.
//!
//! The peer is `ndcm listen` (another process), an `ndcm agent --listen`,
//! or a Linux rdma_cm server on the same tunnel segment. This module owns
//! the dialer and the command's reporting; the transport and the agent
//! loop are `agent`'s.

use crate::agent::{AgentArgs, acceptor, bind_tunnel, host_port, tunnel::TunnelTransport};
use crate::{cpu, interrupt};
use clap::Args;
use ndcm_host::clock::Clock;
use ndcm_host::{HostPlatform, Verifier};
use ndcm_provider::host::HostDevice;
use ndcm_provider::mad_agent::{AdapterDeclaration, AgentConfig, MadAgent};
use ndcm_provider::{Adapter, Device, NdError, NdResult, NtStatus, Op, QpConfig, ReadLimits};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Options of `ndcm connect`.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// UDP address our end of the frame tunnel binds.
    #[arg(long, value_name = "ADDR:PORT")]
    pub local: SocketAddr,
    /// UDP address of the other end of the tunnel.
    #[arg(long, value_name = "ADDR:PORT")]
    pub remote: SocketAddr,
    /// Our IPv4 address on the tunnel's segment.
    #[arg(long)]
    pub ip: Ipv4Addr,
    /// The listener to connect to (IPv4 address and TCP-space port).
    #[arg(long, value_name = "IP:PORT")]
    pub to: SocketAddr,
    /// Connection lifecycles to run, one after another.
    #[arg(long, short = 'n', default_value_t = 10)]
    pub count: u64,
    /// Give up on one operation after this many seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Write every tunnel frame (ARP included) to this pcap file.
    #[arg(long)]
    pub capture: Option<std::path::PathBuf>,
}

/// What the dialer did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DialStats {
    /// Lifecycles that reached CONNECTED and disconnected cleanly.
    pub completed: u64,
    /// Lifecycles that failed somewhere.
    pub failed: u64,
    /// REPs whose private data could not be read whole.
    pub bad_replies: u64,
}

/// Waits for `op` for at most `limit`; then cancels it and takes its
/// completion, so nothing the dialer issued outlives it.
fn wait_for<D: Device, T>(mut op: Op<D, T>, limit: Duration) -> NdResult<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(r) = op.poll_result() {
            return r;
        }
        if Instant::now() >= end {
            op.cancel();
            let _ = op.wait();
            return Err(NdError(NtStatus::IO_TIMEOUT));
        }
        thread::sleep(Duration::from_micros(500));
    }
}

const LIMITS: ReadLimits = ReadLimits {
    inbound: 4,
    outbound: 4,
};

fn lifecycle<D: Device>(
    adapter: &Adapter<D>,
    args: &ConnectArgs,
    i: u64,
    limit: Duration,
    stats: &mut DialStats,
) -> NdResult<()> {
    let qp = adapter.create_qp(&QpConfig::default())?;
    let mut conn = adapter.create_connector()?;
    conn.bind(SocketAddr::new(args.ip.into(), 0))?;
    let pdata = i.to_le_bytes();
    wait_for(conn.connect(&qp, args.to, LIMITS, &pdata), limit)?;
    // A REP carries 196 bytes of private data (what the listener put
    // there is its business).
    if conn.get_private_data()?.len() != 196 {
        stats.bad_replies += 1;
    }
    wait_for(conn.complete_connect(), limit)?;
    let notify = conn.notify_disconnect();
    wait_for(conn.disconnect(), limit)?;
    // Our own Disconnect ends our NotifyDisconnect (or the peer's DREQ
    // crossed ours and ended it first).
    match wait_for(notify, limit) {
        Ok(()) | Err(NdError(NtStatus::CONNECTION_DISCONNECTED)) => {}
        Err(e) => return Err(e),
    }
    conn.destroy()?;
    qp.destroy()
}

fn dial<D: Device>(adapter: &Adapter<D>, args: &ConnectArgs) -> DialStats {
    let limit = Duration::from_secs_f64(args.timeout.max(0.1));
    let mut stats = DialStats::default();
    for i in 0..args.count {
        if interrupt::interrupted() {
            eprintln!("ndcm connect: interrupted after {i} lifecycles");
            break;
        }
        match lifecycle(adapter, args, i, limit, &mut stats) {
            Ok(()) => stats.completed += 1,
            Err(e) => {
                eprintln!("ndcm connect: lifecycle {i}: {e}");
                stats.failed += 1;
            }
        }
    }
    stats
}

fn agent_args(args: &ConnectArgs) -> AgentArgs {
    AgentArgs {
        local: args.local,
        remote: args.remote,
        ip: args.ip,
        mac: None,
        outstanding: 8,
        port: 1,
        capture: args.capture.clone(),
        duration: None,
        stats_every: None,
        addresses: Vec::new(),
        device: String::new(),
        listen: None,
        max_connections: acceptor::DEFAULT_MAX_CONNECTIONS,
        backlog: acceptor::DEFAULT_BACKLOG,
    }
}

/// `ndcm connect`: exit status 0 only if every lifecycle completed.
pub fn run(args: &ConnectArgs) -> ExitCode {
    let transport = match bind_tunnel(&agent_args(args)) {
        Ok(t) => TunnelTransport::new(t),
        Err(e) => {
            eprintln!("ndcm connect: tunnel on {}: {e}", args.local);
            return ExitCode::FAILURE;
        }
    };
    let platform = HostPlatform::new(Arc::new(Verifier::default()), Arc::new(Clock::new_real()));
    let device = host_port::mad_port_device(platform, vec![acceptor::adapter_info(args.ip)], 1);
    let timers = match host_port::TimerPump::start(&device) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ndcm connect: timer thread: {e}");
            return ExitCode::FAILURE;
        }
    };
    let declaration = AdapterDeclaration::soft_roce(vec![std::net::IpAddr::V4(args.ip)], 1);
    let file = match host_port::open_agent(&device, &[declaration]) {
        Ok(f) => f,
        Err(status) => {
            eprintln!("ndcm connect: REGISTER_ADAPTER: {status:?}");
            return ExitCode::FAILURE;
        }
    };
    let done = Arc::new(AtomicBool::new(false));
    let dialer = {
        let file = Arc::new(HostDevice::open(&device));
        let done = Arc::clone(&done);
        let args = args.clone();
        thread::spawn(move || {
            let stats = match Adapter::open(Arc::clone(&file), 0) {
                Ok(adapter) => dial(&adapter, &args),
                Err(e) => {
                    eprintln!("ndcm connect: adapter: {e}");
                    DialStats {
                        failed: args.count,
                        ..DialStats::default()
                    }
                }
            };
            file.close();
            done.store(true, Ordering::Release);
            stats
        })
    };
    let mut agent = MadAgent::new(Arc::clone(&file), transport, AgentConfig::default());
    let mut failure = None;
    let mut grace: Option<Instant> = None;
    loop {
        if let Err(e) = agent.turn() {
            failure = Some(e);
            break;
        }
        // After the last lifecycle, keep moving MADs a little longer so the
        // final DREP/retransmissions reach the peer.
        if done.load(Ordering::Acquire) {
            let until = *grace.get_or_insert_with(|| Instant::now() + Duration::from_millis(300));
            if Instant::now() >= until {
                break;
            }
        }
    }
    let tunnel = agent.transport().tunnel().stats();
    let agent_stats = agent.shutdown();
    let stats = dialer.join().unwrap_or(DialStats {
        failed: args.count,
        ..DialStats::default()
    });
    file.close();
    drop(timers);
    println!(
        "ndcm connect: {} completed, {} failed, {} bad replies; agent: {agent_stats}; \
         tunnel frames rx {} tx {}; cpu {}",
        stats.completed,
        stats.failed,
        stats.bad_replies,
        tunnel.frames_received,
        tunnel.frames_sent,
        cpu::describe_process()
    );
    if let Some(e) = failure {
        eprintln!("ndcm connect: agent: {e}");
        return ExitCode::FAILURE;
    }
    if stats.completed == args.count && stats.bad_replies == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
