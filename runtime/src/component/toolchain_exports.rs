//! Exports a language toolchain adds for its own use, which are not
//! commands: componentize-py's build-time `exports#init` (it runs the app
//! once while the component is being built, to snapshot the interpreter).

use wasmtime::component::types::ComponentFunc;

/// Whether `instance#func` is a toolchain's own export rather than a command.
pub(crate) fn is_internal(instance: &str, func: &str, ty: &ComponentFunc) -> bool {
    let params: Vec<&str> = ty.params().map(|(n, _)| n).collect();
    instance == "exports" && func == "init" && params == ["app-name", "symbols", "stub-wasi"]
}
