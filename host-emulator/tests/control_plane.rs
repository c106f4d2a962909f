//! The read side of the control plane over real HTTP: `GetFunction`,
//! `GetFunctionConfiguration`, `ListFunctions`, `ListVersionsByFunction`, `GetAlias`,
//! `ListAliases`, `GetFunctionConcurrency`, `GetAccountSettings`; their 404s and 400s; and the
//! writes the emulator does not do refused (the ones it does are in `control_writes.rs`).
//! Nothing here starts a function process.

mod common;

use common::*;
use firebox_emulator::{AliasConfig, Emulator, VersionConfig};

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:api";

async fn emulator() -> Emulator {
    start(vec![
        function("api", "")
            .handler("app.handler")
            .env("STAGE", "latest")
            .reserved_concurrency(5)
            .publish(1, VersionConfig::new().memory_mb(256).env("STAGE", "one"))
            .publish(2, VersionConfig::new())
            .alias("live", AliasConfig::new("1"))
            .alias("canary", AliasConfig::new("1").route("2", 0.1))
            .alias("dev", AliasConfig::new("$LATEST")),
        function("zeta", ""),
    ])
    .await
}

async fn get(emu: &Emulator, path: &str) -> Raw {
    send(emu.endpoint(), "GET", path, &[], "").await
}

#[tokio::test]
async fn functions_and_their_configuration() {
    let emu = emulator().await;

    let r = get(&emu, "/2015-03-31/functions/api").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let body = r.json();
    let c = &body["Configuration"];
    assert_eq!(c["FunctionName"], "api");
    assert_eq!(c["FunctionArn"], ARN);
    assert_eq!(c["Version"], "$LATEST");
    assert_eq!(c["Handler"], "app.handler");
    assert_eq!(c["MemorySize"], 128);
    assert_eq!(c["Timeout"], 3);
    assert_eq!(c["State"], "Active");
    assert_eq!(c["Environment"]["Variables"]["STAGE"], "latest");
    assert!(c["LastModified"].as_str().unwrap().ends_with("+0000"));
    assert_eq!(body["Concurrency"]["ReservedConcurrentExecutions"], 5);

    // A version, by `?Qualifier=` or on the name; an alias shows the version it names.
    for path in [
        "/2015-03-31/functions/api/configuration?Qualifier=1",
        "/2015-03-31/functions/api%3A1/configuration",
        "/2015-03-31/functions/api/configuration?Qualifier=live",
    ] {
        let c = get(&emu, path).await.json();
        assert_eq!(c["Version"], "1", "{path}");
        assert_eq!(c["FunctionArn"], format!("{ARN}:1"), "{path}");
        assert_eq!(c["MemorySize"], 256, "{path}");
        assert_eq!(c["Environment"]["Variables"]["STAGE"], "one", "{path}");
    }
    let c = get(
        &emu,
        "/2015-03-31/functions/api/configuration?Qualifier=dev",
    )
    .await
    .json();
    assert_eq!(c["Version"], "$LATEST");

    let list = get(&emu, "/2015-03-31/functions/").await.json();
    let names: Vec<&str> = list["Functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["FunctionName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "zeta"]);
    assert!(list.get("NextMarker").is_none());
    let all = get(&emu, "/2015-03-31/functions/?FunctionVersion=ALL")
        .await
        .json();
    let versions: Vec<String> = all["Functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}:{}", f["FunctionName"], f["Version"]))
        .collect();
    assert_eq!(
        versions,
        [
            "\"api\":\"$LATEST\"",
            "\"api\":\"1\"",
            "\"api\":\"2\"",
            "\"zeta\":\"$LATEST\""
        ]
    );

    // Pages of one.
    let first = get(&emu, "/2015-03-31/functions/?MaxItems=1").await.json();
    assert_eq!(first["Functions"][0]["FunctionName"], "api");
    let marker = first["NextMarker"].as_str().unwrap().to_owned();
    let second = get(
        &emu,
        &format!("/2015-03-31/functions/?MaxItems=1&Marker={marker}"),
    )
    .await
    .json();
    assert_eq!(second["Functions"][0]["FunctionName"], "zeta");
    assert!(second.get("NextMarker").is_none());

    let concurrency = get(&emu, "/2019-09-30/functions/api/concurrency")
        .await
        .json();
    assert_eq!(concurrency["ReservedConcurrentExecutions"], 5);
    let none = get(&emu, "/2019-09-30/functions/zeta/concurrency")
        .await
        .json();
    assert_eq!(none, serde_json::json!({}));

    let settings = get(&emu, "/2016-08-19/account-settings/").await.json();
    assert_eq!(settings["AccountLimit"]["ConcurrentExecutions"], 1000);
    assert_eq!(
        settings["AccountLimit"]["UnreservedConcurrentExecutions"],
        995
    );
    assert_eq!(settings["AccountUsage"]["FunctionCount"], 2);
    assert_eq!(
        emu.live_processes(),
        0,
        "reading configuration starts nothing"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn versions_and_aliases() {
    let emu = emulator().await;
    let versions = get(&emu, "/2015-03-31/functions/api/versions").await.json();
    let listed: Vec<(&str, &str)> = versions["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["Version"].as_str().unwrap(),
                v["FunctionArn"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("$LATEST", format!("{ARN}:$LATEST").as_str()),
            ("1", format!("{ARN}:1").as_str()),
            ("2", format!("{ARN}:2").as_str()),
        ]
    );

    let aliases = get(&emu, "/2015-03-31/functions/api/aliases").await.json();
    let names: Vec<&str> = aliases["Aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["canary", "dev", "live"]);
    let of_one = get(&emu, "/2015-03-31/functions/api/aliases?FunctionVersion=1")
        .await
        .json();
    assert_eq!(of_one["Aliases"].as_array().unwrap().len(), 2);

    let canary = get(&emu, "/2015-03-31/functions/api/aliases/canary")
        .await
        .json();
    assert_eq!(canary["AliasArn"], format!("{ARN}:canary"));
    assert_eq!(canary["FunctionVersion"], "1");
    assert_eq!(
        canary["RoutingConfig"]["AdditionalVersionWeights"]["2"],
        0.1
    );
    let live = get(&emu, "/2015-03-31/functions/api/aliases/live")
        .await
        .json();
    assert!(live.get("RoutingConfig").is_none(), "{live}");
    emu.shutdown().await;
}

#[tokio::test]
async fn unknown_names_bad_parameters_and_writes_get_aws_errors() {
    let emu = emulator().await;
    for (path, status, code, says) in [
        (
            "/2015-03-31/functions/ghost",
            404,
            "ResourceNotFoundException",
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:ghost",
        ),
        (
            "/2015-03-31/functions/api/configuration?Qualifier=9",
            404,
            "ResourceNotFoundException",
            "function:api:9",
        ),
        (
            "/2015-03-31/functions/api/aliases/nope",
            404,
            "ResourceNotFoundException",
            "Cannot find alias arn: arn:aws:lambda:us-east-1:123456789012:function:api:nope",
        ),
        (
            "/2015-03-31/functions/ghost/versions",
            404,
            "ResourceNotFoundException",
            "ghost",
        ),
        (
            "/2015-03-31/functions/?MaxItems=0",
            400,
            "InvalidParameterValueException",
            "MaxItems",
        ),
        (
            "/2015-03-31/functions/?Marker=zz",
            400,
            "InvalidParameterValueException",
            "Marker",
        ),
        (
            "/2015-03-31/functions/?FunctionVersion=SOME",
            400,
            "InvalidParameterValueException",
            "FunctionVersion",
        ),
        (
            "/2015-03-31/functions/bad%20name",
            400,
            "ValidationException",
            "functionName",
        ),
    ] {
        let r = get(&emu, path).await;
        assert_eq!(r.status.as_u16(), status, "{path}: {:?}", r.body);
        assert_eq!(r.error_code(), Some(code), "{path}");
        let message = r.json()["message"].as_str().unwrap_or_default().to_owned();
        assert!(message.contains(says), "{path}: {message}");
    }
    // The writes of functions and code exist now (see `deploy.rs`): an empty request is
    // refused in AWS's shape.
    for (method, path, status, code, says) in [
        (
            "POST",
            "/2015-03-31/functions/",
            400,
            "ValidationException",
            "functionName",
        ),
        (
            "DELETE",
            "/2015-03-31/functions/nope",
            404,
            "ResourceNotFoundException",
            "nope",
        ),
        (
            "PUT",
            "/2015-03-31/functions/api/code",
            400,
            "InvalidParameterValueException",
            "source for function code",
        ),
    ] {
        let r = send(emu.endpoint(), method, path, &[], "{}").await;
        assert_eq!(r.status.as_u16(), status, "{method} {path}");
        assert_eq!(r.error_code(), Some(code), "{method} {path}");
        let message = r.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(says), "{message}");
    }
    // Methods no operation uses on a path are unknown operations, as before.
    for (method, path) in [
        ("POST", "/2015-03-31/functions/api"),
        ("GET", "/2015-03-31/functions/api/code"),
        ("PATCH", "/2015-03-31/functions/api/aliases/live"),
    ] {
        let r = send(emu.endpoint(), method, path, &[], "").await;
        assert_eq!(r.status, 404, "{method} {path}");
        assert_eq!(r.error_code(), Some("UnknownOperationException"));
    }
    // The configuration is unchanged.
    let c = get(&emu, "/2015-03-31/functions/api/aliases/live")
        .await
        .json();
    assert_eq!(c["FunctionVersion"], "1");
    emu.shutdown().await;
}

/// The names of a `ListFunctions` page, and its `NextMarker`.
async fn names_page(emu: &Emulator, query: &str) -> (Vec<String>, Option<String>) {
    let r = get(emu, &format!("/2015-03-31/functions/?{query}")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let page = r.json();
    let names = page["Functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["FunctionName"].as_str().unwrap().to_owned())
        .collect();
    (names, page["NextMarker"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn a_paginator_skips_nothing_and_never_fails_when_the_list_changes_between_pages() {
    let emu = start(
        ["a", "b", "c", "d", "e", "f"]
            .map(|n| function(n, ""))
            .into(),
    )
    .await;
    let delete = |name: &'static str| {
        let emu = &emu;
        async move {
            let path = format!("/2015-03-31/functions/{name}");
            let r = send(emu.endpoint(), "DELETE", &path, &[], "").await;
            assert_eq!(r.status, 204, "{:?}", r.body);
        }
    };
    let (names, marker) = names_page(&emu, "MaxItems=2").await;
    assert_eq!(names, ["a", "b"]);
    let marker = marker.expect("more follow");

    // The items already listed are deleted: the next page still starts with `c`.
    delete("a").await;
    delete("b").await;
    let (names, marker) = names_page(&emu, &format!("MaxItems=2&Marker={marker}")).await;
    assert_eq!(names, ["c", "d"]);
    let marker = marker.expect("more follow");

    // Everything is deleted but the last page's items: they are listed, and the list ends.
    for name in ["c", "d", "e"] {
        delete(name).await;
    }
    let (names, next) = names_page(&emu, &format!("MaxItems=2&Marker={marker}")).await;
    assert_eq!(names, ["f"]);
    assert_eq!(next, None);

    // Nothing left after the marker: an empty last page, not an error.
    delete("f").await;
    let (names, next) = names_page(&emu, &format!("MaxItems=2&Marker={marker}")).await;
    assert!(names.is_empty(), "{names:?}");
    assert_eq!(next, None);
    emu.shutdown().await;
}
