//! Plain value types shared by the CM messages: GIDs, identifiers, 24-bit
//! QP numbers and PSNs, and fixed-size private data.
//!
//! These are `Copy` and carry no borrowed data; a value stored per connection
//! costs its wire size and nothing more.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A 128-bit Global Identifier. On RoCEv2 it is the IP address, IPv4 in the
/// IPv4-mapped form `::ffff:a.b.c.d` (spec/WIRE.md §2, §7.3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Gid(pub [u8; 16]);

impl Gid {
    /// The all-zero GID (an absent alternate path).
    pub const ZERO: Gid = Gid([0; 16]);

    /// `::ffff:a.b.c.d`.
    pub const fn from_ipv4_octets(v4: [u8; 4]) -> Gid {
        let [a, b, c, d] = v4;
        Gid([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, a, b, c, d])
    }

    /// `::ffff:a.b.c.d`.
    pub const fn from_ipv4(addr: Ipv4Addr) -> Gid {
        Gid::from_ipv4_octets(addr.octets())
    }

    pub const fn from_ipv6(addr: Ipv6Addr) -> Gid {
        Gid(addr.octets())
    }

    /// The GID of an IP address (IPv4 mapped).
    pub const fn from_ip(addr: IpAddr) -> Gid {
        match addr {
            IpAddr::V4(a) => Gid::from_ipv4(a),
            IpAddr::V6(a) => Gid::from_ipv6(a),
        }
    }

    /// The IPv4 address when this GID is IPv4-mapped.
    pub fn to_ipv4(&self) -> Option<Ipv4Addr> {
        self.to_ipv6().to_ipv4_mapped()
    }

    pub const fn to_ipv6(&self) -> Ipv6Addr {
        Ipv6Addr::from_bits(u128::from_be_bytes(self.0))
    }

    /// The IP address this GID stands for (IPv4 when mapped).
    pub fn to_ip(&self) -> IpAddr {
        match self.to_ipv4() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(self.to_ipv6()),
        }
    }

    pub const fn octets(&self) -> [u8; 16] {
        self.0
    }
}

impl From<Ipv4Addr> for Gid {
    fn from(a: Ipv4Addr) -> Gid {
        Gid::from_ipv4(a)
    }
}

impl From<Ipv6Addr> for Gid {
    fn from(a: Ipv6Addr) -> Gid {
        Gid::from_ipv6(a)
    }
}

impl From<IpAddr> for Gid {
    fn from(a: IpAddr) -> Gid {
        Gid::from_ip(a)
    }
}

/// Text form: the IPv6 notation (`::ffff:10.0.0.1` for IPv4-mapped GIDs).
impl fmt::Display for Gid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_ipv6(), f)
    }
}

impl fmt::Debug for Gid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gid({self})")
    }
}

/// A Local/Remote Communication ID (opaque; never 0 for an allocated one).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, PartialOrd, Ord)]
pub struct CommId(pub u32);

/// A 64-bit Service ID, held as the big-endian integer of its wire bytes
/// (spec/WIRE.md §7.1: never mix with WinOFED's little-endian view).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, PartialOrd, Ord)]
pub struct ServiceId(pub u64);

impl ServiceId {
    pub const fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
    pub const fn from_be_bytes(b: [u8; 8]) -> ServiceId {
        ServiceId(u64::from_be_bytes(b))
    }
}

macro_rules! u24_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, PartialOrd, Ord)]
        pub struct $name(u32);

        impl $name {
            /// The largest 24-bit value.
            pub const MAX: $name = $name(0x00FF_FFFF);

            /// Keeps the low 24 bits of `value` (the wire field is 24 bits).
            pub const fn new(value: u32) -> $name {
                $name(value & 0x00FF_FFFF)
            }

            /// `None` when `value` does not fit in 24 bits.
            pub const fn checked(value: u32) -> Option<$name> {
                if value <= 0x00FF_FFFF { Some($name(value)) } else { None }
            }

            pub const fn get(self) -> u32 {
                self.0
            }
        }

        impl From<$name> for u32 {
            fn from(v: $name) -> u32 {
                v.0
            }
        }
    };
}

u24_type!(
    /// A 24-bit Queue Pair number.
    Qpn
);
u24_type!(
    /// A 24-bit Packet Sequence Number.
    Psn
);

impl Psn {
    /// The next PSN, wrapping at 2^24.
    pub const fn next(self) -> Psn {
        Psn::new(self.0.wrapping_add(1))
    }
}

/// Private data of exactly `N` bytes, the full size of its message
/// (spec/WIRE.md §4); unused bytes are 0.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrivateData<const N: usize>(pub [u8; N]);

impl<const N: usize> PrivateData<N> {
    /// The size on the wire.
    pub const LEN: usize = N;

    pub const fn zeroed() -> Self {
        PrivateData([0; N])
    }

    /// Copies `src` to the front and zero-fills the rest; `None` if `src` is
    /// longer than `N` (the caller answers with an invalid-parameter status).
    pub fn from_slice(src: &[u8]) -> Option<Self> {
        let mut out = [0u8; N];
        out.get_mut(..src.len())?.copy_from_slice(src);
        Some(PrivateData(out))
    }

    pub const fn as_bytes(&self) -> &[u8; N] {
        &self.0
    }

    pub fn as_mut_bytes(&mut self) -> &mut [u8; N] {
        &mut self.0
    }
}

impl<const N: usize> Default for PrivateData<N> {
    fn default() -> Self {
        Self::zeroed()
    }
}

impl<const N: usize> AsRef<[u8]> for PrivateData<N> {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl<const N: usize> fmt::Debug for PrivateData<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Trailing zeros are padding; print only the used prefix.
        let used = self.0.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        write!(f, "PrivateData<{N}>(")?;
        for b in self.0.iter().take(used) {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}
