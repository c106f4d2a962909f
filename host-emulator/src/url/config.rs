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

impl Cors {
    /// The values outside the limits of Lambda's `Cors` model (API reference, `Cors`):
    /// `AllowOrigins` at most 100 items of 1 to 253 characters, `AllowMethods` at most 6 of
    /// at most 6, `AllowHeaders` and `ExposeHeaders` at most 100 of at most 1,024, `MaxAge`
    /// at most 86,400. Each is the field's name in `firebox.toml` and Lambda's words for it
    /// (`Value '…' at 'cors.allowMethods' failed to satisfy constraint: …`), which the
    /// control plane answers as 400 `ValidationException`.
    pub fn model_violations(&self) -> Vec<(&'static str, String)> {
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
                found.push((
                    field,
                    format!(
                        "Value '{}' at 'cors.{api}' failed to satisfy constraint: Member must \
                         have length less than or equal to {max_items}",
                        shown()
                    ),
                ));
            }
            // Lengths in characters, as Lambda counts them.
            let lengths = values.iter().map(|v| v.chars().count());
            if let Some(bound) = lengths
                .filter_map(|n| {
                    if n > max_len {
                        Some(format!("less than or equal to {max_len}"))
                    } else if n < min_len {
                        Some(format!("greater than or equal to {min_len}"))
                    } else {
                        None
                    }
                })
                .next()
            {
                found.push((
                    field,
                    format!(
                        "Value '{}' at 'cors.{api}' failed to satisfy constraint: Member must \
                         satisfy constraint: [Member must have length {bound}]",
                        shown()
                    ),
                ));
            }
        }
        if let Some(age) = self.max_age.filter(|a| *a > MAX_AGE_LIMIT) {
            found.push((
                "url.cors.max_age",
                format!(
                    "Value '{age}' at 'cors.maxAge' failed to satisfy constraint: Member must \
                     have value less than or equal to {MAX_AGE_LIMIT}"
                ),
            ));
        }
        found
    }
}

impl UrlConfig {
    /// Checks the CORS settings (Lambda's limits, then values a header cannot carry); the
    /// message names the field.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let Some(cors) = &self.cors else {
            return Ok(());
        };
        if let Some(first) = cors.model_violations().into_iter().next() {
            return Err(first);
        }
        for (field, values) in [
            ("url.cors.allow_origins", &cors.allow_origins),
            ("url.cors.allow_methods", &cors.allow_methods),
            ("url.cors.allow_headers", &cors.allow_headers),
            ("url.cors.expose_headers", &cors.expose_headers),
        ] {
            if let Some(bad) = values.iter().find(|v| {
                v.is_empty() || http::HeaderValue::from_str(v).is_err() || v.contains(',')
            }) {
                return Err((field, format!("`{bad}` is not a valid value")));
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
                "less than or equal to 6",
            ),
        ] {
            let err = parse(&format!(
                "[functions.f]\ncommand = [\"/bin/true\"]\n{text}\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
