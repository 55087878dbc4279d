//! Tool annotations derived from the manifest's grants, never from what a
//! skill says about itself: a skill cannot talk its way into looking
//! harmless.

use rmcp::model::ToolAnnotations;
use skill_runtime::Grants;
use skill_runtime::capabilities::channels::Direction;
use skill_runtime::capabilities::files::Access;
use skill_runtime::capabilities::network::Methods;

/// Whether any folder grant lets the skill change files.
fn writes_files(grants: &Grants) -> bool {
    grants.files.iter().any(|f| f.access == Access::ReadWrite)
}

/// Whether the skill can hand messages to the host.
fn sends(grants: &Grants) -> bool {
    grants
        .channels
        .iter()
        .any(|c| matches!(c.direction, Direction::Send | Direction::Both))
}

/// Whether a network grant allows methods beyond GET and HEAD: a plain URL
/// grant allows every method; a `{ url, methods }` grant only those listed.
fn network_may_write(grants: &Grants) -> bool {
    grants.network.iter().any(|n| match &n.methods {
        Methods::Any => true,
        Methods::Only(set) => set.iter().any(|m| m != "GET" && m != "HEAD"),
    })
}

/// `readOnlyHint` only with no read-write folder, no send channel and no
/// network grant that allows more than GET/HEAD; `destructiveHint` with a
/// read-write folder; `openWorldHint` with any network grant. Each hint is
/// always stated, so a client never falls back to its own defaults
/// (which assume the worst for `destructiveHint` but not for the others).
pub fn annotations(grants: &Grants) -> ToolAnnotations {
    let read_only = !writes_files(grants) && !sends(grants) && !network_may_write(grants);
    ToolAnnotations::new()
        .read_only(read_only)
        .destructive(writes_files(grants))
        .open_world(!grants.network.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(toml: &str) -> Grants {
        toml::from_str(toml).expect("grants")
    }

    #[test]
    fn no_grants_is_read_only_closed_world_and_not_destructive() {
        let a = annotations(&Grants::default());
        assert_eq!(
            (a.read_only_hint, a.destructive_hint, a.open_world_hint),
            (Some(true), Some(false), Some(false))
        );
    }

    #[test]
    fn read_write_folders_are_destructive_and_not_read_only() {
        let a = annotations(&grants(
            r#"files = [{ guest = "/notes", host = "{workspace}/notes", access = "read-write" }]"#,
        ));
        assert_eq!(
            (a.read_only_hint, a.destructive_hint),
            (Some(false), Some(true))
        );
    }

    #[test]
    fn read_only_folders_stay_read_only() {
        let a = annotations(&grants(
            r#"files = [{ guest = "/notes", host = "{workspace}/notes", access = "read" }]"#,
        ));
        assert_eq!(
            (a.read_only_hint, a.destructive_hint),
            (Some(true), Some(false))
        );
    }

    #[test]
    fn a_send_channel_is_not_read_only_but_a_receive_channel_is() {
        let send = annotations(&grants(
            r#"channels = [{ name = "feed", direction = "send" }]"#,
        ));
        assert_eq!(send.read_only_hint, Some(false));
        let receive = annotations(&grants(
            r#"channels = [{ name = "feed", direction = "receive" }]"#,
        ));
        assert_eq!(receive.read_only_hint, Some(true));
    }

    #[test]
    fn any_network_grant_is_open_world_and_not_read_only() {
        let a = annotations(&grants(r#"network = ["https://www.moltbook.com/api/v1/"]"#));
        assert_eq!(
            (a.read_only_hint, a.destructive_hint, a.open_world_hint),
            (Some(false), Some(false), Some(true))
        );
    }

    #[test]
    fn a_get_only_network_grant_is_read_only_but_open_world() {
        let a = annotations(&grants(
            r#"network = [{ url = "https://api.example.com/v1/", methods = ["GET", "HEAD"] }]"#,
        ));
        assert_eq!(
            (a.read_only_hint, a.open_world_hint),
            (Some(true), Some(true))
        );
        let post = annotations(&grants(
            r#"network = [{ url = "https://api.example.com/v1/", methods = ["GET", "POST"] }]"#,
        ));
        assert_eq!(post.read_only_hint, Some(false));
    }
}
