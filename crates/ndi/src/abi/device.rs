//! The control device's names and security: what the driver creates and the
//! provider opens (`\\.\ndcm`), and what the INF's `HKR,,Security` repeats.

/// The control device's NT name.
pub const NDCM_DEVICE_NAME: &str = "\\Device\\ndcm";
/// Its symbolic link; user mode opens `\\.\ndcm`.
pub const NDCM_SYMBOLIC_LINK: &str = "\\DosDevices\\Global\\ndcm";
/// Device object security, the same string as the INF's `HKR,,Security`
/// (`tests/tests/inx_lint.rs` checks they match): SYSTEM and Administrators
/// get all access; authenticated users may open the device for read and
/// write, which NetworkDirect applications need (the MAD agent's IOCTLs
/// also need an administrator's or SYSTEM's token, checked at create:
/// docs/NDI-agent.md §5). Only the
/// `IoCreateDeviceSecure` subset of SDDL ("D:P" + `(A;;access;;;SID)`).
pub const NDCM_DEVICE_SDDL: &str = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;AU)";

/// [`NDCM_DEVICE_NAME`] in UTF-16, for a `UNICODE_STRING` (no terminator).
pub static NDCM_DEVICE_NAME_UTF16: [u16; NDCM_DEVICE_NAME.len()] = ascii_utf16(NDCM_DEVICE_NAME);
/// [`NDCM_SYMBOLIC_LINK`] in UTF-16.
pub static NDCM_SYMBOLIC_LINK_UTF16: [u16; NDCM_SYMBOLIC_LINK.len()] =
    ascii_utf16(NDCM_SYMBOLIC_LINK);
/// [`NDCM_DEVICE_SDDL`] in UTF-16.
pub static NDCM_DEVICE_SDDL_UTF16: [u16; NDCM_DEVICE_SDDL.len()] = ascii_utf16(NDCM_DEVICE_SDDL);

/// ASCII `s` as `N` UTF-16 code units. Used in static initialisers only, so
/// a failed check is a compile error, never a run-time panic.
const fn ascii_utf16<const N: usize>(s: &str) -> [u16; N] {
    assert!(s.len() == N, "length mismatch");
    let mut out = [0u16; N];
    let mut bytes = s.as_bytes();
    let mut slots: &mut [u16] = &mut out;
    while let ([byte, rest @ ..], [slot, tail @ ..]) = (bytes, slots) {
        assert!(byte.is_ascii(), "ASCII only");
        *slot = *byte as u16;
        bytes = rest;
        slots = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn the_utf16_names_are_the_names() {
        for (s, utf16) in [
            (NDCM_DEVICE_NAME, &NDCM_DEVICE_NAME_UTF16[..]),
            (NDCM_SYMBOLIC_LINK, &NDCM_SYMBOLIC_LINK_UTF16[..]),
            (NDCM_DEVICE_SDDL, &NDCM_DEVICE_SDDL_UTF16[..]),
        ] {
            assert_eq!(s.encode_utf16().collect::<Vec<u16>>(), utf16);
            assert_eq!(alloc::string::String::from_utf16(utf16).unwrap(), s);
        }
        assert_eq!(ascii_utf16::<3>("a\\Z"), [0x61, 0x5C, 0x5A]);
    }
}
