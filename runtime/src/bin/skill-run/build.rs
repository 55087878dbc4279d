//! `skill-run build`: recognises the skill's language (Cargo.toml, app.py,
//! app.js), drives its toolchain (cargo for wasm32-wasip2, componentize-py,
//! ComponentizeJS) and puts the component where its skill.toml says.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::Args;
use skill_runtime::Package;
use skill_runtime::package::Executable;

use crate::toolchain::{Language, Layout};

/// Arguments of `skill-run build`.
#[derive(Args)]
pub struct BuildArgs {
    /// The skill folder (skill.toml and Cargo.toml, app.py or app.js).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Build without optimisations (Rust).
    #[arg(long)]
    debug: bool,
}

/// The repository this skill-run was built from: its wit/, skill-sdk/ and
/// scripts/, and target/toolchains (or `$SKILL_RUN_TOOLCHAINS`).
pub fn layout() -> Layout {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let repo = std::fs::canonicalize(&repo).unwrap_or(repo);
    Layout::new(
        repo,
        std::env::var_os("SKILL_RUN_TOOLCHAINS").map(PathBuf::from),
    )
}

pub fn build(args: BuildArgs) -> Result<u8> {
    let package = Package::read(&args.dir)
        .with_context(|| format!("reading the skill package at {}", args.dir.display()))?;
    let Some(manifest) = &package.manifest else {
        bail!(
            "{} has no skill.toml: an instruction-only skill has nothing to build",
            args.dir.display()
        );
    };
    let component = match &manifest.executable {
        Executable::Component(component) => component,
        Executable::Script(runtime) => bail!(
            "{} is a script skill (runtime = \"{runtime}\" in skill.toml): it has no component to build",
            args.dir.display()
        ),
        _ => bail!(
            "{}: skill.toml names an executable this version of skill-run cannot build",
            args.dir.display()
        ),
    };
    let language = Language::detect(&args.dir).with_context(|| {
        format!(
            "{} has no Cargo.toml (Rust), app.py (Python) or app.js (JavaScript): nothing to build",
            args.dir.display()
        )
    })?;
    let target = package.root.join(component.as_path());
    if language != Language::Rust {
        return build_with_toolchain(
            language,
            &package.root,
            &target,
            !manifest.grants.network.is_empty(),
        );
    }
    let cargo_toml = std::fs::canonicalize(args.dir.join("Cargo.toml"))
        .with_context(|| format!("{} has no Cargo.toml", args.dir.display()))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&cargo_toml);
    if !args.debug {
        command.arg("--release");
    }
    eprintln!("building {} for wasm32-wasip2 …", cargo_toml.display());
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo")?;
    if !output.status.success() {
        bail!(
            "cargo build failed (its errors are above); if the wasm32-wasip2 target is missing, run `rustup target add wasm32-wasip2`"
        );
    }
    let mut artifact = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact"
            || message["manifest_path"].as_str().map(PathBuf::from) != Some(cargo_toml.clone())
        {
            continue;
        }
        for file in message["filenames"].as_array().into_iter().flatten() {
            if let Some(f) = file.as_str().filter(|f| f.ends_with(".wasm")) {
                artifact = Some(PathBuf::from(f));
            }
        }
    }
    let artifact = artifact.context("cargo built no .wasm for this package: is it a `cdylib` (typed commands) or a binary (`fn main`)?")?;
    std::fs::copy(&artifact, &target)
        .with_context(|| format!("copying {} to {}", artifact.display(), target.display()))?;
    let size = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    eprintln!("built {} ({} KiB)", target.display(), size / 1024);
    Ok(0)
}

/// Builds a Python or JavaScript skill: stages its WIT, runs the pinned
/// toolchain with progress on stderr, and on failure shows the toolchain's
/// error with the file and line, not the toolchain's stack trace.
fn build_with_toolchain(
    language: Language,
    dir: &std::path::Path,
    target: &std::path::Path,
    network: bool,
) -> Result<u8> {
    let layout = layout();
    let staging = tempfile::tempdir().context("creating a staging folder")?;
    let partial = staging.path().join("component.wasm");
    let mut command = layout
        .command(language, dir, &partial, staging.path(), network)
        .map_err(anyhow::Error::msg)?;
    eprintln!(
        "building {} ({}) with {} …",
        dir.display(),
        match language {
            Language::Python => "Python, app.py",
            _ => "JavaScript, app.js",
        },
        language.toolchain()
    );
    if language == Language::JavaScript && !network {
        eprintln!("  no network grant: fetch (wasi:http) and the fetch event are left out");
    }
    let started = std::time::Instant::now();
    let output = command
        .output()
        .with_context(|| format!("running {}", language.toolchain()))?;
    if !output.status.success() || !partial.is_file() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!("{}", layout.explain(language, dir, staging.path(), &text));
        bail!(
            "{} could not build {} (the error above)",
            language.toolchain(),
            dir.display()
        );
    }
    std::fs::copy(&partial, target).with_context(|| format!("writing {}", target.display()))?;
    let size = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "built {} ({:.1} MiB in {:.1} s)",
        target.display(),
        size as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}
