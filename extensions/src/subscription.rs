//! What a Telemetry API (or Logs API) subscription asks for: the [`TelemetryType`]s of records,
//! how Lambda batches them ([`Buffering`], checked against Lambda's limits before anything is
//! sent), and how it delivers the batches ([`Protocol`]).

use std::{fmt, ops::RangeInclusive, time::Duration};

use serde::{Deserialize, Serialize};

use crate::Error;

/// A kind of telemetry record an extension can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TelemetryType {
    /// `platform`: the `platform.*` records of the environment's lifecycle (`initStart`,
    /// `start`, `runtimeDone`, `report`, ...).
    Platform,
    /// `function`: the lines the function's runtime writes to stdout and stderr.
    Function,
    /// `extension`: the lines the extensions write to stdout and stderr.
    Extension,
}

impl TelemetryType {
    /// The name on the wire: `platform`, `function` or `extension`.
    pub fn as_str(self) -> &'static str {
        match self {
            TelemetryType::Platform => "platform",
            TelemetryType::Function => "function",
            TelemetryType::Extension => "extension",
        }
    }
}

impl fmt::Display for TelemetryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How Lambda delivers a subscription's batches (`destination.protocol`).
///
/// ```
/// use firebox_extensions::Protocol;
///
/// assert_eq!(Protocol::default(), Protocol::Http);
/// assert_eq!((Protocol::Tcp.as_str(), Protocol::Tcp.scheme()), ("TCP", "tcp"));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `HTTP`: each batch is POSTed, as a JSON array of records, to
    /// `http://sandbox.localdomain:PORT/PATH`. Lambda recommends it: the answer tells it the
    /// batch arrived.
    #[default]
    Http,
    /// `TCP`: the records are written to a TCP connection to `tcp://sandbox.localdomain:PORT`
    /// as newline-delimited JSON, one record per line. Nothing is answered, so records sent
    /// just before the extension stops or crashes are lost.
    Tcp,
}

impl Protocol {
    /// The name on the wire: `HTTP` or `TCP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Tcp => "TCP",
        }
    }

    /// The scheme of its destinations: `http` or `tcp`.
    pub fn scheme(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Tcp => "tcp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How Lambda batches the records it sends to a subscriber: a batch is sent when `max_items`
/// records or `max_bytes` bytes have gathered, or `timeout_ms` after its first record.
///
/// Every value is checked against Lambda's limits when it is set, so a subscription never
/// fails for its buffering:
///
/// ```
/// use firebox_extensions::Buffering;
///
/// let buffering = Buffering::default().with_timeout_ms(100)?;
/// assert_eq!(
///     (buffering.max_items(), buffering.max_bytes(), buffering.timeout_ms()),
///     (10_000, 262_144, 100)
/// );
/// assert!(Buffering::new(10, 262_144, 100).is_err()); // maxItems is at least 1,000
/// # Ok::<(), firebox_extensions::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Buffering {
    max_items: u32,
    max_bytes: u32,
    timeout_ms: u32,
}

impl Default for Buffering {
    /// Lambda's defaults: 10,000 records, 262,144 bytes, 1,000 ms.
    fn default() -> Self {
        Buffering {
            max_items: 10_000,
            max_bytes: 262_144,
            timeout_ms: 1_000,
        }
    }
}

impl Buffering {
    /// Lambda's limits for `maxItems`.
    pub const MAX_ITEMS: RangeInclusive<u32> = 1_000..=10_000;
    /// Lambda's limits for `maxBytes`.
    pub const MAX_BYTES: RangeInclusive<u32> = 262_144..=1_048_576;
    /// Lambda's limits for `timeoutMs`.
    pub const TIMEOUT_MS: RangeInclusive<u32> = 25..=30_000;

    /// Buffering of at most `max_items` records or `max_bytes` bytes per batch, sent at the
    /// latest `timeout_ms` after its first record; [`Error::InvalidBuffering`] for a value
    /// outside Lambda's limits ([`MAX_ITEMS`](Self::MAX_ITEMS), [`MAX_BYTES`](Self::MAX_BYTES),
    /// [`TIMEOUT_MS`](Self::TIMEOUT_MS)).
    pub fn new(max_items: u32, max_bytes: u32, timeout_ms: u32) -> Result<Self, Error> {
        Buffering::default()
            .with_max_items(max_items)?
            .with_max_bytes(max_bytes)?
            .with_timeout_ms(timeout_ms)
    }

    /// The same buffering with `maxItems` set, or [`Error::InvalidBuffering`].
    pub fn with_max_items(mut self, max_items: u32) -> Result<Self, Error> {
        self.max_items = check("maxItems", max_items, Self::MAX_ITEMS)?;
        Ok(self)
    }

    /// The same buffering with `maxBytes` set, or [`Error::InvalidBuffering`].
    pub fn with_max_bytes(mut self, max_bytes: u32) -> Result<Self, Error> {
        self.max_bytes = check("maxBytes", max_bytes, Self::MAX_BYTES)?;
        Ok(self)
    }

    /// The same buffering with `timeoutMs` set, or [`Error::InvalidBuffering`].
    pub fn with_timeout_ms(mut self, timeout_ms: u32) -> Result<Self, Error> {
        self.timeout_ms = check("timeoutMs", timeout_ms, Self::TIMEOUT_MS)?;
        Ok(self)
    }

    /// `maxItems`: the most records in a batch.
    pub fn max_items(&self) -> u32 {
        self.max_items
    }

    /// `maxBytes`: the most bytes in a batch.
    pub fn max_bytes(&self) -> u32 {
        self.max_bytes
    }

    /// `timeoutMs`: how long a record waits at most for its batch to fill.
    pub fn timeout_ms(&self) -> u32 {
        self.timeout_ms
    }

    /// [`timeout_ms`](Self::timeout_ms) as a [`Duration`].
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.into())
    }
}

/// `value`, or why Lambda would refuse it as `buffering.<field>`.
fn check(field: &'static str, value: u32, limits: RangeInclusive<u32>) -> Result<u32, Error> {
    if limits.contains(&value) {
        Ok(value)
    } else {
        Err(Error::InvalidBuffering {
            field,
            value,
            min: *limits.start(),
            max: *limits.end(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lambdas_defaults() {
        let buffering = Buffering::default();
        assert_eq!(
            serde_json::to_value(buffering).unwrap(),
            json!({"maxItems": 10_000, "maxBytes": 262_144, "timeoutMs": 1_000})
        );
        assert_eq!(buffering.timeout(), Duration::from_secs(1));
    }

    #[test]
    fn limits_are_inclusive() {
        let low = Buffering::new(1_000, 262_144, 25).unwrap();
        assert_eq!(
            (low.max_items(), low.max_bytes(), low.timeout_ms()),
            (1_000, 262_144, 25)
        );
        let high = Buffering::new(10_000, 1_048_576, 30_000).unwrap();
        assert_eq!(
            (high.max_items(), high.max_bytes(), high.timeout_ms()),
            (10_000, 1_048_576, 30_000)
        );
    }

    #[test]
    fn values_outside_the_limits_are_refused() {
        for (result, field, value) in [
            (Buffering::new(999, 262_144, 100), "maxItems", 999),
            (Buffering::new(10_001, 262_144, 100), "maxItems", 10_001),
            (Buffering::new(1_000, 262_143, 100), "maxBytes", 262_143),
            (Buffering::new(1_000, 1_048_577, 100), "maxBytes", 1_048_577),
            (Buffering::new(1_000, 262_144, 24), "timeoutMs", 24),
            (Buffering::new(1_000, 262_144, 30_001), "timeoutMs", 30_001),
            (Buffering::default().with_timeout_ms(0), "timeoutMs", 0),
        ] {
            match result {
                Err(Error::InvalidBuffering {
                    field: f, value: v, ..
                }) => assert_eq!((f, v), (field, value)),
                other => panic!("{field} {value}: {other:?}"),
            }
        }
        let error = Buffering::default().with_max_items(5).unwrap_err();
        assert_eq!(
            error.to_string(),
            "buffering.maxItems 5 is outside Lambda's limits, 1000 to 10000"
        );
    }

    #[test]
    fn types_on_the_wire() {
        assert_eq!(
            serde_json::to_value([
                TelemetryType::Platform,
                TelemetryType::Function,
                TelemetryType::Extension
            ])
            .unwrap(),
            json!(["platform", "function", "extension"])
        );
        assert_eq!(TelemetryType::Function.to_string(), "function");
    }
}
