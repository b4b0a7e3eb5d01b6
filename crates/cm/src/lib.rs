//! The CEP manager and the InfiniBand CM protocol, sans-IO.
#![no_std]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable
    )
)]

extern crate alloc;

pub mod cid;
pub mod codec;
pub mod error;
pub mod event;
pub mod manager;
pub mod output;
pub mod params;
pub mod platform;
pub mod qp;
pub mod state;
pub mod stats;
pub mod table;
pub mod timeouts;

pub use cid::Cid;
pub use error::CmError;
pub use event::{CallbackScope, CepRef, Delivery, EventKind, EventRecord, Released};
pub use manager::{CepManager, CmEvent, ConnectionInfo, Owner};
pub use output::{Outgoing, Output, TimerOp};
pub use params::*;
pub use qp::{BindError, CidSlot, QpState, QpVerbs, SoftQp};
pub use state::State;
pub use stats::{RefPurpose, Stats};
pub mod sim;
