//! The clone's own lock, held for a whole `bump`, `cut` or `ci`.

use std::path::{Path, PathBuf};

use crate::util::process::process_alive;

/// The own lock of a release run cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds it.
    #[error("another release is running in this clone: {} holds {}; wait for it to finish (if no release process is running, delete that file)", holder(*pid), path.display())]
    Held {
        /// The lock file.
        path: PathBuf,
        /// The process that holds it, when the file names one.
        pid: Option<u32>,
    },
    /// The lock file cannot be written.
    #[error("cannot take the release lock {}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A git lock file is in the way.
    #[error(transparent)]
    Git(#[from] super::GitError),
}

fn holder(pid: Option<u32>) -> String {
    pid.map_or_else(|| "a process".to_string(), |p| format!("process {p}"))
}

/// The lock file in the common git directory held for a whole `bump`, `cut` or `ci`, so two runs
/// in one clone (or in two worktrees of it) never interleave.
///
/// The file is locked with `flock` while a run holds it, so the kernel frees it when the run
/// dies, and it names the owner's process id. A run that was killed (Ctrl-C, a cancelled CI job,
/// the fault switch) leaves the file behind: the next run takes it over, and removes the git
/// lock files (`index.lock`, `refs/heads/<branch>.lock`, ...) made since the dead run took it,
/// which that run left. Running again is always how an interrupted release is finished.
pub struct Lock {
    path: PathBuf,
    _file: std::fs::File,
}

impl Lock {
    /// Take the lock, take over the lock of a dead run (cleaning what it left), and check that
    /// no git lock file is in the way.
    pub fn acquire(repo: &git2::Repository) -> Result<Lock, LockError> {
        let path = repo.commondir().join("release-agent.lock");
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        // A run that ends removes the file while a contender may have it open: retry then.
        for _ in 0..10 {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(LockError::Held {
                        pid: read_pid(&path),
                        path,
                    })
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
            if !same_file(&file, &path) {
                continue;
            }
            let owner = read_pid(&path);
            match owner {
                // A live process named in the file without holding the lock: a run of an older
                // release, or a lock made by hand. Leave it be.
                Some(pid) if pid != std::process::id() && process_alive(pid) => {
                    return Err(LockError::Held {
                        pid: Some(pid),
                        path,
                    })
                }
                Some(pid) => {
                    let since = file
                        .metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::UNIX_EPOCH);
                    eprintln!(
                        "taking over {}: the release run that held it (process {pid}) is gone",
                        path.display()
                    );
                    super::remove_stale_locks(repo, since, pid);
                }
                None => {}
            }
            use std::io::{Seek as _, Write as _};
            file.set_len(0).map_err(io)?;
            file.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
            writeln!(file, "{}", std::process::id()).map_err(io)?;
            let lock = Lock { path, _file: file };
            super::ensure_unlocked(repo)?;
            return Ok(lock);
        }
        Err(LockError::Held {
            pid: read_pid(&path),
            path,
        })
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
}

/// Whether the open `file` is still the one at `path` (not removed or replaced meanwhile).
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still locked: a contender that opened it meanwhile sees it is gone.
        let _ = std::fs::remove_file(&self.path);
    }
}
