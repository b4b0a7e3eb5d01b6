//! The host backend: an open file of an `ndcm_host::device::Device` (the
//! KMDF-rule-enforcing driver model: framework, dispatcher, CM).
//!
//! Requests go through exactly the path the Windows backend takes to the
//! real driver: the framework presents them to the dispatcher, which
//! completes them or pends them on its queues. This module owns only the
//! handle and the mapping of completions; it never completes or inspects a
//! request itself.
//!
//! The host world is usually driven by the caller's own thread (the
//! deterministic simulator), so a blocking [`Device::wait`] would never see
//! its request complete. Give the device a pump ([`HostDevice::with_pump`])
//! that moves the world one step; `wait` calls it until the request is done.

use crate::device::{Completion, Device, Submitted};
use ndcm_host::device::{Device as HostDriver, Handle, HostCm, Io, Pending};
use ndcm_host::sys::{StdSys, Sys};
use ndcm_ndi::abi::NtStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;

/// Moves the host world one step; false when nothing is scheduled.
pub type Pump = Arc<dyn Fn() -> bool + Send + Sync>;

/// One open instance of a host device.
pub struct HostDevice<C: HostCm, S: Sys = StdSys> {
    driver: Arc<HostDriver<C, S>>,
    handle: Handle,
    closed: AtomicBool,
    pump: Option<Pump>,
}

impl<C: HostCm, S: Sys> HostDevice<C, S> {
    /// Opens `driver` (CreateFile).
    pub fn open(driver: &Arc<HostDriver<C, S>>) -> Self {
        Self::open_as(driver, ndcm_ndi::Caller::SYSTEM)
    }

    /// Opens `driver` as `caller` (an ordinary user, an administrator).
    pub fn open_as(driver: &Arc<HostDriver<C, S>>, caller: ndcm_ndi::Caller) -> Self {
        HostDevice {
            driver: driver.clone(),
            handle: driver.open_as(caller),
            closed: AtomicBool::new(false),
            pump: None,
        }
    }

    /// Lets `wait` drive the world with `pump` while it waits.
    pub fn with_pump(mut self, pump: Pump) -> Self {
        self.pump = Some(pump);
        self
    }

    /// The device this file is open on.
    pub fn driver(&self) -> &Arc<HostDriver<C, S>> {
        &self.driver
    }

    /// The file handle.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

fn completion(c: ndcm_host::framework::Completion) -> Completion {
    Completion {
        status: NtStatus(c.status),
        output: c.output,
    }
}

impl<C: HostCm, S: Sys> Device for HostDevice<C, S> {
    type Token = Pending;

    fn ioctl(&self, code: u32, input: &[u8], output_len: usize) -> Submitted<Pending> {
        if self.is_closed() {
            // What a closed HANDLE gives on Windows.
            return Submitted::Complete(Completion::status(NtStatus::INVALID_HANDLE));
        }
        match self.driver.ioctl(self.handle, code, input, output_len) {
            Io::Complete(c) => Submitted::Complete(completion(c)),
            Io::Pending(p) => Submitted::Pending(p),
        }
    }

    fn poll(&self, token: &mut Pending, waker: Option<&Waker>) -> Option<Completion> {
        let c = self.driver.poll(*token).map(completion);
        if c.is_none()
            && let Some(w) = waker
        {
            // The host framework has no completion callback: whoever drives
            // the world polls again.
            w.wake_by_ref();
        }
        c
    }

    fn wait(&self, token: Pending) -> Completion {
        loop {
            if let Some(c) = self.driver.poll(token) {
                return completion(c);
            }
            let stepped = self.pump.as_ref().is_some_and(|p| p());
            if !stepped {
                // Another thread drives the world (or nothing will ever
                // complete it, as a hung request would on Windows).
                if let Some(c) = self
                    .driver
                    .wait(token, std::time::Duration::from_millis(10))
                {
                    return completion(c);
                }
            }
        }
    }

    fn cancel(&self, token: &Pending) {
        let _ = self.driver.cancel(*token);
    }

    fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.driver.close(self.handle);
        }
    }
}

impl<C: HostCm, S: Sys> Drop for HostDevice<C, S> {
    fn drop(&mut self) {
        self.close();
    }
}
