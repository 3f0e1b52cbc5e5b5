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

    /// [`Event::field_named`], with a hint the engine keeps per field name between events
    /// (initially 0): an implementation may record there where it found the field, and look
    /// there first next time (events of one table usually have their columns in the same
    /// order). The result must be that of [`Event::field_named`] whatever the hint.
    fn field_hinted(&self, name: &FieldName, hint: &mut u32) -> Option<FieldRef<'_>> {
        let _ = hint;
        self.field_named(name)
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

/// A simple owned event: a table name, a timestamp and columns.
///
/// Laid out densely, as a batch of rows would be: the text of all values in one buffer, and a
/// list of the columns' name hashes (one or two cache lines) searched before the columns. An
/// object column (`AdditionalFields`) is stored as one column per key (`AdditionalFields.cwd`);
/// deeper values stay trees.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedEvent {
    table: Cow<'static, str>,
    timestamp_ms: i64,
    /// The text of the string values, one after another.
    text: String,
    /// FNV-1a of each column's name, in step with `cols`.
    hashes: Vec<u64>,
    /// The bit ([`mask_bit`]) of every column's hash: a name whose bit is clear is no
    /// column's.
    mask: u64,
    /// Whether a column holds a tree (else a deeper path is no value).
    trees: bool,
    cols: Vec<Col>,
}

#[derive(Debug, Clone, PartialEq)]
struct Col {
    /// Column names are usually literals: borrowed, they cost no allocation and stay in
    /// cache.
    name: Cow<'static, str>,
    cell: Cell,
}

#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    /// A range of [`OwnedEvent::text`].
    Str(u32, u32),
    /// An object column; its keys are columns of their own.
    Object,
    /// An object or array inside an object column.
    Tree(Box<Value>),
}

const ACTION_TYPE_HASH: u64 = name_hash("ActionType");

/// The bit of [`OwnedEvent::mask`] for a name of hash `h` (from its top bits: the low bits
/// of FNV-1a depend only on the low bits of the bytes).
#[inline]
fn mask_bit(h: u64) -> u64 {
    1 << (h >> 58)
}

/// Byte equality of short names, eight bytes at a time, without a library call.
#[inline]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
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
            text: String::new(),
            hashes: Vec::new(),
            mask: 0,
            trees: false,
            cols: Vec::new(),
        }
    }

    /// A scalar value as a cell (its text appended to `text`); trees stay trees.
    fn cell(&mut self, v: Value) -> Cell {
        match v {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Bool(b),
            Value::Int(i) => Cell::Int(i),
            Value::Str(s) => {
                let a = self.text.len();
                self.text.push_str(&s);
                Cell::Str(a as u32, self.text.len() as u32)
            }
            v @ (Value::Object(_) | Value::Array(_)) => Cell::Tree(Box::new(v)),
        }
    }

    /// Set the column `name` (replacing it, or adding it at the end).
    fn put(&mut self, name: Cow<'static, str>, cell: Cell) {
        let h = name_hash(&name);
        match self.position(&name, h) {
            Some(i) => {
                self.cols[i].cell = cell;
                self.trees = self.cols.iter().any(|c| matches!(c.cell, Cell::Tree(_)));
            }
            None => {
                self.hashes.push(h);
                self.mask |= mask_bit(h);
                self.trees |= matches!(cell, Cell::Tree(_));
                self.cols.push(Col { name, cell });
            }
        }
    }

    /// Drop the keys `name.*` of an object column.
    fn drop_keys(&mut self, name: &str) {
        let prefix = format!("{name}.");
        let mut i = 0;
        while i < self.cols.len() {
            if self.cols[i].name.starts_with(&prefix) {
                self.cols.remove(i);
                self.hashes.remove(i);
            } else {
                i += 1;
            }
        }
        self.mask = self.hashes.iter().fold(0, |m, h| m | mask_bit(*h));
        self.trees = self.cols.iter().any(|c| matches!(c.cell, Cell::Tree(_)));
    }

    /// Set a column (replacing an earlier value of the same name).
    pub fn set(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Value>,
    ) -> &mut Self {
        let name = name.into();
        if let Some(i) = self.position(&name, name_hash(&name)) {
            if self.cols[i].cell == Cell::Object {
                self.drop_keys(&name);
            }
        }
        match value.into() {
            Value::Object(kv) => {
                self.put(name.clone(), Cell::Object);
                for (k, v) in kv {
                    let full = format!("{name}.{k}");
                    // The first of duplicate keys counts.
                    if self.position(&full, name_hash(&full)).is_none() {
                        let cell = self.cell(v);
                        self.put(full.into(), cell);
                    }
                }
            }
            v => {
                let cell = self.cell(v);
                self.put(name, cell);
            }
        }
        self
    }

    /// Builder form of [`OwnedEvent::set`].
    pub fn with(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        self.set(name, value);
        self
    }

    /// Set one key of the `AdditionalFields` object (creating it).
    pub fn set_additional(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        const AF: &str = "AdditionalFields";
        match self.position(AF, name_hash(AF)) {
            Some(i) if self.cols[i].cell == Cell::Object => {}
            _ => {
                self.put(Cow::Borrowed(AF), Cell::Object);
            }
        }
        let cell = self.cell(value.into());
        self.put(format!("{AF}.{}", key.into()).into(), cell);
    }

    /// Set the event time.
    pub fn set_timestamp_ms(&mut self, ms: i64) {
        self.timestamp_ms = ms;
    }

    /// The index of the column (or object key) `name`, of hash `h`.
    #[inline]
    fn position(&self, name: &str, h: u64) -> Option<usize> {
        if self.mask & mask_bit(h) == 0 {
            return None;
        }
        self.hashes
            .iter()
            .enumerate()
            .filter(|(_, x)| **x == h)
            .map(|(i, _)| i)
            .find(|&i| same(self.cols[i].name.as_bytes(), name.as_bytes()))
    }

    fn value(&self, c: &Cell) -> Option<FieldRef<'_>> {
        match c {
            Cell::Null => Some(FieldRef::Null),
            Cell::Bool(b) => Some(FieldRef::Bool(*b)),
            Cell::Int(i) => Some(FieldRef::Int(*i)),
            Cell::Str(a, b) => self.text.get(*a as usize..*b as usize).map(FieldRef::Str),
            Cell::Object | Cell::Tree(_) => None,
        }
    }

    fn lookup(&self, name: &str, h: u64) -> Option<FieldRef<'_>> {
        match self.position(name, h) {
            Some(i) => self.value(&self.cols[i].cell),
            None => self.walk(name),
        }
    }

    /// Deeper paths (`AdditionalFields.a.b`): walk into the trees.
    fn walk(&self, name: &str) -> Option<FieldRef<'_>> {
        if !self.trees {
            return None;
        }
        let (head, rest) = name.split_once('.')?;
        let (key, rest) = rest.split_once('.')?;
        let col = &name[..head.len() + 1 + key.len()];
        let Cell::Tree(v) = &self.cols[self.position(col, name_hash(col))?].cell else {
            return None;
        };
        let mut v: &Value = v;
        for part in rest.split('.') {
            v = v.get(part)?;
        }
        v.as_ref()
    }
}

impl Event for OwnedEvent {
    fn table(&self) -> &str {
        &self.table
    }

    fn field(&self, name: &str) -> Option<FieldRef<'_>> {
        self.lookup(name, name_hash(name))
    }

    fn field_named(&self, name: &FieldName) -> Option<FieldRef<'_>> {
        self.lookup(name.as_str(), name.hash())
    }

    /// The column at the hint if it has the name (names are unique), else as
    /// [`Event::field_named`], recording where the column was.
    fn field_hinted(&self, name: &FieldName, hint: &mut u32) -> Option<FieldRef<'_>> {
        let (s, h) = (name.as_str(), name.hash());
        let at = *hint as usize;
        if self.hashes.get(at) == Some(&h) && same(self.cols[at].name.as_bytes(), s.as_bytes()) {
            return self.value(&self.cols[at].cell);
        }
        match self.position(s, h) {
            Some(i) => {
                *hint = i as u32;
                self.value(&self.cols[i].cell)
            }
            None => self.walk(s),
        }
    }

    fn action_type(&self) -> Option<&str> {
        match self.lookup("ActionType", ACTION_TYPE_HASH) {
            Some(FieldRef::Str(s)) => Some(s),
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

    /// Whatever the hint, [`Event::field_hinted`] answers as [`Event::field`], and records
    /// where a column was; the name mask follows columns added and keys dropped.
    #[test]
    fn hinted_lookup_agrees_with_plain_lookup() {
        let mut e = OwnedEvent::new("DeviceProcessEvents", 0)
            .with("ActionType", "ProcessCreated")
            .with("FolderPath", "/usr/bin/bash")
            .with("ProcessId", 42i64)
            .with("FileName", "bash");
        e.set_additional("cwd", "/tmp");
        let names = [
            "ActionType",
            "FolderPath",
            "ProcessId",
            "FileName",
            "AdditionalFields.cwd",
            "AdditionalFields.x",
            "Missing",
            "FolderPat",
            "",
        ];
        let check = |e: &OwnedEvent| {
            for n in names {
                let name = FieldName::new(n);
                for start in 0..8u32 {
                    let mut hint = start;
                    assert_eq!(e.field_hinted(&name, &mut hint), e.field(n), "{n} {start}");
                    // Again, with the hint it left.
                    assert_eq!(e.field_hinted(&name, &mut hint), e.field(n), "{n} {start}");
                }
            }
        };
        check(&e);
        let mut hint = 0;
        let _ = e.field_hinted(&FieldName::new("FileName"), &mut hint);
        assert_eq!(hint, 3);
        e.set(
            "AdditionalFields",
            Value::Object(vec![("y".into(), "v".into())]),
        );
        check(&e);
        assert_eq!(
            e.field_hinted(&FieldName::new("AdditionalFields.cwd"), &mut 4),
            None
        );
        assert_eq!(
            e.field_hinted(&FieldName::new("AdditionalFields.y"), &mut 4),
            Some(FieldRef::Str("v"))
        );
    }

    #[test]
    fn owned_event_objects_and_replacements() {
        let mut e = OwnedEvent::new("DeviceEvents", 0).with(
            "AdditionalFields",
            Value::Object(vec![
                ("a".into(), Value::Object(vec![("b".into(), "deep".into())])),
                ("k".into(), 1i64.into()),
                ("k".into(), 2i64.into()),
                ("l".into(), Value::Array(vec!["x".into()])),
            ]),
        );
        assert_eq!(e.field("AdditionalFields.a.b"), Some(FieldRef::Str("deep")));
        assert_eq!(e.field("AdditionalFields.a.c"), None);
        assert_eq!(e.field("AdditionalFields.a"), None);
        assert_eq!(e.field("AdditionalFields"), None);
        // The first of duplicate keys.
        assert_eq!(e.field("AdditionalFields.k"), Some(FieldRef::Int(1)));
        assert_eq!(e.field("AdditionalFields.l"), None);
        assert_eq!(e.field("AdditionalFields.l.0"), None);
        e.set_additional("k", "v");
        assert_eq!(e.field("AdditionalFields.k"), Some(FieldRef::Str("v")));
        // Replacing the object drops its keys.
        e.set(
            "AdditionalFields",
            Value::Object(vec![("z".into(), true.into())]),
        );
        assert_eq!(e.field("AdditionalFields.k"), None);
        assert_eq!(e.field("AdditionalFields.a.b"), None);
        assert_eq!(e.field("AdditionalFields.z"), Some(FieldRef::Bool(true)));
        // A scalar replaced by a scalar, and an object column replaced by a scalar.
        e.set("X", "one");
        e.set("X", "two");
        assert_eq!(e.field("X"), Some(FieldRef::Str("two")));
        e.set("AdditionalFields", Value::Null);
        assert_eq!(e.field("AdditionalFields"), Some(FieldRef::Null));
        assert_eq!(e.field("AdditionalFields.z"), None);
        e.set_additional("n", 3i64);
        assert_eq!(e.field("AdditionalFields.n"), Some(FieldRef::Int(3)));
        assert_eq!(e.field("AdditionalFields"), None);
    }
}
