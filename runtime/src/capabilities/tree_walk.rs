//! Walks of a `{state}` tree (and of a script package, copied at load):
//! iterative, with every folder opened relative
//! to its parent's open handle, so no path grows with the depth (a chain of
//! long names cannot make a walk fail "file name too long"), and refused
//! past [`MAX_DEPTH`] levels, so a walk holds a fixed number of host handles
//! whatever the tree looks like.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io;
use std::path::Path;

use cap_std::fs::Dir;

/// How many folders deep a skill's `{state}` may nest.
pub(crate) const MAX_DEPTH: usize = 32;

/// What a tree holds, as `limits.state-size` and `limits.state-files` count it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TreeUsage {
    /// The sizes of its files plus the lengths of its symlinks' targets.
    pub bytes: u64,
    /// Its files, folders and symlinks (the root not included).
    pub entries: u64,
}

/// Why a walk stopped.
#[derive(Debug)]
pub(crate) enum WalkError {
    /// A folder is nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// The tree holds more entries than the walk was allowed to visit.
    TooMany(u64),
    /// The file system failed.
    Io(io::Error),
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalkError::TooDeep => write!(
                f,
                "its folders nest deeper than {MAX_DEPTH} levels (a fixed cap of the runtime)"
            ),
            WalkError::TooMany(max) => {
                write!(f, "it holds more than {max} files, folders and links")
            }
            WalkError::Io(e) => e.fmt(f),
        }
    }
}

impl From<io::Error> for WalkError {
    fn from(e: io::Error) -> Self {
        WalkError::Io(e)
    }
}

impl From<WalkError> for io::Error {
    fn from(e: WalkError) -> Self {
        match e {
            WalkError::Io(e) => e,
            other => io::Error::other(other.to_string()),
        }
    }
}

/// What to do with each entry met, in the order a depth-first walk meets them.
trait Visitor {
    /// Going down into the subfolder `name` of the folder last entered.
    fn enter(&mut self, name: &OsStr) -> io::Result<()>;
    /// Coming back up from the folder last entered.
    fn leave(&mut self);
    /// The file `name` of `dir`.
    fn file(&mut self, dir: &Dir, name: &OsStr) -> io::Result<()>;
    /// The symlink `name` of `dir`, pointing at `target`.
    fn symlink(&mut self, name: &OsStr, target: &Path) -> io::Result<()>;
    /// Whether the entry `name` is left out, with everything under it.
    fn skips(&self, _name: &OsStr) -> bool {
        false
    }
}

/// Only counts.
struct Count;

impl Visitor for Count {
    fn enter(&mut self, _: &OsStr) -> io::Result<()> {
        Ok(())
    }
    fn leave(&mut self) {}
    fn file(&mut self, _: &Dir, _: &OsStr) -> io::Result<()> {
        Ok(())
    }
    fn symlink(&mut self, _: &OsStr, _: &Path) -> io::Result<()> {
        Ok(())
    }
}

fn walk(root: Dir, max_entries: u64, visitor: &mut impl Visitor) -> Result<TreeUsage, WalkError> {
    let mut usage = TreeUsage::default();
    let entries = root.entries()?;
    let mut stack = vec![(root, entries)];
    loop {
        let Some((dir, entries)) = stack.last_mut() else {
            return Ok(usage);
        };
        let Some(entry) = entries.next() else {
            stack.pop();
            if !stack.is_empty() {
                visitor.leave();
            }
            continue;
        };
        let entry = entry?;
        if visitor.skips(&entry.file_name()) {
            continue;
        }
        usage.entries += 1;
        if usage.entries > max_entries {
            return Err(WalkError::TooMany(max_entries));
        }
        let kind = entry.file_type()?;
        let name = entry.file_name();
        if kind.is_dir() {
            // The new folder's depth below the root.
            if stack.len() > MAX_DEPTH {
                return Err(WalkError::TooDeep);
            }
            let sub = entry.open_dir()?;
            visitor.enter(&name)?;
            let sub_entries = sub.entries()?;
            stack.push((sub, sub_entries));
        } else if kind.is_symlink() {
            let target = dir.read_link_contents(&name)?;
            usage.bytes = usage.bytes.saturating_add(target.as_os_str().len() as u64);
            visitor.symlink(&name, &target)?;
        } else {
            usage.bytes = usage.bytes.saturating_add(entry.metadata()?.len());
            visitor.file(dir, &name)?;
        }
    }
}

fn open(path: &Path) -> io::Result<Dir> {
    Ok(Dir::from_std_file(File::open(path)?))
}

/// What the tree at `dir` holds, visiting at most `max_entries` entries.
pub(crate) fn measure(dir: &Path, max_entries: u64) -> Result<TreeUsage, WalkError> {
    walk(open(dir)?, max_entries, &mut Count)
}

/// Copies a tree into the empty folder `to`: new folders, files as hard
/// links to the originals (copies where the file system cannot link),
/// symlinks as links, not followed.
struct LinkInto {
    to: Vec<Dir>,
}

impl LinkInto {
    fn here(&self) -> &Dir {
        // The root is never popped: `leave` follows an `enter`.
        &self.to[self.to.len() - 1]
    }
}

impl Visitor for LinkInto {
    fn enter(&mut self, name: &OsStr) -> io::Result<()> {
        self.here().create_dir(name)?;
        let sub = self.here().open_dir(name)?;
        self.to.push(sub);
        Ok(())
    }
    fn leave(&mut self) {
        self.to.pop();
    }
    fn file(&mut self, dir: &Dir, name: &OsStr) -> io::Result<()> {
        if dir.hard_link(name, self.here(), name).is_err() {
            dir.copy(name, self.here(), name)?;
        }
        Ok(())
    }
    fn symlink(&mut self, name: &OsStr, target: &Path) -> io::Result<()> {
        #[cfg(unix)]
        self.here().symlink_contents(target, name)?;
        #[cfg(not(unix))]
        let _ = (name, target);
        Ok(())
    }
}

/// Makes the empty folder `to` a copy of the tree `from` whose files are
/// hard links to the originals; stops at `max_entries` entries or past
/// [`MAX_DEPTH`]. Returns what `from` holds.
pub(crate) fn link_tree(from: &Path, to: &Path, max_entries: u64) -> Result<TreeUsage, WalkError> {
    let mut into = LinkInto {
        to: vec![open(to)?],
    };
    walk(open(from)?, max_entries, &mut into)
}

/// Copies a tree into the empty folder `to`: new folders, files copied
/// byte for byte (never linked: the copy must not change when the original
/// does), symlinks as links, not followed. Entries named in `skip` are left
/// out wherever they are met, and count for nothing.
struct CopyInto<'a> {
    to: Vec<Dir>,
    skip: &'a [&'a str],
    max_bytes: u64,
    copied: u64,
}

impl CopyInto<'_> {
    fn here(&self) -> &Dir {
        // The root is never popped: `leave` follows an `enter`.
        &self.to[self.to.len() - 1]
    }
}

impl Visitor for CopyInto<'_> {
    fn enter(&mut self, name: &OsStr) -> io::Result<()> {
        self.here().create_dir(name)?;
        let sub = self.here().open_dir(name)?;
        self.to.push(sub);
        Ok(())
    }
    fn leave(&mut self) {
        self.to.pop();
    }
    fn file(&mut self, dir: &Dir, name: &OsStr) -> io::Result<()> {
        use std::io::Read;
        // Copied through a reader that stops one byte past the budget, so a
        // file that grows while it is copied cannot cost more than the cap.
        let left = self.max_bytes.saturating_sub(self.copied);
        let mut from = open_regular(dir, name)?
            .into_std()
            .take(left.saturating_add(1));
        let mut to = self.here().create(name)?.into_std();
        let n = io::copy(&mut from, &mut to)?;
        self.copied = self.copied.saturating_add(n);
        if self.copied > self.max_bytes {
            return Err(io::Error::other(format!(
                "its files hold more than {} bytes",
                self.max_bytes
            )));
        }
        Ok(())
    }
    fn symlink(&mut self, name: &OsStr, target: &Path) -> io::Result<()> {
        #[cfg(unix)]
        self.here().symlink_contents(target, name)?;
        #[cfg(not(unix))]
        let _ = (name, target);
        Ok(())
    }
    fn skips(&self, name: &OsStr) -> bool {
        self.skip.iter().any(|s| OsStr::new(s) == name)
    }
}

/// Opens `name` in `dir` for reading if it is a regular file; anything else
/// (a FIFO, a socket, a device) is refused. The open does not block (a FIFO
/// with no writer would hold it forever) and the type is checked again on
/// the handle, so an entry swapped after the first check is refused too.
fn open_regular(dir: &Dir, name: &OsStr) -> io::Result<cap_std::fs::File> {
    let not_regular = || {
        io::Error::other(format!(
            "{} is neither a file, a folder nor a link (a FIFO, socket or device?)",
            Path::new(name).display()
        ))
    };
    if !dir.symlink_metadata(name)?.is_file() {
        return Err(not_regular());
    }
    let mut options = cap_std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use cap_std::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = dir.open_with(name, &options)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// Makes the empty folder `to` an independent copy of the tree `from`,
/// leaving out entries named in `skip`; stops past `max_entries` entries,
/// `max_bytes` bytes of files or [`MAX_DEPTH`] levels.
pub(crate) fn copy_tree(
    from: &Path,
    to: &Path,
    skip: &[&str],
    max_entries: u64,
    max_bytes: u64,
) -> Result<TreeUsage, WalkError> {
    let mut into = CopyInto {
        to: vec![open(to)?],
        skip,
        max_bytes,
        copied: 0,
    };
    walk(open(from)?, max_entries, &mut into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// Builds `depth` nested folders of 255-character names, one level at a
    /// time through handles, as a guest can.
    fn deep(root: &Path, depth: usize) {
        let mut dir = open(root).expect("root");
        let name = "n".repeat(255);
        for _ in 0..depth {
            dir.create_dir(&name).expect("mkdir");
            dir = dir.open_dir(&name).expect("open");
        }
        dir.write("leaf", "x").expect("leaf");
    }

    #[test]
    fn long_nested_names_are_walked_by_handle_not_by_path() {
        let from = tempfile::tempdir().expect("from");
        let to = tempfile::tempdir().expect("to");
        // 17 levels of 255 characters: the absolute path passes PATH_MAX.
        deep(from.path(), 17);
        fs::write(from.path().join("top"), "abc").expect("top");
        #[cfg(unix)]
        std::os::unix::fs::symlink("top", from.path().join("link")).expect("link");
        let usage = link_tree(from.path(), to.path(), 1_000).expect("linked");
        assert_eq!(usage.entries, 17 + 1 + 2);
        assert_eq!(usage.bytes, 1 + 3 + 3);
        assert_eq!(measure(to.path(), 1_000).expect("measure"), usage);
        assert_eq!(
            fs::read_link(to.path().join("link"))
                .expect("link")
                .to_str(),
            Some("top")
        );
    }

    #[test]
    fn a_copy_is_independent_of_its_original_and_bounded() {
        let from = tempfile::tempdir().expect("from");
        fs::create_dir_all(from.path().join("scripts")).expect("mkdir");
        fs::write(from.path().join("scripts/a.py"), "print(1)").expect("a");
        fs::create_dir_all(from.path().join(".git/objects")).expect("git");
        fs::write(from.path().join(".git/objects/x"), "big").expect("x");
        #[cfg(unix)]
        std::os::unix::fs::symlink("scripts/a.py", from.path().join("link")).expect("link");
        let to = tempfile::tempdir().expect("to");
        let usage = copy_tree(from.path(), to.path(), &[".git"], 100, 1_000).expect("copied");
        // scripts, scripts/a.py, link; .git left out.
        assert_eq!(usage.entries, 3);
        assert!(!to.path().join(".git").exists());
        // Writing the original in place does not reach the copy (no shared inode).
        fs::write(from.path().join("scripts/a.py"), "print(2)").expect("rewrite");
        assert_eq!(
            fs::read_to_string(to.path().join("scripts/a.py")).expect("read"),
            "print(1)"
        );
        // Over the byte budget: refused.
        let small = tempfile::tempdir().expect("small");
        let err = copy_tree(from.path(), small.path(), &[".git"], 100, 4).expect_err("too big");
        assert!(err.to_string().contains("more than 4 bytes"), "{err}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_fifo_in_a_package_is_refused_without_blocking() {
        let from = tempfile::tempdir().expect("from");
        fs::write(from.path().join("a.py"), "print(1)").expect("a");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            from.path().join("pipe"),
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .expect("mkfifo");
        let to = tempfile::tempdir().expect("to");
        // A blocking open of a FIFO with no writer would never return.
        let err = copy_tree(from.path(), to.path(), &[], 100, 1_000).expect_err("refused");
        assert!(err.to_string().contains("neither a file"), "{err}");
    }

    #[test]
    fn trees_deeper_than_the_cap_or_with_too_many_entries_are_refused() {
        let at_cap = tempfile::tempdir().expect("dir");
        deep(at_cap.path(), MAX_DEPTH);
        assert!(measure(at_cap.path(), 1_000).is_ok());
        let past = tempfile::tempdir().expect("dir");
        deep(past.path(), MAX_DEPTH + 1);
        assert!(matches!(
            measure(past.path(), 1_000),
            Err(WalkError::TooDeep)
        ));
        assert!(matches!(
            measure(at_cap.path(), 10),
            Err(WalkError::TooMany(10))
        ));
    }
}
