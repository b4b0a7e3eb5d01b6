//! The driver takes its IOCTL codes, device type and structure layouts from
//! ndcm-ndi instead of restating them.
//!
//! driver/ builds only on Windows with the WDK, so this is checked on the
//! sources: driver/src defines no IOCTL code, device type, `#[repr(C)]`
//! structure or ABI size of its own and contains none of ndcm-ndi's code
//! values as literals; every name it imports from ndcm-ndi exists there; it
//! assigns the device type and decodes codes through ndcm-ndi. The driver's
//! assumptions about the codes (one device type, METHOD_BUFFERED: it copies
//! the input out of the system buffer) are checked against the compiled
//! ndcm-ndi. Each source check has a negative test on a broken snippet.

use ndcm_ndi::abi::Ioctl;
use ndcm_ndi::abi::codes::{
    FILE_ANY_ACCESS, FILE_READ_WRITE_ACCESS, METHOD_BUFFERED, NDCM_DEVICE_TYPE,
};
use ndcm_ndi::abi::device::NDCM_SYMBOLIC_LINK;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (file name, contents) of every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no Rust sources under {}", dir.display());
    out
}

fn driver_sources() -> Vec<(String, String)> {
    rust_files(&repo().join("driver/src"))
}

fn ndi_sources() -> Vec<(String, String)> {
    rust_files(&repo().join("crates/ndi/src"))
}

/// Literal spellings of a 32-bit value a source might restate.
fn spellings(v: u32) -> Vec<String> {
    let hi = v >> 16;
    let lo = v & 0xFFFF;
    let mut s = vec![
        format!("0x{v:08X}"),
        format!("0x{v:08x}"),
        format!("0x{hi:04X}_{lo:04X}"),
        format!("0x{hi:04x}_{lo:04x}"),
        format!("0x{v:X}"),
        format!("0x{v:x}"),
    ];
    if v >= 0x1_0000 {
        s.push(format!("{v}"));
    }
    s.sort();
    s.dedup();
    s
}

/// Definitions of ABI values in a driver source: IOCTL/CTL_CODE constants,
/// the device type, `#[repr(C)]` structures, ABI size constants, and any of
/// ndcm-ndi's code values as a literal.
fn restated_abi(file: &str, source: &str, abi_struct_names: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let codes: Vec<u32> = Ioctl::ALL.iter().map(|op| op.code()).collect();
    for (n, line) in source.lines().enumerate() {
        let at = format!("{file}:{}", n + 1);
        let code_line = line.split("//").next().unwrap_or("");
        let upper = code_line.to_ascii_uppercase();
        if let Some(rest) = code_line
            .trim_start()
            .strip_prefix("pub(crate) const ")
            .or_else(|| {
                code_line
                    .trim_start()
                    .strip_prefix("pub const ")
                    .or_else(|| code_line.trim_start().strip_prefix("const "))
            })
        {
            let name = rest
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_uppercase();
            if name.contains("IOCTL") || name.contains("DEVICE_TYPE") || name.contains("CTL_CODE") {
                found.push(format!("{at}: defines {name}"));
            }
            if abi_struct_names
                .iter()
                .any(|s| name.replace('_', "").contains(&s.to_ascii_uppercase()))
            {
                found.push(format!("{at}: defines an ABI size/constant {name}"));
            }
        }
        if upper.contains("CTL_CODE(") || upper.contains("FN CTL_CODE") {
            found.push(format!("{at}: computes a control code"));
        }
        if code_line.contains("#[repr(C)]") || code_line.contains("#[repr(C, ") {
            found.push(format!("{at}: defines a #[repr(C)] layout"));
        }
        if let Some(name) = code_line.split("struct ").nth(1) {
            let name = name
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
                .unwrap_or("");
            if abi_struct_names.iter().any(|s| s == name) {
                found.push(format!("{at}: redefines ABI structure {name}"));
            }
        }
        for value in codes.iter().copied().chain([NDCM_DEVICE_TYPE]) {
            for s in spellings(value) {
                let hit = line.match_indices(&s).any(|(i, _)| {
                    let after = line[i + s.len()..].chars().next();
                    !after.is_some_and(|c| c.is_ascii_hexdigit() || c == '_')
                });
                if hit {
                    found.push(format!("{at}: literal {s} is an ndcm-ndi value"));
                }
            }
        }
    }
    found
}

/// The ABI structure names ndcm-ndi defines (`pub struct Ndcm…`).
fn abi_struct_names() -> Vec<String> {
    let mut names = Vec::new();
    for (_, text) in ndi_sources()
        .iter()
        .filter(|(f, _)| f.replace('\\', "/").contains("/abi/"))
    {
        for part in text.split("pub struct ").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name.starts_with("Ndcm") {
                names.push(name);
            }
        }
    }
    names.sort();
    names.dedup();
    assert!(
        names.len() >= 10,
        "ndcm-ndi's ABI structures not found: {names:?}"
    );
    names
}

/// Leaf names the driver imports from `ndcm_ndi` (`use ndcm_ndi::…;`).
fn ndi_imports(source: &str) -> Vec<(String, String)> {
    crate_imports(source, "ndcm_ndi")
}

/// Leaf names imported from crate `krate` (`use krate::…;`).
fn crate_imports(source: &str, krate: &str) -> Vec<(String, String)> {
    let needle = format!("use {krate}::");
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(&needle) {
        let tail = &rest[at + needle.len()..];
        let end = tail.find(';').unwrap_or(tail.len());
        let item = &tail[..end];
        let (prefix, leaves) = match item.find('{') {
            Some(b) => (&item[..b], item[b + 1..].trim_end_matches('}').to_string()),
            None => match item.rfind("::") {
                Some(c) => (&item[..c + 2], item[c + 2..].to_string()),
                None => ("", item.to_string()),
            },
        };
        for leaf in leaves.split(',') {
            let leaf = leaf.split(" as ").next().unwrap_or("").trim();
            if !leaf.is_empty() && leaf != "self" {
                out.push((prefix.trim_end_matches("::").to_string(), leaf.to_string()));
            }
        }
        rest = &tail[end..];
    }
    out
}

/// True if the crate sources declare or re-export `name` publicly.
fn ndi_declares(name: &str, sources: &[(String, String)]) -> bool {
    let decls = [
        "pub const ",
        "pub static ",
        "pub fn ",
        "pub const fn ",
        "pub struct ",
        "pub enum ",
        "pub trait ",
        "pub type ",
        "pub mod ",
    ];
    sources.iter().any(|(_, text)| {
        decls.iter().any(|d| {
            text.match_indices(&format!("{d}{name}")).any(|(i, _)| {
                let after = text[i + d.len() + name.len()..].chars().next();
                !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        }) || text.lines().any(|l| {
            let l = l.trim();
            l.starts_with("pub use ")
                && l.split(|c: char| !c.is_alphanumeric() && c != '_')
                    .any(|w| w == name)
        }) || (name == "Ioctl" && text.contains("pub enum Ioctl"))
    })
}

#[test]
fn the_driver_defines_no_abi_value_of_its_own() {
    let names = abi_struct_names();
    let found: Vec<String> = driver_sources()
        .iter()
        .flat_map(|(f, s)| restated_abi(f, s, &names))
        .collect();
    assert!(
        found.is_empty(),
        "driver/ restates the ABI:\n{}",
        found.join("\n")
    );
}

#[test]
fn restated_codes_and_layouts_are_caught() {
    let names = abi_struct_names();
    let req = Ioctl::ReqCm.code();
    let bad = [
        "const IOCTL_NDCM_NOOP: u32 = 0x8C4D_2400;".to_string(),
        "pub(crate) const NDCM_DEVICE_TYPE: u32 = 36941;".to_string(),
        format!("let code = {};", spellings(req)[0]),
        "const fn ctl_code(t: u32, f: u32) -> u32 { CTL_CODE(t, f, 0, 0) }".to_string(),
        "#[repr(C)]\nstruct Mine { a: u32 }".to_string(),
        "struct NdcmHandleIn { handle: u64 }".to_string(),
        "const NDCM_HANDLE_IN_SIZE: usize = 16;".to_string(),
        format!("WdfDeviceInitSetDeviceType(init, 0x{NDCM_DEVICE_TYPE:X});"),
    ];
    for snippet in bad {
        assert!(
            !restated_abi("snippet.rs", &snippet, &names).is_empty(),
            "not caught: {snippet}"
        );
    }
    // Importing and using ndcm-ndi's names is what the driver must do.
    let good = "use ndcm_ndi::abi::codes::NDCM_DEVICE_TYPE;\nlet op = Ioctl::from_code(code);";
    assert!(restated_abi("good.rs", good, &names).is_empty());
}

/// Paths written inline (not in a `use`): `ndcm_ndi::a::B<…>`.
fn ndi_inline_paths(source: &str) -> Vec<(String, String)> {
    inline_paths(source, "ndcm_ndi")
}

/// Paths into crate `krate` written inline (not in a `use`).
fn inline_paths(source: &str, krate: &str) -> Vec<(String, String)> {
    let needle = format!("{krate}::");
    let mut out = Vec::new();
    for (i, _) in source.match_indices(&needle) {
        if source[..i].ends_with("use ")
            || source[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let path: String = source[i + needle.len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let path = path.trim_end_matches(':');
        if path.is_empty() || path.ends_with('{') {
            continue;
        }
        let (prefix, leaf) = path.rsplit_once("::").unwrap_or(("", path));
        out.push((prefix.to_string(), leaf.to_string()));
    }
    out
}

/// Names the glue was written against that ndcm-ndi did not provide yet
/// when it was written. They are excluded here so this test checks
/// everything else; each must be removed from this list when it lands.
/// (Empty: `cm_adapter::ManagerPort` has landed.)
const PENDING: &[&str] = &[];

#[test]
fn every_name_the_driver_imports_from_ndcm_ndi_exists_there() {
    let ndi = ndi_sources();
    let mut imports = Vec::new();
    for (file, text) in driver_sources() {
        for (path, name) in ndi_imports(&text)
            .into_iter()
            .chain(ndi_inline_paths(&text))
        {
            imports.push((file.clone(), path, name));
        }
    }
    assert!(
        imports.len() >= 5,
        "the driver imports little from ndcm-ndi: {imports:?}"
    );
    let missing: Vec<String> = imports
        .iter()
        .filter(|(_, _, name)| !PENDING.contains(&name.as_str()))
        .filter(|(_, _, name)| !ndi_declares(name, &ndi))
        .map(|(f, p, n)| format!("{f}: ndcm_ndi::{p}::{n}"))
        .collect();
    assert!(
        missing.is_empty(),
        "not in ndcm-ndi:\n{}",
        missing.join("\n")
    );
}

#[test]
fn a_name_ndcm_ndi_does_not_have_is_caught() {
    let imports = ndi_imports(
        "use ndcm_ndi::abi::{Ioctl, NtStatus as S, IOCTL_NDCM_FAKE};\nuse ndcm_ndi::Ndi;",
    );
    let names: Vec<&str> = imports.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["Ioctl", "NtStatus", "IOCTL_NDCM_FAKE", "Ndi"]);
    let inline = ndi_inline_paths("type X = ndcm_ndi::cm_port::NoSuchPort<P>;\nuse ndcm_ndi::Ndi;");
    assert_eq!(inline, [("cm_port".to_string(), "NoSuchPort".to_string())]);
    let ndi = ndi_sources();
    assert!(!ndi_declares("NoSuchPort", &ndi));
    assert!(ndi_declares("Ioctl", &ndi));
    assert!(ndi_declares("NDCM_DEVICE_TYPE", &ndi));
    assert!(!ndi_declares("IOCTL_NDCM_FAKE", &ndi));
}

#[test]
fn the_driver_assigns_the_device_type_and_decodes_codes_through_ndcm_ndi() {
    let sources = driver_sources();
    let all: String = sources.iter().map(|(_, s)| s.as_str()).collect();
    let compact: String = all.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(
        compact.contains("WdfDeviceInitSetDeviceType,init,NDCM_DEVICE_TYPE"),
        "the control device's type must be ndcm-ndi's NDCM_DEVICE_TYPE"
    );
    assert!(
        ndi_imports(&all)
            .iter()
            .any(|(p, n)| p == "abi::codes" && n == "NDCM_DEVICE_TYPE"),
        "NDCM_DEVICE_TYPE must be imported from ndcm_ndi::abi::codes"
    );
    assert!(
        compact.contains("Ioctl::from_code(code)"),
        "EvtIoDeviceControl must decide known codes with ndcm-ndi's table"
    );
}

#[test]
fn every_code_is_buffered_on_the_drivers_device_type() {
    // The driver names its device with NDCM_DEVICE_TYPE and copies every
    // input out of the METHOD_BUFFERED system buffer; a code of another
    // type or method would break those assumptions.
    assert!(!Ioctl::ALL.is_empty());
    for op in Ioctl::ALL {
        let code = op.code();
        assert_eq!(code >> 16, NDCM_DEVICE_TYPE, "{op:?}");
        assert_eq!(code & 3, METHOD_BUFFERED, "{op:?}");
        // The agent's codes need a handle opened for read and write
        // (docs/NDI-agent.md §5); every other code any access.
        let access = if op.agent_only() {
            FILE_READ_WRITE_ACCESS
        } else {
            FILE_ANY_ACCESS
        };
        assert_eq!((code >> 14) & 3, access, "{op:?}");
        assert_eq!(Ioctl::from_code(code), Some(*op));
    }
}

/// The value of `const NAME: &str = "…"` or `r"…"` in Rust source, with
/// `\\` unescaped in the non-raw form.
fn str_const(source: &str, name: &str) -> Option<String> {
    let at = source.find(&format!("const {name}: &str = "))?;
    let rest = &source[at + format!("const {name}: &str = ").len()..];
    if let Some(raw) = rest.strip_prefix("r\"") {
        return Some(raw[..raw.find('"')?].to_string());
    }
    let body = rest.strip_prefix('"')?;
    Some(body[..body.find('"')?].replace("\\\\", "\\"))
}

/// `\\.\X` (Win32 path) names the DOS device `\DosDevices\Global\X`.
fn user_path_matches_link(user_path: &str, link: &str) -> bool {
    let Some(name) = user_path.strip_prefix("\\\\.\\") else {
        return false;
    };
    let dos = link
        .strip_prefix("\\DosDevices\\Global\\")
        .or_else(|| link.strip_prefix("\\DosDevices\\"))
        .or_else(|| link.strip_prefix("\\??\\"));
    dos.is_some_and(|d| !d.is_empty() && d.eq_ignore_ascii_case(name))
}

#[test]
fn the_providers_device_path_is_the_drivers_symbolic_link() {
    // The driver links ndcm-ndi's name (and restates none of its own).
    let all: String = driver_sources().into_iter().map(|(_, s)| s).collect();
    let compact: String = all.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(
        compact.contains("unicode(&NDCM_SYMBOLIC_LINK_UTF16)")
            && compact.contains("WdfDeviceCreateSymbolicLink,device,&rawconstlink"),
        "the driver must create its link from ndcm_ndi::abi::device"
    );
    assert!(str_const(&all, "NDCM_SYMBOLIC_LINK").is_none());
    assert!(str_const(&all, "NDCM_DEVICE_NAME").is_none());
    let link = NDCM_SYMBOLIC_LINK.to_string();
    let provider = std::fs::read_to_string(repo().join("crates/provider/src/windows.rs")).unwrap();
    let path = str_const(&provider, "DEVICE_PATH").expect("the provider defines DEVICE_PATH");
    assert!(
        user_path_matches_link(&path, &link),
        "provider opens {path}, driver links {link}"
    );
    // A mismatch is caught.
    assert!(!user_path_matches_link("\\\\.\\ndcm2", &link));
    assert!(!user_path_matches_link(
        "\\\\.\\ndcm",
        "\\DosDevices\\Global\\other"
    ));
    assert!(!user_path_matches_link("ndcm", &link));
}

#[test]
fn every_name_the_driver_uses_from_ndcm_cm_exists_there() {
    let cm = rust_files(&repo().join("crates/cm/src"));
    let mut uses = Vec::new();
    for (file, text) in driver_sources() {
        for (path, name) in crate_imports(&text, "ndcm_cm")
            .into_iter()
            .chain(inline_paths(&text, "ndcm_cm"))
        {
            uses.push((file.clone(), path, name));
        }
    }
    assert!(
        uses.len() >= 5,
        "the driver uses little of ndcm-cm: {uses:?}"
    );
    let missing: Vec<String> = uses
        .iter()
        .filter(|(_, _, name)| !ndi_declares(name, &cm))
        .map(|(f, p, n)| format!("{f}: ndcm_cm::{p}::{n}"))
        .collect();
    assert!(
        missing.is_empty(),
        "not in ndcm-cm:\n{}",
        missing.join("\n")
    );
    assert!(!ndi_declares("NoSuchManager", &cm));
}
