//! The control plane of layers (API version 2018-10-31): `PublishLayerVersion` (`POST
//! /layers/NAME/versions`, 201), `GetLayerVersion` (`GET …/versions/N`),
//! `GetLayerVersionByArn` (`GET /layers?find=LayerVersion&Arn=ARN`), `ListLayers` (`GET
//! /layers`), `ListLayerVersions` (`GET /layers/NAME/versions`), `DeleteLayerVersion`
//! (`DELETE …/versions/N`, 204), and the permissions of a version, stored and shown, not
//! enforced: `AddLayerVersionPermission` (`POST …/versions/N/policy`, 201),
//! `GetLayerVersionPolicy` (`GET …/policy`) and `RemoveLayerVersionPermission` (`DELETE
//! …/policy/SID`, 204). A layer is named by its name or its ARN. What the versions are is in
//! [`crate::layer_versions`].

use std::collections::BTreeMap;

use crate::api::RequestBody;
use http::{Request, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::request::{percent_decode_bytes, query_param};
use super::super::{bad_parameter, Functions, ServiceError};
use super::functions::{too_large, zip_file, MAX_REQUEST_BYTES};
use super::paging::page;
use super::policy::require;
use super::write::{read_json, read_json_within};
use super::Answer;
use crate::layer_versions::{
    check_architecture, check_runtime, layer_ref, version_arn, version_number, LayerError,
    LayerRefError, LayerVersion, LayerVersionInfo, LayerVersions, VERSION_ARN_PATTERN,
};
use crate::package::PackageError;
use crate::policy::Permission;

/// What a path under `/2018-10-31/layers` names (each still percent-encoded).
pub(crate) enum Path<'a> {
    /// `/layers`: `ListLayers`, or `GetLayerVersionByArn` with `?find=LayerVersion`.
    Layers,
    /// `/layers/NAME/versions`.
    Versions(&'a str),
    /// `/layers/NAME/versions/N`.
    Version(&'a str, &'a str),
    /// `/layers/NAME/versions/N/policy`.
    Policy(&'a str, &'a str),
    /// `/layers/NAME/versions/N/policy/SID`.
    Statement(&'a str, &'a str, &'a str),
}

impl<'a> Path<'a> {
    /// The path's segments after `/2018-10-31/layers`.
    pub fn route(rest: &[&'a str]) -> Option<Self> {
        Some(match rest {
            [] | [""] => Self::Layers,
            [name, "versions"] => Self::Versions(name),
            [name, "versions", n] => Self::Version(name, n),
            [name, "versions", n, "policy"] => Self::Policy(name, n),
            [name, "versions", n, "policy", sid] => Self::Statement(name, n, sid),
            _ => return None,
        })
    }
}

/// `PublishLayerVersion`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Publish {
    content: Option<Content>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    compatible_runtimes: Vec<String>,
    #[serde(default)]
    compatible_architectures: Vec<String>,
    license_info: Option<String>,
}

/// `Content`: the `.zip`, as `ZipFile` (S3 is not reachable here).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Content {
    zip_file: Option<String>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// `AddLayerVersionPermission`'s body (its `RevisionId` comes in the query).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AddPermission {
    statement_id: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    organization_id: Option<String>,
}

/// Answers a request on a layer path.
pub(super) async fn answer(
    req: Request<RequestBody>,
    path: Path<'_>,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let layers = &functions.deployment.layers;
    let method = req.method().as_str().to_owned();
    match (path, method.as_str()) {
        (Path::Layers, "GET") => match query_param(&req, "find").as_deref() {
            Some("LayerVersion") => by_arn(&req, layers).map(Answer::ok),
            _ => list_layers(&req, layers).map(Answer::ok),
        },
        (Path::Versions(raw), "POST") => publish(req, raw, functions).await,
        (Path::Versions(raw), "GET") => {
            let Some(name) = readable_name(raw, layers)? else {
                return page(&req, "LayerVersions", Vec::new()).map(Answer::ok);
            };
            let (runtime, architecture) = filters(&req)?;
            let all = layers
                .versions(&name, runtime.as_deref(), architecture.as_deref())
                .iter()
                .map(|v| {
                    (
                        super::paging::descending_key(v.version),
                        version_json(v, false),
                    )
                })
                .collect();
            page(&req, "LayerVersions", all).map(Answer::ok)
        }
        (Path::Version(raw, n), "GET") => {
            let version = version_number(&decode(n)?).map_err(error)?;
            let found = readable_name(raw, layers)?.and_then(|name| layers.get(&name, version));
            let found = found.ok_or_else(|| error(LayerError::NotFound))?;
            Ok(Answer::ok(version_json(&found, true)))
        }
        (Path::Version(raw, n), "DELETE") => {
            let (name, version) = writable(raw, n, layers)?;
            if layers.delete(&name, version) {
                tracing::info!(layer = %name, version, "layer version deleted");
            }
            Ok(no_content())
        }
        (Path::Policy(raw, n), "POST") => {
            let (name, version) = writable(raw, n, layers)?;
            let revision_id = query_param(&req, "RevisionId").filter(|r| !r.is_empty());
            let body: AddPermission = read_json(req).await?;
            require(&[
                ("statementId", body.statement_id.is_some()),
                ("action", body.action.is_some()),
                ("principal", body.principal.is_some()),
            ])?;
            let permission = Permission {
                statement_id: body.statement_id.unwrap_or_default(),
                action: body.action.unwrap_or_default(),
                principal: body.principal.unwrap_or_default(),
                principal_org_id: body.organization_id,
                revision_id,
                ..Permission::default()
            };
            let (statement, revision) = layers
                .add_permission(&name, version, &permission)
                .map_err(error)?;
            Ok(Answer {
                status: StatusCode::CREATED,
                body: Some(json!({ "Statement": statement.to_json(), "RevisionId": revision })),
            })
        }
        (Path::Policy(raw, n), "GET") => {
            let version = version_number(&decode(n)?).map_err(error)?;
            let name = readable_name(raw, layers)?.ok_or_else(|| error(LayerError::NotFound))?;
            let policy = layers.policy(&name, version).map_err(error)?;
            Ok(Answer::ok(json!({
                "Policy": policy.document(),
                "RevisionId": policy.revision_id,
            })))
        }
        (Path::Statement(raw, n, sid), "DELETE") => {
            let (name, version) = writable(raw, n, layers)?;
            let revision_id = query_param(&req, "RevisionId").filter(|r| !r.is_empty());
            layers
                .remove_permission(&name, version, &decode(sid)?, revision_id.as_deref())
                .map_err(error)?;
            Ok(no_content())
        }
        _ => Err(super::unknown(&req)),
    }
}

/// `PublishLayerVersion`: 201 with the new version.
async fn publish(
    req: Request<RequestBody>,
    raw: &str,
    functions: &Functions,
) -> Result<Answer, ServiceError> {
    let layers = &functions.deployment.layers;
    let raw = decode(raw)?;
    // The name first: a bad one is refused before a large body is read.
    layers
        .local_name(&layer_ref(&raw).map_err(error)?, &raw)
        .map_err(error)?;
    let body: Publish =
        read_json_within(req, MAX_REQUEST_BYTES, || too_large("PublishLayerVersion")).await?;
    require(&[("content", body.content.is_some())])?;
    let content = body.content.unwrap_or(Content {
        zip_file: None,
        other: BTreeMap::new(),
    });
    let zip = zip_file(
        "PublishLayerVersion",
        "layer",
        content.zip_file,
        &content.other,
    )?;
    let info = LayerVersionInfo {
        description: body.description,
        compatible_runtimes: body.compatible_runtimes,
        compatible_architectures: body.compatible_architectures,
        license_info: body.license_info,
    };
    let version = layers
        .publish_zip(&functions.deployment.packages, &raw, info, zip)
        .await
        .map_err(error)?;
    tracing::info!(layer = %version.name, version = version.version, "layer version published");
    Ok(Answer {
        status: StatusCode::CREATED,
        body: Some(version_json(&version, true)),
    })
}

/// `ListLayers`: the newest version of each layer that matches the filters.
fn list_layers(req: &Request<RequestBody>, layers: &LayerVersions) -> Result<Value, ServiceError> {
    let (runtime, architecture) = filters(req)?;
    let all = layers
        .latest(runtime.as_deref(), architecture.as_deref())
        .iter()
        .map(|v| {
            let shown = json!({
                "LayerName": v.name,
                "LayerArn": v.layer_arn,
                "LatestMatchingVersion": version_json(v, false),
            });
            (v.name.clone(), shown)
        })
        .collect();
    page(req, "Layers", all)
}

/// `GetLayerVersionByArn`.
fn by_arn(req: &Request<RequestBody>, layers: &LayerVersions) -> Result<Value, ServiceError> {
    let arn = query_param(req, "Arn");
    require(&[("arn", arn.is_some())])?;
    let arn = arn.unwrap_or_default();
    let named = version_arn(&arn).ok_or_else(|| {
        error(LayerError::Invalid(vec![format!(
            "Value '{arn}' at 'arn' failed to satisfy constraint: Member must satisfy regular \
             expression pattern: {}",
            VERSION_ARN_PATTERN
        )]))
    })?;
    let here = named.region == layers.region() && named.account == layers.account();
    let found = here
        .then(|| layers.get(&named.name, named.version))
        .flatten()
        .ok_or_else(|| error(LayerError::NotFound))?;
    Ok(version_json(&found, true))
}

/// A version as Lambda shows it: with `LayerArn` and `Content` (`GetLayerVersion`,
/// `PublishLayerVersion`), or as a list item. There is no `Content.Location`: the `.zip` is
/// not served back; a directory of the configuration has no `CodeSha256`.
fn version_json(v: &LayerVersion, whole: bool) -> Value {
    let mut shown = json!({
        "LayerVersionArn": v.arn(),
        "Version": v.version,
        "Description": v.info.description,
        "CreatedDate": v.created_date,
    });
    if whole {
        shown["LayerArn"] = v.layer_arn.clone().into();
        shown["Content"] = json!({ "CodeSize": v.code_size() });
        if let Some(sha256) = v.code_sha256() {
            shown["Content"]["CodeSha256"] = sha256.into();
        }
    }
    if !v.info.compatible_runtimes.is_empty() {
        shown["CompatibleRuntimes"] = v.info.compatible_runtimes.clone().into();
    }
    if !v.info.compatible_architectures.is_empty() {
        shown["CompatibleArchitectures"] = v.info.compatible_architectures.clone().into();
    }
    if let Some(license) = &v.info.license_info {
        shown["LicenseInfo"] = license.clone().into();
    }
    shown
}

/// The lists' `CompatibleRuntime` and `CompatibleArchitecture` filters, checked.
fn filters(req: &Request<RequestBody>) -> Result<(Option<String>, Option<String>), ServiceError> {
    let runtime = query_param(req, "CompatibleRuntime");
    let architecture = query_param(req, "CompatibleArchitecture");
    let mut broken = Vec::new();
    if let Some(Err(e)) = runtime
        .as_deref()
        .map(|r| check_runtime("compatibleRuntime", r))
    {
        broken.push(e);
    }
    if let Some(Err(e)) = architecture
        .as_deref()
        .map(|a| check_architecture("compatibleArchitecture", a))
    {
        broken.push(e);
    }
    match broken.is_empty() {
        true => Ok((runtime, architecture)),
        false => Err(error(LayerError::Invalid(broken))),
    }
}

/// The layer a read names, when it is one of this emulator's (`None`: another region's or
/// account's, which has nothing here); a malformed name is refused.
fn readable_name(raw: &str, layers: &LayerVersions) -> Result<Option<String>, ServiceError> {
    let raw = decode(raw)?;
    let named = layer_ref(&raw).map_err(error)?;
    Ok(layers.local_name(&named, &raw).ok())
}

/// The layer and version a change names; a layer of another region or account is refused.
fn writable(raw: &str, n: &str, layers: &LayerVersions) -> Result<(String, u64), ServiceError> {
    let raw = decode(raw)?;
    let name = layers
        .local_name(&layer_ref(&raw).map_err(error)?, &raw)
        .map_err(error)?;
    let version = version_number(&decode(n)?).map_err(error)?;
    Ok((name, version))
}

/// A path segment, percent-decoded.
fn decode(raw: &str) -> Result<String, ServiceError> {
    percent_decode_bytes(raw)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| bad_parameter(format!("invalid percent-encoding in `{raw}`")))
}

fn no_content() -> Answer {
    Answer {
        status: StatusCode::NO_CONTENT,
        body: None,
    }
}

/// Lambda's error for a layer version that cannot be published, read or shared.
fn error(e: LayerError) -> ServiceError {
    let (status, code) = match &e {
        LayerError::Invalid(_) => (StatusCode::BAD_REQUEST, "ValidationException"),
        LayerError::NotFound => (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
        LayerError::Package(PackageError::Write { .. } | PackageError::Read { .. }) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "ServiceException")
        }
        LayerError::Elsewhere { .. } | LayerError::Package(_) => {
            (StatusCode::BAD_REQUEST, "InvalidParameterValueException")
        }
        LayerError::Policy(policy) => return super::policy::error(policy.clone()),
    };
    ServiceError::new(status, code, e.to_string())
}

/// Lambda's error for layers a function cannot have (`CreateFunction`,
/// `UpdateFunctionConfiguration`).
pub(super) fn ref_error(e: LayerRefError) -> ServiceError {
    match e {
        LayerRefError::Malformed(_) => ServiceError::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            e.to_string(),
        ),
        _ => bad_parameter(e.to_string()),
    }
}
