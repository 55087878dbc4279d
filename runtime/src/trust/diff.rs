//! What changed between two versions of a skill, capabilities first: what
//! a user must look at before accepting an update.

use std::collections::BTreeMap;

use serde::Serialize;

use super::approvals::limit_changes;
use crate::capabilities::{GrantEntry, Grants};
use crate::files_on_disk::sha256_hex;
use crate::package::{Instructions, Package};
use crate::skill::Skill;

/// What kind of difference a [`Change`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// A capability the old version did not have at all.
    Granted,
    /// A capability the old version had, now allowing more.
    Widened,
    /// A capability the old version had, now allowing less.
    Narrowed,
    /// A capability the new version no longer has.
    Removed,
    /// A limit made higher.
    Raised,
    /// A limit made lower.
    Lowered,
    /// A section, import or command that is new.
    Added,
    /// A section, component, schema or description that differs.
    Changed,
    /// An instruction finding the old version did not have.
    NewFinding,
    /// An instruction finding the new version no longer has.
    ResolvedFinding,
}

impl ChangeKind {
    /// The kind as written in `--json` (`new-finding`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Granted => "granted",
            ChangeKind::Widened => "widened",
            ChangeKind::Narrowed => "narrowed",
            ChangeKind::Removed => "removed",
            ChangeKind::Raised => "raised",
            ChangeKind::Lowered => "lowered",
            ChangeKind::Added => "added",
            ChangeKind::Changed => "changed",
            ChangeKind::NewFinding => "new-finding",
            ChangeKind::ResolvedFinding => "resolved-finding",
        }
    }

    /// Whether the change gives the skill more than it had.
    pub fn is_growth(self) -> bool {
        matches!(
            self,
            ChangeKind::Granted | ChangeKind::Widened | ChangeKind::Raised
        )
    }
}

impl std::fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Change {
    /// What kind of difference it is.
    pub kind: ChangeKind,
    /// What it is about, in words.
    pub what: String,
}

fn change(kind: ChangeKind, what: impl Into<String>) -> Change {
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

fn capabilities(old: &Package, new: &Package) -> Vec<Change> {
    let none = Grants::default();
    let old_grants = old.manifest.as_ref().map_or(&none, |m| &m.grants);
    let new_grants = new.manifest.as_ref().map_or(&none, |m| &m.grants);
    let all_old = old_grants.outside(&none);
    let all_new = new_grants.outside(&none);
    let had = |entry: &GrantEntry, list: &[GrantEntry]| list.iter().any(|e| e.same_subject(entry));
    let mut changes = Vec::new();
    for entry in new_grants.outside(old_grants) {
        let kind = if had(&entry, &all_old) {
            ChangeKind::Widened
        } else {
            ChangeKind::Granted
        };
        changes.push(change(kind, entry.to_string()));
    }
    for entry in old_grants.outside(new_grants) {
        let kind = if had(&entry, &all_new) {
            ChangeKind::Narrowed
        } else {
            ChangeKind::Removed
        };
        changes.push(change(kind, entry.to_string()));
    }
    if let (Some(o), Some(n)) = (&old.manifest, &new.manifest) {
        changes.extend(
            limit_changes(&n.limits, &o.limits, "raised")
                .into_iter()
                .map(|l| change(ChangeKind::Raised, l)),
        );
        changes.extend(
            limit_changes(&o.limits, &n.limits, "lowered")
                .into_iter()
                .map(|l| change(ChangeKind::Lowered, l)),
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
            None => changes.push(change(ChangeKind::Added, format!("section \"{title}\""))),
            Some(before) if before != text => {
                changes.push(change(ChangeKind::Changed, format!("section \"{title}\"")));
            }
            Some(_) => {}
        }
    }
    for title in old_sections.keys() {
        if !new_sections.contains_key(title) {
            changes.push(change(ChangeKind::Removed, format!("section \"{title}\"")));
        }
    }
    if old.frontmatter.description != new.frontmatter.description {
        changes.push(change(
            ChangeKind::Changed,
            "the description in the frontmatter",
        ));
    }
    // Findings are compared by code and message: line numbers move with edits.
    let key = |f: &crate::package::instructions::Finding| format!("{}: {}", f.code, f.message);
    for f in &new.findings {
        if !old.findings.iter().any(|o| key(o) == key(f)) {
            changes.push(change(
                ChangeKind::NewFinding,
                format!("{} (line {}): {}", f.code, f.line, f.message),
            ));
        }
    }
    for f in &old.findings {
        if !new.findings.iter().any(|n| key(n) == key(f)) {
            changes.push(change(
                ChangeKind::ResolvedFinding,
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
            ChangeKind::Changed,
            format!("component {} -> {}", show(&old_digest), show(&new_digest)),
        ));
    }
    let imports = |s: Option<&Skill>| s.map(|s| s.imports().to_vec()).unwrap_or_default();
    let (old_imports, new_imports) = (imports(old_skill), imports(new_skill));
    for i in new_imports.iter().filter(|i| !old_imports.contains(i)) {
        changes.push(change(ChangeKind::Added, format!("import {i}")));
    }
    for i in old_imports.iter().filter(|i| !new_imports.contains(i)) {
        changes.push(change(ChangeKind::Removed, format!("import {i}")));
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
            None => changes.push(change(ChangeKind::Added, format!("command `{name}`"))),
            Some(before) => {
                if before.input_schema != command.input_schema {
                    changes.push(change(
                        ChangeKind::Changed,
                        format!("command `{name}`: its input schema"),
                    ));
                }
                if before.output_schema != command.output_schema
                    || before.error_schema != command.error_schema
                {
                    changes.push(change(
                        ChangeKind::Changed,
                        format!("command `{name}`: its result schema"),
                    ));
                }
            }
        }
    }
    for name in old_commands.keys() {
        if !new_commands.contains_key(name) {
            changes.push(change(ChangeKind::Removed, format!("command `{name}`")));
        }
    }
    changes
}
