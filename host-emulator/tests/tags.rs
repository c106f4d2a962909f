//! Tags through the control plane (`TagResource`, `UntagResource`, `ListTags`), as
//! `GetFunction` then shows them, with Lambda's limits and refusals in AWS's shape.

mod common;

use common::*;
use serde_json::{json, Value};

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:api";

fn tags_path(arn: &str) -> String {
    // As the AWS SDKs send it: the ARN percent-encoded in the path.
    format!("/2017-03-31/tags/{}", arn.replace(':', "%3A"))
}

#[tokio::test]
async fn tags_are_added_listed_removed_and_shown_by_get_function() {
    let emu = start(vec![
        function("api", "").publish(1, firebox_emulator::VersionConfig::new())
    ])
    .await;
    let path = tags_path(ARN);
    let listed = call(&emu, "GET", &path, &Value::Null).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.json(), json!({"Tags": {}}));

    let r = call(
        &emu,
        "POST",
        &path,
        &json!({"Tags": {"team": "orders", "stage": "dev"}}),
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = call(&emu, "POST", &path, &json!({"Tags": {"stage": "prod"}})).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let listed = call(&emu, "GET", &path, &Value::Null).await.json();
    assert_eq!(listed, json!({"Tags": {"team": "orders", "stage": "prod"}}));
    // GetFunction shows the function's tags, whichever version it describes.
    for query in ["", "?Qualifier=1"] {
        let got = call(
            &emu,
            "GET",
            &format!("/2015-03-31/functions/api{query}"),
            &Value::Null,
        )
        .await
        .json();
        assert_eq!(got["Tags"], listed["Tags"], "{query}: {got}");
    }

    let r = call(
        &emu,
        "DELETE",
        &format!("{path}?tagKeys=stage&tagKeys=absent"),
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let listed = call(&emu, "GET", &path, &Value::Null).await.json();
    assert_eq!(listed, json!({"Tags": {"team": "orders"}}));

    // Refusals, each changing nothing.
    let too_many: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
    let r = call(&emu, "POST", &path, &json!({ "Tags": too_many })).await;
    assert_error(&r, 400, "InvalidParameterValueException", "tag limit");
    let r = call(&emu, "POST", &path, &json!({"Tags": {"aws:owner": "x"}})).await;
    assert_error(&r, 400, "InvalidParameterValueException", "aws:owner");
    let long = "v".repeat(257);
    let r = call(&emu, "POST", &path, &json!({"Tags": {"k": long}})).await;
    assert_error(&r, 400, "InvalidParameterValueException", "256");
    let r = call(&emu, "POST", &path, &json!({})).await;
    assert_error(&r, 400, "InvalidRequestContentException", "Tags");
    let r = call(&emu, "GET", &tags_path(&format!("{ARN}:1")), &Value::Null).await;
    assert_error(&r, 400, "InvalidParameterValueException", "unqualified");
    let r = call(&emu, "GET", "/2017-03-31/tags/api", &Value::Null).await;
    assert_error(&r, 400, "ValidationException", "function ARN");
    let r = call(
        &emu,
        "GET",
        &tags_path("arn:aws:lambda:us-east-1:123456789012:function:ghost"),
        &Value::Null,
    )
    .await;
    assert_error(&r, 404, "ResourceNotFoundException", "ghost");
    let r = call(&emu, "PUT", &path, &json!({})).await;
    assert_error(&r, 404, "UnknownOperationException", "PUT");
    let listed = call(&emu, "GET", &path, &Value::Null).await.json();
    assert_eq!(listed, json!({"Tags": {"team": "orders"}}));
    emu.shutdown().await;
}
