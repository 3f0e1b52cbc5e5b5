//! `datetime(...)` literals: the text KQL accepts, to nanoseconds since the epoch (UTC).

/// Days from 1970-01-01 to the proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parse `2024-01-02`, `2024-01-02 03:04`, `2024-01-02T03:04:05.123Z`, `2024/01/02`,
/// with an optional `Z` or `±hh:mm` offset. `None` when the text is not a valid datetime.
pub fn parse_datetime(text: &str) -> Option<i64> {
    let s = text.trim();
    if let Some(iso) = us_date(s) {
        return parse_datetime(&iso);
    }
    let bytes = s.as_bytes();
    let mut pos = 0;
    let year = number(bytes, &mut pos, 4, 4)?;
    let sep = *bytes.get(pos)?;
    if sep != b'-' && sep != b'/' {
        return None;
    }
    pos += 1;
    let month = number(bytes, &mut pos, 1, 2)? as u32;
    if bytes.get(pos) != Some(&sep) {
        return None;
    }
    pos += 1;
    let day = number(bytes, &mut pos, 1, 2)? as u32;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut nanos: i64 = 0;
    if matches!(bytes.get(pos), Some(b'T' | b't' | b' ')) {
        pos += 1;
        let hour = number(bytes, &mut pos, 1, 2)?;
        if bytes.get(pos) != Some(&b':') {
            return None;
        }
        pos += 1;
        let minute = number(bytes, &mut pos, 2, 2)?;
        let mut second = 0;
        if bytes.get(pos) == Some(&b':') {
            pos += 1;
            second = number(bytes, &mut pos, 2, 2)?;
            if bytes.get(pos) == Some(&b'.') {
                pos += 1;
                let start = pos;
                let mut frac: i64 = 0;
                let mut digits = 0;
                while let Some(c) = bytes.get(pos).filter(|c| c.is_ascii_digit()) {
                    if digits < 9 {
                        frac = frac * 10 + i64::from(c - b'0');
                        digits += 1;
                    }
                    pos += 1;
                }
                if pos == start {
                    return None;
                }
                nanos += frac * 10i64.pow(9 - digits);
            }
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        nanos += ((hour * 60 + minute) * 60 + second) * 1_000_000_000;
    }
    match bytes.get(pos) {
        None => {}
        Some(b'Z' | b'z') if pos + 1 == bytes.len() => {}
        Some(&sign @ (b'+' | b'-')) => {
            pos += 1;
            let h = number(bytes, &mut pos, 2, 2)?;
            if bytes.get(pos) == Some(&b':') {
                pos += 1;
            }
            let m = number(bytes, &mut pos, 2, 2)?;
            if pos != bytes.len() {
                return None;
            }
            let offset = (h * 60 + m) * 60 * 1_000_000_000;
            nanos += if sign == b'+' { -offset } else { offset };
        }
        _ => return None,
    }
    let days = days_from_civil(year, month, day);
    days.checked_mul(86_400_000_000_000)?.checked_add(nanos)
}

/// `MM/DD/YYYY[ rest]` (the US order KQL also reads) rewritten as `YYYY-MM-DD[ rest]`.
fn us_date(s: &str) -> Option<String> {
    let (date, rest) = s.split_once(' ').map_or((s, ""), |(d, r)| (d, r));
    let mut parts = date.split('/');
    let (m, d, y) = (parts.next()?, parts.next()?, parts.next()?);
    let short = |p: &str| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !short(m) || !short(d) || y.len() != 4 {
        return None;
    }
    let time = if rest.is_empty() {
        String::new()
    } else {
        format!(" {rest}")
    };
    Some(format!("{y}-{m:0>2}-{d:0>2}{time}"))
}

fn number(bytes: &[u8], pos: &mut usize, min: usize, max: usize) -> Option<i64> {
    let start = *pos;
    let mut v: i64 = 0;
    while *pos < bytes.len() && *pos - start < max && bytes[*pos].is_ascii_digit() {
        v = v * 10 + i64::from(bytes[*pos] - b'0');
        *pos += 1;
    }
    (*pos - start >= min).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000_000;

    #[test]
    fn dates_and_times() {
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(parse_datetime("1970-01-02"), Some(DAY));
        assert_eq!(parse_datetime("2024-02-29T00:00:00Z"), Some(19_782 * DAY));
        assert_eq!(
            parse_datetime("1970-01-01 01:00:00.5"),
            Some(3_600_000_000_000 + 500_000_000)
        );
        assert_eq!(parse_datetime("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_datetime("1969-12-31"), Some(-DAY));
        assert_eq!(parse_datetime("2023-02-29"), None);
        assert_eq!(parse_datetime("yesterday"), None);
        assert_eq!(parse_datetime("2024-01-01 25:00"), None);
        assert_eq!(
            parse_datetime("01/16/2022 00:00:00"),
            parse_datetime("2022-01-16 00:00:00")
        );
        assert_eq!(parse_datetime("13/01/2022"), None);
    }
}
