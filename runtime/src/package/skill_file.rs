//! Which file holds a package's instructions. The Agent Skills format names
//! it `SKILL.md`; skills in the wild also ship `Skill.md` or `skill.md`.
//! All three load. When several exist (possible on a case-sensitive file
//! system), the choice follows [`SKILL_FILE_NAMES`] and is reported, since
//! another agent may read a different one.

use std::ffi::OsStr;
use std::path::Path;

use super::{Finding, Severity};

/// The names an instructions file may have, most preferred first.
pub const SKILL_FILE_NAMES: [&str; 3] = ["SKILL.md", "Skill.md", "skill.md"];

/// Whether `name` is one of [`SKILL_FILE_NAMES`].
pub fn is_skill_file_name(name: &OsStr) -> bool {
    SKILL_FILE_NAMES.iter().any(|n| name == OsStr::new(n))
}

/// The instructions file chosen in a folder, and the findings about the choice.
pub(crate) struct Choice {
    pub name: &'static str,
    pub findings: Vec<Finding>,
}

/// Chooses among the variants present in `root`. `named` is the file the
/// user gave, if they gave one: it wins. Names are compared exactly, from a
/// listing of the folder, so a case-insensitive file system that answers
/// for all three names still yields the one file it holds.
pub(crate) fn choose(root: &Path, named: Option<&OsStr>) -> Choice {
    let present: Vec<&'static str> = match std::fs::read_dir(root) {
        Ok(entries) => {
            let names: Vec<std::ffi::OsString> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .filter(|n| is_skill_file_name(n))
                .collect();
            SKILL_FILE_NAMES
                .into_iter()
                .filter(|n| names.iter().any(|p| p == OsStr::new(n)))
                .collect()
        }
        Err(_) => Vec::new(),
    };
    // A name the listing does not hold exactly was matched by a
    // case-insensitive file system: the file is the one listed.
    let given = named
        .and_then(|n| SKILL_FILE_NAMES.into_iter().find(|s| n == OsStr::new(s)))
        .filter(|g| present.is_empty() || present.contains(g));
    // Nothing found: `SKILL.md`, so the error for a missing file names it.
    let name = given
        .or_else(|| present.first().copied())
        .unwrap_or(SKILL_FILE_NAMES[0]);
    let mut findings = Vec::new();
    if name != SKILL_FILE_NAMES[0] {
        findings.push(Finding::new(
            "skill-file-name",
            Severity::Info,
            1,
            1,
            format!("the instructions are in `{name}`; the Agent Skills format names the file `SKILL.md`, and agents that look only for that name will not find this skill. Read anyway"),
        ));
    }
    let others: Vec<String> = present
        .iter()
        .filter(|n| **n != name)
        .map(|n| format!("`{n}`"))
        .collect();
    if !others.is_empty() {
        let why = if given.is_some() {
            "the file named on the command line".to_owned()
        } else {
            format!("the first of {} present", SKILL_FILE_NAMES.join(", "))
        };
        findings.push(Finding::new(
            "several-skill-files",
            Severity::Warning,
            1,
            1,
            format!(
                "this package also has {}; `{name}` was read ({why}) and the others were not. An agent with another order, or on a case-insensitive file system, may load a different one: review them too, or delete all but one",
                others.join(", ")
            ),
        ));
    }
    Choice { name, findings }
}
