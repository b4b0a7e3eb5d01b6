//! ND status values. ND's `ND_*` codes are numerically NTSTATUS values
//! (spec/NDI.md §1), so an error is the NTSTATUS the driver completed the
//! request with, passed through unchanged.

use ndcm_ndi::abi::NtStatus;

/// A failed ND operation: the completion status of its IOCTL.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NdError(pub NtStatus);

/// The result of an ND operation.
pub type NdResult<T> = Result<T, NdError>;

impl NdError {
    /// The device answered with fewer bytes than the ABI documents. A
    /// driver bug or an ABI mismatch; reported as STATUS_UNSUCCESSFUL so
    /// that the value stays an ND status.
    pub const MALFORMED_OUTPUT: NdError = NdError(NtStatus::UNSUCCESSFUL);

    /// The NTSTATUS / ND status value.
    pub const fn status(self) -> NtStatus {
        self.0
    }

    /// `Ok(())` for a success-class status, the error otherwise.
    ///
    /// STATUS_PENDING is never a completion status; a device that reports
    /// it as one is answered with [`NdError::MALFORMED_OUTPUT`].
    pub fn check(status: NtStatus) -> NdResult<()> {
        if status == NtStatus::PENDING {
            Err(NdError::MALFORMED_OUTPUT)
        } else if status.is_success() {
            Ok(())
        } else {
            Err(NdError(status))
        }
    }
}

impl From<NtStatus> for NdError {
    fn from(s: NtStatus) -> Self {
        NdError(s)
    }
}

impl core::fmt::Debug for NdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "NdError({:?})", self.0)
    }
}

impl core::fmt::Display for NdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0.name() {
            Some(n) => write!(f, "{n} ({:#010x})", self.0.0),
            None => write!(f, "NTSTATUS {:#010x}", self.0.0),
        }
    }
}

impl std::error::Error for NdError {}
