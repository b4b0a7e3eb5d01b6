//! Per-file handle tables (S8): 64-bit opaque handles made of a type tag,
//! a per-file salt, a generation and an index. Never a pointer, never a CM
//! CID. A handle of another file, of the wrong type, or stale finds nothing.
//!
//! Layout: bits 56..64 kind · 40..56 file salt · 16..40 generation · 0..16
//! index. The salt makes another file's handles miss even when that file
//! happens to use the same index and generation; the tables being per file
//! is what guarantees isolation, the salt only makes the miss certain in
//! practice.

use crate::NdiError;
use alloc::vec::Vec;

/// The type tag of a handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum HandleKind {
    /// An opened adapter.
    Adapter = 1,
    /// A QP.
    Qp = 2,
    /// A connection (connector).
    Connection = 3,
    /// A listener.
    Listener = 4,
}

impl HandleKind {
    /// The kind named by a handle's tag, if any.
    #[inline]
    pub fn of(handle: u64) -> Option<HandleKind> {
        match handle >> 56 {
            1 => Some(HandleKind::Adapter),
            2 => Some(HandleKind::Qp),
            3 => Some(HandleKind::Connection),
            4 => Some(HandleKind::Listener),
            _ => None,
        }
    }
}

const MAX_SLOTS: usize = 0xFFFF;
const GENERATION_MASK: u32 = 0x00FF_FFFF;

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// One table of objects of one kind, owned by one file.
pub struct HandleTable<T> {
    kind: HandleKind,
    salt: u16,
    slots: Vec<Slot<T>>,
    free: Vec<u16>,
    live: usize,
}

impl<T> HandleTable<T> {
    /// An empty table; `salt` is the owning file's.
    pub fn new(kind: HandleKind, salt: u16) -> Self {
        HandleTable {
            kind,
            salt,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }

    fn encode(&self, index: u16, generation: u32) -> u64 {
        ((self.kind as u64) << 56)
            | (u64::from(self.salt) << 40)
            | (u64::from(generation & GENERATION_MASK) << 16)
            | u64::from(index)
    }

    #[inline]
    fn decode(&self, handle: u64) -> Option<(usize, u32)> {
        if HandleKind::of(handle) != Some(self.kind) || (handle >> 40) as u16 != self.salt {
            return None;
        }
        Some((
            (handle & 0xFFFF) as usize,
            ((handle >> 16) as u32) & GENERATION_MASK,
        ))
    }

    /// Stores `value` and returns its new handle.
    pub fn insert(&mut self, value: T) -> Result<u64, NdiError> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                if self.slots.len() >= MAX_SLOTS {
                    return Err(NdiError::NoResources);
                }
                self.slots
                    .try_reserve(1)
                    .map_err(|_| NdiError::NoResources)?;
                self.slots.push(Slot {
                    generation: 0,
                    value: None,
                });
                u16::try_from(self.slots.len() - 1).map_err(|_| NdiError::NoResources)?
            }
        };
        let slot = self
            .slots
            .get_mut(usize::from(index))
            .ok_or(NdiError::NoResources)?;
        // Generation 0 is never issued, so a zeroed handle never matches.
        slot.generation = (slot.generation + 1) & GENERATION_MASK;
        if slot.generation == 0 {
            slot.generation = 1;
        }
        slot.value = Some(value);
        self.live += 1;
        let generation = slot.generation;
        Ok(self.encode(index, generation))
    }

    /// Stores the value `make` builds from its future handle (a queue whose
    /// owner names the object); nothing is stored if `make` fails.
    pub fn insert_with(
        &mut self,
        make: impl FnOnce(u64) -> Result<T, NdiError>,
    ) -> Result<u64, NdiError> {
        let next = match self.free.last() {
            Some(i) => {
                let g = self.slots.get(usize::from(*i)).map_or(1, |s| s.generation);
                let g = (g + 1) & GENERATION_MASK;
                self.encode(*i, if g == 0 { 1 } else { g })
            }
            None => {
                if self.slots.len() >= MAX_SLOTS {
                    return Err(NdiError::NoResources);
                }
                let i = u16::try_from(self.slots.len()).map_err(|_| NdiError::NoResources)?;
                self.encode(i, 1)
            }
        };
        let value = make(next)?;
        let handle = self.insert(value)?;
        debug_assert_eq!(handle, next);
        Ok(handle)
    }

    /// The object named by `handle`.
    pub fn get(&self, handle: u64) -> Option<&T> {
        let (i, g) = self.decode(handle)?;
        let slot = self.slots.get(i)?;
        if slot.generation != g {
            return None;
        }
        slot.value.as_ref()
    }

    /// The object named by `handle`, mutably.
    pub fn get_mut(&mut self, handle: u64) -> Option<&mut T> {
        let (i, g) = self.decode(handle)?;
        let slot = self.slots.get_mut(i)?;
        if slot.generation != g {
            return None;
        }
        slot.value.as_mut()
    }

    /// Removes the object; its handle becomes stale.
    pub fn remove(&mut self, handle: u64) -> Option<T> {
        let (i, g) = self.decode(handle)?;
        let slot = self.slots.get_mut(i)?;
        if slot.generation != g {
            return None;
        }
        let value = slot.value.take()?;
        self.live -= 1;
        if let Ok(i) = u16::try_from(i) {
            self.free.push(i);
        }
        Some(value)
    }

    /// Handles of every live object.
    pub fn handles(&self) -> Vec<u64> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.value.is_some())
            .filter_map(|(i, s)| Some(self.encode(u16::try_from(i).ok()?, s.generation)))
            .collect()
    }

    /// Number of live objects.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no object is live.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_wrong_kind_and_foreign_handles_miss() {
        let mut a = HandleTable::new(HandleKind::Qp, 7);
        let mut b = HandleTable::new(HandleKind::Qp, 8);
        let ha = a.insert(1u32).unwrap();
        let hb = b.insert(2u32).unwrap();
        assert_eq!(a.get(ha), Some(&1));
        assert_eq!(a.get(hb), None, "another file's handle");
        let wrong_kind = (ha & !(0xFF << 56)) | ((HandleKind::Connection as u64) << 56);
        assert_eq!(a.get(wrong_kind), None);
        assert_eq!(a.remove(ha), Some(1));
        let again = a.insert(3).unwrap();
        assert_ne!(again, ha);
        assert_eq!(a.get(ha), None, "stale handle after reuse");
        assert_eq!(a.get(again), Some(&3));
        assert_eq!(a.get(0), None);
        assert_eq!(a.len(), 1);
    }
}
