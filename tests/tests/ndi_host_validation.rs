//! The IOCTL validation matrix through a host device (every KMDF rule
//! checked by a strict verifier, the real CEP manager underneath): for
//! every IOCTL, malformed envelopes get their precise status, another
//! instance's handles get STATUS_INVALID_HANDLE (S8), a failed request
//! leaves no trace, and after closing everything the device is clean.

#[path = "e2e_common/mod.rs"]
mod e2e_common;

use e2e_common::Net;
use ndcm_host::client::{Client, header};
use ndcm_host::device::Io;
use ndcm_host::ndi_port::NdiPort;
use ndcm_ndi::NtStatus;
use ndcm_ndi::abi::*;

type Cl = Client<NdiPort>;

fn handle_in(h: u64) -> Vec<u8> {
    NdcmHandleIn {
        header: header(),
        handle: h,
    }
    .to_bytes()
    .to_vec()
}

struct Objects {
    adapter: u64,
    qp: u64,
    conn: u64,
    listener: u64,
}

fn objects(c: &Cl, port: u16) -> Objects {
    let adapter = c.adapter();
    let qp = c.qp(adapter);
    let conn = c.connection(adapter);
    let (listener, _) = c.listen(adapter, port);
    Objects {
        adapter,
        qp,
        conn,
        listener,
    }
}

/// A valid input and output length for `op`.
fn valid(op: Ioctl, o: &Objects) -> (Vec<u8>, usize) {
    let addr = |a: [u8; 4], port: u16| ndcm_host::client::ipv4(a, port);
    match op {
        Ioctl::Noop => (header().to_bytes().to_vec(), 0),
        Ioctl::OpenAdapter => (
            NdcmOpenAdapterIn {
                header: header(),
                adapter_index: 0,
                reserved: 0,
            }
            .to_bytes()
            .to_vec(),
            24,
        ),
        Ioctl::CreateQp => (
            NdcmCreateQpIn {
                header: header(),
                adapter: o.adapter,
                send_depth: 4,
                receive_depth: 4,
                send_sge: 1,
                receive_sge: 1,
                inline_data: 0,
                reserved: 0,
            }
            .to_bytes()
            .to_vec(),
            16,
        ),
        Ioctl::DestroyQp => (handle_in(o.qp), 0),
        Ioctl::ModifyQp => (
            NdcmModifyQpIn {
                header: header(),
                qp: o.qp,
                state: NDCM_QP_STATE_ERROR,
                reserved: 0,
            }
            .to_bytes()
            .to_vec(),
            8,
        ),
        Ioctl::CreateCep => (handle_in(o.adapter), 8),
        Ioctl::DestroyCep
        | Ioctl::RtuCm
        | Ioctl::DreqCm
        | Ioctl::NotifyDreq
        | Ioctl::CancelCmIrps => (handle_in(o.conn), 0),
        Ioctl::CepGetPdata => (handle_in(o.conn), 16),
        Ioctl::CepGetAddress => (handle_in(o.conn), NdcmGetAddressOut::SIZE),
        Ioctl::ListenCm => (
            NdcmListenIn {
                header: header(),
                adapter: o.adapter,
                backlog: 1,
                protocol: NDCM_PROTOCOL_TCP,
                local: addr([0; 4], 9000),
            }
            .to_bytes()
            .to_vec(),
            16,
        ),
        Ioctl::GetReqCm => (
            NdcmGetReqIn {
                header: header(),
                listener: o.listener,
                connection: o.conn,
            }
            .to_bytes()
            .to_vec(),
            0,
        ),
        Ioctl::ReqCm => (
            NdcmReqCmIn {
                header: header(),
                connection: o.conn,
                qp: o.qp,
                inbound_read_limit: 1,
                outbound_read_limit: 1,
                protocol: NDCM_PROTOCOL_TCP,
                pdata_length: 0,
                pdata_offset: 0,
                reserved: 0,
                local: addr(e2e_common::CLIENT_IP, 0),
                remote: addr(e2e_common::SERVER_IP, 9000),
            }
            .to_bytes()
            .to_vec(),
            0,
        ),
        Ioctl::RepCm => (
            NdcmRepCmIn {
                header: header(),
                connection: o.conn,
                qp: o.qp,
                inbound_read_limit: 1,
                outbound_read_limit: 1,
                pdata_length: 0,
                pdata_offset: 0,
            }
            .to_bytes()
            .to_vec(),
            0,
        ),
        Ioctl::RejCm => (
            NdcmRejCmIn {
                header: header(),
                connection: o.conn,
                pdata_length: 0,
                pdata_offset: 0,
            }
            .to_bytes()
            .to_vec(),
            0,
        ),
        Ioctl::MadGetOutbound => (header().to_bytes().to_vec(), 288),
        Ioctl::MadSubmitInbound => {
            let mut mad = [0u8; 256];
            mad[0] = 1;
            mad[1] = 0x07;
            (
                NdcmMadSubmitIn {
                    header: header(),
                    address: NdcmMadAddress {
                        gid: [0; 16],
                        qpn: 1,
                        qkey: 0x8001_0000,
                        pkey_index: 0,
                        port: 1,
                        reserved0: 0,
                        reserved1: 0,
                    },
                    mad,
                }
                .to_bytes()
                .to_vec(),
                0,
            )
        }
        Ioctl::RegisterAdapter => {
            let mut v = NdcmRegisterAdapterIn {
                header: header(),
                max_inbound_read_limit: 16,
                max_outbound_read_limit: 16,
                max_qp_depth: 64,
                max_sge: 4,
                max_inline: 0,
                mtu: 1024,
                port: 1,
                reserved0: 0,
                reserved1: 0,
                address_count: 1,
                address_offset: NdcmRegisterAdapterIn::SIZE as u32,
                reserved2: 0,
            }
            .to_bytes()
            .to_vec();
            v.extend_from_slice(&addr([10, 9, 9, 9], 0).to_bytes());
            (v, 8)
        }
        Ioctl::WithdrawAdapter => (
            NdcmWithdrawAdapterIn {
                header: header(),
                adapter_index: 0,
                reserved: 0,
            }
            .to_bytes()
            .to_vec(),
            0,
        ),
    }
}

fn output_bounds(op: Ioctl) -> Option<(usize, usize)> {
    match op {
        Ioctl::OpenAdapter => Some((24, 24)),
        Ioctl::CreateQp | Ioctl::ListenCm => Some((16, 16)),
        Ioctl::ModifyQp | Ioctl::CreateCep => Some((8, 8)),
        Ioctl::CepGetPdata => Some((16, 16 + 196)),
        Ioctl::CepGetAddress => Some((48, 48)),
        Ioctl::MadGetOutbound => Some((288, 288)),
        Ioctl::RegisterAdapter => Some((8, 8)),
        _ => None,
    }
}

fn fails(c: &Cl, op: Ioctl, input: &[u8], out: usize, want: NtStatus, case: &str) {
    match c.call(op, input, out) {
        Io::Complete(done) => {
            assert_eq!(NtStatus(done.status), want, "{op:?} {case}");
            assert_eq!(done.information, 0, "{op:?} {case}: Information on failure");
        }
        Io::Pending(_) => panic!("{op:?} {case}: pended"),
    }
}

#[test]
fn every_ioctl_validates_its_envelope_and_handles_on_the_host_device() {
    let net = Net::new();
    let mut cases = 0;
    for &op in Ioctl::ALL {
        let a = net.client();
        let b = net.client();
        let oa = objects(&a, 9100);
        let _ob = objects(&b, 9101);
        let (input, out) = valid(op, &oa);
        let p = NtStatus::INVALID_PARAMETER;
        fails(&a, op, &input[..4], out, p, "short");
        fails(&a, op, &[], out, p, "empty");
        let mut v = input.clone();
        v[0] = 9;
        fails(&a, op, &v, out, NtStatus::INVALID_DEVICE_REQUEST, "version");
        let mut v = input.clone();
        v[5] = 1;
        fails(&a, op, &v, out, p, "flags");
        let mut v = input.clone();
        v.push(0);
        fails(&a, op, &v, out, p, "extra byte");
        cases += 5;
        match output_bounds(op) {
            Some((min, max)) => {
                fails(
                    &a,
                    op,
                    &input,
                    min - 1,
                    NtStatus::BUFFER_TOO_SMALL,
                    "output small",
                );
                fails(&a, op, &input, max + 1, p, "output large");
                cases += 2;
            }
            None => {
                fails(&a, op, &input, 4, p, "unexpected output");
                cases += 1;
            }
        }
        if !matches!(
            op,
            Ioctl::Noop
                | Ioctl::OpenAdapter
                | Ioctl::MadGetOutbound
                | Ioctl::MadSubmitInbound
                | Ioctl::RegisterAdapter
                | Ioctl::WithdrawAdapter
        ) {
            // S8: instance B names instance A's objects.
            fails(
                &b,
                op,
                &input,
                out,
                NtStatus::INVALID_HANDLE,
                "other instance's handle",
            );
            cases += 1;
        }
        a.close();
        b.close();
    }
    net.settle();
    net.client.assert_clean();
    net.server.assert_clean();
    eprintln!("host-device validation cases: {cases}");
}

#[test]
fn mad_agent_requests_pend_and_are_cancelled_by_close_and_cancel() {
    let net = Net::new();
    let a = net.client();
    let (input, out) = valid(Ioctl::MadGetOutbound, &objects(&a, 9200));
    let Io::Pending(p1) = a.call(Ioctl::MadGetOutbound, &input, out) else {
        panic!("MAD_GET_OUTBOUND must pend");
    };
    let Io::Pending(p2) = a.call(Ioctl::MadGetOutbound, &input, out) else {
        panic!("MAD_GET_OUTBOUND must pend");
    };
    assert!(net.client.cancel(p1), "the framework's cancel callback ran");
    assert_eq!(
        net.client.poll(p1).map(|c| NtStatus(c.status)),
        Some(NtStatus::CANCELLED)
    );
    let (mad_in, _) = valid(Ioctl::MadSubmitInbound, &objects(&a, 9201));
    assert_eq!(
        a.status(Ioctl::MadSubmitInbound, &mad_in, 0),
        NtStatus::SUCCESS
    );
    a.close();
    assert_eq!(
        net.client.poll(p2).map(|c| NtStatus(c.status)),
        Some(NtStatus::CANCELLED)
    );
    net.settle();
    net.client.assert_clean();
}
