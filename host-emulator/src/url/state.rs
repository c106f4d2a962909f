//! A function's URLs while the emulator runs, one per qualifier (`$LATEST` and each alias, as
//! on Lambda): declared in the configuration, or made, changed and removed through the control
//! plane (`CreateFunctionUrlConfig`, `UpdateFunctionUrlConfig`, `DeleteFunctionUrlConfig`).
//! `DeleteAlias` removes the alias's URL with it.
//!
//! The URLs are read on every request to one and written by those operations, behind a `std`
//! read-write lock never held across an `.await`; nothing that can panic runs under it. It may
//! be taken while the aliases' lock is held (a URL on an alias is made, or removed with its
//! alias, while the alias cannot change), never the reverse. Changing a URL does not touch the
//! function's environments: the next request is answered with the new settings.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::config::{Cors, InvokeMode, UrlConfig};
use crate::config::LATEST;
use crate::versions::Function;

/// `AuthType` of a function URL. The emulator accepts `AWS_IAM` but checks no signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// Anyone may call it.
    None,
    /// Callers sign with SigV4 (not verified here).
    AwsIam,
}

impl AuthType {
    /// Lambda's name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::None => "NONE",
            AuthType::AwsIam => "AWS_IAM",
        }
    }

    /// From Lambda's name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "NONE" => Some(AuthType::None),
            "AWS_IAM" => Some(AuthType::AwsIam),
            _ => None,
        }
    }
}

/// A function's URL and when it was made and last changed.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionUrl {
    /// Invoke mode, CORS and qualifier.
    pub config: UrlConfig,
    /// `AuthType`.
    pub auth_type: AuthType,
    /// `CreationTime` (`2024-01-31T12:34:56.789Z`).
    pub created: String,
    /// `LastModifiedTime`.
    pub modified: String,
}

impl FunctionUrl {
    /// A URL made now.
    pub fn new(config: UrlConfig, auth_type: AuthType) -> Self {
        let now = crate::ids::rfc3339_millis(crate::ids::unix_millis());
        Self {
            config,
            auth_type,
            created: now.clone(),
            modified: now,
        }
    }

    /// The qualifier it invokes (`$LATEST` when none was given).
    pub fn qualifier(&self) -> &str {
        self.config.qualifier.as_deref().unwrap_or(LATEST)
    }
}

/// What `UpdateFunctionUrlConfig` changes; `None` keeps the field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UrlUpdate {
    /// `AuthType`.
    pub auth_type: Option<AuthType>,
    /// `Cors` (all of it).
    pub cors: Option<Cors>,
    /// `InvokeMode`.
    pub invoke_mode: Option<InvokeMode>,
}

/// Why a URL could not be made, read, changed or removed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UrlError {
    /// The qualifier (`$LATEST` or the alias) has a URL already.
    #[error("Failed to create function url config for [functionArn = {arn}]. Error message:  FunctionUrlConfig exists for this Lambda function")]
    Exists {
        /// The ARN the URL is for.
        arn: String,
    },
    /// No URL for that qualifier.
    #[error("The resource you requested does not exist.")]
    NotFound,
    /// The qualifier is a version number, or a setting is out of range.
    #[error("{0}")]
    Invalid(String),
}

/// A function's URLs, by qualifier (`$LATEST` or an alias name). `$LATEST` sorts before every
/// alias name (`$` comes before letters, digits, `-` and `_`), so it is listed first.
#[derive(Debug, Default)]
pub(crate) struct Urls(RwLock<BTreeMap<String, FunctionUrl>>);

impl Urls {
    /// The URLs of the configuration, by qualifier (already checked), with no authentication.
    pub fn new(declared: BTreeMap<String, UrlConfig>) -> Self {
        let by_qualifier = declared
            .into_iter()
            .map(|(q, config)| (q, FunctionUrl::new(config, AuthType::None)))
            .collect();
        Self(RwLock::new(by_qualifier))
    }

    // A poisoned lock still guards a whole map: nothing that can panic runs while it is held.
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, FunctionUrl>> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, FunctionUrl>> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The URL of `qualifier` (none means `$LATEST`).
    pub fn get(&self, qualifier: Option<&str>) -> Option<FunctionUrl> {
        self.read().get(qualifier.unwrap_or(LATEST)).cloned()
    }

    /// Every URL, `$LATEST`'s first, then the aliases' by name.
    pub fn all(&self) -> Vec<FunctionUrl> {
        self.read().values().cloned().collect()
    }

    /// The URL an unqualified address reaches: `$LATEST`'s, or, when the function has just
    /// one URL and it is on an alias, that one (a single URL answers at the function's own
    /// address, whatever it invokes).
    pub fn unqualified(&self) -> Option<FunctionUrl> {
        let by_qualifier = self.read();
        match by_qualifier.get(LATEST) {
            Some(url) => Some(url.clone()),
            None if by_qualifier.len() == 1 => by_qualifier.values().next().cloned(),
            None => None,
        }
    }

    /// Removes the URL of `qualifier`; whether there was one.
    pub fn remove(&self, qualifier: &str) -> bool {
        self.write().remove(qualifier).is_some()
    }
}

impl Function {
    /// The function's URL for `qualifier` (none means `$LATEST`).
    pub fn url(&self, qualifier: Option<&str>) -> Option<FunctionUrl> {
        self.urls.get(qualifier)
    }

    /// `CreateFunctionUrlConfig`: a URL for `$LATEST` or an alias of the function, unless that
    /// qualifier has one.
    pub fn create_url(
        &self,
        config: UrlConfig,
        auth_type: AuthType,
    ) -> Result<FunctionUrl, UrlError> {
        config
            .check()
            .map_err(|(field, m)| UrlError::Invalid(format!("{field}: {m}")))?;
        let insert = || {
            let key = config.qualifier.as_deref().unwrap_or(LATEST).to_owned();
            let mut by_qualifier = self.urls.write();
            if by_qualifier.contains_key(&key) {
                return Err(UrlError::Exists {
                    arn: self.url_arn(config.qualifier.as_deref()),
                });
            }
            let url = FunctionUrl::new(config.clone(), auth_type);
            by_qualifier.insert(key, url.clone());
            Ok(url)
        };
        match config.qualifier.as_deref() {
            None | Some(LATEST) => insert(),
            Some(q) if crate::config::is_version_number(q) => Err(UrlError::Invalid(format!(
                "A function URL invokes $LATEST or an alias, not a version (got `{q}`)"
            ))),
            // Made while the alias cannot be deleted, so that no URL outlives its alias.
            Some(q) => self
                .aliases
                .while_present(q, insert)
                .unwrap_or(Err(UrlError::NotFound)),
        }
    }

    /// `UpdateFunctionUrlConfig` of the URL for `qualifier`.
    pub fn update_url(
        &self,
        qualifier: Option<&str>,
        update: UrlUpdate,
    ) -> Result<FunctionUrl, UrlError> {
        let mut by_qualifier = self.urls.write();
        let current = by_qualifier
            .get_mut(qualifier.unwrap_or(LATEST))
            .ok_or(UrlError::NotFound)?;
        let mut url = current.clone();
        if let Some(auth_type) = update.auth_type {
            url.auth_type = auth_type;
        }
        if let Some(cors) = update.cors {
            url.config.cors = Some(cors);
        }
        if let Some(mode) = update.invoke_mode {
            url.config.invoke_mode = mode;
        }
        url.config
            .check()
            .map_err(|(field, m)| UrlError::Invalid(format!("{field}: {m}")))?;
        url.modified = crate::ids::rfc3339_millis(crate::ids::unix_millis());
        *current = url.clone();
        Ok(url)
    }

    /// `DeleteFunctionUrlConfig` of the URL for `qualifier`.
    pub fn delete_url(&self, qualifier: Option<&str>) -> Result<(), UrlError> {
        if self.urls.remove(qualifier.unwrap_or(LATEST)) {
            Ok(())
        } else {
            Err(UrlError::NotFound)
        }
    }

    /// The ARN a URL for `qualifier` is shown with.
    pub fn url_arn(&self, qualifier: Option<&str>) -> String {
        match qualifier {
            None | Some(LATEST) => self.latest().config.arn(),
            Some(q) => self.arn_of(q),
        }
    }
}
