//! Date and time text as feeds write it, to and from unix milliseconds (UTC).
//!
//! Accepted: RFC 3339 (`2024-07-16T05:25:33Z`, any number of fraction digits, `Z` or a
//! `±HH:MM` offset), the same with a space instead of `T` and no zone (abuse.ch, read as UTC),
//! and a bare date (`2016-08-29`, midnight UTC). Fractions beyond milliseconds are truncated.
//! Invariant: no calendar library; the day count is computed from the proleptic Gregorian
//! calendar, so every accepted text maps to exactly one instant.

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Shift the year so that it starts in March: the leap day is then the last day of a year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400; // 0..=399
    let m = i64::from(month);
    let month_from_march = if m > 2 { m - 3 } else { m + 9 }; // 0..=11
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date of a day count from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A cursor over ASCII digits and separators.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let s = self.b.get(self.i..self.i + n)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(s.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

/// Parses a date or date-time (see the module documentation) to unix milliseconds; `None` if
/// the text is not one or names an impossible date.
pub fn parse_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    let mut c = Cursor {
        b: t.as_bytes(),
        i: 0,
    };
    let year = c.digits(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let month = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let day = c.digits(2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(i64::from(year), month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    if c.done() {
        return Some(days * 86_400_000);
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let hour = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.digits(2)?;
    let second = if c.eat(b':') { c.digits(2)? } else { 0 };
    // 60 is a leap second; it is folded into the next minute.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut millis = 0u32;
    if c.eat(b'.') {
        let start = c.i;
        let mut scale = 100;
        while let Some(d) = c.peek().filter(u8::is_ascii_digit) {
            millis += u32::from(d - b'0') * scale;
            scale /= 10;
            c.i += 1;
        }
        if c.i == start {
            return None;
        }
    }
    let mut offset_s: i64 = 0;
    match c.peek() {
        None => {}
        Some(b'Z' | b'z') => c.i += 1,
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = c.digits(2)?;
            c.eat(b':');
            let om = c.digits(2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = i64::from(oh * 3600 + om * 60);
            offset_s = if sign == b'+' { o } else { -o };
        }
        Some(b' ') if t[c.i..].eq_ignore_ascii_case(" utc") => c.i = t.len(),
        Some(_) => return None,
    }
    if !c.done() {
        return None;
    }
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_s;
    Some(secs * 1000 + i64::from(millis))
}

/// RFC 3339 in UTC: `2024-07-16T05:25:33Z`, with `.mmm` when the milliseconds are not zero.
pub fn format_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s, frac) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    if frac == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:03}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_ms("1970-01-01T00:00:00Z"), Some(0));
        // 2016-11-01T03:04:05Z = 1477969445 s (date -u -d ... +%s).
        assert_eq!(parse_ms("2016-11-01T03:04:05Z"), Some(1_477_969_445_000));
        assert_eq!(
            parse_ms("2016-11-01T03:04:05.123456Z"),
            Some(1_477_969_445_123)
        );
        assert_eq!(parse_ms("2016-11-01 03:04:05"), Some(1_477_969_445_000));
        assert_eq!(
            parse_ms("2016-11-01T05:04:05+02:00"),
            Some(1_477_969_445_000)
        );
        assert_eq!(parse_ms("2016-11-01"), Some(1_477_958_400_000));
        assert_eq!(parse_ms("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        assert_eq!(parse_ms("1969-12-31T23:59:59Z"), Some(-1000));
    }

    #[test]
    fn impossible_or_foreign_text_is_refused() {
        for bad in [
            "",
            "2016-13-01",
            "2015-02-29",
            "2016-11-01T25:00:00Z",
            "2016-11-01T03:04:05.Z",
            "2016-11-01T03:04:05Q",
            "1472480394",
            "yesterday",
            "2016-11-01T03:04:05Z trailing",
        ] {
            assert_eq!(parse_ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn format_round_trips() {
        for ms in [
            0,
            1_477_969_445_000,
            1_477_969_445_123,
            951_782_400_000,
            -1000,
            4_102_444_800_000,
        ] {
            assert_eq!(parse_ms(&format_ms(ms)), Some(ms), "{}", format_ms(ms));
        }
        assert_eq!(format_ms(1_477_969_445_123), "2016-11-01T03:04:05.123Z");
        assert_eq!(format_ms(1_477_969_445_000), "2016-11-01T03:04:05Z");
    }
}
