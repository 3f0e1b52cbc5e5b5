//! JSON text helpers: a scanner that finds a property or element without building a tree,
//! canonical (serde_json compact) text of a value, cheap reading of a top-level scalar, and
//! KQL's structural equality and ordering of values.
//!
//! **Invariant:** a JSON `null` and SQL null are the same KQL value (null dynamic): functions
//! that would return the text `null` as a whole value return SQL null instead.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The index just after the string whose opening quote is at `i`.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// The index just after the value that starts at `i` (no leading whitespace). Containers are
/// matched by depth, not validated: callers that return a container re-parse it.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// The raw text of property `key` of the object `json`, if it is an object that has it.
pub(crate) fn raw_property<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let b = json.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return None;
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let k_end = string_end(b, i)?;
        let raw_key = &json[i + 1..k_end - 1];
        let matches = if raw_key.contains('\\') {
            serde_json::from_str::<String>(&json[i..k_end]).ok()? == key
        } else {
            raw_key == key
        };
        i = skip_ws(b, k_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let v_start = skip_ws(b, i + 1);
        let v_end = value_end(b, v_start)?;
        if matches {
            return Some(&json[v_start..v_end]);
        }
        i = skip_ws(b, v_end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            _ => return None,
        }
    }
}

/// The raw texts of the elements of the array `json`, if it is an array.
pub(crate) fn raw_elements(json: &str) -> Option<Vec<&str>> {
    let b = json.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let mut out = Vec::new();
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b']') {
        return Some(out);
    }
    loop {
        let end = value_end(b, i)?;
        out.push(&json[i..end]);
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b']') => return Some(out),
            _ => return None,
        }
    }
}

/// The raw text of element `index` (negative: from the end) of the array `json`.
pub(crate) fn raw_element(json: &str, index: i64) -> Option<&str> {
    let elems = raw_elements(json)?;
    let n = elems.len() as i64;
    let i = if index < 0 { n + index } else { index };
    if (0..n).contains(&i) {
        Some(elems[i as usize])
    } else {
        None
    }
}

/// True when `raw` is a JSON integer in the form serde_json writes (no `+`, no leading zero).
fn is_plain_integer(raw: &str) -> bool {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    !digits.is_empty()
        && digits.bytes().all(|c| c.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && (raw.parse::<i64>().is_ok() || raw.parse::<u64>().is_ok())
}

/// The canonical (compact serde_json) text of the raw value `raw`, borrowed when it already
/// is; `None` for JSON null and for text that is not JSON.
pub(crate) fn canonical(raw: &str) -> Option<Cow<'_, str>> {
    let raw = raw.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    match raw.as_bytes().first()? {
        b't' | b'f' if raw == "true" || raw == "false" => return Some(Cow::Borrowed(raw)),
        b'n' if raw == "null" => return None,
        b'"' if raw.len() >= 2
            && raw.ends_with('"')
            && !raw[1..raw.len() - 1]
                .bytes()
                .any(|c| c == b'\\' || c == b'"' || c < 0x20) =>
        {
            return Some(Cow::Borrowed(raw))
        }
        b'-' | b'0'..=b'9' if is_plain_integer(raw) => return Some(Cow::Borrowed(raw)),
        _ => {}
    }
    let v: Value = serde_json::from_str(raw).ok()?;
    into_text(v).map(Cow::Owned)
}

/// The canonical text of `v`, with object keys sorted (serde_json keeps insertion order in
/// this build, since `preserve_order` is on); `None` for JSON null.
pub(crate) fn into_text(v: Value) -> Option<String> {
    (!v.is_null()).then(|| sorted_text(v))
}

/// The JSON text of `v` with object keys sorted: how every dynamic value built from a
/// `serde_json::Value` is written.
pub(crate) fn sorted_text(mut v: Value) -> String {
    v.sort_all_objects();
    v.to_string()
}

/// The JSON text of a string.
pub(crate) fn quote(s: &str) -> String {
    // Serialising a str cannot fail.
    serde_json::to_string(s).unwrap_or_default()
}

/// A top-level value read without building a tree (containers are only recognised).
#[derive(Debug, PartialEq)]
pub(crate) enum Peek<'a> {
    Null,
    Bool(bool),
    Long(i64),
    Real(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

/// Read the top-level value of `json`; `None` when it is not JSON.
pub(crate) fn peek(json: &str) -> Option<Peek<'_>> {
    let t = json.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    Some(match t.as_bytes().first()? {
        b'"' => {
            let inner = t.get(1..t.len().checked_sub(1)?)?;
            if t.len() >= 2 && t.ends_with('"') && !inner.contains(['\\', '"']) {
                Peek::Str(Cow::Borrowed(inner))
            } else {
                Peek::Str(Cow::Owned(serde_json::from_str::<String>(t).ok()?))
            }
        }
        b'[' => Peek::Array,
        b'{' => Peek::Object,
        _ if t == "null" => Peek::Null,
        _ if t == "true" => Peek::Bool(true),
        _ if t == "false" => Peek::Bool(false),
        b'-' | b'0'..=b'9' => {
            if let Ok(n) = t.parse::<i64>() {
                Peek::Long(n)
            } else if t
                .bytes()
                .all(|c| c.is_ascii_digit() || b"+-.eE".contains(&c))
            {
                Peek::Real(t.parse::<f64>().ok()?)
            } else {
                return None;
            }
        }
        _ => return None,
    })
}

/// A string read as a number, KQL style: surrounding blanks ignored, `"42"`, `"-1.5"`, `"1e3"`.
pub(crate) fn str_number(s: &str) -> Option<Peek<'static>> {
    let t = s.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Some(Peek::Long(n));
    }
    if t.is_empty()
        || !t
            .bytes()
            .all(|c| c.is_ascii_digit() || b"+-.eE".contains(&c))
    {
        return None;
    }
    t.parse::<f64>().ok().map(Peek::Real)
}

fn num_f64(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// KQL's structural equality of dynamic values: numbers compare by value (`1 == 1.0`).
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                num_f64(a) == num_f64(b)
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

/// KQL's ascending order for `array_sort_asc`: numbers, then strings, then other values; nulls
/// are placed by the caller.
pub(crate) fn json_cmp(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => num_f64(a)
                .unwrap_or(f64::NAN)
                .total_cmp(&num_f64(b).unwrap_or(f64::NAN)),
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ if rank(a) != rank(b) => rank(a).cmp(&rank(b)),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_properties_without_parsing_the_whole_object() {
        let j = r#"{"a": 1, "b" : {"c":[1,"]}"]}, "e\"s":"x", "n":null}"#;
        assert_eq!(raw_property(j, "a"), Some("1"));
        assert_eq!(raw_property(j, "b"), Some(r#"{"c":[1,"]}"]}"#));
        assert_eq!(raw_property(j, "e\"s"), Some(r#""x""#));
        assert_eq!(raw_property(j, "n"), Some("null"));
        assert_eq!(raw_property(j, "zz"), None);
        assert_eq!(raw_property("[1]", "a"), None);
        assert_eq!(raw_property("{}", "a"), None);
        assert_eq!(raw_property("{\"a\":", "a"), None);
        assert_eq!(raw_property("", "a"), None);
    }

    #[test]
    fn finds_elements_from_either_end() {
        assert_eq!(raw_element("[1, [2,3], \"x\"]", 1), Some("[2,3]"));
        assert_eq!(raw_element("[1, [2,3], \"x\"]", -1), Some("\"x\""));
        assert_eq!(raw_element("[1,2]", 2), None);
        assert_eq!(raw_element("[1,2]", -3), None);
        assert_eq!(raw_element("[]", 0), None);
        assert_eq!(raw_element("{\"a\":1}", 0), None);
    }

    #[test]
    fn canonical_text_borrows_simple_values_and_rewrites_others() {
        assert!(matches!(canonical("42"), Some(Cow::Borrowed("42"))));
        assert!(matches!(canonical("\"abc\""), Some(Cow::Borrowed(_))));
        assert_eq!(canonical("\"a\\/b\"").as_deref(), Some("\"a/b\""));
        assert_eq!(canonical("1.50").as_deref(), Some("1.5"));
        assert_eq!(canonical("007"), None);
        assert_eq!(
            canonical("{ \"b\": 1, \"a\": [ 1 , 2 ] }").as_deref(),
            Some(r#"{"a":[1,2],"b":1}"#)
        );
        assert_eq!(canonical("null"), None);
        assert_eq!(canonical("nope"), None);
    }

    #[test]
    fn peek_reads_scalars() {
        assert_eq!(
            peek("\"x\\ty\""),
            Some(Peek::Str(Cow::Owned("x\ty".into())))
        );
        assert_eq!(peek("-3"), Some(Peek::Long(-3)));
        assert_eq!(peek("2.5e1"), Some(Peek::Real(25.0)));
        assert_eq!(peek("[1]"), Some(Peek::Array));
        assert_eq!(peek("null"), Some(Peek::Null));
        assert_eq!(peek("nan"), None);
        assert_eq!(peek(""), None);
        assert_eq!(peek("\""), None);
    }

    #[test]
    fn equality_and_order_follow_kql() {
        let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert!(json_eq(&v("[1,{\"a\":2.0}]"), &v("[1.0,{\"a\":2}]")));
        assert!(!json_eq(&v("[1,2]"), &v("[2,1]")));
        assert!(!json_eq(&v("\"1\""), &v("1")));
        assert_eq!(json_cmp(&v("10"), &v("9.5")), Ordering::Greater);
        assert_eq!(json_cmp(&v("10"), &v("\"a\"")), Ordering::Less);
        assert_eq!(json_cmp(&v("\"b\""), &v("\"a\"")), Ordering::Greater);
    }
}
