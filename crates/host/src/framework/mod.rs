//! A KMDF-like I/O model — file objects, requests, manual queues, cancel —
//! that checks the KMDF request-processing rules (spec/KMDF.md §3,
//! spec/NDI.md §6) on every call, like the KMDF Verifier plus Driver
//! Verifier's DDI compliance checking.
//!
//! Requests are named by copyable `RequestId`s, as WDFREQUEST handles are,
//! so a driver can make every mistake a C driver can (complete twice, touch
//! after completion) and the model reports it by rule name. The framework's
//! own bookkeeping sits under one internal mutex that is never held while a
//! driver callback runs. The I/O-manager side (present a request, cancel it,
//! wait for it, close the file) is in `io.rs`; the driver-side DDIs are in
//! `ddi.rs`; manual queues and their dispatch loop (modelled on KMDF's
//! `FxIoQueue`: where and on which thread EvtIoCanceledOnQueue runs) in
//! `queue.rs`.

mod ddi;
mod io;
mod object;
mod queue;
mod state;
mod timer;

pub use io::Completion;
pub use object::{ObjectCallback, WdfObject};
pub use queue::CanceledOnQueue;
pub use state::RequestView;
pub use timer::{TimerCallback, WdfTimer};

use crate::sys::{RawMutex, StdSys, Sys};
use crate::verifier::Verifier;
use state::Inner;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// NTSTATUS values the framework itself produces.
pub mod status {
    /// STATUS_SUCCESS.
    pub const SUCCESS: u32 = 0;
    /// STATUS_CANCELLED.
    pub const CANCELLED: u32 = 0xC000_0120;
    /// STATUS_INVALID_DEVICE_STATE (queue purged or deleted).
    pub const INVALID_DEVICE_STATE: u32 = 0xC000_0184;
    /// STATUS_INVALID_DEVICE_REQUEST (a DDI used on a request in the wrong
    /// state).
    pub const INVALID_DEVICE_REQUEST: u32 = 0xC000_0010;
}

/// A request (WDFREQUEST).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub struct RequestId(pub u64);

/// A manual queue (WDFQUEUE).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub struct QueueId(pub u64);

/// A file object (WDFFILEOBJECT): one open handle.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub struct FileId(pub u64);

/// The framework: every request, queue and file of one device.
pub struct Framework<S: Sys = StdSys> {
    verifier: Arc<Verifier>,
    inner: RawMutex<Inner, S>,
    next_id: AtomicU64,
}

impl<S: Sys> Framework<S> {
    /// An empty framework reporting to `verifier`.
    pub fn new(verifier: Arc<Verifier>) -> Self {
        Framework {
            verifier,
            inner: RawMutex::new(Inner::default()),
            next_id: AtomicU64::new(1),
        }
    }

    /// The verifier violations are reported to.
    pub fn verifier(&self) -> &Arc<Verifier> {
        &self.verifier
    }

    fn fresh_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}
