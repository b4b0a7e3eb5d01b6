//! CM time arithmetic (spec/CM.md §5): T(n) = 4.096 µs × 2^n, the REQ and REP
//! retry intervals, MRA stretching, timewait and the local ACK timeout.
//!
//! Pure functions; exact in 64-bit nanoseconds, never below 1 ms, never
//! overflowing whatever exponent arrives from the wire.

use crate::platform::Duration;

/// The smallest timer the driver arms (spec/CM.md §5.1).
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// The service timeout of the deferred and explicit MRAs (spec/CM.md §5.4).
pub const MRA_SERVICE_TIMEOUT: u8 = 24;

/// T(n) = 2^(n+12) ns exactly, with n masked to the 5-bit field.
pub const fn t(n: u8) -> Duration {
    Duration::from_nanos(1u64 << ((n & 0x1f) as u32 + 12))
}

/// A retry interval: T(n) sums rounded up to the 1 ms floor.
pub fn at_least_min(d: Duration) -> Duration {
    if d < MIN_TIMEOUT { MIN_TIMEOUT } else { d }
}

/// 2PLT = PLT + 1 as an exponent, capped at 31.
pub const fn two_plt(plt: u8) -> u8 {
    let v = (plt & 0x1f) + 1;
    if v > 31 { 31 } else { v }
}

/// 2PLT from a REQ's Local ACK Timeout field(s): the reference derives it as
/// the ACK timeout (≈ 2·PLT + ACK delay); use it directly, the larger one if
/// there is an alternate path.
pub const fn two_plt_from_ack_timeouts(primary: u8, alternate: Option<u8>) -> u8 {
    let p = primary & 0x1f;
    match alternate {
        Some(a) if (a & 0x1f) > p => a & 0x1f,
        _ => p,
    }
}

/// T_req = T(2PLT) + T(RemoteCMResponseTimeout) (spec/CM.md §5.2).
pub fn req_interval(two_plt: u8, remote_cm_response_timeout: u8) -> Duration {
    at_least_min(t(two_plt) + t(remote_cm_response_timeout))
}

/// T_rep = T(REQ.LocalCMResponseTimeout).
pub fn rep_interval(local_cm_response_timeout: u8) -> Duration {
    at_least_min(t(local_cm_response_timeout))
}

/// The wait after an MRA: T(MRA.ServiceTimeout) + T(2PLT) (spec/CM.md §5.3).
pub fn mra_wait(service_timeout: u8, two_plt: u8) -> Duration {
    at_least_min(t(service_timeout) + t(two_plt))
}

/// T_tw = T(2PLT) + T(TargetACKDelay) (spec/CM.md §5.5).
pub fn timewait(two_plt: u8, target_ack_delay: u8) -> Duration {
    at_least_min(t(two_plt) + t(target_ack_delay))
}

/// The active side's local ACK timeout after the REP (spec/CM.md §5.5):
/// delay 0 → min(2PLT, 31); else the smallest n ≥ 1 with
/// 2^n > 2^2PLT + 2^delay, capped at 31.
pub fn local_ack_timeout(two_plt: u8, target_ack_delay: u8) -> u8 {
    let p = u32::from(two_plt & 0x1f);
    if target_ack_delay & 0x1f == 0 {
        return p.min(31) as u8;
    }
    let sum = (1u64 << p) + (1u64 << u32::from(target_ack_delay & 0x1f));
    let mut n = 1u32;
    while n < 31 && (1u64 << n) <= sum {
        n += 1;
    }
    n as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_n_matches_the_spec_table() {
        assert_eq!(t(0).as_nanos(), 4_096);
        assert_eq!(t(14).as_nanos() / 100_000, 671); // 67.1 ms
        assert_eq!(t(18).as_nanos() / 1_000_000, 1_073); // 1.074 s
        assert_eq!(t(20).as_nanos() / 1_000_000, 4_294); // 4.295 s
        assert_eq!(t(31).as_nanos() / 1_000_000_000, 8_796);
        assert_eq!(t(0xff), t(31), "only the 5-bit field counts");
    }

    #[test]
    fn driver_defaults_give_the_documented_req_interval() {
        // 16/18: 0.537 s + 1.074 s = 1.61 s (spec/CM.md §5.6).
        let two = two_plt(16);
        assert_eq!(two, 17);
        let d = req_interval(two, 18);
        assert_eq!(d.as_nanos() / 10_000_000, 161);
    }

    #[test]
    fn intervals_never_go_below_one_millisecond() {
        assert_eq!(rep_interval(0), MIN_TIMEOUT);
        assert_eq!(timewait(0, 0), MIN_TIMEOUT);
    }

    #[test]
    fn local_ack_timeout_follows_the_reference_formula() {
        assert_eq!(local_ack_timeout(17, 0), 17);
        // 2^17 + 2^17 = 2^18 → smallest n with 2^n > 2^18 is 19.
        assert_eq!(local_ack_timeout(17, 17), 19);
        // 2^10 + 2^3 → 11
        assert_eq!(local_ack_timeout(10, 3), 11);
        assert_eq!(local_ack_timeout(31, 31), 31);
    }
}
