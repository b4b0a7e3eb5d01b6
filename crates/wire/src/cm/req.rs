//! REQ (ConnectRequest, attribute 0x0010), spec/WIRE.md §5.1.
//!
//! Owns the REQ body layout. It never judges the values (transport type,
//! MTU, rdma_cm header): the CM answers bad values with the matching REJ.

use super::path::{self, PathRecord, REQ_LAYOUT};
use super::view::cm_view;
use crate::enums::{ExtendedTransportType, Mtu, TransportType};
use crate::{CommId, PrivateData, Psn, Qpn, Result, ServiceId};

/// REQ private data size.
pub const REQ_PRIVATE_DATA: usize = 92;
const PRIMARY_PATH: usize = 52;
const ALTERNATE_PATH: usize = 96;

cm_view! {
    /// Zero-copy view of a REQ body.
    ///
    /// | field | CM byte | bit | width |
    /// |---|---|---|---|
    /// | Local Communication ID | 0 | 0 | 32 |
    /// | ECE Vendor ID | 5 | 0 | 24 |
    /// | Service ID | 8 | 0 | 64 |
    /// | Local CA GUID | 16 | 0 | 64 |
    /// | Local Q_Key | 28 | 0 | 32 |
    /// | Local QPN | 32 | 0 | 24 |
    /// | Responder Resources | 35 | 0 | 8 |
    /// | Local EECN | 36 | 0 | 24 |
    /// | Initiator Depth | 39 | 0 | 8 |
    /// | Remote EECN | 40 | 0 | 24 |
    /// | Remote CM Response Timeout | 43 | 0 | 5 |
    /// | Transport Service Type | 43 | 5 | 2 |
    /// | End-to-End Flow Control | 43 | 7 | 1 |
    /// | Starting PSN | 44 | 0 | 24 |
    /// | Local CM Response Timeout | 47 | 0 | 5 |
    /// | Retry Count | 47 | 5 | 3 |
    /// | Partition Key | 48 | 0 | 16 |
    /// | Path Packet Payload MTU | 50 | 0 | 4 |
    /// | RDC Exists | 50 | 4 | 1 |
    /// | RNR Retry Count | 50 | 5 | 3 |
    /// | Max CM Retries | 51 | 0 | 4 |
    /// | SRQ | 51 | 4 | 1 |
    /// | Extended Transport Type | 51 | 5 | 3 |
    /// | Primary path | 52–95 | | 44 bytes |
    /// | Alternate path | 96–139 | | 44 bytes |
    /// | SAP Supported | 139 | 5 | 1 |
    /// | Private Data | 140 | | 92 bytes |
    ReqPacket {
        ints {
            local_comm_id, set_local_comm_id: u32 = 0, 0, 32;
            ece_vendor_id, set_ece_vendor_id: u32 = 5, 0, 24;
            service_id, set_service_id: u64 = 8, 0, 64;
            local_ca_guid, set_local_ca_guid: u64 = 16, 0, 64;
            local_qkey, set_local_qkey: u32 = 28, 0, 32;
            local_qpn, set_local_qpn: u32 = 32, 0, 24;
            responder_resources, set_responder_resources: u8 = 35, 0, 8;
            local_eecn, set_local_eecn: u32 = 36, 0, 24;
            initiator_depth, set_initiator_depth: u8 = 39, 0, 8;
            remote_eecn, set_remote_eecn: u32 = 40, 0, 24;
            remote_cm_response_timeout, set_remote_cm_response_timeout: u8 = 43, 0, 5;
            transport_service_type, set_transport_service_type: u8 = 43, 5, 2;
            end_to_end_flow_control, set_end_to_end_flow_control: u8 = 43, 7, 1;
            starting_psn, set_starting_psn: u32 = 44, 0, 24;
            local_cm_response_timeout, set_local_cm_response_timeout: u8 = 47, 0, 5;
            retry_count, set_retry_count: u8 = 47, 5, 3;
            partition_key, set_partition_key: u16 = 48, 0, 16;
            path_mtu, set_path_mtu: u8 = 50, 0, 4;
            rdc_exists, set_rdc_exists: u8 = 50, 4, 1;
            rnr_retry_count, set_rnr_retry_count: u8 = 50, 5, 3;
            max_cm_retries, set_max_cm_retries: u8 = 51, 0, 4;
            srq, set_srq: u8 = 51, 4, 1;
            extended_transport_type, set_extended_transport_type: u8 = 51, 5, 3;
            sap_supported, set_sap_supported: u8 = 139, 5, 1;
        }
        arrays {}
        private_data: 140, REQ_PRIVATE_DATA;
    }
}

impl<T: AsRef<[u8]>> ReqPacket<T> {
    pub fn primary_path(&self) -> PathRecord {
        path::read(self.buffer.as_ref(), PRIMARY_PATH, REQ_LAYOUT)
    }
    pub fn alternate_path(&self) -> PathRecord {
        path::read(self.buffer.as_ref(), ALTERNATE_PATH, REQ_LAYOUT)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ReqPacket<T> {
    pub fn set_primary_path(&mut self, p: &PathRecord) {
        path::write(self.buffer.as_mut(), PRIMARY_PATH, REQ_LAYOUT, p)
    }
    pub fn set_alternate_path(&mut self, p: &PathRecord) {
        path::write(self.buffer.as_mut(), ALTERNATE_PATH, REQ_LAYOUT, p)
    }
}

/// A REQ as plain data.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ReqRepr {
    pub local_comm_id: CommId,
    /// IBA 1.4 / Linux ECE; sent as 0.
    pub ece_vendor_id: u32,
    pub service_id: ServiceId,
    pub local_ca_guid: u64,
    pub local_qkey: u32,
    pub local_qpn: Qpn,
    pub responder_resources: u8,
    /// 24 bits; 0 for RC.
    pub local_eecn: u32,
    pub initiator_depth: u8,
    /// 24 bits; 0 for RC.
    pub remote_eecn: u32,
    /// Exponent, 5 bits.
    pub remote_cm_response_timeout: u8,
    pub transport_type: TransportType,
    pub end_to_end_flow_control: bool,
    pub starting_psn: Psn,
    /// Exponent, 5 bits.
    pub local_cm_response_timeout: u8,
    /// 3 bits.
    pub retry_count: u8,
    pub partition_key: u16,
    pub path_mtu: Mtu,
    pub rdc_exists: bool,
    /// 3 bits.
    pub rnr_retry_count: u8,
    /// 4 bits.
    pub max_cm_retries: u8,
    pub srq: bool,
    pub extended_transport_type: ExtendedTransportType,
    pub primary_path: PathRecord,
    /// All zero when absent.
    pub alternate_path: PathRecord,
    pub sap_supported: bool,
    pub private_data: PrivateData<REQ_PRIVATE_DATA>,
}

impl ReqRepr {
    pub fn parse<T: AsRef<[u8]>>(p: &ReqPacket<T>) -> Result<ReqRepr> {
        Ok(Self::from_packet(p))
    }

    /// Reads every field; nothing in this message can be out of range.
    #[inline]
    pub(crate) fn from_packet<T: AsRef<[u8]>>(p: &ReqPacket<T>) -> ReqRepr {
        ReqRepr {
            local_comm_id: CommId(p.local_comm_id()),
            ece_vendor_id: p.ece_vendor_id(),
            service_id: ServiceId(p.service_id()),
            local_ca_guid: p.local_ca_guid(),
            local_qkey: p.local_qkey(),
            local_qpn: Qpn::new(p.local_qpn()),
            responder_resources: p.responder_resources(),
            local_eecn: p.local_eecn(),
            initiator_depth: p.initiator_depth(),
            remote_eecn: p.remote_eecn(),
            remote_cm_response_timeout: p.remote_cm_response_timeout(),
            transport_type: TransportType::from_code(p.transport_service_type()),
            end_to_end_flow_control: p.end_to_end_flow_control() != 0,
            starting_psn: Psn::new(p.starting_psn()),
            local_cm_response_timeout: p.local_cm_response_timeout(),
            retry_count: p.retry_count(),
            partition_key: p.partition_key(),
            path_mtu: Mtu::from_code(p.path_mtu()),
            rdc_exists: p.rdc_exists() != 0,
            rnr_retry_count: p.rnr_retry_count(),
            max_cm_retries: p.max_cm_retries(),
            srq: p.srq() != 0,
            extended_transport_type: ExtendedTransportType::from_code(p.extended_transport_type()),
            primary_path: p.primary_path(),
            alternate_path: p.alternate_path(),
            sap_supported: p.sap_supported() != 0,
            private_data: PrivateData(crate::bits::array(p.private_data(), 0)),
        }
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut ReqPacket<T>) {
        p.clear();
        p.set_local_comm_id(self.local_comm_id.0);
        p.set_ece_vendor_id(self.ece_vendor_id);
        p.set_service_id(self.service_id.0);
        p.set_local_ca_guid(self.local_ca_guid);
        p.set_local_qkey(self.local_qkey);
        p.set_local_qpn(self.local_qpn.get());
        p.set_responder_resources(self.responder_resources);
        p.set_local_eecn(self.local_eecn);
        p.set_initiator_depth(self.initiator_depth);
        p.set_remote_eecn(self.remote_eecn);
        p.set_remote_cm_response_timeout(self.remote_cm_response_timeout);
        p.set_transport_service_type(self.transport_type.code());
        p.set_end_to_end_flow_control(self.end_to_end_flow_control.into());
        p.set_starting_psn(self.starting_psn.get());
        p.set_local_cm_response_timeout(self.local_cm_response_timeout);
        p.set_retry_count(self.retry_count);
        p.set_partition_key(self.partition_key);
        p.set_path_mtu(self.path_mtu.code());
        p.set_rdc_exists(self.rdc_exists.into());
        p.set_rnr_retry_count(self.rnr_retry_count);
        p.set_max_cm_retries(self.max_cm_retries);
        p.set_srq(self.srq.into());
        p.set_extended_transport_type(self.extended_transport_type.code());
        p.set_primary_path(&self.primary_path);
        p.set_alternate_path(&self.alternate_path);
        p.set_sap_supported(self.sap_supported.into());
        p.set_private_data(&self.private_data.0);
    }
}
