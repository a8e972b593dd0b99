//! `xsd:dateTime` as CWMP uses it (TR-069 Amd 6 Table 12, TR-106 §3.2).
//!
//! CPEs send times with `Z`, with an offset, or with no zone at all (local time of a CPE that
//! does not know its zone); a CPE that has never had a clock sends the *Unknown Time*
//! `0001-01-01T00:00:00Z`. All of these are read; what is written is the canonical form of the
//! same value.

use std::fmt;
use std::str::FromStr;

/// A calendar date and time with an optional UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DateTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    nanosecond: u32,
    /// Minutes east of UTC; `None` for a time written without a zone.
    offset_minutes: Option<i16>,
}

/// Why text is not an `xsd:dateTime`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an xsd:dateTime (YYYY-MM-DDThh:mm:ss[.fff][Z|+hh:mm])")]
pub struct DateTimeError(String);

impl DateTime {
    /// The Unknown Time, `0001-01-01T00:00:00Z` (TR-106 §3.2): sent by a CPE without a clock.
    pub const UNKNOWN: Self = Self {
        year: 1,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
        nanosecond: 0,
        offset_minutes: Some(0),
    };

    /// Builds a time, checking every field's range (seconds may be 60, for leap seconds).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        nanosecond: u32,
        offset_minutes: Option<i16>,
    ) -> Option<Self> {
        let valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second <= 60
            && nanosecond < 1_000_000_000
            && offset_minutes.is_none_or(|o| o.abs() <= 14 * 60);
        valid.then_some(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanosecond,
            offset_minutes,
        })
    }

    /// The UTC time `secs` seconds (and `nanos`) after 1970-01-01T00:00:00Z.
    pub fn from_unix(secs: i64, nanos: u32) -> Option<Self> {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let year = u16::try_from(year).ok()?;
        Self::new(
            year,
            month,
            day,
            (rem / 3600) as u8,
            (rem % 3600 / 60) as u8,
            (rem % 60) as u8,
            nanos,
            Some(0),
        )
    }

    /// Seconds since 1970-01-01T00:00:00Z; a time without a zone is taken as UTC.
    pub fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.offset_minutes.unwrap_or(0)) * 60
    }

    /// Whether this is the Unknown Time.
    pub fn is_unknown(&self) -> bool {
        self.year == 1
            && self.month == 1
            && self.day == 1
            && self.offset_minutes.unwrap_or(0) == 0
            && (self.hour, self.minute, self.second, self.nanosecond) == (0, 0, 0, 0)
    }

    /// Minutes east of UTC, or `None` for a local time written without a zone.
    pub fn offset_minutes(&self) -> Option<i16> {
        self.offset_minutes
    }

    /// Nanoseconds within the second.
    pub fn nanosecond(&self) -> u32 {
        self.nanosecond
    }
}

impl Default for DateTime {
    /// The Unknown Time.
    fn default() -> Self {
        Self::UNKNOWN
    }
}

impl FromStr for DateTime {
    type Err = DateTimeError;

    /// Reads `YYYY-MM-DDThh:mm:ss`, an optional fraction (digits past nanoseconds are
    /// dropped), and an optional `Z`, `+hh:mm`, `-hh:mm` or `+hhmm` zone.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || DateTimeError(text.chars().take(64).collect());
        let s = text.trim().as_bytes();
        let num = |range: std::ops::Range<usize>| -> Result<u32, DateTimeError> {
            let digits = s.get(range).ok_or_else(err)?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(err());
            }
            Ok(digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
        };
        let expect = |i: usize, c: &[u8]| -> Result<(), DateTimeError> {
            if s.get(i).is_some_and(|b| c.contains(b)) {
                Ok(())
            } else {
                Err(err())
            }
        };
        expect(4, b"-")?;
        expect(7, b"-")?;
        expect(10, b"Tt ")?;
        expect(13, b":")?;
        expect(16, b":")?;
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut i = 19;
        let mut nanosecond = 0u32;
        if s.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while s.get(i).is_some_and(u8::is_ascii_digit) {
                if i - start < 9 {
                    nanosecond = nanosecond * 10 + u32::from(s[i] - b'0');
                }
                i += 1;
            }
            if i == start {
                return Err(err());
            }
            for _ in (i - start)..9 {
                nanosecond *= 10;
            }
        }
        let offset_minutes = match s.get(i) {
            None => None,
            Some(b'Z' | b'z') if i + 1 == s.len() => Some(0),
            Some(&sign @ (b'+' | b'-')) => {
                let (h, m) = match s.len() - i {
                    6 if s[i + 3] == b':' => (num(i + 1..i + 3)?, num(i + 4..i + 6)?),
                    5 => (num(i + 1..i + 3)?, num(i + 3..i + 5)?),
                    3 => (num(i + 1..i + 3)?, 0),
                    _ => return Err(err()),
                };
                if m >= 60 {
                    return Err(err());
                }
                let minutes = (h * 60 + m) as i16;
                Some(if sign == b'-' { -minutes } else { minutes })
            }
            Some(_) => return Err(err()),
        };
        Self::new(
            year as u16,
            month as u8,
            day as u8,
            hour as u8,
            minute as u8,
            second as u8,
            nanosecond,
            offset_minutes,
        )
        .ok_or_else(err)
    }
}

impl fmt::Display for DateTime {
    /// The canonical form: fraction only when non-zero (trailing zeros cut), `Z` for UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        if self.nanosecond != 0 {
            let mut frac = self.nanosecond;
            let mut width = 9;
            while frac.is_multiple_of(10) {
                frac /= 10;
                width -= 1;
            }
            write!(f, ".{frac:0width$}")?;
        }
        match self.offset_minutes {
            None => Ok(()),
            Some(0) => f.write_str("Z"),
            Some(o) => {
                let sign = if o < 0 { '-' } else { '+' };
                write!(f, "{sign}{:02}:{:02}", o.abs() / 60, o.abs() % 60)
            }
        }
    }
}

fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(s: &str) -> String {
        s.parse::<DateTime>().unwrap().to_string()
    }

    #[test]
    fn reads_the_forms_devices_send() {
        assert_eq!(
            round("2026-11-22T21:37:08.695Z"),
            "2026-11-22T21:37:08.695Z"
        );
        assert_eq!(
            round("2011-01-26T16:25:25+01:00"),
            "2011-01-26T16:25:25+01:00"
        );
        assert_eq!(
            round("2014-03-27T11:27:59-0700"),
            "2014-03-27T11:27:59-07:00"
        );
        assert_eq!(
            round("2026-11-22T21:44:10.569364"),
            "2026-11-22T21:44:10.569364"
        );
        assert_eq!(round(" 1970-01-01T00:02:45 "), "1970-01-01T00:02:45");
        assert_eq!(
            round("2020-01-01T00:00:00.1234567891Z"),
            "2020-01-01T00:00:00.123456789Z"
        );
        assert!(
            round("0001-01-01T00:00:00Z")
                .parse::<DateTime>()
                .unwrap()
                .is_unknown()
        );
    }

    #[test]
    fn refuses_what_is_not_a_date_time() {
        for bad in [
            "2019-03-05T11:54::14",
            "2019-02-29T00:00:00Z",
            "2019-13-01T00:00:00Z",
            "2019-01-01T24:00:00Z",
            "2019-01-01T00:00:00.Z",
            "2019-01-01T00:00:00+25:00",
            "2019-01-01",
            "",
        ] {
            assert!(bad.parse::<DateTime>().is_err(), "{bad}");
        }
    }

    #[test]
    fn unix_conversion_round_trips() {
        for secs in [0, 86_399, 951_782_400, 1_795_000_000, -86_400] {
            let t = DateTime::from_unix(secs, 0).unwrap();
            assert_eq!(t.unix_seconds(), secs, "{t}");
        }
        assert_eq!(
            DateTime::from_unix(951_782_400, 0).unwrap().to_string(),
            "2000-02-29T00:00:00Z"
        );
    }
}
