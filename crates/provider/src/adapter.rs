//! `Adapter` (IND2Adapter): an adapter of the device opened in this file,
//! and the factory of the objects that live on it.

use crate::connector::Connector;
use crate::device::Device;
use crate::encode;
use crate::error::NdResult;
use crate::listener::Listener;
use crate::op::sync;
use crate::qp::{Qp, QpConfig};
use ndcm_ndi::abi::{Ioctl, NdcmOpenAdapterOut};
use std::sync::Arc;

/// What Query reports (the part of ND2_ADAPTER_INFO the CM needs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdapterInfo {
    /// Largest inbound RDMA read limit (responder resources).
    pub max_inbound_read_limit: u32,
    /// Largest outbound RDMA read limit (initiator depth).
    pub max_outbound_read_limit: u32,
    /// Number of local IP addresses.
    pub address_count: u32,
}

/// An open adapter. Its handle is valid in this file only; the driver frees
/// it when the file closes (the ABI has no adapter close).
pub struct Adapter<D: Device> {
    device: Arc<D>,
    handle: u64,
    info: AdapterInfo,
}

impl<D: Device> Adapter<D> {
    /// Opens adapter `index` of the device (OPEN_ADAPTER).
    pub fn open(device: Arc<D>, index: u32) -> NdResult<Self> {
        let out: NdcmOpenAdapterOut = sync(
            &device,
            Ioctl::OpenAdapter.code(),
            &encode::open_adapter_in(index),
            NdcmOpenAdapterOut::SIZE,
            |c| {
                crate::error::NdError::check(c.status)?;
                encode::read_out(&c.output)
            },
        )?;
        Ok(Adapter {
            device,
            handle: out.adapter,
            info: AdapterInfo {
                max_inbound_read_limit: out.max_inbound_read_limit,
                max_outbound_read_limit: out.max_outbound_read_limit,
                address_count: out.address_count,
            },
        })
    }

    /// The adapter's limits (Query), as reported when it was opened.
    pub fn query(&self) -> AdapterInfo {
        self.info
    }

    /// The driver's handle of this adapter.
    pub fn handle(&self) -> u64 {
        self.handle
    }

    /// The open file this adapter lives in.
    pub fn device(&self) -> &Arc<D> {
        &self.device
    }

    /// CreateConnector.
    pub fn create_connector(&self) -> NdResult<Connector<D>> {
        Connector::create(self)
    }

    /// CreateListener.
    pub fn create_listener(&self) -> Listener<D> {
        Listener::create(self)
    }

    /// CreateQueuePair (RC), brought to INIT so that it can connect.
    pub fn create_qp(&self, config: &QpConfig) -> NdResult<Qp<D>> {
        Qp::create(self, config)
    }
}
