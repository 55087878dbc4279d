//! `keygen`, `sign`, `verify`, `approve`, and the `--trust` / `--lock`
//! checks that `run` and `heartbeat` apply before loading a package.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use skill_runtime::Package;
use skill_runtime::trust::{self, ApprovalCheck, Approvals, TrustedKeys};

use crate::EXIT_INVALID;

/// Arguments of `skill-run keygen`.
#[derive(Args)]
pub struct KeygenArgs {
    /// Where to write the secret key (owner-only); the public key goes to OUT.pub.
    #[arg(long, value_name = "OUT")]
    out: PathBuf,
}

/// Arguments of `skill-run sign`.
#[derive(Args)]
pub struct SignArgs {
    /// The package folder to sign (skill.sig is written into it).
    package: PathBuf,
    /// The secret key made by `skill-run keygen`.
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
}

/// Arguments of `skill-run verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The package folder.
    package: PathBuf,
    /// A trusted public key file, or a folder of *.pub files (repeatable).
    #[arg(long = "trust", value_name = "KEY.pub|DIR", required = true)]
    trust: Vec<PathBuf>,
}

/// Arguments of `skill-run approve`.
#[derive(Args)]
pub struct ApproveArgs {
    /// The package folder to approve, after reviewing it (`skill-run inspect`).
    package: PathBuf,
    /// The lock file to record the approval in (created if missing).
    #[arg(long, value_name = "FILE")]
    lock: PathBuf,
}

/// The checks `run` and `heartbeat` apply before loading a package.
#[derive(Args, Clone, Default)]
pub struct TrustArgs {
    /// Run only packages signed by this key, or by any *.pub in this folder (repeatable).
    #[arg(long = "trust", value_name = "KEY.pub|DIR")]
    trust: Vec<PathBuf>,
    /// Run only skills approved in this lock file, asking for nothing beyond their approval.
    #[arg(long, value_name = "FILE")]
    lock: Option<PathBuf>,
    /// With --lock: also refuse a package that changed at all since approval.
    #[arg(long, requires = "lock")]
    frozen: bool,
}

fn trusted_keys(paths: &[PathBuf]) -> Result<TrustedKeys> {
    let mut keys = TrustedKeys::default();
    for path in paths {
        keys.add_path(path)?;
    }
    Ok(keys)
}

/// Applies `--trust` and `--lock`: `Ok(None)` to go on, `Ok(Some(code))`
/// when the package is refused (the reason is printed).
pub fn admit(package: &Path, args: &TrustArgs) -> Result<Option<u8>> {
    if !args.trust.is_empty() {
        let keys = trusted_keys(&args.trust)?;
        if let Err(e) = trust::verify_package(package, &keys) {
            say_err!("error: refused: {e}");
            return Ok(Some(EXIT_INVALID));
        }
    }
    if let Some(lock) = &args.lock {
        let approvals = Approvals::open(lock)?;
        let read = Package::read(package)
            .with_context(|| format!("reading the skill package at {}", package.display()))?;
        match approvals.check(&read, args.frozen) {
            Ok(ApprovalCheck::Unchanged { .. }) => {}
            Ok(ApprovalCheck::Changed { approved, now }) => say_err!(
                "note: skill `{}` changed since it was approved ({approved} -> {now}) but asks for nothing new; running it (--frozen would refuse)",
                read.name()
            ),
            Err(e) => {
                say_err!("error: refused: {e}");
                return Ok(Some(EXIT_INVALID));
            }
        }
    }
    Ok(None)
}

pub fn keygen(args: KeygenArgs) -> Result<u8> {
    let public = trust::generate_key(&args.out)?;
    say!(
        "wrote {} (secret: keep it private) and {} (public: give it to people who run your skills)\nkey {}",
        args.out.display(),
        trust::signing::public_path(&args.out).display(),
        public.id()
    );
    Ok(0)
}

pub fn sign(args: SignArgs) -> Result<u8> {
    let digest = trust::sign_package(&args.package, &args.key)?;
    say!(
        "signed {} ({digest}); the signature is {}",
        args.package.display(),
        args.package.join(trust::SIGNATURE_FILE).display()
    );
    Ok(0)
}

pub fn verify(args: VerifyArgs) -> Result<u8> {
    let keys = trusted_keys(&args.trust)?;
    match trust::verify_package(&args.package, &keys) {
        Ok(verified) => {
            say!(
                "ok: {} is intact and signed by trusted key {} ({})",
                args.package.display(),
                verified.key,
                verified.digest
            );
            Ok(0)
        }
        Err(e) => {
            say_err!("error: {e}");
            Ok(EXIT_INVALID)
        }
    }
}

pub fn approve(args: ApproveArgs) -> Result<u8> {
    let package = Package::read(&args.package)
        .with_context(|| format!("reading the skill package at {}", args.package.display()))?;
    let mut approvals = Approvals::open(&args.lock)?;
    let digest = approvals.approve(&package)?;
    approvals.save()?;
    say!(
        "approved skill `{}` ({digest}) in {}; it may:",
        package.name(),
        args.lock.display()
    );
    if let Some(manifest) = &package.manifest {
        let lines = manifest.grants.describe();
        if lines.is_empty() {
            say!("  nothing outside its sandbox");
        }
        for line in lines {
            say!("  - {line}");
        }
    }
    Ok(0)
}
