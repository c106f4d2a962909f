//! Helpers for the provisioned concurrency tests: the control-plane calls on any function and
//! qualifier, waiting for a configuration to settle, and the account's unreserved pool.

use std::time::Duration;

use firebox_emulator::{Emulator, InvokeOptions, InvokeResponse};
use serde_json::{json, Value};

use super::{call, Raw};

fn path(function: &str, qualifier: &str) -> String {
    format!("/2019-09-30/functions/{function}/provisioned-concurrency?Qualifier={qualifier}")
}

/// `PutProvisionedConcurrencyConfig` of `n` on `function:qualifier`.
pub async fn put_on(emu: &Emulator, function: &str, qualifier: &str, n: i64) -> Raw {
    let body = json!({"ProvisionedConcurrentExecutions": n});
    call(emu, "PUT", &path(function, qualifier), &body).await
}

/// `GetProvisionedConcurrencyConfig` of `function:qualifier`.
pub async fn get_on(emu: &Emulator, function: &str, qualifier: &str) -> Raw {
    call(emu, "GET", &path(function, qualifier), &Value::Null).await
}

/// Waits until `function:qualifier`'s configuration is `READY` (failing on anything but
/// `IN_PROGRESS` before that); its last answer.
pub async fn ready_on(emu: &Emulator, function: &str, qualifier: &str) -> Value {
    // Up to 60 s: a bound for broken runs only (a Python Init takes ~100 ms).
    for _ in 0..1200 {
        let r = get_on(emu, function, qualifier).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let body = r.json();
        if body["Status"] == "READY" {
            return body;
        }
        assert_eq!(body["Status"], "IN_PROGRESS", "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{function}:{qualifier}'s provisioned concurrency never became READY");
}

/// Waits until `function:qualifier`'s configuration is no longer `IN_PROGRESS`; its last
/// answer.
pub async fn settled_on(emu: &Emulator, function: &str, qualifier: &str) -> Value {
    // Up to 30 s: three failed Inits a second apart take about 2 s.
    for _ in 0..600 {
        let r = get_on(emu, function, qualifier).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let body = r.json();
        if body["Status"] != "IN_PROGRESS" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{function}:{qualifier}'s provisioned concurrency stayed IN_PROGRESS");
}

/// The unreserved pool as `GetAccountSettings` shows it.
pub async fn unreserved(emu: &Emulator) -> u64 {
    let r = call(emu, "GET", "/2016-08-19/account-settings/", &Value::Null).await;
    r.json()["AccountLimit"]["UnreservedConcurrentExecutions"]
        .as_u64()
        .expect("a number")
}

/// Invokes `function:qualifier` with `{}`.
pub async fn invoke_on(emu: &Emulator, function: &str, qualifier: &str) -> InvokeResponse {
    let options = InvokeOptions {
        qualifier: Some(qualifier.to_owned()),
        ..InvokeOptions::default()
    };
    emu.invoke_with(function, "{}", &options)
        .await
        .expect("invoke")
}
