//! The control plane of provisioned concurrency (API version 2019-09-30), on
//! `/2019-09-30/functions/NAME/provisioned-concurrency`: `PutProvisionedConcurrencyConfig`
//! (`PUT ?Qualifier=Q` with `ProvisionedConcurrentExecutions`, 202),
//! `GetProvisionedConcurrencyConfig` (`GET ?Qualifier=Q`), `DeleteProvisionedConcurrencyConfig`
//! (`DELETE ?Qualifier=Q`, 204) and `ListProvisionedConcurrencyConfigs` (`GET ?List=ALL`).
//! The qualifier may also come with the name (`NAME:Q`). What a configuration does is in
//! [`crate::provisioned`].

use crate::api::RequestBody;
use http::{Request, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::request::{name_function, query_param};
use super::super::{Functions, ServiceError};
use super::paging::page;
use super::write::read_json;
use super::Answer;
use crate::provisioned::{ProvisionedConcurrency, ProvisionedError};
use crate::scheduler::capacity::ProvisioningError;

/// `PutProvisionedConcurrencyConfig`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Body {
    provisioned_concurrent_executions: i64,
}

/// Answers a request on `…/provisioned-concurrency`.
pub(super) async fn answer(
    req: Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let named = name_function(&req, raw_name, functions)?;
    let function = named.function;
    if req.method() == "GET" && query_param(&req, "List").is_some() {
        let all: Vec<(String, Value)> = crate::provisioned::all(&function)
            .await
            .iter()
            .map(|(q, p)| {
                let mut v = shown(p);
                v["FunctionArn"] = function.arn_of(q).into();
                (super::paging::qualifier_key(q), v)
            })
            .collect();
        return page(&req, "ProvisionedConcurrencyConfigs", all).map(Answer::ok);
    }
    let qualifier = named.qualifier.ok_or_else(|| {
        ServiceError::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "1 validation error detected: Value null at 'qualifier' failed to satisfy \
             constraint: Member must not be null",
        )
    })?;
    match req.method().as_str() {
        "GET" => crate::provisioned::get(&function, &qualifier)
            .await
            .map(|p| Answer::ok(shown(&p)))
            .map_err(error),
        "PUT" => {
            let body: Body = read_json(req).await?;
            crate::provisioned::put(
                &function,
                &qualifier,
                body.provisioned_concurrent_executions,
            )
            .map_err(error)?;
            let p = crate::provisioned::get(&function, &qualifier)
                .await
                .map_err(error)?;
            Ok(Answer {
                status: StatusCode::ACCEPTED,
                body: Some(shown(&p)),
            })
        }
        "DELETE" => crate::provisioned::delete(&function, &qualifier)
            .map(|()| Answer {
                status: StatusCode::NO_CONTENT,
                body: None,
            })
            .map_err(error),
        _ => Err(super::unknown(&req)),
    }
}

/// Lambda's `GetProvisionedConcurrencyConfigResponse` (the list's items add `FunctionArn`).
/// `StatusReason` only when there is one, as Lambda leaves it out.
fn shown(p: &ProvisionedConcurrency) -> Value {
    let mut v = json!({
        "RequestedProvisionedConcurrentExecutions": p.requested,
        "AllocatedProvisionedConcurrentExecutions": p.allocated,
        "AvailableProvisionedConcurrentExecutions": p.available,
        "Status": p.status.as_str(),
        "LastModified": p.last_modified,
    });
    if let Some(reason) = &p.status_reason {
        v["StatusReason"] = reason.as_str().into();
    }
    v
}

/// Lambda's error for a configuration that cannot be read or changed.
fn error(e: ProvisionedError) -> ServiceError {
    let (status, code) = match &e {
        ProvisionedError::TooFew(_) => (StatusCode::BAD_REQUEST, "ValidationException"),
        ProvisionedError::Unpublished
        | ProvisionedError::NotVersionOrAlias
        | ProvisionedError::Concurrency(
            ProvisioningError::AboveReserved { .. }
            | ProvisioningError::BelowUnreservedMinimum { .. },
        ) => (StatusCode::BAD_REQUEST, "InvalidParameterValueException"),
        ProvisionedError::VersionNotFound { .. } | ProvisionedError::AliasNotFound { .. } => {
            (StatusCode::NOT_FOUND, "ResourceNotFoundException")
        }
        ProvisionedError::NotFound => (
            StatusCode::NOT_FOUND,
            "ProvisionedConcurrencyConfigNotFoundException",
        ),
        ProvisionedError::VersionAlreadyProvisioned | ProvisionedError::AliasAlreadyProvisioned => {
            (StatusCode::CONFLICT, "ResourceConflictException")
        }
    };
    ServiceError::new(status, code, e.to_string())
}
