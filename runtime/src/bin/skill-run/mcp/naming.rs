//! MCP tool names: `<skill>__<command>`, limited to `[A-Za-z0-9_-]` and 64
//! characters, and refused when two commands would share one.

use std::collections::BTreeMap;

/// The longest tool name MCP clients are required to accept.
pub const MAX_TOOL_NAME: usize = 64;

/// The tool a `wasi:cli/command` component becomes: `<skill>__main`.
pub const CLI_COMMAND: &str = "main";

/// `<skill>__<command>`, each character outside `[A-Za-z0-9_-]` replaced by
/// `_`. `Err` when the result is longer than [`MAX_TOOL_NAME`]: cutting it
/// would make names that no longer say which skill they run.
pub fn tool_name(skill: &str, command: &str) -> Result<String, String> {
    let clean = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let name = format!("{}__{}", clean(skill), clean(command));
    if name.len() > MAX_TOOL_NAME {
        return Err(format!(
            "the tool name `{name}` for skill `{skill}` command `{command}` is {} characters, more than MCP's {MAX_TOOL_NAME}; shorten the skill or command name",
            name.len()
        ));
    }
    Ok(name)
}

/// Which commands claim each tool name, to refuse collisions at start.
#[derive(Debug, Default, Clone)]
pub struct Names {
    claimed: BTreeMap<String, String>,
}

impl Names {
    /// Claims `name` for `owner` (e.g. "skill `a.b` command `c`"); `Err`
    /// names both claimants when it is already taken.
    pub fn claim(&mut self, name: &str, owner: &str) -> Result<(), String> {
        if let Some(first) = self.claimed.get(name) {
            return Err(format!(
                "two tools would be named `{name}`: {first} and {owner}; rename one of the skills or commands (characters outside [A-Za-z0-9_-] become `_`)"
            ));
        }
        self.claimed.insert(name.to_owned(), owner.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_join_skill_and_command_with_two_underscores() {
        assert_eq!(tool_name("notes", "add").as_deref(), Ok("notes__add"));
        assert_eq!(
            tool_name("moltbook", "import-file").as_deref(),
            Ok("moltbook__import-file")
        );
    }

    #[test]
    fn tool_names_replace_characters_outside_the_allowed_set() {
        assert_eq!(
            tool_name("my.skill", "example:notes/api#add").as_deref(),
            Ok("my_skill__example_notes_api_add")
        );
        assert_eq!(tool_name("é", "a b").as_deref(), Ok("___a_b"));
    }

    #[test]
    fn tool_names_longer_than_64_characters_are_refused() {
        let long = "a".repeat(60);
        assert!(tool_name(&long, "abc").is_err());
        assert_eq!(tool_name(&"a".repeat(59), "abc").map(|n| n.len()), Ok(64));
    }

    #[test]
    fn a_name_claimed_twice_is_refused_naming_both() {
        let mut names = Names::default();
        names
            .claim("a_b__c", "skill `a.b` command `c`")
            .expect("first");
        let error = names
            .claim("a_b__c", "skill `a_b` command `c`")
            .expect_err("second");
        assert!(
            error.contains("skill `a.b` command `c`") && error.contains("skill `a_b` command `c`"),
            "{error}"
        );
    }
}
