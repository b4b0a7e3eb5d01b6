//! The host platform for ndcm: everything the kernel provides, emulated with
//! its rules enforced, so every test is also a Driver Verifier run.
//!
//! - `platform`: `ndcm_cm::platform::Platform` — checked in-stack queued spin
//!   locks (`lock` over the MCS queue of `mcs`), emulated IRQL (`irql`),
//!   thread identity and a clock (`clock`); deadlines in `timers`. Generic
//!   over `sys::Sys`: std threads, or shuttle's for model checking.
//! - `framework`: a KMDF-like request/queue/file model that enforces the DDI
//!   rules of spec/KMDF.md §3 at run time, reporting to a
//!   `verifier::Verifier` by rule name; `ndi_requests` puts ndcm-ndi's
//!   `Requests` trait on it.
//! - `device`: a device like `\\.\ndcm` (open, overlapped IOCTL, cancel,
//!   close) over the ndi dispatcher and a CM port: `ndi_port` (the real CEP
//!   manager behind the driver's own CM adapter, ndcm-ndi's `cm_adapter`) or
//!   `scripted` (injected events, for dispatcher races).
//! - `fabric` + `world`: the deterministic in-memory MAD fabric with seeded
//!   faults and the single-threaded driver of a world of devices on one
//!   virtual clock; `client` builds IOCTL inputs for tests.
//! - `tunnel`: RoCEv2 frames over UDP (owned by the interop work).

pub mod client;
pub mod clock;
pub mod device;
pub mod fabric;
pub mod framework;
pub mod irql;
pub mod lock;
pub mod mcs;
pub mod ndi_port;
pub mod ndi_requests;
pub mod platform;
pub mod scripted;
pub mod sys;
pub mod timers;
pub mod tunnel;
pub mod verifier;
pub mod world;

pub use platform::HostPlatform;
pub use sys::{Irql, StdSys, Sys};
pub use verifier::{Mode, Rule, Verifier, Violation};
