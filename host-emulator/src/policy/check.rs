//! The input checks of `AddPermission`, `RemovePermission` and `GetPolicy`: each field
//! against the length and pattern of Lambda's API model, reported as Lambda's validation
//! errors do (`Value 'X' at 'field' failed to satisfy constraint: …`), all of them at once.

use super::Permission;

/// What one field must satisfy.
struct Rule {
    /// The field, as Lambda names it in its messages.
    field: &'static str,
    /// The shortest value (0: no floor).
    min: usize,
    /// The longest value.
    max: usize,
    /// The constraint beyond the length, as Lambda words it.
    constraint: &'static str,
    /// Whether a value satisfies it.
    matches: fn(&str) -> bool,
}

const QUALIFIER: Rule = Rule {
    field: "qualifier",
    min: 1,
    max: 128,
    constraint: "Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)",
    matches: |q| {
        q.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '$' | '_' | '-'))
    },
};

const STATEMENT_ID: Rule = Rule {
    field: "statementId",
    min: 1,
    max: 100,
    constraint: "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
    matches: |s| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    },
};

/// `RemovePermission`'s statement id, which may also hold dots.
const REMOVED_STATEMENT_ID: Rule = Rule {
    field: "statementId",
    min: 1,
    max: 100,
    constraint: "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)",
    matches: |s| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    },
};

const ACTION: Rule = Rule {
    field: "action",
    min: 0,
    max: 10_000,
    constraint: "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])",
    matches: |a| {
        a == "*"
            || a.strip_prefix("lambda:").is_some_and(|rest| {
                rest == "*" || (!rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphabetic()))
            })
    },
};

const PRINCIPAL: Rule = Rule {
    field: "principal",
    min: 0,
    max: 2048,
    constraint: "Member must satisfy regular expression pattern: [^\\s]+",
    matches: |p| !p.is_empty() && !p.chars().any(char::is_whitespace),
};

const SOURCE_ARN: Rule = Rule {
    field: "sourceArn",
    min: 0,
    max: 10_000,
    constraint: "Member must satisfy regular expression pattern: \
                 arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?\
                 -[a-z]+-\\d{1})?:(\\d{12})?:(.*)",
    matches: is_source_arn,
};

const SOURCE_ACCOUNT: Rule = Rule {
    field: "sourceAccount",
    min: 0,
    max: 12,
    constraint: "Member must satisfy regular expression pattern: \\d{12}",
    matches: is_account,
};

const EVENT_SOURCE_TOKEN: Rule = Rule {
    field: "eventSourceToken",
    min: 0,
    max: 256,
    constraint: "Member must satisfy regular expression pattern: [a-zA-Z0-9._\\-]+",
    matches: |t| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    },
};

const PRINCIPAL_ORG_ID: Rule = Rule {
    field: "principalOrgID",
    min: 12,
    max: 34,
    constraint: "Member must satisfy regular expression pattern: o-[a-z0-9]{10,32}",
    matches: |o| {
        o.strip_prefix("o-").is_some_and(|rest| {
            (10..=32).contains(&rest.len())
                && rest
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
    },
};

const FUNCTION_URL_AUTH_TYPE: Rule = Rule {
    field: "functionUrlAuthType",
    min: 0,
    max: usize::MAX,
    constraint: "Member must satisfy enum value set: [NONE, AWS_IAM]",
    matches: |t| matches!(t, "NONE" | "AWS_IAM"),
};

/// `AddLayerVersionPermission`'s action: the one a layer's policy grants.
const LAYER_ACTION: Rule = Rule {
    field: "action",
    min: 0,
    max: 22,
    constraint: "Member must satisfy regular expression pattern: lambda:GetLayerVersion",
    matches: |a| a == "lambda:GetLayerVersion",
};

/// `AddLayerVersionPermission`'s principal: an account, its root, or anyone.
const LAYER_PRINCIPAL: Rule = Rule {
    field: "principal",
    min: 0,
    max: 10_000,
    constraint: "Member must satisfy regular expression pattern: \\d{12}|\\*|arn:(aws[a-zA-Z-]*):iam::\\d{12}:root",
    matches: |p| {
        p == "*"
            || is_account(p)
            || p.strip_prefix("arn:aws").is_some_and(|rest| {
                rest.split_once(":iam::").is_some_and(|(partition, root)| {
                    partition.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
                        && root.strip_suffix(":root").is_some_and(is_account)
                })
            })
    },
};

/// `AddLayerVersionPermission`'s organization (the same form as `principalOrgID`).
const ORGANIZATION_ID: Rule = Rule {
    field: "organizationId",
    min: 0,
    max: 34,
    constraint: "Member must satisfy regular expression pattern: o-[a-z0-9]{10,32}",
    matches: PRINCIPAL_ORG_ID.matches,
};

impl Rule {
    /// Adds what `value` breaks to `out`.
    fn check(&self, value: &str, out: &mut Vec<String>) {
        let field = self.field;
        let len = value.chars().count();
        let mut broken = |constraint: String| {
            out.push(format!(
                "Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
            ));
        };
        if len > self.max {
            broken(format!(
                "Member must have length less than or equal to {}",
                self.max
            ));
        }
        if len < self.min {
            broken(format!(
                "Member must have length greater than or equal to {}",
                self.min
            ));
        }
        if !(self.matches)(value) {
            broken(self.constraint.to_owned());
        }
    }

    /// Adds what `value`, if given, breaks to `out`.
    fn check_given(&self, value: Option<&str>, out: &mut Vec<String>) {
        if let Some(value) = value {
            self.check(value, out);
        }
    }
}

/// What a qualifier (if any) breaks.
pub(super) fn qualifier(q: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    QUALIFIER.check_given(q, &mut out);
    out
}

/// What an `AddPermission` (and its qualifier) breaks, field by field in the model's order.
pub(super) fn permission(q: Option<&str>, p: &Permission) -> Vec<String> {
    let mut out = Vec::new();
    STATEMENT_ID.check(&p.statement_id, &mut out);
    ACTION.check(&p.action, &mut out);
    PRINCIPAL.check(&p.principal, &mut out);
    SOURCE_ARN.check_given(p.source_arn.as_deref(), &mut out);
    SOURCE_ACCOUNT.check_given(p.source_account.as_deref(), &mut out);
    EVENT_SOURCE_TOKEN.check_given(p.event_source_token.as_deref(), &mut out);
    QUALIFIER.check_given(q, &mut out);
    PRINCIPAL_ORG_ID.check_given(p.principal_org_id.as_deref(), &mut out);
    FUNCTION_URL_AUTH_TYPE.check_given(p.function_url_auth_type.as_deref(), &mut out);
    out
}

/// What an `AddLayerVersionPermission` breaks, field by field in the model's order.
pub(super) fn layer_permission(p: &Permission) -> Vec<String> {
    let mut out = Vec::new();
    STATEMENT_ID.check(&p.statement_id, &mut out);
    LAYER_ACTION.check(&p.action, &mut out);
    LAYER_PRINCIPAL.check(&p.principal, &mut out);
    ORGANIZATION_ID.check_given(p.principal_org_id.as_deref(), &mut out);
    out
}

/// What a `RemovePermission` (its qualifier and statement id) breaks.
pub(super) fn removal(q: Option<&str>, statement_id: &str) -> Vec<String> {
    let mut out = Vec::new();
    REMOVED_STATEMENT_ID.check(statement_id, &mut out);
    QUALIFIER.check_given(q, &mut out);
    out
}

/// Twelve digits.
pub(super) fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:PARTITION:SERVICE:[REGION]:[ACCOUNT]:RESOURCE`, as Lambda's `SourceArn` pattern has
/// it (an S3 bucket's ARN has neither region nor account).
fn is_source_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, _resource] = parts.as_slice() else {
        return false;
    };
    let word = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    *arn == "arn"
        && partition.strip_prefix("aws").is_some_and(word)
        && !service.is_empty()
        && word(service)
        && (region.is_empty() || is_region(region))
        && (account.is_empty() || is_account(account))
}

/// `us-east-1`, `us-gov-west-1`, `us-isob-east-1`, `eusc-de-east-1`.
fn is_region(r: &str) -> bool {
    let r = r.strip_prefix("eusc-").unwrap_or(r);
    let parts: Vec<&str> = r.split('-').collect();
    let lower = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase());
    let (country, rest) = match parts.as_slice() {
        [country, rest @ ..] => (*country, rest),
        [] => return false,
    };
    let rest = match rest {
        [special, rest @ ..] if rest.len() == 2 && is_special_region(special) => rest,
        rest => rest,
    };
    country.len() == 2
        && lower(country)
        && matches!(rest, [area, digit] if lower(area) && digit.len() == 1
            && digit.bytes().all(|b| b.is_ascii_digit()))
}

/// `gov`, `iso` or `iso` and one letter.
fn is_special_region(s: &str) -> bool {
    s == "gov"
        || s.strip_prefix("iso")
            .is_some_and(|x| x.len() <= 1 && x.chars().all(|c| c.is_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken(rule: &Rule, value: &str) -> Vec<String> {
        let mut out = Vec::new();
        rule.check(value, &mut out);
        out
    }

    #[test]
    fn patterns_as_lambda_has_them() {
        for ok in [
            "lambda:InvokeFunction",
            "lambda:*",
            "*",
            "lambda:GetFunction",
        ] {
            assert!(broken(&ACTION, ok).is_empty(), "{ok}");
        }
        for bad in [
            "s3:GetObject",
            "lambda:",
            "lambda:Invoke-Function",
            "**",
            "",
        ] {
            assert_eq!(broken(&ACTION, bad).len(), 1, "{bad}");
        }
        for ok in [
            "arn:aws:s3:::my-bucket",
            "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/orders",
            "arn:aws-us-gov:sns:us-gov-west-1:123456789012:topic",
            "arn:aws:events:eusc-de-east-1:123456789012:rule/r",
        ] {
            assert!(is_source_arn(ok), "{ok}");
        }
        for bad in [
            "bucket",
            "arn:aws:s3::bucket",
            "arn:azure:s3:::b",
            "arn:aws:sns:useast1:123456789012:t",
            "arn:aws:sns:us-east-1:1234:t",
        ] {
            assert!(!is_source_arn(bad), "{bad}");
        }
        assert!(broken(&PRINCIPAL_ORG_ID, "o-a1b2c3d4e5").is_empty());
        // Too short and not the pattern: both said, as Lambda says them.
        assert_eq!(broken(&PRINCIPAL_ORG_ID, "o-abc").len(), 2);
        assert!(broken(&STATEMENT_ID, "s3-invoke_1").is_empty());
        assert_eq!(
            broken(&STATEMENT_ID, "has space"),
            [
                "Value 'has space' at 'statementId' failed to satisfy constraint: Member must \
              satisfy regular expression pattern: ([a-zA-Z0-9-_]+)"
            ]
        );
        assert_eq!(broken(&STATEMENT_ID, &"a".repeat(101)).len(), 1);
        assert!(broken(&REMOVED_STATEMENT_ID, "with.dot").is_empty());
        assert_eq!(broken(&STATEMENT_ID, "with.dot").len(), 1);
        assert_eq!(broken(&PRINCIPAL, "has space").len(), 1);
        assert_eq!(broken(&FUNCTION_URL_AUTH_TYPE, "none").len(), 1);
        assert_eq!(broken(&QUALIFIER, "live!").len(), 1);
        assert!(broken(&QUALIFIER, "$LATEST").is_empty());
    }

    #[test]
    fn layer_permissions() {
        let p = |action: &str, principal: &str, org: Option<&str>| Permission {
            statement_id: "share".into(),
            action: action.into(),
            principal: principal.into(),
            principal_org_id: org.map(str::to_owned),
            ..Permission::default()
        };
        for principal in ["*", "210987654321", "arn:aws:iam::210987654321:root"] {
            let ok = p("lambda:GetLayerVersion", principal, Some("o-a1b2c3d4e5"));
            assert!(layer_permission(&ok).is_empty(), "{principal}");
        }
        let all = layer_permission(&p("lambda:InvokeFunction", "s3.amazonaws.com", Some("o-x")));
        let fields: Vec<&str> = all.iter().filter_map(|m| m.split('\'').nth(3)).collect();
        assert_eq!(fields, ["action", "principal", "organizationId"]);
        assert!(all[1].contains(r"\d{12}|\*|arn:"), "{}", all[1]);
    }

    #[test]
    fn every_field_is_checked_at_once() {
        let p = Permission {
            statement_id: "bad id".into(),
            action: "s3:*".into(),
            principal: "s3.amazonaws.com".into(),
            source_account: Some("12".into()),
            ..Permission::default()
        };
        let all = permission(Some("q!"), &p);
        let fields: Vec<&str> = all.iter().filter_map(|m| m.split('\'').nth(3)).collect();
        assert_eq!(
            fields,
            ["statementId", "action", "sourceAccount", "qualifier"]
        );
    }
}
