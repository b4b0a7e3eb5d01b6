//! ndcm's full host stack on the frame tunnel: a host `Device` (KMDF-rule-checking request
//! model, the ndcm-ndi dispatcher) over the driver's CM adapter (`NdiPort`: ndcm-ndi's
//! `cm_adapter::ManagerPort` over ndcm-cm's CEP manager), on a real
//! clock, its MADs bridged between the host fabric and the tunnel.
//!
//! The host fabric carries a device's MADs between GIDs; here it has two nodes: ndcm's
//! device, and a bridge that owns the Linux guest's GID. A pump thread moves what the fabric
//! delivers to the bridge into the tunnel, hands what the tunnel receives to the device's CM
//! (at DISPATCH_LEVEL, as a receive completion DPC would), and fires the CM's timers.
//! This module owns only that bridge and the pump; it never builds or interprets a MAD.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration as StdDuration;

use ndcm_host::clock::Clock;
use ndcm_host::device::{Device, HostCm};
use ndcm_host::fabric::{Datagram, Fabric, FaultModel, NodeId};
use ndcm_host::irql::callback_scope;
use ndcm_host::ndi_port::NdiPort;
use ndcm_host::sys::{Callback, StdSys};
use ndcm_host::tunnel::FrameTunnel;
use ndcm_host::{HostPlatform, Irql, Mode, Verifier};
use ndcm_ndi::cm_port::{AdapterInfo, IpAddr};
use ndcm_wire::Gid;

pub type StackDevice = Device<NdiPort>;

/// The device and the pump that joins it to the tunnel.
pub struct Stack {
    pub device: Arc<StackDevice>,
    pub tunnel: Arc<FrameTunnel>,
    pub verifier: Arc<Verifier>,
    stop: Arc<AtomicBool>,
    pump: Option<JoinHandle<()>>,
}

impl Stack {
    /// A device for `tunnel`'s address, reaching `peers` (their IPv4 addresses) through it.
    pub fn start(tunnel: FrameTunnel, peers: &[[u8; 4]]) -> Stack {
        let verifier = Arc::new(Verifier::new(Mode::Strict));
        let platform = HostPlatform::new(Arc::clone(&verifier), Arc::new(Clock::new_real()));
        let fabric: Arc<Fabric> = Arc::new(Fabric::new(FaultModel::default(), 0));
        let me = tunnel.ip().octets();
        let my_gid = Gid::from_ipv4_octets(me).0;
        let device_node = fabric.attach(&[my_gid]);
        let peer_gids: Vec<[u8; 16]> = peers.iter().map(|p| Gid::from_ipv4_octets(*p).0).collect();
        let bridge = fabric.attach(&peer_gids);
        let cm =
            ndcm_host::ndi_port::on_fabric(platform.clone(), Arc::clone(&fabric), vec![my_gid]);
        let adapter = AdapterInfo::soft_roce(vec![IpAddr::V4(me)]);
        let device = Device::new(platform.clone(), cm, vec![adapter]);
        let tunnel = Arc::new(tunnel);
        let stop = Arc::new(AtomicBool::new(false));
        let pump = {
            let (device, tunnel, stop, verifier) = (
                Arc::clone(&device),
                Arc::clone(&tunnel),
                Arc::clone(&stop),
                Arc::clone(&verifier),
            );
            thread::Builder::new()
                .name("stack pump".into())
                .spawn(move || {
                    pump(
                        &platform,
                        &fabric,
                        device_node,
                        bridge,
                        &device,
                        &tunnel,
                        &verifier,
                        &stop,
                    )
                })
                .expect("pump thread")
        };
        Stack {
            device,
            tunnel,
            verifier,
            stop,
            pump: Some(pump),
        }
    }

    /// Stops the pump (a rule violation on the pump thread fails here).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(p) = self.pump.take() {
            p.join()
                .expect("stack pump (a KMDF rule violation panics it)");
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(p) = self.pump.take() {
            let _ = p.join();
        }
    }
}

/// Runs `f` as a DPC would (DISPATCH_LEVEL, checked scope).
fn at_dispatch(verifier: &Verifier, what: &'static str, f: impl FnOnce()) {
    callback_scope::<StdSys, _>(verifier, Callback::Other(what), Irql::DISPATCH, f);
}

#[allow(clippy::too_many_arguments)]
fn pump(
    platform: &HostPlatform,
    fabric: &Fabric,
    device_node: NodeId,
    bridge: NodeId,
    device: &StackDevice,
    tunnel: &FrameTunnel,
    verifier: &Verifier,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::Relaxed) {
        let now = platform.clock().now();
        for (node, Datagram { src, dst, mad }) in fabric.take_due(now) {
            if node == bridge {
                if let Err(e) = tunnel.send_to_gid(&mad, Gid(dst)) {
                    eprintln!("bridge: {e}");
                }
            } else if node == device_node {
                at_dispatch(verifier, "MadReceive", || {
                    HostCm::receive(device.cm(), src, &mad)
                });
            }
        }
        if device.cm().next_timer().is_some_and(|t| t <= now) {
            at_dispatch(verifier, "TimerDpc", || device.cm().fire_timers(now));
        }
        // Wait for the tunnel no longer than the next thing due.
        let next = [device.cm().next_timer(), fabric.next_delivery()]
            .into_iter()
            .flatten()
            .min();
        let now = platform.clock().now();
        let wait_ns = next
            .map_or(5_000_000, |t| t.0.saturating_sub(now.0))
            .clamp(50_000, 5_000_000);
        if let Some(m) = tunnel.recv_timeout(StdDuration::from_nanos(wait_ns)) {
            at_dispatch(verifier, "MadReceive", || {
                HostCm::receive(device.cm(), m.source_gid.0, &m.mad)
            });
        }
    }
}
