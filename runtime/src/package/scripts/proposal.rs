//! `skill-run init`: a proposed `skill.toml` for a skill that ships
//! scripts and has none, built only from what the scan found. Every
//! proposed line carries the file and line it came from; what a sandbox
//! can never grant (processes, the home folder, raw connections) is listed
//! as comments, so the reviewer sees what will not work.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{
    FileKind, Language, ScriptFinding, ScriptReport, code, is_placeholder_host, is_vendored,
    looks_secret,
};
use crate::package::{Manifest, Package, ScriptRuntime, SkillName};

/// Where a proposed value came from: `file:line`, several joined with `, `.
fn origin(findings: &[&ScriptFinding]) -> String {
    let mut sites: Vec<String> = findings
        .iter()
        .map(|f| match f.line {
            Some(l) => format!("{}:{l}", f.file),
            None => f.file.clone(),
        })
        .collect();
    sites.dedup();
    let more = sites.len().saturating_sub(3);
    sites.truncate(3);
    let mut text = sites.join(", ");
    if more > 0 {
        let _ = write!(text, " and {more} more");
    }
    text
}

fn quote(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// The script runtime a package's scripts call for: Python if it ships any
/// Python, else JavaScript/TypeScript, else shell.
pub fn runtime_for(report: &ScriptReport) -> Option<ScriptRuntime> {
    let has = |wanted: &[Language]| {
        report.scripts().any(|f| match &f.kind {
            FileKind::Script { language, .. } => wanted.contains(language),
            _ => false,
        })
    };
    if has(&[Language::Python]) {
        Some(ScriptRuntime::Python)
    } else if has(&[Language::Javascript, Language::Typescript]) {
        Some(ScriptRuntime::Javascript)
    } else if has(&[Language::Shell]) {
        Some(ScriptRuntime::Shell)
    } else {
        None
    }
}

/// Builds the proposed `skill.toml` text. Refuses a package that already
/// has one, one with no scripts, and a SKILL.md without a valid name. The
/// text is checked with the manifest parser before it is returned.
pub fn propose(package: &Package, report: &ScriptReport) -> Result<String, String> {
    if package.manifest.is_some() || package.root.join("skill.toml").exists() {
        return Err("it already has a skill.toml; `skill-run init` never overwrites one".into());
    }
    let Some(runtime) = runtime_for(report) else {
        return Err("it ships no Python, JavaScript, TypeScript or shell scripts, so there is nothing a script runtime could run (an instruction-only skill needs no skill.toml)".into());
    };
    let name = package.instructions.name().ok_or(
        "SKILL.md has no `name` in its frontmatter: add one, the manifest's name must equal it",
    )?;
    SkillName::parse(name)
        .map_err(|e| format!("SKILL.md's name cannot be a manifest name: {e}"))?;

    // What the author's scripts do: vendored libraries are the skill's
    // code too (and confined with it), but grants come from its own scripts.
    let script_findings: Vec<&ScriptFinding> = report
        .findings
        .iter()
        .filter(|f| !is_vendored(&f.file))
        .collect();
    let network_files: Vec<&str> = script_findings
        .iter()
        .filter(|f| f.code == code::NETWORK)
        .map(|f| f.file.as_str())
        .collect();
    let instruction_network_lines: Vec<usize> = report
        .instructions
        .iter()
        .filter(|f| f.code == code::NETWORK)
        .filter_map(|f| f.line)
        .collect();

    // Hosts: from scripts that use the network, and from instruction lines that call them.
    let mut hosts: BTreeMap<String, Vec<&ScriptFinding>> = BTreeMap::new();
    let mut skipped_hosts: BTreeMap<String, Vec<&ScriptFinding>> = BTreeMap::new();
    let host_sources = script_findings
        .iter()
        .copied()
        .filter(|f| f.code == code::HOST && network_files.contains(&f.file.as_str()))
        .chain(report.instructions.iter().filter(|f| {
            f.code == code::HOST
                && f.line
                    .is_some_and(|l| instruction_network_lines.contains(&l))
        }));
    for f in host_sources {
        let Some(origin) = &f.subject else { continue };
        let host = origin
            .split("://")
            .nth(1)
            .unwrap_or("")
            .split(':')
            .next()
            .unwrap_or("");
        let http = origin.starts_with("http://") || origin.starts_with("https://");
        if !http || is_placeholder_host(host) {
            skipped_hosts.entry(origin.clone()).or_default().push(f);
        } else {
            hosts.entry(format!("{origin}/")).or_default().push(f);
        }
    }

    let all: Vec<&ScriptFinding> = script_findings
        .iter()
        .copied()
        .chain(report.instructions.iter())
        .collect();
    let by_subject = |wanted: &str| {
        let mut map: BTreeMap<String, Vec<&ScriptFinding>> = BTreeMap::new();
        for f in all.iter().filter(|f| f.code == wanted) {
            if let Some(s) = &f.subject {
                map.entry(s.clone()).or_default().push(f);
            }
        }
        map
    };
    let env = by_subject(code::READS_ENV);
    let mut secrets = by_subject(code::READS_SECRET);
    let whole_env = secrets.remove("*");
    let headers = by_subject(code::AUTH_HEADER);

    let mut out = String::new();
    let confinement = if runtime == ScriptRuntime::Python {
        "`skill-run run PKG scripts/X.py`\n\
         # runs the Python scripts confined to these grants; run any other way, they are NOT.\n"
    } else {
        "Until the `{runtime}` script runtime\n\
         # is available, these scripts are NOT confined: this file documents what they reach.\n"
    };
    let _ = writeln!(
        out,
        "# Proposed by `skill-run init` from a static scan of this package's scripts and\n\
         # SKILL.md: every value names the file and line it came from, and nothing the scan\n\
         # did not find is proposed. Review it before use. {}",
        confinement.replace("{runtime}", runtime.as_str())
    );
    let _ = writeln!(out, "[skill]");
    let _ = writeln!(out, "name = {}  # SKILL.md: name", quote(name));
    let _ = writeln!(
        out,
        "version = \"0.1.0\"  # the package states no version: set the skill's own"
    );
    let languages: Vec<String> = report
        .authored_scripts()
        .filter(|f| matches!(&f.kind, FileKind::Script { language, .. } if runtime_matches(runtime, language)))
        .map(|f| f.path.clone())
        .collect();
    let _ = writeln!(
        out,
        "runtime = {}  # scripts: {}",
        quote(runtime.as_str()),
        clip_list(&languages)
    );
    let others: Vec<String> = report
        .authored_scripts()
        .filter(|f| matches!(&f.kind, FileKind::Script { language, .. } if !runtime_matches(runtime, language)))
        .map(|f| f.path.clone())
        .collect();
    if !others.is_empty() {
        let _ = writeln!(
            out,
            "# not run by this runtime (another language): {}",
            clip_list(&others)
        );
    }

    let _ = writeln!(out, "\n[capabilities]");
    if hosts.is_empty() {
        let _ = writeln!(
            out,
            "# network: no host found in scripts that use the network"
        );
    } else {
        let _ = writeln!(out, "network = [");
        for (url, from) in &hosts {
            let _ = writeln!(out, "  {},  # {}", quote(url), origin(from));
        }
        let _ = writeln!(out, "]");
    }
    for (o, from) in &skipped_hosts {
        let _ = writeln!(
            out,
            "# not proposed: {o} ({}) is loopback, an example, a namespace or not HTTP",
            origin(from)
        );
    }

    // Secrets: a secret-looking name goes to the host its name points at, in
    // the header the same file sends credentials in.
    let mut secret_lines = Vec::new();
    let mut unplaced = Vec::new();
    for (name, from) in &secrets {
        let files: Vec<&str> = from.iter().map(|f| f.file.as_str()).collect();
        let host = host_for_secret(name, &hosts, &files);
        let header = headers
            .iter()
            .find(|(_, fs)| fs.iter().any(|f| files.contains(&f.file.as_str())))
            .map(|(h, fs)| (h.clone(), fs.clone()));
        // A Python script reads its key from the environment: with
        // `expose = "env"` it gets a placeholder there, which the host
        // replaces by the value only in requests to the proposed host.
        let python = runtime == ScriptRuntime::Python;
        let expose = if python { ", expose = \"env\"" } else { "" };
        match (host, header) {
            (Some((host, host_from)), Some((header, header_from))) => {
                let (header_name, format) = match header.split_once(": ") {
                    Some((h, scheme)) => (h.to_owned(), format!("{scheme} {{}}")),
                    None => (header.clone(), "{}".to_owned()),
                };
                secret_lines.push(format!(
                    "  {{ name = {}, host = {}, header = {}, format = {}{expose} }},  # read at {}; host {}; header {}",
                    quote(name),
                    quote(&host),
                    quote(&header_name),
                    quote(&format),
                    origin(from),
                    origin(&host_from),
                    origin(&header_from)
                ));
            }
            (Some((host, host_from)), None) if python => secret_lines.push(format!(
                "  {{ name = {}, host = {}{expose} }},  # read at {}; host {}; the script puts it in its requests itself, as a placeholder",
                quote(name),
                quote(&host),
                origin(from),
                origin(&host_from)
            )),
            (host, _) => unplaced.push(format!(
                "# secret {name} (read at {}): not proposed, the scan found {}; the runtime adds a secret to requests itself, so name its host and header here by hand",
                origin(from),
                if host.is_none() { "no host its name points at" } else { "no header that carries it" }
            )),
        }
    }
    if !secret_lines.is_empty() {
        let _ = writeln!(out, "secrets = [");
        for l in &secret_lines {
            let _ = writeln!(out, "{l}");
        }
        let _ = writeln!(out, "]");
    }
    for l in &unplaced {
        let _ = writeln!(out, "{l}");
    }
    if let Some(from) = whole_env {
        let _ = writeln!(
            out,
            "# not proposed: {} reads or hands on the whole environment; a sandbox passes only the names listed in `env`",
            origin(&from)
        );
    }

    let env_names: Vec<(&String, &Vec<&ScriptFinding>)> = env
        .iter()
        .filter(|(n, _)| !looks_secret(n) && !secrets.contains_key(*n))
        .collect();
    if !env_names.is_empty() {
        let _ = writeln!(out, "env = [");
        for (n, from) in env_names {
            let _ = writeln!(out, "  {},  # {}", quote(n), origin(from));
        }
        let _ = writeln!(out, "]");
    }

    let writes: Vec<&ScriptFinding> = script_findings
        .iter()
        .copied()
        .filter(|f| f.code == code::WRITES_FILES)
        .collect();
    if !writes.is_empty() {
        let _ = writeln!(out, "files = [");
        let _ = writeln!(
            out,
            "  {{ guest = \"/workspace\", host = \"{{workspace}}\", access = \"read-write\" }},  # writes files: {}",
            origin(&writes)
        );
        let _ = writeln!(out, "]");
    }

    let never: Vec<(&str, &str)> = vec![
        (
            code::RUNS_PROCESS,
            "starts other programs; a sandbox has no processes",
        ),
        (
            code::PATH_OUTSIDE,
            "names paths outside the package; only granted folders exist in a sandbox",
        ),
        (
            code::SENSITIVE_PATH,
            "names a credential store; never granted",
        ),
        (
            code::INSTALLS,
            "installs packages at run time; vendor them into the package instead",
        ),
        (
            code::THIRD_PARTY,
            "imports third-party packages; they must ship inside the package",
        ),
    ];
    let mut notes = Vec::new();
    for (wanted, why) in never {
        let hits: Vec<&ScriptFinding> = script_findings
            .iter()
            .copied()
            .filter(|f| f.code == wanted)
            .collect();
        if !hits.is_empty() {
            let mut subjects: Vec<&str> =
                hits.iter().filter_map(|f| f.subject.as_deref()).collect();
            subjects.sort_unstable();
            subjects.dedup();
            let named = if subjects.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    clip_list(&subjects.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                )
            };
            notes.push(format!("#   {}{named}: {why}", origin(&hits)));
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(
            out,
            "\n# What no grant gives these scripts (they fail or need changes in a sandbox):"
        );
        for n in notes {
            let _ = writeln!(out, "{n}");
        }
    }
    Manifest::parse(&out).map_err(|e| {
        format!("the proposal does not parse, which is a bug in `skill-run init`: {e}\n{out}")
    })?;
    Ok(out)
}

fn runtime_matches(runtime: ScriptRuntime, language: &Language) -> bool {
    match runtime {
        ScriptRuntime::Python => *language == Language::Python,
        ScriptRuntime::Javascript => {
            matches!(language, Language::Javascript | Language::Typescript)
        }
        ScriptRuntime::Shell => *language == Language::Shell,
    }
}

fn clip_list(items: &[String]) -> String {
    let more = items.len().saturating_sub(4);
    let mut text = items.iter().take(4).cloned().collect::<Vec<_>>().join(", ");
    if more > 0 {
        let _ = write!(text, " and {more} more");
    }
    text
}

/// The proposed host a secret's name points at (`REVE_API_KEY` ->
/// `api.reve.com`), else the only host named in the files that read it.
fn host_for_secret<'a>(
    name: &str,
    hosts: &'a BTreeMap<String, Vec<&'a ScriptFinding>>,
    files: &[&str],
) -> Option<(String, Vec<&'a ScriptFinding>)> {
    let host_of = |url: &str| {
        url.split("://")
            .nth(1)
            .unwrap_or("")
            .trim_end_matches('/')
            .split(':')
            .next()
            .unwrap_or("")
            .to_owned()
    };
    // A secret goes to one exact host name or IPv4 address, never an IPv6 literal.
    let usable = |url: &String| !host_of(url).starts_with('[');
    let first = name.split('_').next().unwrap_or("").to_ascii_lowercase();
    if first.len() >= 2
        && let Some((url, from)) = hosts
            .iter()
            .find(|(url, _)| usable(url) && host_of(url).split('.').any(|label| label == first))
    {
        return Some((host_of(url), from.clone()));
    }
    let in_files: Vec<(&String, &Vec<&ScriptFinding>)> = hosts
        .iter()
        .filter(|(url, from)| usable(url) && from.iter().any(|f| files.contains(&f.file.as_str())))
        .collect();
    match in_files.as_slice() {
        [(url, from)] => Some((host_of(url), (*from).clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package_with(script: &str) -> (tempfile::TempDir, Package) {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("SKILL.md"),
            "---\nname: probe\ndescription: d\n---\n",
        )
        .expect("SKILL.md");
        std::fs::write(dir.path().join("run.py"), script).expect("script");
        let package = Package::read(dir.path()).expect("reads");
        (dir, package)
    }

    #[test]
    fn a_secret_for_an_ipv6_literal_is_left_as_a_comment_and_the_proposal_still_parses() {
        let (_dir, package) = package_with(
            "import os, urllib.request\nk = os.environ['PROBE_TOKEN']\nurllib.request.urlopen(urllib.request.Request('http://[fd00::2]:8080/x', headers={'Authorization': 'Bearer ' + k}))\n",
        );
        let text = propose(&package, &package.scripts()).expect("proposal");
        let manifest = Manifest::parse(&text).expect("parses");
        assert!(manifest.grants.secrets.is_empty(), "{text}");
        assert!(text.contains("# secret PROBE_TOKEN"), "{text}");
        assert_eq!(manifest.grants.network.len(), 1, "{text}");
    }

    #[test]
    fn a_package_without_scripts_gets_no_proposal() {
        let (dir, _) = package_with("");
        std::fs::remove_file(dir.path().join("run.py")).expect("rm");
        let package = Package::read(dir.path()).expect("reads");
        let err = propose(&package, &package.scripts()).expect_err("nothing to propose");
        assert!(err.contains("no Python"), "{err}");
    }
}
