//! The NDI IOCTLs: ABI, dispatcher, pending-request queues.
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

pub mod abi;
pub mod error;
pub mod requests;

pub use abi::NtStatus;
pub use error::NdiError;
pub use requests::{PendInfo, PendKind, QueueOwner, Requests};
pub mod cm_port;
pub mod dispatch;
pub mod handle;
pub mod object;

pub use dispatch::{Caller, Dispatched, File, Ndi, NdiCounters, NdiStats};
pub mod cm_adapter;
pub mod compose;
pub mod find;
pub mod fuzz_harness;
pub mod mad_envelope;
pub mod testing;
pub mod timer_arming;
