//! IRQL emulated per thread, and the driver-callback scopes.
//!
//! A thread starts at PASSIVE_LEVEL. Lock acquisition raises to DISPATCH and
//! release restores (lock.rs); the framework runs each driver callback at
//! the IRQL Windows would (dispatch routines at PASSIVE, cancel routines, CM
//! events and timer DPCs at DISPATCH) inside a `callback_scope`, which on
//! return checks that the callback released every lock it took and left the
//! IRQL where it found it. This module never blocks and never takes a lock.

use crate::sys::{Callback, Irql, Sys};
use crate::verifier::{Rule, Verifier};

/// The calling thread's emulated IRQL.
pub fn current_irql<S: Sys>() -> Irql {
    S::with_thread(|t| t.irql)
}

/// Checks that `ddi` is called at or below `max` (KmdfIrql).
#[track_caller]
pub fn require_irql<S: Sys>(verifier: &Verifier, ddi: &str, max: Irql) {
    let now = current_irql::<S>();
    if now > max {
        verifier.report(
            Rule::KmdfIrql,
            format!("{ddi} called at IRQL {} (maximum {})", now.0, max.0),
        );
    }
}

/// The innermost driver callback the calling thread is running.
pub fn current_callback<S: Sys>() -> Option<Callback> {
    S::with_thread(|t| t.callbacks.last().copied())
}

/// Whether the calling thread is inside the cancel callback of `request`.
pub fn in_cancel_callback_of<S: Sys>(request: u64) -> bool {
    S::with_thread(|t| t.callbacks.contains(&Callback::Cancel(request)))
}

/// Runs driver callback `f` as the framework would: at `irql`, recorded as
/// `callback`; on return, checks that no lock taken inside is still held
/// (QueuedSpinLock / QueuedSpinLockRelease: DV 0xC4/0x40006, 0x40007) and
/// restores the caller's IRQL.
pub fn callback_scope<S: Sys, R>(
    verifier: &Verifier,
    callback: Callback,
    irql: Irql,
    f: impl FnOnce() -> R,
) -> R {
    let (saved_irql, saved_held) = S::with_thread(|t| {
        let saved = (t.irql, t.held.len());
        t.irql = irql;
        t.callbacks.push(callback);
        saved
    });
    struct Exit<'a, S: Sys> {
        verifier: &'a Verifier,
        callback: Callback,
        irql: Irql,
        saved_irql: Irql,
        saved_held: usize,
        _sys: core::marker::PhantomData<S>,
    }
    impl<S: Sys> Drop for Exit<'_, S> {
        fn drop(&mut self) {
            let (held, irql) = S::with_thread(|t| {
                let _ = t.callbacks.pop();
                let held: Vec<u64> = t
                    .held
                    .get(self.saved_held..)
                    .unwrap_or_default()
                    .iter()
                    .map(|h| h.lock)
                    .collect();
                let irql = t.irql;
                t.irql = self.saved_irql;
                (held, irql)
            });
            if !held.is_empty() {
                self.verifier.report(
                    Rule::QueuedSpinLockRelease,
                    format!(
                        "{:?} returned holding queued spin lock(s) {held:?}",
                        self.callback
                    ),
                );
            } else if irql != self.irql {
                self.verifier.report(
                    Rule::IrqlKeReleaseSpinLock,
                    format!(
                        "{:?} returned at IRQL {} (entered at {})",
                        self.callback, irql.0, self.irql.0
                    ),
                );
            }
        }
    }
    let _exit = Exit::<S> {
        verifier,
        callback,
        irql,
        saved_irql,
        saved_held,
        _sys: core::marker::PhantomData,
    };
    f()
}
