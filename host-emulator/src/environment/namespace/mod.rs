//! The mount namespace each process of an environment may get: its layers at `/opt`, and its
//! private directory at `/tmp`.
//!
//! Layers at `/opt`: Lambda extracts a function's layers into `/opt`, a later layer's files
//! over an earlier one's, and code may name those files by absolute path (`/opt/bin/ffmpeg`,
//! `/opt/lib/libfoo.so`, a config file under `/opt`). Firebox runs functions as processes of
//! this machine, whose `/opt` is the machine's own; where the emulator may create mount
//! namespaces, each process of an environment with layers gets one of its own, in which the
//! layers are mounted read-only at `/opt`: one layer bound there, several merged by overlayfs
//! (the last layer on top). Nothing changes outside: the mounts do not propagate back to the
//! machine's namespace, and they vanish with the environment's last process.
//!
//! Two ways in, decided once at start-up by a probe ([`MountSupport::detect`]):
//! - [`Mode::MountNamespace`]: a new mount namespace, when the emulator may mount (root, or
//!   `CAP_SYS_ADMIN`);
//! - [`Mode::UserNamespace`]: a new user namespace with a mount namespace, for an emulator that
//!   is not privileged, where the kernel allows unprivileged user namespaces. The process keeps
//!   its user and group ids (mapped to themselves); files of other users appear as the
//!   overflow user (`nobody`).
//!
//! Without either, `/opt` stays the machine's and the layers are found through search paths
//! only (see `config::layers`).
//!
//! A private `/tmp` ([`TmpMount`], when `[server] private_tmp` asks for it): Lambda gives each
//! environment a `/tmp` of its own, kept across its warm invocations and empty at a cold
//! start. In the same namespace, the environment's private directory (its `TMPDIR`) is bound
//! at `/tmp`. What the environment needs from the machine's `/tmp` (its code, layers and
//! programs, the directories on its search paths, the private directory's own path) stays
//! at its path: the first component of each such path under `/tmp` is bound first at a mount
//! point of the same name inside the private directory, which brings it along.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod tmp;

pub use tmp::TmpMount;

/// How a process enters a namespace of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `unshare(CLONE_NEWNS)`: needs the right to mount.
    MountNamespace,
    /// `unshare(CLONE_NEWUSER | CLONE_NEWNS)`, the user's ids mapped to themselves.
    UserNamespace,
}

/// Whether, and how, environments get their layers at `/opt`; decided once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSupport {
    /// Layers are mounted at `/opt` this way.
    Mounted(Mode),
    /// They are not, for this reason.
    Unavailable(String),
}

impl MountSupport {
    /// Probes the machine (once per process): mounts two directories at `/opt` in a
    /// throw-away process, first with a mount namespace, then with a user namespace. `want`
    /// false turns it off.
    pub fn detect(want: bool) -> Self {
        if !want {
            return Self::Unavailable("turned off ([server] layers_at_opt = false)".into());
        }
        // What the machine allows does not change while the process runs: probed once, for
        // every emulator of the process (a test binary starts many).
        static PROBED: OnceLock<MountSupport> = OnceLock::new();
        PROBED.get_or_init(Self::probe_machine).clone()
    }

    /// Tries each way in, in order of preference.
    fn probe_machine() -> Self {
        if !Path::new("/opt").is_dir() {
            return Self::Unavailable("this machine has no /opt directory to mount over".into());
        }
        Self::probe_ways(probe)
    }

    /// Whether, and how, environments can get a private `/tmp` (bind mounts only, no
    /// overlayfs, no `/opt` needed); probed once per process.
    pub fn detect_tmp() -> Self {
        static PROBED: OnceLock<MountSupport> = OnceLock::new();
        PROBED.get_or_init(|| Self::probe_ways(probe_tmp)).clone()
    }

    /// Tries `probe` each way in, in order of preference.
    fn probe_ways(probe: fn(Mode) -> io::Result<()>) -> Self {
        let mut reasons = Vec::new();
        for mode in [Mode::MountNamespace, Mode::UserNamespace] {
            match probe(mode) {
                Ok(()) => return Self::Mounted(mode),
                Err(e) => reasons.push(format!("{mode:?}: {e}")),
            }
        }
        Self::Unavailable(format!(
            "no mount namespace could be created ({})",
            reasons.join("; ")
        ))
    }

    /// The mode, when layers are mounted.
    pub fn mode(&self) -> Option<Mode> {
        match self {
            Self::Mounted(mode) => Some(*mode),
            Self::Unavailable(_) => None,
        }
    }

    /// One phrase for the `serve` log.
    pub fn describe(&self) -> String {
        match self {
            Self::Mounted(Mode::MountNamespace) => {
                "layers: at /opt (a mount namespace per process)".into()
            }
            Self::Mounted(Mode::UserNamespace) => {
                "layers: at /opt (a user and mount namespace per process)".into()
            }
            Self::Unavailable(why) => format!("layers: search paths only, not at /opt ({why})"),
        }
    }
}

/// Everything a child needs to enter its namespace and mount its layers at `/opt` and its
/// private `/tmp`, prepared before `fork` so that the child only makes system calls (no
/// allocation between `fork` and `exec`).
#[derive(Debug)]
pub struct Mounts {
    mode: Mode,
    /// `uid_map` and `gid_map` lines for [`Mode::UserNamespace`].
    uid_map: CString,
    gid_map: CString,
    /// The layers at `/opt`, if there are any.
    opt: Option<Mount>,
    /// The private directory at `/tmp`, if asked for.
    tmp: Option<TmpMount>,
}

#[derive(Debug)]
enum Mount {
    /// One layer: bound at `/opt`, then made read-only keeping its other flags.
    Bind {
        source: CString,
        flags: libc::c_ulong,
    },
    /// Several: overlayfs with these `lowerdir=` options (the top layer first).
    Overlay { options: CString },
}

/// Why the layers cannot be mounted for this function (it then runs without them at `/opt`).
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// A path overlayfs cannot take in its options.
    #[error("the layer path {0} holds a `,`, `:` or `\\`, which overlayfs options cannot carry")]
    Unmountable(PathBuf),
    /// A path with a NUL byte.
    #[error("the layer path {0} holds a NUL byte")]
    Nul(PathBuf),
}

impl Mounts {
    /// The mount of `layers` (in the function's order: the last one wins) at `/opt` and of
    /// `tmp`, entered `mode`'s way. `None` without either.
    pub fn new(
        mode: Mode,
        layers: &[&Path],
        tmp: Option<TmpMount>,
    ) -> Result<Option<Self>, MountError> {
        let opt = match layers {
            [] if tmp.is_none() => return Ok(None),
            [] => None,
            layers => Some(Self::layers(layers)?),
        };
        // SAFETY: getuid and getgid cannot fail and have no preconditions.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        Ok(Some(Self {
            mode,
            // No interior NUL: digits and spaces only.
            uid_map: CString::new(format!("{uid} {uid} 1")).unwrap_or_default(),
            gid_map: CString::new(format!("{gid} {gid} 1")).unwrap_or_default(),
            opt,
            tmp,
        }))
    }

    /// The mount of one or more layers at `/opt`.
    fn layers(layers: &[&Path]) -> Result<Mount, MountError> {
        Ok(match layers {
            [one] => Mount::Bind {
                source: c_path(one)?,
                flags: locked_flags(one),
            },
            several => {
                let mut options = String::from("ro,lowerdir=");
                for (i, dir) in several.iter().rev().enumerate() {
                    let text = dir.to_str().unwrap_or("\\");
                    if text.contains([',', ':', '\\']) {
                        return Err(MountError::Unmountable(dir.to_path_buf()));
                    }
                    if i > 0 {
                        options.push(':');
                    }
                    options.push_str(text);
                }
                Mount::Overlay {
                    options: CString::new(options)
                        .map_err(|_| MountError::Nul(several[0].to_path_buf()))?,
                }
            }
        })
    }

    /// Enters a namespace of its own and mounts the layers at `/opt` and the private `/tmp`.
    /// Runs in the child between `fork` and `exec` (a `pre_exec` hook): it only makes system
    /// calls on data prepared by [`Mounts::new`], and allocates nothing.
    pub fn enter(&self) -> io::Result<()> {
        match self.mode {
            Mode::MountNamespace => check(unsafe { libc::unshare(libc::CLONE_NEWNS) })?,
            Mode::UserNamespace => {
                check(unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) })?;
                write_proc(c"/proc/self/setgroups", c"deny")?;
                write_proc(c"/proc/self/uid_map", &self.uid_map)?;
                write_proc(c"/proc/self/gid_map", &self.gid_map)?;
            }
        }
        let opt = c"/opt";
        // Nothing mounted here reaches the machine's namespace.
        check(unsafe {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_SLAVE,
                std::ptr::null(),
            )
        })?;
        match &self.opt {
            Some(Mount::Bind { source, flags }) => {
                bind(source, opt, libc::MS_REC)?;
                read_only(opt, *flags)?;
            }
            Some(Mount::Overlay { options }) => check(unsafe {
                libc::mount(
                    c"overlay".as_ptr(),
                    opt.as_ptr(),
                    c"overlay".as_ptr(),
                    libc::MS_RDONLY,
                    options.as_ptr().cast(),
                )
            })?,
            None => {}
        }
        if let Some(tmp) = &self.tmp {
            // While the machine's `/tmp` is still in view: each kept entry at its mount point
            // in the private directory, which the recursive bind then brings to `/tmp`.
            for kept in &tmp.keep {
                bind(&kept.what, &kept.at, libc::MS_REC)?;
                read_only(&kept.at, kept.flags)?;
            }
            // Alone (not its mounts): the kept entries are reached through `/tmp` itself.
            if let Some(own_path) = &tmp.own_path {
                bind(&tmp.dir, own_path, 0)?;
            }
            bind(&tmp.dir, c"/tmp", libc::MS_REC)?;
        }
        Ok(())
    }
}

/// Makes the bind mount at `at` read-only, keeping `flags` of its mount (see
/// [`locked_flags`]). Async-signal-safe: one system call.
fn read_only(at: &std::ffi::CStr, flags: libc::c_ulong) -> io::Result<()> {
    // SAFETY: `at` is a valid C string; the null source, type and data are allowed for a
    // remount.
    check(unsafe {
        libc::mount(
            std::ptr::null(),
            at.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | flags,
            std::ptr::null(),
        )
    })
}

/// Binds `what` at `at`, with the mounts under it when `recursive` is `MS_REC` (0: alone).
/// Async-signal-safe: one system call.
fn bind(what: &std::ffi::CStr, at: &std::ffi::CStr, recursive: libc::c_ulong) -> io::Result<()> {
    // SAFETY: both are valid C strings; the null type and data are allowed for a bind.
    check(unsafe {
        libc::mount(
            what.as_ptr(),
            at.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | recursive,
            std::ptr::null(),
        )
    })
}

/// The path as a C string.
fn c_path(path: &Path) -> Result<CString, MountError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| MountError::Nul(path.to_path_buf()))
}

/// The flags of the mount holding `dir` that a read-only remount must keep (in a user
/// namespace, dropping them is refused).
fn locked_flags(dir: &Path) -> libc::c_ulong {
    let Ok(path) = c_path(dir) else {
        return 0;
    };
    // SAFETY: `stat` is a plain output buffer that statvfs fills; `path` is a valid C string.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return 0;
    }
    let mut flags = 0;
    for (st, ms) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if stat.f_flag & st != 0 {
            flags |= ms;
        }
    }
    flags
}

/// Writes `text` to a `/proc/self` file, as one `write`.
fn write_proc(path: &std::ffi::CStr, text: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: both are valid C strings; the descriptor is closed before returning.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    check(fd)?;
    let bytes = text.to_bytes();
    let written = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    unsafe { libc::close(fd) };
    if written < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `Err` with `errno` when a system call returned -1.
fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Mounts two fresh directories at `/opt` in a child that runs `test -f /opt/probe-b`.
fn probe(mode: Mode) -> io::Result<()> {
    probe_with("/opt/probe-b", |dir| {
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir(&a)?;
        std::fs::create_dir(&b)?;
        std::fs::write(b.join("probe-b"), b"")?;
        Mounts::new(mode, &[&a, &b], None).map_err(io::Error::other)
    })
}

/// Binds a fresh directory at `/tmp` in a child that runs `test -f /tmp/probe-tmp`.
fn probe_tmp(mode: Mode) -> io::Result<()> {
    probe_with("/tmp/probe-tmp", |dir| {
        std::fs::write(dir.join("probe-tmp"), b"")?;
        let tmp = TmpMount::prepare(dir, []).map_err(io::Error::other)?;
        Mounts::new(mode, &[], Some(tmp)).map_err(io::Error::other)
    })
}

/// In a fresh directory (removed after), `setup` makes files and the mounts that should show
/// one of them at `expected`; a child that enters the mounts runs `test -f EXPECTED`.
fn probe_with(
    expected: &str,
    setup: impl FnOnce(&Path) -> io::Result<Option<Mounts>>,
) -> io::Result<()> {
    let dir = tempfile_dir()?;
    let result = (|| {
        let mounts = setup(&dir)?.ok_or_else(|| io::Error::other("nothing to mount"))?;
        let mut command = std::process::Command::new("test");
        command
            .args(["-f", expected])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: `enter` only makes system calls on prepared data (see its docs).
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || mounts.enter());
        }
        if command.status()?.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "the probe's file was not found at {expected} in its namespace"
            )))
        }
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A new private directory under the temporary directory.
fn tempfile_dir() -> io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "firebox-{}-probe-{}",
        std::process::id(),
        crate::ids::request_id()
    ));
    std::fs::create_dir(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_options_put_the_last_layer_on_top_and_refuse_what_they_cannot_carry() {
        let Some(Mounts {
            opt: Some(Mount::Overlay { options }),
            ..
        }) = Mounts::new(
            Mode::MountNamespace,
            &[Path::new("/l/one"), Path::new("/l/two"), Path::new("/l/3")],
            None,
        )
        .expect("plain paths")
        else {
            panic!("three layers are an overlay");
        };
        assert_eq!(options.to_str().unwrap(), "ro,lowerdir=/l/3:/l/two:/l/one");
        for bad in ["/l/a,b", "/l/a:b", "/l/a\\b"] {
            let err = Mounts::new(
                Mode::MountNamespace,
                &[Path::new("/ok"), Path::new(bad)],
                None,
            )
            .expect_err(bad);
            assert!(err.to_string().contains(bad), "{err}");
        }
        assert!(Mounts::new(Mode::MountNamespace, &[], None)
            .expect("none")
            .is_none());
    }

    /// Both ways in mount the probe's layers, and bind a private `/tmp`, where the machine
    /// allows them (required where
    /// `FIREBOX_REQUIRE_OPT` is set: `.ci/run` runs as root, where both work).
    #[test]
    fn both_modes_mount_layers_where_the_machine_allows() {
        for (mode, probe) in [
            (Mode::MountNamespace, probe as fn(Mode) -> io::Result<()>),
            (Mode::UserNamespace, probe),
            (Mode::MountNamespace, probe_tmp),
            (Mode::UserNamespace, probe_tmp),
        ] {
            match probe(mode) {
                Ok(()) => {}
                Err(e) if std::env::var_os("FIREBOX_REQUIRE_OPT").is_none() => {
                    eprintln!("{mode:?} is not available here: {e}");
                }
                Err(e) => panic!("FIREBOX_REQUIRE_OPT is set, but {mode:?} failed: {e}"),
            }
        }
    }

    #[test]
    fn turned_off_says_so() {
        let support = MountSupport::detect(false);
        assert_eq!(support.mode(), None);
        assert!(support.describe().contains("layers_at_opt = false"));
    }
}
