//! Versions, aliases and the read side of the control plane, as `aws-sdk-lambda` parses them:
//! an invoke through an alias, `GetFunction`, `ListVersionsByFunction`, `GetAlias` with its
//! routing weights, `ListFunctions` page by page, the typed errors of the write side, and the
//! writes the emulator does (`CreateAlias`, `UpdateAlias`, `DeleteAlias`,
//! `PutFunctionConcurrency`, `DeleteFunctionConcurrency`, `UpdateFunctionConfiguration`,
//! `PublishVersion`) on an emulator of their own.

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    AliasRoutingConfiguration, ApplicationLogLevel, Environment, LastUpdateStatus, LogFormat,
    LogType, LoggingConfig, SystemLogLevel,
};
use firebox_tests::shared::TestResult;

use super::{explain, service_error, version_numbers, with_sdk, with_sdk_on, CHANGED};

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

        // Lambda's LoggingConfig: Text unless configured, the levels only with JSON.
        for (function, format, application, system) in [
            ("hello", LogFormat::Text, None, None),
            (
                "hello-json",
                LogFormat::Json,
                Some(ApplicationLogLevel::Debug),
                Some(SystemLogLevel::Info),
            ),
        ] {
            let c = sdk
                .get_function_configuration()
                .function_name(function)
                .send()
                .await
                .map_err(|e| explain(&e))?;
            let logging = c.logging_config().ok_or("no LoggingConfig")?;
            assert_eq!(logging.log_format(), Some(&format), "{logging:?}");
            assert_eq!(logging.application_log_level(), application.as_ref());
            assert_eq!(logging.system_log_level(), system.as_ref());
            let group = format!("/aws/lambda/{function}");
            assert_eq!(logging.log_group(), Some(group.as_str()));
        }

        assert_eq!(version_numbers(&sdk, "hello").await?, ["$LATEST", "1", "2"]);

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
            [
                "errors",
                "hello",
                "hello-json",
                "streaming",
                "streaming-disconnect"
            ]
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
        // `$LATEST` is deleted only with its function.
        let (err, status) = service_error(
            sdk.delete_function()
                .function_name("hello")
                .qualifier("$LATEST")
                .send(),
        )
        .await?;
        assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
        assert_eq!(err.code(), Some("InvalidParameterValueException"));
        assert_eq!(status, 400);
        assert_eq!(
            err.message(),
            Some("$LATEST version cannot be deleted without deleting the function."),
            "{err:?}"
        );
        // Still there, and still answering.
        let out = sdk
            .invoke()
            .function_name("hello")
            .payload(Blob::new("{}"))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(out.status_code(), 200);
        Ok(())
    })
}

#[test]
fn aliases_and_reserved_concurrency_change_through_the_sdk() -> TestResult {
    with_sdk_on(&CHANGED, |_emu, sdk| async move {
        let invoke_beta = || {
            sdk.invoke()
                .function_name("hello")
                .qualifier("beta")
                .payload(Blob::new("{}"))
                .send()
        };
        let created = sdk
            .create_alias()
            .function_name("hello")
            .name("beta")
            .function_version("1")
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(created.alias_arn(), Some(format!("{ARN}:beta").as_str()));
        let revision = created.revision_id().unwrap_or_default().to_owned();
        assert!(!revision.is_empty());
        let out = invoke_beta().await.map_err(|e| explain(&e))?;
        assert_eq!(out.executed_version(), Some("1"));

        let routing = AliasRoutingConfiguration::builder()
            .additional_version_weights("2", 1.0)
            .build();
        let updated = sdk
            .update_alias()
            .function_name("hello")
            .name("beta")
            .routing_config(routing)
            .revision_id(&revision)
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let weights = updated
            .routing_config()
            .and_then(|r| r.additional_version_weights())
            .cloned()
            .unwrap_or_default();
        assert_eq!(weights.get("2"), Some(&1.0));
        let out = invoke_beta().await.map_err(|e| explain(&e))?;
        assert_eq!(out.executed_version(), Some("2"));

        let (err, status) = service_error(
            sdk.update_alias()
                .function_name("hello")
                .name("beta")
                .function_version("2")
                .revision_id(&revision)
                .send(),
        )
        .await?;
        assert!(err.is_precondition_failed_exception(), "{err:?}");
        assert_eq!(status, 412);
        let (err, status) = service_error(
            sdk.create_alias()
                .function_name("hello")
                .name("beta")
                .function_version("1")
                .send(),
        )
        .await?;
        assert!(err.is_resource_conflict_exception(), "{err:?}");
        assert_eq!(status, 409);

        sdk.delete_alias()
            .function_name("hello")
            .name("beta")
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let (err, status) = service_error(invoke_beta()).await?;
        assert!(err.is_resource_not_found_exception(), "{err:?}");
        assert_eq!(status, 404);

        let put = sdk
            .put_function_concurrency()
            .function_name("hello")
            .reserved_concurrent_executions(0)
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(put.reserved_concurrent_executions(), Some(0));
        let (err, status) = service_error(
            sdk.invoke()
                .function_name("hello")
                .payload(Blob::new("{}"))
                .send(),
        )
        .await?;
        assert!(err.is_too_many_requests_exception(), "{err:?}");
        assert_eq!(status, 429);
        let (err, _) = service_error(
            sdk.put_function_concurrency()
                .function_name("hello")
                .reserved_concurrent_executions(901)
                .send(),
        )
        .await?;
        assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
        assert!(
            err.message().unwrap_or_default().contains("[100]"),
            "{err:?}"
        );
        sdk.delete_function_concurrency()
            .function_name("hello")
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let got = sdk
            .get_function_concurrency()
            .function_name("hello")
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(got.reserved_concurrent_executions(), None);
        let out = sdk
            .invoke()
            .function_name("hello")
            .payload(Blob::new("{}"))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(out.status_code(), 200);
        Ok(())
    })
}

/// The REPORT line of an invoke's log tail.
fn report(tail: Option<&str>) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(tail.ok_or("no LogResult")?)?;
    let text = String::from_utf8(bytes)?;
    Ok(text
        .lines()
        .find(|l| l.starts_with("REPORT"))
        .ok_or(text.clone())?
        .to_owned())
}

#[test]
fn settings_and_versions_change_through_the_sdk() -> TestResult {
    with_sdk_on(&CHANGED, |_emu, sdk| async move {
        let invoke = |qualifier: Option<&str>| {
            sdk.invoke()
                .function_name("settings")
                .set_qualifier(qualifier.map(str::to_owned))
                .log_type(LogType::Tail)
                .payload(Blob::new("{}"))
                .send()
        };
        let before = sdk
            .get_function_configuration()
            .function_name("settings")
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let updated = sdk
            .update_function_configuration()
            .function_name("settings")
            .memory_size(512)
            .timeout(9)
            .description("bigger")
            .environment(Environment::builder().variables("STAGE", "beta").build())
            .logging_config(LoggingConfig::builder().log_format(LogFormat::Text).build())
            .set_revision_id(before.revision_id().map(str::to_owned))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(updated.memory_size(), Some(512));
        assert_eq!(updated.timeout(), Some(9));
        assert_eq!(updated.description(), Some("bigger"));
        assert_eq!(
            updated.last_update_status(),
            Some(&LastUpdateStatus::Successful)
        );
        let variables = updated
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        assert_eq!(variables.get("STAGE").map(String::as_str), Some("beta"));
        assert_ne!(updated.revision_id(), before.revision_id());
        let out = invoke(None).await.map_err(|e| explain(&e))?;
        let line = report(out.log_result())?;
        assert!(line.contains("Memory Size: 512 MB"), "{line}");
        assert!(line.contains("Init Duration"), "a new environment: {line}");

        let published = sdk
            .publish_version()
            .function_name("settings")
            .description("release")
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(published.version(), Some("1"));
        assert_eq!(published.description(), Some("release"));
        assert_eq!(published.memory_size(), Some(512));
        let again = sdk
            .publish_version()
            .function_name("settings")
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(again.version(), Some("1"), "nothing changed since");

        sdk.update_function_configuration()
            .function_name("settings")
            .memory_size(1024)
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let out = invoke(Some("1")).await.map_err(|e| explain(&e))?;
        assert_eq!(out.executed_version(), Some("1"));
        let line = report(out.log_result())?;
        assert!(
            line.contains("Memory Size: 512 MB"),
            "version 1 keeps its settings: {line}"
        );
        let out = invoke(None).await.map_err(|e| explain(&e))?;
        let line = report(out.log_result())?;
        assert!(line.contains("Memory Size: 1024 MB"), "{line}");

        let (err, status) = service_error(
            sdk.update_function_configuration()
                .function_name("settings")
                .memory_size(64)
                .send(),
        )
        .await?;
        assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
        assert_eq!(status, 400);
        assert!(
            err.message().unwrap_or_default().contains("MemorySize"),
            "{err:?}"
        );
        let (err, status) = service_error(
            sdk.publish_version()
                .function_name("settings")
                .revision_id("stale")
                .send(),
        )
        .await?;
        assert!(err.is_precondition_failed_exception(), "{err:?}");
        assert_eq!(status, 412);
        assert_eq!(version_numbers(&sdk, "settings").await?, ["$LATEST", "1"]);
        Ok(())
    })
}
