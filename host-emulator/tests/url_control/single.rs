//! One URL, `web`'s: made, read, changed and removed through the API, each change seen by the
//! next request to it; a URL on an alias; and the refusals with nothing changed.

use super::*;

#[tokio::test]
async fn a_url_is_made_changed_and_removed_through_the_api() {
    let emu = emulator().await;
    assert_error(
        &call(&emu, "GET", URL, &Value::Null).await,
        404,
        "ResourceNotFoundException",
        "does not exist",
    );
    assert_eq!(through_url(&emu, &[]).await.0, 404, "no URL yet");

    let body = json!({
        "AuthType": "NONE",
        "Cors": { "AllowOrigins": ["https://app.example"], "MaxAge": 60 },
    });
    let r = call(&emu, "POST", URL, &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let created = r.json();
    let addr = emu.addr();
    assert_eq!(
        created["FunctionUrl"],
        format!("http://{addr}/lambda-url/web/")
    );
    assert_eq!(
        created["FunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:web"
    );
    assert_eq!(created["AuthType"], "NONE");
    assert_eq!(created["InvokeMode"], "BUFFERED");
    assert_eq!(
        created["Cors"]["AllowOrigins"],
        json!(["https://app.example"])
    );
    assert_eq!(created["Cors"]["MaxAge"], 60);
    assert!(created["CreationTime"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert!(created.get("LastModifiedTime").is_none());

    // The URL answers now, with its CORS headers, in the function's environment.
    let r = send(
        emu.endpoint(),
        "GET",
        "/lambda-url/web/items?x=1",
        &[("origin", "https://app.example")],
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let answer = r.json();
    assert_eq!(answer["event"]["rawPath"], "/items");
    assert_eq!(answer["event"]["rawQueryString"], "x=1");
    let pid = answer["pid"].as_i64().unwrap();

    assert_error(
        &call(&emu, "POST", URL, &body).await,
        409,
        "ResourceConflictException",
        "FunctionUrlConfig exists",
    );

    // An update changes the fields given and keeps the others; the environment stays warm.
    let r = call(
        &emu,
        "PUT",
        URL,
        &json!({ "AuthType": "AWS_IAM", "InvokeMode": "RESPONSE_STREAM" }),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let updated = r.json();
    assert_eq!(updated["AuthType"], "AWS_IAM");
    assert_eq!(updated["InvokeMode"], "RESPONSE_STREAM");
    assert_eq!(
        updated["Cors"]["AllowOrigins"],
        json!(["https://app.example"])
    );
    assert_eq!(updated["CreationTime"], created["CreationTime"]);
    assert!(
        updated["LastModifiedTime"].as_str().unwrap() >= created["CreationTime"].as_str().unwrap()
    );
    let (status, answer) = through_url(&emu, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(answer["pid"].as_i64(), Some(pid), "no new environment");
    let got = call(&emu, "GET", URL, &Value::Null).await.json();
    assert_eq!(got["AuthType"], "AWS_IAM");
    let listed = call(&emu, "GET", "/2021-10-31/functions/web/urls", &Value::Null)
        .await
        .json();
    assert_eq!(listed["FunctionUrlConfigs"].as_array().unwrap().len(), 1);
    assert_eq!(
        listed["FunctionUrlConfigs"][0]["InvokeMode"],
        "RESPONSE_STREAM"
    );

    let r = call(&emu, "DELETE", URL, &Value::Null).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(through_url(&emu, &[]).await.0, 404, "the URL is gone");
    assert_error(
        &call(&emu, "DELETE", URL, &Value::Null).await,
        404,
        "ResourceNotFoundException",
        "does not exist",
    );
    let listed = call(&emu, "GET", "/2021-10-31/functions/web/urls", &Value::Null)
        .await
        .json();
    assert_eq!(listed["FunctionUrlConfigs"], json!([]));
    emu.shutdown().await;
}

#[tokio::test]
async fn a_url_on_an_alias_and_the_refusals() {
    let emu = emulator().await;
    // The configuration's URL is there, with no authentication.
    let declared = call(
        &emu,
        "GET",
        "/2021-10-31/functions/declared/url",
        &Value::Null,
    )
    .await;
    assert_eq!(declared.status, 200, "{:?}", declared.body);
    assert_eq!(declared.json()["AuthType"], "NONE");

    for (path, body, status, code, says) in [
        (URL, json!({}), 400, "ValidationException", "authType"),
        (
            URL,
            json!({ "AuthType": "OPEN" }),
            400,
            "ValidationException",
            "[NONE, AWS_IAM]",
        ),
        (
            URL,
            json!({ "AuthType": "NONE", "Cors": { "MaxAge": 90000 } }),
            400,
            "ValidationException",
            "at 'cors.maxAge' failed to satisfy constraint",
        ),
        (
            URL,
            json!({ "AuthType": "NONE", "Bogus": 1 }),
            400,
            "InvalidRequestContentException",
            "Bogus",
        ),
        (
            &format!("{URL}?Qualifier=1"),
            json!({ "AuthType": "NONE" }),
            400,
            "InvalidParameterValueException",
            "not a version",
        ),
        (
            &format!("{URL}?Qualifier=nope"),
            json!({ "AuthType": "NONE" }),
            404,
            "ResourceNotFoundException",
            "does not exist",
        ),
        (
            "/2021-10-31/functions/ghost/url",
            json!({ "AuthType": "NONE" }),
            404,
            "ResourceNotFoundException",
            "ghost",
        ),
        (
            "/2021-10-31/functions/declared/url",
            json!({ "AuthType": "NONE" }),
            409,
            "ResourceConflictException",
            "exists",
        ),
    ] {
        let r = call(&emu, "POST", path, &body).await;
        assert_error(&r, status, code, says);
    }
    assert_eq!(
        through_url(&emu, &[]).await.0,
        404,
        "no refused create made a URL"
    );
    let r = call(&emu, "PUT", URL, &json!({ "AuthType": "NONE" })).await;
    assert_error(&r, 404, "ResourceNotFoundException", "does not exist");

    // A URL on alias `live` runs version 1, shows the alias's ARN, and is named by it.
    let r = call(
        &emu,
        "POST",
        "/2021-10-31/functions/web:live/url",
        &json!({ "AuthType": "NONE" }),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.json()["FunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:web:live"
    );
    let (status, answer) = through_url(&emu, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(answer["env"]["AWS_LAMBDA_FUNCTION_VERSION"], "1");
    assert_eq!(answer["env"]["STAGE"], "one");
    assert_error(
        &call(&emu, "GET", URL, &Value::Null).await,
        404,
        "ResourceNotFoundException",
        "does not exist",
    );
    let r = call(&emu, "GET", &format!("{URL}?Qualifier=live"), &Value::Null).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = call(
        &emu,
        "PUT",
        &format!("{URL}?Qualifier=live"),
        &json!({ "Cors": { "MaxAge": 90000 } }),
    )
    .await;
    assert_error(&r, 400, "ValidationException", "cors.maxAge");
    let r = call(&emu, "GET", &format!("{URL}?Qualifier=live"), &Value::Null).await;
    assert!(
        r.json().get("Cors").is_none(),
        "the refused update changed nothing"
    );
    let r = call(
        &emu,
        "DELETE",
        &format!("{URL}?Qualifier=live"),
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(through_url(&emu, &[]).await.0, 404);
    emu.shutdown().await;
}

/// Lambda's limits of `Cors` (API reference): `AllowOrigins` at most 100 items of 1 to 253
/// characters, `AllowMethods` at most 6 of at most 6, `AllowHeaders`/`ExposeHeaders` at most
/// 100 of at most 1,024; past them, and for an unknown `InvokeMode`, a create or an update is
/// 400 `ValidationException` and changes nothing. Values at the limits are taken.
#[tokio::test]
async fn cors_limits_and_invoke_mode_are_lambdas() {
    let emu = emulator().await;
    let long = |n: usize| "a".repeat(n);
    let many = |n: usize| {
        (0..n)
            .map(|i| format!("https://o{i}.example"))
            .collect::<Vec<_>>()
    };
    let methods7 = ["GET", "PUT", "POST", "HEAD", "PATCH", "DELETE", "*"];
    for (body, says) in [
        (
            json!({ "AllowOrigins": [format!("https://{}", long(247))] }),
            "'cors.allowOrigins'",
        ),
        (
            json!({ "AllowOrigins": [""] }),
            "greater than or equal to 1",
        ),
        (
            json!({ "AllowOrigins": many(101) }),
            "less than or equal to 100",
        ),
        (
            json!({ "AllowMethods": ["GETTING"] }),
            "less than or equal to 6]",
        ),
        (json!({ "AllowMethods": methods7 }), "'cors.allowMethods'"),
        (
            json!({ "AllowHeaders": [long(1025)] }),
            "'cors.allowHeaders'",
        ),
        (
            json!({ "ExposeHeaders": vec!["x-a"; 101] }),
            "'cors.exposeHeaders'",
        ),
        (json!({ "MaxAge": -1 }), "greater than or equal to 0"),
    ] {
        let r = call(
            &emu,
            "POST",
            URL,
            &json!({ "AuthType": "NONE", "Cors": body }),
        )
        .await;
        assert_error(&r, 400, "ValidationException", says);
    }
    // Every broken field in one message, as Lambda's.
    let r = call(
        &emu,
        "POST",
        URL,
        &json!({ "AuthType": "OPEN", "InvokeMode": "STREAM", "Cors": { "AllowMethods": methods7 } }),
    )
    .await;
    assert_error(
        &r,
        400,
        "ValidationException",
        "3 validation errors detected",
    );
    assert!(r.json()["message"].as_str().unwrap().contains(
        "Value 'STREAM' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum \
         value set: [BUFFERED, RESPONSE_STREAM]"
    ));
    assert_eq!(
        through_url(&emu, &[]).await.0,
        404,
        "no refused create made a URL"
    );

    // At the limits: taken.
    let origins: Vec<String> = [format!("https://{}", long(245)), "*".to_owned()]
        .into_iter()
        .chain(many(98))
        .collect();
    let at_limits = json!({
        "AllowOrigins": origins,
        "AllowMethods": ["GET", "PUT", "POST", "HEAD", "PATCH", "DELETE"],
        "AllowHeaders": [long(1024)],
        "ExposeHeaders": vec!["x-a"; 100],
        "MaxAge": 86400,
    });
    let r = call(
        &emu,
        "POST",
        URL,
        &json!({ "AuthType": "NONE", "Cors": at_limits }),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.json()["Cors"]["AllowOrigins"].as_array().unwrap().len(),
        100
    );

    // An update past them, or with an unknown mode, changes nothing.
    for body in [
        json!({ "Cors": { "AllowMethods": ["OPTIONS!"] } }),
        json!({ "InvokeMode": "RESPONSE_STREAMING" }),
    ] {
        let r = call(&emu, "PUT", URL, &body).await;
        assert_error(
            &r,
            400,
            "ValidationException",
            "1 validation error detected",
        );
    }
    let got = call(&emu, "GET", URL, &Value::Null).await.json();
    assert_eq!(got["InvokeMode"], "BUFFERED");
    assert_eq!(got["Cors"]["AllowMethods"].as_array().unwrap().len(), 6);
    emu.shutdown().await;
}
