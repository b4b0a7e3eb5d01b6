//! The errors of the CM-only interface. NDI maps each to one NTSTATUS in one
//! place (spec/NDI.md §1); the CM never names NTSTATUS values.

use crate::qp::BindError;

/// Why an API call failed. A failed call changes nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CmError {
    /// No such CID or QP for this owner (S8: another owner's handle is "not
    /// found" too) — STATUS_INVALID_HANDLE.
    NotFound,
    /// The call is not allowed in the CEP's state (spec/CM.md §4: no row).
    InvalidState,
    /// `config` was already called for this CID (spec/CM.md §10.1).
    AlreadyConfigured,
    /// Private data, ARI or compare data longer than the message allows.
    PrivateDataTooLong,
    /// A parameter is out of range (path, MTU, retries, compare offset).
    InvalidParameter,
    /// The QP or CEP is in timewait ("QP in timewait").
    InTimewait,
    /// Binding the QP failed (S2): destroying or already bound.
    Bind(BindError),
    /// No CID slot or memory left.
    NoResources,
    /// Another listener already covers this service ID (spec/CM.md §7).
    DuplicateListen,
    /// The operation is not supported on this port (LAP on RoCE).
    NotSupported,
    /// `format_event` was called outside the callback's thread (S1).
    NotCallbackThread,
    /// A MAD in the event could not be parsed (cannot happen for events the
    /// manager queued; reported instead of panicking).
    MalformedEvent,
}

impl From<BindError> for CmError {
    fn from(e: BindError) -> Self {
        CmError::Bind(e)
    }
}
