//! One URL per qualifier: `$LATEST`'s and each alias's, each at its own host and path address
//! running its own version, changed and deleted apart; URLs declared per qualifier.

use super::*;

/// A function whose `$LATEST` has `V=latest` and whose version 1, named by aliases `live` and
/// `beta`, has `V=1`: the runtime's answer shows which one ran.
fn two_versions(name: &str) -> FunctionConfig {
    function(name, "")
        .env("V", "latest")
        .publish(1, VersionConfig::new().env("V", "1"))
        .alias("live", AliasConfig::new("1"))
        .alias("beta", AliasConfig::new("1"))
}

/// GETs `/p` through `name`'s URL for `alias` (none: the function's own address), by path
/// prefix and by host name: each status and, on 200, the runtime's answer.
async fn through_both(emu: &Emulator, name: &str, alias: Option<&str>) -> [(u16, Value); 2] {
    let port = emu.addr().port();
    let (path, host) = match alias {
        None => (
            format!("/lambda-url/{name}/p"),
            format!("{name}.lambda-url.localhost:{port}"),
        ),
        Some(a) => (
            format!("/lambda-url/{name}:{a}/p"),
            format!("{a}.{name}.lambda-url.localhost:{port}"),
        ),
    };
    let mut answers = [(0, Value::Null), (0, Value::Null)];
    for (i, (path, headers)) in [
        (path.as_str(), vec![]),
        ("/p", vec![("host", host.as_str())]),
    ]
    .into_iter()
    .enumerate()
    {
        let r = send(emu.endpoint(), "GET", path, &headers, "").await;
        let status = r.status.as_u16();
        answers[i] = (status, if status == 200 { r.json() } else { Value::Null });
    }
    answers
}

/// Asserts that both answers came from the version with `V=v` (`version`), invoked as `arn`
/// ends, and saw `domain` as the host.
fn assert_ran(answers: &[(u16, Value); 2], v: &str, version: &str, arn: &str, domain: &str) {
    for (status, answer) in answers {
        assert_eq!(*status, 200, "{answer}");
        assert_eq!(answer["env"]["V"], v, "{answer}");
        assert_eq!(answer["env"]["AWS_LAMBDA_FUNCTION_VERSION"], version);
        let invoked = answer["headers"]["lambda-runtime-invoked-function-arn"]
            .as_str()
            .unwrap_or_default();
        assert!(invoked.ends_with(arn), "{invoked}");
        assert_eq!(answer["event"]["rawPath"], "/p");
        let context = &answer["event"]["requestContext"];
        assert_eq!(context["domainName"], domain);
        assert_eq!(context["domainPrefix"], domain.split('.').next().unwrap());
    }
}

fn statuses(answers: &[(u16, Value); 2]) -> [u16; 2] {
    [answers[0].0, answers[1].0]
}

/// The `FunctionArn`s `ListFunctionUrlConfigs` shows, in order.
async fn listed(emu: &Emulator, name: &str) -> Vec<String> {
    let r = call(
        emu,
        "GET",
        &format!("/2021-10-31/functions/{name}/urls"),
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.json()["FunctionUrlConfigs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["FunctionArn"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn one_url_per_qualifier_each_at_its_own_address() {
    let emu = start(vec![two_versions("multi")]).await;
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:multi";
    let url = "/2021-10-31/functions/multi/url";
    let live = format!("{url}?Qualifier=live");
    let addr = emu.addr();

    let r = call(&emu, "POST", url, &json!({ "AuthType": "NONE" })).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.json()["FunctionUrl"],
        format!("http://{addr}/lambda-url/multi/")
    );
    let r = call(&emu, "POST", &live, &json!({ "AuthType": "AWS_IAM" })).await;
    assert_eq!(r.status, 201, "a second URL, on alias `live`: {:?}", r.body);
    let created = r.json();
    assert_eq!(created["FunctionArn"], format!("{arn}:live"));
    assert_eq!(created["AuthType"], "AWS_IAM");
    let shown = format!("http://{addr}/lambda-url/multi:live/");
    assert_eq!(created["FunctionUrl"], shown);
    for path in [live.as_str(), "/2021-10-31/functions/multi:live/url", url] {
        let r = call(&emu, "POST", path, &json!({ "AuthType": "NONE" })).await;
        assert_error(
            &r,
            409,
            "ResourceConflictException",
            "FunctionUrlConfig exists",
        );
    }
    let r = call(&emu, "POST", &live, &json!({ "AuthType": "NONE" })).await;
    assert_error(
        &r,
        409,
        "ResourceConflictException",
        &format!("{arn}:live]"),
    );

    // Each URL at its own host and path runs its own version; the shown URL is the address.
    assert_ran(
        &through_both(&emu, "multi", None).await,
        "latest",
        "$LATEST",
        ":function:multi",
        "multi.lambda-url.localhost",
    );
    assert_ran(
        &through_both(&emu, "multi", Some("live")).await,
        "1",
        "1",
        ":function:multi:live",
        "live.multi.lambda-url.localhost",
    );
    let r = send(
        emu.endpoint(),
        "GET",
        &format!("{}x", &shown[shown.find("/lambda-url").unwrap()..]),
        &[],
        "",
    )
    .await;
    assert_eq!(r.json()["env"]["V"], "1", "the shown URL reaches `live`");
    let r = send(emu.endpoint(), "GET", "/lambda-url/multi%3Alive/p", &[], "").await;
    assert_eq!(r.json()["env"]["V"], "1", "`:` percent-encoded");

    // Both listed, `$LATEST` first; pages of one.
    assert_eq!(
        listed(&emu, "multi").await,
        [arn.to_owned(), format!("{arn}:live")]
    );
    let page = "/2021-10-31/functions/multi/urls?MaxItems=1";
    let first = call(&emu, "GET", page, &Value::Null).await.json();
    assert_eq!(first["FunctionUrlConfigs"][0]["FunctionArn"], arn);
    let marker = first["NextMarker"].as_str().expect("a NextMarker");
    let second = call(
        &emu,
        "GET",
        &format!("{page}&Marker={marker}"),
        &Value::Null,
    )
    .await
    .json();
    assert_eq!(
        second["FunctionUrlConfigs"][0]["FunctionArn"],
        format!("{arn}:live")
    );
    assert!(second.get("NextMarker").is_none(), "{second}");

    // An update of one leaves the other.
    let cors = json!({ "Cors": { "AllowOrigins": ["https://live.example"] } });
    let r = call(&emu, "PUT", &live, &cors).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.json()["Cors"]["AllowOrigins"],
        json!(["https://live.example"])
    );
    let unqualified = call(&emu, "GET", url, &Value::Null).await.json();
    assert!(unqualified.get("Cors").is_none(), "{unqualified}");
    assert_eq!(unqualified["AuthType"], "NONE");
    let r = call(&emu, "GET", &live, &Value::Null).await.json();
    assert_eq!(r["AuthType"], "AWS_IAM");
    assert_eq!(r["Cors"]["AllowOrigins"], json!(["https://live.example"]));

    // A qualifier without a URL: 404 to read, change or remove it, and at its addresses.
    let beta = format!("{url}?Qualifier=beta");
    for (method, body) in [
        ("GET", Value::Null),
        ("PUT", json!({ "AuthType": "NONE" })),
        ("DELETE", Value::Null),
    ] {
        let r = call(&emu, method, &beta, &body).await;
        assert_error(&r, 404, "ResourceNotFoundException", "does not exist");
    }
    assert_eq!(
        statuses(&through_both(&emu, "multi", Some("beta")).await),
        [404, 404]
    );
    assert_eq!(
        statuses(&through_both(&emu, "multi", Some("1")).await),
        [404, 404]
    );

    // A deleted URL leaves the other.
    let r = call(&emu, "DELETE", &live, &Value::Null).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(
        statuses(&through_both(&emu, "multi", Some("live")).await),
        [404, 404]
    );
    assert_eq!(listed(&emu, "multi").await, [arn]);
    let r = call(&emu, "GET", &live, &Value::Null).await;
    assert_error(&r, 404, "ResourceNotFoundException", "does not exist");
    assert_eq!(
        through_both(&emu, "multi", None).await[0].1["env"]["V"],
        "latest"
    );

    // `DeleteAlias` removes the alias's URL: gone from its address and from the list, and an
    // alias made again under the name has none.
    let r = call(&emu, "POST", &live, &json!({ "AuthType": "NONE" })).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        statuses(&through_both(&emu, "multi", Some("live")).await),
        [200, 200]
    );
    let r = call(
        &emu,
        "DELETE",
        "/2015-03-31/functions/multi/aliases/live",
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(
        statuses(&through_both(&emu, "multi", Some("live")).await),
        [404, 404]
    );
    assert_eq!(listed(&emu, "multi").await, [arn]);
    let alias = json!({ "Name": "live", "FunctionVersion": "1" });
    let r = call(&emu, "POST", "/2015-03-31/functions/multi/aliases", &alias).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = call(&emu, "GET", &live, &Value::Null).await;
    assert_error(&r, 404, "ResourceNotFoundException", "does not exist");
    assert_ran(
        &through_both(&emu, "multi", None).await,
        "latest",
        "$LATEST",
        ":function:multi",
        "multi.lambda-url.localhost",
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn declared_urls_and_a_lone_alias_url_at_the_function_address() {
    use firebox_emulator::url::Cors;
    let emu = start(vec![two_versions("site")
        .url(UrlConfig::default())
        .url_for(
            "live",
            UrlConfig {
                cors: Some(Cors {
                    allow_origins: vec!["https://live.example".into()],
                    ..Cors::default()
                }),
                ..UrlConfig::default()
            },
        )])
    .await;
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:site";
    let r = call(&emu, "GET", "/2021-10-31/functions/site/urls", &Value::Null).await;
    let all = r.json()["FunctionUrlConfigs"].clone();
    assert_eq!(all.as_array().map(Vec::len), Some(2), "{all}");
    assert_eq!(all[0]["FunctionArn"], arn);
    assert!(all[0].get("Cors").is_none(), "{all}");
    assert_eq!(all[1]["FunctionArn"], format!("{arn}:live"));
    assert_eq!(all[1]["AuthType"], "NONE");
    assert_eq!(
        all[1]["Cors"]["AllowOrigins"],
        json!(["https://live.example"])
    );
    assert_eq!(
        all[1]["FunctionUrl"],
        format!("http://{}/lambda-url/site:live/", emu.addr())
    );
    assert_ran(
        &through_both(&emu, "site", None).await,
        "latest",
        "$LATEST",
        ":function:site",
        "site.lambda-url.localhost",
    );
    assert_ran(
        &through_both(&emu, "site", Some("live")).await,
        "1",
        "1",
        ":function:site:live",
        "live.site.lambda-url.localhost",
    );

    // Once `$LATEST`'s URL is deleted, the function's only URL (on `live`) answers at the
    // function's own address too; with a second alias URL, that address has none.
    let r = call(
        &emu,
        "DELETE",
        "/2021-10-31/functions/site/url",
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_ran(
        &through_both(&emu, "site", None).await,
        "1",
        "1",
        ":function:site:live",
        "site.lambda-url.localhost",
    );
    let r = call(
        &emu,
        "POST",
        "/2021-10-31/functions/site/url?Qualifier=beta",
        &json!({ "AuthType": "NONE" }),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        statuses(&through_both(&emu, "site", None).await),
        [404, 404]
    );
    assert_eq!(
        statuses(&through_both(&emu, "site", Some("live")).await),
        [200, 200]
    );
    assert_ran(
        &through_both(&emu, "site", Some("beta")).await,
        "1",
        "1",
        ":function:site:beta",
        "beta.site.lambda-url.localhost",
    );
    assert_eq!(
        listed(&emu, "site").await,
        [format!("{arn}:beta"), format!("{arn}:live")]
    );
    emu.shutdown().await;
}
