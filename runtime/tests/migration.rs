//! Migration: a function written for `lambda_runtime` 1.x compiles against `firebox_runtime`
//! with only the crate name changed, and runs.
//!
//! Everything below the `extern crate` line is written exactly as for `lambda_runtime`.

extern crate firebox_runtime as lambda_runtime;

mod support;

mod ported {
    use lambda_runtime::{
        run, service_fn, tracing, Context, Diagnostic, Error, LambdaEvent, Runtime, Service,
    };
    use serde::{Deserialize, Serialize};

    #[derive(Deserialize)]
    pub struct Request {
        pub command: String,
    }

    #[derive(Serialize)]
    pub struct Response {
        pub req_id: String,
        pub msg: String,
    }

    #[derive(Debug)]
    pub struct ErrorResponse(pub &'static str);

    impl From<ErrorResponse> for Diagnostic {
        fn from(error: ErrorResponse) -> Diagnostic {
            Diagnostic {
                error_type: "MyError".into(),
                error_message: error.0.to_string(),
            }
        }
    }

    pub async fn function_handler(event: LambdaEvent<Request>) -> Result<Response, Error> {
        let command = event.payload.command;
        let context: &Context = &event.context;
        tracing::info!(deadline = context.deadline, "handling");
        let _deadline: std::time::SystemTime = context.deadline();
        let _arn: &str = &context.invoked_function_arn;
        let _trace: Option<&String> = context.xray_trace_id.as_ref();
        let _name: &str = &context.env_config.function_name;
        Ok(Response {
            req_id: event.context.request_id,
            msg: format!("Command {command} executed."),
        })
    }

    pub async fn failing_handler(_event: LambdaEvent<()>) -> Result<(), ErrorResponse> {
        Err(ErrorResponse("this is an error response"))
    }

    /// The `main` of the ported function (`#[tokio::main]` on the real one).
    #[allow(dead_code)]
    pub async fn main() -> Result<(), Error> {
        tracing::init_default_subscriber();
        run(service_fn(function_handler)).await
    }

    /// The other documented shape: `Runtime::new(...).layer(...).run()`.
    #[allow(dead_code)]
    pub async fn main_with_runtime() -> Result<(), Error> {
        let func = service_fn(function_handler);
        Runtime::new(func)
            .layer(lambda_runtime::tower::layer::util::Identity::new())
            .run()
            .await
    }

    /// `Service` is re-exported like in `lambda_runtime`.
    pub fn assert_service<S: Service<LambdaEvent<Request>>>(_: &S) {}
}

/// `lambda_runtime`'s way to return an `anyhow::Error` without its `anyhow` feature: box it.
mod ported_anyhow {
    use lambda_runtime::{service_fn, Error, LambdaEvent};
    use serde_json::Value;

    fn read_config() -> anyhow::Result<()> {
        anyhow::bail!("This is an error message from Anyhow")
    }

    pub async fn func(_event: LambdaEvent<Value>) -> Result<(), Box<dyn std::error::Error>> {
        read_config().map_err(Into::<Box<dyn std::error::Error>>::into)
    }

    #[allow(dead_code)]
    pub async fn main() -> Result<(), Error> {
        lambda_runtime::run(service_fn(func)).await
    }
}

/// A `lambda_runtime` 1.5 streaming function, in the shape of its `basic-streaming-response`
/// and mixed-response examples.
mod ported_streaming {
    use lambda_runtime::{
        service_fn,
        streaming::{channel, Body, Response},
        Error, FunctionResponse, LambdaEvent, MetadataPrelude, StreamResponse,
    };
    use serde_json::Value;

    pub async fn func(_event: LambdaEvent<Value>) -> Result<Response<Body>, Error> {
        let words = ["streams", "port", "unchanged"];
        let (mut tx, rx) = channel();
        tokio::spawn(async move {
            for word in words.iter() {
                tx.send_data((word.to_string() + "\n").into())
                    .await
                    .unwrap();
            }
        });
        Ok(Response::from(rx))
    }

    pub async fn mixed(event: LambdaEvent<Value>) -> Result<FunctionResponse<Value, Body>, Error> {
        if event.payload.is_null() {
            return Ok(FunctionResponse::BufferedResponse(event.payload));
        }
        let (mut tx, rx) = channel();
        tokio::spawn(async move {
            tx.send_data("<p>hi</p>".into()).await.unwrap();
        });
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", "text/html".parse().unwrap());
        Ok(FunctionResponse::StreamingResponse(StreamResponse {
            metadata_prelude: MetadataPrelude {
                status_code: http::StatusCode::OK,
                headers,
                cookies: Vec::new(),
            },
            stream: rx,
        }))
    }

    #[allow(dead_code)]
    pub async fn main() -> Result<(), Error> {
        lambda_runtime::run(service_fn(func)).await
    }
}

use serde_json::json;
use support::{config, Invocation, RuntimeApiServer};

#[tokio::test]
async fn ported_streaming_functions_run() {
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
    let _ = firebox_runtime::Runtime::new(lambda_runtime::service_fn(ported_streaming::func))
        .with_config(config(&server.api(), &[]))
        .run()
        .await;
    let post = &server.records()[1];
    assert_eq!(post.body.as_ref(), b"streams\nport\nunchanged\n");
    assert_eq!(
        post.header("lambda-runtime-function-response-mode"),
        Some("streaming")
    );

    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", json!(null)),
        Invocation::json("id-2", json!({})),
    ])
    .await;
    let _ = firebox_runtime::Runtime::new(lambda_runtime::service_fn(ported_streaming::mixed))
        .with_config(config(&server.api(), &[]))
        .run()
        .await;
    let records = server.records();
    assert_eq!(records[1].body.as_ref(), b"null");
    let mut expected =
        br#"{"statusCode":200,"headers":{"content-type":"text/html"},"cookies":[]}"#.to_vec();
    expected.extend_from_slice(&[0; 8]);
    expected.extend_from_slice(b"<p>hi</p>");
    assert_eq!(records[3].body.as_ref(), expected.as_slice());
}

#[tokio::test]
async fn ported_function_runs() {
    ported::assert_service(&lambda_runtime::service_fn(ported::function_handler));
    let server =
        RuntimeApiServer::start(vec![Invocation::json("id-1", json!({"command": "go"}))]).await;
    let result =
        firebox_runtime::Runtime::new(lambda_runtime::service_fn(ported::function_handler))
            .with_config(config(&server.api(), &[]))
            .run()
            .await;
    assert!(result.is_err());
    assert_eq!(
        server.records()[1].json(),
        json!({"req_id": "id-1", "msg": "Command go executed."})
    );

    let server = RuntimeApiServer::start(vec![Invocation::new("id-2", "null")]).await;
    let _ = firebox_runtime::Runtime::new(lambda_runtime::service_fn(ported::failing_handler))
        .with_config(config(&server.api(), &[]))
        .run()
        .await;
    assert_eq!(
        server.records()[1].json(),
        json!({"errorType": "MyError", "errorMessage": "this is an error response"})
    );
}

#[tokio::test]
async fn a_boxed_anyhow_error_is_not_named_after_its_first_word() {
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
    let _ = firebox_runtime::Runtime::new(lambda_runtime::service_fn(ported_anyhow::func))
        .with_config(config(&server.api(), &[]))
        .run()
        .await;
    // It was `This`: the first word of anyhow's `Debug`, which is the message.
    assert_eq!(
        server.records()[1].json(),
        json!({"errorType": "Error", "errorMessage": "This is an error message from Anyhow"})
    );
}
