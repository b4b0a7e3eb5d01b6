//! The in-process ND acceptor of `ndcm agent --listen` on the host device:
//! a provider-API consumer (Listener, Connector, QP) that accepts one
//! connection at a time and holds it until the peer disconnects, so a remote
//! rdma_cm client or another ndcm has something to connect to. Host device
//! only; on Windows an ND application plays this part.
//!
//! It owns its thread and its ND objects; it never touches the MAD path.

use super::host_port::{MadPortCm, MadPortDevice};
use ndcm_ndi::cm_port::{AdapterInfo, IpAddr};
use ndcm_provider::host::HostDevice;
use ndcm_provider::{Adapter, Device, NdResult, Op, QpConfig, ReadLimits};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

type Dev = HostDevice<MadPortCm>;

/// The adapter of a host device with address `ip`.
pub fn adapter_info(ip: Ipv4Addr) -> AdapterInfo {
    AdapterInfo {
        addresses: vec![IpAddr::V4(ip.octets())],
        max_inbound_read_limit: 16,
        max_outbound_read_limit: 16,
        max_qp_depth: 1024,
        max_sge: 4,
        max_inline: 64,
    }
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

/// A running acceptor.
pub struct Acceptor {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<AcceptorStats>>,
}

/// Waits for `op` unless `stop` is set first (then cancels it and takes
/// its completion, so no request outlives the acceptor).
fn wait_or_stop<T>(mut op: Op<Dev, T>, stop: &AtomicBool) -> Option<NdResult<T>> {
    loop {
        if let Some(r) = op.poll_result() {
            return Some(r);
        }
        if stop.load(Ordering::Acquire) {
            op.cancel();
            let _ = op.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

const LIMITS: ReadLimits = ReadLimits {
    inbound: 4,
    outbound: 4,
};

fn serve(adapter: &Adapter<Dev>, local: SocketAddr, stop: &AtomicBool) -> NdResult<AcceptorStats> {
    let mut stats = AcceptorStats::default();
    let mut listener = adapter.create_listener();
    listener.bind(local)?;
    listener.listen(16)?;
    while !stop.load(Ordering::Acquire) {
        let mut conn = adapter.create_connector()?;
        let Some(got) = wait_or_stop(listener.get_connection_request(&mut conn), stop) else {
            break;
        };
        if got.is_err() {
            stats.failures += 1;
            continue;
        }
        stats.requests += 1;
        let qp = adapter.create_qp(&QpConfig::default())?;
        let accepted = wait_or_stop(conn.accept(&qp, LIMITS, &[]), stop);
        if matches!(accepted, Some(Ok(()))) {
            stats.established += 1;
            match wait_or_stop(conn.notify_disconnect(), stop) {
                Some(Ok(())) => {
                    stats.disconnected += 1;
                    if wait_or_stop(conn.disconnect(), stop).is_some_and(|r| r.is_err()) {
                        stats.failures += 1;
                    }
                }
                Some(Err(_)) => stats.failures += 1,
                None => {}
            }
        } else if accepted.is_some() {
            stats.failures += 1;
        }
        let _ = conn.destroy();
        let _ = qp.destroy();
    }
    let _ = listener.destroy();
    Ok(stats)
}

impl Acceptor {
    /// Opens its own file of `device` and listens on `local`.
    pub fn start(device: &Arc<MadPortDevice>, local: SocketAddr) -> NdResult<Acceptor> {
        let file = Arc::new(HostDevice::open(device));
        let adapter = Adapter::open(Arc::clone(&file), 0)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("ndcm acceptor".into())
            .spawn(move || {
                let stats = serve(&adapter, local, &flag).unwrap_or_else(|e| {
                    eprintln!("acceptor: {e}");
                    AcceptorStats {
                        failures: 1,
                        ..AcceptorStats::default()
                    }
                });
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
