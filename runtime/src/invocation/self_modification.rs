//! A skill must never be able to change its own package: with a read-write
//! grant on a folder that contains it, a run could rewrite `skill.toml` and
//! grant itself more for the next run (or swap its component). Every
//! invocation (the CLI's `run` and `bench`, the MCP server, heartbeats, any
//! embedder) is refused before it starts when a writable grant, resolved
//! against this call's workspace and state folder, contains the package.

use std::path::Path;

use crate::capabilities::Grants;
use crate::capabilities::files::{Access, HostBase};
use crate::error::InvokeError;

/// Refuses a call whose read-write grants could reach the package at
/// `package`. Folders that do not exist (yet) cannot contain it.
pub(crate) fn check(
    skill: &str,
    package: &Path,
    grants: &Grants,
    workspace: Option<&Path>,
    state_dir: Option<&Path>,
) -> Result<(), InvokeError> {
    let Ok(package) = package.canonicalize() else {
        return Ok(());
    };
    for grant in grants
        .files
        .iter()
        .filter(|g| g.access == Access::ReadWrite)
    {
        let base = match grant.host.base {
            HostBase::Workspace => workspace,
            HostBase::State => state_dir,
        };
        let Some(base) = base else { continue };
        let mut folder = base.to_path_buf();
        folder.extend(&grant.host.relative);
        if let Ok(folder) = folder.canonicalize()
            && package.starts_with(&folder)
        {
            return Err(InvokeError::SelfModification {
                skill: skill.to_owned(),
                guest: grant.guest.to_string(),
                folder: folder.display().to_string(),
            });
        }
    }
    Ok(())
}
