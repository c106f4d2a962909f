//! The control plane's writes of functions and their code: `CreateFunction`,
//! `UpdateFunctionCode` (both with the code as `Code.ZipFile` / `ZipFile`, a base64 `.zip`) and
//! `DeleteFunction` (a function, or one version with a qualifier). See [`crate::deploy`] for
//! what they do to the running emulator. Each answers with Lambda's status and
//! `FunctionConfiguration`, or Lambda's error with nothing changed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::api::RequestBody;
use base64::Engine;
use bytes::Bytes;
use http::{Request, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::super::request::{name_function, not_found, unqualified_name};
use super::super::{bad_parameter, Functions, ServiceError};
use super::read::configuration;
use super::settings::{logging_update, settings_error, ApiLoggingConfig, Environment};
use super::write::{read_json_within, unqualified};
use super::Answer;
use crate::config::layers::Layer;
use crate::config::{ConfigError, FunctionConfig, LoggingConfig};
use crate::deploy::{self, DeployError};
use crate::package::{PackageError, MAX_ZIPPED_BYTES};
use crate::scheduler::FunctionShared;
use crate::versions::Function;

/// Lambda's largest `CreateFunction` / `UpdateFunctionCode` request: a 50 MB `.zip` in base64,
/// with the rest of the document.
pub(super) const MAX_REQUEST_BYTES: usize = 69_905_067;

/// `CreateFunction`'s body. Fields Firebox cannot apply land in `other`: refused by name,
/// unless empty (as some deployment tools send them).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateFunction {
    function_name: Option<String>,
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    code: Option<Code>,
    description: Option<String>,
    timeout: Option<u64>,
    memory_size: Option<u32>,
    #[serde(default)]
    publish: bool,
    package_type: Option<String>,
    environment: Option<Environment>,
    logging_config: Option<ApiLoggingConfig>,
    architectures: Option<Vec<String>>,
    tags: Option<BTreeMap<String, String>>,
    layers: Option<Vec<String>>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// `CreateFunction`'s `Code`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Code {
    zip_file: Option<String>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// `UpdateFunctionCode`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateCode {
    zip_file: Option<String>,
    #[serde(default)]
    publish: bool,
    #[serde(default)]
    dry_run: bool,
    revision_id: Option<String>,
    architectures: Option<Vec<String>>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// `CreateFunction`: 201 with the new function's configuration (version 1's with `Publish`).
pub(super) async fn create_function(
    req: Request<RequestBody>,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let body: CreateFunction =
        read_json_within(req, MAX_REQUEST_BYTES, || too_large("CreateFunction")).await?;
    refuse_others("CreateFunction", &body.other)?;
    let raw_name = body.function_name.ok_or_else(|| missing("functionName"))?;
    let name = unqualified_name(&raw_name)
        .filter(|n| valid_name(n))
        .ok_or_else(|| {
            validation(format!(
                "Value '{raw_name}' at 'functionName' failed to satisfy constraint: Member must \
                 satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)"
            ))
        })?;
    let role = body.role.ok_or_else(|| missing("role"))?;
    if !valid_role(&role) {
        return Err(invalid_role(&role));
    }
    if body.package_type.as_deref().is_some_and(|t| t != "Zip") {
        return Err(bad_parameter(
            "CreateFunction: firebox runs .zip packages only (PackageType Zip), not container images",
        ));
    }
    check_architectures(body.architectures.as_deref())?;
    let code = body.code.ok_or_else(|| missing("code"))?;
    let zip = zip_file("CreateFunction", "function", code.zip_file, &code.other)?;
    let (Some(runtime), handler) = (body.runtime, body.handler) else {
        return Err(bad_parameter(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
        ));
    };
    if handler.is_none() && crate::config::runtime_family(&runtime) != "provided" {
        return Err(bad_parameter(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
        ));
    }
    crate::config::check_lambda_runtime(&runtime).map_err(bad_parameter)?;
    if functions.get(&name).is_some() {
        return Err(exists(&name));
    }
    let layers = functions
        .deployment
        .layers
        .for_function(
            &body.layers.unwrap_or_default(),
            &[],
            &functions.default_region,
            &functions.default_account,
        )
        .map_err(super::layers::ref_error)?;

    let mut config = FunctionConfig::new(&name)
        .region(&functions.default_region)
        .account_id(&functions.default_account)
        .runtime(runtime);
    config.handler = handler;
    config.role = Some(role);
    config.tags = body.tags.unwrap_or_default();
    config.description = body.description.unwrap_or_default();
    if let Some(mb) = body.memory_size {
        config.memory_mb = mb;
    }
    if let Some(t) = body.timeout {
        config.timeout = Duration::from_secs(t);
    }
    if let Some(env) = body.environment {
        config.environment = env.variables;
    }
    if let Some(given) = body.logging_config {
        config.logging = LoggingConfig::default().merged(logging_update(&name, given)?);
    }
    // The settings first, so that a refusal names the API's field.
    config
        .check_settings()
        .map_err(|(field, message)| settings_error(settings_invalid(field, message)))?;

    let package = deploy::unpack(&functions.deployment.packages, &name, zip)
        .await
        .map_err(|e| deploy_error(DeployError::Package(e)))?;
    // The package with its layers under Lambda's limit, before anything is created.
    let code = crate::code_size::Measured::exact(package.unzipped);
    if let Err(e) = crate::code_size::check(code, &layers) {
        functions.deployment.packages.discard(&package);
        return Err(bad_parameter(e.to_string()));
    }
    config.reload = false;
    config.package = Some(package.clone());
    let created = start(functions, config.code_dir(package.dir.clone()), layers);
    let function = match created {
        Ok(function) => function,
        Err(e) => {
            functions.deployment.packages.discard(&package);
            return Err(e);
        }
    };
    tracing::info!(function = %name, "function created");
    let shown = if body.publish {
        publish(&function).await?
    } else {
        function.latest()
    };
    Ok(Answer {
        status: StatusCode::CREATED,
        body: Some(shown_configuration(&shown, body.publish)),
    })
}

/// Validates `config` as a created function with `layers` and starts it.
fn start(
    functions: &Functions,
    config: FunctionConfig,
    layers: Vec<Layer>,
) -> Result<Arc<Function>, ServiceError> {
    let base = config.code_dir.clone().unwrap_or_default();
    let mut config = config
        .validate("<CreateFunction>", &base)
        .map_err(|e| deploy_error(DeployError::Invalid(e)))?;
    if !layers.is_empty() {
        config
            .set_layers(layers)
            .map_err(|(field, message)| settings_error(settings_invalid(field, message)))?;
    }
    // `validate` makes the code directory the function's own, watched unless told otherwise.
    config.reload = false;
    config
        .apply_runtimes(&functions.deployment.runtimes)
        .map_err(|(field, message)| {
            bad_parameter(match field.as_str() {
                "runtime" => format!("Runtime: {message}"),
                "handler" => format!("Handler: {message}"),
                _ => message,
            })
        })?;
    deploy::create(functions, config).map_err(deploy_error)
}

/// `UpdateFunctionCode`: 200 with `$LATEST`'s configuration (the new version's with
/// `Publish`; unchanged with `DryRun`).
pub(super) async fn update_code(
    req: Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let function = unqualified(&req, raw_name, functions, "UpdateFunctionCode")?;
    let body: UpdateCode =
        read_json_within(req, MAX_REQUEST_BYTES, || too_large("UpdateFunctionCode")).await?;
    let mut others = body.other;
    // Accepted and not needed: the package is unpacked as it comes.
    others.remove("SourceKMSKeyArn");
    let zip = zip_file("UpdateFunctionCode", "function", body.zip_file, &others)?;
    check_architectures(body.architectures.as_deref())?;
    let updated = deploy::update_code(
        &functions.deployment.packages,
        &function,
        zip,
        body.revision_id.as_deref(),
        body.dry_run,
    )
    .await
    .map_err(deploy_error)?;
    if body.dry_run {
        return Ok(Answer::ok(configuration(&updated, &updated.config.arn())));
    }
    tracing::info!(function = %updated.config.name, "function code updated");
    let shown = if body.publish {
        publish(&function).await?
    } else {
        updated
    };
    Ok(Answer::ok(shown_configuration(&shown, body.publish)))
}

/// `DeleteFunction`: 204. Unqualified, the function with its versions and aliases; with a
/// qualifier (in the name or `?Qualifier=`), that published version.
pub(super) fn delete_function(
    req: &Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let named = name_function(req, raw_name, functions)?;
    match named.qualifier.as_deref() {
        None => {
            let name = named.function.latest().config.name.clone();
            // Deleted by another request in the meantime: gone either way, as Lambda says.
            functions
                .delete(&name)
                .ok_or_else(|| not_found(&named.arn))?;
            tracing::info!(function = %name, "function deleted");
        }
        Some(version) => {
            deploy::delete_version(&named.function, version).map_err(deploy_error)?;
            tracing::info!(function = %named.function.latest().config.name, version, "version deleted");
        }
    }
    Ok(Answer {
        status: StatusCode::NO_CONTENT,
        body: None,
    })
}

/// The configuration to answer with: a published version's qualified ARN, else `$LATEST`'s.
fn shown_configuration(version: &FunctionShared, published: bool) -> Value {
    let config = &version.config;
    let arn = if published {
        config.qualified_arn(config.version())
    } else {
        config.arn()
    };
    configuration(version, &arn)
}

/// Publishes `$LATEST` after a create or a code update with `Publish`.
async fn publish(function: &Function) -> Result<Arc<FunctionShared>, ServiceError> {
    function
        .publish_version(None, None)
        .await
        .map(|p| p.version)
        .map_err(settings_error)
}

/// The `.zip` of a request, decoded; any other source of code is refused. `what` is the
/// code's (`function`, `layer`).
pub(super) fn zip_file(
    operation: &str,
    what: &str,
    zip_file: Option<String>,
    other: &BTreeMap<String, Value>,
) -> Result<Bytes, ServiceError> {
    if let Some(field) = other.iter().find(|(_, v)| !is_empty(v)).map(|(k, _)| k) {
        return Err(bad_parameter(format!(
            "{operation}: firebox takes the code as a .zip in ZipFile; `{field}` (S3 or a \
             container image) is not reachable here"
        )));
    }
    let text = zip_file
        .ok_or_else(|| bad_parameter(format!("Please provide a source for {what} code.")))?;
    let zip = base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|e| bad_parameter(format!("{operation}: ZipFile is not valid base64: {e}")))?;
    if zip.len() > MAX_ZIPPED_BYTES {
        return Err(too_large(operation));
    }
    Ok(Bytes::from(zip))
}

/// The architectures given must be this machine's (its code runs here, natively).
fn check_architectures(given: Option<&[String]>) -> Result<(), ServiceError> {
    let here = super::read::architecture();
    match given {
        None => Ok(()),
        Some([one]) if one == here => Ok(()),
        Some(other) => Err(bad_parameter(format!(
            "Architectures: this machine runs [{here}] (got {other:?})"
        ))),
    }
}

/// Refuses the fields Firebox cannot apply, unless they are harmless (see [`harmless`]).
fn refuse_others(operation: &str, other: &BTreeMap<String, Value>) -> Result<(), ServiceError> {
    match other.iter().find(|(field, value)| !harmless(field, value)) {
        None => Ok(()),
        Some((field, _)) => Err(bad_parameter(format!(
            "{operation}: firebox does not emulate `{field}`; it takes FunctionName, Role, \
             Runtime, Handler, Code.ZipFile, Description, Timeout, MemorySize, Environment, \
             LoggingConfig, Architectures, Layers, Tags and Publish"
        ))),
    }
}

/// Whether a field Firebox does not emulate says nothing it would have to do: empty (`{}`,
/// `[]`, `""`, `null`), or the values it runs with anyway (`TracingConfig` `PassThrough`,
/// 512 MB `EphemeralStorage`, `SnapStart` `ApplyOn` `None`), which `GetFunction` shows and
/// deploy scripts send back.
pub(super) fn harmless(field: &str, value: &Value) -> bool {
    is_empty(value)
        || (field == "TracingConfig" && value["Mode"] == "PassThrough")
        || (field == "EphemeralStorage" && value["Size"] == 512)
        || (field == "SnapStart" && value["ApplyOn"] == "None")
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A function name: 1 to 64 letters, digits, `-` or `_`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Lambda's refusal of a `Role` that is not an IAM role ARN.
pub(super) fn invalid_role(role: &str) -> ServiceError {
    validation(format!(
        "Value '{role}' at 'role' failed to satisfy constraint: Member must satisfy regular \
         expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{{12}}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"
    ))
}

/// Whether `role` is an IAM role ARN: `arn:aws:iam::123456789012:role/NAME` (any partition),
/// as Lambda's pattern has it.
pub(super) fn valid_role(role: &str) -> bool {
    let mut parts = role.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(rest)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let name = rest
        .strip_prefix("role/")
        .or_else(|| rest.strip_prefix("role"));
    partition.starts_with("aws")
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && name.is_some_and(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_/".contains(c))
        })
}

fn settings_invalid(field: &str, message: String) -> crate::settings::SettingsError {
    crate::settings::SettingsError::Invalid {
        field: field.to_owned(),
        message,
    }
}

/// 400 `ValidationException`: a required field is absent.
pub(super) fn missing(field: &str) -> ServiceError {
    validation(format!(
        "Value null at '{field}' failed to satisfy constraint: Member must not be null"
    ))
}

/// 400 `ValidationException` with Lambda's "1 validation error detected" prefix.
pub(super) fn validation(detail: String) -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "ValidationException",
        format!("1 validation error detected: {detail}"),
    )
}

pub(super) fn too_large(operation: &str) -> ServiceError {
    ServiceError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLargeException",
        format!(
            "Request must be smaller than {MAX_REQUEST_BYTES} bytes for the {operation} operation"
        ),
    )
}

fn exists(name: &str) -> ServiceError {
    ServiceError::new(
        StatusCode::CONFLICT,
        "ResourceConflictException",
        format!("Function already exist: {name}"),
    )
}

/// Lambda's error for a refused create, code update or delete.
pub(super) fn deploy_error(e: DeployError) -> ServiceError {
    match e {
        DeployError::Exists(name) => exists(&name),
        DeployError::VersionInUse { .. } => ServiceError::new(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            e.to_string(),
        ),
        DeployError::VersionNotFound(_) => ServiceError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            e.to_string(),
        ),
        DeployError::Settings(e) => settings_error(e),
        DeployError::Invalid(ConfigError::Field { field, message, .. }) => {
            bad_parameter(format!("{field}: {message}"))
        }
        DeployError::Package(PackageError::Write { .. }) => ServiceError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            e.to_string(),
        ),
        DeployError::Invalid(_)
        | DeployError::Package(_)
        | DeployError::NotFromPackage(_)
        | DeployError::LatestNotDeletable
        | DeployError::Reservation(_) => bad_parameter(e.to_string()),
    }
}
