//! Arbitrary sequences of (IOCTL code, input bytes, output length),
//! framework cancels, CM events and file closes against the NDI dispatcher
//! (`ndcm_ndi::fuzz_harness`): no panic, every request completed exactly
//! once, nothing leaked after the files close.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = ndcm_ndi::fuzz_harness::run(data) {
        panic!("{violation}");
    }
});
