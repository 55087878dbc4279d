//! A JSON Schema draft-04 validator for exactly the keywords the SARIF 2.1.0
//! schema uses. A schema with any other keyword is refused when compiled,
//! so nothing in the schema is silently skipped.
//!
//! Why not the `jsonschema` crate: it turns on `serde_json/float_roundtrip`
//! and new `hashbrown` features, which reach wasmtime through wit-parser, so
//! every target folder then builds wasmtime twice (8.5 minutes measured on
//! this 2-core machine) for one test.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::{Map, Value};

/// Keywords that only annotate.
const ANNOTATIONS: &[&str] = &["$schema", "id", "title", "description", "default"];
/// Keywords that are checked.
const CHECKED: &[&str] = &[
    "$ref",
    "additionalProperties",
    "anyOf",
    "definitions",
    "enum",
    "format",
    "items",
    "maximum",
    "minItems",
    "minimum",
    "oneOf",
    "pattern",
    "properties",
    "required",
    "type",
    "uniqueItems",
];

pub struct Validator {
    root: Value,
    patterns: BTreeMap<String, Regex>,
}

impl Validator {
    /// Compiles `root`, refusing unknown keywords and bad patterns.
    pub fn new(root: Value) -> Result<Validator, String> {
        let mut patterns = BTreeMap::new();
        check_keywords(&root, "#", &mut patterns)?;
        Ok(Validator { root, patterns })
    }

    /// Every violation, as `path: what`.
    pub fn errors(&self, instance: &Value) -> Vec<String> {
        let mut out = Vec::new();
        self.validate(&self.root, instance, "$", &mut out);
        out
    }

    fn resolve<'a>(&'a self, reference: &str) -> Option<&'a Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }

    fn validate(&self, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
        let Some(s) = schema.as_object() else { return };
        if let Some(reference) = s.get("$ref").and_then(Value::as_str) {
            match self.resolve(reference) {
                Some(target) => self.validate(target, v, at, out),
                None => out.push(format!("{at}: unresolvable $ref {reference}")),
            }
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !types.iter().any(|t| type_matches(t, v)) {
                out.push(format!("{at}: {v} is not of type {types:?}"));
                return;
            }
        }
        if let Some(Value::Array(allowed)) = s.get("enum")
            && !allowed.contains(v)
        {
            out.push(format!("{at}: {v} is not one of {allowed:?}"));
        }
        if let Some(n) = v.as_f64() {
            if let Some(min) = s.get("minimum").and_then(Value::as_f64)
                && n < min
            {
                out.push(format!("{at}: {n} < minimum {min}"));
            }
            if let Some(max) = s.get("maximum").and_then(Value::as_f64)
                && n > max
            {
                out.push(format!("{at}: {n} > maximum {max}"));
            }
        }
        if let Some(text) = v.as_str() {
            if let Some(p) = s.get("pattern").and_then(Value::as_str)
                && !self.patterns[p].is_match(text)
            {
                out.push(format!("{at}: {text:?} does not match {p}"));
            }
            if let Some(f) = s.get("format").and_then(Value::as_str)
                && !format_ok(f, text)
            {
                out.push(format!("{at}: {text:?} is not a valid {f}"));
            }
        }
        if let Value::Array(items) = v {
            if let Some(min) = s.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                out.push(format!("{at}: fewer than {min} items"));
            }
            if s.get("uniqueItems") == Some(&Value::Bool(true)) {
                for (i, a) in items.iter().enumerate() {
                    if items[..i].contains(a) {
                        out.push(format!("{at}[{i}]: duplicate item"));
                    }
                }
            }
            if let Some(item_schema) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    self.validate(item_schema, item, &format!("{at}[{i}]"), out);
                }
            }
        }
        if let Value::Object(map) = v {
            self.validate_object(s, map, at, out);
        }
        for (key, exactly_one) in [("anyOf", false), ("oneOf", true)] {
            if let Some(Value::Array(options)) = s.get(key) {
                let passing = options
                    .iter()
                    .filter(|o| {
                        let mut e = Vec::new();
                        self.validate(o, v, at, &mut e);
                        e.is_empty()
                    })
                    .count();
                if passing == 0 || (exactly_one && passing > 1) {
                    out.push(format!("{at}: {passing} of the {key} schemas match"));
                }
            }
        }
    }

    fn validate_object(
        &self,
        s: &Map<String, Value>,
        map: &Map<String, Value>,
        at: &str,
        out: &mut Vec<String>,
    ) {
        if let Some(Value::Array(required)) = s.get("required") {
            for r in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(r) {
                    out.push(format!("{at}: missing required `{r}`"));
                }
            }
        }
        let properties = s.get("properties").and_then(Value::as_object);
        for (key, value) in map {
            let path = format!("{at}.{key}");
            match properties.and_then(|p| p.get(key)) {
                Some(p) => self.validate(p, value, &path, out),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => out.push(format!("{path}: not allowed here")),
                    Some(extra @ Value::Object(_)) => self.validate(extra, value, &path, out),
                    _ => {}
                },
            }
        }
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => false,
    }
}

fn format_ok(format: &str, text: &str) -> bool {
    match format {
        "uri" => url::Url::parse(text).is_ok() && !text.contains([' ', '\\']),
        "uri-reference" => {
            let base = url::Url::parse("file:///base/").expect("base URL");
            base.join(text).is_ok() && !text.contains([' ', '\\', '"', '<', '>'])
        }
        // SARIF's timestamps: RFC 3339; none are written by skill-run.
        "date-time" => {
            Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
                .expect("valid regex")
                .is_match(text)
        }
        _ => false,
    }
}

fn check_keywords(
    schema: &Value,
    at: &str,
    patterns: &mut BTreeMap<String, Regex>,
) -> Result<(), String> {
    let Some(map) = schema.as_object() else {
        return if schema.is_boolean() {
            Ok(())
        } else {
            Err(format!("{at}: a schema must be an object"))
        };
    };
    for (key, value) in map {
        let here = format!("{at}/{key}");
        if ANNOTATIONS.contains(&key.as_str()) {
            continue;
        }
        if !CHECKED.contains(&key.as_str()) {
            return Err(format!(
                "{here}: keyword `{key}` is not implemented by this validator"
            ));
        }
        match key.as_str() {
            "properties" | "definitions" => {
                for (name, sub) in value.as_object().into_iter().flatten() {
                    check_keywords(sub, &format!("{here}/{name}"), patterns)?;
                }
            }
            "items" | "additionalProperties" => check_keywords(value, &here, patterns)?,
            "anyOf" | "oneOf" => {
                for (i, sub) in value.as_array().into_iter().flatten().enumerate() {
                    check_keywords(sub, &format!("{here}/{i}"), patterns)?;
                }
            }
            "pattern" => {
                let p = value.as_str().ok_or(format!("{here}: not a string"))?;
                patterns.insert(
                    p.to_owned(),
                    Regex::new(p).map_err(|e| format!("{here}: {e}"))?,
                );
            }
            "format" if !matches!(value.as_str(), Some("uri" | "uri-reference" | "date-time")) => {
                return Err(format!("{here}: format {value} is not implemented"));
            }
            _ => {}
        }
    }
    Ok(())
}
