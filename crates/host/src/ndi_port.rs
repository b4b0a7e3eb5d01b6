//! `NdiPort`: the host's CM port — ndcm-ndi's own CM adapter
//! (`ndcm_ndi::cm_adapter::ManagerPort`, the one the Windows driver uses)
//! over a fresh CEP manager on the host platform, its MADs on the in-memory
//! fabric. Every host configuration (the e2e and model checks, `ndcm sim`,
//! the interop stack, the benches) runs the driver's adapter through it, so
//! the host cannot drift from what the driver does.
//!
//! Pure delegation: all CM behaviour (translation, refusals, timers) is the
//! adapter's; this module only gives the node's CEP manager its CA GUID,
//! picks the source GID of each MAD and puts it on the fabric (or, for a
//! device configured like the driver, leaves the MAD sink to its owner:
//! `NdiPort::unbound`). It must never add CM behaviour of its own.

use crate::device::{EventSink, HostCm};
use crate::fabric::{Datagram, Fabric};
use crate::platform::HostPlatform;
use crate::sys::{StdSys, Sys};
use ndcm_cm::cid::Cid;
use ndcm_cm::platform::{Duration, Instant, Platform};
use ndcm_cm::{CepManager, MadAddress, ManagerConfig, Outgoing, Stats};
use ndcm_ndi::NdiError;
use ndcm_ndi::QueueOwner;
use ndcm_ndi::abi::NdcmMadAddress;
use ndcm_ndi::cm_adapter::{Deferred, ManagerPort};
use ndcm_ndi::cm_port::{AcceptSpec, CmPort, ConnectSpec, ListenSpec};
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

/// ndcm-ndi's `ManagerPort` on the host platform and fabric.
pub struct NdiPort<S: Sys = StdSys> {
    port: ManagerPort<HostPlatform<S>>,
}

impl<S: Sys> NdiPort<S> {
    /// The adapter over a fresh CEP manager on `platform`, sending from
    /// `gids` (the first of the destination's family) on `fabric`.
    pub fn new(platform: HostPlatform<S>, fabric: Arc<Fabric<S>>, gids: Vec<[u8; 16]>) -> Self {
        let config = ManagerConfig {
            ca_guid: ca_guid(&gids),
            ..ManagerConfig::default()
        };
        let port = Self::unbound(platform.clone(), config, 1);
        port.port.bind_mads(Arc::new(move |o: &Outgoing| {
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
    /// sending from HCA port `local_port`, with no MAD sink: its owner binds
    /// one (`adapter().bind_mads`), e.g. the MAD agent's queue as in the
    /// driver. MADs sent before that are counted as unsent.
    pub fn unbound(platform: HostPlatform<S>, config: ManagerConfig, local_port: u8) -> Self {
        NdiPort {
            port: ManagerPort::new(CepManager::new(platform, config), local_port),
        }
    }

    /// The adapter.
    pub fn adapter(&self) -> &ManagerPort<HostPlatform<S>> {
        &self.port
    }

    /// The manager's live-object counters (leak audits).
    pub fn stats(&self) -> Stats {
        self.port.manager().stats()
    }
}

impl<S: Sys> CmPort for NdiPort<S> {
    type Effects = Deferred;
    fn create(&self, owner: QueueOwner) -> Result<Cid, NdiError> {
        self.port.create(owner)
    }
    fn adopt(&self, cid: Cid, owner: QueueOwner) -> Result<(), NdiError> {
        self.port.adopt(cid, owner)
    }
    fn listen(
        &self,
        file: u64,
        cid: Cid,
        spec: &ListenSpec,
        fx: &mut Deferred,
    ) -> Result<(), NdiError> {
        self.port.listen(file, cid, spec, fx)
    }
    fn connect(
        &self,
        file: u64,
        cid: Cid,
        spec: &ConnectSpec<'_>,
        fx: &mut Deferred,
    ) -> Result<(), NdiError> {
        self.port.connect(file, cid, spec, fx)
    }
    fn accept(
        &self,
        file: u64,
        cid: Cid,
        spec: &AcceptSpec<'_>,
        fx: &mut Deferred,
    ) -> Result<(), NdiError> {
        self.port.accept(file, cid, spec, fx)
    }
    fn rtu(&self, file: u64, cid: Cid, fx: &mut Deferred) -> Result<(), NdiError> {
        self.port.rtu(file, cid, fx)
    }
    fn reject(
        &self,
        file: u64,
        cid: Cid,
        reason: u16,
        pdata: &[u8],
        fx: &mut Deferred,
    ) -> Result<(), NdiError> {
        self.port.reject(file, cid, reason, pdata, fx)
    }
    fn dreq(&self, file: u64, cid: Cid, fx: &mut Deferred) -> Result<(), NdiError> {
        self.port.dreq(file, cid, fx)
    }
    fn drep(&self, file: u64, cid: Cid, fx: &mut Deferred) -> Result<(), NdiError> {
        self.port.drep(file, cid, fx)
    }
    fn destroy(&self, file: u64, cid: Cid, fx: &mut Deferred) {
        self.port.destroy(file, cid, fx)
    }
    fn timewait(&self, file: u64, cid: Cid) -> Duration {
        self.port.timewait(file, cid)
    }
    fn submit_mad(
        &self,
        address: &NdcmMadAddress,
        mad: &[u8; 256],
        fx: &mut Deferred,
    ) -> Result<(), NdiError> {
        self.port.submit_mad(address, mad, fx)
    }
    fn perform(&self, fx: Deferred) {
        self.port.perform(fx)
    }
}

impl<S: Sys> HostCm for NdiPort<S> {
    fn bind_events(&self, sink: EventSink) {
        self.port.bind_events(sink);
    }
    fn receive(&self, from: [u8; 16], mad: &[u8; 256]) {
        self.port.receive(
            MadAddress {
                gid: Gid(from),
                port: 1,
            },
            mad,
        );
    }
    fn fire_timers(&self, now: Instant) {
        self.port.fire_timers(now);
    }
    fn next_timer(&self) -> Option<Instant> {
        self.port.next_timer()
    }
    fn live_objects(&self) -> usize {
        self.port.live_objects()
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
