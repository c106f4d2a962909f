//! The writes of the control plane the emulator does, in memory, over real HTTP and through the
//! library: `CreateAlias`, `UpdateAlias`, `DeleteAlias`, `PutFunctionConcurrency` and
//! `DeleteFunctionConcurrency`, each seen by the next invoke of a real process (the Python
//! test runtime), and every refusal in AWS's error shape with nothing changed.

mod common;

use common::*;
use firebox_emulator::{
    AliasConfig, AliasError, ControlError, Emulator, InvokeOptions, ReservationError, VersionConfig,
};
use serde_json::{json, Value};

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:api";

/// `api`: `$LATEST` and versions 1 and 2, alias `live` → 1; `other` for the account's pool.
async fn emulator() -> Emulator {
    Emulator::builder()
        .function(
            function("api", "")
                .publish(1, VersionConfig::new().env("STAGE", "one"))
                .publish(2, VersionConfig::new().env("STAGE", "two"))
                .alias("live", AliasConfig::new("1")),
        )
        .function(function("other", ""))
        .account_concurrency(300)
        .unreserved_minimum(100)
        .start()
        .await
        .expect("emulator starts")
}

/// The version an invoke through `qualifier` ran (`X-Amz-Executed-Version`).
async fn executed(emu: &Emulator, qualifier: &str) -> Result<String, String> {
    let options = InvokeOptions {
        qualifier: Some(qualifier.to_owned()),
        ..InvokeOptions::default()
    };
    let r = emu.invoke_with("api", "{}", &options).await.unwrap();
    match r.status.as_u16() {
        200 => Ok(r.executed_version.unwrap_or_default()),
        _ => Err(r.error_code.unwrap_or_default()),
    }
}

#[tokio::test]
async fn aliases_are_created_updated_and_deleted_and_invokes_follow() {
    let emu = emulator().await;
    let aliases = "/2015-03-31/functions/api/aliases";

    let r = call(
        &emu,
        "POST",
        aliases,
        &json!({"Name": "beta", "FunctionVersion": "2", "Description": "next"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let created = r.json();
    assert_eq!(created["AliasArn"], format!("{ARN}:beta"));
    assert_eq!(created["FunctionVersion"], "2");
    assert_eq!(created["Description"], "next");
    let first_revision = created["RevisionId"].as_str().unwrap().to_owned();
    assert_eq!(executed(&emu, "beta").await, Ok("2".into()));
    let listed = call(&emu, "GET", aliases, &Value::Null).await.json();
    let names: Vec<&str> = listed["Aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["beta", "live"]);

    // UpdateAlias: the version moves, the description is kept, the revision changes.
    let r = call(
        &emu,
        "PUT",
        &format!("{aliases}/beta"),
        &json!({"FunctionVersion": "1", "RevisionId": first_revision}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let updated = r.json();
    assert_eq!(updated["FunctionVersion"], "1");
    assert_eq!(updated["Description"], "next");
    assert_ne!(updated["RevisionId"], first_revision.as_str());
    assert_eq!(executed(&emu, "beta").await, Ok("1".into()));

    // The old revision id no longer matches: 412, and the alias is unchanged.
    let r = call(
        &emu,
        "PUT",
        &format!("{aliases}/beta"),
        &json!({"FunctionVersion": "2", "RevisionId": first_revision}),
    )
    .await;
    assert_error(&r, 412, "PreconditionFailedException", "Revision Id");
    assert_eq!(executed(&emu, "beta").await, Ok("1".into()));

    // Routing every invocation to version 2, then removing the routing.
    let r = call(
        &emu,
        "PUT",
        &format!("{aliases}/live"),
        &json!({"RoutingConfig": {"AdditionalVersionWeights": {"2": 1.0}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.json()["RoutingConfig"]["AdditionalVersionWeights"]["2"],
        1.0
    );
    assert_eq!(executed(&emu, "live").await, Ok("2".into()));
    let r = call(
        &emu,
        "PUT",
        &format!("{aliases}/live"),
        &json!({"RoutingConfig": {"AdditionalVersionWeights": {}}}),
    )
    .await;
    assert!(r.json().get("RoutingConfig").is_none(), "{:?}", r.body);
    assert_eq!(executed(&emu, "live").await, Ok("1".into()));

    // DeleteAlias: 204, then invokes through it are 404; deleting again is still 204.
    for _ in 0..2 {
        let r = call(&emu, "DELETE", &format!("{aliases}/beta"), &Value::Null).await;
        assert_eq!(r.status, 204, "{:?}", r.body);
        assert!(r.body.is_empty());
    }
    assert_eq!(
        executed(&emu, "beta").await,
        Err("ResourceNotFoundException".into())
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn bad_alias_writes_get_aws_errors_and_change_nothing() {
    let emu = emulator().await;
    let aliases = "/2015-03-31/functions/api/aliases";
    let cases: [(&str, String, Value, u16, &str, &str); 12] = [
        (
            "POST",
            aliases.into(),
            json!({"Name": "live", "FunctionVersion": "2"}),
            409,
            "ResourceConflictException",
            "Alias already exists: arn:aws:lambda:us-east-1:123456789012:function:api:live",
        ),
        (
            "POST",
            aliases.into(),
            json!({"Name": "x", "FunctionVersion": "7"}),
            404,
            "ResourceNotFoundException",
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:api:7",
        ),
        (
            "POST",
            aliases.into(),
            json!({"Name": "123", "FunctionVersion": "1"}),
            400,
            "ValidationException",
            "1 validation error detected: Value '123' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
        ),
        (
            "POST",
            aliases.into(),
            json!({"Name": "x", "FunctionVersion": "$LATEST",
                   "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5}}}),
            400,
            "InvalidParameterValueException",
            "$LATEST",
        ),
        (
            "POST",
            aliases.into(),
            json!({"Name": "x", "FunctionVersion": "1",
                   "RoutingConfig": {"AdditionalVersionWeights": {"2": 1.5}}}),
            400,
            "ValidationException",
            "1 validation error detected: Value '{2=1.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]",
        ),
        (
            "POST",
            aliases.into(),
            json!({"Name": "x", "FunctionVersion": "1", "Description": "d".repeat(257)}),
            400,
            "InvalidParameterValueException",
            "256",
        ),
        (
            "POST",
            aliases.into(),
            json!({"FunctionVersion": "1"}),
            400,
            "InvalidRequestContentException",
            "Name",
        ),
        (
            "PUT",
            format!("{aliases}/nope"),
            json!({"FunctionVersion": "1"}),
            404,
            "ResourceNotFoundException",
            "Cannot find alias arn: arn:aws:lambda:us-east-1:123456789012:function:api:nope",
        ),
        (
            "PUT",
            format!("{aliases}/live"),
            json!({"FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}}),
            400,
            "InvalidParameterValueException",
            "already names",
        ),
        // Routing keys are version numbers (Lambda's model: `[0-9]+`).
        (
            "POST",
            aliases.into(),
            json!({"Name": "x", "FunctionVersion": "1",
                   "RoutingConfig": {"AdditionalVersionWeights": {"$LATEST": 0.5}}}),
            400,
            "ValidationException",
            "[0-9]+",
        ),
        (
            "PUT",
            format!("{aliases}/live"),
            json!({"RoutingConfig": {"AdditionalVersionWeights": {"$LATEST": 0.5}}}),
            400,
            "ValidationException",
            "[0-9]+",
        ),
        (
            "POST",
            "/2015-03-31/functions/api:1/aliases".into(),
            json!({"Name": "x", "FunctionVersion": "1"}),
            400,
            "InvalidParameterValueException",
            "unqualified",
        ),
    ];
    for (method, path, body, status, code, says) in cases {
        let r = call(&emu, method, &path, &body).await;
        assert_error(&r, status, code, says);
    }
    // A body that is not JSON, and an unknown function.
    let r = send(emu.endpoint(), "POST", aliases, &[], "{not json").await;
    assert_error(&r, 400, "InvalidRequestContentException", "json");
    let r = call(
        &emu,
        "POST",
        "/2015-03-31/functions/ghost/aliases",
        &json!({"Name": "x", "FunctionVersion": "1"}),
    )
    .await;
    assert_error(&r, 404, "ResourceNotFoundException", "function:ghost");

    // Nothing changed.
    let listed = call(&emu, "GET", aliases, &Value::Null).await.json();
    assert_eq!(listed["Aliases"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["Aliases"][0]["FunctionVersion"], "1");
    assert_eq!(executed(&emu, "live").await, Ok("1".into()));
    emu.shutdown().await;
}

#[tokio::test]
async fn reserved_concurrency_changes_at_run_time() {
    let emu = emulator().await;
    let concurrency = "/2017-10-31/functions/api/concurrency";
    let settings = || async {
        call(&emu, "GET", "/2016-08-19/account-settings", &Value::Null)
            .await
            .json()["AccountLimit"]["UnreservedConcurrentExecutions"]
            .as_u64()
    };
    assert_eq!(settings().await, Some(300));

    // Reserved 0: every invoke of every version is throttled, with Lambda's reason.
    let r = call(
        &emu,
        "PUT",
        concurrency,
        &json!({"ReservedConcurrentExecutions": 0}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["ReservedConcurrentExecutions"], 0);
    let throttled = emu.invoke("api", "{}").await.unwrap();
    assert_eq!(throttled.status, 429, "{}", throttled.text());
    assert_eq!(
        throttled.json().unwrap()["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    assert_eq!(
        executed(&emu, "live").await,
        Err("TooManyRequestsException".into())
    );
    let got = call(
        &emu,
        "GET",
        "/2019-09-30/functions/api/concurrency",
        &Value::Null,
    )
    .await
    .json();
    assert_eq!(got["ReservedConcurrentExecutions"], 0);

    // Reserved 150 moves 150 out of the pool; 101 more for `other` would leave 49 < 100.
    let r = call(
        &emu,
        "PUT",
        concurrency,
        &json!({"ReservedConcurrentExecutions": 150}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(settings().await, Some(150));
    assert_eq!(emu.invoke("api", "{}").await.unwrap().status, 200);
    let r = call(
        &emu,
        "PUT",
        "/2017-10-31/functions/other/concurrency",
        &json!({"ReservedConcurrentExecutions": 101}),
    )
    .await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        "below its minimum value of [100]",
    );
    assert_eq!(settings().await, Some(150));

    for (body, says) in [
        (json!({"ReservedConcurrentExecutions": -1}), "at least 0"),
        (
            json!({"ReservedConcurrentExecutions": 4_294_967_296u64}),
            "minimum value",
        ),
    ] {
        let r = call(&emu, "PUT", concurrency, &body).await;
        assert_error(&r, 400, "InvalidParameterValueException", says);
    }
    let r = call(&emu, "PUT", concurrency, &json!({"Reserved": 1})).await;
    assert_error(
        &r,
        400,
        "InvalidRequestContentException",
        "ReservedConcurrentExecutions",
    );

    // DeleteFunctionConcurrency: 204, the pool is whole again and GetFunction shows none.
    let r = call(&emu, "DELETE", concurrency, &Value::Null).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(settings().await, Some(300));
    let f = call(&emu, "GET", "/2015-03-31/functions/api", &Value::Null)
        .await
        .json();
    assert!(f.get("Concurrency").is_none(), "{f}");
    assert_eq!(emu.invoke("api", "{}").await.unwrap().status, 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_library_changes_aliases_and_reservations() {
    let emu = emulator().await;
    let r = call(
        &emu,
        "PUT",
        "/2015-03-31/functions/api/aliases/live",
        &json!({"Description": "production"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    emu.set_alias("api", "live", AliasConfig::new("2")).unwrap();
    assert_eq!(executed(&emu, "live").await, Ok("2".into()));
    // Repointing keeps the description; the revision changes.
    let live = call(
        &emu,
        "GET",
        "/2015-03-31/functions/api/aliases/live",
        &Value::Null,
    )
    .await
    .json();
    assert_eq!(live["FunctionVersion"], "2", "{live}");
    assert_eq!(live["Description"], "production", "{live}");
    assert_ne!(live["RevisionId"], r.json()["RevisionId"]);
    emu.set_alias("api", "fresh", AliasConfig::new("$LATEST"))
        .unwrap();
    assert_eq!(executed(&emu, "fresh").await, Ok("$LATEST".into()));
    assert!(matches!(
        emu.set_alias("api", "live", AliasConfig::new("9")),
        Err(ControlError::Alias(AliasError::UnknownVersion { .. }))
    ));
    assert!(emu.delete_alias("api", "fresh").unwrap());
    assert!(!emu.delete_alias("api", "fresh").unwrap());
    assert!(matches!(
        emu.delete_alias("ghost", "x"),
        Err(ControlError::FunctionNotFound(name)) if name == "ghost"
    ));

    emu.set_reserved_concurrency("api", Some(0)).unwrap();
    assert_eq!(emu.invoke("api", "{}").await.unwrap().status, 429);
    assert!(matches!(
        emu.set_reserved_concurrency("other", Some(250)),
        Err(ControlError::Reservation(
            ReservationError::BelowUnreservedMinimum { minimum: 100 }
        ))
    ));
    emu.set_reserved_concurrency("api", None).unwrap();
    assert_eq!(emu.invoke("api", "{}").await.unwrap().status, 200);
    emu.shutdown().await;
}
