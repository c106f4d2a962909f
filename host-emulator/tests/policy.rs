//! Resource-based policies through the control plane (`AddPermission`, `GetPolicy`,
//! `RemovePermission`) over real HTTP: statements in Lambda's shape, in the order added, one
//! policy per qualifier, a new `RevisionId` per change, refusals in AWS's shape that change
//! nothing, policies gone with their alias or version, and nothing enforced: an unsigned
//! invoke still runs the function.

mod common;

use common::*;
use firebox_emulator::{AliasConfig, Emulator, Permission, VersionConfig};
use serde_json::{json, Value};

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";
const POLICY: &str = "/2015-03-31/functions/f/policy";

/// `f` with versions 1 and 2 and alias `live` on version 1.
async fn emulator() -> Emulator {
    start(vec![function("f", "")
        .publish(1, VersionConfig::new())
        .publish(2, VersionConfig::new())
        .alias("live", AliasConfig::new("1"))])
    .await
}

/// `AddPermission` at `path` (`…/policy`, maybe with `?Qualifier=`).
async fn add(emu: &Emulator, path: &str, body: Value) -> Raw {
    call(emu, "POST", path, &body).await
}

/// The statement an `AddPermission` answered, parsed.
fn added(r: &Raw) -> Value {
    assert_eq!(r.status, 201, "{:?}", r.body);
    let text = r.json()["Statement"]
        .as_str()
        .expect("a JSON string")
        .to_owned();
    serde_json::from_str(&text).expect("a JSON statement")
}

/// `GetPolicy` at `path`: the policy document parsed, and the revision id.
async fn policy(emu: &Emulator, path: &str) -> (Value, String) {
    let r = call(emu, "GET", path, &Value::Null).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let body = r.json();
    let document = body["Policy"].as_str().expect("a JSON string");
    let revision = body["RevisionId"].as_str().expect("a revision").to_owned();
    (
        serde_json::from_str(document).expect("a JSON policy"),
        revision,
    )
}

/// The statement ids of a policy document, in order.
fn sids(document: &Value) -> Vec<&str> {
    document["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .map(|s| s["Sid"].as_str().expect("a Sid"))
        .collect()
}

fn s3() -> Value {
    json!({
        "StatementId": "s3-invoke",
        "Action": "lambda:InvokeFunction",
        "Principal": "s3.amazonaws.com",
        "SourceArn": "arn:aws:s3:::uploads",
        "SourceAccount": "123456789012",
    })
}

fn public_url() -> Value {
    json!({
        "StatementId": "url-public",
        "Action": "lambda:InvokeFunctionUrl",
        "Principal": "*",
        "FunctionUrlAuthType": "NONE",
    })
}

#[tokio::test]
async fn permissions_are_added_shown_in_order_revised_and_removed() {
    let emu = emulator().await;
    let r = call(&emu, "GET", POLICY, &Value::Null).await;
    assert_error(
        &r,
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    );

    let first = added(&add(&emu, POLICY, s3()).await);
    assert_eq!(
        first,
        json!({
            "Sid": "s3-invoke",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": ARN,
            "Condition": {
                "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"},
                "StringEquals": {"AWS:SourceAccount": "123456789012"},
            },
        })
    );
    let (document, r1) = policy(&emu, POLICY).await;
    assert_eq!(document["Version"], "2012-10-17");
    assert_eq!(document["Id"], "default");
    assert_eq!(document["Statement"], json!([first]));

    let second = added(&add(&emu, POLICY, public_url()).await);
    assert_eq!(second["Principal"], "*");
    assert_eq!(second["Action"], "lambda:InvokeFunctionUrl");
    assert_eq!(
        second["Condition"],
        json!({"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}})
    );
    let (document, r2) = policy(&emu, POLICY).await;
    assert_eq!(document["Statement"], json!([first, second]), "in order");
    assert_ne!(r2, r1, "a new revision per change");

    // Refusals change nothing: the same statement id, a stale revision.
    let r = add(&emu, POLICY, s3()).await;
    assert_error(
        &r,
        409,
        "ResourceConflictException",
        "The statement id (s3-invoke) provided already exists. Please provide a new statement \
         id, or remove the existing statement.",
    );
    let mut stale = json!({"StatementId": "acct", "Action": "lambda:GetFunction",
                           "Principal": "210987654321", "RevisionId": r1});
    let r = add(&emu, POLICY, stale.clone()).await;
    assert_error(
        &r,
        412,
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id.",
    );
    let r = call(
        &emu,
        "DELETE",
        &format!("{POLICY}/s3-invoke?RevisionId={r1}"),
        &Value::Null,
    )
    .await;
    assert_error(&r, 412, "PreconditionFailedException", "Revision Id");
    assert_eq!(policy(&emu, POLICY).await, (document, r2.clone()));

    // With the current revision it is added; an account is its root.
    stale["RevisionId"] = json!(r2);
    let third = added(&add(&emu, POLICY, stale).await);
    assert_eq!(
        third["Principal"],
        json!({"AWS": "arn:aws:iam::210987654321:root"})
    );
    assert!(third.get("Condition").is_none(), "{third}");
    let (document, r3) = policy(&emu, POLICY).await;
    assert_eq!(sids(&document), ["s3-invoke", "url-public", "acct"]);

    let r = call(
        &emu,
        "DELETE",
        &format!("{POLICY}/s3-invoke?RevisionId={r3}"),
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert!(r.body.is_empty());
    let (document, r4) = policy(&emu, POLICY).await;
    assert_eq!(sids(&document), ["url-public", "acct"]);
    assert_ne!(r4, r3);
    let r = call(&emu, "DELETE", &format!("{POLICY}/nope"), &Value::Null).await;
    assert_error(
        &r,
        404,
        "ResourceNotFoundException",
        "Statement nope is not found in resource policy.",
    );
    for sid in ["url-public", "acct"] {
        let r = call(&emu, "DELETE", &format!("{POLICY}/{sid}"), &Value::Null).await;
        assert_eq!(r.status, 204, "{sid}: {:?}", r.body);
    }
    // No statement left: no policy.
    let r = call(&emu, "GET", POLICY, &Value::Null).await;
    assert_error(&r, 404, "ResourceNotFoundException", "does not exist");
    let r = call(&emu, "DELETE", &format!("{POLICY}/acct"), &Value::Null).await;
    assert_error(
        &r,
        404,
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
    );
}

#[tokio::test]
async fn each_qualifier_has_its_own_policy_which_goes_with_it() {
    let emu = emulator().await;
    let on_alias = added(&add(&emu, &format!("{POLICY}?Qualifier=live"), s3()).await);
    assert_eq!(on_alias["Resource"], format!("{ARN}:live"));
    // The same statement id on another qualifier is another statement; the qualified name
    // says the same as `?Qualifier=`.
    let on_version = added(&add(&emu, "/2015-03-31/functions/f:2/policy", s3()).await);
    assert_eq!(on_version["Resource"], format!("{ARN}:2"));
    let on_function = added(&add(&emu, POLICY, public_url()).await);
    assert_eq!(on_function["Resource"], ARN);

    let (alias_policy, _) = policy(&emu, &format!("{POLICY}?Qualifier=live")).await;
    assert_eq!(alias_policy["Statement"], json!([on_alias]));
    let (version_policy, _) = policy(&emu, "/2015-03-31/functions/f:2/policy").await;
    assert_eq!(version_policy["Statement"], json!([on_version]));
    let (function_policy, _) = policy(&emu, POLICY).await;
    assert_eq!(function_policy["Statement"], json!([on_function]));
    // `$LATEST` names the function's policy when read, and cannot be given one.
    let (latest, _) = policy(&emu, &format!("{POLICY}?Qualifier=$LATEST")).await;
    assert_eq!(latest, function_policy);
    let r = add(&emu, &format!("{POLICY}?Qualifier=$LATEST"), s3()).await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        "We currently do not support adding policies for $LATEST.",
    );
    // Version 1 has none of its own (the alias on it has one).
    let r = call(&emu, "GET", &format!("{POLICY}?Qualifier=1"), &Value::Null).await;
    assert_error(&r, 404, "ResourceNotFoundException", "does not exist");

    // Removing from the alias leaves the others.
    let r = call(
        &emu,
        "DELETE",
        &format!("{POLICY}/s3-invoke?Qualifier=live"),
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(policy(&emu, POLICY).await.0, function_policy);
    assert_eq!(
        policy(&emu, "/2015-03-31/functions/f:2/policy").await.0,
        version_policy
    );

    // A deleted alias takes its policy along: an alias of that name made again has none.
    added(&add(&emu, &format!("{POLICY}?Qualifier=live"), s3()).await);
    let r = call(
        &emu,
        "DELETE",
        "/2015-03-31/functions/f/aliases/live",
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = call(
        &emu,
        "POST",
        "/2015-03-31/functions/f/aliases",
        &json!({"Name": "live", "FunctionVersion": "1"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = call(
        &emu,
        "GET",
        &format!("{POLICY}?Qualifier=live"),
        &Value::Null,
    )
    .await;
    assert_error(&r, 404, "ResourceNotFoundException", "does not exist");

    // So does a deleted version.
    let r = call(
        &emu,
        "DELETE",
        "/2015-03-31/functions/f?Qualifier=2",
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = call(&emu, "GET", &format!("{POLICY}?Qualifier=2"), &Value::Null).await;
    assert_error(&r, 404, "ResourceNotFoundException", "does not exist");
    assert_eq!(policy(&emu, POLICY).await.0, function_policy);

    // And the deleted function all of them.
    let r = call(&emu, "DELETE", "/2015-03-31/functions/f", &Value::Null).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = call(&emu, "GET", POLICY, &Value::Null).await;
    assert_error(&r, 404, "ResourceNotFoundException", "Function not found");
}

#[tokio::test]
async fn refusals_are_in_aws_shape_and_change_nothing() {
    let emu = emulator().await;
    let with = |field: &str, value: Value| {
        let mut body = s3();
        body[field] = value;
        body
    };
    let cases = [
        (
            with("StatementId", json!("has space")),
            "Value 'has space' at 'statementId' failed to satisfy constraint: Member must \
             satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
        ),
        (
            with("StatementId", json!("x".repeat(101))),
            "length less than or equal to 100",
        ),
        (
            with("Action", json!("s3:GetObject")),
            "Value 's3:GetObject' at 'action' failed to satisfy constraint: Member must satisfy \
             regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])",
        ),
        (
            json!({"StatementId": "a", "Action": "lambda:InvokeFunction"}),
            "1 validation error detected: Value null at 'principal' failed to satisfy \
             constraint: Member must not be null",
        ),
        (with("SourceAccount", json!("1234")), "at 'sourceAccount'"),
        (with("SourceArn", json!("uploads")), "at 'sourceArn'"),
        (
            with("FunctionUrlAuthType", json!("OPEN")),
            "Member must satisfy enum value set: [NONE, AWS_IAM]",
        ),
    ];
    for (body, says) in cases {
        let r = add(&emu, POLICY, body.clone()).await;
        assert_error(&r, 400, "ValidationException", says);
    }
    let two = json!({"StatementId": "a b", "Action": "s3:*", "Principal": "*"});
    let r = add(&emu, POLICY, two).await;
    assert_error(
        &r,
        400,
        "ValidationException",
        "2 validation errors detected: ",
    );

    let r = add(&emu, POLICY, with("Principal", json!("someone"))).await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        "The provided principal was invalid. Please check the principal and try again.",
    );
    let r = send(emu.endpoint(), "POST", POLICY, &[], "{not json").await;
    assert_error(&r, 400, "InvalidRequestContentException", "json");

    // Unknown function, version, alias.
    let r = add(&emu, "/2015-03-31/functions/ghost/policy", s3()).await;
    assert_error(
        &r,
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:ghost",
    );
    let r = add(&emu, &format!("{POLICY}?Qualifier=9"), s3()).await;
    assert_error(
        &r,
        404,
        "ResourceNotFoundException",
        &format!("Function not found: {ARN}:9"),
    );
    let r = add(&emu, &format!("{POLICY}?Qualifier=gone"), s3()).await;
    assert_error(
        &r,
        404,
        "ResourceNotFoundException",
        &format!("Cannot find alias arn: {ARN}:gone"),
    );
    let r = call(
        &emu,
        "DELETE",
        "/2015-03-31/functions/ghost/policy/a",
        &Value::Null,
    )
    .await;
    assert_error(
        &r,
        404,
        "ResourceNotFoundException",
        "No policy found for: ",
    );
    let r = call(
        &emu,
        "DELETE",
        &format!("{POLICY}/a?Qualifier=gone"),
        &Value::Null,
    )
    .await;
    assert_error(
        &r,
        404,
        "ResourceNotFoundException",
        "Cannot find alias arn",
    );
    let r = call(
        &emu,
        "GET",
        &format!("{POLICY}?Qualifier=gone"),
        &Value::Null,
    )
    .await;
    assert_error(&r, 404, "ResourceNotFoundException", "does not exist");
    let r = call(&emu, "GET", &format!("{POLICY}?Qualifier=a!"), &Value::Null).await;
    assert_error(&r, 400, "ValidationException", "at 'qualifier'");
    let r = call(&emu, "PUT", POLICY, &s3()).await;
    assert_error(&r, 404, "UnknownOperationException", "PUT");

    // Nothing was added by any of them.
    for q in ["", "?Qualifier=live", "?Qualifier=1"] {
        let r = call(&emu, "GET", &format!("{POLICY}{q}"), &Value::Null).await;
        assert_error(&r, 404, "ResourceNotFoundException", "does not exist");
    }
}

#[tokio::test]
async fn policies_are_shown_not_enforced() {
    let emu = emulator().await;
    // Only S3, for one bucket, may invoke f and its alias...
    added(&add(&emu, POLICY, s3()).await);
    added(&add(&emu, &format!("{POLICY}?Qualifier=live"), s3()).await);
    // ...yet an unsigned caller invokes both.
    for name in ["f", "f:live"] {
        let r = send(
            emu.endpoint(),
            "POST",
            &format!("/2015-03-31/functions/{name}/invocations"),
            &[],
            "{}",
        )
        .await;
        assert_eq!(r.status, 200, "{name}: {:?}", r.body);
        assert_eq!(r.header("x-amz-function-error"), None, "{name}");
    }
}

#[tokio::test]
async fn the_library_adds_shows_and_removes_permissions() {
    let emu = emulator().await;
    let permission = Permission {
        statement_id: "apigw".into(),
        action: "lambda:InvokeFunction".into(),
        principal: "apigateway.amazonaws.com".into(),
        source_arn: Some("arn:aws:execute-api:us-east-1:123456789012:abc/*/GET/orders".into()),
        ..Permission::default()
    };
    let statement = emu
        .add_permission("f", Some("live"), &permission)
        .expect("added");
    assert_eq!(statement.resource, format!("{ARN}:live"));
    // What the library added, the control plane shows.
    let (document, revision) = policy(&emu, &format!("{POLICY}?Qualifier=live")).await;
    assert_eq!(sids(&document), ["apigw"]);
    let shown = emu
        .policy("f", Some("live"))
        .expect("read")
        .expect("a policy");
    assert_eq!(shown.revision_id, revision);
    assert_eq!(shown.statements, [statement]);
    assert!(emu.policy("f", None).expect("read").is_none());
    assert!(matches!(
        emu.add_permission("f", Some("live"), &permission),
        Err(firebox_emulator::ControlError::Policy(
            firebox_emulator::PolicyError::StatementExists(_)
        ))
    ));
    emu.remove_permission("f", Some("live"), "apigw")
        .expect("removed");
    assert!(emu.policy("f", Some("live")).expect("read").is_none());
}
