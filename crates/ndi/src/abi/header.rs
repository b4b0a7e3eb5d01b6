//! Generates `include/ndcm_ioctl.h` from the Rust definitions, so the header
//! provider authors compile against cannot drift from what the driver parses.
//! The test `tests/c_header.rs` fails when the checked-in file is stale.

use super::{ALL_CONSTANTS, Ioctl, NtStatus, field::StructLayout, structs::ALL_STRUCTS};
use alloc::string::String;
use core::fmt::Write;

fn comment(out: &mut String, indent: &str, text: &str) {
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let _ = writeln!(out, "{indent}/* {line} */");
    }
}

fn declare(out: &mut String, s: &StructLayout) {
    comment(out, "", s.doc);
    let _ = writeln!(out, "typedef struct {} {{", s.name);
    for f in s.fields {
        comment(out, "    ", f.doc);
        let array = if f.array > 0 {
            alloc::format!("[{}]", f.array)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "    {} {}{}; /* offset {}, {} bytes */",
            f.c_type, f.name, array, f.offset, f.size
        );
    }
    let _ = writeln!(out, "}} {};", s.name);
    let _ = writeln!(
        out,
        "NDCM_STATIC_ASSERT(sizeof({}) == {}, {}_size);",
        s.name, s.size, s.name
    );
    for f in s.fields {
        let _ = writeln!(
            out,
            "NDCM_STATIC_ASSERT(offsetof({}, {}) == {}, {}_{}_offset);",
            s.name, f.name, f.offset, s.name, f.name
        );
    }
    out.push('\n');
}

/// The full text of `ndcm_ioctl.h`.
pub fn c_header() -> String {
    let mut out = String::new();
    out.push_str(
        "/* ndcm_ioctl.h: the ndcm driver's IOCTL ABI for ND provider authors.\n\
         \x20* GENERATED from crates/ndi/src/abi by `ndcm_ndi::abi::header::c_header`;\n\
         \x20* do not edit. Regenerate with:\n\
         \x20*   NDCM_BLESS=1 cargo test -p ndcm-ndi --test c_header\n\
         \x20* All fields little-endian unless marked network order; every input\n\
         \x20* starts with NdcmHeader { Version = NDCM_ABI_VERSION, Flags = 0 }. */\n\
         #ifndef NDCM_IOCTL_H\n#define NDCM_IOCTL_H\n\n\
         #include <stddef.h>\n#include <stdint.h>\n\n\
         #define NDCM_STATIC_ASSERT(cond, name) typedef char ndcm_assert_##name[(cond) ? 1 : -1]\n\n",
    );
    for (name, value) in ALL_CONSTANTS {
        let _ = writeln!(out, "#define {name} {value:#x}u");
    }
    out.push('\n');
    for op in Ioctl::ALL {
        let output = if op.output_name().is_empty() {
            "none"
        } else {
            op.output_name()
        };
        let _ = writeln!(
            out,
            "#define {} {:#010x}u /* in: {}, out: {} */",
            op.c_name(),
            op.code(),
            op.input_name(),
            output
        );
    }
    out.push('\n');
    for (name, status) in NtStatus::ALL {
        let _ = writeln!(out, "#define NDCM_{} ((int32_t){:#010x}u)", name, status.0);
    }
    out.push('\n');
    for s in ALL_STRUCTS {
        declare(&mut out, s);
    }
    out.push_str("#endif /* NDCM_IOCTL_H */\n");
    out
}
