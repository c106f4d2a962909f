//! Layers at `/opt`, seen by Python's real `awslambdaric`: with several layers, `/opt` holds
//! their files merged (the later layer's file wins) and nothing of the machine's own `/opt`;
//! one layer is bound there; either way `/opt` is read-only, a program is run by its absolute
//! `/opt/bin` path, and the machine's `/opt` is untouched. With `layers_at_opt(false)` the
//! layers are found through search paths only.
//!
//! Mounting needs a machine that allows mount namespaces (root, `CAP_SYS_ADMIN`, or
//! unprivileged user namespaces). Elsewhere the tests check the fallback instead, unless
//! `FIREBOX_REQUIRE_OPT` is set (`.ci/run` sets it), which makes that a failure.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use firebox_emulator::Emulator;
use serde_json::Value;

/// The handler: what the function sees at `/opt`.
const HANDLER: &str = r#"
import os, subprocess

def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return f"error: {type(e).__name__}"

def handler(event, context):
    try:
        tool = subprocess.run(["/opt/bin/tool"], capture_output=True, text=True).stdout.strip()
    except OSError as e:
        tool = f"error: {type(e).__name__}"
    # Only where the layers are mounted: never write to the machine's own /opt.
    write = "not tried"
    if os.path.exists("/opt/data.txt"):
        try:
            with open("/opt/written", "w") as f:
                f.write("x")
            write = "written"
        except OSError as e:
            write = f"error: {e.errno}"
    return {
        "data": read("/opt/data.txt"),
        "only_base": read("/opt/only_base.txt"),
        "tool": tool,
        "listing": sorted(os.listdir("/opt")),
        "write": write,
    }
"#;

fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&path, text).expect("write");
}

/// Layers `base` (`data.txt`, `only_base.txt`, `bin/tool`) and `top` (`data.txt`), and the
/// code directory with the handler.
fn layers(dir: &TempDir) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let base = dir.path("base");
    write(&base, "data.txt", "from base");
    write(&base, "only_base.txt", "base only");
    write(&base, "bin/tool", "#!/bin/sh\necho tool from base\n");
    std::fs::set_permissions(
        base.join("bin/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    let top = dir.path("top");
    write(&top, "data.txt", "from top");
    let code = dir.path("code");
    write(&code, "app.py", HANDLER);
    (base, top, code)
}

async fn answer(emu: &Emulator, function: &str) -> Value {
    let r = emu.invoke(function, "{}".to_owned()).await.expect("invoke");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.function_error, None, "{}", r.text());
    r.json().expect("JSON")
}

/// Whether this machine mounts layers; fails when it does not and `FIREBOX_REQUIRE_OPT` is
/// set.
fn mounted(emu: &Emulator) -> bool {
    let mounted = emu.layers_at_opt();
    assert!(
        mounted || std::env::var_os("FIREBOX_REQUIRE_OPT").is_none(),
        "FIREBOX_REQUIRE_OPT is set, but this machine does not mount layers at /opt"
    );
    mounted
}

#[tokio::test]
async fn layers_are_merged_read_only_at_opt_and_the_machine_opt_is_untouched() {
    let dir = TempDir::new("opt-layers");
    let (base, top, code) = layers(&dir);
    let machine_opt_before = listing(Path::new("/opt"));
    let emu = start(vec![
        awslambdaric("merged", &code).layer(&base).layer(&top),
        awslambdaric("single", &code).layer(&base),
    ])
    .await;
    let merged = answer(&emu, "merged").await;
    let single = answer(&emu, "single").await;
    if mounted(&emu) {
        assert_eq!(merged["data"], "from top", "{merged}");
        assert_eq!(merged["only_base"], "base only", "{merged}");
        assert_eq!(merged["tool"], "tool from base", "{merged}");
        assert_eq!(
            merged["listing"],
            serde_json::json!(["bin", "data.txt", "only_base.txt"]),
            "only the layers' files, nothing of the machine's /opt: {merged}"
        );
        assert_eq!(single["data"], "from base", "{single}");
        assert_eq!(single["tool"], "tool from base", "{single}");
        assert_eq!(
            single["listing"],
            serde_json::json!(["bin", "data.txt", "only_base.txt"]),
            "{single}"
        );
        // EROFS: 30.
        assert_eq!(merged["write"], "error: 30", "{merged}");
        assert_eq!(single["write"], "error: 30", "{single}");
    } else {
        assert_eq!(merged["data"], "error: FileNotFoundError", "{merged}");
        assert_eq!(merged["write"], "not tried", "{merged}");
    }
    // The layers' files never appear in the machine's own /opt.
    assert_eq!(listing(Path::new("/opt")), machine_opt_before);
    assert!(!base.join("written").exists() && !top.join("written").exists());
    emu.shutdown().await;
}

#[tokio::test]
async fn turned_off_the_layers_are_not_at_opt() {
    let dir = TempDir::new("opt-off");
    let (base, top, code) = layers(&dir);
    let emu = Emulator::builder()
        .layers_at_opt(false)
        .function(awslambdaric("off", &code).layer(&base).layer(&top))
        .start()
        .await
        .expect("emulator starts");
    assert!(!emu.layers_at_opt());
    let off = answer(&emu, "off").await;
    assert_eq!(off["data"], "error: FileNotFoundError", "{off}");
    assert_eq!(off["write"], "not tried", "{off}");
    assert_eq!(
        off["listing"],
        serde_json::json!(listing(Path::new("/opt")))
    );
    emu.shutdown().await;
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
