//! Big-endian bit-field access in IBA's Byte[Bit] notation (spec/WIRE.md §1).
//!
//! Owns the only arithmetic on raw offsets. It never panics: a field outside
//! the buffer reads as 0 and is not written (views check the length once in
//! `new_checked`, so that case does not arise through them).

/// A field that starts at `byte`, bit `bit` (0 = most significant) and runs
/// for `width` bits towards less significant bits, at most 64 bits in all.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bits {
    pub byte: usize,
    pub bit: u32,
    pub width: u32,
}

impl Bits {
    pub const fn new(byte: usize, bit: u32, width: u32) -> Self {
        Self { byte, bit, width }
    }

    const fn span(self) -> usize {
        (self.bit + self.width).div_ceil(8) as usize
    }

    const fn mask(self) -> u64 {
        if self.width >= 64 {
            u64::MAX
        } else {
            (1u64 << self.width) - 1
        }
    }

    const fn shift(self) -> u32 {
        self.span() as u32 * 8 - self.bit - self.width
    }
}

/// Reads `f` from `buf`.
#[inline(always)]
pub(crate) fn read(buf: &[u8], f: Bits) -> u64 {
    let Some(bytes) = buf.get(f.byte..f.byte + f.span()) else {
        return 0;
    };
    let mut acc: u64 = 0;
    for &b in bytes {
        acc = (acc << 8) | u64::from(b);
    }
    (acc >> f.shift()) & f.mask()
}

/// Writes the low `f.width` bits of `value` into `buf`, leaving the other
/// bits of the touched bytes as they were.
#[inline(always)]
pub(crate) fn write(buf: &mut [u8], f: Bits, value: u64) {
    let span = f.span();
    let shift = f.shift();
    let Some(bytes) = buf.get_mut(f.byte..f.byte + span) else {
        return;
    };
    let mut acc: u64 = 0;
    for &b in bytes.iter() {
        acc = (acc << 8) | u64::from(b);
    }
    let mask = f.mask() << shift;
    acc = (acc & !mask) | ((value << shift) & mask);
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (acc >> ((span - 1 - i) * 8)) as u8;
    }
}

/// Copies `N` bytes starting at `at`; zeros if out of range.
#[inline(always)]
pub(crate) fn array<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = buf.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

/// Writes `src` at `at` if it fits.
#[inline(always)]
pub(crate) fn put(buf: &mut [u8], at: usize, src: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at + src.len()) {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_matches_spec_example_remote_cm_response_timeout() {
        // spec/WIRE.md §1: CM byte 43 bit 0 width 5 is the top five bits.
        let mut buf = [0u8; 64];
        buf[43] = 0b1011_0110;
        assert_eq!(read(&buf, Bits::new(43, 0, 5)), 0b10110);
        assert_eq!(read(&buf, Bits::new(43, 5, 2)), 0b11);
        assert_eq!(read(&buf, Bits::new(43, 7, 1)), 0);
    }

    #[test]
    fn write_preserves_neighbouring_bits() {
        let mut buf = [0xFFu8; 4];
        write(&mut buf, Bits::new(0, 4, 20), 0);
        assert_eq!(buf, [0xF0, 0x00, 0x00, 0xFF]);
        write(&mut buf, Bits::new(0, 4, 20), 0xABCDE);
        assert_eq!(buf, [0xFA, 0xBC, 0xDE, 0xFF]);
        assert_eq!(read(&buf, Bits::new(0, 4, 20)), 0xABCDE);
    }

    #[test]
    fn out_of_range_reads_zero_and_writes_nothing() {
        let mut buf = [0xAAu8; 4];
        assert_eq!(read(&buf, Bits::new(2, 0, 32)), 0);
        write(&mut buf, Bits::new(2, 0, 32), 0);
        assert_eq!(buf, [0xAA; 4]);
        assert_eq!(array::<4>(&buf, 1), [0; 4]);
    }

    #[test]
    fn full_width_64_bit_field() {
        let mut buf = [0u8; 9];
        write(&mut buf, Bits::new(1, 0, 64), 0x0123_4567_89AB_CDEF);
        assert_eq!(buf, [0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]);
        assert_eq!(read(&buf, Bits::new(1, 0, 64)), 0x0123_4567_89AB_CDEF);
    }
}
