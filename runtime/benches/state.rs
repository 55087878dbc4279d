//! What a writing invocation costs as `{state}` grows: the same call (write
//! one small file in `{state}`) with 1 MiB and with 500 MiB of state, in one
//! run. A writer's copy is hard links to the committed files, so the cost
//! follows the number of files in the state, not their size; the third case
//! (500 MiB as 500 files) shows that per-file cost. `cargo bench -p runtime
//! --bench state`; figures in docs/benchmarks.md.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use skill_runtime::{Invocation, Runtime, RuntimeConfig};
use skill_test_artifacts::{TempPackage, skill_table};

const MIB: usize = 1 << 20;

fn writing_invocation(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let mut group = c.benchmark_group("state-write");
    group.sample_size(20);
    for (label, files, file_mib) in [
        ("1MiB-1-file", 1usize, 1usize),
        ("500MiB-5-files", 5, 100),
        ("500MiB-500-files", 500, 1),
    ] {
        let state = tempfile::tempdir().expect("state");
        let runtime = Runtime::new(RuntimeConfig::new(state.path())).expect("runtime");
        let toml = format!(
            "{}[capabilities]\nchannels = [{{ name = \"out\", direction = \"send\" }}]\nfiles = [{{ guest = \"/state\", host = \"{{state}}\", access = \"read-write\" }}]\n[limits]\nstate-size = \"1 GiB\"\n",
            skill_table("escape")
        );
        let package = TempPackage::new("escape", skill_test_artifacts::ESCAPE, &toml);
        let skill = runtime.load(package.path()).expect("load");
        let committed = skill.state_dir().expect("state dir");
        let block = vec![7u8; file_mib * MIB];
        for n in 0..files {
            std::fs::write(committed.join(format!("data-{n}")), &block).expect("fill the state");
        }
        let call =
            Invocation::new("write").input(json!({"path": "/state/small", "content": "one"}));
        group.bench_function(label, |b| {
            b.iter(|| {
                let outcome = tokio.block_on(skill.invoke(call.clone())).expect("started");
                assert!(outcome.result.is_ok(), "{:?}", outcome.result);
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = writing_invocation
}
criterion_main!(benches);
