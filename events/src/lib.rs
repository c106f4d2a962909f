//! Typed Lambda event payloads (from aws_lambda_events) and sample-event builders.
