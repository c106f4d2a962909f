//! The read side of the control plane: functions, versions, aliases, concurrency and account
//! settings as the emulator runs them now (configured, then changed through `write`).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::RequestBody;
use http::Request;
use serde_json::{json, Value};

use super::super::request::{name_function, not_found, query_param};
use super::super::{bad_parameter, Functions, ServiceError};
use super::paging::{page, qualifier_key};
use super::Operation;
use crate::aliases::{Alias, AliasError};
use crate::config::FunctionConfig;
use crate::scheduler::FunctionShared;
use crate::versions::Function;

/// Lambda's ephemeral storage default, in MB (`/tmp` here is not limited).
const EPHEMERAL_STORAGE_MB: u32 = 512;

/// Answers a `GET` of a control-plane path.
pub(super) fn get(
    req: &Request<RequestBody>,
    operation: Operation<'_>,
    functions: &Functions,
) -> Result<Value, ServiceError> {
    match operation {
        Operation::ListFunctions => list_functions(req, functions),
        Operation::Function(name) => {
            let (function, version, arn) = configured(req, name, functions)?;
            let mut body = json!({
                "Configuration": configuration(&version, &arn),
                "Tags": function.tags.all(),
            });
            // Where the uploaded `.zip` can be downloaded (AWS: a presigned S3 URL); a
            // function whose code is a directory on disk has no `.zip` to point at.
            let zip = version.config.package.as_ref().and_then(|p| p.zip_name());
            if let Some(zip) = zip {
                let host = req
                    .headers()
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("127.0.0.1");
                body["Code"] = json!({
                    "RepositoryType": "S3",
                    "Location": format!("http://{host}/firebox/code/{zip}"),
                });
            }
            if let Some(n) = function.capacity().reserved() {
                body["Concurrency"] = json!({ "ReservedConcurrentExecutions": n });
            }
            Ok(body)
        }
        Operation::Configuration(name) => {
            let (_, version, arn) = configured(req, name, functions)?;
            Ok(configuration(&version, &arn))
        }
        Operation::Versions(name) => {
            let named = name_function(req, name, functions)?.existing()?;
            let all: Vec<(String, Value)> = named
                .function
                .all()
                .iter()
                .map(|v| {
                    let version = v.config.version();
                    let shown = configuration(v, &v.config.qualified_arn(version));
                    (qualifier_key(version), shown)
                })
                .collect();
            page(req, "Versions", all)
        }
        Operation::Aliases(name) => {
            let named = name_function(req, name, functions)?.existing()?;
            let of_version = query_param(req, "FunctionVersion");
            let all: Vec<(String, Value)> = named
                .function
                .aliases
                .all()
                .iter()
                .filter(|(_, a)| of_version.as_ref().is_none_or(|v| *v == a.config.version))
                .map(|(name, alias)| {
                    let shown = alias_configuration(&named.function, name, alias);
                    (name.clone(), shown)
                })
                .collect();
            page(req, "Aliases", all)
        }
        Operation::Alias(name, alias) => {
            let named = name_function(req, name, functions)?.existing()?;
            let found = named.function.aliases.get(alias).ok_or_else(|| {
                super::alias_error(AliasError::NotFound {
                    arn: named.function.arn_of(alias),
                })
            })?;
            Ok(alias_configuration(&named.function, alias, &found))
        }
        Operation::Concurrency(name) => {
            let named = name_function(req, name, functions)?.existing()?;
            Ok(match named.function.capacity().reserved() {
                Some(n) => json!({ "ReservedConcurrentExecutions": n }),
                None => json!({}),
            })
        }
        Operation::AccountSettings => Ok(account_settings(functions)),
        Operation::Code(_)
        | Operation::Url(_)
        | Operation::Urls(_)
        | Operation::EventInvokeConfig(_)
        | Operation::EventInvokeConfigs(_)
        | Operation::Tags(_)
        | Operation::ProvisionedConcurrency(_) => Err(super::unknown(req)),
        Operation::Policy(_)
        | Operation::PolicyStatement(..)
        | Operation::CodeSigningConfig(_)
        | Operation::RuntimeManagementConfig(_)
        | Operation::RecursionConfig(_)
        | Operation::Layers(_) => Err(super::unknown(req)),
    }
}

/// The function and the version a `?Qualifier=` (or a qualified name) names, with the ARN to
/// show: unqualified for `$LATEST` named without a qualifier, else qualified by the version.
fn configured(
    req: &Request<RequestBody>,
    name: &str,
    functions: &Functions,
) -> Result<(Arc<Function>, Arc<FunctionShared>, String), ServiceError> {
    let named = name_function(req, name, functions)?;
    let version = match named.qualifier.as_deref() {
        None => named.function.latest(),
        // An alias shows the version it names (not a weighted pick).
        Some(q) => {
            let alias = named.function.aliases.get(q);
            let q = alias.as_ref().map_or(q, |a| &a.config.version);
            named
                .function
                .version(q)
                .ok_or_else(|| not_found(&named.arn))?
        }
    };
    let config = &version.config;
    let arn = match named.qualifier {
        None => config.arn(),
        Some(_) => config.qualified_arn(config.version()),
    };
    Ok((named.function, version, arn))
}

/// Lambda's `FunctionConfiguration` for one version.
pub(super) fn configuration(version: &FunctionShared, arn: &str) -> Value {
    let config = &version.config;
    let mut c = json!({
        "FunctionName": config.name,
        "FunctionArn": arn,
        "Description": config.description,
        "Timeout": config.timeout.as_secs_f64().ceil() as u64,
        "MemorySize": config.memory_mb,
        "Version": config.version(),
        "LastModified": version.last_modified,
        "RevisionId": version.revision_id,
        "CodeSize": code_size(config),
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": [architecture()],
        "EphemeralStorage": { "Size": EPHEMERAL_STORAGE_MB },
        "TracingConfig": { "Mode": "PassThrough" },
        "SnapStart": { "ApplyOn": "None", "OptimizationStatus": "Off" },
        "LoggingConfig": {
            "LogFormat": config.logging.format.as_str(),
            "LogGroup": format!("/aws/lambda/{}", config.name),
        },
    });
    if config.logging.format == crate::config::LogFormat::Json {
        c["LoggingConfig"]["ApplicationLogLevel"] =
            config.logging.application_level().as_str().into();
        c["LoggingConfig"]["SystemLogLevel"] = config.logging.system_level().as_str().into();
    }
    if let Some(handler) = &config.handler {
        c["Handler"] = handler.clone().into();
    }
    if let Some(runtime) = &config.runtime {
        c["Runtime"] = runtime.clone().into();
        // The runtime version `INIT_START` names (`Runtime Version ARN: ...`).
        let version = crate::logs::system::RuntimeVersion::new(Some(runtime), &config.region);
        c["RuntimeVersionConfig"] = json!({ "RuntimeVersionArn": version.arn });
    }
    if let Some(role) = &config.role {
        c["Role"] = role.clone().into();
    }
    if let Some(package) = &config.package {
        c["CodeSha256"] = package.sha256.clone().into();
    }
    if !config.environment.is_empty() {
        c["Environment"] = json!({ "Variables": config.environment });
    }
    if !config.resolved_layers.is_empty() {
        let layers: Vec<Value> = config
            .resolved_layers
            .iter()
            .map(
                |l| json!({ "Arn": l.arn(&config.region, &config.account_id), "CodeSize": l.size }),
            )
            .collect();
        c["Layers"] = layers.into();
    }
    c
}

/// The size of the uploaded package; for a version running a copy of code on disk, the bytes
/// of code copied (unzipped: there is no `.zip`; extensions, Lambda's layers, not counted);
/// else of the program the function runs, when it is a file (an interpreter's size says
/// nothing about the function, so a `code_dir` with the code in it counts as 0).
fn code_size(config: &FunctionConfig) -> u64 {
    if let Some(package) = &config.package {
        return package.size;
    }
    if let Some(snapshot) = &config.snapshot {
        return snapshot.code_bytes;
    }
    let program = config.command.first().map(std::path::Path::new);
    match program {
        Some(p) if config.code_dir.as_deref().is_some_and(|d| p.starts_with(d)) => {
            std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
        }
        _ => 0,
    }
}

/// Lambda's name for this machine's architecture.
pub(super) fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "x86_64",
    }
}

/// Lambda's `AliasConfiguration`.
pub(super) fn alias_configuration(function: &Function, name: &str, alias: &Alias) -> Value {
    let config = &alias.config;
    let mut a = json!({
        "AliasArn": function.arn_of(name),
        "Name": name,
        "FunctionVersion": config.version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    });
    if !config.additional_version_weights.is_empty() {
        let weights: BTreeMap<&String, f64> = config
            .additional_version_weights
            .iter()
            .map(|(v, w)| (v, *w))
            .collect();
        a["RoutingConfig"] = json!({ "AdditionalVersionWeights": weights });
    }
    a
}

fn list_functions(
    req: &Request<RequestBody>,
    functions: &Functions,
) -> Result<Value, ServiceError> {
    let all_versions = match query_param(req, "FunctionVersion").as_deref() {
        None => false,
        Some("ALL") => true,
        Some(other) => {
            return Err(bad_parameter(format!(
                "FunctionVersion `{other}` is not valid: the only value is ALL"
            )))
        }
    };
    let mut all = Vec::new();
    for (name, function) in functions.all() {
        if all_versions {
            for v in function.all() {
                let version = v.config.version();
                // NUL sorts before any character of a name: a function's versions together.
                let key = format!("{name}\u{0}{}", qualifier_key(version));
                all.push((key, configuration(&v, &v.config.qualified_arn(version))));
            }
        } else {
            let latest = function.latest();
            all.push((name, configuration(&latest, &latest.config.arn())));
        }
    }
    page(req, "Functions", all)
}

fn account_settings(functions: &Functions) -> Value {
    let account = &functions.deployment.account;
    let all = functions.all();
    json!({
        "AccountLimit": {
            "TotalCodeSize": 80_530_636_800u64,
            "CodeSizeUnzipped": 262_144_000u64,
            "CodeSizeZipped": 52_428_800u64,
            "ConcurrentExecutions": account.limit(),
            "UnreservedConcurrentExecutions": account.unreserved_limit(),
        },
        "AccountUsage": {
            "TotalCodeSize": all
                .iter()
                .flat_map(|(_, f)| f.all())
                .map(|v| code_size(&v.config))
                .sum::<u64>()
                + functions.deployment.layers.total_code_size(),
            "FunctionCount": all.len(),
        },
    })
}
