//! The AWS event stream binary format (`application/vnd.amazon.eventstream`) that
//! `InvokeWithResponseStream` answers with: encoding of messages, and a decoder used to check
//! them (and by tests and benchmarks that read a stream).
//!
//! A message is `[total length u32][headers length u32][CRC32 of those 8 bytes][headers]
//! [payload][CRC32 of everything before]`, all big-endian; a header is `[name length u8][name]
//! [type u8][value]`, where type 7 is a string with a `u16` length.

use bytes::{BufMut, Bytes, BytesMut};

/// Bytes of a message around its headers and payload: prelude (12) and message CRC (4).
const OVERHEAD: usize = 16;
/// Header value type of a string.
const STRING: u8 = 7;
/// Largest message this decoder accepts (AWS's own limit is 16 MiB).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Encodes one message with string headers.
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let headers_len: usize = headers
        .iter()
        .map(|(name, value)| 1 + name.len() + 1 + 2 + value.len())
        .sum();
    let total = OVERHEAD + headers_len + payload.len();
    let mut buf = BytesMut::with_capacity(total);
    // Lengths fit: headers are a few fixed names, payloads are chunks far below 4 GiB.
    buf.put_u32(total as u32);
    buf.put_u32(headers_len as u32);
    buf.put_u32(crc32fast::hash(&buf[..8]));
    for (name, value) in headers {
        buf.put_u8(name.len() as u8);
        buf.put_slice(name.as_bytes());
        buf.put_u8(STRING);
        buf.put_u16(value.len() as u16);
        buf.put_slice(value.as_bytes());
    }
    buf.put_slice(payload);
    let crc = crc32fast::hash(&buf);
    buf.put_u32(crc);
    buf.freeze()
}

/// A `PayloadChunk` event carrying `payload`.
pub fn payload_chunk(payload: &[u8]) -> Bytes {
    encode(
        &[
            (":event-type", "PayloadChunk"),
            (":content-type", "application/octet-stream"),
            (":message-type", "event"),
        ],
        payload,
    )
}

/// What an `InvokeComplete` event reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InvokeComplete {
    /// The error type when the stream failed.
    #[serde(rename = "ErrorCode", skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The error message when the stream failed.
    #[serde(rename = "ErrorDetails", skip_serializing_if = "Option::is_none")]
    pub error_details: Option<String>,
    /// Base64 of the last 4 KB of the log, when the caller asked for the tail.
    #[serde(rename = "LogResult", skip_serializing_if = "Option::is_none")]
    pub log_result: Option<String>,
}

/// The final `InvokeComplete` event.
pub fn invoke_complete(complete: &InvokeComplete) -> Bytes {
    let json = serde_json::to_vec(complete).unwrap_or_else(|_| b"{}".to_vec());
    encode(
        &[
            (":event-type", "InvokeComplete"),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        &json,
    )
}

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Headers in order, with string values (other types are refused).
    pub headers: Vec<(String, String)>,
    /// The payload.
    pub payload: Bytes,
}

impl Message {
    /// The value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why bytes are not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The prelude CRC does not match.
    #[error("prelude CRC mismatch")]
    PreludeCrc,
    /// The message CRC does not match.
    #[error("message CRC mismatch")]
    MessageCrc,
    /// Lengths are inconsistent or too large.
    #[error("invalid lengths: total {total}, headers {headers}")]
    Length {
        /// Declared total length.
        total: usize,
        /// Declared headers length.
        headers: usize,
    },
    /// A header is malformed or not a string.
    #[error("malformed header: {0}")]
    Header(&'static str),
}

/// Incremental decoder: feed bytes as they arrive, take whole messages out.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
}

impl Decoder {
    /// A new, empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received and not yet decoded.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next whole message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, DecodeError> {
        if self.buf.len() < 12 {
            return Ok(None);
        }
        let total = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        let headers = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]);
        let prelude_crc =
            u32::from_be_bytes([self.buf[8], self.buf[9], self.buf[10], self.buf[11]]);
        if crc32fast::hash(&self.buf[..8]) != prelude_crc {
            return Err(DecodeError::PreludeCrc);
        }
        let (total, headers) = (total as usize, headers as usize);
        if total < OVERHEAD + headers || total > MAX_MESSAGE_BYTES {
            return Err(DecodeError::Length { total, headers });
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        let frame = self.buf.split_to(total).freeze();
        let crc_at = total - 4;
        let crc = u32::from_be_bytes([
            frame[crc_at],
            frame[crc_at + 1],
            frame[crc_at + 2],
            frame[crc_at + 3],
        ]);
        if crc32fast::hash(&frame[..crc_at]) != crc {
            return Err(DecodeError::MessageCrc);
        }
        let parsed = parse_headers(&frame[12..12 + headers])?;
        Ok(Some(Message {
            headers: parsed,
            payload: frame.slice(12 + headers..crc_at),
        }))
    }
}

fn parse_headers(mut bytes: &[u8]) -> Result<Vec<(String, String)>, DecodeError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let name_len = bytes[0] as usize;
        let name = bytes
            .get(1..1 + name_len)
            .ok_or(DecodeError::Header("name runs past the headers"))?;
        let rest = &bytes[1 + name_len..];
        let (&kind, rest) = rest
            .split_first()
            .ok_or(DecodeError::Header("missing value type"))?;
        if kind != STRING {
            return Err(DecodeError::Header("only string values are supported"));
        }
        let len = rest
            .get(..2)
            .map(|l| u16::from_be_bytes([l[0], l[1]]) as usize)
            .ok_or(DecodeError::Header("missing value length"))?;
        let value = rest
            .get(2..2 + len)
            .ok_or(DecodeError::Header("value runs past the headers"))?;
        let text =
            |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| DecodeError::Header("not UTF-8"));
        out.push((text(name)?, text(value)?));
        bytes = &rest[2 + len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CRC-32 (IEEE, reflected, polynomial 0xEDB88320) computed bit by bit, independent of
    /// `crc32fast`.
    fn reference_crc(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn crc_matches_the_standard_check_value() {
        // The CRC-32 check value of "123456789" is 0xCBF43926 for every implementation.
        assert_eq!(reference_crc(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn known_empty_message() {
        // The smallest message (no headers, no payload) as AWS's event stream test suite
        // gives it: 00000010 00000000 05c248eb 7d98c8ff.
        let m = encode(&[], b"");
        assert_eq!(
            &m[..],
            &[0, 0, 0, 0x10, 0, 0, 0, 0, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff]
        );
    }

    #[test]
    fn layout_checked_by_hand() {
        let m = payload_chunk(b"hello");
        let headers_len = (1 + 11 + 3 + 12) + (1 + 13 + 3 + 24) + (1 + 13 + 3 + 5);
        assert_eq!(
            u32::from_be_bytes(m[0..4].try_into().unwrap()) as usize,
            m.len()
        );
        assert_eq!(m.len(), 16 + headers_len + 5);
        assert_eq!(
            u32::from_be_bytes(m[4..8].try_into().unwrap()) as usize,
            headers_len
        );
        assert_eq!(
            u32::from_be_bytes(m[8..12].try_into().unwrap()),
            reference_crc(&m[..8])
        );
        let end = m.len() - 4;
        assert_eq!(
            u32::from_be_bytes(m[end..].try_into().unwrap()),
            reference_crc(&m[..end])
        );
        assert_eq!(&m[12..13], &[11]);
        assert_eq!(&m[13..24], b":event-type");
        assert_eq!(&m[24..27], &[7, 0, 12]);
        assert_eq!(&m[27..39], b"PayloadChunk");
        assert_eq!(&m[end - 5..end], b"hello");
    }

    #[test]
    fn round_trip_split_anywhere() {
        let complete = InvokeComplete {
            error_code: Some("FixtureError".into()),
            error_details: Some("boom".into()),
            log_result: None,
        };
        let mut wire = Vec::new();
        wire.extend_from_slice(&payload_chunk(b"a"));
        wire.extend_from_slice(&payload_chunk(&[0u8, 255, 10]));
        wire.extend_from_slice(&invoke_complete(&complete));
        for step in [1, 3, 7, 64, wire.len()] {
            let mut d = Decoder::new();
            let mut got = Vec::new();
            for piece in wire.chunks(step) {
                d.feed(piece);
                while let Some(m) = d.next_message().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(d.pending(), 0);
            assert_eq!(got.len(), 3);
            assert_eq!(got[0].header(":event-type"), Some("PayloadChunk"));
            assert_eq!(&got[1].payload[..], &[0u8, 255, 10]);
            assert_eq!(got[2].header(":event-type"), Some("InvokeComplete"));
            let back: InvokeComplete = serde_json::from_slice(&got[2].payload).unwrap();
            assert_eq!(back, complete);
        }
    }

    #[test]
    fn empty_complete_is_an_empty_object() {
        let m = invoke_complete(&InvokeComplete::default());
        let mut d = Decoder::new();
        d.feed(&m);
        assert_eq!(&d.next_message().unwrap().unwrap().payload[..], b"{}");
    }

    #[test]
    fn corruption_is_detected() {
        let mut m = payload_chunk(b"hello").to_vec();
        let mut d = Decoder::new();
        let last = m.len() - 6;
        m[last] ^= 1;
        d.feed(&m);
        assert_eq!(d.next_message(), Err(DecodeError::MessageCrc));
        let mut m = payload_chunk(b"hello").to_vec();
        m[2] ^= 1;
        let mut d = Decoder::new();
        d.feed(&m);
        assert_eq!(d.next_message(), Err(DecodeError::PreludeCrc));
    }
}
