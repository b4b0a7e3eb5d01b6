//! `e2e_common` on ndcm-ndi's CM adapter (the driver's configuration),
//! for `e2e_driver_adapter`.
#![allow(dead_code)]

/// The CM port under test: ndcm-ndi's `cm_adapter::ManagerPort`.
pub type Port = ndcm_host::ndi_port::NdiPort;

include!("body.rs");
