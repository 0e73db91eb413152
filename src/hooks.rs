//! Hooks: installing the git `commit-msg` hook, and running lifecycle hooks (`pre_bump`,
//! `post_bump`) as argument lists, never through a shell.

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::redact::redact;

/// The `commit-msg` hook shipped in `hooks/`.
pub const COMMIT_MSG: &str = include_str!("../hooks/commit-msg");

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
    /// Any libgit2 failure.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

/// The directory git runs hooks from: `core.hooksPath` (relative to the worktree) or
/// `.git/hooks`.
pub fn hooks_dir(repo: &git2::Repository) -> Result<PathBuf, HookError> {
    let config = repo.config()?;
    if let Ok(path) = config.get_path("core.hooksPath") {
        if path.is_absolute() {
            return Ok(path);
        }
        let base = repo.workdir().unwrap_or_else(|| repo.path());
        return Ok(base.join(path));
    }
    Ok(repo.path().join("hooks"))
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
        let mut child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| HookError::Spawn {
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
        let status = child.wait().map_err(|source| HookError::Spawn {
            stage: stage.into(),
            program: program.clone(),
            source,
        })?;
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
