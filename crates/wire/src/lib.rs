//! InfiniBand Communication Manager MADs and their RoCEv2 QP1 framing
//! (spec/WIRE.md).
//!
//! Every message has a zero-copy view (`XxxPacket`, length checked once in
//! `new_checked`) and plain data (`XxxRepr` with `parse` / `emit`), in the
//! manner of smoltcp. Decoders return `WireError`, never panic: the bytes
//! come from the wire and this code runs in a kernel driver.
#![no_std]
#![forbid(unsafe_code)]
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

#[cfg(feature = "std")]
extern crate std;

mod bits;
pub mod cm;
pub mod enums;
mod error;
pub mod eth;
pub mod fields;
pub mod ip;
pub mod mad;
#[cfg(feature = "std")]
pub mod pcap;
pub mod roce;
mod types;

pub use cm::{
    AprRepr, ClassPortInfoRepr, CmMad, CmMessage, DrepRepr, DreqRepr, LapRepr, MraRepr, PathRecord,
    RejRepr, RepRepr, ReqRepr, RtuRepr, SidrRepRepr, SidrReqRepr,
};
pub use enums::{
    AprStatus, ExtendedTransportType, FailoverAccepted, MraMessage, Mtu, Rate, RejMessage,
    RejReason, SidrStatus, TransportType,
};
pub use error::{Result, WireError};
pub use types::{CommId, Gid, PrivateData, Psn, Qpn, ServiceId};
