//! `firebox package` on small cargo projects made by the tests (no dependencies, so each
//! builds in about a second): the packages it writes, the line it prints, and its errors.

mod common;

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Output};

use common::serve::FIREBOX;
use common::TempDir;

/// A cargo project in `dir` whose `src/main.rs` (or `src/lib.rs`) is `source`.
fn project(dir: &Path, name: &str, file: &str, source: &str) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"),
    )
    .unwrap();
    std::fs::write(dir.join("src").join(file), source).unwrap();
}

/// `firebox package --manifest-path DIR/Cargo.toml --profile dev ARGS`, building into
/// `DIR/target` whatever the test's own environment says.
fn package(dir: &Path, args: &[&str]) -> Output {
    Command::new(FIREBOX)
        .arg("package")
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .args(["--profile", "dev"])
        .args(args)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one entry of the `.zip` at `path`: its name, mode and contents.
fn only_entry(path: &Path) -> (String, Option<u32>, Vec<u8>) {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = zip::ZipArchive::new(file).unwrap();
    assert_eq!(archive.len(), 1, "{}", path.display());
    let mut entry = archive.by_index(0).unwrap();
    let mut contents = Vec::new();
    entry.read_to_end(&mut contents).unwrap();
    (
        entry.name().to_owned(),
        entry.unix_mode().map(|m| m & 0o777),
        contents,
    )
}

#[test]
fn a_function_is_built_zipped_and_described() {
    let dir = TempDir::new("package-fn");
    project(
        &dir,
        "tiny-fn",
        "main.rs",
        "fn main() { println!(\"tiny ran\"); }\n",
    );
    let out = package(&dir, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The default output directory is the target directory's `lambda/`.
    let package_dir = dir.join("target/lambda/tiny-fn");
    let zip = package_dir.join("bootstrap.zip");
    let stdout = text(&out.stdout);
    let size = std::fs::metadata(&zip).unwrap().len();
    let arch = if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "x86_64"
    };
    assert!(
        stdout.starts_with(&format!(
            "tiny-fn: {} ({size} bytes, {arch}, ",
            zip.display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("; runs on provided.al2023"), "{stdout}");

    let (name, mode, contents) = only_entry(&zip);
    assert_eq!((name.as_str(), mode), ("bootstrap", Some(0o755)));
    assert_eq!(
        contents,
        std::fs::read(dir.join("target/debug/tiny-fn")).unwrap()
    );
    // The loose `bootstrap` beside it is the same program, ready as a `code_dir`.
    let ran = Command::new(package_dir.join("bootstrap"))
        .output()
        .unwrap();
    assert_eq!(text(&ran.stdout), "tiny ran\n");
}

#[test]
fn an_extension_is_packaged_as_a_layer_where_asked() {
    let dir = TempDir::new("package-ext");
    project(&dir, "tiny-ext", "main.rs", "fn main() {}\n");
    let out_dir = dir.join("layers");
    let out = package(
        &dir,
        &["--extension", "--output-dir", out_dir.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let zip = out_dir.join("tiny-ext/extension.zip");
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&format!("tiny-ext: {} (", zip.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("; runs beside functions of Amazon Linux 2023 runtimes"),
        "{stdout}"
    );
    let (name, mode, _) = only_entry(&zip);
    assert_eq!((name.as_str(), mode), ("extensions/tiny-ext", Some(0o755)));
    assert!(out_dir.join("tiny-ext/extensions/tiny-ext").is_file());
    assert!(!out_dir.join("tiny-ext/bootstrap.zip").exists());
}

#[test]
fn a_library_without_binaries_is_an_error() {
    let dir = TempDir::new("package-lib");
    project(&dir, "tiny-lib", "lib.rs", "pub fn f() {}\n");
    let out = package(&dir, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("firebox: cargo built no binary"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_build_that_fails_shows_the_compiler_and_packages_nothing() {
    let dir = TempDir::new("package-broken");
    project(
        &dir,
        "tiny-broken",
        "main.rs",
        "fn main() { let x: u8 = \"no\"; }\n",
    );
    let out = package(&dir, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    // The compiler's own diagnostic, rendered, then firebox's line.
    assert!(stderr.contains("mismatched types"), "{stderr}");
    assert!(stderr.contains("firebox: cargo failed"), "{stderr}");
    assert!(!dir.join("target/lambda").exists());
}

#[test]
fn an_unknown_binary_name_is_cargo_s_error() {
    let dir = TempDir::new("package-nobin");
    project(&dir, "tiny-one", "main.rs", "fn main() {}\n");
    let out = package(&dir, &["--bin", "other"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no bin target named `other`"), "{stderr}");
    assert!(stderr.contains("firebox: cargo failed"), "{stderr}");
}

#[test]
fn a_binary_needing_a_newer_glibc_than_lambdas_is_refused_and_nothing_is_written() {
    let dir = TempDir::new("package-glibc");
    // `arc4random` is glibc 2.36's: the binary needs GLIBC_2.36 (this machine's glibc must
    // have it to link, as the CI machines do).
    project(
        &dir,
        "tiny-new",
        "main.rs",
        "extern \"C\" { fn arc4random() -> u32; }\nfn main() { println!(\"{}\", unsafe { arc4random() }); }\n",
    );
    let out = package(&dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "cannot run on Lambda: it needs glibc 2.36, newer than the 2.34 of provided.al2023"
        ),
        "{stderr}"
    );
    assert!(!dir.join("target/lambda").exists());
}

#[test]
fn two_binaries_of_one_name_are_refused_before_anything_is_written() {
    let dir = TempDir::new("package-twins");
    std::fs::write(
        dir.join("Cargo.toml"),
        "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    for member in ["a", "b"] {
        let root = dir.join(member);
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            format!("[package]\nname = \"{member}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[[bin]]\nname = \"bootstrap\"\npath = \"src/main.rs\"\n"),
        )
        .unwrap();
        std::fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
    }
    let out = package(&dir, &["--workspace", "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("two binaries are named bootstrap"),
        "{stderr}"
    );
    assert!(!stderr.contains("Compiling"), "--quiet: {stderr}");
    assert!(!dir.join("target/lambda").exists());
}

#[test]
fn the_profile_named_lambda_needs_another_output_directory() {
    let dir = TempDir::new("package-profile");
    project(&dir, "tiny-prof", "main.rs", "fn main() {}\n");
    let out = Command::new(FIREBOX)
        .arg("package")
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .args(["--profile", "lambda"])
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cargo builds the profile `lambda` into"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn packaging_as_the_other_kind_removes_the_first_kinds_files() {
    let dir = TempDir::new("package-kinds");
    project(&dir, "tiny-both", "main.rs", "fn main() {}\n");
    let out_dir = dir.join("out");
    let out_dir = out_dir.to_str().unwrap();
    assert!(package(&dir, &["--output-dir", out_dir]).status.success());
    let package_dir = dir.join("out/tiny-both");
    assert!(package_dir.join("bootstrap.zip").is_file());
    assert!(package(&dir, &["--output-dir", out_dir, "--extension"])
        .status
        .success());
    let mut left: Vec<String> = std::fs::read_dir(&package_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["extension.zip", "extensions"]);
}
