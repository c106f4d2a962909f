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

use serde_json::json;
use support::{config, Invocation, RuntimeApiServer};

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
