//! The agent's adapters and authority through the host device that runs the
//! driver's composition (docs/NDI-agent.md): the MAD-port device has no
//! adapter until an agent file registers one, a non-administrator's agent
//! IOCTLs are refused, and the agent's death withdraws its adapter with
//! the specified statuses — through the provider API, with every KMDF rule
//! checked.

use ndcm::agent::host_port::{MadPortDevice, mad_port_device, open_agent};
use ndcm_host::clock::Clock;
use ndcm_host::irql::callback_scope;
use ndcm_host::sys::Callback;
use ndcm_host::{HostPlatform, Irql, StdSys, Verifier};
use ndcm_ndi::Caller;
use ndcm_ndi::abi::{Ioctl, NdcmHeader, NdcmMadEnvelope, NtStatus};
use ndcm_provider::host::HostDevice;
use ndcm_provider::mad_agent::{
    AdapterDeclaration, AgentConfig, AgentError, MadAgent, MadTransport, SendFailure,
    register_adapter, withdraw_adapter,
};
use ndcm_provider::{Adapter, Device, NdError, QpConfig, ReadLimits, Submitted};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

const IP: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 2);

fn device() -> Arc<MadPortDevice> {
    let platform = HostPlatform::new(Arc::new(Verifier::default()), Arc::new(Clock::new_real()));
    mad_port_device(platform, vec![ndcm::agent::acceptor::adapter_info(IP)], 1)
}

fn declare(ip: Ipv4Addr) -> AdapterDeclaration {
    AdapterDeclaration::soft_roce(vec![ip.into()], 1)
}

/// A transport that carries nothing.
struct Nowhere;
impl MadTransport for Nowhere {
    fn send(&self, _: &NdcmMadEnvelope) -> Result<(), SendFailure> {
        Ok(())
    }
    fn recv_timeout(&self, _: Duration) -> Option<ndcm_provider::mad_agent::InboundMad> {
        None
    }
}

fn status_of<T>(r: Result<T, NdError>) -> NtStatus {
    match r {
        Ok(_) => NtStatus::SUCCESS,
        Err(e) => e.0,
    }
}

/// A user's `ndcm agent` (not elevated) is refused at once and changes
/// nothing; the same user's application finds no adapter until an
/// administrator's agent registers one.
#[test]
fn a_non_administrator_cannot_be_the_agent() {
    let dev = device();
    let user = Arc::new(HostDevice::open_as(&dev, Caller::user(1000)));
    assert_eq!(
        register_adapter(user.as_ref(), &declare(IP)),
        Err(NtStatus::ACCESS_DENIED)
    );
    assert_eq!(
        withdraw_adapter(user.as_ref(), 0),
        Err(NtStatus::ACCESS_DENIED)
    );
    assert!(dev.ndi().adapters_view().is_empty());
    let mut agent = MadAgent::new(Arc::clone(&user), Nowhere, AgentConfig::default());
    assert_eq!(
        agent.turn(),
        Err(AgentError::GetRefused(NtStatus::ACCESS_DENIED))
    );
    drop(agent);
    let header = NdcmHeader {
        version: ndcm_ndi::abi::NDCM_ABI_VERSION,
        flags: 0,
    };
    match user.ioctl(Ioctl::MadSubmitInbound.code(), &header.to_bytes(), 0) {
        Submitted::Complete(c) => assert_eq!(c.status, NtStatus::ACCESS_DENIED),
        Submitted::Pending(_) => panic!("refused at once"),
    }
    assert_eq!(
        status_of(Adapter::open(Arc::clone(&user), 0)),
        NtStatus::INVALID_DEVICE_STATE,
        "no agent, no adapter"
    );
    let admin = Arc::new(HostDevice::open_as(&dev, Caller::administrator(500)));
    let agent = MadAgent::new(Arc::clone(&admin), Nowhere, AgentConfig::default());
    assert_eq!(
        agent.register(&declare(IP)),
        Ok(0),
        "an administrator registers"
    );
    drop(agent);
    let adapter = Adapter::open(Arc::clone(&user), 0).expect("now the user opens it");
    drop(adapter);
    user.close();
    admin.close();
    dev.assert_clean();
}

/// The agent dies with a listener waiting and a connect in flight: the
/// GetConnectionRequest completes CANCELLED, the Connect
/// CONNECTION_ABORTED, new calls on the adapter DEVICE_REMOVED; a new agent
/// registers the address again and the application opens it anew.
#[test]
fn the_agents_death_withdraws_its_adapter_and_a_new_agent_registers_it_again() {
    let dev = device();
    let agent = open_agent(&dev, &[declare(IP)]).expect("register");
    let app = Arc::new(HostDevice::open_as(&dev, Caller::user(1000)));
    let adapter = Adapter::open(Arc::clone(&app), 0).expect("adapter");
    let mut listener = ndcm_provider::Listener::create(&adapter);
    listener
        .bind(SocketAddr::new(IP.into(), 7000))
        .expect("bind");
    listener.listen(4).expect("listen");
    let mut target = adapter.create_connector().expect("connector");
    let mut get = listener.get_connection_request(&mut target);
    let qp = adapter.create_qp(&QpConfig::default()).expect("qp");
    let mut conn = adapter.create_connector().expect("connector");
    conn.bind(SocketAddr::new(IP.into(), 0)).expect("bind");
    let mut connect = conn.connect(
        &qp,
        SocketAddr::new(PEER.into(), 7000),
        ReadLimits {
            inbound: 1,
            outbound: 1,
        },
        b"",
    );
    assert!(get.is_pending() && connect.is_pending());

    agent.close();
    assert!(dev.ndi().adapters_view().is_empty());
    assert_eq!(get.poll_result().map(status_of), Some(NtStatus::CANCELLED));
    assert_eq!(
        connect.poll_result().map(status_of),
        Some(NtStatus::CONNECTION_ABORTED)
    );
    assert_eq!(
        status_of(adapter.create_connector()),
        NtStatus::DEVICE_REMOVED
    );

    let agent2 = open_agent(&dev, &[declare(IP)]).expect("a restarted agent registers");
    assert_eq!(dev.ndi().adapters_view()[0].index, 0);
    let adapter2 = Adapter::open(Arc::clone(&app), 0).expect("adapter again");
    let mut listener2 = ndcm_provider::Listener::create(&adapter2);
    listener2
        .bind(SocketAddr::new(IP.into(), 7000))
        .expect("the port was released");
    listener2.listen(4).expect("listen");
    drop((listener, listener2, target, conn, qp, adapter, adapter2));
    app.close();
    agent2.close();
    expire_timers(&dev);
    dev.assert_clean();
}

/// Fires every CM timer (timewait of the aborted connection) as the
/// driver's timer DPC would, however far ahead.
fn expire_timers(dev: &Arc<MadPortDevice>) {
    for _ in 0..100 {
        let Some(at) = dev.cm().next_timer() else {
            return;
        };
        callback_scope::<StdSys, _>(
            dev.platform().verifier(),
            Callback::Other("TimerDpc"),
            Irql::DISPATCH,
            || dev.cm().fire_timers(at),
        );
    }
    panic!("timers keep re-arming");
}
