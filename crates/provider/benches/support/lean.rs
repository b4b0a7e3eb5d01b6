//! The stack without the KMDF emulator: the provider's requests go straight
//! to the dispatcher (`ndcm_ndi::Ndi::dispatch`) over a lean request model
//! (plain ids and FIFO queues, no rule book), the dispatcher drives the real
//! CEP manager (`ManagerPort`), MADs cross the in-memory fabric. What is
//! left is exactly provider → IOCTL ABI → dispatcher → CM → fabric, the
//! layers the driver ships; the host framework model (which records every
//! request forever to audit it) is a test harness, not one of them.
//!
//! Benchmark support only: no cancellation (nothing here cancels), events
//! and timers run at DISPATCH_LEVEL scopes as the world runs them.

use ndcm_cm::platform::{Duration, Instant};
use ndcm_host::HostPlatform;
use ndcm_host::clock::Clock;
use ndcm_host::device::HostCm;
use ndcm_host::fabric::{Fabric, FaultModel, NodeId};
use ndcm_host::irql::callback_scope;
use ndcm_host::manager_port::ManagerPort;
use ndcm_host::sys::{Callback, Irql, StdSys};
use ndcm_host::verifier::{Mode, Verifier};
use ndcm_ndi::abi::NtStatus;
use ndcm_ndi::cm_port::AdapterInfo;
use ndcm_ndi::requests::{PendInfo, PendKind, QueueOwner, Requests};
use ndcm_ndi::{Dispatched, File, Ndi};
use ndcm_provider::{Completion, Device, Submitted};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

/// A request: its id and output buffer.
pub struct LeanRequest {
    id: u64,
    out: Vec<u8>,
}

#[derive(Default)]
struct State {
    next_queue: u64,
    queues: HashMap<u64, VecDeque<(LeanRequest, PendInfo)>>,
    done: HashMap<u64, Completion>,
}

/// The lean request model.
#[derive(Clone, Default)]
pub struct Lean(Arc<Mutex<State>>);

impl Lean {
    fn take(&self, id: u64) -> Option<Completion> {
        self.0.lock().expect("lean").done.remove(&id)
    }
}

impl Requests for Lean {
    type Request = LeanRequest;
    type Queue = u64;
    fn create_queue(&self, _: QueueOwner) -> Result<u64, NtStatus> {
        let mut s = self.0.lock().expect("lean");
        s.next_queue += 1;
        let q = s.next_queue;
        s.queues.insert(q, VecDeque::new());
        Ok(q)
    }
    fn forward(&self, q: &u64, r: LeanRequest, i: PendInfo) -> Result<(), (LeanRequest, NtStatus)> {
        let mut s = self.0.lock().expect("lean");
        match s.queues.get_mut(q) {
            Some(v) => {
                v.push_back((r, i));
                Ok(())
            }
            None => Err((r, NtStatus::CANCELLED)),
        }
    }
    fn retrieve(&self, q: &u64, k: PendKind) -> Option<(LeanRequest, PendInfo)> {
        let mut s = self.0.lock().expect("lean");
        let v = s.queues.get_mut(q)?;
        let p = v.iter().position(|(_, i)| i.kind == k)?;
        v.remove(p)
    }
    fn retrieve_any(&self, q: &u64) -> Option<(LeanRequest, PendInfo)> {
        let mut s = self.0.lock().expect("lean");
        let v = s.queues.get_mut(q)?;
        let p = v.iter().position(|(_, i)| i.kind != PendKind::NotifyDreq)?;
        v.remove(p)
    }
    fn write_output(&self, r: &mut LeanRequest, bytes: &[u8]) -> usize {
        let n = bytes.len().min(r.out.len());
        r.out[..n].copy_from_slice(&bytes[..n]);
        n
    }
    fn complete(&self, mut r: LeanRequest, status: NtStatus, information: usize) {
        r.out.truncate(information);
        self.0.lock().expect("lean").done.insert(
            r.id,
            Completion {
                status,
                output: r.out,
            },
        );
    }
    fn delete_queue(&self, q: u64) {
        self.0.lock().expect("lean").queues.remove(&q);
    }
}

type LeanNdi = Ndi<HostPlatform, ManagerPort, Lean>;

/// One node: a dispatcher over the real CM.
pub struct LeanNode {
    ndi: Arc<LeanNdi>,
    requests: Lean,
    node: NodeId,
}

/// An open file of a lean node.
pub struct LeanDevice {
    ndi: Arc<LeanNdi>,
    requests: Lean,
    file: Arc<File<HostPlatform, Lean>>,
    next: AtomicU64,
}

impl Device for LeanDevice {
    type Token = u64;
    fn ioctl(&self, code: u32, input: &[u8], output_len: usize) -> Submitted<u64> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let r = LeanRequest {
            id,
            out: vec![0; output_len],
        };
        match self.ndi.dispatch(&self.file, code, input, output_len, r) {
            Dispatched::Complete { .. } => Submitted::Complete(
                self.requests
                    .take(id)
                    .unwrap_or(Completion::status(NtStatus::UNSUCCESSFUL)),
            ),
            Dispatched::Pending => Submitted::Pending(id),
        }
    }
    fn poll(&self, token: &mut u64, _: Option<&Waker>) -> Option<Completion> {
        self.requests.take(*token)
    }
    fn wait(&self, token: u64) -> Completion {
        self.requests
            .take(token)
            .unwrap_or(Completion::status(NtStatus::UNSUCCESSFUL))
    }
    fn cancel(&self, _: &u64) {}
    fn close(&self) {
        self.ndi.close(&self.file);
    }
}

/// Lean nodes on one fabric and one virtual clock.
pub struct LeanWorld {
    platform: HostPlatform,
    fabric: Arc<Fabric>,
    nodes: Vec<LeanNode>,
}

impl LeanWorld {
    /// A perfect fabric.
    pub fn new() -> Self {
        let verifier = Arc::new(Verifier::new(Mode::Strict));
        LeanWorld {
            platform: HostPlatform::new(verifier, Arc::new(Clock::new_virtual())),
            fabric: Arc::new(Fabric::new(FaultModel::default(), 1)),
            nodes: Vec::new(),
        }
    }

    /// Adds a node with `gid` and `adapter`; returns its index.
    pub fn add_node(&mut self, gid: [u8; 16], adapter: AdapterInfo) -> usize {
        let node = self.fabric.attach(&[gid]);
        let cm = ManagerPort::new(self.platform.clone(), Arc::clone(&self.fabric), vec![gid]);
        let requests = Lean::default();
        let ndi = Arc::new(Ndi::new(
            self.platform.clone(),
            cm,
            requests.clone(),
            vec![adapter],
        ));
        let weak = Arc::downgrade(&ndi);
        let verifier = Arc::clone(self.platform.verifier());
        ndi.cm().bind_events(Arc::new(move |owner, event| {
            if let Some(ndi) = weak.upgrade() {
                callback_scope::<StdSys, _>(
                    &verifier,
                    Callback::Other("CmEvent"),
                    Irql::DISPATCH,
                    || ndi.on_cm_event(owner, event),
                );
            }
        }));
        self.nodes.push(LeanNode {
            ndi,
            requests,
            node,
        });
        self.nodes.len() - 1
    }

    /// Opens a file on node `i`.
    pub fn open(&self, i: usize) -> LeanDevice {
        let n = &self.nodes[i];
        LeanDevice {
            ndi: Arc::clone(&n.ndi),
            requests: n.requests.clone(),
            file: n.ndi.open(),
            next: AtomicU64::new(1),
        }
    }

    fn now(&self) -> Instant {
        self.platform.clock().now()
    }

    fn at_dispatch(&self, what: &'static str, f: impl FnOnce()) {
        callback_scope::<StdSys, _>(
            self.platform.verifier(),
            Callback::Other(what),
            Irql::DISPATCH,
            f,
        );
    }

    fn run_due(&self) -> bool {
        let now = self.now();
        let mut any = false;
        loop {
            let due = self.fabric.take_due(now);
            if due.is_empty() {
                break;
            }
            any = true;
            for (node, d) in due {
                if let Some(n) = self.nodes.iter().find(|n| n.node == node) {
                    self.at_dispatch("MadReceive", || n.ndi.cm().receive(d.src, &d.mad));
                }
            }
        }
        for n in &self.nodes {
            if n.ndi.cm().next_timer().is_some_and(|t| t <= now) {
                self.at_dispatch("TimerDpc", || n.ndi.cm().fire_timers(now));
                any = true;
            }
        }
        any
    }

    /// Performs the next scheduled thing within `limit` of now.
    pub fn step(&self, limit: Duration) -> bool {
        if self.run_due() {
            return true;
        }
        let next = self
            .nodes
            .iter()
            .filter_map(|n| n.ndi.cm().next_timer())
            .chain(self.fabric.next_delivery())
            .min();
        match next {
            Some(at) if at <= self.now() + limit => {
                let _ = self.platform.clock().advance_to(at);
                let _ = self.run_due();
                true
            }
            _ => false,
        }
    }

    /// CM objects alive on every node (0 once everything is released and
    /// timewait is over).
    pub fn live(&self) -> usize {
        self.nodes.iter().map(|n| n.ndi.cm().live_objects()).sum()
    }
}
