//! `firebox package`: builds Rust functions with cargo and writes the `.zip` files Lambda
//! deploys, checking first that each binary can run there.
//!
//! For each binary `NAME` cargo builds, under `<target-dir>/lambda/NAME/` (or `--output-dir`):
//! - a function: `bootstrap` and `bootstrap.zip` (holding `bootstrap`), for
//!   `CreateFunction`/`UpdateFunctionCode` with runtime `provided.al2023` and handler
//!   `bootstrap`. The directory is also a `code_dir` for `firebox.toml`;
//! - an extension (`extension: true`): `extensions/NAME` and `extension.zip` (holding
//!   `extensions/NAME`), for `PublishLayerVersion`. The directory is also a layer for
//!   `firebox.toml`'s `layers`.
//!
//! The files in a `.zip` are mode 0755 and dated 1980-01-01, so the same binary always gives
//! the same `.zip` and the same `CodeSha256`. Each binary is inspected ([`inspect`]) for its
//! architecture, the glibc it needs and the shared libraries it loads; one that Lambda cannot
//! run at all (not ELF, another architecture) fails the packaging.

mod cargo;
mod elf;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

pub use elf::{inspect, Architecture, BinaryInfo, ElfError, GlibcVersion, AL2023_GLIBC, AL2_GLIBC};

/// What to build and where to put it: the `cargo build` selection plus the output.
#[derive(Debug, Clone)]
pub struct PackageOptions {
    /// `--manifest-path`; default: cargo's own search from the current directory.
    pub manifest_path: Option<PathBuf>,
    /// `--package`s; empty: cargo's default members.
    pub packages: Vec<String>,
    /// `--bin`s; empty: every binary of the selected packages.
    pub bins: Vec<String>,
    /// `--features`.
    pub features: Vec<String>,
    /// `--no-default-features`.
    pub no_default_features: bool,
    /// `--target` triple, e.g. `aarch64-unknown-linux-gnu` or `x86_64-unknown-linux-musl`.
    pub target: Option<String>,
    /// `--profile`; default `release`.
    pub profile: String,
    /// Where the packages go; default `<target-dir>/lambda`.
    pub output_dir: Option<PathBuf>,
    /// Package as extensions (`extensions/NAME` in a layer) rather than functions.
    pub extension: bool,
    /// `--workspace`: every member's binaries.
    pub workspace: bool,
    /// `--all-features`.
    pub all_features: bool,
    /// `--locked`, `--frozen`, `--offline`, as cargo takes them.
    pub locked: bool,
    /// `--frozen`.
    pub frozen: bool,
    /// `--offline`.
    pub offline: bool,
    /// `--jobs`.
    pub jobs: Option<u32>,
    /// `--quiet`: no cargo progress.
    pub quiet: bool,
}

impl Default for PackageOptions {
    fn default() -> Self {
        PackageOptions {
            manifest_path: None,
            packages: Vec::new(),
            bins: Vec::new(),
            features: Vec::new(),
            no_default_features: false,
            target: None,
            profile: "release".into(),
            output_dir: None,
            extension: false,
            workspace: false,
            all_features: false,
            locked: false,
            frozen: false,
            offline: false,
            jobs: None,
            quiet: false,
        }
    }
}

/// One packaged binary.
#[derive(Debug, Clone)]
pub struct BuiltPackage {
    /// The binary's name.
    pub name: String,
    /// The directory of the package: a `code_dir` (function) or a layer (extension).
    pub dir: PathBuf,
    /// The binary in it: `DIR/bootstrap` or `DIR/extensions/NAME`.
    pub binary: PathBuf,
    /// The `.zip`: `DIR/bootstrap.zip` or `DIR/extension.zip`.
    pub zip: PathBuf,
    /// The `.zip`'s size in bytes.
    pub zip_size: u64,
    /// What the binary needs to run.
    pub info: BinaryInfo,
}

impl BuiltPackage {
    /// What may stop the binary from running on Lambda though it was packaged, one sentence
    /// each: shared libraries the `provided` runtimes may not have. (A glibc too new is not
    /// packaged at all: see [`ElfError::GlibcTooNew`].)
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if !self.info.other_libraries.is_empty() {
            warnings.push(format!(
                "{} loads {}, which the provided runtimes may not have: link it statically \
                 (for TLS, rustls instead of native-tls) or ship it in a layer's lib/.",
                self.name,
                self.info.other_libraries.join(", ")
            ));
        }
        warnings
    }

    /// Which `provided` runtimes can run it, for a summary line.
    pub fn runtimes(&self) -> &'static str {
        match (self.info.runs_on_al2023(), self.info.runs_on_al2()) {
            (_, true) => "provided.al2023, provided.al2",
            (true, false) => "provided.al2023",
            (false, false) => "none of the provided runtimes",
        }
    }
}

/// Why packaging failed.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// cargo could not be run.
    #[error("cannot run cargo: {0}")]
    Cargo(#[source] io::Error),
    /// cargo ran and failed (its messages are on stderr).
    #[error("cargo failed ({0})")]
    CargoFailed(ExitStatus),
    /// cargo printed something unexpected.
    #[error("unexpected output from cargo: {0}")]
    CargoOutput(String),
    /// The selection has no binary target.
    #[error("cargo built no binary (select a package with binaries, or name one with --bin)")]
    NoBinaries,
    /// Two binaries of one name (of two packages): their packages would be one directory.
    #[error("two binaries are named {name} ({first} and {second}); their packages would overwrite each other: build one at a time (-p, --bin) with --output-dir")]
    SameName {
        /// The name.
        name: String,
        /// One.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// Profile `lambda` builds where the packages go.
    #[error("cargo builds the profile `lambda` into {0}, where the packages go: name another --output-dir")]
    ProfileDir(PathBuf),
    /// A binary Lambda cannot run.
    #[error("{name} ({path}) cannot run on Lambda: {source}")]
    Binary {
        /// The binary's name.
        name: String,
        /// Where cargo wrote it.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: ElfError,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Builds with cargo and packages every binary built (see the module docs).
///
/// This runs `cargo` (blocking; call it from a blocking context).
pub fn package(options: &PackageOptions) -> Result<Vec<BuiltPackage>, PackageError> {
    let output_dir = match &options.output_dir {
        Some(dir) => dir.clone(),
        None => {
            let target = cargo::target_directory(options)?;
            // Cargo builds profile `lambda` into `<target>/lambda`, where packages go.
            if options.profile == "lambda" {
                return Err(PackageError::ProfileDir(target.join("lambda")));
            }
            target.join("lambda")
        }
    };
    let mut binaries = cargo::build(options)?;
    if binaries.is_empty() {
        return Err(PackageError::NoBinaries);
    }
    binaries.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(twice) = binaries.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(PackageError::SameName {
            name: twice[0].name.clone(),
            first: twice[0].path.clone(),
            second: twice[1].path.clone(),
        });
    }
    // Every binary is read and checked before anything is written: a refused one leaves no
    // package behind, its own or another's.
    let checked = binaries
        .iter()
        .map(|b| checked_binary(&b.name, &b.path))
        .collect::<Result<Vec<_>, _>>()?;
    binaries
        .iter()
        .zip(checked)
        .map(|(b, (bytes, info))| {
            write_package(&b.name, bytes, info, &output_dir, options.extension)
        })
        .collect()
}

/// Packages one binary at `path` under `output_dir/name/`.
pub fn package_binary(
    name: &str,
    path: &Path,
    output_dir: &Path,
    extension: bool,
) -> Result<BuiltPackage, PackageError> {
    let (bytes, info) = checked_binary(name, path)?;
    write_package(name, bytes, info, output_dir, extension)
}

/// The binary at `path`, read, with what it needs, once it is known Lambda can run it.
fn checked_binary(name: &str, path: &Path) -> Result<(Vec<u8>, BinaryInfo), PackageError> {
    let bytes = fs::read(path).map_err(|source| PackageError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let refused = |source| PackageError::Binary {
        name: name.to_owned(),
        path: path.to_path_buf(),
        source,
    };
    let info = inspect(&bytes).map_err(refused)?;
    info.check_runs_on_lambda().map_err(refused)?;
    Ok((bytes, info))
}

/// Writes the package of binary `name` under `output_dir/name/`, removing the files of the
/// other kind of package (a function's, or an extension's) a earlier run left there.
fn write_package(
    name: &str,
    bytes: Vec<u8>,
    info: BinaryInfo,
    output_dir: &Path,
    extension: bool,
) -> Result<BuiltPackage, PackageError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PackageError::Io { path, source }
    };
    let dir = output_dir.join(name);
    let stale = if extension {
        ["bootstrap".to_owned(), "bootstrap.zip".to_owned()]
    } else {
        [format!("extensions/{name}"), "extension.zip".to_owned()]
    };
    for file in stale {
        let _ = fs::remove_file(dir.join(file));
    }
    let _ = fs::remove_dir(dir.join("extensions"));
    let (entry, zip_name) = if extension {
        (format!("extensions/{name}"), "extension.zip")
    } else {
        ("bootstrap".to_owned(), "bootstrap.zip")
    };
    let binary = dir.join(&entry);
    let zip = dir.join(zip_name);
    write_atomically(&binary, &bytes, true)?;
    let zipped = zip_one(&entry, &bytes).map_err(io_error(&zip))?;
    write_atomically(&zip, &zipped, false)?;
    Ok(BuiltPackage {
        name: name.to_owned(),
        dir,
        binary,
        zip,
        zip_size: zipped.len() as u64,
        info,
    })
}

/// A `.zip` holding `bytes` as `entry`, mode 0755, dated 1980-01-01.
fn zip_one(entry: &str, bytes: &[u8]) -> io::Result<Vec<u8>> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(0o755)
        .last_modified_time(DateTime::default());
    let mut writer = ZipWriter::new(io::Cursor::new(Vec::new()));
    writer
        .start_file(entry, options)
        .map_err(io::Error::other)?;
    writer.write_all(bytes)?;
    Ok(writer.finish().map_err(io::Error::other)?.into_inner())
}

/// Writes `path` through a temporary file beside it and a rename, so that a `serve` watching
/// the directory never runs half a binary.
fn write_atomically(path: &Path, bytes: &[u8], executable: bool) -> Result<(), PackageError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PackageError::Io { path, source }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(".{file_name}.firebox-{}", std::process::id()));
    fs::write(&temporary, bytes).map_err(io_error(&temporary))?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&temporary, fs::Permissions::from_mode(0o755))
            .map_err(io_error(&temporary))?;
    }
    fs::rename(&temporary, path).map_err(|source| {
        let _ = fs::remove_file(&temporary);
        PackageError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "firebox-{}-package-test-{tag}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        fs::create_dir_all(&dir).expect("create a temporary directory");
        dir
    }

    /// A small ELF executable every Linux has (the test binary itself is tens of MB).
    fn small_binary() -> PathBuf {
        PathBuf::from("/bin/true")
    }

    #[test]
    fn a_function_package_holds_an_executable_bootstrap_and_is_reproducible() {
        let out = temp_dir("fn");
        let built = package_binary("me", &small_binary(), &out, false).expect("package");
        assert_eq!(built.binary, out.join("me/bootstrap"));
        assert_eq!(built.zip, out.join("me/bootstrap.zip"));
        let mode = fs::metadata(&built.binary)
            .expect("bootstrap")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);

        let zipped = fs::read(&built.zip).expect("zip");
        assert_eq!(zipped.len() as u64, built.zip_size);
        let mut archive = zip::ZipArchive::new(io::Cursor::new(&zipped)).expect("a zip");
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).expect("entry");
        assert_eq!(entry.name(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        let mut contents = Vec::new();
        entry.read_to_end(&mut contents).expect("unzip");
        assert_eq!(contents, fs::read(small_binary()).expect("the binary"));
        drop(entry);

        // Packaging the same binary again gives the same bytes (no timestamps inside).
        let again = package_binary("me", &small_binary(), &out, false).expect("package again");
        assert_eq!(fs::read(&again.zip).expect("zip"), zipped);
        // No temporary files are left beside the outputs.
        let mut names: Vec<String> = fs::read_dir(out.join("me"))
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["bootstrap", "bootstrap.zip"]);
        fs::remove_dir_all(&out).expect("clean up");
    }

    #[test]
    fn an_extension_package_is_a_layer() {
        let out = temp_dir("ext");
        let built = package_binary("watcher", &small_binary(), &out, true).expect("package");
        assert_eq!(built.dir, out.join("watcher"));
        assert_eq!(built.binary, out.join("watcher/extensions/watcher"));
        assert_eq!(built.zip, out.join("watcher/extension.zip"));
        let zipped = fs::read(&built.zip).expect("zip");
        let mut archive = zip::ZipArchive::new(io::Cursor::new(zipped)).expect("a zip");
        let entry = archive.by_index(0).expect("entry");
        assert_eq!(entry.name(), "extensions/watcher");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        drop(entry);
        fs::remove_dir_all(&out).expect("clean up");
    }

    #[test]
    fn a_script_is_refused_and_nothing_is_written() {
        let out = temp_dir("script");
        let script = out.join("run.sh");
        fs::write(&script, "#!/bin/sh\necho hi\n").expect("write");
        let error = package_binary("run", &script, &out, false).expect_err("not ELF");
        assert!(
            matches!(
                error,
                PackageError::Binary {
                    source: ElfError::NotElf(_),
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().starts_with("run ("), "{error}");
        assert!(!out.join("run").exists());
        fs::remove_dir_all(&out).expect("clean up");
    }

    #[test]
    fn a_glibc_too_new_is_refused_and_foreign_libraries_are_named() {
        let info = |glibc, other_libraries: Vec<String>| BinaryInfo {
            architecture: Architecture::X86_64,
            glibc,
            other_libraries,
        };
        let package = |info| BuiltPackage {
            name: "hello".into(),
            dir: PathBuf::new(),
            binary: PathBuf::new(),
            zip: PathBuf::new(),
            zip_size: 0,
            info,
        };
        let fine = package(info(Some(GlibcVersion(2, 17)), vec![]));
        assert!(fine.warnings().is_empty());
        assert!(fine.info.check_runs_on_lambda().is_ok());
        assert_eq!(fine.runtimes(), "provided.al2023, provided.al2");
        assert_eq!(
            package(info(Some(AL2023_GLIBC), vec![])).runtimes(),
            "provided.al2023"
        );
        assert_eq!(
            package(info(None, vec![])).runtimes(),
            "provided.al2023, provided.al2"
        );

        let refused = info(Some(GlibcVersion(2, 39)), vec![])
            .check_runs_on_lambda()
            .expect_err("2.39 is newer than provided.al2023's");
        let text = refused.to_string();
        assert!(
            text.starts_with("it needs glibc 2.39, newer than the 2.34"),
            "{text}"
        );
        assert!(
            text.contains("--target x86_64-unknown-linux-musl"),
            "{text}"
        );

        let ssl = package(info(Some(AL2023_GLIBC), vec!["libssl.so.3".into()]));
        let warnings = ssl.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("libssl.so.3"), "{}", warnings[0]);
    }
}
