//! WDF timers as KMDF runs them (fxtimer.cpp), for the teardown order a
//! driver must respect:
//!
//! - `WdfTimerStart` (`FxTimer::Start`) on a timer that is running down is
//!   a verifier break (`Rule::TimerStartRunningDown`);
//! - deleting the timer, or its parent (`FxObject::DisposeChildrenWorker`
//!   disposes children before the parent), runs `FxTimer::Dispose` first:
//!   the timer is marked running down, then `FlushAndRundown` → `Stop(TRUE)`
//!   cancels it and waits for a callback in flight; only after that does the
//!   timer's EvtCleanupCallback run.
//!
//! So a driver that closes its timer in the timer's own cleanup callback
//! leaves a window (dispose started, cleanup not yet run) in which another
//! CPU's `WdfTimerStart` hits a running-down timer; the driver closes it
//! before deleting the device instead (ndcm-ndi `TimerArming::close`).

use crate::irql::{callback_scope, require_irql};
use crate::sys::{Callback, Irql, RawMutex, Sys};
use crate::verifier::{Rule, Verifier};
use ndcm_cm::platform::Instant;
use std::sync::Arc;

/// EvtTimerFunc or EvtCleanupCallback.
pub type TimerCallback = Box<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct TimerState {
    /// When the KTIMER fires, if set.
    due: Option<Instant>,
    /// `FxTimer::m_RunningDown`: set by Dispose.
    running_down: bool,
    /// The callback is running (a DPC in flight).
    in_callback: bool,
}

/// One WDFTIMER (one-shot, no automatic serialization).
pub struct WdfTimer<S: Sys> {
    verifier: Arc<Verifier>,
    state: RawMutex<TimerState, S>,
    callback: TimerCallback,
    cleanup: Option<TimerCallback>,
}

impl<S: Sys> WdfTimer<S> {
    /// WdfTimerCreate with `callback` (EvtTimerFunc) and, optionally, an
    /// EvtCleanupCallback.
    pub fn new(
        verifier: Arc<Verifier>,
        callback: TimerCallback,
        cleanup: Option<TimerCallback>,
    ) -> Self {
        WdfTimer {
            verifier,
            state: RawMutex::new(TimerState::default()),
            callback,
            cleanup,
        }
    }

    /// WdfTimerStart (`FxTimer::Start`): sets the timer for `due`; true if
    /// it was already set. On a running-down timer: the verifier break.
    #[track_caller]
    pub fn start(&self, due: Instant) -> bool {
        require_irql::<S>(&self.verifier, "WdfTimerStart", Irql::DISPATCH);
        let outcome = self.state.with(|t| {
            if t.running_down {
                return Err(());
            }
            Ok(t.due.replace(due).is_some())
        });
        outcome.unwrap_or_else(|()| {
            self.verifier.report(
                Rule::TimerStartRunningDown,
                "WdfTimerStart on a timer whose dispose has begun (FxTimer::Start)",
            );
            false
        })
    }

    /// The KTIMER's DPC (`FxTimer::TimerHandler`): if the timer is due at
    /// `now`, runs EvtTimerFunc at DISPATCH_LEVEL. True if it ran.
    pub fn fire(&self, now: Instant) -> bool {
        let run = self.state.with(|t| {
            if t.due.is_some_and(|d| d <= now) {
                t.due = None;
                t.in_callback = true;
                true
            } else {
                false
            }
        });
        if run {
            callback_scope::<S, _>(
                &self.verifier,
                Callback::Other("EvtTimerFunc"),
                Irql::DISPATCH,
                || (self.callback)(),
            );
            self.state.with(|t| t.in_callback = false);
        }
        run
    }

    /// WdfObjectDelete of the timer or of its parent: `FxTimer::Dispose`
    /// (running down, `Stop(TRUE)`: cancel and wait for a callback in
    /// flight), then the EvtCleanupCallback. PASSIVE_LEVEL, as Dispose
    /// requires (`MarkPassiveDispose`).
    #[track_caller]
    pub fn delete(&self) {
        self.dispose();
        if let Some(cleanup) = &self.cleanup {
            callback_scope::<S, _>(
                &self.verifier,
                Callback::Other("EvtCleanupCallback(WDFTIMER)"),
                Irql::PASSIVE,
                cleanup,
            );
        }
    }

    /// `FxTimer::Dispose`: marks the timer running down, then
    /// `FlushAndRundown` → `Stop(TRUE)` cancels it and waits for a callback
    /// in flight. The dispose step of a [`super::WdfObject`] timer.
    #[track_caller]
    pub fn dispose(&self) {
        require_irql::<S>(&self.verifier, "FxTimer::Dispose", Irql::PASSIVE);
        self.state.with(|t| {
            t.running_down = true;
            t.due = None;
        });
        let mut round = 0;
        while self.state.with(|t| t.in_callback) {
            S::wait_backoff(round);
            round = round.saturating_add(1);
        }
    }

    /// Whether the timer is set.
    pub fn is_set(&self) -> bool {
        self.state.with(|t| t.due.is_some())
    }
}
