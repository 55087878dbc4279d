//! JSON to component values and back, following the mapping documented in
//! [`super::schema`]. Input errors name the JSON path (`$.options.limit`)
//! and what was expected there.

use serde_json::{Map, Value};
use wasmtime::component::Val;
use wasmtime::component::types::Type;

/// Converts `value` to a component value of type `ty`; `path` names where
/// `value` sits in the input, for error messages.
pub(crate) fn from_json(value: &Value, ty: &Type, path: &str) -> Result<Val, String> {
    let expected = |what: &str| format!("{path}: expected {what}, found {}", kind_of(value));
    Ok(match ty {
        Type::Bool => Val::Bool(value.as_bool().ok_or_else(|| expected("true or false"))?),
        Type::S8 => Val::S8(int(value, path)?),
        Type::U8 => Val::U8(int(value, path)?),
        Type::S16 => Val::S16(int(value, path)?),
        Type::U16 => Val::U16(int(value, path)?),
        Type::S32 => Val::S32(int(value, path)?),
        Type::U32 => Val::U32(int(value, path)?),
        Type::S64 => Val::S64(int(value, path)?),
        Type::U64 => Val::U64(int(value, path)?),
        Type::Float32 => Val::Float32(float(value).ok_or_else(|| expected("a number"))? as f32),
        Type::Float64 => Val::Float64(float(value).ok_or_else(|| expected("a number"))?),
        Type::Char => {
            let s = value
                .as_str()
                .ok_or_else(|| expected("a one-character string"))?;
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Val::Char(c),
                _ => return Err(expected("exactly one character")),
            }
        }
        Type::String => Val::String(
            value
                .as_str()
                .ok_or_else(|| expected("a string"))?
                .to_owned(),
        ),
        Type::List(list) => {
            let items = value.as_array().ok_or_else(|| expected("an array"))?;
            let item_ty = list.ty();
            Val::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| from_json(v, &item_ty, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::FixedLengthList(list) => {
            let items = value.as_array().ok_or_else(|| expected("an array"))?;
            if items.len() != list.len() as usize {
                return Err(format!(
                    "{path}: expected exactly {} items, found {}",
                    list.len(),
                    items.len()
                ));
            }
            let item_ty = list.ty();
            Val::FixedLengthList(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| from_json(v, &item_ty, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Map(map) => {
            let pairs = value
                .as_array()
                .ok_or_else(|| expected("an array of [key, value] pairs"))?;
            let (kt, vt) = (map.key(), map.value());
            let mut out = Vec::with_capacity(pairs.len());
            for (i, pair) in pairs.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let [k, v] = pair.as_array().map(Vec::as_slice).unwrap_or_default() else {
                    return Err(format!("{p}: expected a [key, value] pair"));
                };
                out.push((
                    from_json(k, &kt, &format!("{p}[0]"))?,
                    from_json(v, &vt, &format!("{p}[1]"))?,
                ));
            }
            Val::Map(out)
        }
        Type::Record(record) => {
            let object = value.as_object().ok_or_else(|| expected("an object"))?;
            record_from_json(object, record.fields().map(|f| (f.name, f.ty)), path)?
        }
        Type::Tuple(tuple) => {
            let items = value.as_array().ok_or_else(|| expected("an array"))?;
            if items.len() != tuple.types().len() {
                return Err(format!(
                    "{path}: expected {} items, found {}",
                    tuple.types().len(),
                    items.len()
                ));
            }
            Val::Tuple(
                tuple
                    .types()
                    .zip(items)
                    .enumerate()
                    .map(|(i, (t, v))| from_json(v, &t, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Variant(variant) => {
            let names: Vec<&str> = variant.cases().map(|c| c.name).collect();
            let (name, payload) = tagged(value, path, &names)?;
            let case = variant.cases().find(|c| c.name == name).ok_or_else(|| {
                format!(
                    "{path}: unknown case `{name}`, expected one of {}",
                    names.join(", ")
                )
            })?;
            let payload = match (&case.ty, payload) {
                (None, None) => None,
                (Some(t), Some(p)) => Some(Box::new(from_json(p, t, &format!("{path}.{name}"))?)),
                (None, Some(_)) => {
                    return Err(format!(
                        "{path}: case `{name}` carries no value; write it as the string \"{name}\""
                    ));
                }
                (Some(_), None) => {
                    return Err(format!(
                        "{path}: case `{name}` needs a value: write {{\"{name}\": ...}}"
                    ));
                }
            };
            Val::Variant(name.to_owned(), payload)
        }
        Type::Enum(e) => {
            let s = value.as_str().ok_or_else(|| expected("a string"))?;
            if !e.names().any(|n| n == s) {
                return Err(format!(
                    "{path}: `{s}` is not one of {}",
                    e.names().collect::<Vec<_>>().join(", ")
                ));
            }
            Val::Enum(s.to_owned())
        }
        Type::Option(option) => match value {
            Value::Null => Val::Option(None),
            v => Val::Option(Some(Box::new(from_json(v, &option.ty(), path)?))),
        },
        Type::Result(result) => {
            let (name, payload) = tagged(value, path, &["ok", "err"])?;
            let side = if name == "ok" {
                result.ok()
            } else {
                result.err()
            };
            let inner = match (side, payload) {
                (None, None | Some(Value::Null)) => None,
                (Some(t), Some(p)) => Some(Box::new(from_json(p, &t, &format!("{path}.{name}"))?)),
                (Some(_), None) => return Err(format!("{path}: `{name}` needs a value")),
                (None, Some(_)) => return Err(format!("{path}: `{name}` carries no value")),
            };
            Val::Result(if name == "ok" { Ok(inner) } else { Err(inner) })
        }
        Type::Flags(flags) => {
            let items = value
                .as_array()
                .ok_or_else(|| expected("an array of flag names"))?;
            let mut set = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let name = item
                    .as_str()
                    .ok_or_else(|| format!("{path}[{i}]: expected a flag name"))?;
                if !flags.names().any(|n| n == name) {
                    return Err(format!(
                        "{path}[{i}]: `{name}` is not one of {}",
                        flags.names().collect::<Vec<_>>().join(", ")
                    ));
                }
                if !set.iter().any(|s| s == name) {
                    set.push(name.to_owned());
                }
            }
            Val::Flags(set)
        }
        Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            return Err(format!("{path}: this type cannot be written in JSON"));
        }
    })
}

/// Converts a JSON object to a record (or a function's parameter list):
/// unknown keys are errors; missing keys are errors unless the field is an option.
pub(crate) fn record_from_json<'a>(
    object: &Map<String, Value>,
    fields: impl Iterator<Item = (&'a str, Type)>,
    path: &str,
) -> Result<Val, String> {
    let fields: Vec<(&str, Type)> = fields.collect();
    if let Some(unknown) = object.keys().find(|k| !fields.iter().any(|(n, _)| n == k)) {
        let known: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "{path}: unknown field `{unknown}`; expected {}",
            if known.is_empty() {
                "no fields".into()
            } else {
                known.join(", ")
            }
        ));
    }
    let mut out = Vec::with_capacity(fields.len());
    for (name, ty) in fields {
        let val = match object.get(name) {
            Some(v) => from_json(v, &ty, &format!("{path}.{name}"))?,
            None if matches!(ty, Type::Option(_)) => Val::Option(None),
            None => return Err(format!("{path}: missing field `{name}`")),
        };
        out.push((name.to_owned(), val));
    }
    Ok(Val::Record(out))
}

/// Converts a component value to JSON.
pub(crate) fn to_json(val: &Val) -> Value {
    match val {
        Val::Bool(b) => Value::Bool(*b),
        Val::S8(n) => Value::from(*n),
        Val::U8(n) => Value::from(*n),
        Val::S16(n) => Value::from(*n),
        Val::U16(n) => Value::from(*n),
        Val::S32(n) => Value::from(*n),
        Val::U32(n) => Value::from(*n),
        Val::S64(n) => Value::from(*n),
        Val::U64(n) => Value::from(*n),
        Val::Float32(f) => float_json(f64::from(*f)),
        Val::Float64(f) => float_json(*f),
        Val::Char(c) => Value::String(c.to_string()),
        Val::String(s) => Value::String(s.clone()),
        Val::List(items) | Val::Tuple(items) | Val::FixedLengthList(items) => {
            Value::Array(items.iter().map(to_json).collect())
        }
        Val::Map(pairs) => Value::Array(
            pairs
                .iter()
                .map(|(k, v)| Value::Array(vec![to_json(k), to_json(v)]))
                .collect(),
        ),
        Val::Record(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
        Val::Variant(name, None) | Val::Enum(name) => Value::String(name.clone()),
        Val::Variant(name, Some(payload)) => {
            Value::Object(Map::from_iter([(name.clone(), to_json(payload))]))
        }
        Val::Option(None) => Value::Null,
        Val::Option(Some(v)) => to_json(v),
        Val::Result(Ok(v)) => Value::Object(Map::from_iter([(
            "ok".into(),
            v.as_deref().map_or(Value::Null, to_json),
        )])),
        Val::Result(Err(v)) => Value::Object(Map::from_iter([(
            "err".into(),
            v.as_deref().map_or(Value::Null, to_json),
        )])),
        Val::Flags(names) => Value::Array(names.iter().cloned().map(Value::String).collect()),
        Val::Resource(_) | Val::Future(_) | Val::Stream(_) | Val::ErrorContext(_) => Value::Null,
    }
}

fn float_json(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
}

fn float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

fn int<T: TryFrom<i64> + TryFrom<u64>>(value: &Value, path: &str) -> Result<T, String> {
    let bounds = std::any::type_name::<T>();
    let converted = match value {
        Value::Number(n) => n
            .as_i64()
            .and_then(|i| T::try_from(i).ok())
            .or_else(|| n.as_u64().and_then(|u| T::try_from(u).ok())),
        _ => None,
    };
    converted.ok_or_else(|| {
        format!(
            "{path}: expected an integer that fits {bounds}, found {}",
            kind_of(value)
        )
    })
}

/// Reads `"name"` or `{"name": payload}`.
fn tagged<'v>(
    value: &'v Value,
    path: &str,
    names: &[&str],
) -> Result<(&'v str, Option<&'v Value>), String> {
    match value {
        Value::String(s) => Ok((s.as_str(), None)),
        Value::Object(o) if o.len() == 1 => {
            let (k, v) = o
                .iter()
                .next()
                .ok_or_else(|| format!("{path}: empty object"))?;
            Ok((k.as_str(), Some(v)))
        }
        other => Err(format!(
            "{path}: expected one of {} as \"name\" or {{\"name\": value}}, found {}",
            names.join(", "),
            kind_of(other)
        )),
    }
}

fn kind_of(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.len() > 40 => format!("a string of {} bytes", s.len()),
        Value::String(s) => format!("{s:?}"),
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Object(_) => "an object".into(),
    }
}
