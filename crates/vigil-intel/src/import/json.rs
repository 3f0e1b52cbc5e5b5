//! JSON helpers for the JSON formats: parsing with a located error, and typed property reads
//! whose errors say which property was wrong and what it held.

use serde_json::{Map, Value};

use crate::IntelError;

/// Parses `data` (a UTF-8 byte-order mark is allowed); malformed JSON is an error located at
/// its line.
pub fn parse(data: &[u8]) -> Result<Value, IntelError> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    serde_json::from_slice(data).map_err(|e| {
        let full = e.to_string();
        let what = full.split(" at line ").next().unwrap_or(&full);
        IntelError::invalid(format!("malformed JSON: {what} (column {})", e.column()))
            .at(format!("line {}", e.line()))
    })
}

/// The JSON kind of a value, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string property; absent or `null` is `None`, another kind is an error.
pub fn opt_str<'a>(o: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, IntelError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(IntelError::invalid(format!(
            "property {key} must be a string, found {}",
            kind(v)
        ))),
    }
}

/// A required string property.
pub fn req_str<'a>(o: &'a Map<String, Value>, key: &str) -> Result<&'a str, IntelError> {
    opt_str(o, key)?.ok_or_else(|| IntelError::invalid(format!("missing required property {key}")))
}

/// A boolean property; absent or `null` is `None`. MISP exports also write `"1"`/`"0"`,
/// `1`/`0` and `"true"`/`"false"`, which are accepted.
pub fn opt_bool(o: &Map<String, Value>, key: &str) -> Result<Option<bool>, IntelError> {
    let bad =
        |v: &Value| IntelError::invalid(format!("property {key} must be true or false, found {v}"));
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v @ Value::Number(n)) => match n.as_u64() {
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            _ => Err(bad(v)),
        },
        Some(v @ Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "1" | "true" => Ok(Some(true)),
            "0" | "false" => Ok(Some(false)),
            _ => Err(bad(v)),
        },
        Some(v) => Err(bad(v)),
    }
}

/// A list of strings; absent or `null` is empty.
pub fn str_list(o: &Map<String, Value>, key: &str) -> Result<Vec<String>, IntelError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(IntelError::invalid(format!(
                    "property {key} must hold strings, found {}",
                    kind(other)
                ))),
            })
            .collect(),
        Some(v) => Err(IntelError::invalid(format!(
            "property {key} must be a list of strings, found {}",
            kind(v)
        ))),
    }
}

/// A list of values; absent or `null` is empty.
pub fn list<'a>(o: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], IntelError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(v) => Err(IntelError::invalid(format!(
            "property {key} must be a list, found {}",
            kind(v)
        ))),
    }
}

/// A timestamp property in unix ms; text that is not a timestamp is an error.
pub fn opt_time(o: &Map<String, Value>, key: &str) -> Result<Option<i64>, IntelError> {
    match opt_str(o, key)? {
        None => Ok(None),
        Some(s) => super::time::parse_ms(s).map(Some).ok_or_else(|| {
            IntelError::invalid(format!("property {key} {s:?} is not an RFC 3339 timestamp"))
        }),
    }
}
