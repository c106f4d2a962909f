//! The configuration of a function URL: its invoke mode, CORS settings and qualifier, as in
//! `[functions.NAME.url]` and `[functions.NAME.urls.QUALIFIER]`, and on
//! [`crate::FunctionConfig::url`] and [`crate::FunctionConfig::url_for`].

use serde::Deserialize;

/// How a function URL answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum InvokeMode {
    /// The whole response at once (up to 6 MB).
    #[default]
    #[serde(rename = "BUFFERED")]
    Buffered,
    /// The response streamed as the function writes it.
    #[serde(rename = "RESPONSE_STREAM")]
    ResponseStream,
}

/// A function URL.
///
/// ```
/// use firebox_emulator::url::{Cors, InvokeMode, UrlConfig};
/// let url = UrlConfig {
///     invoke_mode: InvokeMode::ResponseStream,
///     cors: Some(Cors { allow_origins: vec!["https://example.com".into()], ..Cors::default() }),
///     qualifier: Some("live".into()), // the URL invokes alias `live`
/// };
/// assert!(url.cors.is_some());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlConfig {
    /// `BUFFERED` (default) or `RESPONSE_STREAM`.
    #[serde(default)]
    pub invoke_mode: InvokeMode,
    /// Cross-origin resource sharing, answered by the URL itself.
    pub cors: Option<Cors>,
    /// The alias (or `$LATEST`) the URL invokes, as Lambda's `Qualifier` of a function URL;
    /// none means `$LATEST`. A function has one URL per qualifier. For a URL given by
    /// qualifier (`[functions.NAME.urls.QUALIFIER]`, [`crate::FunctionConfig::url_for`]) it is
    /// that qualifier: leave it out.
    pub qualifier: Option<String>,
}

/// CORS settings of a function URL (the fields of Lambda's `Cors` object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    /// Allowed origins (`*` for any).
    #[serde(default)]
    pub allow_origins: Vec<String>,
    /// Allowed methods (`*` for any).
    #[serde(default)]
    pub allow_methods: Vec<String>,
    /// Allowed request headers (`*` for any).
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Response headers exposed to the browser.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Seconds a preflight answer may be cached (0 to 86400).
    pub max_age: Option<u32>,
    /// Whether credentials are allowed.
    #[serde(default)]
    pub allow_credentials: bool,
}

/// The longest `MaxAge` Lambda takes, in seconds.
const MAX_AGE_LIMIT: u32 = 86_400;

/// A CORS value outside Lambda's `Cors` model.
struct Violation {
    /// The field in `firebox.toml` (`url.cors.allow_methods`).
    field: &'static str,
    /// The field in Lambda's API (`allowMethods`).
    api: &'static str,
    /// The value as Lambda's message shows it (`[GET, POST]`, `90000`).
    shown: String,
    limit: Limit,
}

/// Which of the model's limits a value breaks.
enum Limit {
    /// More than `max` items: `got`.
    Items { max: usize, got: usize },
    /// An item of `value`, shorter than `min` or longer than `max` characters.
    Length {
        value: String,
        min: usize,
        max: usize,
    },
    /// A `max_age` over [`MAX_AGE_LIMIT`].
    MaxAge,
}

impl Violation {
    /// Lambda's words (`Value '…' at 'cors.allowMethods' failed to satisfy constraint: …`).
    fn api_message(&self) -> String {
        let (api, shown) = (self.api, &self.shown);
        let constraint = match &self.limit {
            Limit::Items { max, .. } => {
                format!("Member must have length less than or equal to {max}")
            }
            Limit::Length { value, min, max } => {
                let bound = if value.chars().count() > *max {
                    format!("less than or equal to {max}")
                } else {
                    format!("greater than or equal to {min}")
                };
                format!("Member must satisfy constraint: [Member must have length {bound}]")
            }
            Limit::MaxAge => {
                format!("Member must have value less than or equal to {MAX_AGE_LIMIT}")
            }
        };
        format!("Value '{shown}' at 'cors.{api}' failed to satisfy constraint: {constraint}")
    }

    /// The words for `firebox.toml`, which name its fields and their limits.
    fn file_message(&self) -> String {
        match &self.limit {
            Limit::Items { max, got } => format!(
                "at most {max} values, Lambda's limit (got {got}: {})",
                self.shown
            ),
            Limit::Length { value, min, max } => format!(
                "each value must be {min} to {max} characters, Lambda's limit (got `{value}`, {} \
                 characters)",
                value.chars().count()
            ),
            Limit::MaxAge => format!(
                "must be between 0 and {MAX_AGE_LIMIT} seconds, Lambda's limit (got {})",
                self.shown
            ),
        }
    }
}

impl Cors {
    /// The values outside the limits of Lambda's `Cors` model (API reference, `Cors`):
    /// `AllowOrigins` at most 100 items of 1 to 253 characters, `AllowMethods` at most 6 of
    /// at most 6, `AllowHeaders` and `ExposeHeaders` at most 100 of at most 1,024, `MaxAge`
    /// at most 86,400. Each is the field's name in `firebox.toml` and Lambda's words for it
    /// (`Value '…' at 'cors.allowMethods' failed to satisfy constraint: …`), which the
    /// control plane answers as 400 `ValidationException`.
    pub fn model_violations(&self) -> Vec<(&'static str, String)> {
        self.violations()
            .into_iter()
            .map(|v| (v.field, v.api_message()))
            .collect()
    }

    fn violations(&self) -> Vec<Violation> {
        let mut found = Vec::new();
        for (field, api, values, max_items, min_len, max_len) in [
            (
                "url.cors.allow_origins",
                "allowOrigins",
                &self.allow_origins,
                100,
                1,
                253,
            ),
            (
                "url.cors.allow_methods",
                "allowMethods",
                &self.allow_methods,
                6,
                0,
                6,
            ),
            (
                "url.cors.allow_headers",
                "allowHeaders",
                &self.allow_headers,
                100,
                0,
                1024,
            ),
            (
                "url.cors.expose_headers",
                "exposeHeaders",
                &self.expose_headers,
                100,
                0,
                1024,
            ),
        ] {
            let shown = || format!("[{}]", values.join(", "));
            if values.len() > max_items {
                found.push(Violation {
                    field,
                    api,
                    shown: shown(),
                    limit: Limit::Items {
                        max: max_items,
                        got: values.len(),
                    },
                });
            }
            // Lengths in characters, as Lambda counts them.
            if let Some(value) = values.iter().find(|v| {
                let n = v.chars().count();
                n > max_len || n < min_len
            }) {
                found.push(Violation {
                    field,
                    api,
                    shown: shown(),
                    limit: Limit::Length {
                        value: value.clone(),
                        min: min_len,
                        max: max_len,
                    },
                });
            }
        }
        if let Some(age) = self.max_age.filter(|a| *a > MAX_AGE_LIMIT) {
            found.push(Violation {
                field: "url.cors.max_age",
                api: "maxAge",
                shown: age.to_string(),
                limit: Limit::MaxAge,
            });
        }
        found
    }
}

impl UrlConfig {
    /// Checks the CORS settings (Lambda's limits, then values a header cannot carry); the
    /// message names the field and says what it takes, in `firebox.toml`'s words.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let Some(cors) = &self.cors else {
            return Ok(());
        };
        if let Some(first) = cors.violations().into_iter().next() {
            return Err((first.field, first.file_message()));
        }
        for (field, values) in [
            ("url.cors.allow_origins", &cors.allow_origins),
            ("url.cors.allow_methods", &cors.allow_methods),
            ("url.cors.allow_headers", &cors.allow_headers),
            ("url.cors.expose_headers", &cors.expose_headers),
        ] {
            for value in values {
                let why = if value.is_empty() {
                    "an empty value"
                } else if value.contains(',') {
                    "no commas: list each value on its own (`[\"a\", \"b\"]`)"
                } else if http::HeaderValue::from_str(value).is_err() {
                    "a header value takes visible ASCII characters, spaces and tabs only"
                } else {
                    continue;
                };
                return Err((field, format!("`{value}` is not a valid value: {why}")));
            }
        }
        if let Some(bad) = cors
            .allow_methods
            .iter()
            .find(|m| *m != "*" && http::Method::from_bytes(m.as_bytes()).is_err())
        {
            return Err((
                "url.cors.allow_methods",
                format!("`{bad}` is not an HTTP method"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::parse_test_config as parse;

    #[test]
    fn url_section_and_stream_fields() {
        let config = parse(
            r#"
            [functions.web]
            command = ["/bin/true"]
            stream_max_bytes = 1000
            stream_bandwidth_shape = true
            [functions.web.url]
            invoke_mode = "RESPONSE_STREAM"
            cors = { allow_origins = ["*"], allow_methods = ["GET"], max_age = 60 }
            "#,
        )
        .unwrap();
        let f = &config.functions[0];
        assert_eq!(f.stream_max_bytes, 1000);
        assert!(f.stream_bandwidth_shape);
        let url = f.url.as_ref().unwrap();
        assert_eq!(url.invoke_mode, InvokeMode::ResponseStream);
        assert_eq!(url.cors.as_ref().unwrap().max_age, Some(60));
    }

    #[test]
    fn bad_url_sections_name_the_field() {
        for (text, needle) in [
            (
                "[functions.f.url]\ninvoke_mode = \"STREAM\"",
                "expected `BUFFERED` or `RESPONSE_STREAM`",
            ),
            ("[functions.f.url]\ncors = { max_age = 90000 }", "max_age"),
            (
                "[functions.f.url]\ncors = { allow_methods = [\"G T\"] }",
                "allow_methods",
            ),
            ("[functions.f.url]\ncorz = {}", "corz"),
            (
                "[functions.f.url]\ncors = { allow_methods = [\"GET\", \"PUT\", \"POST\", \"HEAD\", \"PATCH\", \"DELETE\", \"OPTIONS\"] }",
                "field `url.cors.allow_methods`: at most 6 values, Lambda's limit (got 7: [GET, PUT, POST, HEAD, PATCH, DELETE, OPTIONS])",
            ),
            (
                "[functions.f.url]\ncors = { max_age = 86401 }",
                "field `url.cors.max_age`: must be between 0 and 86400 seconds, Lambda's limit (got 86401)",
            ),
            (
                "[functions.f.url]\ncors = { allow_methods = [\"OPTIONSX\"] }",
                "field `url.cors.allow_methods`: each value must be 0 to 6 characters, Lambda's limit (got `OPTIONSX`, 8 characters)",
            ),
            (
                "[functions.f.url]\ncors = { allow_origins = [\"\"] }",
                "field `url.cors.allow_origins`: each value must be 1 to 253 characters",
            ),
            (
                "[functions.f.url]\ncors = { allow_origins = [\"a,b\"] }",
                "field `url.cors.allow_origins`: `a,b` is not a valid value: no commas",
            ),
            (
                "[functions.f.url]\ncors = { allow_headers = [\"x\\ny\"] }",
                "`x\ny` is not a valid value: a header value takes visible ASCII",
            ),
            (
                "[functions.f.urls.\"$LATEST\"]\ncors = { expose_headers = [\"a,b\"] }",
                "field `urls.$LATEST.cors.expose_headers`: `a,b` is not a valid value: no commas",
            ),
        ] {
            let err = parse(&format!(
                "[functions.f]\ncommand = [\"/bin/true\"]\n{text}\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(err.contains(needle), "{text}: {err}");
            assert!(!err.contains("failed to satisfy"), "Lambda's API words: {err}");
        }
    }

    #[test]
    fn the_control_plane_gets_lambdas_words() {
        let cors = Cors {
            allow_methods: ["GET", "PUT", "POST", "HEAD", "PATCH", "DELETE", "OPTIONS"]
                .map(String::from)
                .to_vec(),
            max_age: Some(86_401),
            ..Cors::default()
        };
        let messages: Vec<String> = cors
            .model_violations()
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        assert_eq!(
            messages,
            [
                "Value '[GET, PUT, POST, HEAD, PATCH, DELETE, OPTIONS]' at 'cors.allowMethods' \
                 failed to satisfy constraint: Member must have length less than or equal to 6",
                "Value '[GET, PUT, POST, HEAD, PATCH, DELETE, OPTIONS]' at 'cors.allowMethods' \
                 failed to satisfy constraint: Member must satisfy constraint: [Member must have \
                 length less than or equal to 6]",
                "Value '86401' at 'cors.maxAge' failed to satisfy constraint: Member must have \
                 value less than or equal to 86400",
            ]
        );
    }
}
