//! `#[handler]` picks its invocation loops from the handler's types: a handler whose future or
//! `init` state is not `Send` (or whose state is not `Sync`) compiles and serves one invocation
//! at a time, and refuses `AWS_LAMBDA_MAX_CONCURRENCY` above 1 at Init; a `Send` one serves N at
//! once. Each generated `main` runs in a child process (this test binary, started again with
//! `FIREBOX_HANDLER_CHILD` naming the handler) against the loopback Runtime API server.

mod support;

use std::{process::Output, time::Duration};

use serde_json::{json, Value};
use support::{lambda_env, Answers, Invocation, RuntimeApiServer};

/// Holds an `Rc` across an `.await`: its future is not `Send`.
mod non_send_future {
    use std::rc::Rc;

    use firebox_runtime::{handler, Context, Error};
    use serde_json::{json, Value};

    #[handler]
    async fn echo(event: Value, ctx: Context) -> Result<Value, Error> {
        let held = Rc::new(event);
        tokio::task::yield_now().await;
        Ok(json!({ "echo": *held, "requestId": ctx.request_id }))
    }

    pub fn serve() {
        main()
    }
}

/// `init` state with an `Rc`: neither `Send` nor `Sync`.
mod non_send_state {
    use std::{cell::Cell, rc::Rc};

    use firebox_runtime::{handler, Context, Error};

    pub struct State {
        count: Rc<Cell<u64>>,
    }

    async fn build() -> Result<State, Error> {
        Ok(State {
            count: Rc::new(Cell::new(0)),
        })
    }

    #[handler(init = build)]
    async fn count(_event: serde_json::Value, _ctx: Context, state: &State) -> Result<u64, Error> {
        state.count.set(state.count.get() + 1);
        tokio::task::yield_now().await;
        Ok(state.count.get())
    }

    pub fn serve() {
        main()
    }
}

/// `init` state with a `Cell`: `Send` but not `Sync`, taken as `Arc<S>`.
mod non_sync_state {
    use std::{cell::Cell, sync::Arc};

    use firebox_runtime::{handler, Context, Error};

    pub struct State {
        count: Cell<u64>,
    }

    async fn build() -> Result<State, Error> {
        Ok(State {
            count: Cell::new(0),
        })
    }

    #[handler(init = build)]
    async fn count(
        _event: serde_json::Value,
        _ctx: Context,
        state: Arc<State>,
    ) -> Result<u64, Error> {
        state.count.set(state.count.get() + 1);
        Ok(state.count.get())
    }

    pub fn serve() {
        main()
    }
}

/// `Send` future and `Send + Sync` state: each invocation waits until two are running.
mod send_handler {
    use firebox_runtime::{handler, Context, Error};
    use tokio::sync::Barrier;

    async fn build() -> Result<Barrier, Error> {
        Ok(Barrier::new(2))
    }

    #[handler(init = build)]
    async fn meet(
        event: serde_json::Value,
        _ctx: Context,
        both: &Barrier,
    ) -> Result<serde_json::Value, Error> {
        both.wait().await;
        Ok(event)
    }

    pub fn serve() {
        main()
    }
}

const CHILD: &str = "FIREBOX_HANDLER_CHILD";

/// Not a test of its own: the entry point of the child processes, which run one of the
/// handlers' generated `main` (through `serve`; it exits the process).
#[test]
fn child() {
    match std::env::var(CHILD).as_deref() {
        Ok("non_send_future") => non_send_future::serve(),
        Ok("non_send_state") => non_send_state::serve(),
        Ok("non_sync_state") => non_sync_state::serve(),
        Ok("send_handler") => send_handler::serve(),
        Ok(other) => panic!("no handler {other}"),
        Err(_) => {}
    }
}

/// Runs handler `name`'s `main` against `server` until it exits.
async fn run_handler(name: &str, server: &RuntimeApiServer, extra: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = tokio::process::Command::new(exe);
    command
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(CHILD, name)
        .envs(lambda_env(&server.api()))
        .envs(extra.iter().copied())
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the handler exits when the script is exhausted (a hang means the invocations never overlapped)")
        .expect("the test binary starts")
}

/// The results posted, in order: (path, body).
fn posts(server: &RuntimeApiServer) -> Vec<(String, Value)> {
    server
        .records()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| (r.path.clone(), r.json()))
        .collect()
}

#[tokio::test]
async fn a_non_send_future_compiles_and_serves_one_invocation_at_a_time() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", json!({"n": 1})),
        Invocation::json("id-2", json!({"n": 2})),
    ])
    .await;
    let done = run_handler("non_send_future", &server, &[]).await;
    assert_eq!(
        done.status.code(),
        Some(1),
        "stops when the script ends: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    let next = format!("GET {}", server.path("invocation/next"));
    assert_eq!(
        server.lines(),
        vec![
            next.clone(),
            format!("POST {}", server.path("invocation/id-1/response")),
            next.clone(),
            format!("POST {}", server.path("invocation/id-2/response")),
            next,
        ],
        "one loop: each /next after the previous answer"
    );
    assert_eq!(server.connections(), 1);
    assert_eq!(
        posts(&server)[1].1,
        json!({"echo": {"n": 2}, "requestId": "id-2"})
    );
}

#[tokio::test]
async fn non_send_and_non_sync_states_compile_and_are_kept_between_invocations() {
    for name in ["non_send_state", "non_sync_state"] {
        let server = RuntimeApiServer::start(
            (1..=3)
                .map(|n| Invocation::json(&format!("id-{n}"), json!({})))
                .collect(),
        )
        .await;
        let done = run_handler(name, &server, &[]).await;
        assert_eq!(
            done.status.code(),
            Some(1),
            "{name}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        let counts: Vec<Value> = posts(&server).into_iter().map(|(_, body)| body).collect();
        assert_eq!(counts, vec![json!(1), json!(2), json!(3)], "{name}");
        assert_eq!(server.connections(), 1, "{name}: one loop");
    }
}

#[tokio::test]
async fn non_send_handlers_refuse_multi_concurrency_at_init() {
    for name in ["non_send_future", "non_send_state", "non_sync_state"] {
        let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
        let done = run_handler(name, &server, &[("AWS_LAMBDA_MAX_CONCURRENCY", "2")]).await;
        assert_eq!(done.status.code(), Some(1), "{name}");
        let records = server.records();
        assert_eq!(records.len(), 1, "{name}: no /next after a failed init");
        assert_eq!(records[0].path, server.path("init/error"));
        let error = records[0].json();
        assert_eq!(error["errorType"], "Runtime.InvalidEnvironment", "{name}");
        let message = error["errorMessage"].as_str().unwrap_or_default();
        assert!(
            message.contains("AWS_LAMBDA_MAX_CONCURRENCY=2")
                && message.contains("#[handler]")
                && message.contains("not `Send`"),
            "{name}: {message}"
        );
    }
}

#[tokio::test]
async fn a_send_handler_serves_several_invocations_at_once() {
    let server = RuntimeApiServer::start_with(
        vec![
            Invocation::json("id-1", json!({"n": 1})),
            Invocation::json("id-2", json!({"n": 2})),
        ],
        Answers {
            // No /next is answered until two are outstanding: one loop would wait forever.
            hold_next: 2,
            ..Answers::default()
        },
        "",
    )
    .await;
    // And neither handler answers before the other has started.
    let done = run_handler(
        "send_handler",
        &server,
        &[("AWS_LAMBDA_MAX_CONCURRENCY", "2")],
    )
    .await;
    assert_eq!(
        done.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let mut answered = posts(&server);
    answered.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        answered,
        vec![
            (server.path("invocation/id-1/response"), json!({"n": 1})),
            (server.path("invocation/id-2/response"), json!({"n": 2})),
        ]
    );
    assert_eq!(server.connections(), 2, "two loops, two connections");
}
