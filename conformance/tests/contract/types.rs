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
    assert_eq!(failure(&outcome).exit_code(), 1);
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
