//! The schedule budget of the shuttle model checks: `NDCM_MODEL_SCHEDULES`
//! schedules per check (10,000 by default; more for a soak), half uniform
//! random, half PCT (probabilistic concurrency testing, which finds orders
//! that need one thread to run far ahead of another — a whole MAD delivery
//! before a user call — that uniform random scheduling almost never makes).

use std::sync::Arc;

/// PCT's bug depth.
pub const PCT_DEPTH: usize = 3;

/// Schedules explored per check.
pub fn schedules() -> usize {
    std::env::var("NDCM_MODEL_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
        .max(2)
}

/// Runs `f` under `schedules()` schedules: half uniform random, half PCT.
pub fn explore(f: impl Fn() + Send + Sync + 'static) {
    let f = Arc::new(f);
    let g = Arc::clone(&f);
    let n = schedules();
    shuttle::check_random(move || f(), n / 2);
    shuttle::check_pct(move || g(), n - n / 2, PCT_DEPTH);
}
