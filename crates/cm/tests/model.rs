//! Model checks of the races of S1–S4 under shuttle: the manager runs on a
//! platform whose lock and thread identity come from shuttle, and shuttle
//! explores the interleavings of the threads in each test. Every test ends
//! by draining all outputs and asserting that nothing leaked.
//!
//! Schedules per test: half with `check_random`, half with `check_pct`
//! (depth 3); 10,000 in all unless `NDCM_MODEL_SCHEDULES` says otherwise
//! (a soak sets it higher).

use ndcm_cm::platform::{Duration, Instant, Platform, QueuedSpinLock, ThreadId};
use ndcm_cm::sim::{Pair, SERVICE, Side};
use ndcm_cm::{
    CepManager, Cid, CmError, EventKind, ListenParams, MadAddress, ManagerConfig, Output, Owner,
    RepParams, State, TimerOp,
};
use ndcm_wire::mad::MAD_SIZE;
use ndcm_wire::{CmMad, CmMessage, CommId, RtuRepr};
use shuttle::sync::Mutex;
use shuttle::thread;
use std::num::NonZeroU64;
use std::sync::Arc;

/// Schedules explored per check (random + PCT), at least 2.
fn schedules() -> usize {
    std::env::var("NDCM_MODEL_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
        .max(2)
}

/// A lock and thread identity from shuttle.
struct ModelLock<T>(Mutex<T>);

impl<T: Send> QueuedSpinLock<T> for ModelLock<T> {
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut g = self.0.lock().unwrap();
        f(&mut g)
    }
}

struct ModelPlatform;

impl Platform for ModelPlatform {
    type Lock<T: Send> = ModelLock<T>;
    fn new_lock<T: Send>(&self, value: T) -> ModelLock<T> {
        ModelLock(Mutex::new(value))
    }
    fn current_thread(&self) -> ThreadId {
        let id = usize::from(thread::current().id()) as u64 + 1;
        ThreadId(NonZeroU64::new(id).unwrap())
    }
    fn now(&self) -> Instant {
        Instant(0)
    }
}

type Mgr = CepManager<ModelPlatform>;
const OWNER: Owner = Owner(7);
const NOW: Instant = Instant(1_000_000_000);

fn from() -> MadAddress {
    MadAddress {
        gid: ndcm_wire::Gid::from_ipv4_octets([10, 0, 0, 1]),
        port: 1,
    }
}

/// REQ MADs made by a real active side (the deterministic harness).
fn reqs(qpns: &[u32]) -> Vec<[u8; MAD_SIZE]> {
    let mut p = Pair::new();
    qpns.iter()
        .map(|&q| {
            p.connect(q);
            p.queue.pop_back().unwrap().mad
        })
        .collect()
}

fn run_deliveries(m: &Mgr, out: &mut Output) -> Vec<(Cid, EventKind, Option<Cid>)> {
    let mut seen = Vec::new();
    while let Some(d) = out.deliveries.pop() {
        let mut more = Output::new();
        m.deliver(d, &mut more, |scope| {
            while let Ok(Some(rec)) = m.poll(scope) {
                let ev = m.format_event(scope, rec).unwrap();
                seen.push((scope.cid(), ev.kind, ev.new_cid));
            }
        });
        out.deliveries.append(&mut more.deliveries);
        out.timers.append(&mut more.timers);
    }
    seen
}

/// A manager with a listener that has received one REQ per MAD; returns the
/// new connections (configured) in REQ_RCVD.
fn passive(mads: &[[u8; MAD_SIZE]]) -> (Arc<Mgr>, Vec<Cid>) {
    let m = Arc::new(CepManager::new(
        ModelPlatform,
        ManagerConfig {
            ca_guid: 0xB,
            ..ManagerConfig::default()
        },
    ));
    let mut out = Output::new();
    let l = m.create(OWNER).unwrap();
    m.config(OWNER, l, 1, &mut out).unwrap();
    let lp = ListenParams {
        service_id: SERVICE,
        port: None,
        compare: None,
        backlog: 16,
        sidr: false,
    };
    m.listen(OWNER, l, &lp).unwrap();
    for mad in mads {
        m.receive(mad, from(), NOW, &mut out);
    }
    let seen = run_deliveries(&m, &mut out);
    let cids: Vec<Cid> = seen.iter().filter_map(|s| s.2).collect();
    for &c in &cids {
        m.config(OWNER, c, u64::from(c.0), &mut out).unwrap();
    }
    m.destroy(OWNER, l, false, NOW, &mut out).unwrap();
    (m, cids)
}

/// Runs every delivery and fires every timer far in the future until
/// nothing is left, then asserts that every object was released.
fn drain_and_check(m: &Mgr, mut out: Output) {
    let mut later = Instant(NOW.0 + Duration::from_millis(10_000_000).as_nanos());
    for _ in 0..100 {
        run_deliveries(m, &mut out);
        let armed: Vec<Cid> = out
            .timers
            .drain(..)
            .filter_map(|t| match t {
                TimerOp::Arm { cid, .. } => Some(cid),
                TimerOp::Cancel { .. } => None,
            })
            .collect();
        if armed.is_empty() && out.deliveries.is_empty() {
            break;
        }
        for c in armed {
            m.on_timer(c, later, &mut out);
        }
        later = later + Duration::from_millis(10_000_000);
    }
    let s = m.stats();
    assert!(s.is_quiescent(), "leaked: {s:?}");
}

fn check(f: impl Fn() + Send + Sync + 'static) {
    let f = Arc::new(f);
    let g = f.clone();
    let n = schedules();
    shuttle::check_random(move || f(), n / 2);
    shuttle::check_pct(move || g(), n - n / 2, 3);
}

#[test]
fn format_event_vs_cep_destroy() {
    let mads = reqs(&[0x100]);
    check(move || {
        let m = Arc::new(CepManager::new(
            ModelPlatform,
            ManagerConfig {
                ca_guid: 0xB,
                ..ManagerConfig::default()
            },
        ));
        let mut out = Output::new();
        let l = m.create(OWNER).unwrap();
        m.config(OWNER, l, 1, &mut out).unwrap();
        let lp = ListenParams {
            service_id: SERVICE,
            port: None,
            compare: None,
            backlog: 16,
            sidr: false,
        };
        m.listen(OWNER, l, &lp).unwrap();
        m.receive(&mads[0], from(), NOW, &mut out);
        let delivery = out.deliveries.pop().unwrap();
        let m1 = m.clone();
        let t1 = thread::spawn(move || {
            let mut more = Output::new();
            let mut formatted = 0;
            m1.deliver(delivery, &mut more, |scope| {
                while let Ok(Some(rec)) = m1.poll(scope) {
                    thread::yield_now();
                    // The callback's reference keeps the CEP (and its slot)
                    // alive even if it was destroyed meanwhile.
                    assert!(m1.raw_state(scope.cid()).is_some());
                    let ev = m1.format_event(scope, rec).unwrap();
                    assert_eq!(ev.kind, EventKind::ReqReceived);
                    formatted += 1;
                }
            });
            (more, formatted)
        });
        let m2 = m.clone();
        let t2 = thread::spawn(move || {
            let mut out = Output::new();
            m2.destroy(OWNER, l, false, NOW, &mut out).unwrap();
            out
        });
        let (more, formatted) = t1.join().unwrap();
        let o2 = t2.join().unwrap();
        assert!(formatted <= 1);
        // The destroy callback runs exactly once, after the callback's
        // reference is gone.
        let released: Vec<_> = more
            .released
            .iter()
            .chain(o2.released.iter())
            .filter(|r| r.cid == l)
            .collect();
        assert_eq!(released.len(), 1);
        let mut all = o2;
        all.timers.extend(more.timers);
        all.deliveries.extend(more.deliveries);
        drain_and_check(&m, all);
    });
}

/// S1 with real threads: a callback's scope used on another thread is
/// refused in every build (no assertion), counted, and the record it was
/// given goes back to the queue, where the callback polls it again.
#[test]
fn format_event_from_a_non_callback_thread_is_refused_and_the_event_stays_pollable() {
    let mads = reqs(&[0x100]);
    // One spawn and join: few interleavings to explore.
    shuttle::check_random(
        move || {
            let m = Arc::new(CepManager::new(ModelPlatform, ManagerConfig::default()));
            let mut out = Output::new();
            let l = m.create(OWNER).unwrap();
            m.config(OWNER, l, 1, &mut out).unwrap();
            let lp = ListenParams {
                service_id: SERVICE,
                port: None,
                compare: None,
                backlog: 16,
                sidr: false,
            };
            m.listen(OWNER, l, &lp).unwrap();
            m.receive(&mads[0], from(), NOW, &mut out);
            let delivery = out.deliveries.pop().unwrap();
            let mut more = Output::new();
            let formatted = m.deliver(delivery, &mut more, |scope| {
                let rec = m.poll(scope).unwrap().unwrap();
                let (polled, refused) = thread::scope(|s| {
                    s.spawn(|| (m.poll(scope), m.format_event(scope, rec)))
                        .join()
                        .unwrap()
                });
                assert_eq!(polled, Err(CmError::NotCallbackThread));
                assert_eq!(refused, Err(CmError::NotCallbackThread));
                // Back at the head of the queue, formatted here as if never
                // refused.
                let rec = m.poll(scope).unwrap().expect("the refused record");
                let ev = m.format_event(scope, rec).unwrap();
                assert!(m.poll(scope).unwrap().is_none());
                ev
            });
            assert_eq!(formatted.kind, EventKind::ReqReceived);
            assert!(matches!(
                formatted.mad.map(|m| m.message),
                Some(CmMessage::Req(_))
            ));
            let s = m.stats();
            assert_eq!(s.scope_violations, 2);
            assert_eq!(s.queued_events, 0);
            // Drained: no second callback.
            assert!(more.deliveries.is_empty());
            // The listener takes its untaken connection with it.
            m.destroy(OWNER, l, false, NOW, &mut out).unwrap();
            out.timers.append(&mut more.timers);
            drain_and_check(&m, out);
        },
        schedules(),
    );
}

/// B in REP_SENT for one REQ; returns (manager, B's CID, the peer's RTU).
fn rep_sent(
    mads: &[[u8; MAD_SIZE]],
    max_retries_zero: bool,
) -> (Arc<Mgr>, Cid, [u8; MAD_SIZE], Output) {
    let (m, cids) = passive(mads);
    let b = cids[0];
    let mut out = Output::new();
    m.pre_rep(OWNER, b, &RepParams::new(0x200), NOW).unwrap();
    m.send_rep(OWNER, b, NOW, &mut out).unwrap();
    let _ = max_retries_zero;
    let info = m.connection_info(OWNER, b).unwrap();
    let rtu = CmMad::new(
        1,
        CmMessage::Rtu(RtuRepr {
            local_comm_id: CommId(info.remote_comm_id),
            remote_comm_id: CommId(info.local_comm_id),
            private_data: Default::default(),
        }),
    )
    .to_bytes();
    out.sends.clear();
    (m, b, rtu, out)
}

#[test]
fn destroy_vs_incoming_mad_for_the_same_cep() {
    let mads = reqs(&[0x100]);
    check(move || {
        let (m, b, rtu, mut out) = rep_sent(&mads, false);
        let m1 = m.clone();
        let t1 = thread::spawn(move || {
            let mut out = Output::new();
            m1.receive(&rtu, from(), NOW, &mut out);
            out
        });
        let m2 = m.clone();
        let t2 = thread::spawn(move || {
            let mut out = Output::new();
            m2.destroy(OWNER, b, false, NOW, &mut out).unwrap();
            out
        });
        let o1 = t1.join().unwrap();
        let o2 = t2.join().unwrap();
        // Either the RTU came first (ESTABLISHED, destroy sends one DREQ) or
        // the destroy did (REJ 28, the RTU is dropped). Never both, never
        // neither.
        let kinds: Vec<_> = o2
            .sends
            .iter()
            .map(|s| CmMad::parse(&s.mad).unwrap().message.attribute_id().name())
            .collect();
        assert!(kinds == ["DREQ"] || kinds == ["REJ"], "{kinds:?}");
        assert!(o1.sends.is_empty());
        for o in [o1, o2] {
            out.timers.extend(o.timers);
            out.deliveries.extend(o.deliveries);
        }
        drain_and_check(&m, out);
    });
}

#[test]
fn timeout_firing_vs_rtu_arrival() {
    // A REQ whose MaxCMRetries is 0: the first expiry of the REP timer ends
    // the connection attempt.
    let mut p = Pair::new();
    let mut params = p.req_params(Side::A, SERVICE, 0x100);
    params.max_cm_retries = 0;
    p.connect_with(Side::A, &params);
    let mads = vec![p.queue.pop_back().unwrap().mad];
    check(move || {
        let (m, b, rtu, mut out) = rep_sent(&mads, true);
        let deadline = out
            .timers
            .iter()
            .rev()
            .find_map(|t| match t {
                TimerOp::Arm { cid, deadline, .. } if *cid == b => Some(*deadline),
                _ => None,
            })
            .unwrap();
        let m1 = m.clone();
        let t1 = thread::spawn(move || {
            let mut out = Output::new();
            m1.on_timer(b, deadline, &mut out);
            out
        });
        let m2 = m.clone();
        let t2 = thread::spawn(move || {
            let mut out = Output::new();
            m2.receive(&rtu, from(), deadline, &mut out);
            out
        });
        let o1 = t1.join().unwrap();
        let o2 = t2.join().unwrap();
        let state = m.state(OWNER, b).unwrap();
        let mut o = o1;
        o.sends.extend(o2.sends);
        o.deliveries.extend(o2.deliveries);
        o.timers.extend(o2.timers);
        let events = run_deliveries(&m, &mut o);
        let kinds: Vec<_> = events.iter().filter(|e| e.0 == b).map(|e| e.1).collect();
        match state {
            State::Established => {
                assert_eq!(kinds, [EventKind::RtuReceived]);
                assert!(o.sends.is_empty());
            }
            State::Idle => {
                assert_eq!(kinds, [EventKind::RepError]);
                assert_eq!(o.sends.len(), 1, "REJ 4");
            }
            s => panic!("unexpected state {s:?}"),
        }
        out.timers.extend(o.timers);
        m.destroy(OWNER, b, false, deadline, &mut out).unwrap();
        drain_and_check(&m, out);
    });
}
