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

fn adapter() -> AdapterInfo {
    AdapterInfo {
        addresses: alloc::vec![IpAddr::V4([10, 0, 0, 1]), IpAddr::V6([0xfe; 16])],
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
fn shaped(op: Ioctl, b: &mut Bytes<'_>, pool: &[u64]) -> Vec<u8> {
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
    put(&mut v, 0, &1u32.to_le_bytes());
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
            put(&mut v, 56, &[10, 0, 0, 1]);
            put(&mut v, 72, &2u16.to_le_bytes());
            put(&mut v, 74, &4791u16.to_be_bytes());
            put(&mut v, 80, &[10, 0, 0, 2]);
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
                    (op.code(), shaped(op, &mut b, &pool))
                };
                let expected = match Ioctl::from_code(code) {
                    Some(Ioctl::OpenAdapter) => 24,
                    Some(Ioctl::CreateQp | Ioctl::ListenCm | Ioctl::CepGetPdata) => 16,
                    Some(Ioctl::ModifyQp | Ioctl::CreateCep) => 8,
                    Some(Ioctl::MadGetOutbound) => 288,
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
}
