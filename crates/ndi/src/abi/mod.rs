//! The driver's IOCTL ABI (spec/NDI.md §1): codes, structures, constants and
//! NTSTATUS values. This module owns the byte layout that user mode sees; it
//! must never change a layout without bumping [`NDCM_ABI_VERSION`], and never
//! read a user buffer other than through [`field::AbiField`].

pub mod codes;
pub mod device;
pub mod field;
pub mod header;
pub mod status;
pub mod structs;

pub use codes::{Ioctl, ctl_code};
pub use field::AbiField;
pub use status::NtStatus;
pub use structs::*;

/// The ABI version every input carries.
/// 2: agent IOCTLs need read+write access (new MAD codes) and
/// REGISTER_ADAPTER / WITHDRAW_ADAPTER exist (docs/NDI-agent.md).
pub const NDCM_ABI_VERSION: u32 = 2;
/// Windows `AF_INET`.
pub const NDCM_AF_INET: u16 = 2;
/// Windows `AF_INET6`.
pub const NDCM_AF_INET6: u16 = 23;
/// rdma_cm port space TCP (the service ID's port-space byte).
pub const NDCM_PROTOCOL_TCP: u32 = 0x06;
/// rdma_cm port space UDP.
pub const NDCM_PROTOCOL_UDP: u32 = 0x11;
/// QP state RESET.
pub const NDCM_QP_STATE_RESET: u32 = 0;
/// QP state INIT.
pub const NDCM_QP_STATE_INIT: u32 = 1;
/// QP state RTR (reached only through the CM).
pub const NDCM_QP_STATE_RTR: u32 = 2;
/// QP state RTS (reached only through the CM).
pub const NDCM_QP_STATE_RTS: u32 = 3;
/// QP state ERROR.
pub const NDCM_QP_STATE_ERROR: u32 = 4;
/// Consumer private data of a REQ (92 minus the 36-byte rdma_cm header).
pub const NDCM_MAX_REQ_PDATA: u32 = 56;
/// Private data of a REP.
pub const NDCM_MAX_REP_PDATA: u32 = 196;
/// Private data of a REJ.
pub const NDCM_MAX_REJ_PDATA: u32 = 148;
/// Addresses one registered adapter may declare.
pub const NDCM_MAX_ADAPTER_ADDRESSES: u32 = 16;
/// Size of a CM MAD.
pub const NDCM_MAD_SIZE: u32 = 256;

/// Named constants exported to the C header.
pub const ALL_CONSTANTS: &[(&str, u32)] = &[
    ("NDCM_ABI_VERSION", NDCM_ABI_VERSION),
    ("NDCM_DEVICE_TYPE", codes::NDCM_DEVICE_TYPE),
    ("NDCM_AF_INET", NDCM_AF_INET as u32),
    ("NDCM_AF_INET6", NDCM_AF_INET6 as u32),
    ("NDCM_PROTOCOL_TCP", NDCM_PROTOCOL_TCP),
    ("NDCM_PROTOCOL_UDP", NDCM_PROTOCOL_UDP),
    ("NDCM_QP_STATE_RESET", NDCM_QP_STATE_RESET),
    ("NDCM_QP_STATE_INIT", NDCM_QP_STATE_INIT),
    ("NDCM_QP_STATE_RTR", NDCM_QP_STATE_RTR),
    ("NDCM_QP_STATE_RTS", NDCM_QP_STATE_RTS),
    ("NDCM_QP_STATE_ERROR", NDCM_QP_STATE_ERROR),
    ("NDCM_MAX_REQ_PDATA", NDCM_MAX_REQ_PDATA),
    ("NDCM_MAX_REP_PDATA", NDCM_MAX_REP_PDATA),
    ("NDCM_MAX_REJ_PDATA", NDCM_MAX_REJ_PDATA),
    ("NDCM_MAD_SIZE", NDCM_MAD_SIZE),
    ("NDCM_MAX_ADAPTER_ADDRESSES", NDCM_MAX_ADAPTER_ADDRESSES),
];
