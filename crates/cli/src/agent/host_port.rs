//! A host device configured like the Windows driver: its CM (ndcm-ndi's
//! `cm_adapter::ManagerPort` over ndcm-cm's CEP manager, the adapter the
//! driver uses) reaches the wire only through the MAD-port IOCTLs. Every MAD
//! the CM sends completes a pended MAD_GET_OUTBOUND of an agent
//! (`Ndi::deliver_outbound_mad`); received MADs come in only through
//! MAD_SUBMIT_INBOUND. There is no in-memory fabric.
//!
//! Also owns [`TimerPump`], the real-clock stand-in for the driver's KMDF
//! timer: it fires the CM's timers at DISPATCH_LEVEL in a checked callback
//! scope. This module never sends or receives a MAD itself.

use ndcm_cm::ManagerConfig;
use ndcm_host::device::Device as HostDriver;
use ndcm_host::irql::callback_scope;
use ndcm_host::ndi_port::{NdiPort, ca_guid};
use ndcm_host::sys::Callback;
use ndcm_host::{HostPlatform, Irql, StdSys};
use ndcm_ndi::NtStatus;
use ndcm_ndi::cm_port::{AdapterInfo, IpAddr};
use ndcm_ndi::compose::{agent_device, agent_mad_sink};
use ndcm_provider::Device as _;
use ndcm_provider::host::HostDevice;
use ndcm_provider::mad_agent::{AdapterDeclaration, register_adapter};
use ndcm_wire::Gid;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

/// A host device whose MADs go through the MAD-port IOCTLs: its CM is the
/// host's `NdiPort` (the driver's adapter) with the MAD agent's queue as
/// its MAD sink. MADs the CM sends while no MAD_GET_OUTBOUND is pending are
/// dropped like lost packets and counted: `cm().unsent()`.
pub type MadPortDevice = HostDriver<NdiPort>;

/// The CM configuration of a device with `adapters`: its CA GUID comes
/// from its first address (`ndcm_host::ndi_port::ca_guid`), so two agents
/// never share one — a listener serving several `ndcm connect` processes
/// would otherwise take their first REQs, which carry equal comm IDs, for
/// one REQ retransmitted (spec/CM.md §8).
fn manager_config(adapters: &[AdapterInfo]) -> ManagerConfig {
    let gid = adapters
        .first()
        .and_then(|a| a.addresses.first())
        .map(|addr| match addr {
            IpAddr::V4(a) => Gid::from_ipv4_octets(*a).0,
            IpAddr::V6(a) => *a,
        });
    ManagerConfig {
        ca_guid: ca_guid(gid.as_slice()),
        ..ManagerConfig::default()
    }
}

/// A device on `platform`, its CM sending from HCA port `local_port`, its
/// MADs bound to its own MAD-port queue. `adapters` only seed its CA GUID:
/// like the driver it has no adapter until an agent file registers one
/// ([`open_agent`]; docs/NDI-agent.md).
pub fn mad_port_device(
    platform: HostPlatform,
    adapters: Vec<AdapterInfo>,
    local_port: u8,
) -> Arc<MadPortDevice> {
    // The driver's composition function: no built-in adapter, the agent
    // registers the ones it carries (REGISTER_ADAPTER).
    let config = manager_config(&adapters);
    let p = platform.clone();
    let device = HostDriver::compose(platform, move |requests| {
        agent_device(p, config, local_port, requests)
    });
    let _bound = device
        .cm()
        .bind_mads(agent_mad_sink(Arc::downgrade(device.ndi())));
    device
}

/// Opens an agent file on `device` (as SYSTEM, like an elevated `ndcm
/// agent`) and registers `adapters` through it. The adapters go away when
/// the file closes.
pub fn open_agent(
    device: &Arc<MadPortDevice>,
    adapters: &[AdapterDeclaration],
) -> Result<Arc<HostDevice<NdiPort>>, NtStatus> {
    let file = Arc::new(HostDevice::open(device));
    for a in adapters {
        if let Err(status) = register_adapter(file.as_ref(), a) {
            file.close();
            return Err(status);
        }
    }
    Ok(file)
}

/// Longest sleep of the timer thread: an earlier timer armed meanwhile
/// fires at most this late.
const TIMER_TICK: std::time::Duration = std::time::Duration::from_millis(2);

/// Fires a device's CM timers on the platform's (real) clock, at
/// DISPATCH_LEVEL like a KTIMER DPC, until dropped.
pub struct TimerPump {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TimerPump {
    /// Starts the timer thread of `device`.
    pub fn start(device: &Arc<MadPortDevice>) -> std::io::Result<TimerPump> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let device = Arc::clone(device);
        let thread = thread::Builder::new()
            .name("ndcm cm timers".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    let now = device.platform().clock().now();
                    let next = device.cm().next_timer();
                    if next.is_some_and(|t| t <= now) {
                        callback_scope::<StdSys, _>(
                            device.platform().verifier(),
                            Callback::Other("TimerDpc"),
                            Irql::DISPATCH,
                            || device.cm().fire_timers(now),
                        );
                        continue;
                    }
                    let wait = next.map_or(TIMER_TICK, |t| {
                        std::time::Duration::from_nanos(t.0.saturating_sub(now.0)).min(TIMER_TICK)
                    });
                    thread::sleep(wait);
                }
            })?;
        Ok(TimerPump {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for TimerPump {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            // A panic on the timer thread was already reported there.
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(addr: IpAddr) -> AdapterInfo {
        AdapterInfo::soft_roce(vec![addr])
    }

    #[test]
    fn agents_on_different_addresses_have_different_ca_guids() {
        let a = manager_config(&[adapter(IpAddr::V4([10, 88, 0, 1]))]).ca_guid;
        let b = manager_config(&[adapter(IpAddr::V4([10, 88, 0, 2]))]).ca_guid;
        let mut v6 = [0u8; 16];
        v6[0] = 0xfd;
        v6[15] = 2;
        let c = manager_config(&[adapter(IpAddr::V6(v6))]).ca_guid;
        assert_ne!(a, b);
        assert_ne!(b, c);
        assert_ne!(a, ManagerConfig::default().ca_guid);
    }
}
