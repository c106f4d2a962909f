//! The telemetry log descriptor's framing: how AWS's runtime clients write log records when
//! `_LAMBDA_TELEMETRY_LOG_FD` names a descriptor (Node's `aws-lambda-ric` writes every
//! `console.*` call there, Python's `awslambdaric` every `logging` record and its error
//! reports), as on Lambda, where one frame is one log event, however many lines it holds.
//!
//! A frame is a 16-byte big-endian header and a message:
//!
//! ```text
//! +--------------------+--------------------+------------------------+----------------+
//! | type: 4 bytes      | length: 4 bytes    | timestamp: 8 bytes     | message        |
//! | 0xa55a0003 (text), | of the message     | microseconds since the | `length` bytes |
//! | 0xa55a0002|level   |                    | Unix epoch             | of UTF-8       |
//! +--------------------+--------------------+------------------------+----------------+
//! ```
//!
//! The runtime clients end a text message with a newline, which is not part of the record.
//! Invariant: nothing written to the descriptor is lost. A message longer than
//! [`MAX_LINE_BYTES`] is cut into records of that size, as a line is; bytes that do not start
//! with the frame marker (a program that writes plain text to the descriptor) switch the
//! splitter to reading lines for the rest of the stream.

use super::{utf8_cut, LineSplitter, MAX_LINE_BYTES};

/// The size of a frame's header.
const HEADER_BYTES: usize = 16;

/// The upper 16 bits of every frame type.
const FRAME_MARKER: u32 = 0xa55a_0000;

/// Splits the telemetry log descriptor's byte stream into log records.
#[derive(Debug, Default)]
pub struct FrameSplitter {
    state: State,
    /// A header being read, or the part of a message not yet emitted.
    buf: Vec<u8>,
}

#[derive(Debug, Default)]
enum State {
    /// Reading a header (`buf` holds its first bytes).
    #[default]
    Header,
    /// Reading a message: this many bytes of it are still to come.
    Message { remaining: usize },
    /// Not frames: the rest of the stream is read as lines.
    Lines(LineSplitter),
}

impl FrameSplitter {
    /// Feeds bytes, calling `emit` for each complete record. Returns `true` the first time
    /// the stream is found not to be framed (the caller may say so once).
    pub fn feed(&mut self, mut bytes: &[u8], mut emit: impl FnMut(String)) -> bool {
        let mut unframed = false;
        while !bytes.is_empty() {
            match &mut self.state {
                State::Lines(lines) => {
                    lines.feed(bytes, &mut emit);
                    return unframed;
                }
                State::Header => {
                    let want = HEADER_BYTES - self.buf.len();
                    let take = want.min(bytes.len());
                    self.buf.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if self.buf.len() < HEADER_BYTES {
                        continue;
                    }
                    match message_length(&self.buf) {
                        Some(length) => {
                            self.buf.clear();
                            self.state = State::Message { remaining: length };
                            if length == 0 {
                                self.finish_message(&mut emit);
                            }
                        }
                        None => {
                            // Not a frame: what was taken for a header is text.
                            let mut lines = LineSplitter::default();
                            lines.feed(&self.buf, &mut emit);
                            self.buf.clear();
                            self.state = State::Lines(lines);
                            unframed = true;
                        }
                    }
                }
                State::Message { remaining } => {
                    let take = (*remaining).min(bytes.len());
                    self.buf.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    *remaining -= take;
                    if *remaining == 0 {
                        self.finish_message(&mut emit);
                    } else {
                        while self.buf.len() >= MAX_LINE_BYTES {
                            let rest = self.buf.split_off(utf8_cut(&self.buf, MAX_LINE_BYTES));
                            emit(String::from_utf8_lossy(&self.buf).into_owned());
                            self.buf = rest;
                        }
                    }
                }
            }
        }
        unframed
    }

    /// Emits what an unfinished record holds (the writer is gone): a message cut short, an
    /// unfinished line of an unframed stream, or a few bytes of text too short to be taken for
    /// a header. An incomplete header (it starts with the frame marker) holds no text.
    pub fn flush(&mut self, mut emit: impl FnMut(String)) {
        match &mut self.state {
            State::Lines(lines) => lines.flush(emit),
            State::Message { .. } if !self.buf.is_empty() => {
                emit(String::from_utf8_lossy(&self.buf).into_owned());
            }
            State::Header if !self.buf.is_empty() && !starts_like_a_frame(&self.buf) => {
                let mut lines = LineSplitter::default();
                lines.feed(&self.buf, &mut emit);
                lines.flush(emit);
            }
            _ => {}
        }
        self.buf.clear();
        self.state = State::Header;
    }

    /// A whole message is in `buf`: emits it (in pieces of at most [`MAX_LINE_BYTES`]),
    /// without the newline the runtime clients end it with.
    fn finish_message(&mut self, emit: &mut impl FnMut(String)) {
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        if self.buf.is_empty() {
            emit(String::new());
        }
        let mut rest = self.buf.as_slice();
        while !rest.is_empty() {
            let at = utf8_cut(rest, MAX_LINE_BYTES.min(rest.len()));
            emit(String::from_utf8_lossy(&rest[..at]).into_owned());
            rest = &rest[at..];
        }
        self.buf.clear();
        self.state = State::Header;
    }
}

/// Whether `bytes` (fewer than a header's) could be the start of a frame.
fn starts_like_a_frame(bytes: &[u8]) -> bool {
    let marker = FRAME_MARKER.to_be_bytes();
    bytes.iter().zip(&marker[..2]).all(|(b, m)| b == m)
}

/// The message length of a frame header, or `None` if `header` is not one.
fn message_length(header: &[u8]) -> Option<usize> {
    let kind = u32::from_be_bytes(header.get(0..4)?.try_into().ok()?);
    if kind & 0xffff_0000 != FRAME_MARKER {
        return None;
    }
    let length = i32::from_be_bytes(header.get(4..8)?.try_into().ok()?);
    usize::try_from(length).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u32, message: &str) -> Vec<u8> {
        let mut out = kind.to_be_bytes().to_vec();
        out.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
        out.extend_from_slice(&1_700_000_000_000_000u64.to_be_bytes());
        out.extend_from_slice(message.as_bytes());
        out
    }

    fn split(chunks: &[&[u8]]) -> (Vec<String>, bool) {
        let mut s = FrameSplitter::default();
        let mut out = Vec::new();
        let mut unframed = false;
        for chunk in chunks {
            unframed |= s.feed(chunk, |r| out.push(r));
        }
        s.flush(|r| out.push(r));
        (out, unframed)
    }

    #[test]
    fn frames_are_records_whatever_the_reads() {
        let mut bytes = frame(
            0xa55a_0003,
            "2026-11-22T10:00:00.000Z\tid\tINFO\tone\ntwo\n",
        );
        bytes.extend(frame(
            0xa55a_0002 | 12,
            "{\"level\":\"INFO\",\"message\":\"j\"}",
        ));
        bytes.extend(frame(0xa55a_0003, ""));
        let expected = [
            "2026-11-22T10:00:00.000Z\tid\tINFO\tone\ntwo",
            "{\"level\":\"INFO\",\"message\":\"j\"}",
            "",
        ];
        assert_eq!(
            split(&[&bytes]),
            (expected.map(String::from).to_vec(), false)
        );
        // One byte at a time: the same records.
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(split(&bytewise).0, expected);
    }

    #[test]
    fn a_long_message_is_cut_like_a_line() {
        let long = "x".repeat(MAX_LINE_BYTES + 3);
        let bytes = frame(0xa55a_0003, &long);
        let (chunks, _) = split(&bytes.chunks(4096).collect::<Vec<_>>());
        let lengths: Vec<usize> = chunks.iter().map(String::len).collect();
        assert_eq!(lengths, [MAX_LINE_BYTES, 3]);
    }

    #[test]
    fn plain_text_is_read_as_lines_and_nothing_is_lost() {
        let (records, unframed) = split(&[b"hello from a program\nthat is not a runtime client"]);
        assert!(unframed);
        assert_eq!(
            records,
            ["hello from a program", "that is not a runtime client"]
        );
        // After good frames too.
        let mut bytes = frame(0xa55a_0003, "framed\n");
        bytes.extend_from_slice(b"then text\n");
        assert_eq!(split(&[&bytes]).0, ["framed", "then text"]);
    }

    #[test]
    fn a_message_cut_short_is_kept() {
        let bytes = frame(0xa55a_0003, "the whole message");
        assert_eq!(split(&[&bytes[..HEADER_BYTES + 9]]).0, ["the whole"]);
        // A header cut short holds no text; a few bytes of text are text.
        assert!(split(&[&bytes[..7]]).0.is_empty());
        assert_eq!(split(&[b"hi\n"]), (vec!["hi".to_owned()], false));
    }
}
