//! The checked-in C header must be exactly what the Rust ABI generates.

use ndcm_ndi::abi::header::c_header;
use std::path::Path;

#[test]
fn checked_in_c_header_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/ndcm_ioctl.h");
    let generated = c_header();
    if std::env::var_os("NDCM_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write header");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{} is stale; regenerate it with:\n  NDCM_BLESS=1 cargo test -p ndcm-ndi --test c_header",
        path.display()
    );
}

#[test]
fn c_header_compiles_with_its_static_asserts_when_a_c_compiler_exists() {
    let Some(cc) = ["cc", "gcc", "clang"].into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok()
    }) else {
        eprintln!("no C compiler: skipping");
        return;
    };
    let dir = std::env::temp_dir().join(format!("ndcm_hdr_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let h = dir.join("ndcm_ioctl.h");
    std::fs::write(&h, c_header()).expect("write");
    let c = dir.join("t.c");
    std::fs::write(&c, "#include \"ndcm_ioctl.h\"\nint main(void){return 0;}\n").expect("write");
    let out = std::process::Command::new(cc)
        .arg("-std=c99")
        .arg("-Wall")
        .arg("-Werror")
        .arg("-fsyntax-only")
        .arg(&c)
        .output()
        .expect("run cc");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "C compiler rejected the header (layout mismatch?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
