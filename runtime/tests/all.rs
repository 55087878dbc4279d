//! Every integration test of the `runtime` package, in one binary (as
//! wasmtime's `tests/all`): one link of wasmtime instead of one per file.
//! Each module is one area; `support` holds what they share. Run one area
//! with `cargo test -p runtime --test all cli::`.

mod support;

mod cli;
mod cli_wasi;
mod doctor;
mod inspect;
mod instructions;
mod mcp;
mod script_skills;
mod scripts;
mod state_writers;
mod terminal;
mod trust;
