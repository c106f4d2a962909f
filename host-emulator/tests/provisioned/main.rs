//! Provisioned concurrency through the control plane (`Put`/`Get`/`Delete`/
//! `ListProvisionedConcurrencyConfigs`) and the library, seen through real processes: the
//! environments start at once and are what invokes of the version or alias run in, a lowered
//! or deleted configuration stops them, an alias's configuration follows the alias to its new
//! version, the account's unreserved pool and the function's reservation bound it, and every
//! refusal is in AWS's shape with nothing changed. A version whose Init keeps failing makes the
//! configuration `FAILED` and stops starting environments until the next put; an alias that
//! has a configuration may not point to `$LATEST`.

mod admission;
#[path = "../common/mod.rs"]
mod common;
mod failed;
mod lifecycle;

use std::time::Duration;

use common::provisioned::*;
use common::*;
use firebox_emulator::{AliasConfig, Emulator, FunctionConfig, VersionConfig};
use serde_json::Value;

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function";
const PATH: &str = "/2019-09-30/functions/orders/provisioned-concurrency";

/// `orders` with versions 1 and 2 and alias `live` on 1, in an account of 110 (so that at
/// most 10 can be set aside above the minimum of 100).
async fn emulator(extra: Vec<FunctionConfig>) -> Emulator {
    let mut builder = Emulator::builder()
        .account_concurrency(110)
        .unreserved_minimum(100)
        .function(
            function("orders", "")
                .publish(1, VersionConfig::new().env("V", "1"))
                .publish(2, VersionConfig::new().env("V", "2"))
                .alias("live", AliasConfig::new("1")),
        );
    for f in extra {
        builder = builder.function(f);
    }
    builder.start().await.expect("emulator starts")
}

/// `PutProvisionedConcurrencyConfig` of `n` on `orders:qualifier`.
async fn put(emu: &Emulator, qualifier: &str, n: i64) -> Raw {
    put_on(emu, "orders", qualifier, n).await
}

/// `GetProvisionedConcurrencyConfig` of `orders:qualifier`.
async fn get(emu: &Emulator, qualifier: &str) -> Raw {
    get_on(emu, "orders", qualifier).await
}

/// Waits until `orders:qualifier`'s configuration is `READY`; its last answer.
async fn ready(emu: &Emulator, qualifier: &str) -> Value {
    ready_on(emu, "orders", qualifier).await
}

/// Invokes `orders:qualifier`; the runtime's answer.
async fn invoke(emu: &Emulator, qualifier: &str) -> Value {
    let r = invoke_on(emu, "orders", qualifier).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json().expect("JSON")
}

fn created(m: &str) -> Option<f64> {
    metric(m, "firebox_environments_created_total{function=\"orders\"}")
}

fn destroyed(m: &str) -> Option<f64> {
    metric(
        m,
        "firebox_environments_destroyed_total{function=\"orders\"}",
    )
}
