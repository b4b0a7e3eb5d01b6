//! The seam between the CM and ndcm-wire: parsing a received MAD, emitting
//! one, and the trimmed form in which MADs are kept per CEP.
//!
//! Owns no protocol decisions. A MAD kept for retransmission or for an event
//! is stored with its trailing zero bytes removed (every CM message pads
//! unused private data with zeros, spec/WIRE.md §1), which keeps an
//! established CEP small; `untrim` restores the exact 256 bytes.

use alloc::boxed::Box;
use ndcm_wire::mad::MAD_SIZE;
use ndcm_wire::{CmMad, CmMessage};

/// Encodes `message` with transaction ID `tid`.
pub fn emit(tid: u64, message: CmMessage) -> [u8; MAD_SIZE] {
    CmMad::new(tid, message).to_bytes()
}

/// The MAD without its trailing zeros.
pub fn trim(mad: &[u8]) -> Box<[u8]> {
    Box::from(mad.get(..used_len(mad)).unwrap_or(mad))
}

/// Length without trailing zeros; skips zero words 16 bytes at a time
/// (this runs for every MAD kept, so it is on the connection fast path).
fn used_len(data: &[u8]) -> usize {
    let mut end = data.len();
    let whole = end - end % 16;
    if whole == end {
        for chunk in data.chunks_exact(16).rev() {
            let mut w = [0u8; 16];
            w.copy_from_slice(chunk);
            if u128::from_ne_bytes(w) != 0 {
                break;
            }
            end -= 16;
        }
    }
    data.get(..end)
        .and_then(|d| d.iter().rposition(|&b| b != 0))
        .map_or(0, |i| i + 1)
}

/// The exact 256 bytes of a trimmed MAD.
pub fn untrim(trimmed: &[u8]) -> [u8; MAD_SIZE] {
    let mut mad = [0u8; MAD_SIZE];
    let n = trimmed.len().min(MAD_SIZE);
    if let (Some(dst), Some(src)) = (mad.get_mut(..n), trimmed.get(..n)) {
        dst.copy_from_slice(src);
    }
    mad
}

/// Parses a trimmed MAD kept by the manager.
pub fn parse_trimmed(trimmed: &[u8]) -> Option<CmMad> {
    CmMad::parse(&untrim(trimmed)).ok()
}

/// Copies `src` into a fixed private-data field, refusing longer input
/// (spec/CM.md §10.1: never truncated).
pub fn private_data<const N: usize>(src: &[u8]) -> Option<ndcm_wire::PrivateData<N>> {
    ndcm_wire::PrivateData::from_slice(src)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_and_untrim_round_trip_exactly() {
        let mut mad = [0u8; MAD_SIZE];
        mad[0] = 1;
        mad[40] = 7;
        let t = trim(&mad);
        assert_eq!(t.len(), 41);
        assert_eq!(untrim(&t), mad);
        assert_eq!(trim(&[0u8; MAD_SIZE]).len(), 0);
        for i in 0..MAD_SIZE {
            let mut m = [0u8; MAD_SIZE];
            m[i] = 9;
            assert_eq!(trim(&m).len(), i + 1);
        }
        assert_eq!(trim(&[1, 0, 0]).len(), 1);
    }
}
