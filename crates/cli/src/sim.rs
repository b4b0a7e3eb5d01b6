//! `ndcm sim`: many connection lifecycles between host devices on the
//! in-memory fabric, every one through the provider API — the IOCTL ABI,
//! the dispatcher, the CM and the fabric — with faults, on one thread and
//! one virtual clock, so that a seed names a run exactly.
//!
//! - [`config`]: what a run is asked to do.
//! - [`engine`]: the driving loop and the actors (clients and servers).
//! - [`counters`]: what the fabric carried (MAD kinds, retransmissions).
//! - [`report`]: the outcome, its invariants, the table and the JSON.
//! - [`capture`]: the run's MADs as RoCEv2 frames in a pcap file.
//!
//! The simulator owns no protocol logic: it is an ND application (several
//! of them) and an auditor. It must never reach around the provider API
//! into the driver's state, except to audit it after the run.

pub mod capture;
pub mod config;
pub mod counters;
pub mod engine;
pub mod report;

pub use config::SimConfig;
pub use engine::{Sim, SimCm, run};
pub use report::SimReport;
