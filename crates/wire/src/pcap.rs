//! Classic pcap files (the libpcap format Wireshark opens), for captures of
//! CM traffic: a writer and a reader, Ethernet or raw-IP link type.
//!
//! Owns the file format only; frames are built by `roce` and `eth`. Needs
//! `std` (I/O); never used by the driver.

use std::io::{self, Read, Write};
use std::time::Duration;
use std::vec::Vec;

use crate::eth;
use crate::{Result as WireResult, WireError};

const MAGIC_MICROS: u32 = 0xA1B2_C3D4;
const MAGIC_NANOS: u32 = 0xA1B2_3C4D;
const SNAPLEN: u32 = 65_535;
/// Records longer than this are refused rather than allocated.
const MAX_RECORD: u32 = 256 * 1024;

/// The link types this module reads and writes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_RAW (101): each record starts at the IP header. On read,
    /// LINKTYPE_IPV4 (228) and LINKTYPE_IPV6 (229) are accepted as well.
    RawIp,
}

impl LinkType {
    pub const fn code(self) -> u32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::RawIp => 101,
        }
    }

    pub const fn from_code(code: u32) -> Option<LinkType> {
        match code {
            1 => Some(LinkType::Ethernet),
            101 | 228 | 229 => Some(LinkType::RawIp),
            _ => None,
        }
    }

    /// The IP packet inside a record of this link type.
    pub fn ip_payload(self, record: &[u8]) -> WireResult<&[u8]> {
        match self {
            LinkType::Ethernet => eth::ip_payload(record),
            LinkType::RawIp => Ok(record),
        }
    }
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, PcapError { what })
}

/// Why a pcap file could not be read.
#[derive(Debug)]
pub struct PcapError {
    what: &'static str,
}

impl core::fmt::Display for PcapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "pcap: {}", self.what)
    }
}

impl std::error::Error for PcapError {}

impl From<PcapError> for WireError {
    fn from(_: PcapError) -> WireError {
        WireError::Pcap
    }
}

/// Writes a pcap file (microsecond timestamps, little-endian).
pub struct PcapWriter<W: Write> {
    out: W,
    link_type: LinkType,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut out: W, link_type: LinkType) -> io::Result<PcapWriter<W>> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&MAGIC_MICROS.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&SNAPLEN.to_le_bytes());
        h.extend_from_slice(&link_type.code().to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out, link_type })
    }

    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    /// Writes one record with timestamp `ts` (since the Unix epoch).
    pub fn write_record(&mut self, ts: Duration, data: &[u8]) -> io::Result<()> {
        let len = u32::try_from(data.len())
            .ok()
            .filter(|&l| l <= SNAPLEN)
            .ok_or_else(|| invalid("record longer than the snap length"))?;
        let secs = u32::try_from(ts.as_secs()).map_err(|_| invalid("timestamp after 2106"))?;
        let mut h = [0u8; 16];
        h[..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&ts.subsec_micros().to_le_bytes());
        h[8..12].copy_from_slice(&len.to_le_bytes());
        h[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)
    }

    /// Writes an IP packet, adding an Ethernet header (the given MACs) when
    /// the link type is Ethernet.
    pub fn write_ip_packet(
        &mut self,
        ts: Duration,
        dst_mac: [u8; 6],
        src_mac: [u8; 6],
        ip_packet: &[u8],
    ) -> io::Result<()> {
        match self.link_type {
            LinkType::RawIp => self.write_record(ts, ip_packet),
            LinkType::Ethernet => {
                let ipv6 = ip_packet.first().is_some_and(|b| b >> 4 == 6);
                let mut frame = std::vec![0u8; eth::ETHERNET_HEADER_SIZE];
                eth::emit_header(dst_mac, src_mac, ipv6, &mut frame)
                    .map_err(|_| invalid("ethernet header"))?;
                frame.extend_from_slice(ip_packet);
                self.write_record(ts, &frame)
            }
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// One record of a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapRecord {
    /// Since the Unix epoch.
    pub timestamp: Duration,
    /// Length on the wire (may exceed `data.len()` if the capture was cut).
    pub orig_len: u32,
    pub data: Vec<u8>,
}

/// Reads a pcap file of either byte order and timestamp resolution.
pub struct PcapReader<R: Read> {
    input: R,
    link_type: LinkType,
    swapped: bool,
    nanos: bool,
}

impl<R: Read> PcapReader<R> {
    /// Reads and checks the file header.
    pub fn new(mut input: R) -> io::Result<PcapReader<R>> {
        let mut h = [0u8; 24];
        input.read_exact(&mut h)?;
        let magic_le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let (swapped, nanos) = match (magic_le, magic_le.swap_bytes()) {
            (MAGIC_MICROS, _) => (false, false),
            (MAGIC_NANOS, _) => (false, true),
            (_, MAGIC_MICROS) => (true, false),
            (_, MAGIC_NANOS) => (true, true),
            _ => return Err(invalid("not a pcap file (bad magic)")),
        };
        let word = |b: [u8; 4]| {
            if swapped {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let link = word([h[20], h[21], h[22], h[23]]) & 0x0FFF_FFFF;
        let link_type = LinkType::from_code(link)
            .ok_or_else(|| invalid("link type is neither Ethernet nor raw IP"))?;
        Ok(PcapReader {
            input,
            link_type,
            swapped,
            nanos,
        })
    }

    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    fn word(&self, b: &[u8; 16], at: usize) -> u32 {
        let w = crate::bits::array::<4>(b, at);
        if self.swapped {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    }

    /// The next record, `None` at a clean end of file.
    pub fn next_record(&mut self) -> io::Result<Option<PcapRecord>> {
        let mut h = [0u8; 16];
        let mut got = 0;
        while let Some(rest) = h.get_mut(got..).filter(|r| !r.is_empty()) {
            match self.input.read(rest)? {
                0 if got == 0 => return Ok(None),
                0 => return Err(invalid("file ends inside a record header")),
                n => got += n,
            }
        }
        let secs = self.word(&h, 0);
        let frac = self.word(&h, 4);
        let incl = self.word(&h, 8);
        let orig_len = self.word(&h, 12);
        if incl > MAX_RECORD {
            return Err(invalid("record too long"));
        }
        let mut data = std::vec![0u8; incl as usize];
        self.input
            .read_exact(&mut data)
            .map_err(|_| invalid("file ends inside a record"))?;
        let sub = if self.nanos {
            Duration::from_nanos(frac.into())
        } else {
            Duration::from_micros(frac.into())
        };
        Ok(Some(PcapRecord {
            timestamp: Duration::from_secs(secs.into()) + sub,
            orig_len,
            data,
        }))
    }
}

impl<R: Read> Iterator for PcapReader<R> {
    type Item = io::Result<PcapRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}
