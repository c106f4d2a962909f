//! The writes of the control plane that the emulator does, in memory until it stops:
//! `CreateAlias`, `UpdateAlias`, `DeleteAlias`, `PutFunctionConcurrency` and
//! `DeleteFunctionConcurrency`. Each takes an unqualified function name; each answers with
//! Lambda's status (201, 200 or 204) and body, or Lambda's error for the failure.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::RequestBody;
use http::{Request, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::super::request::name_function;
use super::super::{bad_parameter, unreadable, Functions, ServiceError};
use super::read::alias_configuration;
use super::{alias_error, Answer};
use crate::aliases::AliasUpdate;
use crate::api::{read_body, BodyError};
use crate::config::AliasConfig;
use crate::scheduler::capacity::ReservationError;
use crate::versions::Function;

/// Largest control-plane request body read.
const MAX_BODY: usize = 64 * 1024;

/// `CreateAlias`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateAlias {
    name: String,
    function_version: String,
    #[serde(default)]
    description: String,
    routing_config: Option<RoutingConfig>,
}

/// `UpdateAlias`'s body: every field optional.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateAlias {
    function_version: Option<String>,
    description: Option<String>,
    routing_config: Option<RoutingConfig>,
    revision_id: Option<String>,
}

/// An alias's `RoutingConfig`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoutingConfig {
    #[serde(default)]
    additional_version_weights: BTreeMap<String, f64>,
}

impl RoutingConfig {
    /// The weights, once every key is a version number, as Lambda's model wants
    /// (`AdditionalVersionWeights` keys match `[0-9]+`; `$LATEST` is refused).
    fn checked(self) -> Result<BTreeMap<String, f64>, ServiceError> {
        for version in self.additional_version_weights.keys() {
            if version.is_empty()
                || version.len() > 1024
                || !version.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(ServiceError::new(
                    StatusCode::BAD_REQUEST,
                    "ValidationException",
                    format!("1 validation error detected: Value '{version}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [0-9]+]"),
                ));
            }
        }
        for (version, weight) in &self.additional_version_weights {
            if !(0.0..=1.0).contains(weight) {
                return Err(ServiceError::new(
                    StatusCode::BAD_REQUEST,
                    "ValidationException",
                    format!("1 validation error detected: Value '{{{version}={weight}}}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]"),
                ));
            }
        }
        Ok(self.additional_version_weights)
    }
}

/// Lambda's model of an alias name (`CreateAlias`'s `Name`): 1 to 128 of letters, digits, `-`
/// and `_`, not only digits; a `ValidationException` otherwise.
fn check_alias_name(name: &str) -> Result<(), ServiceError> {
    let fits = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.bytes().all(|b| b.is_ascii_digit());
    if fits {
        return Ok(());
    }
    Err(ServiceError::new(
        StatusCode::BAD_REQUEST,
        "ValidationException",
        format!("1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"),
    ))
}

/// `PutFunctionConcurrency`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutConcurrency {
    reserved_concurrent_executions: i64,
}

/// `CreateAlias`: 201 with the new alias.
pub(super) async fn create_alias(
    req: Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let function = unqualified(&req, raw_name, functions, "CreateAlias")?;
    let body: CreateAlias = read_json(req).await?;
    check_alias_name(&body.name)?;
    let config = AliasConfig {
        version: body.function_version,
        additional_version_weights: body
            .routing_config
            .map(RoutingConfig::checked)
            .transpose()?
            .unwrap_or_default(),
    };
    let alias = function
        .create_alias(&body.name, config, body.description)
        .map_err(alias_error)?;
    Ok(Answer {
        status: StatusCode::CREATED,
        body: Some(alias_configuration(&function, &body.name, &alias)),
    })
}

/// `UpdateAlias`: 200 with the changed alias.
pub(super) async fn update_alias(
    req: Request<RequestBody>,
    raw_name: &str,
    name: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let function = unqualified(&req, raw_name, functions, "UpdateAlias")?;
    let body: UpdateAlias = read_json(req).await?;
    let update = AliasUpdate {
        version: body.function_version,
        description: body.description,
        additional_version_weights: body
            .routing_config
            .map(RoutingConfig::checked)
            .transpose()?,
        revision_id: body.revision_id,
    };
    let alias = function.update_alias(name, update).map_err(alias_error)?;
    Ok(Answer::ok(alias_configuration(&function, name, &alias)))
}

/// `DeleteAlias`: 204, whether or not the alias existed (Lambda lists no not-found error for
/// it).
pub(super) fn delete_alias(
    req: &Request<RequestBody>,
    raw_name: &str,
    name: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let function = unqualified(req, raw_name, functions, "DeleteAlias")?;
    function.delete_alias(name);
    Ok(no_content())
}

/// `PutFunctionConcurrency`: 200 with the reservation.
pub(super) async fn put_concurrency(
    req: Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let function = unqualified(&req, raw_name, functions, "PutFunctionConcurrency")?;
    let body: PutConcurrency = read_json(req).await?;
    let n = body.reserved_concurrent_executions;
    if n < 0 {
        return Err(bad_parameter(format!(
            "ReservedConcurrentExecutions must be at least 0 (got {n})"
        )));
    }
    // Beyond u32 is beyond any account: the pool check refuses it.
    let reserved = u32::try_from(n).unwrap_or(u32::MAX - 1);
    function
        .capacity()
        .set_reserved(Some(reserved))
        .map_err(reservation_error)?;
    Ok(Answer::ok(
        json!({ "ReservedConcurrentExecutions": reserved }),
    ))
}

/// `DeleteFunctionConcurrency`: 204; the function draws on the unreserved pool again.
pub(super) fn delete_concurrency(
    req: &Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let function = unqualified(req, raw_name, functions, "DeleteFunctionConcurrency")?;
    function
        .capacity()
        .set_reserved(None)
        .map_err(reservation_error)?;
    Ok(no_content())
}

fn no_content() -> Answer {
    Answer {
        status: StatusCode::NO_CONTENT,
        body: None,
    }
}

/// The function named in the path; a qualifier (in the name or `?Qualifier=`) is refused,
/// as these operations are about the function as a whole.
pub(super) fn unqualified(
    req: &Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
    operation: &str,
) -> Result<Arc<Function>, ServiceError> {
    let named = name_function(req, raw_name, functions)?;
    if let Some(q) = &named.qualifier {
        return Err(bad_parameter(format!(
            "{operation} takes an unqualified function name (got qualifier `{q}`)"
        )));
    }
    Ok(named.function)
}

/// Reads a JSON body of at most [`MAX_BODY`] bytes into `T`; an empty body is `{}` (what an
/// SDK sends when no field is set).
pub(super) async fn read_json<T: DeserializeOwned>(
    req: Request<RequestBody>,
) -> Result<T, ServiceError> {
    read_json_within(req, MAX_BODY, || {
        ServiceError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            format!("Request must be smaller than {MAX_BODY} bytes"),
        )
    })
    .await
}

/// Reads a JSON body of at most `max` bytes into `T` (an empty body is `{}`); a larger one
/// gets `too_large()`.
pub(super) async fn read_json_within<T: DeserializeOwned>(
    req: Request<RequestBody>,
    max: usize,
    too_large: impl FnOnce() -> ServiceError,
) -> Result<T, ServiceError> {
    let body = match read_body(req.into_body(), max).await {
        Ok(body) => body,
        Err(BodyError::TooLarge { .. }) => return Err(too_large()),
        Err(BodyError::Read(e)) => return Err(unreadable(e)),
    };
    let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
    serde_json::from_slice(body).map_err(|e| {
        ServiceError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {e}"),
        )
    })
}

/// Lambda's error for a refused reservation.
fn reservation_error(e: ReservationError) -> ServiceError {
    bad_parameter(e.to_string())
}
