//! Instants as the verifier sees them: RFC 3339 strings from JSON and headers, ASN.1 times from
//! certificates, all reduced to one comparable [`Timestamp`]. The core has no clock: every time
//! it compares comes from its input.

use core::fmt;

/// A UTC instant: seconds since the Unix epoch plus nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
}

impl Timestamp {
    /// An instant from whole seconds since the Unix epoch.
    pub const fn from_unix(secs: i64) -> Self {
        Self { secs, nanos: 0 }
    }

    /// Seconds since the Unix epoch (fractions dropped).
    pub const fn unix_seconds(self) -> i64 {
        self.secs
    }

    /// Parses an RFC 3339 `date-time` (`2026-11-28T12:00:00Z`, `2023-06-27T13:30:33.123+08:00`).
    /// A lowercase `t`/`z` is accepted as RFC 3339 allows; anything else is `None`.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 20 {
            return None;
        }
        let year = digits(&b[0..4])? as i64;
        let month = digits(&b[5..7])?;
        let day = digits(&b[8..10])?;
        let hour = digits(&b[11..13])?;
        let minute = digits(&b[14..16])?;
        let second = digits(&b[17..19])?;
        if b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let mut rest = &b[19..];
        let mut nanos = 0u32;
        if rest.first() == Some(&b'.') {
            let frac_len = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if frac_len == 0 {
                return None;
            }
            for (i, c) in rest[1..1 + frac_len].iter().enumerate() {
                if i < 9 {
                    nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
                }
            }
            rest = &rest[1 + frac_len..];
        }
        let offset_secs: i64 = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let oh = digits(&[*h1, *h2])? as i64;
                let om = digits(&[*m1, *m2])? as i64;
                if oh > 23 || om > 59 {
                    return None;
                }
                let off = oh * 3600 + om * 60;
                if *sign == b'+' {
                    off
                } else {
                    -off
                }
            }
            _ => return None,
        };
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        // 60 is allowed for a leap second; it is folded onto the next second.
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
        Some(Self { secs, nanos })
    }

    /// Formats as RFC 3339 in UTC with whole seconds (`2026-11-28T12:00:00Z`).
    pub fn to_rfc3339(self) -> alloc::string::String {
        alloc::format!("{self}")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        )
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_offsets_and_fractions() {
        let z = Timestamp::parse_rfc3339("2023-06-27T05:30:33Z").unwrap();
        let off = Timestamp::parse_rfc3339("2023-06-27T13:30:33+08:00").unwrap();
        assert_eq!(z, off);
        assert_eq!(z.unix_seconds(), 1_687_843_833);
        let frac = Timestamp::parse_rfc3339("2023-06-27T13:30:33.5+08:00").unwrap();
        assert!(frac > z);
        assert_eq!(frac.unix_seconds(), z.unix_seconds());
        assert_eq!(z.to_rfc3339(), "2023-06-27T05:30:33Z");
        assert_eq!(
            Timestamp::parse_rfc3339("1970-01-01T00:00:00Z")
                .unwrap()
                .unix_seconds(),
            0
        );
        assert_eq!(
            Timestamp::parse_rfc3339("1969-12-31T23:59:59Z")
                .unwrap()
                .unix_seconds(),
            -1
        );
    }

    #[test]
    fn rejects_malformed_times() {
        for s in [
            "",
            "2023-06-27",
            "2023-06-27T05:30:33",
            "2023-06-27 05:30:33Z",
            "2023-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2023-06-27T24:00:00Z",
            "2023-06-27T05:30:33+0800",
            "2023-06-27T05:30:33.Z",
            "2023-06-27T05:30:33Z ",
            "２023-06-27T05:30:33Z",
        ] {
            assert!(Timestamp::parse_rfc3339(s).is_none(), "{s}");
        }
        assert!(Timestamp::parse_rfc3339("2024-02-29T00:00:00Z").is_some());
    }

    #[test]
    fn display_round_trips_far_dates() {
        for s in [
            "2122-12-19T00:00:00Z",
            "1950-01-01T12:34:56Z",
            "9999-12-31T23:59:59Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(s).unwrap().to_rfc3339(), s);
        }
    }
}
