//! The part of `inspect` and `check` about the files a package ships beside
//! SKILL.md: its scripts, binaries and archives, and what the scripts would
//! reach. It renders `Package::scripts()` (the inspect document's `scripts`).

use serde_json::Value;
use skill_runtime::package::scripts::{ScriptReport, VENDOR_DIR, code, is_vendored};

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Whether the package ships any executable file.
pub fn ships_files(doc: &Value) -> bool {
    doc["scripts"]["files"]
        .as_array()
        .is_some_and(|f| !f.is_empty())
}

/// Whether a finding of the inspect document came from the script scanner.
pub fn is_script_finding(f: &Value) -> bool {
    // Package-level findings stay in the main list: they belong to no listed file.
    let package_level = [code::UNCONFINED, code::WALK_TRUNCATED, code::CACHE_SKIPPED];
    code::ALL.contains(&text(&f["code"])) && !package_level.contains(&text(&f["code"]))
}

fn kind(file: &Value) -> String {
    match text(&file["kind"]) {
        "script" => {
            let language = match &file["language"] {
                Value::String(s) => s.clone(),
                Value::Object(o) => o
                    .get("other")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned(),
                _ => "?".into(),
            };
            format!("{language} script, by {}", text(&file["detected_by"]))
        }
        "binary" => format!("{} binary", text(&file["format"])),
        "archive" => format!("{} archive", text(&file["format"])),
        "wasm" => "WebAssembly".into(),
        other => other.to_owned(),
    }
}

/// Prints the scripts section of `inspect`: the runtime a script skill
/// asks for, then each file, what it would reach and its findings.
pub fn render(doc: &Value) {
    match (
        doc["component"]["runtime"].as_str(),
        doc["component"]["available"] == false,
    ) {
        (Some("python"), false) => say!(
            "Script skill: runtime = \"python\": `skill-run run PKG scripts/NAME.py [-- ARG...]` runs its Python scripts in the sandboxed Python runner, the package read-only at {}, with only the grants above.",
            skill_runtime::script_runtime::PACKAGE_GUEST_PATH
        ),
        (Some(runtime), _) => say!(
            "Script skill: runtime = \"{runtime}\", which `skill-run run` cannot run here: {}",
            doc["component"]["error"]
                .as_str()
                .unwrap_or("that runtime is not available yet")
        ),
        (None, _) => {}
    }
    let Some(files) = doc["scripts"]["files"].as_array().filter(|f| !f.is_empty()) else {
        return;
    };
    let findings = doc["scripts"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if doc["scripts"]["confined"] == true {
        say!(
            "Files it ships that can run (confined: the Python runner runs them with the grants above):"
        );
    } else {
        say!(
            "Files it ships that can run (NOT confined by this runtime; an agent runs them with your rights):"
        );
    }
    let (vendored, authored): (Vec<&Value>, Vec<&Value>) =
        files.iter().partition(|f| is_vendored(text(&f["path"])));
    for file in authored {
        let path = text(&file["path"]);
        say!("  {path} ({}, {} bytes)", kind(file), file["bytes"]);
        let reaches = &file["reaches"];
        let list = |key: &str| {
            reaches[key]
                .as_array()
                .map(|a| a.iter().map(|v| text(v).to_owned()).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let mut lines = Vec::new();
        if reaches["starts_processes"] == true {
            let p = list("programs");
            lines.push(if p.is_empty() {
                "starts other programs".into()
            } else {
                format!("starts other programs: {}", p.join(", "))
            });
        }
        let hosts = list("hosts");
        if reaches["network"] == true || !hosts.is_empty() {
            let verb = if reaches["network"] == true {
                "uses the network"
            } else {
                "names hosts"
            };
            lines.push(if hosts.is_empty() {
                verb.into()
            } else {
                format!("{verb}: {}", hosts.join(", "))
            });
        }
        let secrets: Vec<String> = list("secrets")
            .into_iter()
            .map(|s| {
                if s == "*" {
                    "the whole environment".into()
                } else {
                    s
                }
            })
            .collect();
        if !secrets.is_empty() {
            lines.push(format!(
                "reads secrets from the environment: {}",
                secrets.join(", ")
            ));
        }
        for (key, words) in [
            ("env", "reads environment variables"),
            ("paths_outside", "names paths outside the package"),
            ("third_party", "imports third-party packages"),
        ] {
            let items = list(key);
            if !items.is_empty() {
                lines.push(format!("{words}: {}", items.join(", ")));
            }
        }
        for (key, words) in [
            ("writes_files", "writes, moves or deletes files"),
            (
                "installs_packages",
                "installs packages or downloads code at run time",
            ),
            ("dynamic_code", "runs code built at run time"),
        ] {
            if reaches[key] == true {
                lines.push(words.into());
            }
        }
        for line in lines {
            say!("    - {line}");
        }
        if file["scanned"] == true {
            match file["sandbox_blockers"]
                .as_array()
                .filter(|b| !b.is_empty())
            {
                None => say!("    in a sandbox: nothing found that a grant could not give"),
                Some(blockers) => {
                    for b in blockers {
                        say!("    in a sandbox it would fail: {}", text(b));
                    }
                }
            }
        }
        for f in findings
            .iter()
            .filter(|f| text(&f["file"]) == path && f["code"] != code::UNCONFINED)
        {
            let at = f["line"]
                .as_u64()
                .map(|l| format!("{path}:{l}: "))
                .unwrap_or_default();
            say!(
                "      {} [{}] {at}{}",
                text(&f["severity"]),
                text(&f["code"]),
                text(&f["message"])
            );
        }
    }
    render_vendored(&vendored);
}

/// The libraries under `vendor/`, summed up rather than listed file by
/// file (`--json` lists each): how many files, and how many of them start
/// programs or use the network, so nothing they do is hidden.
fn render_vendored(files: &[&Value]) {
    if files.is_empty() {
        return;
    }
    let count = |key: &str| files.iter().filter(|f| f["reaches"][key] == true).count();
    say!(
        "  {VENDOR_DIR}/: {} files of libraries the skill ships (`skill-run vendor`), each scanned; `inspect --json` lists every one and what it reaches",
        files.len()
    );
    for (n, one, many) in [
        (
            count("starts_processes"),
            "starts other programs",
            "start other programs",
        ),
        (count("network"), "uses the network", "use the network"),
        (
            count("writes_files"),
            "writes, moves or deletes files",
            "write, move or delete files",
        ),
        (
            count("installs_packages"),
            "installs packages at run time",
            "install packages at run time",
        ),
    ] {
        match n {
            0 => {}
            1 => say!("    - 1 of them {one}"),
            n => say!("    - {n} of them {many}"),
        }
    }
}

/// The note `check` prints after its verdict when the package ships scripts or binaries.
pub fn check_note(report: &ScriptReport) {
    let Some(statement) = &report.statement else {
        return;
    };
    let names: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    let shown = names.iter().take(6).copied().collect::<Vec<_>>().join(", ");
    let more = names.len().saturating_sub(6);
    say!("warning: {statement}");
    say!(
        "  files: {shown}{}; `skill-run inspect` lists what each would reach",
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    );
}
