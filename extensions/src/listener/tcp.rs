//! The TCP destination: Lambda writes each batch to a connection it keeps open, one JSON record
//! per line (newline-delimited JSON), and opens a new connection when that one is closed. Every
//! connection is read in a task of its own; the complete lines of one read are parsed and
//! queued for the handler as one batch. A line that is not a record is logged and skipped, a
//! line longer than [`MAX_LINE_BYTES`] is skipped as it streams by (never held whole).

use tokio::{
    net::{TcpListener, TcpStream},
    sync::mpsc,
    task::JoinSet,
};

use super::{excerpt, Queued, Record, ACCEPT_BACKOFF};

/// The longest line (one record) kept: Lambda's batches are at most 1 MiB (`maxBytes`), so no
/// record is longer.
pub(super) const MAX_LINE_BYTES: usize = 1024 * 1024;
/// How much one read takes at most.
const READ_BYTES: usize = 64 * 1024;

/// Accepts connections until aborted (which also ends the connections, held in a `JoinSet`).
/// Connections are read at the same time: when Lambda replaces a connection, the old one's last
/// records may still be being read.
pub(super) async fn serve<E: Record>(listener: TcpListener, batches: mpsc::Sender<Queued<E>>) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = listener.accept().await;
        while connections.try_join_next().is_some() {}
        match accepted {
            Ok((stream, peer)) => {
                tracing::debug!(%peer, "telemetry connection accepted");
                connections.spawn(read_connection(stream, batches.clone()));
            }
            Err(error) => {
                tracing::warn!(%error, "cannot accept a telemetry connection");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Reads records from `stream` until it ends (or breaks), queueing the records of each read as
/// one batch.
async fn read_connection<E: Record>(stream: TcpStream, batches: mpsc::Sender<Queued<E>>) {
    let mut lines = LineSplitter::new(MAX_LINE_BYTES);
    let mut buffer = vec![0u8; READ_BYTES];
    loop {
        let read = match stream.readable().await {
            Ok(()) => match stream.try_read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    tracing::debug!(%error, "telemetry connection broke");
                    break;
                }
            },
            Err(error) => {
                tracing::debug!(%error, "telemetry connection broke");
                break;
            }
        };
        let mut batch = Vec::new();
        lines.push(&buffer[..read], |line| collect(line, &mut batch));
        if !batch.is_empty() && batches.send((batch, None)).await.is_err() {
            // The handler has stopped: nothing more can be handed over.
            return;
        }
    }
    // A last record the connection ended in the middle of (or without its newline).
    let mut batch = Vec::new();
    lines.finish(|line| collect(line, &mut batch));
    if !batch.is_empty() {
        let _ = batches.send((batch, None)).await;
    }
}

/// Adds the record of `line` to `batch`; logs a line that is not one.
fn collect<E: Record>(line: Line<'_>, batch: &mut Vec<E>) {
    match line {
        Line::Complete(bytes) => match serde_json::from_slice(bytes) {
            Ok(record) => batch.push(record),
            Err(error) => {
                tracing::warn!(%error, line = %excerpt(bytes), "a telemetry line is not a record; skipped");
            }
        },
        Line::TooLong { bytes } => {
            tracing::warn!(
                bytes,
                limit = MAX_LINE_BYTES,
                "a telemetry line is too long; skipped"
            );
        }
    }
}

/// What [`LineSplitter`] finds.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line<'a> {
    /// A line, without its newline (nor a `\r` before it); never blank.
    Complete(&'a [u8]),
    /// A line longer than the limit, skipped: its length.
    TooLong {
        /// How many bytes it had (without its newline).
        bytes: usize,
    },
}

/// Splits a stream of bytes, given in pieces as they are read, into lines; a line's start is
/// kept until its end arrives, unless it grows beyond `max` bytes: it is then dropped and the
/// rest of it skipped as it comes, so at most `max` bytes are ever held. Blank lines are
/// skipped.
#[derive(Debug)]
pub(super) struct LineSplitter {
    /// The start of a line whose end has not arrived yet.
    pending: Vec<u8>,
    /// The length so far of a line too long to keep, while its end has not arrived.
    skipping: Option<usize>,
    max: usize,
}

impl LineSplitter {
    pub(super) fn new(max: usize) -> Self {
        LineSplitter {
            pending: Vec::new(),
            skipping: None,
            max,
        }
    }

    /// Takes the next piece of the stream, and hands every line it completes to `each`.
    pub(super) fn push(&mut self, mut data: &[u8], mut each: impl FnMut(Line<'_>)) {
        while let Some(end) = data.iter().position(|&b| b == b'\n') {
            let (head, rest) = (&data[..end], &data[end + 1..]);
            if let Some(skipped) = self.skipping.take() {
                each(Line::TooLong {
                    bytes: skipped + head.len(),
                });
            } else if self.pending.is_empty() {
                emit(head, self.max, &mut each);
            } else if self.pending.len() + head.len() > self.max {
                each(Line::TooLong {
                    bytes: self.pending.len() + head.len(),
                });
                self.pending = Vec::new();
            } else {
                self.pending.extend_from_slice(head);
                emit(&self.pending, self.max, &mut each);
                self.pending.clear();
            }
            data = rest;
        }
        self.keep(data);
    }

    /// The stream ended: hands over the last line if it had no newline.
    pub(super) fn finish(&mut self, mut each: impl FnMut(Line<'_>)) {
        if let Some(skipped) = self.skipping.take() {
            each(Line::TooLong { bytes: skipped });
        } else if !self.pending.is_empty() {
            emit(&self.pending, self.max, &mut each);
        }
        self.pending = Vec::new();
    }

    /// Keeps `tail`, the start of a line, or skips it once the line is too long.
    fn keep(&mut self, tail: &[u8]) {
        if tail.is_empty() {
            return;
        }
        if let Some(skipped) = &mut self.skipping {
            *skipped += tail.len();
        } else if self.pending.len() + tail.len() > self.max {
            self.skipping = Some(self.pending.len() + tail.len());
            // Release the memory, not only the contents.
            self.pending = Vec::new();
        } else {
            self.pending.extend_from_slice(tail);
        }
    }

    /// The bytes held for a line not yet complete.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.pending.capacity()
    }
}

/// Hands `line` to `each`, unless it is blank; too long, it is refused.
fn emit(line: &[u8], max: usize, each: &mut impl FnMut(Line<'_>)) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > max {
        each(Line::TooLong { bytes: line.len() });
    } else if !line.iter().all(u8::is_ascii_whitespace) {
        each(Line::Complete(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines found in `pieces`, pushed one after the other, then the end of the stream.
    fn split(max: usize, pieces: &[&[u8]]) -> Vec<String> {
        let mut splitter = LineSplitter::new(max);
        let mut found = Vec::new();
        let mut record = |line: Line<'_>| {
            found.push(match line {
                Line::Complete(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
                Line::TooLong { bytes } => format!("<{bytes} bytes>"),
            })
        };
        for piece in pieces {
            splitter.push(piece, &mut record);
        }
        splitter.finish(&mut record);
        found
    }

    #[test]
    fn lines_in_one_piece_and_across_pieces() {
        assert_eq!(split(100, &[b"a\nb\nc\n"]), ["a", "b", "c"]);
        assert_eq!(split(100, &[b"ab", b"c\nd", b"e\n"]), ["abc", "de"]);
        assert_eq!(split(100, &[b"a", b"b", b"", b"\n"]), ["ab"]);
        assert_eq!(split(100, &[b"a\r\n\n  \n\r\nb\n"]), ["a", "b"]);
        // The end of the stream completes a last line without its newline.
        assert_eq!(split(100, &[b"a\nlast"]), ["a", "last"]);
    }

    #[test]
    fn too_long_lines_are_refused_and_the_next_ones_kept() {
        assert_eq!(split(4, &[b"12345\nok\n"]), ["<5 bytes>", "ok"]);
        assert_eq!(
            split(4, &[b"12", b"345", b"678\nok\n"]),
            ["<8 bytes>", "ok"]
        );
        assert_eq!(split(4, &[b"1234\n"]), ["1234"]);
        assert_eq!(split(4, &[b"12", b"34\n"]), ["1234"]);
        assert_eq!(split(4, &[b"ok\n123", b"456"]), ["ok", "<6 bytes>"]);
    }

    #[test]
    fn a_line_without_end_is_never_held_beyond_the_limit() {
        let mut splitter = LineSplitter::new(1024);
        let chunk = [b'x'; 300];
        for _ in 0..10_000 {
            splitter.push(&chunk, |line| panic!("{line:?}"));
            assert!(splitter.held() <= 2048, "{}", splitter.held());
        }
        let mut lines = Vec::new();
        splitter.push(b"\n{}\n", |line| {
            lines.push(match line {
                Line::Complete(bytes) => bytes.len(),
                Line::TooLong { bytes } => bytes,
            })
        });
        assert_eq!(lines, [3_000_000, 2]);
    }
}
