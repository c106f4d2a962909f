//! The Runtime API as runtimes see it: `/next` headers, posted responses and errors, bad
//! posts, oversized responses, log capture and the tail.

mod common;

use std::time::Duration;

use common::*;
use firebox_emulator::{InvocationType, InvokeOptions};

#[tokio::test]
async fn the_callers_trace_header_reaches_the_runtime_and_a_malformed_one_is_replaced() {
    let emu = start(vec![function("h", "")]).await;
    let trace_of = |r: &Raw| {
        r.json()["headers"]["lambda-runtime-trace-id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let sampled = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    // Through the library's client, as a test would send it.
    let options = InvokeOptions {
        trace_header: Some(sampled.into()),
        ..Default::default()
    };
    let r = emu.invoke_with("h", "{}", &options).await.unwrap();
    let got = &r.json().unwrap()["headers"]["lambda-runtime-trace-id"];
    assert_eq!(got, sampled);
    // Other fields are dropped; a missing parent is made up; `Sampled=?` is not sampled.
    let r = invoke_raw(
        emu.endpoint(),
        "h",
        &[(
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?;Lineage=a:0",
        )],
        "{}",
    )
    .await;
    let trace = trace_of(&r);
    assert!(
        trace.starts_with("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=")
            && trace.ends_with(";Sampled=0")
            && trace.len() == sampled.len(),
        "{trace}"
    );
    // A header without a well-formed root is not refused: the invocation gets its own trace.
    let r = invoke_raw(
        emu.endpoint(),
        "h",
        &[("x-amzn-trace-id", "Root=1-nothex")],
        "{}",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let trace = trace_of(&r);
    assert!(
        trace.starts_with("Root=1-") && !trace.contains("nothex") && trace.ends_with(";Sampled=0"),
        "{trace}"
    );
    // An `Event` invocation keeps the caller's trace too.
    let r = invoke_raw(
        emu.endpoint(),
        "h",
        &[
            ("x-amzn-trace-id", sampled),
            ("x-amz-invocation-type", "Event"),
        ],
        r#"{"print_trace": true}"#,
    )
    .await;
    assert_eq!(r.status, 202);
    let line = wait_for_line(&emu, "h", |l| l.starts_with("TRACE ")).await;
    assert_eq!(line, format!("TRACE {sampled}"));
}

#[tokio::test]
async fn next_carries_every_header() {
    let emu = start(vec![function("h", "").timeout(Duration::from_secs(2))]).await;
    let options = InvokeOptions {
        client_context: Some(r#"{"custom": {"k": "v"}, "client": {"app_title": "t"}}"#.into()),
        tenant_id: Some("tenant-1".into()),
        ..Default::default()
    };
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let r = emu.invoke_with("h", r#"{"a": 1}"#, &options).await.unwrap();
    let body = r.json().unwrap();
    let h = &body["headers"];
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(
        h["lambda-runtime-aws-request-id"],
        r.request_id.clone().unwrap().as_str()
    );
    let deadline: u64 = h["lambda-runtime-deadline-ms"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        deadline >= before + 1500 && deadline <= before + 60_000,
        "{deadline} vs {before}"
    );
    assert_eq!(
        h["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:h"
    );
    let trace = h["lambda-runtime-trace-id"].as_str().unwrap();
    let parts: Vec<&str> = trace.split(';').collect();
    assert!(
        parts[0].starts_with("Root=1-") && parts[0].len() == "Root=1-".len() + 8 + 1 + 24,
        "{trace}"
    );
    assert!(
        parts[1].starts_with("Parent=") && parts[1].len() == 7 + 16,
        "{trace}"
    );
    assert!(
        parts[2] == "Sampled=0" || parts[2] == "Sampled=1",
        "{trace}"
    );
    let cc: serde_json::Value =
        serde_json::from_str(h["lambda-runtime-client-context"].as_str().unwrap()).unwrap();
    assert_eq!(cc["custom"]["k"], "v");
    assert_eq!(h["lambda-runtime-aws-tenant-id"], "tenant-1");
    assert!(h.get("lambda-runtime-cognito-identity").is_none());
    assert_eq!(body["event"]["a"], 1);

    // Without client context or tenant, those headers are absent.
    let r = emu.invoke("h", "{}").await.unwrap().json().unwrap();
    assert!(r["headers"].get("lambda-runtime-client-context").is_none());
    assert!(r["headers"].get("lambda-runtime-aws-tenant-id").is_none());

    // Cognito identity through the emulator's header.
    let raw = invoke_raw(
        emu.endpoint(),
        "h",
        &[(
            "x-firebox-cognito-identity",
            r#"{"cognitoIdentityId": "id-1"}"#,
        )],
        "{}",
    )
    .await;
    let h = &raw.json()["headers"];
    assert!(h["lambda-runtime-cognito-identity"]
        .as_str()
        .unwrap()
        .contains("id-1"));
}

#[tokio::test]
async fn arn_is_as_the_caller_named_the_function() {
    let emu = start(vec![function("named", "")]).await;
    let arn = |r: &Raw| {
        r.json()["headers"]["lambda-runtime-invoked-function-arn"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let full = "arn:aws:lambda:us-east-1:123456789012:function:named";
    let r = invoke_raw(emu.endpoint(), full, &[], "{}").await;
    assert_eq!(arn(&r), full);
    let r = invoke_raw(emu.endpoint(), "named:%24LATEST", &[], "{}").await;
    assert_eq!(arn(&r), format!("{full}:$LATEST"));
    let r = send(
        emu.endpoint(),
        "POST",
        "/2015-03-31/functions/123456789012%3Afunction%3Anamed/invocations?Qualifier=%24LATEST",
        &[],
        "{}",
    )
    .await;
    assert_eq!(arn(&r), format!("{full}:$LATEST"));
}

#[tokio::test]
async fn error_type_from_body_or_header() {
    let emu = start(vec![function("e", "")]).await;
    let r = emu
        .invoke("e", r#"{"error_header_only": "HeaderOnly"}"#)
        .await
        .unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(r.error_type().as_deref(), Some("HeaderOnly"));
    let r = emu
        .invoke("e", r#"{"error_garbage": "Garbled"}"#)
        .await
        .unwrap();
    assert_eq!(r.error_type().as_deref(), Some("Garbled"));
    assert_eq!(r.json().unwrap()["errorMessage"], "this is not json");
    // The environment survived all of it.
    assert_eq!(
        emu.invoke("e", "{}").await.unwrap().json().unwrap()["count"],
        3
    );
}

#[tokio::test]
async fn a_second_answer_gets_403_an_unknown_id_400_and_neither_changes_anything() {
    let emu = start(vec![function("bad", "")]).await;
    let r = emu.invoke("bad", r#"{"twice": true}"#).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(
        r.json().unwrap().get("again").is_none(),
        "the first answer counts"
    );
    let line = wait_for_line(&emu, "bad", |t| t.starts_with("POST twice")).await;
    assert!(line.starts_with("POST twice 403"), "{line}");
    assert!(line.contains("InvalidStateTransition"), "{line}");

    let r = emu.invoke("bad", r#"{"unknown_id": true}"#).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.function_error, None);
    assert_eq!(
        r.json().unwrap()["event"]["unknown_id"],
        true,
        "the real answer still counts"
    );
    let line = wait_for_line(&emu, "bad", |t| t.starts_with("POST unknown")).await;
    assert!(
        line.starts_with("POST unknown 400") && line.contains("InvalidRequestID"),
        "{line}"
    );
    assert_eq!(
        emu.invoke("bad", "{}").await.unwrap().json().unwrap()["count"],
        3
    );
}

#[tokio::test]
async fn oversized_response_is_413_and_response_size_too_large() {
    let emu = start(vec![function("big", "").timeout(Duration::from_secs(10))]).await;
    let r = emu.invoke("big", r#"{"big": 6300000}"#).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        r.error_type().as_deref(),
        Some("Function.ResponseSizeTooLarge")
    );
    let line = wait_for_line(&emu, "big", |t| t.starts_with("POST big")).await;
    assert!(line.starts_with("POST big 413"), "{line}");
    // Just under the limit passes (a JSON string of N chars is N + 2 bytes).
    let r = emu.invoke("big", r#"{"big": 6291554}"#).await.unwrap();
    assert_eq!(r.function_error, None);
    assert_eq!(r.body.len(), 6_291_556);
}

#[tokio::test]
async fn an_oversized_error_is_413_and_response_size_too_large() {
    let emu = start(vec![function("bigerr", "").timeout(Duration::from_secs(10))]).await;
    let r = emu
        .invoke("bigerr", r#"{"big_error": 7000000}"#)
        .await
        .unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        r.error_type().as_deref(),
        Some("Function.ResponseSizeTooLarge"),
        "{}",
        r.text()
    );
    let line = wait_for_line(&emu, "bigerr", |t| t.starts_with("POST big_error")).await;
    assert!(
        line.starts_with("POST big_error 413") && line.contains("RequestEntityTooLarge"),
        "{line}"
    );
}

#[tokio::test]
async fn an_error_with_its_cause_reaches_the_caller_without_the_cause() {
    let emu = start(vec![function("cause", "")]).await;
    let ct = "application/vnd.aws.lambda.error.cause+json";
    let event = serde_json::json!({"error_raw": {"type": "CauseErr", "content_type": ct,
        "body": r#"{"errorMessage":"msg","errorType":"CauseErr","stackTrace":["a"],"errorCause":{"working_directory":"/var/task","exceptions":[],"paths":[]}}"#}});
    let r = emu.invoke("cause", event.to_string()).await.unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        r.json().unwrap(),
        serde_json::json!({"errorMessage": "msg", "errorType": "CauseErr", "stackTrace": ["a"]})
    );
    // A body of that type that does not parse: Lambda's "Invalid error body".
    let event = serde_json::json!({"error_raw": {"type": "Broken", "content_type": ct,
        "body": "{not json"}});
    let r = emu.invoke("cause", event.to_string()).await.unwrap();
    assert_eq!(r.error_type().as_deref(), Some("Broken"));
    assert_eq!(r.json().unwrap()["errorMessage"], "Invalid error body");
    // Any other content type passes the document as it is.
    let event = serde_json::json!({"error_raw": {"type": "Plain", "content_type": "application/json",
        "body": r#"{"errorMessage":"m","errorType":"Plain","errorCause":1}"#}});
    let r = emu.invoke("cause", event.to_string()).await.unwrap();
    assert_eq!(r.json().unwrap()["errorCause"], 1);
}

#[tokio::test]
async fn output_is_captured_and_tail_holds_this_invocation_only() {
    let emu = start(vec![function("logs", "")]).await;
    let tail = InvokeOptions {
        log_tail: true,
        ..Default::default()
    };
    let r = emu
        .invoke_with("logs", r#"{"print": 3, "stderr": "to stderr"}"#, &tail)
        .await
        .unwrap();
    let id = r.request_id.clone().unwrap();
    let t = r.log_tail.expect("tail requested");
    assert!(t.contains(&format!("START RequestId: {id}")), "{t}");
    assert!(t.contains("line 0\nline 1\nline 2\n"), "{t}");
    assert!(t.contains("to stderr"), "{t}");
    assert!(t.contains(&format!("END RequestId: {id}")), "{t}");
    assert!(
        t.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("REPORT RequestId: "),
        "{t}"
    );

    let r = emu
        .invoke_with("logs", r#"{"print": 1000}"#, &tail)
        .await
        .unwrap();
    let t = r.log_tail.unwrap();
    assert!(t.len() <= 4096 && t.len() > 3000, "{}", t.len());
    assert!(t.contains("line 999\n"));
    assert!(!t.contains("to stderr"), "only this invocation's lines");
    assert!(!t.contains("line 0\n"));

    let r = emu.invoke("logs", "{}").await.unwrap();
    assert!(r.log_tail.is_none(), "no tail unless asked");
    assert!(r.headers.get("x-amz-log-result").is_none());
    // Event invocations never carry a tail.
    let event = InvokeOptions {
        invocation_type: InvocationType::Event,
        log_tail: true,
        ..Default::default()
    };
    let r = emu.invoke_with("logs", "{}", &event).await.unwrap();
    assert_eq!(r.status, 202);
    assert!(r.log_tail.is_none());
    // Every line of the function is in its stream, in order.
    let texts = texts(&emu, "logs");
    let i0 = texts.iter().rposition(|t| t == "line 0").unwrap();
    assert_eq!(texts[i0 + 999], "line 999");
}

#[tokio::test]
async fn a_function_writing_fast_without_readers_is_not_blocked() {
    let emu = start(vec![function("chatty", "").timeout(Duration::from_secs(20))]).await;
    let r = emu.invoke("chatty", r#"{"print": 200000}"#).await.unwrap();
    assert_eq!(r.function_error, None, "{}", r.text());
    assert!(texts(&emu, "chatty").contains(&"line 199999".to_owned()));
}

#[tokio::test]
async fn runtime_api_unknown_route_is_404_with_error_document() {
    // Find the Runtime API port from the function's environment and call it directly.
    let emu = start(vec![function("probe", "")]).await;
    let r = emu.invoke("probe", "{}").await.unwrap().json().unwrap();
    let api = r["env"]["AWS_LAMBDA_RUNTIME_API"]
        .as_str()
        .unwrap()
        .to_owned();
    let endpoint = format!("http://{api}");
    let raw = send(&endpoint, "GET", "/2018-06-01/runtime/nope", &[], "").await;
    assert_eq!(raw.status, 404);
    assert!(raw.json()["errorType"].is_string());
    // Lambda's health check.
    let pong = send(&endpoint, "GET", "/2018-06-01/ping", &[], "").await;
    assert_eq!(
        (pong.status.as_u16(), pong.body.as_ref()),
        (200, &b"pong"[..])
    );
    // Header names are written as Lambda's server writes them, for clients that match them
    // case-sensitively.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conn = tokio::net::TcpStream::connect(&api).await.unwrap();
        conn.write_all(
            b"GET /2018-06-01/runtime/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).await.unwrap();
        let head = String::from_utf8_lossy(&answer);
        assert!(
            head.contains("\r\nContent-Type: application/json\r\n"),
            "{head}"
        );
    }
    // A route of the API with the wrong method: 405, with the method it takes.
    for (method, path, allowed) in [
        ("POST", "/2018-06-01/runtime/invocation/next", "GET"),
        ("GET", "/2018-06-01/runtime/invocation/xyz/response", "POST"),
        ("PUT", "/2018-06-01/runtime/invocation/xyz/error", "POST"),
        ("GET", "/2018-06-01/runtime/init/error", "POST"),
        ("POST", "/2018-06-01/ping", "GET"),
        // The Extensions API's routes too.
        ("GET", "/2020-01-01/extension/register", "POST"),
        ("POST", "/2020-01-01/extension/event/next", "GET"),
        ("GET", "/2020-01-01/extension/exit/error", "POST"),
    ] {
        let raw = send(&endpoint, method, path, &[], "").await;
        assert_eq!(raw.status, 405, "{method} {path}");
        assert_eq!(raw.headers["allow"], allowed, "{method} {path}");
        assert!(raw.json()["errorType"].is_string());
    }
    let raw = send(
        &endpoint,
        "POST",
        "/2018-06-01/runtime/invocation/xyz/response",
        &[],
        "{}",
    )
    .await;
    assert_eq!(raw.status, 400);
    assert_eq!(raw.json()["errorType"], "InvalidRequestID");
    let raw = send(
        &endpoint,
        "POST",
        "/2018-06-01/runtime/init/error",
        &[],
        "{}",
    )
    .await;
    assert_eq!(raw.status, 403, "init/error after init is refused");
    // Nothing changed: the function still answers, warm.
    assert_eq!(
        emu.invoke("probe", "{}").await.unwrap().json().unwrap()["count"],
        2
    );
}

/// A runtime that posts `/init/error`, then writes more than a pipe holds, then posts
/// `/init/error` again and prints the status it got, then exits 1.
const INIT_ERROR_FLOOD: &str = r#"
import http.client, os, sys
def post(body):
    c = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"], timeout=30)
    c.request("POST", "/2018-06-01/runtime/init/error", body=body,
              headers={"Lambda-Runtime-Function-Error-Type": "Flood"})
    r = c.getresponse()
    r.read()
    return r.status
post('{"errorType": "Flood", "errorMessage": "init failed"}')
for i in range(4000):
    sys.stdout.write("flood line %05d %s\n" % (i, "x" * 50))
sys.stdout.flush()
print("second init/error:", post("{}"), flush=True)
sys.exit(1)
"#;

#[tokio::test]
async fn a_runtime_that_posted_init_error_is_read_and_answered_until_it_exits() {
    let f = firebox_emulator::FunctionConfig::new("f")
        .command([PYTHON, "-u", "-c", INIT_ERROR_FLOOD])
        .timeout(Duration::from_secs(10));
    let emu = start(vec![f]).await;
    let r = emu.invoke("f", "{}").await.unwrap();
    assert_eq!(
        r.function_error.as_deref(),
        Some("Unhandled"),
        "{}",
        r.text()
    );
    assert_eq!(r.json().unwrap()["errorType"], "Flood");
    // Init ran twice (the first Init, then its retry inside the invoke); each runtime's
    // 4,000 lines are read while it writes them (the second runtime's after the caller got
    // its answer), and its second call is answered.
    let answered = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| l.starts_with("second init/error:"))
            .count()
    };
    wait_until("both runtimes' last lines", Duration::from_secs(30), || {
        answered(&texts(&emu, "f")) == 2
    })
    .await;
    let lines = texts(&emu, "f");
    let flood = lines
        .iter()
        .filter(|l| l.starts_with("flood line "))
        .count();
    assert_eq!(flood, 8000, "lines lost");
    for line in lines.iter().filter(|l| l.starts_with("second init/error:")) {
        assert_eq!(line, "second init/error: 403");
    }
}

/// A runtime that, after its first event, abandons a `/next` (a 0.5 s client timeout, then
/// it closes the connection, as a client with a timeout or a proxy does), then calls `/next`
/// again; it answers every event with its pid, and exits 1 on a refused `/next`.
const ABANDONS_NEXT: &str = r#"
import http.client, json, os, socket, sys
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
base = "/2018-06-01/runtime/invocation/"
served = 0
while True:
    if served == 1:
        c = http.client.HTTPConnection(api, timeout=0.5)
        try:
            c.request("GET", base + "next")
            c.getresponse()
            print("abandoned next answered", flush=True)
        except socket.timeout:
            print("abandoned next", flush=True)
        c.close()
        served += 1
    c = http.client.HTTPConnection(api)
    c.request("GET", base + "next")
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        print("next refused:", r.status, body.decode(), flush=True)
        sys.exit(1)
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    c.request("POST", base + rid + "/response", body=json.dumps({"pid": os.getpid()}))
    c.getresponse().read()
    served += 1
"#;

#[tokio::test]
async fn an_abandoned_next_no_longer_counts_as_waiting() {
    let f = firebox_emulator::FunctionConfig::new("f")
        .command([PYTHON, "-u", "-c", ABANDONS_NEXT])
        .freeze(false)
        .timeout(Duration::from_secs(10));
    let emu = start(vec![f]).await;
    let first = emu.invoke("f", "{}").await.unwrap();
    assert_eq!(first.function_error, None, "{}", first.text());
    wait_for_line(&emu, "f", |l| l == "abandoned next").await;
    let second = emu.invoke("f", "{}").await.unwrap();
    assert_eq!(second.function_error, None, "{}", second.text());
    assert_eq!(
        second.json().unwrap()["pid"],
        first.json().unwrap()["pid"],
        "the runtime's second /next was refused: {:?}",
        texts(&emu, "f")
    );
    assert!(!texts(&emu, "f")
        .iter()
        .any(|l| l.starts_with("next refused")));
}

/// A runtime that calls `/next` from two connections at once and prints the second's answer
/// (`second next: STATUS BODY`), then serves events on the first.
const DOUBLE_NEXT: &str = r#"
import http.client, json, os
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
base = "/2018-06-01/runtime/invocation/"
while True:
    first = http.client.HTTPConnection(api)
    first.request("GET", base + "next")
    second = http.client.HTTPConnection(api)
    second.request("GET", base + "next")
    r = second.getresponse()
    print("second next:", r.status, r.read().decode(), flush=True)
    r = first.getresponse()
    r.read()
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    first.request("POST", base + rid + "/response", body="{}")
    first.getresponse().read()
"#;

#[tokio::test]
async fn a_second_next_is_refused_without_naming_a_variable_the_function_does_not_have() {
    let f = firebox_emulator::FunctionConfig::new("f")
        .command([PYTHON, "-u", "-c", DOUBLE_NEXT])
        .timeout(Duration::from_secs(10));
    let emu = start(vec![f]).await;
    let r = emu.invoke("f", "{}").await.unwrap();
    assert_eq!(r.function_error, None, "{}", r.text());
    let line = wait_for_line(&emu, "f", |l| l.starts_with("second next:")).await;
    assert!(line.starts_with("second next: 403 "), "{line}");
    assert!(line.contains("InvalidStateTransition"), "{line}");
    assert!(!line.contains("AWS_LAMBDA_MAX_CONCURRENCY="), "{line}");
}
