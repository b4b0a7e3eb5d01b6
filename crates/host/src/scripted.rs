//! A host CM port over the dispatcher's scripted CM
//! (`ndcm_ndi::testing::ScriptedCm`): it records the dispatcher's CM calls
//! and lets a test inject CM events at chosen moments, on chosen threads.
//! Used where the race under test is in the dispatcher and the framework
//! (cancel vs event, close vs event, REP_CM vs QP destroy) and the model
//! checker must control every step; end-to-end tests use the real CEP
//! manager instead. It sends no MADs and arms no timers.

use crate::device::{EventSink, HostCm};
use ndcm_cm::cid::Cid;
use ndcm_cm::platform::{Duration, Instant};
use ndcm_ndi::NdiError;
use ndcm_ndi::QueueOwner;
use ndcm_ndi::abi::NdcmMadAddress;
use ndcm_ndi::cm_port::{AcceptSpec, CmEvent, CmPort, ConnectSpec, ListenSpec};
use ndcm_ndi::testing::ScriptedCm;
use std::sync::OnceLock;

/// The scripted CM with an event-injection handle.
#[derive(Default)]
pub struct ScriptedHostCm {
    cm: ScriptedCm,
    sink: OnceLock<EventSink>,
}

impl ScriptedHostCm {
    /// A fresh scripted CM.
    pub fn new() -> Self {
        Self::default()
    }

    /// The recording CM (calls, live CIDs, incoming CIDs).
    pub fn script(&self) -> &ScriptedCm {
        &self.cm
    }

    /// Delivers `event` to `owner` as the CM's callback would (at
    /// DISPATCH_LEVEL, on the calling thread). Returns false before the
    /// device has bound the sink.
    pub fn inject(&self, owner: QueueOwner, event: CmEvent) -> bool {
        match self.sink.get() {
            Some(sink) => {
                sink(owner, event);
                true
            }
            None => false,
        }
    }
}

impl CmPort for ScriptedHostCm {
    type Effects = ();
    fn create(&self, owner: QueueOwner) -> Result<Cid, NdiError> {
        self.cm.create(owner)
    }
    fn adopt(&self, cid: Cid, owner: QueueOwner) -> Result<(), NdiError> {
        self.cm.adopt(cid, owner)
    }
    fn listen(&self, file: u64, cid: Cid, spec: &ListenSpec, fx: &mut ()) -> Result<(), NdiError> {
        self.cm.listen(file, cid, spec, fx)
    }
    fn connect(
        &self,
        file: u64,
        cid: Cid,
        spec: &ConnectSpec<'_>,
        fx: &mut (),
    ) -> Result<(), NdiError> {
        self.cm.connect(file, cid, spec, fx)
    }
    fn accept(
        &self,
        file: u64,
        cid: Cid,
        spec: &AcceptSpec<'_>,
        fx: &mut (),
    ) -> Result<(), NdiError> {
        self.cm.accept(file, cid, spec, fx)
    }
    fn rtu(&self, file: u64, cid: Cid, fx: &mut ()) -> Result<(), NdiError> {
        self.cm.rtu(file, cid, fx)
    }
    fn reject(
        &self,
        file: u64,
        cid: Cid,
        reason: u16,
        pdata: &[u8],
        fx: &mut (),
    ) -> Result<(), NdiError> {
        self.cm.reject(file, cid, reason, pdata, fx)
    }
    fn dreq(&self, file: u64, cid: Cid, fx: &mut ()) -> Result<(), NdiError> {
        self.cm.dreq(file, cid, fx)
    }
    fn drep(&self, file: u64, cid: Cid, fx: &mut ()) -> Result<(), NdiError> {
        self.cm.drep(file, cid, fx)
    }
    fn destroy(&self, file: u64, cid: Cid, fx: &mut ()) {
        self.cm.destroy(file, cid, fx)
    }
    fn timewait(&self, file: u64, cid: Cid) -> Duration {
        self.cm.timewait(file, cid)
    }
    fn submit_mad(
        &self,
        address: &NdcmMadAddress,
        mad: &[u8; 256],
        fx: &mut (),
    ) -> Result<(), NdiError> {
        self.cm.submit_mad(address, mad, fx)
    }
    fn perform(&self, fx: ()) {
        self.cm.perform(fx)
    }
}

impl HostCm for ScriptedHostCm {
    fn bind_events(&self, sink: EventSink) {
        let _ = self.sink.set(sink);
    }
    fn receive(&self, _from: [u8; 16], _mad: &[u8; 256]) {}
    fn fire_timers(&self, _now: Instant) {}
    fn next_timer(&self) -> Option<Instant> {
        None
    }
    fn live_objects(&self) -> usize {
        self.cm.live()
    }
}
