//! The executable files a package ships beside SKILL.md: scripts (by
//! extension and shebang), native binaries, WebAssembly files and archives.
//! Agents run such scripts with the user's full rights when the
//! instructions say so, so a report that lists only the component would be
//! false comfort. Each script is scanned statically for what it would
//! reach; scans are linear (one `regex` pass per line) and bounded (file
//! count, depth, bytes per script, bytes in all); what is too large or not
//! text is reported, not parsed.

pub mod classify;
mod common;
pub mod findings;
mod javascript;
pub mod proposal;
mod python;
mod shell;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use classify::{FileKind, Language};
pub use common::{is_placeholder_host, looks_secret};
pub use findings::{ScriptFinding, code};

use super::{Instructions, Package, ScriptRuntime, Severity};
use findings::Collector;

/// The most files the walk looks at.
pub const MAX_FILES: usize = 10_000;
/// The most files and folders the walk reads from folders, listed or not.
pub const MAX_ENTRIES: usize = 5 * MAX_FILES;
/// The deepest folder the walk enters.
pub const MAX_DEPTH: usize = 32;
/// The largest script that is scanned, in bytes; larger ones are listed.
pub const MAX_SCRIPT_BYTES: u64 = 1024 * 1024;
/// The most bytes scanned in one package.
pub const MAX_TOTAL_BYTES: u64 = 32 * 1024 * 1024;

/// What the scripts in a package can reach, summed up from its findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reach {
    /// It starts other programs.
    pub starts_processes: bool,
    /// The programs it names, where the scan saw a literal name.
    pub programs: Vec<String>,
    /// It uses the network.
    pub network: bool,
    /// Origins (`https://host[:port]`) named in URLs.
    pub hosts: Vec<String>,
    /// Environment variables read that do not look like secrets.
    pub env: Vec<String>,
    /// Environment variables read that look like secrets; `*` for the whole environment.
    pub secrets: Vec<String>,
    /// Paths outside the package: `~` (home), `{temp}`, absolute paths, credential stores.
    pub paths_outside: Vec<String>,
    /// It writes, moves or deletes files.
    pub writes_files: bool,
    /// It installs packages or downloads code at run time.
    pub installs_packages: bool,
    /// Packages imported from outside the standard library and the package.
    pub third_party: Vec<String>,
    /// It runs code built at run time.
    pub dynamic_code: bool,
}

impl Reach {
    /// Sums up findings.
    pub fn from_findings<'a>(findings: impl IntoIterator<Item = &'a ScriptFinding>) -> Reach {
        let mut sets: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let mut reach = Reach::default();
        for f in findings {
            match f.code {
                code::RUNS_PROCESS => reach.starts_processes = true,
                code::NETWORK => reach.network = true,
                code::WRITES_FILES => reach.writes_files = true,
                code::INSTALLS => reach.installs_packages = true,
                code::DYNAMIC_CODE => reach.dynamic_code = true,
                _ => {}
            }
            if let Some(subject) = &f.subject {
                let key = match f.code {
                    code::SENSITIVE_PATH => code::PATH_OUTSIDE,
                    other => other,
                };
                sets.entry(key).or_default().insert(subject.clone());
            }
        }
        let mut take = |code: &str| sets.remove(code).unwrap_or_default().into_iter().collect();
        reach.programs = take(code::RUNS_PROCESS);
        reach.hosts = take(code::HOST);
        reach.env = take(code::READS_ENV);
        reach.secrets = take(code::READS_SECRET);
        reach.paths_outside = take(code::PATH_OUTSIDE);
        reach.third_party = take(code::THIRD_PARTY);
        reach
    }

    /// Why a script with this reach could not run unchanged in a sandbox:
    /// what no grant gives (processes, paths outside the package, packages
    /// from outside it), each with the lines of `findings` (the file's own)
    /// that show it. Empty when it needs only the standard library, granted
    /// files, HTTP and environment names.
    pub fn sandbox_blockers(&self, findings: &[&ScriptFinding]) -> Vec<String> {
        let at = |codes: &[&str]| -> String {
            at_lines(
                findings
                    .iter()
                    .filter(|f| codes.contains(&f.code))
                    .filter_map(|f| f.line),
            )
        };
        let mut out = Vec::new();
        if self.starts_processes {
            let lines = at(&[code::RUNS_PROCESS]);
            out.push(if self.programs.is_empty() {
                format!("starts other programs{lines}: a sandbox has no processes")
            } else {
                format!(
                    "starts other programs ({}){lines}: a sandbox has no processes",
                    self.programs.join(", ")
                )
            });
        }
        if self.installs_packages {
            out.push(format!(
                "installs packages at run time{}",
                at(&[code::INSTALLS])
            ));
        }
        let (native, vendorable): (Vec<&String>, Vec<&String>) = self
            .third_party
            .iter()
            .partition(|name| native_only(name).is_some());
        if !vendorable.is_empty() {
            out.push(format!(
                "imports {}{}, which must ship inside the package to be importable",
                join(&vendorable),
                at_subjects(findings, &vendorable)
            ));
        }
        for name in native {
            let why = native_only(name).unwrap_or_default();
            out.push(format!(
                "imports {name}{}: {why}, only native code, which cannot run in the sandbox's WebAssembly CPython (`skill-run vendor` refuses it)",
                at_subjects(findings, &[name])
            ));
        }
        if !self.paths_outside.is_empty() {
            out.push(format!(
                "reaches paths outside the package ({}){}: only granted folders exist in a sandbox",
                self.paths_outside.join(", "),
                at(&[code::PATH_OUTSIDE, code::SENSITIVE_PATH])
            ));
        }
        out
    }

    /// The reach in words, one line per kind, for reports.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.starts_processes {
            lines.push(if self.programs.is_empty() {
                "starts other programs".to_owned()
            } else {
                format!("starts other programs: {}", self.programs.join(", "))
            });
        }
        if self.network || !self.hosts.is_empty() {
            let uses = if self.network {
                "uses the network"
            } else {
                "names hosts"
            };
            lines.push(if self.hosts.is_empty() {
                uses.to_owned()
            } else {
                format!("{uses}: {}", self.hosts.join(", "))
            });
        }
        if !self.secrets.is_empty() {
            let names: Vec<&str> = self
                .secrets
                .iter()
                .map(|s| if s == "*" { "the whole environment" } else { s })
                .collect();
            lines.push(format!(
                "reads secrets from the environment: {}",
                names.join(", ")
            ));
        }
        if !self.env.is_empty() {
            lines.push(format!(
                "reads environment variables: {}",
                self.env.join(", ")
            ));
        }
        if !self.paths_outside.is_empty() {
            lines.push(format!(
                "names paths outside the package: {}",
                self.paths_outside.join(", ")
            ));
        }
        if self.writes_files {
            lines.push("writes, moves or deletes files".to_owned());
        }
        if self.installs_packages {
            lines.push("installs packages or downloads code at run time".to_owned());
        }
        if self.dynamic_code {
            lines.push("runs code built at run time".to_owned());
        }
        if !self.third_party.is_empty() {
            lines.push(format!(
                "imports third-party packages: {}",
                self.third_party.join(", ")
            ));
        }
        lines
    }
}

/// Import names that no `vendor` can make importable in the sandbox:
/// (import name, its PyPI distribution, the distribution in its
/// requirements that publishes no pure-Python wheel, often itself).
/// Checked with `pip download --only-binary=:all: --platform any
/// --implementation py --python-version 3.14` on 2026-12-02 (`mcp` and
/// the current `anthropic` need pydantic 2, which pins pydantic-core).
const NATIVE_ONLY: &[(&str, &str, &str)] = &[
    ("anthropic", "anthropic", "pydantic-core"),
    ("cryptography", "cryptography", "cryptography"),
    ("cv2", "opencv-python", "opencv-python"),
    ("lxml", "lxml", "lxml"),
    ("matplotlib", "matplotlib", "matplotlib"),
    ("mcp", "mcp", "pydantic-core"),
    ("numpy", "numpy", "numpy"),
    ("orjson", "orjson", "orjson"),
    ("pandas", "pandas", "pandas"),
    ("PIL", "Pillow", "Pillow"),
    ("psutil", "psutil", "psutil"),
    ("psycopg2", "psycopg2", "psycopg2"),
    ("pydantic", "pydantic", "pydantic-core"),
    ("scipy", "scipy", "scipy"),
    ("torch", "torch", "torch"),
    ("yaml", "PyYAML", "PyYAML"),
];

/// Why `import name` cannot be vendored, when it is a known native one:
/// `PyYAML publishes no pure-Python wheel` or `mcp needs pydantic-core,
/// which publishes no pure-Python wheel`.
fn native_only(name: &str) -> Option<String> {
    NATIVE_ONLY
        .iter()
        .find(|(module, _, _)| *module == name)
        .map(|(_, distribution, native)| {
            if distribution == native {
                format!("{distribution} publishes no pure-Python wheel")
            } else {
                format!("{distribution} needs {native}, which publishes no pure-Python wheel")
            }
        })
}

/// `a, b and c`.
fn join(names: &[&String]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).clone(),
        [rest @ .., last] => format!(
            "{} and {last}",
            rest.iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The lines of `findings` that import one of `names`, as [`at_lines`] says them.
fn at_subjects(findings: &[&ScriptFinding], names: &[&String]) -> String {
    at_lines(
        findings
            .iter()
            .filter(|f| f.code == code::THIRD_PARTY)
            .filter(|f| f.subject.as_ref().is_some_and(|s| names.contains(&s)))
            .filter_map(|f| f.line),
    )
}

/// ` at line N`, ` at lines A, B, C` or ` at lines A, B, C and N more`
/// (nothing for no line), each line once, in order.
fn at_lines(lines: impl Iterator<Item = usize>) -> String {
    let lines: BTreeSet<usize> = lines.collect();
    let shown: Vec<String> = lines.iter().take(3).map(usize::to_string).collect();
    match lines.len() {
        0 => String::new(),
        1 => format!(" at line {}", shown[0]),
        n if n <= 3 => format!(" at lines {}", shown.join(", ")),
        n => format!(" at lines {} and {} more", shown.join(", "), n - 3),
    }
}

/// One executable file the package ships (scripts, binaries, WebAssembly, archives).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShippedFile {
    /// Relative to the package folder, `/`-separated.
    pub path: String,
    /// What it is.
    #[serde(flatten)]
    pub kind: FileKind,
    /// Its size.
    pub bytes: u64,
    /// Whether its Unix executable bit is set.
    pub executable_bit: bool,
    /// Whether its text was scanned (false: too large, not text, no scanner for its language).
    pub scanned: bool,
    /// What it would reach, from its findings.
    pub reaches: Reach,
    /// For a scanned script: why it could not run unchanged in a sandbox
    /// ([`Reach::sandbox_blockers`]); empty when nothing found stands in the way.
    pub sandbox_blockers: Vec<String>,
}

/// Every executable file in a package and what the scripts would reach.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScriptReport {
    /// Scripts, binaries, WebAssembly files and archives, sorted by path.
    pub files: Vec<ShippedFile>,
    /// Findings about them, by file then line.
    pub findings: Vec<ScriptFinding>,
    /// Whether everything the package ships that can run is confined: `true`
    /// for a `runtime = "python"` skill that ships only Python scripts, which
    /// run in the sandboxed runner.
    pub confined: bool,
    /// The plain statement for the top of a capability summary, when the
    /// package ships scripts or binaries that nothing confines.
    pub statement: Option<String>,
    /// What SKILL.md's shell and Python code blocks would reach: the agent
    /// runs those too. Kept apart from `findings` (the SKILL.md lint reports
    /// on the instructions); `skill-run init` reads both.
    pub instructions: Vec<ScriptFinding>,
}

impl ScriptReport {
    /// The scripts only.
    pub fn scripts(&self) -> impl Iterator<Item = &ShippedFile> {
        self.files
            .iter()
            .filter(|f| matches!(f.kind, FileKind::Script { .. }))
    }

    /// The scripts the skill's author wrote: every script but the
    /// libraries `skill-run vendor` installed under [`VENDOR_DIR`].
    pub fn authored_scripts(&self) -> impl Iterator<Item = &ShippedFile> {
        self.scripts().filter(|f| !is_vendored(&f.path))
    }

    /// What all scripts together would reach.
    pub fn reach(&self) -> Reach {
        Reach::from_findings(&self.findings)
    }
}

/// What the language scanners need to know about the package.
#[derive(Debug, Default)]
pub(crate) struct ScanContext {
    /// Python module names the package itself provides (file stems and folders with `.py` files).
    pub(crate) local_modules: BTreeSet<String>,
}

struct Entry {
    relative: String,
    path: PathBuf,
    bytes: u64,
    executable_bit: bool,
}

#[cfg(unix)]
fn executable_bit(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable_bit(_meta: &fs::Metadata) -> bool {
    false
}

/// The first bytes of a `CACHEDIR.TAG` (the Cache Directory Tagging
/// Specification), which cargo writes into `target/`.
const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

fn is_tagged_cache(dir: &Path) -> bool {
    let tag = dir.join("CACHEDIR.TAG");
    fs::symlink_metadata(&tag).is_ok_and(|m| m.is_file())
        && head(&tag).starts_with(CACHEDIR_SIGNATURE)
}

/// Lists regular files under `root` (symlinks are not followed; `.git` and
/// folders tagged as caches are skipped, the latter listed in `caches`),
/// sorted, within [`MAX_FILES`] and [`MAX_DEPTH`].
fn walk(root: &Path, truncated: &mut Option<String>, caches: &mut Vec<String>) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    let mut visited = 0usize;
    'walk: while let Some((dir, prefix, depth)) = stack.pop() {
        let Ok(read) = fs::read_dir(&dir) else {
            continue;
        };
        // Bounded before sorting: a folder with a million entries costs at most MAX_ENTRIES.
        let mut children: Vec<_> = read
            .filter_map(Result::ok)
            .take(MAX_ENTRIES.saturating_sub(visited) + 1)
            .collect();
        visited += children.len();
        if visited > MAX_ENTRIES {
            *truncated = Some(format!("more than {MAX_ENTRIES} files and folders"));
            break 'walk;
        }
        children.sort_by_key(|e| e.file_name());
        for child in children.into_iter().rev() {
            let name = child.file_name().to_string_lossy().into_owned();
            let relative = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let Ok(meta) = fs::symlink_metadata(child.path()) else {
                continue;
            };
            if meta.is_dir() {
                if name == ".git" {
                    continue;
                }
                if is_tagged_cache(&child.path()) {
                    caches.push(relative);
                    continue;
                }
                if depth + 1 > MAX_DEPTH {
                    *truncated = Some(format!("{relative}: deeper than {MAX_DEPTH} folders"));
                    continue;
                }
                stack.push((child.path(), relative, depth + 1));
            } else if meta.is_file() {
                if entries.len() >= MAX_FILES {
                    *truncated = Some(format!("more than {MAX_FILES} files"));
                    break 'walk;
                }
                entries.push(Entry {
                    relative,
                    path: child.path(),
                    bytes: meta.len(),
                    executable_bit: executable_bit(&meta),
                });
            }
        }
    }
    entries.sort_by(|a, b| a.relative.cmp(&b.relative));
    entries
}

fn head(path: &Path) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Ok(file) = fs::File::open(path) {
        let _ = file.take(classify::HEAD_BYTES as u64).read_to_end(&mut buf);
    }
    buf
}

fn read_text(path: &Path, limit: u64) -> Result<String, String> {
    let file = fs::File::open(path).map_err(|e| format!("cannot be read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("over {limit} bytes"));
    }
    if bytes.contains(&0) {
        return Err("holds NUL bytes: not text".into());
    }
    String::from_utf8(bytes).map_err(|_| "not valid UTF-8".into())
}

fn not_scanned(file: &str, why: String) -> ScriptFinding {
    ScriptFinding {
        code: code::NOT_SCANNED,
        severity: Severity::Warning,
        file: file.to_owned(),
        line: None,
        column: None,
        message: why,
        subject: None,
    }
}

fn file_finding(
    code: &'static str,
    severity: Severity,
    file: &str,
    message: String,
) -> ScriptFinding {
    ScriptFinding {
        code,
        severity,
        file: file.to_owned(),
        line: None,
        column: None,
        message,
        subject: None,
    }
}

/// The folder, inside a package, that `skill-run vendor` installs a
/// script skill's pure-Python requirements into (`/skill/vendor` on the
/// sandbox's `sys.path`).
pub const VENDOR_DIR: &str = "vendor";

/// Whether the package-relative `path` is inside [`VENDOR_DIR`]: a library
/// the skill ships, scanned and reported like any script, but not what its
/// author's scripts are for, so `init` proposes nothing from it.
pub fn is_vendored(path: &str) -> bool {
    path.strip_prefix(VENDOR_DIR)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Scans the package folder `root`. `component` is the file skill.toml
/// names (not a stray binary); `runtime` is its `[skill].runtime`, if any.
pub fn scan(
    root: &Path,
    component: Option<&Path>,
    runtime: Option<ScriptRuntime>,
    instructions: &Instructions,
) -> ScriptReport {
    let mut truncated = None;
    let mut caches = Vec::new();
    let entries = walk(root, &mut truncated, &mut caches);
    let component = component.map(|p| {
        p.to_string_lossy()
            .trim_start_matches("./")
            .replace('\\', "/")
    });
    let mut ctx = ScanContext::default();
    for e in &entries {
        if let Some(stem) = e.relative.strip_suffix(".py") {
            let mut parts: Vec<&str> = stem.split('/').collect();
            if let Some(last) = parts.pop() {
                ctx.local_modules.insert(last.to_owned());
            }
            ctx.local_modules
                .extend(parts.into_iter().map(str::to_owned));
        }
    }
    let mut report = ScriptReport::default();
    let mut budget = MAX_TOTAL_BYTES;
    let mut local_imports: Vec<(String, Vec<python::LocalImport>)> = Vec::new();
    for e in entries {
        let kind = classify::classify(&e.relative, &head(&e.path), e.executable_bit);
        let mut findings = Vec::new();
        let mut scanned = false;
        match &kind {
            FileKind::Data => continue,
            // The component is confined, and described by the component part of a report.
            FileKind::Wasm if component.as_deref() == Some(e.relative.as_str()) => continue,
            FileKind::Wasm => findings.push(file_finding(
                code::STRAY_WASM,
                Severity::Info,
                &e.relative,
                "a WebAssembly file that skill.toml does not name as the component: this runtime does not run it".into(),
            )),
            FileKind::Binary { format } => findings.push(file_finding(
                code::BINARY,
                Severity::Warning,
                &e.relative,
                format!("a native {format} binary ({} bytes): it cannot be inspected here, and if anything runs it, it runs with the user's full rights", e.bytes),
            )),
            FileKind::Archive { format } => findings.push(file_finding(
                code::ARCHIVE,
                Severity::Warning,
                &e.relative,
                format!("a {format} archive ({} bytes): its contents are not inspected", e.bytes),
            )),
            FileKind::Script { language, .. } => {
                let scanner = matches!(
                    language,
                    Language::Python | Language::Javascript | Language::Typescript | Language::Shell
                );
                if !scanner {
                    findings.push(not_scanned(
                        &e.relative,
                        format!("a {} script: listed, not scanned (no scanner for {} yet)", language.name(), language.name()),
                    ));
                } else if e.bytes > MAX_SCRIPT_BYTES.min(budget) {
                    findings.push(not_scanned(
                        &e.relative,
                        format!("a {} script of {} bytes: listed, not scanned (the scan reads at most {} bytes per script, {MAX_TOTAL_BYTES} per package)", language.name(), e.bytes, MAX_SCRIPT_BYTES),
                    ));
                } else {
                    match read_text(&e.path, MAX_SCRIPT_BYTES) {
                        Err(why) => findings.push(not_scanned(
                            &e.relative,
                            format!("a {} script that {why}: listed, not scanned", language.name()),
                        )),
                        Ok(text) => {
                            budget = budget.saturating_sub(text.len() as u64);
                            scanned = true;
                            let mut c = Collector::new(&e.relative);
                            match language {
                                Language::Python => {
                                    let imports = python::scan(&text, &ctx, &mut c);
                                    if !imports.is_empty() {
                                        local_imports.push((e.relative.clone(), imports));
                                    }
                                }
                                Language::Shell => shell::scan(&text, &mut c),
                                _ => javascript::scan(&text, &mut c),
                            }
                            findings.extend(c.finish());
                        }
                    }
                }
            }
        }
        report.files.push(ShippedFile {
            path: e.relative,
            kind,
            bytes: e.bytes,
            executable_bit: e.executable_bit,
            scanned,
            reaches: Reach::from_findings(&findings),
            sandbox_blockers: Vec::new(),
        });
        report.findings.extend(findings);
    }
    reach_through_local_modules(&mut report, &local_imports);
    for cache in caches {
        report.findings.push(file_finding(
            code::CACHE_SKIPPED,
            Severity::Info,
            &cache,
            format!("{cache}/ is tagged as a cache (CACHEDIR.TAG, e.g. cargo's build output) and is not listed; if this package came from someone else, remove it or look inside"),
        ));
    }
    for file in &mut report.files {
        if file.scanned {
            let own: Vec<&ScriptFinding> = report
                .findings
                .iter()
                .filter(|f| f.file == file.path)
                .collect();
            file.sandbox_blockers = file.reaches.sandbox_blockers(&own);
        }
    }
    if let Some(why) = truncated {
        report.findings.push(file_finding(
            code::WALK_TRUNCATED,
            Severity::Warning,
            ".",
            format!("the package walk stopped ({why}): files past that point are not listed"),
        ));
    }
    report.instructions = scan_instructions(instructions, &ctx);
    report.statement = statement(&report, runtime);
    report.confined = report.statement.is_none() && runtime == Some(ScriptRuntime::Python);
    if let Some(statement) = &report.statement {
        let first = report
            .files
            .iter()
            .find(|f| !matches!(f.kind, FileKind::Wasm))
            .map_or(".", |f| f.path.as_str())
            .to_owned();
        report.findings.insert(
            0,
            file_finding(
                code::UNCONFINED,
                Severity::Warning,
                &first,
                statement.clone(),
            ),
        );
    }
    report
}

/// A Python script that imports one of the package's own modules which
/// uses the network or starts programs does so too (`from github_utils
/// import github_request`): one finding at the import, and its reach
/// updated; one that imports a third-party package needs it too. One
/// level deep, as the scan does not follow calls.
fn reach_through_local_modules(
    report: &mut ScriptReport,
    local_imports: &[(String, Vec<python::LocalImport>)],
) {
    let files_with = |wanted: &str| -> BTreeSet<String> {
        report
            .findings
            .iter()
            .filter(|f| f.code == wanted)
            .map(|f| f.file.clone())
            .collect()
    };
    let kinds = [
        (code::NETWORK, files_with(code::NETWORK), "uses the network"),
        (
            code::RUNS_PROCESS,
            files_with(code::RUNS_PROCESS),
            "starts other programs",
        ),
    ];
    // The third-party packages each file imports itself.
    let mut third_party: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &report.findings {
        if f.code == code::THIRD_PARTY
            && let Some(subject) = &f.subject
        {
            third_party
                .entry(f.file.clone())
                .or_default()
                .insert(subject.clone());
        }
    }
    let mut added = Vec::new();
    for (file, imports) in local_imports {
        for (module, line, column) in imports {
            let last = module.rsplit('.').next().unwrap_or(module);
            let full = format!("{}.py", module.replace('.', "/"));
            let is_target = |path: &String| {
                path != file
                    && (path.ends_with(&full)
                        || path
                            .strip_suffix(".py")
                            .is_some_and(|stem| stem.rsplit('/').next() == Some(last)))
            };
            // `from scripts.quick_validate import validate_skill` where
            // that module imports yaml: this script needs yaml too.
            if let Some((target, names)) = third_party.iter().find(|(path, _)| is_target(path)) {
                for name in names {
                    added.push(ScriptFinding {
                        code: code::THIRD_PARTY,
                        severity: Severity::Info,
                        file: file.clone(),
                        line: Some(*line),
                        column: Some(*column),
                        message: format!(
                            "imports `{name}` through the package's own `{module}` ({target}), which is neither the standard library nor in the package"
                        ),
                        subject: Some(name.clone()),
                    });
                }
            }
            for (code, files, what) in &kinds {
                let target = files.iter().find(|path| is_target(path));
                if let Some(target) = target {
                    added.push(ScriptFinding {
                        code,
                        severity: Severity::Warning,
                        file: file.clone(),
                        line: Some(*line),
                        column: Some(*column),
                        message: format!("{what} through the package's own `{module}` ({target})"),
                        subject: None,
                    });
                }
            }
        }
    }
    if added.is_empty() {
        return;
    }
    report.findings.extend(added);
    report
        .findings
        .sort_by(|a, b| (a.file.as_str(), a.line).cmp(&(b.file.as_str(), b.line)));
    let mut by_file: BTreeMap<&str, Vec<&ScriptFinding>> = BTreeMap::new();
    for f in &report.findings {
        by_file.entry(f.file.as_str()).or_default().push(f);
    }
    for file in &mut report.files {
        file.reaches = Reach::from_findings(
            by_file
                .get(file.path.as_str())
                .into_iter()
                .flatten()
                .copied(),
        );
    }
}

/// Scans SKILL.md's shell and Python code blocks: an agent that follows
/// the instructions runs them. Line numbers are SKILL.md's.
fn scan_instructions(instructions: &Instructions, ctx: &ScanContext) -> Vec<ScriptFinding> {
    let mut out = Vec::new();
    // A variable set in one block (`VIEWER_PID=$!`) is read in a later one.
    let mut assigned = BTreeSet::new();
    for block in &instructions.body.code_blocks {
        if shell::is_shell_block(block.language.as_deref()) {
            assigned.extend(shell::assigned_names(&block.code));
        }
    }
    for block in &instructions.body.code_blocks {
        let mut c = Collector::new("SKILL.md");
        let language = block.language.as_deref();
        if shell::is_shell_block(language) {
            shell::scan_with(&block.code, &assigned, &mut c);
        } else if matches!(
            language.map(str::to_ascii_lowercase).as_deref(),
            Some("python" | "py" | "python3")
        ) {
            let _ = python::scan(&block.code, ctx, &mut c);
        } else {
            continue;
        }
        // A fenced block's code starts on the line after the fence.
        let offset = block.line;
        out.extend(c.finish().into_iter().map(|mut f| {
            f.line = f.line.map(|l| l + offset);
            f
        }));
    }
    out
}

fn statement(report: &ScriptReport, runtime: Option<ScriptRuntime>) -> Option<String> {
    let mut languages: BTreeMap<&str, usize> = BTreeMap::new();
    let mut confined = 0;
    for f in report.scripts() {
        if let FileKind::Script { language, .. } = &f.kind {
            // `runtime = "python"` runs the package's Python scripts in the
            // sandboxed runner, with the manifest's grants.
            if runtime == Some(ScriptRuntime::Python) && *language == Language::Python {
                confined += 1;
                continue;
            }
            *languages.entry(language.name()).or_default() += 1;
        }
    }
    let binaries = report
        .files
        .iter()
        .filter(|f| matches!(f.kind, FileKind::Binary { .. }))
        .count();
    let scripts: usize = languages.values().sum();
    if scripts == 0 && binaries == 0 {
        return None;
    }
    let mut parts = Vec::new();
    if scripts > 0 {
        let by_language: Vec<String> = languages.iter().map(|(l, n)| format!("{n} {l}")).collect();
        parts.push(format!(
            "{scripts} script{} ({})",
            if scripts == 1 { "" } else { "s" },
            by_language.join(", ")
        ));
    }
    if binaries > 0 {
        parts.push(format!(
            "{binaries} native binar{}",
            if binaries == 1 { "y" } else { "ies" }
        ));
    }
    let them = if scripts + binaries == 1 {
        "it"
    } else {
        "them"
    };
    let mut text = format!(
        "NOT CONFINED: this skill ships {} that this runtime does not confine. An agent that runs {them} (as the instructions may tell it to) runs {them} with your full rights: your files, network, other programs and the secrets in your environment. The capabilities this report lists for the skill do not limit {them}.",
        parts.join(" and ")
    );
    match runtime {
        Some(ScriptRuntime::Python) => text.push_str(&format!(
            " Its {confined} Python script{} run{} confined, in the python script runtime with the grants below.",
            if confined == 1 { "" } else { "s" },
            if confined == 1 { "s" } else { "" },
        )),
        Some(runtime) => text.push_str(&format!(
            " skill.toml asks for runtime = \"{runtime}\", which is not available yet in this version of skill-run (only \"python\" is)."
        )),
        None => {}
    }
    Some(text)
}

impl Package {
    /// Every executable file the package ships, and what its scripts would
    /// reach (see [`scan`]).
    pub fn scripts(&self) -> ScriptReport {
        let (component, runtime) = match &self.manifest {
            None => (None, None),
            Some(m) => match &m.executable {
                super::Executable::Component(path) => (Some(path.as_path()), None),
                super::Executable::Script(runtime) => (None, Some(*runtime)),
            },
        };
        scan(&self.root, component, runtime, &self.instructions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_reaches_what_the_package_modules_it_imports_reach() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("scripts")).expect("scripts");
        std::fs::write(
            dir.path().join("scripts/net.py"),
            "import urllib.request\ndef get(u):\n    return urllib.request.urlopen(u)\n",
        )
        .expect("net.py");
        std::fs::write(
            dir.path().join("scripts/cli.py"),
            "import sys\nfrom net import get\nprint(get(sys.argv[1]))\n",
        )
        .expect("cli.py");
        std::fs::write(
            dir.path().join("scripts/pure.py"),
            "import json\nprint(json.dumps(1))\n",
        )
        .expect("pure.py");
        let instructions = crate::package::instructions::parse_bytes(b"---\nname: x\n---\n");
        let report = scan(dir.path(), None, None, &instructions);
        let file = |p: &str| report.files.iter().find(|f| f.path == p).expect("listed");
        assert!(file("scripts/cli.py").reaches.network, "{report:#?}");
        assert!(
            report.findings.iter().any(|f| f.code == code::NETWORK
                && f.file == "scripts/cli.py"
                && f.line == Some(2))
        );
        assert_eq!(file("scripts/pure.py").reaches, Reach::default());
    }

    #[test]
    fn a_native_only_import_is_named_as_such_and_vendored_libraries_count_as_the_package() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("scripts")).expect("scripts");
        std::fs::create_dir_all(dir.path().join("vendor/requests")).expect("vendor");
        std::fs::write(dir.path().join("vendor/requests/__init__.py"), "").expect("init");
        std::fs::write(
            dir.path().join("scripts/a.py"),
            "import yaml\nimport requests\nimport toml\nimport numpy as np\n",
        )
        .expect("a.py");
        let instructions = crate::package::instructions::parse_bytes(b"---\nname: x\n---\n");
        let report = scan(dir.path(), None, None, &instructions);
        let file = report
            .files
            .iter()
            .find(|f| f.path == "scripts/a.py")
            .expect("listed");
        assert_eq!(
            file.sandbox_blockers,
            [
                "imports toml at line 3, which must ship inside the package to be importable",
                "imports numpy at line 4: numpy publishes no pure-Python wheel, only native code, which cannot run in the sandbox's WebAssembly CPython (`skill-run vendor` refuses it)",
                "imports yaml at line 1: PyYAML publishes no pure-Python wheel, only native code, which cannot run in the sandbox's WebAssembly CPython (`skill-run vendor` refuses it)",
            ]
        );
        assert_eq!(
            native_only("mcp").as_deref(),
            Some("mcp needs pydantic-core, which publishes no pure-Python wheel")
        );
        assert_eq!(native_only("requests"), None);
        assert!(is_vendored("vendor/requests/__init__.py"));
        assert!(!is_vendored("vendored.py") && !is_vendored("scripts/vendor/x.py"));
    }

    #[test]
    fn a_tagged_cache_folder_is_reported_once_not_listed() {
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("target/debug");
        std::fs::create_dir_all(&target).expect("target");
        std::fs::write(target.join("build-script"), b"\x7fELF\x02").expect("elf");
        let instructions = crate::package::instructions::parse_bytes(b"---\nname: x\n---\n");
        let listed = scan(dir.path(), None, None, &instructions);
        assert_eq!(
            listed.files.len(),
            1,
            "untagged, the binary is listed: {listed:#?}"
        );
        std::fs::write(
            dir.path().join("target/CACHEDIR.TAG"),
            b"Signature: 8a477f597d28d172789f06886806bc55\n# cargo\n",
        )
        .expect("tag");
        let skipped = scan(dir.path(), None, None, &instructions);
        assert!(
            skipped.files.is_empty() && skipped.statement.is_none(),
            "{skipped:#?}"
        );
        assert_eq!(skipped.findings.len(), 1);
        assert_eq!(skipped.findings[0].code, code::CACHE_SKIPPED);
        assert_eq!(skipped.findings[0].file, "target");
    }
}

#[cfg(test)]
mod never_panic {
    use proptest::prelude::*;

    use super::findings::Collector;
    use super::{ScanContext, javascript, python, shell};

    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            Just("subprocess.run(".to_owned()),
            Just("os.environ[\"".to_owned()),
            Just("[\"".to_owned()),
            Just("def f(cmd):\n".to_owned()),
            Just("    ".to_owned()),
            Just("https://".to_owned()),
            Just("Authorization\": f\"ſ".to_owned()),
            Just("process.env.".to_owned()),
            Just("= promisify(execFile)".to_owned()),
            Just("$(curl ".to_owned()),
            Just("`".to_owned()),
            Just("\n".to_owned()),
            Just("é\u{202e}".to_owned()),
            Just("from . import".to_owned()),
            Just("import {\n} from \"".to_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn scanners_never_panic(parts in proptest::collection::vec(fragment(), 0..48)) {
            let text: String = parts.concat();
            let ctx = ScanContext::default();
            let mut c = Collector::new("x");
            let _ = python::scan(&text, &ctx, &mut c);
            javascript::scan(&text, &mut c);
            shell::scan(&text, &mut c);
            let _ = c.finish();
        }
    }
}
