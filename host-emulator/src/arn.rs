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
    /// The region of a full ARN.
    pub region: Option<String>,
    /// The account of a full or partial ARN.
    pub account: Option<String>,
}

impl FunctionRef {
    /// `NAME[:Q]`, `ACCOUNT:function:NAME[:Q]` or `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q]`;
    /// `None` when it is none of these.
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        let (region, account, rest) = match parts.as_slice() {
            ["arn", partition, "lambda", region, account, "function", rest @ ..]
                if partition.starts_with("aws") =>
            {
                (Some(*region), Some(*account), rest)
            }
            [account, "function", rest @ ..] => (None, Some(*account), rest),
            rest => (None, None, rest),
        };
        let (name, qualifier) = match rest {
            [name] => (*name, None),
            [name, q] => (*name, Some(*q)),
            _ => return None,
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.len() <= 140
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !valid(name) || qualifier.is_some_and(|q| q.is_empty()) {
            return None;
        }
        Some(Self {
            name: name.to_owned(),
            qualifier: qualifier.map(str::to_owned),
            region: region.map(str::to_owned),
            account: account.map(str::to_owned),
        })
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
}
