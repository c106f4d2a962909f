//! `firebox-bench`: the command line over the benchmark harnesses of `firebox_bench`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use firebox_bench::cold::{self, ColdConfig};
use firebox_bench::compare::{self, CompareConfig, FloorProcess, LISTENING_PREFIX};
use firebox_bench::echo_server::EchoServer;
use firebox_bench::endpoint::Endpoint;
use firebox_bench::loadgen::{self, LoadConfig};
use firebox_bench::runtime_bench::{self, BinarySpec, RuntimeBenchConfig};
use firebox_bench::{report, BenchError};
use http::{HeaderName, HeaderValue};

/// Benchmarks for Firebox: an Invoke API load generator, an HTTP echo floor, and a Runtime API
/// harness for bootstrap binaries.
#[derive(Debug, Parser)]
#[command(name = "firebox-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Drive an Invoke API endpoint with C concurrent keep-alive clients for N invocations.
    Invoke(InvokeArgs),
    /// Serve a bare loopback HTTP echo server (the floor).
    EchoServer(EchoArgs),
    /// Measure the echo floor and an Invoke API endpoint in one run, at several concurrencies.
    Compare(CompareArgs),
    /// Measure bootstrap binaries against a loopback Runtime API server.
    Runtime(RuntimeArgs),
    /// Compare a cold start through a fresh `firebox serve` with the bare exec → first /next.
    Cold(ColdArgs),
}

#[derive(Debug, Args)]
struct PayloadArgs {
    /// The request body / event, inline.
    #[arg(long, default_value = "{}", conflicts_with = "payload_file")]
    payload: String,
    /// Read the request body / event from a file.
    #[arg(long, value_name = "PATH")]
    payload_file: Option<PathBuf>,
}

impl PayloadArgs {
    fn load(&self) -> Result<Bytes, BenchError> {
        match &self.payload_file {
            Some(path) => std::fs::read(path).map(Bytes::from).map_err(|e| {
                BenchError::InvalidArgument(format!("cannot read {}: {e}", path.display()))
            }),
            None => Ok(Bytes::from(self.payload.clone())),
        }
    }
}

#[derive(Debug, Args)]
struct TargetArgs {
    /// The Invoke API endpoint: http://host:port[/prefix].
    #[arg(long, default_value = "http://127.0.0.1:3001")]
    endpoint: String,
    /// Function name, partial ARN or ARN.
    #[arg(long)]
    function: String,
    /// `?Qualifier=` for every invocation.
    #[arg(long)]
    qualifier: Option<String>,
    /// Extra request header, `Name: value` (repeatable), e.g. `X-Amz-Invocation-Type: Event`.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Measured invocations (per run).
    #[arg(short = 'n', long, default_value_t = 10_000)]
    invocations: u64,
    /// Unmeasured invocations before each run.
    #[arg(long, default_value_t = 100)]
    warmup: u64,
    /// Limit for one request, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
    #[command(flatten)]
    payload: PayloadArgs,
    /// Also report the CPU time per measured invocation of process PID (all its threads, user
    /// and system time), e.g. the `firebox serve` process (repeatable). `compare` then reports
    /// the echo server's as well.
    #[arg(long = "cpu-pid", value_name = "PID")]
    cpu_pids: Vec<u32>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl TargetArgs {
    fn parsed_headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, BenchError> {
        self.headers
            .iter()
            .map(|h| {
                let bad =
                    || BenchError::InvalidArgument(format!("bad header {h:?}; use NAME: VALUE"));
                let (name, value) = h.split_once(':').ok_or_else(bad)?;
                Ok((
                    HeaderName::try_from(name.trim()).map_err(|_| bad())?,
                    HeaderValue::try_from(value.trim()).map_err(|_| bad())?,
                ))
            })
            .collect()
    }
}

#[derive(Debug, Args)]
struct InvokeArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Concurrent clients, each with its own keep-alive connection.
    #[arg(short = 'c', long, default_value_t = 1)]
    concurrency: usize,
}

#[derive(Debug, Args)]
struct EchoArgs {
    /// Address to listen on (port 0 for any free port).
    #[arg(long, default_value = "127.0.0.1:3002")]
    listen: String,
}

#[derive(Debug, Args)]
struct CompareArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Concurrency levels, comma-separated; each is measured on the floor and the endpoint.
    #[arg(short = 'c', long, value_delimiter = ',', default_value = "1,16")]
    concurrency: Vec<usize>,
    /// Rounds per level, each the floor then the endpoint (interleaved, so that a noisy
    /// machine's slow and fast spells hit both); more than one adds a table of medians.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    rounds: u16,
}

#[derive(Debug, Args)]
struct RuntimeArgs {
    /// A binary to measure, `NAME=PATH` or `PATH` (repeatable; measured in turn).
    #[arg(long = "bin", required = true, value_name = "NAME=PATH")]
    bins: Vec<BinarySpec>,
    /// Measured invocations per round.
    #[arg(short = 'n', long, default_value_t = 10_000)]
    invocations: u64,
    /// Unmeasured invocations per round.
    #[arg(long, default_value_t = 100)]
    warmup: u64,
    /// Full runs per binary, interleaved; results are medians.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Process starts per binary for the time to the first /next (full runs included).
    #[arg(long, default_value_t = 5)]
    cold_starts: usize,
    #[command(flatten)]
    payload: PayloadArgs,
    /// Do not check that responses echo the event (for functions that are not echoes).
    #[arg(long)]
    no_check_echo: bool,
    /// AWS_LAMBDA_FUNCTION_NAME for the child.
    #[arg(long, default_value = "bench-echo")]
    function_name: String,
    /// AWS_LAMBDA_FUNCTION_MEMORY_SIZE for the child.
    #[arg(long, default_value_t = 128)]
    memory_mb: u32,
    /// Extra environment variable for the child, `NAME=VALUE` (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// Show the child's stdout and stderr instead of capturing them.
    #[arg(long)]
    inherit_output: bool,
    /// Limit from exec to the first /next, in seconds.
    #[arg(long, default_value_t = 10)]
    init_timeout_s: u64,
    /// Limit for all invocations of one run, in seconds.
    #[arg(long, default_value_t = 300)]
    run_timeout_s: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ColdArgs {
    /// The `firebox` executable.
    #[arg(long, default_value = "target/release/firebox")]
    firebox: PathBuf,
    /// The function's bootstrap, `NAME=PATH` or `PATH`.
    #[arg(long = "bin", value_name = "NAME=PATH")]
    bin: BinarySpec,
    /// Rounds: one bare start and one fresh emulator each.
    #[arg(short = 'n', long, default_value_t = 10)]
    rounds: usize,
    #[command(flatten)]
    payload: PayloadArgs,
    /// `memory_mb` of the function.
    #[arg(long, default_value_t = 128)]
    memory_mb: u32,
    /// Limit for one request and for exec to the first /next, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout_s: u64,
    /// Run `serve` with `[server] cgroups = false` (SIGSTOP freezing, /proc memory watcher).
    #[arg(long)]
    no_cgroups: bool,
    /// Run `serve` with `[server] private_tmp = true` (a mount namespace per process).
    #[arg(long)]
    private_tmp: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), BenchError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| BenchError::Helper(format!("cannot encode JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

async fn invoke(args: InvokeArgs) -> Result<ExitCode, BenchError> {
    let t = &args.target;
    let endpoint = Endpoint::parse(&t.endpoint)?;
    let path = endpoint.invoke_path(&t.function, t.qualifier.as_deref())?;
    let report = loadgen::run(LoadConfig {
        endpoint,
        path,
        payload: t.payload.load()?,
        headers: t.parsed_headers()?,
        concurrency: args.concurrency,
        invocations: t.invocations,
        warmup: t.warmup,
        request_timeout: Duration::from_millis(t.timeout_ms),
        label: "endpoint".into(),
        cpu_pids: t.cpu_pids.clone(),
    })
    .await?;
    if t.json {
        print_json(&report)?;
    } else {
        print!("{}", report::load_report(&report));
    }
    Ok(if report.ok == 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn echo_server(args: EchoArgs) -> Result<ExitCode, BenchError> {
    let server = EchoServer::bind(&args.listen).await?;
    println!("{LISTENING_PREFIX}{}", server.local_addr());
    std::io::stdout().flush()?;
    server.serve_forever().await;
    Ok(ExitCode::SUCCESS)
}

async fn compare(args: CompareArgs) -> Result<ExitCode, BenchError> {
    let t = &args.target;
    let exe = std::env::current_exe()?;
    let floor = FloorProcess::spawn(&exe).await?;
    let config = CompareConfig {
        endpoint: Endpoint::parse(&t.endpoint)?,
        function: t.function.clone(),
        qualifier: t.qualifier.clone(),
        payload: t.payload.load()?,
        headers: t.parsed_headers()?,
        concurrency: args.concurrency.clone(),
        invocations: t.invocations,
        warmup: t.warmup,
        request_timeout: Duration::from_millis(t.timeout_ms),
        rounds: usize::from(args.rounds),
        cpu_pids: t.cpu_pids.clone(),
    };
    let rows = compare::run(&floor, &config).await;
    floor.stop().await;
    let rows = rows?;
    if t.json {
        print_json(&rows)?;
    } else {
        print!("{}", report::compare_table(&rows));
    }
    Ok(if rows.iter().any(|r| r.endpoint.ok == 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn runtime(args: RuntimeArgs) -> Result<ExitCode, BenchError> {
    let env = args
        .env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| {
                    BenchError::InvalidArgument(format!("bad --env {kv:?}; use NAME=VALUE"))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let config = RuntimeBenchConfig {
        invocations: args.invocations,
        warmup: args.warmup,
        payload: args.payload.load()?,
        check_echo: !args.no_check_echo,
        rounds: args.rounds,
        cold_starts: args.cold_starts,
        init_timeout: Duration::from_secs(args.init_timeout_s),
        run_timeout: Duration::from_secs(args.run_timeout_s),
        function_name: args.function_name,
        memory_mb: args.memory_mb,
        env,
        inherit_output: args.inherit_output,
    };
    let reports = runtime_bench::run(&args.bins, &config).await?;
    if args.json {
        print_json(&reports)?;
    } else {
        print!("{}", report::runtime_table(&reports));
    }
    Ok(
        if reports.iter().any(|r| r.error_count() > 0 || r.ok == 0) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}

async fn cold(args: ColdArgs) -> Result<ExitCode, BenchError> {
    let report = cold::run(&ColdConfig {
        firebox: args.firebox,
        bin: args.bin,
        rounds: args.rounds,
        payload: args.payload.load()?,
        memory_mb: args.memory_mb,
        timeout: Duration::from_secs(args.timeout_s.max(1)),
        cgroups: !args.no_cgroups,
        private_tmp: args.private_tmp,
    })
    .await?;
    if args.json {
        print_json(&report)?;
    } else {
        print!("{}", report::cold_table(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("firebox-bench: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Cmd::Invoke(a) => invoke(a).await,
            Cmd::EchoServer(a) => echo_server(a).await,
            Cmd::Compare(a) => compare(a).await,
            Cmd::Runtime(a) => runtime(a).await,
            Cmd::Cold(a) => cold(a).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("firebox-bench: {e}");
            ExitCode::from(2)
        }
    }
}
