//! `release cut` and `release ci` with `[packages]`: the release of every changed package made
//! as `release bump` makes it (one commit, one tag per package), then the branch and every tag
//! of that release commit pushed in one atomic push. A run stopped anywhere is finished by the
//! next: the bump's steps check what is done, and the push sends what the remote lacks.

use serde::Serialize;
use std::path::Path;

use crate::adapters::git::lock::{Lock, LockError};
use crate::adapters::git::{self, history, CliError, GitError, Tracking};
use crate::adapters::templates::{TemplateError, Templates};
use crate::app::bump::{self, BumpError, BumpOptions};
use crate::app::packages::{self, PackagesError, PackagesPlan};
use crate::config::Config;
use crate::core::step::{StepReport, StepState};

/// A release of several packages that cannot be cut.
#[derive(Debug, thiserror::Error)]
pub enum PackagesCutError {
    /// The branch is not a release branch.
    #[error("releases are cut from {} (the `branches` setting), not from `{branch}`", .allowed.join(", "))]
    NotAReleaseBranch {
        /// The current branch.
        branch: String,
        /// The release branches.
        allowed: Vec<String>,
    },
    /// No such remote.
    #[error("no remote `{0}` to push to: add one with `git remote add {0} <url>`")]
    NoRemote(String),
    /// The branch lags behind the remote's.
    #[error("`{branch}` is behind or has diverged from {remote}/{branch}: pull first (`git pull --ff-only`)")]
    Behind {
        /// The branch.
        branch: String,
        /// The remote.
        remote: String,
    },
    /// The plan failed.
    #[error(transparent)]
    Packages(#[from] PackagesError),
    /// The local release failed.
    #[error(transparent)]
    Bump(#[from] BumpError),
    /// A template failed.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// Git failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// History could not be read.
    #[error(transparent)]
    History(#[from] history::HistoryError),
    /// The clone is locked by another run.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The push failed.
    #[error("cannot push to {remote}: {source}; the release is recorded locally, and running the same command again pushes it")]
    Push {
        /// The remote.
        remote: String,
        /// Git's error.
        source: CliError,
    },
    /// The GitHub client could not be made.
    #[error(transparent)]
    Cut(#[from] Box<crate::app::cut::CutError>),
    /// A GitHub call failed.
    #[error("{0}; the release is pushed, and running the same command again creates the missing GitHub releases")]
    Github(#[from] crate::adapters::github::GithubError),
    /// `git fetch` or `git ls-remote` failed.
    #[error(transparent)]
    Cli(#[from] CliError),
}

/// What `cut` or `ci` did with several packages.
#[derive(Debug, Clone, Serialize)]
pub struct PackagesCutReport {
    /// Whether a release was made or finished.
    pub released: bool,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// One sentence.
    pub reason: String,
    /// The tags of the release commit.
    pub tags: Vec<String>,
    /// The GitHub release of each tag, when there are GitHub releases.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub release_urls: Vec<String>,
    /// The plan.
    #[serde(flatten)]
    pub plan: PackagesPlan,
    /// The steps.
    pub steps: Vec<StepReport>,
}

/// Cut the release of every changed package (or `only`), and push it.
#[allow(clippy::too_many_arguments)]
pub async fn cut(
    repo: &git2::Repository,
    root: &Path,
    config: &Config,
    templates_dir: Option<&Path>,
    options: &crate::app::cut::CutOptions,
    only: Option<&str>,
    github: Option<&crate::core::remote::GithubRepo>,
) -> Result<PackagesCutReport, PackagesCutError> {
    let _lock = if options.dry_run {
        None
    } else {
        Some(Lock::acquire(repo)?)
    };
    let branch = git::current_branch(repo)?;
    if config.branch(&branch).is_none() {
        return Err(PackagesCutError::NotAReleaseBranch {
            branch,
            allowed: config.branch_names(),
        });
    }
    let remote_url = git::remote_url(repo, &options.remote)
        .map_err(|_| PackagesCutError::NoRemote(options.remote.clone()))?;
    let client = crate::app::cut::github_client(config, options, &remote_url)
        .await
        .map_err(Box::new)?;
    git::fetch(root, &options.remote, &branch)?;
    if matches!(
        git::tracking(repo, &options.remote, &branch)?,
        Tracking::Behind(_) | Tracking::Diverged(..)
    ) {
        return Err(PackagesCutError::Behind {
            branch,
            remote: options.remote.clone(),
        });
    }
    let plan = packages::gather(repo, config, &options.plan, only)?;
    let bump_options = BumpOptions {
        dry_run: options.dry_run,
        ..BumpOptions::default()
    };
    let mut steps = Vec::new();
    let first = plan.released().next().map(|p| p.plan.clone());
    let released = first.is_some();
    if let Some(first) = first {
        let templates = Templates::load(templates_dir)?;
        let prepared = packages::prepare(
            repo,
            config,
            &plan,
            &templates,
            crate::util::time::now(),
            github,
            &options.environ,
        )?;
        if !options.dry_run {
            crate::util::signals::catch_signals();
        }
        steps = bump::apply(repo, config, &first, &prepared, &bump_options).await?;
        if options.dry_run {
            let tags: Vec<String> = prepared
                .all_tags()
                .iter()
                .map(|(t, _)| t.to_string())
                .collect();
            steps.push(StepReport {
                name: format!(
                    "push {branch} and {} to {} (atomic)",
                    tags.join(", "),
                    options.remote
                ),
                state: StepState::Todo,
            });
            return Ok(PackagesCutReport {
                released: false,
                dry_run: true,
                reason: format!("dry run: would release {}", tags.join(", ")),
                tags,
                release_urls: Vec::new(),
                plan,
                steps,
            });
        }
    }
    // The release commit's tags: made now, or by an earlier run that did not push them.
    let tags = head_release_tags(repo, config)?;
    let mut missing = Vec::new();
    let head = history::head_commit(repo)?;
    for tag in &tags {
        if git::remote_tag(root, &options.remote, tag)? != Some(head) {
            missing.push(tag.clone());
        }
    }
    let tracking = git::tracking(repo, &options.remote, &branch)?;
    let name = format!(
        "push {branch} and {} to {} (atomic)",
        tags.join(", "),
        options.remote
    );
    if tags.is_empty() || (missing.is_empty() && tracking == Tracking::Equal) {
        if !tags.is_empty() {
            steps.push(StepReport {
                name,
                state: StepState::Done,
            });
        }
    } else if options.dry_run {
        steps.push(StepReport {
            name,
            state: StepState::Todo,
        });
    } else {
        let mut refspecs = vec![format!("refs/heads/{branch}:refs/heads/{branch}")];
        refspecs.extend(
            missing
                .iter()
                .map(|t| format!("refs/tags/{t}:refs/tags/{t}")),
        );
        git::push_atomic(root, &options.remote, &refspecs, false).map_err(|source| {
            PackagesCutError::Push {
                remote: options.remote.clone(),
                source,
            }
        })?;
        crate::util::fault::point("push");
        steps.push(StepReport {
            name,
            state: StepState::Applied,
        });
    }
    let mut release_urls = Vec::new();
    if let Some(client) = &client {
        for tag in &tags {
            let name = format!("github release {tag}");
            if options.dry_run {
                steps.push(StepReport {
                    name,
                    state: StepState::Todo,
                });
                continue;
            }
            let (state, release) = match client.release_by_tag(tag).await? {
                Some(r) => (StepState::Done, r),
                None => {
                    let notes = git::tag_message(repo, tag)?.unwrap_or_default();
                    let notes =
                        crate::util::redact::redact(&crate::util::redact::escape_controls(&notes))
                            .into_owned();
                    let prerelease = tag_version(config, tag).is_some_and(|v| !v.pre.is_empty());
                    let new = crate::adapters::github::NewRelease {
                        tag_name: tag.clone(),
                        name: tag.clone(),
                        body: notes,
                        draft: false,
                        prerelease,
                    };
                    (StepState::Applied, client.create_release(&new).await?)
                }
            };
            release_urls.push(release.html_url.clone());
            steps.push(StepReport { name, state });
        }
        if !options.dry_run && !tags.is_empty() {
            crate::util::fault::point("github-release");
        }
    }
    let pushed = steps
        .iter()
        .any(|s| s.state == StepState::Applied && !released);
    let reason = if released || pushed {
        format!("released {}", tags.join(", "))
    } else {
        "no package has anything to release".to_string()
    };
    Ok(PackagesCutReport {
        released: released || pushed,
        dry_run: options.dry_run,
        reason,
        tags,
        release_urls,
        plan,
        steps,
    })
}

/// The version of a package tag, when it is one.
fn tag_version(config: &Config, tag: &str) -> Option<semver::Version> {
    config
        .packages
        .iter()
        .find_map(|(name, p)| history::tag_version(tag, &p.tag_prefix_of(name)))
}

/// The tags HEAD's release commit names that exist on HEAD (none when HEAD is no release
/// commit of packages).
fn head_release_tags(
    repo: &git2::Repository,
    config: &Config,
) -> Result<Vec<String>, PackagesCutError> {
    let head = history::head_commit(repo)?;
    let commit = history::read_commit(repo, head)?;
    if commit.parents > 1 {
        return Ok(Vec::new());
    }
    let header = commit.message.lines().next().unwrap_or_default();
    let mut tags = Vec::new();
    for (name, version) in
        crate::core::packages::released_in(header, &config.commit.message).unwrap_or_default()
    {
        let Some(package) = config.packages.get(&name) else {
            continue;
        };
        let tag = format!("{}{version}", package.tag_prefix_of(&name));
        if git::tag_target(repo, &tag)? == Some(head) {
            tags.push(tag);
        }
    }
    Ok(tags)
}
