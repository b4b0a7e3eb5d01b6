//! The frame tunnel (ndcm-host's Ethernet-in-UDP endpoint, QEMU
//! `-netdev dgram` compatible) as the MAD agent's transport: whole RoCEv2
//! QP1 frames (IPv4, UDP 4791, BTH, DETH, MAD, ICRC) built and verified by
//! the tunnel, ARP answered and resolved by it.
//!
//! Owns only the mapping between the agent's envelopes and the tunnel's
//! addressing; it never interprets a MAD.

use ndcm_host::tunnel::{FrameTunnel, SendError};
use ndcm_ndi::abi::NdcmMadEnvelope;
use ndcm_provider::mad_agent::{GSI_QPN, InboundMad, MadTransport, SendFailure};
use ndcm_wire::Gid;
use std::time::Duration;

/// The agent's transport over one tunnel endpoint.
pub struct TunnelTransport {
    tunnel: FrameTunnel,
}

impl TunnelTransport {
    /// Wraps a bound tunnel endpoint.
    pub fn new(tunnel: FrameTunnel) -> Self {
        TunnelTransport { tunnel }
    }

    /// The endpoint (address, counters, capture).
    pub fn tunnel(&self) -> &FrameTunnel {
        &self.tunnel
    }
}

impl MadTransport for TunnelTransport {
    fn send(&self, envelope: &NdcmMadEnvelope) -> Result<(), SendFailure> {
        // The tunnel carries QP1 traffic only: a MAD for another QP (a
        // redirected GSI agent) cannot be framed here.
        if envelope.address.qpn != GSI_QPN {
            return Err(SendFailure::Unreachable);
        }
        match self
            .tunnel
            .send_to_gid(&envelope.mad, Gid(envelope.address.gid))
        {
            Ok(()) => Ok(()),
            Err(SendError::NotIpv4(_)) => Err(SendFailure::Unreachable),
            Err(SendError::Io(e)) => Err(SendFailure::Io(e)),
        }
    }

    fn recv_timeout(&self, timeout: Duration) -> Option<InboundMad> {
        let m = if timeout.is_zero() {
            self.tunnel.try_recv()
        } else {
            self.tunnel.recv_timeout(timeout)
        }?;
        Some(InboundMad {
            mad: m.mad,
            gid: m.source_gid.0,
            qpn: m.source_qpn,
            // The tunnel does not report the BTH P_Key; ndcm uses one
            // partition, the default (index 0).
            pkey_index: 0,
        })
    }
}
