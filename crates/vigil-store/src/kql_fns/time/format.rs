//! `format_datetime` and `format_timespan`: .NET-style custom format strings, compiled once
//! into tokens.
//!
//! Datetime specifiers: `y`..`yyyyy`, `M` `MM` `MMM` `MMMM`, `d` `dd` `ddd` `dddd`, `H` `HH`,
//! `h` `hh`, `m` `mm`, `s` `ss`, `f`..`fffffff`, `F`..`FFFFFFF`, `t` `tt`. Timespan
//! specifiers: `d`..`dddddddd`, `h` `hh` (`H` too), `m` `mm`, `s` `ss`, `f`/`F` as above.
//! Any other character is copied, as is text in `'...'` or `"..."` and a character after `\`.
//! Letters .NET gives a meaning we do not support (`g`, `K`, `z`) are errors.

use std::fmt::Write;

use super::civil::{Civil, NS_DAY, NS_H, NS_MIN, NS_S};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Lit(String),
    /// A specifier letter repeated `n` times.
    Spec(char, usize),
}

/// Why a format string was rejected.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FormatError(pub String);

/// Compile `fmt` for datetimes (`timespan == false`) or timespans.
pub(crate) fn compile(fmt: &str, timespan: bool) -> Result<Vec<Tok>, FormatError> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut toks = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let flush = |lit: &mut String, toks: &mut Vec<Tok>| {
        if !lit.is_empty() {
            toks.push(Tok::Lit(std::mem::take(lit)));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                let close = chars[i + 1..]
                    .iter()
                    .position(|&x| x == c)
                    .ok_or_else(|| FormatError(format!("unterminated quote in '{fmt}'")))?;
                lit.extend(&chars[i + 1..i + 1 + close]);
                i += close + 2;
            }
            '\\' => {
                let next = chars
                    .get(i + 1)
                    .ok_or_else(|| FormatError(format!("trailing backslash in '{fmt}'")))?;
                lit.push(*next);
                i += 2;
            }
            _ => {
                let n = chars[i..].iter().take_while(|&&x| x == c).count();
                let max = match (c, timespan) {
                    ('y', false) => 5,
                    ('M', false) | ('d', false) => 4,
                    ('d', true) => 8,
                    ('H' | 'h' | 'm' | 's' | 't', _) => 2,
                    ('f' | 'F', _) => 7,
                    ('g' | 'K' | 'z', _) => 0,
                    (_, true) if c.is_ascii_alphabetic() => 0,
                    _ => {
                        lit.extend(&chars[i..i + n]);
                        i += n;
                        continue;
                    }
                };
                if n > max {
                    return Err(FormatError(format!(
                        "unsupported specifier '{}' in '{fmt}'",
                        chars[i..i + n].iter().collect::<String>()
                    )));
                }
                flush(&mut lit, &mut toks);
                toks.push(Tok::Spec(c, n));
                i += n;
            }
        }
    }
    flush(&mut lit, &mut toks);
    Ok(toks)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Write a fraction of a second (`nanos`) with `n` digits; `trim` (`F`) drops trailing zeros
/// and, when nothing is left, the whole field and a `.` just before it.
fn fraction(out: &mut String, nanos: u32, n: usize, trim: bool) {
    let digits = format!("{nanos:09}");
    let mut d = &digits[..n];
    if trim {
        d = d.trim_end_matches('0');
        if d.is_empty() {
            if out.ends_with('.') {
                out.pop();
            }
            return;
        }
    }
    out.push_str(d);
}

/// Format the datetime `ts` with compiled tokens.
pub(crate) fn format_datetime(ts: i64, toks: &[Tok], out: &mut String) {
    let c = Civil::from_ns(ts);
    for t in toks {
        let _ = match *t {
            Tok::Lit(ref s) => {
                out.push_str(s);
                Ok(())
            }
            Tok::Spec('y', 1) => write!(out, "{}", c.year.rem_euclid(100)),
            Tok::Spec('y', 2) => write!(out, "{:02}", c.year.rem_euclid(100)),
            Tok::Spec('y', n) => write!(out, "{:0n$}", c.year),
            Tok::Spec('M', 1) => write!(out, "{}", c.month),
            Tok::Spec('M', 2) => write!(out, "{:02}", c.month),
            Tok::Spec('M', 3) => write!(out, "{}", &MONTHS[c.month as usize - 1][..3]),
            Tok::Spec('M', _) => write!(out, "{}", MONTHS[c.month as usize - 1]),
            Tok::Spec('d', 1) => write!(out, "{}", c.day),
            Tok::Spec('d', 2) => write!(out, "{:02}", c.day),
            Tok::Spec('d', 3) => write!(out, "{}", &DAYS[c.weekday() as usize][..3]),
            Tok::Spec('d', _) => write!(out, "{}", DAYS[c.weekday() as usize]),
            Tok::Spec('H', n) => write!(out, "{:0n$}", c.hour),
            Tok::Spec('h', n) => write!(out, "{:0n$}", (c.hour + 11) % 12 + 1),
            Tok::Spec('m', n) => write!(out, "{:0n$}", c.minute),
            Tok::Spec('s', n) => write!(out, "{:0n$}", c.second),
            Tok::Spec('f', n) => {
                fraction(out, c.nanos, n, false);
                Ok(())
            }
            Tok::Spec('F', n) => {
                fraction(out, c.nanos, n, true);
                Ok(())
            }
            Tok::Spec('t', n) => {
                let ampm = if c.hour < 12 { "AM" } else { "PM" };
                out.push_str(&ampm[..n]);
                Ok(())
            }
            Tok::Spec(..) => Ok(()),
        };
    }
}

/// Format the timespan `ns` with compiled tokens; a negative span gets a leading `-`.
pub(crate) fn format_timespan(ns: i64, toks: &[Tok], out: &mut String) {
    if ns < 0 {
        out.push('-');
    }
    let a = ns.unsigned_abs();
    let days = a / NS_DAY as u64;
    let rem = a % NS_DAY as u64;
    let nanos = (rem % NS_S as u64) as u32;
    for t in toks {
        let _ = match *t {
            Tok::Lit(ref s) => {
                out.push_str(s);
                Ok(())
            }
            Tok::Spec('d', n) => write!(out, "{days:0n$}"),
            Tok::Spec('h' | 'H', n) => write!(out, "{:0n$}", rem / NS_H as u64),
            Tok::Spec('m', n) => write!(out, "{:0n$}", rem / NS_MIN as u64 % 60),
            Tok::Spec('s', n) => write!(out, "{:0n$}", rem / NS_S as u64 % 60),
            Tok::Spec('f', n) => {
                fraction(out, nanos, n, false);
                Ok(())
            }
            Tok::Spec('F', n) => {
                fraction(out, nanos, n, true);
                Ok(())
            }
            Tok::Spec(..) => Ok(()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::super::civil::{to_ns, NS_MS};
    use super::*;

    fn fmt_dt(ts: i64, f: &str) -> String {
        let mut s = String::new();
        format_datetime(ts, &compile(f, false).unwrap(), &mut s);
        s
    }

    fn fmt_ts(ns: i64, f: &str) -> String {
        let mut s = String::new();
        format_timespan(ns, &compile(f, true).unwrap(), &mut s);
        s
    }

    #[test]
    fn datetime_specifiers() {
        let t = to_ns(2017, 1, 29, 9 * NS_H + 5 * NS_S + 123 * NS_MS).unwrap();
        assert_eq!(fmt_dt(t, "yy-MM-dd [HH:mm:ss]"), "17-01-29 [09:00:05]");
        assert_eq!(fmt_dt(t, "yyyy-M-d h:m:s tt"), "2017-1-29 9:0:5 AM");
        assert_eq!(
            fmt_dt(t, "yyyy-MM-dd HH:mm:ss.fff"),
            "2017-01-29 09:00:05.123"
        );
        assert_eq!(fmt_dt(t, "ss.FFFFFFF"), "05.123");
        assert_eq!(fmt_dt(t - 123 * NS_MS, "ss.FFF"), "05");
        assert_eq!(fmt_dt(t, "ddd, dd MMM yyyy"), "Sun, 29 Jan 2017");
        assert_eq!(fmt_dt(t, "'Year' yyyy\\T"), "Year 2017T");
        assert_eq!(fmt_dt(t + 12 * NS_H, "hh tt"), "09 PM");
        assert_eq!(fmt_dt(t, "yyyyMMddTHHmm"), "20170129T0900");
    }

    #[test]
    fn bad_datetime_formats_are_errors() {
        assert!(compile("yyyy-MM-dd 'oops", false).is_err());
        assert!(compile("HHH", false).is_err());
        assert!(compile("yyyy zzz", false).is_err());
        assert!(compile("fffffffff", false).is_err());
    }

    #[test]
    fn timespan_specifiers() {
        let span = NS_DAY + 2 * NS_H + 3 * NS_MIN + 4 * NS_S + 123_456_700;
        assert_eq!(fmt_ts(span, "d.hh:mm:ss.fffffff"), "1.02:03:04.1234567");
        assert_eq!(fmt_ts(span, "dd.hh:mm:ss.FFFF"), "01.02:03:04.1234");
        assert_eq!(fmt_ts(-5 * NS_MIN, "hh:mm"), "-00:05");
        assert!(compile("hh:mm:ss x", true).is_err());
    }
}
