//! The control plane of function URLs over real HTTP: `CreateFunctionUrlConfig`,
//! `GetFunctionUrlConfig`, `UpdateFunctionUrlConfig`, `DeleteFunctionUrlConfig` and
//! `ListFunctionUrlConfigs`, each seen by the next request to the URL (the Python test runtime
//! answers it), and every refusal in AWS's shape with nothing changed; one URL per qualifier
//! (`$LATEST` and aliases), each at its own host and path address and running its own version.

#[path = "../common/mod.rs"]
mod common;
mod per_qualifier;
mod single;

use common::*;
use firebox_emulator::url::UrlConfig;
use firebox_emulator::{AliasConfig, Emulator, FunctionConfig, VersionConfig};
use serde_json::{json, Value};

const URL: &str = "/2021-10-31/functions/web/url";

/// `web` (no URL; version 1 and alias `live` on it) and `declared` (a URL from the
/// configuration).
async fn emulator() -> Emulator {
    start(vec![
        function("web", "")
            .publish(1, VersionConfig::new().env("STAGE", "one"))
            .alias("live", AliasConfig::new("1")),
        function("declared", "").url(UrlConfig::default()),
    ])
    .await
}

/// A GET through `web`'s URL: the status and, on 200, the runtime's answer.
async fn through_url(emu: &Emulator, headers: &[(&str, &str)]) -> (u16, Value) {
    let r = send(
        emu.endpoint(),
        "GET",
        "/lambda-url/web/items?x=1",
        headers,
        "",
    )
    .await;
    let status = r.status.as_u16();
    let body = if status == 200 { r.json() } else { Value::Null };
    (status, body)
}
