//! The input and output structures of every IOCTL, field by field.
//!
//! All little-endian unless a field says "network order", naturally aligned,
//! with explicit reserved fields (must be zero) and no implicit padding; the
//! macro asserts each offset and size at compile time. Every input starts
//! with [`NdcmHeader`]. Variable parts (private data) follow the fixed part
//! and are named by `(length, offset)` pairs.

use super::field::abi_struct;

abi_struct! {
    /// The first 8 bytes of every input.
    pub struct NdcmHeader [8] {
        /// ABI version; must be `NDCM_ABI_VERSION` (else INVALID_DEVICE_REQUEST).
        pub version: u32 = 0,
        /// No flags are defined; must be 0 (else INVALID_PARAMETER).
        pub flags: u32 = 4,
    }
}

abi_struct! {
    /// An IP address and port. IPv4 uses `addr[0..4]`, the other 12 bytes zero.
    pub struct NdcmAddress [24] {
        /// `NDCM_AF_INET` (2) or `NDCM_AF_INET6` (23), the Windows values.
        pub family: u16 = 0,
        /// Port, network order; 0 asks the driver to allocate one.
        pub port_be: u16 = 2,
        /// Must be 0.
        pub reserved: u32 = 4,
        /// Address bytes, network order.
        pub addr: [u8; 16] = 8,
    }
}

abi_struct! {
    /// Input naming one object by handle (DESTROY_QP, DESTROY_CEP, CEP_GET_PDATA,
    /// CEP_GET_ADDRESS, RTU_CM, DREQ_CM, NOTIFY_DREQ, CANCEL_CM_IRPS) or an
    /// adapter (CREATE_CEP).
    pub struct NdcmHandleIn [16] {
        /// Version and flags.
        pub header: NdcmHeader = 0,
        /// The object's handle.
        pub handle: u64 = 8,
    }
}

abi_struct! {
    /// Output carrying one new handle (CREATE_CEP).
    pub struct NdcmHandleOut [8] {
        /// The new object's handle.
        pub handle: u64 = 0,
    }
}

abi_struct! {
    /// OPEN_ADAPTER input.
    pub struct NdcmOpenAdapterIn [16] {
        /// Version and flags.
        pub header: NdcmHeader = 0,
        /// Index of the adapter on this device (0-based).
        pub adapter_index: u32 = 8,
        /// Must be 0.
        pub reserved: u32 = 12,
    }
}

abi_struct! {
    /// OPEN_ADAPTER output.
    pub struct NdcmOpenAdapterOut [24] {
        /// The adapter handle, valid in this file only.
        pub adapter: u64 = 0,
        /// Largest inbound RDMA read limit (responder resources).
        pub max_inbound_read_limit: u32 = 8,
        /// Largest outbound RDMA read limit (initiator depth).
        pub max_outbound_read_limit: u32 = 12,
        /// Number of local IP addresses of the adapter.
        pub address_count: u32 = 16,
        /// Zero.
        pub reserved: u32 = 20,
    }
}

abi_struct! {
    /// CREATE_QP input (RC only).
    pub struct NdcmCreateQpIn [40] {
        /// Version and flags.
        pub header: NdcmHeader = 0,
        /// The adapter the QP belongs to.
        pub adapter: u64 = 8,
        /// Send queue depth, 1..=adapter maximum.
        pub send_depth: u32 = 16,
        /// Receive queue depth, 1..=adapter maximum.
        pub receive_depth: u32 = 20,
        /// Scatter/gather entries per send, 1..=adapter maximum.
        pub send_sge: u32 = 24,
        /// Scatter/gather entries per receive, 1..=adapter maximum.
        pub receive_sge: u32 = 28,
        /// Inline data bytes, 0..=adapter maximum.
        pub inline_data: u32 = 32,
        /// Must be 0.
        pub reserved: u32 = 36,
    }
}

abi_struct! {
    /// CREATE_QP output.
    pub struct NdcmCreateQpOut [16] {
        /// The QP handle.
        pub qp: u64 = 0,
        /// The QP number (24 bits).
        pub qpn: u32 = 8,
        /// Zero.
        pub reserved: u32 = 12,
    }
}

abi_struct! {
    /// MODIFY_QP input.
    pub struct NdcmModifyQpIn [24] {
        /// Version and flags.
        pub header: NdcmHeader = 0,
        /// The QP.
        pub qp: u64 = 8,
        /// `NDCM_QP_STATE_RESET`, `_INIT` or `_ERROR` (RTR/RTS only through the CM).
        pub state: u32 = 16,
        /// Must be 0.
        pub reserved: u32 = 20,
    }
}

abi_struct! {
    /// MODIFY_QP output.
    pub struct NdcmModifyQpOut [8] {
        /// The QP's state after the call.
        pub state: u32 = 0,
        /// Zero.
        pub reserved: u32 = 4,
    }
}

abi_struct! {
    /// CEP_GET_PDATA output (fixed part); the private data follows. If the
    /// output is too small for the data, what fits is copied, `length` is the
    /// full size and the status is BUFFER_OVERFLOW.
    pub struct NdcmGetPdataOut [16] {
        /// Inbound read limit (the peer's responder resources / our offer).
        pub inbound_read_limit: u32 = 0,
        /// Outbound read limit.
        pub outbound_read_limit: u32 = 4,
        /// Private-data length in bytes (REQ 56, REP 196, REJ 148 at most).
        pub length: u32 = 8,
        /// Zero.
        pub reserved: u32 = 12,
    }
}

abi_struct! {
    /// CEP_GET_ADDRESS output: both IP endpoints of a connection that is
    /// connecting or connected. The active side's come from its validated
    /// REQ_CM (the local port is the one the driver allocated when 0 was
    /// asked); the passive side's from the rdma_cm header of the REQ it took.
    pub struct NdcmGetAddressOut [48] {
        /// Our address and port (GetLocalAddress).
        pub local: NdcmAddress = 0,
        /// The peer's address and port (GetPeerAddress).
        pub remote: NdcmAddress = 24,
    }
}

abi_struct! {
    /// LISTEN_CM input.
    pub struct NdcmListenIn [48] {
        /// Version and flags.
        pub header: NdcmHeader = 0,
        /// The adapter to listen on.
        pub adapter: u64 = 8,
        /// Untaken-REQ backlog; 0 → default, above the maximum → clamped.
        pub backlog: u32 = 16,
        /// Port space: `NDCM_PROTOCOL_TCP` (0x06) or `NDCM_PROTOCOL_UDP` (0x11).
        pub protocol: u32 = 20,
        /// Local address: one of the adapter's or the wildcard; port 0 → allocate.
        pub local: NdcmAddress = 24,
    }
}

abi_struct! {
    /// LISTEN_CM output.
    pub struct NdcmListenOut [16] {
        /// The listener handle.
        pub listener: u64 = 0,
        /// The bound port (network order), allocated if 0 was asked.
        pub port_be: u16 = 8,
        /// Zero.
        pub reserved0: u16 = 10,
        /// Zero.
        pub reserved1: u32 = 12,
    }
}

abi_struct! {
    /// GET_REQ_CM input.
    pub struct NdcmGetReqIn [24] {
        /// Version and flags.
        pub header: NdcmHeader = 0,
        /// The listener.
        pub listener: u64 = 8,
        /// An IDLE connection that will receive the request.
        pub connection: u64 = 16,
    }
}

abi_struct! {
    /// REQ_CM (Connect) input; `pdata_length` bytes of private data at
    /// `pdata_offset`.
    pub struct NdcmReqCmIn [96] {
        /// Version and flags.
        pub header: NdcmHeader = 0,
        /// The IDLE connection.
        pub connection: u64 = 8,
        /// The RC QP, in INIT, same adapter.
        pub qp: u64 = 16,
        /// Inbound read limit (responder resources); lowered to the adapter's.
        pub inbound_read_limit: u32 = 24,
        /// Outbound read limit (initiator depth); lowered to the adapter's.
        pub outbound_read_limit: u32 = 28,
        /// Port space: `NDCM_PROTOCOL_TCP` or `NDCM_PROTOCOL_UDP`.
        pub protocol: u32 = 32,
        /// Private-data length, 0..=56.
        pub pdata_length: u32 = 36,
        /// Private-data offset, >= 96 (0 allowed when the length is 0).
        pub pdata_offset: u32 = 40,
        /// Must be 0.
        pub reserved: u32 = 44,
        /// Local address: one of the adapter's; port 0 → allocate.
        pub local: NdcmAddress = 48,
        /// Destination address and port (port non-zero).
        pub remote: NdcmAddress = 72,
    }
}

abi_struct! {
    /// REP_CM (Accept) input; private data at `pdata_offset`.
    pub struct NdcmRepCmIn [40] {
        /// Version and flags.
        pub header: NdcmHeader = 0,
        /// The connection, in REQ_RCVD.
        pub connection: u64 = 8,
        /// The RC QP, in INIT, same adapter.
        pub qp: u64 = 16,
        /// Inbound read limit; lowered to min(asked, peer's, adapter's).
        pub inbound_read_limit: u32 = 24,
        /// Outbound read limit; lowered likewise.
        pub outbound_read_limit: u32 = 28,
        /// Private-data length, 0..=196.
        pub pdata_length: u32 = 32,
        /// Private-data offset, >= 40 (0 allowed when the length is 0).
        pub pdata_offset: u32 = 36,
    }
}

abi_struct! {
    /// REJ_CM (Reject) input; private data at `pdata_offset`.
    pub struct NdcmRejCmIn [24] {
        /// Version and flags.
        pub header: NdcmHeader = 0,
        /// The connection, in REQ_RCVD or REP_RCVD.
        pub connection: u64 = 8,
        /// Private-data length, 0..=148.
        pub pdata_length: u32 = 16,
        /// Private-data offset, >= 24 (0 allowed when the length is 0).
        pub pdata_offset: u32 = 20,
    }
}

abi_struct! {
    /// Where a MAD comes from or goes to (QP1 address).
    pub struct NdcmMadAddress [32] {
        /// Remote port GID (for RoCE: the IPv4-mapped or IPv6 address).
        pub gid: [u8; 16] = 0,
        /// Remote QP number (1 for the CM).
        pub qpn: u32 = 16,
        /// Q_Key (0x80010000 for QP1).
        pub qkey: u32 = 20,
        /// P_Key index.
        pub pkey_index: u16 = 24,
        /// Local port number (1-based).
        pub port: u8 = 26,
        /// Must be 0.
        pub reserved0: u8 = 27,
        /// Must be 0.
        pub reserved1: u32 = 28,
    }
}

abi_struct! {
    /// MAD_GET_OUTBOUND output: one MAD the CM wants sent.
    pub struct NdcmMadEnvelope [288] {
        /// Destination.
        pub address: NdcmMadAddress = 0,
        /// The 256-byte CM MAD, network order.
        pub mad: [u8; 256] = 32,
    }
}

abi_struct! {
    /// MAD_SUBMIT_INBOUND input: one MAD received from the wire.
    pub struct NdcmMadSubmitIn [296] {
        /// Version and flags.
        pub header: NdcmHeader = 0,
        /// Source.
        pub address: NdcmMadAddress = 8,
        /// The 256-byte MAD, network order.
        pub mad: [u8; 256] = 40,
    }
}

abi_struct! {
    /// REGISTER_ADAPTER input (agent only); `address_count` NdcmAddress
    /// entries (port 0) follow at `address_offset`. The adapter's GIDs are
    /// its addresses (IPv4-mapped for IPv4: RoCEv2).
    pub struct NdcmRegisterAdapterIn [48] {
        /// Version and flags.
        pub header: NdcmHeader = 0,
        /// Largest inbound RDMA read limit, 1..=255.
        pub max_inbound_read_limit: u32 = 8,
        /// Largest outbound RDMA read limit, 1..=255.
        pub max_outbound_read_limit: u32 = 12,
        /// Largest queue depth, >= 1.
        pub max_qp_depth: u32 = 16,
        /// Largest scatter/gather count, >= 1.
        pub max_sge: u32 = 20,
        /// Largest inline data size.
        pub max_inline: u32 = 24,
        /// Path MTU in bytes: 256, 512, 1024, 2048 or 4096.
        pub mtu: u32 = 28,
        /// HCA port number the agent carries MADs for (1-based).
        pub port: u8 = 32,
        /// Must be 0.
        pub reserved0: u8 = 33,
        /// Must be 0.
        pub reserved1: u16 = 34,
        /// Number of addresses, 1..=16.
        pub address_count: u32 = 36,
        /// Offset of the addresses: exactly 48.
        pub address_offset: u32 = 40,
        /// Must be 0.
        pub reserved2: u32 = 44,
    }
}

abi_struct! {
    /// REGISTER_ADAPTER output.
    pub struct NdcmRegisterAdapterOut [8] {
        /// The adapter's index on the device (OPEN_ADAPTER's `adapter_index`).
        pub adapter_index: u32 = 0,
        /// Zero.
        pub reserved: u32 = 4,
    }
}

abi_struct! {
    /// WITHDRAW_ADAPTER input (agent only).
    pub struct NdcmWithdrawAdapterIn [16] {
        /// Version and flags.
        pub header: NdcmHeader = 0,
        /// An adapter this file registered.
        pub adapter_index: u32 = 8,
        /// Must be 0.
        pub reserved: u32 = 12,
    }
}

/// Every structure of the ABI, in the order the C header declares them.
pub const ALL_STRUCTS: &[super::field::StructLayout] = &[
    NdcmHeader::LAYOUT,
    NdcmAddress::LAYOUT,
    NdcmHandleIn::LAYOUT,
    NdcmHandleOut::LAYOUT,
    NdcmOpenAdapterIn::LAYOUT,
    NdcmOpenAdapterOut::LAYOUT,
    NdcmCreateQpIn::LAYOUT,
    NdcmCreateQpOut::LAYOUT,
    NdcmModifyQpIn::LAYOUT,
    NdcmModifyQpOut::LAYOUT,
    NdcmGetPdataOut::LAYOUT,
    NdcmGetAddressOut::LAYOUT,
    NdcmListenIn::LAYOUT,
    NdcmListenOut::LAYOUT,
    NdcmGetReqIn::LAYOUT,
    NdcmReqCmIn::LAYOUT,
    NdcmRepCmIn::LAYOUT,
    NdcmRejCmIn::LAYOUT,
    NdcmMadAddress::LAYOUT,
    NdcmMadEnvelope::LAYOUT,
    NdcmMadSubmitIn::LAYOUT,
    NdcmRegisterAdapterIn::LAYOUT,
    NdcmRegisterAdapterOut::LAYOUT,
    NdcmWithdrawAdapterIn::LAYOUT,
];
