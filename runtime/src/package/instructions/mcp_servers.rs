//! MCP servers a SKILL.md's frontmatter declares: launch specs (command,
//! args, env) under `metadata` or at the top level (`mcpServers`), and
//! remote servers by URL. An agent that honours them starts the process on
//! the user's machine, or offers the server's tools to the model. Env
//! values are never shown: they may be secrets.

use serde_json::{Map, Value};

use super::agent_config::{MAX_DEPTH, MAX_LISTED, MAX_NODES, key_line, line_of};
use super::lint::clip;
use super::{Finding, Frontmatter, Severity};

/// One MCP server an agent would start or connect to.
struct McpServer {
    name: String,
    launch: Option<String>,
    url: Option<String>,
    env: Vec<String>,
}

pub(super) fn scan(yaml: &str, fm: &Frontmatter, findings: &mut Vec<Finding>) {
    let mut servers = Vec::new();
    let mut budget = MAX_NODES;
    let mut from = Vec::new();
    for key in ["mcpServers", "mcp-servers", "mcp_servers", "mcp"] {
        if let Some(v) = fm.keys.get(key) {
            collect_servers(v, key, true, 0, &mut budget, &mut servers);
            from.push(key);
        }
    }
    if let Some(metadata) = &fm.metadata {
        collect_servers(metadata, "metadata", false, 0, &mut budget, &mut servers);
        from.push("metadata");
    }
    let start = from.first().map_or(2, |k| key_line(yaml, k));
    for server in servers.iter().take(MAX_LISTED) {
        let env = if server.env.is_empty() {
            String::new()
        } else {
            format!(
                " with environment {}",
                server
                    .env
                    .iter()
                    .take(10)
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let (severity, what) = match (&server.launch, &server.url) {
            (Some(launch), _) => (
                Severity::Warning,
                format!(
                    "an agent that honours it would start `{launch}` on your machine{env}, with your rights, as MCP server `{}`",
                    server.name
                ),
            ),
            (None, Some(url)) => (
                Severity::Warning,
                format!(
                    "an agent that honours it would connect to the MCP server `{}` at `{url}` and offer its tools to the model",
                    server.name
                ),
            ),
            (None, None) => continue,
        };
        findings.push(Finding::new(
            "mcp-server",
            severity,
            line_of(yaml, start, &server.name),
            1,
            format!("the frontmatter declares an MCP server: {what}"),
        ));
    }
    if servers.len() > MAX_LISTED {
        findings.push(Finding::new(
            "mcp-server",
            Severity::Warning,
            start,
            1,
            format!(
                "{} more MCP servers are not listed",
                servers.len() - MAX_LISTED
            ),
        ));
    }
}

/// Finds launch specs: objects with a string `command` next to `args` or
/// `env` (or anything inside a map named like `mcpServers`), and `url`
/// entries inside such a map.
fn collect_servers(
    value: &Value,
    name: &str,
    in_servers: bool,
    depth: usize,
    budget: &mut usize,
    out: &mut Vec<McpServer>,
) {
    if depth > MAX_DEPTH || *budget == 0 {
        return;
    }
    *budget -= 1;
    match value {
        Value::Object(map) => {
            if let Some(server) = as_server(map, name, in_servers) {
                out.push(server);
                return;
            }
            for (key, inner) in map {
                // Entries of a map named like `mcpServers` are servers.
                let servers_map = in_servers
                    || matches!(
                        key.to_ascii_lowercase().replace(['-', '_'], "").as_str(),
                        "mcpservers" | "mcp" | "servers"
                    );
                collect_servers(inner, key, servers_map, depth + 1, budget, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_servers(item, name, in_servers, depth + 1, budget, out);
            }
        }
        _ => {}
    }
}

fn as_server(map: &Map<String, Value>, name: &str, in_servers: bool) -> Option<McpServer> {
    let command = map.get("command").and_then(Value::as_str);
    let args: Vec<String> = match map.get("args") {
        Some(Value::Array(items)) => items
            .iter()
            .take(40)
            .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    let env: Vec<String> = match map.get("env") {
        // Names only: values may be secrets.
        Some(Value::Object(vars)) => vars.keys().map(|k| clip(&super::one_line(k), 60)).collect(),
        _ => Vec::new(),
    };
    let url = map.get("url").and_then(Value::as_str);
    let launch_like =
        command.is_some() && (map.contains_key("args") || map.contains_key("env") || in_servers);
    if !(launch_like || in_servers && url.is_some()) {
        return None;
    }
    let name = map.get("name").and_then(Value::as_str).unwrap_or(name);
    Some(McpServer {
        name: clip(&super::one_line(name), 60),
        launch: command.map(|c| {
            clip(
                &super::one_line(
                    &std::iter::once(c.to_owned())
                        .chain(args)
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                160,
            )
        }),
        url: url.map(|u| clip(&super::one_line(u), 120)),
        env,
    })
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
    fn mcp_launch_specs_under_metadata_name_command_args_and_env_names() {
        let f = found(concat!(
            "---\nname: a\ndescription: b\nmetadata:\n  mcpServers:\n    notes:\n      command: npx\n",
            "      args: [\"-y\", \"notes-mcp@latest\"]\n      env:\n        NOTES_TOKEN: sk-live-123\n",
            "    remote:\n      type: http\n      url: https://mcp.example.com/sse\n---\nx\n",
        ));
        let m: Vec<&Finding> = f.iter().filter(|f| f.code == "mcp-server").collect();
        assert_eq!(m.len(), 2, "{f:?}");
        assert!(
            m[0].message.contains("`npx -y notes-mcp@latest`"),
            "{}",
            m[0].message
        );
        assert!(
            m[0].message.contains("`NOTES_TOKEN`") && !m[0].message.contains("sk-live"),
            "{}",
            m[0].message
        );
        assert_eq!(m[0].line, 6);
        assert!(
            m[1].message.contains("https://mcp.example.com/sse"),
            "{}",
            m[1].message
        );
        // OpenClaw install specs and plain metadata are not servers.
        assert!(!codes("---\nname: a\ndescription: b\nmetadata: {\"openclaw\": {\"requires\": {\"bins\": [\"op\"]}, \"install\": [{\"id\": \"brew\", \"kind\": \"brew\", \"formula\": \"op\"}]}}\n---\nx\n").contains(&"mcp-server"));
    }
}
