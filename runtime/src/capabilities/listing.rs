//! Directory listings, streamed. wasmtime-wasi's `read-directory` reads a
//! whole folder into host memory before the guest sees its first entry (a
//! folder of 1,000,000 entries cost the host ~74 MiB outside
//! `limits.memory`) and fails the whole listing on one name that is not
//! UTF-8. The runtime shadows `read-directory` and `read-directory-entry`:
//! each listing reads the folder a buffer at a time as the guest asks for
//! entries, and names that are not UTF-8 are skipped and counted in the
//! audit log, so such a name can neither hide a folder nor fail a listing.
//!
//! The stream resource handed to the guest is wasmtime-wasi's own type (the
//! linker defines it), made by listing an empty folder of the runtime's; the
//! entries come from this module's [`Listing`] kept beside it, by resource.

use std::collections::HashMap;
use std::path::Path;

use wasmtime::StoreContextMut;
use wasmtime::component::{LinkerInstance, Resource};
use wasmtime_wasi::filesystem::Dir;
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::ReaddirIterator;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    Descriptor, HostDescriptor, HostDirectoryEntryStream,
};
use wasmtime_wasi::p2::bindings::filesystem::types::{DescriptorType, DirectoryEntry, ErrorCode};
use wasmtime_wasi::{FsPerms, OpenMode};

use super::file_audit::convert;
use super::state::StateStore;
use crate::audit::{AuditKind, Decision};
use crate::invocation::state::InvocationState;

/// Past this many listings the ones whose stream the guest dropped are pruned.
const PRUNE_ABOVE: usize = 16;

/// One folder being listed.
pub(crate) struct Listing {
    entries: cap_std::fs::ReadDir,
    /// The folder's guest path, for the audit log.
    pub(crate) target: String,
    /// Names skipped because they are not UTF-8.
    pub(crate) skipped: u64,
}

impl Listing {
    /// Starts listing the open folder `dir` (an independent read position).
    pub(crate) fn open(dir: &std::fs::File, target: String) -> std::io::Result<Self> {
        let dir = cap_std::fs::Dir::from_std_file(dir.try_clone()?);
        Ok(Listing {
            entries: dir.entries()?,
            target,
            skipped: 0,
        })
    }

    /// The next entry, reading more of the folder only when needed.
    pub(crate) fn next_entry(&mut self) -> Result<Option<DirectoryEntry>, ErrorCode> {
        loop {
            let Some(entry) = self.entries.next() else {
                return Ok(None);
            };
            let entry = entry.map_err(ErrorCode::from)?;
            let Ok(name) = entry.file_name().into_string() else {
                self.skipped += 1;
                continue;
            };
            if name == "." || name == ".." {
                continue;
            }
            let type_ = entry
                .file_type()
                .map(descriptor_type)
                .unwrap_or(DescriptorType::Unknown);
            return Ok(Some(DirectoryEntry { type_, name }));
        }
    }
}

fn descriptor_type(kind: cap_std::fs::FileType) -> DescriptorType {
    #[cfg(unix)]
    {
        use cap_std::fs::FileTypeExt;
        if kind.is_block_device() {
            return DescriptorType::BlockDevice;
        }
        if kind.is_char_device() {
            return DescriptorType::CharacterDevice;
        }
        if kind.is_fifo() {
            return DescriptorType::Fifo;
        }
        if kind.is_socket() {
            return DescriptorType::Socket;
        }
    }
    if kind.is_dir() {
        DescriptorType::Directory
    } else if kind.is_symlink() {
        DescriptorType::SymbolicLink
    } else if kind.is_file() {
        DescriptorType::RegularFile
    } else {
        DescriptorType::Unknown
    }
}

/// An invocation's open listings, by the rep of their stream resource.
pub(crate) struct Listings {
    open: HashMap<u32, Listing>,
    /// Where the empty folder listed to make each stream resource comes from
    /// (made on the first listing, then kept by the skill).
    store: StateStore,
    blocking: bool,
}

impl Listings {
    /// Listings whose stream resources are made by listing `store`'s empty folder.
    pub(crate) fn new(store: StateStore, blocking: bool) -> Self {
        Listings {
            open: HashMap::new(),
            store,
            blocking,
        }
    }

    /// Whether file I/O may block the executor thread
    /// (`RuntimeConfig::blocking_file_io`).
    pub(crate) fn blocking(&self) -> bool {
        self.blocking
    }

    /// The empty folder, as a descriptor to list.
    pub(crate) fn empty_dir(&self) -> Option<Dir> {
        self.store.empty_dir(self.blocking)
    }

    /// Keeps `listing` for the stream `stream`; forgets listings whose
    /// streams are gone when there are many.
    pub(crate) fn insert(
        &mut self,
        stream: &Resource<ReaddirIterator>,
        listing: Listing,
        table: &wasmtime::component::ResourceTable,
    ) {
        if self.open.len() >= PRUNE_ABOVE {
            self.open.retain(|rep, _| {
                table
                    .get(&Resource::<ReaddirIterator>::new_borrow(*rep))
                    .is_ok()
            });
        }
        self.open.insert(stream.rep(), listing);
    }

    /// How many listings are open: each holds a host handle, so they count
    /// against the invocation's descriptor budget like open files.
    pub(crate) fn live(&mut self, table: &wasmtime::component::ResourceTable) -> usize {
        self.open.retain(|rep, _| {
            table
                .get(&Resource::<ReaddirIterator>::new_borrow(*rep))
                .is_ok()
        });
        self.open.len()
    }

    /// The listing behind `stream`, if this module made it.
    pub(crate) fn get(&mut self, stream: &Resource<ReaddirIterator>) -> Option<&mut Listing> {
        self.open.get_mut(&stream.rep())
    }

    /// Forgets the listing behind `stream` (it has ended).
    pub(crate) fn remove(&mut self, stream: &Resource<ReaddirIterator>) -> Option<Listing> {
        self.open.remove(&stream.rep())
    }
}

/// Shadows `read-directory` and `read-directory-entry` with the streamed
/// listings above.
pub(crate) fn add_to_linker(
    types: &mut LinkerInstance<'_, InvocationState>,
) -> wasmtime::Result<()> {
    types.func_wrap_async(
        "[method]descriptor.read-directory",
        |mut store: StoreContextMut<'_, InvocationState>, (fd,): (Resource<Descriptor>,)| {
            Box::new(async move {
                let state = store.data_mut();
                let dir = match state.table.get(&fd) {
                    Ok(Descriptor::Dir(d)) => Some(d.dir.clone()),
                    _ => None,
                };
                let (Some(dir), Some(empty)) = (dir, state.listings.empty_dir()) else {
                    // Not a folder: wasmtime-wasi's own answer (an error).
                    let result = HostDescriptor::read_directory(&mut state.filesystem(), fd).await;
                    return Ok((convert(state, result)?,));
                };
                let target = state.fs_paths.label(fd.rep());
                if let Err(code) = super::file_audit::within_budget(state, "list", &target) {
                    return Ok((Err(code),));
                }
                let listing = match Listing::open(&dir, target) {
                    Ok(listing) => listing,
                    Err(e) => return Ok((Err(ErrorCode::from(e)),)),
                };
                let holder = state.table.push(Descriptor::Dir(empty))?;
                let stream = HostDescriptor::read_directory(
                    &mut state.filesystem(),
                    Resource::new_borrow(holder.rep()),
                )
                .await;
                state.table.delete(holder)?;
                let stream = match convert(state, stream)? {
                    Ok(stream) => stream,
                    Err(code) => return Ok((Err(code),)),
                };
                state.listings.insert(&stream, listing, &state.table);
                Ok((Ok(stream),))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]directory-entry-stream.read-directory-entry",
        |mut store: StoreContextMut<'_, InvocationState>,
         (stream,): (Resource<ReaddirIterator>,)| {
            Box::new(async move {
                let state = store.data_mut();
                let Some(listing) = state.listings.get(&stream) else {
                    let result = HostDirectoryEntryStream::read_directory_entry(
                        &mut state.filesystem(),
                        stream,
                    )
                    .await;
                    return Ok((convert(state, result)?,));
                };
                let next = listing.next_entry();
                if !matches!(next, Ok(Some(_)))
                    && let Some(done) = state.listings.remove(&stream)
                    && done.skipped > 0
                {
                    state.audit.record(
                        AuditKind::File,
                        &done.target,
                        Decision::Allow,
                        &format!(
                            "list: skipped {} names that are not UTF-8 (WASI names are strings)",
                            done.skipped
                        ),
                        None,
                    );
                }
                Ok((next,))
            })
        },
    )?;
    Ok(())
}

/// Opens (creating if needed) the runtime's empty folder `path`, used only
/// to make stream resources; no grant ever names it.
pub(crate) fn open_empty(path: &Path, blocking: bool) -> std::io::Result<Dir> {
    super::state::create_private_dir(path)?;
    let dir = std::fs::File::open(path)?;
    Ok(Dir::new(dir, FsPerms::ReadOnly, OpenMode::READ, blocking))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn names_that_are_not_utf8_are_skipped_and_counted() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("good"), "").expect("write");
        std::fs::write(
            dir.path()
                .join(std::ffi::OsStr::from_bytes(b"bad-\xff-name")),
            "",
        )
        .expect("write");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        let mut listing =
            Listing::open(&std::fs::File::open(dir.path()).expect("open"), "/d".into())
                .expect("listing");
        let mut seen = Vec::new();
        while let Some(entry) = listing.next_entry().expect("entry") {
            seen.push((entry.name, entry.type_ == DescriptorType::Directory));
        }
        seen.sort();
        assert_eq!(
            seen,
            vec![("good".to_owned(), false), ("sub".to_owned(), true)]
        );
        assert_eq!(listing.skipped, 1);
    }
}
