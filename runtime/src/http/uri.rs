//! Percent-encoding rules for the request URI: paths and query strings as the events carry them
//! (sometimes decoded, sometimes as the client encoded them) become valid URI parts, and query
//! strings are decoded for [`QueryMap`](aws_lambda_events::query_map::QueryMap).

use std::fmt::Write;

/// Which characters may stay as they are.
#[derive(Clone, Copy)]
pub(crate) enum Part {
    /// A path: unreserved, sub-delims, `:`, `@` and `/` (RFC 3986 `pchar` plus `/`).
    Path,
    /// A whole query string: path characters plus `?`; `&`, `=` and `+` keep their meaning.
    Query,
    /// One query key or value: unreserved characters only, so `&`, `=`, `+` and `#` are encoded.
    QueryComponent,
}

fn allowed(part: Part, b: u8) -> bool {
    let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    match part {
        Part::QueryComponent => unreserved,
        Part::Path => {
            unreserved
                || matches!(
                    b,
                    b'!' | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                        | b':'
                        | b'@'
                        | b'/'
                )
        }
        Part::Query => allowed(Part::Path, b) || b == b'?',
    }
}

/// Encodes what `part` does not allow. A `%` followed by two hex digits is kept as an existing
/// escape (except in [`Part::QueryComponent`], whose input is always decoded text), so a path
/// that is already encoded is left alone and a decoded one is encoded.
pub(crate) fn encode(input: &str, part: Part) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let is_escape = b == b'%'
            && !matches!(part, Part::QueryComponent)
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if is_escape || allowed(part, b) {
            out.push(b as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
        i += 1;
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space, as HTML forms encode it). Invalid escapes are kept
/// as written; byte sequences that are not UTF-8 become U+FFFD.
pub(crate) fn decode_query_component(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(|h| hex(*h)),
                bytes.get(i + 2).and_then(|l| hex(*l)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits an encoded query string into decoded `(key, value)` pairs, in order. A key without
/// `=` has an empty value; empty segments (`a=1&&b=2`) are skipped.
pub(crate) fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (key, value) = segment.split_once('=').unwrap_or((segment, ""));
            (decode_query_component(key), decode_query_component(value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_escapes_and_encode_the_rest() {
        assert_eq!(encode("/a b/ü", Part::Path), "/a%20b/%C3%BC");
        assert_eq!(encode("/a%20b%2Fc", Part::Path), "/a%20b%2Fc");
        assert_eq!(encode("/100%", Part::Path), "/100%25");
        assert_eq!(encode("/x?y#z", Part::Path), "/x%3Fy%23z");
        assert_eq!(encode("/v1/items;id=3:@!", Part::Path), "/v1/items;id=3:@!");
    }

    #[test]
    fn query_components_are_fully_encoded() {
        assert_eq!(
            encode("a&b=c+d%e f", Part::QueryComponent),
            "a%26b%3Dc%2Bd%25e%20f"
        );
        assert_eq!(encode("a=1&b=%20 x", Part::Query), "a=1&b=%20%20x");
    }

    #[test]
    fn query_strings_are_decoded() {
        assert_eq!(
            parse_query("a=1&a=2&b=x%20y+z&&flag&bad=%zz&u=%C3%BC"),
            vec![
                ("a".into(), "1".into()),
                ("a".into(), "2".into()),
                ("b".into(), "x y z".into()),
                ("flag".into(), "".into()),
                ("bad".into(), "%zz".into()),
                ("u".into(), "ü".into()),
            ]
        );
        assert_eq!(decode_query_component("%FF"), "\u{FFFD}");
    }
}
