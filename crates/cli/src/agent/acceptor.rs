//! The in-process ND acceptor of `ndcm agent --listen` / `ndcm listen` on
//! the host device: a provider-API consumer (Listener, Connectors, QPs) that
//! serves several connections at once, so a remote rdma_cm client with many
//! connections (or several clients) has something to connect to. It keeps a
//! few GetConnectionRequest calls outstanding, accepts every request they
//! deliver, and holds each connection until its peer disconnects (then
//! answers with its own Disconnect, the DREP) independently of the others.
//! Host device only; on Windows an ND application plays this part.
//!
//! It owns its thread and its ND objects; it never touches the MAD path and
//! never blocks on one connection while others are waiting: every operation
//! is polled from one loop.

use super::host_port::MadPortDevice;
use ndcm_host::ndi_port::NdiPort;
use ndcm_ndi::cm_port::{AdapterInfo, IpAddr};
use ndcm_provider::host::HostDevice;
use ndcm_provider::{Adapter, Connector, Device, Listener, NdResult, Op, Qp, QpConfig, ReadLimits};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

type Dev = HostDevice<NdiPort>;

/// The adapter of a host device with address `ip`.
pub fn adapter_info(ip: Ipv4Addr) -> AdapterInfo {
    AdapterInfo::soft_roce(vec![IpAddr::V4(ip.octets())])
}

/// What the acceptor did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AcceptorStats {
    /// Connection requests taken.
    pub requests: u64,
    /// Connections established.
    pub established: u64,
    /// Connections the peer disconnected.
    pub disconnected: u64,
    /// Operations that failed.
    pub failures: u64,
}

impl fmt::Display for AcceptorStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "requests {} established {} disconnected {} failures {}",
            self.requests, self.established, self.disconnected, self.failures
        )
    }
}

/// Connections served at once unless `--max-connections` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 64;
/// The listener's backlog unless `--backlog` says otherwise.
pub const DEFAULT_BACKLOG: u32 = 16;
/// GetConnectionRequest calls kept outstanding (fewer when the connection
/// limit is near). A handful is enough: each one completes as soon as a
/// request arrives and the loop re-arms it on its next turn, and a burst
/// larger than this waits in the listener's backlog meanwhile. Each one
/// holds an IDLE connector in the driver, so there is no point in more.
pub const REQUESTS_OUTSTANDING: usize = 4;

/// How many connections the acceptor takes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptorConfig {
    /// Connections held at once, counting connectors waiting for a request,
    /// connections being accepted, established ones and ones disconnecting
    /// (at least 1). At the limit no GetConnectionRequest is outstanding, so
    /// further requests wait in the listener's backlog (and are rejected by
    /// the driver when it is full).
    pub max_connections: u32,
    /// Untaken requests the listener keeps (Listen's backlog; 0 → the
    /// driver's default).
    pub backlog: u32,
}

impl Default for AcceptorConfig {
    fn default() -> Self {
        AcceptorConfig {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            backlog: DEFAULT_BACKLOG,
        }
    }
}

/// A running acceptor.
pub struct Acceptor {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<AcceptorStats>>,
}

const LIMITS: ReadLimits = ReadLimits {
    inbound: 4,
    outbound: 4,
};

/// Where one connection is; each stage has exactly one operation
/// outstanding, whose completion moves it on.
enum Stage {
    /// GetConnectionRequest outstanding for this connector.
    Waiting,
    /// Accept outstanding (completes when established).
    Accepting,
    /// NotifyDisconnect outstanding (completes when the peer disconnects).
    Established,
    /// Our Disconnect outstanding (the DREP to the peer's DREQ).
    Disconnecting,
}

/// One connection the acceptor holds.
struct Slot {
    conn: Connector<Dev>,
    qp: Option<Qp<Dev>>,
    stage: Stage,
    op: Op<Dev, ()>,
}

impl Slot {
    /// Moves on after `op` completed with `result`; `false` when the
    /// connection is finished (its objects are then released).
    fn advance(
        &mut self,
        adapter: &Adapter<Dev>,
        result: NdResult<()>,
        stats: &mut AcceptorStats,
    ) -> bool {
        if result.is_err() {
            stats.failures += 1;
            return false;
        }
        match self.stage {
            Stage::Waiting => {
                stats.requests += 1;
                let qp = match adapter.create_qp(&QpConfig::default()) {
                    Ok(qp) => qp,
                    Err(_) => {
                        // Releasing the connector rejects the request.
                        stats.failures += 1;
                        return false;
                    }
                };
                self.op = self.conn.accept(&qp, LIMITS, &[]);
                self.qp = Some(qp);
                self.stage = Stage::Accepting;
            }
            Stage::Accepting => {
                stats.established += 1;
                self.op = self.conn.notify_disconnect();
                self.stage = Stage::Established;
            }
            Stage::Established => {
                stats.disconnected += 1;
                self.op = self.conn.disconnect();
                self.stage = Stage::Disconnecting;
            }
            Stage::Disconnecting => return false,
        }
        true
    }
}

/// Releases a connector (aborting whatever exchange it is in) and its QP.
fn release(conn: Connector<Dev>, qp: Option<Qp<Dev>>) {
    let _ = conn.destroy();
    if let Some(qp) = qp {
        let _ = qp.destroy();
    }
}

/// Polls every connection once; returns whether any operation completed.
fn turn(adapter: &Adapter<Dev>, slots: &mut Vec<Slot>, stats: &mut AcceptorStats) -> bool {
    let mut progressed = false;
    let mut i = 0;
    while i < slots.len() {
        let Some(result) = slots[i].op.poll_result() else {
            i += 1;
            continue;
        };
        progressed = true;
        if slots[i].advance(adapter, result, stats) {
            i += 1;
        } else {
            let done = slots.swap_remove(i);
            release(done.conn, done.qp);
        }
    }
    progressed
}

/// Tops up the outstanding GetConnectionRequest calls.
fn arm(
    adapter: &Adapter<Dev>,
    listener: &Listener<Dev>,
    slots: &mut Vec<Slot>,
    max: usize,
) -> NdResult<()> {
    let waiting = slots
        .iter()
        .filter(|s| matches!(s.stage, Stage::Waiting))
        .count();
    let room = max.saturating_sub(slots.len());
    for _ in 0..REQUESTS_OUTSTANDING.saturating_sub(waiting).min(room) {
        let mut conn = adapter.create_connector()?;
        let op = listener.get_connection_request(&mut conn);
        slots.push(Slot {
            conn,
            qp: None,
            stage: Stage::Waiting,
            op,
        });
    }
    Ok(())
}

/// Serves until `stop` is set, then cancels what is outstanding and
/// releases everything.
fn serve(
    adapter: &Adapter<Dev>,
    listener: Listener<Dev>,
    config: AcceptorConfig,
    stop: &AtomicBool,
) -> AcceptorStats {
    let mut stats = AcceptorStats::default();
    let max = usize::try_from(config.max_connections.max(1)).unwrap_or(usize::MAX);
    let mut slots = Vec::new();
    while !stop.load(Ordering::Acquire) {
        if let Err(e) = arm(adapter, &listener, &mut slots, max) {
            // The file is unusable (out of handles or closed): stop taking
            // requests rather than spin.
            eprintln!("acceptor: {e}");
            stats.failures += 1;
            break;
        }
        if !turn(adapter, &mut slots, &mut stats) {
            thread::sleep(Duration::from_millis(1));
        }
    }
    // Cancel what is outstanding and take every completion, so no request
    // outlives the acceptor; then release everything.
    for slot in slots.drain(..) {
        slot.op.cancel();
        let Slot { conn, qp, op, .. } = slot;
        let _ = op.wait();
        release(conn, qp);
    }
    let _ = listener.destroy();
    stats
}

impl Acceptor {
    /// Opens its own file of `device`, listens on `local` (failing here if
    /// the address cannot be listened on) and serves on its own thread.
    pub fn start(
        device: &Arc<MadPortDevice>,
        local: SocketAddr,
        config: AcceptorConfig,
    ) -> NdResult<Acceptor> {
        let file = Arc::new(HostDevice::open(device));
        let adapter = Adapter::open(Arc::clone(&file), 0)?;
        let mut listener = adapter.create_listener();
        listener.bind(local)?;
        listener.listen(config.backlog)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("ndcm acceptor".into())
            .spawn(move || {
                let stats = serve(&adapter, listener, config, &flag);
                drop(adapter);
                file.close();
                stats
            })
            .map_err(|_| ndcm_provider::NdError(ndcm_provider::NtStatus::INSUFFICIENT_RESOURCES))?;
        Ok(Acceptor {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops (cancelling what is pending) and returns the counters.
    pub fn stop(mut self) -> AcceptorStats {
        self.stop.store(true, Ordering::Release);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
