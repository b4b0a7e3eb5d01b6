//! A run's MADs as a pcap capture: each MAD in a whole RoCEv2 QP1 frame
//! (Ethernet, IPv4, UDP 4791, BTH, DETH, MAD, ICRC) built by ndcm-wire and
//! written by its pcap writer, timestamped with the simulated send time.
//!
//! Nodes get locally administered MACs derived from their IPv4 address
//! (02:00:a.b.c.d). The IPv4 identification counts per sender, as a kernel
//! would; the UDP source port is a per-connection-ish entropy value, as
//! RoCEv2 asks. It owns only the framing of the capture, never the run.

use ndcm_cm::platform::Instant;
use ndcm_host::fabric::Datagram;
use ndcm_wire::Psn;
use ndcm_wire::pcap::{LinkType, PcapWriter};
use ndcm_wire::roce::{IpFields, Ipv4Fields, RoceRepr};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;

/// The IPv4 address in an IPv4-mapped GID, if it is one.
pub fn gid_ipv4(gid: &[u8; 16]) -> Option<Ipv4Addr> {
    let (prefix, v4) = gid.split_at(12);
    if prefix != [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
        return None;
    }
    Some(Ipv4Addr::new(v4[0], v4[1], v4[2], v4[3]))
}

fn mac(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

/// Writes every datagram of `trace` to `out`; returns how many frames.
pub fn write_pcap<W: Write>(out: W, trace: &[(Instant, Datagram)]) -> std::io::Result<usize> {
    let mut pcap = PcapWriter::new(out, LinkType::Ethernet)?;
    let mut ident: BTreeMap<Ipv4Addr, u16> = BTreeMap::new();
    let mut psn: BTreeMap<Ipv4Addr, u32> = BTreeMap::new();
    let mut buf = [0u8; 512];
    let mut n = 0;
    for (at, d) in trace {
        let (Some(src), Some(dst)) = (gid_ipv4(&d.src), gid_ipv4(&d.dst)) else {
            continue;
        };
        let id = ident.entry(src).or_insert(0);
        *id = id.wrapping_add(1);
        let seq = psn.entry(src).or_insert(0);
        *seq = (*seq + 1) & 0x00FF_FFFF;
        // Entropy from the MAD's transaction ID, in 0xC000..=0xFFFF.
        let tid = u16::from_be_bytes([d.mad[14], d.mad[15]]);
        let repr = RoceRepr::new(
            IpFields::V4(Ipv4Fields {
                src,
                dst,
                dscp_ecn: 0,
                identification: *id,
                dont_fragment: true,
                ttl: 64,
            }),
            0xC000 | (tid & 0x3FFF),
            Psn::new(*seq),
        );
        let len = repr
            .emit(&d.mad, &mut buf)
            .map_err(|e| std::io::Error::other(format!("RoCEv2 framing: {e:?}")))?;
        let ts = std::time::Duration::from_nanos(at.0);
        pcap.write_ip_packet(ts, mac(dst), mac(src), &buf[..len])?;
        n += 1;
    }
    pcap.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndcm_wire::pcap::PcapReader;

    #[test]
    fn frames_carry_the_mad_with_a_valid_icrc() {
        let mut mad = [0u8; 256];
        mad[0] = 1;
        mad[1] = 7;
        mad[2] = 2;
        let d = Datagram {
            src: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1],
            dst: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2],
            mad: Box::new(mad),
        };
        let mut out = Vec::new();
        assert_eq!(write_pcap(&mut out, &[(Instant(5_000), d)]).unwrap(), 1);
        let mut r = PcapReader::new(&out[..]).unwrap();
        let rec = r.next_record().unwrap().unwrap();
        let ip = ndcm_wire::eth::ip_payload(&rec.data).unwrap();
        let frame = ndcm_wire::roce::RoceFrame::new_checked(ip).unwrap();
        frame.verify_icrc().unwrap();
        assert_eq!(frame.mad(), &mad[..]);
        assert!(r.next_record().unwrap().is_none());
    }
}
