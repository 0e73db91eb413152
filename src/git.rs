//! Writing to git: worktree state, the release commit, annotated tags.

use git2::{ErrorCode, Oid, Repository, Signature, Status, StatusOptions};
use std::path::{Path, PathBuf};

/// What can go wrong while writing to git.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// A bare repository has no worktree to release from.
    #[error("the repository is bare: run release in a clone with a worktree")]
    Bare,
    /// HEAD is detached, so the release commit would belong to no branch.
    #[error("HEAD is detached: check out the branch to release (e.g. `git switch main`)")]
    Detached,
    /// Uncommitted changes.
    #[error(
        "the worktree has uncommitted changes ({0}): commit or stash them, or pass --allow-dirty"
    )]
    Dirty(String),
    /// No committer identity.
    #[error("git has no committer identity: set it with `git config user.name \"Your Name\"` and `git config user.email you@example.com`")]
    NoIdentity,
    /// A tag exists at another commit.
    #[error("tag {name} already exists at {existing}, not at {wanted}: tags are never moved; delete it by hand if it is wrong")]
    TagElsewhere {
        /// Tag name.
        name: String,
        /// Where it points.
        existing: String,
        /// Where we wanted it.
        wanted: String,
    },
    /// Any other libgit2 failure.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

/// The repository's worktree root.
pub fn workdir(repo: &Repository) -> Result<PathBuf, GitError> {
    repo.workdir().map(Path::to_path_buf).ok_or(GitError::Bare)
}

/// The checked-out branch name; an error when HEAD is detached.
pub fn current_branch(repo: &Repository) -> Result<String, GitError> {
    if repo.head_detached()? {
        return Err(GitError::Detached);
    }
    let head = repo.head()?;
    Ok(head.shorthand().unwrap_or("HEAD").to_string())
}

/// Tracked files with staged or unstaged changes, except those in `ignore` (paths relative to
/// the worktree root). Untracked files do not count: the release commit never includes them.
pub fn dirty_paths(repo: &Repository, ignore: &[String]) -> Result<Vec<String>, GitError> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(false).include_ignored(false);
    let statuses = repo.statuses(Some(&mut opts))?;
    Ok(statuses
        .iter()
        .filter(|s| s.status() != Status::CURRENT && !s.status().is_ignored())
        .filter_map(|s| s.path().ok().map(str::to_string))
        .filter(|p| !ignore.iter().any(|i| i == p))
        .collect())
}

/// Refuse to work on a dirty tree.
pub fn ensure_clean(repo: &Repository, ignore: &[String]) -> Result<(), GitError> {
    let dirty = dirty_paths(repo, ignore)?;
    if dirty.is_empty() {
        return Ok(());
    }
    let mut shown = dirty.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if dirty.len() > 5 {
        shown.push_str(&format!(" and {} more", dirty.len() - 5));
    }
    Err(GitError::Dirty(shown))
}

fn identity_error(e: git2::Error) -> GitError {
    match e.code() {
        ErrorCode::NotFound | ErrorCode::Invalid => GitError::NoIdentity,
        _ => GitError::Git(e),
    }
}

/// The committer signature, as `git` makes it: git config, overridden by `GIT_COMMITTER_NAME`,
/// `GIT_COMMITTER_EMAIL` and `GIT_COMMITTER_DATE` (CI systems set these rather than config).
pub fn signature(repo: &Repository) -> Result<Signature<'static>, GitError> {
    repo.committer_from_env().map_err(identity_error)
}

/// The author signature, as `git` makes it: git config, overridden by `GIT_AUTHOR_NAME`,
/// `GIT_AUTHOR_EMAIL` and `GIT_AUTHOR_DATE`.
pub fn author_signature(repo: &Repository) -> Result<Signature<'static>, GitError> {
    repo.author_from_env().map_err(identity_error)
}

/// Stage `paths` and commit them on the current branch. Returns `None` when nothing changed
/// relative to HEAD (nothing to commit).
pub fn commit_paths(
    repo: &Repository,
    paths: &[String],
    message: &str,
) -> Result<Option<Oid>, GitError> {
    let mut index = repo.index()?;
    let root = workdir(repo)?;
    for p in paths {
        if root.join(p).exists() {
            index.add_path(Path::new(p))?;
        } else {
            // A file configured but removed: stage the removal rather than fail.
            let _ = index.remove_path(Path::new(p));
        }
    }
    index.write()?;
    let tree_id = index.write_tree()?;
    let parent = repo.head()?.peel_to_commit()?;
    if parent.tree_id() == tree_id {
        return Ok(None);
    }
    let tree = repo.find_tree(tree_id)?;
    let author = author_signature(repo)?;
    let committer = signature(repo)?;
    let id = repo.commit(
        Some("HEAD"),
        &author,
        &committer,
        message,
        &tree,
        &[&parent],
    )?;
    Ok(Some(id))
}

/// Where a tag points (peeled to a commit), if it exists.
pub fn tag_target(repo: &Repository, name: &str) -> Result<Option<Oid>, GitError> {
    match repo.find_reference(&format!("refs/tags/{name}")) {
        Ok(r) => Ok(Some(r.peel_to_commit()?.id())),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Create the annotated tag `name` at `target`. An existing tag at the same commit is success;
/// at another commit it is an error, never a move.
pub fn create_tag(
    repo: &Repository,
    name: &str,
    target: Oid,
    message: &str,
) -> Result<bool, GitError> {
    if let Some(existing) = tag_target(repo, name)? {
        if existing == target {
            return Ok(false);
        }
        return Err(GitError::TagElsewhere {
            name: name.into(),
            existing: existing.to_string(),
            wanted: target.to_string(),
        });
    }
    let object = repo.find_object(target, None)?;
    let sig = signature(repo)?;
    repo.tag(name, &object, &sig, message, false)?;
    Ok(true)
}
