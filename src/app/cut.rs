//! `release cut` and `release ci`: plan, guard rails, then idempotent steps — bump, atomic push,
//! GitHub release — each of which checks the real world before acting.
//!
//! Nothing is inferred from a tag alone: when HEAD already carries the release tag (a run that
//! stopped after tagging or pushing, or the release commit itself arriving in CI), the remaining
//! steps still check the remote and GitHub and finish what is missing.

use serde::Serialize;
use std::path::Path;

use crate::adapters::git::history;
use crate::adapters::git::lock::{Lock, LockError};
use crate::adapters::git::sign::Signing;
use crate::adapters::git::{self, Tracking};
use crate::adapters::github::{self, Github, GithubRelease, NewRelease, RepoId};
use crate::adapters::release_assets::{self, AssetError, LocalAsset};
use crate::adapters::templates::Templates;
use crate::app::bump::{self, BumpOptions, BumpRun, BumpStep};
use crate::config::environ::Environ;
use crate::config::Config;
use crate::core::plan::{PlanOptions, ReleasePlan};
use crate::core::release_gate;
use crate::core::remote;
use crate::core::step::{self, Applied, RunOptions, Step, StepReport, StepState};
use crate::util::signals::{catch_signals, Interrupted};

/// Switches of `cut` and `ci`.
#[derive(Debug, Clone)]
pub struct CutOptions {
    /// The remote to push to.
    pub remote: String,
    /// Print the steps, change nothing.
    pub dry_run: bool,
    /// Ask before the first write (a terminal, without `--yes`).
    pub confirm: bool,
    /// Level, version, pre-release.
    pub plan: PlanOptions,
    /// Skip the GitHub release.
    pub no_github: bool,
    /// Skip the deploys to the environments that deploy on cut.
    pub no_deploy: bool,
    /// Run the deployed environments' migrations even where they completed for the version.
    pub rerun_migrations: bool,
    /// Hold a major release until it is approved (`release ci` with
    /// `[bump] major_requires_approval`).
    pub hold_majors: bool,
    /// The environment: GitHub's variables and token, builder and registry settings.
    pub environ: Environ,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CutOutcome {
    /// A release was made or completed by this run.
    Released,
    /// HEAD was already released and everything was in place.
    AlreadyReleased,
    /// No commit asks for a release.
    NothingToRelease,
    /// Another run released the same version first.
    ReleasedByAnotherRun,
    /// Dry run: nothing was changed.
    DryRun,
    /// The user answered no at the prompt.
    Declined,
    /// A major release waits for approval (`[bump] major_requires_approval`).
    PendingApproval,
}

/// What `cut` and `ci` report (`--json`, `$GITHUB_OUTPUT`).
#[derive(Debug, Clone, Serialize)]
pub struct CutReport {
    /// How it ended.
    pub outcome: CutOutcome,
    /// One sentence.
    pub reason: String,
    /// The version released (or that was to be).
    pub version: Option<String>,
    /// Its tag.
    pub tag: Option<String>,
    /// Whether it is a pre-release.
    pub prerelease: bool,
    /// The GitHub release page.
    pub release_url: Option<String>,
    /// The release notes.
    pub notes: Option<String>,
    /// Every step and what happened.
    pub steps: Vec<StepReport>,
    /// The environments the version runs in after this run's deploy steps.
    pub deployed: Vec<String>,
    /// The major release held for approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
}

impl CutReport {
    fn new(outcome: CutOutcome, reason: impl Into<String>) -> CutReport {
        CutReport {
            outcome,
            reason: reason.into(),
            version: None,
            tag: None,
            prerelease: false,
            release_url: None,
            notes: None,
            steps: Vec::new(),
            deployed: Vec::new(),
            pending: None,
        }
    }
}

/// A run that cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum CutError {
    /// The branch is not a release branch.
    #[error("releases are cut from {} (the `branches` setting), not from `{branch}`", .allowed.join(", "))]
    NotAReleaseBranch {
        /// The current branch.
        branch: String,
        /// The release branches.
        allowed: Vec<String>,
    },
    /// `--remote` was given a URL.
    #[error("`--remote` takes the name of a remote, not a URL ({0}): add it with `git remote add <name> <url>`")]
    RemoteIsUrl(String),
    /// No such remote.
    #[error("no remote `{0}` to push to: add one with `git remote add {0} <url>`")]
    NoRemote(String),
    /// The branch lags behind the remote's.
    #[error("`{branch}` is {behind} commit(s) behind {remote}/{branch}: pull first (`git pull --ff-only`)")]
    Behind {
        /// The branch.
        branch: String,
        /// The remote.
        remote: String,
        /// How many commits.
        behind: usize,
    },
    /// The branch and the remote's have diverged.
    #[error("`{branch}` and {remote}/{branch} have diverged ({ahead} local and {behind} remote commit(s)): reconcile them first")]
    Diverged {
        /// The branch.
        branch: String,
        /// The remote.
        remote: String,
        /// Local commits the remote lacks.
        ahead: usize,
        /// Remote commits the branch lacks.
        behind: usize,
    },
    /// The version's tag is on the remote only.
    #[error("tag {tag} already exists on {remote} (at {at}) but not here: fetch it (`git fetch --tags`) and run again")]
    TagOnlyOnRemote {
        /// The tag.
        tag: String,
        /// The remote.
        remote: String,
        /// The short commit it points at.
        at: String,
    },
    /// The dry-run push was refused.
    #[error("cannot push to {remote}: {why}")]
    CannotPush {
        /// The remote.
        remote: String,
        /// What git said.
        why: String,
    },
    /// The GitHub token lacks `contents: write`.
    #[error("the GitHub token cannot push to {0}: it needs contents: write")]
    TokenCannotPush(String),
    /// Uncommitted changes the release would not make.
    #[error("the worktree has uncommitted changes ({0}): commit or stash them first")]
    Dirty(String),
    /// The version's tag on the remote is at another commit.
    #[error("tag {tag} on {remote} points at {at}, not at {wanted}: tags are never moved")]
    TagElsewhere {
        /// The tag.
        tag: String,
        /// The remote.
        remote: String,
        /// The short commit it points at.
        at: String,
        /// The short release commit.
        wanted: String,
    },
    /// The atomic push was refused.
    #[error("the push of {branch} and {tag} was refused, so nothing was published (run again after fixing the cause): {why}")]
    PushRefused {
        /// The branch.
        branch: String,
        /// The tag.
        tag: String,
        /// What git said.
        why: String,
    },
    /// Reading history or planning failed.
    #[error(transparent)]
    Plan(#[from] crate::app::plan::GatherError),
    /// Recording the release failed.
    #[error(transparent)]
    Bump(#[from] bump::BumpError),
    /// Git failed.
    #[error(transparent)]
    Git(#[from] git::GitError),
    /// The git CLI failed.
    #[error(transparent)]
    Cli(#[from] git::CliError),
    /// GitHub failed.
    #[error(transparent)]
    Github(#[from] github::GithubError),
    /// Reading the token from SSM failed.
    #[error(transparent)]
    Ssm(#[from] crate::adapters::aws::ssm::SsmError),
    /// The `[github] assets` cannot be uploaded.
    #[error(transparent)]
    Assets(#[from] AssetError),
    /// The release has an asset of that name with other content.
    #[error("the GitHub release {tag} already has an asset `{name}` with {remote}, but {path} is {local}: release assets are never replaced; delete the asset on GitHub if the new file is the right one, or restore the file that was published")]
    AssetDiffers {
        /// The release tag.
        tag: String,
        /// The asset name.
        name: String,
        /// The digest on GitHub.
        remote: String,
        /// The local file.
        path: String,
        /// Its digest.
        local: String,
    },
    /// Templates failed.
    #[error(transparent)]
    Changelog(#[from] crate::adapters::templates::TemplateError),
    /// Reading history failed.
    #[error(transparent)]
    History(#[from] history::HistoryError),
    /// Building or pushing the image failed.
    #[error("image: {0}")]
    Image(#[from] crate::app::image::PublishError),
    /// The approvals of a major release could not be read or its hold recorded.
    #[error("the major release gate: {0}")]
    Gate(Box<crate::app::rollout::DeployError>),
    /// A deploy step failed; the release itself is published.
    #[error("the release is published, but a deploy failed: {0}")]
    Deploy(Box<crate::app::rollout::DeployError>),
    /// Another run holds the lock, or a git lock file is in the way.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// SIGINT or SIGTERM stopped the run between two steps.
    #[error("{0}: stopped at a step boundary; run the same command again to finish the release")]
    Interrupted(#[from] Interrupted),
}

impl From<crate::app::rollout::DeployError> for CutError {
    fn from(e: crate::app::rollout::DeployError) -> Self {
        CutError::Deploy(Box::new(e))
    }
}

/// Where GitHub releases go, when they do.
struct GithubTarget {
    api: String,
    repo: RepoId,
    token: Option<String>,
}

/// Run the release: `ask` is called once before the first write when confirmation is wanted.
pub async fn cut(
    repo: &git2::Repository,
    root: &Path,
    config: &Config,
    templates_dir: Option<&Path>,
    options: &CutOptions,
    ask: &mut dyn FnMut(&str) -> bool,
) -> Result<CutReport, CutError> {
    // `--remote` may be given a URL, credentials and all: mask them in every message.
    crate::util::redact::register_url_credentials(&options.remote);
    let _lock = Lock::acquire(repo)?;
    // Guard rails, all before anything is written.
    let (branch, remote_url) = match guard_rails(repo, root, config, options)? {
        Guarded::Go { branch, remote_url } => (branch, remote_url),
        Guarded::ReleasedUpstream(report) => return Ok(report),
    };
    let client = github_client(config, options, &remote_url).await?;
    // Found and hashed before the first write: a missing or unsafe asset stops the run here.
    let assets = match &client {
        Some(_) if !config.github.assets.is_empty() => {
            release_assets::resolve(root, &config.github.assets, release_assets::ROOT_SETTING)?
        }
        _ => Vec::new(),
    };
    let head = history::head_commit(repo)?;
    let plan = crate::app::plan::gather(repo, config, &options.plan)?;
    let Some(release) = which_release(repo, config, &plan, head)? else {
        return Ok(CutReport::new(
            CutOutcome::NothingToRelease,
            plan.reason.clone(),
        ));
    };
    let (version, tag) = release.names();
    let mut report = CutReport::new(CutOutcome::Released, String::new());
    report.version = Some(version.clone());
    report.tag = Some(tag.clone());
    report.prerelease = semver::Version::parse(&version).is_ok_and(|v| !v.pre.is_empty());
    if let (Releasing::New { .. }, true) = (&release, options.hold_majors) {
        if let Some(held) =
            hold_major(repo, config, options, &plan, head, &version, &version).await?
        {
            report.outcome = CutOutcome::PendingApproval;
            report.reason = held;
            report.pending = Some(version);
            return Ok(report);
        }
    }

    // The tag on the remote decides between "ours to push" and "someone else's".
    let remote_tag = git::remote_tag(root, &options.remote, &tag)?;
    if let (Releasing::New { .. }, Some(at)) = (&release, remote_tag) {
        return Err(CutError::TagOnlyOnRemote {
            tag,
            remote: options.remote.clone(),
            at: at.to_string()[..7].to_string(),
        });
    }
    let refspecs = vec![format!("refs/heads/{branch}:refs/heads/{branch}")];
    check_push_permission(root, options, &refspecs, client.as_ref()).await?;

    // Prepare the local release (pure computation, nothing written yet).
    let prepared = match &release {
        Releasing::New { .. } => {
            let templates = Templates::load(templates_dir)?;
            let gh = remote::parse_github(&remote_url, options.environ.get("GITHUB_SERVER_URL"));
            let now = crate::util::time::now();
            let model = bump::release_of(repo, &plan, now, gh.as_ref(), config, &options.environ);
            Some(bump::prepare(repo, config, &plan, &templates, &model)?)
        }
        Releasing::Existing { .. } => None,
    };
    if let Some(prepared) = &prepared {
        ensure_clean(repo, prepared)?;
    }

    // The one list of steps that both the dry run and the run go through.
    let pending = match &release {
        Releasing::Existing { tag, .. } => {
            bump::pending_post_bump(repo).is_some_and(|p| &p.tag == tag)
        }
        Releasing::New { .. } => false,
    };
    let bump_options = BumpOptions {
        dry_run: options.dry_run,
        ..BumpOptions::default()
    };
    let steps = cut_steps(
        prepared.as_ref(),
        pending,
        config,
        !assets.is_empty(),
        major_tag(repo, config, &version)?,
        &deploy_environments(config, options),
    );
    if let Some(prepared) = &prepared {
        bump::preflight(repo, prepared, &bump_options)?;
    }
    let mut run = CutRun {
        repo,
        root,
        config,
        options,
        push_name: format!("push {branch} and {tag} to {} (atomic)", options.remote),
        github_name: if client.is_some() {
            format!("github release {tag}")
        } else {
            "github release (no GitHub repository)".to_string()
        },
        branch,
        version,
        tag: tag.clone(),
        before: head,
        remote_tag,
        refspecs,
        client,
        published: None,
        assets,
        bump: prepared.as_ref().map(|prepared| BumpRun {
            repo,
            signing: Signing::of(root, config.git.sign),
            root: root.to_path_buf(),
            config,
            prepared,
            options: &bump_options,
            env: bump::hook_env(&plan, prepared),
        }),
        rollout: None,
        report,
        lost_race: false,
    };

    if options.dry_run {
        run.report.outcome = CutOutcome::DryRun;
        run.report.reason = format!("dry run: would release {tag}");
        let dry = RunOptions {
            dry_run: true,
            ..RunOptions::default()
        };
        run.report.steps = step::run(&steps, &mut run, dry, |_| Ok(())).await?;
        return Ok(run.report);
    }
    if options.confirm
        && !ask(&format!(
            "Release {tag} ({}) and push it to {}?",
            plan_summary(&plan, &release),
            options.remote
        ))
    {
        run.report.outcome = CutOutcome::Declined;
        run.report.reason = "declined at the prompt; nothing was changed".into();
        return Ok(run.report);
    }
    // From the first write on, SIGINT/SIGTERM stop the run between steps, not in one.
    catch_signals();
    let done = step::run(
        &steps,
        &mut run,
        RunOptions::default(),
        CutRun::mark_pending,
    )
    .await?;
    Ok(finish(run, done, &release, &plan))
}

/// The moving major tag this release moves, with `[github] major_tag`.
fn major_tag(
    repo: &git2::Repository,
    config: &Config,
    version: &str,
) -> Result<Option<String>, CutError> {
    if !config.github.major_tag {
        return Ok(None);
    }
    let Ok(version) = semver::Version::parse(version) else {
        return Ok(None);
    };
    let released: Vec<semver::Version> = history::version_tags(repo, &config.tag_prefix)?
        .into_iter()
        .map(|t| t.version)
        .collect();
    Ok(crate::core::version::major_tag(
        &config.tag_prefix,
        &version,
        &released,
    ))
}

/// Point the moving major tag `name` (`v1`, or a package's `api-v1`) on `remote` at
/// `release_commit`, unless it is there already or at a newer release (a run of an older
/// version finishing late): it is never moved back. The move is leased on where the tag was
/// seen, so a run that moved it meanwhile wins.
pub(crate) fn move_major_tag(
    repo: &git2::Repository,
    root: &Path,
    remote: &str,
    name: &str,
    release_commit: git2::Oid,
) -> Result<Applied, CutError> {
    let on_remote = git::remote_tag(root, remote, name)?;
    if on_remote == Some(release_commit) {
        return Ok(StepState::Done.into());
    }
    if let Some(at) = on_remote {
        if repo
            .graph_descendant_of(at, release_commit)
            .unwrap_or(false)
        {
            return Ok(Applied {
                state: StepState::Skipped,
                detail: Some(format!(
                    "{name} stays on {}: it is at a newer release",
                    &at.to_string()[..7]
                )),
                stop: false,
            });
        }
    }
    git::move_tag(repo, root, remote, name, release_commit, on_remote)?;
    Ok(StepState::Applied.into())
}

/// Why major release `version` is held (`None`: it is not a major release, or it is approved),
/// recording the hold in the ledger under `key` unless this is a dry run. `key` names the
/// release in the ledger and the messages: the version for the root, a package's tag
/// (`api-v2.0.0`) for a package.
pub(crate) async fn hold_major(
    repo: &git2::Repository,
    config: &Config,
    options: &CutOptions,
    plan: &ReleasePlan,
    head: git2::Oid,
    version: &str,
    key: &str,
) -> Result<Option<String>, CutError> {
    let current = plan
        .current_version
        .as_deref()
        .and_then(|v| semver::Version::parse(v).ok());
    let Ok(next) = semver::Version::parse(version) else {
        return Ok(None);
    };
    if !release_gate::is_major(current.as_ref(), &next) {
        return Ok(None);
    }
    let gate = |e| CutError::Gate(Box::new(e));
    let rollout = crate::app::rollout::Rollout::open(repo, config, &options.environ).await;
    let blockers = rollout.release_blockers(key).await.map_err(gate)?;
    if blockers.is_empty() {
        return Ok(None);
    }
    if !options.dry_run {
        rollout
            .hold_release(key, &head.to_string(), release_gate::authors(&plan.commits))
            .await
            .map_err(gate)?;
    }
    Ok(Some(format!(
        "major release {key} is held for approval ([bump] major_requires_approval), nothing was changed: {}; then run release ci again, or publish it with `release cut`",
        blockers.join("; ")
    )))
}

/// What the guard rails found: go on, or HEAD was released by another run already.
enum Guarded {
    /// A release branch, level with (or ahead of) the remote's.
    Go {
        /// The branch.
        branch: String,
        /// The remote's URL.
        remote_url: String,
    },
    /// Another run released HEAD meanwhile (the same merge, built twice): not an error.
    ReleasedUpstream(CutReport),
}

/// The checks before anything is written: a release branch, a remote to push to, and a branch
/// neither behind nor diverged from the remote's (fetched first).
fn guard_rails(
    repo: &git2::Repository,
    root: &Path,
    config: &Config,
    options: &CutOptions,
) -> Result<Guarded, CutError> {
    let branch = git::current_branch(repo)?;
    if config.branch(&branch).is_none() {
        return Err(CutError::NotAReleaseBranch {
            branch,
            allowed: config.branch_names(),
        });
    }
    let remote_url = git::remote_url(repo, &options.remote).map_err(|_| {
        if options.remote.contains("://") {
            CutError::RemoteIsUrl(remote::redact_url(&options.remote))
        } else {
            CutError::NoRemote(options.remote.clone())
        }
    })?;
    git::fetch(root, &options.remote, &branch)?;
    match git::tracking(repo, &options.remote, &branch)? {
        Tracking::Behind(n) => {
            let Some(tag) =
                history::released_upstream(repo, &config.tag_prefix, &options.remote, &branch)?
            else {
                return Err(CutError::Behind {
                    branch,
                    remote: options.remote.clone(),
                    behind: n,
                });
            };
            let mut report = CutReport::new(
                CutOutcome::ReleasedByAnotherRun,
                format!(
                    "another run already released HEAD as {} ({}/{branch} is {n} commit(s) ahead with it); nothing to do here",
                    tag.name, options.remote
                ),
            );
            report.prerelease = !tag.version.pre.is_empty();
            report.version = Some(tag.version.to_string());
            report.tag = Some(tag.name);
            Ok(Guarded::ReleasedUpstream(report))
        }
        Tracking::Diverged(a, b) => Err(CutError::Diverged {
            branch,
            remote: options.remote.clone(),
            ahead: a,
            behind: b,
        }),
        Tracking::Equal | Tracking::Ahead(_) | Tracking::NoRemote => {
            Ok(Guarded::Go { branch, remote_url })
        }
    }
}

/// The GitHub client releases go through, when there is a GitHub repository and releases are
/// wanted; a wanted one without a token is an error. octocrab spawns its request buffer onto
/// the current runtime when it is built: this runs inside the CLI's runtime.
pub(crate) async fn github_client(
    config: &Config,
    options: &CutOptions,
    remote_url: &str,
) -> Result<Option<Github>, CutError> {
    if options.no_github || !config.github.release {
        return Ok(None);
    }
    let Some(mut target) = github_target(remote_url, &options.environ) else {
        return Ok(None);
    };
    if target.token.is_none() {
        if let Some(name) = &config.github.token_ssm_parameter {
            let aws = crate::adapters::aws::config().await;
            target.token = Some(crate::adapters::aws::ssm::secret(&aws, name).await?);
        }
    }
    let Some(token) = &target.token else {
        return Err(github::GithubError::NoToken.into());
    };
    Ok(Some(Github::new(
        &target.api,
        token,
        target.repo,
        github::Retry::from_environ(&options.environ),
    )?))
}

/// What to release: a new version, or the version HEAD already carries (to finish it);
/// `None` when there is nothing to release.
fn which_release(
    repo: &git2::Repository,
    config: &Config,
    plan: &ReleasePlan,
    head: git2::Oid,
) -> Result<Option<Releasing>, CutError> {
    if let (Some(version), Some(tag)) = (&plan.next_version, &plan.next_tag) {
        return Ok(Some(Releasing::New {
            version: version.clone(),
            tag: tag.clone(),
        }));
    }
    let tags = history::version_tags(repo, &config.tag_prefix)?;
    Ok(tags
        .iter()
        .find(|t| t.commit == head)
        .map(|t| Releasing::Existing {
            version: t.version.to_string(),
            tag: t.name.clone(),
        }))
}

/// Permission to push, checked before the first write: a dry-run push of the branch, and the
/// GitHub token's `contents: write`.
async fn check_push_permission(
    root: &Path,
    options: &CutOptions,
    refspecs: &[String],
    client: Option<&Github>,
) -> Result<(), CutError> {
    git::push_atomic(root, &options.remote, refspecs, true).map_err(|e| CutError::CannotPush {
        remote: options.remote.clone(),
        why: e.message,
    })?;
    if let Some(client) = client {
        if !client.can_push().await? {
            return Err(CutError::TokenCannotPush(client.repo().to_string()));
        }
    }
    Ok(())
}

/// The environments a cut deploys to: those that deploy on cut, when there is an image.
fn deploy_environments(config: &Config, options: &CutOptions) -> Vec<String> {
    if options.no_deploy || config.image.is_none() {
        return Vec::new();
    }
    config
        .environments
        .iter()
        .filter(|(_, e)| e.deploys_on_cut())
        .map(|(n, _)| n.clone())
        .collect()
}

/// The report of a run that went through its steps.
fn finish(
    run: CutRun<'_>,
    steps: Vec<StepReport>,
    release: &Releasing,
    plan: &ReleasePlan,
) -> CutReport {
    let tag = run.tag;
    let mut report = run.report;
    if run.lost_race {
        let mut lost = CutReport::new(
            CutOutcome::ReleasedByAnotherRun,
            format!("another run released {tag} first; nothing was pushed and the local release commit was undone"),
        );
        lost.version = report.version;
        lost.tag = report.tag;
        return lost;
    }
    report.steps = steps;
    let applied = report.steps.iter().any(|s| s.state == StepState::Applied);
    report.outcome = if applied {
        CutOutcome::Released
    } else {
        CutOutcome::AlreadyReleased
    };
    report.reason = match (release, applied) {
        (_, false) => format!("HEAD is already released as {tag}; every step was already done"),
        (Releasing::Existing { .. }, true) => format!("completed the release of {tag}"),
        (Releasing::New { .. }, true) => format!("released {tag}: {}", plan.reason),
    };
    report
}

/// Whether `tag` is (or, within about two seconds, becomes) visible on `remote`. A push that
/// loses a race can fail on the remote's ref lock while the winner's atomic push is still
/// committing its refs, so an immediate look may not see the winner's tag yet.
fn tag_appears(root: &Path, remote: &str, tag: &str) -> bool {
    for attempt in 0..10 {
        if let Ok(Some(_)) = git::remote_tag(root, remote, tag) {
            return true;
        }
        if attempt < 9 {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    false
}

/// Refuse uncommitted changes that the release would not make itself.
fn ensure_clean(repo: &git2::Repository, prepared: &bump::Prepared) -> Result<(), CutError> {
    let dirty = bump::unexpected_changes(repo, prepared)?;
    if dirty.is_empty() {
        return Ok(());
    }
    Err(CutError::Dirty(git::summarize_paths(&dirty)))
}

/// Which release this run makes: a new one, or the one HEAD already carries (to finish).
enum Releasing {
    New { version: String, tag: String },
    Existing { version: String, tag: String },
}

impl Releasing {
    fn names(&self) -> (String, String) {
        match self {
            Releasing::New { version, tag } | Releasing::Existing { version, tag } => {
                (version.clone(), tag.clone())
            }
        }
    }
}

fn plan_summary(plan: &ReleasePlan, release: &Releasing) -> String {
    match release {
        Releasing::New { .. } => format!(
            "{} -> {}, {} commit(s)",
            plan.current_version.as_deref().unwrap_or("nothing"),
            plan.next_version.as_deref().unwrap_or("?"),
            plan.commits.len()
        ),
        Releasing::Existing { .. } => "finish the release HEAD already carries".into(),
    }
}

/// One step of `cut` and `ci`. [`cut_steps`] makes the one list that the dry run prints and
/// the run carries out, so they cannot drift apart.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CutStep {
    /// A step of the local release ([`bump::steps`]: hooks, files, commit, tag).
    Local(BumpStep),
    /// The `post_bump` hooks of the release HEAD carries, which did not succeed yet.
    PendingPostBump,
    /// Branch and tag, pushed atomically.
    Push,
    /// The GitHub release.
    GithubRelease,
    /// The `[github] assets` and their `SHA256SUMS`, uploaded to the GitHub release.
    GithubAssets,
    /// `[github] major_tag`: the moving tag (`v1`) moved to this release, after its assets
    /// are up, since `@v1` users download them at once.
    MajorTag(String),
    /// The container image (`[image]`).
    Image,
    /// The deploy to one environment that deploys on cut.
    Deploy(String),
}

fn cut_steps(
    prepared: Option<&bump::Prepared>,
    pending: bool,
    config: &Config,
    assets: bool,
    major_tag: Option<String>,
    deploys: &[String],
) -> Vec<CutStep> {
    let mut steps: Vec<CutStep> = prepared
        .map(|p| bump::steps(config, p))
        .unwrap_or_default()
        .into_iter()
        .map(CutStep::Local)
        .collect();
    if pending {
        steps.push(CutStep::PendingPostBump);
    }
    steps.push(CutStep::Push);
    steps.push(CutStep::GithubRelease);
    if assets {
        steps.push(CutStep::GithubAssets);
    }
    steps.extend(major_tag.map(CutStep::MajorTag));
    if config.image.is_some() {
        steps.push(CutStep::Image);
    }
    steps.extend(deploys.iter().cloned().map(CutStep::Deploy));
    steps
}

/// What the steps of `cut` work on, and what they found out for the report.
struct CutRun<'a> {
    repo: &'a git2::Repository,
    root: &'a Path,
    config: &'a Config,
    options: &'a CutOptions,
    branch: String,
    version: String,
    tag: String,
    /// HEAD before the release commit.
    before: git2::Oid,
    /// The release tag on the remote when the run began.
    remote_tag: Option<git2::Oid>,
    /// The branch's refspec.
    refspecs: Vec<String>,
    client: Option<Github>,
    /// The GitHub release, once the step made or found it.
    published: Option<GithubRelease>,
    /// The `[github] assets`, hashed.
    assets: Vec<LocalAsset>,
    /// The local release, when this run makes a new one.
    bump: Option<BumpRun<'a>>,
    /// Opened at the first deploy.
    rollout: Option<crate::app::rollout::Rollout<'a>>,
    push_name: String,
    github_name: String,
    report: CutReport,
    /// Another run released this version first: the rest is not ours to do.
    lost_race: bool,
}

impl CutRun<'_> {
    fn mark_pending(&mut self) -> Result<(), CutError> {
        match &mut self.bump {
            Some(bump) => Ok(bump.mark_pending()?),
            None => Ok(()),
        }
    }

    /// The release commit: HEAD once the local release steps ran.
    fn release_commit(&self) -> Result<git2::Oid, CutError> {
        Ok(history::head_commit(self.repo)?)
    }

    fn version(&self) -> Option<semver::Version> {
        history::tag_version(&self.tag, &self.config.tag_prefix)
    }

    /// Push branch and tag together (the tag may be there already: then the branch).
    async fn push(&mut self) -> Result<Applied, CutError> {
        let (root, remote, tag) = (self.root, self.options.remote.as_str(), self.tag.as_str());
        let release_commit = self.release_commit()?;
        let on_remote = git::remote_tag(root, remote, tag)?;
        match on_remote {
            // The tag was not on the remote when this run began and is there now: another
            // run released this version meanwhile (a race lost before the push, not at it).
            Some(at) if at != release_commit && self.remote_tag.is_none() => self.lose_race(),
            Some(at) if at == release_commit => {
                // Tag already there: the branch may still lag (pushed separately by hand).
                git::push_atomic(root, remote, &self.refspecs, false)?;
                Ok(StepState::Done.into())
            }
            Some(at) => Err(CutError::TagElsewhere {
                tag: tag.to_string(),
                remote: remote.to_string(),
                at: at.to_string()[..7].to_string(),
                wanted: release_commit.to_string()[..7].to_string(),
            }),
            None => {
                let specs = [
                    self.refspecs[0].clone(),
                    format!("refs/tags/{tag}:refs/tags/{tag}"),
                ];
                if let Err(e) = git::push_atomic(root, remote, &specs, false) {
                    // Lost a race? Then the remote has our version now, made by another run.
                    if tag_appears(root, remote, tag) {
                        return self.lose_race();
                    }
                    return Err(CutError::PushRefused {
                        branch: self.branch.clone(),
                        tag: tag.to_string(),
                        why: e.message,
                    });
                }
                Ok(StepState::Applied.into())
            }
        }
    }

    /// Point the major tag at the release commit (see [`move_major_tag`]).
    fn move_major_tag(&mut self, name: &str) -> Result<Applied, CutError> {
        let release_commit = self.release_commit()?;
        move_major_tag(
            self.repo,
            self.root,
            &self.options.remote,
            name,
            release_commit,
        )
    }

    /// Undo the local release of a version another run published first, and stop.
    fn lose_race(&mut self) -> Result<Applied, CutError> {
        if self.bump.is_some() {
            let release_commit = self.release_commit()?;
            git::undo_local_release(self.repo, &self.tag, release_commit, self.before)?;
        }
        self.lost_race = true;
        Ok(Applied {
            state: StepState::Done,
            detail: None,
            stop: true,
        })
    }

    /// The GitHub release, from the tag's own notes (which someone else may have written:
    /// made inert and masked like rendered notes).
    async fn github_release(&mut self) -> Result<Applied, CutError> {
        let notes = match git::tag_message(self.repo, &self.tag)? {
            Some(m) if !m.trim().is_empty() => {
                crate::util::redact::redact(&crate::util::redact::escape_controls(&m)).into_owned()
            }
            _ => self
                .bump
                .as_ref()
                .map(|b| b.prepared.notes.clone())
                .unwrap_or_default(),
        };
        self.report.notes = Some(notes.clone());
        let Some(client) = &self.client else {
            return Ok(StepState::Skipped.into());
        };
        let (state, release) = match client.release_by_tag(&self.tag).await? {
            Some(r) => (StepState::Done, r),
            None => {
                let new = NewRelease {
                    tag_name: self.tag.clone(),
                    name: self.tag.clone(),
                    body: notes,
                    draft: false,
                    prerelease: self.report.prerelease,
                };
                (StepState::Applied, client.create_release(&new).await?)
            }
        };
        self.report.release_url = Some(release.html_url.clone());
        self.published = Some(release);
        Ok(state.into())
    }

    /// Upload the `[github] assets` the release lacks, then `SHA256SUMS`.
    async fn upload_assets(&mut self) -> Result<Applied, CutError> {
        let (Some(client), Some(release)) = (&self.client, &self.published) else {
            return Ok(StepState::Skipped.into());
        };
        upload_assets(
            client,
            release,
            &self.tag,
            &self.assets,
            release_assets::ROOT_SETTING,
        )
        .await
    }
}

/// The name of the step that uploads `assets` to the GitHub release `tag`, as the dry run
/// lists it.
pub(crate) fn assets_step_name(assets: &[LocalAsset], tag: &str) -> String {
    format!(
        "upload {} and SHA256SUMS to the github release {tag} (those not there yet)",
        assets
            .iter()
            .map(|a| a.rel.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// Upload every asset (resolved from `setting`) the GitHub release `tag` lacks, then
/// `SHA256SUMS`. An asset already there with the same digest is skipped; with another digest
/// it is an error; one whose upload was cut off (a kill, a dropped connection) is deleted and
/// uploaded again. The fault point `github-asset` follows each upload.
pub(crate) async fn upload_assets(
    client: &Github,
    release: &GithubRelease,
    tag: &str,
    assets: &[LocalAsset],
    setting: &str,
) -> Result<Applied, CutError> {
    let sums = release_assets::checksums(assets);
    let mut files: Vec<(&str, &str, String)> = assets
        .iter()
        .map(|a| (a.name.as_str(), a.rel.as_str(), a.digest.clone()))
        .collect();
    let sums_digest = crate::util::sha256::digest(&sums);
    files.push((
        crate::config::assets::CHECKSUMS,
        "SHA256SUMS (written by release)",
        sums_digest,
    ));
    let mut on_github = client.assets(release).await?;
    let mut uploaded = 0;
    for (i, (name, path, digest)) in files.iter().enumerate() {
        let mut retried = false;
        loop {
            if let Some(there) = on_github.iter().find(|a| a.name == *name) {
                if there.complete() {
                    let remote = client.asset_digest(there).await?;
                    if &remote == digest {
                        break;
                    }
                    return Err(CutError::AssetDiffers {
                        tag: tag.to_string(),
                        name: name.to_string(),
                        remote,
                        path: path.to_string(),
                        local: digest.clone(),
                    });
                }
                tracing::warn!("asset {name}: an earlier upload was cut off; uploading it again");
                client.delete_asset(there).await?;
            }
            let data = match assets.get(i) {
                Some(asset) => release_assets::read(asset, setting)?,
                None => sums.clone(),
            };
            match client.upload_asset(release, name, data.into()).await? {
                Some(_) => {
                    uploaded += 1;
                    crate::util::fault::point("github-asset");
                    break;
                }
                // Another run uploaded it meanwhile: judge what is there now, once.
                None if !retried => {
                    retried = true;
                    on_github = client.assets(release).await?;
                }
                None => {
                    return Err(github::GithubError::Transport {
                        method: "POST",
                        path: format!("asset {name}"),
                        message: "GitHub keeps answering already_exists for an asset it does not list as uploaded; run again".into(),
                    }
                    .into())
                }
            }
        }
    }
    let total = files.len();
    Ok(Applied {
        state: if uploaded > 0 {
            StepState::Applied
        } else {
            StepState::Done
        },
        detail: Some(format!(
            "upload assets to the github release {tag}: {uploaded} of {total} uploaded, {} already there",
            total - uploaded
        )),
        stop: false,
    })
}

impl<'a> Step<CutRun<'a>> for CutStep {
    type Error = CutError;

    fn name(&self, run: &CutRun<'a>) -> String {
        match self {
            CutStep::Local(step) => match &run.bump {
                Some(bump) => step.name(bump),
                None => String::new(),
            },
            CutStep::PendingPostBump => {
                format!("run post_bump hooks of {} (pending)", run.tag)
            }
            CutStep::Push => run.push_name.clone(),
            CutStep::GithubRelease => run.github_name.clone(),
            CutStep::GithubAssets => assets_step_name(&run.assets, &run.tag),
            CutStep::MajorTag(name) => {
                format!("move {name} to {} on {}", run.tag, run.options.remote)
            }
            CutStep::Image => {
                let repository = run
                    .config
                    .image
                    .as_ref()
                    .map_or("", |i| i.repository.as_str());
                format!(
                    "image {repository}:{} (build and push unless the registry has it)",
                    crate::core::image::version_tag_of(&run.version)
                )
            }
            CutStep::Deploy(env) => {
                let migration = crate::app::rollout::migration_clause(run.config, env);
                format!(
                    "deploy {} to {env} (unless it runs there{migration})",
                    run.version
                )
            }
        }
    }

    fn boundary(&self) -> &'static str {
        match self {
            CutStep::Local(step) => Step::<BumpRun<'_>>::boundary(step),
            CutStep::PendingPostBump => "post-bump-hooks",
            CutStep::Push => "push",
            CutStep::GithubRelease => "github-release",
            CutStep::GithubAssets => "github-assets",
            CutStep::MajorTag(_) => "major-tag",
            CutStep::Image => "image",
            CutStep::Deploy(_) => "deploy",
        }
    }

    fn stopped(&self, signal: Interrupted, run: &CutRun<'a>) -> CutError {
        match (self, &run.bump) {
            (CutStep::Local(step), Some(bump)) => step.stopped(signal, bump).into(),
            _ => CutError::Interrupted(signal),
        }
    }

    fn writes(&self) -> bool {
        match self {
            CutStep::Local(step) => Step::<BumpRun<'_>>::writes(step),
            _ => true,
        }
    }

    async fn check(&self, run: &mut CutRun<'a>) -> Result<Option<StepState>, CutError> {
        Ok(match self {
            CutStep::Local(step) => match &mut run.bump {
                Some(bump) => step.check(bump).await?,
                None => Some(StepState::Done),
            },
            // The tag was on the remote when the run began, with the branch up to date.
            CutStep::Push if run.options.dry_run && run.remote_tag.is_some() => {
                Some(StepState::Done)
            }
            CutStep::GithubRelease if run.client.is_none() && run.options.dry_run => {
                Some(StepState::Skipped)
            }
            // Whether these are done is asked of the remote, the registry and ECS when they
            // run: a dry run does not ask.
            CutStep::PendingPostBump
            | CutStep::Push
            | CutStep::GithubRelease
            | CutStep::GithubAssets
            | CutStep::MajorTag(_)
            | CutStep::Image
            | CutStep::Deploy(_) => None,
        })
    }

    async fn apply(&self, run: &mut CutRun<'a>) -> Result<Applied, CutError> {
        match self {
            CutStep::Local(step) => match &mut run.bump {
                Some(bump) => Ok(step.apply(bump).await?),
                None => Ok(StepState::Done.into()),
            },
            // A release whose post_bump hooks failed is finished by running them.
            CutStep::PendingPostBump => Ok(
                match bump::finish_pending_post_bump(run.repo, run.config, false)? {
                    Some(done) => Applied {
                        state: done.state,
                        detail: Some(done.name),
                        stop: false,
                    },
                    None => StepState::Done.into(),
                },
            ),
            CutStep::Push => run.push().await,
            CutStep::GithubRelease => run.github_release().await,
            CutStep::GithubAssets => run.upload_assets().await,
            CutStep::MajorTag(name) => run.move_major_tag(name),
            // Built and pushed once; a re-run finds the version at the recorded digest.
            CutStep::Image => {
                let Some(version) = run.version() else {
                    return Ok(StepState::Done.into());
                };
                let created = crate::util::time::now();
                let (name, applied) = crate::app::image::cut_step(
                    run.repo,
                    run.root,
                    run.config,
                    &version,
                    created,
                    &run.options.environ,
                )
                .await?;
                Ok(Applied {
                    state: if applied {
                        StepState::Applied
                    } else {
                        StepState::Done
                    },
                    detail: Some(name),
                    stop: false,
                })
            }
            CutStep::Deploy(env) => {
                if run.rollout.is_none() {
                    let mut rollout = crate::app::rollout::Rollout::open(
                        run.repo,
                        run.config,
                        &run.options.environ,
                    )
                    .await;
                    rollout.rerun_migrations = run.options.rerun_migrations;
                    let digest = crate::adapters::image_record::load(run.repo.path(), &run.version)
                        .ok()
                        .flatten()
                        .map(|r| r.digest);
                    rollout.record_release(&run.version, digest).await?;
                    run.rollout = Some(rollout);
                }
                let Some(rollout) = &run.rollout else {
                    return Ok(StepState::Done.into());
                };
                let (name, state) = rollout.deploy_on_cut(env, &run.version).await?;
                if state != StepState::Skipped {
                    run.report.deployed.push(env.clone());
                }
                Ok(Applied {
                    state,
                    detail: Some(name),
                    stop: false,
                })
            }
        }
    }
}

/// The GitHub repository releases go to: `GITHUB_REPOSITORY`, else the remote's URL; the API
/// from `GITHUB_API_URL`; the token from `GITHUB_TOKEN` (or `GH_TOKEN`).
fn github_target(remote_url: &str, environ: &Environ) -> Option<GithubTarget> {
    let repo = environ
        .get("GITHUB_REPOSITORY")
        .and_then(RepoId::parse)
        .or_else(|| {
            remote::parse_github(remote_url, environ.get("GITHUB_SERVER_URL")).map(|g| RepoId {
                owner: g.owner,
                name: g.name,
            })
        })?;
    let api = environ
        .get("GITHUB_API_URL")
        .unwrap_or(github::DEFAULT_API)
        .to_string();
    let token = ["GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .find_map(|k| environ.lookup(k));
    if let Some(t) = &token {
        crate::util::redact::register(t);
    }
    Some(GithubTarget { api, repo, token })
}
