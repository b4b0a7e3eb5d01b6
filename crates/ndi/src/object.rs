//! The objects of one open file (spec/NDI.md §2) and the NDI connection
//! states (§4). Plain data: every field is read and written only under the
//! file's lock. This module must never call the CM or complete a request.

use crate::cm_port::{IpEndpoint, PortSpace, ReqInfo};
use crate::handle::{HandleKind, HandleTable};
use crate::requests::Requests;
use alloc::collections::VecDeque;
use ndcm_cm::cid::Cid;
use ndcm_cm::platform::Instant;
use ndcm_cm::qp::{CidSlot, QpState, SoftQp};

/// NDI connection states (spec §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    /// Created, or waiting as the target of a GET_REQ_CM.
    Idle,
    /// REQ sent, waiting for REP.
    ReqSent,
    /// REQ received through GET_REQ_CM.
    ReqRcvd,
    /// REP sent, waiting for RTU.
    RepSent,
    /// REP received, waiting for RTU_CM.
    RepRcvd,
    /// Established.
    Connected,
    /// Local DREQ outstanding.
    Disconnecting,
    /// Peer disconnected first.
    DreqRcvd,
    /// Terminal.
    Closed,
}

/// Why a connection reached CLOSED (NOTIFY_DREQ and the abort statuses
/// depend on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseCause {
    /// Not closed.
    Open,
    /// The peer rejected or timed out before the connection was established.
    PeerAbort,
    /// The peer gave up waiting (REJ reason 4) before the connection was
    /// established.
    PeerTimeout,
    /// The peer disconnected an established connection.
    PeerDisconnect,
    /// The local side disconnected.
    LocalDisconnect,
    /// The local side rejected, cancelled or destroyed something.
    LocalAbort,
}

/// The owned QP reference of a bound connection (S3, S6): created by the
/// compare-and-set that binds the QP's slot, consumed only by unbinding.
#[derive(Debug)]
pub struct QpBinding {
    /// The bound QP's handle.
    pub qp: u64,
}

/// Private data of the last message received (spec §5.3), kept inline:
/// the largest (REP, 196 bytes) fits, so an event stores it without a pool
/// allocation at DISPATCH_LEVEL.
#[derive(Clone, Debug)]
pub struct ReceivedPdata {
    /// The peer's responder resources (our inbound view).
    pub inbound: u32,
    /// The peer's initiator depth.
    pub outbound: u32,
    len: u8,
    data: [u8; ReceivedPdata::MAX],
}

impl ReceivedPdata {
    /// The longest private data of a CM message (REP).
    pub const MAX: usize = 196;

    /// `data` (cut at `MAX` bytes) with the peer's read limits.
    pub fn new(inbound: u32, outbound: u32, data: &[u8]) -> Self {
        let mut p = ReceivedPdata {
            inbound,
            outbound,
            len: 0,
            data: [0; ReceivedPdata::MAX],
        };
        let n = data.len().min(ReceivedPdata::MAX);
        if let (Some(to), Some(from)) = (p.data.get_mut(..n), data.get(..n)) {
            to.copy_from_slice(from);
            p.len = n as u8;
        }
        p
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        self.data.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// One connection (connector).
pub struct Connection<R: Requests> {
    /// Adapter handle it was created on.
    pub adapter: u64,
    /// Adapter index on the device.
    pub adapter_index: u32,
    /// Its pending-request queue.
    pub queue: R::Queue,
    /// NDI state.
    pub state: ConnState,
    /// Why it closed.
    pub cause: CloseCause,
    /// Whether it ever reached CONNECTED.
    pub ever_connected: bool,
    /// CM connection, once connecting or accepting.
    pub cid: Option<Cid>,
    /// The QP binding while bound.
    pub binding: Option<QpBinding>,
    /// The listener whose GET_REQ_CM targets this connection.
    pub target_of: Option<u64>,
    /// Local endpoint reserved in the device port table (active side).
    pub port: Option<(PortSpace, u16)>,
    /// Addresses of the exchange.
    pub local: Option<IpEndpoint>,
    /// Peer address.
    pub remote: Option<IpEndpoint>,
    /// Read limits offered by the peer (passive side) for REP_CM.
    pub peer_limits: (u8, u8),
    /// Last received private data.
    pub pdata: Option<ReceivedPdata>,
    /// Requests forwarded to the queue and not yet taken back by NDI: a
    /// retrieve that finds nothing while this is set means the framework is
    /// cancelling it and the cancel entry point will run the cancel action.
    pub outstanding_req: bool,
    /// Same for REP_CM.
    pub outstanding_rep: bool,
    /// Same for DREQ_CM.
    pub outstanding_dreq: bool,
}

/// An untaken REQ on a listener's backlog.
#[derive(Clone, Copy, Debug)]
pub struct Incoming {
    /// The new CM connection.
    pub cid: Cid,
    /// Its REQ.
    pub req: ReqInfo,
}

/// A listener.
pub struct Listener<R: Requests> {
    /// Adapter handle.
    pub adapter: u64,
    /// Adapter index on the device.
    pub adapter_index: u32,
    /// Queue of GET_REQ_CM.
    pub queue: R::Queue,
    /// CM connection in LISTEN.
    pub cid: Cid,
    /// Reserved service (port space, port).
    pub service: (PortSpace, u16),
    /// Backlog limit.
    pub backlog_limit: usize,
    /// Untaken REQs.
    pub backlog: VecDeque<Incoming>,
}

/// A QP.
pub struct Qp {
    /// Adapter handle.
    pub adapter: u64,
    /// QP number.
    pub qpn: u32,
    /// Verbs state and timewait stamp.
    pub verbs: SoftQp,
    /// The connection it belongs to (spec §8); the CID is the connection's.
    pub slot: CidSlot,
    /// Handle of the connection bound to it.
    pub bound_to: Option<u64>,
    /// Latest timewait stamp given.
    pub timewait_until: Instant,
}

/// A QP's CID slot and what refers to it, as `Ndi::qp_view` reports it
/// (tests, diagnostics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QpView {
    /// The slot (S2).
    pub slot: CidSlot,
    /// The connection the QP records as bound to it.
    pub bound_to: Option<u64>,
    /// Connections of the file holding a `QpBinding` (the QP reference of
    /// S3) on this QP: 1 while Bound, 0 otherwise.
    pub bindings: usize,
    /// Verbs state.
    pub state: QpState,
}

/// A broken S2/S3 invariant, as `Ndi::audit_qp_bindings` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingFault {
    /// The QP's slot is Bound but no connection of the file holds that
    /// binding with that CID (a leaked binding: the QP can never be bound
    /// again).
    SlotWithoutBinding {
        /// The QP.
        qp: u64,
    },
    /// The connection holds a binding (a QP reference) whose QP is gone,
    /// or whose slot is not Bound to the connection's CID.
    BindingWithoutSlot {
        /// The connection.
        connection: u64,
    },
    /// More than one connection holds a binding on the QP.
    SharedBinding {
        /// The QP.
        qp: u64,
    },
}

/// An opened adapter.
#[derive(Clone, Copy, Debug)]
pub struct Adapter {
    /// Index on the device.
    pub index: u32,
    /// The registration it was opened on: a withdrawn adapter's handle
    /// never reaches a later adapter with the same index.
    pub generation: u32,
}

/// Everything an open file owns, under its lock.
pub struct FileState<R: Requests> {
    /// The file's id: `QueueOwner::instance` of its objects, and the owner
    /// the CM checks on every call for its connections.
    pub id: u64,
    /// Set at cleanup: new requests complete with CANCELLED.
    pub closing: bool,
    /// Adapters.
    pub adapters: HandleTable<Adapter>,
    /// QPs.
    pub qps: HandleTable<Qp>,
    /// Connections.
    pub connections: HandleTable<Connection<R>>,
    /// Listeners.
    pub listeners: HandleTable<Listener<R>>,
    /// The MAD agent's queue (MAD_GET_OUTBOUND), created on first use.
    pub mad_queue: Option<R::Queue>,
    /// MAD_GET_OUTBOUND requests queued and not retrieved.
    pub mad_outstanding: usize,
}

impl<R: Requests> FileState<R> {
    /// An empty file `id` with handle salt `salt`.
    pub fn new(id: u64, salt: u16) -> Self {
        FileState {
            id,
            closing: false,
            adapters: HandleTable::new(HandleKind::Adapter, salt),
            qps: HandleTable::new(HandleKind::Qp, salt),
            connections: HandleTable::new(HandleKind::Connection, salt),
            listeners: HandleTable::new(HandleKind::Listener, salt),
            mad_queue: None,
            mad_outstanding: 0,
        }
    }
}
