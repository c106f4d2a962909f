//! Function names and ARNs as callers write them: `NAME`, `NAME:QUALIFIER`, the partial ARN
//! `ACCOUNT:function:NAME[:QUALIFIER]` and the full ARN
//! `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`, as the Invoke API, the control
//! plane and `Event` destinations accept them.

/// A function as a caller named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionRef {
    /// The function's name.
    pub name: String,
    /// The version or alias after the name, if any.
    pub qualifier: Option<String>,
    /// The partition of a full ARN (`aws`, `aws-cn`, ...).
    pub partition: Option<String>,
    /// The region of a full ARN.
    pub region: Option<String>,
    /// The account of a full or partial ARN.
    pub account: Option<String>,
}

impl FunctionRef {
    /// `NAME[:Q]`, `ACCOUNT:function:NAME[:Q]` or `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q]`
    /// as Lambda's model allows them (a name of letters, digits, `-`, `_` and `.`; an account of
    /// 12 digits; a region such as `us-east-1`; a qualifier `$LATEST` or of letters, digits,
    /// `-` and `_`, at most 128); `None` when it is none of these.
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        let (partition, region, account, rest) = match parts.as_slice() {
            ["arn", partition, "lambda", region, account, "function", rest @ ..]
                if partition.starts_with("aws") =>
            {
                (Some(*partition), Some(*region), Some(*account), rest)
            }
            [account, "function", rest @ ..] => (None, None, Some(*account), rest),
            rest => (None, None, None, rest),
        };
        let (name, qualifier) = match rest {
            [name] => (*name, None),
            [name, q] => (*name, Some(*q)),
            _ => return None,
        };
        let name_ok = !name.is_empty()
            && name.len() <= 140
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok
            || qualifier.is_some_and(|q| !valid_qualifier(q))
            || account.is_some_and(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
            || region.is_some_and(|r| !valid_region(r))
            || partition
                .is_some_and(|p| !p[3..].chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
        {
            return None;
        }
        Some(Self {
            name: name.to_owned(),
            qualifier: qualifier.map(str::to_owned),
            partition: partition.map(str::to_owned),
            region: region.map(str::to_owned),
            account: account.map(str::to_owned),
        })
    }
}

/// A qualifier in a function name: `$LATEST`, or 1 to 128 letters, digits, `-` and `_`.
fn valid_qualifier(q: &str) -> bool {
    q == crate::config::LATEST
        || (!q.is_empty()
            && q.len() <= 128
            && q.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// A `?Qualifier=` as Lambda's model allows it: empty, or at most 128 letters, digits, `$`,
/// `-` and `_`.
pub(crate) fn valid_qualifier_parameter(q: &str) -> bool {
    q.len() <= 128
        && q.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'$' | b'-' | b'_'))
}

/// A region as Lambda's model writes it: `[a-z]{2}((-gov)|(-iso[a-z]?))?-[a-z]+-\d`.
fn valid_region(r: &str) -> bool {
    let mut labels: Vec<&str> = r.split('-').collect();
    let Some(digit) = labels.pop() else {
        return false;
    };
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let country_ok = labels.first().is_some_and(|c| c.len() == 2 && lower(c));
    let middle_ok = match &labels[..] {
        [_, area] => lower(area),
        [_, special, area] => {
            (*special == "gov"
                || special
                    .strip_prefix("iso")
                    .is_some_and(|x| x.len() <= 1 && x.bytes().all(|b| b.is_ascii_lowercase())))
                && lower(area)
        }
        _ => false,
    };
    country_ok && middle_ok && digit.len() == 1 && digit.bytes().all(|b| b.is_ascii_digit())
}

/// The partition a region is in (`aws-cn` for `cn-north-1`, `aws-us-gov` for `us-gov-west-1`,
/// ...): an ARN naming another partition names no function here.
pub(crate) fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names() {
        let f = FunctionRef::parse("hello").unwrap();
        assert_eq!((f.name.as_str(), f.qualifier), ("hello", None));
        let f = FunctionRef::parse("hello:$LATEST").unwrap();
        assert_eq!(f.qualifier.as_deref(), Some("$LATEST"));
        let f = FunctionRef::parse("123456789012:function:hello:prod").unwrap();
        assert_eq!(f.account.as_deref(), Some("123456789012"));
        assert_eq!(f.qualifier.as_deref(), Some("prod"));
        let f = FunctionRef::parse("arn:aws:lambda:eu-west-1:123456789012:function:hello").unwrap();
        assert_eq!(f.region.as_deref(), Some("eu-west-1"));
        assert!(FunctionRef::parse("a:b:c").is_none());
        assert!(FunctionRef::parse("bad name").is_none());
        assert!(FunctionRef::parse("").is_none());
    }

    #[test]
    fn lambdas_patterns() {
        let f = FunctionRef::parse("hel.lo").unwrap();
        assert_eq!(f.name, "hel.lo");
        let f = FunctionRef::parse("arn:aws-cn:lambda:cn-north-1:123456789012:function:f").unwrap();
        assert_eq!(f.partition.as_deref(), Some("aws-cn"));
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-east-1"), "aws");
        assert!(
            FunctionRef::parse("arn:aws:lambda:us-gov-west-1:123456789012:function:f").is_some()
        );
        assert!(
            FunctionRef::parse("arn:aws:lambda:us-iso-east-1:123456789012:function:f").is_some()
        );
        for bad in [
            "hello:a!b",
            &format!("hello:{}", "q".repeat(129)),
            "12:function:hello",
            "arn:aws:lambda:us-east-1:12345678901x:function:hello",
            "arn:aws:lambda:useast1:123456789012:function:hello",
            "arn:aws:lambda:US-EAST-1:123456789012:function:hello",
            "hello:",
        ] {
            assert!(FunctionRef::parse(bad).is_none(), "{bad}");
        }
        assert!(FunctionRef::parse(&format!("hello:{}", "q".repeat(128))).is_some());
        assert!(valid_qualifier_parameter(""));
        assert!(valid_qualifier_parameter("$LATEST"));
        assert!(!valid_qualifier_parameter("a!b"));
        assert!(!valid_qualifier_parameter(&"q".repeat(129)));
    }
}
