//! [`Timestamp`]: the moment a Logs or Telemetry API record (or a span) was made, in UTC —
//! where `lambda_extension` has `chrono::DateTime<Utc>`. Read from and written as RFC 3339,
//! with the `chrono` accessors extension code most often calls on those fields.

use std::{
    fmt,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANOS_PER_SECOND: u32 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;
/// 0000-01-01T00:00:00Z, the earliest moment RFC 3339 can write.
const MIN_SECONDS: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z, the latest second RFC 3339 can write.
const MAX_SECONDS: i64 = 253_402_300_799;

/// A moment in UTC, to the nanosecond, between the years 0 and 9999 (what RFC 3339 can
/// write): the type of [`LambdaLog::time`](super::LambdaLog::time),
/// [`LambdaTelemetry::time`](super::LambdaTelemetry::time) and [`Span::start`](super::Span::start).
///
/// `lambda_extension` has `chrono::DateTime<Utc>` there; this type has the accessors of it that
/// extensions usually call ([`timestamp`](Self::timestamp),
/// [`timestamp_millis`](Self::timestamp_millis), [`to_rfc3339`](Self::to_rfc3339), ...), and
/// formats the same way (`Display` as `2026-11-21 15:05:37.995 UTC`, `Debug` and serde as
/// `2026-11-21T15:05:37.995Z`). Code that names `chrono` types needs
/// [`SystemTime::from`] or the Unix time instead.
///
/// ```
/// use firebox_extensions::lambda_extension::Timestamp;
///
/// let time = Timestamp::parse_from_rfc3339("2026-11-21T15:05:37.995Z")?;
/// assert_eq!(time.timestamp_millis(), 1_795_273_537_995);
/// assert_eq!(time.to_rfc3339(), "2026-11-21T15:05:37.995+00:00");
/// assert_eq!(time.to_string(), "2026-11-21 15:05:37.995 UTC");
/// # Ok::<(), firebox_extensions::lambda_extension::TimestampError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    seconds: i64,
    /// Nanoseconds within the second, below one billion.
    nanos: u32,
}

/// A text that is not an RFC 3339 timestamp (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an RFC 3339 timestamp: {reason}")]
pub struct TimestampError {
    text: String,
    reason: &'static str,
}

impl Timestamp {
    /// Reads an RFC 3339 timestamp (`2026-11-21T15:05:37.995Z`, `2026-11-21T16:05:37+01:00`),
    /// as the APIs write them; digits beyond nanoseconds are dropped. A leap second (`:60`) is
    /// refused.
    pub fn parse_from_rfc3339(text: &str) -> Result<Self, TimestampError> {
        parse(text.as_bytes()).map_err(|reason| TimestampError {
            text: text.to_owned(),
            reason,
        })
    }

    /// The moment `seconds` and `nanos` after the Unix epoch; `None` when `nanos` is a second
    /// or more, or the moment is outside the years 0 to 9999.
    pub fn from_timestamp(seconds: i64, nanos: u32) -> Option<Self> {
        let in_range = (MIN_SECONDS..=MAX_SECONDS).contains(&seconds);
        (in_range && nanos < NANOS_PER_SECOND).then_some(Timestamp { seconds, nanos })
    }

    /// The moment `millis` milliseconds after the Unix epoch; `None` outside the years 0 to
    /// 9999.
    pub fn from_timestamp_millis(millis: i64) -> Option<Self> {
        // rem_euclid(1_000) is in 0..1_000: the nanoseconds fit in a u32.
        let nanos = millis.rem_euclid(1_000) as u32 * 1_000_000;
        Self::from_timestamp(millis.div_euclid(1_000), nanos)
    }

    /// Seconds since the Unix epoch (rounded down).
    pub fn timestamp(&self) -> i64 {
        self.seconds
    }

    /// Milliseconds since the Unix epoch (rounded down).
    pub fn timestamp_millis(&self) -> i64 {
        // Within the years 0 to 9999: far from overflowing.
        self.seconds * 1_000 + i64::from(self.nanos / 1_000_000)
    }

    /// Microseconds since the Unix epoch (rounded down).
    pub fn timestamp_micros(&self) -> i64 {
        self.seconds * 1_000_000 + i64::from(self.nanos / 1_000)
    }

    /// Nanoseconds since the Unix epoch, `None` past what an `i64` holds (about the years
    /// 1677 to 2262), as `chrono`'s `timestamp_nanos_opt`.
    pub fn timestamp_nanos_opt(&self) -> Option<i64> {
        self.seconds
            .checked_mul(1_000_000_000)?
            .checked_add(i64::from(self.nanos))
    }

    /// The milliseconds within the second.
    pub fn timestamp_subsec_millis(&self) -> u32 {
        self.nanos / 1_000_000
    }

    /// The nanoseconds within the second.
    pub fn timestamp_subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// RFC 3339 with a `+00:00` offset and as many fraction digits as needed (none, 3, 6 or 9),
    /// as `chrono`'s `to_rfc3339` writes it: `2026-11-21T15:05:37.995+00:00`.
    pub fn to_rfc3339(&self) -> String {
        format!("{}+00:00", self.rfc3339_without_offset())
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction]`, in UTC.
    fn rfc3339_without_offset(&self) -> String {
        let (date, time) = self.civil();
        format!("{date}T{time}{}", self.fraction())
    }

    /// The date (`YYYY-MM-DD`) and time of day (`HH:MM:SS`), in UTC.
    fn civil(&self) -> (String, String) {
        let days = self.seconds.div_euclid(SECONDS_PER_DAY);
        let second_of_day = self.seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let date = format!("{year:04}-{month:02}-{day:02}");
        let time = format!(
            "{:02}:{:02}:{:02}",
            second_of_day / 3_600,
            second_of_day % 3_600 / 60,
            second_of_day % 60
        );
        (date, time)
    }

    /// `.fff`, `.ffffff` or `.fffffffff`, the shortest that keeps every nonzero digit; empty
    /// for a whole second.
    fn fraction(&self) -> String {
        match self.nanos {
            0 => String::new(),
            n if n % 1_000_000 == 0 => format!(".{:03}", n / 1_000_000),
            n if n % 1_000 == 0 => format!(".{:06}", n / 1_000),
            n => format!(".{n:09}"),
        }
    }
}

impl From<Timestamp> for SystemTime {
    /// The same moment. (A platform whose `SystemTime` cannot reach it — none of Lambda's: Unix
    /// systems hold the years 0 to 9999 — gets the Unix epoch.)
    fn from(time: Timestamp) -> Self {
        let nanos = Duration::from_nanos(u64::from(time.nanos));
        let moment = match u64::try_from(time.seconds) {
            Ok(seconds) => UNIX_EPOCH.checked_add(Duration::from_secs(seconds)),
            Err(_) => UNIX_EPOCH.checked_sub(Duration::from_secs(time.seconds.unsigned_abs())),
        };
        moment
            .and_then(|moment| moment.checked_add(nanos))
            .unwrap_or(UNIX_EPOCH)
    }
}

impl fmt::Display for Timestamp {
    /// `2026-11-21 15:05:37.995 UTC`, as `chrono` displays a `DateTime<Utc>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (date, time) = self.civil();
        write!(f, "{date} {time}{} UTC", self.fraction())
    }
}

impl fmt::Debug for Timestamp {
    /// `2026-11-21T15:05:37.995Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Z", self.rfc3339_without_offset())
    }
}

impl Serialize for Timestamp {
    /// RFC 3339 in UTC, `2026-11-21T15:05:37.995Z`: the APIs' own form.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{self:?}"))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse_from_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// Reads `YYYY-MM-DD(T| )HH:MM:SS[.digits](Z|±HH:MM)`.
fn parse(text: &[u8]) -> Result<Timestamp, &'static str> {
    let mut cursor = Cursor { text, at: 0 };
    let year = cursor.digits(4, "the year is not 4 digits")?;
    cursor.require(b'-', "expected '-' after the year")?;
    let month = cursor.digits(2, "the month is not 2 digits")?;
    cursor.require(b'-', "expected '-' after the month")?;
    let day = cursor.digits(2, "the day is not 2 digits")?;
    match cursor.next() {
        Some(b'T' | b't' | b' ') => {}
        _ => return Err("expected 'T' between the date and the time"),
    }
    let hour = cursor.digits(2, "the hour is not 2 digits")?;
    cursor.require(b':', "expected ':' after the hour")?;
    let minute = cursor.digits(2, "the minutes are not 2 digits")?;
    cursor.require(b':', "expected ':' after the minutes")?;
    let second = cursor.digits(2, "the seconds are not 2 digits")?;
    let mut nanos = 0u32;
    if cursor.peek() == Some(b'.') {
        cursor.at += 1;
        let mut scale = NANOS_PER_SECOND;
        let mut any = false;
        while let Some(digit @ b'0'..=b'9') = cursor.peek() {
            cursor.at += 1;
            any = true;
            if scale > 1 {
                scale /= 10;
                nanos += u32::from(digit - b'0') * scale;
            }
        }
        if !any {
            return Err("no digits after the decimal point");
        }
    }
    let offset_seconds = match cursor.next() {
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hours = cursor.digits(2, "the offset's hours are not 2 digits")?;
            cursor.require(b':', "expected ':' in the offset")?;
            let minutes = cursor.digits(2, "the offset's minutes are not 2 digits")?;
            if hours > 23 || minutes > 59 {
                return Err("the offset is out of range");
            }
            let offset = i64::from(hours * 3_600 + minutes * 60);
            if sign == b'-' {
                -offset
            } else {
                offset
            }
        }
        _ => return Err("expected 'Z' or an offset such as +01:00 after the time"),
    };
    if cursor.at != text.len() {
        return Err("unexpected text after the offset");
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err("no such date");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("no such time of day");
    }
    let days = days_from_civil(i64::from(year), month, day);
    let seconds =
        days * SECONDS_PER_DAY + i64::from(hour * 3_600 + minute * 60 + second) - offset_seconds;
    Timestamp::from_timestamp(seconds, nanos).ok_or("outside the years 0 to 9999 in UTC")
}

/// A position in the text being read.
struct Cursor<'t> {
    text: &'t [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn require(&mut self, byte: u8, error: &'static str) -> Result<(), &'static str> {
        if self.next() == Some(byte) {
            Ok(())
        } else {
            Err(error)
        }
    }

    /// Exactly `count` decimal digits, as a number.
    fn digits(&mut self, count: usize, error: &'static str) -> Result<u32, &'static str> {
        let mut value = 0u32;
        for _ in 0..count {
            match self.next() {
                Some(digit @ b'0'..=b'9') => value = value * 10 + u32::from(digit - b'0'),
                _ => return Err(error),
            }
        }
        Ok(value)
    }
}

fn is_leap_year(year: u32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date of the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date (year, month, day) `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    // Both are small and positive: 1..=31 and 1..=12.
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_from_rfc3339(text).unwrap()
    }

    #[test]
    fn the_apis_timestamps_are_read() {
        let time = at("2026-11-21T15:05:37.995Z");
        assert_eq!(time.timestamp(), 1_795_273_537);
        assert_eq!(time.timestamp_subsec_millis(), 995);
        assert_eq!(time.timestamp_millis(), 1_795_273_537_995);
        assert_eq!(time.timestamp_micros(), 1_795_273_537_995_000);
        assert_eq!(at("1970-01-01T00:00:00Z").timestamp(), 0);
        assert_eq!(at("2000-02-29T00:00:00Z").timestamp(), 951_782_400);
        assert_eq!(at("2026-11-21T16:05:37.995+01:00"), time);
        assert_eq!(at("2026-11-21 15:05:37.995z"), time);
        assert_eq!(
            at("2022-10-12T00:00:15.064123456789Z").timestamp_subsec_nanos(),
            64_123_456
        );
        assert_eq!(at("1969-12-31T23:59:59.5Z").timestamp_millis(), -500);
    }

    #[test]
    fn they_are_written_as_chrono_writes_them() {
        let time = at("2026-11-21T15:05:37.995Z");
        assert_eq!(time.to_string(), "2026-11-21 15:05:37.995 UTC");
        assert_eq!(format!("{time:?}"), "2026-11-21T15:05:37.995Z");
        assert_eq!(time.to_rfc3339(), "2026-11-21T15:05:37.995+00:00");
        assert_eq!(
            at("2026-01-02T03:04:05Z").to_rfc3339(),
            "2026-01-02T03:04:05+00:00"
        );
        assert_eq!(
            at("2026-01-02T03:04:05.000120Z").to_rfc3339(),
            "2026-01-02T03:04:05.000120+00:00"
        );
        assert_eq!(
            at("2026-01-02T03:04:05.000000001Z").to_rfc3339(),
            "2026-01-02T03:04:05.000000001+00:00"
        );
        assert_eq!(
            serde_json::to_string(&time).unwrap(),
            r#""2026-11-21T15:05:37.995Z""#
        );
        let back: Timestamp = serde_json::from_str(r#""2026-11-21T15:05:37.995Z""#).unwrap();
        assert_eq!(back, time);
    }

    #[test]
    fn every_day_round_trips() {
        for days in (-800_000..800_000).step_by(97) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(
                days_from_civil(year, month, day),
                days,
                "{year}-{month}-{day}"
            );
        }
        assert_eq!(
            Timestamp::from_timestamp_millis(-1).unwrap().to_rfc3339(),
            "1969-12-31T23:59:59.999+00:00"
        );
    }

    #[test]
    fn other_texts_are_refused() {
        for bad in [
            "",
            "2026-11-21",
            "2026-11-21T15:05:37",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-21T24:00:00Z",
            "2026-11-21T23:59:60Z",
            "2026-11-21T15:05:37.Z",
            "2026-11-21T15:05:37Zjunk",
            "2026-11-21T15:05:37+1:00",
            "26-11-21T15:05:37Z",
        ] {
            let error = Timestamp::parse_from_rfc3339(bad).unwrap_err();
            assert!(error.to_string().contains("RFC 3339"), "{bad}: {error}");
        }
        assert!(serde_json::from_str::<Timestamp>(r#""yesterday""#).is_err());
        assert_eq!(Timestamp::from_timestamp(1, NANOS_PER_SECOND), None);
        assert_eq!(Timestamp::from_timestamp(MAX_SECONDS + 1, 0), None);
        assert_eq!(Timestamp::from_timestamp_millis(i64::MIN), None);
        assert!(Timestamp::parse_from_rfc3339("0000-01-01T00:00:00+01:00").is_err());
        assert_eq!(
            at("9999-12-31T23:59:59.999999999Z").to_rfc3339(),
            "9999-12-31T23:59:59.999999999+00:00"
        );
        assert_eq!(
            at("0000-01-01T00:00:00Z"),
            Timestamp::from_timestamp(MIN_SECONDS, 0).unwrap()
        );
    }

    #[test]
    fn system_times() {
        let time = at("2026-11-21T15:05:37.995Z");
        assert_eq!(
            SystemTime::from(time),
            UNIX_EPOCH + Duration::from_millis(1_795_273_537_995)
        );
        assert_eq!(
            SystemTime::from(Timestamp::from_timestamp_millis(-1_500).unwrap()),
            UNIX_EPOCH - Duration::from_millis(1_500)
        );
    }
}
