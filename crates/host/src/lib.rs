//! The host platform for ndcm: everything the kernel provides, emulated with
//! its rules enforced.
//!
//! - `platform`: `ndcm_cm::platform::Platform` — checked in-stack queued spin
//!   locks (an MCS queue, `mcs`), emulated IRQL (`irql`), thread identity and
//!   a clock (`clock`); deadlines in `timers`.
//! - `framework`: a KMDF-like request/queue model with file objects that
//!   enforces the DDI rules of spec/KMDF.md §3 at run time, reporting to a
//!   `verifier::Verifier` by rule name.

pub mod client;
pub mod clock;
pub mod device;
pub mod fabric;
pub mod framework;
pub mod irql;
pub mod lock;
pub mod manager_port;
pub mod mcs;
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
