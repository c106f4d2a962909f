//! The runtime names Lambda's API takes, for `CreateFunction`: its `Runtime` enum (the AWS
//! SDKs' service model), and the runtimes whose deprecation Lambda finished long ago, with which
//! it no longer creates or updates functions.

/// The `Runtime` values Lambda's API takes (its `Runtime` enum), blocked ones included.
const LAMBDA_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "nodejs26.x",
    "java8",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "java8.al2023",
    "java11.al2023",
    "java17.al2023",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "python3.15",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet8",
    "dotnet10",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "ruby4.0",
    "provided",
    "provided.al2",
    "provided.al2023",
];

/// Runtimes whose deprecation Lambda finished long ago: it no longer creates or updates
/// functions with them.
const BLOCKED_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs4.3-edge",
    "java8",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "provided",
];

/// Whether `CreateFunction` may name `runtime`, with Lambda's refusal when not: a value
/// outside its `Runtime` enum, or a runtime it no longer creates functions with.
///
/// ```
/// use firebox_emulator::config::check_lambda_runtime;
/// assert!(check_lambda_runtime("python3.12").is_ok());
/// assert!(check_lambda_runtime("python3.99").unwrap_err().contains("enum value set"));
/// assert!(check_lambda_runtime("python2.7").unwrap_err().contains("no longer supported"));
/// ```
pub fn check_lambda_runtime(runtime: &str) -> Result<(), String> {
    if !LAMBDA_RUNTIMES.contains(&runtime) {
        let current: Vec<&str> = LAMBDA_RUNTIMES
            .iter()
            .copied()
            .filter(|r| !BLOCKED_RUNTIMES.contains(r))
            .collect();
        return Err(format!(
            "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}] or be a valid ARN",
            current.join(", ")
        ));
    }
    if BLOCKED_RUNTIMES.contains(&runtime) {
        return Err(format!(
            "The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions."
        ));
    }
    Ok(())
}
