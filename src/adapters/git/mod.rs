//! Writing to git: worktree state, the release commit, annotated tags.

mod commit_object;
pub mod history;
pub mod lock;
mod packs;
mod pipeline;
pub mod sign;
pub mod touch_cache;

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
    /// A git lock file is in the way: another git process holds it, or one that died left it.
    #[error(
        "another git process is holding {} ({}); if none is running, remove it",
        path.display(),
        lock_age(path)
    )]
    LockHeld {
        /// The lock file.
        path: PathBuf,
    },
    /// A signature git could not make.
    #[error(transparent)]
    Sign(#[from] sign::SignError),
    /// Any other libgit2 failure.
    #[error("git: {0}")]
    Git(git2::Error),
}

impl From<git2::Error> for GitError {
    /// libgit2 reports a held lock file as `code=Locked (-14)` with the path in its message:
    /// that becomes [`GitError::LockHeld`], which says what to do.
    fn from(e: git2::Error) -> Self {
        if e.code() == ErrorCode::Locked {
            if let Some(path) = locked_path(e.message()) {
                return GitError::LockHeld { path };
            }
        }
        GitError::Git(e)
    }
}

/// The lock file a libgit2 message names (`failed to create locked file '/r/.git/index.lock'`).
fn locked_path(message: &str) -> Option<PathBuf> {
    message
        .split('\'')
        .skip(1)
        .step_by(2)
        .find(|quoted| quoted.ends_with(".lock"))
        .map(PathBuf::from)
}

/// How long ago a lock file was made, for messages.
fn lock_age(path: &Path) -> String {
    let age = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok());
    match age {
        Some(d) if d.as_secs() < 120 => format!("made {}s ago", d.as_secs()),
        Some(d) if d.as_secs() < 7200 => format!("made {} min ago", d.as_secs() / 60),
        Some(d) => format!("made {} h ago", d.as_secs() / 3600),
        None => "it is gone now: run again".into(),
    }
}

/// The git lock files a release writes through and so could leave behind when it is killed:
/// `index.lock` and `HEAD.lock` of the worktree, `packed-refs.lock`, the lock of the checked-out
/// branch and those of tags. Only the ones that exist. In a linked worktree the first two live
/// in its own git directory, the others in the common one.
pub fn lock_files(repo: &Repository) -> Vec<PathBuf> {
    let own = repo.path();
    let common = repo.commondir();
    let mut candidates = vec![
        own.join("index.lock"),
        own.join("HEAD.lock"),
        common.join("packed-refs.lock"),
    ];
    if let Ok(head) = repo.find_reference("HEAD") {
        if let Ok(Some(branch)) = head.symbolic_target() {
            if branch.starts_with("refs/heads/") {
                candidates.push(common.join(format!("{branch}.lock")));
            }
        }
    }
    let mut tags = Vec::new();
    find_locks(&common.join("refs").join("tags"), &mut tags);
    tags.sort();
    candidates.extend(tags);
    candidates.retain(|p| p.is_file());
    candidates
}

fn find_locks(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            find_locks(&path, out);
        } else if path.extension().is_some_and(|e| e == "lock") {
            out.push(path);
        }
    }
}

/// Remove the git lock files that a killed release run left: those made since `since`, when
/// that run took its own lock (a lock file older than that run is not its own). Each removal is
/// said on stderr. Returns the files still in the way, which belong to some other git process.
pub fn remove_stale_locks(
    repo: &Repository,
    since: std::time::SystemTime,
    pid: u32,
) -> Vec<PathBuf> {
    let mut left = Vec::new();
    for path in lock_files(repo) {
        let made = std::fs::metadata(&path).and_then(|m| m.modified());
        match made {
            Ok(t) if t >= since => match std::fs::remove_file(&path) {
                Ok(()) => eprintln!(
                    "removed {}: a release run that was killed (process {pid}) left it",
                    path.display()
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => left.push(path),
            },
            _ => left.push(path),
        }
    }
    left
}

/// An error naming the first git lock file in the way, if any: checked before the first write,
/// so that a release never stops half-way on a lock it could have seen.
pub fn ensure_unlocked(repo: &Repository) -> Result<(), GitError> {
    match lock_files(repo).into_iter().next() {
        Some(path) => Err(GitError::LockHeld { path }),
        None => Ok(()),
    }
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

/// At most five paths and how many more, for messages.
pub fn summarize_paths(paths: &[String]) -> String {
    let mut shown = paths.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if paths.len() > 5 {
        shown.push_str(&format!(" and {} more", paths.len() - 5));
    }
    shown
}

fn identity_error(e: git2::Error) -> GitError {
    match e.code() {
        ErrorCode::NotFound | ErrorCode::Invalid => GitError::NoIdentity,
        _ => GitError::from(e),
    }
}

/// libgit2 reports a locked index without its path ("the index is locked"): name it.
fn index_error(repo: &Repository, e: git2::Error) -> GitError {
    if e.code() == ErrorCode::Locked && locked_path(e.message()).is_none() {
        return GitError::LockHeld {
            path: repo.path().join("index.lock"),
        };
    }
    GitError::from(e)
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

/// Commit exactly `paths` (as they are in the worktree) on top of HEAD, and stage them. The
/// commit's tree is HEAD's with only these paths changed: whatever else is staged (with
/// `--allow-dirty`) stays staged and out of the release commit. Returns `None` when nothing
/// changed relative to HEAD (nothing to commit).
pub fn commit_paths(
    repo: &Repository,
    paths: &[String],
    message: &str,
    signed: bool,
) -> Result<Option<Oid>, GitError> {
    let in_index = |e| index_error(repo, e);
    let root = workdir(repo)?;
    let parent = repo.head()?.peel_to_commit()?;
    let mut index = repo.index().map_err(in_index)?;
    // The release commit's tree, built apart from the repository's index.
    let mut tree_index = git2::Index::new()?;
    tree_index.read_tree(&parent.tree()?)?;
    for p in paths {
        let path = Path::new(p);
        let full = root.join(p);
        if full.exists() {
            index.add_path(path).map_err(in_index)?;
            let entry = match index.get_path(path, 0) {
                Some(e) => e,
                None => {
                    return Err(GitError::Git(git2::Error::from_str(&format!(
                        "{p} could not be staged"
                    ))))
                }
            };
            tree_index.add(&entry)?;
        } else {
            // A file configured but removed: commit the removal rather than fail.
            let _ = index.remove_path(path);
            let _ = tree_index.remove_path(path);
        }
    }
    index.write().map_err(in_index)?;
    let tree_id = tree_index.write_tree_to(repo)?;
    if parent.tree_id() == tree_id {
        return Ok(None);
    }
    let tree = repo.find_tree(tree_id)?;
    let author = author_signature(repo)?;
    let committer = signature(repo)?;
    if signed {
        let id = sign::commit(&root, tree_id, parent.id(), &author, &committer, message)?;
        // HEAD moves only from the commit the release was built on.
        let head = repo.head()?;
        let branch = head.name()?;
        let log = format!("commit (release): {}", message.lines().next().unwrap_or(""));
        repo.reference_matching(branch, id, true, parent.id(), &log)?;
        return Ok(Some(id));
    }
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
    signed: bool,
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
    let sig = signature(repo)?;
    if signed {
        sign::tag(repo, &workdir(repo)?, name, target, &sig, message)?;
        return Ok(true);
    }
    let object = repo.find_object(target, None)?;
    repo.tag(name, &object, &sig, message, false)?;
    Ok(true)
}

/// A git command-line call that failed.
#[derive(Debug, thiserror::Error)]
#[error("`git {command}` failed: {message}")]
pub struct CliError {
    /// The git subcommand and its arguments.
    pub command: String,
    /// git's own message (credentials redacted).
    pub message: String,
}

/// Network operations go through the git CLI: libgit2 has no atomic push, and the CLI
/// honours the user's credential helpers, SSH config and the credentials actions/checkout
/// leaves behind. Arguments are passed as a list, never through a shell, and git never prompts.
pub fn git_cli(root: &Path, args: &[&str]) -> Result<String, CliError> {
    git_run(root, args, None, &[])
}

/// [`git_cli`] with `stdin` fed to git (else none) and more environment variables.
pub(crate) fn git_run(
    root: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    env: &[(&str, &str)],
) -> Result<String, CliError> {
    let mut command = std::process::Command::new("git");
    command
        .args(args)
        .current_dir(root)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // Once a run stops at step boundaries on Ctrl-C, git must not get the terminal's SIGINT
    // itself: a push in flight finishes, then the run stops.
    #[cfg(unix)]
    if crate::util::signals::catching_signals() {
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
    }
    let cannot = |e: std::io::Error| CliError {
        command: args.join(" "),
        message: format!("cannot run git: {e}"),
    };
    let mut child = command.spawn().map_err(cannot)?;
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // git reads all of a message before it writes much: no deadlock on the pipes. A git
        // that exits early closes the pipe; its exit status then tells what went wrong.
        let _ = std::io::Write::write_all(&mut pipe, data);
    }
    let output = child.wait_with_output().map_err(cannot)?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let message = format!(
        "{}{}",
        stderr.trim(),
        if stdout.trim().is_empty() {
            String::new()
        } else {
            format!("\n{}", stdout.trim())
        }
    );
    Err(CliError {
        command: crate::util::redact::redact(&args.join(" ")).into_owned(),
        message: crate::util::redact::redact(&message).into_owned(),
    })
}

/// The committed text of `rel` at HEAD, if it is a UTF-8 file there.
pub fn committed_text(repo: &Repository, rel: &str) -> Option<String> {
    let tree = repo.head().ok()?.peel_to_tree().ok()?;
    let entry = tree.get_path(Path::new(rel)).ok()?;
    let blob = repo.find_blob(entry.id()).ok()?;
    String::from_utf8(blob.content().to_vec()).ok()
}

/// The tagger (email and name) of the annotated tag `name`; empty for none.
pub fn tagger(repo: &Repository, name: &str) -> Vec<String> {
    let Ok(reference) = repo.find_reference(&format!("refs/tags/{name}")) else {
        return Vec::new();
    };
    let Ok(tag) = reference.peel_to_tag() else {
        return Vec::new();
    };
    tag.tagger()
        .map(|t| {
            [t.email(), t.name()]
                .into_iter()
                .flatten()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// git's `user.email`, when configured.
pub fn user_email(repo: &Repository) -> Option<String> {
    repo.config().ok()?.get_string("user.email").ok()
}

/// The URL of `remote`, with its credentials registered for redaction.
pub fn remote_url(repo: &Repository, remote: &str) -> Result<String, GitError> {
    let r = repo.find_remote(remote)?;
    let url = r.url().map_err(GitError::from)?.to_string();
    crate::util::redact::register_url_credentials(&url);
    Ok(url)
}

/// Fetch `branch` of `remote` into `refs/remotes/<remote>/<branch>`, and its tags. Local tags
/// are never overwritten: a tag that differs from the remote's is an error. A branch the remote
/// does not have yet (a first push) is not an error: only the tags are fetched then.
pub fn fetch(root: &Path, remote: &str, branch: &str) -> Result<(), CliError> {
    // Not `--quiet`: git names a refused ref (a local tag that differs from the remote's) only
    // in that output, and the error must say it. Progress is not shown: stderr is a pipe.
    let tags = "refs/tags/*:refs/tags/*";
    let refspec = format!("+refs/heads/{branch}:refs/remotes/{remote}/{branch}");
    let with_branch = ["fetch", "--no-write-fetch-head", remote, tags, &refspec];
    match git_cli(root, &with_branch) {
        Err(e) if e.message.contains("couldn't find remote ref") => {
            git_cli(root, &["fetch", "--no-write-fetch-head", remote, tags]).map(|_| ())
        }
        other => other.map(|_| ()),
    }
}

/// The commit a tag points at on `remote` (peeled), if the remote has it.
pub fn remote_tag(root: &Path, remote: &str, tag: &str) -> Result<Option<Oid>, CliError> {
    let name = format!("refs/tags/{tag}");
    let peeled = format!("{name}^{{}}");
    let out = git_cli(root, &["ls-remote", "--tags", remote, &name, &peeled])?;
    let mut direct = None;
    for line in out.lines() {
        let mut parts = line.split_whitespace();
        let (Some(id), Some(r)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(id) = Oid::from_str(id) else { continue };
        if r == peeled {
            return Ok(Some(id));
        }
        if r == name {
            direct = Some(id);
        }
    }
    Ok(direct)
}

/// Push `refspecs` to `remote` atomically (`git push --atomic`): all land or none does.
pub fn push_atomic(
    root: &Path,
    remote: &str,
    refspecs: &[String],
    dry_run: bool,
) -> Result<(), CliError> {
    let mut args = vec!["push", "--atomic", "--porcelain"];
    if dry_run {
        args.push("--dry-run");
    }
    args.push(remote);
    args.extend(refspecs.iter().map(String::as_str));
    git_cli(root, &args).map(|_| ())
}

/// Point tag `tag` on `remote` at `to`, provided it is still at `expected` there (absent when
/// `None`), and the local tag too. Only the moving major tag (`v1`) is ever moved: the lease
/// keeps an older release finishing late from moving it back over a newer one.
pub fn move_tag(
    repo: &Repository,
    root: &Path,
    remote: &str,
    tag: &str,
    to: Oid,
    expected: Option<Oid>,
) -> Result<(), CliError> {
    let lease = format!(
        "--force-with-lease=refs/tags/{tag}:{}",
        expected.map(|o| o.to_string()).unwrap_or_default()
    );
    let spec = format!("{to}:refs/tags/{tag}");
    git_cli(root, &["push", "--porcelain", &lease, remote, &spec])?;
    // The local tag follows; the remote's is the one that matters, so a failure here is only
    // worth a warning.
    if let Err(e) = repo.reference(
        &format!("refs/tags/{tag}"),
        to,
        true,
        "release: move the major tag",
    ) {
        tracing::warn!("the local tag {tag} was not moved: {}", e.message());
    }
    Ok(())
}

/// How a local branch relates to its remote-tracking branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracking {
    /// The remote has no such branch yet.
    NoRemote,
    /// Same commit.
    Equal,
    /// Local has commits the remote lacks (they are pushed with the release).
    Ahead(usize),
    /// The remote has commits the local branch lacks.
    Behind(usize),
    /// Both have commits the other lacks.
    Diverged(usize, usize),
}

/// Compare `refs/heads/<branch>` with `refs/remotes/<remote>/<branch>`.
pub fn tracking(repo: &Repository, remote: &str, branch: &str) -> Result<Tracking, GitError> {
    let local = repo.refname_to_id(&format!("refs/heads/{branch}"))?;
    let upstream = match repo.refname_to_id(&format!("refs/remotes/{remote}/{branch}")) {
        Ok(id) => id,
        Err(e) if e.code() == ErrorCode::NotFound => return Ok(Tracking::NoRemote),
        Err(e) => return Err(e.into()),
    };
    let (ahead, behind) = repo.graph_ahead_behind(local, upstream)?;
    Ok(match (ahead, behind) {
        (0, 0) => Tracking::Equal,
        (a, 0) => Tracking::Ahead(a),
        (0, b) => Tracking::Behind(b),
        (a, b) => Tracking::Diverged(a, b),
    })
}

/// The message of an annotated tag (`None` for a lightweight tag).
pub fn tag_message(repo: &Repository, name: &str) -> Result<Option<String>, GitError> {
    let reference = repo.find_reference(&format!("refs/tags/{name}"))?;
    match reference.peel_to_tag() {
        Ok(tag) => Ok(Some(
            String::from_utf8_lossy(tag.message_bytes().unwrap_or_default()).into_owned(),
        )),
        Err(_) => Ok(None),
    }
}

/// Undo a local release that did not land: delete `tag` if it points at HEAD, and move the
/// branch back to `to` when HEAD is the release commit made on top of it.
pub fn undo_local_release(
    repo: &Repository,
    tag: &str,
    release_commit: Oid,
    to: Oid,
) -> Result<(), GitError> {
    if tag_target(repo, tag)? == Some(release_commit) {
        repo.tag_delete(tag)?;
    }
    let head = repo.head()?.peel_to_commit()?;
    if head.id() == release_commit && head.parent_id(0).ok() == Some(to) {
        let target = repo.find_object(to, None)?;
        repo.reset(&target, git2::ResetType::Hard, None)
            .map_err(|e| index_error(repo, e))?;
    }
    Ok(())
}
