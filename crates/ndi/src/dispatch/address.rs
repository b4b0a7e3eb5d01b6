//! CEP_GET_ADDRESS: the local and peer IP endpoints of a connection, for the
//! ND v2 GetLocalAddress and GetPeerAddress (spec/NDI.md §10).
//!
//! It owns only the answer: the endpoints themselves are stored on the
//! connection by REQ_CM (the validated local address with the port the
//! driver allocated, and the destination) and by GET_REQ_CM (our address and
//! the peer's from the REQ's rdma_cm header). It never changes any state.
//!
//! Which states answer (§10: "CONNECTION_INVALID when not
//! connected/connecting", read against the §4 table):
//! * IDLE, including an IDLE connection waiting as a GET_REQ_CM target:
//!   nothing is being connected yet, CONNECTION_INVALID. A Bind-only
//!   address is the provider's business, not an endpoint of a connection.
//! * REQ_SENT, REQ_RCVD, REP_SENT, REP_RCVD: connecting, SUCCESS. REQ_RCVD
//!   is what lets a passive connector name its peer before Accept.
//! * CONNECTED, DREQ_RCVD, DISCONNECTING: connected. A peer's DREQ or our own
//!   DREQ_CM in flight leaves the connection in place until it reaches
//!   CLOSED; §5.12 still treats both as connected (DREQ_CM is accepted in
//!   DREQ_RCVD, and is INVALID_DEVICE_STATE rather than CONNECTION_INVALID in
//!   DISCONNECTING), so the addresses stay readable, SUCCESS.
//! * CLOSED (after a disconnect, a reject, a timeout, a cancel or an abort):
//!   terminal and never reused (§4), so no longer connected,
//!   CONNECTION_INVALID.

use super::input::{self, Output};
use super::{Ndi, Out, Reply};
use crate::NdiError;
use crate::abi::*;
use crate::cm_port::{CmPort, IpAddr, IpEndpoint};
use crate::object::{ConnState, FileState};
use crate::requests::Requests;
use ndcm_cm::platform::Platform;

/// Whether a connection in `state` is connecting or connected (see the
/// module documentation for why each state is on its side of the line).
fn has_endpoints(state: ConnState) -> bool {
    match state {
        ConnState::ReqSent
        | ConnState::ReqRcvd
        | ConnState::RepSent
        | ConnState::RepRcvd
        | ConnState::Connected
        | ConnState::DreqRcvd
        | ConnState::Disconnecting => true,
        ConnState::Idle | ConnState::Closed => false,
    }
}

/// An endpoint in the ABI's SOCKADDR_INET-like form (port and address in
/// network order, IPv4 in the first four bytes).
pub(crate) fn abi_address(e: &IpEndpoint) -> NdcmAddress {
    let mut addr = [0u8; 16];
    let family = match e.addr {
        IpAddr::V4(v4) => {
            let (head, _) = addr.split_at_mut(4);
            head.copy_from_slice(&v4);
            NDCM_AF_INET
        }
        IpAddr::V6(v6) => {
            addr = v6;
            NDCM_AF_INET6
        }
    };
    NdcmAddress {
        family,
        port_be: e.port.to_be(),
        reserved: 0,
        addr,
    }
}

impl<P: Platform, C: CmPort, R: Requests> Ndi<P, C, R> {
    /// CEP_GET_ADDRESS: input [`NdcmHandleIn`] naming a connection of this
    /// file, output exactly [`NdcmGetAddressOut`]. Envelope errors as every
    /// request (§1); a listener, QP or adapter handle is INVALID_HANDLE.
    /// Synchronous, never pends.
    pub(super) fn get_address(
        &self,
        st: &FileState<R>,
        input: &[u8],
        output_len: usize,
    ) -> Result<Reply, NdiError> {
        let i: NdcmHandleIn = input::fixed(input)?;
        input::output(output_len, Output::Exact(NdcmGetAddressOut::SIZE))?;
        let conn = st
            .connections
            .get(i.handle)
            .ok_or(NdiError::InvalidHandle)?;
        if !has_endpoints(conn.state) {
            return Err(NdiError::ConnectionInvalid);
        }
        // Every path into a connecting state stores both endpoints first; a
        // connection without them is not one we can describe.
        let (Some(local), Some(remote)) = (conn.local, conn.remote) else {
            return Err(NdiError::ConnectionInvalid);
        };
        let out = NdcmGetAddressOut {
            local: abi_address(&local),
            remote: abi_address(&remote),
        };
        Ok(Reply::Done(NtStatus::SUCCESS, Out::bytes(&out.to_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::input;

    #[test]
    fn abi_address_round_trips_through_the_input_validator() {
        for e in [
            IpEndpoint {
                addr: IpAddr::V4([10, 1, 2, 3]),
                port: 4791,
            },
            IpEndpoint {
                addr: IpAddr::V6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
                port: 65535,
            },
        ] {
            let a = abi_address(&e);
            assert_eq!(input::address(&a), Ok(e));
        }
        let a = abi_address(&IpEndpoint {
            addr: IpAddr::V4([10, 1, 2, 3]),
            port: 0x12B7,
        });
        assert_eq!(
            (a.family, a.port_be.to_ne_bytes(), a.addr),
            (
                NDCM_AF_INET,
                [0x12, 0xB7],
                [10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
            )
        );
    }
}
