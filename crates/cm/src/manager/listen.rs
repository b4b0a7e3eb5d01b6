//! The listen table and service-ID matching (spec/CM.md §7), and destroy
//! (§9), which has to take listeners and their untaken connections apart.
//!
//! Runs under the manager lock. It validates compare data when the listen is
//! made, so matching a REQ never reads outside the private data.

use super::cep::{Ext, ListenInfo, flag};
use super::core::Core;
use crate::cid::Cid;
use crate::error::CmError;
use crate::output::Output;
use crate::params::ListenParams;
use crate::platform::Instant;
use crate::state::State;
use crate::stats::RefPurpose;
use crate::table::{self, Input};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// Size of the rdma_cm IP private-data header (spec/CM.md §7).
const IP_HEADER: usize = 36;
const EPHEMERAL_PORTS: core::ops::RangeInclusive<u16> = 49152..=65535;

/// True for an rdma_cm IP service ID: wire bytes 0–4 are 00 00 00 00 01.
pub(crate) const fn is_rdma_cm(service_id: u64) -> bool {
    service_id >> 24 == 1
}

fn valid_ip_header(h: &[u8]) -> bool {
    matches!(h.get(..2), Some([0x00, 0x40]) | Some([0x00, 0x60]))
}

fn range(data: &[u8], r: core::ops::Range<usize>) -> &[u8] {
    data.get(r).unwrap_or(&[])
}

/// Does a REQ's private data match a listener's compare data?
fn compare_matches(info: &ListenInfo, pdata: &[u8]) -> bool {
    let Some(cmp) = info.compare.as_deref() else {
        return true;
    };
    if is_rdma_cm(info.service_id) {
        if !valid_ip_header(pdata) || range(pdata, 0..2) != range(cmp, 0..2) {
            return false;
        }
        let mask = info.compare_offset;
        let field = |bit: u8, r: core::ops::Range<usize>| {
            mask & bit == 0 || range(pdata, r.clone()) == range(cmp, r)
        };
        field(0x01, 2..4) && field(0x02, 4..20) && field(0x04, 20..IP_HEADER)
    } else {
        let start = usize::from(info.compare_offset);
        pdata.get(start..start + cmp.len()) == Some(cmp)
    }
}

/// Two listeners on one service ID collide unless both compare, alike in
/// shape, on different bytes (spec/CM.md §7 duplicate listens).
fn collides(a: &ListenInfo, b: &ListenInfo) -> bool {
    let ports_overlap = a.port.is_none() || b.port.is_none() || a.port == b.port;
    if !ports_overlap {
        return false;
    }
    match (a.compare.as_deref(), b.compare.as_deref()) {
        (Some(x), Some(y)) => x.len() != y.len() || a.compare_offset != b.compare_offset || x == y,
        _ => true,
    }
}

impl Core {
    /// The listener for a REQ or SIDR_REQ: most specific first (compare data
    /// before none, one port before all ports).
    pub(crate) fn match_listener(
        &self,
        service_id: u64,
        port: u8,
        pdata: &[u8],
        sidr: bool,
    ) -> Option<Cid> {
        let list = self.listens.get(&service_id)?;
        let mut best: Option<(u8, Cid)> = None;
        for &cid in list {
            let Some(info) = self.cep(cid).ok().and_then(|c| c.listen_info()) else {
                continue;
            };
            if sidr && !info.sidr {
                continue;
            }
            if info.port.is_some_and(|p| p != port) {
                continue;
            }
            if !sidr && !compare_matches(info, pdata) {
                continue;
            }
            let score = u8::from(info.compare.is_some()) * 2 + u8::from(info.port.is_some());
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, cid));
            }
        }
        best.map(|(_, c)| c)
    }

    /// `listen`: validate, pick a port for an rdma_cm port 0, enter the table.
    pub(crate) fn listen(&mut self, cid: Cid, p: &ListenParams) -> Result<u64, CmError> {
        let state = self.cep(cid)?.state;
        if table::lookup(state, Input::Listen).is_none() {
            return Err(CmError::InvalidState);
        }
        let rdma = is_rdma_cm(p.service_id);
        let compare = match &p.compare {
            None => None,
            Some(c) if rdma => {
                let h = c.data.get(..IP_HEADER).ok_or(CmError::InvalidParameter)?;
                if !valid_ip_header(h) || c.offset & !0x07 != 0 {
                    return Err(CmError::InvalidParameter);
                }
                Some(Box::<[u8]>::from(h))
            }
            Some(c) => {
                if c.data.len() > 92 || usize::from(c.offset) + c.data.len() > 92 {
                    return Err(CmError::PrivateDataTooLong);
                }
                Some(Box::<[u8]>::from(c.data.as_slice()))
            }
        };
        let mut service_id = p.service_id;
        if rdma && service_id & 0xFFFF == 0 {
            let free = EPHEMERAL_PORTS
                .map(|port| service_id | u64::from(port))
                .find(|sid| !self.listens.contains_key(sid))
                .ok_or(CmError::NoResources)?;
            service_id = free;
        }
        let info = ListenInfo {
            service_id,
            port: p.port,
            compare_offset: p.compare.as_ref().map_or(0, |c| c.offset),
            compare,
            backlog: p.backlog,
            sidr: p.sidr,
            untaken: Vec::new(),
        };
        if let Some(list) = self.listens.get(&service_id) {
            for &other in list {
                if let Some(o) = self.cep(other).ok().and_then(|c| c.listen_info())
                    && collides(o, &info)
                {
                    return Err(CmError::DuplicateListen);
                }
            }
        }
        self.listens.entry(service_id).or_default().push(cid);
        self.stats.table_entries += 1;
        let cep = self.cep_mut(cid)?;
        cep.ext = Some(Box::new(Ext::Listen(info)));
        cep.service_id = service_id;
        cep.state = State::Listen;
        cep.set(flag::IN_LISTEN);
        Ok(service_id)
    }

    /// Leaves the listen table and destroys untaken connections (REJ 28).
    pub(crate) fn leave_listen(&mut self, cid: Cid, now: Instant, out: &mut Output) {
        let Ok(cep) = self.cep_mut(cid) else { return };
        if !cep.has(flag::IN_LISTEN) {
            return;
        }
        cep.clear(flag::IN_LISTEN);
        let service_id = cep.service_id;
        let untaken = cep
            .listen_info_mut()
            .map(|i| core::mem::take(&mut i.untaken))
            .unwrap_or_default();
        if let Some(list) = self.listens.get_mut(&service_id) {
            list.retain(|&c| c != cid);
            if list.is_empty() {
                self.listens.remove(&service_id);
            }
            self.stats.table_entries = self.stats.table_entries.saturating_sub(1);
        }
        for child in untaken {
            if let Ok(c) = self.cep_mut(child) {
                c.parent = None;
            }
            self.destroy(child, false, now, out);
        }
        // The queued REQ events name connections that no longer exist.
        self.discard_events(cid);
        if let Ok(cep) = self.cep_mut(cid) {
            cep.ext = None;
        }
    }

    /// `cancel_listen`: LISTEN → IDLE.
    pub(crate) fn cancel_listen(
        &mut self,
        cid: Cid,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), CmError> {
        if table::lookup(self.cep(cid)?.state, Input::CancelListen).is_none() {
            return Err(CmError::InvalidState);
        }
        self.leave_listen(cid, now, out);
        self.enter(cid, State::Idle, now, out);
        Ok(())
    }

    /// `destroy` (§9): unbind from the owner, discard events, abort by
    /// state, drop the creation reference.
    pub(crate) fn destroy(&mut self, cid: Cid, quiet: bool, now: Instant, out: &mut Output) {
        let Ok(cep) = self.cep(cid) else { return };
        let state = cep.state;
        if state == State::Destroyed {
            return;
        }
        let parent = cep.parent;
        if state == State::Listen {
            self.leave_listen(cid, now, out);
        }
        if let Some(parent) = parent
            && let Some(info) = self.cep_mut(parent).ok().and_then(|p| p.listen_info_mut())
        {
            info.untaken.retain(|&c| c != cid);
        }
        self.discard_events(cid);
        let input = if quiet && table::lookup(state, Input::QuietDestroy).is_some() {
            Input::QuietDestroy
        } else {
            Input::Destroy
        };
        if self
            .apply(cid, input, &super::actions::Args::None, now, out)
            .is_err()
        {
            // Every state has a destroy row; keep the CEP consistent anyway.
            self.enter_freed(cid, out);
        }
        if let Ok(cep) = self.cep_mut(cid) {
            cep.refs = cep.refs.saturating_sub(1);
            cep.parent = None;
        }
        self.stats.drop_ref(RefPurpose::Creation);
        self.maybe_free(cid, out);
    }
}
