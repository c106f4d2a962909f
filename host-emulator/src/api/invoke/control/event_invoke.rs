//! The control plane of asynchronous-invocation configurations (API version 2019-09-25):
//! `PutFunctionEventInvokeConfig` (`PUT …/event-invoke-config`, replaces),
//! `UpdateFunctionEventInvokeConfig` (`POST`, merges), `GetFunctionEventInvokeConfig`,
//! `DeleteFunctionEventInvokeConfig` and `ListFunctionEventInvokeConfigs`
//! (`GET …/event-invoke-config/list`). The qualifier comes from the name or `?Qualifier=`;
//! none means `$LATEST`. What a configuration does is in [`crate::event_invoke`].

use std::time::{Duration, SystemTime};

use crate::api::RequestBody;
use http::{Request, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::request::name_function;
use super::super::{Functions, ServiceError};
use super::paging::page;
use super::write::read_json;
use super::Answer;
use crate::config::LATEST;
use crate::event_invoke::{EventInvokeError, EventInvokeSettings, StoredEventInvoke};
use crate::versions::Function;

/// The body of a put or an update.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Body {
    destination_config: Option<DestinationConfig>,
    maximum_event_age_in_seconds: Option<i64>,
    maximum_retry_attempts: Option<i64>,
}

/// Lambda's `DestinationConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct DestinationConfig {
    on_success: Option<Destination>,
    on_failure: Option<Destination>,
}

/// Lambda's `OnSuccess` and `OnFailure`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Destination {
    destination: Option<String>,
}

impl Body {
    /// The settings given; a value below a range's floor is refused here (an unsigned field
    /// cannot hold it), the others by the settings' own checks.
    fn settings(self) -> Result<EventInvokeSettings, ServiceError> {
        let unsigned = |field: &'static str, value: Option<i64>, floor: &'static str| {
            value
                .map(|v| {
                    u64::try_from(v).map_err(|_| {
                        ServiceError::new(
                            StatusCode::BAD_REQUEST,
                            "ValidationException",
                            format!(
                                "1 validation error detected: Value '{v}' at '{field}' failed \
                                 to satisfy constraint: Member must have value greater than or \
                                 equal to {floor}"
                            ),
                        )
                    })
                })
                .transpose()
        };
        let retries = unsigned("maximumRetryAttempts", self.maximum_retry_attempts, "0")?;
        let age = unsigned(
            "maximumEventAgeInSeconds",
            self.maximum_event_age_in_seconds,
            "60",
        )?;
        let destinations = self.destination_config.unwrap_or_default();
        let arn = |d: Option<Destination>| d.and_then(|d| d.destination).filter(|d| !d.is_empty());
        Ok(EventInvokeSettings {
            maximum_retry_attempts: retries.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            maximum_event_age: age.map(Duration::from_secs),
            on_success: arn(destinations.on_success),
            on_failure: arn(destinations.on_failure),
        })
    }
}

/// Answers a request on `…/event-invoke-config` (put, update, read, delete) or
/// `…/event-invoke-config/list`.
pub(super) async fn answer(
    req: Request<RequestBody>,
    raw_name: &str,
    list: bool,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let named = name_function(&req, raw_name, functions)?;
    let function = named.function;
    let qualifier = named.qualifier;
    let method = req.method().as_str().to_owned();
    let shown = |q: &str, stored: &StoredEventInvoke| shown(&function, q, stored);
    let q = qualifier.as_deref().unwrap_or(LATEST).to_owned();
    match (list, method.as_str()) {
        (true, "GET") => {
            let all: Vec<(String, Value)> = function
                .event_invoke
                .all()
                .iter()
                .map(|(q, stored)| (super::paging::qualifier_key(q), shown(q, stored)))
                .collect();
            page(&req, "FunctionEventInvokeConfigs", all).map(Answer::ok)
        }
        (false, "GET") => crate::event_invoke::get(&function, qualifier.as_deref())
            .map(|stored| Answer::ok(shown(&q, &stored)))
            .map_err(error),
        (false, "PUT" | "POST") => {
            let replace = method == "PUT";
            let settings = read_json::<Body>(req).await?.settings()?;
            let stored = crate::event_invoke::change(
                functions,
                &function,
                qualifier.as_deref(),
                settings,
                replace,
            )
            .map_err(error)?;
            Ok(Answer::ok(shown(&q, &stored)))
        }
        (false, "DELETE") => crate::event_invoke::delete(&function, qualifier.as_deref())
            .map(|()| Answer {
                status: StatusCode::NO_CONTENT,
                body: None,
            })
            .map_err(error),
        _ => Err(super::unknown(&req)),
    }
}

/// Lambda's `FunctionEventInvokeConfig`: the settings given (those left out are not shown),
/// and both destinations, empty when unset.
fn shown(function: &Function, qualifier: &str, stored: &StoredEventInvoke) -> Value {
    let settings = &stored.settings;
    let destination = |d: &Option<String>| match d {
        Some(arn) => json!({ "Destination": arn }),
        None => json!({}),
    };
    let last_modified = stored
        .last_modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64 / 1000.0);
    let mut v = json!({
        "FunctionArn": function.arn_of(qualifier),
        "LastModified": last_modified,
        "DestinationConfig": {
            "OnSuccess": destination(&settings.on_success),
            "OnFailure": destination(&settings.on_failure),
        },
    });
    if let Some(n) = settings.maximum_retry_attempts {
        v["MaximumRetryAttempts"] = n.into();
    }
    if let Some(age) = settings.maximum_event_age {
        v["MaximumEventAgeInSeconds"] = age.as_secs().into();
    }
    v
}

/// Lambda's error for a configuration that cannot be read or changed.
fn error(e: EventInvokeError) -> ServiceError {
    let (status, code) = match &e {
        EventInvokeError::NoSuchFunction | EventInvokeError::NotFound { .. } => {
            (StatusCode::NOT_FOUND, "ResourceNotFoundException")
        }
        EventInvokeError::OutOfRange { .. } | EventInvokeError::NotAnArn(_) => {
            (StatusCode::BAD_REQUEST, "ValidationException")
        }
        EventInvokeError::Empty
        | EventInvokeError::InvalidDestination(_)
        | EventInvokeError::ItselfAsDestination
        | EventInvokeError::Unreachable(_) => {
            (StatusCode::BAD_REQUEST, "InvalidParameterValueException")
        }
    };
    ServiceError::new(status, code, e.to_string())
}
