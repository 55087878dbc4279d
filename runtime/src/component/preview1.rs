//! WASI preview-1 core modules (TinyGo, wasi-sdk, Zig, AssemblyScript,
//! Rust's `wasm32-wasip1`): checked, then wrapped into a component at load
//! with the preview-1 adapter wasmtime publishes
//! (`wasi-preview1-component-adapter-provider`) and `wit-component`.
//!
//! The adapter turns each `wasi_snapshot_preview1` call into WASI 0.2 calls,
//! so the adapted component is linked and checked exactly like any other:
//! the same import classification, the same grants, the same audited
//! filesystem functions. Nothing here implements WASI itself.

use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
};
use wasmparser::{ExternalKind, Parser, Payload};

/// Checks that `module` is a preview-1 command: every import comes from
/// `wasi_snapshot_preview1` and it exports `_start`. Cheap (one pass over the
/// sections, no code validated), so it runs on every load, cached or not.
pub(crate) fn check(module: &[u8]) -> Result<(), String> {
    let (mut has_start, mut has_memory) = (false, false);
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(|e| format!("it is not a valid core module: {e}"))?;
        match payload {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import =
                        import.map_err(|e| format!("it is not a valid core module: {e}"))?;
                    if import.module != WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME {
                        return Err(format!(
                            "it is a core module importing `{}::{}`, but a preview-1 module may import only from `{WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME}`: build it for `wasm32-wasip1` without other host imports, or as a `wasm32-wasip2` component",
                            import.module.escape_debug(),
                            import.name.escape_debug()
                        ));
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export =
                        export.map_err(|e| format!("it is not a valid core module: {e}"))?;
                    has_start |= export.name == "_start" && export.kind == ExternalKind::Func;
                    has_memory |= export.name == "memory" && export.kind == ExternalKind::Memory;
                }
            }
            Payload::ComponentSection { .. } | Payload::ModuleSection { .. } => {
                return Err("it is not a valid core module: it nests modules".into());
            }
            _ => {}
        }
    }
    if !has_start {
        return Err(
            "it is a preview-1 core module without a `_start` export (a library, not a program): only preview-1 commands are adapted; build it as a binary, or as a `wasm32-wasip2` component exporting typed functions".into(),
        );
    }
    if !has_memory {
        return Err(
            "it is a preview-1 core module that exports no `memory`, which every WASI call needs: build it with a WASI toolchain (`wasm32-wasip1`), which exports it".into(),
        );
    }
    Ok(())
}

/// Wraps a checked preview-1 command module into a `wasi:cli/command`
/// component (the adapter's `wasi:cli/run` calls `_start`).
pub(crate) fn adapt(module: &[u8]) -> Result<Vec<u8>, String> {
    check(module)?;
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(module)
        .and_then(|encoder| {
            encoder.adapter(
                WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
            )
        })
        .and_then(|mut encoder| encoder.encode())
        .map_err(|e| {
            format!(
                "it is a preview-1 core module that cannot be adapted to a component: {}",
                super::first_line(&format!("{e:#}"))
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(wat: &str) -> Vec<u8> {
        wat::parse_str(wat).expect("valid wat")
    }

    #[test]
    fn a_module_importing_another_host_module_is_refused_by_name() {
        let bytes = module(
            r#"(module
                (import "env" "exec" (func))
                (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
                (func (export "_start")))"#,
        );
        let error = check(&bytes).unwrap_err();
        assert!(error.contains("`env::exec`"), "{error}");
        assert!(adapt(&bytes).unwrap_err().contains("`env::exec`"));
    }

    #[test]
    fn a_module_without_start_is_refused() {
        let bytes =
            module(r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0))"#);
        assert!(check(&bytes).unwrap_err().contains("without a `_start`"));
        let bytes = module(r#"(module (func (export "_start")))"#);
        assert!(check(&bytes).unwrap_err().contains("no `memory`"));
    }

    #[test]
    fn a_preview1_command_becomes_a_component() {
        let bytes = module(
            r#"(module
                (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                (memory (export "memory") 1)
                (func (export "_start") i32.const 0 call $exit))"#,
        );
        let component = adapt(&bytes).expect("adapted");
        assert_eq!(&component[4..8], &[0x0d, 0x00, 0x01, 0x00]);
    }

    #[test]
    fn garbage_after_the_header_is_an_error_not_a_panic() {
        let error = check(b"\0asm\x01\0\0\0\x02\xff\xff").unwrap_err();
        assert!(error.contains("not a valid core module"), "{error}");
    }
}
