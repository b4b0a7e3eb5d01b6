//! Arbitrary sequences of (IOCTL code, input bytes, output length),
//! framework cancels, CM events and file closes against the NDI dispatcher
//! (`ndcm_ndi::fuzz_harness`): no panic, every request completed exactly
//! once, nothing leaked after the files close. The first byte picks the
//! world: one dispatcher with CM events drawn from the input, or two
//! dispatchers on the real CEP manager over a lossy wire.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let result = match data.split_first() {
        Some((mode, rest)) if mode & 1 == 1 => ndcm_ndi::fuzz_harness::two_nodes::run(rest),
        _ => ndcm_ndi::fuzz_harness::run(data),
    };
    if let Err(violation) = result {
        panic!("{violation}");
    }
});
