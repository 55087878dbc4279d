//! Paths of the guest components built for the tests, and a helper that
//! assembles skill packages from them in temporary folders.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

/// A skill package in a temporary folder, removed when dropped.
#[derive(Debug)]
pub struct TempPackage {
    /// Holds the folder alive.
    pub dir: tempfile::TempDir,
}

impl TempPackage {
    /// A package named `name` with the given component and `skill.toml`
    /// text (`{name}` in it is replaced by the name).
    pub fn new(name: &str, component: &str, skill_toml: &str) -> TempPackage {
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::write(
            dir.path().join("SKILL.md"),
            format!("---\nname: {name}\ndescription: Test skill {name}.\n---\n\n# {name}\n"),
        )
        .expect("write SKILL.md");
        std::fs::write(
            dir.path().join("skill.toml"),
            skill_toml.replace("{name}", name),
        )
        .expect("write skill.toml");
        std::fs::copy(component, dir.path().join("skill.wasm")).expect("copy component");
        TempPackage { dir }
    }

    /// One of the examples, with its own SKILL.md and skill.toml.
    pub fn example(name: &str, component: &str) -> TempPackage {
        let dir = tempfile::tempdir().expect("temporary folder");
        let src = Path::new(WORKSPACE).join("examples").join(name);
        for file in ["SKILL.md", "skill.toml"] {
            std::fs::copy(src.join(file), dir.path().join(file)).expect("copy example file");
        }
        std::fs::copy(component, dir.path().join(format!("{name}.wasm"))).expect("copy component");
        TempPackage { dir }
    }

    /// The package folder.
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

/// The `[skill]` table for a test package whose component is `skill.wasm`.
pub fn skill_table(name: &str) -> String {
    format!("[skill]\nname = \"{name}\"\nversion = \"0.1.0\"\ncomponent = \"skill.wasm\"\n")
}
