//! The fake Runtime API spoken to directly over HTTP: the headers of `/next`, and the answers
//! to wrong ids, second answers, unknown paths, wrong methods and oversized responses.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use firebox_bench::runtime_api::{ApiConfig, Phase, RuntimeApiServer, MAX_RESPONSE_BYTES};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:bench-echo";

async fn client(addr: std::net::SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

async fn call(
    c: &mut SendRequest<Full<Bytes>>,
    method: &str,
    path: &str,
    body: Bytes,
) -> (StatusCode, http::HeaderMap, Bytes) {
    c.ready().await.unwrap();
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "runtime")
        .body(Full::new(body))
        .unwrap();
    let resp = c.send_request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

/// Starts the Runtime API for `ARN` serving `payload` to `warmup` then `invocations`
/// invocations, checking that responses echo it, with a 60 s timeout.
async fn start(payload: &'static [u8], warmup: u64, invocations: u64) -> RuntimeApiServer {
    RuntimeApiServer::start(ApiConfig {
        payload: Bytes::from_static(payload),
        warmup,
        invocations,
        function_arn: ARN.into(),
        timeout: Duration::from_secs(60),
        check_echo: true,
    })
    .await
    .unwrap()
}

fn error_type(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    v["errorType"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_headers_and_bad_requests() {
    let mut api = start(br#"{"k":"v"}"#, 0, 2).await;
    let addr = api.addr();

    let runtime = tokio::spawn(async move {
        let mut c = client(addr).await;
        let base = "/2018-06-01/runtime/invocation";

        let (status, h, body) = call(&mut c, "GET", &format!("{base}/next"), Bytes::new()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..], br#"{"k":"v"}"#);
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["lambda-runtime-invoked-function-arn"], ARN);
        let id = h["lambda-runtime-aws-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        let deadline: u128 = h["lambda-runtime-deadline-ms"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        assert!(
            deadline > now && deadline <= now + 61_000,
            "{deadline} vs {now}"
        );
        assert!(h["lambda-runtime-trace-id"]
            .to_str()
            .unwrap()
            .starts_with("Root=1-"));

        // Wrong id: 400, nothing changes.
        let (status, _, body) = call(
            &mut c,
            "POST",
            &format!("{base}/not-the-id/response"),
            Bytes::from_static(b"{}"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error_type(&body), "InvalidRequestID");

        // Unknown path and wrong method.
        let (status, _, body) =
            call(&mut c, "GET", "/2018-06-01/runtime/nothing", Bytes::new()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(error_type(&body), "InvalidPath");
        let (status, _, _) = call(&mut c, "POST", &format!("{base}/next"), Bytes::new()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

        // The right answer: 202, then a second answer for the same id: 400.
        let (status, _, body) = call(
            &mut c,
            "POST",
            &format!("{base}/{id}/response"),
            Bytes::from_static(br#"{ "k": "v" }"#),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(&body[..], br#"{"status":"OK"}"#);
        let (status, _, _) = call(
            &mut c,
            "POST",
            &format!("{base}/{id}/response"),
            Bytes::from_static(b"{}"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // Second event: answered with a response over the limit.
        let (_, h, _) = call(&mut c, "GET", &format!("{base}/next"), Bytes::new()).await;
        let id2 = h["lambda-runtime-aws-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        assert_ne!(id, id2);
        let big = Bytes::from(vec![b'a'; MAX_RESPONSE_BYTES + 1]);
        let (status, _, body) = call(&mut c, "POST", &format!("{base}/{id2}/response"), big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(error_type(&body), "RequestEntityTooLarge");

        // Everything is answered: this /next is held, never answered.
        let held = tokio::time::timeout(
            Duration::from_millis(300),
            call(&mut c, "GET", &format!("{base}/next"), Bytes::new()),
        )
        .await;
        assert!(held.is_err(), "the last /next must be held");
    });

    let mut phases = Vec::new();
    while let Some(m) = api.milestone().await {
        phases.push(m.phase.clone());
        let _ = m.resume.send(());
        if m.phase == Phase::Done {
            break;
        }
    }
    runtime.await.unwrap();
    assert_eq!(phases, vec![Phase::Init, Phase::Done]);

    let stats = api.finish().await;
    assert_eq!(stats.ok, 1, "the JSON-equal echo counts");
    assert_eq!(
        stats.function_errors.get("Function.ResponseSizeTooLarge"),
        Some(&1)
    );
    assert_eq!(stats.latency.len(), 1);
    let refused: u64 = stats.refused.values().sum();
    assert_eq!(refused, 4, "{:?}", stats.refused);
}

#[tokio::test]
async fn error_posts_are_counted_by_type_from_header_or_body() {
    let mut api = start(b"{}", 1, 2).await;
    let addr = api.addr();
    let runtime = tokio::spawn(async move {
        let mut c = client(addr).await;
        let base = "/2018-06-01/runtime/invocation";
        let bodies: [(Option<&str>, &[u8]); 3] = [
            (None, b"{}"), // warm-up, not counted
            (Some("OrderNotFound"), b"not json"),
            (None, br#"{"errorType":"Panic","errorMessage":"boom"}"#),
        ];
        for (header, body) in bodies {
            let (_, h, _) = call(&mut c, "GET", &format!("{base}/next"), Bytes::new()).await;
            let id = h["lambda-runtime-aws-request-id"]
                .to_str()
                .unwrap()
                .to_string();
            c.ready().await.unwrap();
            let mut req = Request::post(format!("{base}/{id}/error"))
                .header("host", "runtime")
                .header("content-type", "application/json");
            if let Some(t) = header {
                req = req.header("lambda-runtime-function-error-type", t);
            }
            let resp = c
                .send_request(req.body(Full::new(Bytes::from_static(body))).unwrap())
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::ACCEPTED);
        }
        // The /next after the last answer marks Done and is held.
        let held = tokio::time::timeout(
            Duration::from_millis(300),
            call(&mut c, "GET", &format!("{base}/next"), Bytes::new()),
        )
        .await;
        assert!(held.is_err());
    });
    let mut phases = Vec::new();
    while let Some(m) = api.milestone().await {
        phases.push(m.phase.clone());
        let _ = m.resume.send(());
        if m.phase == Phase::Done {
            break;
        }
    }
    runtime.await.unwrap();
    assert_eq!(phases, [Phase::Init, Phase::WarmedUp, Phase::Done]);
    let stats = api.finish().await;
    assert_eq!(stats.ok, 0);
    assert_eq!(stats.function_errors.get("OrderNotFound"), Some(&1));
    assert_eq!(stats.function_errors.get("Panic"), Some(&1));
}

#[tokio::test]
async fn an_arn_that_is_not_a_header_value_is_refused() {
    let err = RuntimeApiServer::start(ApiConfig {
        payload: Bytes::new(),
        warmup: 0,
        invocations: 1,
        function_arn: "bad\narn".into(),
        timeout: Duration::from_secs(1),
        check_echo: false,
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("ARN"), "{err}");
}
