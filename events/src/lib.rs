//! Typed Lambda event payloads and realistic sample events.
//!
//! # Event types
//!
//! The event types are [`aws_lambda_events`]' (1.2), re-exported module by module behind Cargo
//! features of the same names, so `firebox_events::sqs::SqsEvent` is
//! `aws_lambda_events::sqs::SqsEvent` and code written for one works with the other. The default
//! features are the common event sources: `apigw`, `alb`, `lambda_function_urls`, `sqs`, `sns`,
//! `s3`, `dynamodb`, `kinesis`, `eventbridge`, `cloudwatch_events`. Every other
//! `aws_lambda_events` module is an opt-in feature (`kafka`, `cognito`, `firehose`...), `full`
//! turns them all on, and `catch-all-fields` / `builders` pass through to `aws_lambda_events`.
//!
//! A handler takes an event type as the payload of `LambdaEvent<T>`:
//!
//! ```no_run
//! use firebox_events::sqs::{SqsBatchResponse, SqsEvent};
//! use firebox_runtime::{run, service_fn, Error, LambdaEvent};
//!
//! async fn handle(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
//!     let mut response = SqsBatchResponse::default();
//!     for message in event.payload.records {
//!         if message.body.as_deref() == Some("poison") {
//!             response.add_failure(message.message_id.unwrap_or_default());
//!         }
//!     }
//!     Ok(response)
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Error> {
//!     run(service_fn(handle)).await
//! }
//! ```
//!
//! # Sample events
//!
//! [`sample`] builds events as AWS sends them, for tests and for the emulator's
//! `firebox event <kind>` command:
//!
//! ```
//! # #[cfg(feature = "sqs")] {
//! let event = firebox_events::sample::sqs().message("order-1").build().unwrap();
//! assert_eq!(event.records[0].event_source.as_deref(), Some("aws:sqs"));
//! # }
//! let json = firebox_events::sample::SampleKind::Alb.json();
//! assert_eq!(json["httpMethod"], "GET");
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

/// The `aws_lambda_events` crate itself, for anything not re-exported here.
pub use aws_lambda_events;
/// Encodings used in event fields (base64 data, timestamps, bodies).
pub use aws_lambda_events::encodings;
/// The `http` crate as `aws_lambda_events` uses it (header maps, methods).
#[cfg(any(
    feature = "apigw",
    feature = "alb",
    feature = "lambda_function_urls",
    feature = "s3",
    feature = "iot",
    feature = "vpc_lattice"
))]
pub use aws_lambda_events::http;
/// The `query_map` crate as `aws_lambda_events` uses it (query-string parameters).
#[cfg(any(feature = "apigw", feature = "alb", feature = "vpc_lattice"))]
pub use aws_lambda_events::query_map;

pub mod sample;

/// The event modules under the path `aws_lambda_events` also has them at
/// (`aws_lambda_events::event::sqs::SqsEvent`), so code that names them that way compiles
/// unchanged with this crate renamed `aws_lambda_events`. The modules are those of the features
/// turned on.
pub use aws_lambda_events::event;

/// Event types for ActiveMQ (feature `activemq`).
#[cfg(feature = "activemq")]
#[cfg_attr(docsrs, doc(cfg(feature = "activemq")))]
pub use aws_lambda_events::activemq;

/// Event types for Application Load Balancer (feature `alb`).
#[cfg(feature = "alb")]
#[cfg_attr(docsrs, doc(cfg(feature = "alb")))]
pub use aws_lambda_events::alb;

/// Event types for API Gateway (REST, HTTP and WebSocket APIs, authorizers) (feature `apigw`).
#[cfg(feature = "apigw")]
#[cfg_attr(docsrs, doc(cfg(feature = "apigw")))]
pub use aws_lambda_events::apigw;

/// Event types for AppSync (feature `appsync`).
#[cfg(feature = "appsync")]
#[cfg_attr(docsrs, doc(cfg(feature = "appsync")))]
pub use aws_lambda_events::appsync;

/// Event types for EC2 Auto Scaling (feature `autoscaling`).
#[cfg(feature = "autoscaling")]
#[cfg_attr(docsrs, doc(cfg(feature = "autoscaling")))]
pub use aws_lambda_events::autoscaling;

/// Event types for Bedrock agents (feature `bedrock_agent_runtime`).
#[cfg(feature = "bedrock_agent_runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "bedrock_agent_runtime")))]
pub use aws_lambda_events::event::bedrock_agent_runtime;

/// Event types for Chime bots (feature `chime_bot`).
#[cfg(feature = "chime_bot")]
#[cfg_attr(docsrs, doc(cfg(feature = "chime_bot")))]
pub use aws_lambda_events::chime_bot;

/// Event types for Client VPN (feature `clientvpn`).
#[cfg(feature = "clientvpn")]
#[cfg_attr(docsrs, doc(cfg(feature = "clientvpn")))]
pub use aws_lambda_events::clientvpn;

/// Event types for CloudFormation custom resources (feature `cloudformation`).
#[cfg(feature = "cloudformation")]
#[cfg_attr(docsrs, doc(cfg(feature = "cloudformation")))]
pub use aws_lambda_events::cloudformation;

/// Event types for CloudWatch alarms (feature `cloudwatch_alarms`).
#[cfg(feature = "cloudwatch_alarms")]
#[cfg_attr(docsrs, doc(cfg(feature = "cloudwatch_alarms")))]
pub use aws_lambda_events::cloudwatch_alarms;

/// Event types for CloudWatch Events (EventBridge's former name) (feature `cloudwatch_events`).
#[cfg(feature = "cloudwatch_events")]
#[cfg_attr(docsrs, doc(cfg(feature = "cloudwatch_events")))]
pub use aws_lambda_events::cloudwatch_events;

/// Event types for CloudWatch Logs subscriptions (feature `cloudwatch_logs`).
#[cfg(feature = "cloudwatch_logs")]
#[cfg_attr(docsrs, doc(cfg(feature = "cloudwatch_logs")))]
pub use aws_lambda_events::cloudwatch_logs;

/// Event types for CodeCommit (feature `code_commit`).
#[cfg(feature = "code_commit")]
#[cfg_attr(docsrs, doc(cfg(feature = "code_commit")))]
pub use aws_lambda_events::code_commit;

/// Event types for CodeBuild (feature `codebuild`).
#[cfg(feature = "codebuild")]
#[cfg_attr(docsrs, doc(cfg(feature = "codebuild")))]
pub use aws_lambda_events::codebuild;

/// Event types for CodeDeploy (feature `codedeploy`).
#[cfg(feature = "codedeploy")]
#[cfg_attr(docsrs, doc(cfg(feature = "codedeploy")))]
pub use aws_lambda_events::codedeploy;

/// Event types for CodePipeline state changes (feature `codepipeline_cloudwatch`).
#[cfg(feature = "codepipeline_cloudwatch")]
#[cfg_attr(docsrs, doc(cfg(feature = "codepipeline_cloudwatch")))]
pub use aws_lambda_events::codepipeline_cloudwatch;

/// Event types for CodePipeline jobs (feature `codepipeline_job`).
#[cfg(feature = "codepipeline_job")]
#[cfg_attr(docsrs, doc(cfg(feature = "codepipeline_job")))]
pub use aws_lambda_events::codepipeline_job;

/// Event types for Cognito triggers (feature `cognito`).
#[cfg(feature = "cognito")]
#[cfg_attr(docsrs, doc(cfg(feature = "cognito")))]
pub use aws_lambda_events::cognito;

/// Event types for AWS Config rules (feature `config`).
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub use aws_lambda_events::config;

/// Event types for Amazon Connect (feature `connect`).
#[cfg(feature = "connect")]
#[cfg_attr(docsrs, doc(cfg(feature = "connect")))]
pub use aws_lambda_events::connect;

/// Event types for Control Tower lifecycle (feature `controltower`).
#[cfg(feature = "controltower")]
#[cfg_attr(docsrs, doc(cfg(feature = "controltower")))]
pub use aws_lambda_events::controltower;

/// Event types for DocumentDB change streams (feature `documentdb`).
#[cfg(feature = "documentdb")]
#[cfg_attr(docsrs, doc(cfg(feature = "documentdb")))]
pub use aws_lambda_events::documentdb;

/// Event types for DynamoDB streams (feature `dynamodb`).
#[cfg(feature = "dynamodb")]
#[cfg_attr(docsrs, doc(cfg(feature = "dynamodb")))]
pub use aws_lambda_events::dynamodb;

/// Event types for ECR image scans (feature `ecr_scan`).
#[cfg(feature = "ecr_scan")]
#[cfg_attr(docsrs, doc(cfg(feature = "ecr_scan")))]
pub use aws_lambda_events::ecr_scan;

/// Event types for EventBridge (feature `eventbridge`).
#[cfg(feature = "eventbridge")]
#[cfg_attr(docsrs, doc(cfg(feature = "eventbridge")))]
pub use aws_lambda_events::eventbridge;

/// Event types for Kinesis Data Firehose transformations (feature `firehose`).
#[cfg(feature = "firehose")]
#[cfg_attr(docsrs, doc(cfg(feature = "firehose")))]
pub use aws_lambda_events::firehose;

/// Event types for IAM policy documents (feature `iam`).
#[cfg(feature = "iam")]
#[cfg_attr(docsrs, doc(cfg(feature = "iam")))]
pub use aws_lambda_events::iam;

/// Event types for IoT Core (feature `iot`).
#[cfg(feature = "iot")]
#[cfg_attr(docsrs, doc(cfg(feature = "iot")))]
pub use aws_lambda_events::iot;

/// Event types for IoT 1-Click (feature `iot_1_click`).
#[cfg(feature = "iot_1_click")]
#[cfg_attr(docsrs, doc(cfg(feature = "iot_1_click")))]
pub use aws_lambda_events::iot_1_click;

/// Event types for IoT button (feature `iot_button`).
#[cfg(feature = "iot_button")]
#[cfg_attr(docsrs, doc(cfg(feature = "iot_button")))]
pub use aws_lambda_events::iot_button;

/// Event types for IoT (deprecated custom authorizer types) (feature `iot_deprecated`).
#[cfg(feature = "iot_deprecated")]
#[cfg_attr(docsrs, doc(cfg(feature = "iot_deprecated")))]
pub use aws_lambda_events::iot_deprecated;

/// Event types for MSK and self-managed Kafka (feature `kafka`).
#[cfg(feature = "kafka")]
#[cfg_attr(docsrs, doc(cfg(feature = "kafka")))]
pub use aws_lambda_events::kafka;

/// Event types for Kinesis data streams (feature `kinesis`).
#[cfg(feature = "kinesis")]
#[cfg_attr(docsrs, doc(cfg(feature = "kinesis")))]
pub use aws_lambda_events::kinesis;

/// Event types for Kinesis Data Analytics (feature `kinesis_analytics`).
#[cfg(feature = "kinesis_analytics")]
#[cfg_attr(docsrs, doc(cfg(feature = "kinesis_analytics")))]
pub use aws_lambda_events::kinesis_analytics;

/// Event types for Lambda function URLs (feature `lambda_function_urls`).
#[cfg(feature = "lambda_function_urls")]
#[cfg_attr(docsrs, doc(cfg(feature = "lambda_function_urls")))]
pub use aws_lambda_events::lambda_function_urls;

/// Event types for Lex bots (feature `lex`).
#[cfg(feature = "lex")]
#[cfg_attr(docsrs, doc(cfg(feature = "lex")))]
pub use aws_lambda_events::lex;

/// Event types for Amazon MQ for RabbitMQ (feature `rabbitmq`).
#[cfg(feature = "rabbitmq")]
#[cfg_attr(docsrs, doc(cfg(feature = "rabbitmq")))]
pub use aws_lambda_events::rabbitmq;

/// Event types for S3 notifications and Object Lambda (feature `s3`).
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use aws_lambda_events::s3;

/// Event types for S3 Batch Operations (feature `s3_batch_job`).
#[cfg(feature = "s3_batch_job")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3_batch_job")))]
pub use aws_lambda_events::s3_batch_job;

/// Event types for Secrets Manager rotation (feature `secretsmanager`).
#[cfg(feature = "secretsmanager")]
#[cfg_attr(docsrs, doc(cfg(feature = "secretsmanager")))]
pub use aws_lambda_events::secretsmanager;

/// Event types for SES (feature `ses`).
#[cfg(feature = "ses")]
#[cfg_attr(docsrs, doc(cfg(feature = "ses")))]
pub use aws_lambda_events::ses;

/// Event types for SNS (feature `sns`).
#[cfg(feature = "sns")]
#[cfg_attr(docsrs, doc(cfg(feature = "sns")))]
pub use aws_lambda_events::sns;

/// Event types for SQS (and batch responses) (feature `sqs`).
#[cfg(feature = "sqs")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqs")))]
pub use aws_lambda_events::sqs;

/// Event types for stream batch responses (partial batch failures) (feature `streams`).
#[cfg(feature = "streams")]
#[cfg_attr(docsrs, doc(cfg(feature = "streams")))]
pub use aws_lambda_events::streams;

/// Event types for VPC Lattice (feature `vpc_lattice`).
#[cfg(feature = "vpc_lattice")]
#[cfg_attr(docsrs, doc(cfg(feature = "vpc_lattice")))]
pub use aws_lambda_events::vpc_lattice;
