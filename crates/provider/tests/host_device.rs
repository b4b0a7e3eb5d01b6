//! The provider over the host device (framework + dispatcher, the KMDF
//! rules enforced by a strict verifier), with the CM scripted so that each
//! CM event arrives exactly when the test says. Every test ends with the
//! device's audit: every request completed exactly once, nothing leaked.
#![cfg(feature = "host")]

use ndcm_host::device::Device as HostDriver;
use ndcm_host::scripted::ScriptedHostCm;
use ndcm_host::{HostPlatform, StdSys};
use ndcm_ndi::QueueOwner;
use ndcm_ndi::cm_port::{AdapterInfo, CmEvent, IpAddr};
use ndcm_provider::host::HostDevice;
use ndcm_provider::*;
use std::sync::Arc;

type Driver = HostDriver<ScriptedHostCm, StdSys>;
type Dev = HostDevice<ScriptedHostCm>;

fn driver() -> Arc<Driver> {
    HostDriver::new(
        HostPlatform::new_virtual(),
        ScriptedHostCm::new(),
        vec![AdapterInfo {
            addresses: vec![IpAddr::V4([10, 0, 0, 1])],
            max_inbound_read_limit: 16,
            max_outbound_read_limit: 8,
            max_qp_depth: 1024,
            max_sge: 4,
            max_inline: 64,
        }],
    )
}

fn owner(dev: &Dev, object: u64) -> QueueOwner {
    QueueOwner {
        instance: dev.driver().file(dev.handle()).expect("open").id(),
        object,
    }
}

fn rep() -> CmEvent {
    CmEvent::RepReceived {
        responder_resources: 3,
        initiator_depth: 2,
        private_data: [7; 196],
    }
}

#[test]
fn connect_and_complete_connect_through_the_dispatcher() {
    let d = driver();
    let dev = Arc::new(HostDevice::open(&d));
    let a = Adapter::open(dev.clone(), 0).unwrap();
    assert_eq!(a.query().max_outbound_read_limit, 8);
    let qp = a.create_qp(&QpConfig::default()).unwrap();
    let mut c = a.create_connector().unwrap();
    c.bind("10.0.0.1:0".parse().unwrap()).unwrap();
    let mut op = c.connect(
        &qp,
        "10.0.0.2:4791".parse().unwrap(),
        ReadLimits {
            inbound: 4,
            outbound: 4,
        },
        b"hi",
    );
    assert!(op.is_pending(), "REQ_CM pends until the CM answers");
    assert!(d.cm().inject(owner(&dev, c.handle()), rep()));
    assert_eq!(op.poll_result(), Some(Ok(())));
    assert_eq!(
        c.get_read_limits().unwrap(),
        ReadLimits {
            inbound: 3,
            outbound: 2
        }
    );
    assert_eq!(c.get_private_data().unwrap(), vec![7; 196]);
    c.complete_connect().wait().unwrap();
    let mut notify = c.notify_disconnect();
    assert!(notify.is_pending());
    // Release of the QP disconnects implicitly: the pending notify ends.
    qp.destroy().unwrap();
    assert!(notify.poll_result().is_some());
    drop(c);
    drop(a);
    dev.close();
    d.assert_clean();
}

#[test]
fn the_drivers_validation_reaches_the_caller_as_nd_status() {
    let d = driver();
    let dev = Arc::new(HostDevice::open(&d));
    let a = Adapter::open(dev.clone(), 0).unwrap();
    // No adapter 5 on this device: OPEN_ADAPTER of an index no agent has
    // registered (docs/NDI-agent.md §3).
    assert_eq!(
        Adapter::open(dev.clone(), 5).err(),
        Some(NdError(NtStatus::INVALID_DEVICE_STATE))
    );
    let qp = a.create_qp(&QpConfig::default()).unwrap();
    let mut c = a.create_connector().unwrap();
    // Not one of the adapter's addresses.
    c.bind("10.9.9.9:0".parse().unwrap()).unwrap();
    let r = c
        .connect(
            &qp,
            "10.0.0.2:1".parse().unwrap(),
            ReadLimits::default(),
            &[],
        )
        .wait();
    assert_eq!(r, Err(NdError(NtStatus::INVALID_PARAMETER)));
    // Private data longer than a REQ carries.
    let mut c2 = a.create_connector().unwrap();
    c2.bind("10.0.0.1:0".parse().unwrap()).unwrap();
    let r = c2
        .connect(
            &qp,
            "10.0.0.2:1".parse().unwrap(),
            ReadLimits::default(),
            &[0; 57],
        )
        .wait();
    assert_eq!(r, Err(NdError(NtStatus::INVALID_BUFFER_SIZE)));
    // No request received yet.
    assert_eq!(
        c2.get_private_data(),
        Err(NdError(NtStatus::CONNECTION_INVALID))
    );
    drop((c, c2, qp, a));
    dev.close();
    d.assert_clean();
}

#[test]
fn closing_the_file_cancels_pending_operations_and_frees_everything() {
    let d = driver();
    let dev = Arc::new(HostDevice::open(&d));
    let a = Adapter::open(dev.clone(), 0).unwrap();
    let qp = a.create_qp(&QpConfig::default()).unwrap();
    let mut l = a.create_listener();
    l.bind("0.0.0.0:0".parse().unwrap()).unwrap();
    l.listen(0).unwrap();
    assert_ne!(l.get_local_address().unwrap().port(), 0, "port allocated");
    let mut target = a.create_connector().unwrap();
    let mut get = l.get_connection_request(&mut target);
    assert!(get.is_pending());
    let mut c = a.create_connector().unwrap();
    c.bind("10.0.0.1:0".parse().unwrap()).unwrap();
    let mut connect = c.connect(
        &qp,
        "10.0.0.2:1".parse().unwrap(),
        ReadLimits::default(),
        &[],
    );
    assert!(connect.is_pending());
    dev.close();
    assert_eq!(get.poll_result(), Some(Err(NdError(NtStatus::CANCELLED))));
    assert_eq!(
        connect.poll_result(),
        Some(Err(NdError(NtStatus::CANCELLED)))
    );
    // Objects dropped after the close fail quietly (the handle is gone).
    drop((c, target, l, qp, a));
    d.assert_clean();
}

#[test]
fn cancelling_one_operation_completes_it_cancelled() {
    let d = driver();
    let dev = Arc::new(HostDevice::open(&d));
    let a = Adapter::open(dev.clone(), 0).unwrap();
    let qp = a.create_qp(&QpConfig::default()).unwrap();
    let mut c = a.create_connector().unwrap();
    c.bind("10.0.0.1:0".parse().unwrap()).unwrap();
    let mut op = c.connect(
        &qp,
        "10.0.0.2:1".parse().unwrap(),
        ReadLimits::default(),
        &[],
    );
    op.cancel();
    assert_eq!(op.poll_result(), Some(Err(NdError(NtStatus::CANCELLED))));
    // A failed Connect leaves the connector unusable but the QP reusable.
    let mut c2 = a.create_connector().unwrap();
    c2.bind("10.0.0.1:0".parse().unwrap()).unwrap();
    let mut op2 = c2.connect(
        &qp,
        "10.0.0.2:1".parse().unwrap(),
        ReadLimits::default(),
        &[],
    );
    assert!(op2.is_pending(), "the QP was unbound by the cancel");
    c2.cancel_overlapped_requests().unwrap();
    assert_eq!(op2.poll_result(), Some(Err(NdError(NtStatus::CANCELLED))));
    drop((c, c2, qp, a));
    dev.close();
    d.assert_clean();
}
