//! Dynamic (JSON) values: conversion to and from JSON text, property and element access,
//! conversion of a dynamic to scalars, arrays, sets and property bags (`arrays.rs`), and the
//! lists `mv-expand` unnests (`expand.rs`). `udf.rs` holds the machinery every `kql_*`
//! scalar function of this module and of `time` is built with; `json.rs` the JSON scanning.
//!
//! **Invariant:** a dynamic's text is serde_json's compact serialization with object keys
//! sorted (`json::into_text` sorts them: the workspace builds serde_json with
//! `preserve_order`, which would otherwise keep input order); a JSON `null` as a whole value is
//! returned as SQL null. Property and element access (`kql_dyn_get`) scans the text without
//! building a tree and returns simple values (strings without escapes, integers, booleans)
//! as slices of the input.

pub(crate) mod arrays;
mod expand;
pub(crate) mod json;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
pub(crate) mod udf;

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, StringBuilder};
use arrow::datatypes::DataType;
use datafusion::common::{internal_err, Result};
use datafusion::execution::context::SessionContext;

use super::time::{civil::format_kql_datetime, parse};
use json::{canonical, peek, quote, str_number, Peek};
use udf::{reg, ts_array, ts_type, Args, Kind, Params, Strs};

const JSON1: &[Kind] = &[Kind::Json];

fn ret_str(_: &[DataType]) -> DataType {
    DataType::Utf8
}
fn ret_long(_: &[DataType]) -> DataType {
    DataType::Int64
}
fn ret_bool(_: &[DataType]) -> DataType {
    DataType::Boolean
}

pub(crate) fn register(ctx: &SessionContext) {
    reg(
        ctx,
        "kql_to_json",
        Params::new(&[Kind::Scalar]),
        ret_str,
        to_json,
    );
    reg(
        ctx,
        "kql_parse_json",
        Params::new(&[Kind::Str]),
        ret_str,
        parse_json,
    );
    reg(
        ctx,
        "kql_dyn_get",
        Params::new(&[Kind::Json, Kind::Key]),
        ret_str,
        dyn_get,
    );
    reg(
        ctx,
        "kql_dyn_to_string",
        Params::new(JSON1),
        ret_str,
        dyn_to_string,
    );
    reg(ctx, "kql_dyn_to_long", Params::new(JSON1), ret_long, |a| {
        Ok(Arc::new(from_json(a, to_long)?.collect::<Int64Array>()))
    });
    reg(
        ctx,
        "kql_dyn_to_int",
        Params::new(JSON1),
        |_| DataType::Int32,
        |a| {
            Ok(Arc::new(
                from_json(a, |p| to_long(p).and_then(|v| i32::try_from(v).ok()))?
                    .collect::<Int32Array>(),
            ))
        },
    );
    reg(
        ctx,
        "kql_dyn_to_double",
        Params::new(JSON1),
        |_| DataType::Float64,
        |a| Ok(Arc::new(from_json(a, to_double)?.collect::<Float64Array>())),
    );
    reg(ctx, "kql_dyn_to_bool", Params::new(JSON1), ret_bool, |a| {
        Ok(Arc::new(from_json(a, to_bool)?.collect::<BooleanArray>()))
    });
    reg(
        ctx,
        "kql_dyn_to_datetime",
        Params::new(JSON1),
        |_| ts_type(),
        |a| {
            Ok(ts_array(
                from_json(a, |p| match p {
                    Peek::Str(s) => parse::parse_datetime(&s),
                    _ => None,
                })?
                .collect(),
            ))
        },
    );
    reg(
        ctx,
        "kql_dyn_to_timespan",
        Params::new(JSON1),
        ret_long,
        |a| {
            Ok(Arc::new(
                from_json(a, |p| match p {
                    Peek::Str(s) => parse::parse_timespan(&s),
                    _ => None,
                })?
                .collect::<Int64Array>(),
            ))
        },
    );
    reg(ctx, "kql_gettype", Params::new(JSON1), ret_str, gettype);
    reg(
        ctx,
        "kql_json_equal",
        Params::new(&[Kind::Json, Kind::Json]),
        ret_bool,
        json_equal,
    );
    arrays::register(ctx);
    expand::register(ctx);
}

/// Build a string column row by row: `f` writes the value into the buffer and says whether
/// there is one (false: null).
pub(crate) fn strings(
    rows: usize,
    mut f: impl FnMut(usize, &mut String) -> Result<bool>,
) -> Result<ArrayRef> {
    let mut out = StringBuilder::with_capacity(rows, rows * 16);
    let mut buf = String::new();
    for i in 0..rows {
        buf.clear();
        if f(i, &mut buf)? {
            out.append_value(&buf);
        } else {
            out.append_null();
        }
    }
    Ok(Arc::new(out.finish()))
}

/// Build a string column from borrowed-or-owned values.
pub(crate) fn cows<'a>(rows: usize, mut f: impl FnMut(usize) -> Option<Cow<'a, str>>) -> ArrayRef {
    let mut out = StringBuilder::with_capacity(rows, rows * 16);
    for i in 0..rows {
        match f(i) {
            Some(v) => out.append_value(v),
            None => out.append_null(),
        }
    }
    Arc::new(out.finish())
}

fn to_json(a: &Args) -> Result<ArrayRef> {
    match a.data_type(0) {
        DataType::Utf8 | DataType::Null => {
            let s = a.str(0)?;
            Ok(cows(a.rows, |i| s.get(i).map(|v| Cow::Owned(quote(v)))))
        }
        DataType::Int64 => {
            let v = a.long(0)?;
            Ok(cows(a.rows, |i| {
                v.get(i).map(|n| Cow::Owned(n.to_string()))
            }))
        }
        DataType::Float64 => {
            let v = a.real(0)?;
            Ok(cows(a.rows, |i| {
                let f = v.get(i).filter(|f| f.is_finite())?;
                Some(Cow::Owned(serde_json::Value::from(f).to_string()))
            }))
        }
        DataType::Boolean => {
            let v = a.boolean(0)?;
            Ok(cows(a.rows, |i| {
                v.get(i)
                    .map(|b| Cow::Borrowed(if b { "true" } else { "false" }))
            }))
        }
        DataType::Timestamp(..) => {
            let v = a.time(0)?;
            strings(a.rows, |i, buf| {
                let Some(t) = v.get(i) else { return Ok(false) };
                buf.push('"');
                format_kql_datetime(t, buf);
                buf.push('"');
                Ok(true)
            })
        }
        t => internal_err!("kql_to_json: unexpected argument type {t}"),
    }
}

fn parse_json(a: &Args) -> Result<ArrayRef> {
    let s = a.str(0)?;
    Ok(cows(a.rows, |i| {
        let v = s.get(i)?;
        let t = v.trim();
        if t.is_empty() || t == "null" {
            return None;
        }
        Some(canonical(t).unwrap_or_else(|| Cow::Owned(quote(v))))
    }))
}

fn dyn_get(a: &Args) -> Result<ArrayRef> {
    let j = a.str(0)?;
    if a.data_type(1) == DataType::Int64 {
        let k = a.long(1)?;
        Ok(cows(a.rows, |i| {
            canonical(json::raw_element(j.get(i)?, k.get(i)?)?)
        }))
    } else {
        let k = a.str(1)?;
        Ok(cows(a.rows, |i| {
            canonical(json::raw_property(j.get(i)?, k.get(i).unwrap_or(""))?)
        }))
    }
}

fn dyn_to_string(a: &Args) -> Result<ArrayRef> {
    let j = a.str(0)?;
    Ok(cows(a.rows, |i| {
        let Some(v) = j.get(i) else {
            return Some(Cow::Borrowed(""));
        };
        Some(match peek(v) {
            Some(Peek::Str(s)) => s,
            Some(Peek::Null) => Cow::Borrowed(""),
            Some(_) => canonical(v).unwrap_or(Cow::Borrowed(v)),
            None => Cow::Borrowed(v),
        })
    }))
}

/// Map each row's top-level value through `f` (SQL null and non-JSON text give `None`).
fn from_json<'a, T>(
    a: &'a Args,
    f: impl Fn(Peek<'a>) -> Option<T> + 'a,
) -> Result<impl Iterator<Item = Option<T>> + 'a> {
    let j: Strs<'a> = a.str(0)?;
    Ok((0..a.rows).map(move |i| j.get(i).and_then(peek).and_then(&f)))
}

fn real_to_long(f: f64) -> Option<i64> {
    (f.is_finite() && f.abs() < 9.2e18).then(|| f.trunc() as i64)
}

fn to_long(p: Peek) -> Option<i64> {
    match p {
        Peek::Long(n) => Some(n),
        Peek::Real(f) => real_to_long(f),
        Peek::Bool(b) => Some(i64::from(b)),
        Peek::Str(s) => match str_number(&s)? {
            Peek::Long(n) => Some(n),
            Peek::Real(f) => real_to_long(f),
            _ => None,
        },
        _ => None,
    }
}

fn to_double(p: Peek) -> Option<f64> {
    match p {
        Peek::Long(n) => Some(n as f64),
        Peek::Real(f) => Some(f),
        Peek::Bool(b) => Some(f64::from(u8::from(b))),
        Peek::Str(s) => match str_number(&s)? {
            Peek::Long(n) => Some(n as f64),
            Peek::Real(f) => Some(f),
            _ => None,
        },
        _ => None,
    }
}

fn to_bool(p: Peek) -> Option<bool> {
    match p {
        Peek::Bool(b) => Some(b),
        Peek::Long(n) => Some(n != 0),
        Peek::Real(f) => Some(f != 0.0),
        Peek::Str(s) => {
            let t = s.trim();
            if t.eq_ignore_ascii_case("true") {
                Some(true)
            } else if t.eq_ignore_ascii_case("false") {
                Some(false)
            } else {
                to_bool(str_number(t)?)
            }
        }
        _ => None,
    }
}

fn gettype(a: &Args) -> Result<ArrayRef> {
    let j = a.str(0)?;
    Ok(cows(a.rows, |i| {
        let name = match j.get(i).map(peek) {
            None | Some(Some(Peek::Null)) => "null",
            Some(Some(Peek::Str(_))) | Some(None) => "string",
            Some(Some(Peek::Long(_))) => "long",
            Some(Some(Peek::Real(_))) => "real",
            Some(Some(Peek::Bool(_))) => "bool",
            Some(Some(Peek::Array)) => "array",
            Some(Some(Peek::Object)) => "dictionary",
        };
        Some(Cow::Borrowed(name))
    }))
}

fn json_equal(a: &Args) -> Result<ArrayRef> {
    let (x, y) = (a.str(0)?, a.str(1)?);
    Ok(Arc::new(
        (0..a.rows)
            .map(|i| {
                let (x, y) = (x.get(i)?, y.get(i)?);
                if x == y {
                    return Some(true);
                }
                match (
                    serde_json::from_str::<serde_json::Value>(x),
                    serde_json::from_str::<serde_json::Value>(y),
                ) {
                    (Ok(p), Ok(q)) => Some(json::json_eq(&p, &q)),
                    _ => Some(false),
                }
            })
            .collect::<BooleanArray>(),
    ))
}
