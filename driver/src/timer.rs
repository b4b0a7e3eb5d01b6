//! The CM timers on one WDF timer per control device, firing into the
//! sans-IO core at `DISPATCH_LEVEL`.
//!
//! The CEP manager never arms anything itself: its output carries
//! `TimerOp::Arm { cid, deadline, id }` / `TimerOp::Cancel { cid, deadline,
//! id }`, and a timer that fires early, late or after a cancel is harmless
//! (ndcm-cm `output.rs`). ndcm-ndi's `ManagerPort` keeps those deadlines and
//! offers `next_timer()` and `fire_timers(now)`; the driver keeps one
//! `WDFTIMER` set for the earliest deadline. After every entry into the
//! dispatcher (an IOCTL, a cancellation, a file cleanup, a timer firing) the
//! device re-arms it for `next_timer()` (device.rs), and when it fires the
//! callback runs `fire_timers(now)` and re-arms.
//!
//! Owns [`CmTimer`], the `EvtTimerFunc` and the timer's cleanup callback.
//! It must never allocate under its lock, never call into the CM with its
//! lock held (the lock is a leaf), and never start the WDF timer after the
//! timer's cleanup callback has closed it (the framework then stops, waits
//! for and deletes the timer, before the device's state is destroyed).

use core::ptr;

use ndcm_cm::platform::{Instant, Platform, QueuedSpinLock};
use wdk_sys::{
    NTSTATUS, WDF_TIMER_CONFIG, WDFDEVICE, WDFOBJECT, WDFTIMER, call_unsafe_wdf_function_binding,
};

use crate::context::{WDF_TIMER_CONFIG_SIZE, object_attributes};
use crate::device::device_state;
use crate::sync::{InStackQueuedSpinLock, KmdfPlatform};

/// What the WDF timer is set for.
struct Armed {
    /// The deadline it will fire at, if set and not yet fired.
    at: Option<Instant>,
    /// Set by the timer's cleanup: never start it again.
    closed: bool,
}

/// The CM timer of one device.
pub struct CmTimer {
    timer: WDFTIMER,
    armed: InStackQueuedSpinLock<Armed>,
}

// SAFETY: a WDFTIMER handle may be used from any thread at IRQL <=
// DISPATCH_LEVEL (WdfTimerStart is thread-safe); the rest is behind the lock.
unsafe impl Send for CmTimer {}
// SAFETY: as above; `&CmTimer` only reaches the handle through thread-safe
// WDF calls made under the lock.
unsafe impl Sync for CmTimer {}

impl CmTimer {
    /// Creates the WDF timer, parented to the control device (it is deleted
    /// with it). `PASSIVE_LEVEL`, while the device is created.
    pub fn create(device: WDFDEVICE) -> Result<Self, NTSTATUS> {
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
            armed: InStackQueuedSpinLock::new(Armed {
                at: None,
                closed: false,
            }),
        })
    }

    /// Makes the timer fire no later than `at`. It is moved only earlier: a
    /// later deadline than the one set is covered by the re-arm after that
    /// one fires, and an early firing is harmless. IRQL <= `DISPATCH_LEVEL`,
    /// no CM or NDI lock held.
    pub fn arm_at(&self, at: Instant) {
        let now = KmdfPlatform.now();
        self.armed.with(|armed| {
            if armed.closed || armed.at.is_some_and(|set| set <= at) {
                return;
            }
            armed.at = Some(at);
            // Started under the lock so that two CPUs cannot leave the timer
            // set for the later of two deadlines.
            self.start(now, at);
        });
    }

    /// The timer fired: nothing is set any more.
    fn fired(&self) {
        self.armed.with(|armed| armed.at = None);
    }

    /// Closes the timer: it is never started again. Called from its cleanup
    /// callback, before the framework stops and deletes it.
    fn close(&self) {
        self.armed.with(|armed| {
            armed.closed = true;
            armed.at = None;
        });
    }

    /// Sets the WDF timer to fire at `at` (a relative due time in 100 ns
    /// units, at least one unit).
    fn start(&self, now: Instant, at: Instant) {
        let ticks = at
            .saturating_duration_since(now)
            .as_nanos()
            .div_ceil(100)
            .max(1);
        let due = 0_i64.saturating_sub(i64::try_from(ticks).unwrap_or(i64::MAX));
        // SAFETY: the timer is live until its cleanup callback closes it
        // (under the same lock the caller holds, so no start follows that);
        // WdfTimerStart is callable at DISPATCH_LEVEL.
        let _was_queued =
            unsafe { call_unsafe_wdf_function_binding!(WdfTimerStart, self.timer, due) };
    }
}

/// `EvtTimerFunc` of the CM timer: runs at `DISPATCH_LEVEL`.
extern "C" fn evt_cm_timer(timer: WDFTIMER) {
    // SAFETY: the framework passes the live timer it created; its parent is
    // the control device (set in `CmTimer::create`).
    let device: WDFOBJECT =
        unsafe { call_unsafe_wdf_function_binding!(WdfTimerGetParentObject, timer) };
    // SAFETY: the parent is the control device, created with DeviceContext;
    // it outlives its child timer, and its state is dropped only in its
    // destroy callback, after the timer (and this callback) are gone.
    let Some(state) = (unsafe { device_state(device) }) else {
        return;
    };
    state.timer().fired();
    state.on_cm_timer(KmdfPlatform.now());
}

/// `EvtCleanupCallback` of the CM timer (the control device is being
/// deleted; the timer is deleted before its parent): close it so no
/// `arm_at` starts it again.
extern "C" fn evt_cm_timer_cleanup(timer: WDFOBJECT) {
    // SAFETY: the framework passes the timer being cleaned up, still valid
    // during its cleanup callback; its parent is the control device.
    let device: WDFOBJECT =
        unsafe { call_unsafe_wdf_function_binding!(WdfTimerGetParentObject, timer.cast()) };
    // SAFETY: the parent outlives its child's cleanup; the state is dropped
    // only in the device's destroy callback, after every child is gone.
    if let Some(state) = unsafe { device_state(device) } {
        state.timer().close();
    }
}
