//! End to end on a faulty fabric: several ND connections between two host
//! devices, each through connect / accept / complete-connect /
//! notify-disconnect / disconnect, while the fabric loses, duplicates and
//! reorders MADs as a seeded generator decides (the deterministic world the
//! simulator builds on). The CM's retries must carry every connection
//! through; every request completes exactly once; nothing leaks.
//!
//! On the host's CM port (`ndcm_host::manager_port`); `e2e_driver_adapter`
//! runs the same scenarios on ndcm-ndi's adapter.

mod e2e_common;

#[path = "e2e_scenarios/faults.rs"]
mod scenarios;
