//! The CM timers on one one-shot WDF timer per control device, set for the
//! CM's earliest deadline (`ManagerPort::next_timer`, `TimerArming`), firing
//! into the core at `DISPATCH_LEVEL`. Rules: README-windows.md.

use core::ptr;

use ndcm_cm::platform::{Instant, Platform, QueuedSpinLock};
use ndcm_ndi::timer_arming::{TimerArming, relative_due_time};
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

// SAFETY: a WDFTIMER may be used from any thread; the rest is locked.
unsafe impl Send for CmTimer {}
// SAFETY: as above; `&CmTimer` only makes thread-safe WDF calls.
unsafe impl Sync for CmTimer {}

impl CmTimer {
    /// Creates the WDF timer, parented to (deleted with) the control device.
    pub fn create(device: WDFDEVICE) -> Result<Self, NTSTATUS> {
        // WDF_TIMER_CONFIG_INIT: one-shot (Period 0); no automatic
        // serialization (0): the core does its own locking.
        let mut config = WDF_TIMER_CONFIG {
            Size: WDF_TIMER_CONFIG_SIZE,
            EvtTimerFunc: Some(evt_cm_timer),
            ..WDF_TIMER_CONFIG::default()
        };
        let mut attributes = object_attributes();
        attributes.ParentObject = device.cast();
        let mut timer: WDFTIMER = ptr::null_mut();
        // SAFETY: the structures outlive the call; a live parent device.
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

    /// Makes the timer fire no later than `at`. No CM or NDI lock held.
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

    /// Closes the timer: never started again. Called before its parent is
    /// deleted: KMDF stops it (`FxTimer::Dispose`) before its cleanup
    /// callback runs, and a start in between is a verifier break.
    pub fn close(&self) {
        self.armed.with(TimerArming::close);
    }

    /// Sets the WDF timer to fire at `at`.
    fn start(&self, now: Instant, at: Instant) {
        let due = relative_due_time(now, at);
        // SAFETY: live until closed, under the caller's lock; <= DISPATCH.
        let _was_queued =
            unsafe { call_unsafe_wdf_function_binding!(WdfTimerStart, self.timer, due) };
    }
}

/// `EvtTimerFunc` of the CM timer: runs at `DISPATCH_LEVEL`.
extern "C" fn evt_cm_timer(timer: WDFTIMER) {
    // SAFETY: the live timer the framework created for us.
    let device: WDFOBJECT =
        unsafe { call_unsafe_wdf_function_binding!(WdfTimerGetParentObject, timer) };
    // SAFETY: the parent device's state outlives the timer's callbacks.
    let Some(state) = (unsafe { device_state(device) }) else {
        return;
    };
    state.timer.fired();
    // Run the CM timers due, then set the timer for the next deadline.
    state.ndi.cm().fire_timers(KmdfPlatform.now());
    state.rearm_cm_timer();
}
