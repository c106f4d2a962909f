//! X-Ray trace headers (`Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0|1`): a new one
//! for an invocation whose caller sent none, the caller's own passed through (Lambda's default
//! `PassThrough` tracing mode), and the trace context that the Telemetry API's records carry for
//! a sampled invocation.
//!
//! The header an invocation runs with is what its runtime gets in `Lambda-Runtime-Trace-Id`
//! (and the SDKs in `_X_AMZN_TRACE_ID`), so a function that calls another function through an
//! AWS SDK (which sends that header on) keeps the caller's trace.

use serde_json::{json, Value};

/// A new trace header, not sampled: `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16
/// hex>;Sampled=0`.
pub fn new_header() -> String {
    let secs = crate::ids::unix_millis() / 1000;
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0",
        &random_hex()[..24],
        &random_hex()[..16]
    )
}

/// The header to run an invocation with, from the caller's `X-Amzn-Trace-Id`: its `Root`, its
/// `Parent` (a new one when it has none) and its sampling decision (`Sampled=1`, else `0`).
/// `None` when the header has no well-formed `Root`: the invocation then starts a trace of its
/// own, as X-Ray does for a header it cannot read. Other fields (`Self`, `Lineage`...) are
/// dropped.
///
/// ```
/// use firebox_emulator::trace::from_caller;
///
/// let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
/// assert_eq!(from_caller(header).as_deref(), Some(header));
/// assert_eq!(from_caller("Root=nonsense"), None);
/// ```
pub fn from_caller(header: &str) -> Option<String> {
    let mut root = None;
    let mut parent = None;
    let mut sampled = false;
    for (key, value) in fields(header) {
        match key {
            "Root" if is_root(value) => root = Some(value),
            "Parent" if is_hex(value, 16) => parent = Some(value.to_owned()),
            "Sampled" => sampled = value == "1",
            _ => {}
        }
    }
    let parent = parent.unwrap_or_else(|| random_hex()[..16].to_owned());
    Some(format!(
        "Root={};Parent={parent};Sampled={}",
        root?,
        u8::from(sampled)
    ))
}

/// The trace header to run a request's invocation with: its `X-Amzn-Trace-Id` through
/// [`from_caller`]. A header that is not well formed is ignored (the invocation gets a new
/// trace), never refused.
pub fn of_request(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get("x-amzn-trace-id")
        .and_then(|v| v.to_str().ok())
        .and_then(from_caller)
}

/// The Telemetry API's `tracing` object for an invocation run with `header`: present only when
/// the trace is sampled (as on Lambda), with the header's `Parent` as its `spanId`.
pub fn context(header: &str) -> Option<Value> {
    let mut parent = None;
    let mut sampled = false;
    for (key, value) in fields(header) {
        match key {
            "Parent" => parent = Some(value),
            "Sampled" => sampled = value == "1",
            _ => {}
        }
    }
    sampled.then(|| {
        let mut context = json!({"type": "X-Amzn-Trace-Id", "value": header});
        if let Some(parent) = parent {
            context["spanId"] = parent.into();
        }
        context
    })
}

/// The `KEY=VALUE` fields of a trace header, in order (spaces around a field ignored).
fn fields(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header
        .split(';')
        .filter_map(|field| field.trim().split_once('='))
}

/// Whether `value` is an X-Ray trace id: `1-<8 hex>-<24 hex>`.
fn is_root(value: &str) -> bool {
    let mut parts = value.split('-');
    parts.next() == Some("1")
        && parts.next().is_some_and(|time| is_hex(time, 8))
        && parts.next().is_some_and(|id| is_hex(id, 24))
        && parts.next().is_none()
}

/// Whether `value` is `len` hexadecimal digits.
fn is_hex(value: &str, len: usize) -> bool {
    value.len() == len && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// 32 random lower-case hexadecimal digits.
fn random_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn a_new_header_is_well_formed_and_not_sampled() {
        let header = new_header();
        assert_eq!(from_caller(&header).as_deref(), Some(header.as_str()));
        assert!(header.ends_with(";Sampled=0"), "{header}");
        assert_eq!(context(&header), None);
        assert_ne!(new_header(), header, "each header is new");
    }

    #[test]
    fn the_callers_header_is_kept_with_its_sampling_decision() {
        let sampled = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1");
        assert_eq!(from_caller(&sampled), Some(sampled.clone()));
        // Spaces after `;` (as some clients write it), other fields dropped, `?` is not sampled.
        assert_eq!(
            from_caller(&format!(
                "Self=1-abc; Root={ROOT}; Parent=53995c3f42cd8ad8; Sampled=?; Lineage=a:0"
            )),
            Some(format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0"))
        );
        // No parent: a new one; no `Sampled`: not sampled.
        let bare = from_caller(&format!("Root={ROOT}")).unwrap();
        let (head, sampled_field) = bare.rsplit_once(';').unwrap();
        assert_eq!(sampled_field, "Sampled=0");
        let parent = head.strip_prefix(&format!("Root={ROOT};Parent=")).unwrap();
        assert!(is_hex(parent, 16), "{bare}");
    }

    #[test]
    fn a_header_without_a_well_formed_root_is_not_used() {
        for bad in [
            "",
            "Sampled=1",
            "Root=",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e98-bd862e3fe1be46a994272793",
            "Root=1-5759e988-bd862e3fe1be46a99427279",
            "Root=1-5759e988-bd862e3fe1be46a99427279z",
            "Root=1-5759e988-bd862e3fe1be46a994272793-00",
            "root=1-5759e988-bd862e3fe1be46a994272793",
        ] {
            assert_eq!(from_caller(bad), None, "{bad:?}");
        }
        // A malformed parent is replaced, not kept.
        let header = from_caller(&format!("Root={ROOT};Parent=xyz;Sampled=1")).unwrap();
        assert!(
            !header.contains("xyz") && header.ends_with("Sampled=1"),
            "{header}"
        );
    }

    #[test]
    fn only_a_sampled_trace_has_a_telemetry_context() {
        let header = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1");
        assert_eq!(
            context(&header),
            Some(json!({"spanId": "53995c3f42cd8ad8", "type": "X-Amzn-Trace-Id", "value": header}))
        );
        assert_eq!(
            context(&format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0")),
            None
        );
    }
}
