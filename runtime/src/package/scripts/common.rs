//! Patterns every language shares: URLs and the hosts they name, package
//! installs at run time, paths outside the package, secret-looking names.
//! Every pattern is a `regex` (linear time) applied to one line at a time.

use std::sync::LazyLock;

use regex::Regex;

use super::findings::{Collector, code};
use crate::package::Severity;

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:https?|wss?|ftp)://(?:\[[0-9a-f:.]+\])?[^\s"'`<>()\[\]{}\\,;|^]*"#)
        .expect("valid regex")
});

static GIT_SSH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bgit@([A-Za-z0-9.-]+\.[A-Za-z]{2,}):").expect("valid regex"));

static INSTALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?i)(?:\b(?:pip3?|pipx)\s+install\b|\bpython3?\s+-m\s+pip\s+install\b|\buv\s+(?:pip\s+install|add|tool\s+install)\b|\buvx\s"#,
        r#"|\bnpm\s+(?:install|i|ci|add)\b|\bnpx\s|\bpnpm\s+(?:add|install|i|dlx)\b|\byarn\s+(?:add|install|dlx)\b|\bbunx?\s+(?:add|install|i|x)\b"#,
        r#"|\bgem\s+install\b|\bcargo\s+install\b|\bgo\s+(?:install|get)\b|\bapt(?:-get)?\s+install\b|\bbrew\s+install\b|\bconda\s+install\b"#,
        r#"|["'](?:pip3?|npm|pnpm|yarn|uv)["']\s*,\s*["'](?:install|i|add|ci)["']|\bpip\.main\s*\()"#,
    ))
    .expect("valid regex")
});

static PIPE_TO_SHELL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:curl|wget|iwr|irm)\b[^|\n]*\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b|\b(?:ba|z)?sh\s+<\(\s*(?:curl|wget)\b|\biex\s*\(")
        .expect("valid regex")
});

static SENSITIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(~/\.ssh\b|\.ssh/|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|\.aws/credentials|\.netrc\b|\.npmrc\b|\.pypirc\b|\.docker/config\.json|\.kube/config|\.gnupg\b|/etc/shadow\b|/etc/sudoers\b|\.git-credentials\b|\.config/gh/hosts\.yml|\bkeychain\b|wallet\.dat|Login Data\b|\.bash_history\b)")
        .expect("valid regex")
});

static HOME_LITERAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"["'`](~(?:/[^"'`\s]*)?)["'`]"#).expect("valid regex"));

static ABSOLUTE_LITERAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"["'`](/(?:etc|usr|var|tmp|home|Users|root|opt|proc|sys|dev|private|Library|Applications|mnt|srv|bin|sbin|Volumes)(?:/[^"'`\s]*)?|[A-Za-z]:\\\\[^"'`]*)["'`]"#)
        .expect("valid regex")
});

static SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(KEY|TOKEN|SECRET|PASSW|PASSPHRASE|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|_PAT$|^PAT_|DSN$|SIGNATURE|BEARER)")
        .expect("valid regex")
});

static AUTH_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)["'`]?\b(authorization|x-api-key|api-key|x-auth-token|private-token)["'`]?\]?\s*[:=,]\s*[fr]?["'`]?(bearer|token|basic)?\b"#)
        .expect("valid regex")
});

/// Hosts that name a format or a namespace, never a server a script calls.
const NAMESPACE_HOSTS: &[&str] = &[
    "www.w3.org",
    "w3.org",
    "schemas.openxmlformats.org",
    "schemas.microsoft.com",
    "purl.org",
    "json-schema.org",
    "ns.adobe.com",
    "xmlns.com",
];

/// The 1-based character column of byte offset `at` in `line`.
pub(crate) fn column(line: &str, at: usize) -> usize {
    line.get(..at).map_or(1, |s| s.chars().count() + 1)
}

/// Whether an environment variable name looks like it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    SECRET_NAME.is_match(name)
}

/// Whether a host is one a skill would never be granted: loopback,
/// reserved example names, XML namespaces.
pub fn is_placeholder_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host == "localhost"
        || host.ends_with(".localhost")
        || host.starts_with("127.")
        || host == "0.0.0.0"
        || host == "::1"
        || host == "[::1]"
        || ["example.com", "example.org", "example.net"]
            .iter()
            .any(|e| host == *e || host.ends_with(&format!(".{e}")))
        || [".example", ".test", ".invalid", ".local"]
            .iter()
            .any(|t| host.ends_with(t))
        || NAMESPACE_HOSTS.contains(&host)
}

/// A URL's scheme and host, if the text is a URL with a real host name.
fn url_host(text: &str) -> Option<(String, String, Option<u16>)> {
    let candidate = text.trim_end_matches(['.', ',', ';', ':', '!', '?', '*']);
    let url = url::Url::parse(candidate).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let plausible = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
        && (host.contains('.') || host == "localhost" || host.starts_with('['));
    plausible.then(|| (url.scheme().to_owned(), host, url.port()))
}

/// Reports every URL host on a line (`script-host`, subject `scheme://host[:port]`).
pub(crate) fn hosts(line: &str, number: usize, c: &mut Collector) {
    for m in URL.find_iter(line) {
        if let Some((scheme, host, port)) = url_host(m.as_str()) {
            let origin = match port {
                Some(p) => format!("{scheme}://{host}:{p}"),
                None => format!("{scheme}://{host}"),
            };
            let note = if is_placeholder_host(&host) {
                " (loopback, an example or a namespace: not proposed as a grant)"
            } else {
                ""
            };
            c.fact(
                code::HOST,
                Severity::Info,
                (number, column(line, m.start())),
                &origin,
                format!("names host {host} ({}){note}", m.as_str()),
            );
        }
    }
    for cap in GIT_SSH.captures_iter(line) {
        if let Some(m) = cap.get(1) {
            let host = m.as_str().to_ascii_lowercase();
            c.fact(
                code::HOST,
                Severity::Info,
                (number, column(line, m.start())),
                &format!("ssh://{host}"),
                format!("names host {host} over git+ssh (uses the user's SSH keys)"),
            );
        }
    }
}

/// Reports package installs and downloads piped into a shell.
pub(crate) fn installs(line: &str, number: usize, c: &mut Collector) {
    if let Some(m) = PIPE_TO_SHELL.find(line) {
        c.use_at(
            code::INSTALLS,
            Severity::Error,
            (number, column(line, m.start())),
            None,
            format!(
                "downloads code and runs it in a shell: `{}`",
                clip(m.as_str(), 80)
            ),
        );
    } else if let Some(m) = INSTALL.find(line) {
        c.use_at(
            code::INSTALLS,
            Severity::Warning,
            (number, column(line, m.start())),
            None,
            format!(
                "installs packages at run time (`{}`): code that nobody reviewed with this skill",
                clip(m.as_str(), 60)
            ),
        );
    }
}

/// Reports credentials sent in a request header (subject `Header: Scheme`).
pub(crate) fn auth_header(line: &str, number: usize, c: &mut Collector) {
    if let Some(cap) = AUTH_HEADER.captures(line)
        && let Some(header) = cap.get(1)
    {
        let name = canonical_header(header.as_str());
        let subject = match cap.get(2) {
            Some(scheme) => {
                let mut s = scheme.as_str().to_ascii_lowercase();
                if s != "token" {
                    s[..1].make_ascii_uppercase();
                }
                format!("{name}: {s}")
            }
            None => name,
        };
        c.fact(
            code::AUTH_HEADER,
            Severity::Info,
            (number, column(line, header.start())),
            &subject,
            format!("sends credentials in a request header ({subject} …)"),
        );
    }
}

fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let lower = part.to_ascii_lowercase();
            match lower.as_str() {
                "api" => "API".to_owned(),
                _ => {
                    let mut chars = lower.chars();
                    chars.next().map_or(String::new(), |f| {
                        f.to_ascii_uppercase().to_string() + chars.as_str()
                    })
                }
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Reports credential stores, the home folder and absolute paths named in string literals.
pub(crate) fn paths(line: &str, number: usize, c: &mut Collector) {
    if let Some(m) = SENSITIVE.find(line) {
        c.fact(
            code::SENSITIVE_PATH,
            Severity::Error,
            (number, column(line, m.start())),
            m.as_str(),
            format!("names a credential store: {}", m.as_str()),
        );
    }
    for cap in HOME_LITERAL.captures_iter(line) {
        if let Some(m) = cap.get(1) {
            outside(c, line, number, m.start(), m.as_str(), "in the home folder");
        }
    }
    for cap in ABSOLUTE_LITERAL.captures_iter(line) {
        if let Some(m) = cap.get(1) {
            outside(
                c,
                line,
                number,
                m.start(),
                m.as_str(),
                "outside the package",
            );
        }
    }
}

/// Reports a path outside the package.
pub(crate) fn outside(
    c: &mut Collector,
    line: &str,
    number: usize,
    at: usize,
    path: &str,
    where_: &str,
) {
    c.fact(
        code::PATH_OUTSIDE,
        Severity::Warning,
        (number, column(line, at)),
        path,
        format!("names a path {where_}: {}", clip(path, 80)),
    );
}

/// Reports an environment variable read.
pub(crate) fn env(c: &mut Collector, line: &str, number: usize, at: usize, name: &str) {
    if looks_secret(name) {
        c.fact(
            code::READS_SECRET,
            Severity::Warning,
            (number, column(line, at)),
            name,
            format!("reads environment variable {name}, which looks like a secret"),
        );
    } else {
        c.fact(
            code::READS_ENV,
            Severity::Info,
            (number, column(line, at)),
            name,
            format!("reads environment variable {name}"),
        );
    }
}

/// Reports a script that reads or hands on the whole environment.
pub(crate) fn whole_env(c: &mut Collector, line: &str, number: usize, at: usize, how: &str) {
    c.use_at(
        code::READS_SECRET,
        Severity::Warning,
        (number, column(line, at)),
        Some("*"),
        format!("{how}: every variable, secrets included"),
    );
}

/// At most `max` characters of `text`, with `…` when cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push('…');
    out
}

/// A language's patterns for the findings every scanner reports the same
/// way: the whole environment, paths outside the package, file writes and
/// code built at run time.
pub(crate) struct EffectPatterns<'a> {
    /// Reads or hands on the whole environment.
    pub whole_env: &'a Regex,
    /// Names the home folder.
    pub home: &'a Regex,
    /// Names the system's temporary folder.
    pub temp: &'a Regex,
    /// Writes, moves or deletes files.
    pub writes: &'a Regex,
    /// A literal path on a writing line (group 1).
    pub literal_path: &'a Regex,
    /// Evaluates code built at run time.
    pub dynamic: &'a Regex,
}

/// Reports on one line what [`EffectPatterns`] find, as every scanner does.
pub(crate) fn effects(c: &mut Collector, line: &str, number: usize, p: &EffectPatterns<'_>) {
    if let Some(m) = p.whole_env.find(line) {
        whole_env(
            c,
            line,
            number,
            m.start(),
            "reads or hands on the whole environment",
        );
    }
    if let Some(m) = p.home.find(line) {
        outside(c, line, number, m.start(), "~", "in the home folder");
    }
    if let Some(m) = p.temp.find(line) {
        outside(
            c,
            line,
            number,
            m.start(),
            "{temp}",
            "in the system's temporary folder",
        );
    }
    if let Some(m) = p.writes.find(line) {
        let target = p
            .literal_path
            .captures(line)
            .and_then(|cap| cap.get(1))
            .map(|p| p.as_str().to_owned());
        let what = match &target {
            Some(t) => format!("writes, moves or deletes files ({t})"),
            None => "writes, moves or deletes files".to_owned(),
        };
        c.use_at(
            code::WRITES_FILES,
            Severity::Info,
            (number, column(line, m.start())),
            target.as_deref(),
            what,
        );
    }
    if let Some(m) = p.dynamic.find(line) {
        c.use_at(
            code::DYNAMIC_CODE,
            Severity::Warning,
            (number, column(line, m.start())),
            None,
            format!("runs code built at run time (`{}`)", m.as_str().trim()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_names() {
        for name in [
            "GITHUB_TOKEN",
            "REVE_API_KEY",
            "DB_PASSWORD",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in ["HOME", "LANG", "CODEX_HOME", "NCBI_EMAIL", "TMPDIR"] {
            assert!(!looks_secret(name), "{name}");
        }
    }

    #[test]
    fn placeholder_hosts_are_not_real_ones() {
        for host in [
            "localhost",
            "127.0.0.1",
            "api.example.com",
            "www.w3.org",
            "x.test",
        ] {
            assert!(is_placeholder_host(host), "{host}");
        }
        for host in ["api.github.com", "doi.org", "examples.dev"] {
            assert!(!is_placeholder_host(host), "{host}");
        }
    }

    #[test]
    fn urls_name_hosts_and_templates_do_not() {
        let mut c = Collector::new("x");
        hosts(
            r#"u = f"https://api.crossref.org/works/{doi}"; v = "https://${HOST}/x"; git@github.com:o/r"#,
            3,
            &mut c,
        );
        let subjects: Vec<_> = c.finish().into_iter().filter_map(|f| f.subject).collect();
        assert_eq!(subjects, ["https://api.crossref.org", "ssh://github.com"]);
    }
}
