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
//! Owns [`CmTimer`] and the `EvtTimerFunc`; when to start the timer is
//! ndcm-ndi's `TimerArming`. It must never allocate under its lock, never
//! call into the CM with its lock held (the lock is a leaf), and never start
//! the WDF timer once closed. Teardown order (KMDF's): the PnP device's
//! cleanup closes the timer, then deletes the control device; the framework
//! disposes the timer (`FxTimer::Dispose`: running down, `Stop(TRUE)` waits
//! for a callback in flight), runs the children's cleanup callbacks before
//! the parent's, and destroys the device state in the control device's
//! `EvtDestroyCallback`, after every child is gone.

use core::ptr;

use ndcm_cm::platform::{Instant, Platform, QueuedSpinLock};
use ndcm_ndi::timer_arming::TimerArming;
use wdk_sys::{
    NTSTATUS, WDF_TIMER_CONFIG, WDFDEVICE, WDFOBJECT, WDFTIMER, call_unsafe_wdf_function_binding,
};

use crate::context::{WDF_TIMER_CONFIG_SIZE, object_attributes};
use crate::device::device_state;
use crate::sync::{InStackQueuedSpinLock, KmdfPlatform};

/// The CM timer of one device.
pub struct CmTimer {
    timer: WDFTIMER,
    armed: InStackQueuedSpinLock<TimerArming>,
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
            armed: InStackQueuedSpinLock::new(TimerArming::new()),
        })
    }

    /// Makes the timer fire no later than `at` (`TimerArming::arm` decides).
    /// IRQL <= `DISPATCH_LEVEL`, no CM or NDI lock held.
    pub fn arm_at(&self, at: Instant) {
        let now = KmdfPlatform.now();
        self.armed.with(|armed| {
            if armed.arm(at) {
                self.start(now, at);
            }
        });
    }

    /// The timer fired: nothing is set any more.
    fn fired(&self) {
        self.armed.with(TimerArming::fired);
    }

    /// Closes the timer: it is never started again. Called before the
    /// control device (its parent) is deleted: KMDF stops a timer and waits
    /// for its callback (`FxTimer::Dispose`) before the timer's cleanup
    /// callback, and a start in between is a verifier break.
    pub fn close(&self) {
        self.armed.with(TimerArming::close);
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
