//! The bytes of every IOCTL input, built from the `ndcm_ndi::abi`
//! structures, and the parsers of their outputs.
//!
//! Inputs are exactly the fixed structure plus its declared variable part,
//! placed right after it, as spec/NDI.md §1 requires; the header is always
//! `{ NDCM_ABI_VERSION, 0 }`. This module never validates what the driver
//! validates (private-data limits, handles, states): the driver answers.

use crate::address::to_abi;
use crate::error::{NdError, NdResult};
use ndcm_ndi::abi::*;
use std::net::SocketAddr;

/// The header every input starts with.
pub const HEADER: NdcmHeader = NdcmHeader {
    version: NDCM_ABI_VERSION,
    flags: 0,
};

/// A fixed structure followed by `pdata`; `(length, offset)` to declare it.
fn with_pdata(fixed: &[u8], pdata: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(fixed.len() + pdata.len());
    v.extend_from_slice(fixed);
    v.extend_from_slice(pdata);
    v
}

/// `(length, offset)` of a private-data part following a fixed part of
/// `fixed` bytes; offset 0 when there is none. A length that does not fit
/// a u32 is sent as u32::MAX so that the driver refuses it.
fn pdata_pair(fixed: usize, pdata: &[u8]) -> (u32, u32) {
    if pdata.is_empty() {
        (0, 0)
    } else {
        (
            u32::try_from(pdata.len()).unwrap_or(u32::MAX),
            u32::try_from(fixed).unwrap_or(u32::MAX),
        )
    }
}

/// Input naming one object (or an adapter, for CREATE_CEP).
pub fn handle_in(handle: u64) -> [u8; NdcmHandleIn::SIZE] {
    NdcmHandleIn {
        header: HEADER,
        handle,
    }
    .to_bytes()
}

/// NOOP input.
pub fn noop_in() -> [u8; NdcmHeader::SIZE] {
    HEADER.to_bytes()
}

/// OPEN_ADAPTER input.
pub fn open_adapter_in(index: u32) -> [u8; NdcmOpenAdapterIn::SIZE] {
    NdcmOpenAdapterIn {
        header: HEADER,
        adapter_index: index,
        reserved: 0,
    }
    .to_bytes()
}

/// CREATE_QP input.
pub fn create_qp_in(adapter: u64, c: &crate::qp::QpConfig) -> [u8; NdcmCreateQpIn::SIZE] {
    NdcmCreateQpIn {
        header: HEADER,
        adapter,
        send_depth: c.send_depth,
        receive_depth: c.receive_depth,
        send_sge: c.send_sge,
        receive_sge: c.receive_sge,
        inline_data: c.inline_data,
        reserved: 0,
    }
    .to_bytes()
}

/// MODIFY_QP input.
pub fn modify_qp_in(qp: u64, state: u32) -> [u8; NdcmModifyQpIn::SIZE] {
    NdcmModifyQpIn {
        header: HEADER,
        qp,
        state,
        reserved: 0,
    }
    .to_bytes()
}

/// LISTEN_CM input.
pub fn listen_in(
    adapter: u64,
    backlog: u32,
    protocol: u32,
    local: SocketAddr,
) -> [u8; NdcmListenIn::SIZE] {
    NdcmListenIn {
        header: HEADER,
        adapter,
        backlog,
        protocol,
        local: to_abi(local),
    }
    .to_bytes()
}

/// GET_REQ_CM input.
pub fn get_req_in(listener: u64, connection: u64) -> [u8; NdcmGetReqIn::SIZE] {
    NdcmGetReqIn {
        header: HEADER,
        listener,
        connection,
    }
    .to_bytes()
}

/// What a Connect sends (REQ_CM).
#[derive(Clone, Copy, Debug)]
pub struct ReqCm<'a> {
    /// The connector.
    pub connection: u64,
    /// The QP.
    pub qp: u64,
    /// Inbound read limit (responder resources).
    pub inbound_read_limit: u32,
    /// Outbound read limit (initiator depth).
    pub outbound_read_limit: u32,
    /// `NDCM_PROTOCOL_TCP` or `_UDP`.
    pub protocol: u32,
    /// Bound local address.
    pub local: SocketAddr,
    /// Destination.
    pub remote: SocketAddr,
    /// Consumer private data.
    pub pdata: &'a [u8],
}

/// REQ_CM input.
pub fn req_cm_in(r: &ReqCm<'_>) -> Vec<u8> {
    let (pdata_length, pdata_offset) = pdata_pair(NdcmReqCmIn::SIZE, r.pdata);
    let fixed = NdcmReqCmIn {
        header: HEADER,
        connection: r.connection,
        qp: r.qp,
        inbound_read_limit: r.inbound_read_limit,
        outbound_read_limit: r.outbound_read_limit,
        protocol: r.protocol,
        pdata_length,
        pdata_offset,
        reserved: 0,
        local: to_abi(r.local),
        remote: to_abi(r.remote),
    };
    with_pdata(&fixed.to_bytes(), r.pdata)
}

/// REP_CM input.
pub fn rep_cm_in(connection: u64, qp: u64, inbound: u32, outbound: u32, pdata: &[u8]) -> Vec<u8> {
    let (pdata_length, pdata_offset) = pdata_pair(NdcmRepCmIn::SIZE, pdata);
    let fixed = NdcmRepCmIn {
        header: HEADER,
        connection,
        qp,
        inbound_read_limit: inbound,
        outbound_read_limit: outbound,
        pdata_length,
        pdata_offset,
    };
    with_pdata(&fixed.to_bytes(), pdata)
}

/// REJ_CM input.
pub fn rej_cm_in(connection: u64, pdata: &[u8]) -> Vec<u8> {
    let (pdata_length, pdata_offset) = pdata_pair(NdcmRejCmIn::SIZE, pdata);
    let fixed = NdcmRejCmIn {
        header: HEADER,
        connection,
        pdata_length,
        pdata_offset,
    };
    with_pdata(&fixed.to_bytes(), pdata)
}

/// Reads a fixed output structure; a short output is a malformed answer.
pub fn read_out<T: AbiField>(output: &[u8]) -> NdResult<T> {
    T::read(output, 0).ok_or(NdError::MALFORMED_OUTPUT)
}

/// The output length of CEP_GET_PDATA that fits any private data (a REP's
/// 196 bytes).
pub const GET_PDATA_OUT_MAX: usize = NdcmGetPdataOut::SIZE + NDCM_MAX_REP_PDATA as usize;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rej_with_private_data_declares_it_right_after_the_fixed_part() {
        let v = rej_cm_in(0x1122_3344_5566_7788, &[9, 8, 7]);
        assert_eq!(v.len(), 24 + 3);
        assert_eq!(&v[0..8], &[2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&v[8..16], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(&v[16..20], &3u32.to_le_bytes());
        assert_eq!(&v[20..24], &24u32.to_le_bytes());
        assert_eq!(&v[24..], &[9, 8, 7]);
    }

    #[test]
    fn empty_private_data_has_length_and_offset_zero() {
        let v = rep_cm_in(1, 2, 3, 4, &[]);
        assert_eq!(v.len(), 40);
        assert_eq!(&v[32..40], &[0; 8]);
    }

    #[test]
    fn short_output_is_malformed() {
        assert_eq!(
            read_out::<NdcmHandleOut>(&[1, 2, 3]),
            Err(NdError::MALFORMED_OUTPUT)
        );
        assert_eq!(
            read_out::<NdcmHandleOut>(&7u64.to_le_bytes()).map(|h| h.handle),
            Ok(7)
        );
    }
}
