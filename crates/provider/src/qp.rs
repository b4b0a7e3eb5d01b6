//! `Qp` (IND2QueuePair, the part the CM touches): create, modify to the
//! states user mode may ask for, destroy.
//!
//! Destroying a QP that is connected disconnects it implicitly (the driver
//! aborts the connection, spec/NDI.md §9.2); this type never tries to be
//! clever about that.

use crate::adapter::Adapter;
use crate::device::Device;
use crate::encode;
use crate::error::{NdError, NdResult};
use crate::op::{no_output, sync};
use ndcm_ndi::abi::{
    Ioctl, NDCM_QP_STATE_ERROR, NDCM_QP_STATE_INIT, NDCM_QP_STATE_RESET, NDCM_QP_STATE_RTR,
    NDCM_QP_STATE_RTS, NdcmCreateQpOut, NdcmModifyQpOut,
};
use std::sync::Arc;

/// Queue sizes of a new QP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QpConfig {
    /// Send queue depth.
    pub send_depth: u32,
    /// Receive queue depth.
    pub receive_depth: u32,
    /// SGEs per send.
    pub send_sge: u32,
    /// SGEs per receive.
    pub receive_sge: u32,
    /// Inline data bytes.
    pub inline_data: u32,
}

impl Default for QpConfig {
    fn default() -> Self {
        QpConfig {
            send_depth: 16,
            receive_depth: 16,
            send_sge: 1,
            receive_sge: 1,
            inline_data: 0,
        }
    }
}

/// A QP state as the ABI names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QpState {
    /// RESET.
    Reset,
    /// INIT: ready to be bound by Connect or Accept.
    Init,
    /// RTR (only through the CM).
    Rtr,
    /// RTS (only through the CM).
    Rts,
    /// ERROR: flushed.
    Error,
}

impl QpState {
    /// The ABI value.
    pub const fn to_abi(self) -> u32 {
        match self {
            QpState::Reset => NDCM_QP_STATE_RESET,
            QpState::Init => NDCM_QP_STATE_INIT,
            QpState::Rtr => NDCM_QP_STATE_RTR,
            QpState::Rts => NDCM_QP_STATE_RTS,
            QpState::Error => NDCM_QP_STATE_ERROR,
        }
    }

    /// From the ABI value.
    pub const fn from_abi(v: u32) -> Option<QpState> {
        match v {
            NDCM_QP_STATE_RESET => Some(QpState::Reset),
            NDCM_QP_STATE_INIT => Some(QpState::Init),
            NDCM_QP_STATE_RTR => Some(QpState::Rtr),
            NDCM_QP_STATE_RTS => Some(QpState::Rts),
            NDCM_QP_STATE_ERROR => Some(QpState::Error),
            _ => None,
        }
    }
}

/// An RC queue pair. Dropping it destroys it (QP_FREE).
pub struct Qp<D: Device> {
    device: Arc<D>,
    handle: u64,
    qpn: u32,
    live: bool,
}

impl<D: Device> Qp<D> {
    /// CREATE_QP, then MODIFY_QP to INIT (what an ND provider does before
    /// handing the QP out: Connect and Accept need it in INIT).
    pub fn create(adapter: &Adapter<D>, config: &QpConfig) -> NdResult<Self> {
        let mut qp = Self::create_in_reset(adapter, config)?;
        qp.modify(QpState::Init)?;
        Ok(qp)
    }

    /// CREATE_QP only; the QP stays in RESET.
    pub fn create_in_reset(adapter: &Adapter<D>, config: &QpConfig) -> NdResult<Self> {
        let device = adapter.device().clone();
        let out: NdcmCreateQpOut = sync(
            &device,
            Ioctl::CreateQp.code(),
            &encode::create_qp_in(adapter.handle(), config),
            NdcmCreateQpOut::SIZE,
            |c| {
                NdError::check(c.status)?;
                encode::read_out(&c.output)
            },
        )?;
        Ok(Qp {
            device,
            handle: out.qp,
            qpn: out.qpn,
            live: true,
        })
    }

    /// MODIFY_QP to RESET, INIT or ERROR; returns the state after the call.
    pub fn modify(&mut self, state: QpState) -> NdResult<QpState> {
        sync(
            &self.device,
            Ioctl::ModifyQp.code(),
            &encode::modify_qp_in(self.handle, state.to_abi()),
            NdcmModifyQpOut::SIZE,
            |c| {
                NdError::check(c.status)?;
                let out: NdcmModifyQpOut = encode::read_out(&c.output)?;
                QpState::from_abi(out.state).ok_or(NdError::MALFORMED_OUTPUT)
            },
        )
    }

    /// The driver's handle.
    pub fn handle(&self) -> u64 {
        self.handle
    }

    /// The QP number.
    pub fn qpn(&self) -> u32 {
        self.qpn
    }

    /// Release (QP_FREE): destroys the QP, aborting its connection if it
    /// has one.
    pub fn destroy(mut self) -> NdResult<()> {
        self.free()
    }

    fn free(&mut self) -> NdResult<()> {
        if !std::mem::replace(&mut self.live, false) {
            return Ok(());
        }
        sync(
            &self.device,
            Ioctl::DestroyQp.code(),
            &encode::handle_in(self.handle),
            0,
            no_output,
        )
    }
}

impl<D: Device> Drop for Qp<D> {
    fn drop(&mut self) {
        // Best effort: after the file closed the driver already freed it.
        let _ = self.free();
    }
}

impl<D: Device> core::fmt::Debug for Qp<D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Qp")
            .field("handle", &format_args!("{:#x}", self.handle))
            .field("qpn", &self.qpn)
            .finish()
    }
}
