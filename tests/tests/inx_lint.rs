//! Lint of the driver's stampinf template, `inf/ndcm.inx`, on any machine.
//!
//! stampinf and infverif run only on Windows (driver/Makefile.toml); this
//! test catches on Linux what would break them or the install: the file
//! decodes (UTF-8/ASCII, or UTF-16LE with a BOM), the required sections and
//! keys exist, every `$…$` placeholder is one stampinf fills and every
//! `%…%` token resolves, the class is a real one (not `Sample`), the model
//! is the root-enumerated hardware id `root\<package>`, the service and
//! binary are named after the driver package, the `.Wdf` section declares
//! `KmdfLibraryVersion = $KMDFVERSION$`, and the INF's device security is
//! the SDDL the driver gives its control device (ndcm-ndi's
//! `NDCM_DEVICE_SDDL`, which the driver must use and not restate). Every
//! check has a negative test: a broken copy of the real file must fail it.

use ndcm_ndi::abi::device::NDCM_DEVICE_SDDL;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which rule a problem breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    Encoding,
    Sections,
    Version,
    DestinationDirs,
    Placeholders,
    Models,
    Files,
    Service,
    Wdf,
    Security,
}

type Problems = Vec<(Check, String)>;

/// What the INX must agree with, read from the driver sources.
struct Expected {
    /// The service and binary name: driver/Cargo.toml's package name.
    service: String,
    /// `root\<service>`.
    hardware_id: String,
    /// ndcm-ndi's `NDCM_DEVICE_SDDL`, the one the driver passes to WDF.
    sddl: String,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(repo().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn expected() -> Expected {
    let cargo = String::from_utf8(read("driver/Cargo.toml")).expect("driver/Cargo.toml is UTF-8");
    let service = toml_package_name(&cargo).expect("driver/Cargo.toml has [package] name");
    let sddl = NDCM_DEVICE_SDDL.to_string();
    Expected {
        hardware_id: format!("root\\{service}"),
        service,
        sddl,
    }
}

/// `name = "…"` inside `[package]`.
fn toml_package_name(text: &str) -> Option<String> {
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some(rest) = line.strip_prefix("name")
            && let Some(value) = rest.trim_start().strip_prefix('=')
        {
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
}

/// The value of `const NAME: &str = "…";` in Rust source.
fn rust_str_const(source: &str, name: &str) -> Option<String> {
    let at = source.find(&format!("const {name}: &str = \""))?;
    let rest = &source[at..];
    let start = rest.find('"')? + 1;
    let end = start + rest[start..].find('"')?;
    Some(rest[start..end].to_string())
}

/// How the driver sources fail to give the control device ndcm-ndi's SDDL
/// (the one checked against the INF): they must create the device with
/// `NDCM_DEVICE_SDDL_UTF16` from `ndcm_ndi::abi::device` and define no
/// SDDL of their own.
fn driver_sddl_problems(sources: &[(String, String)]) -> Vec<String> {
    let mut bad = Vec::new();
    let all: String = sources.iter().map(|(_, s)| s.as_str()).collect();
    let compact: String = all.chars().filter(|c| !c.is_whitespace()).collect();
    if !compact.contains("usendcm_ndi::abi::device::") || !all.contains("NDCM_DEVICE_SDDL_UTF16") {
        bad.push("NDCM_DEVICE_SDDL_UTF16 is not imported from ndcm_ndi::abi::device".into());
    }
    if !compact.contains("unicode(&NDCM_DEVICE_SDDL_UTF16)")
        || !compact.contains("WdfControlDeviceInitAllocate,driver,&rawconstsddl")
    {
        bad.push("the control device is not created with NDCM_DEVICE_SDDL_UTF16".into());
    }
    for (file, source) in sources {
        if let Some(sddl) = rust_str_const(source, "NDCM_DEVICE_SDDL") {
            bad.push(format!("{file} defines its own NDCM_DEVICE_SDDL {sddl:?}"));
        }
        if source.contains("\"D:P") || source.contains("\"D:(") {
            bad.push(format!("{file} spells out an SDDL string"));
        }
    }
    bad
}

fn driver_sources() -> Vec<(String, String)> {
    let dir = repo().join("driver/src");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(out.len() >= 5, "driver/src has too few sources: {out:?}");
    out
}

/// Decodes the file as stampinf would read it.
fn decode(bytes: &[u8]) -> Result<String, String> {
    let text = if let Some(body) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if body.len() % 2 != 0 {
            return Err("UTF-16LE file with an odd number of bytes".into());
        }
        let units: Vec<u16> = body
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).map_err(|e| format!("invalid UTF-16LE: {e}"))?
    } else {
        let body = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
        String::from_utf8(body.to_vec())
            .map_err(|e| format!("neither UTF-16LE with BOM nor UTF-8: {e}"))?
    };
    if let Some(c) = text
        .chars()
        .find(|&c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
    {
        return Err(format!("control character {c:?} in the file"));
    }
    Ok(text)
}

/// One `key = value` (or bare value) line of a section.
#[derive(Debug)]
struct Entry {
    key: Option<String>,
    value: String,
    line: usize,
}

/// Sections by lower-case name, in file order of their entries.
struct Inf {
    sections: BTreeMap<String, Vec<Entry>>,
}

/// Removes a `;` comment that is not inside double quotes.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Splits on `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                out.last_mut().unwrap().push(c);
            }
            c if c == sep && !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|f| f.trim().to_string()).collect()
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

fn parse(text: &str, problems: &mut Problems) -> Inf {
    let mut sections: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            match name.strip_suffix(']') {
                Some(name) => {
                    let key = name.trim().to_ascii_lowercase();
                    sections.entry(key.clone()).or_default();
                    current = Some(key);
                }
                None => problems.push((
                    Check::Sections,
                    format!("line {}: malformed section header", n + 1),
                )),
            }
            continue;
        }
        let Some(section) = &current else {
            problems.push((
                Check::Sections,
                format!("line {}: entry before any section", n + 1),
            ));
            continue;
        };
        let parts = split_unquoted(line, '=');
        let (key, value) = if parts.len() >= 2 {
            (Some(parts[0].clone()), parts[1..].join("="))
        } else {
            (None, parts[0].clone())
        };
        sections.get_mut(section).unwrap().push(Entry {
            key,
            value,
            line: n + 1,
        });
    }
    Inf { sections }
}

impl Inf {
    fn section(&self, name: &str) -> Option<&[Entry]> {
        self.sections
            .get(&name.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
    fn values<'a>(&'a self, section: &str, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.section(section)
            .unwrap_or(&[])
            .iter()
            .filter(move |e| {
                e.key
                    .as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case(key))
            })
            .map(|e| e.value.as_str())
    }
    fn value<'a>(&'a self, section: &str, key: &'a str) -> Option<&'a str> {
        self.values(section, key).next()
    }
    fn strings(&self) -> BTreeMap<String, String> {
        self.section("Strings")
            .unwrap_or(&[])
            .iter()
            .filter_map(|e| {
                Some((
                    e.key.as_ref()?.to_ascii_lowercase(),
                    unquote(&e.value).to_string(),
                ))
            })
            .collect()
    }
    /// Expands `%key%` from [Strings].
    fn expand(&self, value: &str) -> String {
        let strings = self.strings();
        let parts: Vec<&str> = value.split('%').collect();
        let mut out = String::new();
        for (i, part) in parts.iter().enumerate() {
            if i % 2 == 1 {
                match strings.get(&part.to_ascii_lowercase()) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('%');
                        out.push_str(part);
                        out.push('%');
                    }
                }
            } else {
                out.push_str(part);
            }
        }
        out
    }
}

const STAMPINF_PLACEHOLDERS: &[&str] = &["WINDOWS NT", "ARCH", "KMDFVERSION"];

fn is_guid(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
        return false;
    };
    let groups: Vec<&str> = inner.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn lint(bytes: &[u8], want: &Expected) -> Problems {
    let mut problems = Problems::new();
    let text = match decode(bytes) {
        Ok(text) => text,
        Err(e) => return vec![(Check::Encoding, e)],
    };
    let inf = parse(&text, &mut problems);
    let mut bad = |check, msg: String| problems.push((check, msg));

    for name in [
        "Version",
        "DestinationDirs",
        "SourceDisksNames",
        "SourceDisksFiles",
        "Manufacturer",
        "Strings",
    ] {
        if inf.section(name).is_none() {
            bad(Check::Sections, format!("missing [{name}]"));
        }
    }

    // Placeholders: `$…$` only the ones stampinf fills; `%…%` resolve.
    let strings = inf.strings();
    for (n, raw) in text.lines().enumerate() {
        let line = strip_comment(raw);
        let dollars: Vec<&str> = line.split('$').collect();
        if dollars.len().is_multiple_of(2) {
            bad(
                Check::Placeholders,
                format!("line {}: unbalanced '$'", n + 1),
            );
        } else {
            for token in dollars.iter().skip(1).step_by(2) {
                if !STAMPINF_PLACEHOLDERS.contains(token) {
                    bad(
                        Check::Placeholders,
                        format!("line {}: unknown placeholder ${token}$", n + 1),
                    );
                }
            }
        }
        let percents: Vec<&str> = line.split('%').collect();
        if percents.len().is_multiple_of(2) {
            bad(
                Check::Placeholders,
                format!("line {}: unbalanced '%'", n + 1),
            );
        } else {
            for token in percents.iter().skip(1).step_by(2) {
                let dirid = !token.is_empty() && token.chars().all(|c| c.is_ascii_digit());
                if !dirid && !strings.contains_key(&token.to_ascii_lowercase()) {
                    bad(
                        Check::Placeholders,
                        format!("line {}: %{token}% is not in [Strings]", n + 1),
                    );
                }
            }
        }
    }

    // [Version]
    match inf.value("Version", "Signature") {
        Some(v) if unquote(v).eq_ignore_ascii_case("$WINDOWS NT$") => {}
        other => bad(
            Check::Version,
            format!("Signature must be \"$WINDOWS NT$\", found {other:?}"),
        ),
    }
    let class = inf.value("Version", "Class").unwrap_or("");
    if class.is_empty() || class.eq_ignore_ascii_case("Sample") {
        bad(
            Check::Version,
            format!("Class must be a real setup class, found {class:?}"),
        );
    }
    match inf.value("Version", "ClassGuid") {
        Some(g) if is_guid(g) => {
            const SYSTEM: &str = "{4d36e97d-e325-11ce-bfc1-08002be10318}";
            if class.eq_ignore_ascii_case("System") && !g.eq_ignore_ascii_case(SYSTEM) {
                bad(
                    Check::Version,
                    format!("Class System needs ClassGuid {SYSTEM}, found {g}"),
                );
            }
        }
        other => bad(
            Check::Version,
            format!("ClassGuid must be a {{GUID}}, found {other:?}"),
        ),
    }
    if inf.value("Version", "Provider").is_none() {
        bad(Check::Version, "missing Provider".into());
    }
    if inf.value("Version", "PnpLockDown") != Some("1") {
        bad(Check::Version, "PnpLockDown must be 1".into());
    }
    for stamped in ["DriverVer", "CatalogFile"] {
        if inf.value("Version", stamped).is_some() {
            bad(
                Check::Version,
                format!("{stamped} is written by stampinf; remove it"),
            );
        }
    }

    if inf.value("DestinationDirs", "DefaultDestDir") != Some("13") {
        bad(
            Check::DestinationDirs,
            "DefaultDestDir must be 13 (run from the driver store)".into(),
        );
    }

    // [Manufacturer] → models section(s) → the hardware id → install section.
    let mut install: Option<String> = None;
    let manufacturers: Vec<&Entry> = inf.section("Manufacturer").unwrap_or(&[]).iter().collect();
    if manufacturers.is_empty() {
        bad(Check::Models, "no manufacturer entry".into());
    }
    for entry in manufacturers {
        let fields = split_unquoted(&entry.value, ',');
        let (models, decorations) = (&fields[0], &fields[1..]);
        if decorations.is_empty() || !decorations.iter().all(|d| d.starts_with("NT$ARCH$")) {
            bad(
                Check::Models,
                format!("line {}: models must be decorated NT$ARCH$…", entry.line),
            );
        }
        for decoration in decorations {
            let name = format!("{models}.{decoration}");
            let Some(lines) = inf.section(&name) else {
                bad(Check::Models, format!("missing models section [{name}]"));
                continue;
            };
            let ids: Vec<(String, String)> = lines
                .iter()
                .map(|e| {
                    let f = split_unquoted(&e.value, ',');
                    (f[0].clone(), f.get(1).cloned().unwrap_or_default())
                })
                .collect();
            match ids
                .iter()
                .find(|(_, id)| id.eq_ignore_ascii_case(&want.hardware_id))
            {
                Some((section, _)) => install = Some(section.clone()),
                None => bad(
                    Check::Models,
                    format!("[{name}] does not list hardware id {}", want.hardware_id),
                ),
            }
            if ids
                .iter()
                .any(|(_, id)| !id.eq_ignore_ascii_case(&want.hardware_id))
            {
                bad(
                    Check::Models,
                    format!(
                        "[{name}] lists a hardware id other than {}",
                        want.hardware_id
                    ),
                );
            }
        }
    }
    let Some(install) = install else {
        return problems;
    };
    let ddinstall = format!("{install}.NT");
    let binary = format!("{}.sys", want.service);

    // Files: the binary is a source file and is copied by the install section.
    if !inf
        .section("SourceDisksFiles")
        .unwrap_or(&[])
        .iter()
        .any(|e| {
            e.key
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case(&binary))
        })
    {
        bad(
            Check::Files,
            format!("[SourceDisksFiles] does not list {binary}"),
        );
    }
    let copied = inf
        .values(&ddinstall, "CopyFiles")
        .flat_map(|v| split_unquoted(v, ','))
        .any(|s| {
            inf.section(&s)
                .unwrap_or(&[])
                .iter()
                .any(|e| e.key.is_none() && e.value.eq_ignore_ascii_case(&binary))
        });
    if inf.section(&ddinstall).is_none() || !copied {
        bad(
            Check::Files,
            format!("[{ddinstall}] does not copy {binary}"),
        );
    }

    // Service: named like the driver package, demand start, kernel driver.
    let services = format!("{ddinstall}.Services");
    match inf
        .value(&services, "AddService")
        .map(|v| split_unquoted(v, ','))
    {
        Some(f) if f.len() >= 3 => {
            if !f[0].eq_ignore_ascii_case(&want.service) {
                bad(
                    Check::Service,
                    format!("AddService names {}, not {}", f[0], want.service),
                );
            }
            if !inf.expand(&f[1]).eq_ignore_ascii_case("0x00000002") {
                bad(
                    Check::Service,
                    "AddService flags must be SPSVCINST_ASSOCSERVICE (0x00000002)".into(),
                );
            }
            let inst = &f[2];
            for (key, want_value) in [
                ("ServiceType", "1"),
                ("StartType", "3"),
                ("ErrorControl", "1"),
            ] {
                if inf.value(inst, key) != Some(want_value) {
                    bad(
                        Check::Service,
                        format!("[{inst}] {key} must be {want_value}"),
                    );
                }
            }
            let expect_binary = format!("%13%\\{binary}");
            if !inf
                .value(inst, "ServiceBinary")
                .is_some_and(|v| v.eq_ignore_ascii_case(&expect_binary))
            {
                bad(
                    Check::Service,
                    format!("[{inst}] ServiceBinary must be {expect_binary}"),
                );
            }
        }
        other => bad(
            Check::Service,
            format!("[{services}] AddService = name, flags, section; found {other:?}"),
        ),
    }

    // KMDF: the .Wdf section names the service and declares the version.
    let wdf = format!("{ddinstall}.Wdf");
    match inf
        .value(&wdf, "KmdfService")
        .map(|v| split_unquoted(v, ','))
    {
        Some(f) if f.len() == 2 => {
            if !f[0].eq_ignore_ascii_case(&want.service) {
                bad(
                    Check::Wdf,
                    format!("KmdfService names {}, not {}", f[0], want.service),
                );
            }
            if inf.value(&f[1], "KmdfLibraryVersion") != Some("$KMDFVERSION$") {
                bad(
                    Check::Wdf,
                    format!("[{}] KmdfLibraryVersion must be $KMDFVERSION$", f[1]),
                );
            }
        }
        other => bad(
            Check::Wdf,
            format!("[{wdf}] KmdfService = service, section; found {other:?}"),
        ),
    }

    // Security: the device's SDDL is the control device's.
    let hw = format!("{ddinstall}.HW");
    let addreg: Vec<String> = inf
        .values(&hw, "AddReg")
        .flat_map(|v| split_unquoted(v, ','))
        .collect();
    let regs: Vec<Vec<String>> = addreg
        .iter()
        .flat_map(|s| inf.section(s).unwrap_or(&[]))
        .map(|e| split_unquoted(&e.value, ','))
        .collect();
    let named = |name: &str| {
        regs.iter()
            .find(|f| {
                f.len() >= 5 && f[0].eq_ignore_ascii_case("HKR") && f[2].eq_ignore_ascii_case(name)
            })
            .map(|f| unquote(&f[4]).to_string())
    };
    match named("Security") {
        Some(sddl) if sddl == want.sddl => {}
        other => bad(
            Check::Security,
            format!(
                "HKR,,Security must be {:?} (device.rs), found {other:?}",
                want.sddl
            ),
        ),
    }
    if named("DeviceCharacteristics").as_deref() != Some("0x100") {
        bad(
            Check::Security,
            "HKR,,DeviceCharacteristics must be 0x100 (FILE_DEVICE_SECURE_OPEN)".into(),
        );
    }
    problems
}

fn original() -> Vec<u8> {
    read("inf/ndcm.inx")
}

/// The real file with `from` replaced by `to` (which must occur).
fn broken(from: &str, to: &str) -> Vec<u8> {
    // A Windows checkout may have CRLF line ends; the patterns use LF.
    let text = String::from_utf8(original())
        .expect("the INX is UTF-8")
        .replace("\r\n", "\n");
    assert!(
        text.contains(from),
        "the INX no longer contains {from:?}; update this test"
    );
    text.replacen(from, to, 1).into_bytes()
}

fn assert_fails(bytes: &[u8], check: Check) {
    let problems = lint(bytes, &expected());
    assert!(
        problems.iter().any(|(c, _)| *c == check),
        "expected a {check:?} problem, got {problems:?}"
    );
}

#[test]
fn the_inx_passes_every_check() {
    let problems = lint(&original(), &expected());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn expectations_come_from_the_driver_sources() {
    let want = expected();
    assert_eq!(want.service, "ndcm");
    assert_eq!(want.hardware_id, "root\\ndcm");
    assert!(want.sddl.starts_with("D:P"), "{}", want.sddl);
}

#[test]
fn the_install_instructions_use_the_same_hardware_id() {
    let readme = String::from_utf8(read("driver/README-windows.md")).expect("UTF-8");
    let want = expected();
    assert!(
        readme.contains(&format!("devgen /add /hardwareid {}", want.hardware_id)),
        "README-windows.md must create the device with hardware id {}",
        want.hardware_id
    );
    assert!(readme.contains(&format!(
        "pnputil /add-driver {}.inf /install",
        want.service
    )));
}

#[test]
fn utf16le_with_bom_is_readable() {
    let text = String::from_utf8(original()).unwrap();
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let problems = lint(&bytes, &expected());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn undecodable_bytes_fail() {
    let mut bytes = original();
    bytes.extend_from_slice(&[0xC3, 0x28]);
    assert_fails(&bytes, Check::Encoding);
    let mut odd = vec![0xFF, 0xFE];
    odd.extend(b"[Version]\r\n".iter().flat_map(|&b| [b, 0]));
    odd.push(0x41);
    assert_fails(&odd, Check::Encoding);
    assert_fails(&broken("[Version]", "[Version]\u{1}"), Check::Encoding);
}

#[test]
fn a_missing_section_fails() {
    assert_fails(&broken("[Strings]", "[NotStrings]"), Check::Sections);
    assert_fails(
        &broken("[SourceDisksNames]", "[SourceDiskNames]"),
        Check::Sections,
    );
}

#[test]
fn version_keys_are_checked() {
    assert_fails(
        &broken("Class       = System", "Class       = Sample"),
        Check::Version,
    );
    assert_fails(
        &broken(
            "{4d36e97d-e325-11ce-bfc1-08002be10318}",
            "{4d36e97d-e325-11ce-bfc1}",
        ),
        Check::Version,
    );
    assert_fails(
        &broken(
            "{4d36e97d-e325-11ce-bfc1-08002be10318}",
            "{78A1C341-4539-11d3-B88D-00C04FAD5171}",
        ),
        Check::Version,
    );
    assert_fails(
        &broken("PnpLockDown = 1", "PnpLockDown = 0"),
        Check::Version,
    );
    assert_fails(
        &broken(
            "PnpLockDown = 1",
            "PnpLockDown = 1\nDriverVer = 01/01/2026,1.0.0.0",
        ),
        Check::Version,
    );
    assert_fails(
        &broken(
            "Signature   = \"$WINDOWS NT$\"",
            "Signature   = \"$Chicago$\"",
        ),
        Check::Version,
    );
}

#[test]
fn destination_must_be_the_driver_store() {
    assert_fails(
        &broken("DefaultDestDir = 13", "DefaultDestDir = 12"),
        Check::DestinationDirs,
    );
}

#[test]
fn malformed_placeholders_fail() {
    assert_fails(
        &broken(
            "Standard, NT$ARCH$.10.0...16299",
            "Standard, NT$ARCH.10.0...16299",
        ),
        Check::Placeholders,
    );
    assert_fails(
        &broken(
            "KmdfLibraryVersion = $KMDFVERSION$",
            "KmdfLibraryVersion = $KMDF_VERSION$",
        ),
        Check::Placeholders,
    );
    assert_fails(
        &broken(
            "%ndcm.DeviceDesc% = ndcm_Device",
            "%ndcm.DeviceDescription% = ndcm_Device",
        ),
        Check::Placeholders,
    );
    assert_fails(
        &broken(
            "%ManufacturerName% = Standard",
            "%ManufacturerName = Standard",
        ),
        Check::Placeholders,
    );
}

#[test]
fn the_hardware_id_must_be_the_drivers() {
    assert_fails(
        &broken("ndcm_Device, root\\ndcm", "ndcm_Device, root\\ndcm2"),
        Check::Models,
    );
    assert_fails(
        &broken(
            "Standard, NT$ARCH$.10.0...16299",
            "Standard, NTamd64.10.0...16299",
        ),
        Check::Models,
    );
}

#[test]
fn files_are_named_after_the_driver() {
    assert_fails(
        &broken("ndcm.sys = 1,,", "ndcm_driver.sys = 1,,"),
        Check::Files,
    );
    assert_fails(
        &broken("[ndcm_CopyFiles]\nndcm.sys", "[ndcm_CopyFiles]\nother.sys"),
        Check::Files,
    );
}

#[test]
fn the_service_is_checked() {
    assert_fails(
        &broken("AddService = ndcm,", "AddService = ndcm2,"),
        Check::Service,
    );
    assert_fails(
        &broken("StartType     = 3", "StartType     = 2"),
        Check::Service,
    );
    assert_fails(
        &broken(
            "ServiceBinary = %13%\\ndcm.sys",
            "ServiceBinary = %12%\\ndcm.sys",
        ),
        Check::Service,
    );
    assert_fails(
        &broken(
            "SPSVCINST_ASSOCSERVICE = 0x00000002",
            "SPSVCINST_ASSOCSERVICE = 0x00000000",
        ),
        Check::Service,
    );
}

#[test]
fn the_wdf_section_is_required() {
    assert_fails(
        &broken("[ndcm_Device.NT.Wdf]", "[ndcm_Device.NT.NotWdf]"),
        Check::Wdf,
    );
    assert_fails(
        &broken(
            "KmdfLibraryVersion = $KMDFVERSION$",
            "KmdfLibraryVersion = 1.33",
        ),
        Check::Wdf,
    );
    assert_fails(
        &broken("KmdfService = ndcm,", "KmdfService = other,"),
        Check::Wdf,
    );
}

#[test]
fn the_driver_secures_its_device_with_ndcm_ndis_sddl() {
    let sources = driver_sources();
    let bad = driver_sddl_problems(&sources);
    assert!(bad.is_empty(), "{bad:#?}");
    // A driver that restates or drops the SDDL is caught.
    let mut own = sources.clone();
    own.push((
        "own.rs".into(),
        "pub const NDCM_DEVICE_SDDL: &str = \"D:P(A;;GA;;;WD)\";".into(),
    ));
    assert_eq!(
        driver_sddl_problems(&own).len(),
        2,
        "{:?}",
        driver_sddl_problems(&own)
    );
    let unsecured: Vec<(String, String)> = sources
        .iter()
        .map(|(f, s)| {
            (
                f.clone(),
                s.replace("unicode(&NDCM_DEVICE_SDDL_UTF16)", "unicode(&[])"),
            )
        })
        .collect();
    assert!(!driver_sddl_problems(&unsecured).is_empty());
    let unimported: Vec<(String, String)> = sources
        .iter()
        .map(|(f, s)| {
            (
                f.clone(),
                s.replace("ndcm_ndi::abi::device::", "crate::names::"),
            )
        })
        .collect();
    assert!(!driver_sddl_problems(&unimported).is_empty());
}

#[test]
fn device_security_must_match_the_driver_sddl() {
    assert_fails(
        &broken("(A;;GRGW;;;AU)\"", "(A;;GA;;;WD)\""),
        Check::Security,
    );
    assert_fails(
        &broken("HKR,,DeviceCharacteristics,0x10001,0x100", ""),
        Check::Security,
    );
    assert_fails(
        &broken("AddReg = ndcm_Security_AddReg", "AddReg = nothing"),
        Check::Security,
    );
}

// ---------------------------------------------------------------------------
// The package metadata stampinf and wdk-build read (driver/Cargo.toml and
// friends): a mistake there breaks only the Windows build, so it is checked
// here too.

/// `[section] key = value` lines of a simple TOML file (no inline tables
/// spanning lines), values as written.
fn toml_entries(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split(" #").next().unwrap_or("").trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
        } else if let Some((key, value)) = line.split_once('=') {
            out.push((
                section.clone(),
                key.trim().to_string(),
                value.trim().to_string(),
            ));
        }
    }
    out
}

struct DriverPackage {
    cargo_toml: String,
    build_rs: String,
    cargo_config: String,
    root_toml: String,
}

fn driver_package() -> DriverPackage {
    let text = |p: &str| String::from_utf8(read(p)).expect("UTF-8");
    DriverPackage {
        cargo_toml: text("driver/Cargo.toml"),
        build_rs: text("driver/build.rs"),
        cargo_config: text("driver/.cargo/config.toml"),
        root_toml: text("Cargo.toml"),
    }
}

fn lint_package(p: &DriverPackage) -> Vec<String> {
    let mut bad = Vec::new();
    let entries = toml_entries(&p.cargo_toml);
    let get = |section: &str, key: &str| {
        entries
            .iter()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.as_str())
    };
    let model = "package.metadata.wdk.driver-model";
    if get(model, "driver-type") != Some("\"KMDF\"") {
        bad.push("driver-type must be \"KMDF\"".to_string());
    }
    if get(model, "kmdf-version-major") != Some("1") {
        bad.push("kmdf-version-major must be 1".to_string());
    }
    if !matches!(get(model, "target-kmdf-version-minor"), Some("33" | "31")) {
        bad.push("target-kmdf-version-minor must be 33 (or 31 for Windows 10)".to_string());
    }
    if get("lib", "crate-type") != Some("[\"cdylib\"]") {
        bad.push("crate-type must be [\"cdylib\"]".to_string());
    }
    if !entries.iter().any(|(s, _, _)| s == "workspace") && !p.cargo_toml.contains("\n[workspace]")
    {
        bad.push("driver/ must be its own workspace".to_string());
    }
    let root_excludes = toml_entries(&p.root_toml)
        .iter()
        .any(|(s, k, v)| s == "workspace" && k == "exclude" && v.contains("\"driver\""));
    if !root_excludes {
        bad.push("the root workspace must exclude driver/".to_string());
    }
    // Exactly the wdk crates from a registry, at compatible versions; the
    // rest are path dependencies on the portable crates.
    let wanted = [
        ("wdk", "\"0.5."),
        ("wdk-sys", "\"0.5."),
        ("wdk-alloc", "\"0.4."),
        ("wdk-panic", "\"0.5."),
    ];
    let deps: Vec<&(String, String, String)> = entries
        .iter()
        .filter(|(s, _, _)| s == "dependencies")
        .collect();
    for (name, version) in wanted {
        if !deps
            .iter()
            .any(|(_, k, v)| k == name && v.starts_with(version))
        {
            bad.push(format!("dependency {name} {version}x missing"));
        }
    }
    for (_, k, v) in &deps {
        let is_wdk = wanted.iter().any(|(n, _)| n == k);
        let is_portable = k.starts_with("ndcm-") && v.contains("path");
        if !(is_wdk || is_portable) {
            bad.push(format!("unexpected dependency {k} = {v}"));
        }
    }
    if get("build-dependencies", "wdk-build").is_none_or(|v| !v.starts_with("\"0.6.")) {
        bad.push(
            "build-dependency wdk-build 0.6.x (the one wdk-sys 0.5.2 uses) missing".to_string(),
        );
    }
    for profile in ["profile.dev", "profile.release"] {
        if get(profile, "panic") != Some("\"abort\"") {
            bad.push(format!("[{profile}] panic must be \"abort\""));
        }
    }
    if get("profile.release", "lto") != Some("true") {
        bad.push("[profile.release] lto must be true".to_string());
    }
    if !p
        .build_rs
        .contains("wdk_build::configure_wdk_binary_build()")
    {
        bad.push("build.rs must call wdk_build::configure_wdk_binary_build()".to_string());
    }
    if !p.cargo_config.contains("target-feature=+crt-static") {
        bad.push(".cargo/config.toml must set -C target-feature=+crt-static".to_string());
    }
    bad
}

#[test]
fn the_driver_package_is_a_kmdf_cdylib_on_the_wdk_crates() {
    let bad = lint_package(&driver_package());
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn a_broken_driver_package_fails() {
    let cases: [(&str, &str, &str); 9] = [
        ("cargo", "driver-type = \"KMDF\"", "driver-type = \"WDM\""),
        (
            "cargo",
            "target-kmdf-version-minor = 33",
            "target-kmdf-version-minor = 35",
        ),
        (
            "cargo",
            "crate-type = [\"cdylib\"]",
            "crate-type = [\"rlib\"]",
        ),
        ("cargo", "wdk-sys = \"0.5.2\"", "wdk-sys = \"0.4.0\""),
        ("cargo", "wdk-build = \"0.6.0\"", "wdk-build = \"0.5.1\""),
        ("cargo", "lto = true", "lto = false"),
        ("cargo", "[dependencies]", "[dependencies]\npaste = \"1\""),
        ("build", "wdk_build::configure_wdk_binary_build()", "Ok(())"),
        (
            "config",
            "target-feature=+crt-static",
            "target-feature=-crt-static",
        ),
    ];
    for (file, from, to) in cases {
        let mut p = driver_package();
        let text = match file {
            "cargo" => &mut p.cargo_toml,
            "build" => &mut p.build_rs,
            _ => &mut p.cargo_config,
        };
        *text = text.replace("\r\n", "\n");
        assert!(
            text.contains(from),
            "{file} no longer contains {from:?}; update this test"
        );
        *text = text.replacen(from, to, 1);
        assert!(
            !lint_package(&p).is_empty(),
            "not caught: {from:?} -> {to:?}"
        );
    }
    let mut p = driver_package();
    p.root_toml = p.root_toml.replace("\"driver\"", "\"other\"");
    assert!(
        !lint_package(&p).is_empty(),
        "a root workspace that does not exclude driver/ passes"
    );
}

/// The ACEs of an `IoCreateDeviceSecure`-style SDDL: (rights, trustee).
fn aces(sddl: &str) -> Vec<(String, String)> {
    sddl.strip_prefix("D:P")
        .expect("a protected DACL")
        .split(['(', ')'])
        .filter(|s| !s.is_empty())
        .map(|ace| {
            let f: Vec<&str> = ace.split(';').collect();
            assert_eq!(f.len(), 6, "{ace}");
            assert_eq!(f[0], "A", "allow ACEs only: {ace}");
            (f[2].to_string(), f[5].to_string())
        })
        .collect()
}

/// docs/NDI-agent.md §5: the device DACL (the INF's and the driver's, which
/// the lint above proves equal) lets authenticated users open the device
/// for read and write only — ND applications — and gives all access to
/// SYSTEM and Administrators alone; the agent IOCTLs additionally need an
/// administrator's or SYSTEM's token, checked at create.
#[test]
fn the_sddl_admits_only_system_and_administrators_beyond_read_write() {
    let got = aces(NDCM_DEVICE_SDDL);
    assert_eq!(
        got,
        [
            ("GA".to_string(), "SY".to_string()),
            ("GA".to_string(), "BA".to_string()),
            ("GRGW".to_string(), "AU".to_string()),
        ]
    );
    for (rights, who) in &got {
        if rights != "GRGW" {
            assert!(["SY", "BA"].contains(&who.as_str()), "{who} gets {rights}");
        }
    }
    let inf = decode(&original()).expect("the INX decodes");
    assert!(
        inf.contains(&format!("HKR,,Security,,\"{NDCM_DEVICE_SDDL}\"")),
        "the INF repeats the driver's SDDL"
    );
}
