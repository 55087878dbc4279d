//! What a probe's evidence means: the verdict of one check and the exit
//! status of a doctor run, as pure functions of what was observed, so the
//! judgement can be tested without a sandbox that leaks.

use serde::Serialize;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The escape was stopped and the positive control worked.
    Ok,
    /// The escape attempt succeeded, or something leaked.
    NotConfined,
    /// The escape was stopped, but the same operation inside the grant
    /// failed too, so the probe cannot tell confinement from breakage.
    Unverified,
    /// Confinement holds, but the machine is set up worse than it should be
    /// (slower, or a folder the runtime refuses to use).
    Warn,
}

impl Verdict {
    /// The word printed at the start of the check's line.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::NotConfined => "NOT CONFINED",
            Verdict::Unverified => "UNVERIFIED",
            Verdict::Warn => "warn",
        }
    }

    /// Whether the run may still exit 0 with this verdict.
    pub fn holds(self) -> bool {
        matches!(self, Verdict::Ok | Verdict::Warn)
    }
}

/// One side of a probe: what was done and whether the outcome was the one
/// confinement requires (for an escape: stopped and nothing leaked; for a
/// control: it worked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Whether the outcome was the required one.
    pub as_required: bool,
    /// What happened, in a few words.
    pub what: String,
}

impl Observed {
    /// The outcome confinement requires.
    pub fn held(what: impl Into<String>) -> Self {
        Observed {
            as_required: true,
            what: what.into(),
        }
    }

    /// Any other outcome.
    pub fn failed(what: impl Into<String>) -> Self {
        Observed {
            as_required: false,
            what: what.into(),
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable name, `area.what`.
    pub id: &'static str,
    /// What was tried.
    pub tried: String,
    /// What happened to the escape attempt (or the host check).
    pub happened: String,
    /// What happened to the positive control, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
}

/// The verdict of an escape attempt and its positive control: an escape
/// that was not stopped is `NotConfined` whatever the control did; a
/// stopped escape whose control also failed proves nothing (`Unverified`).
pub fn judge(escape: &Observed, control: Option<&Observed>) -> Verdict {
    if !escape.as_required {
        Verdict::NotConfined
    } else if control.is_some_and(|c| !c.as_required) {
        Verdict::Unverified
    } else {
        Verdict::Ok
    }
}

impl Check {
    /// A check from an escape attempt and its positive control.
    pub fn probe(
        id: &'static str,
        tried: impl Into<String>,
        escape: Observed,
        control: Observed,
    ) -> Check {
        Check {
            id,
            tried: tried.into(),
            verdict: judge(&escape, Some(&control)),
            happened: escape.what,
            control: Some(control.what),
        }
    }

    /// A host check without a control: `NotConfined` when it did not hold.
    pub fn host(id: &'static str, tried: impl Into<String>, observed: Observed) -> Check {
        Check {
            id,
            tried: tried.into(),
            verdict: judge(&observed, None),
            happened: observed.what,
            control: None,
        }
    }

    /// A host check that found the machine weaker than it should be but
    /// still confined.
    pub fn warn(id: &'static str, tried: impl Into<String>, what: impl Into<String>) -> Check {
        Check {
            id,
            tried: tried.into(),
            happened: what.into(),
            control: None,
            verdict: Verdict::Warn,
        }
    }

    /// The check's line for people: verdict, id, what was tried, what happened.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{:<12}  {:<25}  {}: {}",
            self.verdict.label(),
            self.id,
            self.tried,
            self.happened
        );
        if let Some(control) = &self.control {
            line.push_str(&format!(" (control: {control})"));
        }
        line
    }
}

/// The doctor's exit status: 0 when every check holds, 1 otherwise.
pub fn exit_code(checks: &[Check]) -> u8 {
    if checks.iter().all(|c| c.verdict.holds()) {
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(escape: Observed, control: Observed) -> Check {
        Check::probe("files.dotdot", "read ../secret.txt", escape, control)
    }

    #[test]
    fn a_stopped_escape_with_a_working_control_is_ok() {
        let check = probe(Observed::held("refused"), Observed::held("read"));
        assert_eq!(check.verdict, Verdict::Ok);
        assert_eq!(exit_code(&[check]), 0);
    }

    #[test]
    fn an_escape_that_succeeded_is_not_confined_and_exits_1() {
        let ok = probe(Observed::held("refused"), Observed::held("read"));
        let leaked = probe(
            Observed::failed("read the file outside the grant"),
            Observed::held("read"),
        );
        assert_eq!(leaked.verdict, Verdict::NotConfined);
        assert!(
            leaked.line().starts_with("NOT CONFINED"),
            "{}",
            leaked.line()
        );
        assert!(leaked.line().contains("read the file outside the grant"));
        assert_eq!(exit_code(&[ok, leaked]), 1);
    }

    #[test]
    fn an_escape_that_succeeded_is_not_confined_even_when_the_control_failed() {
        let check = probe(Observed::failed("leaked"), Observed::failed("broken"));
        assert_eq!(check.verdict, Verdict::NotConfined);
    }

    #[test]
    fn a_failed_control_makes_a_stopped_escape_unverified_and_exits_1() {
        let check = probe(Observed::held("refused"), Observed::failed("refused too"));
        assert_eq!(check.verdict, Verdict::Unverified);
        assert_eq!(exit_code(&[check]), 1);
    }

    #[test]
    fn host_checks_and_warnings() {
        let held = Check::host("host.pool", "reserve", Observed::held("8 TiB"));
        let broken = Check::host("host.cache", "refuse", Observed::failed("used it"));
        let warned = Check::warn("host.cache-folder", "inspect", "world-writable, not used");
        assert_eq!(held.verdict, Verdict::Ok);
        assert_eq!(broken.verdict, Verdict::NotConfined);
        assert_eq!(exit_code(&[held.clone(), warned.clone()]), 0);
        assert_eq!(exit_code(&[held, warned, broken]), 1);
    }

    #[test]
    fn json_names_the_verdict_in_kebab_case() {
        let check = probe(Observed::failed("leaked"), Observed::held("read"));
        let json = serde_json::to_value(&check).expect("serialises");
        assert_eq!(json["verdict"], "not-confined");
        assert_eq!(json["id"], "files.dotdot");
        assert_eq!(json["control"], "read");
    }
}
