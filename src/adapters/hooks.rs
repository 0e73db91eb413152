//! Hooks: installing the git `commit-msg` hook, and running lifecycle hooks (`pre_bump`,
//! `post_bump`) as argument lists, never through a shell.

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::util::redact::redact;

/// The `commit-msg` hook shipped in `hooks/`.
pub const COMMIT_MSG: &str = include_str!("../../hooks/commit-msg");

/// A hook that cannot be installed or that failed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// Another hook is in the way.
    #[error("{0} already exists and is not release's hook: pass --force to replace it, or call `release lint --edit \"$1\"` from it")]
    Exists(PathBuf),
    /// Writing the hook failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The hook file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A lifecycle hook could not start.
    #[error("{stage} hook `{program}` could not start: {source}")]
    Spawn {
        /// `pre_bump` or `post_bump`.
        stage: String,
        /// argv[0].
        program: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A lifecycle hook exited non-zero.
    #[error("{stage} hook `{command}` failed ({status})")]
    Failed {
        /// `pre_bump` or `post_bump`.
        stage: String,
        /// The command, for the message.
        command: String,
        /// Exit status.
        status: std::process::ExitStatus,
    },
    /// SIGINT or SIGTERM arrived while a lifecycle hook ran; the hook was killed.
    #[error("{stage} hook `{command}` was stopped: {signal}")]
    Interrupted {
        /// `pre_bump` or `post_bump`.
        stage: String,
        /// The command, for the message.
        command: String,
        /// The signal.
        signal: crate::util::signals::Interrupted,
    },
    /// Any libgit2 failure.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

/// The directory git runs hooks from: `core.hooksPath` (relative to the worktree) or the
/// `hooks` directory of the common git directory: a linked worktree has none of its own.
pub fn hooks_dir(repo: &git2::Repository) -> Result<PathBuf, HookError> {
    let config = repo.config()?;
    if let Ok(path) = config.get_path("core.hooksPath") {
        if path.is_absolute() {
            return Ok(path);
        }
        let base = repo.workdir().unwrap_or_else(|| repo.path());
        return Ok(base.join(path));
    }
    Ok(repo.commondir().join("hooks"))
}

/// Install the `commit-msg` hook. Returns its path.
pub fn install_commit_msg(repo: &git2::Repository, force: bool) -> Result<PathBuf, HookError> {
    let dir = hooks_dir(repo)?;
    let path = dir.join("commit-msg");
    let write = |source| HookError::Write {
        path: path.clone(),
        source,
    };
    if let Ok(existing) = std::fs::read_to_string(&path) {
        if existing != COMMIT_MSG && !force {
            return Err(HookError::Exists(path));
        }
    }
    std::fs::create_dir_all(&dir).map_err(write)?;
    std::fs::write(&path, COMMIT_MSG).map_err(write)?;
    make_executable(&path).map_err(write)?;
    Ok(path)
}

#[cfg(unix)]
fn make_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Run each command of a lifecycle stage in `dir` with `env` added. Hook output goes to
/// stderr so that `--json` on stdout stays parseable, line by line through the redactor: a hook
/// runs with the process's environment, tokens included, and may print them. Stops at the first
/// failure.
///
/// Each hook runs in its own process group: on SIGINT or SIGTERM (see
/// [`crate::util::signals::catch_signals`]) the whole group gets the signal, then SIGKILL if it is
/// still there after a grace period, so no hook outlives an interrupted release.
pub fn run_stage(
    stage: &str,
    commands: &[Vec<String>],
    dir: &Path,
    env: &[(&str, String)],
) -> Result<(), HookError> {
    for argv in commands {
        let Some((program, args)) = argv.split_first() else {
            continue;
        };
        tracing::info!("{stage}: {}", argv.join(" "));
        crate::util::signals::check_interrupt().map_err(|signal| HookError::Interrupted {
            stage: stage.into(),
            command: argv.join(" "),
            signal,
        })?;
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().map_err(|source| HookError::Spawn {
            stage: stage.into(),
            program: program.clone(),
            source,
        })?;
        let (done, finished) = mpsc::channel();
        let mut forwarders = 0;
        if let Some(out) = child.stdout.take() {
            forwarders += 1;
            forward(out, done.clone());
        }
        if let Some(err) = child.stderr.take() {
            forwarders += 1;
            forward(err, done);
        }
        let status = match wait(child) {
            Ok(status) => status,
            Err(Stopped::Signal(signal)) => {
                return Err(HookError::Interrupted {
                    stage: stage.into(),
                    command: argv.join(" "),
                    signal,
                })
            }
            Err(Stopped::Io(source)) => {
                return Err(HookError::Spawn {
                    stage: stage.into(),
                    program: program.clone(),
                    source,
                })
            }
        };
        // The pipes close when the hook exits, unless it left a process behind that holds them:
        // that one's output keeps being forwarded, but the release does not wait for it.
        let deadline = Instant::now() + OUTPUT_GRACE;
        for _ in 0..forwarders {
            let left = deadline.saturating_duration_since(Instant::now());
            if finished.recv_timeout(left).is_err() {
                break;
            }
        }
        if !status.success() {
            return Err(HookError::Failed {
                stage: stage.into(),
                command: argv.join(" "),
                status,
            });
        }
    }
    Ok(())
}

/// How long the output of a hook that exited is still waited for.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// Copy `from` to stderr line by line, secrets masked, in a thread; send on `done` at its end.
fn forward(from: impl Read + Send + 'static, done: mpsc::Sender<()>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(from);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let mut stderr = std::io::stderr().lock();
                    let _ = stderr.write_all(redact(&text).as_bytes());
                    let _ = stderr.flush();
                }
            }
        }
        let _ = done.send(());
    });
}

/// Wait for a hook; when a signal arrives meanwhile, pass it to the hook's process group, and
/// SIGKILL the group if it is still there five seconds later.
fn wait(mut child: std::process::Child) -> Result<std::process::ExitStatus, Stopped> {
    let poll = Duration::from_millis(20);
    loop {
        if let Some(status) = child.try_wait().map_err(Stopped::Io)? {
            return Ok(status);
        }
        if let Some(signal) = crate::util::signals::interrupted() {
            signal_group(&child, signal.0);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    // The leader is gone; its group may not be.
                    signal_group(&child, libc::SIGKILL);
                    // A hook that finished its work despite the signal completed its step:
                    // the run stops at the next boundary.
                    if status.success() {
                        return Ok(status);
                    }
                    return Err(Stopped::Signal(signal));
                }
                std::thread::sleep(poll);
            }
            signal_group(&child, libc::SIGKILL);
            let _ = child.wait();
            return Err(Stopped::Signal(signal));
        }
        std::thread::sleep(poll);
    }
}

/// Why a hook did not run to its end.
enum Stopped {
    /// A signal asked release to stop; the hook was killed.
    Signal(crate::util::signals::Interrupted),
    /// It could not be waited for.
    Io(std::io::Error),
}

/// Send `signal` to the process group of `child` (it leads its own group).
#[cfg(unix)]
fn signal_group(child: &std::process::Child, signal: i32) {
    let Ok(pgid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; a negative pid names
    // the process group the hook leads, which holds only the hook and its children.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

#[cfg(not(unix))]
fn signal_group(child: &std::process::Child, _signal: i32) {
    let _ = child;
}
