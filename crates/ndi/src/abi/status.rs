//! The NTSTATUS values the driver returns (spec/NDI.md §1), in one place.
//!
//! ND's `ND_*` codes are numerically these values and the provider passes
//! them through unchanged, so they are part of the ABI. Success-class values
//! other than SUCCESS are never used to report a failure.

/// A Windows NTSTATUS value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NtStatus(pub u32);

impl NtStatus {
    /// STATUS_SUCCESS.
    pub const SUCCESS: NtStatus = NtStatus(0x0000_0000);
    /// STATUS_PENDING (never a completion status; dispatch's "pended").
    pub const PENDING: NtStatus = NtStatus(0x0000_0103);
    /// STATUS_BUFFER_OVERFLOW: partial data, the length field says how much.
    pub const BUFFER_OVERFLOW: NtStatus = NtStatus(0x8000_0005);
    /// STATUS_UNSUCCESSFUL.
    pub const UNSUCCESSFUL: NtStatus = NtStatus(0xC000_0001);
    /// STATUS_INVALID_HANDLE: another file's, wrong type or stale handle.
    pub const INVALID_HANDLE: NtStatus = NtStatus(0xC000_0008);
    /// STATUS_INVALID_PARAMETER.
    pub const INVALID_PARAMETER: NtStatus = NtStatus(0xC000_000D);
    /// STATUS_INVALID_DEVICE_REQUEST: unknown IOCTL code or version.
    pub const INVALID_DEVICE_REQUEST: NtStatus = NtStatus(0xC000_0010);
    /// STATUS_BUFFER_TOO_SMALL.
    pub const BUFFER_TOO_SMALL: NtStatus = NtStatus(0xC000_0023);
    /// STATUS_ACCESS_DENIED: an agent IOCTL from a file not opened by an
    /// administrator or SYSTEM, or on another agent's adapter.
    pub const ACCESS_DENIED: NtStatus = NtStatus(0xC000_0022);
    /// STATUS_SHARING_VIOLATION: address or service already in use.
    pub const SHARING_VIOLATION: NtStatus = NtStatus(0xC000_0043);
    /// STATUS_INSUFFICIENT_RESOURCES.
    pub const INSUFFICIENT_RESOURCES: NtStatus = NtStatus(0xC000_009A);
    /// STATUS_IO_TIMEOUT.
    pub const IO_TIMEOUT: NtStatus = NtStatus(0xC000_00B5);
    /// STATUS_CANCELLED.
    pub const CANCELLED: NtStatus = NtStatus(0xC000_0120);
    /// STATUS_INVALID_DEVICE_STATE.
    pub const INVALID_DEVICE_STATE: NtStatus = NtStatus(0xC000_0184);
    /// STATUS_INVALID_BUFFER_SIZE: private data longer than the message allows.
    pub const INVALID_BUFFER_SIZE: NtStatus = NtStatus(0xC000_0206);
    /// STATUS_CONNECTION_DISCONNECTED.
    pub const CONNECTION_DISCONNECTED: NtStatus = NtStatus(0xC000_020C);
    /// STATUS_CONNECTION_REFUSED.
    pub const CONNECTION_REFUSED: NtStatus = NtStatus(0xC000_0236);
    /// STATUS_CONNECTION_INVALID.
    pub const CONNECTION_INVALID: NtStatus = NtStatus(0xC000_023A);
    /// STATUS_CONNECTION_ACTIVE.
    pub const CONNECTION_ACTIVE: NtStatus = NtStatus(0xC000_023B);
    /// STATUS_NETWORK_UNREACHABLE.
    pub const NETWORK_UNREACHABLE: NtStatus = NtStatus(0xC000_023C);
    /// STATUS_HOST_UNREACHABLE.
    pub const HOST_UNREACHABLE: NtStatus = NtStatus(0xC000_023D);
    /// STATUS_CONNECTION_ABORTED.
    pub const CONNECTION_ABORTED: NtStatus = NtStatus(0xC000_0241);
    /// STATUS_DEVICE_REMOVED.
    pub const DEVICE_REMOVED: NtStatus = NtStatus(0xC000_02B6);

    /// Every value above with its Windows name (C header, diagnostics).
    pub const ALL: &'static [(&'static str, NtStatus)] = &[
        ("STATUS_SUCCESS", Self::SUCCESS),
        ("STATUS_PENDING", Self::PENDING),
        ("STATUS_BUFFER_OVERFLOW", Self::BUFFER_OVERFLOW),
        ("STATUS_UNSUCCESSFUL", Self::UNSUCCESSFUL),
        ("STATUS_INVALID_HANDLE", Self::INVALID_HANDLE),
        ("STATUS_INVALID_PARAMETER", Self::INVALID_PARAMETER),
        (
            "STATUS_INVALID_DEVICE_REQUEST",
            Self::INVALID_DEVICE_REQUEST,
        ),
        ("STATUS_BUFFER_TOO_SMALL", Self::BUFFER_TOO_SMALL),
        ("STATUS_ACCESS_DENIED", Self::ACCESS_DENIED),
        ("STATUS_SHARING_VIOLATION", Self::SHARING_VIOLATION),
        (
            "STATUS_INSUFFICIENT_RESOURCES",
            Self::INSUFFICIENT_RESOURCES,
        ),
        ("STATUS_IO_TIMEOUT", Self::IO_TIMEOUT),
        ("STATUS_CANCELLED", Self::CANCELLED),
        ("STATUS_INVALID_DEVICE_STATE", Self::INVALID_DEVICE_STATE),
        ("STATUS_INVALID_BUFFER_SIZE", Self::INVALID_BUFFER_SIZE),
        (
            "STATUS_CONNECTION_DISCONNECTED",
            Self::CONNECTION_DISCONNECTED,
        ),
        ("STATUS_CONNECTION_REFUSED", Self::CONNECTION_REFUSED),
        ("STATUS_CONNECTION_INVALID", Self::CONNECTION_INVALID),
        ("STATUS_CONNECTION_ACTIVE", Self::CONNECTION_ACTIVE),
        ("STATUS_NETWORK_UNREACHABLE", Self::NETWORK_UNREACHABLE),
        ("STATUS_HOST_UNREACHABLE", Self::HOST_UNREACHABLE),
        ("STATUS_CONNECTION_ABORTED", Self::CONNECTION_ABORTED),
        ("STATUS_DEVICE_REMOVED", Self::DEVICE_REMOVED),
    ];

    /// `NT_SUCCESS`: success or informational severity.
    pub const fn is_success(self) -> bool {
        self.0 >> 30 == 0
    }

    /// The value of a Windows `NTSTATUS` (the same 32 bits: the WDK's type
    /// is signed, this one unsigned).
    pub const fn from_raw(status: i32) -> NtStatus {
        NtStatus(u32::from_ne_bytes(status.to_ne_bytes()))
    }

    /// As the WDK's signed `NTSTATUS`.
    pub const fn to_raw(self) -> i32 {
        i32::from_ne_bytes(self.0.to_ne_bytes())
    }

    /// The Windows name, if it is one of ours.
    pub fn name(self) -> Option<&'static str> {
        Self::ALL.iter().find(|(_, s)| *s == self).map(|(n, _)| *n)
    }
}

impl core::fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "NTSTATUS({:#010x})", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ntstatus_round_trips_bit_for_bit() {
        assert_eq!(NtStatus::CANCELLED.to_raw(), 0xC000_0120_u32 as i32);
        assert!(NtStatus::CANCELLED.to_raw() < 0, "errors are negative");
        assert_eq!(NtStatus::from_raw(0x103), NtStatus::PENDING);
        for (_, s) in NtStatus::ALL {
            assert_eq!(NtStatus::from_raw(s.to_raw()), *s);
        }
    }
}
