//! `Connector` (IND2Connector): one connection, active (Connect,
//! CompleteConnect) or passive (filled by a listener's
//! GetConnectionRequest, then Accept or Reject), and its disconnect.
//!
//! Addresses: the ABI has no "bind a connector" request; Bind stores the
//! local address here and Connect sends it in REQ_CM, where the driver
//! checks it (one of the adapter's; port unique, 0 → ephemeral).
//! GetLocalAddress and GetPeerAddress ask the driver (CEP_GET_ADDRESS) on
//! both sides: it knows the port it allocated for Connect and the peer's
//! address from the rdma_cm header of a request taken by
//! GetConnectionRequest, which this crate never sees.

use crate::adapter::Adapter;
use crate::address::from_abi;
use crate::device::{Completion, Device};
use crate::encode::{self, ReqCm};
use crate::error::{NdError, NdResult};
use crate::op::{Op, no_output, sync};
use crate::qp::Qp;
use ndcm_ndi::abi::{
    AbiField, Ioctl, NDCM_PROTOCOL_TCP, NdcmGetAddressOut, NdcmGetPdataOut, NdcmHandleOut, NtStatus,
};
use std::net::SocketAddr;
use std::sync::Arc;

/// RDMA read limits (ND2 read limits: inbound = responder resources,
/// outbound = initiator depth).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadLimits {
    /// Reads the peer may have outstanding against us.
    pub inbound: u32,
    /// Reads we may have outstanding against the peer.
    pub outbound: u32,
}

/// A CEP_GET_PDATA answer.
struct Pdata {
    limits: ReadLimits,
    length: usize,
    data: Vec<u8>,
    overflow: bool,
}

fn decode_pdata(c: Completion) -> NdResult<Pdata> {
    let overflow = c.status == NtStatus::BUFFER_OVERFLOW;
    if !overflow {
        NdError::check(c.status)?;
    }
    let fixed: NdcmGetPdataOut = encode::read_out(&c.output)?;
    let data = c
        .output
        .get(NdcmGetPdataOut::SIZE..)
        .unwrap_or_default()
        .to_vec();
    Ok(Pdata {
        limits: ReadLimits {
            inbound: fixed.inbound_read_limit,
            outbound: fixed.outbound_read_limit,
        },
        length: fixed.length as usize,
        data,
        overflow,
    })
}

/// A connector. Dropping it frees it (CONNECTOR_FREE → DESTROY_CEP), which
/// aborts whatever exchange it is in.
pub struct Connector<D: Device> {
    device: Arc<D>,
    handle: u64,
    local: Option<SocketAddr>,
    protocol: u32,
    live: bool,
}

impl<D: Device> Connector<D> {
    /// CreateConnector (CREATE_CEP on the adapter).
    pub fn create(adapter: &Adapter<D>) -> NdResult<Self> {
        let device = adapter.device().clone();
        let out: NdcmHandleOut = sync(
            &device,
            Ioctl::CreateCep.code(),
            &encode::handle_in(adapter.handle()),
            NdcmHandleOut::SIZE,
            |c| {
                NdError::check(c.status)?;
                encode::read_out(&c.output)
            },
        )?;
        Ok(Connector {
            device,
            handle: out.handle,
            local: None,
            protocol: NDCM_PROTOCOL_TCP,
            live: true,
        })
    }

    /// The driver's handle.
    pub fn handle(&self) -> u64 {
        self.handle
    }

    /// The open file this connector lives in.
    pub fn device(&self) -> &Arc<D> {
        &self.device
    }

    /// Bind: the local address Connect will use (port 0 → the driver picks
    /// an ephemeral one). Binding twice is INVALID_DEVICE_STATE.
    pub fn bind(&mut self, local: SocketAddr) -> NdResult<()> {
        if self.local.is_some() {
            return Err(NdError(NtStatus::INVALID_DEVICE_STATE));
        }
        self.local = Some(local);
        Ok(())
    }

    /// The rdma_cm port space (TCP by default; `NDCM_PROTOCOL_UDP` for UDP).
    pub fn set_protocol(&mut self, protocol: u32) {
        self.protocol = protocol;
    }

    /// Connect (REQ_CM). Completes when the peer accepts (SUCCESS; call
    /// [`Connector::complete_connect`] next) or the attempt fails
    /// (CONNECTION_REFUSED, IO_TIMEOUT, CANCELLED, …). Needs a prior Bind.
    pub fn connect(
        &mut self,
        qp: &Qp<D>,
        remote: SocketAddr,
        limits: ReadLimits,
        private_data: &[u8],
    ) -> Op<D, ()> {
        let Some(local) = self.local else {
            return Op::failed(&self.device, NdError(NtStatus::INVALID_DEVICE_STATE));
        };
        let input = encode::req_cm_in(&ReqCm {
            connection: self.handle,
            qp: qp.handle(),
            inbound_read_limit: limits.inbound,
            outbound_read_limit: limits.outbound,
            protocol: self.protocol,
            local,
            remote,
            pdata: private_data,
        });
        Op::issue(&self.device, Ioctl::ReqCm.code(), &input, 0, no_output)
    }

    /// CompleteConnect (RTU_CM): after a successful Connect, moves the QP
    /// to RTS and sends the RTU.
    pub fn complete_connect(&self) -> Op<D, ()> {
        self.handle_op(Ioctl::RtuCm)
    }

    /// Accept (REP_CM) a request this connector received through
    /// GetConnectionRequest. Completes when the connection is established.
    pub fn accept(&self, qp: &Qp<D>, limits: ReadLimits, private_data: &[u8]) -> Op<D, ()> {
        let input = encode::rep_cm_in(
            self.handle,
            qp.handle(),
            limits.inbound,
            limits.outbound,
            private_data,
        );
        Op::issue(&self.device, Ioctl::RepCm.code(), &input, 0, no_output)
    }

    /// Reject (REJ_CM): refuses a received request, or (active side) the
    /// peer's reply. Synchronous.
    pub fn reject(&self, private_data: &[u8]) -> NdResult<()> {
        let input = encode::rej_cm_in(self.handle, private_data);
        sync(&self.device, Ioctl::RejCm.code(), &input, 0, no_output)
    }

    fn get_pdata(&self, capacity: usize) -> NdResult<Pdata> {
        sync(
            &self.device,
            Ioctl::CepGetPdata.code(),
            &encode::handle_in(self.handle),
            NdcmGetPdataOut::SIZE + capacity,
            decode_pdata,
        )
    }

    /// GetReadLimits: the limits of the last REQ or REP received.
    pub fn get_read_limits(&self) -> NdResult<ReadLimits> {
        Ok(self.get_pdata(0)?.limits)
    }

    /// GetPrivateData: the private data of the last REQ (56 consumer bytes),
    /// REP or REJ received.
    pub fn get_private_data(&self) -> NdResult<Vec<u8>> {
        let p = self.get_pdata(encode::GET_PDATA_OUT_MAX - NdcmGetPdataOut::SIZE)?;
        if p.overflow || p.data.len() != p.length {
            // The driver reported more than the largest private data of
            // any CM message: not something a caller can act on.
            return Err(NdError::MALFORMED_OUTPUT);
        }
        Ok(p.data)
    }

    /// GetPrivateData into a caller's buffer, ND style: `Ok(n)` when all `n`
    /// bytes fit; `Err((BUFFER_OVERFLOW, required))` when only
    /// `buf.len()` bytes were copied; `Err((other, 0))` on failure.
    pub fn get_private_data_into(&self, buf: &mut [u8]) -> Result<usize, (NdError, usize)> {
        let p = self.get_pdata(buf.len()).map_err(|e| (e, 0))?;
        let n = p.data.len().min(buf.len());
        buf[..n].copy_from_slice(&p.data[..n]);
        if p.overflow {
            Err((NdError(NtStatus::BUFFER_OVERFLOW), p.length))
        } else {
            Ok(p.length)
        }
    }

    /// Both endpoints, from the driver (CEP_GET_ADDRESS).
    fn get_addresses(&self) -> NdResult<(SocketAddr, SocketAddr)> {
        let out: NdcmGetAddressOut = sync(
            &self.device,
            Ioctl::CepGetAddress.code(),
            &encode::handle_in(self.handle),
            NdcmGetAddressOut::SIZE,
            |c| {
                NdError::check(c.status)?;
                encode::read_out(&c.output)
            },
        )?;
        match (from_abi(&out.local), from_abi(&out.remote)) {
            (Some(local), Some(remote)) => Ok((local, remote)),
            _ => Err(NdError::MALFORMED_OUTPUT),
        }
    }

    /// GetLocalAddress: our address and port while connecting or connected
    /// (after Connect: the bound address with the port the driver
    /// allocated if 0 was bound; after GetConnectionRequest: the address
    /// and port the peer dialled). Before that, and once the connection has
    /// closed, CONNECTION_INVALID. A Bind alone does not answer: the ND
    /// contract (IND2Connector::GetLocalAddress) and spec/NDI.md §10 ask for
    /// a connector that is connected or connecting, and only the driver
    /// knows the port Connect will really use.
    pub fn get_local_address(&self) -> NdResult<SocketAddr> {
        Ok(self.get_addresses()?.0)
    }

    /// GetPeerAddress: the peer's address and port while connecting or
    /// connected (the destination of Connect, or the address a request
    /// taken by GetConnectionRequest came from); CONNECTION_INVALID
    /// otherwise.
    pub fn get_peer_address(&self) -> NdResult<SocketAddr> {
        Ok(self.get_addresses()?.1)
    }

    /// NotifyDisconnect (NOTIFY_DREQ): completes SUCCESS when the peer
    /// disconnects.
    pub fn notify_disconnect(&self) -> Op<D, ()> {
        self.handle_op(Ioctl::NotifyDreq)
    }

    /// Disconnect (DREQ_CM): completes when the CM exchange finishes; the QP
    /// is flushed (ERROR) and cannot be reused.
    pub fn disconnect(&self) -> Op<D, ()> {
        self.handle_op(Ioctl::DreqCm)
    }

    /// CancelOverlappedRequests (CANCEL_CM_IRPS): completes every pending
    /// request of this connector with CANCELLED.
    pub fn cancel_overlapped_requests(&self) -> NdResult<()> {
        sync(
            &self.device,
            Ioctl::CancelCmIrps.code(),
            &encode::handle_in(self.handle),
            0,
            no_output,
        )
    }

    /// Release (DESTROY_CEP): aborts the connection and frees the handle.
    pub fn destroy(mut self) -> NdResult<()> {
        self.free()
    }

    fn handle_op(&self, op: Ioctl) -> Op<D, ()> {
        Op::issue(
            &self.device,
            op.code(),
            &encode::handle_in(self.handle),
            0,
            no_output,
        )
    }

    fn free(&mut self) -> NdResult<()> {
        if !std::mem::replace(&mut self.live, false) {
            return Ok(());
        }
        sync(
            &self.device,
            Ioctl::DestroyCep.code(),
            &encode::handle_in(self.handle),
            0,
            no_output,
        )
    }
}

impl<D: Device> Drop for Connector<D> {
    fn drop(&mut self) {
        // Best effort: after the file closed the driver already freed it.
        let _ = self.free();
    }
}

impl<D: Device> core::fmt::Debug for Connector<D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connector")
            .field("handle", &format_args!("{:#x}", self.handle))
            .field("bound", &self.local)
            .finish()
    }
}

// The fixed part must stay parseable by `AbiField` (checked here so a layout
// change in ndcm-ndi shows up as a compile error in this crate).
const _: usize = <NdcmGetPdataOut as AbiField>::SIZE;
