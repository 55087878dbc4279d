//! TYPE: JSON input converted to component values and back, for every WIT type.

use serde_json::json;
use skill_runtime::{ComponentKind, InvokeError};

use super::*;

fn types_skill(host: &Host) -> Skill {
    host.load(&TempPackage::new(
        "types",
        skill_test_artifacts::TYPES,
        &skill_table("types"),
    ))
}

fn everything() -> serde_json::Value {
    json!({
        "flag": true, "small": -128, "byte": 255, "short": -32768, "ushort": 65535,
        "int": -2147483648i64, "uint": 4294967295u64, "long": i64::MIN, "ulong": u64::MAX,
        "real": 1.5, "double": -0.25, "letter": "λ", "text": "naïve ☃",
        "items": ["a", "b"], "pair": ["x", 7], "color": "green", "perms": ["read", "exec"],
        "shape": {"rect": [3, 4]}, "maybe": null, "outcome": {"err": 404},
        "nested": [null, "blue"]
    })
}

/// TYPE-001: Every supported type round-trips through JSON unchanged.
#[test]
fn type_001_every_type_round_trips() {
    let host = Host::new();
    let skill = types_skill(&host);
    assert_eq!(skill.kind(), ComponentKind::Typed);
    let outcome = attempt(&skill, "echo", json!({"value": everything()}), None);
    assert_eq!(outcome.result.expect("echo"), everything());
    let mut with_point = everything();
    with_point["shape"] = json!("point");
    with_point["maybe"] = json!(5);
    with_point["outcome"] = json!({"ok": "fine"});
    assert_eq!(
        attempt(&skill, "echo", json!({"value": with_point.clone()}), None)
            .result
            .expect("echo"),
        with_point
    );
}

/// TYPE-002: Input that does not fit the schema is refused before the skill runs, naming the JSON path.
#[test]
fn type_002_bad_input_names_the_path() {
    let host = Host::new();
    let skill = types_skill(&host);
    for (mutate, expect) in [
        (json!({"byte": 256}), "$.value.byte"),
        (json!({"color": "purple"}), "$.value.color"),
        (json!({"perms": ["root"]}), "$.value.perms[0]"),
        (json!({"letter": "ab"}), "$.value.letter"),
        (json!({"shape": {"triangle": 1}}), "$.value.shape"),
        (json!({"extra": 1}), "unknown field `extra`"),
    ] {
        let mut value = everything();
        for (k, v) in mutate.as_object().expect("object") {
            value[k] = v.clone();
        }
        let err = block_on(skill.invoke(Invocation::new("echo").input(json!({"value": value}))))
            .expect_err("bad input");
        assert!(matches!(err, InvokeError::BadInput { .. }), "{err}");
        assert!(
            err.to_string().contains(expect),
            "{err} should mention {expect}"
        );
    }
    let err = block_on(skill.invoke(Invocation::new("add").input(json!({"a": 1}))))
        .expect_err("missing b");
    assert!(err.to_string().contains("missing field `b`"), "{err}");
    let err = block_on(skill.invoke(Invocation::new("nope"))).expect_err("unknown command");
    assert!(
        err.to_string().contains("echo") && err.to_string().contains("add"),
        "{err}"
    );
}

/// TYPE-003: Optional parameters may be left out; numbers keep their full range.
#[test]
fn type_003_optional_parameters_and_wide_numbers() {
    let host = Host::new();
    let skill = types_skill(&host);
    assert_eq!(
        attempt(&skill, "add", json!({"a": u32::MAX, "b": u32::MAX}), None)
            .result
            .expect("add"),
        json!(8589934590u64)
    );
    assert_eq!(
        attempt(&skill, "add", json!({"a": 1, "b": 2, "c": 3}), None)
            .result
            .expect("add"),
        json!(6)
    );
    assert_eq!(
        attempt(&skill, "nothing", json!({}), None)
            .result
            .expect("nothing"),
        serde_json::Value::Null
    );
}

/// TYPE-004: A top-level `err` is the skill failing, carrying its error value; `ok` is unwrapped.
#[test]
fn type_004_result_err_is_a_skill_failure() {
    let host = Host::new();
    let skill = types_skill(&host);
    assert_eq!(
        attempt(&skill, "maybe-fail", json!({"fail": false}), None)
            .result
            .expect("ok"),
        json!("fine")
    );
    let outcome = attempt(&skill, "maybe-fail", json!({"fail": true}), None);
    let Failure::SkillError { value, .. } = failure(&outcome) else {
        panic!("expected a skill error")
    };
    assert_eq!(value, &Some(json!({"rect": [3, 4]})));
    assert!(matches!(failure(&outcome), Failure::SkillError { .. }));
}

/// TYPE-005: Schemas describe integers as bounded integers and records as closed objects.
#[test]
fn type_005_schemas_are_precise() {
    let host = Host::new();
    let skill = types_skill(&host);
    let echo = skill
        .commands()
        .into_iter()
        .find(|c| c.name == "echo")
        .expect("echo");
    let fields = &echo.input_schema["properties"]["value"];
    assert_eq!(fields["additionalProperties"], json!(false));
    assert_eq!(
        fields["properties"]["byte"],
        json!({"type": "integer", "minimum": 0, "maximum": 255})
    );
    assert_eq!(fields["properties"]["ulong"]["maximum"], json!(u64::MAX));
    assert!(
        !fields["required"]
            .as_array()
            .expect("required")
            .contains(&json!("maybe"))
    );
    let fail = skill
        .commands()
        .into_iter()
        .find(|c| c.name == "maybe-fail")
        .expect("maybe-fail");
    assert_eq!(fail.output_schema, json!({"type": "string"}));
    assert!(fail.error_schema.is_some());
}

/// Arbitrary JSON: nulls, booleans, numbers of every size, strings with any characters, nested arrays and objects.
fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "\\PC{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("red"),
            Just("read"),
            Just("point"),
            Just("ok"),
            Just("err"),
            Just("λ")
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("flag".to_owned()),
                    Just("byte".to_owned()),
                    Just("shape".to_owned()),
                    Just("rect".to_owned()),
                    Just("ok".to_owned()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// TYPE-006: Arbitrary JSON input never crashes the conversion or the host: it is refused as bad input, or converted and round-tripped exactly.
#[test]
fn type_006_arbitrary_json_is_refused_or_round_trips() {
    use proptest::test_runner::{Config, TestRunner};
    let host = Host::new();
    let skill = types_skill(&host);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&arbitrary_json(), |value| {
            for (command, input) in [
                ("echo", json!({"value": value.clone()})),
                ("add", value.clone()),
                ("maybe-fail", value.clone()),
            ] {
                match tokio.block_on(skill.invoke(Invocation::new(command).input(input))) {
                    Err(InvokeError::BadInput { .. }) => {}
                    Err(other) => panic!("{command}: unexpected error {other}"),
                    Ok(outcome) if command == "echo" => {
                        assert_eq!(outcome.result.expect("echo runs"), value)
                    }
                    Ok(outcome) => assert!(
                        !matches!(
                            outcome.result,
                            Err(Failure::Trap { .. }) | Err(Failure::Limit { .. })
                        ),
                        "{command}: {:?}",
                        outcome.result
                    ),
                }
            }
            Ok(())
        })
        .expect("property holds");
    // Valid values with random contents: every one converts and round-trips.
    use proptest::prelude::*;
    let valid = (
        any::<u32>(),
        any::<u32>(),
        proptest::option::of(any::<u32>()),
        "\\PC{0,40}",
        any::<char>(),
        any::<i64>(),
        any::<u64>(),
        proptest::collection::vec("\\PC{0,8}", 0..5),
    );
    let accepted = std::sync::atomic::AtomicU32::new(0);
    TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    })
    .run(&valid, |(a, b, c, text, letter, long, ulong, items)| {
        let sum = tokio
            .block_on(skill.invoke(Invocation::new("add").input(json!({"a": a, "b": b, "c": c}))))
            .expect("valid add");
        assert_eq!(
            sum.result.expect("add runs"),
            json!(u64::from(a) + u64::from(b) + u64::from(c.unwrap_or(0)))
        );
        let mut value = everything();
        value["text"] = json!(text);
        value["letter"] = json!(letter.to_string());
        value["long"] = json!(long);
        value["ulong"] = json!(ulong);
        value["items"] = json!(items);
        let echoed = tokio
            .block_on(skill.invoke(Invocation::new("echo").input(json!({"value": value.clone()}))))
            .expect("valid echo");
        assert_eq!(echoed.result.expect("echo runs"), value);
        accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    })
    .expect("property holds");
    assert_eq!(accepted.into_inner(), 256);
}
