//! A function's URL while the emulator runs: declared in the configuration, or made, changed
//! and removed through the control plane (`CreateFunctionUrlConfig`,
//! `UpdateFunctionUrlConfig`, `DeleteFunctionUrlConfig`). A function has at most one URL, for
//! `$LATEST` or one alias.
//!
//! The URL is read on every request to it and written by those operations, behind a `std`
//! read-write lock never held across an `.await`. Changing a URL does not touch the
//! function's environments: the next request is answered with the new settings.

use std::sync::{PoisonError, RwLock};

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
    /// The function has a URL already (one per function here).
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

/// The URL slot of a function.
#[derive(Debug, Default)]
pub(crate) struct UrlSlot(RwLock<Option<FunctionUrl>>);

impl UrlSlot {
    /// A slot holding the URL of the configuration, if any.
    pub fn new(declared: Option<UrlConfig>) -> Self {
        Self(RwLock::new(
            declared.map(|config| FunctionUrl::new(config, AuthType::None)),
        ))
    }

    /// The URL now.
    pub fn get(&self) -> Option<FunctionUrl> {
        // A poisoned lock still holds a whole value: nothing that can panic runs under it.
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Option<FunctionUrl>> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Function {
    /// The function's URL now.
    pub fn url(&self) -> Option<FunctionUrl> {
        self.url_slot.get()
    }

    /// `CreateFunctionUrlConfig`: a URL for `$LATEST` or an alias of the function.
    pub fn create_url(
        &self,
        config: UrlConfig,
        auth_type: AuthType,
    ) -> Result<FunctionUrl, UrlError> {
        self.check_url(&config)?;
        let mut slot = self.url_slot.write();
        if slot.is_some() {
            return Err(UrlError::Exists {
                arn: self.url_arn(config.qualifier.as_deref()),
            });
        }
        let url = FunctionUrl::new(config, auth_type);
        *slot = Some(url.clone());
        Ok(url)
    }

    /// `UpdateFunctionUrlConfig` of the URL for `qualifier`.
    pub fn update_url(
        &self,
        qualifier: Option<&str>,
        update: UrlUpdate,
    ) -> Result<FunctionUrl, UrlError> {
        let mut slot = self.url_slot.write();
        let current = slot
            .as_ref()
            .filter(|u| u.qualifier() == qualifier.unwrap_or(LATEST))
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
        *slot = Some(url.clone());
        Ok(url)
    }

    /// `DeleteFunctionUrlConfig` of the URL for `qualifier`.
    pub fn delete_url(&self, qualifier: Option<&str>) -> Result<(), UrlError> {
        let mut slot = self.url_slot.write();
        match slot.as_ref() {
            Some(u) if u.qualifier() == qualifier.unwrap_or(LATEST) => {
                *slot = None;
                Ok(())
            }
            _ => Err(UrlError::NotFound),
        }
    }

    /// The ARN a URL for `qualifier` is shown with.
    pub fn url_arn(&self, qualifier: Option<&str>) -> String {
        match qualifier {
            None | Some(LATEST) => self.latest().config.arn(),
            Some(q) => self.arn_of(q),
        }
    }

    /// A URL's qualifier must be `$LATEST` or an alias (never a version number), and its
    /// CORS settings in range.
    fn check_url(&self, config: &UrlConfig) -> Result<(), UrlError> {
        config
            .check()
            .map_err(|(field, m)| UrlError::Invalid(format!("{field}: {m}")))?;
        match config.qualifier.as_deref() {
            None | Some(LATEST) => Ok(()),
            Some(q) if q.chars().all(|c| c.is_ascii_digit()) => Err(UrlError::Invalid(format!(
                "A function URL invokes $LATEST or an alias, not a version (got `{q}`)"
            ))),
            Some(q) if self.aliases.get(q).is_none() => Err(UrlError::NotFound),
            Some(_) => Ok(()),
        }
    }
}
