//! The transition table of spec/CM.md §4 and §9: one row per
//! (state × input → action, next state), both sides.
//!
//! This table is the protocol. The manager looks up the row for a CEP's state
//! and an input, performs the row's action and moves to the row's next state;
//! a pair with no row is an error for API calls and a drop for received
//! messages (§4). Tests iterate over `ROWS` to cover every transition.
//! The table never performs effects itself.

use crate::state::State;

/// What happens to a CEP: an API call, a received message, or a timer.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[repr(u8)]
pub enum Input {
    // API calls (spec/CM.md §10.1)
    /// `listen`
    Listen,
    /// `cancel_listen`
    CancelListen,
    /// `pre_req`
    PreReq,
    /// `send_req`
    SendReq,
    /// `pre_rep`
    PreRep,
    /// `send_rep`
    SendRep,
    /// `rtu`
    Rtu,
    /// `rej`
    Rej,
    /// `mra`
    Mra,
    /// `dreq`
    Dreq,
    /// `drep`
    Drep,
    /// `lap`
    Lap,
    /// `pre_apr`
    PreApr,
    /// `send_apr`
    SendApr,
    /// `established` (QP "communication established")
    Established,
    /// `sidr_req`
    SidrReq,
    /// `sidr_rep`
    SidrRep,
    /// `destroy`
    Destroy,
    /// `destroy` with the quiet flag
    QuietDestroy,
    // Received messages, after lookup (§2) and duplicate classification
    /// A REQ matching this listener
    RecvReq,
    /// A REQ whose (Local Comm ID, CA GUID) is this CEP's remote ID
    RecvReqDuplicate,
    /// MRA for a REQ (message 0)
    RecvMraForReq,
    /// MRA for a REP (message 1)
    RecvMraForRep,
    /// MRA for a LAP (message 2)
    RecvMraForLap,
    /// A REP for this CEP's comm ID
    RecvRep,
    /// A REP this CEP already accepted (same remote ID)
    RecvRepDuplicate,
    /// RTU
    RecvRtu,
    /// REJ
    RecvRej,
    /// DREQ with matching IDs and QPN
    RecvDreq,
    /// DREP
    RecvDrep,
    /// LAP
    RecvLap,
    /// APR
    RecvApr,
    /// A SIDR_REQ matching this listener
    RecvSidrReq,
    /// SIDR_REP
    RecvSidrRep,
    // Timers
    /// A retried send used all its retries
    RetriesExhausted,
    /// The timewait timer expired
    TimewaitExpired,
}

impl Input {
    /// Number of inputs.
    pub const COUNT: usize = Input::TimewaitExpired as usize + 1;

    /// True for API calls (a missing row is an error, not a drop).
    pub const fn is_api(self) -> bool {
        (self as u8) <= (Input::QuietDestroy as u8)
    }
}

/// The effect of a row. Each names what spec/CM.md says the row does.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Action {
    /// Enter the listen table.
    EnterListen,
    /// Leave the listen table; destroy untaken REQ connections (REJ 28).
    CancelListen,
    /// Validate paths and private data, bump the modifier, format the REQ.
    FormatReq,
    /// The call is refused ("QP in timewait"); nothing changes.
    RefuseInTimewait,
    /// Retried send of the formatted REQ.
    SendReq,
    /// Stretch the REQ/REP/LAP timer (§5.3) and deliver the first MRA.
    StretchAndDeliverMra,
    /// Stretch again; a later MRA is not delivered.
    Stretch,
    /// Take the REP (duplicate/stale checks, store the peer), deliver it.
    AcceptRep,
    /// Cancel the retried send (if any), cache the private data, deliver REJ.
    DeliverRej,
    /// REQ retries exhausted: send REJ 4 (ARI = CA GUID), deliver REQ_ERROR.
    ReqTimedOut,
    /// Send an MRA once (message REQ, REP or LAP by state).
    SendMra,
    /// Duplicate REQ/REP: send the deferred MRA if armed (§5.4), else drop.
    SendDeferredMra,
    /// Re-send the MRA already sent.
    ResendMra,
    /// Send the RTU once, compute timewait.
    SendRtu,
    /// Re-send the cached RTU.
    ResendRtu,
    /// Send a REJ (message by state), cancelling a retried send.
    SendRej,
    /// A REQ matched: create a connection, deliver REQ on the listener.
    CreateFromReq,
    /// Format the REP.
    FormatRep,
    /// Retried send of the formatted REP.
    SendRep,
    /// Cancel the REP send, compute timewait, deliver RTU.
    AcceptRtu,
    /// Cancel the REP send, deliver a synthetic RTU.
    SyntheticRtu,
    /// REP retries exhausted: send REJ 4, deliver REP_ERROR.
    RepTimedOut,
    /// Cancel a LAP send; retried send of DREQ.
    SendDreq,
    /// Cancel any send; save the DREQ's TID; deliver DREQ.
    DeliverDreq,
    /// Cancel the DREQ send; deliver DREP.
    DeliverDrep,
    /// DREQ retries exhausted: deliver DREQ_ERROR.
    DreqTimedOut,
    /// Send DREP once (TID of the DREQ).
    SendDrep,
    /// Re-send the cached DREP, or format one without private data.
    ResendDrep,
    /// Drop the message; nothing changes.
    Drop,
    /// Remove from the remote-ID table; deliver TIMEWAIT_EXIT.
    ExitTimewait,
    /// Timewait over for a DESTROYED CEP: free once unreferenced.
    FreeAfterTimewait,
    /// Validate the alternate path; retried send of LAP.
    SendLap,
    /// Cancel the LAP send; load the alternate path on success; deliver APR.
    DeliverApr,
    /// LAP retries exhausted: deliver LAP_ERROR.
    LapTimedOut,
    /// Validate and store the alternate path; deliver LAP (or, without
    /// alternate-path support, answer APR status 2 and stay).
    DeliverLap,
    /// Format the APR.
    FormatApr,
    /// Send the APR once.
    SendApr,
    /// Send SIDR_REQ with the caller's timeout and retries.
    SendSidrReq,
    /// Cancel; deliver SIDR_REP.
    DeliverSidrRep,
    /// SIDR retries exhausted: deliver SIDR_REQ_ERROR.
    SidrReqTimedOut,
    /// A SIDR_REQ matched: create a connection, deliver SIDR_REQ.
    CreateFromSidrReq,
    /// Send the SIDR_REP.
    SendSidrRep,
    // Destroy (§9)
    /// Nothing to send; free (or wait for references).
    DestroyQuietly,
    /// Leave the listen table; destroy untaken REQ connections.
    DestroyListener,
    /// Cancel the REQ send; REJ 4 with ARI = own CA GUID.
    DestroyWithRejTimeout,
    /// REJ 28 (consumer defined), cancelling a REP send.
    DestroyWithRejConsumer,
    /// Cancel a LAP send; send one DREQ without retransmission.
    DestroyWithDreq,
    /// Cancel the DREQ send.
    DestroyCancelDreq,
    /// Send DREP.
    DestroyWithDrep,
    /// Keep the timewait timer running.
    DestroyInTimewait,
    /// Cancel the SIDR_REQ send.
    DestroyCancelSidr,
    /// SIDR_REP status 2.
    DestroyWithSidrRepReject,
}

/// The state after a row.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Next {
    /// That state.
    To(State),
    /// Unchanged.
    Same,
    /// REJ reason 10 (stale): TIMEWAIT; any other reason: IDLE.
    TimewaitIfStaleElseIdle,
    /// The deferred MRA was armed and sent: that state; else unchanged.
    ToIfDeferredMra(State),
    /// The CEP is freed (or DESTROYED until its references go).
    Freed,
}

/// One transition.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Row {
    /// The state the row applies to.
    pub state: State,
    /// The input.
    pub input: Input,
    /// What the manager does.
    pub action: Action,
    /// Where the CEP goes.
    pub next: Next,
    /// The spec section the row comes from.
    pub spec: &'static str,
}

const fn r(state: State, input: Input, action: Action, next: Next, spec: &'static str) -> Row {
    Row {
        state,
        input,
        action,
        next,
        spec,
    }
}

use Action as A;
use Input as I;
use Next as N;
use State as S;

/// Every transition of spec/CM.md §4 and §9, expanded to one row per state.
pub const ROWS: &[Row] = &[
    // §7 listen
    r(S::Idle, I::Listen, A::EnterListen, N::To(S::Listen), "7"),
    r(
        S::Listen,
        I::CancelListen,
        A::CancelListen,
        N::To(S::Idle),
        "7",
    ),
    // §4.1 active side
    r(S::Idle, I::PreReq, A::FormatReq, N::To(S::PreReq), "4.1"),
    r(S::PreReq, I::PreReq, A::FormatReq, N::To(S::PreReq), "4.1"),
    r(S::Timewait, I::PreReq, A::RefuseInTimewait, N::Same, "4.1"),
    r(S::PreReq, I::SendReq, A::SendReq, N::To(S::ReqSent), "4.1"),
    r(
        S::ReqSent,
        I::RecvMraForReq,
        A::StretchAndDeliverMra,
        N::To(S::MraReqRcvd),
        "4.1",
    ),
    r(S::MraReqRcvd, I::RecvMraForReq, A::Stretch, N::Same, "5.3"),
    r(
        S::ReqSent,
        I::RecvRep,
        A::AcceptRep,
        N::To(S::RepRcvd),
        "4.1",
    ),
    r(
        S::MraReqRcvd,
        I::RecvRep,
        A::AcceptRep,
        N::To(S::RepRcvd),
        "4.1",
    ),
    r(
        S::ReqSent,
        I::RecvRej,
        A::DeliverRej,
        N::TimewaitIfStaleElseIdle,
        "4.1",
    ),
    r(
        S::MraReqRcvd,
        I::RecvRej,
        A::DeliverRej,
        N::TimewaitIfStaleElseIdle,
        "4.1",
    ),
    r(
        S::ReqSent,
        I::RetriesExhausted,
        A::ReqTimedOut,
        N::To(S::Idle),
        "4.1",
    ),
    r(
        S::MraReqRcvd,
        I::RetriesExhausted,
        A::ReqTimedOut,
        N::To(S::Idle),
        "4.1",
    ),
    r(S::RepRcvd, I::Mra, A::SendMra, N::To(S::MraRepSent), "4.1"),
    r(
        S::RepRcvd,
        I::RecvRepDuplicate,
        A::SendDeferredMra,
        N::ToIfDeferredMra(S::MraRepSent),
        "4.1",
    ),
    r(S::RepRcvd, I::Rtu, A::SendRtu, N::To(S::Established), "4.1"),
    r(
        S::MraRepSent,
        I::Rtu,
        A::SendRtu,
        N::To(S::Established),
        "4.1",
    ),
    r(S::RepRcvd, I::Rej, A::SendRej, N::To(S::Timewait), "4.1"),
    r(S::MraRepSent, I::Rej, A::SendRej, N::To(S::Timewait), "4.1"),
    r(
        S::RepRcvd,
        I::RecvRej,
        A::DeliverRej,
        N::To(S::Timewait),
        "4.1",
    ),
    r(
        S::MraRepSent,
        I::RecvRej,
        A::DeliverRej,
        N::To(S::Timewait),
        "4.1",
    ),
    r(
        S::MraRepSent,
        I::RecvRepDuplicate,
        A::ResendMra,
        N::Same,
        "4.1",
    ),
    r(
        S::Established,
        I::RecvRepDuplicate,
        A::ResendRtu,
        N::Same,
        "4.1",
    ),
    // §4.2 passive side
    r(S::Listen, I::RecvReq, A::CreateFromReq, N::Same, "4.2"),
    r(
        S::ReqRcvd,
        I::RecvReqDuplicate,
        A::SendDeferredMra,
        N::ToIfDeferredMra(S::MraReqSent),
        "4.2",
    ),
    r(
        S::PreRep,
        I::RecvReqDuplicate,
        A::SendDeferredMra,
        N::ToIfDeferredMra(S::PreRepMraSent),
        "4.2",
    ),
    r(S::ReqRcvd, I::Mra, A::SendMra, N::To(S::MraReqSent), "4.2"),
    r(
        S::PreRep,
        I::Mra,
        A::SendMra,
        N::To(S::PreRepMraSent),
        "10.1",
    ),
    r(
        S::MraReqSent,
        I::RecvReqDuplicate,
        A::ResendMra,
        N::Same,
        "4.2",
    ),
    r(
        S::PreRepMraSent,
        I::RecvReqDuplicate,
        A::ResendMra,
        N::Same,
        "4.2",
    ),
    r(S::ReqRcvd, I::PreRep, A::FormatRep, N::To(S::PreRep), "4.2"),
    r(
        S::MraReqSent,
        I::PreRep,
        A::FormatRep,
        N::To(S::PreRepMraSent),
        "4.2",
    ),
    r(S::PreRep, I::PreRep, A::FormatRep, N::To(S::PreRep), "4.2"),
    r(
        S::PreRepMraSent,
        I::PreRep,
        A::FormatRep,
        N::To(S::PreRepMraSent),
        "4.2",
    ),
    r(S::PreRep, I::SendRep, A::SendRep, N::To(S::RepSent), "4.2"),
    r(
        S::PreRepMraSent,
        I::SendRep,
        A::SendRep,
        N::To(S::RepSent),
        "4.2",
    ),
    r(S::ReqRcvd, I::Rej, A::SendRej, N::To(S::Idle), "4.2"),
    r(S::MraReqSent, I::Rej, A::SendRej, N::To(S::Idle), "4.2"),
    r(S::PreRep, I::Rej, A::SendRej, N::To(S::Idle), "10.1"),
    r(S::PreRepMraSent, I::Rej, A::SendRej, N::To(S::Idle), "10.1"),
    r(
        S::ReqRcvd,
        I::RecvRej,
        A::DeliverRej,
        N::TimewaitIfStaleElseIdle,
        "4.2",
    ),
    r(
        S::MraReqSent,
        I::RecvRej,
        A::DeliverRej,
        N::TimewaitIfStaleElseIdle,
        "4.2",
    ),
    r(
        S::PreRep,
        I::RecvRej,
        A::DeliverRej,
        N::TimewaitIfStaleElseIdle,
        "4.2",
    ),
    r(
        S::PreRepMraSent,
        I::RecvRej,
        A::DeliverRej,
        N::TimewaitIfStaleElseIdle,
        "4.2",
    ),
    r(
        S::RepSent,
        I::RecvMraForRep,
        A::StretchAndDeliverMra,
        N::To(S::MraRepRcvd),
        "4.2",
    ),
    r(S::MraRepRcvd, I::RecvMraForRep, A::Stretch, N::Same, "5.3"),
    r(
        S::RepSent,
        I::RecvRtu,
        A::AcceptRtu,
        N::To(S::Established),
        "4.2",
    ),
    r(
        S::MraRepRcvd,
        I::RecvRtu,
        A::AcceptRtu,
        N::To(S::Established),
        "4.2",
    ),
    r(
        S::RepSent,
        I::Established,
        A::SyntheticRtu,
        N::To(S::Established),
        "4.2",
    ),
    r(
        S::MraRepRcvd,
        I::Established,
        A::SyntheticRtu,
        N::To(S::Established),
        "4.2",
    ),
    r(
        S::RepSent,
        I::RecvDreq,
        A::DeliverDreq,
        N::To(S::DreqRcvd),
        "4.2",
    ),
    r(
        S::MraRepRcvd,
        I::RecvDreq,
        A::DeliverDreq,
        N::To(S::DreqRcvd),
        "4.2",
    ),
    r(
        S::RepSent,
        I::RecvRej,
        A::DeliverRej,
        N::TimewaitIfStaleElseIdle,
        "4.2",
    ),
    r(
        S::MraRepRcvd,
        I::RecvRej,
        A::DeliverRej,
        N::TimewaitIfStaleElseIdle,
        "4.2",
    ),
    r(S::RepSent, I::Rej, A::SendRej, N::To(S::Timewait), "4.2"),
    r(S::MraRepRcvd, I::Rej, A::SendRej, N::To(S::Timewait), "4.2"),
    r(
        S::RepSent,
        I::RetriesExhausted,
        A::RepTimedOut,
        N::To(S::Idle),
        "4.2",
    ),
    r(
        S::MraRepRcvd,
        I::RetriesExhausted,
        A::RepTimedOut,
        N::To(S::Idle),
        "4.2",
    ),
    // §4.3 teardown
    r(
        S::Established,
        I::Dreq,
        A::SendDreq,
        N::To(S::DreqSent),
        "4.3",
    ),
    r(S::LapSent, I::Dreq, A::SendDreq, N::To(S::DreqSent), "4.3"),
    r(
        S::MraLapRcvd,
        I::Dreq,
        A::SendDreq,
        N::To(S::DreqSent),
        "4.3",
    ),
    r(S::LapRcvd, I::Dreq, A::SendDreq, N::To(S::DreqSent), "4.3"),
    r(
        S::MraLapSent,
        I::Dreq,
        A::SendDreq,
        N::To(S::DreqSent),
        "4.3",
    ),
    r(S::PreApr, I::Dreq, A::SendDreq, N::To(S::DreqSent), "4.3"),
    r(
        S::Established,
        I::RecvDreq,
        A::DeliverDreq,
        N::To(S::DreqRcvd),
        "4.3",
    ),
    r(
        S::LapSent,
        I::RecvDreq,
        A::DeliverDreq,
        N::To(S::DreqRcvd),
        "4.3",
    ),
    r(
        S::MraLapRcvd,
        I::RecvDreq,
        A::DeliverDreq,
        N::To(S::DreqRcvd),
        "4.3",
    ),
    r(
        S::LapRcvd,
        I::RecvDreq,
        A::DeliverDreq,
        N::To(S::DreqRcvd),
        "4.3",
    ),
    r(
        S::MraLapSent,
        I::RecvDreq,
        A::DeliverDreq,
        N::To(S::DreqRcvd),
        "4.3",
    ),
    r(
        S::PreApr,
        I::RecvDreq,
        A::DeliverDreq,
        N::To(S::DreqRcvd),
        "4.3",
    ),
    r(
        S::DreqSent,
        I::RecvDreq,
        A::DeliverDreq,
        N::To(S::DreqRcvd),
        "4.3",
    ),
    r(
        S::DreqSent,
        I::RecvDrep,
        A::DeliverDrep,
        N::To(S::Timewait),
        "4.3",
    ),
    r(
        S::DreqSent,
        I::RetriesExhausted,
        A::DreqTimedOut,
        N::To(S::Timewait),
        "4.3",
    ),
    r(
        S::DreqSent,
        I::RecvRej,
        A::DeliverRej,
        N::To(S::Timewait),
        "4.3",
    ),
    r(S::DreqRcvd, I::Drep, A::SendDrep, N::To(S::Timewait), "4.3"),
    r(
        S::DreqRcvd,
        I::RecvDrep,
        A::DeliverDrep,
        N::To(S::Timewait),
        "4.3",
    ),
    r(S::DreqRcvd, I::RecvDreq, A::Drop, N::Same, "4.3"),
    r(
        S::Established,
        I::RecvRej,
        A::DeliverRej,
        N::To(S::Timewait),
        "4.3",
    ),
    r(
        S::LapSent,
        I::RecvRej,
        A::DeliverRej,
        N::To(S::Timewait),
        "4.3",
    ),
    r(
        S::MraLapRcvd,
        I::RecvRej,
        A::DeliverRej,
        N::To(S::Timewait),
        "4.3",
    ),
    r(
        S::LapRcvd,
        I::RecvRej,
        A::DeliverRej,
        N::To(S::Timewait),
        "4.3",
    ),
    r(
        S::MraLapSent,
        I::RecvRej,
        A::DeliverRej,
        N::To(S::Timewait),
        "4.3",
    ),
    r(
        S::PreApr,
        I::RecvRej,
        A::DeliverRej,
        N::To(S::Timewait),
        "4.3",
    ),
    r(S::Timewait, I::RecvDreq, A::ResendDrep, N::Same, "4.3"),
    r(S::Destroyed, I::RecvDreq, A::ResendDrep, N::Same, "4.3"),
    r(
        S::Timewait,
        I::TimewaitExpired,
        A::ExitTimewait,
        N::To(S::Idle),
        "4.3",
    ),
    r(
        S::Destroyed,
        I::TimewaitExpired,
        A::FreeAfterTimewait,
        N::Freed,
        "4.3",
    ),
    // §4.4 LAP / APR
    r(S::Established, I::Lap, A::SendLap, N::To(S::LapSent), "4.4"),
    r(
        S::LapSent,
        I::RecvMraForLap,
        A::StretchAndDeliverMra,
        N::To(S::MraLapRcvd),
        "4.4",
    ),
    r(S::MraLapRcvd, I::RecvMraForLap, A::Stretch, N::Same, "5.3"),
    r(
        S::LapSent,
        I::RecvApr,
        A::DeliverApr,
        N::To(S::Established),
        "4.4",
    ),
    r(
        S::MraLapRcvd,
        I::RecvApr,
        A::DeliverApr,
        N::To(S::Established),
        "4.4",
    ),
    r(
        S::LapSent,
        I::RetriesExhausted,
        A::LapTimedOut,
        N::To(S::Established),
        "4.4",
    ),
    r(
        S::MraLapRcvd,
        I::RetriesExhausted,
        A::LapTimedOut,
        N::To(S::Established),
        "4.4",
    ),
    r(
        S::Established,
        I::RecvLap,
        A::DeliverLap,
        N::To(S::LapRcvd),
        "4.4",
    ),
    r(S::LapRcvd, I::Mra, A::SendMra, N::To(S::MraLapSent), "4.4"),
    r(S::MraLapSent, I::RecvLap, A::ResendMra, N::Same, "4.4"),
    r(S::LapRcvd, I::PreApr, A::FormatApr, N::To(S::PreApr), "4.4"),
    r(
        S::MraLapSent,
        I::PreApr,
        A::FormatApr,
        N::To(S::PreApr),
        "4.4",
    ),
    r(
        S::PreApr,
        I::SendApr,
        A::SendApr,
        N::To(S::Established),
        "4.4",
    ),
    // §4.5 SIDR
    r(
        S::Idle,
        I::SidrReq,
        A::SendSidrReq,
        N::To(S::SidrReqSent),
        "4.5",
    ),
    r(
        S::SidrReqSent,
        I::RecvSidrRep,
        A::DeliverSidrRep,
        N::To(S::Idle),
        "4.5",
    ),
    r(
        S::SidrReqSent,
        I::RetriesExhausted,
        A::SidrReqTimedOut,
        N::To(S::Idle),
        "4.5",
    ),
    r(
        S::Listen,
        I::RecvSidrReq,
        A::CreateFromSidrReq,
        N::Same,
        "4.5",
    ),
    r(
        S::SidrReqRcvd,
        I::SidrRep,
        A::SendSidrRep,
        N::To(S::Idle),
        "4.5",
    ),
    // §9 destroy
    r(S::Idle, I::Destroy, A::DestroyQuietly, N::Freed, "9"),
    r(S::PreReq, I::Destroy, A::DestroyQuietly, N::Freed, "9"),
    r(S::Listen, I::Destroy, A::DestroyListener, N::Freed, "9"),
    r(
        S::ReqSent,
        I::Destroy,
        A::DestroyWithRejTimeout,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::MraReqRcvd,
        I::Destroy,
        A::DestroyWithRejTimeout,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::ReqRcvd,
        I::Destroy,
        A::DestroyWithRejConsumer,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::MraReqSent,
        I::Destroy,
        A::DestroyWithRejConsumer,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::PreRep,
        I::Destroy,
        A::DestroyWithRejConsumer,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::PreRepMraSent,
        I::Destroy,
        A::DestroyWithRejConsumer,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::RepSent,
        I::Destroy,
        A::DestroyWithRejConsumer,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::MraRepRcvd,
        I::Destroy,
        A::DestroyWithRejConsumer,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::RepRcvd,
        I::Destroy,
        A::DestroyWithRejConsumer,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::MraRepSent,
        I::Destroy,
        A::DestroyWithRejConsumer,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::Established,
        I::Destroy,
        A::DestroyWithDreq,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::LapSent,
        I::Destroy,
        A::DestroyWithDreq,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::MraLapRcvd,
        I::Destroy,
        A::DestroyWithDreq,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::LapRcvd,
        I::Destroy,
        A::DestroyWithDreq,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::MraLapSent,
        I::Destroy,
        A::DestroyWithDreq,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::PreApr,
        I::Destroy,
        A::DestroyWithDreq,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::DreqSent,
        I::Destroy,
        A::DestroyCancelDreq,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::DreqRcvd,
        I::Destroy,
        A::DestroyWithDrep,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::Timewait,
        I::Destroy,
        A::DestroyInTimewait,
        N::To(S::Destroyed),
        "9",
    ),
    r(
        S::SidrReqSent,
        I::Destroy,
        A::DestroyCancelSidr,
        N::Freed,
        "9",
    ),
    r(
        S::SidrReqRcvd,
        I::Destroy,
        A::DestroyWithSidrRepReject,
        N::Freed,
        "9",
    ),
    r(
        S::ReqRcvd,
        I::QuietDestroy,
        A::DestroyQuietly,
        N::Freed,
        "9",
    ),
    r(
        S::MraReqSent,
        I::QuietDestroy,
        A::DestroyQuietly,
        N::Freed,
        "9",
    ),
];

const NO_ROW: u8 = u8::MAX;

/// (state, input) → row index, built at compile time from `ROWS`.
const INDEX: [[u8; Input::COUNT]; State::ALL.len()] = build_index();

// Evaluated at compile time only: an index out of bounds or a duplicate row
// is a build error, never a runtime panic.
#[allow(clippy::indexing_slicing)]
const fn build_index() -> [[u8; Input::COUNT]; State::ALL.len()] {
    let mut index = [[NO_ROW; Input::COUNT]; State::ALL.len()];
    let mut i = 0;
    while i < ROWS.len() {
        let row = ROWS[i];
        let s = row.state as usize;
        let n = row.input as usize;
        // A duplicate (state, input) pair would make the table ambiguous.
        assert!(
            index[s][n] == NO_ROW,
            "duplicate row in the transition table"
        );
        assert!(i < NO_ROW as usize, "table too large for the u8 index");
        index[s][n] = i as u8;
        i += 1;
    }
    index
}

/// The row for `(state, input)`, if the spec has one.
pub fn lookup(state: State, input: Input) -> Option<&'static Row> {
    let i = *INDEX.get(state as usize)?.get(input as usize)?;
    if i == NO_ROW {
        None
    } else {
        ROWS.get(usize::from(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_reachable_through_lookup() {
        for row in ROWS {
            assert_eq!(lookup(row.state, row.input), Some(row));
        }
    }

    #[test]
    fn pairs_without_a_row_are_rejected() {
        assert_eq!(lookup(State::Idle, Input::Rtu), None);
        assert_eq!(lookup(State::Established, Input::PreReq), None);
        assert_eq!(lookup(State::Destroyed, Input::Destroy), None);
    }

    #[test]
    fn every_state_except_destroyed_can_be_destroyed() {
        for s in State::ALL {
            assert_eq!(
                lookup(s, Input::Destroy).is_some(),
                s != State::Destroyed,
                "{s:?}"
            );
        }
    }
}
