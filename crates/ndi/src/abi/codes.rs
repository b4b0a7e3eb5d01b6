//! IOCTL codes: the driver's own device type and function range, all
//! METHOD_BUFFERED (spec/NDI.md §1).
//!
//! The reference's codes (`0x003B01C8`, …) are information only; none of
//! them is accepted here.

/// `FILE_ANY_ACCESS`.
pub const FILE_ANY_ACCESS: u32 = 0;
/// `FILE_READ_ACCESS | FILE_WRITE_ACCESS`: the I/O manager admits the
/// request only on a handle opened for both (the agent IOCTLs; the driver
/// also checks the opener is an administrator or SYSTEM, docs/NDI-agent.md).
pub const FILE_READ_WRITE_ACCESS: u32 = 3;
/// `METHOD_BUFFERED`: the I/O manager copies input and output through one
/// system buffer, so the driver never touches user addresses.
pub const METHOD_BUFFERED: u32 = 0;
/// The driver's device type (vendor range 0x8000–0xFFFF).
pub const NDCM_DEVICE_TYPE: u32 = 0x8C4D;
/// First function number (vendor range 0x800–0xFFF).
pub const NDCM_FUNCTION_BASE: u32 = 0x900;

/// `CTL_CODE(DeviceType, Function, Method, Access)` from `devioctl.h`.
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    (device_type << 16) | (access << 14) | (function << 2) | method
}

/// An ndcm IOCTL code for function offset `n` (any access).
pub const fn ndcm_ioctl(n: u32) -> u32 {
    ndcm_ioctl_access(n, FILE_ANY_ACCESS)
}

/// An ndcm IOCTL code for function offset `n` with required `access`.
pub const fn ndcm_ioctl_access(n: u32, access: u32) -> u32 {
    ctl_code(
        NDCM_DEVICE_TYPE,
        NDCM_FUNCTION_BASE + n,
        METHOD_BUFFERED,
        access,
    )
}

macro_rules! ioctls {
    ($( $(#[doc = $doc:literal])* $v:ident = $n:literal, $access:ident, $c:literal, $input:literal, $output:literal; )*) => {
        /// Every operation of the ABI.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Ioctl { $( $(#[doc = $doc])* $v, )* }

        impl Ioctl {
            /// All operations, in function-number order.
            pub const ALL: &'static [Ioctl] = &[ $( Ioctl::$v, )* ];
            /// The IOCTL code.
            pub const fn code(self) -> u32 {
                match self { $( Ioctl::$v => ndcm_ioctl_access($n, $access), )* }
            }
            /// True for the MAD agent's operations: they need a handle
            /// opened for read and write by an administrator or SYSTEM.
            pub const fn agent_only(self) -> bool {
                match self { $( Ioctl::$v => $access == FILE_READ_WRITE_ACCESS, )* }
            }
            /// The C macro name.
            pub const fn c_name(self) -> &'static str {
                match self { $( Ioctl::$v => $c, )* }
            }
            /// The input structure's name (fixed part).
            pub const fn input_name(self) -> &'static str {
                match self { $( Ioctl::$v => $input, )* }
            }
            /// The output structure's name, or "" when there is no output.
            pub const fn output_name(self) -> &'static str {
                match self { $( Ioctl::$v => $output, )* }
            }
            /// The operation of an IOCTL code, if it is one of ours.
            pub fn from_code(code: u32) -> Option<Ioctl> {
                // The function number picks the candidate; the whole code
                // (device type, method, access) must then match exactly.
                let n = ((code >> 2) & 0xFFF).wrapping_sub(NDCM_FUNCTION_BASE);
                let op = match n { $( $n => Ioctl::$v, )* _ => return None };
                (op.code() == code).then_some(op)
            }
        }
    };
}

ioctls! {
    /// Completes at once with SUCCESS (spec §5.15).
    Noop = 0, FILE_ANY_ACCESS, "IOCTL_NDCM_NOOP", "NdcmHeader", "";
    /// Opens an adapter of the device for this file; returns its handle and limits.
    OpenAdapter = 1, FILE_ANY_ACCESS, "IOCTL_NDCM_OPEN_ADAPTER", "NdcmOpenAdapterIn", "NdcmOpenAdapterOut";
    /// Creates an RC QP (spec §5.4).
    CreateQp = 2, FILE_ANY_ACCESS, "IOCTL_NDCM_CREATE_QP", "NdcmCreateQpIn", "NdcmCreateQpOut";
    /// Destroys a QP, aborting its connection (spec §9.2).
    DestroyQp = 3, FILE_ANY_ACCESS, "IOCTL_NDCM_DESTROY_QP", "NdcmHandleIn", "";
    /// RESET, INIT or ERROR from user mode (spec §5.5).
    ModifyQp = 4, FILE_ANY_ACCESS, "IOCTL_NDCM_MODIFY_QP", "NdcmModifyQpIn", "NdcmModifyQpOut";
    /// Creates a connection (connector) in IDLE (spec §5.1).
    CreateCep = 5, FILE_ANY_ACCESS, "IOCTL_NDCM_CREATE_CEP", "NdcmHandleIn", "NdcmHandleOut";
    /// Destroys a connection or listener (spec §5.2, §9.1).
    DestroyCep = 6, FILE_ANY_ACCESS, "IOCTL_NDCM_DESTROY_CEP", "NdcmHandleIn", "";
    /// Read limits and private data of the last REQ/REP/REJ (spec §5.3).
    CepGetPdata = 7, FILE_ANY_ACCESS, "IOCTL_NDCM_CEP_GET_PDATA", "NdcmHandleIn", "NdcmGetPdataOut";
    /// Creates a listener (spec §5.8).
    ListenCm = 8, FILE_ANY_ACCESS, "IOCTL_NDCM_LISTEN_CM", "NdcmListenIn", "NdcmListenOut";
    /// GetConnectionRequest; pends (spec §5.9).
    GetReqCm = 9, FILE_ANY_ACCESS, "IOCTL_NDCM_GET_REQ_CM", "NdcmGetReqIn", "";
    /// Connect; pends (spec §5.6).
    ReqCm = 10, FILE_ANY_ACCESS, "IOCTL_NDCM_REQ_CM", "NdcmReqCmIn", "";
    /// Accept; pends until established (spec §5.10).
    RepCm = 11, FILE_ANY_ACCESS, "IOCTL_NDCM_REP_CM", "NdcmRepCmIn", "";
    /// CompleteConnect (spec §5.7).
    RtuCm = 12, FILE_ANY_ACCESS, "IOCTL_NDCM_RTU_CM", "NdcmHandleIn", "";
    /// Reject (spec §5.11).
    RejCm = 13, FILE_ANY_ACCESS, "IOCTL_NDCM_REJ_CM", "NdcmRejCmIn", "";
    /// Disconnect; pends until the CM finishes (spec §5.12).
    DreqCm = 14, FILE_ANY_ACCESS, "IOCTL_NDCM_DREQ_CM", "NdcmHandleIn", "";
    /// NotifyDisconnect; pends while connected (spec §5.13).
    NotifyDreq = 15, FILE_ANY_ACCESS, "IOCTL_NDCM_NOTIFY_DREQ", "NdcmHandleIn", "";
    /// CancelOverlappedRequests of a connection or listener (spec §5.14).
    CancelCmIrps = 16, FILE_ANY_ACCESS, "IOCTL_NDCM_CANCEL_CM_IRPS", "NdcmHandleIn", "";
    /// GetLocalAddress / GetPeerAddress of a connecting or connected
    /// connection (spec §10).
    CepGetAddress = 17, FILE_ANY_ACCESS, "IOCTL_NDCM_CEP_GET_ADDRESS", "NdcmHandleIn", "NdcmGetAddressOut";
    /// MAD agent: pends until the CM has a MAD to send (umad-like read).
    MadGetOutbound = 32, FILE_READ_WRITE_ACCESS, "IOCTL_NDCM_MAD_GET_OUTBOUND", "NdcmHeader", "NdcmMadEnvelope";
    /// MAD agent: hands a received MAD to the CM (umad-like write).
    MadSubmitInbound = 33, FILE_READ_WRITE_ACCESS, "IOCTL_NDCM_MAD_SUBMIT_INBOUND", "NdcmMadSubmitIn", "";
    /// MAD agent: declares an adapter the agent carries (addresses, port,
    /// MTU, limits); it owns it until it withdraws it or its file closes.
    RegisterAdapter = 34, FILE_READ_WRITE_ACCESS, "IOCTL_NDCM_REGISTER_ADAPTER", "NdcmRegisterAdapterIn", "NdcmRegisterAdapterOut";
    /// MAD agent: withdraws an adapter it registered (docs/NDI-agent.md §3).
    WithdrawAdapter = 35, FILE_READ_WRITE_ACCESS, "IOCTL_NDCM_WITHDRAW_ADAPTER", "NdcmWithdrawAdapterIn", "";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctl_code_matches_the_reference_formula() {
        // The reference's UAL_NDI_REQ_CM: CTL_CODE(0x3B, 114, BUFFERED, ANY).
        assert_eq!(
            ctl_code(0x3B, 114, METHOD_BUFFERED, FILE_ANY_ACCESS),
            0x003B_01C8
        );
        // ND v2 CONNECTOR_CONNECT: CTL_CODE(0x12, 7 << 6 | 4, ...).
        assert_eq!(ctl_code(0x12, (7 << 6) | 4, 0, 0), 0x0012_0710);
    }

    #[test]
    fn codes_are_distinct_buffered_and_round_trip() {
        for (i, a) in Ioctl::ALL.iter().enumerate() {
            assert_eq!(a.code() & 3, METHOD_BUFFERED);
            assert_eq!(a.code() >> 16, NDCM_DEVICE_TYPE);
            let access = if a.agent_only() {
                FILE_READ_WRITE_ACCESS
            } else {
                FILE_ANY_ACCESS
            };
            assert_eq!((a.code() >> 14) & 3, access, "{a:?}");
            assert_eq!(Ioctl::from_code(a.code()), Some(*a));
            // Same function number, another method, access or device type.
            for flip in [1, 2, 1 << 14, 1 << 15, 1 << 16, 1 << 31] {
                assert_eq!(Ioctl::from_code(a.code() ^ flip), None, "{a:?} ^ {flip:#x}");
            }
            for b in Ioctl::ALL.iter().skip(i + 1) {
                assert_ne!(a.code(), b.code());
            }
        }
        assert_eq!(Ioctl::from_code(0x003B_01C8), None);
        // Function numbers next to ours.
        assert_eq!(Ioctl::from_code(ndcm_ioctl(Ioctl::ALL.len() as u32)), None);
        assert_eq!(Ioctl::from_code(ndcm_ioctl(0) - 4), None);
        assert_eq!(Ioctl::from_code(0), None);
        assert_eq!(Ioctl::from_code(u32::MAX), None);
    }
}
