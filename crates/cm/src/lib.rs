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
pub mod platform;
pub mod qp;
pub mod state;
pub mod stats;
pub mod table;
pub mod timeouts;
