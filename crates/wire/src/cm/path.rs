//! The 44-byte CM path information (REQ primary and alternate paths, LAP
//! alternate path).
//!
//! REQ and LAP order the fields differently (spec/WIRE.md §5.7: LAP puts the
//! traffic class and hop limit before the packet rate), so a `PathLayout`
//! names the offsets of each; this file owns both layouts and nothing else.

use crate::Gid;
use crate::bits::{self, Bits};
use crate::enums::Rate;

/// One path as the CM carries it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct PathRecord {
    /// Local Port LID (RoCE routed: 0xFFFF; not interpreted on RoCE).
    pub local_lid: u16,
    /// Remote Port LID.
    pub remote_lid: u16,
    pub local_gid: Gid,
    pub remote_gid: Gid,
    /// 20 bits.
    pub flow_label: u32,
    pub packet_rate: Rate,
    pub traffic_class: u8,
    pub hop_limit: u8,
    /// Service level, 4 bits.
    pub sl: u8,
    pub subnet_local: bool,
    /// Local ACK Timeout exponent, 5 bits.
    pub local_ack_timeout: u8,
}

impl PathRecord {
    /// An alternate path is absent when all its fields are 0.
    pub fn is_absent(&self) -> bool {
        *self == PathRecord::default()
    }
}

/// Offsets of the path fields relative to the path's first byte.
#[derive(Clone, Copy)]
pub(crate) struct PathLayout {
    traffic_class: usize,
    hop_limit: usize,
    packet_rate: usize,
}

const LOCAL_LID: usize = 0;
const REMOTE_LID: usize = 2;
const LOCAL_GID: usize = 4;
const REMOTE_GID: usize = 20;
const FLOW_LABEL: usize = 36;
const SL_SUBNET: usize = 42;
const ACK_TIMEOUT: usize = 43;

/// REQ §5.1: flow label 36, rate 39[2], traffic class 40, hop limit 41.
pub(crate) const REQ_LAYOUT: PathLayout = PathLayout {
    packet_rate: 39,
    traffic_class: 40,
    hop_limit: 41,
};

/// LAP §5.7: flow label 36, traffic class 39, hop limit 40, rate 41[2].
pub(crate) const LAP_LAYOUT: PathLayout = PathLayout {
    traffic_class: 39,
    hop_limit: 40,
    packet_rate: 41,
};

pub(crate) fn read(buf: &[u8], base: usize, l: PathLayout) -> PathRecord {
    let r = |byte: usize, bit: u32, width: u32| bits::read(buf, Bits::new(base + byte, bit, width));
    PathRecord {
        local_lid: r(LOCAL_LID, 0, 16) as u16,
        remote_lid: r(REMOTE_LID, 0, 16) as u16,
        local_gid: Gid(bits::array(buf, base + LOCAL_GID)),
        remote_gid: Gid(bits::array(buf, base + REMOTE_GID)),
        flow_label: r(FLOW_LABEL, 0, 20) as u32,
        packet_rate: Rate::from_code(r(l.packet_rate, 2, 6) as u8),
        traffic_class: r(l.traffic_class, 0, 8) as u8,
        hop_limit: r(l.hop_limit, 0, 8) as u8,
        sl: r(SL_SUBNET, 0, 4) as u8,
        subnet_local: r(SL_SUBNET, 4, 1) != 0,
        local_ack_timeout: r(ACK_TIMEOUT, 0, 5) as u8,
    }
}

pub(crate) fn write(buf: &mut [u8], base: usize, l: PathLayout, p: &PathRecord) {
    let mut w = |byte: usize, bit: u32, width: u32, v: u64| {
        bits::write(buf, Bits::new(base + byte, bit, width), v)
    };
    w(LOCAL_LID, 0, 16, p.local_lid.into());
    w(REMOTE_LID, 0, 16, p.remote_lid.into());
    w(FLOW_LABEL, 0, 20, p.flow_label.into());
    w(l.packet_rate, 2, 6, p.packet_rate.code().into());
    w(l.traffic_class, 0, 8, p.traffic_class.into());
    w(l.hop_limit, 0, 8, p.hop_limit.into());
    w(SL_SUBNET, 0, 4, p.sl.into());
    w(SL_SUBNET, 4, 1, p.subnet_local.into());
    w(ACK_TIMEOUT, 0, 5, p.local_ack_timeout.into());
    bits::put(buf, base + LOCAL_GID, &p.local_gid.0);
    bits::put(buf, base + REMOTE_GID, &p.remote_gid.0);
}
