//! Attempts on the host's disk and on `{state}` through the raw WASI 0.3
//! filesystem API, one route at a time (`write-via-stream`,
//! `append-via-stream`, `set-size`, creating files, folders and links,
//! times, renames), like the WASI 0.2 escape guest's `disk` module.

use serde_json::{Value, json};

use crate::wasi::clocks::system_clock::Instant;
use crate::wasi::filesystem::types::{
    Descriptor, DescriptorFlags, ErrorCode, NewTimestamp, OpenFlags, PathFlags,
};
use crate::{Dirs, code, wit_stream};

fn text<'a>(input: &'a Value, key: &str) -> &'a str {
    input[key].as_str().unwrap_or_default()
}

fn number(input: &Value, key: &str) -> u64 {
    input[key].as_u64().unwrap_or(0)
}

/// The preopened folder the guest sees as `guest`.
fn preopen<'a>(dirs: &'a Dirs, guest: &str) -> Result<&'a Descriptor, String> {
    dirs.iter()
        .find(|(_, path)| path == guest)
        .map(|(d, _)| d)
        .ok_or_else(|| format!("no preopen {guest}"))
}

async fn open(
    dir: &Descriptor,
    path: &str,
    oflags: OpenFlags,
    write: bool,
) -> Result<Descriptor, String> {
    let flags = if write {
        DescriptorFlags::READ | DescriptorFlags::WRITE
    } else {
        DescriptorFlags::READ
    };
    dir.open_at(PathFlags::SYMLINK_FOLLOW, path.into(), oflags, flags)
        .await
        .map_err(|e| format!("open {path}: {e:?}"))
}

/// Writes `chunks` to `file` through one stream, at `offset` or appended;
/// the bytes the host took.
async fn stream_chunks(
    file: &Descriptor,
    offset: Option<u64>,
    chunks: impl Iterator<Item = Vec<u8>>,
) -> Result<u64, (String, u64)> {
    let (mut tx, rx) = wit_stream::new::<u8>();
    let done = match offset {
        Some(offset) => file.write_via_stream(rx, offset),
        None => file.append_via_stream(rx),
    };
    let mut written = 0u64;
    for chunk in chunks {
        let len = chunk.len() as u64;
        let rest = tx.write_all(chunk).await;
        written += len - rest.len() as u64;
        if !rest.is_empty() {
            return Err((format!("{} bytes not taken", rest.len()), written));
        }
    }
    drop(tx);
    done.await
        .map_err(|e| (format!("stream: {e:?}"), written))?;
    Ok(written)
}

/// Writes `count` chunks of `chunk` bytes to `file` in `dir` by `route`.
async fn write(dirs: &Dirs, input: &Value) -> Result<u64, (String, u64)> {
    let fail = |e: String| (e, 0);
    let dir = preopen(dirs, text(input, "dir")).map_err(fail)?;
    let file = open(dir, text(input, "file"), OpenFlags::CREATE, true)
        .await
        .map_err(fail)?;
    let chunk = vec![b'x'; number(input, "chunk").clamp(1, 1 << 16) as usize];
    let count = number(input, "count") as usize;
    match text(input, "route") {
        route @ ("stream" | "append") => {
            let offset = (route == "stream").then(|| number(input, "offset"));
            stream_chunks(&file, offset, std::iter::repeat_n(chunk, count)).await
        }
        "set-size" => {
            let size = number(input, "size");
            file.set_size(size)
                .await
                .map_err(|e| (format!("set-size: {e:?}"), 0))?;
            Ok(size)
        }
        other => Err((format!("unknown route {other}"), 0)),
    }
}

/// Creates `count` entries named `<prefix><n>` of `kind` in `dir`.
async fn create(dirs: &Dirs, input: &Value) -> Result<u64, (String, u64)> {
    let dir = preopen(dirs, text(input, "dir")).map_err(|e| (e, 0))?;
    let prefix = text(input, "prefix");
    let mut made = 0;
    for n in 0..number(input, "count") {
        let name = format!("{prefix}{n}");
        let result = match text(input, "kind") {
            "dir" => dir.create_directory_at(name).await.map_err(code),
            "symlink" => dir.symlink_at("target".into(), name).await.map_err(code),
            _ => open(dir, &name, OpenFlags::CREATE, true).await.map(drop),
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

fn epoch() -> NewTimestamp {
    NewTimestamp::Timestamp(Instant {
        seconds: 1_000_000,
        nanoseconds: 0,
    })
}

/// The preopen `path` is under and the path below it.
fn split<'a>(dirs: &'a Dirs, path: &str) -> Result<(&'a Descriptor, String), String> {
    crate::resolve(dirs, path)
}

/// Changes the file at `path` by `how` (in place: `overwrite` writes
/// `content` at 0, `append` adds it at the end, `truncate` empties it),
/// through WASI 0.3 streams.
async fn change(dirs: &Dirs, how: &str, path: &str, content: &str) -> Result<(), String> {
    let (dir, rel) = split(dirs, path)?;
    let oflags = if how == "truncate" {
        OpenFlags::TRUNCATE
    } else {
        OpenFlags::empty()
    };
    let file = open(dir, &rel, oflags, true).await?;
    let data = vec![content.as_bytes().to_vec()];
    match how {
        "overwrite" => stream_chunks(&file, Some(0), data.into_iter()).await,
        "append" => stream_chunks(&file, None, data.into_iter()).await,
        "truncate" => Ok(0),
        other => return Err(format!("unknown change {other}")),
    }
    .map(drop)
    .map_err(|(e, _)| e)
}

/// What `write-then` does after its write.
pub enum Then {
    /// Returns normally.
    Return(Value),
    /// Returns an error from `run` (the command fails).
    Fail,
}

/// Runs the disk attempt `name`, or `None` if there is no such attempt.
pub async fn attempt(dirs: &Dirs, name: &str, input: &Value) -> Option<Then> {
    let value = match name {
        "disk-write" => outcome(write(dirs, input).await),
        "disk-create" => outcome(create(dirs, input).await),
        "overwrite" | "append" | "truncate" => {
            unit(change(dirs, name, text(input, "path"), text(input, "content")).await)
        }
        // Changes a file in place (`how`: overwrite, append, truncate),
        // then panics (a trap) or fails, as `then` says.
        "write-then" => {
            let changed = change(
                dirs,
                text(input, "how"),
                text(input, "path"),
                text(input, "content"),
            )
            .await;
            if let Err(e) = changed {
                return Some(Then::Return(json!({"err": e})));
            }
            if text(input, "then") == "panic" {
                panic!("the skill panics after its write");
            }
            return Some(Then::Fail);
        }
        "touch-at" => unit(
            async {
                let dir = preopen(dirs, text(input, "dir"))?;
                dir.set_times_at(
                    PathFlags::SYMLINK_FOLLOW,
                    text(input, "file").into(),
                    NewTimestamp::NoChange,
                    epoch(),
                )
                .await
                .map_err(code)
            }
            .await,
        ),
        // Sets a file's times through a descriptor opened only for reading.
        "touch-read-only" => unit(
            async {
                let dir = preopen(dirs, text(input, "dir"))?;
                let file = open(dir, text(input, "file"), OpenFlags::empty(), false).await?;
                file.set_times(NewTimestamp::NoChange, epoch())
                    .await
                    .map_err(code)
            }
            .await,
        ),
        "move" | "link" => unit(
            async {
                let from = preopen(dirs, text(input, "from_dir"))?;
                let to = preopen(dirs, text(input, "to_dir"))?;
                let (old, new) = (text(input, "from").into(), text(input, "to").into());
                let result: Result<(), ErrorCode> = if name == "move" {
                    from.rename_at(old, to, new).await
                } else {
                    from.link_at(PathFlags::empty(), old, to, new).await
                };
                result.map_err(code)
            }
            .await,
        ),
        _ => return None,
    };
    Some(Then::Return(value))
}
