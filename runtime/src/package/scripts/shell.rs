//! Shell scripts (sh, bash, zsh) and shell code blocks: every line runs
//! programs, so this names the notable ones (network clients, package
//! managers, privilege, other interpreters), the environment variables read
//! that the script does not set itself, and paths outside the package.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::common::{self, column};
use super::findings::{Collector, code};
use crate::package::Severity;

/// Programs worth naming when a shell script runs them.
const NOTABLE: &[&str] = &[
    "curl",
    "wget",
    "git",
    "gh",
    "ssh",
    "scp",
    "rsync",
    "nc",
    "ncat",
    "socat",
    "sudo",
    "su",
    "docker",
    "podman",
    "kubectl",
    "npm",
    "npx",
    "node",
    "bun",
    "deno",
    "python",
    "python3",
    "pip",
    "pip3",
    "uv",
    "bash",
    "sh",
    "zsh",
    "eval",
    "source",
    "tar",
    "unzip",
    "zip",
    "rm",
    "chmod",
    "chown",
    "kill",
    "pkill",
    "open",
    "xdg-open",
    "osascript",
    "crontab",
    "systemctl",
    "launchctl",
    "vercel",
    "aws",
    "gcloud",
    "az",
];

static COMMAND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[|;&(`{]|\$\(|\bthen\b|\bdo\b|\belse\b|&&|\|\|)\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*([A-Za-z][A-Za-z0-9_.-]*)")
        .expect("valid regex")
});

static ASSIGNED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s;&|(])(?:export\s+|local\s+|readonly\s+|declare\s+(?:-\w+\s+)?)?([A-Za-z_][A-Za-z0-9_]*)=|\bread\s+(?:-\w+\s+)*([A-Za-z_][A-Za-z0-9_ ]*)|\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b|\bgetopts\s+\S+\s+([A-Za-z_][A-Za-z0-9_]*)")
        .expect("valid regex")
});

static VARIABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{?([A-Z_][A-Z0-9_]*)\b").expect("valid regex"));

static WRITES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:[^<>&0-9]|^)>>?\s*([^\s;&|>]+)|\b(?:rm|mv|cp|mkdir|touch|tee|chmod)\s+(?:-\w+\s+)*([^\s;&|]+)"#)
        .expect("valid regex")
});

/// Variables every shell sets: not read from the caller's environment.
const SHELL_SET: &[&str] = &[
    "PWD",
    "OLDPWD",
    "RANDOM",
    "LINENO",
    "SECONDS",
    "BASH_SOURCE",
    "BASH_VERSION",
    "PPID",
    "IFS",
    "OPTARG",
    "OPTIND",
    "REPLY",
    "PIPESTATUS",
    "FUNCNAME",
    "BASH_REMATCH",
    "UID",
    "EUID",
    "HOSTNAME",
    "OSTYPE",
    "SHLVL",
];

/// The variables a shell text sets itself (`X=`, `export X=`, `read X`, `for X in`).
pub(crate) fn assigned_names(text: &str) -> BTreeSet<String> {
    let mut assigned = BTreeSet::new();
    for line in text.lines() {
        for cap in ASSIGNED.captures_iter(line) {
            if let Some(m) = cap.get(1).or_else(|| cap.get(3)).or_else(|| cap.get(4)) {
                assigned.insert(m.as_str().to_owned());
            }
            if let Some(list) = cap.get(2) {
                assigned.extend(list.as_str().split_whitespace().map(str::to_owned));
            }
        }
    }
    assigned
}

/// Scans a shell script.
pub(crate) fn scan(text: &str, c: &mut Collector) {
    scan_with(text, &assigned_names(text), c);
}

/// Scans shell text whose variables in `assigned` are set by the text
/// itself or by the code around it (other code blocks of one SKILL.md).
pub(crate) fn scan_with(text: &str, assigned: &BTreeSet<String>, c: &mut Collector) {
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        common::hosts(line, number, c);
        common::installs(line, number, c);
        common::paths(line, number, c);
        common::auth_header(line, number, c);
        for cap in COMMAND.captures_iter(line) {
            let Some(m) = cap.get(1) else { continue };
            let program = m.as_str();
            if !NOTABLE.contains(&program) {
                continue;
            }
            let at = (number, column(line, m.start()));
            if matches!(
                program,
                "curl" | "wget" | "nc" | "ncat" | "socat" | "ssh" | "scp" | "rsync"
            ) {
                c.use_at(
                    code::NETWORK,
                    Severity::Warning,
                    at,
                    Some(program),
                    format!("uses the network (`{program}`)"),
                );
            }
            if program == "eval" || program == "source" {
                c.use_at(
                    code::DYNAMIC_CODE,
                    Severity::Warning,
                    at,
                    None,
                    format!("runs code built at run time (`{program}`)"),
                );
                continue;
            }
            let severity = if matches!(program, "sudo" | "su") {
                Severity::Error
            } else {
                Severity::Warning
            };
            c.fact(
                code::RUNS_PROCESS,
                severity,
                at,
                program,
                format!("runs `{program}` with the user's rights"),
            );
        }
        if trimmed.contains('`')
            && !trimmed.starts_with("echo")
            && let Some(at) = line.find('`')
        {
            {
                c.use_at(
                    code::RUNS_PROCESS,
                    Severity::Warning,
                    (number, column(line, at)),
                    None,
                    "runs a command in backticks".into(),
                );
            }
        }
        for cap in VARIABLE.captures_iter(line) {
            let Some(m) = cap.get(1) else { continue };
            let name = m.as_str();
            if assigned.contains(name) || SHELL_SET.contains(&name) {
                continue;
            }
            if name == "HOME" {
                common::outside(c, line, number, m.start(), "~", "in the home folder");
            }
            if name == "TMPDIR" {
                common::outside(
                    c,
                    line,
                    number,
                    m.start(),
                    "{temp}",
                    "in the system's temporary folder",
                );
            }
            common::env(c, line, number, m.start(), name);
        }
        if let Some(cap) = WRITES.captures(line) {
            let target = cap
                .get(1)
                .or_else(|| cap.get(2))
                .map(|m| m.as_str().trim_matches(['"', '\'']));
            if let Some(target) =
                target.filter(|t| !t.is_empty() && *t != "/dev/null" && !t.starts_with("&"))
            {
                let at = cap.get(0).map_or(0, |m| m.start());
                c.use_at(
                    code::WRITES_FILES,
                    Severity::Info,
                    (number, column(line, at)),
                    Some(target),
                    format!("writes, moves or deletes files ({target})"),
                );
            }
        }
    }
}

/// Whether a SKILL.md code block's info string says it is shell.
pub(crate) fn is_shell_block(language: Option<&str>) -> bool {
    matches!(
        language
            .map(|l| l
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase())
            .as_deref(),
        None | Some(
            "" | "sh" | "bash" | "shell" | "zsh" | "console" | "terminal" | "shell-session"
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_text(text: &str) -> Vec<(&'static str, usize, Option<String>)> {
        let mut c = Collector::new("x.sh");
        scan(text, &mut c);
        c.finish()
            .into_iter()
            .map(|f| (f.code, f.line.unwrap_or(0), f.subject))
            .collect()
    }

    #[test]
    fn programs_hosts_and_unset_variables_are_found() {
        let found = scan_text(concat!(
            "#!/bin/bash\n",
            "ENDPOINT=\"https://claude-skills-deploy.vercel.com/api/deploy\"\n",
            "TMP=$(mktemp -d)\n",
            "# curl https://comment.invalid\n",
            "RESPONSE=$(curl -s -X POST \"$ENDPOINT\" -F \"file=@$TMP/p.tgz\")\n",
            "echo \"$VERCEL_TOKEN $LANG\" > \"$TMP/out\"\n",
            "curl -fsSL https://get.example.sh | sh\n",
        ));
        let has = |code: &str, line: usize, subject: Option<&str>| {
            found
                .iter()
                .any(|(c, l, s)| *c == code && *l == line && s.as_deref() == subject)
        };
        assert!(
            has(
                code::HOST,
                2,
                Some("https://claude-skills-deploy.vercel.com")
            ),
            "{found:?}"
        );
        assert!(has(code::NETWORK, 5, Some("curl")), "{found:?}");
        assert!(has(code::RUNS_PROCESS, 5, Some("curl")), "{found:?}");
        assert!(!found.iter().any(|(_, l, _)| *l == 4), "comment: {found:?}");
        assert!(
            has(code::READS_SECRET, 6, Some("VERCEL_TOKEN")),
            "{found:?}"
        );
        assert!(has(code::READS_ENV, 6, Some("LANG")), "{found:?}");
        assert!(
            !found
                .iter()
                .any(|(_, _, s)| s.as_deref() == Some("ENDPOINT") || s.as_deref() == Some("TMP")),
            "set by the script: {found:?}"
        );
        assert!(
            found
                .iter()
                .any(|(c, l, _)| *c == code::INSTALLS && *l == 7),
            "{found:?}"
        );
    }
}
