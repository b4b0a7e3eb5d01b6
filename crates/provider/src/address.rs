//! `SocketAddr` ⇄ [`NdcmAddress`] (the ABI's SOCKADDR_INET-like address).
//!
//! The port and address bytes are network order in the ABI; IPv6 flow info
//! and scope id have no place in it and are dropped (ND v2 addresses carry
//! them, the CM does not use them).

use ndcm_ndi::abi::{NDCM_AF_INET, NDCM_AF_INET6, NdcmAddress};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Encodes an address for an IOCTL input.
pub fn to_abi(a: SocketAddr) -> NdcmAddress {
    let mut addr = [0u8; 16];
    let family = match a.ip() {
        IpAddr::V4(v4) => {
            addr[..4].copy_from_slice(&v4.octets());
            NDCM_AF_INET
        }
        IpAddr::V6(v6) => {
            addr = v6.octets();
            NDCM_AF_INET6
        }
    };
    NdcmAddress {
        family,
        port_be: a.port().to_be(),
        reserved: 0,
        addr,
    }
}

/// Decodes an address from an IOCTL output; `None` for an unknown family.
pub fn from_abi(a: &NdcmAddress) -> Option<SocketAddr> {
    let port = u16::from_be(a.port_be);
    match a.family {
        NDCM_AF_INET => {
            let [b0, b1, b2, b3, ..] = a.addr;
            Some(SocketAddr::new(Ipv4Addr::new(b0, b1, b2, b3).into(), port))
        }
        NDCM_AF_INET6 => Some(SocketAddr::new(Ipv6Addr::from(a.addr).into(), port)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_is_network_order_in_the_first_four_bytes() {
        let a = to_abi("10.1.2.3:4791".parse().unwrap());
        assert_eq!(a.family, 2);
        assert_eq!(a.port_be.to_ne_bytes(), [0x12, 0xB7]);
        assert_eq!(&a.addr[..4], &[10, 1, 2, 3]);
        assert!(a.addr[4..].iter().all(|b| *b == 0));
        assert_eq!(from_abi(&a), Some("10.1.2.3:4791".parse().unwrap()));
    }

    #[test]
    fn ipv6_round_trips_and_unknown_family_is_rejected() {
        let s: SocketAddr = "[fe80::1]:80".parse().unwrap();
        let mut a = to_abi(s);
        assert_eq!(a.family, 23);
        assert_eq!(from_abi(&a), Some(s));
        a.family = 99;
        assert_eq!(from_abi(&a), None);
    }
}
