//! [`RequestExt`]: what the event carried beyond method, URI, headers and body (request
//! context, path parameters, stage variables, query parameters, the raw path) and the Lambda
//! [`Context`], stored as request extensions and read with the names `lambda_http` uses
//! (`lambda_http::ext::extensions`).

use aws_lambda_events::query_map::QueryMap;

use crate::http::event::RequestContext;
use crate::Context;

/// The query string parameters, decoded (extension type).
#[derive(Debug, Clone)]
pub(crate) struct QueryStringParameters(pub(crate) QueryMap);
/// API Gateway path parameters (extension type).
#[derive(Debug, Clone)]
pub(crate) struct PathParameters(pub(crate) QueryMap);
/// API Gateway stage variables (extension type).
#[derive(Debug, Clone)]
pub(crate) struct StageVariables(pub(crate) QueryMap);
/// The path as the event carried it (extension type).
#[derive(Debug, Clone)]
pub(crate) struct RawHttpPath(pub(crate) String);

fn non_empty(map: &QueryMap) -> Option<&QueryMap> {
    (!map.is_empty()).then_some(map)
}

/// Access to the parts of an HTTP event that do not fit in an `http::Request`, with the same
/// method names as `lambda_http::RequestExt`.
///
/// Implemented for [`http::Request`], `http::request::Parts` and
/// `http::Extensions`, so it works in axum extractors too (`Extension<Context>` also works,
/// since the values are stored as request extensions).
pub trait RequestExt {
    /// The path as the event carried it: `path` (REST, ALB) or `rawPath` (HTTP API, function
    /// URL), before any stage prefix was added or removed. Empty outside the adapter.
    fn raw_http_path(&self) -> &str;

    /// Query string parameters, decoded; repeated keys keep every value
    /// (`query_string_parameters().all("k")`). Empty when there are none.
    fn query_string_parameters(&self) -> QueryMap;

    /// Query string parameters, or `None` when there are none.
    fn query_string_parameters_ref(&self) -> Option<&QueryMap>;

    /// API Gateway path parameters (`/orders/{id}` gives `id`). Empty for ALB and function URLs.
    fn path_parameters(&self) -> QueryMap;

    /// Path parameters, or `None` when there are none.
    fn path_parameters_ref(&self) -> Option<&QueryMap>;

    /// API Gateway stage variables. Empty for ALB and function URLs.
    fn stage_variables(&self) -> QueryMap;

    /// Stage variables, or `None` when there are none.
    fn stage_variables_ref(&self) -> Option<&QueryMap>;

    /// The event's request context.
    ///
    /// # Panics
    /// When the request did not come through the adapter (which always sets it) and none was
    /// set with [`RequestExt::with_request_context`]; use [`RequestExt::request_context_ref`]
    /// to avoid that.
    fn request_context(&self) -> RequestContext;

    /// The event's request context, if the request has one.
    fn request_context_ref(&self) -> Option<&RequestContext>;

    /// The Lambda context of the invocation (request id, deadline, function ARN...).
    ///
    /// # Panics
    /// When the request did not come through the adapter (which always sets it) and none was
    /// set with [`RequestExt::with_lambda_context`]; use [`RequestExt::lambda_context_ref`] to
    /// avoid that.
    fn lambda_context(&self) -> Context;

    /// The Lambda context, if the request has one.
    fn lambda_context_ref(&self) -> Option<&Context>;

    /// Sets the raw path (for tests).
    fn with_raw_http_path(self, path: impl Into<String>) -> Self;
    /// Sets the query string parameters (for tests).
    fn with_query_string_parameters(self, parameters: impl Into<QueryMap>) -> Self;
    /// Sets the path parameters (for tests).
    fn with_path_parameters(self, parameters: impl Into<QueryMap>) -> Self;
    /// Sets the stage variables (for tests).
    fn with_stage_variables(self, variables: impl Into<QueryMap>) -> Self;
    /// Sets the request context (for tests).
    fn with_request_context(self, context: RequestContext) -> Self;
    /// Sets the Lambda context (for tests).
    fn with_lambda_context(self, context: Context) -> Self;
}

impl RequestExt for ::http::Extensions {
    fn raw_http_path(&self) -> &str {
        self.get::<RawHttpPath>().map_or("", |p| p.0.as_str())
    }

    fn query_string_parameters(&self) -> QueryMap {
        self.query_string_parameters_ref()
            .cloned()
            .unwrap_or_default()
    }

    fn query_string_parameters_ref(&self) -> Option<&QueryMap> {
        self.get::<QueryStringParameters>()
            .and_then(|p| non_empty(&p.0))
    }

    fn path_parameters(&self) -> QueryMap {
        self.path_parameters_ref().cloned().unwrap_or_default()
    }

    fn path_parameters_ref(&self) -> Option<&QueryMap> {
        self.get::<PathParameters>().and_then(|p| non_empty(&p.0))
    }

    fn stage_variables(&self) -> QueryMap {
        self.stage_variables_ref().cloned().unwrap_or_default()
    }

    fn stage_variables_ref(&self) -> Option<&QueryMap> {
        self.get::<StageVariables>().and_then(|v| non_empty(&v.0))
    }

    fn request_context(&self) -> RequestContext {
        match self.request_context_ref() {
            Some(context) => context.clone(),
            None => panic!("the request has no request context: it did not come through the firebox_runtime::http adapter"),
        }
    }

    fn request_context_ref(&self) -> Option<&RequestContext> {
        self.get::<RequestContext>()
    }

    fn lambda_context(&self) -> Context {
        match self.lambda_context_ref() {
            Some(context) => context.clone(),
            None => panic!("the request has no Lambda context: it did not come through the firebox_runtime::http adapter"),
        }
    }

    fn lambda_context_ref(&self) -> Option<&Context> {
        self.get::<Context>()
    }

    fn with_raw_http_path(mut self, path: impl Into<String>) -> Self {
        self.insert(RawHttpPath(path.into()));
        self
    }

    fn with_query_string_parameters(mut self, parameters: impl Into<QueryMap>) -> Self {
        self.insert(QueryStringParameters(parameters.into()));
        self
    }

    fn with_path_parameters(mut self, parameters: impl Into<QueryMap>) -> Self {
        self.insert(PathParameters(parameters.into()));
        self
    }

    fn with_stage_variables(mut self, variables: impl Into<QueryMap>) -> Self {
        self.insert(StageVariables(variables.into()));
        self
    }

    fn with_request_context(mut self, context: RequestContext) -> Self {
        self.insert(context);
        self
    }

    fn with_lambda_context(mut self, context: Context) -> Self {
        self.insert(context);
        self
    }
}

/// Implements [`RequestExt`] for a type by delegating to its `Extensions`.
macro_rules! delegate_request_ext {
    ($ty:ty, $ext:ident, $ext_mut:ident) => {
        fn raw_http_path(&self) -> &str {
            self.$ext().raw_http_path()
        }
        fn query_string_parameters(&self) -> QueryMap {
            self.$ext().query_string_parameters()
        }
        fn query_string_parameters_ref(&self) -> Option<&QueryMap> {
            self.$ext().query_string_parameters_ref()
        }
        fn path_parameters(&self) -> QueryMap {
            self.$ext().path_parameters()
        }
        fn path_parameters_ref(&self) -> Option<&QueryMap> {
            self.$ext().path_parameters_ref()
        }
        fn stage_variables(&self) -> QueryMap {
            self.$ext().stage_variables()
        }
        fn stage_variables_ref(&self) -> Option<&QueryMap> {
            self.$ext().stage_variables_ref()
        }
        fn request_context(&self) -> RequestContext {
            self.$ext().request_context()
        }
        fn request_context_ref(&self) -> Option<&RequestContext> {
            self.$ext().request_context_ref()
        }
        fn lambda_context(&self) -> Context {
            self.$ext().lambda_context()
        }
        fn lambda_context_ref(&self) -> Option<&Context> {
            self.$ext().lambda_context_ref()
        }
        fn with_raw_http_path(mut self, path: impl Into<String>) -> Self {
            self.$ext_mut().insert(RawHttpPath(path.into()));
            self
        }
        fn with_query_string_parameters(mut self, parameters: impl Into<QueryMap>) -> Self {
            self.$ext_mut()
                .insert(QueryStringParameters(parameters.into()));
            self
        }
        fn with_path_parameters(mut self, parameters: impl Into<QueryMap>) -> Self {
            self.$ext_mut().insert(PathParameters(parameters.into()));
            self
        }
        fn with_stage_variables(mut self, variables: impl Into<QueryMap>) -> Self {
            self.$ext_mut().insert(StageVariables(variables.into()));
            self
        }
        fn with_request_context(mut self, context: RequestContext) -> Self {
            self.$ext_mut().insert(context);
            self
        }
        fn with_lambda_context(mut self, context: Context) -> Self {
            self.$ext_mut().insert(context);
            self
        }
    };
}

impl<B> RequestExt for ::http::Request<B> {
    delegate_request_ext!(::http::Request<B>, extensions, extensions_mut);
}

/// Field access for `Parts`, which has no accessor methods.
trait PartsExtensions {
    fn exts(&self) -> &::http::Extensions;
    fn exts_mut(&mut self) -> &mut ::http::Extensions;
}

impl PartsExtensions for ::http::request::Parts {
    fn exts(&self) -> &::http::Extensions {
        &self.extensions
    }
    fn exts_mut(&mut self) -> &mut ::http::Extensions {
        &mut self.extensions
    }
}

impl RequestExt for ::http::request::Parts {
    delegate_request_ext!(::http::request::Parts, exts, exts_mut);
}
