//! A host `Device`, like `\\.\ndcm`: open gives an instance (a file
//! object), `ioctl` behaves like overlapped DeviceIoControl (it completes at
//! once or returns a pending handle that completes later, possibly on
//! another thread, and that can be polled, waited on or cancelled), and
//! close tears the instance down.
//!
//! Under it: the framework model (every KMDF rule checked), the ndi
//! dispatcher, and a CM port (`HostCm`) that the world drives with MADs from
//! the fabric and timer expiries. This module owns the wiring and the
//! end-of-test audit; it never completes a request itself.

use crate::framework::{Completion, FileId, Framework, RequestId};
use crate::irql::callback_scope;
use crate::ndi_requests::HostRequests;
use crate::platform::HostPlatform;
use crate::sys::{Callback, Irql, RawMutex, StdSys, Sys};
use crate::verifier::Verifier;
use ndcm_cm::platform::Instant;
use ndcm_ndi::cm_port::{AdapterInfo, CmPort};
use ndcm_ndi::compose::{DeviceLink, event_sink};
use ndcm_ndi::{Caller, File, Ndi, NdiStats};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Weak};

/// Where a CM port delivers its events: the dispatcher's `on_cm_event`.
pub use ndcm_ndi::cm_adapter::EventSink;

/// What the host needs from a CM port besides `CmPort`: event routing, the
/// MADs and timers the world drives, and leak accounting.
pub trait HostCm: CmPort + 'static {
    /// Routes events to the dispatcher. Called once, when the device is
    /// built.
    fn bind_events(&self, sink: EventSink);
    /// A MAD from the fabric, sent by `from`.
    fn receive(&self, from: [u8; 16], mad: &[u8; 256]);
    /// Fires the timers due at `now`.
    fn fire_timers(&self, now: Instant);
    /// The earliest armed timer.
    fn next_timer(&self) -> Option<Instant>;
    /// CM objects (connections) still alive.
    fn live_objects(&self) -> usize;
}

/// The dispatcher type of a host device.
pub type HostNdi<C, S> = Ndi<HostPlatform<S>, C, HostRequests<S>>;
type HostFile<S> = File<HostPlatform<S>, HostRequests<S>>;

/// An open handle on the device.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Handle(pub FileId);

/// What DeviceIoControl returned.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Io {
    /// Completed before returning.
    Complete(Completion),
    /// ERROR_IO_PENDING: completes later.
    Pending(Pending),
}

impl Io {
    /// The completion, if it completed synchronously.
    pub fn completed(self) -> Option<Completion> {
        match self {
            Io::Complete(c) => Some(c),
            Io::Pending(_) => None,
        }
    }

    /// The pending handle, if it pended.
    pub fn pending(self) -> Option<Pending> {
        match self {
            Io::Pending(p) => Some(p),
            Io::Complete(_) => None,
        }
    }
}

/// An overlapped request in flight.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Pending(pub RequestId);

/// What is still alive on a device (all zero when nothing leaked).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Leaks {
    /// Requests not completed.
    pub requests: usize,
    /// Framework queues not deleted.
    pub queues: usize,
    /// File objects not closed.
    pub files: usize,
    /// The dispatcher's live files and ports.
    pub ndi: NdiStats,
    /// CM connections still alive.
    pub cm_objects: usize,
}

/// The host device's link from its CM's sinks to its dispatcher: the
/// driver's, run at DISPATCH_LEVEL inside a checked callback scope, as CM
/// callbacks run in the kernel (spec/NDI.md §7).
struct AtDispatch<N, S: Sys> {
    ndi: Weak<N>,
    verifier: Arc<Verifier>,
    _sys: PhantomData<fn() -> S>,
}

impl<N: Send + Sync + 'static, S: Sys> DeviceLink<N> for AtDispatch<N, S> {
    fn with_ndi<T>(&self, f: impl FnOnce(&N) -> T) -> Option<T> {
        let ndi = self.ndi.upgrade()?;
        Some(callback_scope::<S, _>(
            &self.verifier,
            Callback::Other("CmEvent"),
            Irql::DISPATCH,
            || f(&ndi),
        ))
    }
}

/// A host device.
pub struct Device<C: HostCm, S: Sys = StdSys> {
    platform: HostPlatform<S>,
    framework: Arc<Framework<S>>,
    ndi: Arc<HostNdi<C, S>>,
    files: RawMutex<HashMap<FileId, Arc<HostFile<S>>>, S>,
}

impl<C: HostCm, S: Sys> Device<C, S> {
    /// A device with these built-in adapters over `cm` (fabric test
    /// devices; the MAD-port devices are composed like the driver's, with
    /// [`Device::compose`] and `ndcm_ndi::compose::agent_device`).
    pub fn new(platform: HostPlatform<S>, cm: C, adapters: Vec<AdapterInfo>) -> Arc<Self> {
        let p = platform.clone();
        Self::compose(platform, move |requests| {
            Ndi::new(p, cm, requests, adapters)
        })
    }

    /// A device whose dispatcher `build` makes over the device's request
    /// framework — the driver's composition function
    /// (`ndcm_ndi::compose::agent_device`) runs here as in the driver.
    pub fn compose(
        platform: HostPlatform<S>,
        build: impl FnOnce(HostRequests<S>) -> HostNdi<C, S>,
    ) -> Arc<Self> {
        let framework = Arc::new(Framework::new(Arc::clone(platform.verifier())));
        let requests = HostRequests::new(Arc::clone(&framework));
        let ndi = Arc::new(build(requests.clone()));
        let weak: Weak<HostNdi<C, S>> = Arc::downgrade(&ndi);
        requests.set_cancel_entry(Arc::new(move |owner, request, info| {
            if let Some(ndi) = weak.upgrade() {
                ndi.canceled_on_queue(owner, request, info);
            }
        }));
        let link: AtDispatch<HostNdi<C, S>, S> = AtDispatch {
            ndi: Arc::downgrade(&ndi),
            verifier: Arc::clone(platform.verifier()),
            _sys: PhantomData,
        };
        ndi.cm()
            .bind_events(event_sink::<HostPlatform<S>, C, HostRequests<S>, _>(link));
        Arc::new(Device {
            platform,
            framework,
            ndi,
            files: RawMutex::new(HashMap::new()),
        })
    }

    /// The platform (clock, verifier).
    pub fn platform(&self) -> &HostPlatform<S> {
        &self.platform
    }

    /// The framework (request audit).
    pub fn framework(&self) -> &Arc<Framework<S>> {
        &self.framework
    }

    /// The dispatcher.
    pub fn ndi(&self) -> &Arc<HostNdi<C, S>> {
        &self.ndi
    }

    /// The CM port.
    pub fn cm(&self) -> &C {
        self.ndi.cm()
    }

    /// CreateFile by an administrator (SYSTEM): a new instance.
    pub fn open(&self) -> Handle {
        self.open_as(Caller::SYSTEM)
    }

    /// CreateFile by `caller` (the driver decides it at IRP_MJ_CREATE from
    /// the requestor's token): a new instance.
    pub fn open_as(&self, caller: Caller) -> Handle {
        let id = self.framework.open_file();
        let file = self.ndi.open_as(caller);
        self.files.with(|f| {
            let _ = f.insert(id, file);
        });
        Handle(id)
    }

    /// The dispatcher's file behind a handle.
    pub fn file(&self, handle: Handle) -> Option<Arc<HostFile<S>>> {
        self.files.with(|f| f.get(&handle.0).cloned())
    }

    /// DeviceIoControl on an overlapped handle.
    ///
    /// # Panics
    /// If `handle` is not open (a harness misuse, like using a closed
    /// HANDLE).
    pub fn ioctl(&self, handle: Handle, code: u32, input: &[u8], output_len: usize) -> Io {
        let file = self
            .file(handle)
            .unwrap_or_else(|| panic!("harness misuse: {handle:?} is not open"));
        let id = self
            .framework
            .present(handle.0, code, input.to_vec(), output_len, |request| {
                let token = self.ndi.requests().token(request);
                let _ = self.ndi.dispatch(&file, code, input, output_len, token);
            });
        match self.framework.poll(id) {
            Some(c) => Io::Complete(c),
            None => Io::Pending(Pending(id)),
        }
    }

    /// DeviceIoControl that must complete synchronously.
    ///
    /// # Panics
    /// If it pended.
    #[track_caller]
    pub fn ioctl_sync(
        &self,
        handle: Handle,
        code: u32,
        input: &[u8],
        output_len: usize,
    ) -> Completion {
        match self.ioctl(handle, code, input, output_len) {
            Io::Complete(c) => c,
            Io::Pending(p) => panic!("IOCTL {code:#x} pended ({p:?}) where it must complete"),
        }
    }

    /// GetOverlappedResult without waiting.
    pub fn poll(&self, pending: Pending) -> Option<Completion> {
        self.framework.poll(pending.0)
    }

    /// GetOverlappedResult with a real-time bound (for threaded tests).
    pub fn wait(&self, pending: Pending, timeout: std::time::Duration) -> Option<Completion> {
        self.framework.wait(pending.0, timeout)
    }

    /// CancelIoEx on one request. Returns whether the cancel took the
    /// request: its driver cancel callback ran, or waits on its queue's
    /// cancelled list for the thread dispatching that queue (KMDF's
    /// `DispatchInternalEvents`).
    pub fn cancel(&self, pending: Pending) -> bool {
        self.framework.cancel(pending.0)
    }

    /// CloseHandle: the driver's cleanup destroys everything of the instance
    /// and must complete all its requests (RequestCompleted).
    pub fn close(&self, handle: Handle) {
        let Some(file) = self.files.with(|f| f.remove(&handle.0)) else {
            return;
        };
        self.framework
            .close_file(handle.0, || self.ndi.close(&file));
    }

    /// What is still alive.
    pub fn leaks(&self) -> Leaks {
        Leaks {
            requests: self.framework.outstanding().len(),
            queues: self.framework.live_queues(),
            files: self.files.with(|f| f.len()),
            ndi: self.ndi.stats(),
            cm_objects: self.cm().live_objects(),
        }
    }

    /// The end-of-test audit: every request completed exactly once, no KMDF
    /// rule broken, and (after every handle is closed and timewait is over)
    /// nothing left alive.
    #[track_caller]
    pub fn assert_clean(&self) {
        self.framework.assert_quiescent();
        assert_eq!(self.leaks(), Leaks::default(), "objects left alive");
    }
}
