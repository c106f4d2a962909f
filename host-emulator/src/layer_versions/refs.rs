//! The layers a function names by ARN (`Layers` of `CreateFunction` and
//! `UpdateFunctionConfiguration`), resolved into the layers it runs: an ARN the function has
//! already (a layer of the configuration, or a version it was given before, deleted since or
//! not) stays as it is; any other must be a version this emulator has (published, or a layer
//! of the configuration).

use super::names::{is_aws_layer, version_arn, VERSION_ARN_PATTERN};
use super::LayerVersions;
use crate::config::layers::{Layer, MAX_LAYERS};

/// Why a function cannot have the layers it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayerRefError {
    /// An entry is not a layer version's ARN.
    #[error(
        "1 validation error detected: Value '[{}]' at 'layers' failed to satisfy constraint: \
         Member must satisfy constraint: [Member must satisfy regular expression pattern: \
         {VERSION_ARN_PATTERN}]",
        .0.join(", ")
    )]
    Malformed(Vec<String>),
    /// More than Lambda's limit.
    #[error("Cannot reference more than {MAX_LAYERS} layers.")]
    TooMany,
    /// Two versions of one layer, or one version twice.
    #[error(
        "Two different versions of the same layer are not allowed to be referenced in the same \
         function. {first} and {second}"
    )]
    SameLayer {
        /// The first ARN of the layer.
        first: String,
        /// The second.
        second: String,
    },
    /// A layer of another region than the function's.
    #[error("Layers are not in the same region as the function. Layers are expected to be in region {expected}: {arn}")]
    OtherRegion {
        /// The ARN.
        arn: String,
        /// The function's region.
        expected: String,
    },
    /// A layer of an account or region whose layers this emulator does not hold.
    #[error(
        "{arn}: firebox holds the layers of account {account} in region {region} (nothing \
         else is reachable here)"
    )]
    Elsewhere {
        /// The ARN.
        arn: String,
        /// The emulator's region.
        region: String,
        /// The emulator's account.
        account: String,
    },
    /// One of AWS's own layers (`arn:aws:lambda:::awslayer:NAME`).
    #[error("{0}: AWS's own layers are not reachable here")]
    AwsLayer(String),
    /// No such version (never published, or deleted).
    #[error("Layer version {0} does not exist.")]
    NotFound(String),
}

impl LayerVersions {
    /// The layers `arns` name for a function of `region` and `account` that has the layers
    /// `current`, in order; refused as Lambda refuses them.
    pub(crate) fn for_function(
        &self,
        arns: &[String],
        current: &[Layer],
        region: &str,
        account: &str,
    ) -> Result<Vec<Layer>, LayerRefError> {
        if arns
            .iter()
            .any(|a| version_arn(a).is_none() && !is_aws_layer(a))
        {
            return Err(LayerRefError::Malformed(arns.to_vec()));
        }
        if arns.len() > MAX_LAYERS {
            return Err(LayerRefError::TooMany);
        }
        let layer_of = |arn: &str| {
            version_arn(arn).map_or_else(|| arn.to_owned(), |v| format!("{}:{}", v.account, v.name))
        };
        for (i, first) in arns.iter().enumerate() {
            if let Some(second) = arns[i + 1..]
                .iter()
                .find(|a| layer_of(a) == layer_of(first))
            {
                return Err(LayerRefError::SameLayer {
                    first: first.clone(),
                    second: second.clone(),
                });
            }
        }
        let mut layers = Vec::with_capacity(arns.len());
        for arn in arns {
            match current.iter().find(|l| l.arn(region, account) == *arn) {
                Some(kept) => layers.push(kept.clone()),
                None => layers.push(self.published(arn, region)?),
            }
        }
        // The configuration's layers are named by their directories: a version published
        // under the same name has another number, so no two layers share a name here either.
        Ok(layers)
    }

    /// The published version `arn` names, as a layer of a function of `region`.
    fn published(&self, arn: &str, region: &str) -> Result<Layer, LayerRefError> {
        let Some(named) = version_arn(arn) else {
            return Err(LayerRefError::AwsLayer(arn.to_owned()));
        };
        if named.region != region {
            return Err(LayerRefError::OtherRegion {
                arn: arn.to_owned(),
                expected: region.to_owned(),
            });
        }
        if named.region != self.region || named.account != self.account {
            return Err(LayerRefError::Elsewhere {
                arn: arn.to_owned(),
                region: self.region.clone(),
                account: self.account.clone(),
            });
        }
        let version = self
            .get(&named.name, named.version)
            .ok_or_else(|| LayerRefError::NotFound(arn.to_owned()))?;
        Ok(version.layer.clone())
    }
}
