//! The rule book: the KMDF/WDM DDI compliance rules the harness checks at run
//! time (spec/KMDF.md §3, spec/NDI.md §6), and the record of violations.
//!
//! Every check in this crate reports here, by the rule's Microsoft name. A
//! `Verifier` in strict mode (the default) records the violation and then
//! panics with the rule's name, so a test fails exactly like a Driver
//! Verifier bugcheck would stop a machine. In recording mode (used by the
//! tests that commit a violation on purpose) it only records. This module
//! never decides what is a violation; the checkers do.

use std::fmt;
use std::sync::Mutex;

/// A DDI compliance rule, named as in "Rules for KMDF Drivers" / the WDM
/// DDI compliance rules.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Rule {
    /// A request completed twice.
    DoubleCompletion,
    /// An EvtIo* callback returned without completing, forwarding or marking
    /// cancelable the request it was given.
    RequestCompletedLocal,
    /// A request (or its buffers) used after it was completed, or while the
    /// framework owns it (in a queue).
    InvalidReqAccess,
    /// A cancelable request completed outside its cancel callback without
    /// being unmarked first.
    ReqNotCanceledLocal,
    /// A request completed elsewhere than its cancel callback after
    /// WdfRequestUnmarkCancelable returned STATUS_CANCELLED.
    CompleteCanceledReq,
    /// WdfRequestMarkCancelable called on a request already cancelable.
    MarkCancOnCancReqLocal,
    /// A cancelable request forwarded to a queue.
    ReqMarkCancelableSend,
    /// A request still owned by the driver at a cleanup point (file close,
    /// device teardown).
    RequestCompleted,
    /// An in-stack queued spin lock re-acquired by the thread holding it.
    QueuedSpinLock,
    /// A queued spin lock released out of order or not by its holder, or
    /// still held when a callback returns.
    QueuedSpinLockRelease,
    /// A spin lock released at an IRQL other than DISPATCH_LEVEL.
    IrqlKeReleaseSpinLock,
    /// A DDI called above its maximum IRQL (or a PASSIVE-only DDI above
    /// PASSIVE).
    KmdfIrql,
    /// A completion's information (byte count) larger than the output buffer.
    InformationOverrun,
    /// `WdfTimerStart` on a timer being deleted: `FxTimer::Start` breaks into
    /// the debugger ("will lead to a crash") once `FxTimer::Dispose` has
    /// marked it running down.
    TimerStartRunningDown,
}

impl Rule {
    /// The rule's name as Microsoft spells it.
    pub fn name(self) -> &'static str {
        match self {
            Rule::DoubleCompletion => "DoubleCompletion",
            Rule::RequestCompletedLocal => "RequestCompletedLocal",
            Rule::InvalidReqAccess => "InvalidReqAccess",
            Rule::ReqNotCanceledLocal => "ReqNotCanceledLocal",
            Rule::CompleteCanceledReq => "CompleteCanceledReq",
            Rule::MarkCancOnCancReqLocal => "MarkCancOnCancReqLocal",
            Rule::ReqMarkCancelableSend => "ReqMarkCancelableSend",
            Rule::RequestCompleted => "RequestCompleted",
            Rule::QueuedSpinLock => "QueuedSpinLock",
            Rule::QueuedSpinLockRelease => "QueuedSpinLockRelease",
            Rule::IrqlKeReleaseSpinLock => "IrqlKeReleaseSpinLock",
            Rule::KmdfIrql => "KmdfIrql",
            Rule::InformationOverrun => "InformationOverrun",
            Rule::TimerStartRunningDown => "TimerStartRunningDown",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One recorded violation.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Violation {
    /// The rule broken.
    pub rule: Rule,
    /// What happened, for the test log.
    pub detail: String,
}

/// What a verifier does on a violation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Record, then panic with the rule's name (the default).
    Strict,
    /// Record only; for tests that break a rule on purpose.
    Record,
}

/// The violation record shared by a platform, its locks and its framework.
#[derive(Debug)]
pub struct Verifier {
    mode: Mode,
    violations: Mutex<Vec<Violation>>,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier::new(Mode::Strict)
    }
}

impl Verifier {
    /// A verifier in `mode`.
    pub fn new(mode: Mode) -> Self {
        Verifier {
            mode,
            violations: Mutex::new(Vec::new()),
        }
    }

    /// Reports that `rule` was broken. Panics in strict mode.
    #[track_caller]
    pub fn report(&self, rule: Rule, detail: impl Into<String>) {
        let detail = detail.into();
        self.violations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Violation {
                rule,
                detail: detail.clone(),
            });
        if self.mode == Mode::Strict && !std::thread::panicking() {
            panic!("DDI rule violation {rule}: {detail}");
        }
    }

    /// Every violation so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.violations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The rules broken so far, in order.
    pub fn rules(&self) -> Vec<Rule> {
        self.violations().into_iter().map(|v| v.rule).collect()
    }

    /// Panics listing the violations if there is any.
    #[track_caller]
    pub fn assert_clean(&self) {
        let v = self.violations();
        assert!(v.is_empty(), "DDI rule violations: {v:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_mode_panics_with_the_rule_name() {
        let v = Verifier::default();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            v.report(Rule::DoubleCompletion, "twice")
        }));
        let msg = caught
            .err()
            .and_then(|e| e.downcast::<String>().ok())
            .map(|s| *s)
            .unwrap_or_default();
        assert!(msg.contains("DoubleCompletion"), "{msg}");
        assert_eq!(v.rules(), vec![Rule::DoubleCompletion]);
    }

    #[test]
    fn record_mode_only_records() {
        let v = Verifier::new(Mode::Record);
        v.assert_clean();
        v.report(Rule::KmdfIrql, "x");
        assert_eq!(v.rules(), vec![Rule::KmdfIrql]);
    }
}
