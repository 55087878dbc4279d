//! `keygen`, `sign`, `verify`, `approve`, and the `--trust` / `--lock`
//! checks that `run` and `heartbeat` apply before loading a package.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use skill_runtime::trust::{self, ApprovalCheck, Approvals, TrustError, TrustedKeys};
use skill_runtime::{AdmitError, LoadError, Package, Runtime, Skill, TrustPolicy};

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

/// `--trust`, `--lock` and `--frozen` as the library's policy.
pub fn policy(args: &TrustArgs) -> Result<TrustPolicy> {
    let mut policy = TrustPolicy::default();
    if !args.trust.is_empty() {
        policy = policy.signed_by(trusted_keys(&args.trust)?);
    }
    if let Some(lock) = &args.lock {
        policy = policy
            .approved_in(Approvals::open(lock)?)
            .frozen(args.frozen);
    }
    Ok(policy)
}

/// What `run` and `heartbeat` do with a package that `Runtime::admit` refused.
pub enum Refusal {
    /// Refused by the policy, or changed while being admitted: the reason was printed.
    Refused(u8),
    /// It could not be loaded.
    Load(LoadError),
}

/// Admits the package at `path` under `policy`: prints the note for a
/// changed approval, and the reason (with the flag that fixes it) for a
/// refusal.
pub fn admit(
    runtime: &Runtime,
    path: &Path,
    policy: &TrustPolicy,
) -> std::result::Result<Skill, Refusal> {
    match runtime.admit(path, policy) {
        Ok(admitted) => {
            if let Some(ApprovalCheck::Changed { approved, now }) = &admitted.approval {
                say_err!(
                    "note: skill `{}` changed since it was approved ({approved} -> {now}) but asks for nothing new; running it (--frozen would refuse)",
                    admitted.package.name()
                );
            }
            admitted.into_skill().map_err(Refusal::Load)
        }
        Err(AdmitError::Load(error)) => Err(Refusal::Load(error)),
        Err(refused) => {
            say_err!("error: refused: {}", explain(&refused));
            Err(Refusal::Refused(EXIT_INVALID))
        }
    }
}

/// A refusal as the CLI says it: the library's reason, then the command or
/// flag that fixes it.
pub fn explain(refused: &AdmitError) -> String {
    match refused {
        AdmitError::Untrusted(e) => untrusted(e),
        other => other.to_string(),
    }
}

/// A trust error followed by the `skill-run` flag or command that fixes it.
pub fn untrusted(error: &TrustError) -> String {
    let hint = match error {
        TrustError::Unsigned { .. } => {
            "ask its author for a signed copy, or sign it yourself with `skill-run sign` after reviewing it".to_owned()
        }
        TrustError::UnknownKey { .. } => {
            "if you trust its author, pass their public key with --trust KEY.pub".to_owned()
        }
        TrustError::NotApproved { lock, .. } | TrustError::CapabilityGrowth { lock, .. } => {
            format!(
                "review it with `skill-run inspect`, then `skill-run approve PACKAGE --lock {}`",
                lock.display()
            )
        }
        TrustError::DigestChanged { lock, .. } => format!(
            "--frozen allows no change; to accept the new version, review it and re-approve it with `skill-run approve PACKAGE --lock {}`",
            lock.display()
        ),
        _ => return error.to_string(),
    };
    format!("{error}; {hint}")
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
    let digest = trust::sign_package(&args.package, &args.key).map_err(|e| match e {
        TrustError::Key { .. } => {
            anyhow::anyhow!("{e}; make a key pair with `skill-run keygen --out KEY`")
        }
        other => other.into(),
    })?;
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
            say_err!("error: {}", untrusted(&e));
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
