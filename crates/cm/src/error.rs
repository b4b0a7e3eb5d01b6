//! The errors of the CM-only interface. NDI maps each to one NTSTATUS in one
//! place (spec/NDI.md §1); the CM never names NTSTATUS values.

/// Why an API call failed. A failed call changes nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CmError {
    /// No such CID for this owner (S8: another owner's handle is "not
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
    /// The CEP is in timewait ("QP in timewait").
    InTimewait,
    /// No CID slot or memory left.
    NoResources,
    /// Another listener already covers this service ID (spec/CM.md §7).
    DuplicateListen,
    /// The operation is not supported on this port (LAP on RoCE).
    NotSupported,
    /// A callback's scope was used (`poll`, `format_event`) on a thread
    /// other than the one the manager recorded when it called that callback
    /// (S1). Returned in every build; the call changes nothing but the
    /// `Stats::scope_violations` tally: `poll` leaves the event queued and
    /// `format_event` puts its record back at the head of the queue, so the
    /// event stays pollable and a later callback formats it.
    NotCallbackThread,
    /// A MAD in the event could not be parsed (cannot happen for events the
    /// manager queued; reported instead of panicking).
    MalformedEvent,
}
