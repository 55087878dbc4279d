//! Script skills under `skill-run`: where the Python runner component is
//! found, and how a script's run is shown (its stdout and stderr as they
//! are, its exit status as `skill-run`'s, as under `python3`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use skill_runtime::Outcome;

/// The Python runner: `$SKILL_RUN_PYTHON_RUNNER`, else the one
/// `scripts/install-toolchains python` builds into the toolchains folder.
pub fn python_runner() -> PathBuf {
    match std::env::var_os("SKILL_RUN_PYTHON_RUNNER") {
        Some(path) => PathBuf::from(path),
        None => crate::build::layout()
            .toolchains
            .join("python-runner/runner.wasm"),
    }
}

/// A script's stdin when no `--input` was given: the terminal gives none,
/// a pipe or file gives its text.
pub fn stdin_input() -> anyhow::Result<serde_json::Value> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(serde_json::Value::Null);
    }
    let text = std::io::read_to_string(stdin)
        .map_err(|e| anyhow::anyhow!("reading the script's stdin: {e}"))?;
    Ok(serde_json::Value::String(text))
}

/// Prints what the script printed, and returns the exit status: the
/// script's own (0, `sys.exit(N)`, 1 for an uncaught exception), or
/// `skill-run`'s for a limit (3) or a trap (1), whose one-line reason goes
/// to stderr. On a terminal, control characters are neutralised.
pub fn finish(outcome: &Outcome) -> u8 {
    let tty = std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    let _ = if tty {
        out.write_all(crate::terminal::clean(&outcome.stdout).as_bytes())
    } else {
        out.write_all(outcome.stdout.as_bytes())
    };
    let _ = out.flush();
    let stderr = crate::terminal::clean(&outcome.stderr);
    eprint!("{stderr}");
    if outcome.stderr_dropped > 0 {
        eprintln!(
            "[skill stderr: {} more bytes dropped]",
            outcome.stderr_dropped
        );
    }
    report_denials(outcome);
    match &outcome.result {
        Ok(_) => 0,
        Err(failure) => match failure.exit_status() {
            Some(status) => u8::try_from(status).unwrap_or(1),
            None => {
                eprintln!("error: {}", failure.message());
                crate::run::exit_code(failure)
            }
        },
    }
}

/// Denials shown after a script's own output.
const DENIALS_SHOWN: usize = 5;

/// What the sandbox refused during the run, after the script's own stderr:
/// a script sees only an exception (`HttpRequestDenied`, `SandboxError`),
/// while the audit event names what was refused, why and the fix. At most
/// [`DENIALS_SHOWN`]; `--audit FILE` keeps them all.
fn report_denials(outcome: &Outcome) {
    let denied: Vec<_> = outcome
        .audit
        .iter()
        .filter(|e| e.decision == skill_runtime::Decision::Deny)
        .collect();
    for e in denied.iter().take(DENIALS_SHOWN) {
        eprintln!(
            "skill-run: denied {} {}: {}",
            e.kind.as_str(),
            crate::terminal::clean(&e.target),
            crate::terminal::clean(&e.reason)
        );
    }
    if denied.len() > DENIALS_SHOWN {
        eprintln!(
            "skill-run: {} more denials (`--audit FILE` records every one)",
            denied.len() - DENIALS_SHOWN
        );
    }
}

/// `[skill].runtime` as written, for a script skill.
pub fn runtime_name(manifest: &skill_runtime::Manifest) -> Option<&'static str> {
    match manifest.executable {
        skill_runtime::package::Executable::Script(runtime) => Some(runtime.as_str()),
        _ => None,
    }
}
