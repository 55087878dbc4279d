//! What changed between two versions of a skill, capabilities first: what
//! a user must look at before accepting an update.

use std::collections::BTreeMap;

use serde::Serialize;

use super::approvals::raised_limits;
use crate::capabilities::Grants;
use crate::files_on_disk::sha256_hex;
use crate::package::{Instructions, Package};
use crate::skill::Skill;

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `granted`, `widened`, `narrowed`, `removed`, `raised`, `lowered`,
    /// `added`, `changed`, `new-finding`, `resolved-finding`.
    pub kind: &'static str,
    /// What it is about, in words.
    pub what: String,
}

fn change(kind: &'static str, what: impl Into<String>) -> Change {
    Change {
        kind,
        what: what.into(),
    }
}

/// The differences between two versions, in three parts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PackageDiff {
    /// Capabilities and limits.
    pub capabilities: Vec<Change>,
    /// SKILL.md: sections and findings.
    pub instructions: Vec<Change>,
    /// The component: digest, imports, commands and their schemas.
    pub component: Vec<Change>,
}

impl PackageDiff {
    /// Compares `old` with `new`. Pass the loaded skills to compare their
    /// components too (`None` for an instruction-only or unloadable one).
    pub fn between(
        old: &Package,
        new: &Package,
        old_skill: Option<&Skill>,
        new_skill: Option<&Skill>,
    ) -> PackageDiff {
        PackageDiff {
            capabilities: capabilities(old, new),
            instructions: instructions(&old.instructions, &new.instructions),
            component: component(old, new, old_skill, new_skill),
        }
    }

    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.capabilities.is_empty() && self.instructions.is_empty() && self.component.is_empty()
    }
}

/// The part of a grant line that names what it is about (`files: /notes`).
fn identity(entry: &str) -> &str {
    [" -> ", " (", " for "]
        .iter()
        .filter_map(|sep| entry.find(sep))
        .min()
        .map_or(entry, |i| &entry[..i])
}

fn capabilities(old: &Package, new: &Package) -> Vec<Change> {
    let none = Grants::default();
    let old_grants = old.manifest.as_ref().map_or(&none, |m| &m.grants);
    let new_grants = new.manifest.as_ref().map_or(&none, |m| &m.grants);
    let all_old = old_grants.outside(&none);
    let all_new = new_grants.outside(&none);
    let had = |entry: &str, list: &[String]| list.iter().any(|e| identity(e) == identity(entry));
    let mut changes = Vec::new();
    for entry in new_grants.outside(old_grants) {
        let kind = if had(&entry, &all_old) {
            "widened"
        } else {
            "granted"
        };
        changes.push(change(kind, entry));
    }
    for entry in old_grants.outside(new_grants) {
        let kind = if had(&entry, &all_new) {
            "narrowed"
        } else {
            "removed"
        };
        changes.push(change(kind, entry));
    }
    if let (Some(o), Some(n)) = (&old.manifest, &new.manifest) {
        changes.extend(
            raised_limits(&n.limits, &o.limits)
                .into_iter()
                .map(|l| change("raised", l)),
        );
        changes.extend(
            raised_limits(&o.limits, &n.limits)
                .into_iter()
                .map(|l| change("lowered", l.replace(" raised from ", " lowered from "))),
        );
    }
    changes
}

/// Each section's text (paragraphs and code), keyed by its title (and
/// occurrence, for repeated titles); text before the first heading is `(top)`.
fn sections(instructions: &Instructions) -> BTreeMap<String, String> {
    let body = &instructions.body;
    let mut names = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &body.sections {
        let n = seen.entry(s.title.as_str()).or_insert(0);
        *n += 1;
        names.push(if *n == 1 {
            s.title.clone()
        } else {
            format!("{} ({})", s.title, n)
        });
    }
    let name = |section: Option<usize>| {
        section
            .and_then(|i| names.get(i).cloned())
            .unwrap_or_else(|| "(top)".into())
    };
    let mut texts: BTreeMap<String, String> =
        names.iter().map(|n| (n.clone(), String::new())).collect();
    for p in &body.paragraphs {
        let text = texts.entry(name(p.section)).or_default();
        text.push_str(&p.text);
        text.push('\n');
    }
    for c in &body.code_blocks {
        let text = texts.entry(name(c.section)).or_default();
        text.push_str(&c.code);
        text.push('\n');
    }
    texts
}

fn instructions(old: &Instructions, new: &Instructions) -> Vec<Change> {
    let mut changes = Vec::new();
    let (old_sections, new_sections) = (sections(old), sections(new));
    for (title, text) in &new_sections {
        match old_sections.get(title) {
            None => changes.push(change("added", format!("section \"{title}\""))),
            Some(before) if before != text => {
                changes.push(change("changed", format!("section \"{title}\"")));
            }
            Some(_) => {}
        }
    }
    for title in old_sections.keys() {
        if !new_sections.contains_key(title) {
            changes.push(change("removed", format!("section \"{title}\"")));
        }
    }
    if old.frontmatter.description != new.frontmatter.description {
        changes.push(change("changed", "the description in the frontmatter"));
    }
    // Findings are compared by code and message: line numbers move with edits.
    let key = |f: &crate::package::instructions::Finding| format!("{}: {}", f.code, f.message);
    for f in &new.findings {
        if !old.findings.iter().any(|o| key(o) == key(f)) {
            changes.push(change(
                "new-finding",
                format!("{} (line {}): {}", f.code, f.line, f.message),
            ));
        }
    }
    for f in &old.findings {
        if !new.findings.iter().any(|n| key(n) == key(f)) {
            changes.push(change(
                "resolved-finding",
                format!("{}: {}", f.code, f.message),
            ));
        }
    }
    changes
}

fn component_digest(package: &Package) -> Option<String> {
    let manifest = package.manifest.as_ref()?;
    let bytes = std::fs::read(package.root.join(manifest.component()?.as_path())).ok()?;
    Some(format!("sha256:{}", sha256_hex(&bytes)))
}

fn component(
    old: &Package,
    new: &Package,
    old_skill: Option<&Skill>,
    new_skill: Option<&Skill>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let (old_digest, new_digest) = (component_digest(old), component_digest(new));
    if old_digest != new_digest {
        let show = |d: &Option<String>| d.clone().unwrap_or_else(|| "none".into());
        changes.push(change(
            "changed",
            format!("component {} -> {}", show(&old_digest), show(&new_digest)),
        ));
    }
    let imports = |s: Option<&Skill>| s.map(|s| s.imports().to_vec()).unwrap_or_default();
    let (old_imports, new_imports) = (imports(old_skill), imports(new_skill));
    for i in new_imports.iter().filter(|i| !old_imports.contains(i)) {
        changes.push(change("added", format!("import {i}")));
    }
    for i in old_imports.iter().filter(|i| !new_imports.contains(i)) {
        changes.push(change("removed", format!("import {i}")));
    }
    let commands = |s: Option<&Skill>| {
        s.map(|s| {
            s.commands()
                .into_iter()
                .map(|c| (c.name.clone(), c))
                .collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default()
    };
    let (old_commands, new_commands) = (commands(old_skill), commands(new_skill));
    for (name, command) in &new_commands {
        match old_commands.get(name) {
            None => changes.push(change("added", format!("command `{name}`"))),
            Some(before) => {
                if before.input_schema != command.input_schema {
                    changes.push(change(
                        "changed",
                        format!("command `{name}`: its input schema"),
                    ));
                }
                if before.output_schema != command.output_schema
                    || before.error_schema != command.error_schema
                {
                    changes.push(change(
                        "changed",
                        format!("command `{name}`: its result schema"),
                    ));
                }
            }
        }
    }
    for name in old_commands.keys() {
        if !new_commands.contains_key(name) {
            changes.push(change("removed", format!("command `{name}`")));
        }
    }
    changes
}
