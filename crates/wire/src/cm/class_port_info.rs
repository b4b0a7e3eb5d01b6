//! ClassPortInfo (attribute 0x0001), IBA 13.4.8.1 (Linux
//! `struct ib_class_port_info`): the CM class's capabilities and redirect /
//! trap addresses. The driver does not redirect; it decodes and answers Get.
//! The 72 bytes below are followed by reserved body bytes.

use super::view::cm_view;
use crate::{Gid, Qpn, Result};

cm_view! {
    /// Zero-copy view of a ClassPortInfo body.
    ///
    /// | field | byte | bit | width |
    /// |---|---|---|---|
    /// | BaseVersion | 0 | 0 | 8 |
    /// | ClassVersion | 1 | 0 | 8 |
    /// | CapabilityMask | 2 | 0 | 16 |
    /// | CapabilityMask2 | 4 | 0 | 27 |
    /// | RespTimeValue | 7 | 3 | 5 |
    /// | RedirectGID | 8 | | 16 bytes |
    /// | RedirectTC | 24 | 0 | 8 |
    /// | RedirectSL | 25 | 0 | 4 |
    /// | RedirectFL | 25 | 4 | 20 |
    /// | RedirectLID | 28 | 0 | 16 |
    /// | RedirectP_Key | 30 | 0 | 16 |
    /// | RedirectQP | 33 | 0 | 24 |
    /// | RedirectQ_Key | 36 | 0 | 32 |
    /// | TrapGID | 40 | | 16 bytes |
    /// | TrapTC | 56 | 0 | 8 |
    /// | TrapSL | 57 | 0 | 4 |
    /// | TrapFL | 57 | 4 | 20 |
    /// | TrapLID | 60 | 0 | 16 |
    /// | TrapP_Key | 62 | 0 | 16 |
    /// | TrapHL | 64 | 0 | 8 |
    /// | TrapQP | 65 | 0 | 24 |
    /// | TrapQ_Key | 68 | 0 | 32 |
    ClassPortInfoPacket {
        ints {
            base_version, set_base_version: u8 = 0, 0, 8;
            class_version, set_class_version: u8 = 1, 0, 8;
            capability_mask, set_capability_mask: u16 = 2, 0, 16;
            capability_mask2, set_capability_mask2: u32 = 4, 0, 27;
            resp_time_value, set_resp_time_value: u8 = 7, 3, 5;
            redirect_tc, set_redirect_tc: u8 = 24, 0, 8;
            redirect_sl, set_redirect_sl: u8 = 25, 0, 4;
            redirect_flow_label, set_redirect_flow_label: u32 = 25, 4, 20;
            redirect_lid, set_redirect_lid: u16 = 28, 0, 16;
            redirect_pkey, set_redirect_pkey: u16 = 30, 0, 16;
            redirect_qp, set_redirect_qp: u32 = 33, 0, 24;
            redirect_qkey, set_redirect_qkey: u32 = 36, 0, 32;
            trap_tc, set_trap_tc: u8 = 56, 0, 8;
            trap_sl, set_trap_sl: u8 = 57, 0, 4;
            trap_flow_label, set_trap_flow_label: u32 = 57, 4, 20;
            trap_lid, set_trap_lid: u16 = 60, 0, 16;
            trap_pkey, set_trap_pkey: u16 = 62, 0, 16;
            trap_hop_limit, set_trap_hop_limit: u8 = 64, 0, 8;
            trap_qp, set_trap_qp: u32 = 65, 0, 24;
            trap_qkey, set_trap_qkey: u32 = 68, 0, 32;
        }
        arrays {
            redirect_gid, set_redirect_gid: [16] = 8;
            trap_gid, set_trap_gid: [16] = 40;
        }
    }
}

/// A ClassPortInfo as plain data.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct ClassPortInfoRepr {
    pub base_version: u8,
    pub class_version: u8,
    pub capability_mask: u16,
    /// 27 bits.
    pub capability_mask2: u32,
    /// Exponent, 5 bits.
    pub resp_time_value: u8,
    pub redirect_gid: Gid,
    pub redirect_tc: u8,
    /// 4 bits.
    pub redirect_sl: u8,
    /// 20 bits.
    pub redirect_flow_label: u32,
    pub redirect_lid: u16,
    pub redirect_pkey: u16,
    pub redirect_qp: Qpn,
    pub redirect_qkey: u32,
    pub trap_gid: Gid,
    pub trap_tc: u8,
    /// 4 bits.
    pub trap_sl: u8,
    /// 20 bits.
    pub trap_flow_label: u32,
    pub trap_lid: u16,
    pub trap_pkey: u16,
    pub trap_hop_limit: u8,
    pub trap_qp: Qpn,
    pub trap_qkey: u32,
}

impl ClassPortInfoRepr {
    pub fn parse<T: AsRef<[u8]>>(p: &ClassPortInfoPacket<T>) -> Result<ClassPortInfoRepr> {
        Ok(Self::from_packet(p))
    }

    /// Reads every field; nothing in this message can be out of range.
    #[inline]
    pub(crate) fn from_packet<T: AsRef<[u8]>>(p: &ClassPortInfoPacket<T>) -> ClassPortInfoRepr {
        ClassPortInfoRepr {
            base_version: p.base_version(),
            class_version: p.class_version(),
            capability_mask: p.capability_mask(),
            capability_mask2: p.capability_mask2(),
            resp_time_value: p.resp_time_value(),
            redirect_gid: Gid(p.redirect_gid()),
            redirect_tc: p.redirect_tc(),
            redirect_sl: p.redirect_sl(),
            redirect_flow_label: p.redirect_flow_label(),
            redirect_lid: p.redirect_lid(),
            redirect_pkey: p.redirect_pkey(),
            redirect_qp: Qpn::new(p.redirect_qp()),
            redirect_qkey: p.redirect_qkey(),
            trap_gid: Gid(p.trap_gid()),
            trap_tc: p.trap_tc(),
            trap_sl: p.trap_sl(),
            trap_flow_label: p.trap_flow_label(),
            trap_lid: p.trap_lid(),
            trap_pkey: p.trap_pkey(),
            trap_hop_limit: p.trap_hop_limit(),
            trap_qp: Qpn::new(p.trap_qp()),
            trap_qkey: p.trap_qkey(),
        }
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut ClassPortInfoPacket<T>) {
        p.clear();
        p.set_base_version(self.base_version);
        p.set_class_version(self.class_version);
        p.set_capability_mask(self.capability_mask);
        p.set_capability_mask2(self.capability_mask2);
        p.set_resp_time_value(self.resp_time_value);
        p.set_redirect_gid(&self.redirect_gid.0);
        p.set_redirect_tc(self.redirect_tc);
        p.set_redirect_sl(self.redirect_sl);
        p.set_redirect_flow_label(self.redirect_flow_label);
        p.set_redirect_lid(self.redirect_lid);
        p.set_redirect_pkey(self.redirect_pkey);
        p.set_redirect_qp(self.redirect_qp.get());
        p.set_redirect_qkey(self.redirect_qkey);
        p.set_trap_gid(&self.trap_gid.0);
        p.set_trap_tc(self.trap_tc);
        p.set_trap_sl(self.trap_sl);
        p.set_trap_flow_label(self.trap_flow_label);
        p.set_trap_lid(self.trap_lid);
        p.set_trap_pkey(self.trap_pkey);
        p.set_trap_hop_limit(self.trap_hop_limit);
        p.set_trap_qp(self.trap_qp.get());
        p.set_trap_qkey(self.trap_qkey);
    }
}
