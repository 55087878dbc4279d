//! `skill-run build`: compiles a Rust skill for wasm32-wasip2 with cargo and
//! puts the component where its skill.toml says.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::Args;
use skill_runtime::Package;
use skill_runtime::package::Executable;

/// Arguments of `skill-run build`.
#[derive(Args)]
pub struct BuildArgs {
    /// The skill folder (with Cargo.toml and skill.toml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Build without optimisations.
    #[arg(long)]
    debug: bool,
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
    };
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
    let target = package.root.join(component.as_path());
    std::fs::copy(&artifact, &target)
        .with_context(|| format!("copying {} to {}", artifact.display(), target.display()))?;
    let size = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    eprintln!("built {} ({} KiB)", target.display(), size / 1024);
    Ok(0)
}
