//! A command's description from its WIT doc comment. Components built with
//! wit-bindgen carry their WIT's docs in a `package-docs` custom section: a
//! version byte, then JSON in which every world and interface maps its
//! `funcs` to their docs (a string, or an object with `docs`).

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

/// Docs by command name for `skill`'s component (empty when it has none).
pub fn command_docs(skill: &Skill) -> HashMap<String, String> {
    match skill.package().read_component(MAX_COMPONENT_BYTES) {
        Ok((_, bytes)) => docs_in(&bytes),
        Err(_) => HashMap::new(),
    }
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
}
