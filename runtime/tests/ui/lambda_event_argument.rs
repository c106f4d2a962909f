use firebox_runtime::{handler, Error, LambdaEvent};

#[handler]
async fn hello(event: LambdaEvent<serde_json::Value>) -> Result<serde_json::Value, Error> {
    Ok(event.payload)
}
