//! What the engine evaluates: the [`Event`] trait, and [`OwnedEvent`], a simple owned event
//! for tests, golden files and benchmarks.
//!
//! Field names are Vigil column names (the mapping has already turned Sigma's `Image` into
//! `FolderPath`); a key inside the `AdditionalFields` JSON object is named
//! `AdditionalFields.<key>` (nested objects: `AdditionalFields.a.b`).

use std::borrow::Cow;

/// One field value as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldRef<'a> {
    /// Text.
    Str(&'a str),
    /// An integer (Vigil's `long` and `int` columns).
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// The field is present with a null value.
    Null,
}

/// A field name as the engine asks for it, with a precomputed hash of the name (FNV-1a,
/// [`FieldName::hash`]) that event types may use to find it faster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldName {
    name: Box<str>,
    hash: u64,
}

impl FieldName {
    pub fn new(name: &str) -> FieldName {
        FieldName {
            name: name.into(),
            hash: name_hash(name),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// FNV-1a (64-bit) of the name's bytes.
    pub fn hash(&self) -> u64 {
        self.hash
    }
}

/// An event to match: one row of a Vigil table.
pub trait Event {
    /// The table name, e.g. `DeviceProcessEvents`.
    fn table(&self) -> &str;

    /// The value of a column, or of `AdditionalFields.<key>`; `None` when absent.
    fn field(&self, name: &str) -> Option<FieldRef<'_>>;

    /// [`Event::field`] with the name's hash at hand; the engine calls this one. Override it
    /// when the hash makes the lookup cheaper.
    fn field_named(&self, name: &FieldName) -> Option<FieldRef<'_>> {
        self.field(name.as_str())
    }

    /// The event time in milliseconds since the Unix epoch (correlation windows use it).
    fn timestamp_ms(&self) -> i64;

    /// The `ActionType` column, used to dispatch the event to the rules that can match it.
    fn action_type(&self) -> Option<&str> {
        match self.field("ActionType") {
            Some(FieldRef::Str(s)) => Some(s),
            _ => None,
        }
    }
}

/// An owned value of an [`OwnedEvent`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    /// A JSON-like object, e.g. `AdditionalFields`.
    Object(Vec<(String, Value)>),
    /// A JSON-like array (not matchable by field name; kept for completeness).
    Array(Vec<Value>),
}

impl Value {
    fn as_ref(&self) -> Option<FieldRef<'_>> {
        match self {
            Value::Null => Some(FieldRef::Null),
            Value::Bool(b) => Some(FieldRef::Bool(*b)),
            Value::Int(i) => Some(FieldRef::Int(*i)),
            Value::Str(s) => Some(FieldRef::Str(s)),
            Value::Object(_) | Value::Array(_) => None,
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// FNV-1a: a small, fast hash for short names (not for untrusted keys in big maps).
pub const fn name_hash(s: &str) -> u64 {
    let b = s.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < b.len() {
        h ^= b[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// A simple owned event: a table name, a timestamp and columns in insertion order.
///
/// Lookups go through an index of name hashes over the columns and the keys of object
/// columns (`AdditionalFields.cwd`): 10–30 entries, cheaper to scan than a hash map.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedEvent {
    table: Cow<'static, str>,
    timestamp_ms: i64,
    /// Column names are usually literals: borrowed, they cost no allocation and stay in
    /// cache.
    fields: Vec<(Cow<'static, str>, Value)>,
    /// Open-addressing table of (hash of the full name, column, key within an object column
    /// or `u32::MAX`); empty slots have column `u32::MAX`.
    index: Vec<(u64, u32, u32)>,
}

const NO_KEY: u32 = u32::MAX;
const ACTION_TYPE_HASH: u64 = name_hash("ActionType");

/// Byte equality of short names, eight bytes at a time, without a library call.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        u64::from_ne_bytes(w)
    };
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The last eight bytes (overlapping the previous word).
    word(a, n - 8) == word(b, n - 8)
}

impl OwnedEvent {
    /// An empty event of `table` at `timestamp_ms`.
    pub fn new(table: impl Into<Cow<'static, str>>, timestamp_ms: i64) -> OwnedEvent {
        OwnedEvent {
            table: table.into(),
            timestamp_ms,
            fields: Vec::new(),
            index: Vec::new(),
        }
    }

    fn reindex(&mut self) {
        let mut entries = Vec::new();
        for (i, (name, v)) in self.fields.iter().enumerate() {
            entries.push((name_hash(name), i as u32, NO_KEY));
            if let Value::Object(kv) = v {
                for (j, (k, _)) in kv.iter().enumerate() {
                    let full = format!("{name}.{k}");
                    entries.push((name_hash(&full), i as u32, j as u32));
                }
            }
        }
        // Open addressing with linear probing, at most half full.
        let size = (entries.len() * 2).next_power_of_two().max(8);
        self.index = vec![(0, NO_KEY, NO_KEY); size];
        for e in entries {
            let mut p = (e.0 as usize) & (size - 1);
            while self.index[p].1 != NO_KEY {
                p = (p + 1) & (size - 1);
            }
            self.index[p] = e;
        }
    }

    /// Set a column (replacing an earlier value of the same name).
    pub fn set(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Value>,
    ) -> &mut Self {
        let name = name.into();
        let value = value.into();
        match self.fields.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((name, value)),
        }
        self.reindex();
        self
    }

    /// Builder form of [`OwnedEvent::set`].
    pub fn with(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        self.set(name, value);
        self
    }

    /// Set one key of the `AdditionalFields` object (creating it).
    pub fn set_additional(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        let pos = match self
            .fields
            .iter()
            .position(|(k, _)| k == "AdditionalFields")
        {
            Some(p) => p,
            None => {
                self.fields
                    .push((Cow::Borrowed("AdditionalFields"), Value::Object(Vec::new())));
                self.fields.len() - 1
            }
        };
        let obj = &mut self.fields[pos].1;
        if !matches!(obj, Value::Object(_)) {
            *obj = Value::Object(Vec::new());
        }
        if let Value::Object(kv) = obj {
            match kv.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => kv.push((key, value)),
            }
        }
        self.reindex();
    }

    /// Set the event time.
    pub fn set_timestamp_ms(&mut self, ms: i64) {
        self.timestamp_ms = ms;
    }

    /// The columns in insertion order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.fields.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// A column's value, or a key of an object column (`AdditionalFields.cwd`).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.get_hashed(name, name_hash(name))
    }

    /// Deeper paths (`AdditionalFields.a.b`): walk into the objects.
    fn walk(&self, name: &str) -> Option<FieldRef<'_>> {
        let (head, rest) = name.split_once('.')?;
        // One level (`AdditionalFields.cwd`) is in the index: a name absent from it is absent.
        if !rest.contains('.') {
            return None;
        }
        let mut v = self.get(head)?;
        for part in rest.split('.') {
            v = v.get(part)?;
        }
        v.as_ref()
    }

    fn get_hashed(&self, name: &str, h: u64) -> Option<&Value> {
        let size = self.index.len();
        if size == 0 {
            return None;
        }
        let mut p = (h as usize) & (size - 1);
        loop {
            let (hk, i, j) = self.index[p];
            if i == NO_KEY {
                return None;
            }
            if hk == h {
                if let Some(v) = self.entry(name, i, j) {
                    return Some(v);
                }
            }
            p = (p + 1) & (size - 1);
        }
    }

    /// The value at index entry (i, j) if its name is `name`.
    fn entry(&self, name: &str, i: u32, j: u32) -> Option<&Value> {
        let (col, v) = &self.fields[i as usize];
        if j == NO_KEY {
            return same(col.as_bytes(), name.as_bytes()).then_some(v);
        }
        let Value::Object(kv) = v else { return None };
        let (k, inner) = &kv[j as usize];
        let full = name.as_bytes();
        (full.len() == col.len() + 1 + k.len()
            && same(&full[..col.len()], col.as_bytes())
            && full[col.len()] == b'.'
            && same(&full[col.len() + 1..], k.as_bytes()))
        .then_some(inner)
    }
}

impl Event for OwnedEvent {
    fn table(&self) -> &str {
        &self.table
    }

    fn field(&self, name: &str) -> Option<FieldRef<'_>> {
        match self.get(name) {
            Some(v) => v.as_ref(),
            None => self.walk(name),
        }
    }

    fn field_named(&self, name: &FieldName) -> Option<FieldRef<'_>> {
        match self.get_hashed(name.as_str(), name.hash()) {
            Some(v) => v.as_ref(),
            None => self.walk(name.as_str()),
        }
    }

    fn action_type(&self) -> Option<&str> {
        match self.get_hashed("ActionType", ACTION_TYPE_HASH) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_event_reads_columns_and_additional_fields() {
        let mut e = OwnedEvent::new("DeviceProcessEvents", 5)
            .with("FolderPath", "/usr/bin/bash")
            .with("ProcessId", 42i64)
            .with("ActionType", "ProcessCreated");
        e.set_additional("cwd", "/tmp");
        assert_eq!(e.field("FolderPath"), Some(FieldRef::Str("/usr/bin/bash")));
        assert_eq!(e.field("ProcessId"), Some(FieldRef::Int(42)));
        assert_eq!(e.field("AdditionalFields.cwd"), Some(FieldRef::Str("/tmp")));
        assert_eq!(e.field("AdditionalFields.nope"), None);
        assert_eq!(e.field("Missing"), None);
        assert_eq!(e.action_type(), Some("ProcessCreated"));
        assert_eq!(e.timestamp_ms(), 5);
        e.set("ProcessId", 7i64);
        assert_eq!(e.field("ProcessId"), Some(FieldRef::Int(7)));
    }
}
