//! `skill-run` with every WASI flavour: `-- ARG...` reaching a program's
//! argv, and `check` / `inspect` naming what the component is.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{compile_cache, stdout_json, text};
use serde_json::json;
use skill_test_artifacts::{TempPackage, skill_table};

fn skill_run(args: &[&str], state: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skill-run"))
        .args(args)
        .current_dir(state)
        .env("SKILL_RUN_STATE", state.join("state"))
        .env("SKILL_RUN_CACHE_DIR", compile_cache())
        .output()
        .expect("skill-run runs")
}

fn package(name: &str, component: &str) -> TempPackage {
    TempPackage::new(
        name,
        component,
        &format!("{}[capabilities]\n", skill_table(name)),
    )
}

#[test]
fn arguments_after_double_dash_reach_argv_of_every_cli_flavour() {
    let state = tempfile::tempdir().expect("state");
    for (name, component) in [
        ("p1", skill_test_artifacts::PREVIEW1),
        ("p3", skill_test_artifacts::WASI03),
    ] {
        let pkg = package(name, component);
        let p = pkg.path();
        let out = skill_run(
            &[
                "run",
                text(&p),
                "echo",
                "--",
                "-x",
                "two words",
                "--input",
                "{}",
            ],
            state.path(),
        );
        assert_eq!(out.status.code(), Some(0), "{name}: {out:?}");
        assert_eq!(
            stdout_json(&out)["args"],
            json!([name, "echo", "-x", "two words", "--input", "{}"]),
            "{name}"
        );
        // Without COMMAND the program is run as `main`, the arguments still follow.
        let out = skill_run(&["run", text(&p), "--", "a"], state.path());
        assert_eq!(
            stdout_json(&out),
            json!({"err": "unknown attempt `main`"}),
            "{name}"
        );
    }
}

#[test]
fn a_typed_command_refuses_arguments_after_double_dash() {
    let state = tempfile::tempdir().expect("state");
    let hello = TempPackage::example("hello", skill_test_artifacts::HELLO);
    let p = hello.path();
    let out = skill_run(&["run", text(&p), "greet", "--", "x"], state.path());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("arguments after `--`"),
        "{out:?}"
    );
}

#[test]
fn check_and_inspect_name_the_flavour() {
    let state = tempfile::tempdir().expect("state");
    let hello = TempPackage::example("hello", skill_test_artifacts::HELLO);
    let p1 = package("p1", skill_test_artifacts::PREVIEW1);
    let p3 = package("p3", skill_test_artifacts::WASI03);
    let escape = TempPackage::new(
        "escape",
        skill_test_artifacts::ESCAPE,
        &format!(
            "{}[capabilities]\nchannels = [{{ name = \"out\", direction = \"send\" }}]\n",
            skill_table("escape")
        ),
    );
    for (pkg, kind, format, phrase) in [
        (&hello, "typed", "wasi-0.2-component", "WASI 0.2 component"),
        (&escape, "cli", "wasi-0.2-component", "WASI 0.2 component"),
        (&p1, "cli", "wasi-preview-1-module", "preview-1 core module"),
        (&p3, "cli", "wasi-0.3-component", "WASI 0.3 component"),
    ] {
        let p = pkg.path();
        let out = skill_run(&["inspect", text(&p), "--json"], state.path());
        let doc = stdout_json(&out);
        assert_eq!(doc["component"]["kind"], kind, "{doc}");
        assert_eq!(doc["component"]["format"], format, "{doc}");
        let out = skill_run(&["check", text(&p)], state.path());
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains(phrase) && said.contains(kind), "{said}");
        let out = skill_run(&["inspect", text(&p)], state.path());
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains(phrase),
            "inspect of a {format} should say {phrase:?}: {said}"
        );
    }
}
