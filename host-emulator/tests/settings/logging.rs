//! `LoggingConfig` updates: the next invoke logs in the new format, and simultaneous updates
//! each merge over the other.

use super::common::*;
use super::*;

#[tokio::test]
async fn the_log_format_changes_with_an_update() {
    let emu = emulator().await;
    run(&emu, None, json!({})).await;
    let r = call(
        &emu,
        "PUT",
        CONFIGURATION,
        &json!({"LoggingConfig": {"LogFormat": "JSON", "ApplicationLogLevel": "WARN"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let logging = &r.json()["LoggingConfig"];
    assert_eq!(logging["LogFormat"], "JSON");
    assert_eq!(logging["ApplicationLogLevel"], "WARN");
    assert_eq!(logging["SystemLogLevel"], "INFO");
    let (answer, tail) = run(&emu, None, json!({"lines": ["plain info line"]})).await;
    assert_eq!(answer["env"]["AWS_LAMBDA_LOG_FORMAT"], "JSON");
    assert_eq!(answer["env"]["AWS_LAMBDA_LOG_LEVEL"], "WARN");
    assert!(tail.contains(r#""type":"platform.report""#), "{tail}");
    // A plain line counts as INFO: below WARN, it is filtered out.
    assert!(!tail.contains("plain info line"), "{tail}");

    // Back to Text: the levels go with it.
    emu.update_function_configuration(
        "api",
        FunctionUpdate {
            logging: Some(LoggingConfig {
                format: LogFormat::Text,
                ..LoggingConfig::default()
            }),
            ..FunctionUpdate::default()
        },
    )
    .expect("update");
    let (answer, tail) = run(&emu, None, json!({"lines": ["plain info line"]})).await;
    assert!(answer["env"].get("AWS_LAMBDA_LOG_FORMAT").is_none());
    assert!(tail.contains("REPORT RequestId"), "{tail}");
    assert!(tail.contains("plain info line"), "{tail}");
    emu.shutdown().await;
}

#[tokio::test]
async fn simultaneous_logging_updates_each_merge_over_the_other() {
    // Each update gives one level only; merged one after the other (under the function's
    // writes lock), every round ends with both, whichever came first.
    let emu = emulator().await;
    let json_format = json!({"LoggingConfig": {"LogFormat": "JSON"}});
    assert_eq!(
        call(&emu, "PUT", CONFIGURATION, &json_format).await.status,
        200
    );
    for (application, system) in [("DEBUG", "WARN"), ("ERROR", "DEBUG"), ("WARN", "INFO")] {
        let app = json!({"LoggingConfig": {"ApplicationLogLevel": application}});
        let sys = json!({"LoggingConfig": {"SystemLogLevel": system}});
        let (a, s) = tokio::join!(
            call(&emu, "PUT", CONFIGURATION, &app),
            call(&emu, "PUT", CONFIGURATION, &sys)
        );
        assert_eq!((a.status.as_u16(), s.status.as_u16()), (200, 200));
        let now = call(&emu, "GET", CONFIGURATION, &Value::Null).await.json();
        assert_eq!(now["LoggingConfig"]["LogFormat"], "JSON", "{now}");
        assert_eq!(
            now["LoggingConfig"]["ApplicationLogLevel"], application,
            "{now}"
        );
        assert_eq!(now["LoggingConfig"]["SystemLogLevel"], system, "{now}");
    }
    emu.shutdown().await;
}
