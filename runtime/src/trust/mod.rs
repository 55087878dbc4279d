//! Trust and lifecycle: what a package is (its digest), who vouches for it
//! (Ed25519 signatures), what the user agreed to (approvals locked to a
//! digest and a set of capabilities), and what changed between versions.

pub mod approvals;
pub mod diff;
pub mod digest;
pub mod signing;

use std::path::PathBuf;

pub use approvals::{ApprovalCheck, Approvals};
pub use diff::{Change, ChangeKind, PackageDiff};
pub use digest::{PackageDigest, SIGNATURE_FILE};
pub use signing::{PublicKey, TrustedKeys, Verified, generate_key, sign_package, verify_package};

/// Why a package is not trusted, or could not be checked. Each message
/// names the package and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The package has no `skill.sig`.
    #[error(
        "package {} is unsigned (no {SIGNATURE_FILE}): only a signed package can be checked against trusted keys",
        package.display()
    )]
    Unsigned {
        /// The package folder.
        package: PathBuf,
    },
    /// `skill.sig` cannot be read as a signature.
    #[error("package {}: its signature file is damaged: {reason}", package.display())]
    DamagedSignature {
        /// The package folder.
        package: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The signature does not verify: the signature file was altered.
    #[error(
        "package {}: the signature does not verify (the signature file was altered or forged)",
        package.display()
    )]
    BadSignature {
        /// The package folder.
        package: PathBuf,
    },
    /// Signed, but not by a trusted key.
    #[error(
        "package {} is signed by an unknown key {key}, which is not among the trusted keys",
        package.display()
    )]
    UnknownKey {
        /// The package folder.
        package: PathBuf,
        /// The signer's key.
        key: String,
    },
    /// Files changed after signing.
    #[error("package {} was tampered with after it was signed: {}", package.display(), changes.join(", "))]
    Tampered {
        /// The package folder.
        package: PathBuf,
        /// One phrase per file: changed, added or removed.
        changes: Vec<String>,
    },
    /// A key file cannot be used.
    #[error("key {}: {reason}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The package cannot be hashed.
    #[error("package {}: {reason}", path.display())]
    Package {
        /// The package folder or file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        reason: String,
    },
    /// The lock file cannot be used.
    #[error("lock file {}: {reason}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The skill has no approval in the lock file.
    #[error(
        "skill `{skill}` is not approved in {}: it runs only once an approval of it is recorded there",
        lock.display()
    )]
    NotApproved {
        /// The skill.
        skill: String,
        /// The lock file.
        lock: PathBuf,
    },
    /// The package asks for more than was approved.
    #[error(
        "skill `{skill}` asks for capabilities that were not approved in {}: {}; it runs only once an approval of these is recorded there",
        lock.display(), growth.join("; ")
    )]
    CapabilityGrowth {
        /// The skill.
        skill: String,
        /// The lock file.
        lock: PathBuf,
        /// One line per new or wider capability, or raised limit.
        growth: Vec<String>,
    },
    /// Frozen: the package changed since approval.
    #[error(
        "skill `{skill}` changed since it was approved in {} ({approved} -> {now}) and the policy is frozen, allowing no change; a new approval accepts the new version",
        lock.display()
    )]
    DigestChanged {
        /// The skill.
        skill: String,
        /// The lock file.
        lock: PathBuf,
        /// The approved digest.
        approved: String,
        /// The digest now.
        now: String,
    },
}
