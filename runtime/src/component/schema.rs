//! JSON Schemas derived from WIT types: what a host shows a model so it can
//! call a command, and what the input is checked against.
//!
//! The mapping (the same as [`super::values`] uses):
//! integers are `integer` with their bounds; floats `number`; `char` a
//! one-character string; records objects with `additionalProperties: false`
//! (option fields may be omitted); tuples arrays with `prefixItems`; enums
//! strings; variants a case name (no payload) or `{case: payload}`; options
//! the value or `null`; results `{"ok": ..}` or `{"err": ..}`; flags arrays of
//! flag names; lists arrays.

use serde_json::{Value, json};
use wasmtime::component::types::Type;

/// The schema of one WIT type. Resources, futures and streams cannot be
/// written in JSON; they come out as `false` (nothing matches) and make the
/// command uncallable, see [`unsupported`].
pub(crate) fn of(ty: &Type) -> Value {
    match ty {
        Type::Bool => json!({"type": "boolean"}),
        Type::S8 => int(i8::MIN as i128, i8::MAX as i128),
        Type::U8 => int(0, u8::MAX as i128),
        Type::S16 => int(i16::MIN as i128, i16::MAX as i128),
        Type::U16 => int(0, u16::MAX as i128),
        Type::S32 => int(i32::MIN as i128, i32::MAX as i128),
        Type::U32 => int(0, u32::MAX as i128),
        Type::S64 => int(i64::MIN as i128, i64::MAX as i128),
        Type::U64 => int(0, u64::MAX as i128),
        Type::Float32 | Type::Float64 => json!({"type": "number"}),
        Type::Char => json!({"type": "string", "minLength": 1, "maxLength": 1}),
        Type::String => json!({"type": "string"}),
        Type::List(list) => json!({"type": "array", "items": of(&list.ty())}),
        Type::FixedLengthList(list) => {
            let n = list.len();
            json!({"type": "array", "items": of(&list.ty()), "minItems": n, "maxItems": n})
        }
        Type::Map(map) => json!({
            "type": "array",
            "items": {"type": "array", "prefixItems": [of(&map.key()), of(&map.value())], "items": false, "minItems": 2}
        }),
        Type::Record(record) => {
            let mut properties = serde_json::Map::new();
            let mut required = Vec::new();
            for field in record.fields() {
                if !matches!(field.ty, Type::Option(_)) {
                    required.push(Value::String(field.name.to_owned()));
                }
                properties.insert(field.name.to_owned(), of(&field.ty));
            }
            json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
        }
        Type::Tuple(tuple) => {
            let items: Vec<Value> = tuple.types().map(|t| of(&t)).collect();
            let n = items.len();
            json!({"type": "array", "prefixItems": items, "items": false, "minItems": n})
        }
        Type::Variant(variant) => {
            let cases: Vec<Value> = variant
                .cases()
                .map(|case| match &case.ty {
                    None => json!({"const": case.name}),
                    Some(payload) => json!({
                        "type": "object",
                        "properties": {case.name: of(payload)},
                        "required": [case.name],
                        "additionalProperties": false
                    }),
                })
                .collect();
            json!({"oneOf": cases})
        }
        Type::Enum(e) => json!({"type": "string", "enum": e.names().collect::<Vec<_>>()}),
        Type::Option(option) => json!({"anyOf": [of(&option.ty()), {"type": "null"}]}),
        Type::Result(result) => {
            let side = |t: Option<Type>| t.map_or(json!({"type": "null"}), |t| of(&t));
            json!({"oneOf": [
                {"type": "object", "properties": {"ok": side(result.ok())}, "required": ["ok"], "additionalProperties": false},
                {"type": "object", "properties": {"err": side(result.err())}, "required": ["err"], "additionalProperties": false}
            ]})
        }
        Type::Flags(flags) => json!({
            "type": "array",
            "items": {"type": "string", "enum": flags.names().collect::<Vec<_>>()},
            "uniqueItems": true
        }),
        Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            Value::Bool(false)
        }
    }
}

fn int(min: i128, max: i128) -> Value {
    // i128 keeps u64::MAX exact; serde_json writes it as a plain number.
    let bound = |n: i128| {
        i64::try_from(n)
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(u64::try_from(n).unwrap_or(u64::MAX)))
    };
    json!({"type": "integer", "minimum": bound(min), "maximum": bound(max)})
}

/// Why a type cannot be carried in JSON, if it cannot.
pub(crate) fn unsupported(ty: &Type) -> Option<&'static str> {
    match ty {
        Type::Own(_) | Type::Borrow(_) => Some("it passes a resource handle"),
        Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            Some("it passes an async future, stream or error-context")
        }
        Type::List(l) => unsupported(&l.ty()),
        Type::FixedLengthList(l) => unsupported(&l.ty()),
        Type::Map(m) => unsupported(&m.key()).or_else(|| unsupported(&m.value())),
        Type::Record(r) => r.fields().find_map(|f| unsupported(&f.ty)),
        Type::Tuple(t) => t.types().find_map(|t| unsupported(&t)),
        Type::Variant(v) => v.cases().find_map(|c| c.ty.as_ref().and_then(unsupported)),
        Type::Option(o) => unsupported(&o.ty()),
        Type::Result(r) => r
            .ok()
            .as_ref()
            .and_then(unsupported)
            .or_else(|| r.err().as_ref().and_then(unsupported)),
        _ => None,
    }
}
