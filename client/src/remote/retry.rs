//! When to try a request again and how long to wait: 408, 429 and 5xx answers and broken
//! connections are retried, after the registry's `Retry-After` (seconds or an HTTP-date) or an
//! exponential backoff, never longer than [`MAX_RETRY_WAIT`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

/// Answers worth another try: the registry timed out, throttles, or failed.
pub(crate) fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// Errors worth another try: no connection, a timeout, or a connection that broke off before
/// the answer came (reset, closed mid-request).
pub(crate) fn is_transient(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_timeout() || e.is_request()
}

/// The longest wait between two tries, whatever the registry asks.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// The wait before retry number `attempt + 1`: the registry's `Retry-After` if it sent one,
/// else `backoff` doubled per attempt; never more than [`MAX_RETRY_WAIT`].
pub(crate) fn retry_delay(
    attempt: u32,
    retry_after: Option<Duration>,
    backoff: Duration,
) -> Duration {
    let doubled = backoff.saturating_mul(2u32.saturating_pow(attempt));
    retry_after.unwrap_or(doubled).min(MAX_RETRY_WAIT)
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, as a wait from `now`.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110 requires senders to use.
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let (_, rest) = s.split_once(", ")?;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = hms[..] else { return None };
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + m * 60 + sec).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_waits_double_honour_retry_after_and_stay_bounded() {
        let base = Duration::from_millis(200);
        let waits: Vec<_> = (0..4).map(|a| retry_delay(a, None, base)).collect();
        assert_eq!(waits, [200, 400, 800, 1600].map(Duration::from_millis));
        let asked = Some(Duration::from_secs(1));
        assert_eq!(retry_delay(3, asked, base), Duration::from_secs(1));
        assert_eq!(
            retry_delay(0, Some(Duration::from_secs(3600)), base),
            MAX_RETRY_WAIT
        );
        assert_eq!(retry_delay(40, None, base), MAX_RETRY_WAIT, "no overflow");
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_an_http_date() {
        let at = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(RETRY_AFTER, v.parse().unwrap());
            h
        };
        // 1994-11-06T08:49:37Z
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(retry_after(&at("7"), now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&at(" 0 "), now), Some(Duration::ZERO));
        assert_eq!(
            retry_after(&at("Sun, 06 Nov 1994 08:50:07 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&at("Sun, 06 Nov 1994 08:00:00 GMT"), now),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
        assert_eq!(
            parse_http_date("Thu, 29 Feb 2024 23:59:59 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(1_709_251_199))
        );
        for bad in [
            "-1",
            "soon",
            "Sun, 06 Nov 1994 25:00:00 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
        ] {
            assert_eq!(retry_after(&at(bad), now), None, "{bad}");
        }
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
