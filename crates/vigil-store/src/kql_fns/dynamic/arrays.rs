//! Arrays, sets and property bags: `array_*`, `set_*`, `pack_array`, `bag_*`.
//!
//! Arrays are handled as lists of canonical element texts where no tree is needed (length,
//! concatenation, slices, set operations: distinct by text, in order of first appearance);
//! sorting, searching and bags parse with serde_json.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Int64Array};
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::execution::context::SessionContext;
use serde_json::{Map, Value};

use super::json::{canonical, json_cmp, json_eq, quote, raw_elements, raw_property, sorted_text};
use super::udf::{reg, Args, Kind, Params, Strs};
use super::{cows, strings};

fn ret_str(_: &[DataType]) -> DataType {
    DataType::Utf8
}

pub(super) fn register(ctx: &SessionContext) {
    let one = || Params::new(&[Kind::Json]);
    let many = || Params::new(&[Kind::Json]).rest(Kind::Json);
    reg(
        ctx,
        "kql_array_length",
        one(),
        |_| DataType::Int64,
        array_length,
    );
    reg(ctx, "kql_array_concat", many(), ret_str, |a| {
        set_op(a, SetOp::Concat)
    });
    reg(
        ctx,
        "kql_array_slice",
        Params::new(&[Kind::Json, Kind::Long, Kind::Long]),
        ret_str,
        array_slice,
    );
    reg(
        ctx,
        "kql_array_index_of",
        Params::new(&[Kind::Json, Kind::Json]),
        |_| DataType::Int64,
        |a| Ok(Arc::new(index_of(a)?.collect::<Int64Array>())),
    );
    reg(
        ctx,
        "kql_set_has_element",
        Params::new(&[Kind::Json, Kind::Json]),
        |_| DataType::Boolean,
        |a| {
            Ok(Arc::new(
                index_of(a)?
                    .map(|i| i.map(|i| i >= 0))
                    .collect::<BooleanArray>(),
            ))
        },
    );
    reg(ctx, "kql_array_sort_asc", one(), ret_str, |a| {
        sort(a, false)
    });
    reg(ctx, "kql_array_sort_desc", one(), ret_str, |a| {
        sort(a, true)
    });
    reg(ctx, "kql_set_union", many(), ret_str, |a| {
        set_op(a, SetOp::Union)
    });
    reg(ctx, "kql_set_intersect", many(), ret_str, |a| {
        set_op(a, SetOp::Intersect)
    });
    reg(ctx, "kql_set_difference", many(), ret_str, |a| {
        set_op(a, SetOp::Difference)
    });
    reg(
        ctx,
        "kql_pack_array",
        Params::new(&[]).rest(Kind::Json),
        ret_str,
        pack_array,
    );
    reg(
        ctx,
        "kql_bag_pack",
        Params::new(&[]).rest(Kind::Json),
        ret_str,
        bag_pack,
    );
    reg(ctx, "kql_bag_keys", one(), ret_str, bag_keys);
    reg(ctx, "kql_bag_merge", many(), ret_str, bag_merge);
    reg(
        ctx,
        "kql_bag_remove_keys",
        Params::new(&[Kind::Json, Kind::Json]),
        ret_str,
        bag_remove_keys,
    );
    reg(
        ctx,
        "kql_bag_has_key",
        Params::new(&[Kind::Json, Kind::Str]),
        |_| DataType::Boolean,
        bag_has_key,
    );
}

/// The canonical text of an element (`null` kept as `null`); `None` when it is not JSON.
pub(crate) fn element_text(raw: &str) -> Option<Cow<'_, str>> {
    if raw.trim() == "null" {
        return Some(Cow::Borrowed("null"));
    }
    canonical(raw)
}

/// The canonical texts of the elements of `json`, if it is a JSON array.
pub(crate) fn elements(json: &str) -> Option<Vec<Cow<'_, str>>> {
    raw_elements(json)?.into_iter().map(element_text).collect()
}

/// The JSON text of an argument that should hold JSON: SQL null is `null`, text that is not
/// JSON is taken as a string (as `parse_json` does).
fn value_text(v: Option<&str>) -> Cow<'_, str> {
    match v {
        None => Cow::Borrowed("null"),
        Some(v) => element_text(v).unwrap_or_else(|| Cow::Owned(quote(v))),
    }
}

fn join<S: AsRef<str>>(items: &[S], buf: &mut String) {
    buf.push('[');
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            buf.push(',');
        }
        buf.push_str(e.as_ref());
    }
    buf.push(']');
}

fn array_length(a: &Args) -> Result<ArrayRef> {
    let j = a.str(0)?;
    Ok(Arc::new(
        (0..a.rows)
            .map(|i| Some(raw_elements(j.get(i)?)?.len() as i64))
            .collect::<Int64Array>(),
    ))
}

fn array_slice(a: &Args) -> Result<ArrayRef> {
    let (j, s, e) = (a.str(0)?, a.long(1)?, a.long(2)?);
    strings(a.rows, |i, buf| {
        let (Some(j), Some(s), Some(e)) = (j.get(i), s.get(i), e.get(i)) else {
            return Ok(false);
        };
        let Some(el) = elements(j) else {
            return Ok(false);
        };
        let n = el.len() as i64;
        let s = if s < 0 { n + s } else { s }.max(0);
        let e = if e < 0 { n + e } else { e }.min(n - 1);
        if s > e {
            join::<&str>(&[], buf);
        } else {
            join(&el[s as usize..=e as usize], buf);
        }
        Ok(true)
    })
}

/// The index of the second argument in the first (-1 if absent; null if not an array).
fn index_of<'a>(a: &'a Args) -> Result<impl Iterator<Item = Option<i64>> + 'a> {
    let (j, v) = (a.str(0)?, a.str(1)?);
    Ok((0..a.rows).map(move |i| {
        let arr = match serde_json::from_str::<Value>(j.get(i)?).ok()? {
            Value::Array(arr) => arr,
            _ => return None,
        };
        let needle = match v.get(i) {
            None => Value::Null,
            Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string())),
        };
        Some(
            arr.iter()
                .position(|e| json_eq(e, &needle))
                .map_or(-1, |p| p as i64),
        )
    }))
}

fn sort(a: &Args, desc: bool) -> Result<ArrayRef> {
    let j = a.str(0)?;
    Ok(cows(a.rows, |i| {
        let Ok(Value::Array(arr)) = serde_json::from_str::<Value>(j.get(i)?) else {
            return None;
        };
        let (mut vals, nulls): (Vec<Value>, Vec<Value>) =
            arr.into_iter().partition(|v| !v.is_null());
        vals.sort_by(|x, y| if desc { json_cmp(y, x) } else { json_cmp(x, y) });
        vals.extend(nulls);
        Some(Cow::Owned(Value::Array(vals).to_string()))
    }))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Concat,
    Union,
    Intersect,
    Difference,
}

fn set_op(a: &Args, op: SetOp) -> Result<ArrayRef> {
    let args = a.strs_from(0)?;
    strings(a.rows, |i, buf| {
        let mut arrays = Vec::with_capacity(args.len());
        for s in &args {
            match s.get(i).and_then(elements) {
                Some(e) => arrays.push(e),
                None => return Ok(false),
            }
        }
        let Some((first, others)) = arrays.split_first() else {
            return Ok(false);
        };
        let mut seen = HashSet::new();
        let mut out: Vec<&str> = Vec::new();
        match op {
            SetOp::Concat => out.extend(arrays.iter().flatten().map(|e| e.as_ref())),
            SetOp::Union => {
                for e in arrays.iter().flatten() {
                    if seen.insert(e.as_ref()) {
                        out.push(e);
                    }
                }
            }
            SetOp::Intersect | SetOp::Difference => {
                let others: Vec<HashSet<&str>> = others
                    .iter()
                    .map(|o| o.iter().map(|e| e.as_ref()).collect())
                    .collect();
                for e in first {
                    let keep = if op == SetOp::Intersect {
                        others.iter().all(|o| o.contains(e.as_ref()))
                    } else {
                        !others.iter().any(|o| o.contains(e.as_ref()))
                    };
                    if keep && seen.insert(e.as_ref()) {
                        out.push(e);
                    }
                }
            }
        }
        join(&out, buf);
        Ok(true)
    })
}

fn pack_array(a: &Args) -> Result<ArrayRef> {
    let args = a.strs_from(0)?;
    strings(a.rows, |i, buf| {
        let items: Vec<Cow<str>> = args.iter().map(|s| value_text(s.get(i))).collect();
        join(&items, buf);
        Ok(true)
    })
}

/// Write an object from sorted (key, value text) pairs, as serde_json would.
fn write_object<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>, buf: &mut String) {
    buf.push('{');
    for (n, (k, v)) in pairs.enumerate() {
        if n > 0 {
            buf.push(',');
        }
        buf.push_str(&quote(k));
        buf.push(':');
        buf.push_str(v);
    }
    buf.push('}');
}

fn bag_pack(a: &Args) -> Result<ArrayRef> {
    if a.len() % 2 == 1 {
        return exec_err!(
            "kql_bag_pack: takes key/value pairs, got {} arguments; call it as kql_bag_pack(key1, value1, key2, value2, ...)",
            a.len()
        );
    }
    let args = a.strs_from(0)?;
    strings(a.rows, |i, buf| {
        let mut bag: BTreeMap<&str, Cow<str>> = BTreeMap::new();
        for pair in args.chunks(2) {
            let key = pair[0].get(i).unwrap_or("");
            bag.entry(key).or_insert_with(|| value_text(pair[1].get(i)));
        }
        write_object(bag.iter().map(|(k, v)| (*k, v.as_ref())), buf);
        Ok(true)
    })
}

/// A JSON object's members, keys sorted at every level (the canonical order).
fn object(json: Option<&str>) -> Option<Map<String, Value>> {
    match serde_json::from_str(json?).ok()? {
        Value::Object(mut m) => {
            m.sort_keys();
            m.values_mut().for_each(Value::sort_all_objects);
            Some(m)
        }
        _ => None,
    }
}

fn bag_keys(a: &Args) -> Result<ArrayRef> {
    let j = a.str(0)?;
    Ok(cows(a.rows, |i| {
        let m = object(j.get(i))?;
        let keys: Vec<String> = m.keys().map(|k| quote(k)).collect();
        let mut buf = String::new();
        join(&keys, &mut buf);
        Some(Cow::Owned(buf))
    }))
}

fn bag_merge(a: &Args) -> Result<ArrayRef> {
    let args = a.strs_from(0)?;
    Ok(cows(a.rows, |i| {
        let mut merged: Option<Map<String, Value>> = None;
        for s in &args {
            let Some(m) = object(s.get(i)) else { continue };
            let acc = merged.get_or_insert_with(Map::new);
            for (k, v) in m {
                acc.entry(k).or_insert(v);
            }
        }
        merged.map(|m| Cow::Owned(sorted_text(Value::Object(m))))
    }))
}

/// The path segments of a key: `a` or `$.a.b` or `$['a']`.
fn path(key: &str) -> Vec<String> {
    let Some(rest) = key.strip_prefix('$') else {
        return vec![key.to_string()];
    };
    let mut out = Vec::new();
    let mut r = rest;
    while !r.is_empty() {
        if let Some(x) = r.strip_prefix("['") {
            let end = x.find("']").unwrap_or(x.len());
            out.push(x[..end].to_string());
            r = x.get(end + 2..).unwrap_or("");
        } else if let Some(x) = r.strip_prefix('.') {
            let end = x.find(['.', '[']).unwrap_or(x.len());
            out.push(x[..end].to_string());
            r = &x[end..];
        } else {
            out.push(r.to_string());
            break;
        }
    }
    out
}

fn remove_path(v: &mut Value, path: &[String]) {
    let Value::Object(m) = v else { return };
    match path {
        [] => {}
        [last] => {
            m.remove(last);
        }
        [first, rest @ ..] => {
            if let Some(child) = m.get_mut(first) {
                remove_path(child, rest);
            }
        }
    }
}

fn bag_remove_keys(a: &Args) -> Result<ArrayRef> {
    let (j, keys) = (a.str(0)?, a.str(1)?);
    Ok(cows(a.rows, |i| {
        let mut bag = Value::Object(object(j.get(i))?);
        if let Some(Value::Array(ks)) = keys.get(i).and_then(|k| serde_json::from_str(k).ok()) {
            for k in ks.iter().filter_map(Value::as_str) {
                remove_path(&mut bag, &path(k));
            }
        }
        Some(Cow::Owned(sorted_text(bag)))
    }))
}

fn has_path(json: &str, key: &str) -> bool {
    if !key.starts_with('$') {
        return raw_property(json, key).is_some();
    }
    let Some(mut v) = object(Some(json)).map(Value::Object) else {
        return false;
    };
    for seg in path(key) {
        match v {
            Value::Object(mut m) => match m.remove(&seg) {
                Some(child) => v = child,
                None => return false,
            },
            _ => return false,
        }
    }
    true
}

fn bag_has_key(a: &Args) -> Result<ArrayRef> {
    let (j, k): (Strs, Strs) = (a.str(0)?, a.str(1)?);
    Ok(Arc::new(
        (0..a.rows)
            .map(|i| Some(has_path(j.get(i)?, k.get(i).unwrap_or(""))))
            .collect::<BooleanArray>(),
    ))
}
