//! `skill-run inspect PATH... --sarif`: the findings of every package as one
//! SARIF 2.1.0 log on stdout. A path that cannot be read becomes an error
//! notification in the log and exit status 2; findings never change the
//! exit status.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use skill_runtime::FileFinding;
use skill_runtime::sarif::{self, Failure, Scanned};

use crate::{EXIT_INVALID, RuntimeArgs};

pub fn report(paths: &[PathBuf], runtime_args: &RuntimeArgs) -> Result<u8> {
    let mut packages: Vec<(PathBuf, Vec<FileFinding>)> = Vec::new();
    let mut failures = Vec::new();
    for path in paths {
        match crate::inspect::document(path, runtime_args) {
            Ok(doc) => {
                // The same list `--json` prints, so every scanner's findings are in it.
                let findings: Vec<FileFinding> = serde_json::from_value(doc["findings"].clone())
                    .with_context(|| format!("reading the findings of {}", path.display()))?;
                let root = doc["path"]
                    .as_str()
                    .map_or_else(|| path.clone(), PathBuf::from);
                packages.push((root, findings));
            }
            Err(error) => {
                say_err!("error: {error:#}");
                failures.push(Failure {
                    path: path.as_path(),
                    message: format!("{error:#}"),
                });
            }
        }
    }
    let scanned: Vec<Scanned<'_>> = packages
        .iter()
        .map(|(root, findings)| Scanned {
            root: Path::new(root),
            findings,
        })
        .collect();
    let log = sarif::log(&scanned, &failures, env!("CARGO_PKG_VERSION"));
    println!("{}", serde_json::to_string_pretty(&log)?);
    Ok(if failures.is_empty() { 0 } else { EXIT_INVALID })
}
