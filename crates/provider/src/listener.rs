//! `Listener` (IND2Listener): Bind, Listen, GetConnectionRequest.
//!
//! The ABI creates the listener and binds its address in one request
//! (LISTEN_CM), so Bind only records the address and Listen sends both.

use crate::adapter::Adapter;
use crate::connector::Connector;
use crate::device::Device;
use crate::encode;
use crate::error::{NdError, NdResult};
use crate::op::{Op, no_output, sync};
use ndcm_ndi::abi::{Ioctl, NDCM_PROTOCOL_TCP, NdcmListenOut, NtStatus};
use std::net::SocketAddr;
use std::sync::Arc;

/// A listener. Dropping it frees it (LISTENER_FREE → DESTROY_CEP), which
/// cancels its GetConnectionRequest calls and rejects untaken requests.
pub struct Listener<D: Device> {
    device: Arc<D>,
    adapter: u64,
    local: Option<SocketAddr>,
    protocol: u32,
    handle: Option<u64>,
}

impl<D: Device> Listener<D> {
    /// CreateListener (nothing is sent until Listen).
    pub fn create(adapter: &Adapter<D>) -> Self {
        Listener {
            device: adapter.device().clone(),
            adapter: adapter.handle(),
            local: None,
            protocol: NDCM_PROTOCOL_TCP,
            handle: None,
        }
    }

    /// Bind: the address to listen on (a specific IP or the wildcard; port
    /// 0 → the driver picks one).
    pub fn bind(&mut self, local: SocketAddr) -> NdResult<()> {
        if self.local.is_some() || self.handle.is_some() {
            return Err(NdError(NtStatus::INVALID_DEVICE_STATE));
        }
        self.local = Some(local);
        Ok(())
    }

    /// The rdma_cm port space (TCP by default).
    pub fn set_protocol(&mut self, protocol: u32) {
        self.protocol = protocol;
    }

    /// Listen (LISTEN_CM) with `backlog` untaken requests (0 → default).
    pub fn listen(&mut self, backlog: u32) -> NdResult<()> {
        let Some(local) = self.local else {
            return Err(NdError(NtStatus::INVALID_DEVICE_STATE));
        };
        if self.handle.is_some() {
            return Err(NdError(NtStatus::INVALID_DEVICE_STATE));
        }
        let out: NdcmListenOut = sync(
            &self.device,
            Ioctl::ListenCm.code(),
            &encode::listen_in(self.adapter, backlog, self.protocol, local),
            NdcmListenOut::SIZE,
            |c| {
                NdError::check(c.status)?;
                encode::read_out(&c.output)
            },
        )?;
        self.handle = Some(out.listener);
        self.local = Some(SocketAddr::new(local.ip(), u16::from_be(out.port_be)));
        Ok(())
    }

    /// GetLocalAddress: the bound address with the port the driver bound.
    pub fn get_local_address(&self) -> NdResult<SocketAddr> {
        self.local.ok_or(NdError(NtStatus::INVALID_DEVICE_STATE))
    }

    /// The driver's handle, once listening.
    pub fn handle(&self) -> Option<u64> {
        self.handle
    }

    /// GetConnectionRequest (GET_REQ_CM): completes when a request has
    /// been given to `connector` (then read its private data and read
    /// limits, and Accept or Reject).
    pub fn get_connection_request(&self, connector: &mut Connector<D>) -> Op<D, ()> {
        let Some(listener) = self.handle else {
            return Op::failed(&self.device, NdError(NtStatus::INVALID_DEVICE_STATE));
        };
        Op::issue(
            &self.device,
            Ioctl::GetReqCm.code(),
            &encode::get_req_in(listener, connector.handle()),
            0,
            no_output,
        )
    }

    /// CancelOverlappedRequests: cancels every pending GetConnectionRequest.
    pub fn cancel_overlapped_requests(&self) -> NdResult<()> {
        let Some(h) = self.handle else {
            return Ok(());
        };
        sync(
            &self.device,
            Ioctl::CancelCmIrps.code(),
            &encode::handle_in(h),
            0,
            no_output,
        )
    }

    /// Release (DESTROY_CEP).
    pub fn destroy(mut self) -> NdResult<()> {
        self.free()
    }

    fn free(&mut self) -> NdResult<()> {
        let Some(h) = self.handle.take() else {
            return Ok(());
        };
        sync(
            &self.device,
            Ioctl::DestroyCep.code(),
            &encode::handle_in(h),
            0,
            no_output,
        )
    }
}

impl<D: Device> Drop for Listener<D> {
    fn drop(&mut self) {
        let _ = self.free();
    }
}
