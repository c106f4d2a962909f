//! The invocation [`Context`] built from the `/next` answer's headers, and [`LambdaEvent`], the
//! payload and context handed to a handler.

use std::{
    collections::HashMap,
    time::{Duration, SystemTime},
};

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::config::{Config, RefConfig};

/// `Lambda-Runtime-Aws-Request-Id`.
pub(crate) const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
/// `Lambda-Runtime-Deadline-Ms`.
pub(crate) const DEADLINE_MS: &str = "lambda-runtime-deadline-ms";
/// `Lambda-Runtime-Invoked-Function-Arn`.
pub(crate) const FUNCTION_ARN: &str = "lambda-runtime-invoked-function-arn";
/// `Lambda-Runtime-Trace-Id`.
pub(crate) const TRACE_ID: &str = "lambda-runtime-trace-id";
/// `Lambda-Runtime-Client-Context`.
pub(crate) const CLIENT_CONTEXT: &str = "lambda-runtime-client-context";
/// `Lambda-Runtime-Cognito-Identity`.
pub(crate) const COGNITO_IDENTITY: &str = "lambda-runtime-cognito-identity";
/// `Lambda-Runtime-Aws-Tenant-Id`.
pub(crate) const TENANT_ID: &str = "lambda-runtime-aws-tenant-id";

/// Client context sent by the AWS Mobile SDK (`Lambda-Runtime-Client-Context`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, Eq, PartialEq)]
pub struct ClientContext {
    /// The mobile application that invoked the function.
    #[serde(default)]
    pub client: ClientApplication,
    /// Custom values set by the mobile application.
    #[serde(default)]
    pub custom: HashMap<String, String>,
    /// Environment values reported by the mobile SDK. On the wire this is the `env` key (as the
    /// AWS Mobile SDK and the Python and Node runtime clients have it); `environment` is accepted
    /// too, as `lambda_runtime` reads it.
    #[serde(default, rename = "env", alias = "environment")]
    pub environment: HashMap<String, String>,
}

/// The mobile application described by a [`ClientContext`].
#[derive(Serialize, Deserialize, Default, Clone, Debug, Eq, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientApplication {
    /// The installation id of the app.
    #[serde(default, alias = "installation_id")]
    pub installation_id: String,
    /// The app's title.
    #[serde(default, alias = "app_title")]
    pub app_title: String,
    /// The app's version name.
    #[serde(default, alias = "app_version_name")]
    pub app_version_name: String,
    /// The app's version code.
    #[serde(default, alias = "app_version_code")]
    pub app_version_code: String,
    /// The app's package name.
    #[serde(default, alias = "app_package_name")]
    pub app_package_name: String,
}

/// The Amazon Cognito identity of the caller (`Lambda-Runtime-Cognito-Identity`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, Eq, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CognitoIdentity {
    /// The Cognito identity id.
    #[serde(default, alias = "cognitoIdentityId", alias = "identity_id")]
    pub identity_id: String,
    /// The Cognito identity pool id.
    #[serde(default, alias = "cognitoIdentityPoolId", alias = "identity_pool_id")]
    pub identity_pool_id: String,
}

/// A `/next` answer whose headers cannot describe an invocation.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ContextError {
    /// A required header is absent.
    #[error("the Runtime API sent no {0} header")]
    MissingHeader(&'static str),
    /// A header is present but unusable.
    #[error("the Runtime API sent a malformed {header} header: {reason}")]
    MalformedHeader {
        /// The header's name.
        header: &'static str,
        /// Why it is unusable.
        reason: String,
    },
}

/// What Lambda tells a handler about the invocation it is serving.
///
/// Same fields as `lambda_runtime::Context`.
#[non_exhaustive]
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Context {
    /// The request id of this invocation.
    pub request_id: String,
    /// When the invocation times out, in milliseconds since the Unix epoch.
    pub deadline: u64,
    /// The ARN the caller invoked, with its qualifier if any.
    pub invoked_function_arn: String,
    /// The X-Ray trace header of this invocation.
    pub xray_trace_id: Option<String>,
    /// The client context, when the caller sent one.
    pub client_context: Option<ClientContext>,
    /// The caller's Cognito identity, when present.
    pub identity: Option<CognitoIdentity>,
    /// The tenant id of a tenant-isolated invocation.
    pub tenant_id: Option<String>,
    /// The function's configuration from the environment.
    pub env_config: RefConfig,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            request_id: String::new(),
            deadline: 0,
            invoked_function_arn: String::new(),
            xray_trace_id: None,
            client_context: None,
            identity: None,
            tenant_id: None,
            env_config: RefConfig::new(Config::default()),
        }
    }
}

impl Context {
    /// Builds the context of invocation `request_id` from the `/next` answer's headers.
    ///
    /// The deadline is required; the ARN defaults to empty; trace id, client context, Cognito
    /// identity and tenant id are optional (`None` when absent). Client context and identity
    /// must be valid JSON when present.
    pub fn new(
        request_id: &str,
        env_config: RefConfig,
        headers: &HeaderMap,
    ) -> Result<Self, ContextError> {
        let deadline = header_str(headers, DEADLINE_MS)?
            .ok_or(ContextError::MissingHeader(DEADLINE_MS))?
            .trim()
            .parse::<u64>()
            .map_err(|e| ContextError::MalformedHeader {
                header: DEADLINE_MS,
                reason: format!("expected milliseconds since the Unix epoch ({e})"),
            })?;
        Ok(Context {
            request_id: request_id.to_owned(),
            deadline,
            invoked_function_arn: header_str(headers, FUNCTION_ARN)?
                .unwrap_or_default()
                .to_owned(),
            xray_trace_id: header_str(headers, TRACE_ID)?.map(str::to_owned),
            client_context: header_json(headers, CLIENT_CONTEXT)?,
            identity: header_json(headers, COGNITO_IDENTITY)?,
            tenant_id: header_str(headers, TENANT_ID)?.map(str::to_owned),
            env_config,
        })
    }

    /// The deadline as a point in time.
    pub fn deadline(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(self.deadline)
    }

    /// Time left before the deadline (zero once it has passed).
    pub fn remaining_time(&self) -> Duration {
        self.deadline()
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }

    /// A future that completes `margin` before the deadline (at once if that moment has
    /// passed), so a handler can stop cleanly instead of being timed out:
    ///
    /// ```no_run
    /// # async fn work() {}
    /// # async fn f(ctx: firebox_runtime::Context) {
    /// use std::time::Duration;
    /// tokio::select! {
    ///     _ = work() => {}
    ///     _ = ctx.deadline_approaching(Duration::from_millis(200)) => { /* save progress */ }
    /// }
    /// # }
    /// ```
    ///
    /// Needs a tokio runtime with its timer enabled (the runtime `#[handler]` builds has it).
    pub fn deadline_approaching(&self, margin: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(self.remaining_time().saturating_sub(margin))
    }

    /// A tracing span carrying this invocation's request id (and trace id when present). The
    /// runtime already runs every invocation in such a span.
    pub fn request_span(&self) -> tracing::Span {
        match &self.xray_trace_id {
            Some(trace) => tracing::info_span!(
                "Lambda runtime invoke",
                requestId = %self.request_id,
                xrayTraceId = %trace
            ),
            None => tracing::info_span!("Lambda runtime invoke", requestId = %self.request_id),
        }
    }
}

/// A header as text; `Ok(None)` when absent, an error when it is not visible ASCII.
fn header_str<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<Option<&'h str>, ContextError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str().map_err(|_| ContextError::MalformedHeader {
                header: name,
                reason: "not visible ASCII".to_owned(),
            })
        })
        .transpose()
}

/// A JSON header; absent or empty gives `None`.
fn header_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    name: &'static str,
) -> Result<Option<T>, ContextError> {
    match header_str(headers, name)? {
        None => Ok(None),
        Some(raw) if raw.trim().is_empty() => Ok(None),
        Some(raw) => {
            serde_json::from_str(raw)
                .map(Some)
                .map_err(|e| ContextError::MalformedHeader {
                    header: name,
                    reason: e.to_string(),
                })
        }
    }
}

/// The request id of a `/next` answer.
pub(crate) fn request_id(headers: &HeaderMap) -> Result<&str, ContextError> {
    match header_str(headers, REQUEST_ID)? {
        Some(id) if !id.trim().is_empty() => Ok(id),
        _ => Err(ContextError::MissingHeader(REQUEST_ID)),
    }
}

/// An event delivered to a handler: the deserialized payload and its [`Context`].
#[derive(Clone, Debug)]
pub struct LambdaEvent<T> {
    /// The event payload.
    pub payload: T,
    /// The invocation context.
    pub context: Context,
}

impl<T> LambdaEvent<T> {
    /// Pairs a payload with its context.
    pub fn new(payload: T, context: Context) -> Self {
        LambdaEvent { payload, context }
    }

    /// Splits the event into payload and context.
    pub fn into_parts(self) -> (T, Context) {
        (self.payload, self.context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn full_headers() {
        let h = headers(&[
            (DEADLINE_MS, "1700000000123"),
            (
                FUNCTION_ARN,
                "arn:aws:lambda:us-east-1:123456789012:function:f",
            ),
            (
                TRACE_ID,
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            ),
            (
                CLIENT_CONTEXT,
                r#"{"client":{"installationId":"i","appTitle":"t","appVersionName":"1","appVersionCode":"2","appPackageName":"p"},"custom":{"k":"v"},"env":{"platform":"Android"}}"#,
            ),
            (
                COGNITO_IDENTITY,
                r#"{"identityId":"id","identityPoolId":"pool"}"#,
            ),
            (TENANT_ID, "tenant-a"),
        ]);
        let ctx = Context::new("req-1", RefConfig::default(), &h).unwrap();
        assert_eq!(ctx.request_id, "req-1");
        assert_eq!(ctx.deadline, 1_700_000_000_123);
        assert_eq!(
            ctx.invoked_function_arn,
            "arn:aws:lambda:us-east-1:123456789012:function:f"
        );
        assert!(ctx.xray_trace_id.unwrap().starts_with("Root=1-5759e988"));
        let cc = ctx.client_context.unwrap();
        assert_eq!(cc.client.app_title, "t");
        assert_eq!(cc.custom["k"], "v");
        assert_eq!(cc.environment["platform"], "Android");
        assert_eq!(ctx.identity.unwrap().identity_pool_id, "pool");
        assert_eq!(ctx.tenant_id.as_deref(), Some("tenant-a"));
    }

    #[test]
    fn client_context_accepts_lambda_runtime_key() {
        let cc: ClientContext =
            serde_json::from_str(r#"{"environment":{"platform":"iOS"}}"#).unwrap();
        assert_eq!(cc.environment["platform"], "iOS");
    }

    #[test]
    fn optional_headers_absent() {
        let ctx = Context::new("r", RefConfig::default(), &headers(&[(DEADLINE_MS, "5")])).unwrap();
        assert_eq!(ctx.invoked_function_arn, "");
        assert_eq!(ctx.xray_trace_id, None);
        assert_eq!(ctx.client_context, None);
        assert_eq!(ctx.identity, None);
        assert_eq!(ctx.tenant_id, None);
    }

    #[test]
    fn bad_headers_are_errors() {
        assert_eq!(
            Context::new("r", RefConfig::default(), &headers(&[])),
            Err(ContextError::MissingHeader(DEADLINE_MS))
        );
        let err = Context::new(
            "r",
            RefConfig::default(),
            &headers(&[(DEADLINE_MS, "soon")]),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ContextError::MalformedHeader {
                header: DEADLINE_MS,
                ..
            }
        ));
        let err = Context::new(
            "r",
            RefConfig::default(),
            &headers(&[(DEADLINE_MS, "1"), (COGNITO_IDENTITY, "{not json")]),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ContextError::MalformedHeader {
                header: COGNITO_IDENTITY,
                ..
            }
        ));
        assert_eq!(
            request_id(&headers(&[])),
            Err(ContextError::MissingHeader(REQUEST_ID))
        );
        assert_eq!(request_id(&headers(&[(REQUEST_ID, "abc")])), Ok("abc"));
    }

    #[test]
    fn remaining_time_saturates() {
        let ctx = Context {
            deadline: 1,
            ..Context::default()
        };
        assert_eq!(ctx.remaining_time(), Duration::ZERO);
        let far = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + 3_600_000;
        let ctx = Context {
            deadline: far,
            ..Context::default()
        };
        assert!(ctx.remaining_time() > Duration::from_secs(3000));
    }

    #[tokio::test]
    async fn deadline_approaching_resolves_when_past() {
        let ctx = Context {
            deadline: 1,
            ..Context::default()
        };
        ctx.deadline_approaching(Duration::from_millis(100)).await;
    }
}
