//! The control plane of resource-based policies (API version 2015-03-31): `AddPermission`
//! (`POST …/functions/NAME/policy`, 201 with the statement), `GetPolicy` (`GET …/policy`) and
//! `RemovePermission` (`DELETE …/policy/SID?RevisionId=R`, 204). The qualifier comes from the
//! name or `?Qualifier=`; none means the function's own policy. What a policy holds is in
//! [`crate::policy`]; it is shown, not enforced.

use crate::api::RequestBody;
use http::{Request, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::super::request::{name_function, percent_decode_bytes, query_param};
use super::super::{bad_parameter, Functions, ServiceError};
use super::write::read_json;
use super::Answer;
use crate::policy::{Permission, PolicyError};

/// `AddPermission`'s body (fields Lambda may add later are ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AddPermission {
    statement_id: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    source_arn: Option<String>,
    source_account: Option<String>,
    event_source_token: Option<String>,
    #[serde(rename = "PrincipalOrgID")]
    principal_org_id: Option<String>,
    function_url_auth_type: Option<String>,
    invoked_via_function_url: Option<bool>,
    revision_id: Option<String>,
}

impl AddPermission {
    /// The permission asked for; the fields Lambda requires and that are missing are a
    /// validation error.
    fn permission(self) -> Result<Permission, ServiceError> {
        require(&[
            ("statementId", self.statement_id.is_some()),
            ("action", self.action.is_some()),
            ("principal", self.principal.is_some()),
        ])?;
        Ok(Permission {
            statement_id: self.statement_id.unwrap_or_default(),
            action: self.action.unwrap_or_default(),
            principal: self.principal.unwrap_or_default(),
            source_arn: self.source_arn,
            source_account: self.source_account,
            event_source_token: self.event_source_token,
            principal_org_id: self.principal_org_id,
            function_url_auth_type: self.function_url_auth_type,
            invoked_via_function_url: self.invoked_via_function_url,
            revision_id: self.revision_id,
        })
    }
}

/// Lambda's validation error naming each required field (`(field, given)`) that is missing.
pub(super) fn require(fields: &[(&str, bool)]) -> Result<(), ServiceError> {
    let missing: Vec<String> = fields
        .iter()
        .filter(|(_, given)| !*given)
        .map(|(field, _)| {
            format!("Value null at '{field}' failed to satisfy constraint: Member must not be null")
        })
        .collect();
    match missing.is_empty() {
        true => Ok(()),
        false => Err(error(PolicyError::Invalid(missing))),
    }
}

/// Answers a request on `…/policy` (`statement: None`) or `…/policy/SID`.
pub(super) async fn answer(
    req: Request<RequestBody>,
    raw_name: &str,
    statement: Option<&str>,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let method = req.method().as_str().to_owned();
    match (statement, method.as_str()) {
        (None, "POST") => {
            let named = name_function(&req, raw_name, functions)?;
            let permission = read_json::<AddPermission>(req).await?.permission()?;
            let statement = crate::policy::add_permission(
                &named.function,
                named.qualifier.as_deref(),
                &permission,
            )
            .map_err(error)?;
            Ok(Answer {
                status: StatusCode::CREATED,
                body: Some(json!({ "Statement": statement.to_json() })),
            })
        }
        (None, "GET") => {
            let named = name_function(&req, raw_name, functions)?;
            let policy = crate::policy::get_policy(&named.function, named.qualifier.as_deref())
                .map_err(error)?;
            Ok(Answer::ok(json!({
                "Policy": policy.document(),
                "RevisionId": policy.revision_id,
            })))
        }
        (Some(raw_sid), "DELETE") => {
            let named = name_function(&req, raw_name, functions).map_err(|mut e| {
                // Lambda names the policy, not the function, when the function is unknown.
                if e.status == StatusCode::NOT_FOUND {
                    e.message = e
                        .message
                        .replace("Function not found:", "No policy found for:");
                }
                e
            })?;
            let sid = percent_decode_bytes(raw_sid)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| bad_parameter(format!("invalid percent-encoding in `{raw_sid}`")))?;
            let revision_id = query_param(&req, "RevisionId").filter(|r| !r.is_empty());
            crate::policy::remove_permission(
                &named.function,
                named.qualifier.as_deref(),
                &sid,
                revision_id.as_deref(),
            )
            .map_err(error)?;
            Ok(Answer {
                status: StatusCode::NO_CONTENT,
                body: None,
            })
        }
        _ => Err(super::unknown(&req)),
    }
}

/// Lambda's error for a policy that cannot be read or changed.
pub(super) fn error(e: PolicyError) -> ServiceError {
    let (status, code) = match &e {
        PolicyError::Invalid(_) => (StatusCode::BAD_REQUEST, "ValidationException"),
        PolicyError::InvalidPrincipal | PolicyError::LatestQualifier => {
            (StatusCode::BAD_REQUEST, "InvalidParameterValueException")
        }
        PolicyError::TooLarge(_) => (StatusCode::BAD_REQUEST, "PolicyLengthExceededException"),
        PolicyError::NoSuchVersion(_)
        | PolicyError::NoSuchAlias(_)
        | PolicyError::NoPolicy
        | PolicyError::NothingToRemove
        | PolicyError::StatementNotFound(_) => (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
        PolicyError::StatementExists(_) => (StatusCode::CONFLICT, "ResourceConflictException"),
        PolicyError::RevisionMismatch => (
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailedException",
        ),
    };
    ServiceError::new(status, code, e.to_string())
}
