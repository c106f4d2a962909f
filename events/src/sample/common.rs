//! Shared pieces of the sample builders: fixed account and region, timestamps in the formats AWS
//! writes them, deterministic identifiers that look like AWS's, digests and query encoding.

use base64::Engine as _;
use md5::{Digest, Md5};

/// The account id every sample uses (AWS's documentation account).
pub const ACCOUNT_ID: &str = "123456789012";
/// The region every sample uses.
pub const REGION: &str = "us-east-1";
/// The default event time: 2024-05-14T10:20:30.123Z, as Unix milliseconds.
pub const DEFAULT_TIME_MILLIS: u64 = 1_715_682_030_123;
/// The default client address (a documentation address, RFC 5737).
pub const SOURCE_IP: &str = "198.51.100.24";
/// The default client user agent.
pub const USER_AGENT: &str = "curl/8.5.0";

/// Settings every builder shares: when the event happened and the seed of its identifiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) time: Timestamp,
    pub(crate) seed: u64,
}

impl Meta {
    pub(crate) fn new(seed: u64) -> Self {
        Meta {
            time: Timestamp(DEFAULT_TIME_MILLIS),
            seed,
        }
    }

    /// A fresh identifier generator; the same builder always yields the same identifiers.
    pub(crate) fn ids(&self) -> Ids {
        Ids(self.seed ^ self.time.0.rotate_left(17))
    }
}

/// Generates `time_millis` and `seed` setters for a builder whose `Meta` is at the given field
/// path (`meta` by default).
macro_rules! meta_setters {
    () => {
        $crate::sample::common::meta_setters!(meta);
    };
    ($($field:ident).+) => {
        /// Sets the event time as Unix milliseconds (default 2024-05-14T10:20:30.123Z).
        /// Every timestamp in the event is derived from it.
        pub fn time_millis(mut self, millis: u64) -> Self {
            self.$($field).+.time = $crate::sample::common::Timestamp(millis);
            self
        }

        /// Sets the seed of the generated identifiers (request ids, message ids...). Samples are
        /// deterministic: the same settings always give the same event.
        pub fn seed(mut self, seed: u64) -> Self {
            self.$($field).+.seed = seed;
            self
        }
    };
}
pub(crate) use meta_setters;

/// A point in time as Unix milliseconds, formatted the ways AWS event sources write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp(pub u64);

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Timestamp {
    /// Unix milliseconds.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// Whole Unix seconds.
    pub fn seconds(self) -> u64 {
        self.0 / 1000
    }

    /// Splits into (year, month 1-12, day, hour, minute, second, millisecond), in UTC.
    fn civil(self) -> (i32, u8, u8, u8, u8, u8, u16) {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let month: u8 = t.month().into();
        (
            t.year(),
            month,
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond(),
        )
    }

    /// `2024-05-14T10:20:30.123Z` (S3, SNS).
    pub fn iso_millis(self) -> String {
        let (y, mo, d, h, mi, s, ms) = self.civil();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }

    /// `2024-05-14T10:20:30Z` (EventBridge).
    pub fn iso_seconds(self) -> String {
        let (y, mo, d, h, mi, s, _) = self.civil();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }

    /// `14/May/2024:10:20:30 +0000` (API Gateway and function URL request times).
    pub fn clf(self) -> String {
        let (y, mo, d, h, mi, s, _) = self.civil();
        let month = MONTHS[(mo - 1) as usize];
        format!("{d:02}/{month}/{y:04}:{h:02}:{mi:02}:{s:02} +0000")
    }
}

/// Deterministic identifiers shaped like AWS's (a splitmix64 stream).
#[derive(Clone, Debug)]
pub(crate) struct Ids(u64);

impl Ids {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[(self.next() % alphabet.len() as u64) as usize]))
            .collect()
    }

    /// Lowercase hexadecimal digits.
    pub(crate) fn hex(&mut self, len: usize) -> String {
        self.pick(b"0123456789abcdef", len)
    }

    /// Uppercase hexadecimal digits.
    pub(crate) fn upper_hex(&mut self, len: usize) -> String {
        self.pick(b"0123456789ABCDEF", len)
    }

    /// Lowercase letters and digits (API ids, resource ids).
    pub(crate) fn lower_alnum(&mut self, len: usize) -> String {
        self.pick(b"abcdefghijklmnopqrstuvwxyz0123456789", len)
    }

    /// Uppercase letters and digits (IAM unique ids).
    pub(crate) fn upper_alnum(&mut self, len: usize) -> String {
        self.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", len)
    }

    /// Decimal digits, the first one non-zero.
    pub(crate) fn digits(&mut self, len: usize) -> String {
        let mut s = self.pick(b"123456789", 1);
        s.push_str(&self.pick(b"0123456789", len.saturating_sub(1)));
        s
    }

    /// A random-looking version 4 UUID.
    pub(crate) fn uuid(&mut self) -> String {
        let variant = self.pick(b"89ab", 1);
        format!(
            "{}-{}-4{}-{}{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            variant,
            self.hex(3),
            self.hex(12)
        )
    }

    /// Base64 of `bytes` random bytes (receipt handles, API Gateway's short request ids).
    pub(crate) fn base64(&mut self, bytes: usize) -> String {
        let raw: Vec<u8> = (0..bytes).map(|_| self.next() as u8).collect();
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    /// An X-Ray trace header value rooted at `time`.
    pub(crate) fn trace_id(&mut self, time: Timestamp) -> String {
        format!("Root=1-{:08x}-{}", time.seconds(), self.hex(24))
    }
}

/// Standard base64 (with padding), as Lambda event sources encode binary data.
pub(crate) fn base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Lowercase hexadecimal MD5 digest.
pub(crate) fn md5_hex(data: &[u8]) -> String {
    let digest = Md5::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Percent-encodes a query-string component the way browsers and curl send it
/// (unreserved characters kept, everything else `%XX`).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (as a space) in a query-string component. Malformed escapes are
/// kept as they are, as API Gateway does.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits `a=1&b=x%20y` into decoded pairs; a key without `=` gets an empty value.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(part), String::new()),
        })
        .collect()
}

/// `a=1&a=2&b=x`, each component percent-encoded.
pub(crate) fn raw_query_string(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_like_aws() {
        let t = Timestamp(DEFAULT_TIME_MILLIS);
        assert_eq!(t.iso_millis(), "2024-05-14T10:20:30.123Z");
        assert_eq!(t.iso_seconds(), "2024-05-14T10:20:30Z");
        assert_eq!(t.clf(), "14/May/2024:10:20:30 +0000");
        // A leap day and the epoch itself.
        assert_eq!(
            Timestamp(951_782_400_000).iso_seconds(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(Timestamp(0).clf(), "01/Jan/1970:00:00:00 +0000");
    }

    #[test]
    fn ids_are_deterministic_and_well_formed() {
        let a = Meta::new(7).ids().uuid();
        let b = Meta::new(7).ids().uuid();
        let c = Meta::new(8).ids().uuid();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "4");
        assert!(Meta::new(1)
            .ids()
            .digits(56)
            .chars()
            .all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn md5_and_query_encoding() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            md5_hex(b"Test message."),
            "e4e68fb7bd0e697a0ae8f1bb342846b3"
        );
        let pairs = vec![
            ("q".to_string(), "a b&c".to_string()),
            ("q".to_string(), "é".to_string()),
        ];
        assert_eq!(raw_query_string(&pairs), "q=a%20b%26c&q=%C3%A9");
        assert_eq!(parse_query("q=a%20b%26c&q=%C3%A9"), pairs);
        assert_eq!(
            parse_query("flag&x=1+2&bad=%zz&end=%4"),
            vec![
                ("flag".to_string(), String::new()),
                ("x".to_string(), "1 2".to_string()),
                ("bad".to_string(), "%zz".to_string()),
                ("end".to_string(), "%4".to_string()),
            ]
        );
    }
}
