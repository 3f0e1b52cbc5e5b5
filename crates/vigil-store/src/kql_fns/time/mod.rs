//! Datetime and timespan functions: binning, `startof*`/`endof*`, `datetime_add`/`_diff`/
//! `_part`, calendar parts, formatting, and conversion from text and Unix time.
//!
//! Calendar arithmetic is the proleptic Gregorian calendar in UTC (`civil.rs`); weeks start
//! on Sunday as in KQL, except `weekofyear`, which is ISO 8601. Results out of the range of
//! a nanosecond timestamp are null. Unit and format arguments are compiled once per batch
//! when they are constants; an unknown one is an execution error naming it.

pub(crate) mod civil;
mod format;
pub(crate) mod parse;

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array, Int64Array, StringBuilder};
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::execution::context::SessionContext;

use super::dynamic::udf::{bad_value, reg, ts_array, ts_type, Args, Kind, Params, Strs};
use civil::{
    add_months, days_from_civil, Civil, NS_DAY, NS_H, NS_MIN, NS_MS, NS_S, NS_TICK, NS_US,
};

const TS: &[Kind] = &[Kind::Time];
const SPAN: &[Kind] = &[Kind::Long];

fn ret_ts(_: &[DataType]) -> DataType {
    ts_type()
}
fn ret_str(_: &[DataType]) -> DataType {
    DataType::Utf8
}
fn ret_long(_: &[DataType]) -> DataType {
    DataType::Int64
}
fn ret_int(_: &[DataType]) -> DataType {
    DataType::Int32
}
fn ret_first(t: &[DataType]) -> DataType {
    t.first().cloned().unwrap_or(DataType::Null)
}

pub(crate) fn register(ctx: &SessionContext) {
    reg(
        ctx,
        "kql_bin_ts",
        Params::new(&[Kind::Time, Kind::Long]),
        ret_ts,
        bin_ts,
    );
    reg(
        ctx,
        "kql_bin_at_ts",
        Params::new(&[Kind::Time, Kind::Long, Kind::Time]),
        ret_ts,
        bin_at_ts,
    );
    reg(
        ctx,
        "kql_bin_num",
        Params::new(&[Kind::Num, Kind::Num]),
        ret_first,
        bin_num,
    );
    let start_params = Params::new(&[Kind::Str, Kind::Time, Kind::Long]).optional(1);
    reg(ctx, "kql_startof", start_params.clone(), ret_ts, startof);
    reg(ctx, "kql_endof", start_params, ret_ts, endof);
    reg(
        ctx,
        "kql_datetime_add",
        Params::new(&[Kind::Str, Kind::Long, Kind::Time]),
        ret_ts,
        datetime_add,
    );
    reg(
        ctx,
        "kql_datetime_diff",
        Params::new(&[Kind::Str, Kind::Time, Kind::Time]),
        ret_long,
        datetime_diff,
    );
    reg(
        ctx,
        "kql_datetime_part",
        Params::new(&[Kind::Str, Kind::Time]),
        ret_long,
        datetime_part,
    );
    reg(ctx, "kql_dayofweek", Params::new(TS), ret_long, |a| {
        part_long(a, |c| Some(c.weekday() * NS_DAY))
    });
    reg(ctx, "kql_dayofmonth", Params::new(TS), ret_int, |a| {
        part_int(a, |c| c.day as i64)
    });
    reg(ctx, "kql_dayofyear", Params::new(TS), ret_int, |a| {
        part_int(a, |c| c.day_of_year())
    });
    reg(ctx, "kql_monthofyear", Params::new(TS), ret_int, |a| {
        part_int(a, |c| c.month as i64)
    });
    reg(ctx, "kql_getyear", Params::new(TS), ret_int, |a| {
        part_int(a, |c| c.year)
    });
    reg(ctx, "kql_hourofday", Params::new(TS), ret_int, |a| {
        part_int(a, |c| c.hour as i64)
    });
    reg(ctx, "kql_weekofyear", Params::new(TS), ret_int, |a| {
        part_int(a, |c| c.iso_week())
    });
    reg(
        ctx,
        "kql_format_datetime",
        Params::new(&[Kind::Time, Kind::Str]),
        ret_str,
        format_datetime,
    );
    reg(
        ctx,
        "kql_format_timespan",
        Params::new(&[Kind::Long, Kind::Str]),
        ret_str,
        format_timespan,
    );
    reg(
        ctx,
        "kql_tostring_datetime",
        Params::new(TS),
        ret_str,
        tostring_datetime,
    );
    reg(
        ctx,
        "kql_tostring_timespan",
        Params::new(SPAN),
        ret_str,
        tostring_timespan,
    );
    reg(
        ctx,
        "kql_todatetime",
        Params::new(&[Kind::Str]),
        ret_ts,
        |a| {
            let s = a.str(0)?;
            Ok(ts_array(
                (0..a.rows)
                    .map(|i| s.get(i).and_then(parse::parse_datetime))
                    .collect(),
            ))
        },
    );
    reg(
        ctx,
        "kql_totimespan",
        Params::new(&[Kind::Str]),
        ret_long,
        |a| {
            let s = a.str(0)?;
            Ok(Arc::new(
                (0..a.rows)
                    .map(|i| s.get(i).and_then(parse::parse_timespan))
                    .collect::<Int64Array>(),
            ))
        },
    );
    reg(
        ctx,
        "kql_unixtime_seconds_todatetime",
        Params::new(&[Kind::Num]),
        ret_ts,
        |a| unix(a, NS_S),
    );
    reg(
        ctx,
        "kql_unixtime_milliseconds_todatetime",
        Params::new(&[Kind::Num]),
        ret_ts,
        |a| unix(a, NS_MS),
    );
    reg(
        ctx,
        "kql_unixtime_microseconds_todatetime",
        Params::new(&[Kind::Num]),
        ret_ts,
        |a| unix(a, NS_US),
    );
    reg(
        ctx,
        "kql_unixtime_nanoseconds_todatetime",
        Params::new(&[Kind::Num]),
        ret_ts,
        |a| unix(a, 1),
    );
}

/// A per-row value compiled from a string argument: once when it is a constant.
pub(crate) enum PerRow<P> {
    One(Option<P>),
    Many(Vec<Option<P>>),
}

impl<P> PerRow<P> {
    pub(crate) fn get(&self, i: usize) -> Option<&P> {
        match self {
            PerRow::One(p) => p.as_ref(),
            PerRow::Many(v) => v[i].as_ref(),
        }
    }
}

/// Compile a pattern argument: a null pattern gives a null result.
pub(crate) fn compile_arg<P: Clone>(
    s: &Strs,
    rows: usize,
    mut f: impl FnMut(&str) -> Result<P>,
) -> Result<PerRow<P>> {
    if let Some(v) = s.constant() {
        return Ok(PerRow::One(v.map(&mut f).transpose()?));
    }
    let mut out = Vec::with_capacity(rows);
    let mut last: Option<(&str, P)> = None;
    for i in 0..rows {
        let Some(v) = s.get(i) else {
            out.push(None);
            continue;
        };
        match &last {
            Some((prev, p)) if *prev == v => out.push(Some(p.clone())),
            _ => {
                let p = f(v)?;
                out.push(Some(p.clone()));
                last = Some((v, p));
            }
        }
    }
    Ok(PerRow::Many(out))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Year,
    Quarter,
    Month,
    Week,
    WeekOfYear,
    Day,
    DayOfYear,
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
}

fn parse_unit(s: &str) -> Option<Unit> {
    let l = s.trim().to_ascii_lowercase();
    let l = l.strip_suffix('s').unwrap_or(&l);
    Some(match l {
        "year" => Unit::Year,
        "quarter" => Unit::Quarter,
        "month" => Unit::Month,
        "week" => Unit::Week,
        "weekofyear" | "week_of_year" => Unit::WeekOfYear,
        "day" => Unit::Day,
        "dayofyear" | "day_of_year" => Unit::DayOfYear,
        "hour" => Unit::Hour,
        "minute" => Unit::Minute,
        "second" => Unit::Second,
        "millisecond" => Unit::Millisecond,
        "microsecond" => Unit::Microsecond,
        "nanosecond" => Unit::Nanosecond,
        _ => return None,
    })
}

/// The unit argument (0) restricted to `allowed`.
fn units(a: &Args, allowed: &[Unit]) -> Result<PerRow<Unit>> {
    let name = a.name;
    compile_arg(&a.str(0)?, a.rows, |s| match parse_unit(s) {
        Some(u) if allowed.contains(&u) => Ok(u),
        _ => bad_value(name, "unknown unit", s),
    })
}

fn bin_ts(a: &Args) -> Result<ArrayRef> {
    let (t, span) = (a.time(0)?, a.long(1)?);
    Ok(ts_array(
        (0..a.rows)
            .map(|i| {
                let (t, s) = (t.get(i)?, span.get(i)?);
                (s > 0).then(|| t.div_euclid(s).checked_mul(s)).flatten()
            })
            .collect(),
    ))
}

fn bin_at_ts(a: &Args) -> Result<ArrayRef> {
    let (t, span, at) = (a.time(0)?, a.long(1)?, a.time(2)?);
    Ok(ts_array(
        (0..a.rows)
            .map(|i| {
                let (t, s, at) = (t.get(i)?, span.get(i)?, at.get(i)?);
                if s <= 0 {
                    return None;
                }
                let k = t.checked_sub(at)?.div_euclid(s);
                at.checked_add(k.checked_mul(s)?)
            })
            .collect(),
    ))
}

fn bin_num(a: &Args) -> Result<ArrayRef> {
    // The size as a real, whatever its type.
    let size: Vec<Option<f64>> = match a.data_type(1) {
        DataType::Int64 => {
            let s = a.long(1)?;
            (0..a.rows).map(|i| s.get(i).map(|v| v as f64)).collect()
        }
        _ => {
            let s = a.real(1)?;
            (0..a.rows).map(|i| s.get(i)).collect()
        }
    };
    let floor_f = |x: f64, s: f64| (s > 0.0).then(|| (x / s).floor() * s);
    if a.data_type(0) == DataType::Int64 {
        let x = a.long(0)?;
        let out: Int64Array = (0..a.rows)
            .map(|i| {
                let (x, s) = (x.get(i)?, size[i]?);
                if s.fract() == 0.0 && (1.0..9.2e18).contains(&s) {
                    let s = s as i64;
                    x.div_euclid(s).checked_mul(s)
                } else {
                    floor_f(x as f64, s)
                        .filter(|v| v.abs() < 9.2e18)
                        .map(|v| v as i64)
                }
            })
            .collect();
        Ok(Arc::new(out))
    } else {
        let x = a.real(0)?;
        let out: Float64Array = (0..a.rows).map(|i| floor_f(x.get(i)?, size[i]?)).collect();
        Ok(Arc::new(out))
    }
}

/// The start of the `unit` holding `ts`, moved by `offset` units.
fn start_of(unit: Unit, ts: i64, offset: i64) -> Option<i64> {
    let c = Civil::from_ns(ts);
    match unit {
        Unit::Day => c.days.checked_add(offset)?.checked_mul(NS_DAY),
        Unit::Week => (c.days - c.weekday())
            .checked_add(offset.checked_mul(7)?)?
            .checked_mul(NS_DAY),
        Unit::Month => add_months(
            days_from_civil(c.year, c.month, 1).checked_mul(NS_DAY)?,
            offset,
        ),
        Unit::Year => add_months(
            days_from_civil(c.year, 1, 1).checked_mul(NS_DAY)?,
            offset.checked_mul(12)?,
        ),
        _ => None,
    }
}

const START_UNITS: &[Unit] = &[Unit::Day, Unit::Week, Unit::Month, Unit::Year];

fn startof(a: &Args) -> Result<ArrayRef> {
    start_or_end(a, false)
}

fn endof(a: &Args) -> Result<ArrayRef> {
    start_or_end(a, true)
}

fn start_or_end(a: &Args, end: bool) -> Result<ArrayRef> {
    let u = units(a, START_UNITS)?;
    let t = a.time(1)?;
    let off = if a.len() > 2 { Some(a.long(2)?) } else { None };
    Ok(ts_array(
        (0..a.rows)
            .map(|i| {
                let (u, t) = (*u.get(i)?, t.get(i)?);
                let off = match &off {
                    Some(o) => o.get(i)?,
                    None => 0,
                };
                if end {
                    start_of(u, t, off.checked_add(1)?)?.checked_sub(NS_TICK)
                } else {
                    start_of(u, t, off)
                }
            })
            .collect(),
    ))
}

/// Nanoseconds in one `unit`, for the fixed-length units.
fn fixed_ns(u: Unit) -> Option<i64> {
    Some(match u {
        Unit::Week => 7 * NS_DAY,
        Unit::Day => NS_DAY,
        Unit::Hour => NS_H,
        Unit::Minute => NS_MIN,
        Unit::Second => NS_S,
        Unit::Millisecond => NS_MS,
        Unit::Microsecond => NS_US,
        Unit::Nanosecond => 1,
        _ => return None,
    })
}

const ADD_UNITS: &[Unit] = &[
    Unit::Year,
    Unit::Quarter,
    Unit::Month,
    Unit::Week,
    Unit::Day,
    Unit::Hour,
    Unit::Minute,
    Unit::Second,
    Unit::Millisecond,
    Unit::Microsecond,
    Unit::Nanosecond,
];

fn add(u: Unit, n: i64, t: i64) -> Option<i64> {
    match u {
        Unit::Year => add_months(t, n.checked_mul(12)?),
        Unit::Quarter => add_months(t, n.checked_mul(3)?),
        Unit::Month => add_months(t, n),
        u => t.checked_add(n.checked_mul(fixed_ns(u)?)?),
    }
}

fn datetime_add(a: &Args) -> Result<ArrayRef> {
    let u = units(a, ADD_UNITS)?;
    let (n, t) = (a.long(1)?, a.time(2)?);
    Ok(ts_array(
        (0..a.rows)
            .map(|i| add(*u.get(i)?, n.get(i)?, t.get(i)?))
            .collect(),
    ))
}

/// Boundaries of `unit` crossed going from `t2` to `t1`.
fn diff(u: Unit, t1: i64, t2: i64) -> Option<i64> {
    let (c1, c2) = (Civil::from_ns(t1), Civil::from_ns(t2));
    Some(match u {
        Unit::Year => c1.year - c2.year,
        Unit::Quarter => {
            (c1.year * 4 + (c1.month as i64 - 1) / 3) - (c2.year * 4 + (c2.month as i64 - 1) / 3)
        }
        Unit::Month => (c1.year * 12 + c1.month as i64) - (c2.year * 12 + c2.month as i64),
        // Sunday-based weeks: 1969-12-28 (day -4) starts week 0.
        Unit::Week => (c1.days + 4).div_euclid(7) - (c2.days + 4).div_euclid(7),
        u => {
            let s = fixed_ns(u)?;
            t1.div_euclid(s).checked_sub(t2.div_euclid(s))?
        }
    })
}

fn datetime_diff(a: &Args) -> Result<ArrayRef> {
    let u = units(a, ADD_UNITS)?;
    let (t1, t2) = (a.time(1)?, a.time(2)?);
    Ok(Arc::new(
        (0..a.rows)
            .map(|i| diff(*u.get(i)?, t1.get(i)?, t2.get(i)?))
            .collect::<Int64Array>(),
    ))
}

fn part(u: Unit, t: i64) -> i64 {
    let c = Civil::from_ns(t);
    match u {
        Unit::Year => c.year,
        Unit::Quarter => (c.month as i64 - 1) / 3 + 1,
        Unit::Month => c.month as i64,
        Unit::Week | Unit::WeekOfYear => c.iso_week(),
        Unit::Day => c.day as i64,
        Unit::DayOfYear => c.day_of_year(),
        Unit::Hour => c.hour as i64,
        Unit::Minute => c.minute as i64,
        Unit::Second => c.second as i64,
        Unit::Millisecond => (c.nanos / 1_000_000) as i64,
        Unit::Microsecond => (c.nanos / 1_000) as i64,
        Unit::Nanosecond => c.nanos as i64,
    }
}

fn datetime_part(a: &Args) -> Result<ArrayRef> {
    let all = [ADD_UNITS, &[Unit::WeekOfYear, Unit::DayOfYear]].concat();
    let u = units(a, &all)?;
    let t = a.time(1)?;
    Ok(Arc::new(
        (0..a.rows)
            .map(|i| Some(part(*u.get(i)?, t.get(i)?)))
            .collect::<Int64Array>(),
    ))
}

fn part_long(a: &Args, f: impl Fn(&Civil) -> Option<i64>) -> Result<ArrayRef> {
    let t = a.time(0)?;
    Ok(Arc::new(
        (0..a.rows)
            .map(|i| f(&Civil::from_ns(t.get(i)?)))
            .collect::<Int64Array>(),
    ))
}

fn part_int(a: &Args, f: impl Fn(&Civil) -> i64) -> Result<ArrayRef> {
    let t = a.time(0)?;
    Ok(Arc::new(
        (0..a.rows)
            .map(|i| i32::try_from(f(&Civil::from_ns(t.get(i)?))).ok())
            .collect::<Int32Array>(),
    ))
}

fn format_with(a: &Args, timespan: bool) -> Result<ArrayRef> {
    let name = a.name;
    let toks = compile_arg(&a.str(1)?, a.rows, |f| match format::compile(f, timespan) {
        Ok(t) => Ok(t),
        Err(e) => exec_err!("{name}: {}", e.0),
    })?;
    let mut out = StringBuilder::with_capacity(a.rows, a.rows * 24);
    let mut buf = String::new();
    let vals: Vec<Option<i64>> = if timespan {
        let v = a.long(0)?;
        (0..a.rows).map(|i| v.get(i)).collect()
    } else {
        let v = a.time(0)?;
        (0..a.rows).map(|i| v.get(i)).collect()
    };
    for (i, v) in vals.into_iter().enumerate() {
        match (v, toks.get(i)) {
            (Some(v), Some(t)) => {
                buf.clear();
                if timespan {
                    format::format_timespan(v, t, &mut buf);
                } else {
                    format::format_datetime(v, t, &mut buf);
                }
                out.append_value(&buf);
            }
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn format_datetime(a: &Args) -> Result<ArrayRef> {
    format_with(a, false)
}

fn format_timespan(a: &Args) -> Result<ArrayRef> {
    format_with(a, true)
}

fn tostring_datetime(a: &Args) -> Result<ArrayRef> {
    let t = a.time(0)?;
    let mut out = StringBuilder::with_capacity(a.rows, a.rows * 28);
    let mut buf = String::new();
    for i in 0..a.rows {
        match t.get(i) {
            Some(v) => {
                buf.clear();
                civil::format_kql_datetime(v, &mut buf);
                out.append_value(&buf);
            }
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn tostring_timespan(a: &Args) -> Result<ArrayRef> {
    let t = a.long(0)?;
    let mut out = StringBuilder::with_capacity(a.rows, a.rows * 16);
    let mut buf = String::new();
    for i in 0..a.rows {
        match t.get(i) {
            Some(v) => {
                buf.clear();
                civil::format_kql_timespan(v, &mut buf);
                out.append_value(&buf);
            }
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn unix(a: &Args, unit_ns: i64) -> Result<ArrayRef> {
    let vals: Vec<Option<i64>> = if a.data_type(0) == DataType::Int64 {
        let x = a.long(0)?;
        (0..a.rows)
            .map(|i| x.get(i)?.checked_mul(unit_ns))
            .collect()
    } else {
        let x = a.real(0)?;
        (0..a.rows)
            .map(|i| {
                let v = x.get(i)? * unit_ns as f64;
                (v.is_finite() && v.abs() < 9.2e18).then(|| v.round() as i64)
            })
            .collect()
    };
    Ok(ts_array(vals))
}

#[cfg(test)]
mod tests;
