//! Heartbeats: skills whose `skill.toml` has a `[schedule]` are run by the
//! host every so often, with their normal grants. The last run is recorded
//! by the host under `<state_root>/.heartbeats/<skill>.json`, outside every
//! folder a skill can be granted, so a skill cannot forge or skip its own
//! schedule. What a heartbeat returns is an ordinary [`Outcome`]: results
//! fetched from the network carry their origins and go to a model only
//! through [`Outcome::for_model`], fenced as data.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::InvokeError;
use crate::invocation::{Invocation, Outcome};
use crate::skill::Skill;

/// The host's record of a skill's last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatRecord {
    /// When it last ran, in seconds since the Unix epoch.
    pub last_run: u64,
    /// Whether that run succeeded.
    pub ok: bool,
}

/// Where the runtime keeps heartbeat records.
pub(crate) fn record_path(state_root: &Path, skill: &str) -> PathBuf {
    state_root.join(".heartbeats").join(format!("{skill}.json"))
}

fn seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The last recorded heartbeat of `skill`, if any (an unreadable record counts as none).
pub(crate) fn last(state_root: &Path, skill: &str) -> Option<HeartbeatRecord> {
    let text = std::fs::read_to_string(record_path(state_root, skill)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether `skill` is due at `now`: it has a schedule and has not run within
/// its period. `None` when it has no schedule.
pub(crate) fn due(state_root: &Path, skill: &Skill, now: SystemTime) -> Option<bool> {
    due_in(state_root, skill, now).map(|wait| wait.is_zero())
}

/// Runs the skill's scheduled command once and records the run.
pub(crate) async fn run(
    state_root: &Path,
    skill: &Skill,
    workspace: Option<PathBuf>,
) -> Result<Option<Outcome>, InvokeError> {
    let Some(schedule) = skill.manifest().schedule.clone() else {
        return Ok(None);
    };
    // `invoke` refuses a call that could write to the package; a
    // heartbeat is refused the same way before it is recorded.
    let mut request = Invocation::new(schedule.command).input(schedule.input);
    if let Some(w) = workspace {
        request = request.workspace(w);
    }
    let started = SystemTime::now();
    let outcome = skill.invoke(request).await?;
    let record = HeartbeatRecord {
        last_run: seconds(started),
        ok: outcome.result.is_ok(),
    };
    let path = record_path(state_root, skill.name());
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&path, serde_json::to_vec(&record).unwrap_or_default()));
    if let Err(e) = written {
        return Err(InvokeError::Heartbeat {
            skill: skill.name().to_owned(),
            reason: format!(
                "it ran, but its run could not be recorded in {}: {e}",
                path.display()
            ),
        });
    }
    Ok(Some(outcome))
}

/// How long until `skill` is next due (zero when due now); `None` without a schedule.
pub(crate) fn due_in(state_root: &Path, skill: &Skill, now: SystemTime) -> Option<Duration> {
    let schedule = skill.manifest().schedule.as_ref()?;
    Some(match last(state_root, skill.name()) {
        None => Duration::ZERO,
        Some(record) => Duration::from_secs(
            (record.last_run + schedule.every.as_secs()).saturating_sub(seconds(now)),
        ),
    })
}
