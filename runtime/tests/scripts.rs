//! Skills that ship scripts, from `../shared/corpus/scripted/` (real
//! packages from public repositories, used in place): `inspect` names every
//! script and what it would reach, `check` says the scripts are not
//! confined, and `init` proposes a skill.toml that passes `check`.
//! Golden files: `BLESS=1 cargo test -p runtime --test scripts` rewrites them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The scripted corpus, beside the repository (`shared/` next to the clone).
fn corpus() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/scripted");
    assert!(
        dir.is_dir(),
        "{} is missing: these tests read the scripted corpus from shared/corpus/scripted beside the repository",
        dir.display()
    );
    dir
}

fn skills() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("corpus folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("SKILL.md").is_file())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 11, "the scripted corpus holds 11 skills");
    dirs
}

fn skill_run(args: &[&str], state: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skill-run"))
        .args(args)
        .env("SKILL_RUN_STATE", state)
        .env("SKILL_RUN_CACHE_DIR", state.join("cache"))
        .output()
        .expect("skill-run runs")
}

fn text(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn inspect_json(skill: &Path, state: &Path) -> Value {
    let o = skill_run(&["inspect", text(skill), "--json"], state);
    assert_eq!(o.status.code(), Some(0), "{}: {}", skill.display(), err(&o));
    serde_json::from_slice(&o.stdout).expect("inspect --json is JSON")
}

/// Every file an independent walk calls a script by its extension.
fn scripts_by_extension(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            scripts_by_extension(root, &path, out);
        } else if ["py", "js", "mjs", "cjs", "ts", "sh"]
            .iter()
            .any(|e| path.extension().is_some_and(|x| x == *e))
        {
            let relative = path.strip_prefix(root).expect("inside");
            out.insert(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// What each corpus skill's scripts reach, read from their code by hand
/// (SOURCES.md): programs started, hosts, secrets, third-party imports.
/// (folder, programs, hosts, secrets, third-party imports).
type Expected = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

const EXPECTED: &[Expected] = &[
    (
        "K-Dense-AI__claude-scientific-skills__citation-management",
        &[],
        &[
            "https://api.crossref.org",
            "https://eutils.ncbi.nlm.nih.gov",
            "https://doi.org",
        ],
        &["NCBI_API_KEY"],
        &["requests", "scholarly"],
    ),
    (
        "K-Dense-AI__claude-scientific-skills__get-available-resources",
        &["nvidia-smi", "rocm-smi", "sysctl", "system_profiler"],
        &[],
        &[],
        &["psutil"],
    ),
    (
        "anthropics__skills__mcp-builder",
        &[],
        &[],
        &[],
        &["anthropic", "mcp"],
    ),
    (
        "anthropics__skills__skill-creator",
        &["claude", "lsof"],
        &[],
        &["*"],
        &["yaml"],
    ),
    (
        "github__awesome-copilot__md-to-docx",
        &[],
        &[],
        &[],
        &["docx", "marked"],
    ),
    (
        "github__awesome-copilot__pr-dashboard",
        &["gh"],
        &[],
        &[],
        &[],
    ),
    ("obra__superpowers__writing-skills", &["dot"], &[], &[], &[]),
    (
        "openai__skills__.curated+gh-address-comments",
        &["gh"],
        &[],
        &[],
        &[],
    ),
    (
        "openai__skills__.system+skill-installer",
        &["git"],
        &["https://api.github.com", "https://codeload.github.com"],
        &["GITHUB_TOKEN", "GH_TOKEN"],
        &[],
    ),
    (
        "openclaw__skills__dpaluy+reve-ai",
        &[],
        &["https://api.reve.com"],
        &["REVE_API_KEY", "REVE_AI_API_KEY"],
        &[],
    ),
    (
        "vercel-labs__agent-skills__deploy-to-vercel",
        &["curl", "tar"],
        &[
            "https://claude-skills-deploy.vercel.com",
            "https://codex-deploy-skills.vercel.sh",
        ],
        &[],
        &[],
    ),
];

#[test]
fn every_scripted_corpus_skill_names_its_scripts_and_what_they_reach() {
    let state = tempfile::tempdir().expect("state");
    let skills = skills();
    assert_eq!(skills.len(), EXPECTED.len());
    for (skill, (folder, programs, hosts, secrets, imports)) in skills.iter().zip(EXPECTED) {
        assert!(skill.ends_with(folder), "{} vs {folder}", skill.display());
        let doc = inspect_json(skill, state.path());
        let listed: BTreeSet<String> = doc["scripts"]["files"]
            .as_array()
            .expect("files")
            .iter()
            .filter(|f| f["kind"] == "script")
            .map(|f| f["path"].as_str().expect("path").to_owned())
            .collect();
        let mut expected = BTreeSet::new();
        scripts_by_extension(skill, skill, &mut expected);
        assert!(!expected.is_empty(), "{folder} ships scripts");
        assert!(
            listed.is_superset(&expected),
            "{folder}: listed {listed:?}, expected {expected:?}"
        );

        let first = doc["capabilities_in_words"][0].as_str().unwrap_or("");
        assert!(first.starts_with("NOT CONFINED"), "{folder}: {first}");
        assert!(
            doc["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .any(|f| f["code"] == "unconfined-scripts"),
            "{folder}"
        );

        let reach = |key: &str| -> BTreeSet<String> {
            doc["scripts"]["files"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|f| strings(&f["reaches"][key]))
                .collect()
        };
        for (key, wanted) in [
            ("programs", programs),
            ("hosts", hosts),
            ("secrets", secrets),
            ("third_party", imports),
        ] {
            let found = reach(key);
            for w in *wanted {
                assert!(found.contains(*w), "{folder}: {key} {found:?} lacks {w}");
            }
        }
        let any_reach = doc["scripts"]["files"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| {
                f["reaches"].as_object().is_some_and(|r| {
                    r.values().any(|v| {
                        v == &Value::Bool(true) || v.as_array().is_some_and(|a| !a.is_empty())
                    })
                })
            });
        assert!(any_reach, "{folder}: no script reaches anything");

        let human = skill_run(&["inspect", text(skill)], state.path());
        assert_eq!(human.status.code(), Some(0), "{}", err(&human));
        let report = out(&human);
        assert!(
            !report.contains("nothing outside itself"),
            "{folder}: {report}"
        );
        assert!(!report.contains("nothing to run"), "{folder}: {report}");
        let after = report.split("It can:\n").nth(1).unwrap_or("");
        assert!(
            after.trim_start().starts_with("- NOT CONFINED"),
            "{folder}: the statement comes first: {report}"
        );
        for script in &expected {
            assert!(
                report.contains(&format!("  {script} (")),
                "{folder}: {script} not in {report}"
            );
        }
    }
}

/// Each scanned script says what would stop it in a sandbox, or that nothing found would.
#[test]
fn each_script_says_what_would_stop_it_in_a_sandbox() {
    let state = tempfile::tempdir().expect("state");
    let doc = inspect_json(
        &corpus().join("openai__skills__.system+skill-installer"),
        state.path(),
    );
    let blockers = |path: &str| -> Vec<String> {
        doc["scripts"]["files"]
            .as_array()
            .expect("files")
            .iter()
            .find(|f| f["path"] == path)
            .map(|f| strings(&f["sandbox_blockers"]).into_iter().collect())
            .expect("listed")
    };
    let install = blockers("scripts/install-skill-from-github.py");
    assert!(
        install
            .iter()
            .any(|b| b.starts_with("starts other programs (git)")),
        "{install:?}"
    );
    assert!(
        install.iter().any(|b| b.contains("~/.codex")),
        "{install:?}"
    );
    assert_eq!(
        blockers("scripts/github_utils.py"),
        Vec::<String>::new(),
        "stdlib HTTP only"
    );
    let human = out(&skill_run(
        &[
            "inspect",
            text(&corpus().join("openai__skills__.system+skill-installer")),
        ],
        state.path(),
    ));
    assert!(
        human.contains("in a sandbox it would fail: starts other programs (git)"),
        "{human}"
    );
    assert!(
        human.contains("in a sandbox: nothing found that a grant could not give"),
        "{human}"
    );
}

#[test]
fn binaries_and_archives_are_reported_by_their_bytes() {
    let state = tempfile::tempdir().expect("state");
    let skill = corpus().join("vercel-labs__agent-skills__deploy-to-vercel");
    let doc = inspect_json(&skill, state.path());
    let zip = doc["scripts"]["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "Archive.zip")
        .expect("Archive.zip is listed");
    assert_eq!(zip["kind"], "archive");
    assert_eq!(zip["format"], "zip");
    assert!(
        doc["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["code"] == "bundled-archive" && f["file"] == "Archive.zip"),
        "{}",
        doc["findings"]
    );
}

#[test]
fn check_says_the_scripts_are_not_confined() {
    let state = tempfile::tempdir().expect("state");
    let skill = corpus().join("openai__skills__.system+skill-installer");
    let o = skill_run(&["check", text(&skill)], state.path());
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    assert!(text.contains("instruction-only"), "{text}");
    assert!(text.contains("warning: NOT CONFINED"), "{text}");
    assert!(
        text.contains("scripts/install-skill-from-github.py"),
        "{text}"
    );
}

fn golden(relative: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/golden")
        .join(relative);
    if std::env::var_os("BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("golden folder");
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run BLESS=1 cargo test -p runtime --test scripts",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{relative} differs from today's output; if the change is intended, run BLESS=1 cargo test -p runtime --test scripts and review the diff\n{actual}"
    );
}

/// The `scripts` part of `inspect --json` for three skills (Python, TypeScript, shell).
#[test]
fn golden_scripts_json() {
    let state = tempfile::tempdir().expect("state");
    for (file, skill) in [
        (
            "scripts/skill-installer.json",
            "openai__skills__.system+skill-installer",
        ),
        ("scripts/reve-ai.json", "openclaw__skills__dpaluy+reve-ai"),
        (
            "scripts/deploy-to-vercel.json",
            "vercel-labs__agent-skills__deploy-to-vercel",
        ),
    ] {
        let doc = inspect_json(&corpus().join(skill), state.path());
        golden(
            file,
            &(serde_json::to_string_pretty(&doc["scripts"]).expect("json") + "\n"),
        );
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// `init` on a copy of each corpus skill: the proposal is the reviewed one
/// committed under golden/init, it passes `check`, `run` refuses it with
/// the reason, and a second `init` never overwrites it.
#[test]
fn init_proposals_pass_check_and_are_pinned() {
    let state = tempfile::tempdir().expect("state");
    for skill in skills() {
        let folder = skill
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let work = tempfile::tempdir().expect("work");
        let package = work.path().join("pkg");
        copy_tree(&skill, &package);
        let p = text(&package);

        let printed = skill_run(&["init", p, "--print"], state.path());
        assert_eq!(
            printed.status.code(),
            Some(0),
            "{folder}: {}",
            err(&printed)
        );
        assert!(
            !package.join("skill.toml").exists(),
            "--print writes nothing"
        );

        let o = skill_run(&["init", p], state.path());
        assert_eq!(o.status.code(), Some(0), "{folder}: {}", err(&o));
        let written =
            std::fs::read_to_string(package.join("skill.toml")).expect("skill.toml written");
        assert_eq!(
            written,
            out(&printed),
            "{folder}: --print shows what init writes"
        );
        golden(&format!("init/{folder}.toml"), &written);

        let checked = skill_run(&["check", p], state.path());
        assert_eq!(
            checked.status.code(),
            Some(0),
            "{folder}: {}\n{written}",
            err(&checked)
        );
        assert!(
            out(&checked).contains("valid script skill"),
            "{folder}: {}",
            out(&checked)
        );

        // `main` is no script: refused before anything runs, whether the
        // runtime is python (which needs a .py path, or a runner) or one
        // that is not available yet.
        let run = skill_run(&["run", p, "main"], state.path());
        assert_eq!(run.status.code(), Some(2), "{folder}: {}", err(&run));
        assert!(
            err(&run).contains("only `runtime = \"python\"` has a script runtime")
                || err(&run).contains("not a Python script")
                || err(&run).contains("Python runner"),
            "{folder}: {}",
            err(&run)
        );

        std::fs::write(package.join("skill.toml"), "# mine, not a manifest\n").expect("replace");
        let again = skill_run(&["init", p], state.path());
        assert_eq!(again.status.code(), Some(2), "{folder}");
        assert!(
            err(&again).contains("never overwrites"),
            "{folder}: {}",
            err(&again)
        );
        assert_eq!(
            std::fs::read_to_string(package.join("skill.toml")).expect("still there"),
            "# mine, not a manifest\n"
        );
    }
}

/// A component skill that ships nothing else gets no script section and
/// no statement: its component is confined and described as such.
#[test]
fn a_component_skill_without_scripts_has_no_script_report() {
    let state = tempfile::tempdir().expect("state");
    let hello = skill_test_artifacts::TempPackage::example("hello", skill_test_artifacts::HELLO);
    let doc = inspect_json(&hello.path(), state.path());
    assert_eq!(
        doc["scripts"]["files"],
        serde_json::json!([]),
        "{}",
        doc["scripts"]
    );
    assert!(doc["scripts"]["statement"].is_null());
    assert!(
        !doc["capabilities_in_words"]
            .to_string()
            .contains("NOT CONFINED")
    );
    let human = out(&skill_run(&["inspect", text(&hello.path())], state.path()));
    assert!(
        !human.contains("NOT confined") && !human.contains("NOT CONFINED"),
        "{human}"
    );
    assert!(human.contains("Component: "), "{human}");

    std::fs::write(
        hello.path().join("helper.sh"),
        "#!/bin/sh\ncurl -s https://api.example.org/x\n",
    )
    .expect("script");
    let doc = inspect_json(&hello.path(), state.path());
    let first = doc["capabilities_in_words"][0].as_str().unwrap_or("");
    assert!(
        first.starts_with("NOT CONFINED: this skill ships 1 script (1 shell)"),
        "{first}"
    );
    let checked = skill_run(&["check", text(&hello.path())], state.path());
    assert_eq!(checked.status.code(), Some(0), "{}", err(&checked));
    assert!(
        out(&checked).contains("warning: NOT CONFINED"),
        "{}",
        out(&checked)
    );
}
