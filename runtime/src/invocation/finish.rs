//! Finishing one invocation: committing or discarding its `{state}`, the
//! limit and invoke audit events, and an [`Outcome`] scrubbed of secrets.

use super::ending::limit_message;
use super::prepare::Context;
use super::{Ended, Failure, Outcome, Usage};
use crate::audit::{AuditKind, Decision};
use crate::capabilities::files::{Access, HostBase};
use crate::capabilities::limits::LimitKind;
use crate::capabilities::state::Finished;
use crate::capabilities::state_origins;
use crate::component::ComponentKind;

/// Makes the outcome of a call that ended as `ended`.
pub(super) async fn finish(context: Context<'_>, ended: Ended) -> Outcome {
    let Ended {
        mut result,
        peak_memory,
        wall_time,
    } = ended;
    let Context {
        skill,
        name,
        command_name,
        grants,
        limits,
        audit,
        budget,
        stdout,
        stderr,
        scrubber,
        state_view,
        limit_flag,
        provenance,
        slot: _slot,
        started: _,
    } = context;
    let fail_limit = |kind: LimitKind| Failure::Limit {
        kind,
        message: limit_message(&name, kind, &limits),
    };
    // State changes become visible only when the invocation succeeded and
    // its {state} fits its limits as a whole.
    if let Some(view) = state_view {
        let mut succeeded = result.is_ok() && limit_flag.get().is_none();
        // Record where the data that may now be in the state came from
        // before the state becomes visible (under the writers' lock, which
        // the view still holds, so concurrent writers cannot lose an origin).
        let writes = grants
            .files
            .iter()
            .any(|f| f.host.base == HostBase::State && f.access == Access::ReadWrite);
        if succeeded
            && writes
            && let Err(e) = state_origins::add(skill.state.root(), &provenance.origins())
        {
            let message = format!(
                "skill `{name}` finished but its {{state}} origins could not be saved: {e}"
            );
            audit.record(AuditKind::File, "{state}", Decision::Deny, &message, None);
            result = Err(Failure::Trap { cause: message });
            succeeded = false;
        }
        match skill.state.finish(view, succeeded, limits).await {
            Finished::Committed | Finished::Discarded => {}
            Finished::Over(kind) => limit_flag.set(kind),
            Finished::Failed(e) => {
                let message =
                    format!("skill `{name}` finished but its {{state}} could not be saved: {e}");
                audit.record(AuditKind::File, "{state}", Decision::Deny, &message, None);
                result = Err(Failure::Trap { cause: message });
            }
        }
    }
    if let Some(kind) = limit_flag.get()
        && !matches!(result, Err(Failure::Limit { .. }))
    {
        result = Err(fail_limit(kind));
    }
    if let Err(Failure::Limit { kind, message }) = &result {
        let target = kind.manifest_key().unwrap_or("runtime");
        audit.record(AuditKind::Limit, target, Decision::Deny, message, None);
    }
    // The invocation itself was allowed; how it ended is in the reason. Denials
    // (capabilities, limits) are their own events above.
    let reason = match &result {
        Ok(_) => "completed".to_owned(),
        Err(f) => format!("failed: {}", f.message()),
    };
    audit.record(
        AuditKind::Invoke,
        &command_name,
        Decision::Allow,
        &reason,
        Some(budget.used()),
    );

    let (out_bytes, _) = stdout.contents();
    let (err_bytes, stderr_dropped) = stderr.contents();
    // The skill never saw a secret, but nothing it returns may carry one either.
    let scrub_text = |bytes: &[u8]| scrubber.text(&String::from_utf8_lossy(bytes)).into_owned();
    let result = result
        .map(|v| scrubber.json(v))
        .map_err(|failure| match failure {
            Failure::SkillError { message, value } => Failure::SkillError {
                message: scrubber.text(&message).into_owned(),
                value: value.map(|v| scrubber.json(v)),
            },
            Failure::Trap { cause } => Failure::Trap {
                cause: scrubber.text(&cause).into_owned(),
            },
            limit => limit,
        });
    Outcome {
        skill: name.to_string(),
        command: command_name,
        stdout: if skill.kind == ComponentKind::Typed
            || crate::script_runtime::is_script(&skill.manifest)
        {
            scrub_text(&out_bytes)
        } else {
            String::new()
        },
        stderr: scrub_text(&err_bytes),
        stderr_dropped,
        result,
        audit: audit.take(),
        usage: Usage {
            wall_time,
            peak_memory,
            output_bytes: budget.used(),
        },
        origins: provenance.origins(),
    }
}
