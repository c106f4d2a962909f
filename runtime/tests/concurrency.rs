//! Multi-concurrency (`AWS_LAMBDA_MAX_CONCURRENCY`) and connection recovery, against a real
//! loopback Runtime API server.

mod support;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use firebox_runtime::{run_with_init_concurrent, service_fn, Context, Error, LambdaEvent, Runtime};
use serde_json::{json, Value};
use support::{config, Answers, Invocation, RuntimeApiServer};
use tokio::sync::Barrier;

fn traced(id: &str, n: usize) -> Invocation {
    Invocation::json(id, json!({ "n": n })).with(
        "lambda-runtime-trace-id",
        &format!("Root=1-5759e988-00000000000000000000000{n};Parent=53995c3f42cd8ad{n};Sampled=1"),
    )
}

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .expect("the runtime stops when the script is exhausted (a hang means the invocations never overlapped)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_invocations_are_held_at_once_and_answered_out_of_order() {
    let server = RuntimeApiServer::start_with(
        (1..=4).map(|n| traced(&format!("id-{n}"), n)).collect(),
        Answers {
            // The server answers no /next until four are outstanding.
            hold_next: 4,
            ..Answers::default()
        },
        "",
    )
    .await;
    // And no handler answers until all four have started.
    let started = Arc::new(Barrier::new(4));
    let contexts: Arc<Mutex<Vec<(usize, Context)>>> = Arc::default();
    let (watcher, seen) = (server.clone(), contexts.clone());
    let service = service_fn(move |event: LambdaEvent<Value>| {
        let (started, watcher, seen) = (started.clone(), watcher.clone(), seen.clone());
        async move {
            let n = event.payload["n"].as_u64().unwrap() as usize;
            started.wait().await;
            // Answer in reverse order: id-4 first, id-1 last.
            watcher.wait_posted(4 - n).await;
            let trace = event.context.xray_trace_id.clone();
            seen.lock().unwrap().push((n, event.context));
            Ok::<_, Error>(json!({ "n": n, "trace": trace }))
        }
    });
    let result = within(
        Runtime::new(service)
            .with_config(config(
                &server.api(),
                &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")],
            ))
            .run_concurrent(),
    )
    .await;
    assert!(result.unwrap_err().to_string().contains("500"));

    let records = server.records();
    let posts: Vec<_> = records.iter().filter(|r| r.method == "POST").collect();
    let order: Vec<_> = posts.iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        order,
        (1..=4)
            .rev()
            .map(|n| server.path(&format!("invocation/id-{n}/response")))
            .collect::<Vec<_>>()
    );
    // Each answer carries its own invocation's payload and trace id.
    for post in &posts {
        let n = post.json()["n"].as_u64().unwrap();
        assert!(post.path.contains(&format!("id-{n}/")), "{}", post.path);
        assert!(post.json()["trace"]
            .as_str()
            .unwrap()
            .ends_with(&format!("Parent=53995c3f42cd8ad{n};Sampled=1")));
    }
    let contexts = contexts.lock().unwrap();
    for (n, ctx) in contexts.iter() {
        assert_eq!(ctx.request_id, format!("id-{n}"));
    }
    // Four loops, four connections; each invocation answered on the connection it came on.
    assert_eq!(server.connections(), 4);
    let connections: HashSet<_> = posts.iter().map(|r| r.connection).collect();
    assert_eq!(connections.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_one_invocation_leaves_the_others_alone() {
    let server = RuntimeApiServer::start_with(
        vec![
            traced("id-1", 1),
            traced("id-2", 2),
            traced("id-3", 3),
            traced("id-4", 4),
            traced("id-5", 5),
        ],
        Answers {
            hold_next: 4,
            ..Answers::default()
        },
        "",
    )
    .await;
    let started = Arc::new(Barrier::new(4));
    let service = service_fn(move |event: LambdaEvent<Value>| {
        let started = started.clone();
        async move {
            let n = event.payload["n"].as_u64().unwrap();
            if n <= 4 {
                started.wait().await;
            }
            if n == 2 {
                panic!("invocation 2 blew up");
            }
            Ok::<_, Error>(json!({ "n": n }))
        }
    });
    let result = within(
        Runtime::new(service)
            .with_config(config(
                &server.api(),
                &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")],
            ))
            .run_concurrent(),
    )
    .await;
    assert!(result.is_err());
    let records = server.records();
    let mut answered: Vec<(String, Value)> = records
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| (r.path.clone(), r.json()))
        .collect();
    answered.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        answered,
        vec![
            (server.path("invocation/id-1/response"), json!({"n": 1})),
            (
                server.path("invocation/id-2/error"),
                json!({"errorType": "Panic", "errorMessage": "invocation 2 blew up"})
            ),
            (server.path("invocation/id-3/response"), json!({"n": 3})),
            (server.path("invocation/id-4/response"), json!({"n": 4})),
            (server.path("invocation/id-5/response"), json!({"n": 5})),
        ]
    );
}

#[tokio::test]
async fn init_state_is_shared_by_concurrent_loops() {
    let server = RuntimeApiServer::start_with(
        vec![traced("id-1", 1), traced("id-2", 2)],
        Answers {
            hold_next: 2,
            ..Answers::default()
        },
        "",
    )
    .await;
    let result = within(run_with_init_concurrent(
        Some(config(
            &server.api(),
            &[("AWS_LAMBDA_MAX_CONCURRENCY", "2")],
        )),
        || async { Ok::<_, Error>(Barrier::new(2)) },
        |both: Arc<Barrier>| {
            service_fn(move |event: LambdaEvent<Value>| {
                let both = both.clone();
                async move {
                    // Both invocations meet on the one state built by init.
                    both.wait().await;
                    Ok::<_, Error>(event.payload)
                }
            })
        },
    ))
    .await;
    assert!(result.is_err());
    let posts = server
        .records()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 2);
}

#[tokio::test]
async fn without_the_variable_run_concurrent_is_the_single_loop() {
    let server = RuntimeApiServer::start(vec![traced("id-1", 1), traced("id-2", 2)]).await;
    let result = within(
        Runtime::new(service_fn(|e: LambdaEvent<Value>| async move {
            Ok::<_, Error>(e.payload)
        }))
        .with_config(config(&server.api(), &[]))
        .run_concurrent(),
    )
    .await;
    assert!(result.is_err());
    let next = format!("GET {}", server.path("invocation/next"));
    assert_eq!(
        server.lines(),
        vec![
            next.clone(),
            format!("POST {}", server.path("invocation/id-1/response")),
            next.clone(),
            format!("POST {}", server.path("invocation/id-2/response")),
            next,
        ]
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn run_refuses_multi_concurrency_at_init() {
    let server = RuntimeApiServer::start(vec![traced("id-1", 1)]).await;
    // Not `Send`: `run` accepts it, and cannot share it between loops.
    let local = std::rc::Rc::new(());
    let service = service_fn(move |e: LambdaEvent<Value>| {
        let _keep = local.clone();
        async move { Ok::<_, Error>(e.payload) }
    });
    let result = within(
        Runtime::new(service)
            .with_config(config(
                &server.api(),
                &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")],
            ))
            .run(),
    )
    .await;
    let error = server.assert_init_failed(result).json();
    assert_eq!(error["errorType"], "Runtime.InvalidEnvironment");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("AWS_LAMBDA_MAX_CONCURRENCY=4") && message.contains("run_concurrent"),
        "{message}"
    );
}

#[tokio::test]
async fn a_post_on_a_stale_connection_is_sent_again_on_a_new_one() {
    let server = RuntimeApiServer::start_with(
        vec![traced("id-1", 1), traced("id-2", 2)],
        Answers {
            drop_first_response: true,
            ..Answers::default()
        },
        "",
    )
    .await;
    let result = within(
        Runtime::new(service_fn(|e: LambdaEvent<Value>| async move {
            Ok::<_, Error>(e.payload)
        }))
        .with_config(config(&server.api(), &[]))
        .run(),
    )
    .await;
    let stop = result.unwrap_err().to_string();
    assert!(
        stop.contains("/invocation/next"),
        "stopped by the script's end: {stop}"
    );
    let records = server.records();
    let lines: Vec<_> = records.iter().map(|r| (r.line(), r.connection)).collect();
    let next = format!("GET {}", server.path("invocation/next"));
    let post = format!("POST {}", server.path("invocation/id-1/response"));
    assert_eq!(
        lines,
        vec![
            (next.clone(), 0),
            (post.clone(), 0),
            (post, 1),
            (next.clone(), 1),
            (
                format!("POST {}", server.path("invocation/id-2/response")),
                1
            ),
            (next, 1),
        ]
    );
    assert_eq!(records[2].json(), json!({"n": 1}));
}
