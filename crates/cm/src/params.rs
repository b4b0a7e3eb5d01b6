//! Inputs of the CM-only interface calls (spec/CM.md §10.1), as plain data.
//!
//! Owns the defaults of spec/CM.md §5.6; validation happens in the manager,
//! under the lock, before anything changes.

use ndcm_wire::{Gid, Mtu, PathRecord};

/// The address of a MAD's peer: where a reply goes (spec/WIRE.md §2: the
/// source GID of the message it answers) and the local port it used.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct MadAddress {
    /// The peer's GID (its IP address on RoCEv2).
    pub gid: Gid,
    /// The local port number the MAD arrived on or leaves from.
    pub port: u8,
}

/// `pre_req` inputs.
#[derive(Clone, Debug)]
pub struct ReqParams {
    /// The service to connect to.
    pub service_id: u64,
    /// Primary path (required).
    pub primary_path: PathRecord,
    /// Alternate path (optional; same MTU and P_Key, same CA).
    pub alternate_path: Option<PathRecord>,
    /// Local port number the REQ leaves from.
    pub port: u8,
    /// The QP's number.
    pub local_qpn: u32,
    /// Starting PSN (24 bits).
    pub starting_psn: u32,
    /// Partition key.
    pub partition_key: u16,
    /// Path MTU.
    pub path_mtu: Mtu,
    /// Up to 92 bytes.
    pub private_data: alloc::vec::Vec<u8>,
    /// 0–15.
    pub max_cm_retries: u8,
    /// Responder resources.
    pub responder_resources: u8,
    /// Initiator depth.
    pub initiator_depth: u8,
    /// Exponent; default 18.
    pub remote_cm_response_timeout: u8,
    /// Exponent; default 18.
    pub local_cm_response_timeout: u8,
    /// End-to-end flow control; default true.
    pub flow_control: bool,
    /// QP retry count; default 7.
    pub retry_count: u8,
    /// RNR retry count; default 7.
    pub rnr_retry_count: u8,
    /// SRQ in use.
    pub srq: bool,
}

impl ReqParams {
    /// The driver defaults of spec/CM.md §5.6 for a path and QP.
    pub fn new(service_id: u64, primary_path: PathRecord, local_qpn: u32) -> Self {
        ReqParams {
            service_id,
            primary_path,
            alternate_path: None,
            port: 1,
            local_qpn,
            starting_psn: 0,
            partition_key: 0xFFFF,
            path_mtu: Mtu::Mtu1024,
            private_data: alloc::vec::Vec::new(),
            max_cm_retries: 15,
            responder_resources: 0,
            initiator_depth: 0,
            remote_cm_response_timeout: 18,
            local_cm_response_timeout: 18,
            flow_control: true,
            retry_count: 7,
            rnr_retry_count: 7,
            srq: false,
        }
    }
}

/// `pre_rep` inputs.
#[derive(Clone, Debug)]
pub struct RepParams {
    /// The QP's number.
    pub local_qpn: u32,
    /// Starting PSN (24 bits).
    pub starting_psn: u32,
    /// Up to 196 bytes.
    pub private_data: alloc::vec::Vec<u8>,
    /// Failover accepted.
    pub failover_accepted: bool,
    /// Responder resources (capped at the CA maximum).
    pub responder_resources: u8,
    /// Initiator depth.
    pub initiator_depth: u8,
    /// End-to-end flow control.
    pub flow_control: bool,
    /// RNR retry count.
    pub rnr_retry_count: u8,
    /// SRQ in use.
    pub srq: bool,
}

impl RepParams {
    /// Defaults for a QP.
    pub fn new(local_qpn: u32) -> Self {
        RepParams {
            local_qpn,
            starting_psn: 0,
            private_data: alloc::vec::Vec::new(),
            failover_accepted: false,
            responder_resources: 0,
            initiator_depth: 0,
            flow_control: true,
            rnr_retry_count: 7,
            srq: false,
        }
    }
}

/// Listener compare data (spec/CM.md §7).
#[derive(Clone, Debug)]
pub struct CompareData {
    /// Generic: byte offset into the REQ private data. rdma_cm service IDs:
    /// the mask (0x01 source port, 0x02 source IP, 0x04 destination IP).
    pub offset: u8,
    /// The bytes to compare (rdma_cm: the 36-byte header).
    pub data: alloc::vec::Vec<u8>,
}

/// `listen` inputs.
#[derive(Clone, Debug)]
pub struct ListenParams {
    /// Service ID; for an rdma_cm service ID with port 0 a free port from
    /// 49152–65535 is allocated and returned.
    pub service_id: u64,
    /// Local port number, or `None` for all ports.
    pub port: Option<u8>,
    /// Optional compare data.
    pub compare: Option<CompareData>,
    /// Untaken REQs held at most; a further REQ gets REJ 3.
    pub backlog: u32,
    /// Also accept SIDR_REQs for this service.
    pub sidr: bool,
}

/// `lap` inputs.
#[derive(Clone, Debug)]
pub struct LapParams {
    /// The new alternate path.
    pub alternate_path: PathRecord,
    /// Exponent.
    pub remote_cm_response_timeout: u8,
    /// Up to 168 bytes.
    pub private_data: alloc::vec::Vec<u8>,
}

/// `sidr_req` inputs.
#[derive(Clone, Debug)]
pub struct SidrReqParams {
    /// Service to resolve.
    pub service_id: u64,
    /// Partition key.
    pub partition_key: u16,
    /// Where to send it.
    pub to: MadAddress,
    /// Wait per attempt.
    pub timeout_ms: u32,
    /// Retries after the first attempt.
    pub max_retries: u8,
    /// Up to 216 bytes.
    pub private_data: alloc::vec::Vec<u8>,
}

/// `sidr_rep` inputs.
#[derive(Clone, Debug)]
pub struct SidrRepParams {
    /// SIDR status code (0 success).
    pub status: u8,
    /// The UD QP.
    pub qpn: u32,
    /// Its Q_Key.
    pub qkey: u32,
    /// Up to 72 bytes.
    pub info: alloc::vec::Vec<u8>,
    /// Up to 136 bytes.
    pub private_data: alloc::vec::Vec<u8>,
}

/// What `get_pdata` returns (spec/CM.md §10.1; the true length, §11 item 7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivateDataInfo {
    /// Responder resources of the last REQ/REP.
    pub responder_resources: u8,
    /// Initiator depth of the last REQ/REP.
    pub initiator_depth: u8,
    /// The private data (full field: 92, 196 or 148 bytes; empty if none).
    pub data: alloc::vec::Vec<u8>,
}

/// Manager configuration.
#[derive(Clone, Debug)]
pub struct ManagerConfig {
    /// This CA's GUID (REQ/REP Local CA GUID, REJ 4 ARI).
    pub ca_guid: u64,
    /// Most CIDs at once.
    pub max_ceps: u32,
    /// Most queued events per CEP; further events are dropped and counted.
    pub max_events_per_cep: usize,
    /// The largest path MTU the port supports.
    pub port_mtu: Mtu,
    /// The CA's ACK delay exponent (REP Target ACK Delay).
    pub ca_ack_delay: u8,
    /// The CA's maximum responder resources.
    pub max_responder_resources: u8,
    /// IB alternate paths (LAP/APR). False on RoCEv2: LAP is refused and a
    /// received LAP is answered with APR status 2 (spec/CM.md §4.4).
    pub alternate_paths: bool,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            ca_guid: 0x0002_c903_0000_0001,
            max_ceps: crate::cid::MAX_INDEX,
            max_events_per_cep: 32,
            port_mtu: Mtu::Mtu4096,
            ca_ack_delay: 0,
            max_responder_resources: 16,
            alternate_paths: false,
        }
    }
}
