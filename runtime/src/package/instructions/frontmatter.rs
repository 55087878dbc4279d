//! The YAML frontmatter of a SKILL.md: every key kept, the Agent Skills and
//! OpenClaw fields typed, and files that break strict YAML recovered line by
//! line with a warning that says where.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Finding, Severity};

/// The largest frontmatter parsed as YAML. Real ones are a few hundred
/// bytes; past this the block is read line by line only, which is linear.
pub const MAX_FRONTMATTER_BYTES: usize = 64 * 1024;

/// The deepest `[`/`{` nesting handed to the YAML parser. libyaml's cost
/// grows with the square of flow nesting, so deeper text is refused before
/// it is parsed (real frontmatter nests a handful of levels).
pub const MAX_FLOW_NESTING: usize = 64;

/// Parses YAML text, refusing flow nesting deeper than [`MAX_FLOW_NESTING`]
/// before the parser sees it. The error is a message and a 1-based (line, column).
fn parse_yaml(text: &str) -> Result<serde_norway::Value, (String, Option<(usize, usize)>)> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '[' | '{' => {
                depth += 1;
                if depth > MAX_FLOW_NESTING {
                    let line = text[..i].matches('\n').count() + 1;
                    return Err((
                        format!("brackets nest deeper than {MAX_FLOW_NESTING} levels"),
                        Some((line, 1)),
                    ));
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    serde_norway::from_str(text).map_err(|e| {
        (
            super::first_sentence(&e.to_string()),
            e.location().map(|l| (l.line(), l.column())),
        )
    })
}

/// The frontmatter's fields. Unknown keys are kept in `keys`, never dropped.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Frontmatter {
    /// Whether the file had a `---` fenced block at all.
    pub present: bool,
    /// `name`.
    pub name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `license`.
    pub license: Option<String>,
    /// `compatibility`.
    pub compatibility: Option<String>,
    /// `allowed-tools`, written as a list or as one space- or comma-separated string.
    pub allowed_tools: Vec<String>,
    /// `homepage` (OpenClaw).
    pub homepage: Option<String>,
    /// `user-invocable` (OpenClaw).
    pub user_invocable: Option<bool>,
    /// `disable-model-invocation` (OpenClaw).
    pub disable_model_invocation: Option<bool>,
    /// Every `command-*` key (OpenClaw), by its full key.
    pub commands: Map<String, Value>,
    /// `metadata` as written (a JSON-in-YAML string is parsed).
    pub metadata: Option<Value>,
    /// `metadata.openclaw` (or its older names `moltbot`, `clawdbot`).
    pub openclaw: Option<Value>,
    /// Every key, as JSON.
    pub keys: Map<String, Value>,
}

/// The frontmatter block and where the body starts.
pub(crate) struct Split<'a> {
    pub yaml: &'a str,
    pub body: &'a str,
    /// 1-based line of the body's first line.
    pub body_line: usize,
}

/// Splits `---\nYAML\n---\nBODY`. `None` when the text does not start with a
/// fence; an unclosed fence is reported and the whole text is the body.
pub(crate) fn split<'a>(text: &'a str, findings: &mut Vec<Finding>) -> Option<Split<'a>> {
    let rest = text
        .strip_prefix("---\r\n")
        .or_else(|| text.strip_prefix("---\n"))?;
    let mut offset = 0;
    for (i, line) in rest.split_inclusive('\n').enumerate() {
        if matches!(line.trim_end(), "---" | "...") {
            return Some(Split {
                yaml: &rest[..offset],
                body: &rest[offset + line.len()..],
                body_line: i + 3,
            });
        }
        offset += line.len();
    }
    findings.push(Finding::new(
        "invalid-frontmatter",
        Severity::Warning,
        1,
        1,
        "the frontmatter opened with `---` is never closed; the whole file is read as Markdown",
    ));
    None
}

/// Parses the YAML block (starting at line 2 of the file).
pub(crate) fn parse(yaml: &str, findings: &mut Vec<Finding>) -> Frontmatter {
    let mut fm = Frontmatter {
        present: true,
        ..Frontmatter::default()
    };
    if let Some((line, _)) = yaml.lines().enumerate().find(|(_, l)| l.starts_with('\t')) {
        findings.push(Finding::new(
            "invalid-frontmatter",
            Severity::Warning,
            line + 2,
            1,
            "a tab indents this line; YAML allows only spaces",
        ));
    }
    let parsed = if yaml.len() > MAX_FRONTMATTER_BYTES {
        findings.push(Finding::new(
            "invalid-frontmatter",
            Severity::Warning,
            2,
            1,
            format!("the frontmatter is {} bytes, over the {MAX_FRONTMATTER_BYTES}-byte limit; read line by line", yaml.len()),
        ));
        None
    } else {
        match parse_yaml(yaml) {
            Ok(serde_norway::Value::Mapping(map)) => Some(map),
            Ok(serde_norway::Value::Null) => {
                findings.push(Finding::new(
                    "invalid-frontmatter",
                    Severity::Warning,
                    2,
                    1,
                    "the frontmatter is empty",
                ));
                Some(Default::default())
            }
            Ok(_) => {
                findings.push(Finding::new(
                    "invalid-frontmatter",
                    Severity::Warning,
                    2,
                    1,
                    "the frontmatter is not a mapping of keys to values",
                ));
                None
            }
            Err((reason, location)) => {
                // Lines are counted within the block, which starts on line 2 of the file.
                let (line, column) = location.map_or((2, 1), |(l, c)| (l + 1, c));
                findings.push(Finding::new(
                    "invalid-frontmatter",
                    Severity::Warning,
                    line,
                    column,
                    format!("the frontmatter is not valid YAML ({reason}); its keys were recovered line by line"),
                ));
                None
            }
        }
    };
    match parsed {
        Some(map) => {
            for (k, v) in map {
                let key = match k {
                    serde_norway::Value::String(s) => s,
                    other => super::one_line(&format!("{other:?}")),
                };
                fm.keys
                    .insert(key, serde_json::to_value(&v).unwrap_or(Value::Null));
            }
        }
        None => fm.keys = recover_lines(yaml),
    }
    type_fields(&mut fm, findings);
    fm
}

/// Reads `key: value` lines when the block is not valid YAML. A value is
/// kept as YAML when it parses alone (JSON metadata does), else as text;
/// indented lines continue the previous key.
fn recover_lines(yaml: &str) -> Map<String, Value> {
    let mut keys = Map::new();
    let mut current: Option<(String, String)> = None;
    let flush = |keys: &mut Map<String, Value>, entry: Option<(String, String)>| {
        if let Some((key, raw)) = entry {
            let raw = raw.trim();
            // Only values that open a flow collection (JSON metadata) are
            // re-read as YAML; anything else is the text as written, since an
            // unquoted `a: b` inside it would otherwise read as a mapping.
            let structured = raw.starts_with(['{', '[']) || matches!(raw, "true" | "false");
            let value = match parse_yaml(raw) {
                Ok(v) if structured => {
                    serde_json::to_value(&v).unwrap_or_else(|_| Value::String(raw.to_owned()))
                }
                _ => Value::String(raw.trim_matches(['"', '\'']).to_owned()),
            };
            keys.entry(key).or_insert(value);
        }
    };
    for line in yaml.lines() {
        let starts_key = !line.starts_with([' ', '\t', '-', '#']) && line.contains(':');
        if starts_key {
            flush(&mut keys, current.take());
            let (k, v) = line.split_once(':').unwrap_or((line, ""));
            current = Some((k.trim().to_owned(), v.to_owned()));
        } else if let Some((_, raw)) = &mut current {
            raw.push('\n');
            raw.push_str(line);
        }
    }
    flush(&mut keys, current);
    keys
}

fn text(keys: &Map<String, Value>, key: &str) -> Option<String> {
    match keys.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn flag(keys: &Map<String, Value>, key: &str) -> Option<bool> {
    match keys.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim() {
            "true" | "yes" => Some(true),
            "false" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Parses JSON that people write by hand: trailing commas before `}` or `]` are dropped.
fn lenient_json(text: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str(text) {
        return Some(v);
    }
    let mut cleaned = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if in_string {
            escaped = !escaped && c == '\\';
            if c == '"' && !escaped {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ','
            && chars[i + 1..]
                .iter()
                .find(|c| !c.is_whitespace())
                .is_some_and(|n| *n == '}' || *n == ']')
        {
            continue;
        }
        cleaned.push(c);
    }
    serde_json::from_str(&cleaned).ok()
}

/// Splits `Read Bash(git diff *), Write` at spaces and commas outside
/// parentheses, so a tool's pattern stays with its tool.
fn split_tools(text: &str) -> Vec<String> {
    let mut tools = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' | ' ' | '\t' | '\n' if depth == 0 => {
                if !current.trim().is_empty() {
                    tools.push(current.trim().to_owned());
                }
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        tools.push(current.trim().to_owned());
    }
    tools
}

fn type_fields(fm: &mut Frontmatter, findings: &mut Vec<Finding>) {
    let keys = &fm.keys;
    fm.name = text(keys, "name");
    fm.description = text(keys, "description");
    fm.license = text(keys, "license");
    fm.compatibility = text(keys, "compatibility");
    fm.homepage = text(keys, "homepage");
    fm.user_invocable = flag(keys, "user-invocable");
    fm.disable_model_invocation = flag(keys, "disable-model-invocation");
    fm.allowed_tools = match keys.get("allowed-tools") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => split_tools(s),
        _ => Vec::new(),
    };
    fm.commands = keys
        .iter()
        .filter(|(k, _)| k.starts_with("command-"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    fm.metadata = match keys.get("metadata") {
        Some(Value::String(s)) => match lenient_json(s) {
            Some(v) => Some(v),
            None => {
                findings.push(Finding::new(
                    "invalid-frontmatter",
                    Severity::Warning,
                    2,
                    1,
                    "`metadata` is a string that is not JSON; kept as text",
                ));
                Some(Value::String(s.clone()))
            }
        },
        other => other.cloned(),
    };
    fm.openclaw = fm.metadata.as_ref().and_then(|m| {
        ["openclaw", "moltbot", "clawdbot"]
            .iter()
            .find_map(|k| m.get(*k))
            .cloned()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(yaml: &str) -> (Frontmatter, Vec<Finding>) {
        let mut findings = Vec::new();
        (parse(yaml, &mut findings), findings)
    }

    #[test]
    fn openclaw_json_metadata_with_trailing_commas_is_typed() {
        let (fm, findings) = parse_text(
            "name: op\nmetadata:\n  {\n    \"openclaw\": { \"emoji\": \"🔐\", \"install\": [ { \"id\": \"brew\", }, ], },\n  }\n",
        );
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(
            fm.openclaw.as_ref().and_then(|o| o.get("emoji")),
            Some(&Value::from("🔐"))
        );
    }

    #[test]
    fn an_unquoted_colon_is_recovered_with_a_located_warning() {
        let (fm, findings) = parse_text(
            "name: discord\ndescription: Use when: you need Discord\nmetadata: {\"openclaw\":{\"emoji\":\"🎮\"}}\n",
        );
        assert_eq!(fm.name.as_deref(), Some("discord"));
        assert_eq!(
            fm.description.as_deref(),
            Some("Use when: you need Discord")
        );
        assert!(fm.openclaw.is_some(), "JSON metadata recovered");
        let (other, _) =
            parse_text("name: d\ndescription: Use via the tool: send messages, react\nx: [1\n");
        assert_eq!(
            other.description.as_deref(),
            Some("Use via the tool: send messages, react")
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(
            (findings[0].code, findings[0].line),
            ("invalid-frontmatter", 3)
        );
    }

    #[test]
    fn allowed_tools_may_be_a_list_or_a_string() {
        assert_eq!(
            parse_text("allowed-tools: [Bash, Read]").0.allowed_tools,
            ["Bash", "Read"]
        );
        assert_eq!(
            parse_text("allowed-tools: Bash Read, Write")
                .0
                .allowed_tools,
            ["Bash", "Read", "Write"]
        );
        assert_eq!(
            parse_text("allowed-tools: Read Bash(git diff *), Bash(npm run *)")
                .0
                .allowed_tools,
            ["Read", "Bash(git diff *)", "Bash(npm run *)"]
        );
    }

    #[test]
    fn unknown_keys_and_command_keys_are_kept() {
        let (fm, _) =
            parse_text("name: x\nx-custom: 3\ncommand-dispatch: tool\nuser-invocable: true\n");
        assert_eq!(fm.keys["x-custom"], Value::from(3));
        assert_eq!(fm.commands["command-dispatch"], Value::from("tool"));
        assert_eq!(fm.user_invocable, Some(true));
    }

    #[test]
    fn tabs_are_reported() {
        let (_, findings) = parse_text("name: x\n\tdescription: y\n");
        assert!(
            findings
                .iter()
                .any(|f| f.message.contains("tab") && f.line == 3)
        );
    }
}
