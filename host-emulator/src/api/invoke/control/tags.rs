//! The control plane of tags (API version 2017-03-31): `TagResource`
//! (`POST /2017-03-31/tags/ARN` with `Tags`, 204), `UntagResource`
//! (`DELETE …?tagKeys=K&tagKeys=K2`, 204) and `ListTags` (`GET`, `Tags`). The resource is a
//! function's unqualified ARN: tags belong to the function (see [`crate::tags`]).

use std::collections::BTreeMap;

use crate::api::RequestBody;
use http::{Request, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::super::request::{name_function, percent_decode_bytes};
use super::super::{bad_parameter, Functions, ServiceError};
use super::write::read_json;
use super::Answer;

/// `TagResource`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct TagResource {
    tags: BTreeMap<String, String>,
}

/// Answers a request on `/2017-03-31/tags/ARN`.
pub(super) async fn answer(
    req: Request<RequestBody>,
    raw_arn: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    if !raw_arn.starts_with("arn") {
        return Err(ServiceError::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            format!(
                "1 validation error detected: Value '{raw_arn}' at 'resource' failed to satisfy \
                 constraint: Member must be a function ARN"
            ),
        ));
    }
    let named = name_function(&req, raw_arn, functions)?;
    if named.qualifier.is_some() {
        return Err(bad_parameter(format!(
            "Tags are supported on functions, not on versions or aliases: use the unqualified \
             ARN instead of {}",
            named.arn
        )));
    }
    let tags = &named.function.tags;
    let no_content = Answer {
        status: StatusCode::NO_CONTENT,
        body: None,
    };
    match req.method().as_str() {
        "GET" => Ok(Answer::ok(json!({ "Tags": tags.all() }))),
        "POST" => {
            let body: TagResource = read_json(req).await?;
            tags.add(body.tags)
                .map_err(|e| bad_parameter(e.to_string()))?;
            Ok(no_content)
        }
        "DELETE" => {
            tags.remove(&query_values(&req, "tagKeys")?);
            Ok(no_content)
        }
        _ => Err(super::unknown(&req)),
    }
}

/// Every value of query parameter `name`, percent-decoded.
fn query_values(req: &Request<RequestBody>, name: &str) -> Result<Vec<String>, ServiceError> {
    let Some(query) = req.uri().query() else {
        return Ok(Vec::new());
    };
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').filter(|(k, _)| *k == name))
        .map(|(_, v)| {
            percent_decode_bytes(&v.replace('+', " "))
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| bad_parameter(format!("invalid percent-encoding in `{v}`")))
        })
        .collect()
}
