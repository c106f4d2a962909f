//! The read side of Lambda's control plane, on the public listener: `GetFunction`,
//! `GetFunctionConfiguration`, `ListFunctions`, `ListVersionsByFunction`, `GetAlias`,
//! `ListAliases`, `GetFunctionConcurrency` and `GetAccountSettings`, answered from the
//! configuration the emulator started with. Functions come from `firebox.toml`, so the write
//! side (`CreateFunction`, `UpdateFunctionCode`, `PublishVersion`, ...) is refused with a
//! message that says so.

use std::collections::BTreeMap;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::request::{name_function, not_found, query_param};
use super::{Functions, ServiceError};
use crate::config::{AliasConfig, FunctionConfig};
use crate::versions::Function;

/// Lambda's page size for the list operations.
const PAGE: usize = 50;
/// Lambda's ephemeral storage default, in MB (`/tmp` here is not limited).
const EPHEMERAL_STORAGE_MB: u32 = 512;

/// What a control-plane path names.
pub(super) enum Operation<'a> {
    ListFunctions,
    Function(&'a str),
    Configuration(&'a str),
    Versions(&'a str),
    Aliases(&'a str),
    Alias(&'a str, &'a str),
    Concurrency(&'a str),
    /// `…/code`: written only (`UpdateFunctionCode`).
    Code,
    AccountSettings,
}

impl<'a> Operation<'a> {
    /// The operation a path names, whatever the method (`None`: not a control-plane path).
    pub fn route(segments: &[&'a str]) -> Option<Self> {
        Some(match segments {
            ["", "2015-03-31", "functions"] | ["", "2015-03-31", "functions", ""] => {
                Self::ListFunctions
            }
            ["", "2015-03-31", "functions", name] => Self::Function(name),
            ["", "2015-03-31", "functions", name, "configuration"] => Self::Configuration(name),
            ["", "2015-03-31", "functions", name, "versions"] => Self::Versions(name),
            ["", "2015-03-31", "functions", _, "code"] => Self::Code,
            ["", "2015-03-31", "functions", name, "aliases"] => Self::Aliases(name),
            ["", "2015-03-31", "functions", name, "aliases", alias] => Self::Alias(name, alias),
            ["", "2017-10-31" | "2019-09-30", "functions", name, "concurrency"] => {
                Self::Concurrency(name)
            }
            ["", "2016-08-19", "account-settings"] | ["", "2016-08-19", "account-settings", ""] => {
                Self::AccountSettings
            }
            _ => return None,
        })
    }
}

/// Answers a control-plane request: JSON on success, AWS's error shape otherwise (a write
/// operation is refused; a method no operation uses on the path is unknown).
pub(super) fn answer(
    req: &Request<Incoming>,
    operation: Operation<'_>,
    functions: &Functions,
) -> Result<Value, ServiceError> {
    if req.method() != Method::GET {
        return Err(refuse(req, &operation));
    }
    match operation {
        Operation::ListFunctions => list_functions(req, functions),
        Operation::Function(name) => {
            let (function, version, arn) = configured(req, name, functions)?;
            let mut body = json!({
                "Configuration": configuration(version, &arn, functions),
                "Tags": {},
            });
            if let Some(n) = function.latest.config.reserved_concurrency {
                body["Concurrency"] = json!({ "ReservedConcurrentExecutions": n });
            }
            Ok(body)
        }
        Operation::Configuration(name) => {
            let (_, version, arn) = configured(req, name, functions)?;
            Ok(configuration(version, &arn, functions))
        }
        Operation::Versions(name) => {
            let named = name_function(req, name, functions)?;
            let all: Vec<Value> = named
                .function
                .all()
                .map(|v| {
                    let arn = v.config.qualified_arn(v.config.version());
                    configuration(&v.config, &arn, functions)
                })
                .collect();
            page(req, "Versions", all)
        }
        Operation::Aliases(name) => {
            let named = name_function(req, name, functions)?;
            let of_version = query_param(req, "FunctionVersion");
            let all: Vec<Value> = named
                .function
                .aliases
                .iter()
                .filter(|(_, a)| of_version.as_ref().is_none_or(|v| *v == a.version))
                .map(|(alias, config)| alias_configuration(named.function, alias, config))
                .collect();
            page(req, "Aliases", all)
        }
        Operation::Alias(name, alias) => {
            let named = name_function(req, name, functions)?;
            let config = named.function.aliases.get(alias).ok_or_else(|| {
                let arn = named.function.latest.config.qualified_arn(alias);
                ServiceError::new(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFoundException",
                    format!("Cannot find alias arn: {arn}"),
                )
            })?;
            Ok(alias_configuration(named.function, alias, config))
        }
        Operation::Concurrency(name) => {
            let named = name_function(req, name, functions)?;
            Ok(match named.function.latest.config.reserved_concurrency {
                Some(n) => json!({ "ReservedConcurrentExecutions": n }),
                None => json!({}),
            })
        }
        Operation::AccountSettings => Ok(account_settings(functions)),
        Operation::Code => Err(refuse(req, &operation)),
    }
}

/// The function and the version a `?Qualifier=` (or a qualified name) names, with the ARN to
/// show: unqualified for `$LATEST` named without a qualifier, else qualified by the version.
fn configured<'a>(
    req: &Request<Incoming>,
    name: &str,
    functions: &'a Functions,
) -> Result<(&'a Function, &'a FunctionConfig, String), ServiceError> {
    let named = name_function(req, name, functions)?;
    let version = match named.qualifier.as_deref() {
        None => &named.function.latest.config,
        // An alias shows the version it names (not a weighted pick).
        Some(q) => {
            let q = named.function.aliases.get(q).map_or(q, |a| &a.version);
            &named
                .function
                .version(q)
                .ok_or_else(|| not_found(&named.arn))?
                .config
        }
    };
    let arn = match named.qualifier {
        None => version.arn(),
        Some(_) => version.qualified_arn(version.version()),
    };
    Ok((named.function, version, arn))
}

/// Lambda's `FunctionConfiguration` for one version.
fn configuration(config: &FunctionConfig, arn: &str, functions: &Functions) -> Value {
    let mut c = json!({
        "FunctionName": config.name,
        "FunctionArn": arn,
        "Description": "",
        "Timeout": config.timeout.as_secs_f64().ceil() as u64,
        "MemorySize": config.memory_mb,
        "Version": config.version(),
        "LastModified": functions.started,
        "CodeSize": code_size(config),
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": [architecture()],
        "EphemeralStorage": { "Size": EPHEMERAL_STORAGE_MB },
        "TracingConfig": { "Mode": "PassThrough" },
        "LoggingConfig": {
            "LogFormat": "Text",
            "LogGroup": format!("/aws/lambda/{}", config.name),
        },
    });
    if let Some(handler) = &config.handler {
        c["Handler"] = handler.clone().into();
    }
    if !config.environment.is_empty() {
        c["Environment"] = json!({ "Variables": config.environment });
    }
    c
}

/// The size of the program the function runs, when it is a file (an interpreter's size says
/// nothing about the function, so a `code_dir` with the code in it counts as 0).
fn code_size(config: &FunctionConfig) -> u64 {
    let program = config.command.first().map(std::path::Path::new);
    match program {
        Some(p) if config.code_dir.as_deref().is_some_and(|d| p.starts_with(d)) => {
            std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
        }
        _ => 0,
    }
}

/// Lambda's name for this machine's architecture.
fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "x86_64",
    }
}

/// Lambda's `AliasConfiguration`.
fn alias_configuration(function: &Function, alias: &str, config: &AliasConfig) -> Value {
    let mut a = json!({
        "AliasArn": function.latest.config.qualified_arn(alias),
        "Name": alias,
        "FunctionVersion": config.version,
        "Description": "",
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

fn list_functions(req: &Request<Incoming>, functions: &Functions) -> Result<Value, ServiceError> {
    let all_versions = match query_param(req, "FunctionVersion").as_deref() {
        None => false,
        Some("ALL") => true,
        Some(other) => {
            return Err(super::bad_parameter(format!(
                "FunctionVersion `{other}` is not valid: the only value is ALL"
            )))
        }
    };
    let mut names: Vec<&String> = functions.by_name.keys().collect();
    names.sort();
    let mut all = Vec::new();
    for name in names {
        let function = &functions.by_name[name];
        if all_versions {
            for v in function.all() {
                let arn = v.config.qualified_arn(v.config.version());
                all.push(configuration(&v.config, &arn, functions));
            }
        } else {
            let config = &function.latest.config;
            all.push(configuration(config, &config.arn(), functions));
        }
    }
    page(req, "Functions", all)
}

/// One page of a list: `MaxItems` (1 to 10,000; at most 50 are returned) from `Marker` (the
/// `NextMarker` of the previous page).
fn page(req: &Request<Incoming>, key: &str, all: Vec<Value>) -> Result<Value, ServiceError> {
    let max = match query_param(req, "MaxItems") {
        None => PAGE,
        Some(text) => match text.parse::<usize>() {
            Ok(n @ 1..=10_000) => n.min(PAGE),
            _ => {
                return Err(super::bad_parameter(format!(
                    "MaxItems `{text}` is not valid: use 1 to 10000"
                )))
            }
        },
    };
    let start = match query_param(req, "Marker") {
        None => 0,
        Some(marker) => marker
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= all.len())
            .ok_or_else(|| super::bad_parameter(format!("Marker `{marker}` is not valid")))?,
    };
    let end = (start + max).min(all.len());
    let mut body = json!({ key: all[start..end] });
    if end < all.len() {
        body["NextMarker"] = end.to_string().into();
    }
    Ok(body)
}

fn account_settings(functions: &Functions) -> Value {
    let (limit, unreserved) = functions
        .by_name
        .values()
        .next()
        .map(|f| {
            let account = f.latest.capacity.account();
            (account.limit(), account.unreserved_limit())
        })
        .unwrap_or_default();
    json!({
        "AccountLimit": {
            "TotalCodeSize": 80_530_636_800u64,
            "CodeSizeUnzipped": 262_144_000u64,
            "CodeSizeZipped": 52_428_800u64,
            "ConcurrentExecutions": limit,
            "UnreservedConcurrentExecutions": unreserved,
        },
        "AccountUsage": {
            "TotalCodeSize": functions
                .by_name
                .values()
                .flat_map(Function::all)
                .map(|v| code_size(&v.config))
                .sum::<u64>(),
            "FunctionCount": functions.by_name.len(),
        },
    })
}

/// A write operation is refused; a method no operation uses on the path is unknown.
fn refuse(req: &Request<Incoming>, operation: &Operation<'_>) -> ServiceError {
    match write_operation(req.method(), operation) {
        Some(name) => read_only(name, req.method()),
        None => ServiceError::new(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!("Unknown operation: {} {}", req.method(), req.uri().path()),
        ),
    }
}

/// The write operation a method names on a control-plane path, if any.
fn write_operation(method: &Method, operation: &Operation<'_>) -> Option<&'static str> {
    Some(match (operation, method.as_str()) {
        (Operation::ListFunctions, "POST") => "CreateFunction",
        (Operation::Function(_), "DELETE") => "DeleteFunction",
        (Operation::Code, "PUT") => "UpdateFunctionCode",
        (Operation::Configuration(_), "PUT") => "UpdateFunctionConfiguration",
        (Operation::Versions(_), "POST") => "PublishVersion",
        (Operation::Aliases(_), "POST") => "CreateAlias",
        (Operation::Alias(..), "PUT") => "UpdateAlias",
        (Operation::Alias(..), "DELETE") => "DeleteAlias",
        (Operation::Concurrency(_), "PUT") => "PutFunctionConcurrency",
        (Operation::Concurrency(_), "DELETE") => "DeleteFunctionConcurrency",
        _ => return None,
    })
}

/// The write side of the control plane: functions are configured in `firebox.toml`.
fn read_only(what: &str, method: &Method) -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "InvalidRequestContentException",
        format!(
            "{what} ({method}) is not supported by firebox: functions, versions, aliases and \
             their concurrency are declared in firebox.toml (or FunctionConfig), and the \
             emulator reads them at start-up"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_operations() {
        let route = |p: &'static str| {
            let segments: Vec<&str> = p.split('/').collect();
            Operation::route(&segments).map(|o| match o {
                Operation::ListFunctions => "ListFunctions".to_owned(),
                Operation::Function(n) => format!("GetFunction {n}"),
                Operation::Configuration(n) => format!("GetFunctionConfiguration {n}"),
                Operation::Versions(n) => format!("ListVersionsByFunction {n}"),
                Operation::Aliases(n) => format!("ListAliases {n}"),
                Operation::Alias(n, a) => format!("GetAlias {n} {a}"),
                Operation::Concurrency(n) => format!("GetFunctionConcurrency {n}"),
                Operation::Code => "UpdateFunctionCode".to_owned(),
                Operation::AccountSettings => "GetAccountSettings".to_owned(),
            })
        };
        assert_eq!(
            route("/2015-03-31/functions/").as_deref(),
            Some("ListFunctions")
        );
        assert_eq!(
            route("/2015-03-31/functions").as_deref(),
            Some("ListFunctions")
        );
        assert_eq!(
            route("/2015-03-31/functions/f").as_deref(),
            Some("GetFunction f")
        );
        assert_eq!(
            route("/2015-03-31/functions/f/aliases/live").as_deref(),
            Some("GetAlias f live")
        );
        assert_eq!(
            route("/2019-09-30/functions/f/concurrency").as_deref(),
            Some("GetFunctionConcurrency f")
        );
        assert_eq!(
            route("/2016-08-19/account-settings/").as_deref(),
            Some("GetAccountSettings")
        );
        assert!(route("/2015-03-31/functions/f/invocations").is_none());
        assert!(route("/2015-03-31/functions/f/policy").is_none());
    }
}
