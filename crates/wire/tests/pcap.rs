//! pcap writer and reader: files round-trip for both link types, foreign
//! byte order and nanosecond files are read, malformed files are refused.
#![cfg(feature = "std")]

use std::io::Cursor;
use std::time::Duration;

use ndcm_wire::cm::{CmMessage, DrepRepr};
use ndcm_wire::pcap::{LinkType, PcapReader, PcapWriter};
use ndcm_wire::roce::{self, IpFields, Ipv4Fields, RoceRepr};
use ndcm_wire::{CmMad, CommId, PrivateData, Psn};

fn packet() -> Vec<u8> {
    let repr = RoceRepr::new(
        IpFields::V4(Ipv4Fields {
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
            dscp_ecn: 0,
            identification: 0,
            dont_fragment: true,
            ttl: 64,
        }),
        0xC001,
        Psn::new(1),
    );
    let mad = CmMad::new(
        7,
        CmMessage::Drep(DrepRepr {
            local_comm_id: CommId(3),
            remote_comm_id: CommId(4),
            private_data: PrivateData::zeroed(),
        }),
    );
    let mut buf = vec![0u8; repr.packet_len()];
    roce::encode(&repr, &mad, &mut buf).unwrap();
    buf
}

#[test]
fn ethernet_and_raw_ip_files_round_trip() {
    for link in [LinkType::Ethernet, LinkType::RawIp] {
        let ip = packet();
        let mut w = PcapWriter::new(Vec::new(), link).unwrap();
        w.write_ip_packet(
            Duration::new(1_700_000_000, 123_456_000),
            [2; 6],
            [4; 6],
            &ip,
        )
        .unwrap();
        w.write_ip_packet(Duration::new(1_700_000_001, 0), [2; 6], [4; 6], &ip)
            .unwrap();
        let bytes = w.into_inner();
        assert_eq!(&bytes[..4], &[0xD4, 0xC3, 0xB2, 0xA1]);
        let mut r = PcapReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!(r.link_type(), link);
        let first = r.next_record().unwrap().unwrap();
        assert_eq!(first.timestamp, Duration::new(1_700_000_000, 123_456_000));
        let payload = link.ip_payload(&first.data).unwrap();
        assert_eq!(payload, &ip[..]);
        assert!(roce::decode(payload).is_ok());
        assert_eq!(first.orig_len as usize, first.data.len());
        assert!(r.next_record().unwrap().is_some());
        assert!(r.next_record().unwrap().is_none());
    }
}

#[test]
fn big_endian_nanosecond_file_is_read() {
    let mut f = Vec::new();
    f.extend_from_slice(&0xA1B2_3C4Du32.to_be_bytes());
    f.extend_from_slice(&[
        0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 101,
    ]);
    f.extend_from_slice(&5u32.to_be_bytes());
    f.extend_from_slice(&7u32.to_be_bytes());
    f.extend_from_slice(&3u32.to_be_bytes());
    f.extend_from_slice(&9u32.to_be_bytes());
    f.extend_from_slice(&[1, 2, 3]);
    let mut r = PcapReader::new(Cursor::new(f)).unwrap();
    assert_eq!(r.link_type(), LinkType::RawIp);
    let rec = r.next().unwrap().unwrap();
    assert_eq!(rec.timestamp, Duration::new(5, 7));
    assert_eq!(rec.orig_len, 9);
    assert_eq!(rec.data, vec![1, 2, 3]);
    assert!(r.next().is_none());
}

#[test]
fn malformed_files_are_refused() {
    assert!(PcapReader::new(Cursor::new(vec![0u8; 24])).is_err());
    assert!(PcapReader::new(Cursor::new(vec![0xD4, 0xC3, 0xB2, 0xA1])).is_err());
    // Link type 105 (802.11) is not supported.
    let mut w = PcapWriter::new(Vec::new(), LinkType::RawIp)
        .unwrap()
        .into_inner();
    w[20] = 105;
    assert!(PcapReader::new(Cursor::new(w)).is_err());
    // A record cut short, and a header cut short.
    let mut w = PcapWriter::new(Vec::new(), LinkType::RawIp).unwrap();
    w.write_record(Duration::ZERO, &[1, 2, 3, 4]).unwrap();
    let bytes = w.into_inner();
    let mut r = PcapReader::new(Cursor::new(bytes[..bytes.len() - 1].to_vec())).unwrap();
    assert!(r.next_record().is_err());
    let mut r = PcapReader::new(Cursor::new(bytes[..30].to_vec())).unwrap();
    assert!(r.next_record().is_err());
    // An absurd record length is refused before allocating.
    let mut big = bytes.clone();
    big[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut r = PcapReader::new(Cursor::new(big)).unwrap();
    assert!(r.next_record().is_err());
    // The writer refuses a record above the snap length.
    let mut w = PcapWriter::new(Vec::new(), LinkType::RawIp).unwrap();
    assert!(w.write_record(Duration::ZERO, &vec![0; 70_000]).is_err());
}
