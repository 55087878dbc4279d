//! SKILL.md: YAML frontmatter and the Markdown body, read as data. Nothing
//! in a SKILL.md grants anything or runs anything.
//!
//! This module reads what loading and running need (name, description, the
//! kept frontmatter, the body); it is lenient, because real files break
//! strict YAML: what it cannot parse becomes a warning, not a failure.

use serde_json::{Map, Value};

/// The largest SKILL.md read, in bytes. Real ones are a few KiB; a larger
/// file is refused with a clear error rather than parsed.
pub const MAX_SKILL_MD_BYTES: usize = 1024 * 1024;

/// What a SKILL.md says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Instructions {
    /// `name` from the frontmatter.
    pub name: Option<String>,
    /// `description` from the frontmatter.
    pub description: Option<String>,
    /// Every frontmatter key, unknown ones included, as JSON.
    pub frontmatter: Map<String, Value>,
    /// The Markdown after the frontmatter.
    pub body: String,
    /// Problems found while reading, each with its line.
    pub warnings: Vec<String>,
}

/// Reads a SKILL.md's text. Never fails: a broken frontmatter is a warning
/// and the fields that can still be recovered line by line are kept.
pub fn parse(text: &str) -> Instructions {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Instructions::default();
    let Some((yaml, body)) = split_frontmatter(text) else {
        out.body = text.to_owned();
        out.warnings.push(
            "line 1: no YAML frontmatter (--- fenced block with name and description)".into(),
        );
        return out;
    };
    out.body = body.to_owned();
    match serde_norway::from_str::<serde_norway::Value>(yaml) {
        Ok(serde_norway::Value::Mapping(map)) => {
            for (k, v) in map {
                let key = match k {
                    serde_norway::Value::String(s) => s,
                    other => format!("{other:?}"),
                };
                let value = serde_json::to_value(&v).unwrap_or(Value::Null);
                out.frontmatter.insert(key, value);
            }
        }
        Ok(serde_norway::Value::Null) => out.warnings.push("line 2: frontmatter is empty".into()),
        Ok(_) => out
            .warnings
            .push("line 2: frontmatter is not a mapping of keys to values".into()),
        Err(e) => {
            let line = e.location().map_or(2, |l| l.line() + 1);
            out.warnings.push(format!(
                "line {line}: frontmatter is not valid YAML ({e}); read it line by line instead"
            ));
            for raw in yaml.lines() {
                if let Some((k, v)) = raw.split_once(':') {
                    let key = k.trim();
                    if !raw.starts_with([' ', '\t'])
                        && !key.is_empty()
                        && !out.frontmatter.contains_key(key)
                    {
                        let v = v.trim().trim_matches(['"', '\'']);
                        out.frontmatter
                            .insert(key.to_owned(), Value::String(v.to_owned()));
                    }
                }
            }
        }
    }
    let text_field =
        |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    out.name = text_field(&out.frontmatter, "name");
    out.description = text_field(&out.frontmatter, "description");
    out
}

/// Splits `---\nYAML\n---\nBODY`, tolerating CRLF. Returns the YAML and
/// the body, or `None` without (or with an unclosed) frontmatter.
fn split_frontmatter(text: &str) -> Option<(&str, &str)> {
    let rest = text
        .strip_prefix("---\r\n")
        .or_else(|| text.strip_prefix("---\n"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            let yaml = &rest[..offset];
            let body = &rest[offset + line.len()..];
            return Some((yaml, body));
        }
        offset += line.len();
    }
    // An unclosed fence: treat everything as body, which the caller reports.
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontmatter_keys_are_kept_and_typed_fields_read() {
        let i =
            parse("---\nname: notes\ndescription: Keeps notes.\nx-custom: [1, 2]\n---\n# Notes\n");
        assert_eq!(i.name.as_deref(), Some("notes"));
        assert_eq!(i.description.as_deref(), Some("Keeps notes."));
        assert_eq!(i.frontmatter["x-custom"], serde_json::json!([1, 2]));
        assert_eq!(i.body, "# Notes\n");
        assert!(i.warnings.is_empty());
    }

    #[test]
    fn crlf_and_bom_are_tolerated() {
        let i = parse("\u{feff}---\r\nname: a\r\ndescription: b\r\n---\r\nbody");
        assert_eq!(i.name.as_deref(), Some("a"));
        assert_eq!(i.body, "body");
    }

    #[test]
    fn broken_yaml_is_a_warning_and_fields_are_recovered() {
        let i = parse("---\nname: weather\ndescription: Use when: the user asks: weather\n---\nx");
        assert_eq!(i.name.as_deref(), Some("weather"));
        assert!(i.description.is_some());
        assert_eq!(i.warnings.len(), 1);
    }

    #[test]
    fn missing_frontmatter_is_a_warning() {
        let i = parse("# Just markdown");
        assert!(i.name.is_none());
        assert_eq!(i.body, "# Just markdown");
        assert!(i.warnings[0].contains("no YAML frontmatter"));
    }
}
