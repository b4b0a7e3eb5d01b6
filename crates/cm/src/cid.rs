//! CIDs and the CID table (spec/CM.md §2).
//!
//! Owns slot allocation: a slab indexed by the 24-bit slot index with O(1)
//! lookup, index 0 never handed out, an 8-bit allocation generation in the
//! CID's high bits (a stale CID never finds a new CEP) and the 8-bit comm-ID
//! modifier bumped on allocation and on every `pre_req`. It never decides when
//! a slot may be freed: the manager frees it only when the CEP is DESTROYED,
//! out of timewait and unreferenced (§9).

use alloc::vec::Vec;

/// The largest slot index (24 bits).
pub const MAX_INDEX: u32 = 0x00FF_FFFF;

/// A connection's handle in the kernel interface: slot index in the low 24
/// bits, allocation generation in the high 8. Never 0.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Cid(pub u32);

impl Cid {
    /// The slot index.
    pub const fn index(self) -> u32 {
        self.0 & MAX_INDEX
    }
    /// The allocation generation.
    pub const fn generation(self) -> u8 {
        (self.0 >> 24) as u8
    }
    const fn compose(index: u32, generation: u8) -> Cid {
        Cid((index & MAX_INDEX) | ((generation as u32) << 24))
    }
}

/// Composes a wire Local Communication ID from a slot index and modifier.
pub const fn comm_id(index: u32, modifier: u8) -> u32 {
    (index & MAX_INDEX) | ((modifier as u32) << 24)
}

enum Slot<T> {
    Free {
        next: u32,
        generation: u8,
        modifier: u8,
    },
    Used {
        generation: u8,
        modifier: u8,
        value: T,
    },
}

/// No free slot left (the table reached its configured maximum).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TableFull;

/// The slab. `T` is the CEP; the table knows nothing about it.
pub struct CidTable<T> {
    slots: Vec<Slot<T>>,
    free_head: u32,
    max_slots: u32,
    used: u32,
}

const NIL: u32 = 0;

impl<T> CidTable<T> {
    /// A table that will hand out at most `max_entries` CIDs at once
    /// (clamped to the 24-bit index space).
    pub fn new(max_entries: u32) -> Self {
        // Slot 0 is a permanent placeholder so index 0 is never handed out.
        let slots = alloc::vec![Slot::Free {
            next: NIL,
            generation: 0,
            modifier: 0
        }];
        CidTable {
            slots,
            free_head: NIL,
            max_slots: max_entries.min(MAX_INDEX).saturating_add(1),
            used: 0,
        }
    }

    /// Number of used slots.
    pub fn len(&self) -> u32 {
        self.used
    }

    /// True when no slot is used.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Reserves capacity for `n` more slots (outside a hot path).
    pub fn reserve(&mut self, n: usize) {
        self.slots.reserve(n);
    }

    /// Allocates a slot for the value `make(cid, comm_id)` builds. Bumps the
    /// generation and the modifier; the comm ID is never 0.
    pub fn insert(&mut self, make: impl FnOnce(Cid, u32) -> T) -> Result<Cid, TableFull> {
        let index = if self.free_head != NIL {
            self.free_head
        } else {
            let len = u32::try_from(self.slots.len()).map_err(|_| TableFull)?;
            if len >= self.max_slots {
                return Err(TableFull);
            }
            self.slots.push(Slot::Free {
                next: NIL,
                generation: 0,
                modifier: 0,
            });
            len
        };
        let slot = self.slots.get_mut(index as usize).ok_or(TableFull)?;
        let (next, generation, modifier) = match slot {
            Slot::Free {
                next,
                generation,
                modifier,
            } => (*next, *generation, *modifier),
            Slot::Used { .. } => return Err(TableFull),
        };
        if index == self.free_head {
            self.free_head = next;
        }
        let generation = generation.wrapping_add(1);
        let modifier = next_modifier(index, modifier);
        let cid = Cid::compose(index, generation);
        let value = make(cid, comm_id(index, modifier));
        *slot = Slot::Used {
            generation,
            modifier,
            value,
        };
        self.used += 1;
        Ok(cid)
    }

    /// Bumps the comm-ID modifier of a used slot and returns the new comm ID
    /// (`pre_req`: a retried connection gets a new communication ID).
    pub fn bump_modifier(&mut self, cid: Cid) -> Option<u32> {
        let index = cid.index();
        match self.slots.get_mut(index as usize) {
            Some(Slot::Used {
                generation,
                modifier,
                ..
            }) if *generation == cid.generation() => {
                *modifier = next_modifier(index, *modifier);
                Some(comm_id(index, *modifier))
            }
            _ => None,
        }
    }

    /// The value for a CID (exact generation).
    pub fn get(&self, cid: Cid) -> Option<&T> {
        match self.slots.get(cid.index() as usize) {
            Some(Slot::Used {
                generation, value, ..
            }) if *generation == cid.generation() => Some(value),
            _ => None,
        }
    }

    /// The value for a CID (exact generation), mutably.
    pub fn get_mut(&mut self, cid: Cid) -> Option<&mut T> {
        match self.slots.get_mut(cid.index() as usize) {
            Some(Slot::Used {
                generation, value, ..
            }) if *generation == cid.generation() => Some(value),
            _ => None,
        }
    }

    /// The CID whose current local communication ID is exactly `comm_id`
    /// (MADs find CEPs only by the full 32 bits, S8).
    pub fn find_comm_id(&self, comm_id_value: u32) -> Option<Cid> {
        let index = comm_id_value & MAX_INDEX;
        match self.slots.get(index as usize) {
            Some(Slot::Used {
                generation,
                modifier,
                ..
            }) if comm_id(index, *modifier) == comm_id_value && comm_id_value != 0 => {
                Some(Cid::compose(index, *generation))
            }
            _ => None,
        }
    }

    /// Frees a slot and returns its value.
    pub fn remove(&mut self, cid: Cid) -> Option<T> {
        let index = cid.index();
        let slot = self.slots.get_mut(index as usize)?;
        match slot {
            Slot::Used {
                generation,
                modifier,
                ..
            } if *generation == cid.generation() => {
                let free = Slot::Free {
                    next: self.free_head,
                    generation: *generation,
                    modifier: *modifier,
                };
                let old = core::mem::replace(slot, free);
                self.free_head = index;
                self.used -= 1;
                match old {
                    Slot::Used { value, .. } => Some(value),
                    Slot::Free { .. } => None,
                }
            }
            _ => None,
        }
    }

    /// Every used CID (for owner teardown and tests).
    pub fn cids(&self) -> impl Iterator<Item = Cid> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Slot::Used { generation, .. } => Some(Cid::compose(i as u32, *generation)),
            Slot::Free { .. } => None,
        })
    }

    /// Size of one slot in bytes (for the memory-per-CEP figure).
    pub const fn slot_size() -> usize {
        core::mem::size_of::<Slot<T>>()
    }
}

/// The next modifier; skips the value that would make the comm ID 0.
fn next_modifier(index: u32, modifier: u8) -> u8 {
    let m = modifier.wrapping_add(1);
    if comm_id(index, m) == 0 {
        m.wrapping_add(1)
    } else {
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_zero_and_comm_id_zero_are_never_handed_out() {
        let mut t = CidTable::new(10);
        let mut comm = 0;
        let cid = t.insert(|_, c| comm = c).unwrap();
        assert_ne!(cid.index(), 0);
        assert_ne!(cid.0, 0);
        assert_ne!(comm, 0);
    }

    #[test]
    fn stale_cid_never_finds_the_new_occupant_of_its_slot() {
        let mut t = CidTable::new(10);
        let a = t.insert(|_, _| 'a').unwrap();
        assert_eq!(t.remove(a), Some('a'));
        let b = t.insert(|_, _| 'b').unwrap();
        assert_eq!(a.index(), b.index());
        assert_ne!(a, b);
        assert_eq!(t.get(a), None);
        assert_eq!(t.get(b), Some(&'b'));
    }

    #[test]
    fn comm_id_lookup_needs_all_32_bits_and_changes_on_bump() {
        let mut t = CidTable::new(10);
        let mut comm = 0;
        let cid = t.insert(|_, c| comm = c).unwrap();
        assert_eq!(t.find_comm_id(comm), Some(cid));
        assert_eq!(t.find_comm_id(comm ^ 0x0100_0000), None);
        let new = t.bump_modifier(cid).unwrap();
        assert_ne!(new, comm);
        assert_eq!(t.find_comm_id(comm), None);
        assert_eq!(t.find_comm_id(new), Some(cid));
        assert_eq!(t.get(cid), Some(&()), "the CID stays valid across pre_req");
    }

    #[test]
    fn table_refuses_beyond_its_maximum() {
        let mut t = CidTable::new(2);
        t.insert(|_, _| ()).unwrap();
        t.insert(|_, _| ()).unwrap();
        assert_eq!(t.insert(|_, _| ()), Err(TableFull));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn modifier_wraps_without_producing_comm_id_zero() {
        // Index 0 is never used, so comm_id(i, m) is never 0 for i > 0;
        // the skip only matters for the guard itself.
        assert_ne!(next_modifier(0, 0xff), 0);
        assert_eq!(next_modifier(1, 0xff), 0);
    }
}
