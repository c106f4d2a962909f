//! What a version copies and how its configuration is made to run the copy.

use super::*;

fn validated(f: FunctionConfig) -> FunctionConfig {
    f.validate("<test>", Path::new("/")).unwrap()
}

fn tempdir(name: &str) -> PathBuf {
    crate::testing::temp_dir(&format!("snapshot-{name}"))
}

/// A snapshot as `take` would make it, without copying anything.
fn pretend(plan: SnapshotPlan, dir: &Path) -> Arc<Snapshot> {
    let extensions = plan
        .extensions
        .iter()
        .map(|e| (e.clone(), dir.join("extensions").join(file_name(e))))
        .collect();
    Arc::new(Snapshot {
        dir: dir.to_path_buf(),
        code: plan.code,
        extensions,
        code_bytes: 0,
        digest: [0; 32],
    })
}

#[test]
fn paths_inside_a_directory_are_found_as_written() {
    let dir = Path::new("/code/fn");
    assert_eq!(
        inside(Path::new("/code/fn/bin/run"), dir),
        Some(PathBuf::from("bin/run"))
    );
    assert_eq!(
        inside(Path::new("/code/./fn/x/../run"), dir),
        Some(PathBuf::from("run"))
    );
    assert_eq!(
        inside(Path::new("/code/fn"), dir),
        None,
        "the directory itself"
    );
    assert_eq!(inside(Path::new("/code/fnx/run"), dir), None);
    assert_eq!(inside(Path::new("fn/run"), dir), None, "relative");
    assert_eq!(inside(Path::new("/code/fn/../other"), dir), None);
}

#[test]
fn a_code_dir_is_copied_with_outside_extensions_and_the_program_moves_only_from_inside() {
    let code = tempdir("plan-code");
    let outside = tempdir("plan-ext");
    for (dir, name) in [(&code, "ext-in"), (&outside, "ext-out")] {
        std::fs::write(dir.join(name), "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let program = code.join("bootstrap").display().to_string();
    let arg = code.join("app.py").display().to_string();
    let config = validated(
        FunctionConfig::new("f")
            .code_dir(&code)
            .command([program.as_str(), arg.as_str(), "relative.py", "/etc/hosts"])
            .extension(code.join("ext-in"))
            .extension(outside.join("ext-out")),
    );
    let plan = SnapshotPlan::of(&config).unwrap();
    assert_eq!(plan.code, Some(Code::Dir(code.clone())));
    assert_eq!(plan.extensions, [outside.join("ext-out")]);
    let copy = Path::new("/store/f-version-1");
    let mut version = config.clone();
    pretend(plan, copy).apply(&mut version);
    assert_eq!(
        version.code_dir.as_deref(),
        Some(copy.join("task").as_path())
    );
    assert_eq!(
        version.command,
        [
            "/store/f-version-1/task/bootstrap",
            "/store/f-version-1/task/app.py",
            "relative.py",
            "/etc/hosts"
        ]
    );
    assert_eq!(
        version.extensions,
        [copy.join("task/ext-in"), copy.join("extensions/ext-out")]
    );
    assert!(!version.reload, "a copy is not watched");
    assert!(config.reload);

    // A program found on PATH is the runtime: it stays, and so does a [runtimes] command.
    let on_path = validated(
        FunctionConfig::new("f")
            .code_dir(&code)
            .command(["sh", "run.sh"]),
    );
    let mut version = on_path.clone();
    pretend(SnapshotPlan::of(&on_path).unwrap(), copy).apply(&mut version);
    assert_eq!(version.command, on_path.command);
    assert_eq!(
        version.code_dir.as_deref(),
        Some(copy.join("task").as_path())
    );
    std::fs::remove_dir_all(&code).unwrap();
    std::fs::remove_dir_all(&outside).unwrap();
}

#[test]
fn without_a_code_dir_only_a_program_given_as_a_path_is_copied() {
    let dir = tempdir("plan-program");
    let program = dir.join("hello");
    std::fs::write(&program, "x").unwrap();
    let config = validated(
        FunctionConfig::new("f").command([program.display().to_string().as_str(), "a.txt"]),
    );
    let plan = SnapshotPlan::of(&config).unwrap();
    assert_eq!(plan.code, Some(Code::Program(program.clone())));
    let copy = Path::new("/store/f-version-2");
    let mut version = config.clone();
    pretend(plan, copy).apply(&mut version);
    assert_eq!(version.command, ["/store/f-version-2/task/hello", "a.txt"]);
    assert_eq!(
        version.code_dir.as_deref(),
        Some(copy.join("task").as_path())
    );

    let on_path = validated(FunctionConfig::new("f").command(["sh", "-c", "true"]));
    assert!(on_path.command[0].contains('/'), "resolved on PATH");
    assert!(
        SnapshotPlan::of(&on_path).is_none(),
        "nothing of it to copy"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_copy_is_made_in_the_store_and_removed_when_dropped() {
    let code = tempdir("take");
    std::fs::write(code.join("bootstrap"), "#!/bin/sh\n").unwrap();
    std::fs::create_dir(code.join("ro")).unwrap();
    std::fs::write(code.join("ro/file"), "x").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(code.join("ro"), std::fs::Permissions::from_mode(0o555)).unwrap();
    let config = validated(FunctionConfig::new("f").code_dir(&code));
    let store = Arc::new(PackageStore::new());
    let snapshot = SnapshotPlan::of(&config)
        .unwrap()
        .take(&store, "f")
        .await
        .unwrap();
    let dir = snapshot.dir.clone();
    assert!(dir.starts_with(store.root()));
    assert_eq!(
        std::fs::read_to_string(dir.join("task/ro/file")).unwrap(),
        "x"
    );
    assert_eq!(snapshot.code_bytes, 10 + 1);
    drop(snapshot);
    assert!(!dir.exists(), "removed, read-only directory and all");
    std::fs::set_permissions(code.join("ro"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_dir_all(&code).unwrap();
}

#[tokio::test]
async fn a_code_dir_holding_the_store_is_refused() {
    let store = Arc::new(PackageStore::new());
    let parent = store.root().parent().unwrap().to_path_buf();
    let config = validated(FunctionConfig::new("f").code_dir(&parent).command(["sh"]));
    let e = SnapshotPlan::of(&config)
        .unwrap()
        .take(&store, "f")
        .await
        .unwrap_err();
    assert!(matches!(e, SnapshotError::HoldsStore { .. }), "{e}");
}
