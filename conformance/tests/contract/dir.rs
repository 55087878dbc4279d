//! DIR: directory listings cost the host no memory outside the skill's
//! limits (they are streamed), and a name that is not UTF-8 never fails or
//! hides a listing.

use std::fs;

use serde_json::json;

use super::*;

const WORKSPACE: &str = "files = [{ guest = \"/w\", host = \"{workspace}\", access = \"read\" }]\n";

#[cfg(unix)]
/// DIR-001: A folder holding a file name that is not UTF-8 still lists: that name is skipped and counted in the audit log, every other entry is listed.
#[test]
fn dir_001_a_name_that_is_not_utf8_never_fails_a_listing() {
    use std::os::unix::ffi::OsStrExt;
    let host = Host::new();
    let skill = host.load(&escape_package(WORKSPACE));
    let workspace = tempfile::tempdir().expect("workspace");
    for name in ["a.md", "b.md"] {
        fs::write(workspace.path().join(name), "x").expect("write");
    }
    fs::write(
        workspace
            .path()
            .join(std::ffi::OsStr::from_bytes(b"bad-\xff\xfe.md")),
        "x",
    )
    .expect("write");
    let outcome = attempt(
        &skill,
        "list",
        json!({"path": "/w"}),
        Some(workspace.path()),
    );
    assert_eq!(ok_value(&outcome), json!(["a.md", "b.md"]));
    assert!(
        outcome.audit.iter().any(|e| e.target.starts_with("/w")
            && e.reason.contains("skipped 1 names that are not UTF-8")),
        "{:?}",
        outcome.audit
    );
    // Positive control: without the odd name nothing is reported skipped.
    fs::remove_file(
        workspace
            .path()
            .join(std::ffi::OsStr::from_bytes(b"bad-\xff\xfe.md")),
    )
    .expect("remove");
    let outcome = attempt(
        &skill,
        "list",
        json!({"path": "/w"}),
        Some(workspace.path()),
    );
    assert_eq!(ok_value(&outcome), json!(["a.md", "b.md"]));
    assert!(!outcome.audit.iter().any(|e| e.reason.contains("skipped")));
}

/// DIR-002: Listing a folder of 50,000 entries is streamed: every entry reaches the skill and the host heap grows by a small fraction of what the entries would take held at once.
#[test]
fn dir_002_listing_a_huge_folder_is_streamed() {
    const ENTRIES: u64 = 50_000;
    // Held at once, as wasmtime-wasi's own read-directory does, each entry is
    // at least its name (199 bytes) and a 32-byte record: over 11 MB here.
    // The heap counters are the whole process's, so the listing is measured
    // in a process that runs this case alone (see `heap::alone`): other
    // cases' allocations can neither add to the peak nor, by freeing, hide
    // part of it.
    let grown = heap::alone("dir::dir_002_listing_a_huge_folder_is_streamed", || {
        let host = Host::new();
        let skill = host.load(&escape_package(WORKSPACE));
        let workspace = tempfile::tempdir().expect("workspace");
        let padding = "n".repeat(190);
        for n in 0..ENTRIES {
            fs::File::create(workspace.path().join(format!("{n:08}-{padding}"))).expect("create");
        }
        let before = heap::start();
        let outcome = attempt(
            &skill,
            "count-entries",
            json!({"dir": "/w"}),
            Some(workspace.path()),
        );
        let grown = heap::grown_since(before);
        assert_eq!(ok_value(&outcome), json!(ENTRIES));
        grown
    });
    assert!(
        grown < 6 << 20,
        "listing {ENTRIES} entries grew the host heap by {grown} bytes"
    );
}
