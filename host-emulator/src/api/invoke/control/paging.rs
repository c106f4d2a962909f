//! Pages of the control plane's lists (`ListFunctions`, `ListVersionsByFunction`,
//! `ListAliases` and the rest): `MaxItems` items from `Marker` on, and a `NextMarker` when more
//! follow. A marker is an opaque continuation token naming the last item listed (by its sort
//! key), not a position: the next page starts after that key in the list as it is then, so
//! items created or deleted between pages never make a paginator skip an item that is still
//! there, nor fail.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::Request;
use serde_json::{json, Value};

use super::super::request::query_param;
use super::super::{bad_parameter, ServiceError};
use crate::api::RequestBody;
use crate::config::LATEST;

/// Most items on one page.
const PAGE: usize = 50;

/// What every marker's text starts with (before encoding): anything else is not a marker.
const MARKER_TAG: &str = "firebox-marker:";

/// One page of a list: `MaxItems` (1 to 10,000; at most 50 are returned) after `Marker` (the
/// `NextMarker` of the previous page). `all` holds each item with its sort key; the list is
/// in key order (keys are unique within a list).
pub(super) fn page(
    req: &Request<RequestBody>,
    key: &str,
    mut all: Vec<(String, Value)>,
) -> Result<Value, ServiceError> {
    let max = match query_param(req, "MaxItems") {
        None => PAGE,
        Some(text) => match text.parse::<usize>() {
            Ok(n @ 1..=10_000) => n.min(PAGE),
            _ => {
                return Err(bad_parameter(format!(
                    "MaxItems `{text}` is not valid: use 1 to 10000"
                )))
            }
        },
    };
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let start = match query_param(req, "Marker") {
        None => 0,
        Some(marker) => {
            let after = decode(&marker)
                .ok_or_else(|| bad_parameter(format!("Marker `{marker}` is not valid")))?;
            all.partition_point(|(k, _)| *k <= after)
        }
    };
    let end = (start + max).min(all.len());
    let next = (end < all.len()).then(|| encode(&all[end - 1].0));
    let items: Vec<Value> = all.drain(start..end).map(|(_, item)| item).collect();
    let mut body = json!({ key: items });
    if let Some(next) = next {
        body["NextMarker"] = next.into();
    }
    Ok(body)
}

/// The sort key of a version or qualifier: `$LATEST` first, then versions by number, then
/// aliases by name.
pub(super) fn qualifier_key(qualifier: &str) -> String {
    if qualifier == LATEST {
        "0".to_owned()
    } else if let Ok(n) = qualifier.parse::<u64>() {
        format!("1{n:020}")
    } else {
        format!("2{qualifier}")
    }
}

/// The sort key of a number listed newest (highest) first.
pub(super) fn descending_key(n: u64) -> String {
    format!("{:020}", u64::MAX - n)
}

fn encode(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{MARKER_TAG}{key}"))
}

fn decode(marker: &str) -> Option<String> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(marker).ok()?).ok()?;
    text.strip_prefix(MARKER_TAG).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_garbage_is_refused() {
        for key in ["", "hello", "a\u{0}1", "2live"] {
            assert_eq!(decode(&encode(key)).as_deref(), Some(key));
        }
        for garbage in ["3", "abc", "!!", &URL_SAFE_NO_PAD.encode("hello")] {
            assert_eq!(decode(garbage), None, "{garbage}");
        }
    }

    #[test]
    fn qualifiers_sort_latest_then_numbers_then_aliases() {
        let mut q = ["live", "10", "$LATEST", "2", "beta"].map(qualifier_key);
        q.sort();
        let want = ["$LATEST", "2", "10", "beta", "live"].map(qualifier_key);
        assert_eq!(q, want);
    }
}
