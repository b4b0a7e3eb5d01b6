//! Whether `tshark` can be run, for the tests that check captures with it:
//! without it they skip, unless `NDCM_REQUIRE_TSHARK=1` (CI) makes its
//! absence a failure.

use std::process::Command;

/// True when `tshark --version` runs; panics if it does not and
/// `NDCM_REQUIRE_TSHARK=1`, otherwise prints why the check is skipped.
pub fn tshark_available() -> bool {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("NDCM_REQUIRE_TSHARK").as_deref() == Ok("1") {
            panic!("tshark is not installed and NDCM_REQUIRE_TSHARK=1");
        }
        println!("SKIPPED: tshark is not installed (set NDCM_REQUIRE_TSHARK=1 to fail instead)");
    }
    found
}
