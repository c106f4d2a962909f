//! Versions, aliases and the read side of the control plane, as `aws-sdk-lambda` parses them:
//! an invoke through an alias, `GetFunction`, `ListVersionsByFunction`, `GetAlias` with its
//! routing weights, `ListFunctions` page by page, and the typed errors of the write side.

use aws_sdk_lambda::primitives::Blob;
use firebox_tests::shared::TestResult;

use super::{explain, with_sdk};

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:hello";

#[test]
fn an_alias_runs_one_of_its_versions() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        for _ in 0..10 {
            let out = sdk
                .invoke()
                .function_name("hello")
                .qualifier("live")
                .payload(Blob::new("{}"))
                .send()
                .await
                .map_err(|e| explain(&e))?;
            assert_eq!(out.status_code(), 200);
            let version = out.executed_version().unwrap_or_default();
            assert!(version == "1" || version == "2", "{version}");
        }
        let out = sdk
            .invoke()
            .function_name(format!("{ARN}:2"))
            .payload(Blob::new("{}"))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(out.executed_version(), Some("2"));
        Ok(())
    })
}

#[test]
fn functions_versions_and_aliases_parse() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let f = sdk
            .get_function()
            .function_name("hello")
            .qualifier("1")
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let c = f.configuration().ok_or("no Configuration")?;
        assert_eq!(c.function_arn(), Some(format!("{ARN}:1").as_str()));
        assert_eq!(c.version(), Some("1"));
        assert_eq!(c.memory_size(), Some(256));
        assert_eq!(c.timeout(), Some(20));
        assert_eq!(
            c.state(),
            Some(&aws_sdk_lambda::types::State::Active),
            "{c:?}"
        );

        let versions = sdk
            .list_versions_by_function()
            .function_name("hello")
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let numbers: Vec<&str> = versions
            .versions()
            .iter()
            .filter_map(|v| v.version())
            .collect();
        assert_eq!(numbers, ["$LATEST", "1", "2"]);

        let alias = sdk
            .get_alias()
            .function_name("hello")
            .name("live")
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(alias.function_version(), Some("1"));
        assert_eq!(alias.alias_arn(), Some(format!("{ARN}:live").as_str()));
        let weights = alias
            .routing_config()
            .and_then(|r| r.additional_version_weights())
            .ok_or("no routing weights")?;
        assert_eq!(weights.get("2"), Some(&0.25));

        // One function per page, following NextMarker.
        let mut names = Vec::new();
        let mut marker = None;
        loop {
            let page = sdk
                .list_functions()
                .max_items(1)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| explain(&e))?;
            assert_eq!(page.functions().len(), 1);
            names.extend(
                page.functions()
                    .iter()
                    .filter_map(|f| f.function_name().map(str::to_owned)),
            );
            marker = page.next_marker().map(str::to_owned);
            if marker.is_none() {
                break;
            }
        }
        assert_eq!(
            names,
            ["errors", "hello", "streaming", "streaming-disconnect"]
        );
        Ok(())
    })
}

#[test]
fn unknown_aliases_and_writes_are_typed_errors() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let err = sdk
            .get_alias()
            .function_name("hello")
            .name("nope")
            .send()
            .await
            .expect_err("an unknown alias");
        assert!(
            err.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()),
            "{}",
            explain(&err)
        );
        let err = sdk
            .publish_version()
            .function_name("hello")
            .send()
            .await
            .expect_err("publishing is refused");
        let message = explain(&err);
        assert!(
            err.as_service_error()
                .is_some_and(|e| e.is_invalid_parameter_value_exception()
                    || e.meta().code() == Some("InvalidRequestContentException")),
            "{message}"
        );
        assert!(message.contains("PublishVersion"), "{message}");
        Ok(())
    })
}
