//! An axum app as a Lambda function: the same `Router` you would serve with hyper, handed to
//! `firebox_runtime::http::run`. It answers API Gateway (REST and HTTP API), ALB and function
//! URL events.
//!
//! Routes:
//! - `GET /hello/{name}`: `Hello, {name}!` (text)
//! - `POST /echo`: the JSON body, back (400 when it is not JSON)
//! - `GET /binary`: a 1x1 PNG (`image/png`, sent base64-encoded in the event response)
//! - `GET /cookies`: sets the cookies `flavor=chocolate` and `session=abc123`
//! - `GET /query`: the query parameters, as a JSON array of `[name, value]` pairs (repeated
//!   names kept in order)
//! - `GET /context`: the Lambda request id and the event format
//!
//! Set `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=1` behind an API Gateway stage other than
//! `$default` so these routes match without the stage prefix.

use axum::{
    extract::{Path, Query},
    http::header,
    response::{AppendHeaders, IntoResponse},
    routing::{get, post},
    Extension, Json, Router,
};
use firebox_runtime::{http::RequestContext, Context, Error};
use serde_json::{json, Value};

/// A 1x1 PNG.
const PIXEL: &[u8] = include_bytes!("pixel.png");

fn app() -> Router {
    Router::new()
        .route("/hello/{name}", get(hello))
        .route("/echo", post(echo))
        .route("/binary", get(binary))
        .route("/cookies", get(cookies))
        .route("/query", get(query))
        .route("/context", get(context))
}

async fn hello(Path(name): Path<String>) -> String {
    format!("Hello, {name}!")
}

async fn echo(Json(body): Json<Value>) -> Json<Value> {
    Json(body)
}

async fn binary() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "image/png")], PIXEL)
}

async fn cookies() -> impl IntoResponse {
    // `AppendHeaders` keeps both; a plain array of headers would replace the first.
    (
        AppendHeaders([
            (header::SET_COOKIE, "flavor=chocolate; Path=/"),
            (header::SET_COOKIE, "session=abc123; Path=/; HttpOnly"),
        ]),
        "two cookies set",
    )
}

async fn query(Query(pairs): Query<Vec<(String, String)>>) -> Json<Vec<(String, String)>> {
    Json(pairs)
}

async fn context(
    Extension(lambda): Extension<Context>,
    Extension(request): Extension<RequestContext>,
) -> Json<Value> {
    let format = match request {
        RequestContext::ApiGatewayV1(_) => "apigw-v1",
        RequestContext::ApiGatewayV2(_) => "apigw-v2",
        RequestContext::Alb(_) => "alb",
        RequestContext::FunctionUrl(_) => "function-url",
        _ => "unknown",
    };
    Json(json!({ "requestId": lambda.request_id, "format": format }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    firebox_runtime::http::run(app()).await
}
