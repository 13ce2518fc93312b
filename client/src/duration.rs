//! Durations as people type them on command lines: `30m`, `24h`, `7d`, `90s`, and sums of those
//! such as `1h30m`. No months or years: their length is ambiguous, and an expiry should be exact.

use std::time::Duration;

/// Parses `<number><unit>` repeated, units `s`, `m`, `h`, `d`. A zero total is refused: a
/// signature that expires when it is made is a mistake, not a request.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(format!("{text:?}: unknown unit {c:?} (use s, m, h or d)")),
        };
        if number.is_empty() {
            return Err(format!("{text:?}: a unit without a number"));
        }
        let n: u64 = number
            .parse()
            .map_err(|_| format!("{text:?}: number too large"))?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("{text:?}: too large"))?;
    }
    if !number.is_empty() {
        return Err(format!(
            "{text:?}: a number without a unit (e.g. 24h, 7d, 30m)"
        ));
    }
    if total == 0 {
        return Err(format!("{text:?}: the duration must be positive"));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_sums() {
        assert_eq!(parse_duration("24h").unwrap().as_secs(), 86_400);
        assert_eq!(parse_duration("7d").unwrap().as_secs(), 7 * 86_400);
        assert_eq!(parse_duration("30m").unwrap().as_secs(), 1_800);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5_400);
        assert_eq!(parse_duration("45s").unwrap().as_secs(), 45);
    }

    #[test]
    fn refuses_nonsense() {
        for bad in [
            "",
            "24",
            "h",
            "1y",
            "0h",
            "-1h",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
