//! The composition of a device: its CEP manager and the adapter over it,
//! the dispatcher, and the sinks that carry the CM's events and MADs back
//! into that dispatcher. The KMDF driver (driver/src/device.rs) and the host
//! devices (ndcm-host `Device`, the CLI's MAD-port device) build theirs with
//! these functions, so every test runs the wiring Windows runs.
//!
//! The sinks belong to the dispatcher's own CM, so they must never own the
//! dispatcher (a reference cycle that would keep a deleted device alive):
//! they reach it through a [`DeviceLink`] — the driver's device handle, the
//! host's `Weak`.

use crate::Ndi;
use crate::cm_adapter::{EventSink, MadSink, ManagerPort};
use crate::cm_port::{CmEvent, CmPort};
use crate::mad_envelope::outbound_envelope;
use crate::requests::{QueueOwner, Requests};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use ndcm_cm::platform::Platform;
use ndcm_cm::{CepManager, ManagerConfig, Outgoing};

/// How a sink finds its device's dispatcher, if the device still exists.
pub trait DeviceLink<N>: Send + Sync + 'static {
    /// Runs `f` on the dispatcher; `None` once the device is gone.
    fn with_ndi<T>(&self, f: impl FnOnce(&N) -> T) -> Option<T>;
}

impl<N: Send + Sync + 'static> DeviceLink<N> for Weak<N> {
    fn with_ndi<T>(&self, f: impl FnOnce(&N) -> T) -> Option<T> {
        self.upgrade().map(|ndi| f(&ndi))
    }
}

/// The dispatcher of a device whose CM MADs the MAD agent carries (the
/// driver; `ndcm agent`'s in-process device): a fresh CEP manager with
/// `config`, its adapter sending from HCA port `local_port`, over
/// `requests`. It has no adapter: the MAD agent registers the ones it
/// carries (REGISTER_ADAPTER, docs/NDI-agent.md), so the driver and the
/// host's MAD-port devices get theirs the same way. Bind its sinks with
/// [`bind_agent_sinks`] once a link to it exists.
pub fn agent_device<P: Platform + Clone, R: Requests>(
    platform: P,
    config: ManagerConfig,
    local_port: u8,
    requests: R,
) -> Ndi<P, ManagerPort<P>, R> {
    let cm = agent_port(platform.clone(), config, local_port);
    Ndi::new(platform, cm, requests, Vec::new())
}

/// The adapter over a fresh CEP manager with `config`, sending from HCA
/// port `local_port`, with no sink bound (MADs sent before one is are
/// counted as unsent).
pub fn agent_port<P: Platform>(
    platform: P,
    config: ManagerConfig,
    local_port: u8,
) -> ManagerPort<P> {
    ManagerPort::new(CepManager::new(platform, config), local_port)
}

/// Binds both sinks of a MAD-agent device: CM events to the dispatcher,
/// MADs to send to the agent's pended MAD_GET_OUTBOUND requests. False if
/// either was bound already.
pub fn bind_agent_sinks<P, R, L>(ndi: &Ndi<P, ManagerPort<P>, R>, link: L) -> bool
where
    P: Platform,
    R: Requests,
    L: DeviceLink<Ndi<P, ManagerPort<P>, R>> + Clone,
{
    let events = ndi.cm().bind_events(event_sink(link.clone()));
    let mads = ndi.cm().bind_mads(agent_mad_sink(link));
    events && mads
}

/// CM events to the dispatcher behind `link` (`Ndi::on_cm_event`); events
/// for a device that is gone are dropped.
pub fn event_sink<P, C, R, L>(link: L) -> EventSink
where
    P: Platform,
    C: CmPort,
    R: Requests,
    L: DeviceLink<Ndi<P, C, R>>,
{
    Arc::new(move |owner: QueueOwner, event: CmEvent| {
        let _ = link.with_ndi(|ndi| ndi.on_cm_event(owner, event));
    })
}

/// MADs to send to the MAD agent: each completes the oldest pended
/// MAD_GET_OUTBOUND of any agent file (`Ndi::deliver_outbound_mad`). With
/// none pended the MAD is dropped like a lost packet and the CM's retries
/// cover it.
pub fn agent_mad_sink<P, R, L>(link: L) -> MadSink
where
    P: Platform,
    R: Requests,
    L: DeviceLink<Ndi<P, ManagerPort<P>, R>>,
{
    Arc::new(move |outgoing: &Outgoing| {
        link.with_ndi(|ndi| ndi.deliver_outbound_mad(&outbound_envelope(outgoing)))
            .unwrap_or(false)
    })
}

/// A CA GUID drawn from `seed` for a node that has no HCA node GUID (the
/// MAD agent carries its MADs): the splitmix64 finaliser, never 0. Peers
/// take a REQ for a retransmission when its (Local Comm ID, Local CA GUID)
/// is known (spec/CM.md §2, §8) and every ndcm node numbers its comm IDs
/// alike, so two nodes must not share one; the driver seeds it with the
/// interrupt time and its device object's address.
pub fn drawn_ca_guid(seed: u64) -> u64 {
    let mut x = seed;
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (x ^ (x >> 31)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_ca_guids_differ_by_seed_and_are_never_zero() {
        let a = drawn_ca_guid(1);
        let b = drawn_ca_guid(2);
        assert_ne!(a, b);
        assert_ne!(drawn_ca_guid(0), 0);
        assert_eq!(
            drawn_ca_guid(7),
            drawn_ca_guid(7),
            "stable for a device's life"
        );
    }
}
