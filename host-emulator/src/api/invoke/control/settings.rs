//! The control plane's writes of settings and versions: `UpdateFunctionConfiguration` and
//! `PublishVersion` (see [`crate::settings`] for what they do to the running function). Each
//! takes an unqualified function name and answers with Lambda's status and
//! `FunctionConfiguration`, or Lambda's error with nothing changed.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::RequestBody;
use http::{Request, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::super::{bad_parameter, Functions, ServiceError};
use super::read::configuration;
use super::write::{read_json, unqualified};
use super::Answer;
use crate::config::{LogFormat, LogLevel, LoggingUpdate};
use crate::settings::{FunctionUpdate, SettingsError};
use crate::snapshot::SnapshotError;

/// `UpdateFunctionConfiguration`'s body. The fields Firebox cannot apply (a VPC, a runtime,
/// ...) land in `other` and are refused by name.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateConfiguration {
    description: Option<String>,
    handler: Option<String>,
    memory_size: Option<u32>,
    timeout: Option<u64>,
    environment: Option<Environment>,
    logging_config: Option<ApiLoggingConfig>,
    role: Option<String>,
    layers: Option<Vec<String>>,
    revision_id: Option<String>,
    runtime: Option<String>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// `Environment`: the whole set of variables.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Environment {
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// `LoggingConfig`; a field left out keeps the function's value.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ApiLoggingConfig {
    log_format: Option<LogFormat>,
    application_log_level: Option<LogLevel>,
    system_log_level: Option<LogLevel>,
    log_group: Option<String>,
}

/// `PublishVersion`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Publish {
    description: Option<String>,
    revision_id: Option<String>,
    code_sha256: Option<String>,
}

/// `UpdateFunctionConfiguration`: 200 with `$LATEST`'s new configuration.
pub(super) async fn update_configuration(
    req: Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let function = unqualified(&req, raw_name, functions, "UpdateFunctionConfiguration")?;
    let body: UpdateConfiguration = read_json(req).await?;
    // Fields it cannot change are taken when they change nothing: deploy scripts send the
    // whole configuration back, `Runtime` and the defaults `GetFunction` shows included.
    if let Some((field, _)) = body
        .other
        .iter()
        .find(|(field, value)| !super::functions::harmless(field, value))
    {
        return Err(bad_parameter(format!(
            "UpdateFunctionConfiguration: firebox does not emulate `{field}`; it changes \
             Description, Environment, Handler, Layers, LoggingConfig, MemorySize, Role and \
             Timeout (and takes Runtime when it is the function's own)"
        )));
    }
    if let Some(runtime) = body.runtime.as_deref() {
        let current = function.latest().config.runtime.clone();
        if current.as_deref() != Some(runtime) {
            return Err(bad_parameter(format!(
                "UpdateFunctionConfiguration: firebox does not change a function's Runtime \
                 (`{}` to `{runtime}`); delete the function and create it again with the new \
                 runtime",
                current.as_deref().unwrap_or("none")
            )));
        }
    }
    if let Some(role) = body
        .role
        .as_deref()
        .filter(|r| !super::functions::valid_role(r))
    {
        return Err(super::functions::invalid_role(role));
    }
    let name = function.latest().config.name.clone();
    let logging = body
        .logging_config
        .map(|given| logging_update(&name, given))
        .transpose()?;
    let update = FunctionUpdate {
        description: body.description,
        handler: body.handler,
        memory_mb: body.memory_size,
        timeout: body.timeout.map(Duration::from_secs),
        environment: body.environment.map(|e| e.variables),
        logging: None,
        role: body.role,
        layers: body.layers,
        revision_id: body.revision_id,
    };
    // The partial logging is merged under the function's writes lock, over the logging
    // `$LATEST` has then.
    let latest = function
        .update_configuration_merging(update, logging)
        .map_err(settings_error)?;
    Ok(Answer::ok(configuration(&latest, &latest.config.arn())))
}

/// `PublishVersion`: 201 with the new version's configuration (or the last version's, when
/// `$LATEST` has not changed since it was published).
pub(super) async fn publish_version(
    req: Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let function = unqualified(&req, raw_name, functions, "PublishVersion")?;
    let body: Publish = read_json(req).await?;
    if let Some(given) = body.code_sha256.as_deref() {
        // A precondition on `$LATEST`'s code, as Lambda checks it.
        let latest = function.latest();
        let Some(package) = latest.config.package.as_ref() else {
            return Err(bad_parameter(
                "PublishVersion: this function's code is a directory on disk, which has no \
                 CodeSha256 (only code uploaded as a .zip has one); publish without it",
            ));
        };
        if package.sha256 != given {
            return Err(bad_parameter(format!(
                "CodeSHA256 ({given}) is different from current CodeSHA256 in $LATEST ({}). \
                 Please try again with the CodeSHA256 in $LATEST.",
                package.sha256
            )));
        }
    }
    let published = function
        .publish_version(body.description, body.revision_id.as_deref())
        .await
        .map_err(settings_error)?;
    let version = published.version;
    tracing::info!(
        function = %version.config.name,
        version = version.config.version(),
        created = published.created,
        "version published"
    );
    Ok(Answer {
        status: StatusCode::CREATED,
        body: Some(configuration(
            &version,
            &version.config.qualified_arn(version.config.version()),
        )),
    })
}

/// The update `given` asks for (see [`crate::config::LoggingConfig::merged`]); naming a log group other than
/// function `name`'s is refused.
pub(super) fn logging_update(
    name: &str,
    given: ApiLoggingConfig,
) -> Result<LoggingUpdate, ServiceError> {
    let group = format!("/aws/lambda/{name}");
    if let Some(other) = given.log_group.filter(|g| *g != group) {
        return Err(bad_parameter(format!(
            "LoggingConfig.LogGroup: firebox writes every function's log to `{group}` \
             (got `{other}`)"
        )));
    }
    Ok(LoggingUpdate {
        format: given.log_format,
        application_level: given.application_log_level,
        system_level: given.system_log_level,
    })
}

/// Lambda's error for a refused update or publish, naming the API's field.
pub(super) fn settings_error(e: SettingsError) -> ServiceError {
    match e {
        SettingsError::Invalid { field, message } => {
            let field = match field.as_str() {
                "description" => "Description",
                "handler" => "Handler",
                "memory_mb" => "MemorySize",
                "layers" => "Layers",
                "extensions" => "Layers (their extensions)",
                "timeout_s" => "Timeout",
                "environment" => "Environment.Variables",
                "logging.application_level" => "LoggingConfig.ApplicationLogLevel",
                "logging.system_level" => "LoggingConfig.SystemLogLevel",
                other => other,
            };
            bad_parameter(format!("{field}: {message}"))
        }
        SettingsError::RevisionMismatch => ServiceError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailedException",
            e.to_string(),
        ),
        SettingsError::FunctionDeleted { arn } => super::super::request::not_found(&arn),
        // The copy failed on this machine (a file it cannot read, a full disk).
        SettingsError::Snapshot(SnapshotError::Read { .. } | SnapshotError::Write { .. }) => {
            ServiceError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                e.to_string(),
            )
        }
        // Lambda's refusal of code over the unzipped limit, and code no package could hold.
        SettingsError::Snapshot(_) => bad_parameter(e.to_string()),
        SettingsError::Layers(e) => super::layers::ref_error(e),
        // Lambda's refusal of code and layers over the unzipped limit together.
        SettingsError::CodeAndLayers(_) => bad_parameter(e.to_string()),
    }
}
