//! Python and JavaScript skills through `skill-run`, as a user runs them:
//! the two examples end to end (forecast against a loopback mock of its API
//! with `--network-override`, state kept between runs; digest on granted
//! folders and a channel), `new --lang python|js` building and running as
//! generated, build errors shown as file:line, and a missing toolchain
//! naming its install step. Components compile once into a compile cache
//! under target/ shared by test runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{compile_cache, mock_api, stderr, stdout_json};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(skill_test_artifacts::WORKSPACE)
}

fn skill_run(args: &[&str], state: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skill-run"))
        .args(args)
        .env("SKILL_RUN_STATE", state)
        .env("SKILL_RUN_CACHE_DIR", compile_cache())
        // The runner built from this checkout's script-runner/ sources.
        .env(
            "SKILL_RUN_PYTHON_RUNNER",
            skill_test_artifacts::PYTHON_RUNNER,
        )
        .output()
        .expect("skill-run runs")
}

/// A package folder: an example's SKILL.md and skill.toml with a built component.
fn example(name: &str, component: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("package");
    for file in ["SKILL.md", "skill.toml"] {
        std::fs::copy(
            repo().join("examples").join(name).join(file),
            dir.path().join(file),
        )
        .expect("copy");
    }
    std::fs::copy(component, dir.path().join(format!("{name}.wasm"))).expect("component");
    dir
}

#[test]
fn forecast_python_example_calls_its_api_and_keeps_state() {
    let package = example("forecast", skill_test_artifacts::FORECAST_PY);
    let state = tempfile::tempdir().expect("state");
    let (port, seen) = mock_api(|n| {
        format!(
            r#"{{"current": {{"temperature_2m": {}, "wind_speed_10m": 7.2}}}}"#,
            12.0 + 0.5 * n as f64
        )
    });
    let redirect = format!("https://api.open-meteo.com=http://127.0.0.1:{port}");
    let audit = state.path().join("audit.jsonl");
    let lisbon = r#"{"place": {"name": "Lisbon", "latitude": 38.72, "longitude": -9.14}}"#;
    let pkg = package.path().to_str().expect("utf-8");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", pkg, "weather", "--input", lisbon, "--json"];
        args.extend_from_slice(extra);
        skill_run(&args, state.path())
    };
    let first = run(&[
        "--network-override",
        &redirect,
        "--audit",
        audit.to_str().expect("utf-8"),
    ]);
    let doc = stdout_json(&first);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(doc["result"]["temperature-c"], 12.0, "{doc}");
    assert_eq!(doc["result"]["previous-temperature-c"], Value::Null);
    assert_eq!(doc["untrusted"], true);
    assert!(
        seen.lock().expect("log")[0][0]
            .starts_with("GET /v1/forecast?latitude=38.72&longitude=-9.14"),
        "{:?}",
        seen
    );
    // State from the first run is there for the second.
    let second = run(&["--network-override", &redirect]);
    let doc = stdout_json(&second);
    assert_eq!(doc["result"]["previous-temperature-c"], 12.0, "{doc}");
    assert_eq!(doc["result"]["lookups"], 2);
    let history = skill_run(&["run", pkg, "history", "--json"], state.path());
    assert_eq!(
        stdout_json(&history)["result"].as_array().map(Vec::len),
        Some(2)
    );
    // Without the override the real host is the only place it may go; the
    // audit of the first run shows the granted request and nothing else.
    let audit = std::fs::read_to_string(&audit).expect("audit");
    assert!(audit.contains("https://api.open-meteo.com/v1/forecast?latitude=38.72"));
    assert!(!audit.contains("\"decision\":\"deny\""), "{audit}");
}

#[test]
fn digest_js_example_works_on_granted_folders_and_sends_on_its_channel() {
    let package = example("digest", skill_test_artifacts::DIGEST_JS);
    let state = tempfile::tempdir().expect("state");
    let workspace = tempfile::tempdir().expect("workspace");
    std::fs::create_dir_all(workspace.path().join("notes")).expect("notes");
    std::fs::create_dir_all(workspace.path().join("out")).expect("out");
    std::fs::write(
        workspace.path().join("notes/a.md"),
        "# Groceries\nmilk eggs\n",
    )
    .expect("w");
    std::fs::write(workspace.path().join("notes/b.txt"), "call the plumber\n").expect("w");
    let log = state.path().join("channels.jsonl");
    let output = skill_run(
        &[
            "run",
            package.path().to_str().expect("utf-8"),
            "summarize",
            "--workspace",
            workspace.path().to_str().expect("utf-8"),
            "--channel-log",
            log.to_str().expect("utf-8"),
        ],
        state.path(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let result = stdout_json(&output);
    assert_eq!(result["total-words"], 7, "{result}");
    assert_eq!(result["notes"][0]["title"], "Groceries");
    let digest = std::fs::read_to_string(workspace.path().join("out/digest.md")).expect("digest");
    assert!(digest.contains("- Groceries (a.md, 4 words)"), "{digest}");
    let sent = std::fs::read_to_string(&log).expect("channel log");
    assert!(sent.contains("digest ready: 2 notes, 7 words"), "{sent}");
    // The notes folder is read-only: nothing was written there.
    let mut names: Vec<_> = std::fs::read_dir(workspace.path().join("notes"))
        .expect("notes")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["a.md", "b.txt"]);
}

#[test]
fn new_python_and_js_skills_build_and_run_as_generated() {
    let dir = tempfile::tempdir().expect("dir");
    let state = tempfile::tempdir().expect("state");
    for lang in ["python", "js"] {
        let name = format!("hello-{lang}");
        let made = skill_run(
            &[
                "new",
                &name,
                "--lang",
                lang,
                "--dir",
                dir.path().to_str().expect("utf-8"),
            ],
            state.path(),
        );
        assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
        let folder = dir.path().join(&name);
        let built = skill_run(&["build", folder.to_str().expect("utf-8")], state.path());
        let progress = stderr(&built);
        assert_eq!(built.status.code(), Some(0), "{progress}");
        assert!(
            progress.contains("building") && progress.contains("built"),
            "{progress}"
        );
        let ran = skill_run(
            &[
                "run",
                folder.to_str().expect("utf-8"),
                "hello",
                "--input",
                r#"{"who": "world"}"#,
            ],
            state.path(),
        );
        assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
        assert_eq!(stdout_json(&ran), json!("Hello, world!"));
    }
}

#[test]
fn build_errors_name_the_file_and_line_not_a_stack_trace() {
    let dir = tempfile::tempdir().expect("dir");
    let state = tempfile::tempdir().expect("state");
    for (lang, file, broken) in [
        (
            "python",
            "app.py",
            "import wit_world\n\nclass WitWorld(wit_world.WitWorld):\n    def hello(self, who: str) -> str:\n        return undefined_name(\n",
        ),
        (
            "js",
            "app.js",
            "export function hello(who) {\n  return `Hello, ${who}!`;\n\n  let = = 3;\n}\n",
        ),
    ] {
        let name = format!("broken-{lang}");
        let made = skill_run(
            &[
                "new",
                &name,
                "--lang",
                lang,
                "--dir",
                dir.path().to_str().expect("utf-8"),
            ],
            state.path(),
        );
        assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
        let folder = dir.path().join(&name);
        std::fs::write(folder.join(file), broken).expect("break it");
        let built = skill_run(&["build", folder.to_str().expect("utf-8")], state.path());
        let text = stderr(&built);
        assert_ne!(built.status.code(), Some(0), "{text}");
        let expected = format!("{}:", folder.join(file).display());
        assert!(text.contains(&expected), "{lang}: no {expected} in\n{text}");
        assert!(
            !text.contains("Stack backtrace") && !text.contains("panicked at"),
            "{text}"
        );
        assert!(!folder.join(format!("{name}.wasm")).exists());
    }
}

#[test]
fn a_missing_toolchain_names_the_install_step() {
    let dir = tempfile::tempdir().expect("dir");
    let state = tempfile::tempdir().expect("state");
    let made = skill_run(
        &[
            "new",
            "needs-py",
            "--lang",
            "python",
            "--dir",
            dir.path().to_str().expect("utf-8"),
        ],
        state.path(),
    );
    assert_eq!(made.status.code(), Some(0));
    let output = Command::new(env!("CARGO_BIN_EXE_skill-run"))
        .args([
            "build",
            dir.path().join("needs-py").to_str().expect("utf-8"),
        ])
        .env("SKILL_RUN_TOOLCHAINS", dir.path().join("no-toolchains"))
        .output()
        .expect("runs");
    let text = stderr(&output);
    assert_ne!(output.status.code(), Some(0));
    assert!(
        text.contains("componentize-py 0.25.1 is not installed")
            && text.contains("scripts/install-toolchains python"),
        "{text}"
    );
}

/// Writes a wheel named `file` into `dir` holding `files` (path, text),
/// with the dist-info pip needs (`name`, `version`, wheel `tag`).
fn wheel(dir: &Path, file: &str, name: &str, version: &str, tag: &str, files: &[(&str, &str)]) {
    let info = format!("{name}-{version}.dist-info");
    let mut entries: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    entries.push((
        format!("{info}/METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
    ));
    entries.push((
        format!("{info}/WHEEL"),
        format!("Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n"),
    ));
    let record: String = entries
        .iter()
        .map(|(p, _)| format!("{p},,\n"))
        .chain([format!("{info}/RECORD,,\n")])
        .collect();
    entries.push((format!("{info}/RECORD"), record));
    let spec = serde_json::to_string(&entries).expect("json");
    let status = Command::new("python3")
        .args([
            "-c",
            "import json,sys,zipfile\nwith zipfile.ZipFile(sys.argv[1],'w') as z:\n for p,t in json.loads(sys.argv[2]): z.writestr(p,t)",
        ])
        .arg(dir.join(file))
        .arg(spec)
        .status()
        .expect("python3 writes the wheel");
    assert!(status.success());
}

#[test]
fn vendor_installs_pure_python_wheels_the_sandbox_imports_and_refuses_native_ones() {
    let wheels = tempfile::tempdir().expect("wheels");
    wheel(
        wheels.path(),
        "puredemo-1.0-py3-none-any.whl",
        "puredemo",
        "1.0",
        "py3-none-any",
        &[(
            "puredemo/__init__.py",
            "def shout(s):\n    return s.upper() + '!'\n",
        )],
    );
    wheel(
        wheels.path(),
        "nativedemo-1.0-cp314-cp314-manylinux_2_17_x86_64.whl",
        "nativedemo",
        "1.0",
        "cp314-cp314-manylinux_2_17_x86_64",
        &[("nativedemo/__init__.py", "")],
    );
    // Tagged pure, but carrying a shared library.
    wheel(
        wheels.path(),
        "sneaky-1.0-py3-none-any.whl",
        "sneaky",
        "1.0",
        "py3-none-any",
        &[
            ("sneaky/__init__.py", ""),
            ("sneaky/_speed.abi3.so", "\u{7f}ELF"),
        ],
    );
    let package = tempfile::tempdir().expect("package");
    let pkg = package.path();
    std::fs::write(
        pkg.join("SKILL.md"),
        "---\nname: shouter\ndescription: Shouts.\n---\nRun scripts/use.py.\n",
    )
    .expect("SKILL.md");
    std::fs::write(
        pkg.join("skill.toml"),
        "[skill]\nname = \"shouter\"\nversion = \"0.1.0\"\nruntime = \"python\"\n",
    )
    .expect("skill.toml");
    std::fs::create_dir(pkg.join("scripts")).expect("scripts");
    std::fs::write(
        pkg.join("scripts/use.py"),
        "import puredemo\nprint(puredemo.shout('hi'))\n",
    )
    .expect("script");
    std::fs::write(pkg.join("requirements.txt"), "puredemo==1.0\n").expect("requirements");
    let state = tempfile::tempdir().expect("state");
    let pkg_text = pkg.to_str().expect("utf-8");
    let find_links = wheels.path().to_str().expect("utf-8");
    let vendor = |requirements: Option<&str>| {
        let file = pkg.join("wanted.txt");
        let mut args = vec!["vendor", pkg_text];
        if let Some(text) = requirements {
            std::fs::write(&file, text).expect("requirements");
            args.extend(["--requirements", file.to_str().expect("utf-8")]);
        }
        args.extend(["--", "--no-index", "--find-links", find_links]);
        skill_run(&args, state.path())
    };

    // Before vendoring, the import fails in the sandbox.
    let before = skill_run(&["run", pkg_text, "scripts/use.py"], state.path());
    assert_ne!(before.status.code(), Some(0));
    assert!(
        stderr(&before).contains("ModuleNotFoundError"),
        "{}",
        stderr(&before)
    );

    let done = vendor(None);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    assert!(stderr(&done).contains("puredemo 1.0"), "{}", stderr(&done));
    assert!(pkg.join("vendor/puredemo/__init__.py").is_file());
    let ran = skill_run(&["run", pkg_text, "scripts/use.py"], state.path());
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), "HI!");

    // A requirement with only a native wheel is refused by name.
    let native = vendor(Some("nativedemo==1.0\n"));
    assert_eq!(native.status.code(), Some(2), "{}", stderr(&native));
    assert!(
        stderr(&native).contains("cannot vendor `nativedemo==1.0`"),
        "{}",
        stderr(&native)
    );
    // One that claims to be pure but ships a shared library is refused too.
    let sneaky = vendor(Some("sneaky==1.0\n"));
    assert_eq!(sneaky.status.code(), Some(2), "{}", stderr(&sneaky));
    let why = stderr(&sneaky);
    assert!(
        why.contains("sneaky 1.0") && why.contains("_speed.abi3.so"),
        "{why}"
    );
    // Neither refusal changed the package: the first vendor folder stands,
    // and no staging folder is left behind.
    assert!(pkg.join("vendor/puredemo/__init__.py").is_file());
    assert!(!pkg.join("vendor/sneaky").exists());
    let leftovers: Vec<String> = std::fs::read_dir(pkg)
        .expect("package")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".vendor"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
