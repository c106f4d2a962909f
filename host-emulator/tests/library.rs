//! The library API tests use: the messages for functions defined in code.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use firebox_emulator::{Config, ConfigError, Emulator, FunctionConfig, StartError};

#[tokio::test]
async fn messages_for_functions_in_code_name_the_builder_method() {
    let refused = |f: FunctionConfig| async move {
        match Emulator::builder().function(f).start().await {
            Ok(_) => panic!("started"),
            Err(StartError::Config(e)) => e,
            Err(e) => panic!("not a configuration error: {e}"),
        }
    };
    let e = refused(
        FunctionConfig::new("a")
            .command(["/bin/true"])
            .timeout(Duration::ZERO),
    )
    .await;
    assert!(matches!(&e, ConfigError::Field { field, .. } if field == "timeout_s"));
    assert_eq!(
        e.to_string(),
        "<code>: function `a`: `.timeout()` (field `timeout_s`): must be between 1 and 900 seconds (got 0)"
    );
    for (f, says) in [
        (
            FunctionConfig::new("a").command(["/bin/true"]).memory_mb(1),
            "`.memory_mb()` (field `memory_mb`)",
        ),
        (
            FunctionConfig::new("a")
                .command(["/bin/true"])
                .env("AWS_REGION", "x"),
            "`.env()` (field `environment`)",
        ),
        (
            FunctionConfig::new("a")
                .command(["/bin/true"])
                .init_timeout(Duration::ZERO),
            "`.init_timeout()` (field `init_timeout_s`)",
        ),
        (
            FunctionConfig::new("a")
                .command(["/bin/true"])
                .layer("/nonexistent/layer"),
            "`.layer()` (field `layers`)",
        ),
        (
            FunctionConfig::new("a b"),
            "`FunctionConfig::new()` (field `name`)",
        ),
    ] {
        let message = refused(f).await.to_string();
        assert!(message.contains(says), "{says}: {message}");
    }
    // So does a function created while the emulator runs.
    let emu = start(vec![]).await;
    let message = emu
        .create_function(
            FunctionConfig::new("later")
                .command(["/bin/true"])
                .memory_mb(1),
        )
        .expect_err("refused")
        .to_string();
    assert!(
        message.contains("`.memory_mb()` (field `memory_mb`)"),
        "{message}"
    );

    // A configuration file's messages name its fields only.
    let text = "[functions.a]\ncommand = [\"/bin/true\"]\ntimeout_s = 0\n";
    let e = Config::parse(text, "firebox.toml", Path::new("/tmp")).expect_err("refused");
    assert_eq!(
        e.to_string(),
        "firebox.toml: function `a`: field `timeout_s`: must be between 1 and 900 seconds (got 0)"
    );
}
