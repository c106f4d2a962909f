//! The raw echo: `/response`, wait for its 202, then `/next`.

fn main() -> std::process::ExitCode {
    raw_echo::main(raw_echo::Mode::Sequential)
}
