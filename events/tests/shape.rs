//! Builders produce the same shape (key paths) as AWS's documentation examples, and the HTTP
//! formats show headers, query strings, cookies and bodies the way each service does.

#![cfg(all(
    feature = "apigw",
    feature = "alb",
    feature = "lambda_function_urls",
    feature = "sqs",
    feature = "sns",
    feature = "s3",
    feature = "dynamodb",
    feature = "kinesis",
    feature = "eventbridge"
))]

mod support;

use firebox_events::sample::{self, SampleError, SampleKind};
use serde_json::json;
use support::{fixture, shape};

fn assert_same_shape(name: &str, built: &serde_json::Value, skip_in_fixture: &[&str]) {
    let expected = shape(&fixture(name), skip_in_fixture);
    let actual = shape(built, &[]);
    let missing: Vec<_> = expected.difference(&actual).collect();
    let unexpected: Vec<_> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{name}: builder lacks {missing:?}, has extra {unexpected:?}"
    );
}

#[test]
fn http_builders_match_aws_examples() {
    let v1 = sample::apigw_v1()
        .path("/my/path?parameter1=value1&parameter1=value2&parameter2=value")
        .body("Hello from Lambda!")
        .to_json();
    // The example's authorizer comes from a configured authorizer; samples have none.
    assert_same_shape("apigw-v1-proxy.json", &v1, &["requestContext.authorizer"]);

    let v2 = sample::apigw_v2()
        .method("POST")
        .path("/my/path?parameter1=value1&parameter1=value2&parameter2=value")
        .cookie("cookie1")
        .cookie("cookie2")
        .path_parameter("parameter1", "value1")
        .stage_variable("stageVariable1", "value1")
        .body("Hello from Lambda")
        .to_json();
    assert_same_shape(
        "apigw-v2-http.json",
        &v2,
        &["requestContext.authentication", "requestContext.authorizer"],
    );

    let alb = sample::alb().path("/lambda?query=1234ABCD").to_json();
    assert_same_shape("alb.json", &alb, &[]);
    let alb_multi = sample::alb()
        .multi_value_headers(true)
        .path("/lambda?myKey=val1&myKey=val2")
        .body("request_body")
        .to_json();
    assert_same_shape("alb-multi-value.json", &alb_multi, &[]);

    let url = sample::function_url()
        .method("POST")
        .path("/my/path?parameter1=value1&parameter1=value2&parameter2=value")
        .cookie("cookie1")
        .cookie("cookie2")
        .body("Hello from client!")
        .to_json();
    // The example uses AuthType AWS_IAM (authorizer) and shows null-valued keys that real
    // AuthType NONE requests leave out.
    assert_same_shape(
        "function-url.json",
        &url,
        &[
            "requestContext.authorizer",
            "requestContext.authentication",
            "pathParameters",
            "stageVariables",
        ],
    );
}

#[test]
fn record_builders_match_aws_examples() {
    let sqs = sample::sqs()
        .message("Test message.")
        .message("Test message.")
        .to_json();
    assert_same_shape("sqs.json", &sqs, &[]);
    assert_same_shape(
        "sns.json",
        &sample::sns().subject("TestInvoke").to_json(),
        &[],
    );
    assert_same_shape("s3.json", &sample::s3().to_json(), &[]);
    let ddb = sample::dynamodb()
        .insert(json!({"Id": {"N": "101"}}), json!({"Id": {"N": "101"}}))
        .modify(json!({"Id": {"N": "101"}}), json!({}), json!({}))
        .remove(json!({"Id": {"N": "101"}}), json!({}))
        .to_json();
    // The example omits ApproximateCreationDateTime, which real stream records carry.
    let mut expected = shape(&fixture("dynamodb.json"), &[]);
    expected.insert("Records[].dynamodb.ApproximateCreationDateTime".to_string());
    assert_eq!(shape(&ddb, &[]), expected);
    assert_same_shape("kinesis.json", &sample::kinesis().to_json(), &[]);
    assert_same_shape(
        "eventbridge-scheduled.json",
        &sample::scheduled().to_json(),
        &[],
    );
}

#[test]
fn sqs_body_digest_matches_aws_example() {
    let built = sample::sqs().message("Test message.").to_json();
    let example = fixture("sqs.json");
    assert_eq!(
        built["Records"][0]["md5OfBody"],
        example["Records"][0]["md5OfBody"]
    );
}

#[test]
fn rest_api_keeps_header_case_and_lists_repeated_values() {
    let event = sample::apigw_v1()
        .path("/orders/42?tag=a&tag=b%20c")
        .header("X-Tag", "one")
        .header("x-tag", "two")
        .cookie("a=1")
        .cookie("b=2")
        .to_json();
    assert_eq!(event["headers"]["X-Tag"], "two");
    assert_eq!(event["multiValueHeaders"]["X-Tag"], json!(["one", "two"]));
    assert_eq!(event["headers"]["Cookie"], "a=1; b=2");
    assert_eq!(event["queryStringParameters"], json!({"tag": "b c"}));
    assert_eq!(
        event["multiValueQueryStringParameters"],
        json!({"tag": ["a", "b c"]})
    );
    assert_eq!(event["resource"], "/{proxy+}");
    assert_eq!(event["pathParameters"], json!({"proxy": "orders/42"}));
    assert_eq!(event["requestContext"]["path"], "/prod/orders/42");
    assert_eq!(event["body"], json!(null));
    assert_eq!(event["stageVariables"], json!(null));
    // A request without a query string has null query maps.
    let bare = sample::apigw_v1().to_json();
    assert_eq!(bare["queryStringParameters"], json!(null));
    assert_eq!(bare["pathParameters"], json!(null));
}

#[test]
fn http_api_joins_values_and_moves_cookies() {
    let event = sample::apigw_v2()
        .path("/orders?tag=a&tag=b%20c")
        .header("X-Tag", "one")
        .header("X-Tag", "two")
        .cookie("a=1")
        .cookie("b=2")
        .stage("prod")
        .binary_body(vec![0u8, 1, 2])
        .to_json();
    assert_eq!(event["headers"]["x-tag"], "one,two");
    assert!(event["headers"].get("X-Tag").is_none());
    assert!(event["headers"].get("cookie").is_none());
    assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
    assert_eq!(event["rawQueryString"], "tag=a&tag=b%20c");
    assert_eq!(event["queryStringParameters"], json!({"tag": "a,b c"}));
    assert_eq!(event["rawPath"], "/prod/orders");
    assert_eq!(event["requestContext"]["http"]["path"], "/prod/orders");
    assert_eq!(event["body"], "AAEC");
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(event["headers"]["content-length"], "3");
    // Absent parts are left out, not null.
    let bare = sample::apigw_v2().to_json();
    for key in [
        "cookies",
        "queryStringParameters",
        "body",
        "pathParameters",
        "stageVariables",
    ] {
        assert!(bare.get(key).is_none(), "{key} should be absent");
    }
    assert_eq!(bare["rawQueryString"], "");
}

#[test]
fn alb_keeps_query_encoded_and_switches_to_multi_value() {
    let single = sample::alb()
        .path("/lambda?q=a%20b&q=c")
        .header("X-Tag", "one")
        .header("X-Tag", "two")
        .cookie("a=1")
        .to_json();
    assert_eq!(single["queryStringParameters"], json!({"q": "c"}));
    assert_eq!(single["headers"]["x-tag"], "two");
    assert_eq!(single["headers"]["cookie"], "a=1");
    assert_eq!(single["body"], "");
    assert!(single.get("multiValueHeaders").is_none());
    let multi = sample::alb()
        .multi_value_headers(true)
        .path("/lambda?q=a%20b&q=c")
        .header("X-Tag", "one")
        .header("X-Tag", "two")
        .to_json();
    assert_eq!(
        multi["multiValueQueryStringParameters"],
        json!({"q": ["a%20b", "c"]})
    );
    assert_eq!(multi["multiValueHeaders"]["x-tag"], json!(["one", "two"]));
    assert!(multi.get("headers").is_none());
    assert!(multi.get("queryStringParameters").is_none());
}

#[test]
fn function_url_is_anonymous_payload_v2() {
    let event = sample::function_url()
        .header("Host", "example.com")
        .cookie("a=1")
        .to_json();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["requestContext"]["accountId"], "anonymous");
    assert_eq!(event["requestContext"]["routeKey"], "$default");
    // The caller's header replaces the default of the same name, whatever its case.
    assert_eq!(event["headers"]["host"], "example.com");
    assert_eq!(event["cookies"], json!(["a=1"]));
    let domain = event["requestContext"]["domainName"].as_str().unwrap();
    assert!(domain.ends_with(".lambda-url.us-east-1.on.aws"), "{domain}");
}

#[test]
fn samples_are_deterministic_and_seedable() {
    assert_eq!(sample::sqs().to_json(), sample::sqs().to_json());
    assert_ne!(sample::sqs().to_json(), sample::sqs().seed(99).to_json());
    let later = sample::s3().time_millis(0).to_json();
    assert_eq!(later["Records"][0]["eventTime"], "1970-01-01T00:00:00.000Z");
    for kind in SampleKind::ALL {
        assert_eq!(kind.json(), sample::json(kind));
    }
}

#[test]
fn invalid_http_input_is_a_clear_error() {
    let err = sample::apigw_v2()
        .header("bad name", "x")
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        SampleError::Invalid {
            kind: SampleKind::ApiGatewayV2,
            ..
        }
    ));
    assert!(err.to_string().contains("`bad name`"), "{err}");
    let err = sample::alb()
        .header("X-Ok", "line\nbreak")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("control character"), "{err}");
    let err = sample::apigw_v1().method("GET /").build().unwrap_err();
    assert!(err.to_string().contains("not an HTTP token"), "{err}");
    let err = sample::function_url().method("").build().unwrap_err();
    assert!(matches!(err, SampleError::Invalid { .. }));
}

#[test]
fn a_sample_that_does_not_fit_its_type_is_a_deserialize_error() {
    let err = sample::dynamodb()
        .stream_view_type("EVERYTHING")
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        SampleError::Deserialize {
            kind: SampleKind::DynamoDb,
            ..
        }
    ));
    assert!(err.to_string().contains("dynamodb"), "{err}");
}
