//! An ND-style user API over the ndcm IOCTL ABI, in the shape of the
//! NetworkDirect v2 SPI (`IND2Adapter`, `IND2Listener`, `IND2Connector`,
//! `IND2QueuePair`).
//!
//! This crate owns the user-mode side of the ABI: it builds every input with
//! the `ndcm_ndi::abi` structures, parses every output, and turns completion
//! statuses into [`NdError`]. It speaks to the driver only through a
//! [`Device`] (one open file): Windows `DeviceIoControl` on an overlapped
//! handle ([`windows`], Windows only) or the host device of `ndcm-host`
//! ([`host`], behind the `host` feature). It must never reach into the
//! driver's state, check what the driver checks (the driver trusts nothing
//! it receives), or keep a request's buffers after the request completed.
//!
//! Asynchronous operations (Connect, Accept, CompleteConnect, Disconnect,
//! NotifyDisconnect, GetConnectionRequest) return an [`Op`]: an
//! overlapped-style handle that can be polled, waited on, cancelled, or
//! awaited as a `Future` (no runtime needed).

pub mod adapter;
pub mod address;
pub mod connector;
pub mod device;
pub mod encode;
pub mod error;
pub mod listener;
pub mod mad_agent;
pub mod op;
pub mod qp;

#[cfg(feature = "host")]
pub mod host;
#[cfg(windows)]
pub mod windows;

pub use adapter::{Adapter, AdapterInfo};
pub use connector::{Connector, ReadLimits};
pub use device::{Completion, Device, Submitted};
pub use error::{NdError, NdResult};
pub use listener::Listener;
pub use ndcm_ndi::abi::NtStatus;
pub use op::Op;
pub use qp::{Qp, QpConfig, QpState};
