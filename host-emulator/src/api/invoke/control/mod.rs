//! Lambda's control plane, on the public listener.
//!
//! - Read (`read`): `GetFunction`, `GetFunctionConfiguration`, `ListFunctions`,
//!   `ListVersionsByFunction`, `GetAlias`, `ListAliases`, `GetFunctionConcurrency` and
//!   `GetAccountSettings`.
//! - Write, in memory until the emulator stops (`write`, `settings`, `functions`):
//!   `CreateAlias`, `UpdateAlias`, `DeleteAlias`, `PutFunctionConcurrency`,
//!   `DeleteFunctionConcurrency`, `UpdateFunctionConfiguration`, `PublishVersion`,
//!   `CreateFunction`, `UpdateFunctionCode` and `DeleteFunction`.
//! - Function URLs (`urls`): `CreateFunctionUrlConfig`, `GetFunctionUrlConfig`,
//!   `UpdateFunctionUrlConfig`, `DeleteFunctionUrlConfig`, `ListFunctionUrlConfigs`.
//! - Asynchronous invocation (`event_invoke`): `PutFunctionEventInvokeConfig`,
//!   `UpdateFunctionEventInvokeConfig`, `GetFunctionEventInvokeConfig`,
//!   `DeleteFunctionEventInvokeConfig`, `ListFunctionEventInvokeConfigs`.
//! - Tags (`tags`): `TagResource`, `UntagResource`, `ListTags`.
//! - Provisioned concurrency (`provisioned`): `PutProvisionedConcurrencyConfig`,
//!   `GetProvisionedConcurrencyConfig`, `DeleteProvisionedConcurrencyConfig`,
//!   `ListProvisionedConcurrencyConfigs`.
//! - Resource-based policies, stored and shown, not enforced (`policy`): `AddPermission`,
//!   `GetPolicy`, `RemovePermission`.
//! - Settings stored and shown, with no effect here (`stored_settings`):
//!   `GetFunctionCodeSigningConfig`, `PutFunctionCodeSigningConfig` (refused: there are no
//!   code signing configurations), `DeleteFunctionCodeSigningConfig`,
//!   `GetRuntimeManagementConfig`, `PutRuntimeManagementConfig`,
//!   `GetFunctionRecursionConfig`, `PutFunctionRecursionConfig`.
//! - Layers (`layers`): `PublishLayerVersion`, `GetLayerVersion`, `GetLayerVersionByArn`,
//!   `ListLayers`, `ListLayerVersions`, `DeleteLayerVersion`, and the permissions of a
//!   version, stored and shown, not enforced: `AddLayerVersionPermission`,
//!   `GetLayerVersionPolicy`, `RemoveLayerVersionPermission`.
//!
//! A method no operation uses on a control-plane path is an unknown operation.

mod event_invoke;
mod functions;
mod layers;
mod paging;
mod policy;
mod provisioned;
mod read;
mod settings;
mod stored_settings;
mod tags;
mod urls;
mod write;

use crate::api::RequestBody;
use http::{Request, StatusCode};
use serde_json::Value;

use super::{Functions, ServiceError};
use crate::aliases::AliasError;

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
    Code(&'a str),
    /// A function's URL (`2021-10-31/functions/NAME/url`).
    Url(&'a str),
    /// The list of a function's URLs (`2021-10-31/functions/NAME/urls`).
    Urls(&'a str),
    /// A qualifier's asynchronous-invocation configuration
    /// (`2019-09-25/functions/NAME/event-invoke-config`).
    EventInvokeConfig(&'a str),
    /// The list of them (`2019-09-25/functions/NAME/event-invoke-config/list`).
    EventInvokeConfigs(&'a str),
    /// A function's tags (`2017-03-31/tags/ARN`).
    Tags(&'a str),
    /// A qualifier's provisioned concurrency, or the list of them
    /// (`2019-09-30/functions/NAME/provisioned-concurrency`).
    ProvisionedConcurrency(&'a str),
    /// A qualifier's resource-based policy (`2015-03-31/functions/NAME/policy`).
    Policy(&'a str),
    /// One statement of it (`2015-03-31/functions/NAME/policy/SID`).
    PolicyStatement(&'a str, &'a str),
    /// A function's code signing configuration (`2020-06-30/functions/NAME/code-signing-config`).
    CodeSigningConfig(&'a str),
    /// A version's runtime management configuration
    /// (`2021-07-20/functions/NAME/runtime-management-config`).
    RuntimeManagementConfig(&'a str),
    /// A function's recursive loop setting (`2024-08-31/functions/NAME/recursion-config`).
    RecursionConfig(&'a str),
    /// Layers and their versions (`2018-10-31/layers...`).
    Layers(layers::Path<'a>),
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
            ["", "2015-03-31", "functions", name, "code"] => Self::Code(name),
            ["", "2015-03-31", "functions", name, "aliases"] => Self::Aliases(name),
            ["", "2015-03-31", "functions", name, "aliases", alias] => Self::Alias(name, alias),
            ["", "2015-03-31", "functions", name, "policy"] => Self::Policy(name),
            ["", "2015-03-31", "functions", name, "policy", sid] => {
                Self::PolicyStatement(name, sid)
            }
            ["", "2017-10-31" | "2019-09-30", "functions", name, "concurrency"] => {
                Self::Concurrency(name)
            }
            ["", "2021-10-31", "functions", name, "url"] => Self::Url(name),
            ["", "2021-10-31", "functions", name, "urls"] => Self::Urls(name),
            ["", "2019-09-25", "functions", name, "event-invoke-config"] => {
                Self::EventInvokeConfig(name)
            }
            ["", "2019-09-25", "functions", name, "event-invoke-config", "list"] => {
                Self::EventInvokeConfigs(name)
            }
            ["", "2017-03-31", "tags", arn] => Self::Tags(arn),
            ["", "2019-09-30", "functions", name, "provisioned-concurrency"] => {
                Self::ProvisionedConcurrency(name)
            }
            ["", "2020-06-30", "functions", name, "code-signing-config"] => {
                Self::CodeSigningConfig(name)
            }
            ["", "2021-07-20", "functions", name, "runtime-management-config"] => {
                Self::RuntimeManagementConfig(name)
            }
            ["", "2024-08-31", "functions", name, "recursion-config"] => {
                Self::RecursionConfig(name)
            }
            ["", "2018-10-31", "layers", rest @ ..] => Self::Layers(layers::Path::route(rest)?),
            ["", "2016-08-19", "account-settings"] | ["", "2016-08-19", "account-settings", ""] => {
                Self::AccountSettings
            }
            _ => return None,
        })
    }
}

/// A control-plane answer: its status and JSON body (none for 204).
pub(super) struct Answer {
    pub status: StatusCode,
    pub body: Option<Value>,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(body),
        }
    }
}

/// Answers a control-plane request: JSON on success, AWS's error shape otherwise (a method no
/// operation uses on the path is unknown).
pub(super) async fn answer(
    req: Request<RequestBody>,
    operation: Operation<'_>,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    if let Operation::Layers(path) = operation {
        return layers::answer(req, path, functions).await;
    }
    let method = req.method().clone();
    match (&operation, method.as_str()) {
        (Operation::Url(name), _) => urls::answer(req, name, false, functions).await,
        (Operation::Urls(name), _) => urls::answer(req, name, true, functions).await,
        (Operation::EventInvokeConfig(name), _) => {
            event_invoke::answer(req, name, false, functions).await
        }
        (Operation::EventInvokeConfigs(name), _) => {
            event_invoke::answer(req, name, true, functions).await
        }
        (Operation::Tags(arn), _) => tags::answer(req, arn, functions).await,
        (Operation::ProvisionedConcurrency(name), _) => {
            provisioned::answer(req, name, functions).await
        }
        (Operation::Policy(name), _) => policy::answer(req, name, None, functions).await,
        (Operation::PolicyStatement(name, sid), _) => {
            policy::answer(req, name, Some(sid), functions).await
        }
        (Operation::CodeSigningConfig(name), _) => {
            stored_settings::code_signing(req, name, functions).await
        }
        (Operation::RuntimeManagementConfig(name), _) => {
            stored_settings::runtime_management(req, name, functions).await
        }
        (Operation::RecursionConfig(name), _) => {
            stored_settings::recursion(req, name, functions).await
        }
        (_, "GET") => read::get(&req, operation, functions).map(Answer::ok),
        (Operation::Aliases(name), "POST") => write::create_alias(req, name, functions).await,
        (Operation::Alias(name, alias), "PUT") => {
            write::update_alias(req, name, alias, functions).await
        }
        (Operation::Alias(name, alias), "DELETE") => {
            write::delete_alias(&req, name, alias, functions)
        }
        (Operation::Concurrency(name), "PUT") => write::put_concurrency(req, name, functions).await,
        (Operation::Configuration(name), "PUT") => {
            settings::update_configuration(req, name, functions).await
        }
        (Operation::Versions(name), "POST") => {
            settings::publish_version(req, name, functions).await
        }
        (Operation::Concurrency(name), "DELETE") => {
            write::delete_concurrency(&req, name, functions)
        }
        (Operation::ListFunctions, "POST") => functions::create_function(req, functions).await,
        (Operation::Code(name), "PUT") => functions::update_code(req, name, functions).await,
        (Operation::Function(name), "DELETE") => functions::delete_function(&req, name, functions),
        _ => Err(unknown(&req)),
    }
}

/// Lambda's error for an alias that cannot be read or changed.
fn alias_error(e: AliasError) -> ServiceError {
    let (status, code) = match &e {
        AliasError::Exists { .. } => (StatusCode::CONFLICT, "ResourceConflictException"),
        AliasError::NotFound { .. } | AliasError::UnknownVersion { .. } => {
            (StatusCode::NOT_FOUND, "ResourceNotFoundException")
        }
        AliasError::Invalid(_) | AliasError::ProvisionedOnUnpublished { .. } => {
            (StatusCode::BAD_REQUEST, "InvalidParameterValueException")
        }
        AliasError::RevisionMismatch => (
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailedException",
        ),
    };
    ServiceError::new(status, code, e.to_string())
}

/// A method no operation uses on a control-plane path.
fn unknown(req: &Request<RequestBody>) -> ServiceError {
    ServiceError::new(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        format!("Unknown operation: {} {}", req.method(), req.uri().path()),
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
                Operation::Code(n) => format!("UpdateFunctionCode {n}"),
                Operation::Url(n) => format!("FunctionUrlConfig {n}"),
                Operation::Urls(n) => format!("ListFunctionUrlConfigs {n}"),
                Operation::EventInvokeConfig(n) => format!("FunctionEventInvokeConfig {n}"),
                Operation::EventInvokeConfigs(n) => {
                    format!("ListFunctionEventInvokeConfigs {n}")
                }
                Operation::Tags(arn) => format!("ListTags {arn}"),
                Operation::ProvisionedConcurrency(n) => format!("ProvisionedConcurrency {n}"),
                Operation::Policy(n) => format!("GetPolicy {n}"),
                Operation::PolicyStatement(n, sid) => format!("RemovePermission {n} {sid}"),
                Operation::CodeSigningConfig(n) => format!("CodeSigningConfig {n}"),
                Operation::RuntimeManagementConfig(n) => format!("RuntimeManagementConfig {n}"),
                Operation::RecursionConfig(n) => format!("RecursionConfig {n}"),
                Operation::Layers(layers::Path::Layers) => "Layers".to_owned(),
                Operation::Layers(layers::Path::Versions(n)) => format!("LayerVersions {n}"),
                Operation::Layers(layers::Path::Version(n, v)) => format!("LayerVersion {n} {v}"),
                Operation::Layers(layers::Path::Policy(n, v)) => format!("LayerPolicy {n} {v}"),
                Operation::Layers(layers::Path::Statement(n, v, s)) => {
                    format!("LayerStatement {n} {v} {s}")
                }
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
        assert_eq!(
            route("/2021-10-31/functions/f/url").as_deref(),
            Some("FunctionUrlConfig f")
        );
        assert_eq!(
            route("/2019-09-25/functions/f/event-invoke-config").as_deref(),
            Some("FunctionEventInvokeConfig f")
        );
        assert_eq!(
            route("/2019-09-25/functions/f/event-invoke-config/list").as_deref(),
            Some("ListFunctionEventInvokeConfigs f")
        );
        assert_eq!(
            route("/2017-03-31/tags/arn:aws:lambda:us-east-1:123456789012:function:f").as_deref(),
            Some("ListTags arn:aws:lambda:us-east-1:123456789012:function:f")
        );
        assert_eq!(
            route("/2021-10-31/functions/f/urls").as_deref(),
            Some("ListFunctionUrlConfigs f")
        );
        assert_eq!(
            route("/2019-09-30/functions/f/provisioned-concurrency").as_deref(),
            Some("ProvisionedConcurrency f")
        );
        assert!(route("/2015-03-31/functions/f/invocations").is_none());
        assert_eq!(
            route("/2015-03-31/functions/f/policy").as_deref(),
            Some("GetPolicy f")
        );
        assert_eq!(
            route("/2015-03-31/functions/f/policy/s3-invoke").as_deref(),
            Some("RemovePermission f s3-invoke")
        );
        assert!(route("/2015-03-31/functions/f/policy/a/b").is_none());
        assert_eq!(
            route("/2020-06-30/functions/f/code-signing-config").as_deref(),
            Some("CodeSigningConfig f")
        );
        assert_eq!(
            route("/2021-07-20/functions/f/runtime-management-config").as_deref(),
            Some("RuntimeManagementConfig f")
        );
        assert_eq!(
            route("/2024-08-31/functions/f/recursion-config").as_deref(),
            Some("RecursionConfig f")
        );
        assert!(route("/2015-03-31/functions/f/recursion-config").is_none());
        assert_eq!(route("/2018-10-31/layers").as_deref(), Some("Layers"));
        assert_eq!(route("/2018-10-31/layers/").as_deref(), Some("Layers"));
        assert_eq!(
            route("/2018-10-31/layers/deps/versions").as_deref(),
            Some("LayerVersions deps")
        );
        assert_eq!(
            route("/2018-10-31/layers/deps/versions/2").as_deref(),
            Some("LayerVersion deps 2")
        );
        assert_eq!(
            route("/2018-10-31/layers/deps/versions/2/policy").as_deref(),
            Some("LayerPolicy deps 2")
        );
        assert_eq!(
            route("/2018-10-31/layers/deps/versions/2/policy/share").as_deref(),
            Some("LayerStatement deps 2 share")
        );
        assert!(route("/2018-10-31/layers/deps").is_none());
        assert!(route("/2018-10-31/layers/deps/versions/2/policy/a/b").is_none());
    }
}
