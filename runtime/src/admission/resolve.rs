//! Following a package's symbolic links as the digest recorded them, not as
//! the disk holds them now: admission uses this to show that a name it read
//! through links still names, in the listing it verified, the file it read.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// More links than this on one path is a loop.
const MAX_HOPS: usize = 40;

/// The `/`-separated path `named` (relative to the package) leads to when
/// every link on the way is followed through `links` (link path -> target
/// text). `None` when it leaves the package, loops, or meets an absolute
/// target outside `canonical_root`.
pub(super) fn through_links(
    named: &Path,
    links: &BTreeMap<String, PathBuf>,
    canonical_root: &Path,
) -> Option<String> {
    let mut pending: Vec<String> = Vec::new();
    push_front(&mut pending, named)?;
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            done.pop()?;
            continue;
        }
        done.push(part);
        let Some(target) = links.get(&done.join("/")) else {
            continue;
        };
        hops += 1;
        if hops > MAX_HOPS {
            return None;
        }
        done.pop();
        let target = if target.is_absolute() {
            done.clear();
            target.strip_prefix(canonical_root).ok()?
        } else {
            target.as_path()
        };
        push_front(&mut pending, target)?;
    }
    Some(done.join("/"))
}

/// Puts the components of the relative `path` before those in `pending`
/// (a stack: its last element is next).
fn push_front(pending: &mut Vec<String>, path: &Path) -> Option<()> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
            Component::ParentDir => parts.push("..".into()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    pending.extend(parts.into_iter().rev());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(pairs: &[(&str, &str)]) -> BTreeMap<String, PathBuf> {
        pairs
            .iter()
            .map(|(from, to)| (from.to_string(), PathBuf::from(to)))
            .collect()
    }

    const ROOT: &str = "/pkg";

    fn resolve(named: &str, pairs: &[(&str, &str)]) -> Option<String> {
        through_links(Path::new(named), &links(pairs), Path::new(ROOT))
    }

    #[test]
    fn resolve_plain_path_is_itself() {
        assert_eq!(resolve("./a/b.wasm", &[]).as_deref(), Some("a/b.wasm"));
    }

    #[test]
    fn resolve_follows_file_and_folder_links() {
        let pairs = [("skill.wasm", "build/out.wasm"), ("build", "target/wasm")];
        assert_eq!(
            resolve("skill.wasm", &pairs).as_deref(),
            Some("target/wasm/out.wasm")
        );
        assert_eq!(resolve("build/x", &pairs).as_deref(), Some("target/wasm/x"));
    }

    #[test]
    fn resolve_relative_to_the_link_folder_and_absolute_inside_root() {
        let pairs = [("a/b", "../c"), ("d", "/pkg/e/f")];
        assert_eq!(resolve("a/b", &pairs).as_deref(), Some("c"));
        assert_eq!(resolve("d", &pairs).as_deref(), Some("e/f"));
    }

    #[test]
    fn resolve_refuses_escapes_loops_and_outside_absolutes() {
        assert_eq!(resolve("a", &[("a", "../../etc/passwd")]), None);
        assert_eq!(resolve("a", &[("a", "b"), ("b", "a")]), None);
        assert_eq!(resolve("a", &[("a", "/etc/passwd")]), None);
        assert_eq!(resolve("/etc/passwd", &[]), None);
    }
}
