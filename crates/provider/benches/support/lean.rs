//! The shipped layers alone, on the same footing as the CM-only benchmark.
//!
//! provider → IOCTL ABI → dispatcher (`ndcm_ndi::Ndi`) → the driver's CM
//! adapter (`ndcm_ndi::cm_adapter::ManagerPort`) → CEP manager → a MAD
//! queue, on the platform the CM-only lifecycle runs on (ndcm-cm's
//! `TestPlatform`: a plain spin lock, a virtual clock). What is left out is
//! what the driver does not ship: the KMDF emulator of ndcm-host, which
//! checks every DDI rule, tracks IRQL per thread and keeps every request for
//! its exactly-once audit. Requests live in a lean model of KMDF's manual
//! queues (a completion slot per request, FIFO queues, no rule book).
//!
//! So the ratio of this lifecycle to the CM-only one is the cost of the ABI
//! layer, as the issue asks, and nothing else.
//!
//! Benchmark support only: no cancellation (nothing here cancels).

use ndcm_cm::platform::{Duration, Instant, Platform, SpinLock, TestPlatform, ThreadId};
use ndcm_cm::{CepManager, MadAddress, ManagerConfig, Outgoing};
use ndcm_ndi::abi::NtStatus;
use ndcm_ndi::cm_adapter::ManagerPort;
use ndcm_ndi::cm_port::AdapterInfo;
use ndcm_ndi::requests::{PendInfo, PendKind, QueueOwner, Requests};
use ndcm_ndi::{Dispatched, File, Ndi};
use ndcm_provider::{Completion, Device, Submitted};
use ndcm_wire::Gid;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
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

/// Where a request's completion lands (the IRP's I/O status block).
type Slot = Arc<Mutex<Option<Completion>>>;

/// A request: its output buffer and where its completion goes.
pub struct LeanRequest {
    out: Vec<u8>,
    done: Slot,
}

/// A manual queue.
type Queue = Arc<Mutex<VecDeque<(LeanRequest, PendInfo)>>>;

/// The lean request model: requests complete into their own slot, queues
/// are plain FIFO lists.
#[derive(Clone, Default)]
pub struct Lean;

fn take(slot: &Slot) -> Option<Completion> {
    slot.lock().expect("lean").take()
}

impl Requests for Lean {
    type Request = LeanRequest;
    type Queue = Queue;
    fn create_queue(&self, _: QueueOwner) -> Result<Queue, NtStatus> {
        Ok(Queue::default())
    }
    fn forward(
        &self,
        q: &Queue,
        r: LeanRequest,
        i: PendInfo,
    ) -> Result<(), (LeanRequest, NtStatus)> {
        q.lock().expect("lean").push_back((r, i));
        Ok(())
    }
    fn retrieve(&self, q: &Queue, k: PendKind) -> Option<(LeanRequest, PendInfo)> {
        let mut v = q.lock().expect("lean");
        let p = v.iter().position(|(_, i)| i.kind == k)?;
        v.remove(p)
    }
    fn retrieve_any(&self, q: &Queue) -> Option<(LeanRequest, PendInfo)> {
        let mut v = q.lock().expect("lean");
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
        *r.done.lock().expect("lean") = Some(Completion {
            status,
            output: r.out,
        });
    }
    fn delete_queue(&self, _: Queue) {}
}

type LeanCm = ManagerPort<LeanPlatform>;
type LeanNdi = Ndi<LeanPlatform, LeanCm, Lean>;

/// One node: a dispatcher over the real CM.
struct LeanNode {
    ndi: Arc<LeanNdi>,
    gid: [u8; 16],
}

/// An open file of a lean node.
pub struct LeanDevice {
    ndi: Arc<LeanNdi>,
    file: Arc<File<LeanPlatform, Lean>>,
}

impl Device for LeanDevice {
    type Token = Slot;
    fn ioctl(&self, code: u32, input: &[u8], output_len: usize) -> Submitted<Slot> {
        let done = Slot::default();
        let r = LeanRequest {
            out: vec![0; output_len],
            done: Arc::clone(&done),
        };
        match self.ndi.dispatch(&self.file, code, input, output_len, r) {
            Dispatched::Complete { .. } => Submitted::Complete(
                take(&done).unwrap_or(Completion::status(NtStatus::UNSUCCESSFUL)),
            ),
            Dispatched::Pending => Submitted::Pending(done),
        }
    }
    fn poll(&self, token: &mut Slot, _: Option<&Waker>) -> Option<Completion> {
        take(token)
    }
    fn wait(&self, token: Slot) -> Completion {
        take(&token).unwrap_or(Completion::status(NtStatus::UNSUCCESSFUL))
    }
    fn cancel(&self, _: &Slot) {}
    fn close(&self) {
        self.ndi.close(&self.file);
    }
}

/// A MAD on the wire: from, to, bytes.
type Wire = Arc<Mutex<VecDeque<([u8; 16], [u8; 16], [u8; 256])>>>;

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
            wire: Arc::default(),
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
            wire.lock()
                .expect("wire")
                .push_back((gid, o.to.gid.0, o.mad));
        }));
        let ndi = Arc::new(Ndi::new(self.platform.clone(), cm, Lean, vec![adapter]));
        let weak = Arc::downgrade(&ndi);
        ndi.cm().bind_events(Arc::new(move |owner, event| {
            if let Some(ndi) = weak.upgrade() {
                ndi.on_cm_event(owner, event);
            }
        }));
        self.nodes.push(LeanNode { ndi, gid });
        self.nodes.len() - 1
    }

    /// Opens a file on node `i`.
    pub fn open(&self, i: usize) -> LeanDevice {
        let n = &self.nodes[i];
        LeanDevice {
            ndi: Arc::clone(&n.ndi),
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
            let next = self.wire.lock().expect("wire").pop_front();
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
