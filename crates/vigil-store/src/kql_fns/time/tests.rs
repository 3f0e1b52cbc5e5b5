use super::civil::to_ns;
use super::*;
use crate::kql_fns::dynamic::testing::{eval, eval_err};

fn at(y: i64, m: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
    to_ns(y, m, d, h * NS_H + mi * NS_MIN + s * NS_S).unwrap()
}

#[test]
fn weeks_start_on_sunday_and_end_one_tick_before_the_next() {
    // 2024-01-03 is a Wednesday.
    let t = at(2024, 1, 3, 13, 0, 0);
    assert_eq!(start_of(Unit::Week, t, 0), Some(at(2023, 12, 31, 0, 0, 0)));
    assert_eq!(start_of(Unit::Week, t, 1), Some(at(2024, 1, 7, 0, 0, 0)));
    assert_eq!(start_of(Unit::Day, t, -1), Some(at(2024, 1, 2, 0, 0, 0)));
    assert_eq!(start_of(Unit::Month, t, 0), Some(at(2024, 1, 1, 0, 0, 0)));
    assert_eq!(start_of(Unit::Month, t, -2), Some(at(2023, 11, 1, 0, 0, 0)));
    assert_eq!(start_of(Unit::Year, t, 1), Some(at(2025, 1, 1, 0, 0, 0)));
    // A Sunday starts its own week.
    assert_eq!(
        start_of(Unit::Week, at(2023, 12, 31, 0, 0, 0), 0),
        Some(at(2023, 12, 31, 0, 0, 0))
    );
}

#[test]
fn starts_of_negative_timestamps() {
    let t = at(1969, 12, 31, 23, 0, 0);
    assert_eq!(start_of(Unit::Day, t, 0), Some(at(1969, 12, 31, 0, 0, 0)));
    assert_eq!(start_of(Unit::Week, t, 0), Some(at(1969, 12, 28, 0, 0, 0)));
    assert_eq!(start_of(Unit::Year, t, 0), Some(at(1969, 1, 1, 0, 0, 0)));
}

#[test]
fn datetime_add_clamps_months_and_adds_fixed_units() {
    let t = at(2024, 1, 31, 10, 0, 0);
    assert_eq!(add(Unit::Month, 1, t), Some(at(2024, 2, 29, 10, 0, 0)));
    assert_eq!(
        add(Unit::Year, 1, at(2024, 2, 29, 0, 0, 0)),
        Some(at(2025, 2, 28, 0, 0, 0))
    );
    assert_eq!(add(Unit::Quarter, -1, t), Some(at(2023, 10, 31, 10, 0, 0)));
    assert_eq!(add(Unit::Week, 2, t), Some(at(2024, 2, 14, 10, 0, 0)));
    assert_eq!(add(Unit::Minute, -90, t), Some(at(2024, 1, 31, 8, 30, 0)));
    assert_eq!(add(Unit::Nanosecond, 5, t), Some(t + 5));
    assert_eq!(add(Unit::Day, i64::MAX / 2, t), None);
}

#[test]
fn datetime_diff_counts_boundaries() {
    let a = at(2017, 1, 1, 0, 0, 0);
    let b = at(2000, 12, 31, 0, 0, 0);
    assert_eq!(diff(Unit::Year, a, b), Some(17));
    assert_eq!(diff(Unit::Quarter, a, b), Some(65));
    assert_eq!(diff(Unit::Month, a, b), Some(193));
    assert_eq!(
        diff(
            Unit::Day,
            at(2017, 10, 30, 0, 0, 0),
            at(2017, 9, 30, 23, 59, 0)
        ),
        Some(30)
    );
    assert_eq!(
        diff(
            Unit::Hour,
            at(2017, 10, 31, 1, 0, 0),
            at(2017, 10, 30, 23, 59, 0)
        ),
        Some(2)
    );
    assert_eq!(diff(Unit::Nanosecond, a, a + 700), Some(-700));
    assert_eq!(diff(Unit::Nanosecond, i64::MAX, i64::MIN), None);
    assert_eq!(diff(Unit::Year, i64::MAX, i64::MIN), Some(2262 - 1677));
    // Saturday to the next Sunday crosses one week boundary; Sunday to Saturday none.
    assert_eq!(
        diff(
            Unit::Week,
            at(2024, 1, 7, 0, 0, 0),
            at(2024, 1, 6, 23, 0, 0)
        ),
        Some(1)
    );
    assert_eq!(
        diff(
            Unit::Week,
            at(2024, 1, 13, 0, 0, 0),
            at(2024, 1, 7, 0, 0, 0)
        ),
        Some(0)
    );
}

#[test]
fn datetime_parts() {
    let t = at(2024, 12, 31, 23, 59, 58) + 123_456_789;
    assert_eq!(part(Unit::Year, t), 2024);
    assert_eq!(part(Unit::Quarter, t), 4);
    assert_eq!(part(Unit::WeekOfYear, t), 1);
    assert_eq!(part(Unit::DayOfYear, t), 366);
    assert_eq!(part(Unit::Millisecond, t), 123);
    assert_eq!(part(Unit::Microsecond, t), 123_456);
    assert_eq!(part(Unit::Nanosecond, t), 123_456_789);
    assert_eq!(parse_unit("Hours"), Some(Unit::Hour));
    assert_eq!(parse_unit("fortnight"), None);
}

const T: &str = "kql_todatetime('2024-01-03T13:14:15.5Z')";

#[test]
fn sql_bins_and_starts() {
    assert_eq!(
        eval(&format!(
            "kql_tostring_datetime(kql_bin_ts({T}, 3600000000000))"
        )),
        "2024-01-03T13:00:00Z"
    );
    assert_eq!(
        eval("kql_tostring_datetime(kql_bin_ts(kql_todatetime('1969-12-31T23:30:00Z'), 3600000000000))"),
        "1969-12-31T23:00:00Z"
    );
    assert_eq!(
        eval(&format!(
            "kql_tostring_datetime(kql_bin_at_ts({T}, 3600000000000, kql_todatetime('2024-01-01T00:30:00Z')))"
        )),
        "2024-01-03T12:30:00Z"
    );
    assert_eq!(eval("kql_bin_num(7, 5)"), "5");
    assert_eq!(eval("kql_bin_num(-7, 5)"), "-10");
    assert_eq!(eval("kql_bin_num(7.5, 0.5)"), "7.5");
    assert_eq!(eval("kql_bin_num(7.4, 0.5)"), "7.0");
    assert_eq!(eval("kql_bin_num(7, 0)"), "NULL");
    assert_eq!(
        eval(&format!("kql_tostring_datetime(kql_endof('day', {T}))")),
        "2024-01-03T23:59:59.9999999Z"
    );
    assert_eq!(
        eval(&format!(
            "kql_tostring_datetime(kql_endof('month', {T}, 1))"
        )),
        "2024-02-29T23:59:59.9999999Z"
    );
    assert_eq!(
        eval(&format!("kql_tostring_datetime(kql_startof('week', {T}))")),
        "2023-12-31T00:00:00Z"
    );
    assert_eq!(eval("kql_startof('week', NULL)"), "NULL");
    let e = eval_err(&format!("kql_startof('fortnight', {T})"));
    assert!(e.contains("kql_startof: unknown unit 'fortnight'"), "{e}");
    let e = eval_err(&format!("kql_startof({T})"));
    assert!(e.contains("kql_startof(string, datetime[, long])"), "{e}");
}

#[test]
fn sql_add_diff_part() {
    assert_eq!(
        eval("kql_tostring_datetime(kql_datetime_add('month', 1, kql_todatetime('2023-01-31')))"),
        "2023-02-28T00:00:00Z"
    );
    assert_eq!(
        eval(
            "kql_datetime_diff('year', kql_todatetime('2017-01-01'), kql_todatetime('2000-12-31'))"
        ),
        "17"
    );
    assert_eq!(eval(&format!("kql_datetime_part('hour', {T})")), "13");
    assert_eq!(
        eval(&format!("kql_dayofweek({T})")),
        (3 * NS_DAY).to_string()
    );
    assert_eq!(eval(&format!("kql_dayofmonth({T})")), "3");
    assert_eq!(eval(&format!("kql_dayofyear({T})")), "3");
    assert_eq!(eval(&format!("kql_monthofyear({T})")), "1");
    assert_eq!(eval(&format!("kql_getyear({T})")), "2024");
    assert_eq!(eval(&format!("kql_hourofday({T})")), "13");
    let e = eval_err(&format!("kql_datetime_add('fortnight', 1, {T})"));
    assert!(e.contains("unknown unit 'fortnight'"), "{e}");
}

#[test]
fn sql_formatting_and_conversion() {
    assert_eq!(
        eval(&format!(
            "kql_format_datetime({T}, 'yyyy-MM-dd HH:mm:ss.ff')"
        )),
        "2024-01-03 13:14:15.50"
    );
    assert_eq!(
        eval("kql_format_timespan(93784500000000, 'd.hh:mm:ss.fff')"),
        "1.02:03:04.500"
    );
    assert_eq!(eval("kql_tostring_timespan(-300000000000)"), "-00:05:00");
    assert_eq!(eval("kql_totimespan('1.02:03:04.5')"), "93784500000000");
    assert_eq!(eval("kql_totimespan('2h')"), (2 * NS_H).to_string());
    assert_eq!(eval("kql_totimespan('soon')"), "NULL");
    assert_eq!(
        eval("kql_tostring_datetime(kql_todatetime('Tue, 03 Jun 2025 10:00:00 GMT'))"),
        "2025-06-03T10:00:00Z"
    );
    assert_eq!(eval("kql_todatetime('not a date')"), "NULL");
    assert_eq!(
        eval("kql_tostring_datetime(kql_unixtime_seconds_todatetime(1.5))"),
        "1970-01-01T00:00:01.5000000Z"
    );
    assert_eq!(
        eval("kql_tostring_datetime(kql_unixtime_milliseconds_todatetime(1704240000000))"),
        "2024-01-03T00:00:00Z"
    );
    let e = eval_err(&format!("kql_format_datetime({T}, 'yyyy zz')"));
    assert!(
        e.contains("kql_format_datetime: unsupported specifier 'zz'"),
        "{e}"
    );
}

#[test]
fn extreme_values_give_nulls_not_panics() {
    let all = [ADD_UNITS, &[Unit::WeekOfYear, Unit::DayOfYear]].concat();
    let toks = format::compile("yyyy-MM-dd HH:mm:ss.fffffff tt dddd MMMM", false).unwrap();
    for t in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX] {
        for &u in &all {
            for n in [i64::MIN, -1, 0, 1, i64::MAX] {
                let _ = add(u, n, t);
                let _ = diff(u, t, n);
                if START_UNITS.contains(&u) {
                    let _ = start_of(u, t, n);
                }
            }
            let _ = part(u, t);
        }
        let mut s = String::new();
        format::format_datetime(t, &toks, &mut s);
        civil::format_kql_datetime(t, &mut s);
        civil::format_kql_timespan(t, &mut s);
    }
    assert_eq!(start_of(Unit::Year, i64::MIN, -1), None);
    assert_eq!(add(Unit::Month, 1, i64::MAX), None);
    assert_eq!(
        eval("kql_datetime_add('year', 9223372036854775807, kql_todatetime('2024-01-01'))"),
        "NULL"
    );
    assert_eq!(eval("kql_bin_ts(kql_todatetime('2024-01-01'), -5)"), "NULL");
}
