//! [`SampleKind`]: the stable names of the sample events, for command lines and configuration.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::SampleError;

/// A kind of sample event, with a stable name (`Display` and `FromStr` use it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SampleKind {
    /// `apigw-v1`: API Gateway REST API proxy integration (payload format 1.0).
    ApiGatewayV1 = 1,
    /// `apigw-v2`: API Gateway HTTP API (payload format 2.0).
    ApiGatewayV2,
    /// `alb`: Application Load Balancer target group.
    Alb,
    /// `function-url`: Lambda function URL.
    FunctionUrl,
    /// `sqs`: SQS batch.
    Sqs,
    /// `sns`: SNS notification.
    Sns,
    /// `s3`: S3 event notification.
    S3,
    /// `dynamodb`: DynamoDB stream batch.
    DynamoDb,
    /// `kinesis`: Kinesis data stream batch.
    Kinesis,
    /// `eventbridge`: EventBridge event.
    EventBridge,
    /// `scheduled`: EventBridge (CloudWatch Events) scheduled event.
    Scheduled,
}

impl SampleKind {
    /// Every kind, in a stable order.
    pub const ALL: [SampleKind; 11] = [
        SampleKind::ApiGatewayV1,
        SampleKind::ApiGatewayV2,
        SampleKind::Alb,
        SampleKind::FunctionUrl,
        SampleKind::Sqs,
        SampleKind::Sns,
        SampleKind::S3,
        SampleKind::DynamoDb,
        SampleKind::Kinesis,
        SampleKind::EventBridge,
        SampleKind::Scheduled,
    ];

    /// The stable name, e.g. `apigw-v2`.
    pub fn name(self) -> &'static str {
        match self {
            SampleKind::ApiGatewayV1 => "apigw-v1",
            SampleKind::ApiGatewayV2 => "apigw-v2",
            SampleKind::Alb => "alb",
            SampleKind::FunctionUrl => "function-url",
            SampleKind::Sqs => "sqs",
            SampleKind::Sns => "sns",
            SampleKind::S3 => "s3",
            SampleKind::DynamoDb => "dynamodb",
            SampleKind::Kinesis => "kinesis",
            SampleKind::EventBridge => "eventbridge",
            SampleKind::Scheduled => "scheduled",
        }
    }

    /// Other names `FromStr` accepts for this kind.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            SampleKind::ApiGatewayV1 => &["apigw", "apigw-rest", "api-gateway-v1"],
            SampleKind::ApiGatewayV2 => &["apigw-http", "api-gateway-v2", "http-api"],
            SampleKind::Alb => &["elb"],
            SampleKind::FunctionUrl => &["lambda-url", "url"],
            SampleKind::DynamoDb => &["dynamodb-stream", "ddb"],
            SampleKind::EventBridge => &["cloudwatch-event"],
            SampleKind::Scheduled => &["schedule", "cloudwatch-scheduled"],
            SampleKind::Sqs | SampleKind::Sns | SampleKind::S3 | SampleKind::Kinesis => &[],
        }
    }

    /// A one-line description.
    pub fn description(self) -> &'static str {
        match self {
            SampleKind::ApiGatewayV1 => "API Gateway REST API proxy integration (payload 1.0)",
            SampleKind::ApiGatewayV2 => "API Gateway HTTP API (payload 2.0)",
            SampleKind::Alb => "Application Load Balancer target group request",
            SampleKind::FunctionUrl => "Lambda function URL request",
            SampleKind::Sqs => "SQS message batch",
            SampleKind::Sns => "SNS notification",
            SampleKind::S3 => "S3 event notification",
            SampleKind::DynamoDb => "DynamoDB stream batch",
            SampleKind::Kinesis => "Kinesis data stream batch",
            SampleKind::EventBridge => "EventBridge event",
            SampleKind::Scheduled => "EventBridge scheduled event",
        }
    }

    /// The default sample of this kind, as AWS sends it.
    pub fn json(self) -> Value {
        match self {
            SampleKind::ApiGatewayV1 => super::apigw_v1().to_json(),
            SampleKind::ApiGatewayV2 => super::apigw_v2().to_json(),
            SampleKind::Alb => super::alb().to_json(),
            SampleKind::FunctionUrl => super::function_url().to_json(),
            SampleKind::Sqs => super::sqs().to_json(),
            SampleKind::Sns => super::sns().to_json(),
            SampleKind::S3 => super::s3().to_json(),
            SampleKind::DynamoDb => super::dynamodb().to_json(),
            SampleKind::Kinesis => super::kinesis().to_json(),
            SampleKind::EventBridge => super::eventbridge().to_json(),
            SampleKind::Scheduled => super::scheduled().to_json(),
        }
    }
}

/// The default sample of `kind`, as AWS sends it; same as [`SampleKind::json`].
pub fn json(kind: SampleKind) -> Value {
    kind.json()
}

impl fmt::Display for SampleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SampleKind {
    type Err = SampleError;

    /// Parses a name or alias, ignoring case and treating `_` like `-`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        SampleKind::ALL
            .into_iter()
            .find(|kind| kind.name() == wanted || kind.aliases().contains(&wanted.as_str()))
            .ok_or_else(|| SampleError::UnknownKind {
                name: s.to_string(),
                known: SampleKind::ALL.map(SampleKind::name).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for kind in SampleKind::ALL {
            assert_eq!(kind.name().parse::<SampleKind>().unwrap(), kind);
            assert_eq!(kind.to_string(), kind.name());
            for alias in kind.aliases() {
                assert_eq!(alias.parse::<SampleKind>().unwrap(), kind);
            }
        }
        let mut names: Vec<&str> = SampleKind::ALL
            .iter()
            .flat_map(|k| std::iter::once(k.name()).chain(k.aliases().iter().copied()))
            .collect();
        let total = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), total, "a name or alias is used twice");
    }

    #[test]
    fn parsing_is_lenient_about_case_and_underscores() {
        assert_eq!(
            " APIGW_V2 ".parse::<SampleKind>().unwrap(),
            SampleKind::ApiGatewayV2
        );
        assert_eq!(
            "Function_URL".parse::<SampleKind>().unwrap(),
            SampleKind::FunctionUrl
        );
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let err = "kafka".parse::<SampleKind>().unwrap_err();
        let message = err.to_string();
        assert!(message.contains("`kafka`"), "{message}");
        assert!(message.contains("apigw-v1, apigw-v2, alb"), "{message}");
        assert!(matches!(err, SampleError::UnknownKind { .. }));
    }
}
