//! `skill-run new`: a new Rust skill that builds as it stands.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use skill_runtime::package::SkillName;

/// Arguments of `skill-run new`.
#[derive(Args)]
pub struct NewArgs {
    /// The skill's name (lowercase letters, digits, hyphens); also its folder.
    name: String,
    /// The folder to create the skill in [default: the current folder].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Where skill-sdk is [default: the skill-sdk this skill-run was built with].
    #[arg(long, value_name = "PATH")]
    sdk: Option<PathBuf>,
}

pub fn new(args: NewArgs) -> Result<u8> {
    let name = SkillName::parse(&args.name).map_err(anyhow::Error::msg)?;
    let folder = args
        .dir
        .unwrap_or_else(|| PathBuf::from("."))
        .join(name.as_str());
    if folder.exists() {
        bail!(
            "{} already exists; choose another name or remove it",
            folder.display()
        );
    }
    let sdk = match args.sdk {
        Some(path) => path,
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../skill-sdk"),
    };
    let sdk = std::fs::canonicalize(&sdk)
        .with_context(|| format!("skill-sdk not found at {}; pass --sdk PATH", sdk.display()))?;
    let crate_name = name.as_str().replace('-', "_");
    let files = [
        (
            "Cargo.toml",
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\nskill-sdk = {{ path = {sdk:?} }}\n\n# A skill is its own workspace, wherever it is created.\n[workspace]\n"
            ),
        ),
        (
            "wit/world.wit",
            format!(
                "package local:{name};\n\n/// Each exported function is a command: its parameters are the JSON input's keys.\nworld {name} {{\n    /// Says hello to `who`.\n    export hello: func(who: string) -> string;\n}}\n"
            ),
        ),
        (
            "src/lib.rs",
            format!(
                "//! The `{name}` skill.\n\nskill_sdk::skill!(\"{name}\");\n\nstruct Skill;\n\nimpl Guest for Skill {{\n    fn hello(who: String) -> String {{\n        format!(\"Hello, {{who}}!\")\n    }}\n}}\n\nexport!(Skill);\n"
            ),
        ),
        (
            "SKILL.md",
            format!(
                "---\nname: {name}\ndescription: Describe what {name} does and when an agent should use it.\n---\n\n# {name}\n\nInstructions for the agent go here. They are data: nothing in them runs.\n"
            ),
        ),
        (
            "skill.toml",
            format!(
                "[skill]\nname = \"{name}\"\nversion = \"0.1.0\"\ncomponent = \"{crate_name}.wasm\"\n\n# Everything is denied unless granted here. For example:\n# [capabilities]\n# files = [{{ guest = \"/data\", host = \"{{workspace}}/data\", access = \"read\" }}]\n# network = [\"https://api.example.com/v1/\"]\n# channels = [{{ name = \"events\", direction = \"send\" }}]\n# env = [\"LANG\"]\n\n[limits]\nmemory = \"32 MiB\"\ntimeout = \"5s\"\n"
            ),
        ),
        (".gitignore", "/target\n*.wasm\n".to_owned()),
    ];
    for (path, text) in files {
        let path = folder.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("created {}", folder.display());
    println!(
        "next: skill-run build {0} && skill-run run {0} hello --input '{{\"who\": \"world\"}}'",
        folder.display()
    );
    Ok(0)
}
