//! The raw echo with HTTP/1.1 pipelining: `/response` and the next `/next` in one write.

fn main() -> std::process::ExitCode {
    raw_echo::main(raw_echo::Mode::Pipelined)
}
