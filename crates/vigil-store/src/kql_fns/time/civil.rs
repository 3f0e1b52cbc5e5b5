//! Proleptic Gregorian calendar arithmetic on nanoseconds since 1970-01-01 UTC, by hand
//! (days ↔ civil dates), plus KQL's text forms of datetimes and timespans.

pub(crate) const NS_US: i64 = 1_000;
pub(crate) const NS_MS: i64 = 1_000_000;
pub(crate) const NS_S: i64 = 1_000_000_000;
pub(crate) const NS_MIN: i64 = 60 * NS_S;
pub(crate) const NS_H: i64 = 60 * NS_MIN;
pub(crate) const NS_DAY: i64 = 24 * NS_H;
/// One .NET tick, KQL's datetime resolution.
pub(crate) const NS_TICK: i64 = 100;

/// Days since 1970-01-01 of a proleptic Gregorian date (`m` 1-12, `d` 1-31).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month 1-12, day 1-31)` of a day number since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

pub(crate) fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A datetime split into its calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Days since 1970-01-01.
    pub days: i64,
}

impl Civil {
    pub(crate) fn from_ns(ts: i64) -> Civil {
        let days = ts.div_euclid(NS_DAY);
        let rem = ts.rem_euclid(NS_DAY);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (rem / NS_H) as u32,
            minute: (rem / NS_MIN % 60) as u32,
            second: (rem / NS_S % 60) as u32,
            nanos: (rem % NS_S) as u32,
            days,
        }
    }

    /// Day of the week, Sunday = 0.
    pub(crate) fn weekday(&self) -> i64 {
        (self.days + 4).rem_euclid(7)
    }

    /// Day of the year, 1-366.
    pub(crate) fn day_of_year(&self) -> i64 {
        self.days - days_from_civil(self.year, 1, 1) + 1
    }

    /// ISO 8601 week of the year, 1-53.
    pub(crate) fn iso_week(&self) -> i64 {
        let iso_wd = (self.days + 3).rem_euclid(7) + 1; // Monday = 1
        let w = (self.day_of_year() - iso_wd + 10) / 7;
        if w < 1 {
            iso_weeks_in_year(self.year - 1)
        } else if w > iso_weeks_in_year(self.year) {
            1
        } else {
            w
        }
    }
}

fn iso_weeks_in_year(y: i64) -> i64 {
    // 53 weeks when the year starts on a Thursday, or a leap year starts on a Wednesday.
    let jan1 = (days_from_civil(y, 1, 1) + 3).rem_euclid(7) + 1;
    if jan1 == 4 || (jan1 == 3 && is_leap(y)) {
        53
    } else {
        52
    }
}

/// Nanoseconds of a date and time of day; `None` on overflow of the representable range.
pub(crate) fn to_ns(y: i64, m: u32, d: u32, time_of_day_ns: i64) -> Option<i64> {
    if !(1..=12).contains(&m)
        || d == 0
        || d > days_in_month(y, m)
        || !(-300_000..=300_000).contains(&y)
    {
        return None;
    }
    days_from_civil(y, m, d)
        .checked_mul(NS_DAY)?
        .checked_add(time_of_day_ns)
}

/// Add `months` to `ts`, clamping the day to the length of the target month.
pub(crate) fn add_months(ts: i64, months: i64) -> Option<i64> {
    let c = Civil::from_ns(ts);
    let total = c
        .year
        .checked_mul(12)?
        .checked_add(c.month as i64 - 1)?
        .checked_add(months)?;
    let y = total.div_euclid(12);
    let m = (total.rem_euclid(12) + 1) as u32;
    let d = c.day.min(days_in_month(y, m));
    to_ns(y, m, d, ts.rem_euclid(NS_DAY))
}

/// KQL's text of a datetime: `2024-01-02T03:04:05.1234567Z`, without the fraction when it is
/// zero (ticks: nanoseconds below 100 are dropped).
pub(crate) fn format_kql_datetime(ts: i64, out: &mut String) {
    use std::fmt::Write;
    let c = Civil::from_ns(ts);
    let _ = if (0..=9999).contains(&c.year) {
        write!(out, "{:04}", c.year)
    } else {
        write!(out, "{:+05}", c.year)
    };
    let _ = write!(
        out,
        "-{:02}-{:02}T{:02}:{:02}:{:02}",
        c.month, c.day, c.hour, c.minute, c.second
    );
    let ticks = c.nanos / NS_TICK as u32;
    if ticks != 0 {
        let _ = write!(out, ".{ticks:07}");
    }
    out.push('Z');
}

/// KQL's text of a timespan: `[-][d.]hh:mm:ss[.fffffff]`.
pub(crate) fn format_kql_timespan(ns: i64, out: &mut String) {
    use std::fmt::Write;
    let neg = ns < 0;
    let a = ns.unsigned_abs();
    let day = NS_DAY as u64;
    let (days, rem) = (a / day, a % day);
    if neg {
        out.push('-');
    }
    if days > 0 {
        let _ = write!(out, "{days}.");
    }
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        rem / NS_H as u64,
        rem / NS_MIN as u64 % 60,
        rem / NS_S as u64 % 60
    );
    let ticks = rem % NS_S as u64 / NS_TICK as u64;
    if ticks != 0 {
        let _ = write!(out, ".{ticks:07}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(y: i64, m: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        to_ns(y, m, d, h * NS_H + mi * NS_MIN + s * NS_S).unwrap()
    }

    #[test]
    fn civil_round_trips_across_eras_and_leap_days() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(
            days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28),
            2
        );
        assert_eq!(
            days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28),
            1
        );
        assert!(to_ns(2023, 2, 29, 0).is_none());
        assert!(to_ns(2024, 2, 29, 0).is_some());
    }

    #[test]
    fn fields_of_negative_timestamps_floor() {
        let c = Civil::from_ns(-1);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute, c.second),
            (1969, 12, 31, 23, 59, 59)
        );
        assert_eq!(c.nanos, 999_999_999);
        assert_eq!(c.weekday(), 3); // a Wednesday
    }

    #[test]
    fn iso_weeks_at_year_boundaries() {
        let week = |y, m, d| Civil::from_ns(ts(y, m, d, 0, 0, 0)).iso_week();
        assert_eq!(week(2021, 1, 3), 53); // Sunday, still 2020's week 53
        assert_eq!(week(2021, 1, 4), 1);
        assert_eq!(week(2024, 12, 30), 1); // Monday of 2025's week 1
        assert_eq!(week(2024, 6, 15), 24);
    }

    #[test]
    fn months_clamp_to_the_last_day() {
        assert_eq!(
            add_months(ts(2024, 1, 31, 5, 0, 0), 1),
            Some(ts(2024, 2, 29, 5, 0, 0))
        );
        assert_eq!(
            add_months(ts(2023, 1, 31, 0, 0, 0), 1),
            Some(ts(2023, 2, 28, 0, 0, 0))
        );
        assert_eq!(
            add_months(ts(2024, 3, 31, 0, 0, 0), -13),
            Some(ts(2023, 2, 28, 0, 0, 0))
        );
        assert_eq!(
            add_months(ts(2024, 2, 29, 0, 0, 0), 12),
            Some(ts(2025, 2, 28, 0, 0, 0))
        );
    }

    #[test]
    fn kql_text_of_datetimes_and_timespans() {
        let mut s = String::new();
        format_kql_datetime(ts(2024, 1, 2, 3, 4, 5) + 123_456_789, &mut s);
        assert_eq!(s, "2024-01-02T03:04:05.1234567Z");
        s.clear();
        format_kql_datetime(ts(1969, 12, 31, 23, 59, 59), &mut s);
        assert_eq!(s, "1969-12-31T23:59:59Z");
        let span = |ns| {
            let mut s = String::new();
            format_kql_timespan(ns, &mut s);
            s
        };
        assert_eq!(
            span(NS_DAY + 2 * NS_H + 3 * NS_MIN + 4 * NS_S + 500 * NS_MS),
            "1.02:03:04.5000000"
        );
        assert_eq!(span(-5 * NS_MIN), "-00:05:00");
        assert_eq!(span(0), "00:00:00");
    }
}
