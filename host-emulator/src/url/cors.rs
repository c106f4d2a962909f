//! CORS as a function URL answers it from its configuration: preflight requests are answered
//! without invoking the function, and actual responses get the allow/expose headers. The
//! configuration takes precedence over the function: the `Access-Control-*` headers of its
//! response are removed from every response, so an origin the configuration does not allow
//! gets none (AWS documents only that the configured headers win on a conflict).

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

use super::config::Cors;
use crate::stream::ResponseBody;

/// Whether a request is a CORS preflight.
pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(http::header::ORIGIN)
        && headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The `Access-Control-Allow-Origin` value for `origin`, when it is allowed.
fn allowed_origin(cors: &Cors, origin: &str) -> Option<HeaderValue> {
    if cors.allow_origins.iter().any(|o| o == origin) {
        return HeaderValue::from_str(origin).ok();
    }
    if cors.allow_origins.iter().any(|o| o == "*") {
        // With credentials, a browser refuses `*`: echo the origin instead.
        return if cors.allow_credentials {
            HeaderValue::from_str(origin).ok()
        } else {
            Some(HeaderValue::from_static("*"))
        };
    }
    None
}

/// The answer to a preflight: 200, with the CORS headers when the origin and method are
/// allowed (a browser refuses the request otherwise).
pub(crate) fn preflight(cors: &Cors, headers: &HeaderMap) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = StatusCode::OK;
    let origin = headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let method = headers
        .get(http::header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let method_allowed = cors
        .allow_methods
        .iter()
        .any(|m| m == "*" || m.eq_ignore_ascii_case(method));
    let h = response.headers_mut();
    h.insert(http::header::VARY, HeaderValue::from_static("Origin"));
    let Some(allow_origin) = allowed_origin(cors, origin).filter(|_| method_allowed) else {
        return response;
    };
    h.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    if let Ok(v) = HeaderValue::from_str(&cors.allow_methods.join(",")) {
        h.insert(http::header::ACCESS_CONTROL_ALLOW_METHODS, v);
    }
    if !cors.allow_headers.is_empty() {
        let value = if cors.allow_headers.iter().any(|a| a == "*") {
            headers
                .get(http::header::ACCESS_CONTROL_REQUEST_HEADERS)
                .cloned()
                .unwrap_or_else(|| HeaderValue::from_static("*"))
        } else {
            HeaderValue::from_str(&cors.allow_headers.join(","))
                .unwrap_or_else(|_| HeaderValue::from_static(""))
        };
        h.insert(http::header::ACCESS_CONTROL_ALLOW_HEADERS, value);
    }
    if let Some(age) = cors.max_age {
        h.insert(http::header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
    }
    if cors.allow_credentials {
        h.insert(
            http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    response
}

/// Replaces the function's CORS headers with the configuration's on an actual (not
/// preflight) response: none unless the request's origin is allowed.
pub(crate) fn decorate(cors: &Cors, request: &HeaderMap, response: &mut HeaderMap) {
    let theirs: Vec<_> = response
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in theirs {
        response.remove(name);
    }
    let Some(origin) = request
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    response.append(http::header::VARY, HeaderValue::from_static("Origin"));
    let Some(allow_origin) = allowed_origin(cors, origin) else {
        return;
    };
    response.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    if !cors.expose_headers.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&cors.expose_headers.join(",")) {
            response.insert(http::header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
        }
    }
    if cors.allow_credentials {
        response.insert(
            http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}
