//! `release init`: read what the repository has (tags, manifests, Dockerfile, origin), decide
//! with [`crate::core::init`], and write `release.toml` (and the GitHub Actions workflow)
//! atomically, never over an existing file unless forced, never through a symbolic link.

use std::path::{Path, PathBuf};

use crate::adapters::git::{self, history};
use crate::adapters::version_files::write_atomic;
use crate::core::init::{self as decide, Detected, Inputs};

/// Where the workflow goes.
pub const WORKFLOW_PATH: &str = ".github/workflows/release.yml";

/// Why `release init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Reading the repository failed.
    #[error(transparent)]
    History(#[from] history::HistoryError),
    /// The target exists and `--force` was not given.
    #[error("{0} already exists: run `release init --force` to replace it")]
    Exists(String),
    /// The target is a symbolic link, is under one, or is not a regular file.
    #[error("refusing to write {path}: {reason}; remove it or write the file by hand")]
    Unsafe {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] crate::adapters::version_files::VersionFileError),
    /// Creating the workflow's directory failed.
    #[error("cannot create {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What `release init` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// Also write the GitHub Actions workflow.
    pub github_actions: bool,
    /// Replace existing files.
    pub force: bool,
    /// Write nothing.
    pub dry_run: bool,
    /// `GITHUB_SERVER_URL`, read by the CLI.
    pub github_server: Option<String>,
    /// The release-agent version the workflow installs.
    pub version: String,
}

/// One file `release init` writes (or would write).
#[derive(Debug, Clone)]
pub struct Planned {
    /// Its path relative to the root.
    pub path: String,
    /// Its content.
    pub content: String,
    /// Whether it replaced (or would replace) an existing file.
    pub replaced: bool,
}

/// The outcome: what was found and the files written (or, in a dry run, that would be).
#[derive(Debug, Clone)]
pub struct InitReport {
    /// What was found.
    pub detected: Detected,
    /// The files.
    pub files: Vec<Planned>,
}

/// A regular file's text at `root/rel`; `None` when it is absent, a symbolic link, not a regular
/// file, or not UTF-8 (it is then left alone, as a bump would refuse it).
fn read_regular(root: &Path, rel: &str) -> Option<String> {
    let path = crate::util::safe_path::check(root, rel, rel).ok()?;
    std::fs::read_to_string(path).ok()
}

/// Look at the repository at `root`.
pub fn inspect(
    repo: &git2::Repository,
    root: &Path,
    github_server: Option<String>,
) -> Result<Detected, InitError> {
    let inputs = Inputs {
        tags: history::tag_names(repo)?,
        cargo_toml: read_regular(root, "Cargo.toml"),
        package_json: read_regular(root, "package.json"),
        pyproject_toml: read_regular(root, "pyproject.toml"),
        dockerfile: crate::util::safe_path::check(root, "Dockerfile", "Dockerfile").is_ok()
            && root.join("Dockerfile").is_file(),
        origin: git::remote_url(repo, "origin").ok(),
        github_server,
        branch: history::head_branch(repo),
    };
    Ok(decide::detect(&inputs))
}

/// Decide and write: every target is checked before the first is written.
pub fn run(
    repo: &git2::Repository,
    root: &Path,
    options: &InitOptions,
) -> Result<InitReport, InitError> {
    let detected = inspect(repo, root, options.github_server.clone())?;
    let mut files = vec![(crate::config::FILE_NAME, decide::release_toml(&detected))];
    if options.github_actions {
        files.push((WORKFLOW_PATH, decide::workflow(&detected, &options.version)));
    }
    let mut planned = Vec::new();
    for (rel, content) in files {
        let unsafe_path = |reason: String| InitError::Unsafe {
            path: rel.to_string(),
            reason,
        };
        crate::util::safe_path::check(root, rel, rel).map_err(|e| unsafe_path(e.reason))?;
        let replaced = std::fs::symlink_metadata(root.join(rel)).is_ok();
        if replaced && !options.force {
            return Err(InitError::Exists(rel.to_string()));
        }
        planned.push(Planned {
            path: rel.to_string(),
            content,
            replaced,
        });
    }
    if !options.dry_run {
        for file in &planned {
            let path = root.join(&file.path);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|source| InitError::Dir {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            // Checked again just before the write: nothing on the way became a link meanwhile.
            crate::util::safe_path::check(root, &file.path, &file.path).map_err(|e| {
                InitError::Unsafe {
                    path: file.path.clone(),
                    reason: e.reason,
                }
            })?;
            write_atomic(&path, &file.content)?;
        }
    }
    Ok(InitReport {
        detected,
        files: planned,
    })
}
