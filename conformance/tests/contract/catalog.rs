//! The catalogue: `conformance/CONFORMANCE.md` lists every case with its ID
//! and promise, generated from the doc comments of the cases themselves.
//! This test fails when the file is out of date; `BLESS=1` rewrites it.

use std::path::Path;

/// Every `/// ID-NNN: promise` doc comment directly above a `#[test]`.
fn cases() -> Vec<(String, String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contract");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("contract folder")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read case file");
        let module = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_owned();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(doc) = line.trim().strip_prefix("/// ") else {
                continue;
            };
            let Some((id, promise)) = doc.split_once(": ") else {
                continue;
            };
            // A prefix is capitals, digits allowed after the first (P1, P3).
            let is_id = id.split_once('-').is_some_and(|(p, n)| {
                p.starts_with(|c: char| c.is_ascii_uppercase())
                    && p.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                    && n.len() == 3
                    && n.chars().all(|c| c.is_ascii_digit())
            });
            if is_id && lines.get(i + 1).is_some_and(|l| l.trim() == "#[test]") {
                cases.push((id.to_owned(), promise.to_owned(), module.clone()));
            }
        }
    }
    cases.sort();
    cases
}

#[test]
fn catalog_lists_every_case_and_is_current() {
    let cases = cases();
    let ids: std::collections::BTreeSet<_> = cases.iter().map(|c| c.0.clone()).collect();
    assert_eq!(ids.len(), cases.len(), "a case ID is used twice");
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let mut doc = String::from(
        "# Conformance: the sandbox's security contract\n\n\
         Generated from `conformance/tests/contract/` by `catalog.rs` (`BLESS=1 cargo test -p conformance` rewrites it).\n\
         Each case attempts what its promise rules out, with a real guest component, and asserts both the\n\
         outcome and the world outside the sandbox (host files, servers, canary values, host memory).\n\
         The suite runs in CI on every change and a change whose suite fails does not land, so every case\n\
         below passes on the commit that contains this file.\n\n",
    );
    doc.push_str(&format!(
        "{} cases.\n\n| ID | promise | result | file |\n|---|---|---|---|\n",
        cases.len()
    ));
    for (id, promise, module) in &cases {
        doc.push_str(&format!(
            "| {id} | {} | pass | `{module}.rs` |\n",
            promise.replace('|', "\\|")
        ));
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("CONFORMANCE.md");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &doc).expect("write CONFORMANCE.md");
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == doc,
        "conformance/CONFORMANCE.md is out of date: run BLESS=1 cargo test -p conformance"
    );
}
