//! A dispatcher on the scripted CM and in-memory queues, with input builders.
#![allow(dead_code)]

use ndcm_cm::platform::TestPlatform;
use ndcm_ndi::abi::*;
use ndcm_ndi::cm_port::{AdapterInfo, IpAddr};
use ndcm_ndi::testing::{QueueRequests, ScriptedCm, TestRequest};
use ndcm_ndi::{Dispatched, File, Ndi};
use std::cell::Cell;
use std::sync::Arc;

pub type TestNdi = Ndi<TestPlatform, ScriptedCm, QueueRequests>;
pub type TestFile = Arc<File<TestPlatform, QueueRequests>>;

pub const LOCAL4: [u8; 4] = [10, 0, 0, 1];
pub const REMOTE4: [u8; 4] = [10, 0, 0, 2];

pub struct Fx {
    pub ndi: TestNdi,
    next: Cell<u64>,
}

pub fn adapter_info() -> AdapterInfo {
    AdapterInfo {
        addresses: vec![IpAddr::V4(LOCAL4), IpAddr::V6([0xfe; 16])],
        max_inbound_read_limit: 16,
        max_outbound_read_limit: 8,
        max_qp_depth: 1024,
        max_sge: 4,
        max_inline: 64,
    }
}

pub fn hdr() -> NdcmHeader {
    NdcmHeader {
        version: NDCM_ABI_VERSION,
        flags: 0,
    }
}

pub fn handle_in(h: u64) -> Vec<u8> {
    NdcmHandleIn {
        header: hdr(),
        handle: h,
    }
    .to_bytes()
    .to_vec()
}

pub fn v4(a: [u8; 4], port: u16) -> NdcmAddress {
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(&a);
    NdcmAddress {
        family: NDCM_AF_INET,
        port_be: port.to_be(),
        reserved: 0,
        addr,
    }
}

pub fn req_struct(conn: u64, qp: u64, pdata_len: u32) -> NdcmReqCmIn {
    NdcmReqCmIn {
        header: hdr(),
        connection: conn,
        qp,
        inbound_read_limit: 4,
        outbound_read_limit: 4,
        protocol: NDCM_PROTOCOL_TCP,
        pdata_length: pdata_len,
        pdata_offset: if pdata_len == 0 { 0 } else { 96 },
        reserved: 0,
        local: v4(LOCAL4, 0),
        remote: v4(REMOTE4, 4791),
    }
}

pub fn with_tail(fixed: &[u8], n: usize) -> Vec<u8> {
    let mut v = fixed.to_vec();
    v.extend((0..n).map(|i| i as u8));
    v
}

pub fn req_in(conn: u64, qp: u64, pdata: usize) -> Vec<u8> {
    with_tail(&req_struct(conn, qp, pdata as u32).to_bytes(), pdata)
}

pub fn rep_struct(conn: u64, qp: u64, pdata_len: u32) -> NdcmRepCmIn {
    NdcmRepCmIn {
        header: hdr(),
        connection: conn,
        qp,
        inbound_read_limit: 100,
        outbound_read_limit: 100,
        pdata_length: pdata_len,
        pdata_offset: if pdata_len == 0 { 0 } else { 40 },
    }
}

pub fn rep_in(conn: u64, qp: u64, pdata: usize) -> Vec<u8> {
    with_tail(&rep_struct(conn, qp, pdata as u32).to_bytes(), pdata)
}

pub fn rej_in(conn: u64, pdata: usize) -> Vec<u8> {
    let s = NdcmRejCmIn {
        header: hdr(),
        connection: conn,
        pdata_length: pdata as u32,
        pdata_offset: if pdata == 0 { 0 } else { 24 },
    };
    with_tail(&s.to_bytes(), pdata)
}

pub fn listen_struct(adapter: u64, port: u16) -> NdcmListenIn {
    NdcmListenIn {
        header: hdr(),
        adapter,
        backlog: 2,
        protocol: NDCM_PROTOCOL_TCP,
        local: v4([0; 4], port),
    }
}

pub fn get_req_in(listener: u64, conn: u64) -> Vec<u8> {
    NdcmGetReqIn {
        header: hdr(),
        listener,
        connection: conn,
    }
    .to_bytes()
    .to_vec()
}

pub fn create_qp_struct(adapter: u64) -> NdcmCreateQpIn {
    NdcmCreateQpIn {
        header: hdr(),
        adapter,
        send_depth: 16,
        receive_depth: 16,
        send_sge: 1,
        receive_sge: 1,
        inline_data: 0,
        reserved: 0,
    }
}

pub fn modify_in(qp: u64, state: u32) -> Vec<u8> {
    NdcmModifyQpIn {
        header: hdr(),
        qp,
        state,
        reserved: 0,
    }
    .to_bytes()
    .to_vec()
}

pub fn v6(addr: [u8; 16], port: u16) -> NdcmAddress {
    NdcmAddress {
        family: NDCM_AF_INET6,
        port_be: port.to_be(),
        reserved: 0,
        addr,
    }
}

/// REGISTER_ADAPTER input for `addresses` (each 4 or 16 bytes).
pub fn register_in(addresses: &[NdcmAddress]) -> Vec<u8> {
    let mut v = NdcmRegisterAdapterIn {
        header: hdr(),
        max_inbound_read_limit: 16,
        max_outbound_read_limit: 8,
        max_qp_depth: 1024,
        max_sge: 4,
        max_inline: 64,
        mtu: 1024,
        port: 1,
        reserved0: 0,
        reserved1: 0,
        address_count: addresses.len() as u32,
        address_offset: NdcmRegisterAdapterIn::SIZE as u32,
        reserved2: 0,
    }
    .to_bytes()
    .to_vec();
    for a in addresses {
        v.extend_from_slice(&a.to_bytes());
    }
    v
}

/// WITHDRAW_ADAPTER input.
pub fn withdraw_in(index: u32) -> Vec<u8> {
    NdcmWithdrawAdapterIn {
        header: hdr(),
        adapter_index: index,
        reserved: 0,
    }
    .to_bytes()
    .to_vec()
}

/// OPEN_ADAPTER input.
pub fn open_adapter_in(index: u32) -> Vec<u8> {
    NdcmOpenAdapterIn {
        header: hdr(),
        adapter_index: index,
        reserved: 0,
    }
    .to_bytes()
    .to_vec()
}

impl Fx {
    /// A device with no built-in adapter, like the driver's: adapters come
    /// only from an agent's REGISTER_ADAPTER.
    pub fn agentless() -> Fx {
        Fx {
            ndi: Ndi::new(
                TestPlatform::new(),
                ScriptedCm::new(),
                QueueRequests::new(),
                Vec::new(),
            ),
            next: Cell::new(1),
        }
    }

    /// Registers the test adapter's addresses through `agent`; its index.
    pub fn register(&self, agent: &TestFile) -> u32 {
        let input = register_in(&[v4(LOCAL4, 0), v6([0xfe; 16], 0)]);
        let out = self.ok(agent, Ioctl::RegisterAdapter, &input, 8);
        NdcmRegisterAdapterOut::read(&out, 0).unwrap().adapter_index
    }

    pub fn new() -> Fx {
        Fx {
            ndi: Ndi::new(
                TestPlatform::new(),
                ScriptedCm::new(),
                QueueRequests::new(),
                vec![adapter_info()],
            ),
            next: Cell::new(1),
        }
    }

    /// Issues an IOCTL; returns the request id and what dispatch said.
    pub fn call(&self, f: &TestFile, op: Ioctl, input: &[u8], out: usize) -> (u64, Dispatched) {
        self.call_code(f, op.code(), input, out)
    }

    pub fn call_code(
        &self,
        f: &TestFile,
        code: u32,
        input: &[u8],
        out: usize,
    ) -> (u64, Dispatched) {
        let id = self.next.get();
        self.next.set(id + 1);
        let d = self
            .ndi
            .dispatch(f, code, input, out, TestRequest::new(id, out));
        (id, d)
    }

    /// The completion status of a synchronous IOCTL.
    pub fn status(&self, f: &TestFile, op: Ioctl, input: &[u8], out: usize) -> NtStatus {
        match self.call(f, op, input, out).1 {
            Dispatched::Complete { status, .. } => status,
            Dispatched::Pending => NtStatus::PENDING,
        }
    }

    /// A successful synchronous IOCTL's output.
    pub fn ok(&self, f: &TestFile, op: Ioctl, input: &[u8], out: usize) -> Vec<u8> {
        let (id, d) = self.call(f, op, input, out);
        assert!(
            matches!(
                d,
                Dispatched::Complete {
                    status: NtStatus::SUCCESS,
                    ..
                }
            ),
            "{op:?} → {d:?}"
        );
        self.done(id).output
    }

    /// An IOCTL that must pend; returns its id.
    pub fn pend(&self, f: &TestFile, op: Ioctl, input: &[u8], out: usize) -> u64 {
        let (id, d) = self.call(f, op, input, out);
        assert_eq!(d, Dispatched::Pending, "{op:?}");
        assert!(self.ndi.requests().completion(id).is_none());
        id
    }

    pub fn done(&self, id: u64) -> ndcm_ndi::testing::Completion {
        self.ndi
            .requests()
            .completion(id)
            .unwrap_or_else(|| panic!("request {id} not completed"))
    }

    pub fn adapter(&self, f: &TestFile) -> u64 {
        let i = NdcmOpenAdapterIn {
            header: hdr(),
            adapter_index: 0,
            reserved: 0,
        };
        let out = self.ok(
            f,
            Ioctl::OpenAdapter,
            &i.to_bytes(),
            NdcmOpenAdapterOut::SIZE,
        );
        NdcmOpenAdapterOut::read(&out, 0).unwrap().adapter
    }

    pub fn qp(&self, f: &TestFile, adapter: u64) -> u64 {
        let out = self.ok(
            f,
            Ioctl::CreateQp,
            &create_qp_struct(adapter).to_bytes(),
            NdcmCreateQpOut::SIZE,
        );
        NdcmCreateQpOut::read(&out, 0).unwrap().qp
    }

    pub fn qp_init(&self, f: &TestFile, adapter: u64) -> u64 {
        let qp = self.qp(f, adapter);
        self.ok(f, Ioctl::ModifyQp, &modify_in(qp, NDCM_QP_STATE_INIT), 8);
        qp
    }

    pub fn conn(&self, f: &TestFile, adapter: u64) -> u64 {
        let out = self.ok(f, Ioctl::CreateCep, &handle_in(adapter), 8);
        NdcmHandleOut::read(&out, 0).unwrap().handle
    }

    pub fn listen(&self, f: &TestFile, adapter: u64, port: u16) -> (u64, u16) {
        let out = self.ok(
            f,
            Ioctl::ListenCm,
            &listen_struct(adapter, port).to_bytes(),
            NdcmListenOut::SIZE,
        );
        let o = NdcmListenOut::read(&out, 0).unwrap();
        (o.listener, u16::from_be(o.port_be))
    }

    /// A REQ arriving for listener `l` (the scripted CM's new CID carries
    /// `req`); returns the new CID.
    pub fn incoming_req(&self, f: &TestFile, l: u64, req: ReqInfo) -> ndcm_cm::cid::Cid {
        let cid = self.ndi.cm().incoming();
        self.ndi
            .on_cm_event(owner(f, l), CmEvent::ReqReceived { cid, req });
        cid
    }

    /// Cancels a queued request the way the framework does.
    pub fn cancel(&self, id: u64) {
        let (owner, r, info) = self.ndi.requests().cancel(id).expect("queued");
        self.ndi.canceled_on_queue(owner, r, info);
    }

    /// The CID the scripted CM created for an owner object (latest).
    pub fn cid_of(&self, object: u64) -> ndcm_cm::cid::Cid {
        use ndcm_ndi::testing::CmCall;
        self.ndi
            .cm()
            .calls()
            .iter()
            .rev()
            .find_map(|c| match c {
                CmCall::Create(cid, o) | CmCall::Adopt(cid, o) if o.object == object => Some(*cid),
                _ => None,
            })
            .expect("cid")
    }

    /// After closing every file: nothing queued, no queue, no CID, no port.
    pub fn assert_nothing_leaked(&self) {
        assert_eq!(
            self.ndi.requests().live(),
            (0, 0),
            "queues / queued requests"
        );
        assert_eq!(self.ndi.cm().live(), 0, "CM connections");
        assert_eq!(self.ndi.stats().ports, 0, "ports");
        assert_eq!(self.ndi.stats().files, 0, "files");
        // Exactly once: no id appears twice.
        let mut ids: Vec<u64> = self
            .ndi
            .requests()
            .completions()
            .iter()
            .map(|c| c.id)
            .collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "a request completed twice");
    }
}

use ndcm_ndi::cm_port::{CmEvent, IpEndpoint, ReqInfo};
use ndcm_ndi::requests::QueueOwner;

pub fn owner(f: &TestFile, object: u64) -> QueueOwner {
    QueueOwner {
        instance: f.id(),
        object,
    }
}

pub fn rep_event() -> CmEvent {
    CmEvent::RepReceived {
        responder_resources: 3,
        initiator_depth: 2,
        private_data: [7; 196],
    }
}

pub fn rej_event(reason: u16) -> CmEvent {
    CmEvent::RejReceived {
        reason,
        private_data: [9; 148],
    }
}

pub fn req_info() -> ReqInfo {
    ReqInfo {
        local: IpEndpoint {
            addr: IpAddr::V4(LOCAL4),
            port: 5000,
        },
        remote: IpEndpoint {
            addr: IpAddr::V4(REMOTE4),
            port: 50000,
        },
        responder_resources: 4,
        initiator_depth: 2,
        private_data: [5; 56],
    }
}

impl Fx {
    /// conn + INIT QP with a pending REQ_CM: (conn, qp, request id).
    pub fn connecting(&self, f: &TestFile, a: u64) -> (u64, u64, u64) {
        let c = self.conn(f, a);
        let qp = self.qp_init(f, a);
        let id = self.pend(f, Ioctl::ReqCm, &req_in(c, qp, 8), 0);
        (c, qp, id)
    }

    /// An established active-side connection: (conn, qp).
    pub fn connected(&self, f: &TestFile, a: u64) -> (u64, u64) {
        let (c, qp, id) = self.connecting(f, a);
        self.ndi.on_cm_event(owner(f, c), rep_event());
        assert_eq!(self.done(id).status, NtStatus::SUCCESS);
        self.ok(f, Ioctl::RtuCm, &handle_in(c), 0);
        (c, qp)
    }

    /// A passive-side connection in REQ_RCVD through GET_REQ_CM: (listener, conn).
    pub fn req_rcvd(&self, f: &TestFile, a: u64, port: u16) -> (u64, u64) {
        let (l, _) = self.listen(f, a, port);
        let c = self.conn(f, a);
        let id = self.pend(f, Ioctl::GetReqCm, &get_req_in(l, c), 0);
        let cid = self.ndi.cm().incoming();
        self.ndi.on_cm_event(
            owner(f, l),
            CmEvent::ReqReceived {
                cid,
                req: req_info(),
            },
        );
        assert_eq!(self.done(id).status, NtStatus::SUCCESS);
        (l, c)
    }
}
