//! Benchmarks of issue 3:
//! * a full connection lifecycle (REQ, REP, RTU, DREQ, DREP, both sides,
//!   encode and decode included, then destroy and timewait expiry) through
//!   the two-node harness, with 1,000 and with 1,000,000 established
//!   connections in the tables;
//! * the wire-only cost of encoding and decoding those five MADs;
//! * memory per established CEP (slot size + heap).
//!
//! The ratios are printed from a direct timing loop in the same run; the
//! criterion groups give the per-lifecycle figures.

use criterion::{Criterion, criterion_group};
use ndcm_cm::platform::Duration;
use ndcm_cm::sim::{Pair, SERVICE, Side};
use ndcm_cm::{CepManager, Cid, Owner};
use ndcm_wire::CmMad;
use std::hint::black_box;
use std::time::Instant as WallClock;

/// A pair with a listener and `n` established connections.
fn loaded_pair(n: u32) -> (Pair, Cid) {
    let mut p = Pair::new();
    p.a.mgr.reserve(n as usize + 16);
    p.b.mgr.reserve(n as usize + 16);
    let l = p.listen(Side::B, SERVICE);
    for i in 0..n {
        let qpn = 0x10_0000 + i;
        p.establish(Some(l), qpn, qpn);
        p.a.events.clear();
        p.b.events.clear();
    }
    (p, l)
}

/// One full lifecycle; the connection's slots are free again afterwards.
fn lifecycle(p: &mut Pair, l: Cid) {
    let (a, b) = p.establish(Some(l), 0x100, 0x200);
    p.call(Side::A, |m, o, now, out| m.dreq(o, a, &[], now, out))
        .ok();
    p.drive();
    p.call(Side::B, |m, o, now, out| m.drep(o, b, &[], now, out))
        .ok();
    p.drive();
    p.call(Side::A, |m: &CepManager<_>, o: Owner, now, out| {
        m.destroy(o, a, false, now, out)
    })
    .ok();
    p.call(Side::B, |m: &CepManager<_>, o: Owner, now, out| {
        m.destroy(o, b, false, now, out)
    })
    .ok();
    p.now = p.now + Duration::from_millis(10_000);
    p.fire_due();
    p.a.events.clear();
    p.b.events.clear();
    p.a.released.clear();
    p.b.released.clear();
}

/// The five MADs of a lifecycle, as the wire carries them.
fn five_mads() -> Vec<CmMad> {
    let mut p = Pair::new();
    p.log = true;
    let l = p.listen(Side::B, SERVICE);
    lifecycle(&mut p, l);
    p.delivered.iter().filter_map(|m| m.parsed()).collect()
}

fn wire_only(mads: &[CmMad]) {
    for m in mads {
        let bytes = black_box(m).to_bytes();
        black_box(CmMad::parse(&bytes).ok());
    }
}

fn time_per_iter(iters: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iters / 10 {
        f();
    }
    let t = WallClock::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_nanos() as f64 / f64::from(iters)
}

fn report() {
    let mads = five_mads();
    assert_eq!(mads.len(), 5, "REQ, REP, RTU, DREQ, DREP");
    let wire = time_per_iter(200_000, || wire_only(&mads));
    let (mut small, ls) = loaded_pair(1_000);
    let t_small = time_per_iter(100_000, || lifecycle(&mut small, ls));
    eprintln!("wire-only encode+decode of the 5 MADs: {wire:.0} ns");
    eprintln!(
        "lifecycle, 1,000 established: {t_small:.0} ns/lifecycle, {:.0} lifecycles/s, {:.1}x wire-only",
        1e9 / t_small,
        t_small / wire
    );
    let (a, b) = small.establish(Some(ls), 0x300, 0x400);
    let ma = small.a.mgr.cep_memory(a).unwrap_or(0);
    let mb = small.b.mgr.cep_memory(b).unwrap_or(0);
    let slot = cid_slot_size();
    eprintln!(
        "memory per established CEP: active {ma} B, passive {mb} B (slot {slot} B + heap {} / {} B)",
        ma - slot,
        mb - slot
    );
    drop(small);
    if std::env::var_os("NDCM_BENCH_SKIP_1M").is_some() {
        return;
    }
    let t0 = WallClock::now();
    let (mut big, lb) = loaded_pair(1_000_000);
    eprintln!(
        "built 1,000,000 established connections in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let t_big = time_per_iter(100_000, || lifecycle(&mut big, lb));
    eprintln!(
        "lifecycle, 1,000,000 established: {t_big:.0} ns/lifecycle, {:.0} lifecycles/s, {:.2}x the 1,000 case, {:.1}x wire-only",
        1e9 / t_big,
        t_big / t_small,
        t_big / wire
    );
}

fn cid_slot_size() -> usize {
    let p = Pair::new();
    let c = p.a.mgr.create(Owner(1)).unwrap();
    p.a.mgr.cep_memory(c).unwrap_or(0)
}

fn benches(c: &mut Criterion) {
    let mads = five_mads();
    c.bench_function("wire_only_5_mads", |b| b.iter(|| wire_only(&mads)));
    let (mut p, l) = loaded_pair(1_000);
    c.bench_function("lifecycle_1k_established", |b| {
        b.iter(|| lifecycle(&mut p, l))
    });
}

criterion_group!(lifecycle_benches, benches);

fn main() {
    report();
    lifecycle_benches();
    Criterion::default().configure_from_args().final_summary();
}
