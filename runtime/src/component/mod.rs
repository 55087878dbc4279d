//! Loading a skill's component: checking that it is a component at all,
//! that every import is granted, compiling it, and finding its commands.

pub(crate) mod cache;
mod format;
mod preview1;
pub(crate) mod schema;
mod toolchain_exports;
pub(crate) mod values;

use serde::Serialize;
use serde_json::Value;
use wasmtime::component::types::{ComponentItem, Type};
use wasmtime::component::{Component, ComponentExportIndex};

use self::cache::{CacheStatus, CompileCache};
use crate::capabilities::Grants;
use crate::capabilities::capability::{ImportVerdict, LinkFor, judge_import};
use crate::error::LoadError;
use crate::runtime::Engines;
pub use format::ComponentFormat;

/// How a component is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
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
    /// An `async` (component-model-async) function.
    pub is_async: bool,
}

/// A compiled component and what was learned about it.
pub(crate) struct Compiled {
    pub component: Component,
    pub kind: ComponentKind,
    pub format: ComponentFormat,
    /// For a cli component: whether its `wasi:cli/run` is WASI 0.3's (async).
    pub run_is_async: bool,
    /// Compiled for the engine with the async component model.
    pub concurrent: bool,
    pub commands: Vec<Command>,
    pub imports: Vec<String>,
    /// Imports linked but whose every operation is denied (`wasi:sockets`).
    pub denied_imports: Vec<String>,
    pub cache: CacheStatus,
}

/// Which layer a WebAssembly binary's header names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    CoreModule,
    Component,
}

/// Recognises files that are not components before handing them to the
/// compiler, so the error can say what the file is and how to fix it.
fn check_header(bytes: &[u8]) -> Result<Layer, String> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("it is not a WebAssembly binary (no \\0asm header)".into());
    }
    match bytes[4..8] {
        [0x01, 0x00, 0x00, 0x00] => Ok(Layer::CoreModule),
        [_, _, 0x01, 0x00] => Ok(Layer::Component),
        _ => Err("its header names an unknown WebAssembly version or layer".into()),
    }
}

/// Validates and compiles `bytes` (or takes them from `cache`), then checks
/// each import against `grants`. `runner`: the host's own script runner,
/// whose `wasi:http` import is linked even without a `network` grant (every
/// request is then denied with the fix).
pub(crate) fn compile(
    engines: &Engines,
    cache: Option<&CompileCache>,
    skill: &str,
    path: &std::path::Path,
    bytes: &[u8],
    grants: &Grants,
    runner: bool,
) -> Result<Compiled, LoadError> {
    let invalid = |reason: String| LoadError::InvalidComponent {
        skill: skill.to_owned(),
        path: path.to_path_buf(),
        reason,
    };
    let layer = check_header(bytes).map_err(invalid)?;
    if layer == Layer::CoreModule {
        // Checked on every load, so a cached entry is never a way around it.
        preview1::check(bytes).map_err(invalid)?;
    }
    // The cache is keyed on the file's own bytes: a cached preview-1 module
    // skips adaptation as well as compilation.
    let from_source = |engine: &wasmtime::Engine| {
        let adapted;
        let component_bytes = match layer {
            Layer::CoreModule => {
                adapted = preview1::adapt(bytes).map_err(invalid)?;
                &adapted[..]
            }
            Layer::Component => bytes,
        };
        Component::from_binary(engine, component_bytes)
            .map_err(|e| invalid(first_line(&format!("{e:#}"))))
    };
    let compile_for = |engine: &wasmtime::Engine| match cache {
        Some(cache) => cache.load_or_compile(engine, bytes, || from_source(engine)),
        None => from_source(engine).map(|c| (c, CacheStatus::Disabled)),
    };
    // Most components need no async component model; only what the sync
    // engine refuses for want of it is compiled on the concurrent one.
    let (component, cache, concurrent) = match compile_for(&engines.sync) {
        Ok((component, cache)) => (component, cache, false),
        Err(LoadError::InvalidComponent { reason, .. })
            if reason.contains("async")
                || reason.contains("stream")
                || reason.contains("future") =>
        {
            let (component, cache) = compile_for(&engines.concurrent)?;
            (component, cache, true)
        }
        Err(other) => return Err(other),
    };
    let engine = component.engine();
    let ty = component.component_type();

    // The linker `Skill::load` builds for this component.
    let linked_for = LinkFor {
        grants,
        concurrent,
        script: runner,
    };
    let mut imports = Vec::new();
    let mut uses_wasi_03 = false;
    let mut denied_imports = Vec::new();
    for (name, _) in ty.imports(engine) {
        uses_wasi_03 |= format::is_wasi_03(name);
        if let Some(why) = format::is_wasi_03(name)
            .then(|| crate::capabilities::wasi03::refused(name))
            .flatten()
        {
            return Err(LoadError::Unavailable {
                skill: skill.to_owned(),
                import: name.to_owned(),
                why,
            });
        }
        match judge_import(name, &linked_for) {
            ImportVerdict::Linked => {}
            ImportVerdict::AlwaysDenied => {
                denied_imports.push(name.to_owned());
                continue;
            }
            ImportVerdict::NotGranted(key) => {
                return Err(LoadError::NotGranted {
                    skill: skill.to_owned(),
                    import: name.to_owned(),
                    key,
                });
            }
            ImportVerdict::Unavailable(why) => {
                return Err(LoadError::Unavailable {
                    skill: skill.to_owned(),
                    import: name.to_owned(),
                    why,
                });
            }
        }
        imports.push(name.to_owned());
    }

    let mut commands = Vec::new();
    let mut is_cli = false;
    let mut run_is_async = false;
    for (name, export) in ty.exports(engine) {
        uses_wasi_03 |= format::is_wasi_03(name);
        match export.ty {
            ComponentItem::ComponentFunc(func) => {
                if let Some(index) = component.get_export_index(None, name) {
                    commands.push(command(name, name, index, &func));
                }
            }
            ComponentItem::ComponentInstance(_) if name.starts_with("wasi:cli/run@") => {
                is_cli = true;
                run_is_async = format::is_wasi_03(name);
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
    let format = if layer == Layer::CoreModule {
        ComponentFormat::Preview1Module
    } else if concurrent || uses_wasi_03 || commands.iter().any(|c| c.is_async) {
        ComponentFormat::Wasi03
    } else {
        ComponentFormat::Wasi02
    };
    Ok(Compiled {
        component,
        kind,
        format,
        run_is_async,
        concurrent,
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
        is_async: func.async_(),
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
        assert_eq!(check_header(b"\0asm\x01\0\0\0"), Ok(Layer::CoreModule));
        assert_eq!(check_header(b"\0asm\x0d\0\x01\0"), Ok(Layer::Component));
        assert!(check_header(b"\0asm").is_err());
    }
}
