//! `CreateFunction`, `UpdateFunctionCode` and `DeleteFunction` as `aws-sdk-lambda` calls them:
//! a Rust function deployed as Lambda deploys one on `provided.al2023`, from a `.zip` built in
//! memory that holds its executable `bootstrap` (the `hello` example, then the tests'
//! `sdk-context`); invoked, given new code, published, and deleted version by version and
//! whole; on an emulator of its own that starts with no functions.

use std::io::{Cursor, Write as _};
use std::path::Path;

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, LastUpdateStatus, PackageType, Runtime, State};
use aws_sdk_lambda::Client;
use base64::Engine as _;
use firebox_emulator::FunctionConfig;
use firebox_tests::bins::{workspace_bin, HELLO};
use firebox_tests::shared::{SharedEmulator, TestResult};
use firebox_tests::Error;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::{explain, service_error, version_numbers, with_sdk_on};

/// An emulator with no functions: the test creates its own.
static DEPLOY: SharedEmulator = SharedEmulator::new(no_functions);

fn no_functions() -> Result<Vec<FunctionConfig>, Error> {
    Ok(Vec::new())
}

const NAME: &str = "rust-zip";
const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:rust-zip";
const ROLE: &str = "arn:aws:iam::123456789012:role/firebox-deploy";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A deployment package as `cargo lambda` or a `zip` command line makes one: the executable
/// at `binary`, as `bootstrap` with mode 0755, deflated.
fn bootstrap_zip(binary: &Path) -> Result<Vec<u8>, BoxError> {
    let code =
        std::fs::read(binary).map_err(|e| format!("cannot read {}: {e}", binary.display()))?;
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1))
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options)?;
    zip.write_all(&code)?;
    Ok(zip.finish()?.into_inner())
}

/// Lambda's `CodeSha256` of a package: the base64 of its SHA-256.
fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip))
}

/// Invokes `qualifier` (or `$LATEST`) with `event`; checks the 200 without a function error
/// and returns the version that ran and the JSON it answered.
async fn invoke(
    sdk: &Client,
    qualifier: Option<&str>,
    event: &str,
) -> Result<(String, Value), BoxError> {
    let out = sdk
        .invoke()
        .function_name(NAME)
        .set_qualifier(qualifier.map(str::to_owned))
        .payload(Blob::new(event))
        .send()
        .await
        .map_err(|e| explain(&e))?;
    assert_eq!(out.status_code(), 200);
    let payload = out.payload().map(|p| p.as_ref()).unwrap_or_default();
    let answer: Value = serde_json::from_slice(payload)
        .map_err(|e| format!("not JSON ({e}): {}", String::from_utf8_lossy(payload)))?;
    assert_eq!(out.function_error(), None, "{answer}");
    Ok((
        out.executed_version().unwrap_or_default().to_owned(),
        answer,
    ))
}

#[test]
fn a_rust_bootstrap_is_deployed_from_a_zip_updated_published_and_deleted() -> TestResult {
    // Built before the test's time limit starts: the packages are tens of MB of debug build.
    let hello = bootstrap_zip(&workspace_bin(HELLO)?)?;
    let context = bootstrap_zip(env!("CARGO_BIN_EXE_sdk-context").as_ref())?;
    with_sdk_on(&DEPLOY, |_emu, sdk| async move {
        // CreateFunction: Handler is optional on an OS-only runtime.
        let created = sdk
            .create_function()
            .function_name(NAME)
            .runtime(Runtime::Providedal2023)
            .role(ROLE)
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(hello.clone()))
                    .build(),
            )
            .description("hello from a zip")
            .timeout(20)
            .memory_size(256)
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(created.function_name(), Some(NAME));
        assert_eq!(created.function_arn(), Some(ARN));
        assert_eq!(created.version(), Some("$LATEST"));
        assert_eq!(created.runtime(), Some(&Runtime::Providedal2023));
        assert_eq!(created.role(), Some(ROLE));
        assert_eq!(created.handler(), None);
        assert_eq!(created.code_sha256(), Some(code_sha256(&hello).as_str()));
        assert_eq!(created.code_size(), i64::try_from(hello.len())?);
        assert_eq!(created.description(), Some("hello from a zip"));
        assert_eq!(created.timeout(), Some(20));
        assert_eq!(created.memory_size(), Some(256));
        assert_eq!(created.package_type(), Some(&PackageType::Zip));
        assert_eq!(created.state(), Some(&State::Active));
        assert_eq!(
            created.last_update_status(),
            Some(&LastUpdateStatus::Successful)
        );
        let got = sdk
            .get_function()
            .function_name(NAME)
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let configuration = got
            .configuration()
            .ok_or("GetFunction without Configuration")?;
        assert_eq!(configuration.code_sha256(), created.code_sha256());
        assert_eq!(configuration.revision_id(), created.revision_id());

        let (version, answer) = invoke(&sdk, None, r#"{"name":"zip"}"#).await?;
        assert_eq!(version, "$LATEST");
        assert_eq!(answer, json!({"message": "Hello, zip!"}));

        // UpdateFunctionCode: the next invoke runs the new package.
        let updated = sdk
            .update_function_code()
            .function_name(NAME)
            .zip_file(Blob::new(context.clone()))
            .set_revision_id(created.revision_id().map(str::to_owned))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(updated.version(), Some("$LATEST"));
        assert_eq!(updated.code_sha256(), Some(code_sha256(&context).as_str()));
        assert_eq!(updated.code_size(), i64::try_from(context.len())?);
        assert_eq!(updated.runtime(), Some(&Runtime::Providedal2023));
        assert_eq!(updated.memory_size(), Some(256));
        assert_ne!(updated.revision_id(), created.revision_id());
        let (version, answer) = invoke(&sdk, None, r#"{"step":"updated"}"#).await?;
        assert_eq!(version, "$LATEST");
        assert_eq!(answer["event"], json!({"step": "updated"}), "{answer}");
        let env = &answer["context"]["env_config"];
        assert_eq!(env["function_name"], NAME, "{answer}");
        assert_eq!(env["version"], "$LATEST", "{answer}");
        assert_eq!(env["memory"], 256, "{answer}");

        // A revision id from before the update is stale.
        let (err, status) = service_error(
            sdk.update_function_code()
                .function_name(NAME)
                .zip_file(Blob::new(hello.clone()))
                .set_revision_id(created.revision_id().map(str::to_owned))
                .send(),
        )
        .await?;
        assert!(err.is_precondition_failed_exception(), "{err:?}");
        assert_eq!(status, 412);
        // DryRun checks without deploying.
        sdk.update_function_code()
            .function_name(NAME)
            .zip_file(Blob::new(hello.clone()))
            .dry_run(true)
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let (_, answer) = invoke(&sdk, None, "{}").await?;
        assert_eq!(answer["context"]["env_config"]["version"], "$LATEST");

        // Version 1 of the new code; then the old code again, published by the update.
        let published = sdk
            .publish_version()
            .function_name(NAME)
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(published.version(), Some("1"));
        assert_eq!(published.code_sha256(), updated.code_sha256());
        let republished = sdk
            .update_function_code()
            .function_name(NAME)
            .zip_file(Blob::new(hello.clone()))
            .publish(true)
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(republished.version(), Some("2"));
        assert_eq!(
            republished.function_arn(),
            Some(format!("{ARN}:2").as_str())
        );
        assert_eq!(republished.code_sha256(), created.code_sha256());
        // Each version runs the code it was published with.
        let (version, answer) = invoke(&sdk, Some("1"), "{}").await?;
        assert_eq!(version, "1");
        assert_eq!(answer["context"]["env_config"]["version"], "1", "{answer}");
        assert_eq!(
            answer["context"]["invoked_function_arn"],
            format!("{ARN}:1"),
            "{answer}"
        );
        let (version, answer) = invoke(&sdk, Some("2"), r#"{"name":"v2"}"#).await?;
        assert_eq!(version, "2");
        assert_eq!(answer, json!({"message": "Hello, v2!"}));
        let (version, answer) = invoke(&sdk, None, "{}").await?;
        assert_eq!(version, "$LATEST");
        assert_eq!(answer, json!({"message": "Hello, world!"}));

        // DeleteFunction of a version: refused while an alias routes to it and for $LATEST.
        sdk.create_alias()
            .function_name(NAME)
            .name("live")
            .function_version("1")
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let (err, status) = service_error(
            sdk.delete_function()
                .function_name(NAME)
                .qualifier("1")
                .send(),
        )
        .await?;
        assert!(err.is_resource_conflict_exception(), "{err:?}");
        assert_eq!(status, 409);
        assert!(
            err.message().unwrap_or_default().contains("[live]"),
            "{err:?}"
        );
        let (err, status) = service_error(
            sdk.delete_function()
                .function_name(NAME)
                .qualifier("$LATEST")
                .send(),
        )
        .await?;
        assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
        assert_eq!(status, 400);
        sdk.delete_function()
            .function_name(NAME)
            .qualifier("2")
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let (err, status) = service_error(
            sdk.invoke()
                .function_name(NAME)
                .qualifier("2")
                .payload(Blob::new("{}"))
                .send(),
        )
        .await?;
        assert!(err.is_resource_not_found_exception(), "{err:?}");
        assert_eq!(status, 404);
        assert_eq!(version_numbers(&sdk, NAME).await?, ["$LATEST", "1"]);
        let (version, _) = invoke(&sdk, Some("live"), "{}").await?;
        assert_eq!(version, "1");

        // CreateFunction's refusals.
        let (err, status) = service_error(
            sdk.create_function()
                .function_name(NAME)
                .runtime(Runtime::Providedal2023)
                .role(ROLE)
                .code(
                    FunctionCode::builder()
                        .zip_file(Blob::new(hello.clone()))
                        .build(),
                )
                .send(),
        )
        .await?;
        assert!(err.is_resource_conflict_exception(), "{err:?}");
        assert_eq!(status, 409);
        assert_eq!(err.message(), Some("Function already exist: rust-zip"));
        let (err, status) = service_error(
            sdk.create_function()
                .function_name("not-a-zip")
                .runtime(Runtime::Providedal2023)
                .role(ROLE)
                .code(FunctionCode::builder().zip_file(Blob::new("PK")).build())
                .send(),
        )
        .await?;
        assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
        assert_eq!(status, 400);
        assert!(
            err.message()
                .unwrap_or_default()
                .contains("Could not unzip"),
            "{err:?}"
        );

        // DeleteFunction: the function, its versions and aliases are gone.
        sdk.delete_function()
            .function_name(NAME)
            .send()
            .await
            .map_err(|e| explain(&e))?;
        for qualifier in [None, Some("1"), Some("live")] {
            let (err, status) = service_error(
                sdk.invoke()
                    .function_name(NAME)
                    .set_qualifier(qualifier.map(str::to_owned))
                    .payload(Blob::new("{}"))
                    .send(),
            )
            .await?;
            assert!(
                err.is_resource_not_found_exception(),
                "{qualifier:?}: {err:?}"
            );
            assert_eq!(status, 404);
        }
        let (err, status) = service_error(sdk.get_function().function_name(NAME).send()).await?;
        assert!(err.is_resource_not_found_exception(), "{err:?}");
        assert_eq!(status, 404);
        let (err, _) = service_error(sdk.delete_function().function_name(NAME).send()).await?;
        assert!(err.is_resource_not_found_exception(), "{err:?}");
        let listed = sdk.list_functions().send().await.map_err(|e| explain(&e))?;
        assert!(listed.functions().is_empty(), "{listed:?}");
        Ok(())
    })
}

/// `firebox package`'s library half builds `hello` with cargo and writes
/// `OUT/hello/bootstrap.zip`; that file, as it is, deploys with `CreateFunction` on
/// `provided.al2023` and answers.
#[test]
fn a_zip_from_firebox_package_deploys_and_runs() -> TestResult {
    use firebox_emulator::deployment_package::{package, PackageOptions};
    const PACKAGED: &str = "packaged-hello";
    let out = std::env::temp_dir().join(format!("firebox-{}-e2e-package", std::process::id()));
    let built = package(&PackageOptions {
        packages: vec![HELLO.package.into()],
        bins: vec![HELLO.bin.into()],
        // The test's own profile: cargo finds `hello` already built there.
        profile: "dev".into(),
        output_dir: Some(out.clone()),
        ..PackageOptions::default()
    })?;
    assert_eq!(built.len(), 1, "{built:?}");
    let hello = &built[0];
    assert_eq!(hello.zip, out.join("hello/bootstrap.zip"));
    assert!(hello.info.runs_on_al2023(), "{:?}", hello.info);
    assert!(hello.warnings().is_empty(), "{:?}", hello.warnings());
    let zip = std::fs::read(&hello.zip)?;
    std::fs::remove_dir_all(&out)?;

    with_sdk_on(&DEPLOY, |_emu, sdk| async move {
        let created = sdk
            .create_function()
            .function_name(PACKAGED)
            .runtime(Runtime::Providedal2023)
            .role(ROLE)
            .handler("bootstrap")
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(zip.clone()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(created.code_sha256(), Some(code_sha256(&zip).as_str()));
        let out = sdk
            .invoke()
            .function_name(PACKAGED)
            .payload(Blob::new(r#"{"name":"package"}"#))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let payload = out.payload().map(|p| p.as_ref()).unwrap_or_default();
        assert_eq!(
            out.function_error(),
            None,
            "{}",
            String::from_utf8_lossy(payload)
        );
        assert_eq!(
            serde_json::from_slice::<Value>(payload)?,
            json!({"message": "Hello, package!"})
        );
        sdk.delete_function()
            .function_name(PACKAGED)
            .send()
            .await
            .map_err(|e| explain(&e))?;
        Ok(())
    })
}
