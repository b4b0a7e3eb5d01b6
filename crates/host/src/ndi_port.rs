//! `NdiPort`: the host's CM port — ndcm-ndi's own CM adapter
//! (`ndcm_ndi::cm_adapter::ManagerPort`, the one the Windows driver uses)
//! over a fresh CEP manager on the host platform, its MADs on the in-memory
//! fabric (`on_fabric`) or wherever its owner binds them (`unbound`, e.g.
//! the MAD agent's queue as in the driver). Every host configuration (the
//! e2e and model checks, `ndcm sim`, the interop stack, the benches) runs
//! the driver's adapter itself, so the host cannot drift from what the
//! driver does.
//!
//! All CM behaviour (translation, refusals, timers) is the adapter's; this
//! module only gives the node's CEP manager its CA GUID, picks the source
//! GID of each MAD, puts it on the fabric and implements the host device's
//! `HostCm` entry points. It must never add CM behaviour of its own.

use crate::device::{EventSink, HostCm};
use crate::fabric::{Datagram, Fabric};
use crate::platform::HostPlatform;
use crate::sys::{StdSys, Sys};
use ndcm_cm::platform::{Instant, Platform};
use ndcm_cm::{MadAddress, ManagerConfig, Outgoing};
use ndcm_ndi::cm_adapter::ManagerPort;
use ndcm_wire::Gid;
use std::sync::Arc;

/// The CA GUID of a node that owns `gids`: the interface ID (low 8 bytes)
/// of its first GID over the default's vendor prefix. Like a real HCA's node
/// GUID it differs between nodes, which the CM relies on: a REQ is a
/// duplicate when its (Local Comm ID, Local CA GUID) is already known
/// (spec/CM.md §2, §8), and every node numbers its comm IDs alike, so nodes
/// sharing one CA GUID take each other's REQs for retransmissions.
pub fn ca_guid(gids: &[[u8; 16]]) -> u64 {
    let base = ManagerConfig::default().ca_guid;
    gids.first()
        .and_then(|g| g.get(8..16))
        .and_then(|id| <[u8; 8]>::try_from(id).ok())
        .map_or(base, |id| base ^ u64::from_be_bytes(id))
}

/// The host's CM port: ndcm-ndi's `ManagerPort` itself, on the host
/// platform (no wrapper, so nothing can be added between the dispatcher and
/// the driver's adapter).
pub type NdiPort<S = StdSys> = ManagerPort<HostPlatform<S>>;

/// The adapter over a fresh CEP manager on `platform`, sending from `gids`
/// (the first of the destination's family) on `fabric`.
pub fn on_fabric<S: Sys>(
    platform: HostPlatform<S>,
    fabric: Arc<Fabric<S>>,
    gids: Vec<[u8; 16]>,
) -> NdiPort<S> {
    let config = ManagerConfig {
        ca_guid: ca_guid(&gids),
        ..ManagerConfig::default()
    };
    let port = unbound(platform.clone(), config, 1);
    let _bound = port.bind_mads(Arc::new(move |o: &Outgoing| {
        let v4 = o.to.gid.to_ipv4().is_some();
        let src = gids
            .iter()
            .find(|g| Gid(**g).to_ipv4().is_some() == v4)
            .or(gids.first())
            .copied()
            .unwrap_or_default();
        fabric.send(
            platform.now(),
            Datagram {
                src,
                dst: o.to.gid.0,
                mad: Box::new(o.mad),
            },
        );
        true
    }));
    port
}

/// The adapter over a fresh CEP manager with `config` on `platform`,
/// sending from HCA port `local_port`, with no MAD sink: its owner binds one
/// (`bind_mads`), e.g. the MAD agent's queue as in the driver. MADs sent
/// before that are counted as unsent.
pub fn unbound<S: Sys>(
    platform: HostPlatform<S>,
    config: ManagerConfig,
    local_port: u8,
) -> NdiPort<S> {
    ndcm_ndi::compose::agent_port(platform, config, local_port)
}

impl<S: Sys> HostCm for NdiPort<S> {
    fn bind_events(&self, sink: EventSink) {
        // The device binds once, when it is built.
        let _bound = ManagerPort::bind_events(self, sink);
    }
    fn receive(&self, from: [u8; 16], mad: &[u8; 256]) {
        let from = MadAddress {
            gid: Gid(from),
            port: 1,
        };
        ManagerPort::receive(self, from, mad);
    }
    fn fire_timers(&self, now: Instant) {
        ManagerPort::fire_timers(self, now);
    }
    fn next_timer(&self) -> Option<Instant> {
        ManagerPort::next_timer(self)
    }
    fn live_objects(&self) -> usize {
        ManagerPort::live_objects(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(ip: [u8; 4]) -> [u8; 16] {
        Gid::from_ipv4_octets(ip).0
    }

    #[test]
    fn nodes_with_different_addresses_get_different_ca_guids() {
        let a = ca_guid(&[v4([10, 0, 0, 1])]);
        let b = ca_guid(&[v4([10, 0, 0, 2])]);
        assert_ne!(a, b);
        assert_ne!(a, ManagerConfig::default().ca_guid);
        // The first GID decides; the same node always gets the same GUID.
        assert_eq!(ca_guid(&[v4([10, 0, 0, 1]), v4([10, 0, 0, 9])]), a);
    }

    #[test]
    fn a_node_without_a_gid_keeps_the_default() {
        assert_eq!(ca_guid(&[]), ManagerConfig::default().ca_guid);
    }
}
