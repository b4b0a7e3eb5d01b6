//! Model check (shuttle) of the CM timer's teardown against KMDF's timer
//! model (ndcm-host `WdfTimer`, after fxtimer.cpp): while the PnP device's
//! cleanup deletes the control device (which disposes its timer: running
//! down, stop and wait, then cleanup callbacks), another CPU finishes an
//! IOCTL and re-arms the CM timer. The driver's order — close the arming
//! (ndcm-ndi `TimerArming::close`) before the delete — never starts a
//! running-down timer; closing it in the timer's own EvtCleanupCallback, as
//! the driver once did, does in some schedules, and the model reports it.

mod model_common;
use model_common::explore;
use ndcm_cm::platform::Instant;
use ndcm_host::framework::WdfTimer;
use ndcm_host::sys::{RawMutex, ShuttleSys};
use ndcm_host::verifier::Rule;
use ndcm_host::{Mode, Verifier};
use ndcm_ndi::timer_arming::TimerArming;
use shuttle::thread;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The driver's CmTimer on the host: the arming decision under its leaf
/// lock, the WDF timer started under it.
struct CmTimer {
    arming: RawMutex<TimerArming, ShuttleSys>,
    timer: WdfTimer<ShuttleSys>,
}

impl CmTimer {
    fn arm_at(&self, at: Instant) {
        self.arming.with(|a| {
            if a.arm(at) {
                let _ = self.timer.start(at);
            }
        });
    }
}

/// Builds the timer; `close_in_cleanup` puts the close in the timer's own
/// cleanup callback (the old order).
fn cm_timer(verifier: &Arc<Verifier>, close_in_cleanup: bool) -> Arc<CmTimer> {
    Arc::new_cyclic(|weak: &std::sync::Weak<CmTimer>| {
        let cleanup: Option<Box<dyn Fn() + Send + Sync>> = if close_in_cleanup {
            let weak = weak.clone();
            Some(Box::new(move || {
                if let Some(t) = weak.upgrade() {
                    t.arming.with(TimerArming::close);
                }
            }))
        } else {
            None
        };
        CmTimer {
            arming: RawMutex::new(TimerArming::new()),
            timer: WdfTimer::new(Arc::clone(verifier), Box::new(|| {}), cleanup),
        }
    })
}

/// One teardown racing one re-arm; the rules the verifier saw.
fn teardown_racing_a_rearm(close_in_cleanup: bool) -> Vec<Rule> {
    let verifier = Arc::new(Verifier::new(Mode::Record));
    let t = cm_timer(&verifier, close_in_cleanup);
    t.arm_at(Instant(100));
    assert!(t.timer.fire(Instant(100)), "armed and due");
    t.arming.with(TimerArming::fired);
    let ioctl = {
        let t = Arc::clone(&t);
        thread::spawn(move || t.arm_at(Instant(200)))
    };
    if !close_in_cleanup {
        t.arming.with(TimerArming::close);
    }
    t.timer.delete();
    ioctl.join().expect("ioctl thread");
    assert!(!t.timer.is_set(), "a deleted timer is never left set");
    verifier.rules()
}

#[test]
fn closing_the_cm_timer_before_deleting_its_device_never_starts_a_running_down_timer() {
    explore(|| {
        assert_eq!(teardown_racing_a_rearm(false), Vec::<Rule>::new());
    });
}

#[test]
fn closing_it_in_the_timers_own_cleanup_starts_a_running_down_timer_in_some_schedule() {
    static CAUGHT: AtomicUsize = AtomicUsize::new(0);
    explore(|| {
        let rules = teardown_racing_a_rearm(true);
        assert!(rules.iter().all(|r| *r == Rule::TimerStartRunningDown));
        if !rules.is_empty() {
            let _ = CAUGHT.fetch_add(1, Ordering::Relaxed);
        }
    });
    assert!(
        CAUGHT.load(Ordering::Relaxed) > 0,
        "the model never saw the old order start a running-down timer"
    );
}

/// The driver's control device on the host: its state (dropped in the
/// device's EvtDestroyCallback), its CM timer as a child object, and the
/// deletion the PnP device's cleanup performs. A timer callback in flight while the device is deleted still
/// finds the state: the timer is disposed (stop and wait) before the
/// device's own cleanup and long before its destroy.
#[test]
fn the_device_state_outlives_every_callback_of_its_children() {
    use ndcm_host::framework::WdfObject;
    use std::sync::Mutex;
    explore(|| {
        let verifier = Arc::new(Verifier::new(Mode::Strict));
        let state: Arc<Mutex<Option<&'static str>>> = Arc::new(Mutex::new(Some("device state")));
        let fired_with_state = Arc::new(AtomicUsize::new(0));
        let timer = {
            let (state, fired) = (Arc::clone(&state), Arc::clone(&fired_with_state));
            Arc::new(WdfTimer::<ShuttleSys>::new(
                Arc::clone(&verifier),
                Box::new(move || {
                    assert!(
                        state.lock().unwrap().is_some(),
                        "timer callback after destroy"
                    );
                    let _ = fired.fetch_add(1, Ordering::Relaxed);
                }),
                None,
            ))
        };
        let device = {
            let state = Arc::clone(&state);
            WdfObject::<ShuttleSys>::new(
                None,
                None,
                Some(Box::new(move || *state.lock().unwrap() = None)),
            )
        };
        let child = {
            let timer = Arc::clone(&timer);
            WdfObject::<ShuttleSys>::new(Some(Box::new(move || timer.dispose())), None, None)
        };
        device.add_child(child);
        assert!(!timer.start(Instant(10)));
        let dpc = {
            let timer = Arc::clone(&timer);
            thread::spawn(move || timer.fire(Instant(10)))
        };
        device.delete();
        let fired = dpc.join().expect("dpc");
        assert_eq!(fired, fired_with_state.load(Ordering::Relaxed) == 1);
        assert!(state.lock().unwrap().is_none(), "destroyed at the end");
    });
}

/// KMDF's order on WdfObjectDelete of a parent with a child: the child's
/// dispose and cleanup, the parent's dispose and cleanup, then the child's
/// destroy and the parent's (`FxObject::DisposeChildrenWorker`,
/// `DestroyChildren`).
#[test]
fn deleting_a_device_cleans_up_children_first_and_destroys_them_after_its_cleanup() {
    use ndcm_host::framework::{ObjectCallback, WdfObject};
    use ndcm_host::sys::StdSys;
    use std::sync::Mutex;
    let log = Arc::new(Mutex::new(Vec::new()));
    let note = |what: &'static str| -> Option<ObjectCallback> {
        let log = Arc::clone(&log);
        Some(Box::new(move || log.lock().unwrap().push(what)))
    };
    let device = WdfObject::<StdSys>::new(None, note("device cleanup"), note("device destroy"));
    device.add_child(WdfObject::new(
        note("timer dispose"),
        note("timer cleanup"),
        note("timer destroy"),
    ));
    device.add_child(WdfObject::new(
        None,
        note("queue cleanup"),
        note("queue destroy"),
    ));
    device.delete();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "timer dispose",
            "timer cleanup",
            "queue cleanup",
            "device cleanup",
            "timer destroy",
            "queue destroy",
            "device destroy"
        ]
    );
}
