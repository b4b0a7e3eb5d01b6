//! Why a request failed, and the one mapping from that to NTSTATUS
//! (spec/NDI.md §1, §5). Dispatch code returns [`NdiError`]; only
//! [`NdiError::status`] turns it into the value user mode sees.

use crate::abi::NtStatus;

/// A failure of an NDI request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NdiError {
    /// Unknown IOCTL code or ABI version.
    UnknownRequest,
    /// A malformed field: reserved bits, bad enum, bad offset, bad address,
    /// or an output buffer larger than documented.
    InvalidParameter,
    /// Input length differs from the structure plus its declared parts.
    InputSize,
    /// Output buffer smaller than documented.
    OutputTooSmall,
    /// Handle of another file, of the wrong type, or stale.
    InvalidHandle,
    /// Private data longer than the message allows.
    PrivateDataTooLong,
    /// The connection (or QP slot) is already in use.
    ConnectionActive,
    /// The connection is in no state where this request makes sense.
    ConnectionInvalid,
    /// The peer aborted the connection.
    ConnectionAborted,
    /// The connection has been disconnected locally.
    ConnectionDisconnected,
    /// Object state does not allow the request (QP not INIT, listener not
    /// listening, a disconnect already outstanding, …).
    InvalidDeviceState,
    /// The address or service is already in use.
    SharingViolation,
    /// Out of memory, handles or ports.
    NoResources,
    /// The object is being torn down (QP slot Reserved, file closing).
    Cancelled,
    /// Route resolution failed: no route to the host.
    HostUnreachable,
    /// Route resolution failed: no route to the network.
    NetworkUnreachable,
    /// The peer timed out waiting for us (REJ reason 4).
    Timeout,
    /// The CM refused an operation for a reason not covered above.
    Unsuccessful,
    /// An agent IOCTL from a file that is not the agent's (not opened by an
    /// administrator or SYSTEM), or on an adapter another agent owns.
    AccessDenied,
    /// The adapter was withdrawn (its agent left).
    DeviceRemoved,
}

impl NdiError {
    /// The NTSTATUS user mode sees.
    pub const fn status(self) -> NtStatus {
        match self {
            NdiError::UnknownRequest => NtStatus::INVALID_DEVICE_REQUEST,
            NdiError::InvalidParameter | NdiError::InputSize => NtStatus::INVALID_PARAMETER,
            NdiError::OutputTooSmall => NtStatus::BUFFER_TOO_SMALL,
            NdiError::InvalidHandle => NtStatus::INVALID_HANDLE,
            NdiError::PrivateDataTooLong => NtStatus::INVALID_BUFFER_SIZE,
            NdiError::ConnectionActive => NtStatus::CONNECTION_ACTIVE,
            NdiError::ConnectionInvalid => NtStatus::CONNECTION_INVALID,
            NdiError::ConnectionAborted => NtStatus::CONNECTION_ABORTED,
            NdiError::ConnectionDisconnected => NtStatus::CONNECTION_DISCONNECTED,
            NdiError::InvalidDeviceState => NtStatus::INVALID_DEVICE_STATE,
            NdiError::SharingViolation => NtStatus::SHARING_VIOLATION,
            NdiError::NoResources => NtStatus::INSUFFICIENT_RESOURCES,
            NdiError::Cancelled => NtStatus::CANCELLED,
            NdiError::HostUnreachable => NtStatus::HOST_UNREACHABLE,
            NdiError::NetworkUnreachable => NtStatus::NETWORK_UNREACHABLE,
            NdiError::Timeout => NtStatus::IO_TIMEOUT,
            NdiError::Unsuccessful => NtStatus::UNSUCCESSFUL,
            NdiError::AccessDenied => NtStatus::ACCESS_DENIED,
            NdiError::DeviceRemoved => NtStatus::DEVICE_REMOVED,
        }
    }
}
