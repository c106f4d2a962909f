//! A function's resource-based policies, as `AddPermission`, `RemovePermission` and
//! `GetPolicy` change and show them. Each qualifier has its own: the function's (unqualified,
//! kept under `$LATEST`), each published version's and each alias's, its statements in the
//! order they were added, with a `RevisionId` that changes with every change. A policy goes
//! with its version or alias, and with the function. Policies are kept in memory until the
//! emulator stops, and shown, never enforced: the emulator checks no caller's identity.
//!
//! The map sits behind a `std` mutex, held only to read or change one policy; no other lock
//! is taken while it is held.

mod check;
mod layer;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Serialize;

pub(crate) use layer::{check_removal, layer_statement};

use crate::config::LATEST;
use crate::versions::{Function, UnknownQualifier};

/// Lambda's largest policy: the bytes of its JSON document.
pub const MAX_POLICY_BYTES: usize = 20_480;

/// What `AddPermission` takes: who may do what to the function, under which conditions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permission {
    /// The statement's id, unique in its policy (1 to 100 of `[a-zA-Z0-9-_]`).
    pub statement_id: String,
    /// `lambda:InvokeFunction`, `lambda:InvokeFunctionUrl`, `lambda:GetFunction`, `lambda:*`…
    pub action: String,
    /// `*`, an account id, an IAM ARN, or a service (`s3.amazonaws.com`).
    pub principal: String,
    /// The ARN of the resource a service principal invokes for (`ArnLike`).
    pub source_arn: Option<String>,
    /// The account that owns that resource.
    pub source_account: Option<String>,
    /// The token an Alexa Smart Home invoker supplies.
    pub event_source_token: Option<String>,
    /// The AWS Organizations organization whose accounts are allowed.
    pub principal_org_id: Option<String>,
    /// `NONE` or `AWS_IAM`: the function URL auth type the statement is for.
    pub function_url_auth_type: Option<String>,
    /// Whether the statement is only for invocations through a function URL.
    pub invoked_via_function_url: Option<bool>,
    /// When given, the permission is added only if the policy's revision is this one.
    pub revision_id: Option<String>,
}

/// Who a statement allows, as a policy writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Principal {
    /// Anyone (`"*"`).
    #[serde(rename = "*")]
    Anyone,
    /// An AWS service (`{"Service": "s3.amazonaws.com"}`).
    Service(String),
    /// An account's root (`arn:aws:iam::ACCOUNT:root`) or an IAM ARN (`{"AWS": ARN}`).
    #[serde(rename = "AWS")]
    Aws(String),
}

/// One statement of a policy, in the order of fields Lambda shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    /// Its id.
    pub sid: String,
    /// Always `Allow`.
    pub effect: String,
    /// Who it allows.
    pub principal: Principal,
    /// What it allows.
    pub action: String,
    /// The function's ARN, qualified when the policy is a version's or an alias's.
    pub resource: String,
    /// Operator (`StringEquals`, `ArnLike`, `Bool`) → condition key → value; none is not
    /// shown.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub condition: BTreeMap<String, BTreeMap<String, String>>,
}

impl Statement {
    /// The statement as `AddPermission` answers it: JSON text.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

/// A qualifier's policy, as `GetPolicy` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Its statements, in the order they were added.
    pub statements: Vec<Statement>,
    /// Changes with every statement added or removed.
    pub revision_id: String,
}

/// A policy document: `{"Version": "2012-10-17", "Id": "default", "Statement": [...]}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Document<'a> {
    version: &'static str,
    id: &'static str,
    statement: &'a [Statement],
}

impl Policy {
    /// The policy document as `GetPolicy` answers it: JSON text.
    pub fn document(&self) -> String {
        document(&self.statements)
    }
}

/// Why a permission could not be added or removed, or a policy read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Fields that break Lambda's lengths or patterns, each as Lambda says it.
    #[error("{} validation error{} detected: {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, .0.join("; "))]
    Invalid(Vec<String>),
    /// A principal that is neither `*`, an account, an IAM ARN nor a service.
    #[error("The provided principal was invalid. Please check the principal and try again.")]
    InvalidPrincipal,
    /// `AddPermission` with qualifier `$LATEST` (the function's policy is the unqualified one).
    #[error("We currently do not support adding policies for $LATEST.")]
    LatestQualifier,
    /// The version named does not exist.
    #[error("Function not found: {0}")]
    NoSuchVersion(String),
    /// The alias named does not exist.
    #[error("Cannot find alias arn: {0}")]
    NoSuchAlias(String),
    /// `AddPermission` with a statement id the policy already has.
    #[error("The statement id ({0}) provided already exists. Please provide a new statement id, or remove the existing statement.")]
    StatementExists(String),
    /// A revision id given that is not the policy's.
    #[error("The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")]
    RevisionMismatch,
    /// The policy would grow beyond [`MAX_POLICY_BYTES`].
    #[error("The final policy size ({0}) is bigger than the limit (20480).")]
    TooLarge(usize),
    /// `GetPolicy` of a qualifier without a policy.
    #[error("The resource you requested does not exist.")]
    NoPolicy,
    /// `RemovePermission` on a qualifier without a policy.
    #[error("No policy is associated with the given resource.")]
    NothingToRemove,
    /// `RemovePermission` of a statement id the policy does not have.
    #[error("Statement {0} is not found in resource policy.")]
    StatementNotFound(String),
}

/// A qualifier's statements and revision.
#[derive(Debug, Clone)]
struct Stored {
    statements: Vec<Statement>,
    revision_id: String,
}

/// The policies of one function, by qualifier (`$LATEST`: the unqualified one).
#[derive(Debug, Default)]
pub(crate) struct Policies(Mutex<BTreeMap<String, Stored>>);

impl Policies {
    /// The policy of `qualifier`, if it has one.
    pub fn get(&self, qualifier: &str) -> Option<Policy> {
        self.lock().get(qualifier).map(|s| Policy {
            statements: s.statements.clone(),
            revision_id: s.revision_id.clone(),
        })
    }

    /// Adds `statement` to `qualifier`'s policy (making one if needed), unless `revision_id`
    /// is given and not the policy's, the statement id is taken, or the policy would grow too
    /// large. The policy has a new revision after it.
    pub(crate) fn add(
        &self,
        qualifier: &str,
        statement: Statement,
        revision_id: Option<&str>,
    ) -> Result<(), PolicyError> {
        let mut by_qualifier = self.lock();
        let current = by_qualifier.get(qualifier);
        if revision_id.is_some_and(|r| current.is_none_or(|c| c.revision_id != r)) {
            return Err(PolicyError::RevisionMismatch);
        }
        let mut statements = current.map(|c| c.statements.clone()).unwrap_or_default();
        if statements.iter().any(|s| s.sid == statement.sid) {
            return Err(PolicyError::StatementExists(statement.sid));
        }
        statements.push(statement);
        let size = document(&statements).len();
        if size > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge(size));
        }
        by_qualifier.insert(
            qualifier.to_owned(),
            Stored {
                statements,
                revision_id: crate::ids::request_id(),
            },
        );
        Ok(())
    }

    /// Removes statement `sid` from `qualifier`'s policy, unless `revision_id` is given and
    /// not the policy's; the policy goes when its last statement does, else it has a new
    /// revision.
    pub(crate) fn remove_statement(
        &self,
        qualifier: &str,
        sid: &str,
        revision_id: Option<&str>,
    ) -> Result<(), PolicyError> {
        let mut by_qualifier = self.lock();
        let current = by_qualifier
            .get_mut(qualifier)
            .ok_or(PolicyError::NothingToRemove)?;
        let at = current
            .statements
            .iter()
            .position(|s| s.sid == sid)
            .ok_or_else(|| PolicyError::StatementNotFound(sid.to_owned()))?;
        if revision_id.is_some_and(|r| r != current.revision_id) {
            return Err(PolicyError::RevisionMismatch);
        }
        current.statements.remove(at);
        if current.statements.is_empty() {
            by_qualifier.remove(qualifier);
        } else {
            current.revision_id = crate::ids::request_id();
        }
        Ok(())
    }

    /// Removes `qualifier`'s policy (its version or alias deleted); whether it had one.
    pub fn remove(&self, qualifier: &str) -> bool {
        self.lock().remove(qualifier).is_some()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Stored>> {
        // Poisoned only by a panic inside a map operation; the map is whole.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `AddPermission` on `qualifier` (`None`: the function) of `function`: the permission is
/// checked, made a statement on the function's (or the version's or alias's) ARN, and added
/// to the qualifier's policy; the answer is the statement.
pub(crate) fn add_permission(
    function: &Function,
    qualifier: Option<&str>,
    permission: &Permission,
) -> Result<Statement, PolicyError> {
    let violations = check::permission(qualifier, permission);
    if !violations.is_empty() {
        return Err(PolicyError::Invalid(violations));
    }
    if qualifier == Some(LATEST) {
        return Err(PolicyError::LatestQualifier);
    }
    exists(function, qualifier)?;
    let latest = function.latest();
    let resource = match qualifier {
        Some(q) => latest.config.qualified_arn(q),
        None => latest.config.arn(),
    };
    let statement = statement(permission, resource)?;
    let key = qualifier.unwrap_or(LATEST);
    function
        .policy
        .add(key, statement.clone(), permission.revision_id.as_deref())?;
    if let Err(e) = exists(function, qualifier) {
        // Its version or alias was deleted meanwhile, together with its policy: this one goes
        // too, so that a later alias of that name does not inherit it.
        function.policy.remove(key);
        return Err(e);
    }
    Ok(statement)
}

/// `GetPolicy` of `qualifier` (`None` or `$LATEST`: the function's policy).
pub(crate) fn get_policy(
    function: &Function,
    qualifier: Option<&str>,
) -> Result<Policy, PolicyError> {
    let violations = check::qualifier(qualifier);
    if !violations.is_empty() {
        return Err(PolicyError::Invalid(violations));
    }
    function
        .policy
        .get(qualifier.unwrap_or(LATEST))
        .ok_or(PolicyError::NoPolicy)
}

/// `RemovePermission` of statement `sid` from the policy of `qualifier` (`None` or
/// `$LATEST`: the function's), unless `revision_id` is given and not the policy's.
pub(crate) fn remove_permission(
    function: &Function,
    qualifier: Option<&str>,
    sid: &str,
    revision_id: Option<&str>,
) -> Result<(), PolicyError> {
    let violations = check::removal(qualifier, sid);
    if !violations.is_empty() {
        return Err(PolicyError::Invalid(violations));
    }
    exists(function, qualifier)?;
    function
        .policy
        .remove_statement(qualifier.unwrap_or(LATEST), sid, revision_id)
}

/// Whether `qualifier` names `$LATEST`, a published version or an alias of `function`.
fn exists(function: &Function, qualifier: Option<&str>) -> Result<(), PolicyError> {
    function
        .check_qualifier(qualifier.unwrap_or(LATEST))
        .map_err(|e| match e {
            UnknownQualifier::Version(arn) => PolicyError::NoSuchVersion(arn),
            UnknownQualifier::Alias(arn) => PolicyError::NoSuchAlias(arn),
        })
}

/// The statement `permission` makes on `resource`.
fn statement(permission: &Permission, resource: String) -> Result<Statement, PolicyError> {
    let mut condition: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut when = |operator: &str, key: &str, value: Option<&str>| {
        if let Some(value) = value {
            condition
                .entry(operator.to_owned())
                .or_default()
                .insert(key.to_owned(), value.to_owned());
        }
    };
    let p = permission;
    when("ArnLike", "AWS:SourceArn", p.source_arn.as_deref());
    when(
        "StringEquals",
        "AWS:SourceAccount",
        p.source_account.as_deref(),
    );
    when(
        "StringEquals",
        "aws:PrincipalOrgID",
        p.principal_org_id.as_deref(),
    );
    when(
        "StringEquals",
        "lambda:EventSourceToken",
        p.event_source_token.as_deref(),
    );
    when(
        "StringEquals",
        "lambda:FunctionUrlAuthType",
        p.function_url_auth_type.as_deref(),
    );
    when(
        "Bool",
        "lambda:InvokedViaFunctionUrl",
        p.invoked_via_function_url.filter(|v| *v).map(|_| "true"),
    );
    Ok(Statement {
        sid: p.statement_id.clone(),
        effect: "Allow".to_owned(),
        principal: principal(&p.principal)?,
        action: p.action.clone(),
        resource,
        condition,
    })
}

/// `*`, an account id (its root), an IAM ARN, or a service.
fn principal(p: &str) -> Result<Principal, PolicyError> {
    let iam_arn = p
        .strip_prefix("arn:aws")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(partition, rest)| {
            partition
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
                && rest.starts_with("iam:")
        });
    if p == "*" {
        Ok(Principal::Anyone)
    } else if check::is_account(p) {
        Ok(Principal::Aws(format!("arn:aws:iam::{p}:root")))
    } else if iam_arn {
        Ok(Principal::Aws(p.to_owned()))
    } else if p.ends_with(".amazonaws.com") || p.ends_with(".amazon.com") {
        Ok(Principal::Service(p.to_owned()))
    } else {
        Err(PolicyError::InvalidPrincipal)
    }
}

/// The document of a policy with these statements.
fn document(statements: &[Statement]) -> String {
    to_json(&Document {
        version: "2012-10-17",
        id: "default",
        statement: statements,
    })
}

/// `value` as JSON text.
fn to_json(value: &impl Serialize) -> String {
    // Cannot fail: statements hold only strings, string-keyed maps and vectors of them.
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

    fn permission(sid: &str, principal: &str) -> Permission {
        Permission {
            statement_id: sid.into(),
            action: "lambda:InvokeFunction".into(),
            principal: principal.into(),
            ..Permission::default()
        }
    }

    fn made(p: &Permission) -> Value {
        let s = statement(p, ARN.into()).unwrap();
        serde_json::from_str(&s.to_json()).unwrap()
    }

    #[test]
    fn statements_are_written_as_lambda_writes_them() {
        let mut s3 = permission("s3", "s3.amazonaws.com");
        s3.source_arn = Some("arn:aws:s3:::bucket".into());
        s3.source_account = Some("123456789012".into());
        assert_eq!(
            made(&s3),
            json!({
                "Sid": "s3",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": ARN,
                "Condition": {
                    "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"},
                    "StringEquals": {"AWS:SourceAccount": "123456789012"},
                },
            })
        );
        // Fields in Lambda's order, not alphabetical.
        let text = statement(&s3, ARN.into()).unwrap().to_json();
        assert!(
            text.starts_with(r#"{"Sid":"s3","Effect":"Allow","Principal""#),
            "{text}"
        );

        let mut url = permission("url", "*");
        url.action = "lambda:InvokeFunctionUrl".into();
        url.function_url_auth_type = Some("NONE".into());
        url.invoked_via_function_url = Some(false);
        let url = made(&url);
        assert_eq!(url["Principal"], "*");
        assert_eq!(
            url["Condition"],
            json!({"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}})
        );

        let mut org = permission("org", "*");
        org.principal_org_id = Some("o-a1b2c3d4e5".into());
        org.event_source_token = Some("token".into());
        org.invoked_via_function_url = Some(true);
        assert_eq!(
            made(&org)["Condition"],
            json!({
                "Bool": {"lambda:InvokedViaFunctionUrl": "true"},
                "StringEquals": {
                    "aws:PrincipalOrgID": "o-a1b2c3d4e5",
                    "lambda:EventSourceToken": "token",
                },
            })
        );
        assert!(made(&permission("none", "*")).get("Condition").is_none());
    }

    #[test]
    fn principals() {
        assert_eq!(principal("*"), Ok(Principal::Anyone));
        assert_eq!(
            principal("210987654321"),
            Ok(Principal::Aws("arn:aws:iam::210987654321:root".into()))
        );
        let role = "arn:aws:iam::210987654321:role/deployer";
        assert_eq!(principal(role), Ok(Principal::Aws(role.into())));
        assert_eq!(
            principal("apigateway.amazonaws.com"),
            Ok(Principal::Service("apigateway.amazonaws.com".into()))
        );
        assert_eq!(
            principal("alexa-appkit.amazon.com"),
            Ok(Principal::Service("alexa-appkit.amazon.com".into()))
        );
        for bad in ["someone", "12345", "arn:aws:s3:::bucket"] {
            assert_eq!(principal(bad), Err(PolicyError::InvalidPrincipal), "{bad}");
        }
    }

    #[test]
    fn added_in_order_revised_and_removed() {
        let policies = Policies::default();
        assert_eq!(policies.get(LATEST), None);
        let first = statement(&permission("a", "*"), ARN.into()).unwrap();
        let second = statement(&permission("b", "*"), ARN.into()).unwrap();
        policies.add(LATEST, first.clone(), None).unwrap();
        let r1 = policies.get(LATEST).unwrap().revision_id;
        // No policy yet on "live": no revision can match.
        assert_eq!(
            policies.add("live", first.clone(), Some(&r1)),
            Err(PolicyError::RevisionMismatch)
        );
        assert_eq!(
            policies.add(LATEST, second.clone(), Some("stale")),
            Err(PolicyError::RevisionMismatch)
        );
        policies.add(LATEST, second.clone(), Some(&r1)).unwrap();
        let now = policies.get(LATEST).unwrap();
        assert_eq!(now.statements, [first.clone(), second.clone()]);
        assert_ne!(now.revision_id, r1);
        assert_eq!(
            policies.add(LATEST, first.clone(), None),
            Err(PolicyError::StatementExists("a".into()))
        );
        let doc: Value = serde_json::from_str(&now.document()).unwrap();
        assert_eq!(doc["Version"], "2012-10-17");
        assert_eq!(doc["Id"], "default");
        assert_eq!(doc["Statement"][1]["Sid"], "b");

        assert_eq!(
            policies.remove_statement(LATEST, "a", Some("stale")),
            Err(PolicyError::RevisionMismatch)
        );
        assert_eq!(
            policies.remove_statement(LATEST, "zz", None),
            Err(PolicyError::StatementNotFound("zz".into()))
        );
        policies
            .remove_statement(LATEST, "a", Some(&now.revision_id))
            .unwrap();
        let after = policies.get(LATEST).unwrap();
        assert_eq!(after.statements, [second]);
        assert_ne!(after.revision_id, now.revision_id);
        policies.remove_statement(LATEST, "b", None).unwrap();
        assert_eq!(policies.get(LATEST), None, "no statement left: no policy");
        assert_eq!(
            policies.remove_statement(LATEST, "b", None),
            Err(PolicyError::NothingToRemove)
        );
        policies.add("live", first, None).unwrap();
        assert!(policies.remove("live"));
        assert!(!policies.remove("live"));
    }

    #[test]
    fn a_policy_has_a_size_limit() {
        let policies = Policies::default();
        let mut n = 0;
        let refused = loop {
            let mut p = permission(&format!("statement-{n}"), "s3.amazonaws.com");
            p.source_arn = Some(format!("arn:aws:s3:::{}", "b".repeat(200)));
            match policies.add(LATEST, statement(&p, ARN.into()).unwrap(), None) {
                Ok(()) => n += 1,
                Err(e) => break e,
            }
        };
        assert!(matches!(refused, PolicyError::TooLarge(size) if size > MAX_POLICY_BYTES));
        let kept = policies.get(LATEST).unwrap();
        assert_eq!(kept.statements.len(), n, "the refused one is not added");
        assert!(kept.document().len() <= MAX_POLICY_BYTES);
    }

    #[test]
    fn validation_messages_count_their_errors() {
        let one = PolicyError::Invalid(vec!["A".into()]).to_string();
        assert_eq!(one, "1 validation error detected: A");
        let two = PolicyError::Invalid(vec!["A".into(), "B".into()]).to_string();
        assert_eq!(two, "2 validation errors detected: A; B");
    }
}
