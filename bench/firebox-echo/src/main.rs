//! The standard echo function written with `firebox-runtime`: the same code as
//! `official-echo` with the crate name changed, on Firebox's default current-thread runtime.

use firebox_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|event: LambdaEvent<serde_json::Value>| async {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
