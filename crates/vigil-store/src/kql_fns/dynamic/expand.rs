//! The lists `mv-expand` unnests: `kql_json_elements` (`bagexpansion=bag`),
//! `kql_json_elements_kv` (`bagexpansion=array`) and `kql_range_list` (KQL's `range()`).
//!
//! An array gives its elements, a bag one entry per property, any other value a list of
//! itself, null an empty list. A JSON null element is a null item.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, ListBuilder, StringBuilder, TimestampNanosecondBuilder,
};
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::execution::context::SessionContext;
use serde_json::Value;

use super::arrays::element_text;
use super::json::{canonical, quote, raw_elements, sorted_text};
use super::udf::{list_of, reg, ts_type, Args, Kind, Params, UTC};
use crate::kql_fns::time::civil::NS_DAY;

/// KQL's limit on the length of a `range()` array.
const MAX_RANGE: usize = 1_048_576;

pub(super) fn register(ctx: &SessionContext) {
    let ret = |_: &[DataType]| list_of(DataType::Utf8);
    reg(
        ctx,
        "kql_json_elements",
        Params::new(&[Kind::Json]),
        ret,
        |a| elements(a, false),
    );
    reg(
        ctx,
        "kql_json_elements_kv",
        Params::new(&[Kind::Json]),
        ret,
        |a| elements(a, true),
    );
    reg(
        ctx,
        "kql_range_list",
        Params::new(&[Kind::NumOrTime, Kind::NumOrTime, Kind::Num]).optional(1),
        range_type,
        range_list,
    );
}

fn elements(a: &Args, kv: bool) -> Result<ArrayRef> {
    let j = a.str(0)?;
    let mut out = ListBuilder::new(StringBuilder::new());
    for i in 0..a.rows {
        if let Some(text) = j.get(i) {
            push_elements(text, kv, out.values());
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

fn push_item(b: &mut StringBuilder, raw: &str) {
    match element_text(raw) {
        Some(t) if t != "null" => b.append_value(t),
        Some(_) => b.append_null(),
        // Not JSON: the text is a string value.
        None => b.append_value(quote(raw)),
    }
}

fn push_elements(text: &str, kv: bool, b: &mut StringBuilder) {
    let t = text.trim_start();
    if t.starts_with('[') {
        if let Some(els) = raw_elements(t) {
            for e in els {
                push_item(b, e);
            }
            return;
        }
    } else if t.starts_with('{') {
        if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(t) {
            // Members in the canonical order: keys sorted at every level.
            let mut members: Vec<(String, Value)> = m.into_iter().collect();
            members.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, v) in members {
                let (k, v) = (quote(&k), sorted_text(v));
                b.append_value(if kv {
                    format!("[{k},{v}]")
                } else {
                    format!("{{{k}:{v}}}")
                });
            }
            return;
        }
    }
    match canonical(t) {
        Some(c) => b.append_value(c),
        None if t.trim() == "null" => {}
        None => b.append_value(quote(text)),
    }
}

fn range_type(t: &[DataType]) -> DataType {
    let is = |d: &DataType| t.iter().take(2).any(|x| x == d);
    if t.iter()
        .take(2)
        .any(|x| matches!(x, DataType::Timestamp(..)))
    {
        list_of(ts_type())
    } else if is(&DataType::Float64) || t.get(2) == Some(&DataType::Float64) {
        list_of(DataType::Float64)
    } else {
        list_of(DataType::Int64)
    }
}

/// A number argument as a real.
fn real_at(a: &Args, n: usize, i: usize) -> Result<Option<f64>> {
    Ok(match a.data_type(n) {
        DataType::Int64 => a.long(n)?.get(i).map(|v| v as f64),
        _ => a.real(n)?.get(i),
    })
}

fn range_list(a: &Args) -> Result<ArrayRef> {
    let types: Vec<DataType> = (0..a.len()).map(|i| a.data_type(i)).collect();
    let ret = range_type(&types);
    let time =
        matches!(&ret, DataType::List(f) if matches!(f.data_type(), DataType::Timestamp(..)));
    if time
        && !types
            .iter()
            .take(2)
            .all(|t| matches!(t, DataType::Timestamp(..)))
    {
        return exec_err!(
            "kql_range_list: start and stop must both be datetimes, got {} and {}",
            types[0],
            types[1]
        );
    }
    if time && types.get(2).is_some_and(|t| t != &DataType::Int64) {
        return exec_err!(
            "kql_range_list: the step of a datetime range must be a timespan, got {}",
            types[2]
        );
    }
    let int = ret == list_of(DataType::Int64);
    if time || int {
        let ints = |n: usize| -> Result<Vec<Option<i64>>> {
            Ok(if time {
                let v = a.time(n)?;
                (0..a.rows).map(|i| v.get(i)).collect()
            } else {
                let v = a.long(n)?;
                (0..a.rows).map(|i| v.get(i)).collect()
            })
        };
        let (start, stop) = (ints(0)?, ints(1)?);
        let step = if a.len() > 2 { Some(a.long(2)?) } else { None };
        let default = if time { NS_DAY } else { 1 };
        let mut out = if time {
            IntList::Time(ListBuilder::new(
                TimestampNanosecondBuilder::new().with_timezone(UTC),
            ))
        } else {
            IntList::Long(ListBuilder::new(Int64Builder::new()))
        };
        for i in 0..a.rows {
            let step = match &step {
                Some(s) => s.get(i),
                None => Some(default),
            };
            match (start[i], stop[i], step) {
                (Some(s), Some(e), Some(st)) => {
                    let mut v = s;
                    let mut n = 0;
                    while st != 0 && (if st > 0 { v <= e } else { v >= e }) && n < MAX_RANGE {
                        out.push(v);
                        n += 1;
                        match v.checked_add(st) {
                            Some(x) => v = x,
                            None => break,
                        }
                    }
                    out.end(true);
                }
                _ => out.end(false),
            }
        }
        return Ok(out.finish());
    }
    let mut out = ListBuilder::new(Float64Builder::new());
    for i in 0..a.rows {
        let step = if a.len() > 2 {
            real_at(a, 2, i)?
        } else {
            Some(1.0)
        };
        match (real_at(a, 0, i)?, real_at(a, 1, i)?, step) {
            (Some(s), Some(e), Some(st)) if st.is_finite() && s.is_finite() && e.is_finite() => {
                let mut n = 0usize;
                loop {
                    let v = s + st * n as f64;
                    if st == 0.0 || n >= MAX_RANGE || (st > 0.0 && v > e) || (st < 0.0 && v < e) {
                        break;
                    }
                    out.values().append_value(v);
                    n += 1;
                }
                out.append(true);
            }
            _ => out.append(false),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// A list builder of longs or of datetimes.
enum IntList {
    Long(ListBuilder<Int64Builder>),
    Time(ListBuilder<TimestampNanosecondBuilder>),
}

impl IntList {
    fn push(&mut self, v: i64) {
        match self {
            IntList::Long(b) => b.values().append_value(v),
            IntList::Time(b) => b.values().append_value(v),
        }
    }
    fn end(&mut self, valid: bool) {
        match self {
            IntList::Long(b) => b.append(valid),
            IntList::Time(b) => b.append(valid),
        }
    }
    fn finish(self) -> ArrayRef {
        match self {
            IntList::Long(mut b) => Arc::new(b.finish()),
            IntList::Time(mut b) => Arc::new(b.finish()),
        }
    }
}
