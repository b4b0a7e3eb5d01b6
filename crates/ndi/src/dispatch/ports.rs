//! Device-wide port reservations: a port is taken per (adapter, port
//! space, listener or connection), explicitly or from the ephemeral range
//! 49152–65535 (spec/NDI.md §10, Bind). One bitmap per such class, so
//! reserving and releasing cost the same with ten or ten thousand ports in
//! use. Plain data behind the dispatcher's ports lock; never calls out.

use crate::NdiError;
use crate::cm_port::PortSpace;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// First ephemeral port.
pub(crate) const EPHEMERAL_FIRST: u16 = 49152;

/// Words in a bitmap of all 65,536 ports.
const WORDS: usize = 65536 / 64;

/// One bit per port.
struct Bitmap(Vec<u64>);

impl Bitmap {
    fn new() -> Result<Self, NdiError> {
        let mut words = Vec::new();
        words
            .try_reserve_exact(WORDS)
            .map_err(|_| NdiError::NoResources)?;
        words.resize(WORDS, 0);
        Ok(Bitmap(words))
    }

    fn word(&mut self, port: u16) -> Option<(&mut u64, u64)> {
        let bit = 1u64 << (port % 64);
        self.0.get_mut(usize::from(port / 64)).map(|w| (w, bit))
    }

    /// Sets the bit; false if it was already set.
    fn set(&mut self, port: u16) -> bool {
        match self.word(port) {
            Some((w, bit)) if *w & bit == 0 => {
                *w |= bit;
                true
            }
            _ => false,
        }
    }

    /// Clears the bit; false if it was not set.
    fn clear(&mut self, port: u16) -> bool {
        match self.word(port) {
            Some((w, bit)) if *w & bit != 0 => {
                *w &= !bit;
                true
            }
            _ => false,
        }
    }
}

/// The reservations of one device.
pub(crate) struct Ports {
    maps: BTreeMap<(u32, PortSpace, bool), Bitmap>,
    next_ephemeral: u16,
    used: usize,
}

impl Ports {
    pub(crate) fn new() -> Self {
        Ports {
            maps: BTreeMap::new(),
            next_ephemeral: EPHEMERAL_FIRST,
            used: 0,
        }
    }

    /// Ports reserved.
    pub(crate) fn len(&self) -> usize {
        self.used
    }

    /// Reserves `port` (0 → the next free ephemeral one) for an adapter,
    /// space and kind: SHARING_VIOLATION when taken, NO_RESOURCES when the
    /// ephemeral range is full.
    pub(crate) fn reserve(
        &mut self,
        adapter: u32,
        space: PortSpace,
        port: u16,
        listener: bool,
    ) -> Result<u16, NdiError> {
        let map = match self.maps.entry((adapter, space, listener)) {
            alloc::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            alloc::collections::btree_map::Entry::Vacant(e) => e.insert(Bitmap::new()?),
        };
        if port != 0 {
            if !map.set(port) {
                return Err(NdiError::SharingViolation);
            }
            self.used += 1;
            return Ok(port);
        }
        let span = u32::from(u16::MAX - EPHEMERAL_FIRST) + 1;
        for _ in 0..span {
            let candidate = self.next_ephemeral;
            self.next_ephemeral = candidate.checked_add(1).unwrap_or(EPHEMERAL_FIRST);
            if map.set(candidate) {
                self.used += 1;
                return Ok(candidate);
            }
        }
        Err(NdiError::NoResources)
    }

    /// Releases a reservation (nothing if it was not held).
    pub(crate) fn release(&mut self, adapter: u32, space: PortSpace, port: u16, listener: bool) {
        if let Some(map) = self.maps.get_mut(&(adapter, space, listener))
            && map.clear(port)
        {
            self.used -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_ports_are_exclusive_per_class() {
        let mut p = Ports::new();
        assert_eq!(p.reserve(0, PortSpace::Tcp, 7000, true), Ok(7000));
        assert_eq!(
            p.reserve(0, PortSpace::Tcp, 7000, true),
            Err(NdiError::SharingViolation)
        );
        // Another class: a connection, UDP, another adapter.
        assert_eq!(p.reserve(0, PortSpace::Tcp, 7000, false), Ok(7000));
        assert_eq!(p.reserve(0, PortSpace::Udp, 7000, true), Ok(7000));
        assert_eq!(p.reserve(1, PortSpace::Tcp, 7000, true), Ok(7000));
        assert_eq!(p.len(), 4);
        p.release(0, PortSpace::Tcp, 7000, true);
        p.release(0, PortSpace::Tcp, 7000, true);
        assert_eq!(p.len(), 3);
        assert_eq!(p.reserve(0, PortSpace::Tcp, 7000, true), Ok(7000));
        // Port 65535 is a port like any other.
        assert_eq!(p.reserve(0, PortSpace::Tcp, u16::MAX, true), Ok(u16::MAX));
    }

    #[test]
    fn ephemeral_ports_wrap_skip_taken_ones_and_run_out() {
        let mut p = Ports::new();
        assert_eq!(p.reserve(0, PortSpace::Tcp, 49153, false), Ok(49153));
        assert_eq!(p.reserve(0, PortSpace::Tcp, 0, false), Ok(49152));
        assert_eq!(p.reserve(0, PortSpace::Tcp, 0, false), Ok(49154));
        let range = usize::from(u16::MAX - EPHEMERAL_FIRST) + 1;
        for _ in 3..range {
            assert!(p.reserve(0, PortSpace::Tcp, 0, false).is_ok());
        }
        assert_eq!(p.len(), range);
        assert_eq!(
            p.reserve(0, PortSpace::Tcp, 0, false),
            Err(NdiError::NoResources)
        );
        // A released one is found again after the wrap.
        p.release(0, PortSpace::Tcp, 50000, false);
        assert_eq!(p.reserve(0, PortSpace::Tcp, 0, false), Ok(50000));
    }
}
