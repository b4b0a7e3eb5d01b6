//! The shipped layers alone, on the same footing as the CM-only benchmark.
//!
//! provider → IOCTL ABI → dispatcher (`ndcm_ndi::Ndi`) → the driver's CM
//! adapter (`ndcm_ndi::cm_adapter::ManagerPort`) → CEP manager → a MAD
//! queue, on the platform the CM-only lifecycle runs on (ndcm-cm's
//! `TestPlatform`: a plain spin lock, a virtual clock). What is left out is
//! what the driver does not ship: the KMDF emulator of ndcm-host, which
//! checks every DDI rule, tracks IRQL per thread and keeps every request for
//! its exactly-once audit. Requests live in a lean model of KMDF's manual
//! queues (a slab of completions, FIFO queues, no rule book).
//!
//! So the ratio of this lifecycle to the CM-only one is the cost of the ABI
//! layer, as the issue asks, and nothing else.
//!
//! Benchmark support only: no cancellation (nothing here cancels).

use ndcm_cm::platform::{
    Duration, Instant, Platform, QueuedSpinLock, SpinLock, TestPlatform, ThreadId,
};
use ndcm_cm::{CepManager, MadAddress, ManagerConfig, Outgoing};
use ndcm_ndi::abi::NtStatus;
use ndcm_ndi::cm_adapter::ManagerPort;
use ndcm_ndi::cm_port::AdapterInfo;
use ndcm_ndi::requests::{PendInfo, PendKind, QueueOwner, Requests};
use ndcm_ndi::{Dispatched, File, Ndi};
use ndcm_provider::{Completion, Device, Submitted};
use ndcm_wire::Gid;
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Waker;

/// ndcm-cm's test platform, shared by every node of the world (one clock).
#[derive(Clone, Default)]
pub struct LeanPlatform(Arc<TestPlatform>);

impl Platform for LeanPlatform {
    type Lock<T: Send> = SpinLock<T>;
    fn new_lock<T: Send>(&self, value: T) -> SpinLock<T> {
        self.0.new_lock(value)
    }
    fn current_thread(&self) -> ThreadId {
        self.0.current_thread()
    }
    fn now(&self) -> Instant {
        self.0.now()
    }
}

/// Completions by request slot (the I/O status blocks): a slab, so a
/// request costs no allocation of its own beyond its output buffer.
#[derive(Default)]
struct Slab {
    slots: Vec<Option<Completion>>,
    free: Vec<usize>,
}

impl Slab {
    fn open(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        })
    }
    fn take(&mut self, slot: usize) -> Option<Completion> {
        let c = self.slots[slot].take();
        if c.is_some() {
            self.free.push(slot);
        }
        c
    }
}

/// A request: its output buffer and its slot.
pub struct LeanRequest {
    out: Vec<u8>,
    slot: usize,
}

/// A manual queue.
type Queue = Arc<SpinLock<VecDeque<(LeanRequest, PendInfo)>>>;

/// The lean request model: requests complete into their slot, queues are
/// plain FIFO lists.
#[derive(Clone)]
pub struct Lean(Arc<SpinLock<Slab>>);

impl Lean {
    fn take(&self, slot: usize) -> Option<Completion> {
        self.0.with(|s| s.take(slot))
    }
}

impl Requests for Lean {
    type Request = LeanRequest;
    type Queue = Queue;
    fn create_queue(&self, _: QueueOwner) -> Result<Queue, NtStatus> {
        Ok(Arc::new(SpinLock::new(VecDeque::new())))
    }
    fn forward(
        &self,
        q: &Queue,
        r: LeanRequest,
        i: PendInfo,
    ) -> Result<(), (LeanRequest, NtStatus)> {
        q.with(|v| v.push_back((r, i)));
        Ok(())
    }
    fn retrieve(&self, q: &Queue, k: PendKind) -> Option<(LeanRequest, PendInfo)> {
        q.with(|v| {
            let p = v.iter().position(|(_, i)| i.kind == k)?;
            v.remove(p)
        })
    }
    fn retrieve_tagged(&self, q: &Queue, k: PendKind, tag: u64) -> Option<(LeanRequest, PendInfo)> {
        q.with(|v| {
            let p = v.iter().position(|(_, i)| i.kind == k && i.tag == tag)?;
            v.remove(p)
        })
    }
    fn retrieve_any(&self, q: &Queue) -> Option<(LeanRequest, PendInfo)> {
        q.with(|v| {
            let p = v.iter().position(|(_, i)| i.kind != PendKind::NotifyDreq)?;
            v.remove(p)
        })
    }
    fn write_output(&self, r: &mut LeanRequest, bytes: &[u8]) -> usize {
        let n = bytes.len().min(r.out.len());
        r.out[..n].copy_from_slice(&bytes[..n]);
        n
    }
    fn complete(&self, mut r: LeanRequest, status: NtStatus, information: usize) {
        r.out.truncate(information);
        let done = Completion {
            status,
            output: r.out,
        };
        self.0.with(|s| s.slots[r.slot] = Some(done));
    }
    fn delete_queue(&self, _: Queue) {}
}

type LeanCm = ManagerPort<LeanPlatform>;
type LeanNdi = Ndi<LeanPlatform, LeanCm, Lean>;

/// One node: a dispatcher over the real CM.
struct LeanNode {
    ndi: Arc<LeanNdi>,
    requests: Lean,
    gid: [u8; 16],
}

/// An open file of a lean node.
pub struct LeanDevice {
    ndi: Arc<LeanNdi>,
    requests: Lean,
    file: Arc<File<LeanPlatform, Lean>>,
}

impl Device for LeanDevice {
    type Token = usize;
    fn ioctl(&self, code: u32, input: &[u8], output_len: usize) -> Submitted<usize> {
        let slot = self.requests.0.with(Slab::open);
        let r = LeanRequest {
            out: vec![0; output_len],
            slot,
        };
        match self.ndi.dispatch(&self.file, code, input, output_len, r) {
            Dispatched::Complete { .. } => Submitted::Complete(
                self.requests
                    .take(slot)
                    .unwrap_or(Completion::status(NtStatus::UNSUCCESSFUL)),
            ),
            Dispatched::Pending => Submitted::Pending(slot),
        }
    }
    fn poll(&self, token: &mut usize, _: Option<&Waker>) -> Option<Completion> {
        self.requests.take(*token)
    }
    fn wait(&self, token: usize) -> Completion {
        // Nothing here blocks: a pended request completes only when the
        // world is stepped, which the benchmark does before waiting.
        self.requests
            .take(token)
            .unwrap_or(Completion::status(NtStatus::UNSUCCESSFUL))
    }
    fn cancel(&self, _: &usize) {}
    fn close(&self) {
        self.ndi.close(&self.file);
    }
}

/// A MAD on the wire: from, to, bytes.
type Wire = Arc<SpinLock<VecDeque<([u8; 16], [u8; 16], [u8; 256])>>>;

/// Lean nodes on one MAD queue and one virtual clock.
pub struct LeanWorld {
    platform: LeanPlatform,
    wire: Wire,
    nodes: Vec<LeanNode>,
}

impl LeanWorld {
    /// A perfect wire: MADs arrive in order, at once.
    pub fn new() -> Self {
        let platform = LeanPlatform::default();
        platform.0.set_now(Instant(1_000_000_000));
        LeanWorld {
            platform,
            wire: Arc::new(SpinLock::new(VecDeque::new())),
            nodes: Vec::new(),
        }
    }

    /// Adds a node with `gid` and `adapter`; returns its index.
    pub fn add_node(&mut self, gid: [u8; 16], adapter: AdapterInfo) -> usize {
        let manager = CepManager::new(
            self.platform.clone(),
            ManagerConfig {
                ca_guid: self.nodes.len() as u64 + 1,
                ..ManagerConfig::default()
            },
        );
        let cm = ManagerPort::new(manager, 1);
        let wire = Arc::clone(&self.wire);
        cm.bind_mads(Arc::new(move |o: &Outgoing| {
            wire.with(|w| w.push_back((gid, o.to.gid.0, o.mad)));
            true
        }));
        let requests = Lean(Arc::new(SpinLock::new(Slab::default())));
        let ndi = Arc::new(Ndi::new(
            self.platform.clone(),
            cm,
            requests.clone(),
            vec![adapter],
        ));
        let weak = Arc::downgrade(&ndi);
        ndi.cm().bind_events(Arc::new(move |owner, event| {
            if let Some(ndi) = weak.upgrade() {
                ndi.on_cm_event(owner, event);
            }
        }));
        self.nodes.push(LeanNode { ndi, requests, gid });
        self.nodes.len() - 1
    }

    /// Opens a file on node `i`.
    pub fn open(&self, i: usize) -> LeanDevice {
        let n = &self.nodes[i];
        LeanDevice {
            ndi: Arc::clone(&n.ndi),
            requests: n.requests.clone(),
            file: n.ndi.open(),
        }
    }

    fn now(&self) -> Instant {
        self.platform.now()
    }

    /// Delivers every MAD on the wire and fires due timers.
    fn run_due(&self) -> bool {
        let now = self.now();
        let mut any = false;
        loop {
            let next = self.wire.with(VecDeque::pop_front);
            let Some((from, to, mad)) = next else { break };
            any = true;
            if let Some(n) = self.nodes.iter().find(|n| n.gid == to) {
                let from = MadAddress {
                    gid: Gid(from),
                    port: 1,
                };
                n.ndi.cm().receive(from, &mad);
            }
        }
        for n in &self.nodes {
            if n.ndi.cm().next_timer().is_some_and(|t| t <= now) {
                n.ndi.cm().fire_timers(now);
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
            .min();
        match next {
            Some(at) if at <= self.now() + limit => {
                self.platform.0.set_now(at);
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
