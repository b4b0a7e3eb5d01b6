//! End to end: reject, connect timeout, and every way an ND connection can
//! be cut short — cancel of each pending kind, QP destroy and process close
//! at each step, on either side — on two host devices with the real CEP
//! manager. After each: every request completed exactly once with the
//! status the spec gives, no KMDF rule broken, nothing left alive once
//! timewait is over.
//!
//! On the host's CM port (`ndcm_host::manager_port`); `e2e_driver_adapter`
//! runs the same scenarios on ndcm-ndi's adapter.

mod e2e_common;

#[path = "e2e_scenarios/teardown.rs"]
mod scenarios;
