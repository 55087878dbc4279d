//! Criterion benchmarks of the runtime's fast path: what one invocation
//! costs for each kind of skill, what a cached load saves, and throughput
//! as invocations run concurrently. `cargo bench -p runtime` runs them;
//! `scripts/bench-report` turns `skill-run bench` figures into the README's
//! table and chart, against spawning python3 and node.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use skill_runtime::{CacheStatus, Invocation, Runtime, RuntimeConfig, Skill};
use skill_test_artifacts::{TempPackage, skill_table};

struct Bench {
    tokio: tokio::runtime::Runtime,
    runtime: Runtime,
    _state: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        let state = tempfile::tempdir().expect("state");
        Bench {
            tokio: tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio"),
            runtime: Runtime::new(RuntimeConfig::new(state.path())).expect("runtime"),
            _state: state,
        }
    }

    fn load(&self, package: &TempPackage) -> Skill {
        self.runtime.load(package.path()).expect("load")
    }

    /// One invocation, checked: a benchmark of failures would measure nothing.
    fn invoke(&self, skill: &Skill, request: &Invocation) -> Value {
        let outcome = self
            .tokio
            .block_on(skill.invoke(request.clone()))
            .expect("started");
        outcome
            .result
            .expect("the benchmarked invocation succeeded")
    }
}

fn single_invocations(c: &mut Criterion) {
    let bench = Bench::new();
    let workspace = tempfile::tempdir().expect("workspace");
    let mut group = c.benchmark_group("invoke");

    let hello = bench.load(&TempPackage::example("hello", skill_test_artifacts::HELLO));
    let greet = Invocation::new("greet").input(json!({"name": "Ada"}));
    assert_eq!(bench.invoke(&hello, &greet), json!("Hello, Ada."));
    group.bench_function("typed-hello", |b| b.iter(|| bench.invoke(&hello, &greet)));

    let cli = bench.load(&TempPackage::new(
        "cli",
        skill_test_artifacts::ESCAPE,
        &format!(
            "{}[capabilities]\nchannels = [{{ name = \"out\", direction = \"send\" }}]\n",
            skill_table("cli")
        ),
    ));
    let echo = Invocation::new("echo").input(json!("hi"));
    bench.invoke(&cli, &echo);
    group.bench_function("cli-hello", |b| b.iter(|| bench.invoke(&cli, &echo)));

    std::fs::create_dir(workspace.path().join("notes")).expect("notes folder");
    let notes = bench.load(&TempPackage::new(
        "notes",
        skill_test_artifacts::NOTES,
        &format!(
            "{}[capabilities]\nfiles = [{{ guest = \"/notes\", host = \"{{workspace}}/notes\", access = \"read\" }}]\nchannels = [{{ name = \"feed\", direction = \"send\" }}]\n",
            skill_table("notes")
        ),
    ));
    std::fs::write(workspace.path().join("notes/todo.md"), "milk").expect("a note");
    let get = Invocation::new("get")
        .input(json!({"title": "todo"}))
        .workspace(workspace.path());
    assert_eq!(bench.invoke(&notes, &get)["body"], json!("milk"));
    group.bench_function("file-read", |b| b.iter(|| bench.invoke(&notes, &get)));

    let server = LoopbackServer::start();
    let http = bench.load(&TempPackage::new(
        "http",
        skill_test_artifacts::HTTP,
        &format!(
            "{}[capabilities]\nnetwork = [\"{}\"]\n",
            skill_table("http"),
            server.url
        ),
    ));
    let fetch = Invocation::new("fetch").input(json!({"urls": [server.url]}));
    assert_eq!(bench.invoke(&http, &fetch)[0]["ok"]["body"], json!("ok"));
    group.bench_function("http-get-loopback", |b| {
        b.iter(|| bench.invoke(&http, &fetch))
    });
    group.finish();
}

/// A component of about 1 MB of code: many functions with long bodies.
fn large_component() -> Vec<u8> {
    let body: String = (0..100)
        .map(|k| format!("local.get 0 i32.const {k} i32.add local.set 0\n"))
        .collect();
    let funcs: String = (0..1400)
        .map(|n| format!("(func $f{n} (param i32) (result i32) {body} local.get 0)\n"))
        .collect();
    let component = wat::parse_str(format!(
        r#"(component
             (core module $m {funcs} (func (export "f") (result i32) (call $f0 (i32.const 1))))
             (core instance $i (instantiate $m))
             (func (export "f") (result u32) (canon lift (core func $i "f"))))"#
    ))
    .expect("wat");
    assert!(component.len() > 1_000_000, "{} bytes", component.len());
    component
}

fn loading(c: &mut Criterion) {
    let component = large_component();
    let package = TempPackage::new("large", skill_test_artifacts::HELLO, &skill_table("large"));
    std::fs::write(package.path().join("skill.wasm"), &component).expect("write");
    let state = tempfile::tempdir().expect("state");
    let cache = tempfile::tempdir().expect("cache");
    let uncached = Runtime::new(RuntimeConfig::new(state.path())).expect("runtime");
    let cached = Runtime::new(RuntimeConfig::new(state.path()).with_compile_cache(cache.path()))
        .expect("runtime");
    cached.load(package.path()).expect("fill the cache");

    let mut group = c.benchmark_group("load-1mb");
    group.sample_size(10);
    group.bench_function("compile", |b| {
        b.iter(|| uncached.load(package.path()).expect("load"))
    });
    group.bench_function("cached", |b| {
        b.iter(|| {
            let skill = cached.load(package.path()).expect("load");
            assert_eq!(skill.cache_status(), &CacheStatus::Hit);
            skill
        })
    });
    group.finish();
}

fn throughput(c: &mut Criterion) {
    const BATCH: u64 = 512;
    let bench = Bench::new();
    let hello = bench.load(&TempPackage::example("hello", skill_test_artifacts::HELLO));
    let greet = Invocation::new("greet").input(json!({"name": "Ada"}));
    let mut group = c.benchmark_group("throughput");
    group.throughput(Throughput::Elements(BATCH));
    for concurrency in [1u64, 2, 8, 64] {
        group.bench_with_input(
            BenchmarkId::from_parameter(concurrency),
            &concurrency,
            |b, &concurrency| {
                b.iter_custom(|batches| {
                    let started = Instant::now();
                    for _ in 0..batches {
                        bench
                            .tokio
                            .block_on(run_batch(&hello, &greet, BATCH, concurrency));
                    }
                    started.elapsed()
                })
            },
        );
    }
    group.finish();
}

/// `count` invocations, `concurrency` at a time, each checked.
async fn run_batch(skill: &Skill, request: &Invocation, count: u64, concurrency: u64) {
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (skill, request, next) = (skill.clone(), request.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                    let outcome = skill.invoke(request.clone()).await.expect("started");
                    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
}

/// Answers every request on 127.0.0.1 with `ok`, one thread per connection.
struct LoopbackServer {
    url: String,
}

impl LoopbackServer {
    fn start() -> LoopbackServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || serve(stream));
            }
        });
        LoopbackServer { url }
    }
}

fn serve(mut stream: std::net::TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
        while let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            request.drain(..end + 4);
            let answer =
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok";
            if stream.write_all(answer).is_err() {
                return;
            }
        }
    }
}

/// A `runtime = "python"` skill's script printing one JSON line, a fresh
/// runner instance per call (issue 16's target: a p50 of 2 ms;
/// `scripts/bench-pyscript` puts it beside spawning python3 and bwrap).
fn python_script(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("dir");
    let package = dir.path().join("one");
    std::fs::create_dir_all(package.join("scripts")).expect("scripts folder");
    std::fs::write(
        package.join("scripts/one.py"),
        "import json, sys\nprint(json.dumps({\"ok\": True, \"argv\": sys.argv[1:]}))\n",
    )
    .expect("script");
    std::fs::write(
        package.join("skill.toml"),
        "[skill]\nname = \"one\"\nversion = \"0.1.0\"\nruntime = \"python\"\n",
    )
    .expect("manifest");
    std::fs::write(
        package.join("SKILL.md"),
        "---\nname: one\ndescription: prints one JSON line\n---\nRun scripts/one.py.\n",
    )
    .expect("SKILL.md");
    let config = RuntimeConfig::new(dir.path().join("state"))
        .with_python_runner(skill_test_artifacts::PYTHON_RUNNER)
        .with_compile_cache(dir.path().join("cache"));
    let runtime = Runtime::new(config).expect("runtime");
    let skill = runtime.load(&package).expect("load the script skill");
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let request = Invocation::new("scripts/one.py").workspace(dir.path());
    let run = || {
        let outcome = tokio
            .block_on(skill.invoke(request.clone()))
            .expect("started");
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
        outcome.stdout
    };
    assert_eq!(run(), "{\"ok\": true, \"argv\": []}\n");
    c.bench_function("python-script/json-line", |b| b.iter(run));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = single_invocations, loading, throughput, python_script
}
criterion_main!(benches);
