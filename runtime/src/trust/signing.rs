//! Ed25519 keys and package signatures.
//!
//! A key pair is two text files: `KEY` (`skill-run-ed25519-secret-key
//! <hex seed>`, created owner-only) and `KEY.pub` (`skill-run-ed25519
//! <hex public key>`). A signature is `skill.sig` in the package: JSON with
//! the signer's public key, the package digest, the signed file list (so a
//! failed check can say which file changed) and the signature over
//! `skill-run-signature/1\n<digest>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::TrustError;
use super::digest::{FileEntry, PackageDigest, SIGNATURE_FILE};
use crate::files_on_disk::hex;

const FORMAT: &str = "skill-run-signature/1";
const SECRET_TAG: &str = "skill-run-ed25519-secret-key";
const PUBLIC_TAG: &str = "skill-run-ed25519";
/// A signature file lists every file of the package; 10,000 files fit well within this.
const MAX_SIGNATURE_FILE: u64 = 4 << 20;

/// A public key trusted to sign packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// `ed25519:<hex>`, as signature files and messages name it.
    pub fn id(&self) -> String {
        format!("ed25519:{}", hex(self.0.as_bytes()))
    }

    /// Reads a `KEY.pub` file.
    pub fn read(path: &Path) -> Result<PublicKey, TrustError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrustError::Key {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        parse_public(text.trim()).map_err(|reason| TrustError::Key {
            path: path.to_path_buf(),
            reason,
        })
    }
}

fn parse_public(text: &str) -> Result<PublicKey, String> {
    let hex_key = text
        .strip_prefix(PUBLIC_TAG)
        .map(str::trim)
        .or_else(|| text.strip_prefix("ed25519:"))
        .ok_or("not a skill-run public key (it should start with `skill-run-ed25519 `)")?;
    let bytes: [u8; 32] = unhex(hex_key)
        .and_then(|b| b.try_into().ok())
        .ok_or("the key is not 32 bytes of hex")?;
    VerifyingKey::from_bytes(&bytes)
        .map(PublicKey)
        .map_err(|e| format!("not a valid Ed25519 public key: {e}"))
}

/// The keys a host trusts: `--trust` files, or every `*.pub` in a folder.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
}

impl TrustedKeys {
    /// Adds a `KEY.pub` file, or every `*.pub` file of a folder.
    pub fn add_path(&mut self, path: &Path) -> Result<(), TrustError> {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| TrustError::Key {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pub"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(TrustError::Key {
                    path: path.to_path_buf(),
                    reason: "the trust folder holds no *.pub key files".into(),
                });
            }
            for key in found {
                self.keys.push(PublicKey::read(&key)?);
            }
            return Ok(());
        }
        self.keys.push(PublicKey::read(path)?);
        Ok(())
    }

    /// Adds one key.
    pub fn add(&mut self, key: PublicKey) {
        self.keys.push(key);
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn contains(&self, key: &PublicKey) -> bool {
        self.keys.contains(key)
    }
}

/// Writes a new key pair: `path` (secret, owner-only, never overwritten) and `path.pub`.
pub fn generate_key(path: &Path) -> Result<PublicKey, TrustError> {
    let failed = |p: &Path, e: std::io::Error| TrustError::Key {
        path: p.to_path_buf(),
        reason: e.to_string(),
    };
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| TrustError::Key {
        path: path.to_path_buf(),
        reason: format!("no randomness from the operating system: {e}"),
    })?;
    let secret = SigningKey::from_bytes(&seed);
    let public = PublicKey(secret.verifying_key());
    let public_path = public_path(path);
    if public_path.exists() {
        return Err(TrustError::Key {
            path: public_path,
            reason: "it already exists; pick another name or remove it first".into(),
        });
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| failed(path, e))?;
    std::io::Write::write_all(
        &mut file,
        format!("{SECRET_TAG} {}\n", hex(&seed)).as_bytes(),
    )
    .map_err(|e| failed(path, e))?;
    std::fs::write(
        &public_path,
        format!("{PUBLIC_TAG} {}\n", hex(public.0.as_bytes())),
    )
    .map_err(|e| failed(&public_path, e))?;
    Ok(public)
}

/// `KEY` -> `KEY.pub`.
pub fn public_path(secret: &Path) -> PathBuf {
    let mut name = secret.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

fn read_secret(path: &Path) -> Result<SigningKey, TrustError> {
    let bad = |reason: String| TrustError::Key {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let seed: [u8; 32] = text
        .trim()
        .strip_prefix(SECRET_TAG)
        .and_then(|h| unhex(h.trim()))
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            bad("not a skill-run secret key (it should start with `skill-run-ed25519-secret-key `; `generate_key` makes a key pair)".into())
        })?;
    Ok(SigningKey::from_bytes(&seed))
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureFile {
    format: String,
    key: String,
    digest: String,
    files: BTreeMap<String, FileEntry>,
    signature: String,
}

fn message(digest: &str) -> Vec<u8> {
    format!("{FORMAT}\n{digest}").into_bytes()
}

/// Signs the package at `root` with the secret key at `key`, writing
/// `skill.sig` into it. Returns the digest signed.
pub fn sign_package(root: &Path, key: &Path) -> Result<String, TrustError> {
    let secret = read_secret(key)?;
    let digest = PackageDigest::of(root)?;
    let signed = digest.digest();
    let file = SignatureFile {
        format: FORMAT.into(),
        key: PublicKey(secret.verifying_key()).id(),
        digest: signed.clone(),
        signature: hex(&secret.sign(&message(&signed)).to_bytes()),
        files: digest.files,
    };
    let path = root.join(SIGNATURE_FILE);
    let text = serde_json::to_string_pretty(&file).unwrap_or_default();
    std::fs::write(&path, text + "\n").map_err(|e| TrustError::Io {
        path,
        reason: e.to_string(),
    })?;
    Ok(signed)
}

/// A package that passed [`verify_package`].
#[derive(Debug, Clone)]
pub struct Verified {
    /// Who signed it (`ed25519:<hex>`).
    pub key: String,
    /// The digest that was signed and still matches.
    pub digest: String,
}

/// Checks that the package at `root` is intact and signed by one of `trusted`.
pub fn verify_package(root: &Path, trusted: &TrustedKeys) -> Result<Verified, TrustError> {
    let signature = read_signature(root)?;
    verify_signature(root, &signature, trusted, || PackageDigest::of(root))
}

/// Reads the package's `skill.sig`, looked at without following links: a
/// signature file that is a link, a folder or a huge file is refused before
/// anything is read.
pub(crate) fn read_signature(root: &Path) -> Result<String, TrustError> {
    let package = root.to_path_buf();
    let path = root.join(SIGNATURE_FILE);
    let damaged = |reason: String| TrustError::DamagedSignature {
        package: package.clone(),
        reason,
    };
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TrustError::Unsigned { package });
        }
        Err(e) => {
            return Err(TrustError::Io {
                path,
                reason: e.to_string(),
            });
        }
        Ok(meta) if !meta.is_file() => {
            return Err(damaged(format!(
                "{SIGNATURE_FILE} is not a regular file (a link or a folder)"
            )));
        }
        Ok(meta) if meta.len() > MAX_SIGNATURE_FILE => {
            return Err(damaged(format!(
                "{SIGNATURE_FILE} is {} bytes; a signature file is at most {MAX_SIGNATURE_FILE}",
                meta.len()
            )));
        }
        Ok(_) => {}
    }
    let mut text = String::new();
    std::fs::File::open(&path)
        .and_then(|file| {
            std::io::Read::read_to_string(
                &mut std::io::Read::take(file, MAX_SIGNATURE_FILE),
                &mut text,
            )
        })
        .map_err(|e| damaged(e.to_string()))?;
    Ok(text)
}

/// Checks the signature file `text` of the package at `root`: well formed,
/// signed by one of `trusted`, over the digest `now` computes (called only
/// once the signature itself holds).
pub(crate) fn verify_signature(
    root: &Path,
    text: &str,
    trusted: &TrustedKeys,
    now: impl FnOnce() -> Result<PackageDigest, TrustError>,
) -> Result<Verified, TrustError> {
    let package = root.to_path_buf();
    let damaged = |reason: String| TrustError::DamagedSignature {
        package: package.clone(),
        reason,
    };
    let file: SignatureFile = serde_json::from_str(text).map_err(|e| damaged(e.to_string()))?;
    if file.format != FORMAT {
        return Err(damaged(format!(
            "unknown format `{}` (this skill-run reads {FORMAT})",
            file.format
        )));
    }
    let key = parse_public(&file.key).map_err(damaged)?;
    let signature: [u8; 64] = unhex(&file.signature)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| damaged("the signature is not 64 bytes of hex".into()))?;
    let signed = PackageDigest { files: file.files };
    // The file list must be the one that was signed, and the signature must be the key's.
    if signed.digest() != file.digest
        || key
            .0
            .verify_strict(&message(&file.digest), &Signature::from_bytes(&signature))
            .is_err()
    {
        return Err(TrustError::BadSignature { package });
    }
    if !trusted.contains(&key) {
        return Err(TrustError::UnknownKey {
            package,
            key: key.id(),
        });
    }
    let changes = now()?.changes_from(&signed);
    if !changes.is_empty() {
        return Err(TrustError::Tampered { package, changes });
    }
    Ok(Verified {
        key: key.id(),
        digest: file.digest,
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}
