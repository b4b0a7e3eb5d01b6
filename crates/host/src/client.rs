//! A test client of a host device, in the manner of an ND provider: builds
//! each IOCTL's input from plain arguments and decodes outputs, so tests
//! read as "listen, get a request, accept" rather than as byte layouts.
//! It adds no behaviour: every call is one `Device::ioctl`.

use crate::device::{Device, Handle, HostCm, Io};
use crate::framework::Completion;
use crate::sys::{StdSys, Sys};
use ndcm_ndi::abi::*;
use std::sync::Arc;

/// The IPv4 address of host node `n` (10.0.0.n).
pub const fn node_ipv4(n: u8) -> [u8; 4] {
    [10, 0, 0, n]
}

/// The IPv4-mapped GID of `ip` (::ffff:a.b.c.d), its RoCE port GID.
pub const fn ipv4_gid(ip: [u8; 4]) -> [u8; 16] {
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ip[0], ip[1], ip[2], ip[3],
    ]
}

/// The version header every input starts with.
pub fn header() -> NdcmHeader {
    NdcmHeader {
        version: NDCM_ABI_VERSION,
        flags: 0,
    }
}

/// An IPv4 socket address.
pub fn ipv4(addr: [u8; 4], port: u16) -> NdcmAddress {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&addr);
    NdcmAddress {
        family: NDCM_AF_INET,
        port_be: port.to_be(),
        reserved: 0,
        addr: a,
    }
}

/// A handle-only input.
pub fn handle_in(handle: u64) -> Vec<u8> {
    NdcmHandleIn {
        header: header(),
        handle,
    }
    .to_bytes()
    .to_vec()
}

fn with_pdata(fixed: &[u8], pdata: &[u8]) -> Vec<u8> {
    let mut v = fixed.to_vec();
    v.extend_from_slice(pdata);
    v
}

fn pdata_offset(fixed: usize, pdata: &[u8]) -> u32 {
    if pdata.is_empty() { 0 } else { fixed as u32 }
}

/// One open instance of a device.
pub struct Client<C: HostCm, S: Sys = StdSys> {
    device: Arc<Device<C, S>>,
    handle: Handle,
}

impl<C: HostCm, S: Sys> Client<C, S> {
    /// Opens `device`.
    pub fn open(device: &Arc<Device<C, S>>) -> Self {
        Client {
            device: Arc::clone(device),
            handle: device.open(),
        }
    }

    /// The device.
    pub fn device(&self) -> &Arc<Device<C, S>> {
        &self.device
    }

    /// The open handle.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// Any IOCTL.
    pub fn call(&self, op: Ioctl, input: &[u8], output_len: usize) -> Io {
        self.device.ioctl(self.handle, op.code(), input, output_len)
    }

    /// An IOCTL that must complete synchronously; its completion.
    #[track_caller]
    pub fn sync(&self, op: Ioctl, input: &[u8], output_len: usize) -> Completion {
        self.device
            .ioctl_sync(self.handle, op.code(), input, output_len)
    }

    /// An IOCTL's synchronous status (PENDING if it pended).
    pub fn status(&self, op: Ioctl, input: &[u8], output_len: usize) -> NtStatus {
        match self.call(op, input, output_len) {
            Io::Complete(c) => NtStatus(c.status),
            Io::Pending(_) => NtStatus::PENDING,
        }
    }

    /// An IOCTL that must succeed synchronously; its output.
    #[track_caller]
    pub fn ok(&self, op: Ioctl, input: &[u8], output_len: usize) -> Vec<u8> {
        let c = self.sync(op, input, output_len);
        assert_eq!(
            NtStatus(c.status),
            NtStatus::SUCCESS,
            "{op:?} failed: {:?}",
            NtStatus(c.status).name()
        );
        c.output
    }

    /// OPEN_ADAPTER of adapter 0; the adapter handle.
    #[track_caller]
    pub fn adapter(&self) -> u64 {
        let i = NdcmOpenAdapterIn {
            header: header(),
            adapter_index: 0,
            reserved: 0,
        };
        let out = self.ok(Ioctl::OpenAdapter, &i.to_bytes(), NdcmOpenAdapterOut::SIZE);
        NdcmOpenAdapterOut::read(&out, 0).map_or(0, |o| o.adapter)
    }

    /// CREATE_QP then MODIFY_QP to INIT; the QP handle.
    #[track_caller]
    pub fn qp(&self, adapter: u64) -> u64 {
        let i = NdcmCreateQpIn {
            header: header(),
            adapter,
            send_depth: 16,
            receive_depth: 16,
            send_sge: 1,
            receive_sge: 1,
            inline_data: 0,
            reserved: 0,
        };
        let out = self.ok(Ioctl::CreateQp, &i.to_bytes(), NdcmCreateQpOut::SIZE);
        let qp = NdcmCreateQpOut::read(&out, 0).map_or(0, |o| o.qp);
        let m = NdcmModifyQpIn {
            header: header(),
            qp,
            state: NDCM_QP_STATE_INIT,
            reserved: 0,
        };
        let _ = self.ok(Ioctl::ModifyQp, &m.to_bytes(), NdcmModifyQpOut::SIZE);
        qp
    }

    /// DESTROY_QP.
    pub fn destroy_qp(&self, qp: u64) -> NtStatus {
        self.status(Ioctl::DestroyQp, &handle_in(qp), 0)
    }

    /// CREATE_CEP; the connection handle.
    #[track_caller]
    pub fn connection(&self, adapter: u64) -> u64 {
        let out = self.ok(Ioctl::CreateCep, &handle_in(adapter), NdcmHandleOut::SIZE);
        NdcmHandleOut::read(&out, 0).map_or(0, |o| o.handle)
    }

    /// DESTROY_CEP.
    pub fn destroy_connection(&self, conn: u64) -> NtStatus {
        self.status(Ioctl::DestroyCep, &handle_in(conn), 0)
    }

    /// LISTEN_CM on the wildcard address; (listener, bound port).
    #[track_caller]
    pub fn listen(&self, adapter: u64, port: u16) -> (u64, u16) {
        let i = NdcmListenIn {
            header: header(),
            adapter,
            backlog: 4,
            protocol: NDCM_PROTOCOL_TCP,
            local: ipv4([0; 4], port),
        };
        let out = self.ok(Ioctl::ListenCm, &i.to_bytes(), NdcmListenOut::SIZE);
        let o = NdcmListenOut::read(&out, 0);
        (
            o.map_or(0, |o| o.listener),
            o.map_or(0, |o| u16::from_be(o.port_be)),
        )
    }

    /// GET_REQ_CM: pends until a REQ arrives for `listener`, then binds it
    /// to `conn`.
    pub fn get_request(&self, listener: u64, conn: u64) -> Io {
        let i = NdcmGetReqIn {
            header: header(),
            listener,
            connection: conn,
        };
        self.call(Ioctl::GetReqCm, &i.to_bytes(), 0)
    }

    /// REQ_CM from `local` to `remote:port`.
    pub fn connect(
        &self,
        conn: u64,
        qp: u64,
        local: [u8; 4],
        remote: [u8; 4],
        port: u16,
        pdata: &[u8],
    ) -> Io {
        let i = NdcmReqCmIn {
            header: header(),
            connection: conn,
            qp,
            inbound_read_limit: 4,
            outbound_read_limit: 4,
            protocol: NDCM_PROTOCOL_TCP,
            pdata_length: pdata.len() as u32,
            pdata_offset: pdata_offset(NdcmReqCmIn::SIZE, pdata),
            reserved: 0,
            local: ipv4(local, 0),
            remote: ipv4(remote, port),
        };
        self.call(Ioctl::ReqCm, &with_pdata(&i.to_bytes(), pdata), 0)
    }

    /// REP_CM: accept on `conn` with `qp`; pends until the RTU.
    pub fn accept(&self, conn: u64, qp: u64, pdata: &[u8]) -> Io {
        let i = NdcmRepCmIn {
            header: header(),
            connection: conn,
            qp,
            inbound_read_limit: 4,
            outbound_read_limit: 4,
            pdata_length: pdata.len() as u32,
            pdata_offset: pdata_offset(NdcmRepCmIn::SIZE, pdata),
        };
        self.call(Ioctl::RepCm, &with_pdata(&i.to_bytes(), pdata), 0)
    }

    /// RTU_CM (CompleteConnect).
    pub fn complete_connect(&self, conn: u64) -> Io {
        self.call(Ioctl::RtuCm, &handle_in(conn), 0)
    }

    /// REJ_CM.
    pub fn reject(&self, conn: u64, pdata: &[u8]) -> Io {
        let i = NdcmRejCmIn {
            header: header(),
            connection: conn,
            pdata_length: pdata.len() as u32,
            pdata_offset: pdata_offset(NdcmRejCmIn::SIZE, pdata),
        };
        self.call(Ioctl::RejCm, &with_pdata(&i.to_bytes(), pdata), 0)
    }

    /// DREQ_CM (Disconnect).
    pub fn disconnect(&self, conn: u64) -> Io {
        self.call(Ioctl::DreqCm, &handle_in(conn), 0)
    }

    /// NOTIFY_DREQ (NotifyDisconnect).
    pub fn notify_disconnect(&self, conn: u64) -> Io {
        self.call(Ioctl::NotifyDreq, &handle_in(conn), 0)
    }

    /// CANCEL_CM_IRPS on an object.
    pub fn cancel_requests(&self, object: u64) -> Io {
        self.call(Ioctl::CancelCmIrps, &handle_in(object), 0)
    }

    /// CEP_GET_PDATA; (status, fixed part, private data).
    pub fn private_data(&self, conn: u64) -> (NtStatus, Option<NdcmGetPdataOut>, Vec<u8>) {
        let c = self.sync(
            Ioctl::CepGetPdata,
            &handle_in(conn),
            NdcmGetPdataOut::SIZE + 196,
        );
        let fixed = NdcmGetPdataOut::read(&c.output, 0);
        let data = c
            .output
            .get(NdcmGetPdataOut::SIZE..)
            .unwrap_or_default()
            .to_vec();
        (NtStatus(c.status), fixed, data)
    }

    /// CloseHandle.
    pub fn close(self) {
        self.device.close(self.handle);
    }
}
