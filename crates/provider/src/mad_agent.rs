//! The user-mode MAD agent (umad-like): moves CM MADs between the driver's
//! MAD-port IOCTLs and a network transport, so a CM without an HCA's MAD
//! service reaches the wire.
//!
//! The agent keeps `outstanding` MAD_GET_OUTBOUND requests pended on its
//! open file of the device. Each one the driver completes carries one
//! `NdcmMadEnvelope` (the CM wants it sent): the agent hands it to the
//! transport, which builds the whole RoCEv2 frame. Each MAD the transport
//! received and verified is handed to the driver with MAD_SUBMIT_INBOUND,
//! with its source address. Everything is counted; a MAD that cannot be
//! moved is dropped and counted by reason, like a lost packet (the CM
//! retransmits).
//!
//! It is generic over the provider's [`Device`] (the Windows backend on
//! `\\.\ndcm`, or a host device) and over [`MadTransport`]. It never
//! interprets a CM message and never checks what the driver checks: the
//! driver validates every submitted MAD itself.
//!
//! One thread drives it ([`MadAgent::run`] or [`MadAgent::turn`]). The
//! `Device` trait has no completion callback, so the agent polls its pended
//! requests between waits on the transport: an outbound MAD waits at most
//! `receive_wait` before it is sent.
//!
//! [`MadAgent::shutdown`] cancels every pended request and waits for each
//! to complete, so nothing the agent issued outlives it.
//!
//! The agent's file must be an administrator's or SYSTEM's, and it declares
//! the adapters it carries with [`register_adapter`] (or
//! [`MadAgent::register`]); they go away with the file (docs/NDI-agent.md).

use crate::device::{Completion, Device, Submitted};
use ndcm_ndi::abi::{
    AbiField, Ioctl, NDCM_ABI_VERSION, NdcmHeader, NdcmMadAddress, NdcmMadEnvelope,
    NdcmMadSubmitIn, NdcmRegisterAdapterIn, NdcmRegisterAdapterOut, NdcmWithdrawAdapterIn,
    NtStatus,
};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The Q_Key of QP1, the General Services Interface QP (IBA 13.4.6.1).
pub const GSI_QKEY: u32 = 0x8001_0000;
/// The QPN of QP1.
pub const GSI_QPN: u32 = 1;

/// A MAD the transport received, verified whole, with where it came from.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InboundMad {
    /// The 256 bytes.
    pub mad: [u8; 256],
    /// The sender's port GID (IPv4-mapped for RoCEv2 over IPv4).
    pub gid: [u8; 16],
    /// The sender's QPN (DETH SrcQP; 1 for the CM).
    pub qpn: u32,
    /// The P_Key index the MAD arrived on.
    pub pkey_index: u16,
}

/// Why the transport could not send a MAD.
#[derive(Debug)]
pub enum SendFailure {
    /// The transport cannot reach this destination (for example an IPv6
    /// GID on an IPv4-only tunnel).
    Unreachable,
    /// The socket refused it.
    Io(std::io::Error),
}

/// Where MADs go to and come from: the frame tunnel, a raw socket, a test
/// double.
pub trait MadTransport {
    /// Sends `envelope.mad` to `envelope.address` (QP1 of that GID).
    fn send(&self, envelope: &NdcmMadEnvelope) -> Result<(), SendFailure>;
    /// The next received MAD, waiting at most `timeout`.
    fn recv_timeout(&self, timeout: Duration) -> Option<InboundMad>;
}

/// How the agent runs.
#[derive(Clone, Copy, Debug)]
pub struct AgentConfig {
    /// MAD_GET_OUTBOUND requests kept pended (the driver drops a MAD sent
    /// while none is pending).
    pub outstanding: usize,
    /// The local port number submitted MADs arrived on (1-based).
    pub local_port: u8,
    /// Longest wait on the transport per turn (bounds outbound latency).
    pub receive_wait: Duration,
    /// Most received MADs submitted per turn (so outbound completions are
    /// never starved by a flood).
    pub receive_batch: usize,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            outstanding: 8,
            local_port: 1,
            receive_wait: Duration::from_millis(2),
            receive_batch: 32,
        }
    }
}

/// Why a MAD was dropped.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum AgentDrop {
    /// A MAD_GET_OUTBOUND completed with SUCCESS but not one whole
    /// envelope.
    MalformedEnvelope,
    /// The transport cannot reach the envelope's destination.
    Unreachable,
    /// The transport's socket refused the MAD.
    SendFailed,
    /// The driver refused a received MAD (MAD_SUBMIT_INBOUND failed).
    SubmitRefused,
}

impl AgentDrop {
    /// Every reason.
    pub const ALL: [AgentDrop; 4] = [
        AgentDrop::MalformedEnvelope,
        AgentDrop::Unreachable,
        AgentDrop::SendFailed,
        AgentDrop::SubmitRefused,
    ];
}

/// What the agent did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct AgentStats {
    /// MAD_GET_OUTBOUND requests issued.
    pub gets_issued: u64,
    /// MAD_GET_OUTBOUND completions with a MAD.
    pub outbound: u64,
    /// MADs handed to the transport.
    pub sent: u64,
    /// MADs the transport received.
    pub received: u64,
    /// Received MADs the driver accepted.
    pub submitted: u64,
    /// MAD_GET_OUTBOUND completions with an error status (CANCELLED at
    /// shutdown included).
    pub get_errors: u64,
    /// Of which CANCELLED.
    pub cancelled: u64,
    /// The status of the last refused submit or failed get.
    pub last_error: Option<NtStatus>,
    /// Dropped MADs, per `AgentDrop::ALL` index.
    dropped: [u64; AgentDrop::ALL.len()],
}

impl AgentStats {
    /// MADs dropped for `reason`.
    pub fn dropped(&self, reason: AgentDrop) -> u64 {
        let i = AgentDrop::ALL.iter().position(|r| *r == reason);
        i.and_then(|i| self.dropped.get(i)).copied().unwrap_or(0)
    }

    /// MADs dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    fn drop_one(&mut self, reason: AgentDrop) {
        if let Some(i) = AgentDrop::ALL.iter().position(|r| *r == reason)
            && let Some(n) = self.dropped.get_mut(i)
        {
            *n += 1;
        }
    }
}

impl fmt::Display for AgentStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "outbound {} sent {} received {} submitted {} get-errors {} (cancelled {})",
            self.outbound,
            self.sent,
            self.received,
            self.submitted,
            self.get_errors,
            self.cancelled
        )?;
        for reason in AgentDrop::ALL {
            let n = self.dropped(reason);
            if n > 0 {
                write!(f, " dropped[{reason:?}] {n}")?;
            }
        }
        Ok(())
    }
}

/// Why the agent stopped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AgentError {
    /// MAD_GET_OUTBOUND failed at once with this status: the driver does
    /// not offer the MAD port on this file (closed handle, removed device,
    /// old driver). Retrying would spin.
    GetRefused(NtStatus),
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::GetRefused(s) => write!(f, "MAD_GET_OUTBOUND refused: {s:?}"),
        }
    }
}

impl std::error::Error for AgentError {}

/// The MAD agent of one open file of the device.
pub struct MadAgent<D: Device, T: MadTransport> {
    device: Arc<D>,
    transport: T,
    config: AgentConfig,
    pended: Vec<D::Token>,
    stats: AgentStats,
}

fn header() -> NdcmHeader {
    NdcmHeader {
        version: NDCM_ABI_VERSION,
        flags: 0,
    }
}

/// The MAD_SUBMIT_INBOUND input for `mad` received on `local_port`.
pub fn submit_input(mad: &InboundMad, local_port: u8) -> [u8; NdcmMadSubmitIn::SIZE] {
    NdcmMadSubmitIn {
        header: header(),
        address: NdcmMadAddress {
            gid: mad.gid,
            qpn: mad.qpn,
            qkey: GSI_QKEY,
            pkey_index: mad.pkey_index,
            port: local_port,
            reserved0: 0,
            reserved1: 0,
        },
        mad: mad.mad,
    }
    .to_bytes()
}

/// An adapter the agent carries, as REGISTER_ADAPTER declares it
/// (docs/NDI-agent.md §3): its addresses (its GIDs are their RoCEv2 forms),
/// HCA port, MTU and the limits OPEN_ADAPTER reports.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AdapterDeclaration {
    /// Local IP addresses, 1..=16.
    pub addresses: Vec<std::net::IpAddr>,
    /// HCA port number (1-based).
    pub port: u8,
    /// Path MTU in bytes.
    pub mtu: u32,
    /// Largest inbound / outbound RDMA read limits.
    pub read_limits: (u32, u32),
    /// Largest queue depth.
    pub max_qp_depth: u32,
    /// Largest scatter/gather count.
    pub max_sge: u32,
    /// Largest inline data.
    pub max_inline: u32,
}

impl AdapterDeclaration {
    /// The software RoCE adapter of `addresses` on `port` (the limits of
    /// `ndcm_ndi::cm_port::AdapterInfo::soft_roce`, MTU 1024).
    pub fn soft_roce(addresses: Vec<std::net::IpAddr>, port: u8) -> Self {
        AdapterDeclaration {
            addresses,
            port,
            mtu: 1024,
            read_limits: (16, 16),
            max_qp_depth: 1024,
            max_sge: 4,
            max_inline: 64,
        }
    }

    /// The REGISTER_ADAPTER input.
    pub fn input(&self) -> Vec<u8> {
        let count = u32::try_from(self.addresses.len()).unwrap_or(u32::MAX);
        let fixed = NdcmRegisterAdapterIn {
            header: header(),
            max_inbound_read_limit: self.read_limits.0,
            max_outbound_read_limit: self.read_limits.1,
            max_qp_depth: self.max_qp_depth,
            max_sge: self.max_sge,
            max_inline: self.max_inline,
            mtu: self.mtu,
            port: self.port,
            reserved0: 0,
            reserved1: 0,
            address_count: count,
            address_offset: NdcmRegisterAdapterIn::SIZE as u32,
            reserved2: 0,
        };
        let mut v = fixed.to_bytes().to_vec();
        for a in &self.addresses {
            let abi = crate::address::to_abi(std::net::SocketAddr::new(*a, 0));
            v.extend_from_slice(&abi.to_bytes());
        }
        v
    }
}

fn sync_ioctl<D: Device>(device: &D, code: u32, input: &[u8], output_len: usize) -> Completion {
    match device.ioctl(code, input, output_len) {
        Submitted::Complete(c) => c,
        Submitted::Pending(token) => device.wait(token),
    }
}

/// REGISTER_ADAPTER on `device` (an agent's file, opened by an
/// administrator or SYSTEM): the adapter's index on the device, or the
/// driver's status (ACCESS_DENIED for a non-administrator,
/// SHARING_VIOLATION when another agent carries one of its addresses).
pub fn register_adapter<D: Device>(
    device: &D,
    adapter: &AdapterDeclaration,
) -> Result<u32, NtStatus> {
    let c = sync_ioctl(
        device,
        Ioctl::RegisterAdapter.code(),
        &adapter.input(),
        NdcmRegisterAdapterOut::SIZE,
    );
    if c.status != NtStatus::SUCCESS {
        return Err(c.status);
    }
    NdcmRegisterAdapterOut::read(&c.output, 0)
        .map(|o| o.adapter_index)
        .ok_or(NtStatus::UNSUCCESSFUL)
}

/// WITHDRAW_ADAPTER of an adapter `device` registered.
pub fn withdraw_adapter<D: Device>(device: &D, index: u32) -> Result<(), NtStatus> {
    let input = NdcmWithdrawAdapterIn {
        header: header(),
        adapter_index: index,
        reserved: 0,
    };
    let c = sync_ioctl(device, Ioctl::WithdrawAdapter.code(), &input.to_bytes(), 0);
    if c.status == NtStatus::SUCCESS {
        Ok(())
    } else {
        Err(c.status)
    }
}

impl<D: Device, T: MadTransport> MadAgent<D, T> {
    /// An agent on `device` (an open file it owns for MADs) and
    /// `transport`. Nothing is issued until the first turn.
    pub fn new(device: Arc<D>, transport: T, config: AgentConfig) -> Self {
        let outstanding = config.outstanding.max(1);
        MadAgent {
            device,
            transport,
            config: AgentConfig {
                outstanding,
                ..config
            },
            pended: Vec::with_capacity(outstanding),
            stats: AgentStats::default(),
        }
    }

    /// Declares an adapter this agent carries (REGISTER_ADAPTER on its
    /// file): its index, or the driver's status. The adapter is withdrawn
    /// when the file closes (docs/NDI-agent.md §4).
    pub fn register(&self, adapter: &AdapterDeclaration) -> Result<u32, NtStatus> {
        register_adapter(self.device.as_ref(), adapter)
    }

    /// The counters so far.
    pub fn stats(&self) -> AgentStats {
        self.stats
    }

    /// MAD_GET_OUTBOUND requests pended now.
    pub fn pended(&self) -> usize {
        self.pended.len()
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The device file.
    pub fn device(&self) -> &Arc<D> {
        &self.device
    }

    /// Tops the pended MAD_GET_OUTBOUND requests up to `outstanding`.
    fn refill(&mut self) -> Result<(), AgentError> {
        while self.pended.len() < self.config.outstanding {
            self.stats.gets_issued += 1;
            let input = header().to_bytes();
            match self
                .device
                .ioctl(Ioctl::MadGetOutbound.code(), &input, NdcmMadEnvelope::SIZE)
            {
                Submitted::Pending(token) => self.pended.push(token),
                Submitted::Complete(c) if c.status == NtStatus::SUCCESS => self.outbound(c),
                Submitted::Complete(c) => {
                    self.stats.get_errors += 1;
                    self.stats.last_error = Some(c.status);
                    return Err(AgentError::GetRefused(c.status));
                }
            }
        }
        Ok(())
    }

    /// One MAD_GET_OUTBOUND completion: send its MAD.
    fn outbound(&mut self, c: Completion) {
        if c.status != NtStatus::SUCCESS {
            self.stats.get_errors += 1;
            if c.status == NtStatus::CANCELLED {
                self.stats.cancelled += 1;
            } else {
                self.stats.last_error = Some(c.status);
            }
            return;
        }
        let envelope = (c.output.len() == NdcmMadEnvelope::SIZE)
            .then(|| NdcmMadEnvelope::read(&c.output, 0))
            .flatten();
        let Some(envelope) = envelope else {
            self.stats.drop_one(AgentDrop::MalformedEnvelope);
            return;
        };
        self.stats.outbound += 1;
        match self.transport.send(&envelope) {
            Ok(()) => self.stats.sent += 1,
            Err(SendFailure::Unreachable) => self.stats.drop_one(AgentDrop::Unreachable),
            Err(SendFailure::Io(_)) => self.stats.drop_one(AgentDrop::SendFailed),
        }
    }

    /// Collects the completed MAD_GET_OUTBOUND requests and sends their
    /// MADs. Returns how many completed.
    fn collect(&mut self) -> usize {
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.pended.len() {
            let finished = self
                .pended
                .get_mut(i)
                .and_then(|t| self.device.poll(t, None));
            match finished {
                Some(c) => {
                    // Order among completed requests does not matter: the
                    // driver completes the oldest request first anyway.
                    let _ = self.pended.swap_remove(i);
                    done.push(c);
                }
                None => i += 1,
            }
        }
        let n = done.len();
        for c in done {
            self.outbound(c);
        }
        n
    }

    /// One received MAD to the driver.
    fn inbound(&mut self, mad: &InboundMad) {
        self.stats.received += 1;
        let input = submit_input(mad, self.config.local_port);
        let status = match self.device.ioctl(Ioctl::MadSubmitInbound.code(), &input, 0) {
            Submitted::Complete(c) => c.status,
            // The driver completes a submit before returning; a pended one
            // is waited for so nothing issued outlives the agent.
            Submitted::Pending(token) => self.device.wait(token).status,
        };
        if status == NtStatus::SUCCESS {
            self.stats.submitted += 1;
        } else {
            self.stats.last_error = Some(status);
            self.stats.drop_one(AgentDrop::SubmitRefused);
        }
    }

    /// One turn: refill, send what the driver completed, wait up to
    /// `receive_wait` for received MADs and submit at most `receive_batch`
    /// of them, then send what completed meanwhile. Returns how many MADs
    /// moved.
    pub fn turn(&mut self) -> Result<usize, AgentError> {
        self.refill()?;
        let mut moved = self.collect();
        let wait = if moved > 0 {
            Duration::ZERO
        } else {
            self.config.receive_wait
        };
        if let Some(first) = self.transport.recv_timeout(wait) {
            self.inbound(&first);
            moved += 1;
            for _ in 1..self.config.receive_batch {
                let Some(next) = self.transport.recv_timeout(Duration::ZERO) else {
                    break;
                };
                self.inbound(&next);
                moved += 1;
            }
        }
        moved += self.collect();
        Ok(moved)
    }

    /// Turns until `stop` is set or the driver refuses MAD_GET_OUTBOUND.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), AgentError> {
        while !stop.load(Ordering::Acquire) {
            let _ = self.turn()?;
        }
        Ok(())
    }

    /// Cancels every pended MAD_GET_OUTBOUND and waits for each to
    /// complete (a MAD it still carries is sent). Returns the final
    /// counters.
    pub fn shutdown(mut self) -> AgentStats {
        self.cancel_all();
        self.stats
    }

    fn cancel_all(&mut self) {
        for token in &self.pended {
            self.device.cancel(token);
        }
        let pended = std::mem::take(&mut self.pended);
        for token in pended {
            let c = self.device.wait(token);
            self.outbound(c);
        }
    }
}

impl<D: Device, T: MadTransport> Drop for MadAgent<D, T> {
    /// An agent dropped without `shutdown` still leaves no request behind.
    fn drop(&mut self) {
        self.cancel_all();
    }
}
