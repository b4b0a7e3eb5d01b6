//! The provider against a scripted device that records the exact bytes of
//! every request and answers what the test says. It checks the provider's
//! side of the ABI only; the real stack is tested through the host device.

use ndcm_ndi::abi::*;
use ndcm_provider::*;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

#[derive(Clone, Debug, PartialEq, Eq)]
struct Sent {
    code: u32,
    input: Vec<u8>,
    output_len: usize,
}

enum Answer {
    Now(NtStatus, Vec<u8>),
    Pend,
}

#[derive(Default)]
struct Script {
    sent: Vec<Sent>,
    answers: VecDeque<Answer>,
    finished: Vec<Option<Completion>>,
    wakers: Vec<Option<Waker>>,
    cancelled: Vec<usize>,
    closed: bool,
}

/// A device shared by the test (to script and inspect) and the provider.
#[derive(Clone, Default)]
struct Fake(Rc<RefCell<Script>>);

// The provider takes `Arc<D>`; the fake is single-threaded by design.
struct FakeDevice(Fake);

impl Fake {
    fn answer(&self, status: NtStatus, output: &[u8]) {
        self.0
            .borrow_mut()
            .answers
            .push_back(Answer::Now(status, output.to_vec()));
    }
    fn pend(&self) {
        self.0.borrow_mut().answers.push_back(Answer::Pend);
    }
    fn finish(&self, token: usize, status: NtStatus) {
        let w = {
            let mut s = self.0.borrow_mut();
            s.finished[token] = Some(Completion::status(status));
            s.wakers[token].take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
    fn sent(&self) -> Vec<Sent> {
        std::mem::take(&mut self.0.borrow_mut().sent)
    }
    fn device(&self) -> Arc<FakeDevice> {
        #[allow(clippy::arc_with_non_send_sync)]
        Arc::new(FakeDevice(self.clone()))
    }
}

impl Device for FakeDevice {
    type Token = usize;
    fn ioctl(&self, code: u32, input: &[u8], output_len: usize) -> Submitted<usize> {
        let mut s = self.0.0.borrow_mut();
        s.sent.push(Sent {
            code,
            input: input.to_vec(),
            output_len,
        });
        // Objects dropped at the end of a test free themselves; answer
        // those unless the test scripted something.
        let default_free = (code == Ioctl::DestroyCep.code() || code == Ioctl::DestroyQp.code())
            .then(|| Answer::Now(NtStatus::SUCCESS, Vec::new()));
        let answer = s.answers.pop_front().or(default_free);
        match answer.expect("unscripted request") {
            Answer::Now(status, mut output) => {
                output.truncate(output_len);
                Submitted::Complete(Completion { status, output })
            }
            Answer::Pend => {
                s.finished.push(None);
                s.wakers.push(None);
                Submitted::Pending(s.finished.len() - 1)
            }
        }
    }
    fn poll(&self, token: &mut usize, waker: Option<&Waker>) -> Option<Completion> {
        let mut s = self.0.0.borrow_mut();
        let c = s.finished[*token].take();
        if c.is_none() {
            s.wakers[*token] = waker.cloned();
        }
        c
    }
    fn wait(&self, token: usize) -> Completion {
        self.0.0.borrow_mut().finished[token]
            .take()
            .expect("wait on an unfinished fake request would block")
    }
    fn cancel(&self, token: &usize) {
        self.0.0.borrow_mut().cancelled.push(*token);
    }
    fn close(&self) {
        self.0.0.borrow_mut().closed = true;
    }
}

/// The header every input starts with: `{ NDCM_ABI_VERSION, 0 }`.
const V1: [u8; 8] = {
    let v = ndcm_ndi::abi::NDCM_ABI_VERSION.to_le_bytes();
    [v[0], v[1], v[2], v[3], 0, 0, 0, 0]
};

fn open_adapter(f: &Fake) -> Adapter<FakeDevice> {
    let out = NdcmOpenAdapterOut {
        adapter: 0xA1,
        max_inbound_read_limit: 16,
        max_outbound_read_limit: 8,
        address_count: 1,
        reserved: 0,
    };
    f.answer(NtStatus::SUCCESS, &out.to_bytes());
    let a = Adapter::open(f.device(), 3).unwrap();
    let sent = f.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].code, Ioctl::OpenAdapter.code());
    assert_eq!(sent[0].output_len, 24);
    let mut want = V1.to_vec();
    want.extend_from_slice(&3u32.to_le_bytes());
    want.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(sent[0].input, want);
    a
}

fn connector(f: &Fake, a: &Adapter<FakeDevice>, handle: u64) -> Connector<FakeDevice> {
    f.answer(NtStatus::SUCCESS, &handle.to_le_bytes());
    let c = a.create_connector().unwrap();
    let sent = f.sent();
    assert_eq!(sent[0].code, Ioctl::CreateCep.code());
    assert_eq!(
        sent[0].input,
        [V1.to_vec(), 0xA1u64.to_le_bytes().to_vec()].concat()
    );
    assert_eq!(sent[0].output_len, 8);
    c
}

fn qp(f: &Fake, a: &Adapter<FakeDevice>) -> Qp<FakeDevice> {
    let out = NdcmCreateQpOut {
        qp: 0x51,
        qpn: 0x123,
        reserved: 0,
    };
    f.answer(NtStatus::SUCCESS, &out.to_bytes());
    f.answer(NtStatus::SUCCESS, &[1, 0, 0, 0, 0, 0, 0, 0]);
    let q = a.create_qp(&QpConfig::default()).unwrap();
    let sent = f.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].code, Ioctl::CreateQp.code());
    assert_eq!(&sent[0].input[8..16], &0xA1u64.to_le_bytes());
    assert_eq!(&sent[0].input[16..20], &16u32.to_le_bytes());
    assert_eq!(sent[1].code, Ioctl::ModifyQp.code());
    assert_eq!(&sent[1].input[8..16], &0x51u64.to_le_bytes());
    assert_eq!(&sent[1].input[16..20], &NDCM_QP_STATE_INIT.to_le_bytes());
    q
}

#[test]
fn adapter_query_reports_the_limits_the_driver_returned() {
    let f = Fake::default();
    let a = open_adapter(&f);
    assert_eq!(
        a.query(),
        AdapterInfo {
            max_inbound_read_limit: 16,
            max_outbound_read_limit: 8,
            address_count: 1
        }
    );
    assert_eq!(a.handle(), 0xA1);
}

#[test]
fn open_adapter_failure_is_the_drivers_status() {
    let f = Fake::default();
    f.answer(NtStatus::INVALID_PARAMETER, &[]);
    let e = Adapter::open(f.device(), 9).err().unwrap();
    assert_eq!(e.status(), NtStatus::INVALID_PARAMETER);
}

#[test]
fn short_output_is_reported_as_unsuccessful_not_garbage() {
    let f = Fake::default();
    f.answer(NtStatus::SUCCESS, &[1, 2, 3]);
    let e = Adapter::open(f.device(), 0).err().unwrap();
    assert_eq!(e, NdError::MALFORMED_OUTPUT);
}

#[test]
fn connect_sends_req_cm_with_addresses_limits_and_private_data() {
    let f = Fake::default();
    let a = open_adapter(&f);
    let q = qp(&f, &a);
    let mut c = connector(&f, &a, 0xC0FFEE);
    c.bind("10.0.0.1:0".parse().unwrap()).unwrap();
    f.pend();
    let mut op = c.connect(
        &q,
        "10.0.0.2:4791".parse().unwrap(),
        ReadLimits {
            inbound: 4,
            outbound: 2,
        },
        b"hello",
    );
    let sent = f.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].code, Ioctl::ReqCm.code());
    assert_eq!(sent[0].output_len, 0);
    let i = &sent[0].input;
    assert_eq!(i.len(), 96 + 5);
    assert_eq!(&i[0..8], &V1);
    assert_eq!(&i[8..16], &0xC0FFEEu64.to_le_bytes());
    assert_eq!(&i[16..24], &0x51u64.to_le_bytes());
    assert_eq!(&i[24..28], &4u32.to_le_bytes());
    assert_eq!(&i[28..32], &2u32.to_le_bytes());
    assert_eq!(&i[32..36], &NDCM_PROTOCOL_TCP.to_le_bytes());
    assert_eq!(&i[36..40], &5u32.to_le_bytes());
    assert_eq!(&i[40..44], &96u32.to_le_bytes());
    assert_eq!(&i[44..48], &[0; 4]);
    // local: AF_INET, port 0, 10.0.0.1
    assert_eq!(&i[48..52], &[2, 0, 0, 0]);
    assert_eq!(&i[56..60], &[10, 0, 0, 1]);
    // remote: AF_INET, port 4791 network order, 10.0.0.2
    assert_eq!(&i[72..76], &[2, 0, 0x12, 0xB7]);
    assert_eq!(&i[80..84], &[10, 0, 0, 2]);
    assert_eq!(&i[96..], b"hello");
    // Pending until the driver completes it.
    assert!(op.is_pending());
    assert_eq!(op.poll_result(), None);
    f.finish(0, NtStatus::SUCCESS);
    assert_eq!(op.poll_result(), Some(Ok(())));
    assert_eq!(op.poll_result(), None, "a result is taken once");
}

fn abi_v4(ip: [u8; 4], port: u16) -> NdcmAddress {
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(&ip);
    NdcmAddress {
        family: NDCM_AF_INET,
        port_be: port.to_be(),
        reserved: 0,
        addr,
    }
}

#[test]
fn local_and_peer_address_come_from_cep_get_address() {
    let f = Fake::default();
    let a = open_adapter(&f);
    let mut c = connector(&f, &a, 0xC0FFEE);
    // Bound but not connecting: the driver's answer, not the Bind.
    c.bind("10.0.0.1:0".parse().unwrap()).unwrap();
    f.answer(NtStatus::CONNECTION_INVALID, &[]);
    assert_eq!(
        c.get_local_address(),
        Err(NdError(NtStatus::CONNECTION_INVALID))
    );
    let out = NdcmGetAddressOut {
        local: abi_v4([10, 0, 0, 1], 49153),
        remote: abi_v4([10, 0, 0, 2], 4791),
    };
    f.answer(NtStatus::SUCCESS, &out.to_bytes());
    f.answer(NtStatus::SUCCESS, &out.to_bytes());
    assert_eq!(
        c.get_local_address().unwrap(),
        "10.0.0.1:49153".parse().unwrap()
    );
    assert_eq!(
        c.get_peer_address().unwrap(),
        "10.0.0.2:4791".parse().unwrap()
    );
    let s = f.sent();
    assert_eq!(s.len(), 3);
    for x in &s {
        assert_eq!(x.code, Ioctl::CepGetAddress.code());
        assert_eq!(
            x.input,
            [V1.to_vec(), 0xC0FFEEu64.to_le_bytes().to_vec()].concat()
        );
        assert_eq!(x.output_len, 48);
    }
    // An unknown family in the answer is not an address.
    let mut bad = out;
    bad.remote.family = 99;
    f.answer(NtStatus::SUCCESS, &bad.to_bytes());
    assert_eq!(c.get_peer_address(), Err(NdError::MALFORMED_OUTPUT));
    // A short answer too.
    f.answer(NtStatus::SUCCESS, &[0; 24]);
    assert_eq!(c.get_local_address(), Err(NdError::MALFORMED_OUTPUT));
}

#[test]
fn connect_without_bind_fails_without_sending_anything() {
    let f = Fake::default();
    let a = open_adapter(&f);
    let q = qp(&f, &a);
    let mut c = connector(&f, &a, 7);
    let r = c
        .connect(
            &q,
            "10.0.0.2:1".parse().unwrap(),
            ReadLimits::default(),
            &[],
        )
        .wait();
    assert_eq!(r, Err(NdError(NtStatus::INVALID_DEVICE_STATE)));
    assert!(f.sent().is_empty());
}

#[test]
fn a_refused_connect_reports_connection_refused() {
    let f = Fake::default();
    let a = open_adapter(&f);
    let q = qp(&f, &a);
    let mut c = connector(&f, &a, 7);
    c.bind("10.0.0.1:5000".parse().unwrap()).unwrap();
    f.pend();
    let op = c.connect(
        &q,
        "10.0.0.2:1".parse().unwrap(),
        ReadLimits::default(),
        &[],
    );
    f.finish(0, NtStatus::CONNECTION_REFUSED);
    assert_eq!(op.wait(), Err(NdError(NtStatus::CONNECTION_REFUSED)));
}

#[test]
fn accept_complete_reject_disconnect_and_notify_name_the_connector() {
    let f = Fake::default();
    let a = open_adapter(&f);
    let q = qp(&f, &a);
    let c = connector(&f, &a, 0x77);
    let h = [V1.to_vec(), 0x77u64.to_le_bytes().to_vec()].concat();

    f.answer(NtStatus::SUCCESS, &[]);
    c.accept(
        &q,
        ReadLimits {
            inbound: 1,
            outbound: 3,
        },
        &[0xEE; 196],
    )
    .wait()
    .unwrap();
    let s = f.sent();
    assert_eq!(s[0].code, Ioctl::RepCm.code());
    assert_eq!(s[0].input.len(), 40 + 196);
    assert_eq!(&s[0].input[8..16], &0x77u64.to_le_bytes());
    assert_eq!(&s[0].input[16..24], &0x51u64.to_le_bytes());
    assert_eq!(
        &s[0].input[24..40],
        &[1, 0, 0, 0, 3, 0, 0, 0, 196, 0, 0, 0, 40, 0, 0, 0]
    );

    f.answer(NtStatus::SUCCESS, &[]);
    c.reject(&[]).unwrap();
    let s = f.sent();
    assert_eq!(s[0].code, Ioctl::RejCm.code());
    assert_eq!(s[0].input, [h.clone(), vec![0; 8]].concat());

    f.answer(NtStatus::SUCCESS, &[]);
    c.complete_connect().wait().unwrap();
    f.answer(NtStatus::CONNECTION_DISCONNECTED, &[]);
    assert_eq!(
        c.notify_disconnect().wait(),
        Err(NdError(NtStatus::CONNECTION_DISCONNECTED))
    );
    f.answer(NtStatus::SUCCESS, &[]);
    c.disconnect().wait().unwrap();
    f.answer(NtStatus::SUCCESS, &[]);
    c.cancel_overlapped_requests().unwrap();
    let s = f.sent();
    let codes: Vec<u32> = s.iter().map(|x| x.code).collect();
    assert_eq!(
        codes,
        [
            Ioctl::RtuCm.code(),
            Ioctl::NotifyDreq.code(),
            Ioctl::DreqCm.code(),
            Ioctl::CancelCmIrps.code()
        ]
    );
    assert!(s.iter().all(|x| x.input == h && x.output_len == 0));
}

#[test]
fn private_data_and_read_limits_come_from_get_pdata() {
    let f = Fake::default();
    let a = open_adapter(&f);
    let c = connector(&f, &a, 0x99);
    let fixed = NdcmGetPdataOut {
        inbound_read_limit: 5,
        outbound_read_limit: 6,
        length: 4,
        reserved: 0,
    };
    f.answer(
        NtStatus::SUCCESS,
        &[fixed.to_bytes().to_vec(), vec![1, 2, 3, 4]].concat(),
    );
    assert_eq!(c.get_private_data().unwrap(), vec![1, 2, 3, 4]);
    let s = f.sent();
    assert_eq!(s[0].code, Ioctl::CepGetPdata.code());
    assert_eq!(s[0].output_len, 16 + 196);

    f.answer(NtStatus::SUCCESS, &fixed.to_bytes());
    assert_eq!(
        c.get_read_limits().unwrap(),
        ReadLimits {
            inbound: 5,
            outbound: 6
        }
    );
    assert_eq!(f.sent()[0].output_len, 16);

    // Too small a buffer: what fits is copied and the required size told.
    let big = NdcmGetPdataOut {
        length: 10,
        ..fixed
    };
    f.answer(
        NtStatus::BUFFER_OVERFLOW,
        &[big.to_bytes().to_vec(), vec![9, 8, 7]].concat(),
    );
    let mut buf = [0u8; 3];
    assert_eq!(
        c.get_private_data_into(&mut buf),
        Err((NdError(NtStatus::BUFFER_OVERFLOW), 10))
    );
    assert_eq!(buf, [9, 8, 7]);

    f.answer(NtStatus::CONNECTION_INVALID, &[]);
    assert_eq!(
        c.get_private_data(),
        Err(NdError(NtStatus::CONNECTION_INVALID))
    );
}

#[test]
fn dropping_objects_frees_them_once() {
    let f = Fake::default();
    let a = open_adapter(&f);
    let q = qp(&f, &a);
    let c = connector(&f, &a, 0x42);
    f.answer(NtStatus::SUCCESS, &[]);
    c.destroy().unwrap();
    f.answer(NtStatus::SUCCESS, &[]);
    drop(q);
    let s = f.sent();
    assert_eq!(
        s.len(),
        2,
        "destroy, then nothing more on drop; then QP free"
    );
    assert_eq!(s[0].code, Ioctl::DestroyCep.code());
    assert_eq!(
        s[0].input,
        [V1.to_vec(), 0x42u64.to_le_bytes().to_vec()].concat()
    );
    assert_eq!(s[1].code, Ioctl::DestroyQp.code());
    assert_eq!(
        s[1].input,
        [V1.to_vec(), 0x51u64.to_le_bytes().to_vec()].concat()
    );
}

#[test]
fn listener_binds_listens_and_hands_requests_to_a_connector() {
    let f = Fake::default();
    let a = open_adapter(&f);
    let mut l = a.create_listener();
    assert!(f.sent().is_empty(), "creating a listener sends nothing");
    l.bind("10.0.0.1:0".parse().unwrap()).unwrap();
    let out = NdcmListenOut {
        listener: 0x1111,
        port_be: 5555u16.to_be(),
        reserved0: 0,
        reserved1: 0,
    };
    f.answer(NtStatus::SUCCESS, &out.to_bytes());
    l.listen(0).unwrap();
    let s = f.sent();
    assert_eq!(s[0].code, Ioctl::ListenCm.code());
    assert_eq!(s[0].input.len(), 48);
    assert_eq!(&s[0].input[8..16], &0xA1u64.to_le_bytes());
    assert_eq!(&s[0].input[16..20], &[0; 4], "backlog 0 = default");
    assert_eq!(&s[0].input[20..24], &NDCM_PROTOCOL_TCP.to_le_bytes());
    assert_eq!(s[0].output_len, 16);
    assert_eq!(
        l.get_local_address().unwrap(),
        "10.0.0.1:5555".parse().unwrap()
    );

    let mut c = connector(&f, &a, 0x2222);
    f.pend();
    let mut op = l.get_connection_request(&mut c);
    let s = f.sent();
    assert_eq!(s[0].code, Ioctl::GetReqCm.code());
    assert_eq!(
        s[0].input,
        [
            V1.to_vec(),
            0x1111u64.to_le_bytes().to_vec(),
            0x2222u64.to_le_bytes().to_vec()
        ]
        .concat()
    );
    op.cancel();
    assert_eq!(f.0.borrow().cancelled, vec![0]);
    f.finish(0, NtStatus::CANCELLED);
    assert_eq!(op.poll_result(), Some(Err(NdError(NtStatus::CANCELLED))));
    f.answer(NtStatus::SUCCESS, &[]);
    f.answer(NtStatus::SUCCESS, &[]);
}

#[test]
fn an_op_is_a_future_woken_by_the_completion() {
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let f = Fake::default();
    let a = open_adapter(&f);
    let c = connector(&f, &a, 1);
    f.pend();
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(c.notify_disconnect());
    assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending);
    assert_eq!(count.0.load(Ordering::SeqCst), 0);
    f.finish(0, NtStatus::SUCCESS);
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        1,
        "completion wakes the task"
    );
    assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    f.answer(NtStatus::SUCCESS, &[]);
}

#[test]
fn pending_is_never_a_result() {
    let f = Fake::default();
    f.answer(NtStatus::PENDING, &[0; 24]);
    assert_eq!(
        Adapter::open(f.device(), 0).err(),
        Some(NdError::MALFORMED_OUTPUT)
    );
}
