//! LIM: memory, time, output and stack limits. Hitting one fails the
//! invocation cleanly; the host keeps running and its memory stays bounded.

use std::time::{Duration, Instant};

use serde_json::json;
use skill_runtime::{AuditKind, ByteSize, LimitKind, Limits};

use super::*;

/// A package around a hand-written component, with `extra` manifest text.
fn wat_package(name: &str, component: &[u8], extra: &str) -> TempPackage {
    let package = TempPackage::new(
        name,
        skill_test_artifacts::HELLO,
        &format!("{}{extra}", skill_table(name)),
    );
    std::fs::write(package.path().join("skill.wasm"), component).expect("write");
    package
}

fn limit_kind(outcome: &Outcome) -> LimitKind {
    match failure(outcome) {
        Failure::Limit { kind, .. } => *kind,
        other => panic!("expected a limit, got {other:?}"),
    }
}

/// LIM-001: A memory bomb stops at `limits.memory`; the message names the key to raise.
#[test]
fn lim_001_memory_bomb_stops_at_the_limit() {
    let host = Host::new();
    let skill = host.load(&escape_package("[limits]\nmemory = \"32 MiB\"\n"));
    let outcome = attempt(&skill, "alloc", json!({"mib": 4096}), None);
    assert_eq!(limit_kind(&outcome), LimitKind::Memory);
    assert!(
        failure(&outcome)
            .message()
            .contains("limits.memory = 32 MiB"),
        "{}",
        failure(&outcome).message()
    );
    assert!(matches!(failure(&outcome), Failure::Limit { .. }));
    assert!(
        outcome.usage.peak_memory <= 32 << 20,
        "peak {}",
        outcome.usage.peak_memory
    );
    assert!(denied(&outcome, AuditKind::Limit, "limits.memory"));
    // Within the limit the same code succeeds.
    assert_eq!(
        ok_value(&attempt(&skill, "alloc", json!({"mib": 4}), None)),
        4
    );
}

/// LIM-002: An endless loop is stopped at `limits.timeout`.
#[test]
fn lim_002_endless_loop_is_stopped_at_the_timeout() {
    let host = Host::new();
    let skill = host.load(&escape_package("[limits]\ntimeout = \"300ms\"\n"));
    let started = Instant::now();
    let outcome = attempt(&skill, "spin", json!({}), None);
    assert_eq!(limit_kind(&outcome), LimitKind::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        failure(&outcome)
            .message()
            .contains("limits.timeout = 300ms")
    );
}

/// LIM-003: A skill printing 500 MB is stopped at `limits.output`; the host holds no more than the limit.
#[test]
fn lim_003_huge_output_is_cut_at_the_limit() {
    let host = Host::new();
    let skill = host.load(&escape_package(
        "[limits]\noutput = \"1 MiB\"\ntimeout = \"20s\"\n",
    ));
    let outcome = attempt(&skill, "print", json!({"kib": 500 * 1024}), None);
    assert_eq!(limit_kind(&outcome), LimitKind::Output);
    assert!(
        outcome.usage.output_bytes <= 1 << 20,
        "{} bytes",
        outcome.usage.output_bytes
    );
}

/// LIM-004: A stderr flood counts against the output limit and at most 64 KiB of it is kept.
#[test]
fn lim_004_stderr_flood_is_bounded() {
    let host = Host::new();
    let skill = host.load(&escape_package("[limits]\noutput = \"2 MiB\"\n"));
    let outcome = attempt(&skill, "stderr", json!({"kib": 100 * 1024}), None);
    assert_eq!(limit_kind(&outcome), LimitKind::Output);
    assert!(outcome.stderr.len() <= 64 * 1024);
    assert!(outcome.stderr_dropped > 0);
}

/// LIM-005: A stack overflow is the skill failing (exit 1) with a one-line cause, not a host crash.
#[test]
fn lim_005_stack_overflow_is_a_clean_trap() {
    let host = Host::new();
    let skill = host.load(&escape_package(""));
    let outcome = attempt(&skill, "recurse", json!({}), None);
    let Failure::Trap { cause } = failure(&outcome) else {
        panic!("expected a trap: {:?}", outcome.result)
    };
    assert!(cause.contains("stack overflow"), "{cause}");
    assert!(!cause.contains('\n'), "cause is not one line: {cause}");
    assert!(matches!(failure(&outcome), Failure::Trap { .. }));
    // The host is fine: the same skill runs again.
    assert!(attempt(&skill, "echo", json!(1), None).result.is_ok());
}

/// LIM-006: A panic is the skill failing, and its message is reported in one line.
#[test]
fn lim_006_panic_is_reported_with_its_message() {
    let host = Host::new();
    let skill = host.load(&escape_package(""));
    let outcome = attempt(&skill, "panic", json!({"why": "on purpose"}), None);
    let Failure::Trap { cause } = failure(&outcome) else {
        panic!("expected a trap: {:?}", outcome.result)
    };
    assert!(cause.contains("deliberate panic: on purpose"), "{cause}");
    // wasi:cli/exit in 0.2 carries success or failure only: any non-zero code arrives as 1.
    let outcome = attempt(&skill, "exit", json!({"code": 7}), None);
    assert!(
        matches!(failure(&outcome), Failure::SkillError { .. }),
        "{:?}",
        outcome.result
    );
    assert!(
        failure(&outcome).message().contains("exited with status"),
        "{}",
        failure(&outcome).message()
    );
}

/// LIM-007: A host can lower limits per call but the manifest's still apply when the host asks for more.
#[test]
fn lim_007_host_lowers_limits_never_raises_them() {
    let host = Host::new();
    let skill = host.load(&escape_package("[limits]\nmemory = \"64 MiB\"\n"));
    let lower = Limits {
        memory: ByteSize::mib(16),
        ..Limits::default_ceiling()
    };
    let outcome = attempt_with(
        &skill,
        Invocation::new("alloc")
            .input(json!({"mib": 24}))
            .limits(lower),
        None,
    );
    assert_eq!(limit_kind(&outcome), LimitKind::Memory);
    let higher = Limits {
        memory: ByteSize::mib(1024),
        ..Limits::default_ceiling()
    };
    let outcome = attempt_with(
        &skill,
        Invocation::new("alloc")
            .input(json!({"mib": 100}))
            .limits(higher),
        None,
    );
    assert_eq!(limit_kind(&outcome), LimitKind::Memory);
}

/// LIM-008: A typed command's result counts against the output limit too.
#[test]
fn lim_008_oversized_typed_result_hits_the_output_limit() {
    let host = Host::new();
    let toml = format!("{}[limits]\noutput = \"64 KiB\"\n", skill_table("types"));
    let skill = host.load(&TempPackage::new(
        "types",
        skill_test_artifacts::TYPES,
        &toml,
    ));
    assert!(
        attempt(&skill, "big", json!({"n": 1000}), None)
            .result
            .is_ok()
    );
    let outcome = attempt(&skill, "big", json!({"n": 1_000_000}), None);
    assert_eq!(limit_kind(&outcome), LimitKind::Output);
}

/// LIM-009: Many invocations of a limit-hitting skill leave the host able to run others (no leaked state).
#[test]
fn lim_009_host_survives_repeated_limit_hits_concurrently() {
    let host = Host::new();
    let skill = host.load(&escape_package(
        "[limits]\nmemory = \"16 MiB\"\ntimeout = \"200ms\"\n",
    ));
    let outcomes = block_on(async {
        let mut tasks = Vec::new();
        for i in 0..16 {
            let skill = skill.clone();
            let (name, input) = if i % 2 == 0 {
                ("alloc", json!({"mib": 1000}))
            } else {
                ("spin", json!({}))
            };
            tasks.push(tokio::spawn(async move {
                skill.invoke(Invocation::new(name).input(input)).await
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.expect("task").expect("started"));
        }
        outcomes
    });
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o.result, Err(Failure::Limit { .. })))
    );
    assert!(
        attempt(&skill, "echo", json!("still here"), None)
            .result
            .is_ok()
    );
}

/// LIM-010: A flood of open handles stops at the runtime's fixed cap instead of growing host memory.
#[test]
fn lim_010_resource_handle_flood_is_capped() {
    // A descriptor budget above the handle cap, so the cap is what stops it
    // (FD-001 covers the budget).
    let state = tempfile::tempdir().expect("state");
    let config = RuntimeConfig::builder(state.path())
        .max_guest_descriptors(10_000)
        .max_concurrent_invocations(1)
        .build();
    let runtime = Runtime::new(config).expect("runtime");
    let workspace = tempfile::tempdir().expect("workspace");
    std::fs::create_dir(workspace.path().join("rw")).expect("rw");
    std::fs::write(workspace.path().join("rw/f"), "x").expect("file");
    let skill = runtime
        .load(
            escape_package(
                "files = [{ guest = \"/rw\", host = \"{workspace}/rw\", access = \"read\" }]\n",
            )
            .path(),
        )
        .expect("load");
    let outcome = attempt(
        &skill,
        "open-many",
        json!({"path": "/rw/f", "count": 100}),
        Some(workspace.path()),
    );
    assert_eq!(ok_value(&outcome), 100);
    let outcome = attempt(
        &skill,
        "open-many",
        json!({"path": "/rw/f", "count": 100_000}),
        Some(workspace.path()),
    );
    assert_eq!(
        limit_kind(&outcome),
        LimitKind::Table,
        "{:?}",
        outcome.result
    );
    assert!(
        failure(&outcome).message().contains("resource handles"),
        "{}",
        failure(&outcome).message()
    );
}

/// LIM-011: A component that spins while being instantiated (a start function) is stopped at the timeout.
#[test]
fn lim_011_spinning_start_function_is_stopped() {
    let host = Host::new();
    let component = wat::parse_str(
        r#"(component
             (core module $m (func $spin (loop $l (br $l))) (start $spin) (func (export "f")))
             (core instance $i (instantiate $m))
             (func (export "f") (canon lift (core func $i "f"))))"#,
    )
    .expect("wat");
    let skill = host.load(&wat_package(
        "spinner",
        &component,
        "[limits]\ntimeout = \"300ms\"\n",
    ));
    let started = std::time::Instant::now();
    let outcome = attempt(&skill, "f", json!({}), None);
    assert!(
        matches!(
            failure(&outcome),
            Failure::Limit {
                kind: LimitKind::Timeout,
                ..
            }
        ),
        "{:?}",
        outcome.result
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

/// LIM-012: A table cannot grow past the runtime's fixed cap of 100,000 elements; smaller growth works.
#[test]
fn lim_012_table_growth_is_capped() {
    let host = Host::new();
    let component = wat::parse_str(
        r#"(component
             (core module $m
               (table $t 1 funcref)
               (func (export "grow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0))))
             (core instance $i (instantiate $m))
             (func (export "grow") (param "n" u32) (result s32) (canon lift (core func $i "grow"))))"#,
    )
    .expect("wat");
    let skill = host.load(&wat_package("tables", &component, ""));
    assert_eq!(
        attempt(&skill, "grow", json!({"n": 10}), None).result,
        Ok(json!(1)),
        "growth under the cap works"
    );
    assert_eq!(
        attempt(&skill, "grow", json!({"n": 200_000}), None).result,
        Ok(json!(-1)),
        "growth past the cap is refused"
    );
}

/// LIM-013: A typed result that would make the host allocate far more than the guest's own memory (a `list<u8>` lifts to one value per byte) is refused at `limits.output` before the host allocates it.
#[test]
fn lim_013_result_amplification_is_refused_before_lifting() {
    let _alone = load_spike();
    let host = Host::new();
    // Returns a list of `n` bytes that sit in the guest's memory.
    let component = wat::parse_str(
        r#"(component
             (core module $m
               (memory (export "mem") 1)
               (func (export "flood") (param $n i32) (result i32)
                 (drop (memory.grow (i32.add (i32.shr_u (local.get $n) (i32.const 16)) (i32.const 1))))
                 (i32.store (i32.const 0) (i32.const 16))
                 (i32.store (i32.const 4) (local.get $n))
                 (i32.const 0)))
             (core instance $i (instantiate $m))
             (func (export "flood") (param "n" u32) (result (list u8))
               (canon lift (core func $i "flood") (memory (core memory $i "mem")))))"#,
    )
    .expect("wat");
    let skill = host.load(&wat_package(
        "flood",
        &component,
        "[limits]\noutput = \"64 KiB\"\nmemory = \"16 MiB\"\n",
    ));
    let small = attempt(&skill, "flood", json!({"n": 1000}), None);
    assert_eq!(
        small
            .result
            .as_ref()
            .ok()
            .and_then(Value::as_array)
            .map(Vec::len),
        Some(1000),
        "{:?}",
        small.result
    );

    // 2 MiB of guest memory: lifted whole it would be some 80 MiB of values
    // and 64 MiB of JSON per invocation, for a result the output limit refuses anyway.
    let before = heap::start();
    let outcomes = block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let skill = skill.clone();
            tasks.push(tokio::spawn(async move {
                skill
                    .invoke(Invocation::new("flood").input(json!({"n": 2 << 20})))
                    .await
            }));
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("task").expect("started"));
        }
        outcomes
    });
    let grown = heap::grown_since(before);
    for outcome in &outcomes {
        assert_eq!(
            limit_kind(outcome),
            LimitKind::Output,
            "{:?}",
            outcome.result
        );
        assert!(
            failure(outcome).message().contains("limits.output"),
            "{}",
            failure(outcome).message()
        );
    }
    assert!(
        grown < 48 << 20,
        "the host heap grew by {} MiB lifting results it refused",
        grown >> 20
    );
}

/// LIM-014: A component that would instantiate more core instances than the runtime's fixed cap (64) is refused at load, before any of it runs; one under the cap runs.
#[test]
fn lim_014_instance_count_is_capped() {
    let host = Host::new();
    let component = |instances: usize| {
        let extra: String = (0..instances)
            .map(|n| format!("(core instance $e{n} (instantiate $empty))\n"))
            .collect();
        wat::parse_str(format!(
            r#"(component
                 (core module $empty)
                 {extra}
                 (core module $m (func (export "f") (result i32) (i32.const 7)))
                 (core instance $i (instantiate $m))
                 (func (export "f") (result u32) (canon lift (core func $i "f"))))"#
        ))
        .expect("wat")
    };
    let fits = host.load(&wat_package("instances-ok", &component(10), ""));
    assert_eq!(attempt(&fits, "f", json!({}), None).result, Ok(json!(7)));
    let err = host.load_err(&wat_package("instances", &component(200), ""));
    assert!(
        matches!(err, skill_runtime::LoadError::InvalidComponent { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("201 core module instances")
            && err.to_string().contains("maximum of 64"),
        "{err}"
    );
}

/// LIM-015: A skill minting its own resource handles (`resource.new` in a loop, no host call involved) stops at the runtime's handle cap instead of growing host tables.
#[test]
fn lim_015_guest_resource_handle_flood_is_capped() {
    let host = Host::new();
    let component = wat::parse_str(
        r#"(component
             (type $r (resource (rep i32)))
             (core func $new (canon resource.new $r))
             (core module $m
               (import "" "new" (func $new (param i32) (result i32)))
               (func (export "hoard") (param $n i32) (result i32)
                 (local $i i32)
                 (block $done
                   (loop $more
                     (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
                     (drop (call $new (local.get $i)))
                     (local.set $i (i32.add (local.get $i) (i32.const 1)))
                     (br $more)))
                 (local.get $i)))
             (core instance $i (instantiate $m (with "" (instance (export "new" (func $new))))))
             (func (export "hoard") (param "n" u32) (result u32) (canon lift (core func $i "hoard"))))"#,
    )
    .expect("wat");
    let skill = host.load(&wat_package("hoarder", &component, ""));
    assert_eq!(
        attempt(&skill, "hoard", json!({"n": 100}), None).result,
        Ok(json!(100))
    );
    let outcome = attempt(&skill, "hoard", json!({"n": 5_000_000}), None);
    assert_eq!(
        limit_kind(&outcome),
        LimitKind::Table,
        "{:?}",
        outcome.result
    );
    assert!(
        failure(&outcome)
            .message()
            .contains("live resource handles"),
        "{}",
        failure(&outcome).message()
    );
}
