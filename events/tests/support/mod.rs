//! Helpers for the sample and fixture tests: a semantic JSON comparison that reports lost,
//! changed and extra fields, and a key-path "shape" of a JSON document.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// How the JSON after a trip through the typed struct differs from the JSON before it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Fields with a value before that are gone after.
    pub lost: Vec<String>,
    /// Fields whose value changed.
    pub changed: Vec<String>,
    /// Fields with a value after that were not there before.
    pub extra: Vec<String>,
}

/// JSON → `T` → JSON; asserts the typed value survives a second trip unchanged and returns how
/// the JSON changed.
pub fn round_trip<T>(original: &Value) -> Diff
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let typed: T = serde_json::from_value(original.clone())
        .unwrap_or_else(|e| panic!("does not deserialize: {e}\n{original:#}"));
    let reserialized = serde_json::to_value(&typed).expect("serializes");
    let again: T = serde_json::from_value(reserialized.clone()).expect("re-deserializes");
    assert_eq!(typed, again, "typed value changed on a second trip");
    let mut diff = Diff::default();
    compare(original, &reserialized, "", false, &mut diff);
    diff
}

/// `null` and `{}` both mean "nothing here"; so does an absent key.
fn is_nothing(v: &Value) -> bool {
    v.is_null() || v.as_object().is_some_and(|m| m.is_empty())
}

/// `2019-01-02T12:45:07.000Z` and `2019-01-02T12:45:07Z` are the same instant.
fn trim_fraction(s: &str) -> String {
    match (s.strip_suffix('Z'), s.find('.')) {
        (Some(body), Some(dot)) if s.contains('T') => {
            let fraction = body[dot + 1..].trim_end_matches('0');
            if fraction.is_empty() {
                format!("{}Z", &body[..dot])
            } else {
                format!("{}.{fraction}Z", &body[..dot])
            }
        }
        _ => s.to_string(),
    }
}

fn scalar_eq(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => trim_fraction(x) == trim_fraction(y),
        // Numbers that one side writes as a numeric string (Kinesis arrival timestamps).
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            s.parse::<f64>().ok() == n.as_f64()
        }
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => false,
    }
}

fn compare(a: &Value, b: &Value, path: &str, header_map: bool, diff: &mut Diff) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    let same_key = |x: &str, y: &str| {
        if header_map {
            x.eq_ignore_ascii_case(y)
        } else {
            x == y
        }
    };
    match (a, b) {
        (Value::Object(am), Value::Object(bm)) => {
            for (k, av) in am {
                let child_headers = k == "headers" || k == "multiValueHeaders";
                match bm.iter().find(|(bk, _)| same_key(bk, k)) {
                    None if is_nothing(av) => {}
                    None => diff.lost.push(join(k)),
                    Some((_, bv)) if is_nothing(av) => {
                        if !is_nothing(bv) {
                            diff.changed.push(join(k));
                        }
                    }
                    Some((_, bv)) => compare(av, bv, &join(k), child_headers, diff),
                }
            }
            for (k, bv) in bm {
                if !is_nothing(bv) && !am.keys().any(|ak| same_key(ak, k)) {
                    diff.extra.push(join(k));
                }
            }
        }
        (Value::Array(aa), Value::Array(ba)) if aa.len() == ba.len() => {
            for (i, (av, bv)) in aa.iter().zip(ba).enumerate() {
                compare(av, bv, &format!("{path}[{i}]"), false, diff);
            }
        }
        _ if is_nothing(a) && is_nothing(b) => {}
        _ => {
            if !scalar_eq(a, b) {
                diff.changed.push(path.to_string());
            }
        }
    }
}

/// Maps whose keys are data (header names, attribute names...), not part of the shape.
const DATA_MAPS: &[&str] = &[
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "messageAttributes",
    "MessageAttributes",
    "Keys",
    "NewImage",
    "OldImage",
    "detail",
    "responseElements",
];

/// The set of key paths of a document (`Records[].s3.bucket.name`), not descending into data
/// maps, and skipping the subtrees in `skip`.
pub fn shape(v: &Value, skip: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    walk(v, "", skip, &mut out);
    out
}

fn walk(v: &Value, path: &str, skip: &[&str], out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if skip.contains(&p.as_str()) {
                    continue;
                }
                out.insert(p.clone());
                if !DATA_MAPS.contains(&k.as_str()) {
                    walk(child, &p, skip, out);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, &format!("{path}[]"), skip, out);
            }
        }
        _ => {}
    }
}

/// Reads a fixture from `tests/fixtures`.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fields aws_lambda_events 1.2 has no place for, so they only survive a round trip with the
/// `catch-all-fields` feature.
pub fn expected_lost(fields: &[&str]) -> Vec<String> {
    if cfg!(feature = "catch-all-fields") {
        Vec::new()
    } else {
        fields.iter().map(|s| s.to_string()).collect()
    }
}

/// Sorted copy, for order-insensitive comparison.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}
