//! The finding every script scanner reports: the same shape as the SKILL.md
//! lint's (`code`, `severity`, `message`, `file`, `line`, `column`), plus the
//! thing it is about (`subject`: a host, an environment name, a path, a
//! package), so reports and `skill-run init` read facts, not messages.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::package::Severity;

/// The most findings kept for one file; the rest are counted in one
/// `script-findings-truncated` finding.
pub const MAX_FINDINGS_PER_FILE: usize = 200;

/// Stable finding codes of the script scanner.
pub mod code {
    /// The package ships scripts and nothing confines them.
    pub const UNCONFINED: &str = "unconfined-scripts";
    /// A script starts other programs (subprocess, os.system, child_process, backticks).
    pub const RUNS_PROCESS: &str = "script-runs-process";
    /// A script uses the network (an HTTP client, sockets, curl).
    pub const NETWORK: &str = "script-network";
    /// A script names a host in a URL.
    pub const HOST: &str = "script-host";
    /// A script reads an environment variable.
    pub const READS_ENV: &str = "script-reads-env";
    /// A script reads an environment variable that looks like a secret, or the whole environment.
    pub const READS_SECRET: &str = "script-reads-secret";
    /// A script sends credentials in a request header (`Authorization: Bearer …`).
    pub const AUTH_HEADER: &str = "script-sends-credentials";
    /// A script names a path outside the package (home folder, absolute, temp).
    pub const PATH_OUTSIDE: &str = "script-path-outside";
    /// A script names a credential store (`~/.ssh`, `.aws/credentials`, ...).
    pub const SENSITIVE_PATH: &str = "script-sensitive-path";
    /// A script writes, moves or deletes files.
    pub const WRITES_FILES: &str = "script-writes-files";
    /// A script installs packages or code at run time (pip/npm install, curl | sh).
    pub const INSTALLS: &str = "script-installs-packages";
    /// A script imports a package that is neither the language's standard library nor in the package.
    pub const THIRD_PARTY: &str = "script-third-party-import";
    /// A script evaluates code built at run time (eval, exec, new Function).
    pub const DYNAMIC_CODE: &str = "script-dynamic-code";
    /// A script was listed but not read (too large, not text, no scanner for its language).
    pub const NOT_SCANNED: &str = "script-not-scanned";
    /// More findings than [`MAX_FINDINGS_PER_FILE`](super::MAX_FINDINGS_PER_FILE) in one file.
    pub const TRUNCATED: &str = "script-findings-truncated";
    /// A native executable or library (ELF, Mach-O, PE).
    pub const BINARY: &str = "bundled-binary";
    /// An archive, whose contents are not inspected.
    pub const ARCHIVE: &str = "bundled-archive";
    /// A WebAssembly file that skill.toml does not name as the component.
    pub const STRAY_WASM: &str = "bundled-wasm";
    /// The package walk stopped at a limit; files past it are not listed.
    pub const WALK_TRUNCATED: &str = "package-walk-truncated";
    /// A folder tagged as a cache (`CACHEDIR.TAG`, e.g. cargo's `target/`) is not listed.
    pub const CACHE_SKIPPED: &str = "package-cache-skipped";

    /// Every code, for documentation and tests.
    pub const ALL: &[&str] = &[
        UNCONFINED,
        RUNS_PROCESS,
        NETWORK,
        HOST,
        READS_ENV,
        READS_SECRET,
        AUTH_HEADER,
        PATH_OUTSIDE,
        SENSITIVE_PATH,
        WRITES_FILES,
        INSTALLS,
        THIRD_PARTY,
        DYNAMIC_CODE,
        NOT_SCANNED,
        TRUNCATED,
        BINARY,
        ARCHIVE,
        STRAY_WASM,
        WALK_TRUNCATED,
        CACHE_SKIPPED,
    ];
}

/// One finding about a file the package ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptFinding {
    /// Stable identifier, one of [`code::ALL`].
    pub code: &'static str,
    /// How serious it is.
    pub severity: Severity,
    /// The file, relative to the package folder, `/`-separated.
    pub file: String,
    /// 1-based line, when the finding is about one line.
    pub line: Option<usize>,
    /// 1-based column (in characters), when the finding is about one line.
    pub column: Option<usize>,
    /// What was found, in words.
    pub message: String,
    /// What it is about: a host, an environment name, a path, a module, a program.
    pub subject: Option<String>,
}

/// Collects one file's findings: one per (code, subject) for facts such as
/// hosts and names, one per (code, line) for uses, at most
/// [`MAX_FINDINGS_PER_FILE`].
#[derive(Debug)]
pub(crate) struct Collector {
    file: String,
    findings: Vec<ScriptFinding>,
    seen: BTreeSet<(&'static str, String)>,
    dropped: usize,
}

impl Collector {
    pub(crate) fn new(file: &str) -> Collector {
        Collector {
            file: file.to_owned(),
            findings: Vec::new(),
            seen: BTreeSet::new(),
            dropped: 0,
        }
    }

    /// Adds a finding about a fact (`subject`), once per file: its first line.
    pub(crate) fn fact(
        &mut self,
        code: &'static str,
        severity: Severity,
        at: (usize, usize),
        subject: &str,
        message: String,
    ) {
        if self.seen.insert((code, subject.to_owned())) {
            self.push(code, severity, at, Some(subject.to_owned()), message);
        }
    }

    /// Adds a finding about a use on one line, once per (code, line).
    pub(crate) fn use_at(
        &mut self,
        code: &'static str,
        severity: Severity,
        at: (usize, usize),
        subject: Option<&str>,
        message: String,
    ) {
        if self.seen.insert((code, format!("line {}", at.0))) {
            self.push(code, severity, at, subject.map(str::to_owned), message);
        }
    }

    fn push(
        &mut self,
        code: &'static str,
        severity: Severity,
        (line, column): (usize, usize),
        subject: Option<String>,
        message: String,
    ) {
        if self.findings.len() >= MAX_FINDINGS_PER_FILE {
            self.dropped += 1;
            return;
        }
        self.findings.push(ScriptFinding {
            code,
            severity,
            file: self.file.clone(),
            line: Some(line),
            column: Some(column),
            message,
            subject,
        });
    }

    pub(crate) fn finish(mut self) -> Vec<ScriptFinding> {
        if self.dropped > 0 {
            self.findings.push(ScriptFinding {
                code: code::TRUNCATED,
                severity: Severity::Warning,
                file: self.file.clone(),
                line: None,
                column: None,
                message: format!(
                    "{} more findings in this file were not listed (at most {MAX_FINDINGS_PER_FILE} per file)",
                    self.dropped
                ),
                subject: None,
            });
        }
        self.findings
    }
}
