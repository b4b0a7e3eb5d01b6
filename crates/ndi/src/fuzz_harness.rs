//! The IOCTL-dispatch fuzz harness (fuzz target `ioctl_dispatch`, and the
//! stable-toolchain runner `examples/fuzz_ioctl.rs`): interprets bytes as a
//! sequence of (IOCTL code, input bytes, output length), framework cancels,
//! CM events and file closes against a dispatcher on the scripted CM and
//! in-memory queues, then closes everything and checks that every request
//! completed exactly once and nothing leaked. Violations are returned as
//! errors, never panics; the fuzz target turns them into crashes.

use crate::abi::*;
use crate::cm_port::{AdapterInfo, CmEvent, IpAddr, IpEndpoint, ReqInfo};
use crate::requests::QueueOwner;
use crate::testing::{QueueRequests, ScriptedCm, TestRequest};
use crate::{Dispatched, Ndi};
use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use ndcm_cm::platform::{Duration, TestPlatform};

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a run did.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunStats {
    /// IOCTLs dispatched.
    pub ioctls: usize,
    /// Of which pended.
    pub pended: usize,
    /// Framework cancels delivered.
    pub cancels: usize,
    /// CM events delivered.
    pub events: usize,
}

type FuzzNdi = Ndi<TestPlatform, ScriptedCm, QueueRequests>;

/// The two nodes' addresses.
const NODE_IPS: [[u8; 4]; 2] = [[10, 0, 0, 1], [10, 0, 0, 2]];

fn adapter() -> AdapterInfo {
    adapter_at(NODE_IPS[0])
}

fn adapter_at(ip: [u8; 4]) -> AdapterInfo {
    AdapterInfo {
        addresses: alloc::vec![IpAddr::V4(ip), IpAddr::V6([0xfe; 16])],
        max_inbound_read_limit: 16,
        max_outbound_read_limit: 8,
        max_qp_depth: 64,
        max_sge: 4,
        max_inline: 64,
    }
}

fn pick(pool: &[u64], b: u8) -> u64 {
    if pool.is_empty() {
        return u64::from(b);
    }
    pool.get(usize::from(b) % pool.len()).copied().unwrap_or(0)
}

fn put(v: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(d) = v.get_mut(at..at + bytes.len()) {
        d.copy_from_slice(bytes);
    }
}

/// A plausible input for `op`: right header and size, handles from the
/// pool, the rest from the fuzzer (with some bytes left raw).
fn shaped(op: Ioctl, b: &mut Bytes<'_>, pool: &[u64], ips: ([u8; 4], [u8; 4])) -> Vec<u8> {
    let (fixed, pdata_at) = match op {
        Ioctl::Noop | Ioctl::MadGetOutbound => (8, None),
        Ioctl::OpenAdapter => (16, None),
        Ioctl::CreateQp => (40, None),
        Ioctl::ModifyQp | Ioctl::GetReqCm => (24, None),
        Ioctl::ListenCm => (48, None),
        Ioctl::ReqCm => (96, Some(36)),
        Ioctl::RepCm => (40, Some(32)),
        Ioctl::RejCm => (24, Some(16)),
        Ioctl::MadSubmitInbound => (296, None),
        _ => (16, None),
    };
    let mut v = alloc::vec![0u8; fixed];
    let mode = b.u8();
    put(&mut v, 0, &crate::abi::NDCM_ABI_VERSION.to_le_bytes());
    // Handles at 8 and, for two-handle inputs, 16.
    if fixed >= 16 && !matches!(op, Ioctl::OpenAdapter | Ioctl::MadSubmitInbound) {
        put(&mut v, 8, &pick(pool, b.u8()).to_le_bytes());
    }
    if matches!(op, Ioctl::GetReqCm | Ioctl::ReqCm | Ioctl::RepCm) {
        put(&mut v, 16, &pick(pool, b.u8()).to_le_bytes());
    }
    match op {
        Ioctl::CreateQp => {
            for at in [16, 20, 24, 28] {
                put(&mut v, at, &u32::from(b.u8() % 6).to_le_bytes());
            }
        }
        Ioctl::ModifyQp => put(&mut v, 16, &u32::from(b.u8() % 6).to_le_bytes()),
        Ioctl::ListenCm => {
            put(&mut v, 16, &u32::from(b.u8() % 4).to_le_bytes());
            put(&mut v, 20, &6u32.to_le_bytes());
            put(&mut v, 24, &2u16.to_le_bytes());
            put(&mut v, 26, &u16::from(b.u8() % 4).to_be_bytes());
        }
        Ioctl::ReqCm => {
            put(&mut v, 24, &u32::from(b.u8()).to_le_bytes());
            put(&mut v, 32, &6u32.to_le_bytes());
            put(&mut v, 48, &2u16.to_le_bytes());
            put(&mut v, 56, &ips.0);
            put(&mut v, 72, &2u16.to_le_bytes());
            put(&mut v, 74, &u16::from(1 + b.u8() % 3).to_be_bytes());
            put(&mut v, 80, &ips.1);
        }
        Ioctl::MadSubmitInbound => {
            put(&mut v, 34, &[1]);
            put(&mut v, 41, &[b.u8() & 0x07]);
        }
        _ => {}
    }
    if let Some(at) = pdata_at {
        let len = usize::from(b.u8() % 64);
        put(&mut v, at, &(len as u32).to_le_bytes());
        put(&mut v, at + 4, &(fixed as u32).to_le_bytes());
        v.extend(core::iter::repeat_n(0xA5, len));
    }
    // Sometimes corrupt a few bytes (versions, reserved fields, sizes).
    if mode & 0xC0 == 0xC0 {
        for _ in 0..(mode & 3) {
            let at = usize::from(b.u8()) % v.len().max(1);
            let x = b.u8();
            if let Some(p) = v.get_mut(at) {
                *p ^= x;
            }
        }
    }
    if mode & 0x30 == 0x30 {
        let cut = usize::from(b.u8()) % (v.len() + 1);
        v.truncate(cut);
    }
    v
}

fn event(b: &mut Bytes<'_>, cm: &ScriptedCm) -> CmEvent {
    match b.u8() % 12 {
        0 => CmEvent::ReqReceived {
            cid: cm.incoming(),
            req: ReqInfo {
                local: IpEndpoint {
                    addr: IpAddr::V4([10, 0, 0, 1]),
                    port: 1,
                },
                remote: IpEndpoint {
                    addr: IpAddr::V4([10, 0, 0, 2]),
                    port: 2,
                },
                responder_resources: b.u8(),
                initiator_depth: b.u8(),
                private_data: [1; 56],
            },
        },
        1 => CmEvent::RepReceived {
            responder_resources: b.u8(),
            initiator_depth: b.u8(),
            private_data: [2; 196],
        },
        2 => CmEvent::RtuReceived,
        3 => CmEvent::Established,
        4 => CmEvent::RejReceived {
            reason: u16::from(b.u8() % 30),
            private_data: [3; 148],
        },
        5 => CmEvent::DreqReceived,
        6 => CmEvent::DrepReceived,
        7 => CmEvent::ReqTimeout,
        8 => CmEvent::RepTimeout,
        9 => CmEvent::DreqTimeout,
        10 => CmEvent::TimewaitExit,
        _ => CmEvent::RejReceived {
            reason: 4,
            private_data: [4; 148],
        },
    }
}

/// Runs one sequence. `Err` describes a violated property.
pub fn run(data: &[u8]) -> Result<RunStats, String> {
    let ndi: FuzzNdi = Ndi::new(
        TestPlatform::new(),
        ScriptedCm::new(),
        QueueRequests::new(),
        alloc::vec![adapter()],
    );
    let mut b = Bytes(data);
    let mut files = alloc::vec![ndi.open(), ndi.open()];
    let mut pool: Vec<u64> = Vec::new();
    let mut issued: BTreeSet<u64> = BTreeSet::new();
    let mut next = 1u64;
    let mut stats = RunStats::default();
    let mut steps = 0;
    while !b.is_empty() && steps < 400 {
        steps += 1;
        let which = usize::from(b.u8() % 2);
        let Some(file) = files.get(which).cloned() else {
            continue;
        };
        match b.u8() % 10 {
            0..=5 => {
                let op_byte = b.u8();
                let (code, input) = if op_byte == 0xFF {
                    let code = b.u32();
                    let len = usize::from(b.u8());
                    (code, b.take(len).to_vec())
                } else {
                    let op = *Ioctl::ALL
                        .get(usize::from(op_byte) % Ioctl::ALL.len())
                        .unwrap_or(&Ioctl::Noop);
                    (
                        op.code(),
                        shaped(op, &mut b, &pool, (NODE_IPS[0], NODE_IPS[1])),
                    )
                };
                let expected = match Ioctl::from_code(code) {
                    Some(Ioctl::OpenAdapter) => 24,
                    Some(Ioctl::CreateQp | Ioctl::ListenCm | Ioctl::CepGetPdata) => 16,
                    Some(Ioctl::ModifyQp | Ioctl::CreateCep) => 8,
                    Some(Ioctl::MadGetOutbound) => 288,
                    Some(Ioctl::CepGetAddress) => 48,
                    _ => 0,
                };
                let out_len = match b.u8() % 8 {
                    0 => usize::from(b.u8()) * 2,
                    1 => 16 + usize::from(b.u8()),
                    _ => expected,
                };
                let id = next;
                next += 1;
                let _ = issued.insert(id);
                stats.ioctls += 1;
                match ndi.dispatch(&file, code, &input, out_len, TestRequest::new(id, out_len)) {
                    Dispatched::Pending => stats.pended += 1,
                    Dispatched::Complete {
                        status,
                        information,
                    } => {
                        if status == NtStatus::PENDING || information > out_len {
                            return Err(format!("bad completion {status:?} {information}"));
                        }
                        if status.is_success()
                            && information >= 8
                            && let Some(c) = ndi.requests().completion(id)
                            && let Some(h) = c.output.get(0..8)
                        {
                            let mut a = [0u8; 8];
                            a.copy_from_slice(h);
                            pool.push(u64::from_le_bytes(a));
                        }
                    }
                }
            }
            6 => {
                let queued = ndi.requests().queued();
                if let Some(id) = queued.get(usize::from(b.u8()) % queued.len().max(1))
                    && let Some((owner, r, info)) = ndi.requests().cancel(*id)
                {
                    stats.cancels += 1;
                    ndi.canceled_on_queue(owner, r, info);
                }
            }
            7 | 8 => {
                let object = pick(&pool, b.u8());
                let ev = event(&mut b, ndi.cm());
                stats.events += 1;
                ndi.on_cm_event(
                    QueueOwner {
                        instance: file.id(),
                        object,
                    },
                    ev,
                );
            }
            _ => {
                if b.u8() % 4 == 0 {
                    ndi.close(&file);
                    if let Some(slot) = files.get_mut(which) {
                        *slot = ndi.open();
                    }
                } else {
                    ndi.platform()
                        .advance(Duration::from_micros(u64::from(b.u8()) * 50));
                }
            }
        }
    }
    let held: Vec<Arc<_>> = core::mem::take(&mut files);
    for f in &held {
        ndi.close(f);
    }
    // Every request completed exactly once; nothing is left anywhere.
    let completions = ndi.requests().completions();
    let mut seen = BTreeSet::new();
    for c in &completions {
        if !seen.insert(c.id) {
            return Err(format!("request {} completed twice", c.id));
        }
        if c.status == NtStatus::PENDING {
            return Err(format!("request {} completed with STATUS_PENDING", c.id));
        }
    }
    if seen != issued {
        return Err(format!(
            "{} requests issued, {} completed",
            issued.len(),
            seen.len()
        ));
    }
    if ndi.requests().live() != (0, 0) {
        return Err(format!("queues left: {:?}", ndi.requests().live()));
    }
    if ndi.cm().live() != 0 {
        return Err(format!("CM connections leaked: {}", ndi.cm().live()));
    }
    let s = ndi.stats();
    if s.ports != 0 || s.files != 0 {
        return Err(format!("leak: {s:?}"));
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    #[test]
    fn harness_runs_clean_on_a_few_fixed_inputs() {
        for seed in 0u8..64 {
            let data: alloc::vec::Vec<u8> = (0..2000u32)
                .map(|i| (i.wrapping_mul(2654435761) >> (seed % 24)) as u8 ^ seed)
                .collect();
            super::run(&data).unwrap();
        }
    }

    #[test]
    fn two_node_harness_runs_clean_on_a_few_fixed_inputs() {
        for seed in 0u8..32 {
            let data: alloc::vec::Vec<u8> = (0..3000u32)
                .map(|i| (i.wrapping_mul(2654435761) >> (seed % 24)) as u8 ^ seed)
                .collect();
            super::two_nodes::run(&data).unwrap();
        }
    }
}

/// Two dispatchers on the real CEP manager (`ManagerPort`), joined by a
/// lossy in-harness wire the input controls: IOCTLs on either node,
/// framework cancels, MADs delivered or dropped, time advanced (CM timers
/// fire), files closed. At the end everything is closed and time runs out
/// every retry and timewait; then every request must have completed exactly
/// once and nothing may be left in the dispatchers, the queues or the CMs.
pub mod two_nodes {
    use super::*;
    use crate::cm_adapter::ManagerPort;
    use alloc::collections::VecDeque;
    use ndcm_cm::platform::{Platform, QueuedSpinLock, SpinLock};
    use ndcm_cm::{CepManager, MadAddress, ManagerConfig, Outgoing};
    use ndcm_wire::Gid;

    type RealNdi = Ndi<TestPlatform, ManagerPort<TestPlatform>, QueueRequests>;
    type Wire = Arc<SpinLock<VecDeque<(usize, Outgoing)>>>;

    fn node(index: usize, wire: &Wire) -> Arc<RealNdi> {
        let manager = CepManager::new(TestPlatform::new(), ManagerConfig::default());
        let ip = NODE_IPS.get(index).copied().unwrap_or(NODE_IPS[0]);
        let ndi = Arc::new(Ndi::new(
            TestPlatform::new(),
            ManagerPort::new(manager, 1),
            QueueRequests::new(),
            alloc::vec![adapter_at(ip)],
        ));
        let weak = Arc::downgrade(&ndi);
        ndi.cm().bind_events(Arc::new(move |o, e| {
            if let Some(n) = weak.upgrade() {
                n.on_cm_event(o, e);
            }
        }));
        let w = wire.clone();
        ndi.cm().bind_mads(Arc::new(move |s| {
            w.with(|q| q.push_back((index, s.clone())));
            true
        }));
        ndi
    }

    fn advance(nodes: &[Arc<RealNdi>], by: Duration) {
        for n in nodes {
            n.cm().manager().platform().advance(by);
            n.platform().advance(by);
            n.cm().fire_timers(n.cm().manager().platform().now());
        }
    }

    /// Delivers (or drops) up to `n` MADs.
    fn pump(nodes: &[Arc<RealNdi>], wire: &Wire, n: usize, drop_mask: u8) -> usize {
        let mut done = 0;
        for i in 0..n {
            let Some((from, out)) = wire.with(|q| q.pop_front()) else {
                break;
            };
            done += 1;
            if drop_mask & (1 << (i % 8)) != 0 {
                continue;
            }
            let to = usize::from(from == 0);
            let src = NODE_IPS.get(from).copied().unwrap_or(NODE_IPS[0]);
            if let Some(node) = nodes.get(to) {
                node.cm().receive(
                    MadAddress {
                        gid: Gid::from_ipv4_octets(src),
                        port: 1,
                    },
                    &out.mad,
                );
            }
        }
        done
    }

    /// Issues one IOCTL whose output starts with a handle; keeps it.
    fn issue(
        ndi: &RealNdi,
        file: &Arc<crate::File<TestPlatform, QueueRequests>>,
        op: Ioctl,
        input: &[u8],
        out_len: usize,
        ids: (&mut BTreeSet<u64>, &mut u64),
    ) -> Option<u64> {
        let id = *ids.1;
        *ids.1 += 1;
        let _ = ids.0.insert(id);
        let _ = ndi.dispatch(
            file,
            op.code(),
            input,
            out_len,
            TestRequest::new(id, out_len),
        );
        let c = ndi.requests().completion(id)?;
        let h = c.output.get(0..8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(h);
        Some(u64::from_le_bytes(a))
    }

    fn setup(
        ndi: &RealNdi,
        file: &Arc<crate::File<TestPlatform, QueueRequests>>,
        pool: &mut Vec<u64>,
        issued: &mut BTreeSet<u64>,
        next: &mut u64,
    ) {
        let hdr = NdcmHeader {
            version: NDCM_ABI_VERSION,
            flags: 0,
        };
        let oa = NdcmOpenAdapterIn {
            header: hdr,
            adapter_index: 0,
            reserved: 0,
        };
        let Some(a) = issue(
            ndi,
            file,
            Ioctl::OpenAdapter,
            &oa.to_bytes(),
            24,
            (issued, next),
        ) else {
            return;
        };
        let cq = NdcmCreateQpIn {
            header: hdr,
            adapter: a,
            send_depth: 4,
            receive_depth: 4,
            send_sge: 1,
            receive_sge: 1,
            inline_data: 0,
            reserved: 0,
        };
        let qp = issue(
            ndi,
            file,
            Ioctl::CreateQp,
            &cq.to_bytes(),
            16,
            (issued, next),
        );
        if let Some(qp) = qp {
            let m = NdcmModifyQpIn {
                header: hdr,
                qp,
                state: NDCM_QP_STATE_INIT,
                reserved: 0,
            };
            let _ = issue(ndi, file, Ioctl::ModifyQp, &m.to_bytes(), 8, (issued, next));
            pool.push(qp);
        }
        let h = NdcmHandleIn {
            header: hdr,
            handle: a,
        };
        if let Some(c) = issue(
            ndi,
            file,
            Ioctl::CreateCep,
            &h.to_bytes(),
            8,
            (issued, next),
        ) {
            pool.push(c);
        }
        pool.push(a);
    }

    /// Runs one sequence on two nodes.
    pub fn run(data: &[u8]) -> Result<RunStats, String> {
        let wire: Wire = Arc::new(SpinLock::new(VecDeque::new()));
        let nodes = [node(0, &wire), node(1, &wire)];
        let mut files = alloc::vec![nodes[0].open(), nodes[1].open()];
        let mut pools: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
        let mut issued: [BTreeSet<u64>; 2] = [BTreeSet::new(), BTreeSet::new()];
        let mut b = Bytes(data);
        let mut next = 1u64;
        let mut stats = RunStats::default();
        let mut steps = 0;
        while !b.is_empty() && steps < 300 {
            steps += 1;
            let n = usize::from(b.u8() % 2);
            let (Some(ndi), Some(file)) = (nodes.get(n), files.get(n).cloned()) else {
                continue;
            };
            let other = usize::from(n == 0);
            let ips = (
                NODE_IPS.get(n).copied().unwrap_or_default(),
                NODE_IPS.get(other).copied().unwrap_or_default(),
            );
            match b.u8() % 8 {
                0..=3 => {
                    let pool = pools.get(n).cloned().unwrap_or_default();
                    let op = *Ioctl::ALL
                        .get(usize::from(b.u8()) % Ioctl::ALL.len())
                        .unwrap_or(&Ioctl::Noop);
                    let input = shaped(op, &mut b, &pool, ips);
                    let out_len = match op {
                        Ioctl::OpenAdapter => 24,
                        Ioctl::CreateQp | Ioctl::ListenCm | Ioctl::CepGetPdata => 16,
                        Ioctl::ModifyQp | Ioctl::CreateCep => 8,
                        Ioctl::MadGetOutbound => 288,
                        _ => 0,
                    };
                    let id = next;
                    next += 1;
                    if let Some(set) = issued.get_mut(n) {
                        let _ = set.insert(id);
                    }
                    stats.ioctls += 1;
                    let d = ndi.dispatch(
                        &file,
                        op.code(),
                        &input,
                        out_len,
                        TestRequest::new(id, out_len),
                    );
                    match d {
                        Dispatched::Pending => stats.pended += 1,
                        Dispatched::Complete {
                            status,
                            information,
                        } => {
                            if status == NtStatus::PENDING || information > out_len {
                                return Err(format!("bad completion {status:?} {information}"));
                            }
                            if status.is_success()
                                && information >= 8
                                && let Some(c) = ndi.requests().completion(id)
                                && let Some(h) = c.output.get(0..8)
                                && let Some(p) = pools.get_mut(n)
                            {
                                let mut a = [0u8; 8];
                                a.copy_from_slice(h);
                                p.push(u64::from_le_bytes(a));
                            }
                        }
                    }
                }
                4 => {
                    let queued = ndi.requests().queued();
                    if let Some(id) = queued.get(usize::from(b.u8()) % queued.len().max(1))
                        && let Some((owner, r, info)) = ndi.requests().cancel(*id)
                    {
                        stats.cancels += 1;
                        ndi.canceled_on_queue(owner, r, info);
                    }
                }
                5 => {
                    let k = usize::from(b.u8() % 8);
                    let mask = if b.u8() % 4 == 0 { b.u8() } else { 0 };
                    stats.events += pump(&nodes, &wire, k, mask);
                }
                6 => advance(&nodes, Duration::from_millis(u64::from(b.u8()) * 20)),
                _ => match b.u8() % 4 {
                    0 => {
                        ndi.close(&file);
                        if let Some(slot) = files.get_mut(n) {
                            *slot = ndi.open();
                        }
                        if let Some(p) = pools.get_mut(n) {
                            p.clear();
                        }
                    }
                    1 | 2 => {
                        // A ready connector: adapter, QP in INIT, connection.
                        let (Some(p), Some(set)) = (pools.get_mut(n), issued.get_mut(n)) else {
                            continue;
                        };
                        setup(ndi, &file, p, set, &mut next);
                    }
                    _ => {}
                },
            }
        }
        for (ndi, f) in nodes.iter().zip(files.iter()) {
            ndi.close(f);
        }
        // Let every retry, timewait and straggling MAD run out.
        for _ in 0..2000 {
            let moved = pump(&nodes, &wire, 64, 0);
            let idle = moved == 0 && nodes.iter().all(|n| n.cm().next_timer().is_none());
            if idle {
                break;
            }
            advance(&nodes, Duration::from_millis(500));
        }
        for (i, ndi) in nodes.iter().enumerate() {
            let completions = ndi.requests().completions();
            let mut seen = BTreeSet::new();
            for c in &completions {
                if !seen.insert(c.id) {
                    return Err(format!("node {i}: request {} completed twice", c.id));
                }
            }
            if Some(&seen) != issued.get(i) {
                return Err(format!("node {i}: issued and completed differ"));
            }
            if ndi.requests().live() != (0, 0) {
                return Err(format!("node {i}: queues left {:?}", ndi.requests().live()));
            }
            let s = ndi.stats();
            if s.ports != 0 || s.files != 0 {
                return Err(format!("node {i}: leak {s:?}"));
            }
            let live = ndi.cm().live_objects();
            if live != 0 {
                return Err(format!("node {i}: {live} CEPs left in the CM"));
            }
        }
        Ok(stats)
    }
}
