//! `skill-run init`: writes a proposed skill.toml for a skill that ships
//! scripts and has none, from a static scan of its scripts and SKILL.md.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use skill_runtime::Package;
use skill_runtime::package::scripts::proposal;

/// Arguments of `skill-run init`.
#[derive(Args)]
pub struct InitArgs {
    /// The package folder (with SKILL.md and its scripts, without skill.toml).
    package: PathBuf,
    /// Print the proposal on stdout instead of writing skill.toml.
    #[arg(long)]
    print: bool,
}

pub fn init(args: InitArgs) -> Result<u8> {
    let existing = args.package.join("skill.toml");
    if std::fs::symlink_metadata(&existing).is_ok() {
        bail!(
            "{} already exists; skill-run init never overwrites a skill.toml (move it away to get a new proposal)",
            existing.display()
        );
    }
    let package = Package::read(&args.package)
        .with_context(|| format!("reading the skill package at {}", args.package.display()))?;
    let report = package.scripts();
    let text = proposal::propose(&package, &report).map_err(|why| {
        anyhow!(
            "cannot propose a skill.toml for `{}` at {}: {why}",
            package.name(),
            args.package.display()
        )
    })?;
    if args.print {
        print!("{text}");
        return Ok(0);
    }
    let target = package.root.join("skill.toml");
    // create_new: never replace a skill.toml, even one written since the check above.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
        .with_context(|| {
            format!(
                "writing {} (skill-run init never overwrites one)",
                target.display()
            )
        })?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", target.display()))?;
    say_err!(
        "wrote {}: review every line (each names the file and line it came from), then `skill-run check {}`",
        target.display(),
        args.package.display()
    );
    Ok(0)
}
