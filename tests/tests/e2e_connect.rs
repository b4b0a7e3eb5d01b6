//! End to end on two host devices joined by the in-memory fabric, with the
//! real CEP manager: every ND connection-management step through the IOCTL
//! ABI. Each test ends with the harness audit: every request completed
//! exactly once, no KMDF rule broken (strict verifier), nothing left alive
//! (requests, queues, files, ports, CEPs) once timewait is over.
//!
//! On the host's CM port (`ndcm_host::manager_port`); `e2e_driver_adapter`
//! runs the same scenarios on ndcm-ndi's adapter.

mod e2e_common;

#[path = "e2e_scenarios/connect.rs"]
mod scenarios;
