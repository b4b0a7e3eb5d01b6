//! CEP states (spec/CM.md §3), flattened so the transition table can name
//! each one: PRE_REP and the LAP sub-states of ESTABLISHED are states of
//! their own here, DESTROYED is the state of a CEP unbound from its owner.
//!
//! Owns only the names and the predicates over them; transitions are in
//! `table`.

/// A CEP's protocol state.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum State {
    /// Created, or back from timewait / a failed attempt.
    Idle,
    /// A listener.
    Listen,
    /// REQ formatted, not sent.
    PreReq,
    /// REQ sent, waiting for REP.
    ReqSent,
    /// REQ sent, MRA received.
    MraReqRcvd,
    /// REQ received (passive), consumer deciding.
    ReqRcvd,
    /// REQ received, MRA sent.
    MraReqSent,
    /// REP formatted over REQ_RCVD.
    PreRep,
    /// REP formatted over MRA_REQ_SENT.
    PreRepMraSent,
    /// REP sent, waiting for RTU.
    RepSent,
    /// REP sent, MRA received.
    MraRepRcvd,
    /// REP received (active), consumer deciding.
    RepRcvd,
    /// REP received, MRA sent.
    MraRepSent,
    /// Connected (LAP_IDLE).
    Established,
    /// Connected, LAP sent.
    LapSent,
    /// Connected, LAP sent, MRA received.
    MraLapRcvd,
    /// Connected, LAP received.
    LapRcvd,
    /// Connected, LAP received, MRA sent.
    MraLapSent,
    /// Connected, APR formatted.
    PreApr,
    /// DREQ sent.
    DreqSent,
    /// DREQ received.
    DreqRcvd,
    /// Holding the comm ID (and the peer's QPN is already released).
    Timewait,
    /// SIDR_REQ sent.
    SidrReqSent,
    /// SIDR_REQ received.
    SidrReqRcvd,
    /// Unbound from its owner; waiting for timewait and the last reference.
    Destroyed,
}

impl State {
    /// Every state, for table checks.
    pub const ALL: [State; 25] = [
        State::Idle,
        State::Listen,
        State::PreReq,
        State::ReqSent,
        State::MraReqRcvd,
        State::ReqRcvd,
        State::MraReqSent,
        State::PreRep,
        State::PreRepMraSent,
        State::RepSent,
        State::MraRepRcvd,
        State::RepRcvd,
        State::MraRepSent,
        State::Established,
        State::LapSent,
        State::MraLapRcvd,
        State::LapRcvd,
        State::MraLapSent,
        State::PreApr,
        State::DreqSent,
        State::DreqRcvd,
        State::Timewait,
        State::SidrReqSent,
        State::SidrReqRcvd,
        State::Destroyed,
    ];

    /// ESTABLISHED in any LAP sub-state.
    pub const fn is_established(self) -> bool {
        matches!(
            self,
            State::Established
                | State::LapSent
                | State::MraLapRcvd
                | State::LapRcvd
                | State::MraLapSent
                | State::PreApr
        )
    }

    /// States in which the peer's remote-QPN entry is held (§2: from REQ/REP
    /// received until the connection enters timewait).
    pub const fn holds_remote_qpn(self) -> bool {
        matches!(
            self,
            State::ReqRcvd
                | State::MraReqSent
                | State::PreRep
                | State::PreRepMraSent
                | State::RepSent
                | State::MraRepRcvd
                | State::RepRcvd
                | State::MraRepSent
                | State::DreqSent
                | State::DreqRcvd
        ) || self.is_established()
    }
}
