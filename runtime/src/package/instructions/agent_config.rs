//! Frontmatter that configures the agent rather than describing the skill:
//! lifecycle `hooks` (shell commands the agent runs on PreToolUse,
//! PostToolUse, Stop), `allowed-tools` that pre-approve a shell,
//! `permissions` blocks, `context: fork`, and `disable-model-invocation`
//! combined with hooks (MCP server specs: `mcp_servers`). Each finding
//! names what the agent would do.
//!
//! Every walk over a frontmatter value is bounded in depth and in nodes,
//! and every text scan is linear, so a huge hooks block costs its length.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::lint::clip;
use super::{Finding, Frontmatter, Severity};

/// The most findings listed per key; past it one more gives the count.
pub(super) const MAX_LISTED: usize = 20;
/// The deepest a frontmatter value is walked.
pub(super) const MAX_DEPTH: usize = 16;
/// The most values visited in one walk.
pub(super) const MAX_NODES: usize = 20_000;

/// Tool names that are a shell, in the agents that read SKILL.md files.
const SHELL_TOOLS: &[&str] = &[
    "bash",
    "shell",
    "sh",
    "zsh",
    "powershell",
    "terminal",
    "exec",
    "run_shell_command",
    "run_terminal_cmd",
    "computer",
];

/// `command: …` in hooks text that is not valid YAML (read line by line).
static RAW_COMMAND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^[ \t-]*["']?command["']?\s*:\s*(.+?)\s*$"#).expect("valid regex")
});

/// Adds the findings for `fm`, whose YAML text (from line 2 of the file) is `yaml`.
pub(crate) fn scan(yaml: &str, fm: &Frontmatter, findings: &mut Vec<Finding>) {
    let hooks = fm.keys.get("hooks").filter(|v| !v.is_null());
    if let Some(hooks) = hooks {
        scan_hooks(yaml, hooks, findings);
        if fm.disable_model_invocation == Some(true) {
            findings.push(Finding::new(
                "hidden-hooks",
                Severity::Warning,
                key_line(yaml, "disable-model-invocation"),
                1,
                "`disable-model-invocation: true` keeps this skill out of the model's view (only a user's /command starts it), yet its `hooks` still run shell commands when it is used: the model will neither mention nor question them",
            ));
        }
    }
    scan_allowed_tools(yaml, &fm.allowed_tools, findings);
    if let Some(permissions) = fm.keys.get("permissions").filter(|v| !v.is_null()) {
        scan_permissions(yaml, permissions, findings);
    }
    super::mcp_servers::scan(yaml, fm, findings);
    if fm
        .keys
        .get("context")
        .and_then(Value::as_str)
        .map(str::trim)
        == Some("fork")
    {
        let agent = fm
            .keys
            .get("agent")
            .and_then(Value::as_str)
            .map(|a| format!(" (agent `{}`)", clip(&super::one_line(a), 60)))
            .unwrap_or_default();
        findings.push(Finding::new(
            "context-fork",
            Severity::Warning,
            key_line(yaml, "context"),
            1,
            format!("`context: fork` makes the agent run this skill in a forked sub-agent{agent}: its tool calls and what they return stay out of the main conversation, so you do not see them step by step"),
        ));
    }
}

/// The file line of top-level `key:` in the frontmatter (which starts on
/// line 2); line 2 when it cannot be found.
pub(super) fn key_line(yaml: &str, key: &str) -> usize {
    yaml.lines()
        .position(|line| {
            let rest = line
                .strip_prefix(key)
                .or_else(|| {
                    line.strip_prefix('"')
                        .and_then(|l| l.strip_prefix(key)?.strip_prefix('"'))
                })
                .or_else(|| {
                    line.strip_prefix('\'')
                        .and_then(|l| l.strip_prefix(key)?.strip_prefix('\''))
                });
            rest.is_some_and(|r| r.trim_start().starts_with(':'))
        })
        .map_or(2, |i| i + 2)
}

/// The file line of the first line at or after `from` (a file line) that
/// contains `needle`; `from` when none does.
pub(super) fn line_of(yaml: &str, from: usize, needle: &str) -> usize {
    if needle.is_empty() {
        return from;
    }
    yaml.lines()
        .enumerate()
        .skip(from.saturating_sub(2))
        .find(|(_, line)| line.contains(needle))
        .map_or(from, |(i, _)| i + 2)
}

/// One shell command a hook would run.
struct HookCommand {
    event: Option<String>,
    matcher: Option<String>,
    command: String,
}

fn scan_hooks(yaml: &str, hooks: &Value, findings: &mut Vec<Finding>) {
    let at = key_line(yaml, "hooks");
    let mut commands = Vec::new();
    let mut other = 0usize;
    match hooks {
        // Not valid YAML (or too large to parse): read `command:` lines.
        Value::String(text) => {
            for m in RAW_COMMAND.captures_iter(text) {
                if let Some(c) = m.get(1) {
                    commands.push(HookCommand {
                        event: None,
                        matcher: None,
                        command: c.as_str().trim_matches(['"', '\'']).to_owned(),
                    });
                }
            }
        }
        _ => {
            let mut budget = MAX_NODES;
            collect_hooks(hooks, None, None, 0, &mut budget, &mut commands, &mut other);
        }
    }
    let total = commands.len();
    for hook in commands.iter().take(MAX_LISTED) {
        let shown = clip(&super::one_line(&hook.command), 160);
        let when = match (&hook.event, &hook.matcher) {
            (Some(e), Some(m)) => {
                format!(" on {} (for tools matching `{}`)", clip(e, 40), clip(m, 60))
            }
            (Some(e), None) => format!(" on {}", clip(e, 40)),
            _ => String::new(),
        };
        let needle: String = hook
            .command
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(40)
            .collect();
        findings.push(Finding::new(
            "agent-hooks",
            Severity::Error,
            line_of(yaml, at, needle.trim()),
            1,
            format!("frontmatter `hooks` makes the agent run `{shown}` in a shell on your machine{when}, with your rights and without asking, whenever this skill is active; this sandbox does not confine it"),
        ));
    }
    if total > MAX_LISTED {
        findings.push(Finding::new(
            "agent-hooks",
            Severity::Error,
            at,
            1,
            format!("{} more hook commands are not listed", total - MAX_LISTED),
        ));
    }
    if total == 0 {
        let events = match hooks {
            Value::Object(map) => map
                .keys()
                .take(8)
                .map(|k| clip(&super::one_line(k), 40))
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        };
        findings.push(Finding::new(
            "agent-hooks",
            Severity::Warning,
            at,
            1,
            format!(
                "frontmatter `hooks` configures the agent's lifecycle hooks{}{}: an agent that honours them acts on its own at those points",
                if events.is_empty() { String::new() } else { format!(" ({events})") },
                if other > 0 { format!(", {other} of them not shell commands (prompts or agents)") } else { String::new() },
            ),
        ));
    }
}

/// Walks a hooks value: `{Event: [{matcher, hooks: [{type, command}]}]}`,
/// and the looser shapes people write (`{Event: "cmd"}`, `{Event: ["cmd"]}`).
fn collect_hooks(
    value: &Value,
    event: Option<&str>,
    matcher: Option<&str>,
    depth: usize,
    budget: &mut usize,
    out: &mut Vec<HookCommand>,
    other: &mut usize,
) {
    if depth > MAX_DEPTH || *budget == 0 {
        return;
    }
    *budget -= 1;
    match value {
        Value::String(command) if event.is_some() => out.push(HookCommand {
            event: event.map(str::to_owned),
            matcher: matcher.map(str::to_owned),
            command: command.clone(),
        }),
        Value::Array(items) => {
            for item in items {
                collect_hooks(item, event, matcher, depth + 1, budget, out, other);
            }
        }
        Value::Object(map) => {
            let matcher = map.get("matcher").and_then(Value::as_str).or(matcher);
            if let Some(Value::String(command)) = map.get("command") {
                out.push(HookCommand {
                    event: event.map(str::to_owned),
                    matcher: matcher.map(str::to_owned),
                    command: command.clone(),
                });
                return;
            }
            if map.contains_key("prompt")
                || map
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t != "command")
            {
                *other += 1;
                return;
            }
            for (key, inner) in map {
                if key == "matcher" {
                    continue;
                }
                // The first level names the event; deeper keys (`hooks`) do not.
                let event = if event.is_none() {
                    Some(key.as_str())
                } else {
                    event
                };
                collect_hooks(inner, event, matcher, depth + 1, budget, out, other);
            }
        }
        _ => {}
    }
}

/// `Bash`, `Bash(*)`, `Bash(git diff *)`: the tool's name and its pattern.
fn tool_and_pattern(entry: &str) -> (&str, Option<&str>) {
    match entry.split_once('(') {
        Some((name, rest)) => (
            name.trim(),
            Some(rest.trim_end().trim_end_matches(')').trim()),
        ),
        None => (entry.trim(), None),
    }
}

fn scan_allowed_tools(yaml: &str, tools: &[String], findings: &mut Vec<Finding>) {
    let mut unrestricted = Vec::new();
    let mut restricted = Vec::new();
    for entry in tools.iter().take(1000) {
        let (name, pattern) = tool_and_pattern(entry);
        if !SHELL_TOOLS.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            continue;
        }
        let shown = clip(&super::one_line(entry), 80);
        match pattern {
            None | Some("" | "*" | ":*" | "**") => unrestricted.push(format!("`{shown}`")),
            Some(_) => restricted.push(format!("`{shown}`")),
        }
    }
    let line = key_line(yaml, "allowed-tools");
    if !unrestricted.is_empty() {
        findings.push(Finding::new(
            "shell-preapproved",
            Severity::Error,
            line,
            1,
            format!("`allowed-tools` pre-approves a shell ({}): while this skill is active the agent may run any command on your machine without asking you", unrestricted.join(", ")),
        ));
    }
    if !restricted.is_empty() {
        findings.push(Finding::new(
            "shell-preapproved",
            Severity::Warning,
            line,
            1,
            format!("`allowed-tools` pre-approves shell commands matching {}: the agent runs those without asking you", restricted.join(", ")),
        ));
    }
}

fn scan_permissions(yaml: &str, permissions: &Value, findings: &mut Vec<Finding>) {
    let list = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::Array(items)) => items
                .iter()
                .take(10)
                .map(|i| {
                    format!(
                        "`{}`",
                        clip(
                            &super::one_line(
                                &i.as_str().map_or_else(|| i.to_string(), str::to_owned)
                            ),
                            60
                        )
                    )
                })
                .collect(),
            Some(Value::String(s)) => vec![format!("`{}`", clip(&super::one_line(s), 60))],
            _ => Vec::new(),
        }
    };
    let (widening, parts) = match permissions {
        Value::Object(map) => {
            let mut parts = Vec::new();
            let mut widening = false;
            for (key, label) in [
                ("allow", "allows"),
                ("ask", "asks before"),
                ("additionalDirectories", "adds folders"),
            ] {
                let items = list(map.get(key));
                if !items.is_empty() {
                    widening = true;
                    parts.push(format!("{label} {}", items.join(", ")));
                }
            }
            if let Some(mode) = map.get("defaultMode").and_then(Value::as_str) {
                widening |= mode != "default" && mode != "plan";
                parts.push(format!(
                    "sets defaultMode `{}`",
                    clip(&super::one_line(mode), 40)
                ));
            }
            let denied = list(map.get("deny"));
            if !denied.is_empty() {
                parts.push(format!("denies {}", denied.join(", ")));
            }
            let known = [
                "allow",
                "ask",
                "deny",
                "defaultMode",
                "additionalDirectories",
            ];
            let unknown: Vec<&str> = map
                .keys()
                .filter(|k| !known.contains(&k.as_str()))
                .map(String::as_str)
                .take(5)
                .collect();
            if !unknown.is_empty() {
                widening = true;
                parts.push(format!(
                    "sets {}",
                    unknown
                        .iter()
                        .map(|k| format!("`{}`", clip(&super::one_line(k), 40)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            (widening, parts)
        }
        other => (
            true,
            vec![format!(
                "sets `{}`",
                clip(&super::one_line(&other.to_string()), 80)
            )],
        ),
    };
    let (severity, effect) = if widening {
        (
            Severity::Error,
            "would change what the agent may do on your machine without asking you",
        )
    } else {
        (Severity::Info, "only narrows what the agent may do")
    };
    findings.push(Finding::new(
        "agent-permissions",
        severity,
        key_line(yaml, "permissions"),
        1,
        format!("frontmatter `permissions` {effect}: {}", parts.join("; ")),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<Finding> {
        super::super::parse(text).findings
    }

    fn codes(text: &str) -> Vec<&'static str> {
        found(text).iter().map(|f| f.code).collect()
    }

    #[test]
    fn hook_commands_are_named_with_their_event_and_line() {
        let f = found(concat!(
            "---\nname: fmt\ndescription: Formats code.\nhooks:\n  PostToolUse:\n    - matcher: \"Edit|Write\"\n",
            "      hooks:\n        - type: command\n          command: \"./scripts/format.sh\"\n",
            "  Stop:\n    - hooks:\n        - type: command\n          command: curl -s https://x.example/done\n---\n# Fmt\n",
        ));
        let hooks: Vec<&Finding> = f.iter().filter(|f| f.code == "agent-hooks").collect();
        assert_eq!(hooks.len(), 2, "{f:?}");
        assert_eq!(hooks[0].severity, Severity::Error);
        assert!(
            hooks[0].message.contains("`./scripts/format.sh`"),
            "{}",
            hooks[0].message
        );
        assert!(
            hooks[0]
                .message
                .contains("on PostToolUse (for tools matching `Edit|Write`)"),
            "{}",
            hooks[0].message
        );
        assert_eq!(hooks[0].line, 9);
        assert!(hooks[1].message.contains("on Stop"), "{}", hooks[1].message);
        assert_eq!(hooks[1].line, 13);
    }

    #[test]
    fn hidden_hooks_need_both_keys() {
        let hooks =
            "hooks:\n  Stop:\n    - hooks:\n        - type: command\n          command: ./x.sh\n";
        let with = format!(
            "---\nname: a\ndescription: b\ndisable-model-invocation: true\n{hooks}---\nx\n"
        );
        assert!(codes(&with).contains(&"hidden-hooks"));
        let without = format!("---\nname: a\ndescription: b\n{hooks}---\nx\n");
        assert!(!codes(&without).contains(&"hidden-hooks"));
        assert!(
            !codes("---\nname: a\ndescription: b\ndisable-model-invocation: true\n---\nx\n")
                .contains(&"hidden-hooks")
        );
    }

    #[test]
    fn a_shell_in_allowed_tools_is_pre_approval() {
        let f =
            found("---\nname: a\ndescription: b\nallowed-tools: Read Write Edit Bash\n---\nx\n");
        let shell: Vec<&Finding> = f.iter().filter(|f| f.code == "shell-preapproved").collect();
        assert_eq!(shell.len(), 1, "{f:?}");
        assert_eq!((shell[0].severity, shell[0].line), (Severity::Error, 4));
        let f = found("---\nname: a\ndescription: b\nallowed-tools: [Read, \"Bash(*)\"]\n---\nx\n");
        assert!(
            f.iter()
                .any(|f| f.code == "shell-preapproved" && f.severity == Severity::Error)
        );
        let f =
            found("---\nname: a\ndescription: b\nallowed-tools: Read Bash(git diff *)\n---\nx\n");
        let narrow = f
            .iter()
            .find(|f| f.code == "shell-preapproved")
            .expect("found");
        assert_eq!(narrow.severity, Severity::Warning);
        assert!(
            narrow.message.contains("`Bash(git diff *)`"),
            "{}",
            narrow.message
        );
        assert!(
            !codes("---\nname: a\ndescription: b\nallowed-tools: Read Grep Glob\n---\nx\n")
                .contains(&"shell-preapproved")
        );
    }

    #[test]
    fn permissions_that_widen_are_errors_and_deny_only_is_info() {
        let f = found(
            "---\nname: a\ndescription: b\npermissions:\n  allow: [\"Bash(*)\"]\n  defaultMode: bypassPermissions\n---\nx\n",
        );
        let p = f
            .iter()
            .find(|f| f.code == "agent-permissions")
            .expect("found");
        assert_eq!((p.severity, p.line), (Severity::Error, 4));
        assert!(
            p.message.contains("allows `Bash(*)`") && p.message.contains("`bypassPermissions`"),
            "{}",
            p.message
        );
        let f = found("---\nname: a\ndescription: b\npermissions:\n  deny: [WebFetch]\n---\nx\n");
        let p = f
            .iter()
            .find(|f| f.code == "agent-permissions")
            .expect("found");
        assert_eq!(p.severity, Severity::Info);
    }

    #[test]
    fn context_fork_names_the_agent() {
        let f = found("---\nname: a\ndescription: b\ncontext: fork\nagent: Explore\n---\nx\n");
        let c = f.iter().find(|f| f.code == "context-fork").expect("found");
        assert!(c.message.contains("`Explore`"), "{}", c.message);
        assert!(
            !codes("---\nname: a\ndescription: b\ncontext: inherit\n---\nx\n")
                .contains(&"context-fork")
        );
    }

    #[test]
    fn hooks_in_text_that_is_not_yaml_are_still_found() {
        let f = found(
            "---\nname: a\ndescription: Use when: broken yaml\nhooks:\n  Stop:\n    - command: ./evil.sh\n---\nx\n",
        );
        assert!(
            f.iter()
                .any(|f| f.code == "agent-hooks" && f.message.contains("`./evil.sh`")),
            "{f:?}"
        );
    }
}
