//! Turning spans and events into log text: RFC 3339 timestamps, `key=value` text fields, JSON
//! strings and values. Everything writes into a `String`, so a record goes out in one write.

use std::{
    fmt::{self, Write},
    time::{SystemTime, UNIX_EPOCH},
};

use tracing::{
    field::{Field, Visit},
    Level,
};

/// Lambda's name for a level.
pub(crate) fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

/// Appends the current UTC time as `2024-05-01T12:34:56.123456Z`.
pub(crate) fn write_now(out: &mut String) {
    // A clock before 1970 is reported as the epoch.
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    write_timestamp(out, since_epoch.as_secs(), since_epoch.subsec_micros());
}

/// Appends `secs` (since the Unix epoch) and `micros` as an RFC 3339 UTC timestamp.
pub(crate) fn write_timestamp(out: &mut String, secs: u64, micros: u32) {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
///
/// Written out here rather than taken from the `time` crate (which the emulator, the sample
/// events and the benchmarks use): every function binary links this crate, and its size is
/// held at or below `lambda_runtime`'s.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Appends `s` as a JSON string, quotes included.
pub(crate) fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    push_escaped(out, s);
    out.push('"');
}

/// Appends `s` escaped for the inside of a JSON string.
fn push_escaped(out: &mut String, s: &str) {
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if c < ' ' => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push_str(escape);
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
}

/// A `fmt::Write` that escapes what goes through it as the inside of a JSON string.
struct JsonEscaper<'a>(&'a mut String);

impl Write for JsonEscaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        push_escaped(self.0, s);
        Ok(())
    }
}

/// Appends a `Debug` value as a JSON string.
fn write_json_debug(out: &mut String, value: &dyn fmt::Debug) {
    out.push('"');
    let _ = write!(JsonEscaper(out), "{value:?}");
    out.push('"');
}

/// Appends a float: as JSON wants it (non-finite values as `null`), or as text.
fn write_f64(out: &mut String, value: f64, json: bool) {
    if value.is_finite() {
        // serde_json's float printer is already part of every function that returns JSON.
        match serde_json::to_string(&value) {
            Ok(text) => out.push_str(&text),
            Err(_) => out.push_str("null"),
        }
    } else if json {
        out.push_str("null");
    } else if value.is_nan() {
        out.push_str("NaN");
    } else if value > 0.0 {
        out.push_str("inf");
    } else {
        out.push_str("-inf");
    }
}

/// Field names that the JSON record sets itself; an event's own fields of these names are
/// dropped.
const RESERVED: [&str; 5] = ["timestamp", "level", "message", "requestId", "target"];

/// Collects an event's fields for a JSON record: the message apart, the rest as `,"k":v`.
#[derive(Default)]
pub(crate) struct JsonFields {
    /// The `message` field's text (unescaped).
    pub(crate) message: String,
    /// The other fields, each written as `,"name":value`.
    pub(crate) rest: String,
}

impl JsonFields {
    fn key(&mut self, field: &Field) -> bool {
        let name = field.name();
        if RESERVED.contains(&name) || name.starts_with("log.") {
            return false;
        }
        self.rest.push(',');
        write_json_str(&mut self.rest, name.strip_prefix("r#").unwrap_or(name));
        self.rest.push(':');
        true
    }
}

impl Visit for JsonFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.key(field) {
            write_f64(&mut self.rest, value, true);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.key(field) {
            let _ = write!(self.rest, "{value}");
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.key(field) {
            let _ = write!(self.rest, "{value}");
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.key(field) {
            self.rest.push_str(if value { "true" } else { "false" });
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else if self.key(field) {
            write_json_str(&mut self.rest, value);
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else if self.key(field) {
            write_json_debug(&mut self.rest, value);
        }
    }
}

/// Writes fields as text: the message first, then ` name=value` for the others (strings
/// quoted, `%` values as their `Display`).
pub(crate) struct TextFields<'a> {
    /// Where the text goes.
    pub(crate) out: &'a mut String,
    /// Whether something was written (to place separators).
    pub(crate) empty: bool,
}

impl TextFields<'_> {
    fn key(&mut self, field: &Field) -> bool {
        let name = field.name();
        if name.starts_with("log.") {
            return false;
        }
        if !self.empty {
            self.out.push(' ');
        }
        self.empty = false;
        if name != "message" {
            self.out.push_str(name.strip_prefix("r#").unwrap_or(name));
            self.out.push('=');
        }
        true
    }
}

impl Visit for TextFields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.key(field) {
            write_f64(self.out, value, false);
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.key(field);
            self.out.push_str(value);
        } else if self.key(field) {
            let _ = write!(self.out, "{value:?}");
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.key(field) {
            let _ = write!(self.out, "{value:?}");
        }
    }
}

/// Finds a span's `requestId` field (for JSON records): a string, or any value's `Debug`
/// except floats and 128-bit integers, which no request id is.
#[derive(Default)]
pub(crate) struct RequestIdField(pub(crate) Option<String>);

impl Visit for RequestIdField {
    // Overridden so that the `Debug` of these types (and their formatting code) is not needed.
    fn record_f64(&mut self, _field: &Field, _value: f64) {}
    fn record_u128(&mut self, _field: &Field, _value: u128) {}
    fn record_i128(&mut self, _field: &Field, _value: i128) {}
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "requestId" {
            self.0 = Some(value.to_owned());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "requestId" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timestamp(secs: u64, micros: u32) -> String {
        let mut s = String::new();
        write_timestamp(&mut s, secs, micros);
        s
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(0, 0), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29 (a leap day in a century leap year), 23:59:59.
        assert_eq!(
            timestamp(951_868_799, 999_999),
            "2000-02-29T23:59:59.999999Z"
        );
        assert_eq!(timestamp(1_700_000_000, 42), "2023-11-14T22:13:20.000042Z");
        // 2100 is not a leap year: the day after 2100-02-28 is 2100-03-01.
        assert_eq!(timestamp(4_107_542_400, 0), "2100-03-01T00:00:00.000000Z");
        let mut now = String::new();
        write_now(&mut now);
        assert_eq!(now.len(), 27, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        write_json_str(&mut s, "a\"b\\c\nd\te\u{1}é😀");
        assert_eq!(s, r#""a\"b\\c\nd\te\u0001é😀""#);
        let parsed: String = serde_json::from_str(&s).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\te\u{1}é😀");
        let mut s = String::new();
        write_json_debug(&mut s, &format_args!("x \"{}\"\n", 1));
        assert_eq!(serde_json::from_str::<String>(&s).unwrap(), "x \"1\"\n");
    }

    #[test]
    fn floats() {
        let mut s = String::new();
        write_f64(&mut s, 1.5, true);
        s.push(' ');
        write_f64(&mut s, f64::NAN, true);
        s.push(' ');
        write_f64(&mut s, f64::NEG_INFINITY, false);
        s.push(' ');
        write_f64(&mut s, 0.1, false);
        assert_eq!(s, "1.5 null -inf 0.1");
    }
}
