//! The guest probes: the embedded preview-1 module (`probe.wat`) packaged in
//! a throwaway folder with a SKILL.md and a skill.toml, loaded and invoked
//! through the library exactly as a user's skill is, once inside each grant
//! or limit (the positive control) and once trying to get past it.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use skill_runtime::{
    AuditKind, ByteSize, Decision, Failure, Invocation, LimitKind, Limits, Outcome, Skill,
    TimeLimit,
};

use super::verdict::{Check, Observed};

/// The probe's source, compiled when the doctor runs (no guest toolchain needed).
const PROBE_WAT: &str = include_str!("probe.wat");

/// The probe skill's name, in SKILL.md and skill.toml.
pub const PROBE_NAME: &str = "skill-run-doctor-probe";

/// Preopened folders, in manifest order: the adapter numbers them from 3.
const READ_ONLY_FD: &str = "3";
const READ_WRITE_FD: &str = "4";

/// The probe's package, workspace and a folder outside every grant, in one
/// temporary folder that is removed when this is dropped.
pub struct World {
    dir: tempfile::TempDir,
    /// A value that must never reach the skill: the content of the files
    /// outside its grants and of the environment variable it is not granted.
    pub canary: String,
    /// The content of the file inside the read-only grant.
    pub keep: String,
}

impl World {
    /// Writes the package (SKILL.md, skill.toml, the compiled probe) and the
    /// files the probes aim at.
    pub fn new() -> Result<World> {
        let dir = tempfile::Builder::new()
            .prefix("skill-run-doctor-")
            .tempdir()
            .context("creating a temporary folder for the probes")?;
        let nonce = format!(
            "{:x}{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let world = World {
            dir,
            canary: format!("doctor-canary-{nonce}"),
            keep: format!("doctor-keep-{nonce}"),
        };
        let module = wat::parse_str(PROBE_WAT).context("compiling the embedded probe")?;
        write_package(&world.package(), PROBE_NAME, &module, PROBE_CAPABILITIES)?;
        let workspace = world.workspace();
        fs::create_dir_all(workspace.join("ro"))?;
        fs::create_dir_all(workspace.join("rw"))?;
        fs::create_dir_all(world.outside())?;
        fs::write(workspace.join("ro/keep.txt"), &world.keep)?;
        fs::write(workspace.join("secret.txt"), &world.canary)?;
        fs::write(world.outside().join("secret.txt"), &world.canary)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink("keep.txt", workspace.join("ro/inside-link"))?;
            symlink(
                world.outside().join("secret.txt"),
                workspace.join("ro/outside-link"),
            )?;
            symlink("../secret.txt", workspace.join("ro/up-link"))?;
        }
        Ok(world)
    }

    /// The temporary folder holding everything.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The probe's package folder.
    pub fn package(&self) -> PathBuf {
        self.root().join("package")
    }

    /// The folder `{workspace}` grants refer to.
    pub fn workspace(&self) -> PathBuf {
        self.root().join("workspace")
    }

    /// A folder outside every grant.
    pub fn outside(&self) -> PathBuf {
        self.root().join("outside")
    }

    /// Where the probe's `{state}` would live.
    pub fn state_root(&self) -> PathBuf {
        self.root().join("state")
    }

    /// Removes everything now, reporting what could not be removed.
    pub fn remove(self) -> Result<()> {
        let path = self.root().to_path_buf();
        self.dir
            .close()
            .with_context(|| format!("removing the probes' folder {}", path.display()))
    }
}

/// The probe's grants: one read-only and one read-write folder and one
/// environment variable; the limits are the defaults, and each probe lowers
/// the one it tests.
const PROBE_CAPABILITIES: &str = r#"[capabilities]
files = [
  { guest = "/ro", host = "{workspace}/ro", access = "read" },
  { guest = "/rw", host = "{workspace}/rw", access = "read-write" },
]
env = ["DOCTOR_GRANTED"]
"#;

/// Writes a package at `dir`: SKILL.md, a skill.toml with `capabilities`
/// (TOML text) and the component `wasm`.
pub fn write_package(dir: &Path, name: &str, wasm: &[u8], capabilities: &str) -> Result<()> {
    fs::create_dir_all(dir)
        .with_context(|| format!("creating the probe package {}", dir.display()))?;
    fs::write(dir.join("probe.wasm"), wasm)?;
    fs::write(
        dir.join("SKILL.md"),
        format!(
            "---\nname: {name}\ndescription: Canary probe of skill-run doctor.\n---\n\nTries to leave its grants.\n"
        ),
    )?;
    fs::write(
        dir.join("skill.toml"),
        format!(
            "[skill]\nname = \"{name}\"\nversion = \"0.1.0\"\ncomponent = \"probe.wasm\"\n\n{capabilities}"
        ),
    )?;
    Ok(())
}

/// Runs the probe skill's operations.
pub struct Guest<'a> {
    pub skill: &'a Skill,
    pub world: &'a World,
    pub tokio: &'a tokio::runtime::Runtime,
}

/// WASI preview-1 errno names the probes meet.
fn errno_name(text: &str) -> String {
    let Some(n) = text.trim().strip_prefix("errno ") else {
        return text.trim().to_owned();
    };
    let name = match n.parse::<u32>() {
        Ok(2) => "EACCES",
        Ok(8) => "EBADF",
        Ok(19) => "EDQUOT",
        Ok(20) => "EEXIST",
        Ok(28) => "EINVAL",
        Ok(32) => "ELOOP",
        Ok(44) => "ENOENT",
        Ok(54) => "ENOTDIR",
        Ok(58) => "ENOTSUP",
        Ok(63) => "EPERM",
        Ok(69) => "EROFS",
        Ok(76) => "ENOTCAPABLE",
        _ => return format!("errno {n}"),
    };
    name.to_owned()
}

/// How an invocation ended, in a few words.
pub fn ending(outcome: &Outcome) -> String {
    match &outcome.result {
        Ok(_) => "it worked".into(),
        Err(Failure::Limit { kind, .. }) => format!(
            "stopped by {}",
            kind.manifest_key().unwrap_or("a fixed cap")
        ),
        Err(Failure::Trap { cause }) => format!("trapped ({cause})"),
        Err(Failure::SkillError { message, .. }) => {
            let told = outcome.stderr.lines().next().unwrap_or_default();
            if told.is_empty() {
                message.clone()
            } else {
                format!("refused ({})", errno_name(told))
            }
        }
        Err(other) => other.message().to_owned(),
    }
}

fn limit_kind(outcome: &Outcome) -> Option<LimitKind> {
    match &outcome.result {
        Err(Failure::Limit { kind, .. }) => Some(*kind),
        _ => None,
    }
}

fn result_text(outcome: &Outcome) -> String {
    match &outcome.result {
        Ok(serde_json::Value::String(s)) => s.clone(),
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Whether the invocation recorded a denial in its audit events.
fn audited_denial(outcome: &Outcome) -> bool {
    outcome
        .audit
        .iter()
        .any(|e| e.decision == Decision::Deny && e.kind != AuditKind::Invoke)
}

impl Guest<'_> {
    fn call(&self, op: &str, args: &[&str], limits: Option<Limits>) -> Result<Outcome> {
        self.call_with_env(op, args, limits, Vec::new())
    }

    fn call_with_env(
        &self,
        op: &str,
        args: &[&str],
        limits: Option<Limits>,
        env: Vec<(String, String)>,
    ) -> Result<Outcome> {
        let mut request = Invocation::new(op)
            .args(args.iter().copied())
            .workspace(self.world.workspace())
            .env(env);
        if let Some(limits) = limits {
            request = request.limits(limits);
        }
        self.tokio
            .block_on(self.skill.invoke(request))
            .with_context(|| format!("starting the probe `{op} {}`", args.join(" ")))
    }

    fn leaked(&self, outcome: &Outcome) -> bool {
        let everything = format!(
            "{:?} {} {} {:?}",
            outcome.result, outcome.stdout, outcome.stderr, outcome.audit
        );
        everything.contains(&self.world.canary)
    }

    /// Reads `path` under the read-only grant: the control must return the
    /// kept file's content.
    fn read_control(&self, path: &str) -> Result<Observed> {
        let outcome = self.call("read", &[READ_ONLY_FD, path], None)?;
        Ok(if result_text(&outcome) == self.world.keep {
            Observed::held(format!("{path} inside the grant was read"))
        } else {
            Observed::failed(format!(
                "{path} inside the grant could not be read: {}",
                ending(&outcome)
            ))
        })
    }

    /// Tries to read each of `paths` under the read-only grant; every one
    /// must fail without the canary anywhere in the outcome. Returns the
    /// evidence and whether every refusal was audited.
    fn read_escape(&self, paths: &[String]) -> Result<(Observed, bool)> {
        let mut said = Vec::new();
        let (mut held, mut audited) = (true, true);
        for path in paths {
            let outcome = self.call("read", &[READ_ONLY_FD, path], None)?;
            let leaked = self.leaked(&outcome);
            if outcome.result.is_ok() || leaked {
                held = false;
                said.push(format!(
                    "{path}: READ{}",
                    if leaked { ", the canary leaked" } else { "" }
                ));
            } else {
                said.push(format!("{path}: {}", ending(&outcome)));
            }
            audited &= audited_denial(&outcome);
        }
        let what = said.join("; ");
        Ok((
            if held {
                Observed::held(what)
            } else {
                Observed::failed(what)
            },
            audited,
        ))
    }

    /// Every guest check, and for the audit check the names of the escape
    /// attempts whose denials were not recorded.
    pub fn checks(&self) -> Result<(Vec<Check>, Vec<&'static str>)> {
        let mut checks = Vec::new();
        let mut unaudited = Vec::new();
        let secret_beside = "../secret.txt".to_owned();
        let secret_outside = "../../outside/secret.txt".to_owned();

        let (escape, audited) = self.read_escape(&[secret_beside.clone(), secret_outside])?;
        if !audited {
            unaudited.push("files.dotdot");
        }
        checks.push(Check::probe(
            "files.dotdot",
            "read files beside and above a read grant through `..`",
            escape,
            self.read_control("keep.txt")?,
        ));

        let absolute = self.world.outside().join("secret.txt");
        let (escape, audited) =
            self.read_escape(&[absolute.display().to_string(), "/etc/passwd".into()])?;
        if !audited {
            unaudited.push("files.absolute");
        }
        checks.push(Check::probe(
            "files.absolute",
            "read host files by absolute path from a read grant",
            escape,
            self.read_control("keep.txt")?,
        ));

        if cfg!(unix) {
            let (escape, audited) = self.read_escape(&["outside-link".into(), "up-link".into()])?;
            if !audited {
                unaudited.push("files.symlink");
            }
            checks.push(Check::probe(
                "files.symlink",
                "read through symlinks in a read grant that point outside it (absolute and `../`)",
                escape,
                self.read_control("inside-link")?,
            ));
        }

        let (check, audited) = self.read_only()?;
        if !audited {
            unaudited.push("files.read-only");
        }
        checks.push(check);
        checks.push(self.env()?);
        checks.push(self.memory()?);
        checks.push(self.timeout()?);
        checks.push(self.output()?);
        checks.push(self.disk_write()?);
        Ok((checks, unaudited))
    }

    fn read_only(&self) -> Result<(Check, bool)> {
        let ro = self.world.workspace().join("ro");
        let mut said = Vec::new();
        let (mut held, mut audited) = (true, true);
        for path in ["keep.txt", "new.txt"] {
            let outcome = self.call("write", &[READ_ONLY_FD, path, "1"], None)?;
            if outcome.result.is_ok() {
                held = false;
                said.push(format!("{path}: WRITTEN"));
            } else {
                said.push(format!("{path}: {}", ending(&outcome)));
            }
            audited &= audited_denial(&outcome);
        }
        let kept = fs::read_to_string(ro.join("keep.txt")).unwrap_or_default();
        if kept != self.world.keep {
            held = false;
            said.push("keep.txt CHANGED on disk".into());
        }
        if ro.join("new.txt").exists() {
            held = false;
            said.push("new.txt CREATED on disk".into());
        }
        let escape = if held {
            Observed::held(format!("{}; nothing changed on disk", said.join("; ")))
        } else {
            Observed::failed(said.join("; "))
        };
        let outcome = self.call("write", &[READ_WRITE_FD, "new.txt", "1"], None)?;
        let written =
            fs::metadata(self.world.workspace().join("rw/new.txt")).map_or(0, |m| m.len());
        let control = if outcome.result.is_ok() && written == 1024 {
            Observed::held("new.txt in a read-write grant was written (1 KiB)")
        } else {
            Observed::failed(format!(
                "new.txt in a read-write grant: {}, {written} bytes on disk",
                ending(&outcome)
            ))
        };
        Ok((
            Check::probe(
                "files.read-only",
                "overwrite and create files in a read grant",
                escape,
                control,
            ),
            audited,
        ))
    }

    fn env(&self) -> Result<Check> {
        let granted = format!("granted-{}", std::process::id());
        // The host's own variables (those that are text), as `run` passes them.
        let mut env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let host_vars = env.len();
        env.push(("DOCTOR_GRANTED".into(), granted.clone()));
        env.push(("DOCTOR_HIDDEN".into(), self.world.canary.clone()));
        let outcome = self.call_with_env("env", &[], None, env)?;
        let seen = result_text(&outcome);
        let names: Vec<&str> = seen
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('=').next().unwrap_or(l))
            .collect();
        let others: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| *n != "DOCTOR_GRANTED")
            .collect();
        let escape = if outcome.result.is_err() {
            // Nothing to judge: the listing itself failed.
            Observed::held(format!("the listing failed: {}", ending(&outcome)))
        } else if self.leaked(&outcome) || !others.is_empty() {
            Observed::failed(format!("VISIBLE: {}", others.join(", ")))
        } else {
            Observed::held(format!(
                "none of the host's {host_vars} variables nor DOCTOR_HIDDEN was visible"
            ))
        };
        let control = if seen
            .lines()
            .any(|l| l == format!("DOCTOR_GRANTED={granted}"))
        {
            Observed::held("the granted DOCTOR_GRANTED was visible")
        } else {
            Observed::failed(format!(
                "the granted DOCTOR_GRANTED was not visible ({})",
                ending(&outcome)
            ))
        };
        Ok(Check::probe(
            "env.undeclared",
            "list the environment: the host's variables plus an undeclared DOCTOR_HIDDEN",
            escape,
            control,
        ))
    }

    fn memory(&self) -> Result<Check> {
        let limit = ByteSize::mib(8);
        let limits = Limits {
            memory: limit,
            ..Limits::default()
        };
        let outcome = self.call("grow", &["256"], Some(limits))?;
        let escape = if outcome.result.is_err() && outcome.usage.peak_memory <= limit.0 {
            Observed::held(format!(
                "{}, peak {} KiB",
                ending(&outcome),
                outcome.usage.peak_memory / 1024
            ))
        } else {
            Observed::failed(format!(
                "{}, peak {} KiB",
                ending(&outcome),
                outcome.usage.peak_memory / 1024
            ))
        };
        let control = self.call("grow", &["16"], Some(limits))?;
        let control = if control.result.is_ok() {
            Observed::held("growing by 1 MiB worked")
        } else {
            Observed::failed(format!("growing by 1 MiB: {}", ending(&control)))
        };
        Ok(Check::probe(
            "limits.memory",
            "grow linear memory by 16 MiB under memory = \"8 MiB\"",
            escape,
            control,
        ))
    }

    fn timeout(&self) -> Result<Check> {
        let limit = Duration::from_millis(250);
        let limits = Limits {
            timeout: TimeLimit(limit),
            ..Limits::default()
        };
        let started = Instant::now();
        let outcome = self.call("spin", &[], Some(limits))?;
        let took = started.elapsed();
        let what = format!("{} after {} ms", ending(&outcome), took.as_millis());
        let escape = if limit_kind(&outcome) == Some(LimitKind::Timeout)
            && took < limit + Duration::from_secs(2)
        {
            Observed::held(what)
        } else {
            Observed::failed(what)
        };
        let control = self.call("print", &["0"], Some(limits))?;
        let control = if control.result.is_ok() {
            Observed::held("a call that returns at once finished")
        } else {
            Observed::failed(format!("a call that returns at once: {}", ending(&control)))
        };
        Ok(Check::probe(
            "limits.timeout",
            "loop forever under timeout = \"250ms\"",
            escape,
            control,
        ))
    }

    fn output(&self) -> Result<Check> {
        let limit = ByteSize(16 * 1024);
        let limits = Limits {
            output: limit,
            ..Limits::default()
        };
        let outcome = self.call("print", &["1024"], Some(limits))?;
        let kept = result_text(&outcome).len() + outcome.stdout.len() + outcome.stderr.len();
        let what = format!("{}, {kept} bytes kept", ending(&outcome));
        let escape = if limit_kind(&outcome) == Some(LimitKind::Output) && kept as u64 <= limit.0 {
            Observed::held(what)
        } else {
            Observed::failed(what)
        };
        let control = self.call("print", &["4"], Some(limits))?;
        let control = if result_text(&control).len() == 4096 {
            Observed::held("printing 4 KiB worked")
        } else {
            Observed::failed(format!("printing 4 KiB: {}", ending(&control)))
        };
        Ok(Check::probe(
            "limits.output",
            "print 1 MiB under output = \"16 KiB\"",
            escape,
            control,
        ))
    }

    fn disk_write(&self) -> Result<Check> {
        let limit = ByteSize(64 * 1024);
        let limits = Limits {
            disk_write: limit,
            ..Limits::default()
        };
        let rw = self.world.workspace().join("rw");
        let outcome = self.call("write", &[READ_WRITE_FD, "big.bin", "1024"], Some(limits))?;
        let on_disk = fs::metadata(rw.join("big.bin")).map_or(0, |m| m.len());
        let what = format!("{}, {} KiB on disk", ending(&outcome), on_disk / 1024);
        let escape = if limit_kind(&outcome) == Some(LimitKind::DiskWrite) && on_disk <= limit.0 {
            Observed::held(what)
        } else {
            Observed::failed(what)
        };
        let control = self.call("write", &[READ_WRITE_FD, "small.bin", "16"], Some(limits))?;
        let small = fs::metadata(rw.join("small.bin")).map_or(0, |m| m.len());
        let control = if control.result.is_ok() && small == 16 * 1024 {
            Observed::held("writing 16 KiB worked")
        } else {
            Observed::failed(format!(
                "writing 16 KiB: {}, {small} bytes on disk",
                ending(&control)
            ))
        };
        Ok(Check::probe(
            "limits.disk-write",
            "write 1 MiB to a read-write grant under disk-write = \"64 KiB\"",
            escape,
            control,
        ))
    }
}
