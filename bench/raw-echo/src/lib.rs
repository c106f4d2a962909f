//! A Runtime API echo with nothing in it: the standard library's blocking `TcpStream`, one
//! kept-alive connection, `Content-Length` bodies only, no SDK and no async runtime. It echoes
//! every event as its response.
//!
//! It exists to measure the emulator without the SDK: the smallest share of an invoke a
//! runtime can take (`firebox-bench compare` against a function that runs it). In
//! [`Mode::Pipelined`] it writes the next `GET /next` right behind each `/response`, in the
//! same write (HTTP/1.1 pipelining), so that the emulator has the runtime's next `/next` in
//! hand when it answers the caller. It is a benchmark instrument, not a runtime to deploy:
//! it stops at the first error, and it has no error reporting, no streaming and no
//! chunked bodies.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

/// When the next `/next` is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// After the `/response` has been answered, as runtimes do.
    Sequential,
    /// Right behind the `/response`, in the same write.
    Pipelined,
}

/// Runs the echo loop until the Runtime API goes away (exit 0) or fails (exit 1).
pub fn main(mode: Mode) -> ExitCode {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        eprintln!("raw-echo: AWS_LAMBDA_RUNTIME_API is not set");
        return ExitCode::FAILURE;
    };
    match run(&api, mode) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raw-echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The invocation loop; `Ok` when the Runtime API closes the connection.
fn run(api: &str, mode: Mode) -> std::io::Result<()> {
    let stream = TcpStream::connect(api)?;
    stream.set_nodelay(true)?;
    let mut conn = Connection {
        stream,
        buf: vec![0; 64 * 1024],
        len: 0,
    };
    let next = format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n");
    conn.stream.write_all(next.as_bytes())?;
    loop {
        let Some((head, event)) = conn.read_response()? else {
            return Ok(());
        };
        let id = header(&head, "lambda-runtime-aws-request-id")
            .ok_or_else(|| invalid(format!("an event without a request id: {head}")))?;
        let mut request = format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: {api}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            event.len()
        )
        .into_bytes();
        request.extend_from_slice(&event);
        if mode == Mode::Pipelined {
            request.extend_from_slice(next.as_bytes());
        }
        conn.stream.write_all(&request)?;
        // The 202 of the response.
        if conn.read_response()?.is_none() {
            return Ok(());
        }
        if mode == Mode::Sequential {
            conn.stream.write_all(next.as_bytes())?;
        }
    }
}

/// One kept-alive connection and what has been read from it but not used yet.
struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    len: usize,
}

impl Connection {
    /// Reads one response: its head (status line and headers) and body. `None` at the end of
    /// the stream.
    fn read_response(&mut self) -> std::io::Result<Option<(String, Vec<u8>)>> {
        loop {
            if let Some(end) = find(&self.buf[..self.len], b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                let length = match header(&head, "content-length") {
                    Some(v) => v
                        .parse::<usize>()
                        .map_err(|_| invalid(format!("a bad Content-Length: {v}")))?,
                    None => 0,
                };
                let total = end + 4 + length;
                while self.len < total {
                    if !self.fill()? {
                        return Ok(None);
                    }
                }
                let body = self.buf[end + 4..total].to_vec();
                self.buf.copy_within(total..self.len, 0);
                self.len -= total;
                return Ok(Some((head, body)));
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Reads more into the buffer (growing it when full); `false` at the end of the stream.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.len == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self.stream.read(&mut self.buf[self.len..])?;
        self.len += n;
        Ok(n > 0)
    }
}

/// The value of header `name` (lowercase) in a response head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_whatever_their_case() {
        let head = "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: abc\r\ncontent-length: 2";
        assert_eq!(header(head, "lambda-runtime-aws-request-id"), Some("abc"));
        assert_eq!(header(head, "content-length"), Some("2"));
        assert_eq!(header(head, "x-missing"), None);
        // The status line is not a header.
        assert_eq!(header("HTTP/1.1: 200", "http/1.1"), None);
    }
}
