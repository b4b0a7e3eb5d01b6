//! The narrow CM interface the dispatcher drives (CM.md §10), and the CM
//! events it consumes (CM.md §10.2), in NDI's terms.
//!
//! It exists so the dispatcher is written against the operations it needs
//! rather than against one CM implementation: `ndcm-cm`'s CEP manager is
//! adapted to it, and tests use a scripted CM. Every method may be called
//! while the dispatcher holds an instance lock (lock order NDI → manager,
//! CM.md §10.4), so none may call out: MADs to send, timers to arm and events
//! to deliver go into `Effects`, which the dispatcher hands to
//! [`CmPort::perform`] after releasing every lock. Events come back through
//! `Ndi::on_cm_event` with the owner given at `create`/`adopt`.

use crate::NdiError;
use crate::abi::NdcmMadAddress;
use crate::requests::QueueOwner;
use ndcm_cm::cid::Cid;
use ndcm_cm::platform::Duration;

/// An IP address (network order bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpAddr {
    /// IPv4.
    V4([u8; 4]),
    /// IPv6.
    V6([u8; 16]),
}

impl IpAddr {
    /// True for 0.0.0.0 and ::.
    pub fn is_unspecified(&self) -> bool {
        match self {
            IpAddr::V4(a) => a.iter().all(|b| *b == 0),
            IpAddr::V6(a) => a.iter().all(|b| *b == 0),
        }
    }
    /// True when both are IPv4 or both IPv6.
    pub fn same_family(&self, other: &IpAddr) -> bool {
        matches!(
            (self, other),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
        )
    }
}

/// An address and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpEndpoint {
    /// Address.
    pub addr: IpAddr,
    /// Port (host order).
    pub port: u16,
}

/// rdma_cm port space of a service ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortSpace {
    /// 0x06.
    Tcp,
    /// 0x11.
    Udp,
}

impl PortSpace {
    /// The service ID's port-space byte.
    pub const fn byte(self) -> u8 {
        match self {
            PortSpace::Tcp => 0x06,
            PortSpace::Udp => 0x11,
        }
    }
}

/// What LISTEN_CM asks of the CM.
#[derive(Clone, Copy, Debug)]
pub struct ListenSpec {
    /// Adapter index on the device.
    pub adapter: u32,
    /// Port space.
    pub space: PortSpace,
    /// Port (already allocated if 0 was asked).
    pub port: u16,
    /// Specific local IP (compare data), or `None` for the wildcard.
    pub ip: Option<IpAddr>,
}

/// What REQ_CM asks of the CM (`pre_req` + `send_req`). The CM side builds
/// the 36-byte rdma_cm header from these validated addresses (spec §5.6).
#[derive(Clone, Copy, Debug)]
pub struct ConnectSpec<'a> {
    /// Adapter index on the device.
    pub adapter: u32,
    /// Port space.
    pub space: PortSpace,
    /// Source (one of the adapter's addresses, port allocated).
    pub local: IpEndpoint,
    /// Destination.
    pub remote: IpEndpoint,
    /// The QP's number.
    pub qpn: u32,
    /// Responder resources (inbound read limit, lowered).
    pub responder_resources: u8,
    /// Initiator depth (outbound read limit, lowered).
    pub initiator_depth: u8,
    /// Consumer private data, at most 56 bytes.
    pub private_data: &'a [u8],
}

/// What REP_CM asks of the CM (`pre_rep` + `send_rep`).
#[derive(Clone, Copy, Debug)]
pub struct AcceptSpec<'a> {
    /// The QP's number.
    pub qpn: u32,
    /// Responder resources (lowered).
    pub responder_resources: u8,
    /// Initiator depth (lowered).
    pub initiator_depth: u8,
    /// Private data, at most 196 bytes.
    pub private_data: &'a [u8],
}

/// An incoming REQ as NDI needs it (from REQ_RECEIVED + the rdma_cm header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReqInfo {
    /// Our address (the header's destination).
    pub local: IpEndpoint,
    /// The peer's address (the header's source).
    pub remote: IpEndpoint,
    /// The peer's responder resources.
    pub responder_resources: u8,
    /// The peer's initiator depth.
    pub initiator_depth: u8,
    /// The 56 consumer bytes after the header.
    pub private_data: [u8; 56],
}

/// A CM event for a connection or listener (CM.md §10.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmEvent {
    /// A REQ for a listener; `cid` is the new connection, not yet adopted.
    ReqReceived {
        /// The new CM connection.
        cid: Cid,
        /// Its REQ.
        req: ReqInfo,
    },
    /// REP received (active side).
    RepReceived {
        /// Peer's responder resources.
        responder_resources: u8,
        /// Peer's initiator depth.
        initiator_depth: u8,
        /// REP private data.
        private_data: [u8; 196],
    },
    /// RTU received (passive side).
    RtuReceived,
    /// First receive on the QP before the RTU (passive side).
    Established,
    /// REJ received.
    RejReceived {
        /// IB REJ reason (4 = timeout, 28 = consumer).
        reason: u16,
        /// REJ private data.
        private_data: [u8; 148],
    },
    /// DREQ received.
    DreqReceived,
    /// DREP received.
    DrepReceived,
    /// REQ retries exhausted.
    ReqTimeout,
    /// REP retries exhausted.
    RepTimeout,
    /// DREQ retries exhausted.
    DreqTimeout,
    /// Timewait over; the CID is gone.
    TimewaitExit,
}

/// The CM operations NDI uses.
///
/// Every operation on an existing connection names the file that owns it
/// (`file`, the `QueueOwner::instance` given at `create`/`adopt`): the CM
/// checks it on each call, so a handle of one file never reaches another
/// file's connection (S8), and the CM side keeps no owner table of its own.
pub trait CmPort: Send + Sync {
    /// Work to run after every NDI lock is released (MAD sends, timers,
    /// event deliveries).
    type Effects: Default + Send;

    /// A new CM connection in IDLE, whose events go to `owner`.
    fn create(&self, owner: QueueOwner) -> Result<Cid, NdiError>;
    /// Gives a connection created by a REQ on a listener its owner (config).
    fn adopt(&self, cid: Cid, owner: QueueOwner) -> Result<(), NdiError>;
    /// IDLE → LISTEN. Duplicate service → `SharingViolation`.
    fn listen(
        &self,
        file: u64,
        cid: Cid,
        spec: &ListenSpec,
        fx: &mut Self::Effects,
    ) -> Result<(), NdiError>;
    /// Resolves the route and sends the REQ.
    fn connect(
        &self,
        file: u64,
        cid: Cid,
        spec: &ConnectSpec<'_>,
        fx: &mut Self::Effects,
    ) -> Result<(), NdiError>;
    /// Sends the REP.
    fn accept(
        &self,
        file: u64,
        cid: Cid,
        spec: &AcceptSpec<'_>,
        fx: &mut Self::Effects,
    ) -> Result<(), NdiError>;
    /// Sends the RTU.
    fn rtu(&self, file: u64, cid: Cid, fx: &mut Self::Effects) -> Result<(), NdiError>;
    /// Sends a REJ.
    fn reject(
        &self,
        file: u64,
        cid: Cid,
        reason: u16,
        private_data: &[u8],
        fx: &mut Self::Effects,
    ) -> Result<(), NdiError>;
    /// Sends a DREQ.
    fn dreq(&self, file: u64, cid: Cid, fx: &mut Self::Effects) -> Result<(), NdiError>;
    /// Sends a DREP.
    fn drep(&self, file: u64, cid: Cid, fx: &mut Self::Effects) -> Result<(), NdiError>;
    /// Destroys the connection, aborting by state (REJ, DREQ or DREP).
    /// No event is delivered to its owner afterwards.
    fn destroy(&self, file: u64, cid: Cid, fx: &mut Self::Effects);
    /// The connection's timewait (positive).
    fn timewait(&self, file: u64, cid: Cid) -> Duration;
    /// A MAD received by the MAD agent.
    fn submit_mad(
        &self,
        address: &NdcmMadAddress,
        mad: &[u8; 256],
        fx: &mut Self::Effects,
    ) -> Result<(), NdiError>;
    /// Runs deferred work. Called with no NDI lock held.
    fn perform(&self, fx: Self::Effects);
}

/// What the dispatcher knows about one adapter of the device.
#[derive(Clone, Debug)]
pub struct AdapterInfo {
    /// Local IP addresses.
    pub addresses: alloc::vec::Vec<IpAddr>,
    /// Largest inbound read limit.
    pub max_inbound_read_limit: u8,
    /// Largest outbound read limit.
    pub max_outbound_read_limit: u8,
    /// Largest queue depth.
    pub max_qp_depth: u32,
    /// Largest scatter/gather count.
    pub max_sge: u32,
    /// Largest inline data size.
    pub max_inline: u32,
}

impl AdapterInfo {
    /// An adapter with `addresses` and the limits of the host's software
    /// RoCE device (what `ndcm sim`, the MAD agent's device and the tests
    /// expose): read limits 16 both ways, queue depth 1024, 4 SGEs, 64
    /// bytes inline.
    pub fn soft_roce(addresses: alloc::vec::Vec<IpAddr>) -> Self {
        AdapterInfo {
            addresses,
            max_inbound_read_limit: 16,
            max_outbound_read_limit: 16,
            max_qp_depth: 1024,
            max_sge: 4,
            max_inline: 64,
        }
    }
}
