//! Typed codes of spec/WIRE.md §6. Codes the spec leaves open for future
//! values are preserved in `Unknown`, never rejected here: the CM decides
//! what an unknown code means (often a REJ with the matching reason).

macro_rules! code_enum {
    (
        $(#[$m:meta])*
        $name:ident : $ty:ty, mask = $mask:expr, default = $default:ident {
            $( $(#[$vm:meta])* $var:ident = $code:expr => $text:expr, )*
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub enum $name {
            $( $(#[$vm])* $var, )*
            /// A code the spec does not (yet) define, kept as received.
            Unknown($ty),
        }

        impl $name {
            /// The variant for `code` (bits beyond the wire width ignored).
            pub const fn from_code(code: $ty) -> $name {
                match code & $mask {
                    $( $code => $name::$var, )*
                    other => $name::Unknown(other),
                }
            }

            /// The wire code.
            pub const fn code(self) -> $ty {
                match self {
                    $( $name::$var => $code, )*
                    $name::Unknown(c) => c & $mask,
                }
            }

            /// The spec's name, `None` for unknown codes.
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $( $name::$var => Some($text), )*
                    $name::Unknown(_) => None,
                }
            }
        }

        impl Default for $name {
            fn default() -> $name {
                $name::$default
            }
        }

        impl From<$ty> for $name {
            fn from(c: $ty) -> $name {
                $name::from_code(c)
            }
        }

        impl From<$name> for $ty {
            fn from(v: $name) -> $ty {
                v.code()
            }
        }
    };
}

pub(crate) use code_enum;

code_enum! {
    /// REJ Reason (16 bits).
    RejReason: u16, mask = 0xFFFF, default = ConsumerDefined {
        NoQp = 1 => "no QP",
        NoEec = 2 => "no EEC",
        NoResources = 3 => "no resources",
        /// The ARI carries the sender's 8-byte CA GUID.
        Timeout = 4 => "timeout",
        UnsupportedRequest = 5 => "unsupported request",
        InvalidCommId = 6 => "invalid communication ID",
        InvalidCommInstance = 7 => "invalid communication instance",
        InvalidServiceId = 8 => "invalid service ID",
        InvalidTransportServiceType = 9 => "invalid transport service type",
        StaleConnection = 10 => "stale connection",
        RdcNotExist = 11 => "RDC does not exist",
        InvalidPrimaryGid = 12 => "invalid primary GID",
        InvalidPrimaryLid = 13 => "invalid primary LID",
        InvalidPrimarySl = 14 => "invalid primary SL",
        InvalidPrimaryTrafficClass = 15 => "invalid primary traffic class",
        InvalidPrimaryHopLimit = 16 => "invalid primary hop limit",
        InvalidPrimaryPacketRate = 17 => "invalid primary packet rate",
        InvalidAlternateGid = 18 => "invalid alternate GID",
        InvalidAlternateLid = 19 => "invalid alternate LID",
        InvalidAlternateSl = 20 => "invalid alternate SL",
        InvalidAlternateTrafficClass = 21 => "invalid alternate traffic class",
        InvalidAlternateHopLimit = 22 => "invalid alternate hop limit",
        InvalidAlternatePacketRate = 23 => "invalid alternate packet rate",
        PortCmRedirect = 24 => "port CM redirect",
        PortRedirect = 25 => "port redirect",
        InvalidMtu = 26 => "invalid path MTU",
        InsufficientResponderResources = 27 => "insufficient responder resources",
        /// WinOFED `IB_REJ_USER_DEFINED`.
        ConsumerDefined = 28 => "consumer defined",
        InvalidRnrRetry = 29 => "invalid RNR retry count",
        DuplicateLocalCommId = 30 => "duplicate local communication ID",
        UnsupportedClassVersion = 31 => "unsupported class version",
        InvalidPrimaryFlowLabel = 32 => "invalid primary flow label",
        InvalidAlternateFlowLabel = 33 => "invalid alternate flow label",
        VendorOptionNotSupported = 35 => "vendor option not supported",
    }
}

code_enum! {
    /// MRA Message MRAed (2 bits).
    MraMessage: u8, mask = 0x03, default = Req {
        Req = 0 => "REQ",
        Rep = 1 => "REP",
        Lap = 2 => "LAP",
    }
}

code_enum! {
    /// REJ Message Rejected (2 bits).
    RejMessage: u8, mask = 0x03, default = Req {
        Req = 0 => "REQ",
        Rep = 1 => "REP",
        Other = 2 => "other",
    }
}

code_enum! {
    /// APR AP Status (8 bits).
    AprStatus: u8, mask = 0xFF, default = Success {
        Success = 0 => "success",
        InvalidCommId = 1 => "invalid communication ID",
        UnsupportedRequest = 2 => "unsupported request",
        Rejected = 3 => "rejected",
        Redirect = 4 => "redirect",
        PathIsCurrent = 5 => "path is current",
        InvalidQpnEecn = 6 => "invalid QPN/EECN",
        InvalidLid = 7 => "invalid LID",
        InvalidGid = 8 => "invalid GID",
        InvalidFlowLabel = 9 => "invalid flow label",
        InvalidTrafficClass = 10 => "invalid traffic class",
        InvalidHopLimit = 11 => "invalid hop limit",
        InvalidPacketRate = 12 => "invalid packet rate",
        InvalidSl = 13 => "invalid SL",
    }
}

code_enum! {
    /// SIDR_REP Status (8 bits).
    SidrStatus: u8, mask = 0xFF, default = Success {
        Success = 0 => "success",
        ServiceIdNotSupported = 1 => "service ID not supported",
        Rejected = 2 => "rejected",
        NoQp = 3 => "no QP",
        Redirect = 4 => "redirect",
        UnsupportedClassVersion = 5 => "unsupported class version",
    }
}

code_enum! {
    /// REQ Transport Service Type (2 bits).
    TransportType: u8, mask = 0x03, default = Rc {
        Rc = 0 => "RC",
        Uc = 1 => "UC",
        Rd = 2 => "RD",
        /// See the Extended Transport Type field.
        Extended = 3 => "extended",
    }
}

code_enum! {
    /// REQ Extended Transport Type (3 bits), meaningful with transport type 3.
    ExtendedTransportType: u8, mask = 0x07, default = None {
        None = 0 => "none",
        Xrc = 1 => "XRC",
    }
}

code_enum! {
    /// REP Failover Accepted (2 bits).
    FailoverAccepted: u8, mask = 0x03, default = Accepted {
        Accepted = 0 => "accepted",
        NotSupported = 1 => "not supported",
        Rejected = 2 => "rejected",
    }
}

code_enum! {
    /// Path MTU (4 bits). Codes other than 1–5 are invalid (REJ 26) but kept.
    Mtu: u8, mask = 0x0F, default = Mtu1024 {
        Mtu256 = 1 => "256",
        Mtu512 = 2 => "512",
        Mtu1024 = 3 => "1024",
        Mtu2048 = 4 => "2048",
        Mtu4096 = 5 => "4096",
    }
}

impl Mtu {
    /// The MTU in bytes, `None` for an invalid code.
    pub const fn bytes(self) -> Option<u32> {
        match self {
            Mtu::Mtu256 => Some(256),
            Mtu::Mtu512 => Some(512),
            Mtu::Mtu1024 => Some(1024),
            Mtu::Mtu2048 => Some(2048),
            Mtu::Mtu4096 => Some(4096),
            Mtu::Unknown(_) => None,
        }
    }
}

code_enum! {
    /// Packet Rate (6 bits, Linux `enum ib_rate`).
    Rate: u8, mask = 0x3F, default = PortCurrent {
        PortCurrent = 0 => "port current",
        Gbps2_5 = 2 => "2.5 Gb/s",
        Gbps10 = 3 => "10 Gb/s",
        Gbps30 = 4 => "30 Gb/s",
        Gbps5 = 5 => "5 Gb/s",
        Gbps20 = 6 => "20 Gb/s",
        Gbps40 = 7 => "40 Gb/s",
        Gbps60 = 8 => "60 Gb/s",
        Gbps80 = 9 => "80 Gb/s",
        Gbps120 = 10 => "120 Gb/s",
        Gbps14 = 11 => "14 Gb/s",
        Gbps56 = 12 => "56 Gb/s",
        Gbps112 = 13 => "112 Gb/s",
        Gbps168 = 14 => "168 Gb/s",
        Gbps25 = 15 => "25 Gb/s",
        Gbps100 = 16 => "100 Gb/s",
        Gbps200 = 17 => "200 Gb/s",
        Gbps300 = 18 => "300 Gb/s",
        Gbps28 = 19 => "28 Gb/s",
        Gbps50 = 20 => "50 Gb/s",
        Gbps400 = 21 => "400 Gb/s",
        Gbps600 = 22 => "600 Gb/s",
        Gbps800 = 23 => "800 Gb/s",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_unknown_codes_are_kept() {
        for c in 0..=u8::MAX {
            assert_eq!(Rate::from_code(c).code(), c & 0x3F);
            assert_eq!(AprStatus::from_code(c).code(), c);
            assert_eq!(SidrStatus::from_code(c).code(), c);
        }
        for c in 0..=200u16 {
            assert_eq!(RejReason::from_code(c).code(), c);
        }
        assert_eq!(RejReason::from_code(34), RejReason::Unknown(34));
        assert_eq!(RejReason::from_code(28), RejReason::ConsumerDefined);
        assert_eq!(Mtu::from_code(6), Mtu::Unknown(6));
        assert_eq!(Mtu::from_code(5).bytes(), Some(4096));
        assert_eq!(MraMessage::from_code(3), MraMessage::Unknown(3));
        assert_eq!(Rate::from_code(16), Rate::Gbps100);
    }
}
