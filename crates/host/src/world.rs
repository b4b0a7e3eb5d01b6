//! A world of host devices on one fabric and one virtual clock, driven from
//! a single thread: `step` performs the earliest pending thing (a datagram
//! delivery or a CM timer), moving the clock to its time. Given the same
//! seed and the same calls, a run is the same run — the basis of the
//! deterministic simulator. Threaded tests call the devices from their own
//! threads and drive the world from one.
//!
//! The world never holds a lock of its own while calling a device.

use crate::clock::Clock;
use crate::device::{Device, HostCm};
use crate::fabric::{Fabric, FaultModel, NodeId};
use crate::irql::callback_scope;
use crate::platform::HostPlatform;
use crate::sys::{Callback, Irql, StdSys, Sys};
use crate::verifier::Verifier;
use ndcm_cm::platform::{Duration, Instant};
use ndcm_ndi::cm_port::AdapterInfo;
use std::sync::Arc;

/// Devices, the fabric between them and the clock they share.
pub struct World<C: HostCm, S: Sys = StdSys> {
    platform: HostPlatform<S>,
    fabric: Arc<Fabric<S>>,
    nodes: Vec<(NodeId, Arc<Device<C, S>>)>,
}

impl<C: HostCm, S: Sys> World<C, S> {
    /// An empty world on a virtual clock at 0, its fabric's faults drawn
    /// from `seed`, reporting rule violations to `verifier`.
    pub fn new(verifier: Arc<Verifier>, model: FaultModel, seed: u64) -> Self {
        World {
            platform: HostPlatform::new(verifier, Arc::new(Clock::new_virtual())),
            fabric: Arc::new(Fabric::new(model, seed)),
            nodes: Vec::new(),
        }
    }

    /// A world with a strict verifier and a perfect fabric.
    pub fn perfect() -> Self {
        Self::new(Arc::new(Verifier::default()), FaultModel::default(), 0)
    }

    /// Adds a device owning `gids` on the fabric. `make_cm` builds its CM
    /// port from the shared platform and fabric.
    pub fn add_node(
        &mut self,
        gids: &[[u8; 16]],
        adapters: Vec<AdapterInfo>,
        make_cm: impl FnOnce(HostPlatform<S>, Arc<Fabric<S>>) -> C,
    ) -> Arc<Device<C, S>> {
        let node = self.fabric.attach(gids);
        let cm = make_cm(self.platform.clone(), Arc::clone(&self.fabric));
        let device = Device::new(self.platform.clone(), cm, adapters);
        self.nodes.push((node, Arc::clone(&device)));
        device
    }

    /// The shared platform (clock, verifier).
    pub fn platform(&self) -> &HostPlatform<S> {
        &self.platform
    }

    /// The fabric (fault hooks, stats).
    pub fn fabric(&self) -> &Arc<Fabric<S>> {
        &self.fabric
    }

    /// The devices, in the order added.
    pub fn devices(&self) -> impl Iterator<Item = &Arc<Device<C, S>>> {
        self.nodes.iter().map(|(_, d)| d)
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        self.platform.clock().now()
    }

    /// When the next thing happens, if anything is scheduled.
    pub fn next_event(&self) -> Option<Instant> {
        let timers = self.nodes.iter().filter_map(|(_, d)| d.cm().next_timer());
        timers.chain(self.fabric.next_delivery()).min()
    }

    /// Performs everything due now (deliveries first, then timers), without
    /// moving the clock. Returns whether anything happened.
    pub fn run_due(&self) -> bool {
        let now = self.now();
        let mut any = false;
        loop {
            let due = self.fabric.take_due(now);
            if due.is_empty() {
                break;
            }
            any = true;
            for (node, datagram) in due {
                if let Some((_, device)) = self.nodes.iter().find(|(n, _)| *n == node) {
                    // A received MAD is handled in the HCA's completion DPC.
                    self.at_dispatch("MadReceive", || {
                        device.cm().receive(datagram.src, &datagram.mad)
                    });
                }
            }
        }
        for (_, device) in &self.nodes {
            if device.cm().next_timer().is_some_and(|t| t <= now) {
                // KTIMER DPC.
                self.at_dispatch("TimerDpc", || device.cm().fire_timers(now));
                any = true;
            }
        }
        any
    }

    fn at_dispatch(&self, what: &'static str, f: impl FnOnce()) {
        callback_scope::<S, _>(
            self.platform.verifier(),
            Callback::Other(what),
            Irql::DISPATCH,
            f,
        );
    }

    /// Moves the clock to the next scheduled event (not past `limit`) and
    /// performs it. Returns false when nothing is scheduled before `limit`.
    pub fn step(&self, limit: Instant) -> bool {
        if self.run_due() {
            return true;
        }
        match self.next_event() {
            Some(at) if at <= limit => {
                let _ = self.platform.clock().advance_to(at);
                let _ = self.run_due();
                true
            }
            _ => false,
        }
    }

    /// Runs until nothing is scheduled within `horizon` from now; the clock
    /// ends at the last event performed. Returns the number of steps.
    pub fn run_until_idle(&self, horizon: Duration) -> usize {
        let limit = self.now() + horizon;
        let mut steps = 0;
        while self.step(limit) {
            steps += 1;
        }
        steps
    }

    /// Performs everything scheduled in the next `by`, then sets the clock
    /// to exactly `now + by`.
    pub fn advance(&self, by: Duration) {
        let limit = self.now() + by;
        while self.step(limit) {}
        let _ = self.platform.clock().advance_to(limit);
        let _ = self.run_due();
    }

    /// The audit of every device (see `Device::assert_clean`).
    #[track_caller]
    pub fn assert_clean(&self) {
        for (node, device) in &self.nodes {
            let leaks = device.leaks();
            assert_eq!(leaks, Default::default(), "node {node:?} leaked");
            device.framework().assert_quiescent();
        }
        assert_eq!(self.fabric.in_flight(), 0, "datagrams still in flight");
    }
}
