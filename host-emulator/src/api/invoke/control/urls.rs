//! The control plane of function URLs (API version 2021-10-31): `CreateFunctionUrlConfig`,
//! `GetFunctionUrlConfig`, `UpdateFunctionUrlConfig`, `DeleteFunctionUrlConfig` and
//! `ListFunctionUrlConfigs` (see [`crate::url`] for what a URL does). A function has one URL
//! per qualifier (`$LATEST`, the default, or an alias: `?Qualifier=` or `NAME:ALIAS`). The URL
//! a config shows is the path form on the address the caller used
//! (`http://HOST:PORT/lambda-url/NAME/`, or `…/lambda-url/NAME:ALIAS/` for an alias's), which
//! every HTTP client reaches without name resolution.

use crate::api::RequestBody;
use crate::config::LATEST;
use http::{Request, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::request::name_function;
use super::super::{bad_parameter, Functions, ServiceError};
use super::paging::page;
use super::write::read_json;
use super::Answer;
use crate::url::{
    url_path, AuthType, Cors, FunctionUrl, InvokeMode, UrlConfig, UrlError, UrlUpdate,
};
use crate::versions::Function;

/// The body of a create or an update.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct UrlBody {
    auth_type: Option<String>,
    cors: Option<ApiCors>,
    invoke_mode: Option<String>,
}

impl UrlBody {
    /// The body checked against Lambda's model as Lambda checks it, every broken field in one
    /// 400 `ValidationException`: `AuthType` (required on a create) and `InvokeMode` from
    /// their enums, `Cors` within its limits.
    fn checked(self, create: bool) -> Result<CheckedBody, ServiceError> {
        let mut errors = Vec::new();
        let auth_type = match self.auth_type.as_deref() {
            None if create => {
                errors.push("Value null at 'authType' failed to satisfy constraint: Member must not be null".to_owned());
                None
            }
            None => None,
            Some(a) => AuthType::parse(a).or_else(|| {
                errors.push(format!(
                    "Value '{a}' at 'authType' failed to satisfy constraint: Member must \
                     satisfy enum value set: [NONE, AWS_IAM]"
                ));
                None
            }),
        };
        let invoke_mode = match self.invoke_mode.as_deref() {
            None => None,
            Some("BUFFERED") => Some(InvokeMode::Buffered),
            Some("RESPONSE_STREAM") => Some(InvokeMode::ResponseStream),
            Some(m) => {
                errors.push(format!(
                    "Value '{m}' at 'invokeMode' failed to satisfy constraint: Member must \
                     satisfy enum value set: [BUFFERED, RESPONSE_STREAM]"
                ));
                None
            }
        };
        let cors = self.cors.map(|c| {
            if let Some(age) = c.max_age.filter(|a| *a < 0) {
                errors.push(format!(
                    "Value '{age}' at 'cors.maxAge' failed to satisfy constraint: Member must \
                     have value greater than or equal to 0"
                ));
            }
            let cors = Cors::from(c);
            errors.extend(cors.model_violations().into_iter().map(|(_, m)| m));
            cors
        });
        if !errors.is_empty() {
            return Err(validation(&errors));
        }
        Ok(CheckedBody {
            auth_type,
            cors,
            invoke_mode,
        })
    }
}

/// A create's or an update's body within Lambda's model.
struct CheckedBody {
    /// Always there for a create.
    auth_type: Option<AuthType>,
    cors: Option<Cors>,
    invoke_mode: Option<InvokeMode>,
}

/// Lambda's `Cors` object.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ApiCors {
    #[serde(default)]
    allow_credentials: bool,
    #[serde(default)]
    allow_headers: Vec<String>,
    #[serde(default)]
    allow_methods: Vec<String>,
    #[serde(default)]
    allow_origins: Vec<String>,
    #[serde(default)]
    expose_headers: Vec<String>,
    /// Signed, so that a negative one is Lambda's `ValidationException` (not a parse error).
    max_age: Option<i64>,
}

impl From<ApiCors> for Cors {
    fn from(c: ApiCors) -> Self {
        Cors {
            allow_origins: c.allow_origins,
            allow_methods: c.allow_methods,
            allow_headers: c.allow_headers,
            expose_headers: c.expose_headers,
            // Past `u32` is past the limit too: kept as the largest, which the check refuses.
            max_age: c
                .max_age
                .map(|a| u32::try_from(a.max(0)).unwrap_or(u32::MAX)),
            allow_credentials: c.allow_credentials,
        }
    }
}

/// Answers a request on `…/url` (create, read, change, remove) or `…/urls` (list).
pub(super) async fn answer(
    req: Request<RequestBody>,
    raw_name: &str,
    list: bool,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let named = name_function(&req, raw_name, functions)?;
    // A list through a qualifier that does not exist is 404, as Lambda's reads are.
    let named = if list { named.existing()? } else { named };
    let function = named.function;
    let qualifier = named.qualifier;
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let shown = |url: &FunctionUrl| shown(&function, url, &host);
    let method = req.method().as_str().to_owned();
    match (list, method.as_str()) {
        (true, "GET") => {
            let all: Vec<(String, Value)> = function
                .urls
                .all()
                .iter()
                .map(|url| {
                    let q = url.config.qualifier.as_deref().unwrap_or(LATEST);
                    (super::paging::qualifier_key(q), shown(url))
                })
                .collect();
            page(&req, "FunctionUrlConfigs", all).map(Answer::ok)
        }
        (false, "GET") => {
            let url = function
                .url(qualifier.as_deref())
                .ok_or_else(|| url_error(UrlError::NotFound))?;
            Ok(Answer::ok(shown(&url)))
        }
        (false, "POST") => {
            let body = read_json::<UrlBody>(req).await?.checked(true)?;
            let config = UrlConfig {
                invoke_mode: body.invoke_mode.unwrap_or_default(),
                cors: body.cors,
                qualifier,
            };
            // `checked(true)` refuses a create without one.
            let auth_type = body.auth_type.unwrap_or(AuthType::None);
            let url = function.create_url(config, auth_type).map_err(url_error)?;
            let mut created = shown(&url);
            if let Some(o) = created.as_object_mut() {
                o.remove("LastModifiedTime");
            }
            Ok(Answer {
                status: StatusCode::CREATED,
                body: Some(created),
            })
        }
        (false, "PUT") => {
            let body = read_json::<UrlBody>(req).await?.checked(false)?;
            let update = UrlUpdate {
                auth_type: body.auth_type,
                cors: body.cors,
                invoke_mode: body.invoke_mode,
            };
            let url = function
                .update_url(qualifier.as_deref(), update)
                .map_err(url_error)?;
            Ok(Answer::ok(shown(&url)))
        }
        (false, "DELETE") => {
            function
                .delete_url(qualifier.as_deref())
                .map_err(url_error)?;
            Ok(Answer {
                status: StatusCode::NO_CONTENT,
                body: None,
            })
        }
        _ => Err(super::unknown(&req)),
    }
}

/// Lambda's `FunctionUrlConfig`.
fn shown(function: &Function, url: &FunctionUrl, host: &str) -> Value {
    let name = &function.latest().config.name;
    let mut v = json!({
        "FunctionUrl": format!("http://{host}{}", url_path(name, url.config.qualifier.as_deref())),
        "FunctionArn": function.url_arn(url.config.qualifier.as_deref()),
        "AuthType": url.auth_type.as_str(),
        "CreationTime": url.created,
        "LastModifiedTime": url.modified,
        "InvokeMode": match url.config.invoke_mode {
            InvokeMode::Buffered => "BUFFERED",
            InvokeMode::ResponseStream => "RESPONSE_STREAM",
        },
    });
    if let Some(c) = &url.config.cors {
        let mut cors = json!({
            "AllowCredentials": c.allow_credentials,
            "AllowHeaders": c.allow_headers,
            "AllowMethods": c.allow_methods,
            "AllowOrigins": c.allow_origins,
            "ExposeHeaders": c.expose_headers,
        });
        if let Some(age) = c.max_age {
            cors["MaxAge"] = age.into();
        }
        v["Cors"] = cors;
    }
    v
}

/// 400 `ValidationException` in Lambda's words: "N validation error(s) detected: A; B".
fn validation(errors: &[String]) -> ServiceError {
    let n = errors.len();
    let plural = if n == 1 { "error" } else { "errors" };
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "ValidationException",
        format!("{n} validation {plural} detected: {}", errors.join("; ")),
    )
}

fn url_error(e: UrlError) -> ServiceError {
    match e {
        UrlError::Exists { .. } => ServiceError::new(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            e.to_string(),
        ),
        UrlError::NotFound => ServiceError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            e.to_string(),
        ),
        UrlError::Invalid(message) => bad_parameter(message),
    }
}
