//! A WASI 0.3 component for the tests: it exports the async
//! `wasi:cli/run@0.3.0` and uses only WASI 0.3 interfaces for its work.
//! Like the escape guest, its second argument names an attempt and its
//! stdin is the JSON input: attempts the sandbox refuses print
//! `{"err": ...}`, ones that succeed `{"ok": ...}`, resource attacks never
//! return. `ops` runs a fixed list of ordinary filesystem, clock, random,
//! environment and stdio operations and prints every result, for
//! comparison with a plain wasmtime run. `disk` holds the attempts on the
//! disk limits and on `{state}`.

wit_bindgen::generate!({
    path: "wit",
    world: "test:wasi03/guest",
    generate_all,
});

mod disk;

use serde_json::{Value, json};
use wasi::cli::{environment, stderr, stdin, stdout};
use wasi::clocks::{monotonic_clock, system_clock};
use wasi::filesystem::preopens;
use wasi::filesystem::types::{Descriptor, DescriptorFlags, ErrorCode, OpenFlags, PathFlags};
use wasi::random::{insecure, random};

struct Guest03;

export!(Guest03);

type Dirs = Vec<(Descriptor, String)>;

/// The preopen a guest path is under, and the path relative to it.
fn resolve<'a>(dirs: &'a Dirs, path: &str) -> Result<(&'a Descriptor, String), String> {
    for (dir, guest) in dirs {
        let guest = guest.trim_end_matches('/');
        if path == guest {
            return Ok((dir, ".".into()));
        }
        if let Some(rest) = path.strip_prefix(guest).and_then(|r| r.strip_prefix('/')) {
            return Ok((dir, rest.to_owned()));
        }
    }
    Err(format!("no preopened folder holds {path}"))
}

fn code(e: ErrorCode) -> String {
    format!("{e:?}")
}

async fn open(
    dirs: &Dirs,
    path: &str,
    oflags: OpenFlags,
    flags: DescriptorFlags,
) -> Result<Descriptor, String> {
    let (dir, rel) = resolve(dirs, path)?;
    dir.open_at(PathFlags::empty(), rel, oflags, flags)
        .await
        .map_err(code)
}

async fn read_bytes(dirs: &Dirs, path: &str, offset: u64) -> Result<Vec<u8>, String> {
    let file = open(dirs, path, OpenFlags::empty(), DescriptorFlags::READ).await?;
    let (stream, done) = file.read_via_stream(offset);
    let bytes = stream.collect().await;
    done.await.map_err(code)?;
    Ok(bytes)
}

async fn read(dirs: &Dirs, path: &str) -> Result<String, String> {
    let bytes = read_bytes(dirs, path, 0).await?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

async fn write_at(file: &Descriptor, data: Vec<u8>, offset: Option<u64>) -> Result<bool, String> {
    let (mut tx, rx) = wit_stream::new::<u8>();
    let done = match offset {
        Some(offset) => file.write_via_stream(rx, offset),
        None => file.append_via_stream(rx),
    };
    let rest = tx.write_all(data).await;
    drop(tx);
    done.await.map_err(code)?;
    if rest.is_empty() {
        Ok(true)
    } else {
        Err(format!("{} bytes not written", rest.len()))
    }
}

async fn write(dirs: &Dirs, path: &str, data: Vec<u8>) -> Result<bool, String> {
    let file = open(
        dirs,
        path,
        OpenFlags::CREATE | OpenFlags::TRUNCATE,
        DescriptorFlags::WRITE,
    )
    .await?;
    write_at(&file, data, Some(0)).await
}

async fn list(dirs: &Dirs, path: &str) -> Result<Vec<String>, String> {
    let dir = open(dirs, path, OpenFlags::DIRECTORY, DescriptorFlags::READ).await?;
    let (stream, done) = dir.read_directory();
    let mut names: Vec<String> = stream.collect().await.into_iter().map(|e| e.name).collect();
    done.await.map_err(code)?;
    names.sort();
    Ok(names)
}

async fn at<'a, T, F>(
    dirs: &'a Dirs,
    path: &str,
    op: impl FnOnce(&'a Descriptor, String) -> F,
) -> Result<T, String>
where
    F: std::future::Future<Output = Result<T, ErrorCode>>,
{
    let (dir, rel) = resolve(dirs, path)?;
    op(dir, rel).await.map_err(code)
}

fn report<T: Into<Value>>(result: Result<T, String>) -> Value {
    match result {
        Ok(v) => json!({"ok": v.into()}),
        Err(e) => json!({"err": e}),
    }
}

async fn print(text: String) {
    let (mut tx, rx) = wit_stream::new::<u8>();
    let done = stdout::write_via_stream(rx);
    tx.write_all(text.into_bytes()).await;
    drop(tx);
    let _ = done.await;
}

async fn read_stdin() -> Result<String, String> {
    let (stream, done) = stdin::read_via_stream();
    let bytes = stream.collect().await;
    done.await.map_err(|e| format!("{e:?}"))?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// Ordinary operations inside `/rw` (read-write) and `/ro` (read-only,
/// holding `keep.txt` = "original"), each recorded by name.
async fn ops(dirs: &Dirs) -> Value {
    let mut log = serde_json::Map::new();
    let mut put = |name: &str, value: Value| {
        log.insert(name.to_owned(), value);
    };
    let after_2020 = |seconds: i64| seconds > 1_577_836_800;
    // Filesystem.
    for (name, path) in [("rw", "/rw"), ("ro", "/ro")] {
        let ty = match resolve(dirs, path) {
            Ok((dir, _)) => dir.get_type().await.map(|t| format!("{t:?}")).map_err(code),
            Err(e) => Err(e),
        };
        put(&format!("preopen {name} type"), report(ty));
    }
    put("read ro", report(read(dirs, "/ro/keep.txt").await));
    put("read missing", report(read(dirs, "/rw/missing.txt").await));
    put(
        "write new",
        report(write(dirs, "/rw/a.txt", b"hello".to_vec()).await),
    );
    put("read back", report(read(dirs, "/rw/a.txt").await));
    let appended = match open(
        dirs,
        "/rw/a.txt",
        OpenFlags::empty(),
        DescriptorFlags::WRITE,
    )
    .await
    {
        Ok(file) => write_at(&file, b", world".to_vec(), None).await,
        Err(e) => Err(e),
    };
    put("append", report(appended));
    put("read appended", report(read(dirs, "/rw/a.txt").await));
    let stat = at(dirs, "/rw/a.txt", |d, p| {
        d.stat_at(PathFlags::SYMLINK_FOLLOW, p)
    })
    .await;
    put("size", report(stat.clone().map(|s| s.size)));
    put(
        "type",
        report(stat.clone().map(|s| format!("{:?}", s.type_))),
    );
    put(
        "mtime after 2020",
        report(stat.map(|s| {
            s.data_modification_timestamp
                .is_some_and(|t| after_2020(t.seconds))
        })),
    );
    let tail = read_bytes(dirs, "/rw/a.txt", 7).await;
    put(
        "read from offset",
        report(tail.map(|b| String::from_utf8_lossy(&b).into_owned())),
    );
    let overwritten = match open(
        dirs,
        "/rw/a.txt",
        OpenFlags::empty(),
        DescriptorFlags::WRITE,
    )
    .await
    {
        Ok(file) => write_at(&file, b"HELLO".to_vec(), Some(0)).await,
        Err(e) => Err(e),
    };
    put("overwrite in place", report(overwritten));
    put("read overwritten", report(read(dirs, "/rw/a.txt").await));
    put(
        "mkdir",
        report(
            at(dirs, "/rw/sub", |d, p| d.create_directory_at(p))
                .await
                .map(|()| true),
        ),
    );
    put(
        "mkdir again",
        report(
            at(dirs, "/rw/sub", |d, p| d.create_directory_at(p))
                .await
                .map(|()| true),
        ),
    );
    put(
        "mkdir nested",
        report(
            at(dirs, "/rw/sub/x", |d, p| d.create_directory_at(p))
                .await
                .map(|()| true),
        ),
    );
    put(
        "write in sub",
        report(write(dirs, "/rw/sub/b.txt", vec![0, 1, 2, 255]).await),
    );
    put(
        "read bytes",
        report(read_bytes(dirs, "/rw/sub/b.txt", 0).await.map(|b| json!(b))),
    );
    put("list rw", report(list(dirs, "/rw").await));
    put("list sub", report(list(dirs, "/rw/sub").await));
    put("list ro", report(list(dirs, "/ro").await));
    let renamed = match resolve(dirs, "/rw") {
        Ok((rw, _)) => rw
            .rename_at("a.txt".into(), rw, "sub/c.txt".into())
            .await
            .map_err(code),
        Err(e) => Err(e),
    };
    put("rename", report(renamed.map(|()| true)));
    put(
        "old name gone",
        report(
            at(dirs, "/rw/a.txt", |d, p| d.stat_at(PathFlags::empty(), p))
                .await
                .map(|_| true),
        ),
    );
    put("new name", report(read(dirs, "/rw/sub/c.txt").await));
    put(
        "remove non-empty dir",
        report(
            at(dirs, "/rw/sub", |d, p| d.remove_directory_at(p))
                .await
                .map(|()| true),
        ),
    );
    put(
        "remove file",
        report(
            at(dirs, "/rw/sub/c.txt", |d, p| d.unlink_file_at(p))
                .await
                .map(|()| true),
        ),
    );
    put(
        "remove missing",
        report(
            at(dirs, "/rw/sub/c.txt", |d, p| d.unlink_file_at(p))
                .await
                .map(|()| true),
        ),
    );
    put(
        "remove empty dir",
        report(
            at(dirs, "/rw/sub/x", |d, p| d.remove_directory_at(p))
                .await
                .map(|()| true),
        ),
    );
    put("read a dir as file", report(read(dirs, "/rw/sub").await));
    put(
        "write ro",
        report(write(dirs, "/ro/new.txt", b"x".to_vec()).await),
    );
    put("ro unchanged", report(read(dirs, "/ro/keep.txt").await));
    put("dotdot", report(read(dirs, "/rw/../ro/keep.txt").await));
    put(
        "absolute inside",
        report(
            at(dirs, "/rw/sub", |d, _| {
                d.open_at(
                    PathFlags::empty(),
                    "/etc".into(),
                    OpenFlags::empty(),
                    DescriptorFlags::READ,
                )
            })
            .await
            .map(|_| true),
        ),
    );
    // Clocks.
    let start = monotonic_clock::now();
    monotonic_clock::wait_for(5_000_000).await;
    put(
        "monotonic advances across wait",
        json!(monotonic_clock::now() - start >= 5_000_000),
    );
    put(
        "monotonic resolution positive",
        json!(monotonic_clock::get_resolution() > 0),
    );
    put(
        "system clock after 2020",
        json!(after_2020(system_clock::now().seconds)),
    );
    // Random.
    let (a, b) = (random::get_random_bytes(16), random::get_random_bytes(16));
    put("random length", json!(a.len()));
    put("random draws differ", json!(a != b));
    put(
        "insecure random length",
        json!(insecure::get_insecure_random_bytes(8).len()),
    );
    // Environment and arguments.
    let env = environment::get_environment();
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    put("args", json!(environment::get_arguments()));
    put("env GRANTED", json!(var("GRANTED")));
    put("env HIDDEN", json!(var("HIDDEN")));
    let mut names: Vec<&String> = env.iter().map(|(k, _)| k).collect();
    names.sort();
    put("env names", json!(names));
    // Stdio.
    put("stdin", report(read_stdin().await));
    let (mut tx, rx) = wit_stream::new::<u8>();
    let done = stderr::write_via_stream(rx);
    tx.write_all(b"to stderr\n".to_vec()).await;
    drop(tx);
    put("stderr write", json!(done.await.is_ok()));
    Value::Object(log)
}

impl exports::wasi::cli::run::Guest for Guest03 {
    async fn run() -> Result<(), ()> {
        let attempt = environment::get_arguments()
            .get(1)
            .cloned()
            .unwrap_or_default();
        let dirs = preopens::get_directories();
        if attempt == "ops" {
            let log = ops(&dirs).await;
            print(format!("{log}\n")).await;
            return Ok(());
        }
        let input: Value =
            serde_json::from_str(&read_stdin().await.unwrap_or_default()).unwrap_or(Value::Null);
        match disk::attempt(&dirs, &attempt, &input).await {
            Some(disk::Then::Return(result)) => {
                print(format!("{result}\n")).await;
                return Ok(());
            }
            Some(disk::Then::Fail) => return Err(()),
            None => {}
        }
        let arg = |key: &str| input[key].as_str().unwrap_or_default().to_owned();
        let result = match attempt.as_str() {
            "echo" => json!({"ok": input, "args": environment::get_arguments()}),
            "read" => report(read(&dirs, &arg("path")).await),
            "write" => report(write(&dirs, &arg("path"), arg("content").into_bytes()).await),
            "list" => report(list(&dirs, &arg("path")).await),
            "env" => {
                json!({"ok": environment::get_environment().into_iter().map(|(k, v)| (k, Value::String(v))).collect::<serde_json::Map<_, _>>()})
            }
            "alloc" => {
                let mut blocks: Vec<Vec<u8>> = Vec::new();
                for _ in 0..input["mib"].as_u64().unwrap_or(0) {
                    blocks.push(vec![1u8; 1 << 20]);
                }
                json!({"ok": blocks.len()})
            }
            "spin" => loop {
                std::hint::black_box(());
            },
            "sleep" => {
                // A host call that does not return by itself: the deadline must still end it.
                monotonic_clock::wait_for(input["ms"].as_u64().unwrap_or(0) * 1_000_000).await;
                json!({"ok": true})
            }
            other => json!({"err": format!("unknown attempt `{other}`")}),
        };
        print(format!("{result}\n")).await;
        Ok(())
    }
}
