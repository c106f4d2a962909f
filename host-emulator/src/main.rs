//! The `firebox` command: a thin wrapper over [`firebox_emulator::cli`].

fn main() -> std::process::ExitCode {
    firebox_emulator::cli::main()
}
