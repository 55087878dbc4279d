//! A command's description from its WIT doc comment: from the component's
//! `package-docs` custom section when its toolchain wrote one (a version
//! byte, then JSON in which every world and interface maps its `funcs` to
//! their docs), else from the `///` comments above each `NAME: func` in
//! the package's `wit/*.wit` (where `skill-run new` puts them).

use std::collections::HashMap;

use serde_json::Value;
use skill_runtime::Skill;

/// The largest component read for its docs (the runtime's own cap).
const MAX_COMPONENT_BYTES: u64 = 64 * 1024 * 1024;

/// Docs by function name from every `package-docs` section of `bytes`.
pub fn docs_in(bytes: &[u8]) -> HashMap<String, String> {
    let mut docs = HashMap::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let Ok(wasmparser::Payload::CustomSection(section)) = payload else {
            continue;
        };
        if section.name() != "package-docs" {
            continue;
        }
        let Some((_version, json)) = section.data().split_first() else {
            continue;
        };
        if let Ok(value) = serde_json::from_slice::<Value>(json) {
            collect(&value, &mut docs);
        }
    }
    docs
}

fn collect(value: &Value, docs: &mut HashMap<String, String>) {
    let Value::Object(object) = value else {
        return;
    };
    for (key, child) in object {
        if key == "funcs"
            && let Value::Object(funcs) = child
        {
            for (name, entry) in funcs {
                let text = match entry {
                    Value::String(text) => Some(text.as_str()),
                    Value::Object(o) => o.get("docs").and_then(Value::as_str),
                    _ => None,
                };
                if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
                    docs.entry(name.clone()).or_insert_with(|| text.to_owned());
                }
            }
        } else {
            collect(child, docs);
        }
    }
}

/// The largest `.wit` file read for docs.
const MAX_WIT_BYTES: u64 = 1024 * 1024;

/// Docs of every `NAME: func` in WIT source: the `///` lines just above it.
pub fn docs_in_wit(text: &str) -> HashMap<String, String> {
    let mut docs = HashMap::new();
    let mut comment: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(doc) = line.strip_prefix("///") {
            comment.push(doc.trim());
            continue;
        }
        let declaration = line.strip_prefix("export ").unwrap_or(line);
        if let Some((name, rest)) = declaration.split_once(':')
            && rest.trim_start().starts_with("func")
            && !comment.is_empty()
        {
            docs.entry(name.trim().trim_start_matches('%').to_owned())
                .or_insert_with(|| comment.join(" "));
        }
        comment.clear();
    }
    docs
}

fn wit_folder_docs(root: &std::path::Path) -> HashMap<String, String> {
    let mut docs = HashMap::new();
    let Ok(entries) = std::fs::read_dir(root.join("wit")) else {
        return docs;
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wit"))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() <= MAX_WIT_BYTES))
        .collect();
    files.sort();
    for file in files {
        if let Ok(text) = std::fs::read_to_string(&file) {
            for (name, doc) in docs_in_wit(&text) {
                docs.entry(name).or_insert(doc);
            }
        }
    }
    docs
}

/// Docs by command name for `skill`'s component (empty when it has none).
pub fn command_docs(skill: &Skill) -> HashMap<String, String> {
    let mut docs = match skill.package().read_component(MAX_COMPONENT_BYTES) {
        Ok((_, bytes)) => docs_in(&bytes),
        Err(_) => HashMap::new(),
    };
    for (name, doc) in wit_folder_docs(&skill.package().root) {
        docs.entry(name).or_insert(doc);
    }
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn funcs_of_worlds_and_interfaces_are_collected() {
        let value = serde_json::json!({
            "worlds": {"hello": {"docs": "w", "funcs": {"greet": "Greets `name`.", "count": {"docs": "Counts."}}}},
            "interfaces": {"api": {"funcs": {"add": "Adds a note.", "blank": ""}}}
        });
        let mut docs = HashMap::new();
        collect(&value, &mut docs);
        assert_eq!(
            docs.get("greet").map(String::as_str),
            Some("Greets `name`.")
        );
        assert_eq!(docs.get("count").map(String::as_str), Some("Counts."));
        assert_eq!(docs.get("add").map(String::as_str), Some("Adds a note."));
        assert!(!docs.contains_key("blank"));
    }

    #[test]
    fn wit_doc_comments_above_funcs_are_read() {
        let docs = docs_in_wit(
            "world w {\n    /// Greets `name`,\n    /// politely.\n    export greet: func(name: string) -> string;\n    export bare: func();\n    /// A type.\n    record r { a: u8 }\n}\n",
        );
        assert_eq!(
            docs.get("greet").map(String::as_str),
            Some("Greets `name`, politely.")
        );
        assert!(!docs.contains_key("bare") && !docs.contains_key("record r { a"));
    }
}
