//! Python scripts: processes, network clients, environment reads, file
//! writes, dynamic code and imports, found line by line.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::ScanContext;
use super::common::{self, column};
use super::findings::{Collector, code};
use crate::package::Severity;

/// Python's standard library (`sys.stdlib_module_names`, 3.12, without the private ones).
const STDLIB: &[&str] = &[
    "__future__",
    "abc",
    "aifc",
    "antigravity",
    "argparse",
    "array",
    "ast",
    "asynchat",
    "asyncio",
    "asyncore",
    "atexit",
    "audioop",
    "base64",
    "bdb",
    "binascii",
    "bisect",
    "builtins",
    "bz2",
    "cProfile",
    "calendar",
    "cgi",
    "cgitb",
    "chunk",
    "cmath",
    "cmd",
    "code",
    "codecs",
    "codeop",
    "collections",
    "colorsys",
    "compileall",
    "concurrent",
    "configparser",
    "contextlib",
    "contextvars",
    "copy",
    "copyreg",
    "crypt",
    "csv",
    "ctypes",
    "curses",
    "dataclasses",
    "datetime",
    "dbm",
    "decimal",
    "difflib",
    "dis",
    "distutils",
    "doctest",
    "email",
    "encodings",
    "ensurepip",
    "enum",
    "errno",
    "faulthandler",
    "fcntl",
    "filecmp",
    "fileinput",
    "fnmatch",
    "fractions",
    "ftplib",
    "functools",
    "gc",
    "genericpath",
    "getopt",
    "getpass",
    "gettext",
    "glob",
    "graphlib",
    "grp",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "http",
    "idlelib",
    "imaplib",
    "imghdr",
    "imp",
    "importlib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "keyword",
    "lib2to3",
    "linecache",
    "locale",
    "logging",
    "lzma",
    "mailbox",
    "mailcap",
    "marshal",
    "math",
    "mimetypes",
    "mmap",
    "modulefinder",
    "msilib",
    "msvcrt",
    "multiprocessing",
    "netrc",
    "nis",
    "nntplib",
    "nt",
    "ntpath",
    "nturl2path",
    "numbers",
    "opcode",
    "operator",
    "optparse",
    "os",
    "ossaudiodev",
    "pathlib",
    "pdb",
    "pickle",
    "pickletools",
    "pipes",
    "pkgutil",
    "platform",
    "plistlib",
    "poplib",
    "posix",
    "posixpath",
    "pprint",
    "profile",
    "pstats",
    "pty",
    "pwd",
    "py_compile",
    "pyclbr",
    "pydoc",
    "pydoc_data",
    "pyexpat",
    "queue",
    "quopri",
    "random",
    "re",
    "readline",
    "reprlib",
    "resource",
    "rlcompleter",
    "runpy",
    "sched",
    "secrets",
    "select",
    "selectors",
    "shelve",
    "shlex",
    "shutil",
    "signal",
    "site",
    "smtpd",
    "smtplib",
    "sndhdr",
    "socket",
    "socketserver",
    "spwd",
    "sqlite3",
    "sre_compile",
    "sre_constants",
    "sre_parse",
    "ssl",
    "stat",
    "statistics",
    "string",
    "stringprep",
    "struct",
    "subprocess",
    "sunau",
    "symtable",
    "sys",
    "sysconfig",
    "syslog",
    "tabnanny",
    "tarfile",
    "telnetlib",
    "tempfile",
    "termios",
    "textwrap",
    "this",
    "threading",
    "time",
    "timeit",
    "tkinter",
    "token",
    "tokenize",
    "tomllib",
    "trace",
    "traceback",
    "tracemalloc",
    "tty",
    "turtle",
    "turtledemo",
    "types",
    "typing",
    "unicodedata",
    "unittest",
    "urllib",
    "uu",
    "uuid",
    "venv",
    "warnings",
    "wave",
    "weakref",
    "webbrowser",
    "winreg",
    "winsound",
    "wsgiref",
    "xdrlib",
    "xml",
    "xmlrpc",
    "zipapp",
    "zipfile",
    "zipimport",
    "zlib",
    "zoneinfo",
];

static PROCESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\bsubprocess\.(?:run|call|check_call|check_output|Popen|getoutput|getstatusoutput)\b",
        r"|\bos\.(?:system|popen|exec[lv]p?e?|spawn[lv]p?e?|fork|forkpty|posix_spawnp?|startfile)\s*\(",
        r"|\bpty\.spawn\b|\basyncio\.create_subprocess_(?:exec|shell)\b|\bcommands\.getoutput\b",
        r"|^\s*from\s+subprocess\s+import\b|\bwebbrowser\.open",
    ))
    .expect("valid regex")
});

/// The program a process call names as a literal: `run(["git", ...` or `system("curl ...`.
static PROGRAM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*\(?\s*\[?\s*[fr]?["']([A-Za-z0-9_./-]+)"#).expect("valid regex")
});

/// A process call whose first argument is a variable: `Popen(cmd, ...`.
static PROGRAM_VARIABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\(?\s*([A-Za-z_]\w*)\s*[,)]").expect("valid regex"));

/// The first literal of a list: `["claude", "-p"`.
static LIST_HEAD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\[\s*[fr]?["']([A-Za-z0-9_./-]+)"#).expect("valid regex"));

static DEF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\s*)(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(").expect("valid regex")
});

/// The most wrapper functions followed in one file (keeps the scan linear).
const MAX_WRAPPERS: usize = 64;

/// Functions that start processes: those whose body calls subprocess & co.,
/// and (three levels deep) those that call such a function. Returns
/// (name, 1-based line of its `def`).
fn process_wrappers(lines: &[&str]) -> Vec<(String, usize)> {
    let mut defs: Vec<(String, usize, usize)> = Vec::new();
    let mut enclosing: Vec<Option<usize>> = Vec::with_capacity(lines.len());
    let mut stack: Vec<usize> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            enclosing.push(stack.last().copied());
            continue;
        }
        let indent = line.len() - trimmed.len();
        while stack.last().is_some_and(|&d| defs[d].1 >= indent) {
            stack.pop();
        }
        enclosing.push(stack.last().copied());
        if let Some(cap) = DEF.captures(line)
            && let Some(name) = cap.get(2)
        {
            defs.push((name.as_str().to_owned(), indent, index + 1));
            stack.push(defs.len() - 1);
        }
    }
    let mut wrappers: BTreeSet<usize> = BTreeSet::new();
    for (index, line) in lines.iter().enumerate() {
        if PROCESS.is_match(line)
            && let Some(d) = enclosing[index]
        {
            wrappers.insert(d);
        }
    }
    for _ in 0..3 {
        let names: Vec<(usize, String)> = wrappers
            .iter()
            .take(MAX_WRAPPERS)
            .map(|&d| (d, defs[d].0.clone()))
            .collect();
        let before = wrappers.len();
        for (index, line) in lines.iter().enumerate() {
            let Some(d) = enclosing[index] else { continue };
            if names
                .iter()
                .any(|(w, name)| *w != d && call_at(line, name).is_some())
            {
                wrappers.insert(d);
            }
        }
        if wrappers.len() == before {
            break;
        }
    }
    wrappers
        .into_iter()
        .take(MAX_WRAPPERS)
        .map(|d| (defs[d].0.clone(), defs[d].2))
        .collect()
}

/// Where `name(` is called on a line: the byte after the name.
fn call_at(line: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = line.get(from..)?.find(name) {
        let start = from + found;
        let end = start + name.len();
        let before_ok = line[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'));
        let after_ok = line[end..].trim_start().starts_with('(');
        let is_def = line[..start].trim_end().ends_with("def");
        if before_ok && after_ok && !is_def {
            return Some(end);
        }
        from = end;
    }
    None
}

/// How many lines a call's arguments, or a variable's definition, are looked for in.
const LOOK_AROUND: usize = 40;

/// The program a process call at `lines[index]`, after byte `after`, starts:
/// a literal in the call (on this line or the next two), or the head of the
/// list a variable it passes was last set to.
fn program(lines: &[&str], index: usize, after: usize, list_only: bool) -> Option<String> {
    let ahead = |from: usize, first: &str| {
        let mut text = first.to_owned();
        for l in lines.iter().skip(from + 1).take(2) {
            text.push(' ');
            text.push_str(l);
        }
        text
    };
    let rest = ahead(index, lines[index].get(after..).unwrap_or(""));
    let literal = if list_only {
        rest.trim_start()
            .strip_prefix('(')
            .filter(|r| r.trim_start().starts_with('['))
            .and_then(|r| LIST_HEAD.captures(r))
    } else {
        PROGRAM.captures(&rest)
    };
    let name = if let Some(cap) = literal {
        cap.get(1).map(|m| m.as_str().to_owned())
    } else {
        let variable = PROGRAM_VARIABLE
            .captures(&rest)?
            .get(1)?
            .as_str()
            .to_owned();
        (index.saturating_sub(LOOK_AROUND)..index)
            .rev()
            .find_map(|i| {
                let line = lines[i].trim_start();
                let value = line
                    .strip_prefix(variable.as_str())?
                    .trim_start()
                    .strip_prefix('=')?;
                let text = ahead(i, value);
                LIST_HEAD
                    .captures(&text)?
                    .get(1)
                    .map(|m| m.as_str().to_owned())
            })
    }?;
    let base = name.rsplit('/').next().unwrap_or("").to_owned();
    (!base.is_empty() && !base.starts_with('-')).then_some(base)
}

static NETWORK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:requests|httpx)\.(?:get|post|put|patch|delete|head|options|request|Session|Client|AsyncClient|stream)\b",
        r"|\burlopen\s*\(|\burllib\.request\.(?:Request|urlopen|urlretrieve|build_opener)\b|\burlretrieve\s*\(",
        r"|\bhttp\.client\.HTTPS?Connection\b|\bHTTPS?Connection\s*\(",
        r"|\bsocket\.(?:socket|create_connection|create_server|getaddrinfo)\s*\(",
        r"|\b(?:ThreadingHTTPServer|HTTPServer|TCPServer|ThreadingTCPServer)\s*\(",
        r"|\baiohttp\.ClientSession\b|\burllib3\.PoolManager\b|\bwebsockets?\.connect\b",
        r"|\bftplib\.FTP\b|\bsmtplib\.SMTP\b|\bAnthropic\s*\(|\bOpenAI\s*\(",
        r"|^\s*(?:from|import)\s+(?:requests|httpx|aiohttp|urllib3|websockets?|socket|anthropic|openai|scholarly)\b",
        r"|^\s*from\s+urllib\.request\s+import\b|^\s*import\s+urllib\.request\b",
    ))
    .expect("valid regex")
});

static ENV: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(?:os\.)?(?:environ\s*\[\s*|environ\.get\s*\(\s*|environ\.setdefault\s*\(\s*|environ\.pop\s*\(\s*|getenv\s*\(\s*|environb\s*\[\s*)[fr]?["']([A-Za-z_][A-Za-z0-9_]*)["']"#)
        .expect("valid regex")
});

static WHOLE_ENV: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bos\.environ\.copy\s*\(|\bdict\s*\(\s*os\.environ\b|\*\*os\.environ\b|\benv\s*=\s*os\.environ\b|\bos\.environ\.items\s*\(|\bfor\s+\w+\s+in\s+os\.environ\b")
        .expect("valid regex")
});

static HOME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\bPath\.home\s*\(\s*\)|\bexpanduser\s*\(\s*["']~[^"']*["']|\bexpanduser\s*\("#)
        .expect("valid regex")
});

static TEMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\btempfile\.(?:mkdtemp|mkstemp|NamedTemporaryFile|TemporaryDirectory|TemporaryFile|gettempdir)\b")
        .expect("valid regex")
});

static WRITES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"\bopen\s*\((?:[^()]|\([^()]*\))*,\s*(?:mode\s*=\s*)?[rbf]?["'][^"']*[wax+][^"']*["']"#,
        r"|\.write_(?:text|bytes)\s*\(|\bshutil\.(?:copy\w*|move|rmtree|make_archive)\s*\(",
        r"|\bos\.(?:remove|unlink|makedirs|mkdir|rename|replace|rmdir|removedirs|symlink|chmod)\s*\(",
        r"|\.(?:mkdir|unlink|rmdir|touch|rename|symlink_to)\s*\(|\bzipfile\.ZipFile\s*\([^)]*[\x22']w[\x22']",
    ))
    .expect("valid regex")
});

/// A literal first argument: `open("out.json", "w")`, `Path("reports")`.
static LITERAL_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:\bopen|\bPath|\bmakedirs|\bmkdir)\s*\(\s*[fr]?["']([^"'{}]+)["']"#)
        .expect("valid regex")
});

static DYNAMIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^.\w])(?:eval|exec)\s*\(|\b__import__\s*\(|\bimportlib\.import_module\s*\(|\bmarshal\.loads\s*\(|\bpickle\.loads?\s*\(")
        .expect("valid regex")
});

static IMPORT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:import\s+([A-Za-z_][\w.]*(?:\s+as\s+\w+)?(?:\s*,\s*[A-Za-z_][\w.]*(?:\s+as\s+\w+)?)*)|from\s+([A-Za-z_][\w.]*)\s+import\b)")
        .expect("valid regex")
});

/// One of the package's own modules a script imports: name, 1-based line and column.
pub(crate) type LocalImport = (String, usize, usize);

/// Scans a Python script. Returns the package's own modules it imports.
pub(crate) fn scan(text: &str, ctx: &ScanContext, c: &mut Collector) -> Vec<LocalImport> {
    let mut local = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let wrappers = process_wrappers(&lines);
    for (index, line) in lines.iter().copied().enumerate() {
        let number = index + 1;
        if line.trim_start().starts_with('#') {
            continue;
        }
        common::hosts(line, number, c);
        common::installs(line, number, c);
        common::paths(line, number, c);
        common::auth_header(line, number, c);
        if let Some(m) = PROCESS.find(line) {
            let program = program(&lines, index, m.end(), false);
            let what = match &program {
                Some(p) => format!("starts another program, `{p}` (`{}`)", m.as_str().trim()),
                None => format!("starts other programs (`{}`)", m.as_str().trim()),
            };
            c.use_at(
                code::RUNS_PROCESS,
                Severity::Warning,
                (number, column(line, m.start())),
                program.as_deref(),
                what,
            );
        }
        for (name, def_line) in &wrappers {
            if let Some(after) = call_at(line, name)
                && let Some(program) = program(&lines, index, after, true)
            {
                c.use_at(
                    code::RUNS_PROCESS,
                    Severity::Warning,
                    (number, column(line, after - name.len())),
                    Some(&program),
                    format!(
                        "starts another program, `{program}` (through `{name}`, line {def_line})"
                    ),
                );
            }
        }
        if let Some(m) = NETWORK.find(line) {
            c.use_at(
                code::NETWORK,
                Severity::Warning,
                (number, column(line, m.start())),
                None,
                format!(
                    "uses the network (`{}`)",
                    common::clip(m.as_str().trim(), 60)
                ),
            );
        }
        for cap in ENV.captures_iter(line) {
            if let Some(name) = cap.get(1) {
                common::env(c, line, number, name.start(), name.as_str());
            }
        }
        common::effects(
            c,
            line,
            number,
            &common::EffectPatterns {
                whole_env: &WHOLE_ENV,
                home: &HOME,
                temp: &TEMP,
                writes: &WRITES,
                literal_path: &LITERAL_PATH,
                dynamic: &DYNAMIC,
            },
        );
        if let Some(cap) = IMPORT.captures(line) {
            let names: Vec<(usize, &str)> = match (cap.get(1), cap.get(2)) {
                (Some(list), _) => list
                    .as_str()
                    .split(',')
                    .map(|part| {
                        let name = part.split_whitespace().next().unwrap_or("");
                        (list.start() + list.as_str().find(name).unwrap_or(0), name)
                    })
                    .collect(),
                (None, Some(module)) => vec![(module.start(), module.as_str())],
                (None, None) => Vec::new(),
            };
            for (at, name) in names {
                let top = name.split('.').next().unwrap_or("");
                if ctx.local_modules.contains(top) {
                    local.push((name.to_owned(), number, column(line, at)));
                    continue;
                }
                if top.is_empty() || STDLIB.contains(&top) {
                    continue;
                }
                c.fact(
                    code::THIRD_PARTY,
                    Severity::Info,
                    (number, column(line, at)),
                    top,
                    format!(
                        "imports `{top}`, which is neither the standard library nor in the package"
                    ),
                );
            }
        }
    }
    local
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_text(text: &str) -> Vec<(&'static str, usize, Option<String>)> {
        let ctx = ScanContext {
            local_modules: ["utils".to_owned()].into_iter().collect(),
        };
        let mut c = Collector::new("x.py");
        scan(text, &ctx, &mut c);
        c.finish()
            .into_iter()
            .map(|f| (f.code, f.line.unwrap_or(0), f.subject))
            .collect()
    }

    #[test]
    fn processes_network_env_imports_and_writes_are_found_with_their_lines() {
        let found = scan_text(concat!(
            "import os, sys, requests\n",
            "from utils import x\n",
            "# subprocess.run(['rm']) in a comment\n",
            "subprocess.run([\"claude\", \"-p\"], env=os.environ.copy())\n",
            "cmd = [\n    \"lsof\", \"-ti\"]\n",
            "subprocess.Popen(\n    cmd,\n)\n",
            "key = os.environ.get(\"GITHUB_TOKEN\") or os.getenv('LANG')\n",
            "with open(\"out.json\", \"w\") as f: pass\n",
            "r = requests.get(\"https://api.github.com/repos\")\n",
            "exec(code)\n",
            "p = Path.home() / '.codex'\n",
        ));
        let has = |code: &str, line: usize, subject: Option<&str>| {
            found
                .iter()
                .any(|(c, l, s)| *c == code && *l == line && s.as_deref() == subject)
        };
        assert!(has(code::THIRD_PARTY, 1, Some("requests")), "{found:?}");
        assert!(!found.iter().any(|(_, l, _)| *l == 3), "comment: {found:?}");
        assert!(has(code::RUNS_PROCESS, 4, Some("claude")), "{found:?}");
        assert!(has(code::READS_SECRET, 4, Some("*")), "{found:?}");
        assert!(has(code::RUNS_PROCESS, 7, Some("lsof")), "{found:?}");
        assert!(
            has(code::READS_SECRET, 10, Some("GITHUB_TOKEN")),
            "{found:?}"
        );
        assert!(has(code::READS_ENV, 10, Some("LANG")), "{found:?}");
        assert!(has(code::WRITES_FILES, 11, Some("out.json")), "{found:?}");
        assert!(has(code::NETWORK, 12, None), "{found:?}");
        assert!(
            has(code::HOST, 12, Some("https://api.github.com")),
            "{found:?}"
        );
        assert!(has(code::DYNAMIC_CODE, 13, None), "{found:?}");
        assert!(has(code::PATH_OUTSIDE, 14, Some("~")), "{found:?}");
        assert!(
            !found
                .iter()
                .any(|(c, _, s)| *c == code::THIRD_PARTY && s.as_deref() == Some("utils")),
            "a module in the package is not third-party: {found:?}"
        );
    }

    #[test]
    fn programs_started_through_wrapper_functions_are_named() {
        let found = scan_text(concat!(
            "def _run(cmd):\n",
            "    return subprocess.run(cmd, capture_output=True)\n",
            "def _run_json(cmd):\n",
            "    return json.loads(_run(cmd))\n",
            "_run([\"gh\", \"auth\", \"status\"])\n",
            "x = _run_json(\n    [\"git\", \"log\"])\n",
            "other_run(['rm'])\n",
            "_run_json(\"number,title\")\n",
        ));
        let programs: Vec<(usize, String)> = found
            .iter()
            .filter(|(c, _, _)| *c == code::RUNS_PROCESS)
            .filter_map(|(_, l, s)| s.clone().map(|s| (*l, s)))
            .collect();
        assert_eq!(
            programs,
            [(5, "gh".to_owned()), (6, "git".to_owned())],
            "{found:?}"
        );
    }

    #[test]
    fn a_clean_script_has_no_findings() {
        assert!(scan_text("import json, sys\nprint(json.dumps(sys.argv))\n").is_empty());
    }
}
