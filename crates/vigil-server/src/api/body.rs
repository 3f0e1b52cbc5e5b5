//! JSON request bodies read field by field, so that every refusal names the field: an unknown
//! field is refused with the list of allowed ones, a value of the wrong type with the type
//! expected.

use serde_json::{Map, Value};

use super::{bad, ApiError};

/// A whole-number query parameter (`limit`, `offset`), `default` when absent; refuses what is
/// not a number or does not fit the database's signed 64 bits.
pub(crate) fn page_param(
    q: &std::collections::HashMap<String, String>,
    name: &str,
    default: u64,
) -> Result<u64, ApiError> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| i64::try_from(*n).is_ok())
            .ok_or_else(|| {
                bad(format!(
                    "parameter {name} must be a whole number from 0 to {}, not {v:?}",
                    i64::MAX
                ))
            }),
    }
}

/// A JSON object body whose fields were checked against a list.
pub(crate) struct Body(Map<String, Value>);

impl Body {
    /// Parse `raw` as a JSON object with only `allowed` fields.
    pub fn parse(raw: &[u8], allowed: &[&str]) -> Result<Body, ApiError> {
        let v: Value = if raw.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice(raw).map_err(|e| bad(format!("invalid request body: {e}")))?
        };
        let Value::Object(map) = v else {
            return Err(bad("invalid request body: expected a JSON object"));
        };
        if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(bad(format!(
                "unknown field {k:?}: the allowed fields are {}",
                allowed.join(", ")
            )));
        }
        Ok(Body(map))
    }

    /// A text field: absent → `None`, `null` → `Some(None)`, a string → `Some(Some(_))`.
    pub fn text(&self, name: &str) -> Result<Option<Option<String>>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
            Some(other) => Err(bad(format!(
                "field {name} must be a string (or null), not {other}"
            ))),
        }
    }

    /// A text field that may not be null.
    pub fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.text(name)? {
            Some(None) => Err(bad(format!("field {name} must be a string, not null"))),
            v => Ok(v.flatten()),
        }
    }

    /// An integer field (absent or null: `None`).
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            Some(other) => Err(bad(format!("field {name} must be an integer, not {other}"))),
        }
    }

    /// A list of strings (absent or null: empty).
    pub fn strings(&self, name: &str) -> Result<Vec<String>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str().map(str::to_string).ok_or_else(|| {
                        bad(format!("field {name} must be a list of strings, found {i}"))
                    })
                })
                .collect(),
            Some(other) => Err(bad(format!(
                "field {name} must be a list of strings, not {other}"
            ))),
        }
    }

    /// An expiry given as `ttl_seconds` (from `now_ms`) or `expires_ms` (unix ms): absent →
    /// `None`; either given as null → `Some(None)` (no expiry); else the time.
    pub fn expiry(&self, now_ms: i64) -> Result<Option<Option<i64>>, ApiError> {
        let nulls = ["ttl_seconds", "expires_ms"]
            .iter()
            .any(|k| matches!(self.0.get(*k), Some(Value::Null)));
        match (self.int("ttl_seconds")?, self.int("expires_ms")?) {
            (Some(_), Some(_)) => Err(bad("give ttl_seconds or expires_ms, not both")),
            (Some(t), None) if t <= 0 => {
                Err(bad(format!("field ttl_seconds must be positive, not {t}")))
            }
            (Some(t), None) => Ok(Some(Some(now_ms.saturating_add(t.saturating_mul(1000))))),
            (None, Some(e)) => Ok(Some(Some(e))),
            (None, None) if nulls => Ok(Some(None)),
            (None, None) => Ok(None),
        }
    }

    /// A boolean field (absent or null: `None`).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(bad(format!(
                "field {name} must be true or false, not {other}"
            ))),
        }
    }

    /// The raw value of a field.
    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(r: Result<impl Sized, ApiError>) -> String {
        match r {
            Err(e) => e.1,
            Ok(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn refusals_name_the_field() {
        let e = msg(Body::parse(br#"{"stauts": "New"}"#, &["status", "comment"]));
        assert_eq!(
            e,
            "unknown field \"stauts\": the allowed fields are status, comment"
        );
        let b = Body::parse(
            br#"{"status": 3, "assignee": null}"#,
            &["status", "assignee"],
        )
        .unwrap();
        assert_eq!(
            msg(b.text("status")),
            "field status must be a string (or null), not 3"
        );
        assert_eq!(b.text("assignee").unwrap(), Some(None));
        assert_eq!(b.text("missing").unwrap(), None);
        assert!(Body::parse(b"[1]", &[]).is_err());
        assert!(Body::parse(b"", &[]).is_ok());
    }
}
