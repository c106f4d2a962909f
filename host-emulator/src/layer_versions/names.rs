//! Layer names and ARNs as Lambda's API model has them: a layer's name (`[a-zA-Z0-9-_]`, 1 to
//! 140 characters), a layer's ARN (`arn:aws:lambda:REGION:ACCOUNT:layer:NAME`) and a layer
//! version's ARN (the layer's, then `:VERSION`), with Lambda's validation messages.

use super::LayerError;

/// Lambda's longest layer name.
pub const MAX_NAME: usize = 140;

/// The pattern of `LayerName` in Lambda's messages.
const NAME_PATTERN: &str =
    "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+";

/// The pattern of a layer version's ARN in Lambda's messages.
pub(crate) const VERSION_ARN_PATTERN: &str = "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)";

/// A layer as a request names it: its name, and the region and account of an ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LayerRef {
    /// The layer's name.
    pub name: String,
    /// The region of an ARN (`None` for a bare name).
    pub region: Option<String>,
    /// The account of an ARN.
    pub account: Option<String>,
}

/// A layer version's ARN, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionArn {
    /// The region.
    pub region: String,
    /// The account.
    pub account: String,
    /// The layer's name.
    pub name: String,
    /// The version number.
    pub version: u64,
}

/// Whether `name` is a layer name: 1 to 140 letters, digits, `-` or `_`.
pub(crate) fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `LayerName` of a path: a name or a layer's ARN; else Lambda's validation error.
pub(crate) fn layer_ref(raw: &str) -> Result<LayerRef, LayerError> {
    let parsed = match raw.strip_prefix("arn:") {
        None => is_name(raw).then(|| LayerRef {
            name: raw.to_owned(),
            region: None,
            account: None,
        }),
        Some(_) => match raw.split(':').collect::<Vec<_>>().as_slice() {
            ["arn", partition, "lambda", region, account, "layer", name]
                if is_partition(partition)
                    && is_region(region)
                    && is_account(account)
                    && is_name(name) =>
            {
                Some(LayerRef {
                    name: (*name).to_owned(),
                    region: Some((*region).to_owned()),
                    account: Some((*account).to_owned()),
                })
            }
            _ => None,
        },
    };
    parsed.ok_or_else(|| {
        let mut broken = Vec::new();
        if raw.len() > MAX_NAME && !raw.starts_with("arn:") {
            broken.push(format!(
                "Value '{raw}' at 'layerName' failed to satisfy constraint: Member must have \
                 length less than or equal to {MAX_NAME}"
            ));
        }
        broken.push(format!(
            "Value '{raw}' at 'layerName' failed to satisfy constraint: Member must satisfy \
             regular expression pattern: {NAME_PATTERN}"
        ));
        LayerError::Invalid(broken)
    })
}

/// A layer version's ARN (`arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION`); `None` when it
/// is not one.
pub(crate) fn version_arn(arn: &str) -> Option<VersionArn> {
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", partition, "lambda", region, account, "layer", name, version]
            if is_partition(partition)
                && is_region(region)
                && is_account(account)
                && is_name(name)
                && !version.is_empty()
                && version.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(VersionArn {
                region: (*region).to_owned(),
                account: (*account).to_owned(),
                name: (*name).to_owned(),
                version: version.parse().ok()?,
            })
        }
        _ => None,
    }
}

/// Whether `arn` names one of AWS's own layers (`arn:aws:lambda:::awslayer:NAME`), which
/// Lambda's pattern allows and no emulator holds.
pub(crate) fn is_aws_layer(arn: &str) -> bool {
    matches!(
        arn.split(':').collect::<Vec<_>>().as_slice(),
        ["arn", partition, "lambda", "", "", "awslayer", name] if is_partition(partition) && is_name(name)
    )
}

/// A version number as a path gives it (a positive whole number); else Lambda's validation
/// error.
pub(crate) fn version_number(raw: &str) -> Result<u64, LayerError> {
    raw.parse::<u64>().map_err(|_| {
        LayerError::Invalid(vec![format!(
            "Value '{raw}' at 'versionNumber' failed to satisfy constraint: Member must be a \
             whole number"
        )])
    })
}

/// `aws`, `aws-cn`, `aws-us-gov`, ...
fn is_partition(p: &str) -> bool {
    p.strip_prefix("aws")
        .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
}

/// `us-east-1`: letters and dashes, then a digit (Lambda's pattern, loosely).
fn is_region(r: &str) -> bool {
    let mut parts = r.rsplitn(2, '-');
    let digit = parts.next().unwrap_or_default();
    let words = parts.next().unwrap_or_default();
    digit.len() == 1
        && digit.bytes().all(|b| b.is_ascii_digit())
        && !words.is_empty()
        && words
            .split('-')
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
}

/// Twelve digits.
fn is_account(a: &str) -> bool {
    a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns() {
        assert!(is_name("my-layer_2"));
        assert!(!is_name("bad name") && !is_name("") && !is_name(&"a".repeat(141)));
        let r = layer_ref("arn:aws:lambda:eu-west-1:210987654321:layer:deps").unwrap();
        assert_eq!(r.name, "deps");
        assert_eq!(r.region.as_deref(), Some("eu-west-1"));
        assert_eq!(r.account.as_deref(), Some("210987654321"));
        assert_eq!(layer_ref("deps").unwrap().region, None);
        for bad in [
            "bad name",
            "arn:aws:lambda:eu-west-1:2109:layer:deps",
            "arn:aws:lambda:eu-west-1:210987654321:layer:deps:1",
            "arn:aws:s3:eu-west-1:210987654321:layer:deps",
        ] {
            let e = layer_ref(bad).unwrap_err().to_string();
            assert!(
                e.starts_with("1 validation error detected: Value '") && e.contains("layerName"),
                "{bad}: {e}"
            );
        }
        let long = layer_ref(&"a".repeat(141)).unwrap_err().to_string();
        assert!(long.starts_with("2 validation errors detected"), "{long}");

        let v = version_arn("arn:aws:lambda:us-east-1:123456789012:layer:deps:12").unwrap();
        assert_eq!((v.name.as_str(), v.version), ("deps", 12));
        assert_eq!(v.region, "us-east-1");
        for bad in [
            "arn:aws:lambda:us-east-1:123456789012:layer:deps",
            "arn:aws:lambda:us-east-1:123456789012:layer:deps:x",
            "arn:aws:lambda:useast1:123456789012:layer:deps:1",
            "deps:1",
        ] {
            assert!(version_arn(bad).is_none(), "{bad}");
        }
        assert!(is_aws_layer("arn:aws:lambda:::awslayer:AmazonLinux"));
        assert!(!is_aws_layer("arn:aws:lambda:us-east-1::awslayer:x"));
        assert_eq!(version_number("3").unwrap(), 3);
        assert!(version_number("three").is_err());
    }
}
