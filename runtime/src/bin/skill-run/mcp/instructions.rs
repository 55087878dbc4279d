//! Each skill's SKILL.md, and the files it references, offered to the
//! client as data: a prompt per skill, resources at
//! `skill://<name>/<path>`, and the skills extension's entries (SEP-2640)
//! with a sha256 and size per file.

use rmcp::model::{
    Prompt, Resource, ResourceContents, Skill, SkillFrontmatter, SkillResource, SkillResources,
};

use super::catalog::{Served, ServedFile};

fn mime(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("md") => "text/markdown",
        Some("json") => "application/json",
        Some("toml") => "application/toml",
        Some("txt" | "py" | "js" | "sh" | "ts" | "rs" | "yaml" | "yml") => "text/plain",
        _ => "application/octet-stream",
    }
}

/// The prompt named after the skill: its SKILL.md.
pub fn prompt(served: &Served) -> Prompt {
    Prompt::new(
        served.name.clone(),
        Some(format!(
            "The instructions (SKILL.md) of skill `{}`: {}",
            served.name, served.description
        )),
        None,
    )
}

/// SKILL.md as text (invalid UTF-8 replaced).
pub fn skill_md_text(served: &Served) -> String {
    served
        .files
        .iter()
        .find(|f| f.path == "SKILL.md")
        .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
        .unwrap_or_default()
}

/// One resource per served file.
pub fn resources(served: &Served) -> Vec<Resource> {
    served
        .files
        .iter()
        .map(|file| {
            let resource = Resource::new(
                served.uri(&file.path),
                format!("{}/{}", served.name, file.path),
            )
            .with_mime_type(mime(&file.path))
            .with_size(file.bytes.len() as u64);
            if file.path == "SKILL.md" {
                resource.with_description(format!(
                    "Instructions of skill `{}` (data for the agent; nothing in it runs)",
                    served.name
                ))
            } else {
                resource
            }
        })
        .collect()
}

/// Served files are UTF-8: the catalog offers no other.
fn contents(served: &Served, file: &ServedFile) -> ResourceContents {
    ResourceContents::text(String::from_utf8_lossy(&file.bytes), served.uri(&file.path))
        .with_mime_type(mime(&file.path))
}

/// The contents at `uri`, if it names one of this skill's files.
pub fn read(served: &Served, uri: &str) -> Option<ResourceContents> {
    served
        .files
        .iter()
        .find(|f| served.uri(&f.path) == uri)
        .map(|f| contents(served, f))
}

/// The skills extension's entry: SKILL.md's URI, its frontmatter, and every
/// file with its sha256 and size. `None` without a SKILL.md.
pub fn skill(served: &Served) -> Option<Skill> {
    served.files.iter().find(|f| f.path == "SKILL.md")?;
    let files = served
        .files
        .iter()
        .map(|f| SkillResource::from_bytes(served.uri(&f.path), &f.bytes))
        .collect();
    Some(Skill::new(
        served.uri("SKILL.md"),
        SkillFrontmatter::new(served.name.clone(), served.description.clone()),
        SkillResources::Files(files),
    ))
}
