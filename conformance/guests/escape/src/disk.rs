//! Attempts on the host's disk and on `{state}`, made through the raw
//! `wasi:filesystem` API so that each route a write can take (descriptor
//! `write`, `write-via-stream`, `append-via-stream`, `set-size`, times, links,
//! renames) is tried on its own.

use serde_json::{Value, json};
use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{Descriptor, DescriptorFlags, NewTimestamp, OpenFlags, PathFlags};

fn text<'a>(input: &'a Value, key: &str) -> &'a str {
    input[key].as_str().unwrap_or_default()
}

fn number(input: &Value, key: &str) -> u64 {
    input[key].as_u64().unwrap_or(0)
}

/// The preopened folder the guest sees as `guest`.
fn preopen(guest: &str) -> Result<Descriptor, String> {
    get_directories()
        .into_iter()
        .find(|(_, path)| path == guest)
        .map(|(d, _)| d)
        .ok_or_else(|| format!("no preopen {guest}"))
}

fn open(dir: &Descriptor, path: &str, create: bool, write: bool) -> Result<Descriptor, String> {
    let oflags = if create {
        OpenFlags::CREATE
    } else {
        OpenFlags::empty()
    };
    let flags = if write {
        DescriptorFlags::READ | DescriptorFlags::WRITE
    } else {
        DescriptorFlags::READ
    };
    dir.open_at(PathFlags::SYMLINK_FOLLOW, path, oflags, flags)
        .map_err(|e| format!("open {path}: {e:?}"))
}

/// Writes `count` chunks of `chunk` bytes to `file` in `dir` by `route`.
fn write(input: &Value) -> Result<u64, (String, u64)> {
    let fail = |e: String| (e, 0);
    let dir = preopen(text(input, "dir")).map_err(fail)?;
    let file = open(&dir, text(input, "file"), true, true).map_err(fail)?;
    let chunk = vec![b'x'; number(input, "chunk").clamp(1, 4096) as usize];
    let mut written = 0u64;
    let start = number(input, "offset");
    match text(input, "route") {
        "write" => {
            for _ in 0..number(input, "count") {
                match file.write(&chunk, start + written) {
                    Ok(n) => written += n,
                    Err(e) => return Err((format!("write: {e:?}"), written)),
                }
            }
        }
        // One chunk every `stride` bytes: a sparse file, mostly holes.
        "sparse" => {
            for n in 0..number(input, "count") {
                match file.write(&chunk, start + n * number(input, "stride")) {
                    Ok(k) => written += k,
                    Err(e) => return Err((format!("write: {e:?}"), written)),
                }
            }
        }
        route @ ("stream" | "append") => {
            let stream = if route == "stream" {
                file.write_via_stream(start)
            } else {
                file.append_via_stream()
            }
            .map_err(|e| (format!("{route}: {e:?}"), 0))?;
            for _ in 0..number(input, "count") {
                match stream.blocking_write_and_flush(&chunk) {
                    Ok(()) => written += chunk.len() as u64,
                    Err(e) => return Err((format!("{route}: {e:?}"), written)),
                }
            }
        }
        "set-size" => {
            let size = number(input, "size");
            file.set_size(size)
                .map_err(|e| (format!("set-size: {e:?}"), 0))?;
            written = size;
        }
        other => return Err((format!("unknown route {other}"), 0)),
    }
    Ok(written)
}

/// Creates `count` entries named `<prefix><n>` of `kind` in `dir`.
fn create(input: &Value) -> Result<u64, (String, u64)> {
    let dir = preopen(text(input, "dir")).map_err(|e| (e, 0))?;
    let prefix = text(input, "prefix");
    let mut made = 0;
    for n in 0..number(input, "count") {
        let name = format!("{prefix}{n}");
        let result = match text(input, "kind") {
            "dir" => dir.create_directory_at(&name).map_err(|e| format!("{e:?}")),
            "symlink" => dir
                .symlink_at("target", &name)
                .map_err(|e| format!("{e:?}")),
            _ => open(&dir, &name, true, true).map(drop),
        };
        match result {
            Ok(()) => made += 1,
            Err(e) => return Err((e, made)),
        }
    }
    Ok(made)
}

fn outcome(result: Result<u64, (String, u64)>) -> Value {
    match result {
        Ok(n) => json!({"ok": n}),
        Err((e, n)) => json!({"err": e, "done": n}),
    }
}

fn unit(result: Result<(), String>) -> Value {
    match result {
        Ok(()) => json!({"ok": true}),
        Err(e) => json!({"err": e}),
    }
}

/// Runs the disk attempt `name`, or `None` if there is no such attempt.
pub fn attempt(name: &str, input: &Value) -> Option<Value> {
    let value = match name {
        "disk-write" => outcome(write(input)),
        "disk-create" => outcome(create(input)),
        // Sets a file's times through a descriptor opened only for reading.
        "touch-read-only" => unit(preopen(text(input, "dir")).and_then(|dir| {
            let file = open(&dir, text(input, "file"), false, false)?;
            file.set_times(NewTimestamp::NoChange, NewTimestamp::Timestamp(epoch()))
                .map_err(|e| format!("{e:?}"))
        })),
        // Keeps a read-only descriptor across the write that gives the file
        // its own inode, then sets times through the old descriptor.
        "touch-across-break" => unit(preopen(text(input, "dir")).and_then(|dir| {
            let file = text(input, "file");
            let reader = open(&dir, file, false, false)?;
            let writer = open(&dir, file, false, true)?;
            writer
                .write(b"new", 0)
                .map_err(|e| format!("write: {e:?}"))?;
            reader
                .set_times(NewTimestamp::NoChange, NewTimestamp::Timestamp(epoch()))
                .map_err(|e| format!("{e:?}"))
        })),
        "touch-at" => unit(preopen(text(input, "dir")).and_then(|dir| {
            dir.set_times_at(
                PathFlags::SYMLINK_FOLLOW,
                text(input, "file"),
                NewTimestamp::NoChange,
                NewTimestamp::Timestamp(epoch()),
            )
            .map_err(|e| format!("{e:?}"))
        })),
        "move" | "link" => unit((|| {
            let from = preopen(text(input, "from_dir"))?;
            let to = preopen(text(input, "to_dir"))?;
            let (old, new) = (text(input, "from"), text(input, "to"));
            if name == "move" {
                from.rename_at(old, &to, new)
            } else {
                from.link_at(PathFlags::empty(), old, &to, new)
            }
            .map_err(|e| format!("{e:?}"))
        })()),
        // Nests `depth` folders under `top`, each named with `len`
        // characters, one level at a time through descriptors (only the
        // deepest stays open), and writes a file at the bottom.
        "deep" => outcome((|| {
            let fail = |e: String| (e, 0);
            let mut dir = preopen(text(input, "dir")).map_err(fail)?;
            let name = "n".repeat(number(input, "len").clamp(1, 255) as usize);
            for level in 0..number(input, "depth") {
                let here = if level == 0 {
                    text(input, "top")
                } else {
                    &name
                };
                dir.create_directory_at(here)
                    .map_err(|e| (format!("mkdir: {e:?}"), level))?;
                dir = open_dir(&dir, here).map_err(|e| (e, level))?;
            }
            let leaf = open(&dir, "leaf", true, true).map_err(fail)?;
            leaf.write(b"bottom", 0)
                .map_err(|e| (format!("write: {e:?}"), 0))?;
            Ok(number(input, "depth"))
        })()),
        // Starts `count` listings of a folder and keeps every stream open.
        "list-many" => {
            let dir = match preopen(text(input, "dir")) {
                Ok(dir) => dir,
                Err(e) => return Some(json!({"err": e})),
            };
            let mut streams = Vec::new();
            for _ in 0..number(input, "count") {
                match dir.read_directory() {
                    Ok(stream) => streams.push(stream),
                    Err(e) => {
                        return Some(json!({"err": format!("{e:?}"), "opened": streams.len()}));
                    }
                }
            }
            json!({"ok": streams.len()})
        }
        // Starts one write on a file stream and returns without waiting for
        // it or closing the stream: the write may still be in flight.
        "stream-and-return" => outcome((|| {
            let dir = preopen(text(input, "dir")).map_err(|e| (e, 0))?;
            let file = open(&dir, text(input, "file"), true, true).map_err(|e| (e, 0))?;
            let stream = file
                .write_via_stream(0)
                .map_err(|e| (format!("stream: {e:?}"), 0))?;
            let room = stream
                .check_write()
                .map_err(|e| (format!("check: {e:?}"), 0))?;
            let len = room.min(number(input, "bytes")) as usize;
            stream
                .write(&vec![b'z'; len])
                .map_err(|e| (format!("write: {e:?}"), 0))?;
            // Neither the stream nor the file is dropped before returning.
            std::mem::forget(stream);
            std::mem::forget(file);
            Ok(len as u64)
        })()),
        "inode-reuse" => inode_reuse(input).unwrap_or_else(|e| json!({"err": e})),
        // Counts a folder's entries through the raw stream, keeping none.
        "count-entries" => outcome((|| {
            let dir = preopen(text(input, "dir")).map_err(|e| (e, 0))?;
            let stream = dir.read_directory().map_err(|e| (format!("{e:?}"), 0))?;
            let mut count = 0u64;
            loop {
                match stream.read_directory_entry() {
                    Ok(Some(_)) => count += 1,
                    Ok(None) => return Ok(count),
                    Err(e) => return Err((format!("{e:?}"), count)),
                }
            }
        })()),
        // Reads a counter, waits, writes it back one higher: lost updates
        // show when two of these overlap on one state.
        "increment" => {
            let path = text(input, "path");
            let count: u64 = std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            std::thread::sleep(std::time::Duration::from_millis(number(input, "pause_ms")));
            match std::fs::write(path, (count + 1).to_string()) {
                Ok(()) => json!({"ok": count + 1}),
                Err(e) => json!({"err": e.to_string()}),
            }
        }
        _ => return None,
    };
    Some(value)
}

fn show<T>(result: Result<T, String>) -> Value {
    match result {
        Ok(_) => json!("ok"),
        Err(e) => json!(e),
    }
}

fn open_dir(dir: &Descriptor, path: &str) -> Result<Descriptor, String> {
    dir.open_at(
        PathFlags::empty(),
        path,
        OpenFlags::DIRECTORY,
        DescriptorFlags::READ | DescriptorFlags::MUTATE_DIRECTORY,
    )
    .map_err(|e| format!("open folder {path}: {e:?}"))
}

/// Makes a folder of the `other` grant take the inode number of a closed,
/// removed folder of `{state}` (a file system reuses a freed number at
/// once; the metadata hash shows when it did), then uses it as if it were
/// in `{state}`: hard-links the committed `f` into it and writes through the
/// other grant's path, and moves the other grant's `big` into `{state}`.
fn inode_reuse(input: &Value) -> Result<Value, String> {
    let state = preopen(text(input, "state"))?;
    let other = preopen(text(input, "other"))?;
    let attempts = number(input, "tries").max(1);
    let mut last = None;
    let mut reused = false;
    let mut tries = 0;
    for n in 0..attempts {
        tries = n + 1;
        state
            .create_directory_at("d")
            .map_err(|e| format!("mkdir d: {e:?}"))?;
        let d = open_dir(&state, "d")?;
        let hash = d
            .metadata_hash()
            .map(|h| (h.lower, h.upper))
            .map_err(|e| format!("hash: {e:?}"))?;
        drop(d);
        state
            .remove_directory_at("d")
            .map_err(|e| format!("rmdir d: {e:?}"))?;
        let name = format!("w{n}");
        other
            .create_directory_at(&name)
            .map_err(|e| format!("mkdir {name}: {e:?}"))?;
        let w = open_dir(&other, &name)?;
        reused = w
            .metadata_hash()
            .map(|h| (h.lower, h.upper))
            .map_err(|e| format!("hash: {e:?}"))?
            == hash;
        last = Some((w, name));
        if reused {
            break;
        }
    }
    let (w, name) = last.ok_or("no attempt made")?;
    let link = state
        .link_at(PathFlags::empty(), "f", &w, "x")
        .map_err(|e| format!("{e:?}"));
    let write = open(&other, &format!("{name}/x"), false, true)
        .and_then(|f| f.write(b"pwned", 0).map_err(|e| format!("{e:?}")));
    let big = open(&w, "big", true, true)
        .and_then(|f| f.write(&[b'b'; 4096], 0).map_err(|e| format!("{e:?}")));
    let rename = w
        .rename_at("big", &state, "big")
        .map_err(|e| format!("{e:?}"));
    Ok(json!({
        "reused": reused,
        "tries": tries,
        "link": show(link),
        "write": show(write),
        "big": show(big),
        "rename": show(rename),
    }))
}

fn epoch() -> wasip2::clocks::wall_clock::Datetime {
    wasip2::clocks::wall_clock::Datetime {
        seconds: 1_000_000,
        nanoseconds: 0,
    }
}
