//! The dispatcher: one entry for every IOCTL of an open file, the CM event
//! entry, the framework's cancel entry and file teardown.
//!
//! Locking: each open file has one lock (the "object lock" of spec/NDI.md §6
//! for all its connections, listeners and QPs). State checks, state changes,
//! QP slot binding (S2) and forwarding to a queue happen together under it.
//! The CM is called under it (lock order NDI → manager, CM.md §10.4) but its
//! effects are run after release; requests are retrieved under it and
//! completed after release (§6 rule 1). The device-wide tables (files,
//! ports, adapters) have their own leaf locks, never held while taking a
//! file lock. REGISTER_ADAPTER and WITHDRAW_ADAPTER run with no file lock
//! held, because a withdrawal visits every file (agent.rs).

mod address;
mod agent;
mod cancel;
mod connect;
mod disconnect;
mod events;
pub mod input;
pub use agent::{AdapterView, Caller};
mod listen;
mod mad;
mod objects;
mod ports;

use crate::NdiError;
use crate::abi::{Ioctl, NtStatus};
use crate::cm_port::{AdapterInfo, CmPort, PortSpace};
use crate::object::FileState;
use crate::requests::{PendInfo, Requests};
use agent::AdapterTable;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use ndcm_cm::platform::{Platform, QueuedSpinLock};
use ports::Ports;

/// What `dispatch` did with the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatched {
    /// Completed before returning (by the dispatcher) with this status and
    /// Information.
    Complete {
        /// Completion status.
        status: NtStatus,
        /// Bytes written to the output buffer.
        information: usize,
    },
    /// Forwarded to a queue; it completes later exactly once.
    Pending,
}

/// One open of the device (one provider instance).
pub struct File<P: Platform, R: Requests> {
    id: u64,
    /// Who opened it (decided at create; never changes).
    caller: Caller,
    /// Set by `close` before it withdraws the file's adapters, so a
    /// registration racing with it is undone (agent.rs).
    agent_closing: AtomicBool,
    state: P::Lock<FileState<R>>,
    /// The thread inside `state`'s lock (its `ThreadId`), 0 when none. Only
    /// ever compared with the reader's own id, which only the reader itself
    /// stores: Relaxed is enough.
    holder: AtomicU64,
    /// Cancel callbacks that arrived on the thread holding `state`, run
    /// when it lets go (see [`Ndi::locked`]). A leaf lock.
    deferred: P::Lock<VecDeque<Deferred<R>>>,
}

/// EvtIoCanceledOnQueue of a request of this file, delivered while the
/// file's lock was held by the thread it arrived on.
pub(crate) struct Deferred<R: Requests> {
    object: u64,
    request: R::Request,
    info: PendInfo,
}

/// Deferred cancel callbacks a file has room for without allocating at
/// DISPATCH_LEVEL (more are allocated fallibly).
const DEFERRED_INLINE: usize = 4;

impl<P: Platform, R: Requests> File<P, R> {
    /// The file's id (its queues' `QueueOwner::instance`).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Who opened it.
    pub fn caller(&self) -> Caller {
        self.caller
    }
}

/// A completion decided under a lock, performed after release.
pub(crate) struct Done<R: Requests> {
    request: R::Request,
    status: NtStatus,
    output: Vec<u8>,
}

/// Everything to do once the file lock is released.
pub(crate) struct Work<C: CmPort, R: Requests> {
    pub(crate) fx: C::Effects,
    /// The first completion, kept inline: most events complete one request
    /// and most IOCTLs none, so the common path allocates nothing here.
    first: Option<Done<R>>,
    more: Vec<Done<R>>,
}

impl<C: CmPort, R: Requests> Work<C, R> {
    fn new() -> Self {
        Work {
            fx: C::Effects::default(),
            first: None,
            more: Vec::new(),
        }
    }
    /// Completes `request` with `status` (and no output) after release.
    pub(crate) fn complete(&mut self, request: R::Request, status: NtStatus) {
        self.push(Done {
            request,
            status,
            output: Vec::new(),
        });
    }
    /// Performs `done` after release, after those pushed before it.
    pub(crate) fn push(&mut self, done: Done<R>) {
        if self.first.is_none() && self.more.is_empty() {
            self.first = Some(done);
        } else {
            self.more.push(done);
        }
    }
}

/// The output bytes of a request completed in the dispatch routine: the
/// fixed-size outputs inline (no allocation at DISPATCH_LEVEL for them),
/// private data on the heap.
pub(crate) enum Out {
    /// No output.
    Empty,
    /// At most `INLINE` bytes.
    Inline(usize, [u8; Out::INLINE]),
    /// Longer output.
    Heap(Vec<u8>),
}

impl Out {
    /// The largest output kept inline (every fixed output structure fits).
    const INLINE: usize = 64;

    /// `bytes`, inline when they fit.
    pub(crate) fn bytes(bytes: &[u8]) -> Out {
        let mut inline = [0u8; Out::INLINE];
        match inline.get_mut(..bytes.len()) {
            Some(d) => {
                d.copy_from_slice(bytes);
                Out::Inline(bytes.len(), inline)
            }
            None => Out::Heap(bytes.to_vec()),
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Out::Empty => &[],
            Out::Inline(n, b) => b.get(..*n).unwrap_or(&[]),
            Out::Heap(v) => v,
        }
    }
}

// Every fixed output the dispatch routine completes with stays inline.
const _: () = {
    use crate::abi::{
        NdcmCreateQpOut, NdcmGetAddressOut, NdcmHandleOut, NdcmListenOut, NdcmModifyQpOut,
        NdcmOpenAdapterOut,
    };
    assert!(NdcmHandleOut::SIZE <= Out::INLINE);
    assert!(NdcmOpenAdapterOut::SIZE <= Out::INLINE);
    assert!(NdcmCreateQpOut::SIZE <= Out::INLINE);
    assert!(NdcmModifyQpOut::SIZE <= Out::INLINE);
    assert!(NdcmGetAddressOut::SIZE <= Out::INLINE);
    assert!(NdcmListenOut::SIZE <= Out::INLINE);
};

/// How an operation answered.
pub(crate) enum Reply {
    /// Complete now with this status and output bytes.
    Done(NtStatus, Out),
    /// The request was forwarded to a queue.
    Pended,
}

impl Reply {
    pub(crate) fn ok() -> Reply {
        Reply::Done(NtStatus::SUCCESS, Out::Empty)
    }
}

/// Live-object counters of the dispatcher (leak accounting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NdiStats {
    /// Open files.
    pub files: usize,
    /// Reserved ports (connections and listeners).
    pub ports: usize,
}

/// Running tallies of the dispatcher (never decremented; not leak
/// accounting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NdiCounters {
    /// Cancel callbacks that arrived on a thread holding their file's lock
    /// (KMDF's dispatch loop inside forward/retrieve) and were deferred to
    /// its release instead of re-entering the lock.
    pub cancels_deferred: u64,
    /// Deferred cancel callbacks that found no memory to wait in: the
    /// request completed with STATUS_CANCELLED at once and its cancel
    /// action was lost (low resources only).
    pub cancels_undeferrable: u64,
}

/// The NDI dispatcher of one device.
pub struct Ndi<P: Platform, C: CmPort, R: Requests> {
    platform: P,
    cm: C,
    requests: R,
    adapters: P::Lock<AdapterTable>,
    files: P::Lock<BTreeMap<u64, Arc<File<P, R>>>>,
    ports: P::Lock<Ports>,
    next_file: AtomicU64,
    next_qpn: AtomicU32,
    cancels_deferred: AtomicU64,
    cancels_undeferrable: AtomicU64,
}

impl<P: Platform, C: CmPort, R: Requests> Ndi<P, C, R> {
    /// A dispatcher for a device with these built-in adapters (host test
    /// devices; the driver and the MAD-port devices have none and get
    /// theirs from the agent's REGISTER_ADAPTER).
    pub fn new(platform: P, cm: C, requests: R, adapters: Vec<AdapterInfo>) -> Self {
        let adapters = platform.new_lock(AdapterTable::new(adapters));
        let files = platform.new_lock(BTreeMap::new());
        let ports = platform.new_lock(Ports::new());
        Ndi {
            platform,
            cm,
            requests,
            adapters,
            files,
            ports,
            next_file: AtomicU64::new(1),
            next_qpn: AtomicU32::new(0x100),
            cancels_deferred: AtomicU64::new(0),
            cancels_undeferrable: AtomicU64::new(0),
        }
    }

    /// The CM port.
    pub fn cm(&self) -> &C {
        &self.cm
    }

    /// The request framework.
    pub fn requests(&self) -> &R {
        &self.requests
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Live files and ports.
    pub fn stats(&self) -> NdiStats {
        NdiStats {
            files: self.files.with(|f| f.len()),
            ports: self.ports.with(|p| p.len()),
        }
    }

    /// The running tallies.
    pub fn counters(&self) -> NdiCounters {
        NdiCounters {
            cancels_deferred: self.cancels_deferred.load(Ordering::Relaxed),
            cancels_undeferrable: self.cancels_undeferrable.load(Ordering::Relaxed),
        }
    }

    /// IRP_MJ_CREATE by SYSTEM (in-process devices and tests).
    pub fn open(&self) -> Arc<File<P, R>> {
        self.open_as(Caller::SYSTEM)
    }

    /// IRP_MJ_CREATE: a new instance opened by `caller`.
    pub fn open_as(&self, caller: Caller) -> Arc<File<P, R>> {
        let id = self.next_file.fetch_add(1, Ordering::Relaxed);
        // A salt derived from the id, never 0, so two files rarely share one.
        let salt = ((id.wrapping_mul(0x9E37_79B9) >> 16) as u16) | 1;
        let file = Arc::new(File {
            id,
            caller,
            agent_closing: AtomicBool::new(false),
            state: self.platform.new_lock(FileState::new(id, salt)),
            holder: AtomicU64::new(0),
            deferred: self
                .platform
                .new_lock(VecDeque::with_capacity(DEFERRED_INLINE)),
        });
        let f = file.clone();
        self.files.with(|files| {
            let _ = files.insert(id, f);
        });
        file
    }

    fn file(&self, id: u64) -> Option<Arc<File<P, R>>> {
        self.files.with(|files| files.get(&id).cloned())
    }

    /// Runs `f` under `file`'s lock, then the cancel callbacks that KMDF
    /// delivered meanwhile on this thread (see [`Ndi::canceled_on_queue`]).
    /// Every path that takes a file lock goes through here.
    pub(crate) fn locked<T>(&self, file: &File<P, R>, f: impl FnOnce(&mut FileState<R>) -> T) -> T {
        let out = self.locked_only(file, f);
        self.run_deferred(file);
        out
    }

    /// `f` under `file`'s lock, recording this thread as its holder.
    fn locked_only<T>(&self, file: &File<P, R>, f: impl FnOnce(&mut FileState<R>) -> T) -> T {
        let me = self.platform.current_thread().0.get();
        file.state.with(|st| {
            file.holder.store(me, Ordering::Relaxed);
            let out = f(st);
            file.holder.store(0, Ordering::Relaxed);
            out
        })
    }

    /// True when this thread holds `file`'s lock further up its stack.
    fn holds(&self, file: &File<P, R>) -> bool {
        file.holder.load(Ordering::Relaxed) == self.platform.current_thread().0.get()
    }

    /// The IOCTL entry (EvtIoDeviceControl). Validates everything, then
    /// either completes the request before returning or forwards it to the
    /// right queue. The request is completed by the dispatcher in both
    /// cases; the caller must not touch it afterwards.
    pub fn dispatch(
        &self,
        file: &File<P, R>,
        code: u32,
        input: &[u8],
        output_len: usize,
        request: R::Request,
    ) -> Dispatched {
        let mut work = Work::new();
        let mut slot = Some(request);
        let reply = match Ioctl::from_code(code) {
            Some(op @ (Ioctl::RegisterAdapter | Ioctl::WithdrawAdapter)) => {
                self.adapter_ioctl(file, op, input, output_len)
            }
            op => self.locked(file, |st| {
                if st.closing {
                    return Err(NdiError::Cancelled);
                }
                let op = op.ok_or(NdiError::UnknownRequest)?;
                // docs/NDI-agent.md §5: decided before any input is read,
                // so a refused call changes nothing.
                if op.agent_only() && !file.caller.admin {
                    return Err(NdiError::AccessDenied);
                }
                self.route(file.id, st, op, input, output_len, &mut slot, &mut work)
            }),
        };
        let answer = match reply {
            Ok(Reply::Pended) => Dispatched::Pending,
            Ok(Reply::Done(status, output)) => self.finish_inline(&mut slot, status, output),
            Err(e) => self.finish_inline(&mut slot, e.status(), Out::Empty),
        };
        // A pended request is gone from the slot; anything left is a bug
        // path that must still complete once.
        if let Some(r) = slot.take() {
            self.requests.complete(r, NtStatus::UNSUCCESSFUL, 0);
        }
        self.run(work);
        answer
    }

    fn finish_inline(
        &self,
        slot: &mut Option<R::Request>,
        status: NtStatus,
        output: Out,
    ) -> Dispatched {
        let Some(mut request) = slot.take() else {
            return Dispatched::Pending;
        };
        let output = output.as_slice();
        let information = if output.is_empty() {
            0
        } else {
            self.requests.write_output(&mut request, output)
        };
        self.requests.complete(request, status, information);
        Dispatched::Complete {
            status,
            information,
        }
    }

    /// Completes what was decided under the lock, then runs the CM effects.
    fn run(&self, work: Work<C, R>) {
        for d in work.first.into_iter().chain(work.more) {
            let mut request = d.request;
            let information = if d.output.is_empty() {
                0
            } else {
                self.requests.write_output(&mut request, &d.output)
            };
            self.requests.complete(request, d.status, information);
        }
        self.cm.perform(work.fx);
    }

    #[allow(clippy::too_many_arguments)]
    fn route(
        &self,
        file: u64,
        st: &mut FileState<R>,
        op: Ioctl,
        input: &[u8],
        output_len: usize,
        slot: &mut Option<R::Request>,
        work: &mut Work<C, R>,
    ) -> Result<Reply, NdiError> {
        match op {
            Ioctl::Noop => self.noop(input, output_len),
            Ioctl::OpenAdapter => self.open_adapter(st, input, output_len),
            Ioctl::CreateQp => self.create_qp(st, input, output_len),
            Ioctl::DestroyQp => self.destroy_qp(file, st, input, output_len, work),
            Ioctl::ModifyQp => self.modify_qp(st, input, output_len),
            Ioctl::CreateCep => self.create_cep(file, st, input, output_len),
            Ioctl::DestroyCep => self.destroy_cep(file, st, input, output_len, work),
            Ioctl::CepGetPdata => self.get_pdata(st, input, output_len),
            Ioctl::ListenCm => self.listen(file, st, input, output_len, work),
            Ioctl::GetReqCm => self.get_req(file, st, input, output_len, slot, work),
            Ioctl::ReqCm => self.req(file, st, input, output_len, slot, work),
            Ioctl::RepCm => self.rep(file, st, input, output_len, slot, work),
            Ioctl::RtuCm => self.rtu(st, input, output_len, work),
            Ioctl::RejCm => self.rej(st, input, output_len, work),
            Ioctl::DreqCm => self.dreq(file, st, input, output_len, slot, work),
            Ioctl::NotifyDreq => self.notify_dreq(file, st, input, output_len, slot, work),
            Ioctl::CancelCmIrps => self.cancel_irps(file, st, input, output_len, work),
            Ioctl::CepGetAddress => self.get_address(st, input, output_len),
            Ioctl::MadGetOutbound => self.mad_get(file, st, input, output_len, slot, work),
            Ioctl::MadSubmitInbound => self.mad_submit(input, output_len, work),
            // Routed before the file lock is taken (dispatch).
            Ioctl::RegisterAdapter | Ioctl::WithdrawAdapter => Err(NdiError::UnknownRequest),
        }
    }

    /// Forwards the request in `slot` to `queue`. If the framework refuses
    /// (already cancelled), the request completes with its status and the
    /// caller's `undo` restores the state it changed.
    pub(crate) fn pend(
        &self,
        queue: &R::Queue,
        slot: &mut Option<R::Request>,
        info: PendInfo,
    ) -> Result<(), NtStatus> {
        let Some(request) = slot.take() else {
            return Err(NtStatus::UNSUCCESSFUL);
        };
        match self.requests.forward(queue, request, info) {
            Ok(()) => Ok(()),
            Err((request, status)) => {
                *slot = Some(request);
                Err(status)
            }
        }
    }

    /// Reserves a port (0 → an ephemeral one) for an adapter and space.
    pub(crate) fn reserve_port(
        &self,
        adapter: u32,
        space: PortSpace,
        port: u16,
        listener: bool,
    ) -> Result<u16, NdiError> {
        self.ports
            .with(|p| p.reserve(adapter, space, port, listener))
    }

    /// Releases a port reservation.
    pub(crate) fn release_port(&self, adapter: u32, space: PortSpace, port: u16, listener: bool) {
        self.ports
            .with(|p| p.release(adapter, space, port, listener));
    }

    pub(crate) fn new_qpn(&self) -> u32 {
        self.next_qpn.fetch_add(1, Ordering::Relaxed) & 0x00FF_FFFF
    }

    fn noop(&self, input: &[u8], output_len: usize) -> Result<Reply, NdiError> {
        input::fixed::<crate::abi::NdcmHeader>(input)?;
        input::output(output_len, input::Output::None)?;
        Ok(Reply::ok())
    }
}
