//! Test doubles for this crate's tests, the ndi fuzz target and the
//! benchmarks: a scripted CM that records every call and a manual-queue
//! model that lets a test cancel a queued request the way the framework
//! does. Never used by the driver or the host device.

use crate::NdiError;
use crate::abi::{NdcmMadAddress, NtStatus};
use crate::cm_port::{AcceptSpec, CmPort, ConnectSpec, ListenSpec, PortSpace};
use crate::requests::{PendInfo, PendKind, QueueOwner, Requests};
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use ndcm_cm::cid::Cid;
use ndcm_cm::platform::{Duration, QueuedSpinLock, SpinLock};

/// A CM call the dispatcher made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmCall {
    /// create(owner) → cid.
    Create(Cid, QueueOwner),
    /// adopt(cid, owner).
    Adopt(Cid, QueueOwner),
    /// listen(cid, port space, port).
    Listen(Cid, PortSpace, u16),
    /// connect(cid, qpn, responder resources, initiator depth, private data).
    Connect(Cid, u32, u8, u8, Vec<u8>),
    /// accept(cid, qpn, responder resources, initiator depth, private data).
    Accept(Cid, u32, u8, u8, Vec<u8>),
    /// rtu(cid).
    Rtu(Cid),
    /// reject(cid, reason, private data).
    Reject(Cid, u16, Vec<u8>),
    /// dreq(cid).
    Dreq(Cid),
    /// drep(cid).
    Drep(Cid),
    /// destroy(cid).
    Destroy(Cid),
    /// submit_mad(port, first MAD byte).
    Mad(u8, u8),
}

#[derive(Default)]
struct CmState {
    next: u32,
    calls: Vec<CmCall>,
    live: BTreeSet<u32>,
    listens: BTreeSet<(u32, PortSpace, u16)>,
    listen_of: BTreeMap<u32, (u32, PortSpace, u16)>,
    /// The file owning each CID created or adopted (incoming CIDs have
    /// none until adopted).
    owners: BTreeMap<u32, u64>,
    fail_connect: Option<NdiError>,
    fail_accept: Option<NdiError>,
}

impl CmState {
    /// The real CM's owner check: a CID owned by another file is not found.
    fn check(&self, file: u64, cid: Cid) -> Result<(), NdiError> {
        match self.owners.get(&cid.0) {
            Some(&f) if f != file => Err(NdiError::InvalidHandle),
            _ => Ok(()),
        }
    }
}

/// A CM that records calls, keeps a set of live CIDs (for leak checks),
/// refuses calls naming a file that does not own the CID (as the real CM
/// does) and can be told to fail the next connect or accept.
pub struct ScriptedCm {
    state: SpinLock<CmState>,
}

impl ScriptedCm {
    /// A fresh CM.
    pub fn new() -> Self {
        ScriptedCm {
            state: SpinLock::new(CmState::default()),
        }
    }
    /// Every call so far.
    pub fn calls(&self) -> Vec<CmCall> {
        self.state.with(|s| s.calls.clone())
    }
    /// Forgets the recorded calls.
    pub fn clear_calls(&self) {
        self.state.with(|s| s.calls.clear());
    }
    /// CIDs created or adopted and not destroyed.
    pub fn live(&self) -> usize {
        self.state.with(|s| s.live.len())
    }
    /// Makes the next `connect` fail with `e` (route resolution).
    pub fn fail_next_connect(&self, e: NdiError) {
        self.state.with(|s| s.fail_connect = Some(e));
    }
    /// Makes the next `accept` fail with `e`: the CM refusing the REP
    /// because the connection left REQ_RCVD (REJ or timeout received, or
    /// destroyed) after NDI checked its state.
    pub fn fail_next_accept(&self, e: NdiError) {
        self.state.with(|s| s.fail_accept = Some(e));
    }
    /// A CID as the CM would create for a REQ on a listener (not yet adopted).
    pub fn incoming(&self) -> Cid {
        self.state.with(|s| {
            s.next += 1;
            let _ = s.live.insert(s.next);
            Cid(s.next)
        })
    }
    fn record(&self, file: u64, cid: Cid, call: CmCall) -> Result<(), NdiError> {
        self.state.with(|s| {
            s.check(file, cid)?;
            s.calls.push(call);
            Ok(())
        })
    }
}

impl CmPort for ScriptedCm {
    type Effects = ();
    fn create(&self, owner: QueueOwner) -> Result<Cid, NdiError> {
        self.state.with(|s| {
            s.next += 1;
            let _ = s.live.insert(s.next);
            let _ = s.owners.insert(s.next, owner.instance);
            s.calls.push(CmCall::Create(Cid(s.next), owner));
            Ok(Cid(s.next))
        })
    }
    fn adopt(&self, cid: Cid, owner: QueueOwner) -> Result<(), NdiError> {
        self.record(owner.instance, cid, CmCall::Adopt(cid, owner))?;
        self.state.with(|s| s.owners.insert(cid.0, owner.instance));
        Ok(())
    }
    fn listen(&self, file: u64, cid: Cid, spec: &ListenSpec, _: &mut ()) -> Result<(), NdiError> {
        self.state.with(|s| {
            s.check(file, cid)?;
            let key = (spec.adapter, spec.space, spec.port);
            if !s.listens.insert(key) {
                return Err(NdiError::SharingViolation);
            }
            let _ = s.listen_of.insert(cid.0, key);
            s.calls.push(CmCall::Listen(cid, spec.space, spec.port));
            Ok(())
        })
    }
    fn connect(
        &self,
        file: u64,
        cid: Cid,
        spec: &ConnectSpec<'_>,
        _: &mut (),
    ) -> Result<(), NdiError> {
        self.state.with(|s| {
            s.check(file, cid)?;
            if let Some(e) = s.fail_connect.take() {
                return Err(e);
            }
            s.calls.push(CmCall::Connect(
                cid,
                spec.qpn,
                spec.responder_resources,
                spec.initiator_depth,
                spec.private_data.to_vec(),
            ));
            Ok(())
        })
    }
    fn accept(
        &self,
        file: u64,
        cid: Cid,
        spec: &AcceptSpec<'_>,
        _: &mut (),
    ) -> Result<(), NdiError> {
        let call = CmCall::Accept(
            cid,
            spec.qpn,
            spec.responder_resources,
            spec.initiator_depth,
            spec.private_data.to_vec(),
        );
        self.state.with(|s| {
            s.check(file, cid)?;
            if let Some(e) = s.fail_accept.take() {
                return Err(e);
            }
            s.calls.push(call);
            Ok(())
        })
    }
    fn rtu(&self, file: u64, cid: Cid, _: &mut ()) -> Result<(), NdiError> {
        self.record(file, cid, CmCall::Rtu(cid))
    }
    fn reject(
        &self,
        file: u64,
        cid: Cid,
        reason: u16,
        pdata: &[u8],
        _: &mut (),
    ) -> Result<(), NdiError> {
        self.record(file, cid, CmCall::Reject(cid, reason, pdata.to_vec()))
    }
    fn dreq(&self, file: u64, cid: Cid, _: &mut ()) -> Result<(), NdiError> {
        self.record(file, cid, CmCall::Dreq(cid))
    }
    fn drep(&self, file: u64, cid: Cid, _: &mut ()) -> Result<(), NdiError> {
        self.record(file, cid, CmCall::Drep(cid))
    }
    fn destroy(&self, file: u64, cid: Cid, _: &mut ()) {
        self.state.with(|s| {
            if s.check(file, cid).is_err() {
                return;
            }
            let _ = s.live.remove(&cid.0);
            let _ = s.owners.remove(&cid.0);
            if let Some(key) = s.listen_of.remove(&cid.0) {
                let _ = s.listens.remove(&key);
            }
            s.calls.push(CmCall::Destroy(cid));
        });
    }
    fn timewait(&self, _: u64, _: Cid) -> Duration {
        Duration::from_millis(1)
    }
    fn submit_mad(
        &self,
        address: &NdcmMadAddress,
        mad: &[u8; 256],
        _: &mut (),
    ) -> Result<(), NdiError> {
        // Only the management class byte is checked: CM class 0x07.
        if mad.get(1) != Some(&0x07) {
            return Err(NdiError::InvalidParameter);
        }
        self.state
            .with(|s| s.calls.push(CmCall::Mad(address.port, mad[1])));
        Ok(())
    }
    fn perform(&self, _: ()) {}
}

/// A request of [`QueueRequests`]: an id and an output capacity.
#[derive(Debug)]
pub struct TestRequest {
    /// Identity, for the completion log.
    pub id: u64,
    /// Output buffer (its length is the output capacity).
    pub output: Vec<u8>,
    cancelled: bool,
}

impl TestRequest {
    /// A request with `output_len` bytes of output buffer.
    pub fn new(id: u64, output_len: usize) -> Self {
        TestRequest {
            id,
            output: alloc::vec![0; output_len],
            cancelled: false,
        }
    }
    /// A request user mode has already cancelled (forward must refuse it).
    pub fn cancelled(id: u64) -> Self {
        TestRequest {
            cancelled: true,
            ..TestRequest::new(id, 0)
        }
    }
}

/// One completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Request id.
    pub id: u64,
    /// Status.
    pub status: NtStatus,
    /// Information.
    pub information: usize,
    /// Output bytes written (`information` of them).
    pub output: Vec<u8>,
}

#[derive(Default)]
struct QueuesState {
    next: u64,
    queues: BTreeMap<u64, (QueueOwner, VecDeque<(TestRequest, PendInfo)>)>,
    completions: Vec<Completion>,
}

/// Manual queues in memory. `cancel` plays the framework's part: it removes
/// a queued request and returns it with its owner, for the test to hand to
/// `Ndi::canceled_on_queue`.
pub struct QueueRequests {
    state: SpinLock<QueuesState>,
}

impl Default for QueueRequests {
    fn default() -> Self {
        Self::new()
    }
}

impl Default for ScriptedCm {
    fn default() -> Self {
        Self::new()
    }
}

impl QueueRequests {
    /// No queues.
    pub fn new() -> Self {
        QueueRequests {
            state: SpinLock::new(QueuesState::default()),
        }
    }
    /// Every completion so far, in order.
    pub fn completions(&self) -> Vec<Completion> {
        self.state.with(|s| s.completions.clone())
    }
    /// The completion of request `id`, if it completed (asserts at most one).
    pub fn completion(&self, id: u64) -> Option<Completion> {
        self.state.with(|s| {
            let mut it = s.completions.iter().filter(|c| c.id == id);
            let first = it.next().cloned();
            debug_assert!(it.next().is_none(), "request {id} completed twice");
            first
        })
    }
    /// Live queues and queued requests.
    pub fn live(&self) -> (usize, usize) {
        self.state.with(|s| {
            (
                s.queues.len(),
                s.queues.values().map(|(_, q)| q.len()).sum(),
            )
        })
    }
    /// The framework cancels request `id` while queued: removes it.
    pub fn cancel(&self, id: u64) -> Option<(QueueOwner, TestRequest, PendInfo)> {
        self.state.with(|s| {
            for (owner, q) in s.queues.values_mut() {
                if let Some(pos) = q.iter().position(|(r, _)| r.id == id) {
                    let (r, info) = q.remove(pos)?;
                    return Some((*owner, r, info));
                }
            }
            None
        })
    }
    /// Ids of queued requests.
    pub fn queued(&self) -> Vec<u64> {
        self.state.with(|s| {
            s.queues
                .values()
                .flat_map(|(_, q)| q.iter().map(|(r, _)| r.id))
                .collect()
        })
    }
}

impl Requests for QueueRequests {
    type Request = TestRequest;
    type Queue = u64;

    fn create_queue(&self, owner: QueueOwner) -> Result<u64, NtStatus> {
        self.state.with(|s| {
            s.next += 1;
            let _ = s.queues.insert(s.next, (owner, VecDeque::new()));
            Ok(s.next)
        })
    }
    fn forward(
        &self,
        queue: &u64,
        request: TestRequest,
        info: PendInfo,
    ) -> Result<(), (TestRequest, NtStatus)> {
        if request.cancelled {
            return Err((request, NtStatus::CANCELLED));
        }
        self.state.with(|s| match s.queues.get_mut(queue) {
            Some((_, q)) => {
                q.push_back((request, info));
                Ok(())
            }
            None => Err((request, NtStatus::INVALID_DEVICE_STATE)),
        })
    }
    fn retrieve(&self, queue: &u64, kind: PendKind) -> Option<(TestRequest, PendInfo)> {
        self.state.with(|s| {
            let (_, q) = s.queues.get_mut(queue)?;
            let pos = q.iter().position(|(_, i)| i.kind == kind)?;
            q.remove(pos)
        })
    }
    fn retrieve_tagged(
        &self,
        queue: &u64,
        kind: PendKind,
        tag: u64,
    ) -> Option<(TestRequest, PendInfo)> {
        self.state.with(|s| {
            let (_, q) = s.queues.get_mut(queue)?;
            let pos = q.iter().position(|(_, i)| i.kind == kind && i.tag == tag)?;
            q.remove(pos)
        })
    }
    fn retrieve_any(&self, queue: &u64) -> Option<(TestRequest, PendInfo)> {
        self.state.with(|s| {
            let (_, q) = s.queues.get_mut(queue)?;
            let pos = q.iter().position(|(_, i)| i.kind != PendKind::NotifyDreq)?;
            q.remove(pos)
        })
    }
    fn write_output(&self, request: &mut TestRequest, bytes: &[u8]) -> usize {
        let n = bytes.len().min(request.output.len());
        if let (Some(dst), Some(src)) = (request.output.get_mut(..n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
        n
    }
    fn complete(&self, request: TestRequest, status: NtStatus, information: usize) {
        let output = request
            .output
            .get(..information)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        self.state.with(|s| {
            s.completions.push(Completion {
                id: request.id,
                status,
                information,
                output,
            })
        });
    }
    fn delete_queue(&self, queue: u64) {
        self.state.with(|s| {
            let _ = s.queues.remove(&queue);
        });
    }
}
