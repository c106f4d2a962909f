//! The `firebox` command line: `serve` runs the emulator from `firebox.toml`, `invoke` calls
//! any Invoke API endpoint, `event` prints a sample event, `package` builds deployment
//! packages. Function output goes to stdout, the emulator's own diagnostics to
//! stderr through `tracing`.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use firebox_events::sample::SampleKind;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::client::{InvocationType, InvokeOptions};
use crate::config::{Config, DEFAULT_LISTEN};
use crate::logs::LogLine;
use crate::Emulator;

/// Exit code of a function error.
pub const EXIT_FUNCTION_ERROR: u8 = 1;
/// Exit code of a service error, a bad configuration or bad flags.
pub const EXIT_SERVICE_ERROR: u8 = 2;

/// Firebox: AWS Lambda on one machine.
#[derive(Debug, Parser)]
#[command(
    name = "firebox",
    version,
    about = "Firebox: AWS Lambda on one machine. `serve` runs functions as real processes \
             behind the Invoke API (streaming too), function URLs and the control plane, and \
             gives them the Runtime, Extensions, Telemetry and Logs APIs."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the emulator for the functions in a configuration file.
    Serve {
        /// The configuration file.
        #[arg(long, default_value = "firebox.toml")]
        config: PathBuf,
        /// The address (an IP address and port: 127.0.0.1:3001 or 0.0.0.0:3001)
        /// that serves the Invoke API, function URLs and the control plane. Default:
        /// `[server] listen` of the configuration, else 127.0.0.1:3001.
        #[arg(long, value_name = "IP:PORT")]
        listen: Option<SocketAddr>,
    },
    /// Invoke a function through an Invoke API endpoint.
    ///
    /// The response is buffered (`Invoke`). To watch a RESPONSE_STREAM function as it
    /// streams, use `aws lambda invoke-with-response-stream --endpoint-url ...` (AWS CLI v2)
    /// or its function URL (`curl -N`).
    Invoke {
        /// Function name, partial ARN or ARN.
        name: String,
        /// The event (JSON); `-` reads it from stdin. Default: `{}`.
        payload: Option<String>,
        /// The endpoint.
        #[arg(long, default_value = "http://127.0.0.1:3001")]
        endpoint: String,
        /// How to invoke.
        #[arg(long, value_enum, default_value = "RequestResponse")]
        invocation_type: CliInvocationType,
        /// `Tail` prints the last 4 KB of the invocation's log to stderr.
        #[arg(long, value_enum, default_value = "None")]
        log_type: LogType,
        /// Version or alias.
        #[arg(long)]
        qualifier: Option<String>,
        /// Client context JSON (sent base64-encoded).
        #[arg(long)]
        client_context: Option<String>,
    },
    /// Print a sample event as AWS sends it, to edit or pipe into `invoke`.
    ///
    /// Kinds: apigw-v1, apigw-v2, alb, function-url, sqs, sns, s3, dynamodb, kinesis,
    /// eventbridge, scheduled. Example, with `examples/firebox.toml`:
    /// `firebox event sqs | firebox invoke sqs-batch -`.
    Event {
        /// The kind of event.
        #[arg(value_parser = parse_kind)]
        kind: SampleKind,
        /// One line instead of indented JSON.
        #[arg(long)]
        compact: bool,
    },
    /// Build Rust functions with cargo and write the .zip files Lambda deploys.
    ///
    /// For each binary NAME: `<target-dir>/lambda/NAME/bootstrap` and `bootstrap.zip`
    /// (runtime provided.al2023, handler `bootstrap`), or with `--extension`
    /// `extensions/NAME` and `extension.zip` (a layer). Each binary is checked for its
    /// architecture, the glibc it needs and the shared libraries it loads.
    Package(PackageArgs),
}

/// `firebox package`'s flags: those of `cargo build` that select what to build, and the output.
#[derive(Debug, clap::Args)]
pub struct PackageArgs {
    /// Binary to package (repeatable); default: every binary of the selected packages.
    #[arg(long = "bin", value_name = "NAME")]
    bins: Vec<String>,
    /// Package to build (repeatable); default: cargo's default members.
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    packages: Vec<String>,
    /// Features to turn on (repeatable or comma-separated).
    #[arg(short = 'F', long, value_delimiter = ',')]
    features: Vec<String>,
    /// Turn off the default features.
    #[arg(long)]
    no_default_features: bool,
    /// Target triple, e.g. aarch64-unknown-linux-gnu or x86_64-unknown-linux-musl.
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// Cargo profile to build with.
    #[arg(long, default_value = "release")]
    profile: String,
    /// The Cargo.toml to build.
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    /// Where the packages go; default: `<target-dir>/lambda`.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Package the binaries as extensions (`extensions/NAME` in a layer).
    #[arg(long)]
    extension: bool,
    /// Every workspace member's binaries.
    #[arg(long)]
    workspace: bool,
    /// Turn on every feature.
    #[arg(long)]
    all_features: bool,
    /// Require Cargo.lock to be up to date (as cargo's flag).
    #[arg(long)]
    locked: bool,
    /// Require Cargo.lock and the cache to be up to date (as cargo's flag).
    #[arg(long)]
    frozen: bool,
    /// Build without the network (as cargo's flag).
    #[arg(long)]
    offline: bool,
    /// Parallel jobs (as cargo's flag).
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<u32>,
    /// No cargo progress output.
    #[arg(short = 'q', long)]
    quiet: bool,
}

fn parse_kind(text: &str) -> Result<SampleKind, String> {
    text.parse()
        .map_err(|e: firebox_events::sample::SampleError| e.to_string())
}

/// `--invocation-type`.
#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "verbatim")]
pub enum CliInvocationType {
    /// Synchronous.
    RequestResponse,
    /// Asynchronous.
    Event,
    /// Validation only.
    DryRun,
}

/// `--log-type`.
#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "verbatim")]
pub enum LogType {
    /// No log.
    None,
    /// The log tail.
    Tail,
}

/// Runs the command line.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_SERVICE_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("firebox: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_SERVICE_ERROR);
        }
    };
    match cli.command {
        Command::Serve { config, listen } => runtime.block_on(serve(config, listen)),
        Command::Invoke {
            name,
            payload,
            endpoint,
            invocation_type,
            log_type,
            qualifier,
            client_context,
        } => {
            let options = InvokeOptions {
                invocation_type: match invocation_type {
                    CliInvocationType::RequestResponse => InvocationType::RequestResponse,
                    CliInvocationType::Event => InvocationType::Event,
                    CliInvocationType::DryRun => InvocationType::DryRun,
                },
                log_tail: matches!(log_type, LogType::Tail),
                qualifier,
                client_context,
                tenant_id: None,
                trace_header: None,
            };
            runtime.block_on(invoke(&endpoint, &name, payload, options))
        }
        Command::Event { kind, compact } => print_event(kind, compact),
        Command::Package(args) => package(args),
    }
}

/// `firebox package`: builds, packages, prints one line per package and its warnings.
fn package(args: PackageArgs) -> ExitCode {
    use crate::deployment_package::{self, PackageOptions};
    let extension = args.extension;
    let options = PackageOptions {
        manifest_path: args.manifest_path,
        packages: args.packages,
        bins: args.bins,
        features: args.features,
        no_default_features: args.no_default_features,
        target: args.target,
        profile: args.profile,
        output_dir: args.output_dir,
        extension,
        workspace: args.workspace,
        all_features: args.all_features,
        locked: args.locked,
        frozen: args.frozen,
        offline: args.offline,
        jobs: args.jobs,
        quiet: args.quiet,
    };
    let built = match deployment_package::package(&options) {
        Ok(built) => built,
        Err(e) => {
            eprintln!("firebox: {e}");
            return ExitCode::from(EXIT_SERVICE_ERROR);
        }
    };
    let here = std::env::current_dir().ok();
    for package in &built {
        // Relative to the current directory when under it, as cargo prints paths.
        let zip = here
            .as_deref()
            .and_then(|here| package.zip.strip_prefix(here).ok())
            .unwrap_or(&package.zip);
        let glibc = match package.info.glibc {
            Some(v) => format!("glibc {v}"),
            None => "no glibc".to_owned(),
        };
        // An extension runs beside functions of any runtime whose OS has the glibc it needs.
        let runs = if extension {
            match package.info.runs_on_al2() {
                true => "runs beside functions of Amazon Linux 2 and 2023 runtimes".to_owned(),
                false => "runs beside functions of Amazon Linux 2023 runtimes".to_owned(),
            }
        } else {
            format!("runs on {}", package.runtimes())
        };
        println!(
            "{}: {} ({} bytes, {}, {glibc}; {runs})",
            package.name,
            zip.display(),
            package.zip_size,
            package.info.architecture,
        );
        for warning in package.warnings() {
            eprintln!("firebox: warning: {warning}");
        }
    }
    ExitCode::SUCCESS
}

/// `firebox event`: the default sample of `kind` on stdout.
fn print_event(kind: SampleKind, compact: bool) -> ExitCode {
    let json = kind.json();
    let text = if compact {
        format!("{json}\n")
    } else {
        format!("{json:#}\n")
    };
    match std::io::stdout().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("firebox: cannot write the event: {e}");
            ExitCode::from(EXIT_SERVICE_ERROR)
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// `hello`, or `orders (versions 1, 2; aliases live)` for the start-up line.
fn describe_function(f: &crate::FunctionConfig) -> String {
    let versions: Vec<&str> = f.published().iter().map(|v| v.version()).collect();
    let aliases: Vec<&str> = f.aliases.keys().map(String::as_str).collect();
    let mut extra = Vec::new();
    if !versions.is_empty() {
        extra.push(format!("versions {}", versions.join(", ")));
    }
    if !aliases.is_empty() {
        extra.push(format!("aliases {}", aliases.join(", ")));
    }
    if extra.is_empty() {
        f.name.clone()
    } else {
        format!("{} ({})", f.name, extra.join("; "))
    }
}

async fn serve(config_path: PathBuf, listen: Option<SocketAddr>) -> ExitCode {
    // Watched before anything starts: a signal that comes as soon as the listener answers
    // (a supervisor or a test stopping a server it just saw ready) stops it cleanly, rather
    // than killing it with the default action.
    let mut signals = StopSignals::watch();
    let config = match Config::load(&config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("firebox: {e}");
            return ExitCode::from(EXIT_SERVICE_ERROR);
        }
    };
    let listen = listen.or(config.listen).unwrap_or_else(|| {
        DEFAULT_LISTEN
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 3001)))
    });
    let names: Vec<String> = config.functions.iter().map(describe_function).collect();
    let emulator = match Emulator::from_config(config, Some(listen)).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("firebox: {e}");
            return ExitCode::from(EXIT_SERVICE_ERROR);
        }
    };
    let printer = match spawn_printer(emulator.logs_from_start()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("firebox: cannot start the log printer thread: {e}");
            return ExitCode::from(EXIT_SERVICE_ERROR);
        }
    };
    tracing::info!(
        "serving {} on {} (functions: {})",
        config_path.display(),
        emulator.endpoint(),
        names.join(", ")
    );
    signals.next().await;
    tracing::info!(
        "shutting down: requests in flight have {} s to finish (a second Ctrl-C or SIGTERM stops at once)",
        emulator.shutdown_grace().as_secs_f64()
    );
    tokio::select! {
        () = emulator.shutdown() => {}
        // Dropping the shutdown drops the emulator, which kills every environment at once.
        () = signals.next() => tracing::warn!("second signal: stopping at once"),
    }
    // Give the printer time to write the last lines (it gathers for PRINT_BATCH at a time);
    // it is not joined: a blocked stdout must not keep the server from exiting.
    tokio::time::sleep(PRINT_BATCH * 20).await;
    drop(printer);
    ExitCode::SUCCESS
}

/// The signals that stop `serve`: Ctrl-C (SIGINT), SIGTERM and SIGHUP (the terminal closed,
/// the SSH session dropped; not watched when it is ignored, as under `nohup`). Each stops the
/// server cleanly. Their handlers are installed by [`StopSignals::watch`].
struct StopSignals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
    hangup: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    /// Installs the handlers now.
    fn watch() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        let watch = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch {name}; it will not stop the server cleanly");
                None
            }
        };
        Self {
            interrupt: watch(SignalKind::interrupt(), "SIGINT"),
            terminate: watch(SignalKind::terminate(), "SIGTERM"),
            // Started under `nohup` (SIGHUP ignored), the server is meant to outlive the
            // terminal.
            hangup: if ignored(libc::SIGHUP) {
                None
            } else {
                watch(SignalKind::hangup(), "SIGHUP")
            },
        }
    }

    /// The next delivery of any of them.
    async fn next(&mut self) {
        tokio::select! {
            () = received(&mut self.interrupt) => {}
            () = received(&mut self.terminate) => {}
            () = received(&mut self.hangup) => {}
        }
    }
}

/// Whether `signal` is ignored (inherited as such, e.g. from `nohup`).
fn ignored(signal: libc::c_int) -> bool {
    // SAFETY: sigaction(2) with a null new action only reads the current one into `old`, a
    // zeroed plain-data struct that outlives the call.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// The next delivery of a watched signal (never, for one that could not be watched).
async fn received(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// How long the log printer gathers lines before it writes them: one `write` per batch
/// instead of per line, under load; short enough to look immediate.
const PRINT_BATCH: std::time::Duration = std::time::Duration::from_millis(1);

/// Prints every function's log lines to stdout as `[function] line`, on a thread of its own:
/// a slow or blocked stdout (a paused pager, a full pipe) never stalls the event loop, it only
/// makes the printer fall behind and skip lines.
///
/// The printer blocks on the channel only when its last batch was empty; while lines keep
/// coming it polls every [`PRINT_BATCH`] instead. A blocked receiver has to be woken by the
/// sender (a futex wake, paid by the environment writing the line, on its invocation's path);
/// a polling one is not, so under steady traffic the event loop never wakes the printer.
/// One log entry, each of its lines (a record can hold several) after the function's name.
fn print_entry(batch: &mut Vec<u8>, line: &LogLine) {
    for text in line.text.split('\n') {
        let _ = writeln!(batch, "[{}] {}", line.function, text);
    }
}

fn spawn_printer(
    mut lines: broadcast::Receiver<LogLine>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("firebox-log-printer".into())
        .spawn(move || {
            // Ends when the log hub closes, or with the process.
            let stdout = std::io::stdout();
            let mut batch: Vec<u8> = Vec::new();
            let mut lagged = 0;
            let mut polling = false;
            loop {
                batch.clear();
                if !polling {
                    match lines.blocking_recv() {
                        Ok(line) => {
                            print_entry(&mut batch, &line);
                        }
                        Err(RecvError::Lagged(n)) => lagged += n,
                        Err(RecvError::Closed) => break,
                    }
                }
                std::thread::sleep(PRINT_BATCH);
                let closed = loop {
                    match lines.try_recv() {
                        Ok(line) => {
                            print_entry(&mut batch, &line);
                        }
                        Err(TryRecvError::Lagged(n)) => lagged += n,
                        Err(TryRecvError::Empty) => break false,
                        Err(TryRecvError::Closed) => break true,
                    }
                };
                polling = !batch.is_empty();
                if lagged > 0 {
                    tracing::warn!("{lagged} log lines were not printed (output too slow)");
                    lagged = 0;
                }
                if !batch.is_empty() {
                    let mut out = stdout.lock();
                    let _ = out.write_all(&batch);
                    let _ = out.flush();
                }
                if batch.capacity() > 1 << 20 {
                    batch = Vec::new(); // a burst passed; give the memory back
                }
                if closed {
                    break;
                }
            }
        })
}

async fn invoke(
    endpoint: &str,
    name: &str,
    payload: Option<String>,
    options: InvokeOptions,
) -> ExitCode {
    let payload = match payload.as_deref() {
        Some("-") => {
            let mut buf = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
                eprintln!("firebox: cannot read the payload from stdin: {e}");
                return ExitCode::from(EXIT_SERVICE_ERROR);
            }
            Bytes::from(buf)
        }
        Some(p) => Bytes::from(p.to_owned()),
        // As documented: any endpoint gets `{}`, not only Firebox's (which reads an empty
        // body as `{}` anyway).
        None => Bytes::from_static(b"{}"),
    };
    let response = match crate::client::invoke(endpoint, name, payload, &options).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("firebox: {e}");
            return ExitCode::from(EXIT_SERVICE_ERROR);
        }
    };
    if let Some(tail) = &response.log_tail {
        eprint!("{tail}");
    }
    if let Some(code) = &response.error_code {
        let message = response
            .json()
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| response.text());
        eprintln!("firebox: {code} ({}): {message}", response.status.as_u16());
        return ExitCode::from(EXIT_SERVICE_ERROR);
    }
    if !response.status.is_success() {
        // An HTTP error without an AWS error type (a proxy, another server): still a failure.
        eprintln!(
            "firebox: HTTP {}: {}",
            response.status,
            response.text().trim_end()
        );
        return ExitCode::from(EXIT_SERVICE_ERROR);
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&response.body);
    if !response.body.is_empty() && !response.body.ends_with(b"\n") {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
    if response.function_error.is_some() {
        return ExitCode::from(EXIT_FUNCTION_ERROR);
    }
    ExitCode::SUCCESS
}
