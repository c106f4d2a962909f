//! What `PublishLayerVersion` says about a version besides its `.zip`, checked against
//! Lambda's API model: the lengths of `Description` and `LicenseInfo`, and the lists of
//! compatible runtimes and architectures that `ListLayers` and `ListLayerVersions` filter on.

/// Lambda's longest layer version description.
const MAX_DESCRIPTION: usize = 256;
/// Lambda's longest `LicenseInfo`.
const MAX_LICENSE: usize = 512;
/// Lambda's most compatible runtimes.
const MAX_RUNTIMES: usize = 15;
/// The architectures Lambda knows.
const ARCHITECTURES: [&str; 2] = ["x86_64", "arm64"];

/// What `PublishLayerVersion` says about a version besides its `.zip`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerVersionInfo {
    /// `Description` (at most 256 characters).
    pub description: String,
    /// `CompatibleRuntimes` (at most 15), for the lists' filters.
    pub compatible_runtimes: Vec<String>,
    /// `CompatibleArchitectures` (`x86_64`, `arm64`; at most 2), for the lists' filters.
    pub compatible_architectures: Vec<String>,
    /// `LicenseInfo` (at most 512 characters).
    pub license_info: Option<String>,
}

impl LayerVersionInfo {
    /// What the fields break, each as Lambda's validation errors say it.
    pub(crate) fn check(&self) -> Vec<String> {
        let mut out = Vec::new();
        let too_long = |field: &str, value: &str, max: usize| {
            (value.chars().count() > max).then(|| {
                format!(
                    "Value '{value}' at '{field}' failed to satisfy constraint: Member must have \
                     length less than or equal to {max}"
                )
            })
        };
        out.extend(too_long("description", &self.description, MAX_DESCRIPTION));
        let runtimes = &self.compatible_runtimes;
        if runtimes.len() > MAX_RUNTIMES {
            out.push(format!(
                "Value '{runtimes:?}' at 'compatibleRuntimes' failed to satisfy constraint: \
                 Member must have length less than or equal to {MAX_RUNTIMES}"
            ));
        }
        out.extend(
            runtimes
                .iter()
                .filter_map(|r| check_runtime("compatibleRuntimes", r).err()),
        );
        let architectures = &self.compatible_architectures;
        if architectures.len() > ARCHITECTURES.len() {
            out.push(format!(
                "Value '{architectures:?}' at 'compatibleArchitectures' failed to satisfy \
                 constraint: Member must have length less than or equal to 2"
            ));
        }
        out.extend(
            architectures
                .iter()
                .filter_map(|a| check_architecture("compatibleArchitectures", a).err()),
        );
        if let Some(license) = &self.license_info {
            out.extend(too_long("licenseInfo", license, MAX_LICENSE));
        }
        out
    }
}

/// A runtime's name, as `field` gives it: checked for form (`python3.12`, `nodejs22.x`,
/// `provided.al2023`), not against Lambda's list of the moment.
pub(crate) fn check_runtime(field: &str, runtime: &str) -> Result<(), String> {
    crate::config::check_runtime_name(runtime).map_err(|_| {
        format!(
            "Value '{runtime}' at '{field}' failed to satisfy constraint: Member must be a \
             runtime name (such as python3.12, nodejs22.x or provided.al2023)"
        )
    })
}

/// An architecture, as `field` gives it: `x86_64` or `arm64`.
pub(crate) fn check_architecture(field: &str, architecture: &str) -> Result<(), String> {
    if ARCHITECTURES.contains(&architecture) {
        return Ok(());
    }
    Err(format!(
        "Value '{architecture}' at '{field}' failed to satisfy constraint: Member must satisfy \
         enum value set: [x86_64, arm64]"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_checked_as_lambda_checks_them() {
        let ok = LayerVersionInfo {
            description: "d".repeat(256),
            compatible_runtimes: vec!["python3.12".into(), "provided.al2023".into()],
            compatible_architectures: vec!["arm64".into(), "x86_64".into()],
            license_info: Some("MIT".into()),
        };
        assert!(ok.check().is_empty(), "{:?}", ok.check());
        let bad = LayerVersionInfo {
            description: "d".repeat(257),
            compatible_runtimes: vec!["Python 3".into()],
            compatible_architectures: vec!["sparc".into()],
            license_info: Some("l".repeat(513)),
        };
        let fields: Vec<String> = bad
            .check()
            .iter()
            .filter_map(|m| m.split('\'').nth(3).map(str::to_owned))
            .collect();
        assert_eq!(
            fields,
            [
                "description",
                "compatibleRuntimes",
                "compatibleArchitectures",
                "licenseInfo"
            ]
        );
        let many = LayerVersionInfo {
            compatible_runtimes: vec!["python3.12".into(); 16],
            compatible_architectures: vec!["arm64".into(); 3],
            ..LayerVersionInfo::default()
        };
        assert_eq!(many.check().len(), 2);
    }
}
