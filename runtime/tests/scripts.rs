//! Skills that ship scripts, from `../shared/corpus/scripted/` (real
//! packages from public repositories, used in place): `inspect` names every
//! script and what it would reach, `check` says the scripts are not
//! confined, and `init` proposes a skill.toml that passes `check`.
//! Golden files: `BLESS=1 cargo test -p runtime --test all scripts::` rewrites them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{compile_cache, mock_api, text};
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
        .env("SKILL_RUN_CACHE_DIR", compile_cache())
        .output()
        .expect("skill-run runs")
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
            "{} is missing: run BLESS=1 cargo test -p runtime --test all scripts::",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{relative} differs from today's output; if the change is intended, run BLESS=1 cargo test -p runtime --test all scripts:: and review the diff\n{actual}"
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

/// The proposal `init --print` makes for the corpus skill at `skill`, read
/// in place (nothing is written into the corpus), saved as `file` for
/// `--manifest`.
fn proposal_in_place(skill: &Path, file: &Path, state: &Path) -> String {
    let printed = skill_run(&["init", text(skill), "--print"], state);
    assert_eq!(
        printed.status.code(),
        Some(0),
        "{}: {}",
        skill.display(),
        err(&printed)
    );
    assert!(!skill.join("skill.toml").exists(), "--print writes nothing");
    std::fs::write(file, out(&printed)).expect("proposal");
    out(&printed)
}

/// `init --print` on each corpus skill, in place: the proposal is the
/// reviewed one committed under golden/init, it passes `check` (given with
/// `--manifest`), and `run` refuses a command that is not a script.
#[test]
fn init_proposals_pass_check_and_are_pinned() {
    let state = tempfile::tempdir().expect("state");
    for skill in skills() {
        let folder = skill
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let p = text(&skill);
        let work = tempfile::tempdir().expect("work");
        let manifest = work.path().join("skill.toml");
        let proposal = proposal_in_place(&skill, &manifest, state.path());
        golden(&format!("init/{folder}.toml"), &proposal);
        let m = text(&manifest);

        let checked = skill_run(&["check", p, "--manifest", m], state.path());
        assert_eq!(
            checked.status.code(),
            Some(0),
            "{folder}: {}\n{proposal}",
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
        let run = skill_run(&["run", p, "main", "--manifest", m], state.path());
        assert_eq!(run.status.code(), Some(2), "{folder}: {}", err(&run));
        assert!(
            err(&run).contains("only `runtime = \"python\"` has a script runtime")
                || err(&run).contains("not a Python script")
                || err(&run).contains("Python runner"),
            "{folder}: {}",
            err(&run)
        );
    }
}

/// `init` without `--print` writes what `--print` shows into the package,
/// and never over an existing skill.toml (on a package of the test's own,
/// not the corpus, which is only read).
#[test]
fn init_writes_its_proposal_once_and_never_overwrites() {
    let state = tempfile::tempdir().expect("state");
    let package = tempfile::tempdir().expect("package");
    let p = text(package.path());
    std::fs::write(
        package.path().join("SKILL.md"),
        "---\nname: counter\ndescription: Counts words.\n---\nRun `python3 scripts/count.py FILE`.\n",
    )
    .expect("SKILL.md");
    std::fs::create_dir(package.path().join("scripts")).expect("scripts");
    std::fs::write(
        package.path().join("scripts/count.py"),
        "import sys\nprint(len(open(sys.argv[1]).read().split()))\n",
    )
    .expect("script");
    let printed = skill_run(&["init", p, "--print"], state.path());
    assert_eq!(printed.status.code(), Some(0), "{}", err(&printed));
    assert!(
        !package.path().join("skill.toml").exists(),
        "--print writes nothing"
    );
    let o = skill_run(&["init", p], state.path());
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let written =
        std::fs::read_to_string(package.path().join("skill.toml")).expect("skill.toml written");
    assert_eq!(written, out(&printed), "--print shows what init writes");
    let checked = skill_run(&["check", p], state.path());
    assert_eq!(
        checked.status.code(),
        Some(0),
        "{}\n{written}",
        err(&checked)
    );

    std::fs::write(
        package.path().join("skill.toml"),
        "# mine, not a manifest\n",
    )
    .expect("replace");
    let again = skill_run(&["init", p], state.path());
    assert_eq!(again.status.code(), Some(2));
    assert!(err(&again).contains("never overwrites"), "{}", err(&again));
    assert_eq!(
        std::fs::read_to_string(package.path().join("skill.toml")).expect("still there"),
        "# mine, not a manifest\n"
    );
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

// ---------------------------------------------------------------------------
// The corpus's Python scripts run in the sandbox, unmodified, from their
// `init` proposals. The list of scripts to run comes from `inspect --json`
// (every Python script without `sandbox_blockers`), so a script that loses
// its blockers must get a case here, and a case whose script gained one
// fails. Arguments, inputs and mocks are hard-coded per script.

/// `skill-run` with the runner built from this checkout and the given
/// host environment (what a grant may pass on, and secrets).
fn skill_run_script(args: &[&str], state: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_skill-run"));
    command
        .args(args)
        .env("SKILL_RUN_STATE", state)
        .env("SKILL_RUN_CACHE_DIR", compile_cache())
        .env(
            "SKILL_RUN_PYTHON_RUNNER",
            skill_test_artifacts::PYTHON_RUNNER,
        );
    for name in ["GITHUB_TOKEN", "GH_TOKEN", "CODEX_HOME", "NCBI_EMAIL"] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().expect("skill-run runs")
}

/// How one corpus script is run: its arguments, the files put in the
/// workspace (`/workspace` in the proposals), the host environment, the
/// HTTP API a loopback mock stands in for, and what its output must show.
struct ScriptRun {
    skill: &'static str,
    script: &'static str,
    /// (path in the workspace, contents).
    files: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    /// Loopback mocks: (origin the script calls, the answers to its 1st,
    /// 2nd... request; the last answers any further one).
    mocks: &'static [(&'static str, &'static [&'static str])],
    check: fn(&Output, &Path, &[Vec<String>]),
}

const REFS_BIB: &str = "@article{smith2020,
  title={Deep learning for cells},
  author={Smith, John and Doe, Jane},
  journal={Nature},
  year={2020},
  pages={1-10},
  doi={10.1038/s41586-020-0001-1}
}

@article{adams2018,
  author = {Adams, Ann},
  title = {Protein folding},
  year = {2018},
  journal = {Science}
}

@article{smith2020dup,
  title={Deep learning for cells},
  author={Smith, John and Doe, Jane},
  journal={Nature},
  year={2020},
  doi={10.1038/s41586-020-0001-1}
}
";

const CLEAN_BIB: &str = "@article{adams2018,
  author  = {Adams, Ann},
  title   = {Protein folding},
  journal = {Science},
  year    = {2018}
}

@article{smith2020,
  author  = {Smith, John and Doe, Jane},
  title   = {Deep learning for cells},
  journal = {Nature},
  year    = {2020},
  pages   = {1--10},
  doi     = {10.1038/s41586-020-0001-1}
}
";

const WITH_SKILL_GRADING: &str = r#"{"summary": {"pass_rate": 1.0, "passed": 2, "failed": 0, "total": 2},
 "timing": {"total_duration_seconds": 12.5},
 "expectations": [{"text": "fills the form", "passed": true, "evidence": "form.pdf has 3 fields set"}]}"#;

const WITHOUT_SKILL_GRADING: &str = r#"{"summary": {"pass_rate": 0.5, "passed": 1, "failed": 1, "total": 2},
 "timing": {"total_duration_seconds": 10.0},
 "expectations": [{"text": "fills the form", "passed": false, "evidence": "no fields set"}]}"#;

/// What `run_loop.py --output` writes (the fields generate_report.py reads).
const LOOP_OUTPUT: &str = r#"{"original_description": "Fills PDF forms.",
 "best_description": "Fills, reads and merges PDF forms & files.",
 "best_score": "2/2", "iterations_run": 2, "train_size": 2, "test_size": 0, "holdout": 0,
 "history": [
  {"iteration": 1, "description": "Fills PDF forms.", "train_passed": 1, "train_total": 2,
   "train_results": [
    {"query": "fill this <form>", "should_trigger": true, "triggers": 3, "runs": 3, "pass": true},
    {"query": "what is the weather", "should_trigger": false, "triggers": 2, "runs": 3, "pass": false}]},
  {"iteration": 2, "description": "Fills, reads and merges PDF forms & files.", "train_passed": 2, "train_total": 2,
   "train_results": [
    {"query": "fill this <form>", "should_trigger": true, "triggers": 3, "runs": 3, "pass": true},
    {"query": "what is the weather", "should_trigger": false, "triggers": 0, "runs": 3, "pass": true}]}]}"#;

/// The GitHub contents API's answer for openai/skills `skills/.curated`, cut down.
const CURATED_LISTING: &str = r#"[
 {"name": "gh-fix-ci", "path": "skills/.curated/gh-fix-ci", "type": "dir"},
 {"name": "README.md", "path": "skills/.curated/README.md", "type": "file"},
 {"name": "figma", "path": "skills/.curated/figma", "type": "dir"}]"#;

/// A module with no command line (definitions only): run as a script it
/// prints nothing and exits 0, as under python3.
fn prints_nothing(o: &Output, _: &Path, _: &[Vec<String>]) {
    assert_eq!(o.status.code(), Some(0), "{}", err(o));
    assert_eq!(out(o), "", "stdout");
    assert_eq!(err(o), "", "stderr");
}

const SKILL_CREATOR: &str = "anthropics__skills__skill-creator";
const CITATIONS: &str = "K-Dense-AI__claude-scientific-skills__citation-management";
const INSTALLER: &str = "openai__skills__.system+skill-installer";

/// Every Python script of the corpus that runs in the sandbox.
const SCRIPT_RUNS: &[ScriptRun] = &[
    ScriptRun {
        skill: CITATIONS,
        script: "scripts/format_bibtex.py",
        files: &[("refs.bib", REFS_BIB)],
        args: &[
            "/workspace/refs.bib",
            "--deduplicate",
            "--sort",
            "year",
            "-o",
            "/workspace/clean.bib",
        ],
        env: &[],
        mocks: &[],
        check: |o, ws, _| {
            assert_eq!(o.status.code(), Some(0), "{}", err(o));
            let clean = std::fs::read_to_string(ws.join("clean.bib")).expect("clean.bib written");
            assert_eq!(clean, CLEAN_BIB);
            let log = err(o);
            assert!(
                log.contains(
                    "Duplicate DOI found: 10.1038/s41586-020-0001-1 (skipping smith2020dup)"
                ),
                "{log}"
            );
            assert!(
                log.contains("Successfully wrote 2 entries to /workspace/clean.bib"),
                "{log}"
            );
        },
    },
    ScriptRun {
        skill: SKILL_CREATOR,
        script: "scripts/aggregate_benchmark.py",
        files: &[
            (
                "bench/eval-1/with_skill/run-1/grading.json",
                WITH_SKILL_GRADING,
            ),
            (
                "bench/eval-1/without_skill/run-1/grading.json",
                WITHOUT_SKILL_GRADING,
            ),
        ],
        args: &["/workspace/bench", "--skill-name", "pdf"],
        env: &[],
        mocks: &[],
        check: |o, ws, _| {
            assert_eq!(o.status.code(), Some(0), "{}", err(o));
            let text = out(o);
            for line in [
                "Generated: /workspace/bench/benchmark.json",
                "Generated: /workspace/bench/benchmark.md",
                "  With Skill: 100.0% pass rate",
                "  Without Skill: 50.0% pass rate",
                "  Delta:         +0.50",
            ] {
                assert!(text.lines().any(|l| l == line), "{line:?} not in {text}");
            }
            let doc: Value = serde_json::from_str(
                &std::fs::read_to_string(ws.join("bench/benchmark.json")).expect("json written"),
            )
            .expect("benchmark.json is JSON");
            assert_eq!(doc["metadata"]["skill_name"], "pdf");
            assert_eq!(doc["metadata"]["evals_run"], serde_json::json!([1]));
            assert_eq!(doc["run_summary"]["with_skill"]["pass_rate"]["mean"], 1.0);
            assert_eq!(
                doc["run_summary"]["without_skill"]["time_seconds"]["mean"],
                10.0
            );
            // datetime.now(timezone.utc) in the sandbox is the host's clock.
            let stamp = doc["metadata"]["timestamp"].as_str().expect("timestamp");
            let year: u32 = stamp[..4].parse().expect("year");
            assert!(year >= 2025 && stamp.ends_with('Z'), "{stamp}");
            let md = std::fs::read_to_string(ws.join("bench/benchmark.md")).expect("md written");
            assert!(md.starts_with("# Skill Benchmark: pdf\n"), "{md}");
            assert!(
                md.contains("| Pass Rate | 100% ± 0% | 50% ± 0% | +0.50 |"),
                "{md}"
            );
        },
    },
    ScriptRun {
        skill: SKILL_CREATOR,
        script: "scripts/generate_report.py",
        files: &[("loop.json", LOOP_OUTPUT)],
        args: &["/workspace/loop.json", "--skill-name", "pdf"],
        env: &[],
        mocks: &[],
        check: |o, _, _| {
            assert_eq!(o.status.code(), Some(0), "{}", err(o));
            let html = out(o);
            assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
            for part in [
                "<title>pdf \u{2014} Skill Description Optimization</title>",
                "<strong>Best:</strong> Fills, reads and merges PDF forms &amp; files.",
                "<strong>Iterations:</strong> 2",
                "fill this &lt;form&gt;",
            ] {
                assert!(html.contains(part), "{part:?} not in {html}");
            }
        },
    },
    ScriptRun {
        skill: SKILL_CREATOR,
        script: "scripts/__init__.py",
        files: &[],
        args: &[],
        env: &[],
        mocks: &[],
        check: prints_nothing,
    },
    ScriptRun {
        skill: SKILL_CREATOR,
        script: "scripts/utils.py",
        files: &[],
        args: &[],
        env: &[],
        mocks: &[],
        check: prints_nothing,
    },
    ScriptRun {
        skill: INSTALLER,
        script: "scripts/github_utils.py",
        files: &[],
        args: &[],
        env: &[],
        mocks: &[],
        check: prints_nothing,
    },
    // inspect flags it (it names ~/.codex), but that path is only the
    // fallback when CODEX_HOME is unset: with CODEX_HOME naming a folder in
    // the workspace it runs, through github_utils.github_request, and the
    // host adds GITHUB_TOKEN (a declared secret the script never sees).
    ScriptRun {
        skill: INSTALLER,
        script: "scripts/list-curated-skills.py",
        files: &[(
            "codex/skills/figma/SKILL.md",
            "---\nname: figma\ndescription: Figma.\n---\n",
        )],
        args: &["--format", "json"],
        env: &[
            ("CODEX_HOME", "/workspace/codex"),
            ("GITHUB_TOKEN", "ghp_corpusTestToken0123456789"),
        ],
        mocks: &[("https://api.github.com", &[CURATED_LISTING])],
        check: |o, _, seen| {
            assert_eq!(o.status.code(), Some(0), "{}", err(o));
            let listed: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
            assert_eq!(
                listed,
                serde_json::json!([
                    {"name": "figma", "installed": true},
                    {"name": "gh-fix-ci", "installed": false},
                ])
            );
            assert_eq!(seen.len(), 1, "{seen:?}");
            let request = &seen[0];
            assert_eq!(
                request[0],
                "GET /repos/openai/skills/contents/skills/.curated?ref=main HTTP/1.1"
            );
            for header in [
                "host: api.github.com",
                "user-agent: codex-skill-list",
                "authorization: token ghp_corpusTestToken0123456789",
            ] {
                assert!(request.iter().any(|h| h == header), "{header}: {request:?}");
            }
        },
    },
];

/// Runs flagged by inspect that run anyway, with the only blocker inspect names.
const FLAGGED_BUT_RUN: &[(&str, &str, &str)] = &[(
    INSTALLER,
    "scripts/list-curated-skills.py",
    "reaches paths outside the package (~, ~/.codex) at line 35: only granted folders exist in a sandbox",
)];

/// Every Python script `inspect --json` lists, per skill folder, with its blockers.
fn python_scripts(state: &Path) -> Vec<(String, String, Vec<String>)> {
    let mut all = Vec::new();
    for skill in skills() {
        let folder = skill
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let doc = inspect_json(&skill, state);
        for f in doc["scripts"]["files"].as_array().expect("files") {
            if f["kind"] == "script" && f["language"] == "python" {
                assert_eq!(f["scanned"], true, "{folder}: {f}");
                all.push((
                    folder.clone(),
                    f["path"].as_str().expect("path").to_owned(),
                    f["sandbox_blockers"]
                        .as_array()
                        .expect("sandbox_blockers")
                        .iter()
                        .map(|b| b.as_str().expect("text").to_owned())
                        .collect(),
                ));
            }
        }
    }
    all
}

#[test]
fn stdlib_only_corpus_scripts_run_in_the_sandbox_from_their_init_proposals() {
    let state = tempfile::tempdir().expect("state");
    let scripts = python_scripts(state.path());
    assert_eq!(scripts.len(), 23, "the corpus ships 23 Python scripts");
    let case = |skill: &str, script: &str| {
        SCRIPT_RUNS
            .iter()
            .find(|r| r.skill == skill && r.script == script)
    };
    let mut clean = 0;
    for (skill, script, blockers) in &scripts {
        let flagged = FLAGGED_BUT_RUN
            .iter()
            .find(|(s, p, _)| s == skill && p == script);
        if let Some((_, _, only)) = flagged {
            assert_eq!(blockers, &[only.to_string()], "{skill}/{script}");
        } else if blockers.is_empty() {
            clean += 1;
            assert!(
                case(skill, script).is_some(),
                "{skill}/{script}: inspect finds nothing that stops it in a sandbox, so it needs a case in SCRIPT_RUNS"
            );
        } else {
            assert!(
                case(skill, script).is_none(),
                "{skill}/{script} has a case but inspect now says: {blockers:?}"
            );
        }
    }
    assert_eq!(clean, 6, "Python scripts inspect finds no blocker for");
    assert_eq!(SCRIPT_RUNS.len(), clean + FLAGGED_BUT_RUN.len());

    for run in SCRIPT_RUNS {
        let package = corpus().join(run.skill);
        // The proposal `init` makes is the reviewed golden one, used as is;
        // the corpus is run in place with it as `--manifest`.
        let work = tempfile::tempdir().expect("work");
        let manifest = work.path().join("skill.toml");
        let proposal = proposal_in_place(&package, &manifest, state.path());
        assert_eq!(
            proposal,
            golden_proposal(run.skill),
            "{}/{}: init proposes the golden skill.toml",
            run.skill,
            run.script
        );
        run_case(run, &package, &manifest, state.path());
    }
}

/// The reviewed `init` proposal for a corpus skill, as committed.
fn golden_proposal(skill: &str) -> String {
    let golden =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/golden/init/{skill}.toml"));
    std::fs::read_to_string(&golden).expect("golden proposal")
}

/// Runs one [`ScriptRun`] from `package` with `manifest`: its files put in
/// a fresh workspace, its mocks started and put in place of the origins
/// they stand for, then its check.
fn run_case(run: &ScriptRun, package: &Path, manifest: &Path, state: &Path) {
    let name = format!("{}/{}", run.skill, run.script);
    let work = tempfile::tempdir().expect("work");
    let proposal = std::fs::read_to_string(manifest).expect("manifest");
    let workspace = work.path().join("workspace");
    std::fs::create_dir_all(&workspace).expect("workspace");
    for (path, contents) in run.files {
        let file = workspace.join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("folders");
        std::fs::write(file, contents).expect("input file");
    }
    let mut seen_by_mock = Vec::new();
    let mut redirects = Vec::new();
    for (origin, answers) in run.mocks {
        let (port, seen) = mock_api(move |n| answers[n.min(answers.len() - 1)].to_owned());
        redirects.push(format!("{origin}=http://127.0.0.1:{port}"));
        seen_by_mock.push(seen);
    }
    let mut args = vec![
        "run",
        text(package),
        run.script,
        "--manifest",
        text(manifest),
    ];
    if proposal.contains("host = \"{workspace}\"") {
        args.extend(["--workspace", text(&workspace)]);
    } else {
        assert!(run.files.is_empty(), "{name}: no workspace granted");
    }
    for redirect in &redirects {
        args.extend(["--network-override", redirect.as_str()]);
    }
    args.push("--");
    args.extend_from_slice(run.args);
    let o = skill_run_script(&args, state, run.env);
    // Every request the mocks saw, mock by mock, each in order.
    let seen: Vec<Vec<String>> = seen_by_mock
        .iter()
        .flat_map(|seen| seen.lock().expect("log").clone())
        .collect();
    eprintln!("{name}: exit {:?}", o.status.code());
    (run.check)(&o, &workspace, &seen);
}

/// Each Python script that cannot run gets a precise reason from inspect:
/// what stops it (programs started, a third-party package named, a path
/// outside the package, a run-time install) and the lines that show it.
#[test]
fn corpus_scripts_that_cannot_run_say_why_with_their_lines() {
    let state = tempfile::tempdir().expect("state");
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    let mut cannot = 0;
    for (skill, script, blockers) in python_scripts(state.path()) {
        let runs = SCRIPT_RUNS
            .iter()
            .any(|r| r.skill == skill && r.script == script);
        if runs {
            continue;
        }
        // In place these lack requests, and say only that; vendored, they run.
        if VENDORED_RUNS
            .iter()
            .any(|r| r.skill == skill && r.script == script)
        {
            assert_eq!(blockers.len(), 1, "{skill}/{script}: {blockers:?}");
            assert!(
                blockers[0].starts_with("imports requests at line "),
                "{skill}/{script}: {blockers:?}"
            );
            continue;
        }
        cannot += 1;
        assert!(!blockers.is_empty(), "{skill}/{script} cannot run: why?");
        for b in &blockers {
            let kind = [
                "starts other programs",
                "imports ",
                "reaches paths outside the package (",
                "installs packages at run time",
            ]
            .into_iter()
            .find(|k| b.starts_with(k))
            .unwrap_or_else(|| panic!("{skill}/{script}: unknown blocker {b}"));
            *counts.entry(kind).or_default() += 1;
            assert!(
                b.contains(" at line"),
                "{skill}/{script}: {b} names no line"
            );
            if kind == "imports " {
                let name = b["imports ".len()..].split([' ', ',']).next().unwrap_or("");
                assert!(!name.is_empty(), "{skill}/{script}: {b}");
            }
        }
    }
    assert_eq!(cannot, 12, "Python scripts that cannot run in the sandbox");
    assert_eq!(
        counts,
        [
            ("starts other programs", 7),
            ("imports ", 7),
            ("reaches paths outside the package (", 2),
            ("installs packages at run time", 1),
        ]
        .into_iter()
        .collect(),
        "blockers by kind"
    );
}

/// What inspect says stops a script is what stops it in the sandbox:
/// quick_validate.py imports yaml, which the package does not ship (and
/// no `vendor` can add: PyYAML is native code only), and fails there with
/// python3's traceback (the runner's frames left out).
#[test]
fn a_corpus_script_fails_in_the_sandbox_as_inspect_says() {
    let state = tempfile::tempdir().expect("state");
    let work = tempfile::tempdir().expect("work");
    let package = corpus().join(SKILL_CREATOR);
    let manifest = work.path().join("skill.toml");
    proposal_in_place(&package, &manifest, state.path());
    let workspace = work.path().join("workspace");
    std::fs::create_dir_all(workspace.join("my-skill")).expect("workspace");
    let o = skill_run_script(
        &[
            "run",
            text(&package),
            "scripts/quick_validate.py",
            "--manifest",
            text(&manifest),
            "--workspace",
            text(&workspace),
            "--",
            "/workspace/my-skill",
        ],
        state.path(),
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert_eq!(
        err(&o),
        "Traceback (most recent call last):\n  File \"/skill/scripts/quick_validate.py\", line 9, in <module>\n    import yaml\nModuleNotFoundError: No module named 'yaml'\n"
    );
    let doc = inspect_json(&package, state.path());
    let blockers = doc["scripts"]["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "scripts/quick_validate.py")
        .map(|f| strings(&f["sandbox_blockers"]))
        .expect("listed");
    assert_eq!(
        blockers.into_iter().collect::<Vec<_>>(),
        [
            "imports yaml at line 9: PyYAML publishes no pure-Python wheel, only native code, which cannot run in the sandbox's WebAssembly CPython (`skill-run vendor` refuses it)"
        ]
    );
}

// The corpus scripts that need `requests`, run after `skill-run vendor`
// installed it (pinned by hash, from the wheels `scripts/install-toolchains
// wheels` downloaded from PyPI) into a copy of their package: `vendor`
// writes into the package, and the corpus is never written to. In the
// sandbox urllib3's connections go through wasi:http, under the same grants.

/// What CrossRef's `works` API answers for one DOI, cut down.
const CROSSREF_WORK: &str = r#"{"status": "ok", "message": {
 "type": "journal-article", "title": ["Deep learning for cells"],
 "author": [{"given": "John", "family": "Smith"}, {"given": "Jane", "family": "Doe"}],
 "published-print": {"date-parts": [[2020, 5]]}, "container-title": ["Nature"],
 "volume": "581", "issue": "7806", "page": "1-10", "publisher": "Springer"}}"#;

/// What doi.org answers for `Accept: application/x-bibtex`.
const DOI_BIBTEX: &str = " @article{Smith_2020, title={Deep learning for cells}, volume={581}, journal={Nature}, author={Smith, John and Doe, Jane}, year={2020}, pages={1-10} }\n";

/// PubMed's esearch (JSON) and efetch (XML) answers, cut down.
const ESEARCH: &str = r#"{"esearchresult": {"count": "1", "retmax": "1", "idlist": ["31234567"]}}"#;
const EFETCH: &str = "<?xml version=\"1.0\"?><PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>31234567</PMID><Article><Journal><JournalIssue><Volume>12</Volume><PubDate><Year>2019</Year></PubDate></JournalIssue><Title>Cell</Title></Journal><ArticleTitle>CRISPR screens in cells</ArticleTitle><Pagination><MedlinePgn>5-9</MedlinePgn></Pagination><AuthorList><Author><LastName>Adams</LastName><ForeName>Ann</ForeName></Author></AuthorList></Article></MedlineCitation><PubmedData><ArticleIdList><ArticleId IdType=\"doi\">10.1016/j.cell.2019.01.001</ArticleId></ArticleIdList></PubmedData></PubmedArticle></PubmedArticleSet>";

/// The NCBI key the host holds: the script sees only a placeholder.
const NCBI_KEY: &str = "ncbi-corpus-test-key-0123456789abcdef";

const ONE_DOI_BIB: &str = "@article{smith2020,
  author  = {Smith, John and Doe, Jane},
  title   = {Deep learning for cells},
  journal = {Nature},
  year    = {2020},
  volume  = {581},
  pages   = {1--10},
  doi     = {10.1038/s41586-020-0001-1}
}
";

/// Whether `request` (a mock's record) has `header` (`name: value`).
fn has_header(request: &[String], header: &str) -> bool {
    request.iter().any(|h| h == header)
}

/// Every corpus script that needs only `requests` beyond the standard library.
const VENDORED_RUNS: &[ScriptRun] = &[
    ScriptRun {
        skill: CITATIONS,
        script: "scripts/doi_to_bibtex.py",
        files: &[],
        args: &["10.1038/s41586-020-0001-1", "-o", "/workspace/out.bib"],
        env: &[],
        mocks: &[("https://doi.org", &[DOI_BIBTEX])],
        check: |o, ws, seen| {
            assert_eq!(o.status.code(), Some(0), "{}", err(o));
            let bib = std::fs::read_to_string(ws.join("out.bib")).expect("out.bib written");
            assert_eq!(bib, format!("{}\n", DOI_BIBTEX.trim()));
            assert_eq!(seen.len(), 1, "{seen:?}");
            assert_eq!(seen[0][0], "GET /10.1038/s41586-020-0001-1 HTTP/1.1");
            for header in [
                "host: doi.org",
                "accept: application/x-bibtex",
                "user-agent: DOIConverter/1.0 (Citation Management Tool)",
            ] {
                assert!(has_header(&seen[0], header), "{header}: {:?}", seen[0]);
            }
        },
    },
    ScriptRun {
        skill: CITATIONS,
        script: "scripts/extract_metadata.py",
        files: &[],
        args: &["--doi", "10.1038/s41586-020-0001-1"],
        env: &[],
        mocks: &[("https://api.crossref.org", &[CROSSREF_WORK])],
        check: |o, _, seen| {
            assert_eq!(o.status.code(), Some(0), "{}", err(o));
            let bib = out(o);
            for field in [
                "@article{",
                "author  = {Smith, John and Doe, Jane}",
                "journal = {Nature}",
                "year    = {2020}",
                "volume  = {581}",
                "number  = {7806}",
                "pages   = {1--10}",
                "doi     = {10.1038/s41586-020-0001-1}",
            ] {
                assert!(bib.contains(field), "{field} in {bib}");
            }
            assert!(err(o).contains("Extracted 1/1 entries"), "{}", err(o));
            assert_eq!(seen.len(), 1, "{seen:?}");
            assert_eq!(seen[0][0], "GET /works/10.1038/s41586-020-0001-1 HTTP/1.1");
            assert!(
                has_header(&seen[0], "host: api.crossref.org"),
                "{:?}",
                seen[0]
            );
        },
    },
    ScriptRun {
        skill: CITATIONS,
        script: "scripts/validate_citations.py",
        files: &[("refs.bib", ONE_DOI_BIB)],
        args: &[
            "/workspace/refs.bib",
            "--check-dois",
            "--report",
            "/workspace/report.json",
        ],
        env: &[],
        mocks: &[
            ("https://doi.org", &[""]),
            ("https://api.crossref.org", &[CROSSREF_WORK]),
        ],
        check: |o, ws, seen| {
            assert_eq!(o.status.code(), Some(0), "{}{}", out(o), err(o));
            let report: Value = serde_json::from_str(
                &std::fs::read_to_string(ws.join("report.json")).expect("report written"),
            )
            .expect("report is JSON");
            assert_eq!(report["total_entries"], 1, "{report}");
            assert_eq!(report["valid_entries"], 1, "{report}");
            assert_eq!(report["errors"], serde_json::json!([]), "{report}");
            assert!(err(o).contains("Verifying DOI 1: 10.1038/s41586-020-0001-1"));
            // The DOI resolved (HEAD to doi.org), then CrossRef was asked.
            assert_eq!(seen.len(), 2, "{seen:?}");
            assert_eq!(seen[0][0], "HEAD /10.1038/s41586-020-0001-1 HTTP/1.1");
            assert!(has_header(&seen[0], "host: doi.org"), "{:?}", seen[0]);
            assert_eq!(seen[1][0], "GET /works/10.1038/s41586-020-0001-1 HTTP/1.1");
            assert!(
                has_header(&seen[1], "host: api.crossref.org"),
                "{:?}",
                seen[1]
            );
        },
    },
    // NCBI_API_KEY is a secret exposed as a placeholder: the script puts
    // it in its query string itself, and the host swaps in the real value
    // only on the way to eutils.ncbi.nlm.nih.gov.
    ScriptRun {
        skill: CITATIONS,
        script: "scripts/search_pubmed.py",
        files: &[],
        args: &[
            "CRISPR screens",
            "--limit",
            "1",
            "-o",
            "/workspace/results.json",
        ],
        env: &[
            ("NCBI_API_KEY", NCBI_KEY),
            ("NCBI_EMAIL", "lab@example.org"),
        ],
        mocks: &[("https://eutils.ncbi.nlm.nih.gov", &[ESEARCH, EFETCH])],
        check: |o, ws, seen| {
            assert_eq!(o.status.code(), Some(0), "{}", err(o));
            let results: Value = serde_json::from_str(
                &std::fs::read_to_string(ws.join("results.json")).expect("results written"),
            )
            .expect("results are JSON");
            let text = results.to_string();
            for value in [
                "31234567",
                "CRISPR screens in cells",
                "Adams, Ann",
                "10.1016/j.cell.2019.01.001",
            ] {
                assert!(text.contains(value), "{value} in {text}");
            }
            assert_eq!(seen.len(), 2, "{seen:?}");
            assert!(
                seen[0][0].starts_with("GET /entrez/eutils/esearch.fcgi?"),
                "{:?}",
                seen[0]
            );
            assert!(
                seen[1][0].starts_with("GET /entrez/eutils/efetch.fcgi?"),
                "{:?}",
                seen[1]
            );
            for request in seen {
                assert!(
                    request[0].contains(&format!("api_key={NCBI_KEY}")),
                    "the real key reaches its host: {request:?}"
                );
                assert!(
                    request[0].contains("email=lab%40example.org"),
                    "{request:?}"
                );
            }
            for shown in [out(o), err(o), text] {
                assert!(!shown.contains(NCBI_KEY), "the key leaked: {shown}");
            }
        },
    },
];

/// Where an `init` proposal's notes (what no grant gives) begin.
const NOTES: &str = "\n# What no grant gives these scripts";

/// The copy of `skill` that `skill-run vendor` installed the pinned
/// `requests` into, offline, from the wheels the toolchain script fetched.
fn vendored_copy(skill: &str, into: &Path, state: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let fetched = Command::new(root.join("scripts/install-toolchains"))
        .arg("wheels")
        .output()
        .expect("scripts/install-toolchains runs");
    assert!(
        fetched.status.success(),
        "scripts/install-toolchains wheels failed: {}{}",
        out(&fetched),
        err(&fetched)
    );
    let package = into.join(skill);
    crate::support::copy_dir(&corpus().join(skill), &package);
    let requirements = root.join("runtime/tests/data/vendor/requests.txt");
    let wheels = root.join("target/toolchains/wheels");
    let o = skill_run(
        &[
            "vendor",
            text(&package),
            "--requirements",
            text(&requirements),
            "--",
            "--no-index",
            "--find-links",
            text(&wheels),
        ],
        state,
    );
    assert_eq!(o.status.code(), Some(0), "vendor: {}", err(&o));
    assert!(
        err(&o).contains("vendored 5 packages into"),
        "vendor says what it installed: {}",
        err(&o)
    );
    package
}

#[test]
fn corpus_scripts_that_need_requests_run_once_it_is_vendored() {
    let state = tempfile::tempdir().expect("state");
    let copies = tempfile::tempdir().expect("copies");
    let package = vendored_copy(CITATIONS, copies.path(), state.path());

    // With requests in the package, inspect no longer says it is missing;
    // the one script that needs more (scholarly, installed at run time)
    // still says so.
    let doc = inspect_json(&package, state.path());
    let blockers = |path: &str| -> Vec<String> {
        let file = doc["scripts"]["files"]
            .as_array()
            .expect("files")
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path} listed"));
        strings(&file["sandbox_blockers"]).into_iter().collect()
    };
    for run in VENDORED_RUNS {
        assert_eq!(blockers(run.script), Vec::<String>::new(), "{}", run.script);
    }
    let scholar = blockers("scripts/search_google_scholar.py");
    assert!(
        scholar.iter().any(|b| b.starts_with("imports scholarly")),
        "{scholar:?}"
    );
    assert!(
        !scholar.iter().any(|b| b.contains("requests")),
        "{scholar:?}"
    );

    // Vendored libraries are the skill's code too, but not its author's
    // intent: init proposes the same grants for the vendored copy as for
    // the corpus package, nothing taken from the libraries; only its notes
    // no longer say requests is missing.
    let work = tempfile::tempdir().expect("work");
    let manifest = work.path().join("skill.toml");
    let proposal = proposal_in_place(&package, &manifest, state.path());
    let golden = golden_proposal(CITATIONS);
    let (grants, notes) = proposal.split_once(NOTES).expect("notes");
    let (golden_grants, golden_notes) = golden.split_once(NOTES).expect("golden notes");
    assert_eq!(grants, golden_grants, "init on the vendored copy");
    assert!(
        golden_notes.contains("(requests, scholarly)"),
        "{golden_notes}"
    );
    assert!(
        notes.contains("scripts/search_google_scholar.py:18 (scholarly): imports third-party"),
        "{notes}"
    );
    assert!(!notes.contains("requests"), "{notes}");

    for run in VENDORED_RUNS {
        run_case(run, &package, &manifest, state.path());
    }
}

/// Without `requests` in the package, the same scripts fail in the sandbox
/// as inspect says they will, and with it a request outside the grants is
/// refused with the fix (as for urllib), never reaching anywhere.
#[test]
fn vendored_requests_is_held_to_the_grants() {
    let state = tempfile::tempdir().expect("state");
    let copies = tempfile::tempdir().expect("copies");
    let package = vendored_copy(CITATIONS, copies.path(), state.path());
    let work = tempfile::tempdir().expect("work");
    // The proposal without the doi.org grants: the script's request to
    // doi.org is then outside them.
    let manifest = work.path().join("skill.toml");
    let narrowed: String = golden_proposal(CITATIONS)
        .lines()
        .filter(|l| !l.contains("doi.org/\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(narrowed, golden_proposal(CITATIONS));
    std::fs::write(&manifest, narrowed).expect("manifest");
    let (port, seen) = mock_api(|_| DOI_BIBTEX.to_owned());
    let workspace = work.path().join("workspace");
    std::fs::create_dir_all(&workspace).expect("workspace");
    let redirect = format!("https://doi.org=http://127.0.0.1:{port}");
    let o = skill_run_script(
        &[
            "run",
            text(&package),
            "scripts/doi_to_bibtex.py",
            "--manifest",
            text(&manifest),
            "--workspace",
            text(&workspace),
            "--network-override",
            &redirect,
            "--",
            "10.1038/s41586-020-0001-1",
        ],
        state.path(),
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let said = err(&o);
    assert!(
        said.contains("Error: Request failed for 10.1038/s41586-020-0001-1"),
        "the script's own error handling ran: {said}"
    );
    assert!(
        said.contains("GET https://doi.org/10.1038/s41586-020-0001-1: HttpRequestDenied"),
        "the script's exception names the request: {said}"
    );
    // After the script's output, skill-run says what was refused and the
    // fix; it is the only denial (no bytecode written into the read-only
    // package, no socket probed by urllib3).
    let denials: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("skill-run: denied"))
        .collect();
    assert_eq!(denials.len(), 1, "{said}");
    assert!(
        denials[0]
            .starts_with("skill-run: denied network https://doi.org/10.1038/s41586-020-0001-1: ")
            && denials[0].contains("add a URL prefix such as \"https://doi.org/\""),
        "{said}"
    );
    assert!(
        seen.lock().expect("log").is_empty(),
        "nothing reached the mock"
    );
    assert_eq!(out(&o), "", "no BibTeX printed");
}
