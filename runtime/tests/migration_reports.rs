//! Migration of functions that return `anyhow`, `eyre` or `miette` errors: with the features of
//! the same names (as in `lambda_runtime`), a handler returns them as they are, or through
//! `IntoDiagnostic`, and the caller gets a meaningful `errorType` and the whole message.
//!
//! Built only with all three features: `cargo test -p firebox-runtime --features
//! anyhow,eyre,miette --test migration_reports` (`scripts/test` runs it).
#![cfg(all(feature = "anyhow", feature = "eyre", feature = "miette"))]

extern crate firebox_runtime as lambda_runtime;

mod support;

use lambda_runtime::{service_fn, Diagnostic, IntoDiagnostic, LambdaEvent};
use serde::Deserialize;
use serde_json::{json, Value};
use support::{config, Invocation, RuntimeApiServer};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum Kind {
    Anyhow,
    Eyre,
    Miette,
}

#[derive(Deserialize)]
struct Request {
    kind: Kind,
}

#[derive(Debug, thiserror::Error)]
#[error("order {0} is not there")]
struct OrderNotFound(u32);

/// As `lambda_runtime`'s `basic-error-error-crates-integration` example: `into_diagnostic`.
async fn with_into_diagnostic(event: LambdaEvent<Request>) -> Result<(), Diagnostic> {
    match event.payload.kind {
        Kind::Anyhow => {
            Err(anyhow::anyhow!("This is an error message from Anyhow").into_diagnostic())
        }
        Kind::Eyre => Err(eyre::eyre!("This is an error message from Eyre").into_diagnostic()),
        Kind::Miette => Err(miette::miette!(
            code = "orders::not_found",
            "This is an error message from Miette"
        )
        .into_diagnostic()),
    }
}

/// Firebox also takes `anyhow::Result` as it is (`From<anyhow::Error> for Diagnostic`).
async fn with_anyhow_result(_event: LambdaEvent<Value>) -> anyhow::Result<Value> {
    use anyhow::Context as _;
    Err(OrderNotFound(7)).context("Reading the order failed")
}

async fn run_one<F, Fut, A>(handler: F, payload: Value) -> Value
where
    F: Fn(LambdaEvent<A>) -> Fut,
    Fut: std::future::Future<Output = Result<(), Diagnostic>>,
    A: serde::de::DeserializeOwned,
{
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", payload)]).await;
    let _ = lambda_runtime::Runtime::new(service_fn(handler))
        .with_config(config(&server.api(), &[]))
        .run()
        .await;
    server.records()[1].json()
}

#[tokio::test]
async fn error_reports_convert_with_into_diagnostic() {
    assert_eq!(
        run_one(with_into_diagnostic, json!({"kind": "anyhow"})).await,
        json!({"errorType": "Error", "errorMessage": "This is an error message from Anyhow"})
    );
    assert_eq!(
        run_one(with_into_diagnostic, json!({"kind": "eyre"})).await,
        json!({"errorType": "Error", "errorMessage": "This is an error message from Eyre"})
    );
    assert_eq!(
        run_one(with_into_diagnostic, json!({"kind": "miette"})).await,
        json!({"errorType": "orders::not_found", "errorMessage": "This is an error message from Miette"})
    );
}

#[tokio::test]
async fn an_anyhow_result_is_named_after_its_root_cause_with_the_whole_message() {
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
    let _ = lambda_runtime::Runtime::new(service_fn(with_anyhow_result))
        .with_config(config(&server.api(), &[]))
        .run()
        .await;
    assert_eq!(
        server.records()[1].json(),
        json!({"errorType": "OrderNotFound", "errorMessage": "Reading the order failed: order 7 is not there"})
    );
}
