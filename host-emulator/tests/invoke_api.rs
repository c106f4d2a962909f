//! The Invoke API as callers see it: naming, qualifiers, invocation types, every service error
//! shape, hostile HTTP, disconnecting clients and concurrency across environments.

mod common;
mod streaming_support;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use firebox_emulator::{FunctionConfig, InvocationType, InvokeOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn assert_service_error(r: &Raw, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.error_code(), Some(code), "{:?}", r.headers);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("x-amzn-requestid").is_some());
    let body = r.json();
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["Type"] == "User" || body["Type"] == "Service",
        "{body}"
    );
}

#[tokio::test]
async fn unknown_functions_and_qualifiers_are_resource_not_found() {
    let emu = start(vec![function("known", "")]).await;
    let e = emu.endpoint();
    let r = invoke_raw(e, "nope", &[], "{}").await;
    assert_service_error(&r, 404, "ResourceNotFoundException");
    assert_eq!(
        r.json()["message"],
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"
    );
    let r = invoke_raw(e, "known:prod", &[], "{}").await;
    assert_service_error(&r, 404, "ResourceNotFoundException");
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .ends_with(":function:known:prod"));
    let r = send(
        e,
        "POST",
        "/2015-03-31/functions/known/invocations?Qualifier=7",
        &[],
        "{}",
    )
    .await;
    assert_service_error(&r, 404, "ResourceNotFoundException");
    let r = invoke_raw(
        e,
        "arn:aws:lambda:us-east-1:999999999999:function:known",
        &[],
        "{}",
    )
    .await;
    assert_service_error(&r, 404, "ResourceNotFoundException");
    let r = invoke_raw(
        e,
        "arn:aws:lambda:eu-north-1:123456789012:function:known",
        &[],
        "{}",
    )
    .await;
    assert_service_error(&r, 404, "ResourceNotFoundException");
    let r = send(
        e,
        "POST",
        "/2015-03-31/functions/known:%24LATEST/invocations?Qualifier=prod",
        &[],
        "{}",
    )
    .await;
    assert_service_error(&r, 400, "InvalidParameterValueException");
    let r = invoke_raw(e, "a:b:c", &[], "{}").await;
    assert_service_error(&r, 400, "ValidationException");
    // And the good names work.
    for name in [
        "known",
        "known:$LATEST",
        "123456789012:function:known",
        "arn:aws:lambda:us-east-1:123456789012:function:known:$LATEST",
    ] {
        let r = emu.invoke(name, "{}").await.unwrap();
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert_eq!(r.function_error, None);
    }
    let r = emu
        .invoke_with(
            "known",
            "{}",
            &InvokeOptions {
                qualifier: Some("$LATEST".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn bad_bodies_are_refused() {
    let emu = start(vec![function("f", "")]).await;
    let e = emu.endpoint();
    let r = invoke_raw(e, "f", &[], "{not json").await;
    assert_service_error(&r, 400, "InvalidRequestContentException");
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("Could not parse request body into json"));
    // Invalid UTF-8 inside a JSON string (lone, overlong, surrogate, truncated, in a key) is
    // refused as Lambda does, for every invocation type and for the streaming API.
    for body in [
        &b"{\"name\":\"\xff\"}"[..],
        b"{\"name\":\"\xc0\xaf\"}",
        b"{\"name\":\"\xed\xa0\x80\"}",
        b"{\"name\":\"\xe2\x82\"}",
        b"{\"\x97\":1}",
    ] {
        for kind in ["RequestResponse", "Event"] {
            let headers = [("x-amz-invocation-type", kind)];
            let r = invoke_raw(e, "f", &headers, body.to_vec()).await;
            assert_service_error(&r, 400, "InvalidRequestContentException");
            let message = r.json()["message"].as_str().unwrap().to_owned();
            assert!(message.contains("Invalid UTF-8"), "{message}");
        }
        let r = send(
            e,
            "POST",
            "/2021-11-15/functions/f/response-streaming-invocations",
            &[],
            body.to_vec(),
        )
        .await;
        assert_service_error(&r, 400, "InvalidRequestContentException");
    }
    assert!(texts(&emu, "f").is_empty(), "nothing ran");
    let too_big = vec![b' '; 6_291_457];
    let r = invoke_raw(e, "f", &[], too_big).await;
    assert_service_error(&r, 413, "RequestTooLargeException");
    let event_too_big = format!("\"{}\"", "x".repeat(1_048_575));
    let r = invoke_raw(e, "f", &[("x-amz-invocation-type", "Event")], event_too_big).await;
    assert_service_error(&r, 413, "RequestTooLargeException");
    // Exactly at the synchronous limit is accepted (then the echo is too large to return).
    let at_limit = format!("{{\"pad\":\"{}\"}}", "x".repeat(6_291_446));
    assert_eq!(at_limit.len(), 6_291_456);
    let r = invoke_raw(e, "f", &[], at_limit).await;
    assert_eq!(r.status, 200);
    let head = String::from_utf8_lossy(&r.body[..r.body.len().min(300)]).into_owned();
    assert_eq!(
        r.json()["errorType"],
        "Function.ResponseSizeTooLarge",
        "{head}"
    );
    // An empty body is the event `{}`.
    let r = invoke_raw(e, "f", &[], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["event"], serde_json::json!({}));
    // No function process was started for the refused requests: all answered without one.
    assert!(
        texts(&emu, "f")
            .iter()
            .filter(|t| t.starts_with("START"))
            .count()
            == 2
    );
}

#[tokio::test]
async fn bad_headers_are_refused() {
    let emu = start(vec![function("f", "")]).await;
    let e = emu.endpoint();
    for (name, value) in [
        ("x-amz-invocation-type", "Sometimes"),
        ("x-amz-log-type", "Everything"),
        ("x-amz-client-context", "%%%not-base64"),
        ("x-amz-client-context", "WzEsMiwzXQ=="), // base64 of [1,2,3]: not an object
    ] {
        let r = invoke_raw(e, "f", &[(name, value)], "{}").await;
        assert_service_error(&r, 400, "InvalidParameterValueException");
    }
    let huge = "e30=".repeat(1000);
    let r = invoke_raw(e, "f", &[("x-amz-client-context", &huge)], "{}").await;
    assert_service_error(&r, 400, "InvalidParameterValueException");
    // A header value that is not text (raw bytes over TCP).
    let mut s = TcpStream::connect(emu.addr()).await.unwrap();
    s.write_all(b"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nhost: x\r\nx-amz-log-type: \xff\xfe\r\ncontent-length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let mut buf = vec![0; 4096];
    let n = s.read(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(
        text.to_lowercase()
            .contains("x-amzn-errortype: invalidparametervalueexception"),
        "{text}"
    );
}

#[tokio::test]
async fn event_and_dry_run() {
    let emu = start(vec![function("f", "")]).await;
    let e = emu.endpoint();
    let r = invoke_raw(e, "f", &[("x-amz-invocation-type", "DryRun")], "{}").await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert!(texts(&emu, "f").is_empty(), "DryRun runs nothing");

    let r = invoke_raw(
        e,
        "f",
        &[("x-amz-invocation-type", "Event")],
        r#"{"print": 1}"#,
    )
    .await;
    assert_eq!(r.status, 202);
    assert!(r.body.is_empty());
    let id = r.header("x-amzn-requestid").unwrap().to_owned();
    let report = wait_for_line(&emu, "f", |t| {
        t.starts_with(&format!("REPORT RequestId: {id}"))
    })
    .await;
    assert!(report.contains("Init Duration"), "{report}");
    assert!(texts(&emu, "f").contains(&"line 0".to_owned()));
}

#[tokio::test]
async fn unknown_routes_and_methods_get_aws_errors() {
    let emu = start(vec![function("f", "")]).await;
    let e = emu.endpoint();
    let r = send(e, "GET", "/", &[], "").await;
    assert_service_error(&r, 404, "UnknownOperationException");
    let r = send(e, "POST", "/2015-03-31/functions/f", &[], "").await;
    assert_service_error(&r, 404, "UnknownOperationException");
    // A wrong method on an invoke path names no operation either: 404, as Lambda routes on
    // method and path together (and as the control plane answers).
    for (method, path) in [
        ("GET", "/2015-03-31/functions/f/invocations"),
        (
            "PUT",
            "/2021-11-15/functions/f/response-streaming-invocations",
        ),
        ("DELETE", "/2014-11-13/functions/f/invoke-async/"),
    ] {
        let r = send(e, method, path, &[], "").await;
        assert_service_error(&r, 404, "UnknownOperationException");
        let message = r.json()["message"].as_str().unwrap().to_owned();
        assert_eq!(message, format!("Unknown operation: {method} {path}"));
    }
    assert!(texts(&emu, "f").is_empty(), "nothing ran");
}

#[tokio::test]
async fn malformed_http_and_slow_clients_do_not_hurt_the_listener() {
    let emu = start(vec![function("f", "")]).await;
    // Garbage instead of HTTP.
    let mut s = TcpStream::connect(emu.addr()).await.unwrap();
    s.write_all(b"\x00\x01 this is not http\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 400"),
        "{text}"
    );
    // A slow client that sends half a request and waits.
    let mut slow = TcpStream::connect(emu.addr()).await.unwrap();
    slow.write_all(b"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{")
        .await
        .unwrap();
    // A client that declares a body and closes early.
    let mut early = TcpStream::connect(emu.addr()).await.unwrap();
    early.write_all(b"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{").await.unwrap();
    drop(early);
    // Others are still served.
    let r = emu.invoke("f", "{}").await.unwrap();
    assert_eq!(r.status, 200);
    drop(slow);
    let r = emu.invoke("f", "{}").await.unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn an_answer_given_before_the_body_arrived_keeps_the_connection_alive() {
    // A keep-alive client (boto3) sends the head, then the body; the emulator answers an
    // unknown function at once. The connection must still serve the client's next request.
    let emu = start(vec![function("f", "")]).await;
    let mut s = TcpStream::connect(emu.addr()).await.unwrap();
    let body = r#"{"padding":"..............................."}"#;
    for (method, path, headers, status) in [
        ("POST", "/2015-03-31/functions/nope/invocations", "", 404),
        (
            "POST",
            "/2015-03-31/functions/f/invocations?Qualifier=7",
            "",
            404,
        ),
        (
            "POST",
            "/2015-03-31/functions/f/invocations",
            "x-amz-invocation-type: Sometimes\r\n",
            400,
        ),
        ("PUT", "/2015-03-31/functions/nope/configuration", "", 404),
    ] {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: x\r\n{headers}content-length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let (answered, _) = read_response(&mut s).await;
        assert_eq!(answered, status, "{method} {path}");
        s.write_all(body.as_bytes()).await.unwrap();
        let ok = "POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}";
        s.write_all(ok.as_bytes()).await.unwrap();
        let (status, text) = read_response(&mut s).await;
        assert_eq!(status, 200, "after {method} {path}: {text}");
    }
}

/// Reads one HTTP/1.1 answer with a `content-length` body: its status and body.
async fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut byte))
            .await
            .expect("an answer within 10 s")
            .expect("the connection stays open");
        assert_eq!(
            n,
            1,
            "connection closed after {:?}",
            String::from_utf8_lossy(&got)
        );
        got.push(byte[0]);
    }
    let head = String::from_utf8(got).unwrap();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn a_client_disconnecting_mid_invoke_does_not_lose_the_invocation() {
    let emu = start(vec![function("f", "").timeout(Duration::from_secs(20))]).await;
    emu.invoke("f", "{}").await.unwrap(); // warm up
    let gate = Gate::new("disconnect");
    let body = serde_json::json!({ "print": 1, "wait_for": gate.path() }).to_string();
    let mut s = TcpStream::connect(emu.addr()).await.unwrap();
    s.write_all(
        format!(
            "POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // The function has the event (it printed), and waits for the gate: hang up mid-invoke.
    wait_for_line(&emu, "f", |t| t == "line 0").await;
    drop(s);
    gate.open();
    // The invocation completes and is logged.
    wait_until("the second REPORT", Duration::from_secs(60), || {
        reports(&emu, "f").len() == 2
    })
    .await;
    // And the environment is reused afterwards.
    let r = emu.invoke("f", "{}").await.unwrap().json().unwrap();
    assert_eq!(r["count"], 3);
}

#[tokio::test]
async fn concurrent_invokes_beyond_reserved_concurrency_are_throttled() {
    // `max_environments` is the old name of `reserved_concurrency`.
    let emu = start(vec![function("par", "")
        .max_environments(3)
        .timeout(Duration::from_secs(60))])
    .await;
    // The three admitted invocations wait for the gate, which opens once the other four have
    // been answered: they cannot finish early and make room, however slow the machine.
    let gate = Gate::new("par");
    let payload = serde_json::json!({ "wait_for": gate.path() }).to_string();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..7 {
        let endpoint = emu.endpoint().to_owned();
        let payload = payload.clone();
        calls.spawn(async move { invoke_raw(&endpoint, "par", &[], payload).await });
    }
    let mut results = Vec::new();
    while let Some(r) = calls.join_next().await {
        results.push(r.unwrap());
        if results.iter().filter(|r| r.status == 429).count() == 4 {
            gate.open();
        }
    }
    let mut pids = HashSet::new();
    let mut throttled = 0;
    for r in &results {
        if r.status == 429 {
            throttled += 1;
            continue;
        }
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.header("x-amz-function-error"), None, "{:?}", r.body);
        pids.insert(r.json()["pid"].as_i64().unwrap());
    }
    assert_eq!(throttled, 4);
    assert_eq!(
        pids.len(),
        3,
        "one environment per admitted invoke: {pids:?}"
    );
    let cold = reports(&emu, "par")
        .iter()
        .filter(|r| r.contains("Init Duration"))
        .count();
    assert_eq!(cold, 3);
}

#[tokio::test]
async fn parallel_invokes_below_the_cap_each_get_an_environment() {
    let emu = start(vec![function("wide", "").timeout(Duration::from_secs(60))]).await;
    // Each invocation waits until all four have started: they overlap by construction.
    let barrier = Barrier::new("wide", 4);
    let payload = serde_json::json!({ "barrier": barrier.spec() }).to_string();
    let calls: Vec<_> = (0..4)
        .map(|_| emu.invoke("wide", payload.clone()))
        .collect();
    let results = futures_join(calls).await;
    let pids: HashSet<i64> = results
        .iter()
        .map(|r| r.as_ref().unwrap().json().unwrap()["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(pids.len(), 4);
}

#[tokio::test]
async fn beyond_reserved_concurrency_is_too_many_requests_at_once() {
    let emu = start(vec![FunctionConfig::new("one")
        .command(["/bin/sh", "-c", "echo never calling next; exec sleep 1000"])
        .max_environments(1)
        .init_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))])
    .await;
    let first = emu.invoke("one", "{}");
    let second = async {
        // The first holds the only slot once its Init has begun; it keeps it for at least the
        // two-second function timeout of the retried Init.
        wait_for_line(&emu, "one", |t| t == "never calling next").await;
        invoke_raw(emu.endpoint(), "one", &[], "{}").await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(
        first.unwrap().error_type().as_deref(),
        Some("Sandbox.Timedout")
    );
    assert_service_error(&second, 429, "TooManyRequestsException");
    assert_eq!(
        second.json()["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
}

#[tokio::test]
async fn event_invocations_queue_behind_the_cap_and_all_run() {
    let emu = start(vec![function("ev", "")
        .max_environments(1)
        .timeout(Duration::from_secs(5))])
    .await;
    let event = InvokeOptions {
        invocation_type: InvocationType::Event,
        ..Default::default()
    };
    for _ in 0..5 {
        let r = emu
            .invoke_with("ev", r#"{"sleep": 0.05}"#, &event)
            .await
            .unwrap();
        assert_eq!(r.status, 202);
    }
    wait_until("five REPORT lines", Duration::from_secs(60), || {
        reports(&emu, "ev").len() == 5
    })
    .await;
    let reports = reports(&emu, "ev");
    assert_eq!(reports.len(), 5);
    assert_eq!(
        reports
            .iter()
            .filter(|r| r.contains("Init Duration"))
            .count(),
        1
    );
}

async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    join_all(futures.into_iter().map(Box::pin).collect()).await
}

async fn join_all<F: std::future::Future + Unpin>(mut futures: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futures.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match std::pin::Pin::new(f).poll(cx) {
                    Poll::Ready(v) => outputs[i] = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future completed"))
        .collect()
}

#[tokio::test]
async fn names_and_qualifiers_follow_lambdas_patterns() {
    let emu = start(vec![function("known", "")]).await;
    let e = emu.endpoint();
    // A `.` is legal in a name: an unknown one is 404, not a malformed one.
    let r = invoke_raw(e, "hel.lo", &[], "{}").await;
    assert_service_error(&r, 404, "ResourceNotFoundException");
    // Malformed qualifiers and accounts are 400 ValidationException.
    let long = format!("known:{}", "q".repeat(129));
    for name in [
        "known:a!b",
        long.as_str(),
        "12:function:known",
        "arn:aws:lambda:us-east-1:12:function:known",
        "arn:aws:lambda:useast1:123456789012:function:known",
    ] {
        let r = invoke_raw(e, name, &[], "{}").await;
        assert_service_error(&r, 400, "ValidationException");
    }
    let r = send(
        e,
        "POST",
        "/2015-03-31/functions/known/invocations?Qualifier=a%21b",
        &[],
        "{}",
    )
    .await;
    assert_service_error(&r, 400, "ValidationException");
    // An ARN of another partition than the region's names no function here.
    let r = invoke_raw(
        e,
        "arn:aws-cn:lambda:us-east-1:123456789012:function:known",
        &[],
        "{}",
    )
    .await;
    assert_service_error(&r, 404, "ResourceNotFoundException");
    // Reads through a qualifier that does not exist are 404; through one that does, 200.
    for path in [
        "/2019-09-30/functions/known:zzz/concurrency",
        "/2015-03-31/functions/known:zzz/aliases",
        "/2015-03-31/functions/known:1/versions",
        "/2015-03-31/functions/known:zzz/aliases/live",
        "/2021-10-31/functions/known:zzz/urls",
    ] {
        let r = send(e, "GET", path, &[], "").await;
        assert_service_error(&r, 404, "ResourceNotFoundException");
    }
    let r = send(
        e,
        "GET",
        "/2019-09-30/functions/known:$LATEST/concurrency",
        &[],
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(texts(&emu, "known").is_empty(), "nothing ran");
}

#[tokio::test]
async fn invoke_async_is_an_event_answered_status_202() {
    let emu = start(vec![function("known", "")]).await;
    let e = emu.endpoint();
    let r = send(
        e,
        "POST",
        "/2014-11-13/functions/known/invoke-async/",
        &[],
        r#"{"print": 1}"#,
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.json(), serde_json::json!({"Status": 202}));
    let id = r.header("x-amzn-requestid").unwrap().to_owned();
    wait_for_line(&emu, "known", |l| {
        l.starts_with(&format!("REPORT RequestId: {id}"))
    })
    .await;
    // The errors are Invoke's.
    let r = send(
        e,
        "POST",
        "/2014-11-13/functions/nope/invoke-async/",
        &[],
        "{}",
    )
    .await;
    assert_service_error(&r, 404, "ResourceNotFoundException");
    let r = send(
        e,
        "POST",
        "/2014-11-13/functions/known/invoke-async/",
        &[],
        "{x",
    )
    .await;
    assert_service_error(&r, 400, "InvalidRequestContentException");
    let too_big = format!("\"{}\"", "x".repeat(1_048_575));
    let r = send(
        e,
        "POST",
        "/2014-11-13/functions/known/invoke-async/",
        &[],
        too_big,
    )
    .await;
    assert_service_error(&r, 413, "RequestTooLargeException");
}

/// A streamed response too large for a buffered `Invoke` fails with
/// `Function.ResponseSizeTooLarge` naming its real size, as Lambda's message does (the bytes
/// past the limit are counted, not kept).
#[tokio::test]
async fn a_buffered_invoke_of_a_too_large_stream_reports_its_real_size() {
    let emu = start(vec![streaming_support::stream_fn("s", "events")]).await;
    let r = emu
        .invoke("s", serde_json::json!({"repeat": [110, 65537]}).to_string())
        .await
        .unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(doc["errorType"], "Function.ResponseSizeTooLarge");
    assert_eq!(
        doc["errorMessage"],
        format!(
            "Response payload size ({} bytes) exceeded maximum allowed payload size (6291556 bytes).",
            110 * 65537
        )
    );
}
