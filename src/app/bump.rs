//! `release bump`: record a planned release locally as idempotent steps.
//!
//! The steps are built from the plan, printed by `--dry-run`, and each one checks the world
//! before acting: a run that stops half-way is completed by running it again, and a step that
//! is already done is reported as such, never repeated.

use serde::Serialize;
use std::path::{Path, PathBuf};

use crate::adapters::git::sign::Signing;
use crate::adapters::git::{self, history, GitError};
use crate::adapters::hooks::{self, HookError};
use crate::adapters::templates::{TemplateError, Templates};
use crate::adapters::version_files::{self, Kind, VersionFileError};
use crate::config::environ::Environ;
use crate::config::Config;
use crate::core::changelog::{self, Release, ReleaseInfo};
use crate::core::plan::ReleasePlan;
use crate::core::remote::GithubRepo;
use crate::core::step::{self, Applied, RunOptions, Step, StepReport, StepState};
use crate::util::safe_path::{self, UnsafePath};
use crate::util::signals::Interrupted;

/// Switches of `release bump`.
#[derive(Debug, Clone, Default)]
pub struct BumpOptions {
    /// Release even with uncommitted changes.
    pub allow_dirty: bool,
    /// Write files but do not commit (implies no tag).
    pub no_commit: bool,
    /// Commit but do not tag.
    pub no_tag: bool,
    /// Print the steps, change nothing.
    pub dry_run: bool,
    /// Run neither `pre_bump` nor `post_bump` hooks (and drop pending `post_bump` hooks).
    pub skip_hooks: bool,
}

/// A bump that cannot be carried out.
#[derive(Debug, thiserror::Error)]
pub enum BumpError {
    /// The plan has no version.
    #[error("{0}")]
    NothingToRelease(String),
    /// Git refused or failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The history cannot be read.
    #[error(transparent)]
    History(#[from] history::HistoryError),
    /// A template failed.
    #[error(transparent)]
    Changelog(#[from] TemplateError),
    /// A version file could not be updated.
    #[error(transparent)]
    VersionFile(#[from] VersionFileError),
    /// A configured path release refuses to read or write.
    #[error(transparent)]
    UnsafePath(#[from] UnsafePath),
    /// A file the release rewrites cannot be read: rewriting it would lose what is there.
    #[error("cannot read {path} ({key}): {reason}; nothing was written")]
    Unreadable {
        /// The file, relative to the worktree.
        path: String,
        /// The configuration key naming it.
        key: String,
        /// What went wrong, and what to do.
        reason: String,
    },
    /// A release commit whose tag is missing: releasing again would repeat it.
    #[error("{0}")]
    UntaggedRelease(String),
    /// A hook failed; for `pre_bump` nothing was written.
    #[error("{source}{}", if *untouched { "; nothing was written" } else { "; the release is recorded, and the next run retries its post_bump hooks (or drops them with `release bump --skip-hooks`)" })]
    Hook {
        /// The hook failure.
        source: HookError,
        /// Whether it failed before any write.
        untouched: bool,
    },
    /// SIGINT or SIGTERM stopped the run between two steps.
    #[error("{signal} before step `{next}`: run the same command again to finish the release")]
    Interrupted {
        /// The signal.
        signal: crate::util::signals::Interrupted,
        /// The step that did not start.
        next: String,
    },
    /// The record of pending `post_bump` hooks cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Pending {
        /// The record.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One file the release rewrites.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FileChange {
    /// Path relative to the repository root.
    pub path: String,
    /// The new content.
    #[serde(skip)]
    pub content: String,
    /// Whether the file on disk differs from `content`.
    pub changed: bool,
}

/// Everything a bump writes, computed before anything is written.
#[derive(Debug, Clone, Serialize)]
pub struct Prepared {
    /// The version.
    pub version: String,
    /// The tag.
    pub tag: String,
    /// The release commit message.
    pub commit_message: String,
    /// The rendered release notes (tag message).
    pub notes: String,
    /// The files to write.
    pub files: Vec<FileChange>,
    /// HEAD, when it is this release's commit left untagged by an earlier run: the release is
    /// finished by tagging it, and nothing is written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_commit: Option<String>,
    /// The other tags of the same release commit, when it releases several packages.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub more_tags: Vec<MoreTag>,
}

/// One more tag on the release commit (another package's).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MoreTag {
    /// The tag.
    pub tag: String,
    /// The package's version.
    pub version: String,
    /// Its release notes (the tag message).
    #[serde(skip)]
    pub notes: String,
}

impl Prepared {
    /// Every tag the release creates, with its message: the first, then [`Prepared::more_tags`].
    pub fn all_tags(&self) -> Vec<(&str, &str)> {
        std::iter::once((self.tag.as_str(), self.notes.as_str()))
            .chain(
                self.more_tags
                    .iter()
                    .map(|t| (t.tag.as_str(), t.notes.as_str())),
            )
            .collect()
    }
}

/// The template model of the release a plan describes. With contributors listed, their GitHub
/// logins and first contributions are looked up ([`crate::app::authors`]; a failed lookup
/// leaves names, never an error).
pub fn release_of(
    repo: &git2::Repository,
    plan: &ReleasePlan,
    time: i64,
    github: Option<&GithubRepo>,
    config: &Config,
    environ: &Environ,
) -> Release {
    let authors = config.changelog.contributors.then(|| {
        crate::app::authors::authors(
            repo,
            &plan.commits,
            plan.current_tag.as_deref(),
            github,
            environ,
        )
    });
    let info = ReleaseInfo {
        version: plan.next_version.clone(),
        tag: plan.next_tag.clone(),
        previous_tag: plan.current_tag.clone(),
        time,
        github,
        authors: authors.as_ref(),
    };
    changelog::release_model(&plan.commits, &info, &config.changelog)
}

/// Compute every write of the release, reading nothing but regular files inside the worktree
/// (see [`crate::util::safe_path`]) and refusing a release commit left without its tag.
pub fn prepare(
    repo: &git2::Repository,
    config: &Config,
    plan: &ReleasePlan,
    templates: &Templates,
    release: &Release,
) -> Result<Prepared, BumpError> {
    prepare_release(repo, config, plan, templates, release, true)
}

/// [`prepare`], with the look for an untagged release commit left to the caller when
/// `unfinished` is false (a package of `[packages]`, whose release commits name several
/// packages).
pub fn prepare_release(
    repo: &git2::Repository,
    config: &Config,
    plan: &ReleasePlan,
    templates: &Templates,
    release: &Release,
    unfinished: bool,
) -> Result<Prepared, BumpError> {
    let (Some(version), Some(tag)) = (plan.next_version.clone(), plan.next_tag.clone()) else {
        return Err(BumpError::NothingToRelease(plan.reason.clone()));
    };
    let root = git::workdir(repo)?;
    let release_commit = if unfinished {
        unfinished_release(repo, config, plan, &version, &tag)?
    } else {
        None
    };
    let notes = templates.notes(release)?;
    let commit_message = config.commit.message.replace("{version}", &version);
    if let Some(id) = release_commit {
        return Ok(Prepared {
            commit_message,
            notes,
            version,
            tag,
            files: Vec::new(),
            release_commit: Some(id.to_string()),
            more_tags: Vec::new(),
        });
    }

    let read = |rel: &str, key: &str| read_text(&root, rel, key);
    let mut files = Vec::new();
    let mut push = |path: String, content: String, current: Option<&str>| {
        let changed = current != Some(content.as_str());
        if !files.iter().any(|f: &FileChange| f.path == path) {
            files.push(FileChange {
                path,
                content,
                changed,
            });
        }
    };
    // Empty for a package of `[packages]`, which has no plain version file of its own.
    if !config.version_file.is_empty() {
        let current = read(&config.version_file, "version_file")?;
        push(
            config.version_file.clone(),
            format!("{version}\n"),
            current.as_deref(),
        );
    }
    for vf in &config.version_files {
        let kind = Kind::from_path(&vf.path, vf.regex.as_deref());
        let current =
            read(&vf.path, "version_files")?.ok_or_else(|| VersionFileError::NoVersion {
                path: root.join(&vf.path),
                message: "the configured version file does not exist".into(),
            })?;
        let content = version_files::rewrite(&kind, &current, &version).map_err(|message| {
            VersionFileError::NoVersion {
                path: root.join(&vf.path),
                message,
            }
        })?;
        if kind == Kind::CargoToml {
            let lock_path = Path::new(&vf.path)
                .with_file_name("Cargo.lock")
                .to_string_lossy()
                .into_owned();
            if let Some(name) = version_files::cargo_package_name(&current) {
                let lock = read(
                    &lock_path,
                    "version_files, the Cargo.lock beside a Cargo.toml",
                )?;
                if let Some(lock) = lock {
                    if let Ok(updated) =
                        version_files::rewrite(&Kind::CargoLock(name), &lock, &version)
                    {
                        push(lock_path, updated, Some(&lock));
                    }
                }
            }
        }
        push(vf.path.clone(), content, Some(&current));
    }

    let path = &config.changelog.path;
    let section = templates.changelog(std::slice::from_ref(release))?;
    let (content, existing) = merged_changelog(repo, &root, path, "changelog.path", |text| {
        changelog::merge_release(text, &section, &version)
    })?;
    push(path.clone(), content, existing.as_deref());
    Ok(Prepared {
        commit_message,
        notes,
        version,
        tag,
        files,
        release_commit: None,
        more_tags: Vec::new(),
    })
}

/// The changelog `path` (`key` names its setting) with a section merged in by `merge`, and its
/// text now (`None`: no file yet). The section is merged into the committed file first: a run
/// that stopped after writing the file left exactly that, which must count as done, not get a
/// second section.
pub(crate) fn merged_changelog(
    repo: &git2::Repository,
    root: &Path,
    path: &str,
    key: &str,
    merge: impl Fn(Option<&str>) -> Option<String>,
) -> Result<(String, Option<String>), BumpError> {
    let existing = read_text(root, path, key)?;
    let from_head = git::committed_text(repo, path)
        .and_then(|text| merge(Some(&text)))
        .filter(|merged| existing.as_deref() == Some(merged.as_str()));
    let content = match from_head {
        Some(merged) => merged,
        None => merge(existing.as_deref()).unwrap_or_else(|| existing.clone().unwrap_or_default()),
    };
    Ok((content, existing))
}

/// The text of `rel`, a file the release rewrites (`None`: it does not exist). Anything but a
/// regular UTF-8 file inside the worktree is an error naming the file and `key`: rewriting
/// what could not be read would lose it.
pub(crate) fn read_text(root: &Path, rel: &str, key: &str) -> Result<Option<String>, BumpError> {
    let path = safe_path::check(root, rel, key)?;
    let unreadable = |reason: String| BumpError::Unreadable {
        path: rel.to_string(),
        key: key.to_string(),
        reason,
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e.to_string())),
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Some(text)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(unreadable(format!(
                "it is not UTF-8 (line {line}, byte {at}); convert it to UTF-8 (e.g. `iconv -f latin1 -t utf-8`) and commit it"
            )))
        }
    }
}

/// A release commit since the last release tag whose tag does not exist. HEAD when it is this
/// very release (an earlier run stopped before tagging: tagging it finishes the release);
/// any other one is refused with the command that tags it, since releasing on top of it would
/// repeat its version or leave it unreleased. Only commits since the last release are read.
fn unfinished_release(
    repo: &git2::Repository,
    config: &Config,
    plan: &ReleasePlan,
    version: &str,
    tag: &str,
) -> Result<Option<git2::Oid>, BumpError> {
    let Some(pattern) = crate::core::plan::release_header_pattern(&config.commit.message) else {
        return Ok(None);
    };
    let prefix = tag.strip_suffix(version).unwrap_or(&config.tag_prefix);
    let head = history::head_commit(repo)?;
    let since = match &plan.current_tag {
        Some(current) => git::tag_target(repo, current)?,
        None => None,
    };
    let mut after = 0usize;
    // Ids named by the reverts seen so far (newer than the commit at hand): a reverted release
    // commit was abandoned, not left unfinished.
    let mut reverted: Vec<String> = Vec::new();
    for commit in history::commits_since(repo, head, since)? {
        let id = history::oid(commit.id);
        let message = commit.message.as_str();
        if let Some(target) = crate::core::commit::reverted_commit(message) {
            reverted.push(target.to_ascii_lowercase());
        }
        let header = message.lines().next().unwrap_or_default().trim_end();
        let full_id = id.to_string();
        let found =
            if commit.parents > 1 || reverted.iter().any(|r| full_id.starts_with(r.as_str())) {
                None
            } else {
                pattern
                    .captures(header)
                    .and_then(|c| c.get(1))
                    .map(|m| m.as_str().to_string())
            };
        let Some(released) = found else {
            after += 1;
            continue;
        };
        let its_tag = format!("{prefix}{released}");
        if git::tag_target(repo, &its_tag)?.is_some() {
            after += 1;
            continue;
        }
        if id == head && released == version {
            return Ok(Some(id));
        }
        let short = crate::core::plan::short(&id.to_string());
        let why = if id == head {
            format!("HEAD is the release commit {short} (\"{header}\") of {released}, which has no tag {its_tag}, but this run would release {version}")
        } else {
            format!("the release commit {short} (\"{header}\") has no tag {its_tag}, and {after} commit(s) came after it, so releasing now would tag the wrong commit")
        };
        return Err(BumpError::UntaggedRelease(format!(
            "{why}: finish that release with `git tag -a {its_tag} {id} -m \"{its_tag}\"` and run release again (or, if that release was abandoned, `git revert {id}`); nothing was written"
        )));
    }
    Ok(None)
}

/// The paths a bump rewrites.
pub fn managed_paths(prepared: &Prepared) -> Vec<String> {
    prepared.files.iter().map(|f| f.path.clone()).collect()
}

/// Uncommitted changes to tracked files that the release would not make itself. A file the
/// release rewrites may differ from HEAD only by exactly what this release writes into it (what
/// a run that stopped after writing it left), so such a run can be completed; any other edit,
/// say to CHANGELOG.md by hand, would slip into the release commit unseen.
pub fn unexpected_changes(
    repo: &git2::Repository,
    prepared: &Prepared,
) -> Result<Vec<String>, GitError> {
    Ok(git::dirty_paths(repo, &[])?
        .into_iter()
        .filter(|d| !prepared.files.iter().any(|f| &f.path == d && !f.changed))
        .collect())
}

/// One step of a local release. [`steps`] lists them in the order they run, and both the dry
/// run and the run go through that one list ([`step::run`]): what `--dry-run` prints is what a
/// run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BumpStep {
    /// The `pre_bump` hooks, before any write: their failure leaves everything untouched.
    PreBumpHooks,
    /// Write one file of [`Prepared::files`] (its index).
    Write(usize),
    /// The release commit.
    Commit,
    /// The annotated tag on it.
    Tag,
    /// The `post_bump` hooks, after the tag. Pending until they succeed: a later run retries.
    PostBumpHooks,
}

/// The steps of a local release, in order.
pub fn steps(config: &Config, prepared: &Prepared) -> Vec<BumpStep> {
    let mut steps = Vec::new();
    if !config.hooks.pre_bump.is_empty() {
        steps.push(BumpStep::PreBumpHooks);
    }
    steps.extend((0..prepared.files.len()).map(BumpStep::Write));
    steps.push(BumpStep::Commit);
    steps.push(BumpStep::Tag);
    if !config.hooks.post_bump.is_empty() {
        steps.push(BumpStep::PostBumpHooks);
    }
    steps
}

/// What the steps of a local release work on.
pub struct BumpRun<'a> {
    /// The repository.
    pub repo: &'a git2::Repository,
    /// Its worktree.
    pub root: PathBuf,
    /// The configuration.
    pub config: &'a Config,
    /// What the release writes.
    pub prepared: &'a Prepared,
    /// The switches.
    pub options: &'a BumpOptions,
    /// The hooks' environment.
    pub env: Vec<(&'static str, String)>,
    /// Whether the commit and the tag are signed.
    pub signing: Signing,
}

impl BumpRun<'_> {
    /// Recorded before the first write: from then on the release is not finished until its
    /// post_bump hooks have run, whenever this run stops.
    pub fn mark_pending(&mut self) -> Result<(), BumpError> {
        if !self.options.skip_hooks && !self.config.hooks.post_bump.is_empty() {
            set_pending(
                self.repo,
                &PendingPostBump {
                    tag: self.prepared.tag.clone(),
                    env: self
                        .env
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.clone()))
                        .collect(),
                },
            )?;
        }
        Ok(())
    }

    fn head(&self) -> Result<git2::Oid, BumpError> {
        Ok(history::head_commit(self.repo)?)
    }
}

impl Step<BumpRun<'_>> for BumpStep {
    type Error = BumpError;

    fn name(&self, run: &BumpRun<'_>) -> String {
        let (config, prepared) = (run.config, run.prepared);
        match *self {
            BumpStep::PreBumpHooks => {
                format!("run pre_bump hooks ({})", config.hooks.pre_bump.len())
            }
            BumpStep::Write(i) => match prepared.files.get(i) {
                Some(f) => format!("write {}", f.path),
                None => "write".into(),
            },
            BumpStep::Commit if run.signing.commit => format!(
                "commit \"{}\" (signed, {})",
                prepared.commit_message, run.signing.format
            ),
            BumpStep::Commit => format!("commit \"{}\"", prepared.commit_message),
            BumpStep::Tag => {
                let names: Vec<&str> = prepared.all_tags().iter().map(|(t, _)| *t).collect();
                if run.signing.tag {
                    format!(
                        "tag {} (annotated, signed, {})",
                        names.join(", "),
                        run.signing.format
                    )
                } else {
                    format!("tag {} (annotated)", names.join(", "))
                }
            }
            BumpStep::PostBumpHooks => {
                format!("run post_bump hooks ({})", config.hooks.post_bump.len())
            }
        }
    }

    fn boundary(&self) -> &'static str {
        match self {
            BumpStep::PreBumpHooks => "pre-bump-hooks",
            BumpStep::Write(_) => "write-files",
            BumpStep::Commit => "commit",
            BumpStep::Tag => "tag",
            BumpStep::PostBumpHooks => "post-bump-hooks",
        }
    }

    fn stopped(&self, signal: Interrupted, run: &BumpRun<'_>) -> BumpError {
        BumpError::Interrupted {
            signal,
            next: self.name(run),
        }
    }

    fn writes(&self) -> bool {
        *self != BumpStep::PreBumpHooks
    }

    async fn check(&self, run: &mut BumpRun<'_>) -> Result<Option<StepState>, BumpError> {
        let options = run.options;
        Ok(match *self {
            BumpStep::PreBumpHooks => options.skip_hooks.then_some(StepState::Skipped),
            BumpStep::Write(i) => match run.prepared.files.get(i) {
                Some(f) if f.changed => None,
                _ => Some(StepState::Done),
            },
            BumpStep::Commit if options.no_commit => Some(StepState::Skipped),
            BumpStep::Commit => run
                .prepared
                .release_commit
                .is_some()
                .then_some(StepState::Done),
            BumpStep::Tag if options.no_tag || options.no_commit => Some(StepState::Skipped),
            BumpStep::Tag => {
                let head = run.head()?;
                let mut done = true;
                for (tag, _) in run.prepared.all_tags() {
                    match git::tag_target(run.repo, tag)? {
                        Some(at) if at == head => {}
                        Some(at) => {
                            return Err(GitError::TagElsewhere {
                                name: tag.to_string(),
                                existing: at.to_string(),
                                wanted: head.to_string(),
                            }
                            .into())
                        }
                        None => done = false,
                    }
                }
                done.then_some(StepState::Done)
            }
            BumpStep::PostBumpHooks if options.skip_hooks => {
                // Skipped on purpose: no earlier run's pending mark asks for them any more.
                if !options.dry_run {
                    clear_pending(run.repo);
                }
                Some(StepState::Skipped)
            }
            BumpStep::PostBumpHooks => None,
        })
    }

    async fn apply(&self, run: &mut BumpRun<'_>) -> Result<Applied, BumpError> {
        let state = match *self {
            BumpStep::PreBumpHooks => {
                hooks::run_stage("pre_bump", &run.config.hooks.pre_bump, &run.root, &run.env)
                    .map_err(|source| BumpError::Hook {
                        source,
                        untouched: true,
                    })?;
                StepState::Applied
            }
            BumpStep::Write(i) => {
                if let Some(f) = run.prepared.files.get(i) {
                    version_files::write_atomic(&run.root.join(&f.path), &f.content)?;
                }
                StepState::Applied
            }
            BumpStep::Commit => {
                match git::commit_paths(
                    run.repo,
                    &managed_paths(run.prepared),
                    &run.prepared.commit_message,
                    run.signing.commit,
                )? {
                    Some(_) => StepState::Applied,
                    None => StepState::Done,
                }
            }
            BumpStep::Tag => {
                let head = run.head()?;
                // create_tag leaves a tag already on HEAD alone: a run stopped between two
                // tags goes on with the next.
                for (tag, notes) in run.prepared.all_tags() {
                    git::create_tag(run.repo, tag, head, notes, run.signing.tag)?;
                }
                StepState::Applied
            }
            BumpStep::PostBumpHooks => {
                run_post_bump(run.repo, run.config, &run.root, &run.env)?;
                StepState::Applied
            }
        };
        Ok(state.into())
    }
}

/// Check what the release needs (a branch, an identity, a clean worktree) before any step.
pub fn preflight(
    repo: &git2::Repository,
    prepared: &Prepared,
    options: &BumpOptions,
) -> Result<(), BumpError> {
    git::workdir(repo)?;
    git::current_branch(repo)?;
    if !options.dry_run && !options.no_commit {
        // Fail before the first write, not at the commit after the files were rewritten.
        git::signature(repo)?;
        git::author_signature(repo)?;
    }
    if !options.allow_dirty {
        let dirty = unexpected_changes(repo, prepared)?;
        if !dirty.is_empty() {
            return Err(GitError::Dirty(git::summarize_paths(&dirty)).into());
        }
    }
    Ok(())
}

/// Carry out the release, step by step (or, with `dry_run`, say what each step would do).
/// Between steps a SIGINT or SIGTERM stops the run ([`crate::util::signals::catch_signals`]).
pub async fn apply(
    repo: &git2::Repository,
    config: &Config,
    plan: &ReleasePlan,
    prepared: &Prepared,
    options: &BumpOptions,
) -> Result<Vec<StepReport>, BumpError> {
    preflight(repo, prepared, options)?;
    let root = git::workdir(repo)?;
    let mut run = BumpRun {
        repo,
        signing: Signing::of(&root, config.git.sign),
        root,
        config,
        prepared,
        options,
        env: hook_env(plan, prepared),
    };
    let run_options = RunOptions {
        dry_run: options.dry_run,
        ..RunOptions::default()
    };
    step::run(
        &steps(config, prepared),
        &mut run,
        run_options,
        BumpRun::mark_pending,
    )
    .await
}

/// Run the `post_bump` hooks, and clear the pending mark once they succeeded.
fn run_post_bump<K: AsRef<str>>(
    repo: &git2::Repository,
    config: &Config,
    root: &Path,
    env: &[(K, String)],
) -> Result<(), BumpError> {
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_ref(), v.clone())).collect();
    hooks::run_stage("post_bump", &config.hooks.post_bump, root, &env).map_err(|source| {
        BumpError::Hook {
            source,
            untouched: false,
        }
    })?;
    clear_pending(repo);
    Ok(())
}

/// The `post_bump` hooks of a release that have not succeeded yet, kept in
/// `.git/release-agent/post_bump-pending.json` from the first write of the release until they
/// succeed: a release whose hooks failed, or that was killed, is not finished.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct PendingPostBump {
    /// The release's tag.
    pub tag: String,
    /// The environment the hooks get, as the release run computed it.
    pub env: Vec<(String, String)>,
}

fn pending_path(repo: &git2::Repository) -> std::path::PathBuf {
    repo.commondir()
        .join("release-agent")
        .join("post_bump-pending.json")
}

/// The pending `post_bump` hooks, if any. An unreadable record counts as none, with a warning.
pub fn pending_post_bump(repo: &git2::Repository) -> Option<PendingPostBump> {
    let path = pending_path(repo);
    let text = std::fs::read_to_string(&path).ok()?;
    match serde_json::from_str(&text) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!("ignoring {}: {e}", path.display());
            None
        }
    }
}

fn set_pending(repo: &git2::Repository, pending: &PendingPostBump) -> Result<(), BumpError> {
    let path = pending_path(repo);
    let text = serde_json::to_string_pretty(pending).unwrap_or_default();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| BumpError::Pending {
            path: path.clone(),
            source,
        })?;
    }
    version_files::write_atomic(&path, &text)?;
    Ok(())
}

fn clear_pending(repo: &git2::Repository) {
    let _ = std::fs::remove_file(pending_path(repo));
}

/// Finish a release whose `post_bump` hooks did not succeed: when HEAD carries the pending
/// tag, run them now (or, with `skip`, drop them). `None` when nothing is pending for HEAD.
/// A pending record for a tag that no longer exists (the release was undone) is dropped.
pub fn finish_pending_post_bump(
    repo: &git2::Repository,
    config: &Config,
    skip: bool,
) -> Result<Option<StepReport>, BumpError> {
    let Some(pending) = pending_post_bump(repo) else {
        return Ok(None);
    };
    let head = history::head_commit(repo)?;
    match git::tag_target(repo, &pending.tag)? {
        Some(at) if at == head => {}
        Some(_) => {
            eprintln!(
                "warning: the post_bump hooks of {} never succeeded, and HEAD has moved on from it: they are not run now (see {})",
                pending.tag,
                pending_path(repo).display()
            );
            return Ok(None);
        }
        None => {
            clear_pending(repo);
            return Ok(None);
        }
    }
    let name = format!(
        "run post_bump hooks of {} ({}, pending)",
        pending.tag,
        config.hooks.post_bump.len()
    );
    if skip || config.hooks.post_bump.is_empty() {
        clear_pending(repo);
        return Ok(Some(StepReport {
            name,
            state: StepState::Skipped,
        }));
    }
    run_post_bump(repo, config, &git::workdir(repo)?, &pending.env)?;
    Ok(Some(StepReport {
        name,
        state: StepState::Applied,
    }))
}

/// Environment handed to lifecycle hooks: values as variables, never spliced into a command.
pub fn hook_env(plan: &ReleasePlan, prepared: &Prepared) -> Vec<(&'static str, String)> {
    vec![
        ("RELEASE_VERSION", prepared.version.clone()),
        ("RELEASE_TAG", prepared.tag.clone()),
        (
            "RELEASE_PREVIOUS_VERSION",
            plan.current_version.clone().unwrap_or_default(),
        ),
        (
            "RELEASE_PREVIOUS_TAG",
            plan.current_tag.clone().unwrap_or_default(),
        ),
        ("RELEASE_BUMP", plan.bump.as_str().to_string()),
    ]
}
