//! JavaScript and TypeScript scripts (Node, Bun, Deno): child processes,
//! fetch and http clients, environment reads, file writes, dynamic code and
//! imports, found line by line.

use std::sync::LazyLock;

use regex::Regex;

use super::common::{self, column};
use super::findings::{Collector, code};
use crate::package::Severity;

/// Node's built-in modules (`require('module').builtinModules`, without subpaths).
const BUILTINS: &[&str] = &[
    "assert",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "constants",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "domain",
    "events",
    "fs",
    "http",
    "http2",
    "https",
    "inspector",
    "module",
    "net",
    "os",
    "path",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "repl",
    "stream",
    "string_decoder",
    "sys",
    "timers",
    "tls",
    "trace_events",
    "tty",
    "url",
    "util",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
    "zlib",
    "test",
    "sqlite",
];

static CHILD_PROCESS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"["'](?:node:)?child_process["']"#).expect("valid regex"));

static PROCESS_CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^.\w$])(?:execSync|execFileSync|spawnSync|execFile|spawn|exec|fork)\s*\(|\bchild_process\.\w+\s*\(|\bcp\.\w+\s*\(")
        .expect("valid regex")
});

/// `const run = promisify(execFile)`: a name that starts processes too.
static PROCESS_ALIAS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:util\.)?promisify\s*\(\s*(?:child_process\.|cp\.)?(?:execFile|exec|spawn)\s*\)")
        .expect("valid regex")
});

static RUNTIME_PROCESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bBun\.spawn(?:Sync)?\s*\(|\bBun\.\$`|(?:^|[^\w$])\$`|\bDeno\.(?:Command|run)\b|\bexeca\s*\(")
        .expect("valid regex")
});

static PROGRAM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\(\s*\[?\s*["'`]([A-Za-z0-9_./-]+)"#).expect("valid regex"));

static NETWORK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:^|[^.\w$])fetch\s*\(|\bhttps?\.(?:request|get)\s*\(|\bnet\.(?:connect|createConnection|createServer)\s*\(",
        r"|\bhttp\.createServer\s*\(|\baxios(?:\.\w+)?\s*\(|\bnew\s+WebSocket\s*\(|\bXMLHttpRequest\b|\bdgram\.createSocket\b",
        r#"|["'](?:node:)?(?:https?|net|tls|dgram|http2)["']"#,
    ))
    .expect("valid regex")
});

static ENV: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(?:process\.env|Bun\.env|import\.meta\.env)(?:\.([A-Za-z_][A-Za-z0-9_]*)|\s*\[\s*["'`]([A-Za-z_][A-Za-z0-9_]*)["'`]\s*\])|\bDeno\.env\.get\s*\(\s*["'`]([A-Za-z_][A-Za-z0-9_]*)"#)
        .expect("valid regex")
});

static ENV_DESTRUCTURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{([^}]*)\}\s*=\s*(?:process\.env|Bun\.env)\b").expect("valid regex")
});

static WHOLE_ENV: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\.\.\.process\.env\b|\benv\s*:\s*process\.env\b|\bObject\.(?:keys|entries|assign)\s*\([^)]*process\.env\b|\bDeno\.env\.toObject\s*\(")
        .expect("valid regex")
});

static HOME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\bos\.homedir\s*\(\s*\)|\bhomedir\s*\(\s*\)|\bprocess\.env\.(?:HOME|USERPROFILE)\b",
    )
    .expect("valid regex")
});

static TEMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:os\.)?tmpdir\s*\(\s*\)|\bmkdtemp(?:Sync)?\s*\(").expect("valid regex")
});

static WRITES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:writeFile|writeFileSync|appendFile|appendFileSync|mkdir|mkdirSync|rm|rmSync|rmdir|rmdirSync|unlink|unlinkSync|rename|renameSync|copyFile|copyFileSync|cp|cpSync|createWriteStream|symlink|symlinkSync|chmod|chmodSync)\s*\(|\bBun\.write\s*\(|\bDeno\.(?:writeFile|writeTextFile|mkdir|remove)\b")
        .expect("valid regex")
});

static LITERAL_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:writeFile|writeFileSync|mkdir|mkdirSync|createWriteStream|Bun\.write)\s*\(\s*["'`]([^"'`$]+)["'`]"#)
        .expect("valid regex")
});

static DYNAMIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^.\w$])eval\s*\(|\bnew\s+Function\s*\(|\bvm\.(?:runIn\w*|Script)\b")
        .expect("valid regex")
});

static IMPORT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^\s*import\s+(?:[^'"]*?\s+from\s+)?|^\s*\}\s*from\s+|\bexport\s+[^'"]*?\s+from\s+|\brequire\s*\(\s*|\bimport\s*\(\s*)["']([^"']+)["']"#)
        .expect("valid regex")
});

/// The package an import specifier names, or `None` for a built-in or a file.
fn package_name(spec: &str) -> Option<String> {
    if spec.starts_with(['.', '/']) || spec.starts_with("node:") || spec.starts_with("bun:") {
        return None;
    }
    let spec = spec.strip_prefix("npm:").unwrap_or(spec);
    let mut parts = spec.split('/');
    let first = parts.next()?;
    let name = if first.starts_with('@') {
        format!("{first}/{}", parts.next().unwrap_or(""))
    } else {
        first.to_owned()
    };
    (!BUILTINS.contains(&name.as_str()) && !name.starts_with("jsr:")).then_some(name)
}

/// Scans a JavaScript or TypeScript script.
pub(crate) fn scan(text: &str, c: &mut Collector) {
    let uses_child_process = CHILD_PROCESS.is_match(text);
    let aliases: Vec<String> = PROCESS_ALIAS
        .captures_iter(text)
        .filter_map(|cap| cap.get(1).map(|m| format!("{}(", m.as_str())))
        .take(16)
        .collect();
    let mut in_block_comment = false;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        if in_block_comment {
            if trimmed.contains("*/") {
                in_block_comment = false;
            }
            continue;
        }
        if trimmed.starts_with("/*") && !trimmed.contains("*/") {
            in_block_comment = true;
            continue;
        }
        if trimmed.starts_with("//") || trimmed.starts_with('*') {
            continue;
        }
        common::hosts(line, number, c);
        common::installs(line, number, c);
        common::paths(line, number, c);
        common::auth_header(line, number, c);
        let process = RUNTIME_PROCESS
            .find(line)
            .or_else(|| {
                uses_child_process
                    .then(|| PROCESS_CALL.find(line))
                    .flatten()
            })
            .map(|m| (m.start(), m.as_str().trim().to_owned()))
            .or_else(|| {
                aliases
                    .iter()
                    .find_map(|a| line.find(a.as_str()).map(|at| (at, a.clone())))
            });
        if let Some((start, call)) = process {
            let program = PROGRAM
                .captures(&line[start..])
                .and_then(|cap| cap.get(1))
                .map(|p| p.as_str().rsplit('/').next().unwrap_or("").to_owned())
                .filter(|p| !p.is_empty());
            let what = match &program {
                Some(p) => format!("starts another program, `{p}` (`{call}`)"),
                None => format!("starts other programs (`{call}`)"),
            };
            c.use_at(
                code::RUNS_PROCESS,
                Severity::Warning,
                (number, column(line, start)),
                program.as_deref(),
                what,
            );
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
            if let Some(name) = cap.get(1).or_else(|| cap.get(2)).or_else(|| cap.get(3)) {
                common::env(c, line, number, name.start(), name.as_str());
            }
        }
        if let Some(cap) = ENV_DESTRUCTURE.captures(line)
            && let Some(list) = cap.get(1)
        {
            for part in list.as_str().split(',') {
                let name = part
                    .split(':')
                    .next()
                    .unwrap_or("")
                    .split('=')
                    .next()
                    .unwrap_or("")
                    .trim();
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
                {
                    let at = list.start() + list.as_str().find(name).unwrap_or(0);
                    common::env(c, line, number, at, name);
                }
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
        for cap in IMPORT.captures_iter(line) {
            if let Some(spec) = cap.get(1)
                && let Some(name) = package_name(spec.as_str())
            {
                c.fact(
                    code::THIRD_PARTY,
                    Severity::Info,
                    (number, column(line, spec.start())),
                    &name,
                    format!(
                        "imports `{name}`, which is neither a built-in module nor in the package"
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_text(text: &str) -> Vec<(&'static str, usize, Option<String>)> {
        let mut c = Collector::new("x.mjs");
        scan(text, &mut c);
        c.finish()
            .into_iter()
            .map(|f| (f.code, f.line.unwrap_or(0), f.subject))
            .collect()
    }

    #[test]
    fn child_processes_fetch_env_and_imports_are_found() {
        let found = scan_text(concat!(
            "import { execSync } from 'node:child_process';\n",
            "import { Document } from \"docx\";\n",
            "import fs from 'fs';\n",
            "// fetch('https://comment.example')\n",
            "const out = execSync(`gh api search/issues`);\n",
            "const r = await fetch(`https://api.reve.com/v1/image`, { headers: { Authorization: `Bearer ${process.env.REVE_API_KEY}` } });\n",
            "const { HOME, GH_TOKEN } = process.env;\n",
            "fs.writeFileSync('out.html', html);\n",
            "const re = /x/; re.exec(s);\n",
        ));
        let has = |code: &str, line: usize, subject: Option<&str>| {
            found
                .iter()
                .any(|(c, l, s)| *c == code && *l == line && s.as_deref() == subject)
        };
        assert!(has(code::THIRD_PARTY, 2, Some("docx")), "{found:?}");
        assert!(
            !found
                .iter()
                .any(|(c, _, s)| *c == code::THIRD_PARTY && s.as_deref() != Some("docx")),
            "{found:?}"
        );
        assert!(!found.iter().any(|(_, l, _)| *l == 4), "comment: {found:?}");
        assert!(has(code::RUNS_PROCESS, 5, Some("gh")), "{found:?}");
        assert!(has(code::NETWORK, 6, None), "{found:?}");
        assert!(
            has(code::HOST, 6, Some("https://api.reve.com")),
            "{found:?}"
        );
        assert!(
            has(code::READS_SECRET, 6, Some("REVE_API_KEY")),
            "{found:?}"
        );
        assert!(has(code::READS_ENV, 7, Some("HOME")), "{found:?}");
        assert!(has(code::READS_SECRET, 7, Some("GH_TOKEN")), "{found:?}");
        assert!(has(code::WRITES_FILES, 8, Some("out.html")), "{found:?}");
        assert!(
            !found
                .iter()
                .any(|(c, l, _)| *c == code::RUNS_PROCESS && *l == 9),
            "RegExp.exec is not a process: {found:?}"
        );
    }
}
