use std::io::Write;

use super::*;
use crate::config::layers::LayerSource;
use crate::package::PackageStore;

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:layer";

fn zip_of(name: &str, text: &str) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    out.start_file(name, zip::write::SimpleFileOptions::default())
        .unwrap();
    out.write_all(text.as_bytes()).unwrap();
    out.finish().unwrap().into_inner()
}

fn publish(
    layers: &LayerVersions,
    store: &PackageStore,
    name: &str,
    runtimes: &[&str],
) -> Arc<LayerVersion> {
    let package = store
        .unpack_layer(name, &zip_of("python/m.py", name))
        .unwrap();
    let info = LayerVersionInfo {
        compatible_runtimes: runtimes.iter().map(|r| (*r).to_owned()).collect(),
        ..LayerVersionInfo::default()
    };
    layers.publish(name, info, package)
}

#[test]
fn versions_count_up_and_are_never_reused() {
    let store = PackageStore::new();
    let common = std::env::temp_dir().join(format!("firebox-lv-{}", crate::ids::request_id()));
    std::fs::create_dir_all(common.join("common/python")).unwrap();
    let declared = crate::config::FunctionConfig::new("f")
        .command(["/bin/true"])
        .layer(common.join("common"))
        .validate("<test>", &common)
        .unwrap();
    let elsewhere = declared.clone().region("eu-west-1");
    let layers = LayerVersions::new("us-east-1", "123456789012", &[declared, elsewhere]);
    // The configuration's layer is version 1 of its name, as its ARN says.
    let one = layers.get("common", 1).unwrap();
    assert_eq!(one.arn(), format!("{ARN}:common:1"));
    assert_eq!(one.code_sha256(), None, "a directory has no .zip");
    assert_eq!(one.layer.dir, common.join("common"));
    let one = publish(&layers, &store, "deps", &["python3.12"]);
    let two = publish(&layers, &store, "deps", &["nodejs22.x"]);
    assert_eq!((one.version, two.version), (1, 2));
    assert_eq!(two.arn(), format!("{ARN}:deps:2"));
    assert_eq!(two.layer_arn, format!("{ARN}:deps"));
    // A name the configuration's layers use starts at 2: its version 1 is the configuration's.
    assert_eq!(publish(&layers, &store, "common", &[]).version, 2);

    let sizes = one.code_size() + two.code_size() + layers.get("common", 2).unwrap().code_size();
    assert_eq!(
        layers.total_code_size(),
        sizes + layers.get("common", 1).unwrap().code_size()
    );
    assert!(layers.delete("deps", 2));
    assert!(!layers.delete("deps", 2), "gone already");
    assert!(!layers.delete("nope", 1));
    assert_eq!(publish(&layers, &store, "deps", &[]).version, 3);
    let listed: Vec<u64> = layers
        .versions("deps", None, None)
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(listed, [3, 1], "newest first, the deleted one left out");
    let python: Vec<u64> = layers
        .versions("deps", Some("python3.12"), None)
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(python, [1]);
    // The newest matching version of each layer, by name.
    let latest: Vec<String> = layers.latest(None, None).iter().map(|v| v.arn()).collect();
    assert_eq!(latest, [format!("{ARN}:common:2"), format!("{ARN}:deps:3")]);
    let _ = std::fs::remove_dir_all(common);
    let latest: Vec<String> = layers
        .latest(Some("python3.12"), None)
        .iter()
        .map(|v| v.arn())
        .collect();
    assert_eq!(latest, [format!("{ARN}:deps:1")]);
}

#[test]
fn two_layers_of_one_name_in_the_configuration_are_neither_listed() {
    let root = std::env::temp_dir().join(format!("firebox-lv-{}", crate::ids::request_id()));
    let function = |name: &str, dir: &str| {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        crate::config::FunctionConfig::new(name)
            .command(["/bin/true"])
            .layer(root.join(dir))
            .validate("<test>", &root)
            .unwrap()
    };
    let functions = [
        function("a", "a/common"),
        function("b", "b/common"),
        function("c", "a/common"),
    ];
    let layers = LayerVersions::new("us-east-1", "123456789012", &functions);
    assert!(layers.get("common", 1).is_none());
    assert!(layers.latest(None, None).is_empty());
    let store = PackageStore::new();
    assert_eq!(publish(&layers, &store, "common", &[]).version, 2);
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn a_deleted_version_stays_with_the_functions_that_use_it() {
    let store = PackageStore::new();
    let layers = LayerVersions::new("us-east-1", "123456789012", &[]);
    let v = publish(&layers, &store, "deps", &[]);
    let arn = v.arn();
    let dir = v.layer.dir.clone();
    drop(v);
    let held = layers
        .for_function(std::slice::from_ref(&arn), &[], "us-east-1", "123456789012")
        .unwrap();
    assert!(matches!(&held[0].source, LayerSource::Published { arn: a, .. } if *a == arn));
    assert_eq!(held[0].dir, dir);
    layers.delete("deps", 1);
    assert!(dir.join("python/m.py").exists(), "the function holds it");
    // Named again, the function keeps what it has; a new function cannot have it.
    let kept = layers
        .for_function(
            std::slice::from_ref(&arn),
            &held,
            "us-east-1",
            "123456789012",
        )
        .unwrap();
    assert_eq!(kept, held);
    assert_eq!(
        layers.for_function(std::slice::from_ref(&arn), &[], "us-east-1", "123456789012"),
        Err(LayerRefError::NotFound(arn))
    );
    drop((held, kept));
    assert!(!dir.exists(), "removed with its last holder");
}

#[test]
fn functions_are_refused_layers_as_lambda_refuses_them() {
    let store = PackageStore::new();
    let layers = LayerVersions::new("us-east-1", "123456789012", &[]);
    let one = publish(&layers, &store, "deps", &[]).arn();
    let two = publish(&layers, &store, "deps", &[]).arn();
    let refs = |arns: &[&str], region: &str| {
        let arns: Vec<String> = arns.iter().map(|a| (*a).to_owned()).collect();
        layers.for_function(&arns, &[], region, "123456789012")
    };
    assert!(matches!(
        refs(&[&one, "deps:1"], "us-east-1"),
        Err(LayerRefError::Malformed(list)) if list.len() == 2
    ));
    assert_eq!(
        refs(&[one.as_str(); 6], "us-east-1"),
        Err(LayerRefError::TooMany)
    );
    assert!(matches!(
        refs(&[&one, &two], "us-east-1"),
        Err(LayerRefError::SameLayer { .. })
    ));
    let west = "arn:aws:lambda:eu-west-1:123456789012:layer:deps:1";
    assert!(matches!(
        refs(&[west], "us-east-1"),
        Err(LayerRefError::OtherRegion { .. })
    ));
    // A function of another region than the emulator's layers.
    assert!(matches!(
        refs(&[west], "eu-west-1"),
        Err(LayerRefError::Elsewhere { .. })
    ));
    let other = "arn:aws:lambda:us-east-1:210987654321:layer:deps:1";
    let e = refs(&[other], "us-east-1").unwrap_err();
    assert!(
        e.to_string()
            .contains("account 123456789012 in region us-east-1"),
        "{e}"
    );
    assert!(matches!(
        refs(&["arn:aws:lambda:::awslayer:AmazonLinux"], "us-east-1"),
        Err(LayerRefError::AwsLayer(_))
    ));
    assert_eq!(
        refs(&[&format!("{ARN}:deps:9")], "us-east-1"),
        Err(LayerRefError::NotFound(format!("{ARN}:deps:9")))
    );
    assert_eq!(refs(&[&two], "us-east-1").unwrap()[0].name, "deps");
}

#[test]
fn layer_versions_keep_a_policy_each() {
    let store = PackageStore::new();
    let layers = LayerVersions::new("us-east-1", "123456789012", &[]);
    publish(&layers, &store, "deps", &[]);
    let share = Permission {
        statement_id: "everyone".into(),
        action: "lambda:GetLayerVersion".into(),
        principal: "*".into(),
        ..Permission::default()
    };
    assert!(matches!(
        layers.policy("deps", 1),
        Err(LayerError::Policy(PolicyError::NoPolicy))
    ));
    let (statement, revision) = layers.add_permission("deps", 1, &share).unwrap();
    assert_eq!(statement.resource, format!("{ARN}:deps:1"));
    assert_eq!(layers.policy("deps", 1).unwrap().revision_id, revision);
    assert!(matches!(
        layers.add_permission("deps", 1, &share),
        Err(LayerError::Policy(PolicyError::StatementExists(_)))
    ));
    assert!(matches!(
        layers.add_permission("deps", 2, &share),
        Err(LayerError::NotFound)
    ));
    assert!(matches!(
        layers.remove_permission("deps", 1, "everyone", Some("stale")),
        Err(LayerError::Policy(PolicyError::RevisionMismatch))
    ));
    layers
        .remove_permission("deps", 1, "everyone", Some(&revision))
        .unwrap();
    layers.add_permission("deps", 1, &share).unwrap();
    // A deleted version takes its policy along.
    layers.delete("deps", 1);
    publish(&layers, &store, "deps", &[]);
    assert!(matches!(
        layers.policy("deps", 1),
        Err(LayerError::NotFound)
    ));
    assert!(matches!(
        layers.policy("deps", 2),
        Err(LayerError::Policy(PolicyError::NoPolicy))
    ));
}
