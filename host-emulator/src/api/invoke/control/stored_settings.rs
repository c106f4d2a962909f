//! The control-plane calls deploy tools make around a function for settings that change
//! nothing about how it runs here (see [`crate::stored_settings`]):
//!
//! - code signing (API version 2020-06-30, `…/functions/NAME/code-signing-config`):
//!   `GetFunctionCodeSigningConfig` shows none, `DeleteFunctionCodeSigningConfig` (204)
//!   removes none, and `PutFunctionCodeSigningConfig` is refused with
//!   `CodeSigningConfigNotFoundException`, as there are no code signing configurations here;
//! - runtime management (2021-07-20, `…/runtime-management-config[?Qualifier=]`):
//!   `GetRuntimeManagementConfig` and `PutRuntimeManagementConfig`, per version;
//! - recursive loop detection (2024-08-31, `…/recursion-config`):
//!   `GetFunctionRecursionConfig` and `PutFunctionRecursionConfig`.

use crate::api::RequestBody;
use http::{Request, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::request::name_function;
use super::super::{bad_parameter, Functions, ServiceError};
use super::functions::{missing, validation};
use super::write::{read_json, unqualified};
use super::Answer;
use crate::config::LATEST;
use crate::stored_settings::{
    RecursiveLoop, RuntimeManagement, RuntimeManagementError, UpdateRuntimeOn,
};

/// `PutFunctionCodeSigningConfig`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct PutCodeSigning {
    code_signing_config_arn: Option<String>,
}

/// `PutRuntimeManagementConfig`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct PutRuntimeManagement {
    update_runtime_on: Option<String>,
    runtime_version_arn: Option<String>,
}

/// `PutFunctionRecursionConfig`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct PutRecursion {
    recursive_loop: Option<String>,
}

/// Answers a request on `…/code-signing-config`.
pub(super) async fn code_signing(
    req: Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let operation = match req.method().as_str() {
        "GET" => "GetFunctionCodeSigningConfig",
        "PUT" => "PutFunctionCodeSigningConfig",
        "DELETE" => "DeleteFunctionCodeSigningConfig",
        _ => return Err(super::unknown(&req)),
    };
    let function = unqualified(&req, raw_name, functions, operation)?;
    let name = function.latest().config.name.clone();
    match req.method().as_str() {
        "GET" => Ok(Answer::ok(json!({
            "CodeSigningConfigArn": "",
            "FunctionName": name,
        }))),
        "DELETE" => Ok(Answer {
            status: StatusCode::NO_CONTENT,
            body: None,
        }),
        _ => {
            let body: PutCodeSigning = read_json(req).await?;
            let arn = body
                .code_signing_config_arn
                .ok_or_else(|| missing("codeSigningConfigArn"))?;
            Err(ServiceError::new(
                StatusCode::NOT_FOUND,
                "CodeSigningConfigNotFoundException",
                format!(
                    "The code signing configuration {arn} does not exist: firebox has no code \
                     signing configurations, and runs code unsigned"
                ),
            ))
        }
    }
}

/// Answers a request on `…/runtime-management-config`.
pub(super) async fn runtime_management(
    req: Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    if !matches!(req.method().as_str(), "GET" | "PUT") {
        return Err(super::unknown(&req));
    }
    let named = name_function(&req, raw_name, functions)?;
    let function = named.function;
    let version = named.qualifier.unwrap_or_else(|| LATEST.to_owned());
    if version != LATEST && !crate::config::is_version_number(&version) {
        return Err(bad_parameter(format!(
            "The runtime management configuration belongs to $LATEST or a published version, \
             not to alias `{version}`"
        )));
    }
    if version != LATEST && !function.is_published(&version) {
        return Err(super::super::request::not_found(&function.arn_of(&version)));
    }
    let store = &function.stored;
    if req.method() == "PUT" {
        let body: PutRuntimeManagement = read_json(req).await?;
        let mode = body
            .update_runtime_on
            .ok_or_else(|| missing("updateRuntimeOn"))?;
        let mode = UpdateRuntimeOn::parse(&mode).ok_or_else(|| {
            validation(format!(
                "Value '{mode}' at 'updateRuntimeOn' failed to satisfy constraint: Member must \
                 satisfy enum value set: [Auto, Manual, FunctionUpdate]"
            ))
        })?;
        let config =
            RuntimeManagement::new(mode, body.runtime_version_arn).map_err(|e| match e {
                RuntimeManagementError::InvalidRuntimeVersion(_) => ServiceError::new(
                    StatusCode::BAD_REQUEST,
                    "ValidationException",
                    e.to_string(),
                ),
                _ => bad_parameter(e.to_string()),
            })?;
        store.set_runtime_management(&version, config);
    }
    let config = store.runtime_management(&version);
    let arn = if version == LATEST {
        function.latest().config.arn()
    } else {
        function.arn_of(&version)
    };
    Ok(Answer::ok(json!({
        "FunctionArn": arn,
        "UpdateRuntimeOn": config.update_runtime_on.as_str(),
        "RuntimeVersionArn": config.runtime_version_arn.map_or(Value::Null, Value::from),
    })))
}

/// Answers a request on `…/recursion-config`.
pub(super) async fn recursion(
    req: Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let operation = match req.method().as_str() {
        "GET" => "GetFunctionRecursionConfig",
        "PUT" => "PutFunctionRecursionConfig",
        _ => return Err(super::unknown(&req)),
    };
    let function = unqualified(&req, raw_name, functions, operation)?;
    if req.method() == "PUT" {
        let body: PutRecursion = read_json(req).await?;
        let setting = body
            .recursive_loop
            .ok_or_else(|| missing("recursiveLoop"))?;
        let setting = RecursiveLoop::parse(&setting).ok_or_else(|| {
            validation(format!(
                "Value '{setting}' at 'recursiveLoop' failed to satisfy constraint: Member must \
                 satisfy enum value set: [Allow, Terminate]"
            ))
        })?;
        function.stored.set_recursive_loop(setting);
    }
    Ok(Answer::ok(
        json!({ "RecursiveLoop": function.stored.recursive_loop().as_str() }),
    ))
}
