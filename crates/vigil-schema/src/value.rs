//! Cell values: the typed contents of one column of one row.

use std::collections::BTreeMap;
use std::fmt;

use crate::columns::ColumnType;

/// An instant in UTC, in nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_nanos() as i64)
    }

    /// From seconds and nanoseconds since the epoch.
    pub fn from_parts(secs: i64, nanos: u32) -> Timestamp {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(nanos as i64),
        )
    }

    /// Nanoseconds since the epoch.
    pub fn nanos(self) -> i64 {
        self.0
    }
}

/// RFC 3339 in UTC with nine fractional digits, e.g. `2026-11-24T18:43:06.123456789Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000_000);
        let nanos = self.0.rem_euclid(1_000_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        )
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A semi-structured value (KQL `dynamic`), e.g. `AdditionalFields`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Dynamic {
    #[default]
    Null,
    Bool(bool),
    Long(i64),
    Real(f64),
    String(String),
    Array(Vec<Dynamic>),
    Object(BTreeMap<String, Dynamic>),
}

impl Dynamic {
    /// An empty object.
    pub fn object() -> Dynamic {
        Dynamic::Object(BTreeMap::new())
    }

    /// Insert `key` into an object (turning `Null` into an object first). Other values are
    /// left as they are.
    pub fn insert(&mut self, key: &str, value: impl Into<Dynamic>) {
        if matches!(self, Dynamic::Null) {
            *self = Dynamic::object();
        }
        if let Dynamic::Object(map) = self {
            map.insert(key.to_string(), value.into());
        }
    }

    /// A member of an object.
    pub fn get(&self, key: &str) -> Option<&Dynamic> {
        match self {
            Dynamic::Object(map) => map.get(key),
            _ => None,
        }
    }

    /// Parse JSON text (strictly); the error says what is wrong and at which byte.
    pub fn parse_json(text: &str) -> Result<Dynamic, String> {
        crate::json::parse(text)
    }

    /// The compact JSON text of the value (how storage and the wire carry `dynamic`).
    pub fn to_json(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Dynamic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dynamic::Null => f.write_str("null"),
            Dynamic::Bool(b) => write!(f, "{b}"),
            Dynamic::Long(n) => write!(f, "{n}"),
            // `{:?}` keeps a fraction or exponent (`1.0`, `1e20`), so a real stays real in JSON.
            Dynamic::Real(x) if x.is_finite() => write!(f, "{x:?}"),
            Dynamic::Real(_) => f.write_str("null"),
            Dynamic::String(s) => write_json_string(f, s),
            Dynamic::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Dynamic::Object(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_json_string(f, k)?;
                    write!(f, ":{v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// `s` as a JSON string literal.
pub(crate) fn write_json_string(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl From<bool> for Dynamic {
    fn from(v: bool) -> Self {
        Dynamic::Bool(v)
    }
}
impl From<i64> for Dynamic {
    fn from(v: i64) -> Self {
        Dynamic::Long(v)
    }
}
impl From<u32> for Dynamic {
    fn from(v: u32) -> Self {
        Dynamic::Long(v as i64)
    }
}
impl From<u64> for Dynamic {
    fn from(v: u64) -> Self {
        Dynamic::Long(v.min(i64::MAX as u64) as i64)
    }
}
impl From<&str> for Dynamic {
    fn from(v: &str) -> Self {
        Dynamic::String(v.to_string())
    }
}
impl From<String> for Dynamic {
    fn from(v: String) -> Self {
        Dynamic::String(v)
    }
}
impl<T: Into<Dynamic>> From<Vec<T>> for Dynamic {
    fn from(v: Vec<T>) -> Self {
        Dynamic::Array(v.into_iter().map(Into::into).collect())
    }
}

/// The value of one cell.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    String(String),
    Long(i64),
    Int(i32),
    Bool(bool),
    DateTime(Timestamp),
    Dynamic(Dynamic),
}

impl Value {
    /// The column type this value fits, or `None` for `Null` (which fits every column).
    pub fn ty(&self) -> Option<ColumnType> {
        Some(match self {
            Value::Null => return None,
            Value::String(_) => ColumnType::String,
            Value::Long(_) => ColumnType::Long,
            Value::Int(_) => ColumnType::Int,
            Value::Bool(_) => ColumnType::Bool,
            Value::DateTime(_) => ColumnType::DateTime,
            Value::Dynamic(_) => ColumnType::Dynamic,
        })
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Long(n) => Some(*n),
            Value::Int(n) => Some(*n as i64),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Long(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<Timestamp> for Value {
    fn from(v: Timestamp) -> Self {
        Value::DateTime(v)
    }
}
impl From<Dynamic> for Value {
    fn from(v: Dynamic) -> Self {
        Value::Dynamic(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_rfc3339_with_nanoseconds() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000000Z");
        // 2026-11-24T18:43:06.123456789Z, checked with `date -u -d @1795545786`.
        assert_eq!(
            Timestamp::from_parts(1_795_545_786, 123_456_789).to_string(),
            "2026-11-24T18:43:06.123456789Z"
        );
        assert_eq!(
            Timestamp::from_parts(951_782_400, 0).to_string(),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn dynamic_is_valid_json_with_escapes() {
        let mut d = Dynamic::object();
        d.insert("argv_truncated", true);
        d.insert("name", "a\"b\\c\n\u{1}");
        d.insert("list", vec![1i64, 2]);
        assert_eq!(
            d.to_json(),
            r#"{"argv_truncated":true,"list":[1,2],"name":"a\"b\\c\n\u0001"}"#
        );
    }
}
