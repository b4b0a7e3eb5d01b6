//! The CM timers on one WDF timer per control device, firing into the
//! sans-IO core at DISPATCH_LEVEL.
//!
//! The CEP manager never arms anything itself: its output carries
//! `TimerOp::Arm { cid, deadline }` / `TimerOp::Cancel { cid }`, each CID has
//! at most one timer, and a timer that fires early, late or after a cancel is
//! harmless (ndcm-cm `output.rs`). So the driver keeps one deadline per CID
//! slot in a table allocated once, at device creation, sized for the
//! manager's CID limit, and one `WDFTIMER` set for the earliest deadline. When
//! it fires, expired CIDs are taken out of the table in small batches (on the
//! stack) and handed to the core with the lock released; then the timer is
//! set for the next deadline.
//!
//! Owns [`CmTimers`], the `EvtTimerFunc` and the timer's cleanup callback.
//! It must never allocate under its lock, never call into the CM with its
//! lock held (the table lock is a leaf: the CM's own lock is taken after it
//! is released), and never start the WDF timer after the timer's cleanup
//! callback has closed the table (the framework then stops, waits for and
//! deletes the timer, before the device's state is destroyed).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr;

use ndcm_cm::cid::Cid;
use ndcm_cm::output::TimerOp;
use ndcm_cm::platform::{Instant, Platform, QueuedSpinLock};
use wdk_sys::{
    NTSTATUS, WDF_TIMER_CONFIG, WDFDEVICE, WDFOBJECT, WDFTIMER, call_unsafe_wdf_function_binding,
};

use crate::context::{WDF_TIMER_CONFIG_SIZE, device_context, object_attributes};
use crate::sync::{InStackQueuedSpinLock, KmdfPlatform};

/// How many expired CIDs one pass takes out of the table before releasing
/// the lock to run them (a stack array, so no allocation under the lock).
const BATCH: usize = 32;

/// One deadline per CID slot index, and what the WDF timer is set for.
struct TimerTable {
    /// `deadlines[cid.index()]`; the CID is kept so a stale slot (reused by
    /// a new CID) is never reported for the old one.
    deadlines: Box<[Option<(Cid, Instant)>]>,
    /// The deadline the WDF timer is armed for, if any.
    armed: Option<Instant>,
    /// Set by `close`: nothing is armed any more.
    closed: bool,
}

impl TimerTable {
    fn earliest(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().map(|&(_, at)| at).min()
    }
}

/// The CM timers of one device.
pub(crate) struct CmTimers {
    timer: WDFTIMER,
    table: InStackQueuedSpinLock<TimerTable>,
}

// SAFETY: a WDFTIMER handle may be used from any thread at IRQL <=
// DISPATCH_LEVEL (WdfTimerStart/Stop are thread-safe); the table is behind
// the spin lock.
unsafe impl Send for CmTimers {}
// SAFETY: as above; `&CmTimers` only reaches the handle through thread-safe
// WDF calls and the table through the lock.
unsafe impl Sync for CmTimers {}

impl CmTimers {
    /// Creates the WDF timer, parented to the control device (it is deleted
    /// with it), and the deadline table for `max_cids` CID slot indexes.
    /// Called at PASSIVE_LEVEL while the device is created.
    pub(crate) fn create(device: WDFDEVICE, max_cids: u32) -> Result<Self, NTSTATUS> {
        let slots = usize::try_from(max_cids)
            .ok()
            .and_then(|n| n.checked_add(1))
            .ok_or(wdk_sys::STATUS_INVALID_PARAMETER)?;
        let mut deadlines = Vec::new();
        deadlines
            .try_reserve_exact(slots)
            .map_err(|_| wdk_sys::STATUS_INSUFFICIENT_RESOURCES)?;
        deadlines.resize(slots, None);

        // WDF_TIMER_CONFIG_INIT: one-shot (Period 0). No automatic
        // serialization: the core does its own locking.
        let mut config = WDF_TIMER_CONFIG {
            Size: WDF_TIMER_CONFIG_SIZE,
            EvtTimerFunc: Some(evt_cm_timer),
            Period: 0,
            AutomaticSerialization: 0,
            TolerableDelay: 0,
            ..WDF_TIMER_CONFIG::default()
        };
        let mut attributes = object_attributes();
        attributes.ParentObject = device.cast();
        attributes.EvtCleanupCallback = Some(evt_cm_timer_cleanup);
        let mut timer: WDFTIMER = ptr::null_mut();
        // SAFETY: `config` and `attributes` are initialised structures with
        // correct sizes that live across the call; the parent is the live
        // control device being created; `timer` receives the handle.
        let status = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfTimerCreate,
                &raw mut config,
                &raw mut attributes,
                &raw mut timer,
            )
        };
        if !wdk::nt_success(status) {
            return Err(status);
        }
        Ok(Self {
            timer,
            table: InStackQueuedSpinLock::new(TimerTable {
                deadlines: deadlines.into_boxed_slice(),
                armed: None,
                closed: false,
            }),
        })
    }

    /// Applies the timer operations of a CM output. IRQL <= DISPATCH_LEVEL;
    /// called with no CM or NDI lock held.
    pub(crate) fn apply(&self, ops: &[TimerOp]) {
        let now = KmdfPlatform.now();
        self.table.with(|table| {
            if table.closed {
                return;
            }
            let mut earliest_new: Option<Instant> = None;
            for op in ops {
                match *op {
                    TimerOp::Arm { cid, deadline } => {
                        if let Some(slot) = slot_of(&mut table.deadlines, cid) {
                            *slot = Some((cid, deadline));
                            earliest_new = Some(earliest_new.map_or(deadline, |e| e.min(deadline)));
                        }
                    }
                    TimerOp::Cancel { cid } => {
                        if let Some(slot) = slot_of(&mut table.deadlines, cid)
                            && matches!(*slot, Some((c, _)) if c == cid)
                        {
                            *slot = None;
                        }
                    }
                }
            }
            // Re-arm only to move the timer earlier: a cancelled deadline
            // left armed just fires early, which the core ignores.
            if let Some(at) = earliest_new
                && table.armed.is_none_or(|armed| at < armed)
            {
                table.armed = Some(at);
                self.start(now, at);
            }
        });
    }

    /// Closes the table: nothing is armed any more. Called from the WDF
    /// timer's cleanup callback, before the framework stops and deletes the
    /// timer, so no `start` can follow on a deleted handle.
    fn close(&self) {
        self.table.with(|table| {
            table.closed = true;
            table.armed = None;
        });
    }

    /// Sets the WDF timer to fire at `at` (relative due time, in 100 ns
    /// units, at least one unit). Called under the table lock so that two
    /// CPUs cannot leave it armed for the later of two deadlines.
    fn start(&self, now: Instant, at: Instant) {
        let ticks = at
            .saturating_duration_since(now)
            .as_nanos()
            .div_ceil(100)
            .max(1);
        let due = 0_i64.saturating_sub(i64::try_from(ticks).unwrap_or(i64::MAX));
        // SAFETY: the timer is live until its cleanup callback closes the
        // table (under this same lock, so no `start` follows it);
        // WdfTimerStart is callable at DISPATCH_LEVEL.
        let _was_queued =
            unsafe { call_unsafe_wdf_function_binding!(WdfTimerStart, self.timer, due) };
    }

    /// Takes up to [`BATCH`] CIDs whose deadline has passed out of the table.
    fn take_expired(&self, now: Instant, out: &mut [Option<Cid>; BATCH]) -> usize {
        self.table.with(|table| {
            let mut n = 0;
            for (slot, dst) in table
                .deadlines
                .iter_mut()
                .filter(|slot| matches!(slot, Some((_, at)) if *at <= now))
                .zip(out.iter_mut())
            {
                *dst = slot.take().map(|(cid, _)| cid);
                n = n.saturating_add(1);
            }
            n
        })
    }

    /// After the expired CIDs ran: arm for the earliest remaining deadline.
    fn rearm(&self) {
        let now = KmdfPlatform.now();
        self.table.with(|table| {
            table.armed = None;
            if table.closed {
                return;
            }
            if let Some(at) = table.earliest() {
                table.armed = Some(at);
                self.start(now, at);
            }
        });
    }
}

/// The table slot of a CID; `None` for an index beyond the table (the
/// manager is configured with the same limit, so that is never a live CID).
fn slot_of(
    deadlines: &mut [Option<(Cid, Instant)>],
    cid: Cid,
) -> Option<&mut Option<(Cid, Instant)>> {
    usize::try_from(cid.index())
        .ok()
        .and_then(|i| deadlines.get_mut(i))
}

/// `EvtTimerFunc` of the CM timer: runs at DISPATCH_LEVEL.
extern "C" fn evt_cm_timer(timer: WDFTIMER) {
    // SAFETY: the framework passes the live timer it created; its parent is
    // the control device (set in `CmTimers::create`).
    let device: WDFOBJECT =
        unsafe { call_unsafe_wdf_function_binding!(WdfTimerGetParentObject, timer) };
    // SAFETY: the parent is the control device, created with DeviceContext;
    // it outlives its child timer, and its state is dropped only in its
    // destroy callback, after the timer (and this callback) are gone.
    let context = unsafe { device_context(device) };
    // SAFETY: `context` points to the device's context; only shared access
    // is taken here, and the state is not replaced while the timer runs.
    let Some(state) = (unsafe { &*context }).state.as_deref() else {
        return;
    };
    let timers = state.timers();
    let now = KmdfPlatform.now();
    let mut batch = [None; BATCH];
    loop {
        let taken = timers.take_expired(now, &mut batch);
        for cid in batch.iter_mut().take(taken).filter_map(Option::take) {
            state.on_cm_timer(cid, now);
        }
        if taken < BATCH {
            break;
        }
    }
    timers.rearm();
}

/// EvtCleanupCallback of the CM timer (the control device is being
/// deleted; the timer is deleted before its parent): close the table so no
/// `apply` or `rearm` starts the timer again.
extern "C" fn evt_cm_timer_cleanup(timer: WDFOBJECT) {
    // SAFETY: the framework passes the timer being cleaned up, still valid
    // during its cleanup callback; its parent is the control device.
    let device: WDFOBJECT =
        unsafe { call_unsafe_wdf_function_binding!(WdfTimerGetParentObject, timer.cast()) };
    // SAFETY: the parent outlives its child's cleanup; the state is dropped
    // only in the device's destroy callback, after every child is gone.
    if let Some(state) = unsafe { crate::device::device_state(device) } {
        state.timers().close();
    }
}
