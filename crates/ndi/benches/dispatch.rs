//! Validated dispatch cost: a synchronous IOCTL (NOOP, CEP_GET_PDATA) and a
//! pend-then-complete pair (MAD_GET_OUTBOUND pended, completed by an
//! outbound MAD), against a bare function call that copies the same input
//! bytes. Requests here are plain ids on a lean in-memory queue, so the
//! figures are the dispatcher's own work.

use criterion::{Criterion, criterion_group, criterion_main};
use ndcm_cm::platform::{QueuedSpinLock, SpinLock, TestPlatform};
use ndcm_ndi::abi::*;
use ndcm_ndi::cm_port::{AdapterInfo, CmEvent, IpAddr};
use ndcm_ndi::requests::{PendInfo, PendKind, QueueOwner, Requests};
use ndcm_ndi::testing::ScriptedCm;
use ndcm_ndi::{Dispatched, Ndi};
use std::collections::{BTreeMap, VecDeque};
use std::hint::black_box;

type Queues = BTreeMap<u64, VecDeque<(u64, PendInfo)>>;

struct Lean {
    queues: SpinLock<(u64, Queues)>,
}

impl Requests for Lean {
    type Request = u64;
    type Queue = u64;
    fn create_queue(&self, _: QueueOwner) -> Result<u64, NtStatus> {
        Ok(self.queues.with(|(n, m)| {
            *n += 1;
            m.insert(*n, VecDeque::new());
            *n
        }))
    }
    fn forward(&self, q: &u64, r: u64, i: PendInfo) -> Result<(), (u64, NtStatus)> {
        self.queues.with(|(_, m)| match m.get_mut(q) {
            Some(v) => {
                v.push_back((r, i));
                Ok(())
            }
            None => Err((r, NtStatus::CANCELLED)),
        })
    }
    fn retrieve(&self, q: &u64, k: PendKind) -> Option<(u64, PendInfo)> {
        self.queues.with(|(_, m)| {
            let v = m.get_mut(q)?;
            let p = v.iter().position(|(_, i)| i.kind == k)?;
            v.remove(p)
        })
    }
    fn retrieve_tagged(&self, q: &u64, k: PendKind, tag: u64) -> Option<(u64, PendInfo)> {
        self.queues.with(|(_, m)| {
            let v = m.get_mut(q)?;
            let p = v.iter().position(|(_, i)| i.kind == k && i.tag == tag)?;
            v.remove(p)
        })
    }
    fn retrieve_any(&self, q: &u64) -> Option<(u64, PendInfo)> {
        self.queues.with(|(_, m)| {
            let v = m.get_mut(q)?;
            let p = v.iter().position(|(_, i)| i.kind != PendKind::NotifyDreq)?;
            v.remove(p)
        })
    }
    fn write_output(&self, _: &mut u64, bytes: &[u8]) -> usize {
        black_box(bytes).len()
    }
    fn complete(&self, r: u64, s: NtStatus, i: usize) {
        black_box((r, s, i));
    }
    fn delete_queue(&self, q: u64) {
        self.queues.with(|(_, m)| m.remove(&q));
    }
}

fn hdr() -> NdcmHeader {
    NdcmHeader {
        version: ndcm_ndi::abi::NDCM_ABI_VERSION,
        flags: 0,
    }
}

#[inline(never)]
fn bare_copy(input: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    let n = input.len().min(16);
    out[..n].copy_from_slice(&input[..n]);
    out
}

fn bench(c: &mut Criterion) {
    let ndi = Ndi::new(
        TestPlatform::new(),
        ScriptedCm::new(),
        Lean {
            queues: SpinLock::new((0, BTreeMap::new())),
        },
        vec![AdapterInfo {
            addresses: vec![IpAddr::V4([10, 0, 0, 1])],
            max_inbound_read_limit: 16,
            max_outbound_read_limit: 16,
            max_qp_depth: 64,
            max_sge: 4,
            max_inline: 0,
        }],
    );
    let f = ndi.open();
    let run = |code: u32, input: &[u8], out: usize| ndi.dispatch(&f, code, input, out, 1);
    let oa = NdcmOpenAdapterIn {
        header: hdr(),
        adapter_index: 0,
        reserved: 0,
    }
    .to_bytes();
    assert!(matches!(
        run(Ioctl::OpenAdapter.code(), &oa, 24),
        Dispatched::Complete {
            status: NtStatus::SUCCESS,
            ..
        }
    ));
    // Handles are deterministic: rebuild them the way the table issues them.
    let salt = (((f.id().wrapping_mul(0x9E37_79B9)) >> 16) as u16 | 1) as u64;
    let handle = |kind: u64| (kind << 56) | (salt << 40) | (1 << 16);
    let adapter = handle(1);
    let cep_in = NdcmHandleIn {
        header: hdr(),
        handle: adapter,
    }
    .to_bytes();
    assert!(matches!(
        run(Ioctl::CreateCep.code(), &cep_in, 8),
        Dispatched::Complete {
            status: NtStatus::SUCCESS,
            ..
        }
    ));
    let conn = handle(3);
    // Give the connection private data through a passive REQ.
    let listen = NdcmListenIn {
        header: hdr(),
        adapter,
        backlog: 1,
        protocol: NDCM_PROTOCOL_TCP,
        local: NdcmAddress {
            family: NDCM_AF_INET,
            port_be: 7u16.to_be(),
            reserved: 0,
            addr: [0; 16],
        },
    }
    .to_bytes();
    assert!(matches!(
        run(Ioctl::ListenCm.code(), &listen, 16),
        Dispatched::Complete {
            status: NtStatus::SUCCESS,
            ..
        }
    ));
    let listener = handle(4);
    let cid = ndi.cm().incoming();
    ndi.on_cm_event(
        QueueOwner {
            instance: f.id(),
            object: listener,
        },
        CmEvent::ReqReceived {
            cid,
            req: ndcm_ndi::cm_port::ReqInfo {
                local: ndcm_ndi::cm_port::IpEndpoint {
                    addr: IpAddr::V4([10, 0, 0, 1]),
                    port: 7,
                },
                remote: ndcm_ndi::cm_port::IpEndpoint {
                    addr: IpAddr::V4([10, 0, 0, 2]),
                    port: 9,
                },
                responder_resources: 1,
                initiator_depth: 1,
                private_data: [1; 56],
            },
        },
    );
    let get = NdcmGetReqIn {
        header: hdr(),
        listener,
        connection: conn,
    }
    .to_bytes();
    assert!(matches!(
        run(Ioctl::GetReqCm.code(), &get, 0),
        Dispatched::Complete {
            status: NtStatus::SUCCESS,
            ..
        }
    ));
    let pdata_in = NdcmHandleIn {
        header: hdr(),
        handle: conn,
    }
    .to_bytes();
    assert!(matches!(
        run(Ioctl::CepGetPdata.code(), &pdata_in, 72),
        Dispatched::Complete {
            status: NtStatus::SUCCESS,
            information: 72
        }
    ));
    let noop = hdr().to_bytes();
    let env = NdcmMadEnvelope {
        address: NdcmMadAddress {
            gid: [0; 16],
            qpn: 1,
            qkey: 0,
            pkey_index: 0,
            port: 1,
            reserved0: 0,
            reserved1: 0,
        },
        mad: [0; 256],
    };

    let mut g = c.benchmark_group("ndi_dispatch");
    g.bench_function("bare_copy_16_bytes", |b| {
        b.iter(|| bare_copy(black_box(&pdata_in)))
    });
    g.bench_function("noop_sync", |b| {
        b.iter(|| run(Ioctl::Noop.code(), black_box(&noop), 0))
    });
    g.bench_function("cep_get_pdata_sync_72_bytes_out", |b| {
        b.iter(|| run(Ioctl::CepGetPdata.code(), black_box(&pdata_in), 72))
    });
    g.bench_function("mad_get_outbound_pend_then_complete", |b| {
        b.iter(|| {
            let d = run(Ioctl::MadGetOutbound.code(), black_box(&noop), 288);
            debug_assert_eq!(d, Dispatched::Pending);
            assert!(ndi.deliver_outbound_mad(black_box(&env)));
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
