//! Civil dates on the proleptic Gregorian calendar, as days since 1970-01-01.
//!
//! The simulator needs only parsing, formatting, adding days and the weekday, so a
//! dozen lines of Howard Hinnant's `days_from_civil` serve better than a date crate.

use std::fmt;

/// Seconds in an hour and in a day: simulated time is whole seconds from the start.
pub const HOUR_S: u32 = 3600;
pub const DAY_S: u32 = 86_400;

/// A calendar date, stored as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

impl Date {
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = month as i32;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Date(era * 146_097 + doe - 719_468))
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        Date::from_ymd(num(0..4)? as i32, num(5..7)?, num(8..10)?)
    }

    pub fn ymd(self) -> (i32, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i32::from(month <= 2);
        (year, month, day)
    }

    pub fn add_days(self, days: i64) -> Date {
        Date(self.0 + days as i32)
    }

    /// Days from `earlier` to `self` (negative when `self` is earlier).
    pub fn days_since(self, earlier: Date) -> i64 {
        i64::from(self.0) - i64::from(earlier.0)
    }

    /// 0 = Monday ... 6 = Sunday (ISO 8601 order, as the `weekly` key lists them).
    pub fn weekday(self) -> usize {
        // 1970-01-01 was a Thursday (index 3).
        (self.0 + 3).rem_euclid(7) as usize
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// The offset from UTC of the clock a scenario's times are on: time 0 is midnight of its
/// `start_date` on that clock. Whole minutes, within ±14 h as every civil zone is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UtcOffset {
    minutes: i16,
}

impl UtcOffset {
    pub const UTC: UtcOffset = UtcOffset { minutes: 0 };

    /// Parses `+HH:MM` or `-HH:MM` (ISO 8601's extended form), or `Z`.
    pub fn parse(s: &str) -> Option<UtcOffset> {
        if s == "Z" {
            return Some(UtcOffset::UTC);
        }
        let b = s.as_bytes();
        if b.len() != 6 || !matches!(b[0], b'+' | b'-') || b[3] != b':' {
            return None;
        }
        let two = |i: usize| -> Option<i16> {
            (b[i].is_ascii_digit() && b[i + 1].is_ascii_digit())
                .then(|| i16::from(b[i] - b'0') * 10 + i16::from(b[i + 1] - b'0'))
        };
        let (h, m) = (two(1)?, two(4)?);
        if m >= 60 || h * 60 + m > 14 * 60 {
            return None;
        }
        let sign = if b[0] == b'-' { -1 } else { 1 };
        Some(UtcOffset {
            minutes: sign * (h * 60 + m),
        })
    }

    pub fn seconds(self) -> i32 {
        i32::from(self.minutes) * 60
    }
}

impl fmt::Display for UtcOffset {
    /// Always `+HH:MM` or `-HH:MM`, as an ISO 8601 timestamp ends.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minutes < 0 { '-' } else { '+' };
        let m = self.minutes.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
    }
}

/// `YYYY-MM-DDTHH:MM:SS+HH:MM`: `time_s` seconds after midnight of `start` on the clock
/// `offset` from UTC (ISO 8601, the event log's `time`).
pub fn iso_time(start: Date, offset: UtcOffset, time_s: u32) -> String {
    let s = time_s % DAY_S;
    format!(
        "{}T{:02}:{:02}:{:02}{offset}",
        start.add_days((time_s / DAY_S).into()),
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_offsets_parse_and_print_in_iso_form() {
        for (text, seconds, printed) in [
            ("+03:00", 10_800, "+03:00"),
            ("+05:30", 19_800, "+05:30"),
            ("-03:30", -12_600, "-03:30"),
            ("Z", 0, "+00:00"),
            ("+14:00", 50_400, "+14:00"),
        ] {
            let o = UtcOffset::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!((o.seconds(), o.to_string().as_str()), (seconds, printed));
        }
        for bad in [
            "+3:00", "03:00", "+03:60", "+14:01", "+0300", "UTC", "+aa:00", "",
        ] {
            assert!(UtcOffset::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn round_trips_and_knows_weekdays() {
        let d = Date::parse("2016-11-11").unwrap();
        assert_eq!(d.to_string(), "2016-11-11");
        assert_eq!(d.weekday(), 4, "Singles' Day 2016 was a Friday");
        assert_eq!(
            Date::parse("2015-11-11").unwrap().weekday(),
            2,
            "a Wednesday"
        );
        assert_eq!(
            Date::parse("2016-02-29").unwrap().add_days(1).to_string(),
            "2016-03-01"
        );
        assert_eq!(Date::parse("1970-01-01").unwrap(), Date(0));
        assert!(Date::parse("2015-02-29").is_none());
        assert!(Date::parse("2016-13-01").is_none());
        assert!(Date::parse("2016-1-01").is_none());
        // An independent oracle: walk the calendar a day at a time from the epoch.
        let month_len = |y: i32, m: u32| match m {
            2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let (mut y, mut m, mut dd) = (1970, 1, 1);
        for n in 0..150_000 {
            assert_eq!(Date(n).ymd(), (y, m, dd), "day {n}");
            assert_eq!(
                Date(n).weekday(),
                ((n + 3) % 7) as usize,
                "1970-01-01 was a Thursday"
            );
            dd += 1;
            if dd > month_len(y, m) {
                (dd, m) = (1, m + 1);
                if m > 12 {
                    (m, y) = (1, y + 1);
                }
            }
        }
        for n in -800_000..800_000 {
            let d = Date(n);
            let (y, m, dd) = d.ymd();
            assert_eq!(Date::from_ymd(y, m, dd), Some(d));
        }
    }
}
