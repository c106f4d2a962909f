//! The load generator against real loopback HTTP servers: the echo floor, a server that mixes
//! function errors and throttles, one that closes every connection, and one that never answers.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use firebox_bench::echo_server::EchoServer;
use firebox_bench::endpoint::Endpoint;
use firebox_bench::loadgen::{self, LoadConfig};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

fn config(addr: &str, concurrency: usize, invocations: u64, warmup: u64) -> LoadConfig {
    let endpoint = Endpoint::parse(&format!("http://{addr}")).unwrap();
    LoadConfig {
        path: endpoint.invoke_path("hello", None).unwrap(),
        endpoint,
        payload: Bytes::from_static(br#"{"name":"bench"}"#),
        headers: Vec::new(),
        concurrency,
        invocations,
        warmup,
        request_timeout: Duration::from_secs(10),
        label: "test".into(),
        cpu_pids: Vec::new(),
    }
}

/// Serves `handler` on an ephemeral port; `keep_alive` false closes after each answer.
async fn serve<F, Fut>(keep_alive: bool, handler: F) -> String
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let handler = handler.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let fut = handler(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(keep_alive)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_floor_answers_every_request_over_kept_alive_connections() {
    let server = EchoServer::bind("127.0.0.1:0").await.unwrap();
    let report = loadgen::run(config(&server.local_addr().to_string(), 4, 500, 20))
        .await
        .unwrap();
    assert_eq!(report.ok, 500);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.latency.count, 500);
    assert_eq!(report.connections_opened, 4, "one connection per client");
    assert_eq!(report.first_request_outcome, "ok");
    assert!(report.first_request_us.is_some());
    assert!(report.throughput_per_s > 0.0);
    server.shutdown().await;
}

#[tokio::test]
async fn echo_floor_returns_the_body() {
    let server = EchoServer::bind("127.0.0.1:0").await.unwrap();
    let stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::post("/anything")
        .header("host", "x")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(br#"{"a":1}"#)))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], br#"{"a":1}"#);
}

#[tokio::test]
async fn errors_are_counted_by_status_and_function_error() {
    let counter = Arc::new(AtomicU64::new(0));
    let addr = serve(true, move |_req| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let mut resp = Response::new(Full::new(Bytes::from_static(b"{}")));
            match n % 3 {
                0 => {}
                1 => {
                    resp.headers_mut()
                        .insert("x-amz-function-error", "Unhandled".parse().unwrap());
                }
                _ => {
                    *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                    resp.headers_mut().insert(
                        "x-amzn-errortype",
                        "TooManyRequestsException".parse().unwrap(),
                    );
                }
            }
            resp
        }
    })
    .await;
    // One client, no warm-up: the first request takes answer 0 (ok), the 9 measured ones take
    // answers 1..=9, three of each kind.
    let report = loadgen::run(config(&addr, 1, 9, 0)).await.unwrap();
    assert_eq!(report.first_request_outcome, "ok");
    assert_eq!(report.ok, 3);
    assert_eq!(report.errors.get("function error: Unhandled"), Some(&3));
    assert_eq!(
        report.errors.get("HTTP 429 TooManyRequestsException"),
        Some(&3)
    );
    assert_eq!(report.error_count(), 6);
    assert_eq!(
        report.latency.count, 3,
        "only successes are in the histogram"
    );
}

#[tokio::test]
async fn a_server_that_closes_every_connection_is_survived() {
    let addr = serve(false, |_req| async {
        Response::new(Full::new(Bytes::from_static(b"{}")))
    })
    .await;
    let report = loadgen::run(config(&addr, 2, 50, 0)).await.unwrap();
    assert_eq!(report.ok, 50, "{:?}", report.errors);
    assert!(
        report.connections_opened >= 25,
        "reconnects after each close: {}",
        report.connections_opened
    );
}

#[tokio::test]
async fn a_server_that_never_answers_gives_timeouts() {
    let addr = serve(true, |_req| async {
        std::future::pending::<()>().await;
        Response::new(Full::new(Bytes::new()))
    })
    .await;
    let mut cfg = config(&addr, 2, 4, 0);
    cfg.request_timeout = Duration::from_millis(200);
    let report = loadgen::run(cfg).await.unwrap();
    assert_eq!(report.ok, 0);
    assert_eq!(report.first_request_outcome, "timeout");
    assert_eq!(report.errors.get("timeout"), Some(&4));
}

#[tokio::test]
async fn an_unreachable_endpoint_counts_connection_errors() {
    // Bind then drop, so the port is (almost certainly) closed.
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().to_string()
    };
    let report = loadgen::run(config(&addr, 3, 6, 0)).await.unwrap();
    assert_eq!(report.ok, 0);
    assert_eq!(report.error_count(), 6);
    assert!(
        report.errors.keys().all(|k| k.starts_with("connect")),
        "{:?}",
        report.errors
    );
}

#[tokio::test]
async fn zero_concurrency_or_invocations_is_refused() {
    let server = EchoServer::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().to_string();
    assert!(loadgen::run(config(&addr, 0, 10, 0)).await.is_err());
    assert!(loadgen::run(config(&addr, 1, 0, 0)).await.is_err());
}
