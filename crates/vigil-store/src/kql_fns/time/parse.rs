//! Parsing of datetimes and timespans from text, as `todatetime` and `totimespan` do.
//!
//! Datetimes: ISO 8601 (`2024-01-02`, `2024-01-02T03:04:05.1234567Z`, a space for the `T`,
//! `/` for the `-`, an offset such as `+02:00`, `-0530` or `+02`, or a trailing `UTC`/`GMT`)
//! and RFC 1123 (`Tue, 03 Jun 2025 10:00:00 GMT`). Timespans: `[-][d.]hh:mm[:ss[.fffffff]]`
//! and a number with a unit (`1d`, `2h`, `30m`, `1.5s`, `100ms`, `10microseconds`, `5ticks`).
//! Anything else is `None`.

use super::civil::{to_ns, NS_DAY, NS_H, NS_MIN, NS_MS, NS_S, NS_TICK, NS_US};

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_any(&mut self, cs: &[u8]) -> Option<u8> {
        let c = self.peek()?;
        if cs.contains(&c) {
            self.i += 1;
            Some(c)
        } else {
            None
        }
    }
    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }
    /// Between `min` and `max` digits as a number.
    fn digits(&mut self, min: usize, max: usize) -> Option<i64> {
        let start = self.i;
        let mut n: i64 = 0;
        while self.i - start < max {
            match self.peek() {
                Some(c @ b'0'..=b'9') => {
                    n = n * 10 + i64::from(c - b'0');
                    self.i += 1;
                }
                _ => break,
            }
        }
        (self.i - start >= min).then_some(n)
    }
    /// A fraction after the `.`: its value in nanoseconds (digits past the ninth are dropped).
    fn fraction_ns(&mut self) -> Option<i64> {
        let start = self.i;
        let mut ns: i64 = 0;
        let mut scale = 100_000_000;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            ns += i64::from(c - b'0') * scale;
            scale /= 10;
            self.i += 1;
        }
        (self.i > start).then_some(ns)
    }
    fn word(&mut self) -> &str {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.i += 1;
        }
        std::str::from_utf8(&self.b[start..self.i]).unwrap_or("")
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

/// Parse a datetime; `None` when the text is not one.
pub(crate) fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let first = s.as_bytes().first()?;
    if first.is_ascii_digit() {
        parse_iso(s)
    } else {
        parse_rfc1123(s)
    }
}

/// `hh:mm[:ss[.f]]` as nanoseconds of the day.
fn time_of_day(c: &mut Cursor) -> Option<i64> {
    let h = c.digits(1, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let m = c.digits(2, 2)?;
    let mut ns = 0;
    let mut sec = 0;
    if c.eat(b':') {
        sec = c.digits(2, 2)?;
        if c.eat(b'.') || c.eat(b',') {
            ns = c.fraction_ns()?;
        }
    }
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    Some(h * NS_H + m * NS_MIN + sec * NS_S + ns)
}

/// A zone suffix: nothing, `Z`, `UTC`, `GMT`, `+hh[:mm]`, `-hhmm`. Returns the offset east of
/// UTC in nanoseconds (to subtract).
fn zone(c: &mut Cursor) -> Option<i64> {
    c.skip_spaces();
    if c.done() {
        return Some(0);
    }
    if let Some(sign) = c.eat_any(b"+-") {
        let h = c.digits(2, 2)?;
        c.eat(b':');
        let m = if c.done() { 0 } else { c.digits(2, 2)? };
        if h > 14 || m > 59 {
            return None;
        }
        let off = h * NS_H + m * NS_MIN;
        return Some(if sign == b'-' { -off } else { off });
    }
    match c.word() {
        "Z" | "z" | "UTC" | "GMT" => Some(0),
        _ => None,
    }
}

fn parse_iso(s: &str) -> Option<i64> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let y = c.digits(4, 4)?;
    let sep = c.eat_any(b"-/")?;
    let mo = c.digits(1, 2)?;
    if !c.eat(sep) {
        return None;
    }
    let d = c.digits(1, 2)?;
    let mut tod = 0;
    if c.eat(b'T')
        || c.eat(b't')
        || (c.peek() == Some(b' ')
            && s.len() > c.i + 1
            && s.as_bytes()[c.i + 1].is_ascii_digit()
            && c.eat(b' '))
    {
        tod = time_of_day(&mut c)?;
    }
    let off = zone(&mut c)?;
    if !c.done() {
        return None;
    }
    to_ns(y, mo as u32, d as u32, tod)?.checked_sub(off)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn parse_rfc1123(s: &str) -> Option<i64> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    // An optional weekday name and comma.
    let w = c.word();
    if w.is_empty() {
        return None;
    }
    c.eat(b',');
    c.skip_spaces();
    let d = c.digits(1, 2)?;
    c.skip_spaces();
    let mon = c.word().to_ascii_lowercase();
    let mo = MONTHS
        .iter()
        .position(|m| mon.len() >= 3 && m.starts_with(&mon[..3]))? as u32
        + 1;
    c.skip_spaces();
    let y = c.digits(4, 4)?;
    c.skip_spaces();
    let tod = if c.peek().is_some_and(|b| b.is_ascii_digit()) {
        time_of_day(&mut c)?
    } else {
        0
    };
    let off = zone(&mut c)?;
    if !c.done() {
        return None;
    }
    to_ns(y, mo, d as u32, tod)?.checked_sub(off)
}

/// Parse a timespan; `None` when the text is not one.
pub(crate) fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let ns = if body.contains(':') {
        clock_span(body)?
    } else {
        unit_span(body)?
    };
    Some(if neg { -ns } else { ns })
}

/// `[d.]hh:mm[:ss[.f]]`.
fn clock_span(s: &str) -> Option<i64> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let first = c.digits(1, 8)?;
    let (days, h) = if c.eat(b'.') {
        (first, c.digits(1, 2)?)
    } else {
        (0, first)
    };
    if !c.eat(b':') {
        return None;
    }
    let m = c.digits(1, 2)?;
    let mut sec = 0;
    let mut frac = 0;
    if c.eat(b':') {
        sec = c.digits(1, 2)?;
        if c.eat(b'.') {
            frac = c.fraction_ns()?;
        }
    }
    if !c.done() || h > 23 || m > 59 || sec > 59 {
        return None;
    }
    days.checked_mul(NS_DAY)?
        .checked_add(h * NS_H + m * NS_MIN + sec * NS_S + frac)
}

/// A decimal number and a unit: `1d`, `1.5h`, `100ms`.
fn unit_span(s: &str) -> Option<i64> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let unit_ns = match unit.trim().to_ascii_lowercase().as_str() {
        "d" | "day" | "days" => NS_DAY,
        "h" | "hr" | "hrs" | "hour" | "hours" => NS_H,
        "m" | "min" | "minute" | "minutes" => NS_MIN,
        "s" | "sec" | "second" | "seconds" => NS_S,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => NS_MS,
        "microsecond" | "microseconds" => NS_US,
        "tick" | "ticks" => NS_TICK,
        _ => return None,
    };
    if let Ok(n) = num.parse::<i64>() {
        return n.checked_mul(unit_ns);
    }
    let x = num.parse::<f64>().ok()? * unit_ns as f64;
    (x.is_finite() && x.abs() < 9.2e18).then(|| x.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::super::civil::days_from_civil;
    use super::*;

    fn at(y: i64, m: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        days_from_civil(y, m, d) * NS_DAY + h * NS_H + mi * NS_MIN + s * NS_S
    }

    #[test]
    fn iso_datetimes_in_their_usual_shapes() {
        let t = at(2024, 1, 2, 3, 4, 5);
        assert_eq!(parse_datetime("2024-01-02T03:04:05Z"), Some(t));
        assert_eq!(parse_datetime("2024-01-02 03:04:05"), Some(t));
        assert_eq!(
            parse_datetime(" 2024-01-02T03:04:05.5Z "),
            Some(t + 500 * NS_MS)
        );
        assert_eq!(
            parse_datetime("2024-01-02T03:04:05.1234567Z"),
            Some(t + 123_456_700)
        );
        assert_eq!(parse_datetime("2024-01-02T05:04:05+02:00"), Some(t));
        assert_eq!(parse_datetime("2024-01-01T22:04:05-0500"), Some(t));
        assert_eq!(parse_datetime("2024/01/02"), Some(at(2024, 1, 2, 0, 0, 0)));
        assert_eq!(parse_datetime("2024-01-02"), Some(at(2024, 1, 2, 0, 0, 0)));
        assert_eq!(
            parse_datetime("2024-01-02T03:04"),
            Some(at(2024, 1, 2, 3, 4, 0))
        );
        assert_eq!(
            parse_datetime("1960-02-29 00:00:00 UTC"),
            Some(at(1960, 2, 29, 0, 0, 0))
        );
    }

    #[test]
    fn rfc1123_datetimes() {
        assert_eq!(
            parse_datetime("Tue, 03 Jun 2025 10:00:00 GMT"),
            Some(at(2025, 6, 3, 10, 0, 0))
        );
        assert_eq!(parse_datetime("3 June 2025 10:00"), None);
    }

    #[test]
    fn bad_datetimes_are_none() {
        for s in [
            "",
            "hello",
            "2023-02-29",
            "2024-13-01",
            "2024-01-02T25:00:00",
            "2024-01-02X",
            "2024-01-02T03:04:05Zjunk",
            "20240102",
            "2024-01-02T03:04:05+99:00",
        ] {
            assert_eq!(parse_datetime(s), None, "{s}");
        }
    }

    #[test]
    fn timespans_clock_and_unit_forms() {
        assert_eq!(
            parse_timespan("1.02:03:04.5"),
            Some(NS_DAY + 2 * NS_H + 3 * NS_MIN + 4 * NS_S + 500 * NS_MS)
        );
        assert_eq!(parse_timespan("00:05:00"), Some(5 * NS_MIN));
        assert_eq!(parse_timespan("-00:05"), Some(-5 * NS_MIN));
        assert_eq!(parse_timespan("1d"), Some(NS_DAY));
        assert_eq!(parse_timespan("2h"), Some(2 * NS_H));
        assert_eq!(parse_timespan("1.5s"), Some(1_500 * NS_MS));
        assert_eq!(parse_timespan("100ms"), Some(100 * NS_MS));
        assert_eq!(parse_timespan("3ticks"), Some(300));
        for s in ["", "h", "1y", "12:99", "1:2:3:4", "abc", "1.2.3h"] {
            assert_eq!(parse_timespan(s), None, "{s}");
        }
    }
}
