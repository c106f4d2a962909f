//! Starting one member of an environment: its runtime or an external extension.
//!
//! A member is started with `posix_spawn(3)` wherever nothing has to run in the child before
//! `exec`: glibc and musl implement it with `clone(CLONE_VM | CLONE_VFORK)`, so none of the emulator's
//! address space is copied and its threads take no copy-on-write faults afterwards. On this
//! project's 2-core machines that start costs about 0.1 ms, against 0.3–2.4 ms for
//! `fork` + `exec` from the multi-threaded emulator, and it is on every cold start's path. Only
//! a member that must enter a mount namespace (layers at `/opt`, a private `/tmp`) is started
//! with `fork` and `exec` (std's `Command` with a `pre_exec` hook).
//!
//! Either way the child gets what Lambda gives a runtime: every signal at its default action
//! (an ignored disposition would survive `exec`), an empty signal mask, `/dev/null` as stdin,
//! stdout and stderr into the environment's output pipe, the telemetry log descriptor at a
//! fixed number when asked, the code directory as its working directory, and a process group.
//! The started process is a [`ChildProcess`] (see `child`).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::super::namespace::Mounts;
use super::child::ChildProcess;

/// What to start, and how.
#[derive(Debug)]
pub(super) struct MemberCommand<'a> {
    /// The program as configured: a path (relative ones to `cwd`), or a name looked up on the
    /// `PATH` of `env`.
    pub program: &'a str,
    /// The arguments after the program.
    pub args: &'a [String],
    /// The whole environment.
    pub env: &'a [(String, String)],
    /// The working directory (the emulator's own when none).
    pub cwd: Option<&'a Path>,
    /// Where stdout and stderr go.
    pub output: &'a OwnedFd,
    /// A descriptor to hand over at `fd` (the telemetry log descriptor).
    pub extra_fd: Option<(&'a OwnedFd, RawFd)>,
    /// The process group to join; 0 makes a new one led by the child.
    pub pgid: i32,
    /// A mount namespace to enter before `exec`.
    pub mounts: Option<&'a Arc<Mounts>>,
}

impl MemberCommand<'_> {
    /// Starts the process. The error is `exec`'s (or `chdir`'s) own, as std reports it.
    pub(super) fn spawn(&self) -> io::Result<ChildProcess> {
        // `posix_spawn` sets the working directory with `addchdir_np` (glibc 2.29, musl
        // 1.1.24); an older C library gets `fork` and `exec` for a process that needs one.
        let can_chdir = self.cwd.is_none() || addchdir_np().is_some();
        let pid = match self.mounts {
            None if can_chdir => self.posix_spawn()?,
            mounts => self.fork_exec(mounts)?,
        };
        Ok(ChildProcess::adopt(pid))
    }

    /// `posix_spawn(3)`: the program resolved here (on the child's `PATH`), the descriptors
    /// and the working directory set by file actions, the signals and the group by attributes.
    fn posix_spawn(&self) -> io::Result<u32> {
        let program = self.resolve()?;
        let path = cstring(program.as_os_str().as_bytes())?;
        let argv = self.argv()?;
        let envp = self
            .effective_env()
            .into_iter()
            .map(|(k, v)| cstring(format!("{k}={v}").as_bytes()))
            .collect::<io::Result<Vec<_>>>()?;
        let cwd = self
            .cwd
            .map(|d| cstring(d.as_os_str().as_bytes()))
            .transpose()?;
        // Sources above every target (see `above_stdio`; a test process may have closed its
        // own stdin or stdout, and a pipe then gets one of those numbers).
        let output = above_stdio(self.output)?;
        let extra = match self.extra_fd {
            Some((fd, target)) => {
                debug_assert!(target < ABOVE_TARGETS, "a target above ABOVE_TARGETS");
                Some((above_stdio(fd)?, target))
            }
            None => None,
        };
        let argv_ptrs = null_terminated(&argv);
        let envp_ptrs = null_terminated(&envp);

        let mut actions = FileActions::new()?;
        actions.open(0, c"/dev/null", libc::O_RDONLY)?;
        actions.dup2(output.as_raw(), 1)?;
        actions.dup2(output.as_raw(), 2)?;
        if let Some((fd, target)) = &extra {
            actions.dup2(fd.as_raw(), *target)?;
        }
        if let Some(dir) = &cwd {
            actions.chdir(dir)?;
        }
        let mut attributes = Attributes::new()?;
        attributes.set(self.pgid)?;

        let mut pid: libc::pid_t = 0;
        // SAFETY: every pointer is valid for the call: the path, argv and envp are
        // NUL-terminated strings in null-terminated arrays that outlive it, and the file
        // actions and attributes were initialised above and are destroyed after it.
        let err = unsafe {
            libc::posix_spawn(
                &mut pid,
                path.as_ptr(),
                &actions.0,
                &attributes.0,
                argv_ptrs.as_ptr(),
                envp_ptrs.as_ptr(),
            )
        };
        if err != 0 {
            return Err(io::Error::from_raw_os_error(err));
        }
        // A pid is positive.
        Ok(pid.unsigned_abs())
    }

    /// `fork` and `exec` through std's `Command`, entering the mount namespace (if any) in
    /// between.
    fn fork_exec(&self, mounts: Option<&Arc<Mounts>>) -> io::Result<u32> {
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};
        let mut command = Command::new(self.program);
        command
            .args(self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(self.output.try_clone()?))
            .stderr(Stdio::from(self.output.try_clone()?))
            .process_group(self.pgid);
        if let Some(dir) = self.cwd {
            command.current_dir(dir);
        }
        if let Some((fd, target)) = self.extra_fd {
            let raw = fd.as_raw_fd();
            // SAFETY: `place_fd` only makes async-signal-safe system calls (`dup2`, `fcntl`)
            // on a descriptor the child inherited from this process, as a `pre_exec` hook
            // must.
            unsafe {
                command.pre_exec(move || place_fd(raw, target));
            }
        }
        // SAFETY: `default_signals` only calls `signal(2)`, which is async-signal-safe, as a
        // `pre_exec` hook must be.
        unsafe {
            command.pre_exec(default_signals);
        }
        if let Some(mounts) = mounts {
            let mounts = Arc::clone(mounts);
            // SAFETY: `enter` only makes system calls on data prepared before the fork (see
            // `Mounts::enter`), as a `pre_exec` hook must.
            unsafe {
                command.pre_exec(move || mounts.enter());
            }
        }
        // std's `Child` does nothing when dropped: the process is ours to wait for.
        Ok(command.spawn()?.id())
    }

    /// The program's path as `exec` would find it: a path with a `/` as it is (relative to
    /// the working directory), a bare name on the `PATH` of the child's environment, like
    /// `execvp(3)`: the first executable file wins; `EACCES` if only files that cannot be
    /// executed were found, `ENOENT` if nothing was.
    fn resolve(&self) -> io::Result<PathBuf> {
        let relative_to_cwd = |path: &Path| match self.cwd {
            Some(cwd) if path.is_relative() => cwd.join(path),
            _ => path.to_path_buf(),
        };
        if self.program.contains('/') {
            return Ok(relative_to_cwd(Path::new(self.program)));
        }
        if self.program.is_empty() {
            return Err(io::ErrorKind::NotFound.into());
        }
        let search = self
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map_or("/usr/local/bin:/usr/bin:/bin", |(_, v)| v.as_str());
        let mut denied = false;
        for dir in search.split(':') {
            // An empty entry is the working directory, as for `execvp`.
            let dir = if dir.is_empty() { "." } else { dir };
            let candidate = relative_to_cwd(&Path::new(dir).join(self.program));
            if !candidate.is_file() {
                continue;
            }
            if executable(&candidate) {
                return Ok(candidate);
            }
            denied = true;
        }
        Err(if denied {
            io::ErrorKind::PermissionDenied.into()
        } else {
            io::ErrorKind::NotFound.into()
        })
    }

    /// The environment with one entry per name, the last given winning (as with std's
    /// `Command::envs`: the function's variables override the emulator's defaults).
    fn effective_env(&self) -> Vec<(&str, &str)> {
        let mut seen = std::collections::HashSet::new();
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .rev()
            .filter(|(k, _)| seen.insert(k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        env.reverse();
        env
    }

    /// `argv`: the program as configured, then the arguments.
    fn argv(&self) -> io::Result<Vec<CString>> {
        std::iter::once(self.program)
            .chain(self.args.iter().map(String::as_str))
            .map(|a| cstring(a.as_bytes()))
            .collect()
    }
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "nul byte found in provided data",
        )
    })
}

/// The pointers of `strings`, then a null pointer, as `argv` and `envp` are passed.
fn null_terminated(strings: &[CString]) -> Vec<*mut libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr().cast_mut())
        .chain(std::iter::once(std::ptr::null_mut()))
        .collect()
}

fn executable(path: &Path) -> bool {
    let Ok(c) = cstring(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) reads a NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

/// The lowest descriptor number that is never a target in the child (0–2 and the telemetry
/// descriptor, 3).
const ABOVE_TARGETS: RawFd = 4;

/// `fd` itself if its number is above every target in the child, otherwise a close-on-exec
/// copy that is: so that no `dup2` overwrites a source still to be placed, and none is a
/// `dup2` of a descriptor onto itself (which would leave it close-on-exec with an older C
/// library).
fn above_stdio(fd: &OwnedFd) -> io::Result<Source<'_>> {
    if fd.as_raw_fd() >= ABOVE_TARGETS {
        return Ok(Source::Borrowed(fd));
    }
    // SAFETY: fcntl(2) F_DUPFD_CLOEXEC on a valid descriptor returns a new one or -1.
    let copy = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, ABOVE_TARGETS) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` is a new descriptor that nothing else owns.
    Ok(Source::Owned(unsafe { OwnedFd::from_raw_fd(copy) }))
}

/// A descriptor to place in the child: the caller's, or a copy made for the spawn.
enum Source<'a> {
    Borrowed(&'a OwnedFd),
    Owned(OwnedFd),
}

impl Source<'_> {
    fn as_raw(&self) -> RawFd {
        match self {
            Source::Borrowed(fd) => fd.as_raw_fd(),
            Source::Owned(fd) => fd.as_raw_fd(),
        }
    }
}

/// `posix_spawn_file_actions_t`, destroyed when dropped.
struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new() -> io::Result<Self> {
        // SAFETY: an all-zero value is a valid argument to initialise.
        let mut actions: libc::posix_spawn_file_actions_t = unsafe { std::mem::zeroed() };
        // SAFETY: `actions` is valid for writes.
        check(unsafe { libc::posix_spawn_file_actions_init(&mut actions) })?;
        Ok(Self(actions))
    }

    fn open(&mut self, fd: RawFd, path: &'static std::ffi::CStr, flags: i32) -> io::Result<()> {
        // SAFETY: initialised actions; glibc copies the path.
        check(unsafe {
            libc::posix_spawn_file_actions_addopen(&mut self.0, fd, path.as_ptr(), flags, 0)
        })
    }

    fn dup2(&mut self, fd: RawFd, target: RawFd) -> io::Result<()> {
        // SAFETY: initialised actions.
        check(unsafe { libc::posix_spawn_file_actions_adddup2(&mut self.0, fd, target) })
    }

    fn chdir(&mut self, dir: &CString) -> io::Result<()> {
        let Some(addchdir) = addchdir_np() else {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        };
        // SAFETY: initialised actions; the C library copies the path.
        check(unsafe { addchdir(&mut self.0, dir.as_ptr()) })
    }
}

/// `posix_spawn_file_actions_addchdir_np`.
type AddChdir =
    unsafe extern "C" fn(*mut libc::posix_spawn_file_actions_t, *const libc::c_char) -> libc::c_int;

/// `posix_spawn_file_actions_addchdir_np`, looked up at run time rather than linked: a C
/// library older than glibc 2.29 does not have it (RHEL 8 has 2.28), and the emulator must
/// still build and run there.
fn addchdir_np() -> Option<AddChdir> {
    static FOUND: std::sync::OnceLock<Option<AddChdir>> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks the symbol up.
        let symbol = unsafe {
            libc::dlsym(
                libc::RTLD_DEFAULT,
                c"posix_spawn_file_actions_addchdir_np".as_ptr(),
            )
        };
        // SAFETY: the symbol, when present, is the C library's function of exactly this
        // signature (POSIX.1-2024 `posix_spawn_file_actions_addchdir`).
        (!symbol.is_null())
            .then(|| unsafe { std::mem::transmute::<*mut libc::c_void, AddChdir>(symbol) })
    })
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// `posix_spawnattr_t`, destroyed when dropped.
struct Attributes(libc::posix_spawnattr_t);

impl Attributes {
    fn new() -> io::Result<Self> {
        // SAFETY: an all-zero value is a valid argument to initialise.
        let mut attributes: libc::posix_spawnattr_t = unsafe { std::mem::zeroed() };
        // SAFETY: `attributes` is valid for writes.
        check(unsafe { libc::posix_spawnattr_init(&mut attributes) })?;
        Ok(Self(attributes))
    }

    /// Every signal at its default action, none blocked, and process group `pgid`.
    fn set(&mut self, pgid: i32) -> io::Result<()> {
        // SAFETY: sigset_t values are plain data, filled and emptied by the calls below
        // before use; the attributes are initialised.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::sigemptyset(&mut none);
            check(libc::posix_spawnattr_setsigdefault(&mut self.0, &all))?;
            check(libc::posix_spawnattr_setsigmask(&mut self.0, &none))?;
            check(libc::posix_spawnattr_setpgroup(&mut self.0, pgid))?;
            let flags = libc::POSIX_SPAWN_SETSIGDEF
                | libc::POSIX_SPAWN_SETSIGMASK
                | libc::POSIX_SPAWN_SETPGROUP;
            check(libc::posix_spawnattr_setflags(
                &mut self.0,
                libc::c_short::try_from(flags).unwrap_or(0),
            ))
        }
    }
}

impl Drop for Attributes {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

fn check(err: libc::c_int) -> io::Result<()> {
    if err == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(err))
    }
}

/// In a child between `fork` and `exec`: every signal back to its default action, as Lambda
/// starts a runtime. An ignored disposition survives `exec`, so a `serve` started from a
/// script with `&` (its shell ignores SIGINT and SIGQUIT) or under `nohup` (SIGHUP) would
/// hand that on to every function.
fn default_signals() -> io::Result<()> {
    for signal in 1..32 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: `signal(2)` with `SIG_DFL` has no memory-safety preconditions; a number the
        // system does not have only fails.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
    Ok(())
}

/// In a child between `fork` and `exec`: makes `target` a copy of `fd` that survives `exec`.
fn place_fd(fd: RawFd, target: RawFd) -> io::Result<()> {
    // SAFETY: `dup2` and `fcntl` have no memory-safety preconditions.
    let placed = unsafe {
        if fd == target {
            // Already there: only the close-on-exec flag is to be cleared.
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags < 0 {
                -1
            } else {
                libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC)
            }
        } else {
            libc::dup2(fd, target)
        }
    };
    if placed < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn dir(tag: &str) -> PathBuf {
        crate::testing::temp_dir(&format!("spawn-{tag}"))
    }

    fn write_script(path: &Path, body: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, body).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn pipe() -> (std::fs::File, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: pipe2(2) writes two descriptors into `fds`.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both are new descriptors owned by nothing else.
        unsafe {
            (
                std::fs::File::from_raw_fd(fds[0]),
                OwnedFd::from_raw_fd(fds[1]),
            )
        }
    }

    fn command<'a>(
        program: &'a str,
        args: &'a [String],
        env: &'a [(String, String)],
        cwd: Option<&'a Path>,
        output: &'a OwnedFd,
    ) -> MemberCommand<'a> {
        MemberCommand {
            program,
            args,
            env,
            cwd,
            output,
            extra_fd: None,
            pgid: 0,
            mounts: None,
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_bare_name_is_found_on_the_childs_path_the_last_path_given_winning() {
        let root = dir("path");
        let (a, b) = (root.join("a"), root.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        write_script(&a.join("tool"), "#!/bin/sh\n", 0o644); // not executable
        write_script(&b.join("tool"), "#!/bin/sh\n", 0o755);
        let (_, out) = pipe();
        let vars = env(&[
            ("PATH", "/nowhere"),
            ("PATH", &format!("{}:{}", a.display(), b.display())),
        ]);
        let found = command("tool", &[], &vars, None, &out).resolve().unwrap();
        assert_eq!(found, b.join("tool"));

        let only_a = env(&[("PATH", &a.display().to_string())]);
        let denied = command("tool", &[], &only_a, None, &out).resolve();
        assert_eq!(denied.unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        let missing = command("nothing-here", &[], &only_a, None, &out).resolve();
        assert_eq!(missing.unwrap_err().kind(), io::ErrorKind::NotFound);

        // A relative path, and a relative `PATH` entry, are the working directory's.
        let relative = command("b/tool", &[], &only_a, Some(&root), &out).resolve();
        assert_eq!(relative.unwrap(), root.join("b/tool"));
        let dot = env(&[("PATH", "b")]);
        let from_cwd = command("tool", &[], &dot, Some(&root), &out).resolve();
        assert_eq!(from_cwd.unwrap(), root.join("b/tool"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_environment_has_one_entry_per_name_the_last_winning() {
        let (_, out) = pipe();
        let vars = env(&[("A", "1"), ("B", "2"), ("A", "3")]);
        let c = command("x", &[], &vars, None, &out);
        assert_eq!(c.effective_env(), [("B", "2"), ("A", "3")]);
    }

    #[tokio::test]
    async fn a_spawned_member_gets_its_descriptors_directory_group_and_arguments() {
        let root = dir("member");
        let (mut output, out) = pipe();
        let (mut extra, extra_write) = pipe();
        let args = [
            "-c".to_owned(),
            // stdin is /dev/null, fd 3 is the extra pipe, the group is its own.
            r#"echo "$0 $X $(pwd) $(readlink /proc/self/fd/0)"; echo via3 >&3; cut -d' ' -f5 /proc/$$/stat; echo $$; exit 7"#.to_owned(),
        ];
        let vars = env(&[("PATH", "/usr/bin:/bin"), ("X", "x1"), ("X", "x2")]);
        let mut c = command("sh", &args, &vars, Some(&root), &out);
        c.extra_fd = Some((&extra_write, 3));
        let mut child = c.spawn().unwrap();
        drop(out);
        drop(extra_write);
        let status = child.wait().await.unwrap();
        assert_eq!(status.code(), Some(7));
        let mut text = String::new();
        output.read_to_string(&mut text).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!("sh x2 {} /dev/null", root.display()),
            "{text}"
        );
        assert_eq!(
            lines[1].trim(),
            lines[2].trim(),
            "a group of its own: {text}"
        );
        let mut via3 = String::new();
        extra.read_to_string(&mut via3).unwrap();
        assert_eq!(via3, "via3\n");
        // Reaped once: the status is kept.
        assert_eq!(child.try_wait().unwrap(), Some(status));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test]
    async fn exec_errors_are_execs_own() {
        let root = dir("errors");
        let (_, out) = pipe();
        let vars = env(&[("PATH", "/usr/bin:/bin")]);
        let no_shebang = root.join("no-shebang");
        write_script(&no_shebang, "echo hi\n", 0o755);
        let not_executable = root.join("plain");
        write_script(&not_executable, "#!/bin/sh\n", 0o644);
        for (program, expected) in [
            (root.join("missing"), Some(libc::ENOENT)),
            (not_executable, Some(libc::EACCES)),
            // As `execve` (and Lambda) says: no shell is tried for a file without `#!`.
            (no_shebang, Some(libc::ENOEXEC)),
        ] {
            let program = program.display().to_string();
            let err = command(&program, &[], &vars, None, &out)
                .spawn()
                .unwrap_err();
            assert_eq!(err.raw_os_error(), expected, "{program}: {err}");
        }
        let gone = root.join("gone");
        let err = command("sh", &[], &vars, Some(&gone), &out)
            .spawn()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
