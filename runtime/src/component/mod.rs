//! Loading a skill's component: checking that it is a component at all,
//! that every import is granted, compiling it, and finding its commands.

pub(crate) mod cache;
pub(crate) mod schema;
mod toolchain_exports;
pub(crate) mod values;

use serde::Serialize;
use serde_json::Value;
use wasmtime::Engine;
use wasmtime::component::types::{ComponentItem, Type};
use wasmtime::component::{Component, ComponentExportIndex};

use self::cache::{CacheStatus, CompileCache};
use crate::capabilities::{Grants, ImportNeed, import_need};
use crate::error::LoadError;

/// How a component is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentKind {
    /// It exports typed functions; each is a command taking JSON arguments.
    Typed,
    /// A `wasi:cli/command` (`fn main`): the input JSON on stdin, the command
    /// name as its first argument, its stdout the result.
    Cli,
}

/// A command a skill offers, as a host sees it.
#[derive(Debug, Clone, Serialize)]
pub struct CommandInfo {
    /// The name to call it by.
    pub name: String,
    /// The full export path, e.g. `example:notes/api#add` or `greet`.
    pub export: String,
    /// JSON Schema of the input object (one property per parameter).
    pub input_schema: Value,
    /// JSON Schema of the result. A top-level `result<T, E>` is unwrapped:
    /// this is `T`'s schema, and an `err` is the command failing.
    pub output_schema: Value,
    /// JSON Schema of the error value, for commands returning `result<T, E>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_schema: Option<Value>,
    /// Why it cannot be called from JSON, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncallable: Option<String>,
}

/// A typed command with what is needed to call it.
#[derive(Clone)]
pub(crate) struct Command {
    pub info: CommandInfo,
    pub index: ComponentExportIndex,
    pub params: Vec<(String, Type)>,
    pub result: Option<Type>,
}

/// A compiled component and what was learned about it.
pub(crate) struct Compiled {
    pub component: Component,
    pub kind: ComponentKind,
    pub commands: Vec<Command>,
    pub imports: Vec<String>,
    /// Imports linked but whose every operation is denied (`wasi:sockets`).
    pub denied_imports: Vec<String>,
    pub cache: CacheStatus,
}

/// Recognises files that are not components before handing them to the
/// compiler, so the error can say what the file is and how to fix it.
fn check_header(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("it is not a WebAssembly binary (no \\0asm header)".into());
    }
    match bytes[4..8] {
        [0x01, 0x00, 0x00, 0x00] => Err(
            "it is a core WebAssembly module, not a component: build it for `--target wasm32-wasip2`, or wrap it with `wasm-tools component new`".into(),
        ),
        [_, _, 0x01, 0x00] => Ok(()),
        _ => Err("its header names an unknown WebAssembly version or layer".into()),
    }
}

/// Validates and compiles `bytes` (or takes them from `cache`), then checks
/// each import against `grants`.
pub(crate) fn compile(
    engine: &Engine,
    cache: Option<&CompileCache>,
    skill: &str,
    path: &std::path::Path,
    bytes: &[u8],
    grants: &Grants,
) -> Result<Compiled, LoadError> {
    let invalid = |reason: String| LoadError::InvalidComponent {
        skill: skill.to_owned(),
        path: path.to_path_buf(),
        reason,
    };
    check_header(bytes).map_err(invalid)?;
    let from_source = || {
        Component::from_binary(engine, bytes).map_err(|e| invalid(first_line(&format!("{e:#}"))))
    };
    let (component, cache) = match cache {
        Some(cache) => cache.load_or_compile(engine, bytes, from_source)?,
        None => (from_source()?, CacheStatus::Disabled),
    };
    let ty = component.component_type();

    let mut imports = Vec::new();
    let mut denied_imports = Vec::new();
    for (name, _) in ty.imports(engine) {
        let denied = match import_need(name) {
            ImportNeed::Base => None,
            ImportNeed::AlwaysDenied => {
                denied_imports.push(name.to_owned());
                continue;
            }
            ImportNeed::Network if grants.network.is_empty() => Some("network"),
            ImportNeed::Channels if grants.channels.is_empty() => Some("channels"),
            ImportNeed::Network | ImportNeed::Channels => None,
            ImportNeed::Unavailable(why) => {
                return Err(LoadError::Unavailable {
                    skill: skill.to_owned(),
                    import: name.to_owned(),
                    why,
                });
            }
        };
        if let Some(key) = denied {
            return Err(LoadError::NotGranted {
                skill: skill.to_owned(),
                import: name.to_owned(),
                key,
            });
        }
        imports.push(name.to_owned());
    }

    let mut commands = Vec::new();
    let mut is_cli = false;
    for (name, export) in ty.exports(engine) {
        match export.ty {
            ComponentItem::ComponentFunc(func) => {
                if let Some(index) = component.get_export_index(None, name) {
                    commands.push(command(name, name, index, &func));
                }
            }
            ComponentItem::ComponentInstance(instance) if name.starts_with("wasi:cli/run@") => {
                let _ = instance;
                is_cli = true;
            }
            ComponentItem::ComponentInstance(instance) => {
                let Some(parent) = component.get_export_index(None, name) else {
                    continue;
                };
                for (func_name, item) in instance.exports(engine) {
                    if let ComponentItem::ComponentFunc(func) = item.ty
                        && !toolchain_exports::is_internal(name, func_name, &func)
                        && let Some(index) = component.get_export_index(Some(&parent), func_name)
                    {
                        commands.push(command(
                            func_name,
                            &format!("{name}#{func_name}"),
                            index,
                            &func,
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    // Short names must be unambiguous; where two interfaces export the same
    // function name, both are called by their full export path.
    let duplicates: Vec<String> = commands
        .iter()
        .filter(|c| {
            commands
                .iter()
                .filter(|o| o.info.name == c.info.name)
                .count()
                > 1
        })
        .map(|c| c.info.name.clone())
        .collect();
    for c in &mut commands {
        if duplicates.contains(&c.info.name) {
            c.info.name = c.info.export.clone();
        }
    }
    let kind = if is_cli && commands.is_empty() {
        ComponentKind::Cli
    } else if commands.is_empty() {
        return Err(invalid(
            "it exports no functions and is not a wasi:cli/command, so there is nothing to call: export functions from your world, or build a binary with `fn main`".into(),
        ));
    } else {
        ComponentKind::Typed
    };
    Ok(Compiled {
        component,
        kind,
        commands,
        imports,
        denied_imports,
        cache,
    })
}

fn command(
    name: &str,
    export: &str,
    index: ComponentExportIndex,
    func: &wasmtime::component::types::ComponentFunc,
) -> Command {
    let params: Vec<(String, Type)> = func.params().map(|(n, t)| (n.to_owned(), t)).collect();
    let result = func.results().next();
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for (n, t) in &params {
        if !matches!(t, Type::Option(_)) {
            required.push(Value::String(n.clone()));
        }
        properties.insert(n.clone(), schema::of(t));
    }
    let input_schema = serde_json::json!({
        "type": "object", "properties": properties, "required": required, "additionalProperties": false
    });
    let null = || serde_json::json!({"type": "null"});
    let (output_schema, error_schema) = match &result {
        None => (null(), None),
        Some(Type::Result(r)) => (
            r.ok().as_ref().map_or_else(null, schema::of),
            Some(r.err().as_ref().map_or_else(null, schema::of)),
        ),
        Some(other) => (schema::of(other), None),
    };
    let uncallable = params
        .iter()
        .find_map(|(n, t)| schema::unsupported(t).map(|why| format!("parameter `{n}`: {why}")))
        .or_else(|| {
            result
                .as_ref()
                .and_then(schema::unsupported)
                .map(|why| format!("result: {why}"))
        })
        .or_else(|| {
            func.async_()
                .then(|| "it is an async (component-model-async) function".to_owned())
        });
    Command {
        info: CommandInfo {
            name: name.to_owned(),
            export: export.to_owned(),
            input_schema,
            output_schema,
            error_schema,
            uncallable,
        },
        index,
        params,
        result,
    }
}

/// The first line of a message: errors shown to users stay one line.
pub(crate) fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_told_apart() {
        assert!(
            check_header(b"hello world")
                .unwrap_err()
                .contains("not a WebAssembly binary")
        );
        assert!(
            check_header(b"\0asm\x01\0\0\0")
                .unwrap_err()
                .contains("core WebAssembly module")
        );
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
        assert!(check_header(b"\0asm").is_err());
    }
}
