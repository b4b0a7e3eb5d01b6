//! The MAD agent's authority and adapters (docs/NDI-agent.md): who may use
//! the agent IOCTLs, REGISTER_ADAPTER / WITHDRAW_ADAPTER, the device's
//! adapter table, and what an adapter's withdrawal does to every file that
//! uses it.
//!
//! Locking: the adapter table is a device-wide leaf lock like the files and
//! ports tables. Registration and withdrawal run with no file lock held
//! (dispatch routes them before taking the caller's); a withdrawal then
//! visits each file under its own lock, one at a time.

use super::input::{self, Output};
use super::{File, Ndi, Out, Reply, Work};
use crate::NdiError;
use crate::abi::*;
use crate::cm_port::{AdapterInfo, CmPort};
use crate::object::{Adapter, ConnState, FileState};
use crate::requests::Requests;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use ndcm_cm::platform::{Platform, QueuedSpinLock};

/// Who opened a file, decided once at IRP_MJ_CREATE (the driver asks the
/// security subsystem; host devices are told).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Caller {
    /// An administrator (elevated) or SYSTEM: may use the agent IOCTLs.
    pub admin: bool,
    /// The requestor's user (the driver: its token's authentication id).
    pub user: u64,
}

impl Caller {
    /// SYSTEM (in-process host devices, tests).
    pub const SYSTEM: Caller = Caller {
        admin: true,
        user: 0x3E7,
    };

    /// An ordinary user `user`.
    pub const fn user(user: u64) -> Caller {
        Caller { admin: false, user }
    }

    /// A Windows logon session (`LUID` parts) as the user id.
    pub const fn from_logon(admin: bool, low: u32, high: i32) -> Caller {
        let high = u32::from_ne_bytes(high.to_ne_bytes()) as u64;
        Caller {
            admin,
            user: (high << 32) | low as u64,
        }
    }

    /// An administrator `user`.
    pub const fn administrator(user: u64) -> Caller {
        Caller { admin: true, user }
    }
}

/// One adapter of the device.
pub(crate) struct AdapterSlot {
    info: AdapterInfo,
    /// The agent file that registered it; `None` for a built-in adapter
    /// (host test devices), which is never withdrawn.
    owner: Option<u64>,
    generation: u32,
    port: u8,
    mtu: u32,
}

/// A registered adapter as `Ndi::adapters_view` reports it (tests,
/// diagnostics).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterView {
    /// Its index (OPEN_ADAPTER's `adapter_index`).
    pub index: u32,
    /// The agent file that owns it, `None` when built in.
    pub owner: Option<u64>,
    /// Its addresses and limits.
    pub addresses: Vec<crate::cm_port::IpAddr>,
    /// HCA port number.
    pub port: u8,
    /// Path MTU.
    pub mtu: u32,
}

/// The device's adapters: built-in ones first, then registered ones in the
/// lowest free index. A slot's generation changes with each registration,
/// so a handle opened on a withdrawn adapter never reaches its successor.
pub(crate) struct AdapterTable {
    slots: Vec<Option<AdapterSlot>>,
    next_generation: u32,
}

/// Most adapters one device carries.
const MAX_ADAPTERS: usize = 64;

impl AdapterSlot {
    pub(crate) fn generation(&self) -> u32 {
        self.generation
    }
    pub(crate) fn info(&self) -> &AdapterInfo {
        &self.info
    }
}

impl AdapterTable {
    pub(crate) fn new(built_in: Vec<AdapterInfo>) -> Self {
        let mut t = AdapterTable {
            slots: Vec::with_capacity(built_in.len()),
            next_generation: 1,
        };
        for info in built_in {
            let generation = t.bump();
            t.slots.push(Some(AdapterSlot {
                info,
                owner: None,
                generation,
                port: 1,
                mtu: 1024,
            }));
        }
        t
    }

    fn bump(&mut self) -> u32 {
        let g = self.next_generation;
        self.next_generation = g.wrapping_add(1).max(1);
        g
    }

    /// The live slot of `index`.
    pub(crate) fn get(&self, index: u32) -> Option<&AdapterSlot> {
        self.slots.get(index as usize)?.as_ref()
    }

    /// The adapter a file's handle names, if it is still the one opened.
    pub(crate) fn of(&self, a: Adapter) -> Result<&AdapterInfo, NdiError> {
        match self.get(a.index) {
            Some(s) if s.generation == a.generation => Ok(&s.info),
            _ => Err(NdiError::DeviceRemoved),
        }
    }

    fn register(
        &mut self,
        owner: u64,
        info: AdapterInfo,
        port: u8,
        mtu: u32,
    ) -> Result<u32, NdiError> {
        let taken = self
            .slots
            .iter()
            .flatten()
            .any(|s| s.info.addresses.iter().any(|a| info.addresses.contains(a)));
        if taken {
            return Err(NdiError::SharingViolation);
        }
        let free = self.slots.iter().position(Option::is_none);
        let index = match free {
            Some(i) => i,
            None if self.slots.len() >= MAX_ADAPTERS => return Err(NdiError::NoResources),
            None => {
                self.slots
                    .try_reserve(1)
                    .map_err(|_| NdiError::NoResources)?;
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let generation = self.bump();
        let slot = self.slots.get_mut(index).ok_or(NdiError::NoResources)?;
        *slot = Some(AdapterSlot {
            info,
            owner: Some(owner),
            generation,
            port,
            mtu,
        });
        u32::try_from(index).map_err(|_| NdiError::NoResources)
    }

    /// Removes `index` if `owner` registered it: (index, generation).
    fn withdraw(&mut self, owner: u64, index: u32) -> Result<Adapter, NdiError> {
        let slot = self
            .slots
            .get_mut(index as usize)
            .ok_or(NdiError::InvalidParameter)?;
        match slot {
            Some(s) if s.owner == Some(owner) => {
                let generation = s.generation;
                *slot = None;
                Ok(Adapter { index, generation })
            }
            Some(_) => Err(NdiError::AccessDenied),
            None => Err(NdiError::InvalidParameter),
        }
    }

    /// Removes one adapter `owner` registered, if any.
    fn withdraw_any(&mut self, owner: u64) -> Option<Adapter> {
        let index = self
            .slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.owner == Some(owner)))?;
        self.withdraw(owner, u32::try_from(index).ok()?).ok()
    }
}

impl<P: Platform, C: CmPort, R: Requests> Ndi<P, C, R> {
    /// The registered and built-in adapters (tests, diagnostics).
    pub fn adapters_view(&self) -> Vec<AdapterView> {
        self.adapters.with(|t| {
            t.slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let s = s.as_ref()?;
                    Some(AdapterView {
                        index: u32::try_from(i).ok()?,
                        owner: s.owner,
                        addresses: s.info.addresses.clone(),
                        port: s.port,
                        mtu: s.mtu,
                    })
                })
                .collect()
        })
    }

    /// `f` on the adapter `a` names, under the table's leaf lock;
    /// DEVICE_REMOVED once it was withdrawn.
    pub(crate) fn with_adapter<T>(
        &self,
        a: Adapter,
        f: impl FnOnce(&AdapterInfo) -> T,
    ) -> Result<T, NdiError> {
        self.adapters.with(|t| t.of(a).map(f))
    }

    /// REGISTER_ADAPTER and WITHDRAW_ADAPTER, run with no file lock held.
    pub(super) fn adapter_ioctl(
        &self,
        file: &File<P, R>,
        op: Ioctl,
        input: &[u8],
        output_len: usize,
    ) -> Result<Reply, NdiError> {
        if self.locked(file, |st| st.closing) {
            return Err(NdiError::Cancelled);
        }
        if !file.caller.admin {
            return Err(NdiError::AccessDenied);
        }
        match op {
            Ioctl::RegisterAdapter => self.register_adapter(file, input, output_len),
            _ => {
                let i: NdcmWithdrawAdapterIn = input::fixed(input)?;
                input::reserved(&[u64::from(i.reserved)])?;
                input::output(output_len, Output::None)?;
                let gone = self
                    .adapters
                    .with(|t| t.withdraw(file.id, i.adapter_index))?;
                self.adapter_gone_everywhere(gone);
                Ok(Reply::ok())
            }
        }
    }

    fn register_adapter(
        &self,
        file: &File<P, R>,
        input: &[u8],
        output_len: usize,
    ) -> Result<Reply, NdiError> {
        input::header(input)?;
        let i = NdcmRegisterAdapterIn::read(input, 0).ok_or(NdiError::InputSize)?;
        input::reserved(&[
            u64::from(i.reserved0),
            u64::from(i.reserved1),
            u64::from(i.reserved2),
        ])?;
        input::output(output_len, Output::Exact(NdcmRegisterAdapterOut::SIZE))?;
        let count = i.address_count as usize;
        if !(1..=NDCM_MAX_ADAPTER_ADDRESSES as usize).contains(&count)
            || i.address_offset as usize != NdcmRegisterAdapterIn::SIZE
        {
            return Err(NdiError::InvalidParameter);
        }
        if input.len() != NdcmRegisterAdapterIn::SIZE + count * NdcmAddress::SIZE {
            return Err(NdiError::InputSize);
        }
        let limit = |v: u32| u8::try_from(v).map_err(|_| NdiError::InvalidParameter);
        let (inbound, outbound) = (
            limit(i.max_inbound_read_limit)?,
            limit(i.max_outbound_read_limit)?,
        );
        if i.max_qp_depth == 0
            || i.max_sge == 0
            || i.port == 0
            || !matches!(i.mtu, 256 | 512 | 1024 | 2048 | 4096)
        {
            return Err(NdiError::InvalidParameter);
        }
        let mut addresses = Vec::new();
        addresses
            .try_reserve_exact(count)
            .map_err(|_| NdiError::NoResources)?;
        for k in 0..count {
            let at = NdcmRegisterAdapterIn::SIZE + k * NdcmAddress::SIZE;
            let raw = NdcmAddress::read(input, at).ok_or(NdiError::InputSize)?;
            let a = input::address(&raw)?;
            if a.port != 0 || a.addr.is_unspecified() || addresses.contains(&a.addr) {
                return Err(NdiError::InvalidParameter);
            }
            addresses.push(a.addr);
        }
        let info = AdapterInfo {
            addresses,
            max_inbound_read_limit: inbound,
            max_outbound_read_limit: outbound,
            max_qp_depth: i.max_qp_depth,
            max_sge: i.max_sge,
            max_inline: i.max_inline,
        };
        let index = self
            .adapters
            .with(|t| t.register(file.id, info, i.port, i.mtu))?;
        // The file's close may have withdrawn its adapters just before
        // this one went in (close sets the flag, then withdraws).
        if file.agent_closing.load(Ordering::SeqCst) {
            if let Ok(gone) = self.adapters.with(|t| t.withdraw(file.id, index)) {
                self.adapter_gone_everywhere(gone);
            }
            return Err(NdiError::Cancelled);
        }
        let out = NdcmRegisterAdapterOut {
            adapter_index: index,
            reserved: 0,
        };
        Ok(Reply::Done(NtStatus::SUCCESS, Out::bytes(&out.to_bytes())))
    }

    /// The agent file `file` is closing: withdraw every adapter it owns.
    pub(super) fn withdraw_owned(&self, file: &File<P, R>) {
        file.agent_closing.store(true, Ordering::SeqCst);
        while let Some(gone) = self.adapters.with(|t| t.withdraw_any(file.id)) {
            self.adapter_gone_everywhere(gone);
        }
    }

    /// Applies an adapter's withdrawal to every open file, one file lock at
    /// a time (none held by the caller).
    fn adapter_gone_everywhere(&self, gone: Adapter) {
        let mut after = 0u64;
        loop {
            let next: Option<(u64, Arc<File<P, R>>)> = self.files.with(|f| {
                f.range(after.saturating_add(1)..)
                    .next()
                    .map(|(k, v)| (*k, Arc::clone(v)))
            });
            let Some((id, file)) = next else { break };
            after = id;
            let mut work = Work::new();
            self.locked(&file, |st| self.adapter_gone(st, gone, &mut work));
            self.run(work);
        }
    }

    /// docs/NDI-agent.md §4: listeners on the adapter are destroyed (their
    /// GET_REQ_CM → CANCELLED, untaken REQs rejected); connections past
    /// IDLE are aborted in place (REJ/DREQ as the state requires, QP
    /// unbound to ERROR, port released) and their pending requests
    /// complete with CONNECTION_ABORTED. Handles other than the
    /// listeners' stay valid; using the adapter's handle gives
    /// DEVICE_REMOVED.
    fn adapter_gone(&self, st: &mut FileState<R>, gone: Adapter, work: &mut Work<C, R>) {
        let on = |st: &FileState<R>, handle: u64| {
            st.adapters
                .get(handle)
                .is_some_and(|a| a.index == gone.index && a.generation == gone.generation)
        };
        for h in st.listeners.handles() {
            if st.listeners.get(h).is_some_and(|l| on(st, l.adapter)) {
                self.destroy_listener(st, h, work);
            }
        }
        for h in st.connections.handles() {
            let hit = st
                .connections
                .get(h)
                .is_some_and(|c| c.state != ConnState::Idle && on(st, c.adapter));
            if !hit {
                continue;
            }
            let id = st.id;
            let FileState {
                connections, qps, ..
            } = st;
            if let Some(conn) = connections.get_mut(h) {
                let _ = self.drain_with(&conn.queue, NtStatus::CONNECTION_ABORTED, work);
                conn.outstanding_req = false;
                conn.outstanding_rep = false;
                conn.outstanding_dreq = false;
                self.close_connection(id, qps, conn, crate::object::CloseCause::LocalAbort, work);
            }
        }
    }
}
