//! The deterministic end-to-end scenarios (connect, teardown at every
//! step, faulty fabric) again, on ndcm-ndi's own CM adapter
//! (`ndcm_ndi::cm_adapter::ManagerPort`, the one the Windows driver uses)
//! instead of the host's: the driver's configuration under the same KMDF
//! rule checks and leak audit.

#[path = "e2e_common/driver_adapter.rs"]
mod e2e_common;

#[path = "e2e_scenarios/connect.rs"]
mod connect;

#[path = "e2e_scenarios/teardown.rs"]
mod teardown;

#[path = "e2e_scenarios/faults.rs"]
mod faults;
