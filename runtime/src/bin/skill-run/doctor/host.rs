//! Host checks: the instance pool's address-space reservation, the compile
//! cache's refusal of a folder others can write to, and the permissions of
//! the cache folder `skill-run` would use here.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use skill_runtime::{CacheStatus, Runtime, RuntimeConfig};

use super::guest::World;
use super::verdict::{Check, Observed};

/// This process's virtual size in bytes (Linux), to measure what the pool reserved.
pub fn virtual_size() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmSize:"))?;
    let kib: u64 = line
        .trim_start_matches("VmSize:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Bytes in words: "8.1 TiB".
pub fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", units[unit])
}

/// The pool: reserved up front, or refused by the system (`reserved`: how
/// much the process's address space grew while the runtime was created).
pub fn pool(runtime: &Runtime, reserved: Option<u64>) -> Check {
    let tried = format!(
        "reserve the instance pool's address space ({} concurrent invocations, guard regions included)",
        runtime.config().max_concurrent_invocations()
    );
    let size = reserved.map_or("size unknown on this system".into(), |b| {
        format!("{} of address space reserved", human(b))
    });
    if runtime.uses_instance_pool() {
        Check::host("host.pool", tried, Observed::held(size))
    } else {
        Check::warn(
            "host.pool",
            tried,
            format!(
                "the system refused the reservation (ulimit -v or strict overcommit?); instances are allocated on demand: same isolation, slower ({size})"
            ),
        )
    }
}

/// The compile cache must never use entries from a folder other users can
/// write to: an entry planted there is machine code this process would run.
/// The control: the same entry in a private folder is used.
pub fn cache_refusal(world: &World, private: &Path, private_status: &CacheStatus) -> Result<Check> {
    let tried = "load the probe through a compile cache folder others can write to, holding a valid planted entry";
    // Control: the private cache stored the probe at the first load; a second
    // load through it must be a hit.
    let runtime = Runtime::new(RuntimeConfig::new(world.state_root()).with_compile_cache(private))?;
    let second = runtime
        .load(world.package())
        .context("loading the probe through the private cache")?;
    let control = match (private_status, second.cache_status()) {
        (CacheStatus::Miss, CacheStatus::Hit) => {
            Observed::held("a private folder's entry was stored and then used")
        }
        (first, then) => Observed::failed(format!(
            "a private folder's entry was not used (first load {first:?}, second {then:?})"
        )),
    };
    drop(second);
    drop(runtime);

    let shared = world.root().join("shared-cache");
    fs::create_dir(&shared)?;
    for entry in fs::read_dir(private)? {
        let entry = entry?;
        fs::copy(entry.path(), shared.join(entry.file_name()))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777))?;
    }
    let runtime = Runtime::new(RuntimeConfig::new(world.state_root()).with_compile_cache(shared))?;
    let skill = runtime
        .load(world.package())
        .context("loading the probe through the shared cache")?;
    let escape = match skill.cache_status() {
        CacheStatus::Hit => Observed::failed("the planted entry was USED"),
        CacheStatus::Replaced(why) | CacheStatus::NotStored(why) => {
            Observed::held(format!("not used: {why}"))
        }
        other => Observed::held(format!("not used ({other:?})")),
    };
    Ok(Check::probe("host.cache-refusal", tried, escape, control))
}

/// The folder `skill-run` keeps compiled components in on this machine.
pub fn cache_folder(dir: Option<&Path>) -> Check {
    let id = "host.cache-folder";
    let Some(dir) = dir else {
        return Check::host(
            id,
            "find the compile cache folder",
            Observed::held("none: no HOME or XDG_CACHE_HOME, so nothing is cached"),
        );
    };
    let tried = format!("inspect the compile cache folder {}", dir.display());
    let meta = match fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Check::host(
                id,
                tried,
                Observed::held("not created yet; skill-run creates it private (mode 0700)"),
            );
        }
        Err(e) => {
            return Check::warn(
                id,
                tried,
                format!("cannot read it ({e}); nothing is cached"),
            );
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o022 != 0 {
            return Check::warn(
                id,
                tried,
                format!(
                    "mode {mode:03o}: other users can write to it, so skill-run refuses to use it and compiles every time; run chmod 700 {}",
                    dir.display()
                ),
            );
        }
        if let Ok(me) = fs::metadata("/proc/self")
            && me.uid() != meta.uid()
        {
            return Check::warn(
                id,
                tried,
                format!(
                    "owned by uid {}, not you (uid {}), so skill-run refuses to use it; pass --cache-dir with a folder of your own",
                    meta.uid(),
                    me.uid()
                ),
            );
        }
        Check::host(
            id,
            tried,
            Observed::held(format!(
                "mode {mode:03o}, owned by you, writable by no one else"
            )),
        )
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Check::host(
            id,
            tried,
            Observed::held("exists (permissions not checked on this system)"),
        )
    }
}
