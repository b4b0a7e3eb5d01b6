//! Two host devices (server 10.0.0.2, client 10.0.0.1) on one fabric with
//! the real CEP manager, and the helpers the e2e tests share.
#![allow(dead_code)]

/// The CM port under test: the host's.
pub type Port = ndcm_host::manager_port::ManagerPort;

include!("body.rs");
