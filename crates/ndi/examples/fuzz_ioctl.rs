//! Runs the `ioctl_dispatch` fuzz harness on pseudo-random inputs for a
//! given number of seconds (stable toolchain, no coverage guidance):
//! `cargo run --release -p ndcm-ndi --example fuzz_ioctl -- 600 [two]`
//! (`two`: two dispatchers on the real CEP manager over a lossy wire).

fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let two = std::env::args().nth(2).is_some_and(|a| a == "two");
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut execs = 0u64;
    let (mut ioctls, mut pended, mut cancels, mut events) = (0, 0, 0, 0);
    while std::time::Instant::now() < end {
        for _ in 0..100 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 3000) as usize;
            let data: Vec<u8> = (0..len)
                .map(|i| {
                    let x = state.rotate_left((i % 64) as u32)
                        ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D);
                    (x >> 24) as u8
                })
                .collect();
            let result = if two {
                ndcm_ndi::fuzz_harness::two_nodes::run(&data)
            } else {
                ndcm_ndi::fuzz_harness::run(&data)
            };
            match result {
                Ok(s) => {
                    ioctls += s.ioctls;
                    pended += s.pended;
                    cancels += s.cancels;
                    events += s.events;
                }
                Err(e) => {
                    eprintln!("VIOLATION after {execs} executions: {e}");
                    std::fs::write("fuzz_ioctl_crash.bin", &data).ok();
                    std::process::exit(1);
                }
            }
            execs += 1;
        }
    }
    println!(
        "executions: {execs}, ioctls: {ioctls}, pended: {pended}, framework cancels: {cancels}, CM events: {events}"
    );
}
