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

    /// The first clear bit in `from..=last`, skipping full words.
    fn first_clear(&self, from: u16, last: u16) -> Option<u16> {
        let mut port = from;
        loop {
            let word = self
                .0
                .get(usize::from(port / 64))
                .copied()
                .unwrap_or(u64::MAX);
            // Bits below `port` in this word count as taken.
            let free = !word & (u64::MAX << (port % 64));
            if free != 0 {
                let found = (port & !63) | free.trailing_zeros() as u16;
                return (found <= last).then_some(found);
            }
            // Next word, unless this was the last one in range.
            port = (port | 63).checked_add(1).filter(|p| *p <= last)?;
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
        // From the last one handed out round the range: a word at a time.
        let found = map
            .first_clear(self.next_ephemeral, u16::MAX)
            .or_else(|| map.first_clear(EPHEMERAL_FIRST, u16::MAX))
            .ok_or(NdiError::NoResources)?;
        let _ = map.set(found);
        self.used += 1;
        self.next_ephemeral = found.checked_add(1).unwrap_or(EPHEMERAL_FIRST);
        Ok(found)
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
    fn the_first_clear_bit_is_found_across_words_and_within_bounds() {
        let mut b = Bitmap::new().unwrap();
        for p in 100..=300 {
            b.set(p);
        }
        assert_eq!(b.first_clear(100, u16::MAX), Some(301));
        assert_eq!(b.first_clear(0, u16::MAX), Some(0));
        assert_eq!(b.first_clear(150, 300), None);
        assert_eq!(b.first_clear(150, 301), Some(301));
        b.set(u16::MAX);
        assert_eq!(b.first_clear(u16::MAX, u16::MAX), None);
        assert_eq!(b.first_clear(u16::MAX - 1, u16::MAX), Some(u16::MAX - 1));
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
