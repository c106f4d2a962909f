//! Identifiers and timestamps in Lambda's formats: request ids, log stream names and UTC
//! timestamps (X-Ray trace headers are in [`crate::trace`]).

use std::time::{SystemTime, UNIX_EPOCH};

/// A new request id (a random UUID, lower-case, hyphenated).
pub fn request_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// The log stream name of a new environment: `YYYY/MM/DD/[$LATEST]<32 hex>`.
pub fn log_stream_name(version: &str) -> String {
    let (y, m, d, ..) = civil(unix_millis());
    format!(
        "{y:04}/{m:02}/{d:02}/[{version}]{}",
        uuid::Uuid::new_v4().simple()
    )
}

/// Milliseconds since the Unix epoch, now.
pub fn unix_millis() -> u64 {
    millis_of(SystemTime::now())
}

/// Milliseconds since the Unix epoch of `t` (0 before the epoch).
pub fn millis_of(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `2024-01-31T12:34:56.789Z` for a time in milliseconds since the epoch.
pub fn rfc3339_millis(ms: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(ms);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
        ms % 1000
    )
}

/// Splits milliseconds since the epoch into UTC year, month (1-12), day, hour, minute, second.
fn civil(ms: u64) -> (i32, u8, u8, u8, u8, u8) {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    (
        t.year(),
        t.month().into(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
}

/// Now, as Lambda writes `LastModified` (`2024-01-31T12:34:56.789+0000`).
pub fn lambda_timestamp() -> String {
    rfc3339_millis(unix_millis()).replace('Z', "+0000")
}

/// `12/Mar/2020:19:03:58 +0000` (the request time of API Gateway and function URL events).
pub fn clf_time(ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s) = civil(ms);
    let month = MONTHS[usize::from(mo - 1)]; // `civil` gives months 1 to 12
    format!("{d:02}/{month}/{y:04}:{h:02}:{mi:02}:{s:02} +0000")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(clf_time(1_584_039_838_000), "12/Mar/2020:19:03:58 +0000");
        assert_eq!(clf_time(951_782_400_123), "29/Feb/2000:00:00:00 +0000");
        assert_eq!(
            rfc3339_millis(1_704_067_199_999),
            "2023-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn stream_name_shape() {
        let s = log_stream_name("$LATEST");
        assert_eq!(s.len(), "2024/01/01/[$LATEST]".len() + 32, "{s}");
        assert!(s.contains("/[$LATEST]"));
    }
}
