//! The safety index (`docs/SAFETY.md`) names, for each of S1–S8 and each
//! defect of the 2009 review that ndcm closes, the tests that prove it, as
//! `path::function` in backticks with `path` relative to the repository
//! root. This test fails when one of them no longer exists: the file is
//! gone, or it no longer defines `fn function(` (or `fn function<`).

use std::path::{Path, PathBuf};

/// Fewer names than this means the parser, not the index, is broken.
const AT_LEAST: usize = 15;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Every `path.rs::name` written in backticks, once each, in order of
/// first appearance.
fn named_tests(index: &str) -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = Vec::new();
    for entry in index.split('`').skip(1).step_by(2).filter_map(|span| {
        let (path, name) = span.split_once(".rs::")?;
        let is_ident = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        let is_path = !path.is_empty() && !path.contains(char::is_whitespace);
        (is_ident && is_path).then(|| (format!("{path}.rs"), name.to_string()))
    }) {
        if !names.contains(&entry) {
            names.push(entry);
        }
    }
    names
}

/// Why `path::name` is not a test that exists, if it is not.
fn missing(root: &Path, path: &str, name: &str) -> Option<String> {
    let text = match std::fs::read_to_string(root.join(path)) {
        Ok(t) => t,
        Err(e) => return Some(format!("`{path}::{name}`: {path} unreadable ({e})")),
    };
    let defined = [format!("fn {name}("), format!("fn {name}<")]
        .iter()
        .any(|d| text.contains(d.as_str()));
    (!defined).then(|| format!("`{path}::{name}`: no `fn {name}(` in {path}"))
}

#[test]
fn every_test_the_safety_index_names_exists() {
    let root = repo_root();
    let index_path = root.join("docs/SAFETY.md");
    let index = std::fs::read_to_string(&index_path)
        .unwrap_or_else(|e| panic!("{}: {e}", index_path.display()));

    let names = named_tests(&index);
    assert!(
        names.len() >= AT_LEAST,
        "only {} `path.rs::name` entries found in docs/SAFETY.md (expected at least {AT_LEAST}): \
         the parser or the index is broken",
        names.len()
    );

    let absent: Vec<String> = names
        .iter()
        .filter_map(|(path, name)| missing(&root, path, name))
        .collect();
    assert!(
        absent.is_empty(),
        "docs/SAFETY.md names {} test(s) that no longer exist:\n{}",
        absent.len(),
        absent.join("\n")
    );

    let properties: Vec<String> = (1..=8)
        .map(|i| format!("| S{i} "))
        .filter(|row| !index.contains(row.as_str()))
        .collect();
    assert!(
        properties.is_empty(),
        "docs/SAFETY.md has no table row for {properties:?}"
    );
}

#[test]
fn the_parser_finds_backticked_test_names_and_nothing_else() {
    let text = "a `crates/x/src/y.rs::some_test` b `not a test` \
                `tests/tests/z.rs::other<br>` `Stats::is_quiescent` \
                `tests/tests/w.rs::third_1` `crates/x/src/y.rs::some_test`";
    assert_eq!(
        named_tests(text),
        [
            ("crates/x/src/y.rs".to_string(), "some_test".to_string()),
            ("tests/tests/w.rs".to_string(), "third_1".to_string()),
        ]
    );
}
