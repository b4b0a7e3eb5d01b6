//! The rdma_cm IP conventions inside CM messages (spec/WIRE.md §7, IBA
//! Annex A11): the service ID layout and the REQ private-data header.
//!
//! Service IDs are built and compared as big-endian integers of their wire
//! bytes, never in WinOFED's little-endian host view (§7.1).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::bits;
use crate::cm::req::REQ_PRIVATE_DATA;
use crate::enums::code_enum;
use crate::{PrivateData, Result, ServiceId, WireError};

code_enum! {
    /// rdma_cm port space (bytes 4–5 of the service ID).
    PortSpace: u16, mask = 0xFFFF, default = Tcp {
        Ipoib = 0x0002 => "IPoIB",
        Tcp = 0x0106 => "TCP",
        Udp = 0x0111 => "UDP",
        Ib = 0x013F => "IB",
    }
}

/// An rdma_cm service ID: `0x00000000_SSSS_PPPP` (port space, port).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct IpServiceId {
    pub port_space: PortSpace,
    pub port: u16,
}

impl IpServiceId {
    pub const fn tcp(port: u16) -> IpServiceId {
        IpServiceId {
            port_space: PortSpace::Tcp,
            port,
        }
    }

    pub const fn service_id(self) -> ServiceId {
        ServiceId(((self.port_space.code() as u64) << 16) | self.port as u64)
    }

    /// `None` when bytes 0–3 are not zero (not an rdma_cm service ID).
    pub const fn from_service_id(sid: ServiceId) -> Option<IpServiceId> {
        if sid.0 >> 32 != 0 {
            return None;
        }
        Some(IpServiceId {
            port_space: PortSpace::from_code((sid.0 >> 16) as u16),
            port: sid.0 as u16,
        })
    }
}

impl From<IpServiceId> for ServiceId {
    fn from(s: IpServiceId) -> ServiceId {
        s.service_id()
    }
}

/// Size of the header at the front of REQ private data.
pub const IP_PRIVATE_DATA_HEADER_SIZE: usize = 36;
/// REQ private data left to the consumer after the header.
pub const IP_CONSUMER_PRIVATE_DATA: usize = REQ_PRIVATE_DATA - IP_PRIVATE_DATA_HEADER_SIZE;

/// The rdma_cm REQ private-data header (Linux `struct cma_hdr`, WinOFED
/// `ib_cm_rdma_req_t`), version 0.0. Both addresses have the same family.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 1 | version major/minor |
/// | 1 | 1 | IP version (high nibble) |
/// | 2 | 2 | source port |
/// | 4 | 16 | source IP (IPv4 in bytes 16–19) |
/// | 20 | 16 | destination IP (IPv4 in bytes 32–35) |
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct IpPrivateDataHeader {
    pub src_port: u16,
    pub src_addr: IpAddr,
    pub dst_addr: IpAddr,
}

impl IpPrivateDataHeader {
    /// Parses the first 36 bytes of REQ private data. Accepts only version
    /// 0x00 and IP version byte exactly 0x40 or 0x60, as the WinOFED
    /// listener does (§7.2).
    pub fn parse(private_data: &[u8]) -> Result<IpPrivateDataHeader> {
        if private_data.len() < IP_PRIVATE_DATA_HEADER_SIZE {
            return Err(WireError::Truncated {
                needed: IP_PRIVATE_DATA_HEADER_SIZE,
                got: private_data.len(),
            });
        }
        let [version, ip_version] = bits::array::<2>(private_data, 0);
        let src_port = u16::from_be_bytes(bits::array(private_data, 2));
        let addr = |at: usize| -> Option<IpAddr> {
            match ip_version {
                0x40 => Some(IpAddr::V4(Ipv4Addr::from(bits::array::<4>(
                    private_data,
                    at + 12,
                )))),
                0x60 => Some(IpAddr::V6(Ipv6Addr::from(bits::array::<16>(
                    private_data,
                    at,
                )))),
                _ => None,
            }
        };
        match (version, addr(4), addr(20)) {
            (0x00, Some(src_addr), Some(dst_addr)) => Ok(IpPrivateDataHeader {
                src_port,
                src_addr,
                dst_addr,
            }),
            _ => Err(WireError::RdmaCmHeader {
                version,
                ip_version,
            }),
        }
    }

    /// The IP version byte (0x40 or 0x60), from the source address family.
    pub const fn ip_version_byte(&self) -> u8 {
        match self.src_addr {
            IpAddr::V4(_) => 0x40,
            IpAddr::V6(_) => 0x60,
        }
    }

    /// Writes the 36-byte header.
    pub fn emit(&self, out: &mut [u8; IP_PRIVATE_DATA_HEADER_SIZE]) {
        out.fill(0);
        bits::put(out, 1, &[self.ip_version_byte()]);
        bits::put(out, 2, &self.src_port.to_be_bytes());
        for (at, addr) in [(4, self.src_addr), (20, self.dst_addr)] {
            match addr {
                IpAddr::V4(a) => bits::put(out, at + 12, &a.octets()),
                IpAddr::V6(a) => bits::put(out, at, &a.octets()),
            }
        }
    }

    /// REQ private data: this header followed by at most 56 consumer bytes;
    /// `None` if `consumer` is longer.
    pub fn req_private_data(&self, consumer: &[u8]) -> Option<PrivateData<REQ_PRIVATE_DATA>> {
        if consumer.len() > IP_CONSUMER_PRIVATE_DATA {
            return None;
        }
        let mut header = [0u8; IP_PRIVATE_DATA_HEADER_SIZE];
        self.emit(&mut header);
        let mut pd = PrivateData::<REQ_PRIVATE_DATA>::zeroed();
        bits::put(&mut pd.0, 0, &header);
        bits::put(&mut pd.0, IP_PRIVATE_DATA_HEADER_SIZE, consumer);
        Some(pd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_port_7471_service_id_matches_spec_example() {
        let sid = IpServiceId::tcp(7471).service_id();
        assert_eq!(sid, ServiceId(0x0000_0000_0106_1D2F));
        assert_eq!(sid.to_be_bytes(), [0, 0, 0, 0, 0x01, 0x06, 0x1D, 0x2F]);
        assert_eq!(
            IpServiceId::from_service_id(sid),
            Some(IpServiceId::tcp(7471))
        );
        assert_eq!(IpServiceId::from_service_id(ServiceId(1 << 40)), None);
    }

    #[test]
    fn ipv4_header_bytes_follow_cma_hdr() {
        let h = IpPrivateDataHeader {
            src_port: 0x1234,
            src_addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst_addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        };
        let pd = h.req_private_data(b"hello").unwrap();
        let mut expected = [0u8; 92];
        expected[1] = 0x40;
        expected[2..4].copy_from_slice(&[0x12, 0x34]);
        expected[16..20].copy_from_slice(&[10, 0, 0, 1]);
        expected[32..36].copy_from_slice(&[10, 0, 0, 2]);
        expected[36..41].copy_from_slice(b"hello");
        assert_eq!(pd.0, expected);
        assert_eq!(IpPrivateDataHeader::parse(&pd.0), Ok(h));
    }

    #[test]
    fn ipv6_header_round_trips() {
        let h = IpPrivateDataHeader {
            src_port: 1,
            src_addr: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 1, 2, 3, 4)),
            dst_addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        let pd = h.req_private_data(&[0xAB; 56]).unwrap();
        assert_eq!(pd.0[1], 0x60);
        assert_eq!(IpPrivateDataHeader::parse(&pd.0), Ok(h));
        assert!(h.req_private_data(&[0; 57]).is_none());
    }

    #[test]
    fn header_with_wrong_version_or_family_is_refused() {
        let mut pd = [0u8; 92];
        pd[1] = 0x40;
        pd[0] = 0x10;
        assert_eq!(
            IpPrivateDataHeader::parse(&pd),
            Err(WireError::RdmaCmHeader {
                version: 0x10,
                ip_version: 0x40
            })
        );
        pd[0] = 0;
        pd[1] = 0x41;
        assert!(IpPrivateDataHeader::parse(&pd).is_err());
        assert_eq!(
            IpPrivateDataHeader::parse(&pd[..35]),
            Err(WireError::Truncated {
                needed: 36,
                got: 35
            })
        );
    }
}
