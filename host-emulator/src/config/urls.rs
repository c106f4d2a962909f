//! The function URLs a function declares: `[functions.NAME.url]` (one, for `$LATEST` or the
//! alias its `qualifier` names; [`FunctionConfig::url`]) and `[functions.NAME.urls.QUALIFIER]`
//! (one per qualifier; [`FunctionConfig::url_for`]), checked as Lambda checks
//! `CreateFunctionUrlConfig`: a URL invokes `$LATEST` or an alias, never a version number, and
//! a qualifier has one URL.

use std::collections::BTreeMap;

use super::{ConfigError, FunctionConfig, LATEST};
use crate::url::UrlConfig;

impl FunctionConfig {
    /// Every URL the function declares, by qualifier (`$LATEST` or an alias name): `url` under
    /// its `qualifier` (none means `$LATEST`), and each of `urls` under its key, which becomes
    /// its `qualifier` (none for `$LATEST`). Validation refuses two URLs for one qualifier;
    /// before it, the one of `urls` wins.
    pub fn declared_urls(&self) -> BTreeMap<String, UrlConfig> {
        let mut all = BTreeMap::new();
        if let Some(url) = &self.url {
            let qualifier = url.qualifier.as_deref().unwrap_or(LATEST);
            all.insert(qualifier.to_owned(), url.clone());
        }
        for (qualifier, url) in &self.urls {
            let mut url = url.clone();
            url.qualifier = (qualifier != LATEST).then(|| qualifier.clone());
            all.insert(qualifier.clone(), url);
        }
        all
    }

    /// Checks the declared URLs: CORS in range, each for `$LATEST` or a declared alias, one
    /// per qualifier. The error names the field (`url.qualifier`, `urls.live.cors.max_age`).
    pub(super) fn check_urls(&self, file: &str) -> Result<(), ConfigError> {
        let for_latest_or_alias = |field: &str, q: &str| {
            if q == LATEST || self.aliases.contains_key(q) {
                return Ok(());
            }
            let why = if super::is_version_number(q) {
                format!(
                    "`{q}` is a version: a function URL invokes `$LATEST` or an alias, never a \
                     version (as on Lambda)"
                )
            } else {
                format!("`{q}` is neither `$LATEST` nor an alias of the function")
            };
            Err(self.field_error(file, field, &why))
        };
        if let Some(url) = &self.url {
            url.check()
                .map_err(|(field, m)| self.field_error(file, field, &m))?;
            if let Some(q) = url.qualifier.as_deref() {
                for_latest_or_alias("url.qualifier", q)?;
            }
        }
        let taken = self
            .url
            .as_ref()
            .map(|u| u.qualifier.as_deref().unwrap_or(LATEST));
        for (q, url) in &self.urls {
            let field = format!("urls.{q}");
            for_latest_or_alias(&field, q)?;
            if let Some(given) = url.qualifier.as_deref().filter(|given| given != q) {
                return Err(self.field_error(
                    file,
                    &format!("{field}.qualifier"),
                    &format!(
                        "`{given}` is not the table's qualifier `{q}`: leave `qualifier` out of \
                         `[functions.NAME.urls.QUALIFIER]`"
                    ),
                ));
            }
            url.check().map_err(|(name, m)| {
                let name = name.strip_prefix("url.").unwrap_or(name);
                self.field_error(file, &format!("{field}.{name}"), &m)
            })?;
            if taken == Some(q.as_str()) {
                return Err(self.field_error(
                    file,
                    &field,
                    &format!(
                        "`{q}` has a URL already (`[functions.NAME.url]`): a function has one \
                         URL per qualifier"
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse_test_config as parse;
    use crate::config::{AliasConfig, FunctionConfig, VersionConfig, LATEST};
    use crate::url::{InvokeMode, UrlConfig};

    const FUNCTION: &str = "[functions.f]\ncommand = [\"/bin/true\"]\n\
                            [functions.f.versions.1]\n[functions.f.aliases]\nlive = \"1\"\nbeta = \"1\"\n";

    #[test]
    fn a_function_declares_one_url_per_qualifier() {
        let c = parse(&format!(
            "{FUNCTION}[functions.f.url]\n\
             [functions.f.urls.live]\ninvoke_mode = \"RESPONSE_STREAM\"\n\
             [functions.f.urls.beta]\ncors = {{ allow_origins = [\"*\"] }}\n"
        ))
        .unwrap();
        let urls = c.functions[0].declared_urls();
        let qualifiers: Vec<&str> = urls.keys().map(String::as_str).collect();
        assert_eq!(qualifiers, [LATEST, "beta", "live"], "`$LATEST` first");
        assert_eq!(urls[LATEST].qualifier, None);
        assert_eq!(urls["live"].qualifier.as_deref(), Some("live"));
        assert_eq!(urls["live"].invoke_mode, InvokeMode::ResponseStream);
        assert_eq!(urls["beta"].invoke_mode, InvokeMode::Buffered);
        assert!(urls["beta"].cors.is_some());

        // The old form alone, on an alias, and the new form alone, on `$LATEST`.
        let c = parse(&format!(
            "{FUNCTION}[functions.f.url]\nqualifier = \"live\"\n"
        ))
        .unwrap();
        let urls = c.functions[0].declared_urls();
        assert_eq!(urls.keys().collect::<Vec<_>>(), ["live"]);
        let c = parse(&format!("{FUNCTION}[functions.f.urls.\"$LATEST\"]\n")).unwrap();
        let urls = c.functions[0].declared_urls();
        assert_eq!(urls.keys().collect::<Vec<_>>(), [LATEST]);
        assert_eq!(urls[LATEST].qualifier, None);
    }

    #[test]
    fn bad_urls_name_the_file_function_and_field() {
        for (bad, field, says) in [
            ("[functions.f.urls.1]\n", "urls.1", "is a version"),
            (
                "[functions.f.urls.nope]\n",
                "urls.nope",
                "neither `$LATEST` nor an alias",
            ),
            (
                "[functions.f.url]\nqualifier = \"1\"\n",
                "url.qualifier",
                "is a version",
            ),
            (
                "[functions.f.url]\nqualifier = \"live\"\n[functions.f.urls.live]\n",
                "urls.live",
                "one URL per qualifier",
            ),
            (
                "[functions.f.url]\n[functions.f.urls.\"$LATEST\"]\n",
                "urls.$LATEST",
                "one URL per qualifier",
            ),
            (
                "[functions.f.urls.live]\nqualifier = \"beta\"\n",
                "urls.live.qualifier",
                "not the table's qualifier",
            ),
            (
                "[functions.f.urls.live]\ncors = { max_age = 90000 }\n",
                "urls.live.cors.max_age",
                "86400",
            ),
            (
                "[functions.f.urls.live]\ncorz = {}\n",
                "urls.live.corz",
                "unknown field",
            ),
            (
                "[functions.f.urls.live]\ninvoke_mode = \"STREAM\"\n",
                "urls.live.invoke_mode",
                "RESPONSE_STREAM",
            ),
        ] {
            let err = parse(&format!("{FUNCTION}{bad}")).unwrap_err().to_string();
            assert!(
                err.starts_with("firebox.toml: function `f`:")
                    && err.contains(&format!("`{field}`"))
                    && err.contains(says),
                "{bad}: {err}"
            );
        }
        let err = parse("[defaults.urls.live]\n[functions.f]\ncommand = [\"/bin/true\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[defaults]") && err.contains("`urls`"),
            "{err}"
        );
    }

    #[test]
    fn urls_built_in_code_are_checked_alike() {
        let base = || {
            FunctionConfig::new("f")
                .command(["/bin/true"])
                .publish(1, VersionConfig::new())
                .alias("live", AliasConfig::new("1"))
        };
        let f = base()
            .url(UrlConfig::default())
            .url_for("live", UrlConfig::default())
            .validate("<code>", Path::new("/tmp"))
            .unwrap();
        assert_eq!(f.declared_urls().len(), 2);
        // Published versions have no URL of their own.
        assert!(f.published()[0].declared_urls().is_empty());
        for (f, field) in [
            (base().url_for("beta", UrlConfig::default()), "urls.beta"),
            (base().url_for("1", UrlConfig::default()), "urls.1"),
            (
                base()
                    .url(UrlConfig {
                        qualifier: Some("live".into()),
                        ..UrlConfig::default()
                    })
                    .url_for("live", UrlConfig::default()),
                "urls.live",
            ),
        ] {
            let err = f
                .validate("<code>", Path::new("/tmp"))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("<code>: function `f`:") && err.contains(&format!("`{field}`")),
                "{err}"
            );
        }
    }
}
