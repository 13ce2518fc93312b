//! Time helpers: the module is handed times (no hidden clock) and needs them as RFC 3339 strings
//! for JWS headers and as UTCTime/GeneralizedTime for certificates.

use alloc::string::{String, ToString};
use core::time::Duration;

use der::asn1::{GeneralizedTime, UtcTime};
use der::DateTime;
use x509_cert::time::Time;

use super::std::time::{SystemTime, UNIX_EPOCH};
use super::SignError;

/// Seconds since the Unix epoch; times before 1970 are out of range.
pub fn system_time_to_unix(t: SystemTime) -> Result<u64, SignError> {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| SignError::TimeOutOfRange)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC, whole seconds: notation truncates its signing time to
/// seconds as well).
pub fn format_rfc3339(unix_seconds: u64) -> Result<String, SignError> {
    let dt = DateTime::from_unix_duration(Duration::from_secs(unix_seconds))
        .map_err(|_| SignError::TimeOutOfRange)?;
    Ok(dt.to_string())
}

/// A certificate validity time: UTCTime through 2049, GeneralizedTime from 2050 on
/// (RFC 5280 §4.1.2.5).
pub(crate) fn x509_time(unix_seconds: u64) -> Result<Time, SignError> {
    let d = Duration::from_secs(unix_seconds);
    // 2050-01-01T00:00:00Z
    const Y2050: u64 = 2_524_608_000;
    if unix_seconds < Y2050 {
        Ok(Time::UtcTime(
            UtcTime::from_unix_duration(d).map_err(|_| SignError::TimeOutOfRange)?,
        ))
    } else {
        Ok(Time::GeneralTime(
            GeneralizedTime::from_unix_duration(d).map_err(|_| SignError::TimeOutOfRange)?,
        ))
    }
}
