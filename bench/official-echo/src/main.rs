//! The standard echo function written with the official `lambda_runtime` crate: the baseline the
//! `firebox-bench runtime` harness compares Firebox against.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|event: LambdaEvent<serde_json::Value>| async {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
