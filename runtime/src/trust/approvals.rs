//! Approvals: a human-readable lock file recording, per skill, the package
//! digest the user approved and the exact capabilities and limits granted
//! (copied from its `skill.toml`). A later version runs only if it asks for
//! nothing more; a changed digest alone is reported, or refused when frozen.
//!
//! ```toml
//! [skills.moltbook]
//! version = "1.9.0"
//! digest = "sha256:…"
//! approved = "2026-11-24T09:30:00Z"
//!
//! [skills.moltbook.capabilities]
//! network = ["https://www.moltbook.com/api/v1/"]
//! ```

use std::path::{Path, PathBuf};

use super::TrustError;
use super::digest::PackageDigest;
use crate::capabilities::Grants;
use crate::capabilities::limits::{Limits, LimitsSection};
use crate::files_on_disk::write_atomically;
use crate::package::Package;

/// What a check found for an approved skill that may run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApprovalCheck {
    /// The package is exactly the one approved.
    Unchanged {
        /// Its digest.
        digest: String,
    },
    /// The package changed but asks for nothing new.
    Changed {
        /// The digest that was approved.
        approved: String,
        /// The digest now.
        now: String,
    },
}

/// A lock file of approvals.
#[derive(Debug, Clone)]
pub struct Approvals {
    path: PathBuf,
    skills: toml::Table,
}

impl Approvals {
    /// Reads the lock file at `path`; a missing file is an empty one.
    pub fn open(path: &Path) -> Result<Approvals, TrustError> {
        let bad = |reason: String| TrustError::Lock {
            path: path.to_path_buf(),
            reason,
        };
        let skills = match std::fs::read_to_string(path) {
            Ok(text) => {
                let mut doc: toml::Table = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
                match doc.remove("skills") {
                    Some(toml::Value::Table(t)) => t,
                    Some(_) => return Err(bad("`skills` must be a table".into())),
                    None => toml::Table::new(),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
            Err(e) => return Err(bad(e.to_string())),
        };
        Ok(Approvals {
            path: path.to_path_buf(),
            skills,
        })
    }

    /// Records `package` as approved: its digest, capabilities and limits.
    /// Returns the digest. Call [`Approvals::save`] to write the file.
    pub fn approve(&mut self, package: &Package) -> Result<String, TrustError> {
        let (name, version, tables) = manifest_tables(package)?;
        let digest = PackageDigest::of(&package.root)?.digest();
        let mut entry = toml::Table::new();
        entry.insert("version".into(), toml::Value::String(version));
        entry.insert("digest".into(), toml::Value::String(digest.clone()));
        entry.insert(
            "approved".into(),
            toml::Value::String(
                humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            ),
        );
        for (key, value) in tables {
            entry.insert(key.into(), value);
        }
        self.skills.insert(name, toml::Value::Table(entry));
        Ok(digest)
    }

    /// Writes the lock file (atomically: a temporary file renamed into place).
    pub fn save(&self) -> Result<(), TrustError> {
        let failed = |e: String| TrustError::Lock {
            path: self.path.clone(),
            reason: e,
        };
        let mut doc = toml::Table::new();
        doc.insert("skills".into(), toml::Value::Table(self.skills.clone()));
        let text = format!(
            "# Skills approved to run, with the exact capabilities granted.\n# Written by `skill-run approve`; checked by `skill-run run --lock`.\n\n{}",
            toml::to_string(&doc).map_err(|e| failed(e.to_string()))?
        );
        write_atomically(&self.path, text.as_bytes()).map_err(failed)
    }

    /// Whether `package` may run under this lock: approved, asking for no
    /// capability or limit beyond its approval, and (when `frozen`) unchanged.
    pub fn check(&self, package: &Package, frozen: bool) -> Result<ApprovalCheck, TrustError> {
        self.check_digest(package, frozen, || {
            Ok(PackageDigest::of(&package.root)?.digest())
        })
    }

    /// [`Approvals::check`] against the digest `now` computes (called only
    /// once the capabilities are known to be approved).
    pub(crate) fn check_digest(
        &self,
        package: &Package,
        frozen: bool,
        now: impl FnOnce() -> Result<String, TrustError>,
    ) -> Result<ApprovalCheck, TrustError> {
        let manifest = package
            .manifest
            .as_ref()
            .ok_or_else(|| TrustError::Package {
                path: package.root.clone(),
                reason: "it has no skill.toml, so there is nothing to run or approve".into(),
            })?;
        let skill = manifest.name.to_string();
        let lock_error = |reason: String| TrustError::Lock {
            path: self.path.clone(),
            reason: format!("skill `{skill}`: {reason}"),
        };
        let Some(toml::Value::Table(entry)) = self.skills.get(&skill) else {
            return Err(TrustError::NotApproved {
                skill,
                lock: self.path.clone(),
            });
        };
        let approved_grants: Grants = approved_table(entry, "capabilities").map_err(&lock_error)?;
        let approved_limits: LimitsSection =
            approved_table(entry, "limits").map_err(&lock_error)?;
        let mut growth: Vec<String> = manifest
            .grants
            .outside(&approved_grants)
            .iter()
            .map(ToString::to_string)
            .collect();
        growth.extend(raised_limits(
            &manifest.limits,
            &Limits::from_section(&approved_limits),
        ));
        if !growth.is_empty() {
            return Err(TrustError::CapabilityGrowth {
                skill,
                lock: self.path.clone(),
                growth,
            });
        }
        let approved = entry
            .get("digest")
            .and_then(toml::Value::as_str)
            .ok_or_else(|| lock_error("no digest recorded".into()))?
            .to_owned();
        let now = now()?;
        if approved == now {
            return Ok(ApprovalCheck::Unchanged { digest: now });
        }
        if frozen {
            return Err(TrustError::DigestChanged {
                skill,
                lock: self.path.clone(),
                approved,
                now,
            });
        }
        Ok(ApprovalCheck::Changed { approved, now })
    }
}

/// The approved `key` table of a lock entry as its manifest type; absent is empty.
fn approved_table<T: serde::de::DeserializeOwned>(
    entry: &toml::Table,
    key: &str,
) -> Result<T, String> {
    entry
        .get(key)
        .cloned()
        .unwrap_or_else(|| toml::Value::Table(toml::Table::new()))
        .try_into()
        .map_err(|e: toml::de::Error| format!("{key}: {e}"))
}

/// The `[capabilities]` and `[limits]` tables an approval records.
type GrantTables = Vec<(&'static str, toml::Value)>;

/// The skill's name, version and its `[capabilities]` and `[limits]`
/// tables, written from the manifest the package was loaded with (its
/// typed grants, and its limits as the manifest wrote them): the lock
/// records exactly what was parsed, and never reads `skill.toml` again.
fn manifest_tables(package: &Package) -> Result<(String, String, GrantTables), TrustError> {
    let manifest = package
        .manifest
        .as_ref()
        .ok_or_else(|| TrustError::Package {
            path: package.root.clone(),
            reason:
                "it has no skill.toml: an instruction-only skill runs no code and needs no approval"
                    .into(),
        })?;
    let table = |key: &'static str, value: Result<toml::Value, toml::ser::Error>| {
        value.map(|v| (key, v)).map_err(|e| TrustError::Package {
            path: package.root.clone(),
            reason: format!("cannot record its {key}: {e}"),
        })
    };
    let tables = vec![
        table("capabilities", toml::Value::try_from(&manifest.grants))?,
        table("limits", toml::Value::try_from(&manifest.limits_written))?,
    ];
    Ok((manifest.name.to_string(), manifest.version.clone(), tables))
}

/// One line per limit of `now` above `approved`.
pub(crate) fn raised_limits(now: &Limits, approved: &Limits) -> Vec<String> {
    limit_changes(now, approved, "raised")
}

/// One line per limit of `higher` above `lower`, worded with `verb`
/// (`limits.memory raised from 64 MiB to 128 MiB`): pass the new version
/// first for a raise, the old one first (and `lowered`) for a cut.
pub(crate) fn limit_changes(higher: &Limits, lower: &Limits, verb: &str) -> Vec<String> {
    let raised = verb == "raised";
    higher
        .above(lower)
        .into_iter()
        .map(|(key, high, low)| {
            let (from, to) = if raised { (low, high) } else { (high, low) };
            format!("limits.{key} {verb} from {from} to {to}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(memory: &str) -> Limits {
        let section: LimitsSection =
            toml::from_str(&format!("memory = \"{memory}\"")).expect("valid limits");
        Limits::from_section(&section)
    }

    #[test]
    fn an_approval_records_grants_that_read_back_the_same() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("SKILL.md"),
            "---\nname: every-grant\ndescription: x\n---\n# x\n",
        )
        .expect("SKILL.md");
        std::fs::write(
            dir.path().join("skill.toml"),
            r#"[skill]
name = "every-grant"
version = "0.1.0"
component = "skill.wasm"

[capabilities]
network = ["https://api.example.com/v1/", { url = "http://127.0.0.1:8080", methods = ["POST", "GET"] }, "https://*.example.org"]
files = [{ guest = "/notes", host = "{workspace}/notes", access = "read-write" }, { guest = "/cache", host = "{state}", access = "read" }]
channels = [{ name = "feed", direction = "receive" }]
env = ["LANG"]
secrets = [
  { name = "API_KEY", host = "api.example.com", header = "Authorization", format = "Bearer {}", path = "/v1" },
  { name = "TOKEN", host = "api.example.com", expose = "env" },
]

[limits]
memory = "128 MiB"
timeout = "1500ms"
"#,
        )
        .expect("skill.toml");
        std::fs::write(dir.path().join("skill.wasm"), b"\0asm").expect("wasm");
        let package = Package::read(dir.path()).expect("package");
        let manifest = package.manifest.as_ref().expect("manifest");
        let lock_dir = tempfile::tempdir().expect("lock dir");
        let lock_path = lock_dir.path().join("skills.lock");
        let mut lock = Approvals::open(&lock_path).expect("lock");
        lock.approve(&package).expect("approve");
        lock.save().expect("save");
        let text = std::fs::read_to_string(&lock_path).expect("read");
        let doc: toml::Table = toml::from_str(&text).expect("lock is TOML");
        let entry = doc["skills"]["every-grant"].as_table().expect("entry");
        let grants: Grants = approved_table(entry, "capabilities").expect("grants");
        assert_eq!(grants, manifest.grants);
        let limits: LimitsSection = approved_table(entry, "limits").expect("limits");
        assert_eq!(limits, manifest.limits_written);
        // Only what the manifest wrote is recorded: defaults stay defaults.
        assert!(
            entry["limits"]
                .as_table()
                .expect("limits")
                .get("output")
                .is_none()
        );
        assert!(matches!(
            lock.check(&package, true),
            Ok(ApprovalCheck::Unchanged { .. })
        ));
    }

    /// A skill.toml swapped after the package was read (and shown to the
    /// user) cannot widen what the approval records: the approval writes
    /// the grants that were read, and the swapped package is refused.
    /// Before, `approve` read skill.toml again from disk and recorded the
    /// swapped grants.
    #[test]
    fn a_manifest_swapped_after_reading_is_not_what_gets_approved() {
        let dir = tempfile::tempdir().expect("dir");
        let manifest = |network: &str| {
            format!(
                "[skill]\nname = \"swap\"\nversion = \"0.1.0\"\ncomponent = \"skill.wasm\"\n\n[capabilities]\nnetwork = [{network}]\n"
            )
        };
        std::fs::write(
            dir.path().join("SKILL.md"),
            "---\nname: swap\ndescription: x\n---\n# x\n",
        )
        .expect("SKILL.md");
        std::fs::write(dir.path().join("skill.wasm"), b"\0asm").expect("wasm");
        std::fs::write(
            dir.path().join("skill.toml"),
            manifest("\"https://api.example.com/\""),
        )
        .expect("skill.toml");
        let reviewed = Package::read(dir.path()).expect("package");
        // The swap, between review and approval.
        std::fs::write(
            dir.path().join("skill.toml"),
            manifest("\"https://api.example.com/\", \"https://evil.example/\""),
        )
        .expect("swap");
        let lock_dir = tempfile::tempdir().expect("lock dir");
        let mut lock = Approvals::open(&lock_dir.path().join("skills.lock")).expect("lock");
        lock.approve(&reviewed).expect("approve");
        let Some(toml::Value::Table(entry)) = lock.skills.get("swap") else {
            panic!("no entry recorded");
        };
        let recorded: Grants = approved_table(entry, "capabilities").expect("grants");
        assert_eq!(
            recorded,
            reviewed.manifest.as_ref().expect("manifest").grants
        );
        let swapped = Package::read(dir.path()).expect("swapped package");
        match lock.check(&swapped, false) {
            Err(TrustError::CapabilityGrowth { growth, .. }) => {
                assert_eq!(growth, ["network: https://evil.example/"]);
            }
            other => panic!("the swapped package was not refused: {other:?}"),
        }
        // Control: the reviewed grants themselves pass.
        assert!(lock.check(&reviewed, false).is_ok());
    }

    #[test]
    fn limit_changes_say_from_the_old_value_to_the_new_one() {
        let (old, new) = (limits("512 MiB"), limits("64 MiB"));
        assert_eq!(
            raised_limits(&old, &new),
            ["limits.memory raised from 64 MiB to 512 MiB"]
        );
        // Going from 512 MiB down to 64 MiB: the higher (old) value comes first.
        assert_eq!(
            limit_changes(&old, &new, "lowered"),
            ["limits.memory lowered from 512 MiB to 64 MiB"]
        );
        assert!(raised_limits(&new, &old).is_empty());
    }
}
