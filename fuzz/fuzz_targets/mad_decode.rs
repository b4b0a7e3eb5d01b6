//! Any bytes into `CmMad::parse`: never panics, and whatever it accepts
//! re-encodes to a MAD that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ndcm_wire::CmMad;

fuzz_target!(|data: &[u8]| {
    if let Ok(mad) = CmMad::parse(data) {
        let bytes = mad.to_bytes();
        assert_eq!(CmMad::parse(&bytes), Ok(mad));
    }
});
