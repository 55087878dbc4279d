//! `skill-run new`: a new Rust, Python or JavaScript skill that builds and
//! runs as it stands.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
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
    /// The language to write it in.
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,
}

/// The languages `skill-run new` scaffolds.
#[derive(Clone, Copy, ValueEnum)]
enum Lang {
    Rust,
    Python,
    Js,
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
    let files = match args.lang {
        Lang::Rust => rust_files(&name, &sdk, &crate_name),
        Lang::Python => script_files(&name, Script::Python),
        Lang::Js => script_files(&name, Script::Js),
    };
    write_files(&folder, files)?;
    println!("created {}", folder.display());
    println!(
        "next: skill-run build {0} && skill-run run {0} hello --input '{{\"who\": \"world\"}}'",
        folder.display()
    );
    Ok(0)
}

fn write_files(folder: &std::path::Path, files: Vec<(&'static str, String)>) -> Result<()> {
    for (path, text) in files {
        let path = folder.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn rust_files(
    name: &SkillName,
    sdk: &std::path::Path,
    crate_name: &str,
) -> Vec<(&'static str, String)> {
    vec![
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
    ]
}

#[derive(Clone, Copy, PartialEq)]
enum Script {
    Python,
    Js,
}

/// A Python (componentize-py) or JavaScript (ComponentizeJS) skill: the
/// world, the entry file, SKILL.md and skill.toml.
fn script_files(name: &SkillName, script: Script) -> Vec<(&'static str, String)> {
    let (entry, source, lang, sdk) = match script {
        Script::Python => (
            "app.py",
            format!(
                "\"\"\"The `{name}` skill: each method of WitWorld is a command of wit/world.wit.\"\"\"\n\nimport wit_world\n\n\nclass WitWorld(wit_world.WitWorld):\n    def hello(self, who: str) -> str:\n        return f\"Hello, {{who}}!\"\n"
            ),
            "Python",
            "Python: skill-sdk/python (skill_sdk.channels, skill_sdk.http)",
        ),
        Script::Js => (
            "app.js",
            format!(
                "// The `{name}` skill: each exported function is a command of wit/world.wit.\n\n/** @param {{string}} who */\nexport function hello(who) {{\n  return `Hello, ${{who}}!`;\n}}\n"
            ),
            "JavaScript",
            "JavaScript: skill-sdk/js (TypeScript types for the channels import; fetch needs a network grant)",
        ),
    };
    vec![
        (
            "wit/world.wit",
            format!(
                "package local:{name};\n\n/// Each exported function is a command: its parameters are the JSON input's keys.\n/// Channels: add `import skills:runtime/channels@0.1.0;` (and a [capabilities].channels grant).\n/// HTTP: add `import wasi:http/outgoing-handler@0.2.12;` (and a [capabilities].network grant).\nworld {name} {{\n    /// Says hello to `who`.\n    export hello: func(who: string) -> string;\n}}\n"
            ),
        ),
        (entry, source),
        (
            "SKILL.md",
            format!(
                "---\nname: {name}\ndescription: Describe what {name} does and when an agent should use it.\n---\n\n# {name}\n\nInstructions for the agent go here. They are data: nothing in them runs.\n\nWritten in {lang}; SDK for {sdk}.\n"
            ),
        ),
        (
            "skill.toml",
            format!(
                "[skill]\nname = \"{name}\"\nversion = \"0.1.0\"\ncomponent = \"{name}.wasm\"\n\n# Everything is denied unless granted here. For example:\n# [capabilities]\n# files = [{{ guest = \"/data\", host = \"{{workspace}}/data\", access = \"read\" }}]\n# network = [\"https://api.example.com/v1/\"]\n# channels = [{{ name = \"events\", direction = \"send\" }}]\n# env = [\"LANG\"]\n\n[limits]\nmemory = \"128 MiB\"   # the language runtime is part of the component\ntimeout = \"5s\"\n"
            ),
        ),
        (".gitignore", "*.wasm\n".to_owned()),
    ]
}
