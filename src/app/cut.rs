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
use crate::adapters::git::{self, Tracking};
use crate::adapters::github::{self, Github, NewRelease, RepoId};
use crate::adapters::templates::Templates;
use crate::app::bump::{self, BumpOptions, StepReport, StepState};
use crate::config::Config;
use crate::core::plan::{PlanOptions, ReleasePlan};
use crate::core::remote;
use crate::util::fault;
use crate::util::signals::{catch_signals, check_interrupt, Interrupted};

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
}

/// How a run ended.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
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
}

/// What `cut` and `ci` report (`--json`, `$GITHUB_OUTPUT`).
#[derive(Debug, Clone, Serialize)]
pub struct CutReport {
    /// How it ended.
    pub outcome: Outcome,
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
}

impl CutReport {
    fn new(outcome: Outcome, reason: impl Into<String>) -> CutReport {
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
        }
    }
}

/// A run that cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum CutError {
    /// A guard rail refused.
    #[error("{0}")]
    Refused(String),
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
    /// Templates failed.
    #[error(transparent)]
    Changelog(#[from] crate::adapters::templates::TemplateError),
    /// Reading history failed.
    #[error(transparent)]
    History(#[from] history::HistoryError),
    /// Building or pushing the image failed.
    #[error("image: {0}")]
    Image(#[from] crate::app::image::PublishError),
    /// A deploy step failed; the release itself is published.
    #[error("the release is published, but a deploy failed: {0}")]
    Deploy(Box<crate::app::rollout::DeployError>),
    /// Another run holds the lock, or a git lock file is in the way.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// SIGINT or SIGTERM stopped the run between two steps.
    #[error("{0}: stopped at a step boundary; run the same command again to finish the release")]
    Interrupted(#[from] Interrupted),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
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
pub fn cut(
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
    let branch = git::current_branch(repo)?;
    if !config.branches.iter().any(|b| b == &branch) {
        return Err(CutError::Refused(format!(
            "releases are cut from {} (the `branches` setting), not from `{branch}`",
            config.branches.join(", ")
        )));
    }
    let remote_url = git::remote_url(repo, &options.remote).map_err(|_| {
        if options.remote.contains("://") {
            CutError::Refused(format!(
                "`--remote` takes the name of a remote, not a URL ({}): add it with `git remote add <name> <url>`",
                remote::redact_url(&options.remote)
            ))
        } else {
            CutError::Refused(format!(
                "no remote `{}` to push to: add one with `git remote add {} <url>`",
                options.remote, options.remote
            ))
        }
    })?;
    git::fetch(root, &options.remote, &branch)?;
    match git::tracking(repo, &options.remote, &branch)? {
        Tracking::Behind(n) => {
            // Another run released HEAD meanwhile (the same merge, built twice): not an error.
            if let Some(tag) = released_upstream(repo, config, &options.remote, &branch)? {
                let mut report = CutReport::new(
                    Outcome::ReleasedByAnotherRun,
                    format!(
                        "another run already released HEAD as {} ({}/{branch} is {n} commit(s) ahead with it); nothing to do here",
                        tag.name, options.remote
                    ),
                );
                report.prerelease = !tag.version.pre.is_empty();
                report.version = Some(tag.version.to_string());
                report.tag = Some(tag.name);
                return Ok(report);
            }
            return Err(CutError::Refused(format!(
                "`{branch}` is {n} commit(s) behind {}/{branch}: pull first (`git pull --ff-only`)",
                options.remote
            )))
        }
        Tracking::Diverged(a, b) => {
            return Err(CutError::Refused(format!(
                "`{branch}` and {}/{branch} have diverged ({a} local and {b} remote commit(s)): reconcile them first",
                options.remote
            )))
        }
        Tracking::Equal | Tracking::Ahead(_) | Tracking::NoRemote => {}
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CutError::Runtime)?;
    // octocrab's client spawns its request buffer onto the current runtime when it is built,
    // so it must be built inside the runtime (outside, the process panics: "no reactor running").
    let _entered = rt.enter();
    let mut github = if options.no_github || !config.github.release {
        None
    } else {
        github_target(&remote_url)
    };
    if let Some(target) = &mut github {
        if target.token.is_none() {
            if let Some(name) = &config.github.token_ssm_parameter {
                let token = rt.block_on(async {
                    let aws = crate::adapters::aws::ssm::aws_config().await;
                    crate::adapters::aws::ssm::secret(&aws, name).await
                })?;
                target.token = Some(token);
            }
        }
        if target.token.is_none() {
            return Err(github::GithubError::NoToken.into());
        }
    }

    let head = history::head_commit(repo)?;
    let plan = crate::app::plan::gather(repo, config, &options.plan)?;
    let client = match &github {
        Some(t) => Some(Github::new(
            &t.api,
            t.token.as_deref().unwrap_or_default(),
            t.repo.clone(),
            github::Retry::from_env(),
        )?),
        None => None,
    };

    // What to release: a new version, or the version HEAD already carries (finish it).
    let tags = history::version_tags(repo, &config.tag_prefix)?;
    let release = match (&plan.next_version, &plan.next_tag) {
        (Some(v), Some(t)) => Target::New {
            version: v.clone(),
            tag: t.clone(),
        },
        _ => match tags.iter().find(|t| t.commit == head) {
            Some(t) => Target::Existing {
                version: t.version.to_string(),
                tag: t.name.clone(),
            },
            None => {
                return Ok(CutReport::new(
                    Outcome::NothingToRelease,
                    plan.reason.clone(),
                ))
            }
        },
    };
    let (version, tag) = release.names();
    let mut report = CutReport::new(Outcome::Released, String::new());
    report.version = Some(version.clone());
    report.tag = Some(tag.clone());
    report.prerelease = semver::Version::parse(&version).is_ok_and(|v| !v.pre.is_empty());

    // The tag on the remote decides between "ours to push" and "someone else's".
    let remote_tag = git::remote_tag(root, &options.remote, &tag)?;
    if let (Target::New { .. }, Some(at)) = (&release, remote_tag) {
        return Err(CutError::Refused(format!(
            "tag {tag} already exists on {} (at {}) but not here: fetch it (`git fetch --tags`) and run again",
            options.remote,
            &at.to_string()[..7]
        )));
    }

    // Permission to push, checked before the first write.
    let refspecs = vec![format!("refs/heads/{branch}:refs/heads/{branch}")];
    git::push_atomic(root, &options.remote, &refspecs, true).map_err(|e| {
        CutError::Refused(format!("cannot push to {}: {}", options.remote, e.message))
    })?;
    if let Some(client) = &client {
        if !rt.block_on(client.can_push())? {
            return Err(CutError::Refused(format!(
                "the GitHub token cannot push to {}: it needs contents: write",
                client.repo()
            )));
        }
    }

    // Prepare the local release (pure computation, nothing written yet).
    let prepared = match &release {
        Target::New { .. } => {
            let templates = Templates::load(templates_dir)?;
            let gh = remote::parse_github(
                &remote_url,
                std::env::var("GITHUB_SERVER_URL").ok().as_deref(),
            );
            let model = bump::release_of(&plan, crate::util::time::now(), gh.as_ref(), config);
            Some(bump::prepare(repo, config, &plan, &templates, &model)?)
        }
        Target::Existing { .. } => None,
    };
    if let Some(prepared) = &prepared {
        ensure_clean(repo, prepared)?;
    }

    // The one list of steps that both the dry run and the run iterate.
    let deploy_envs: Vec<String> = if options.no_deploy || config.image.is_none() {
        Vec::new()
    } else {
        config
            .environments
            .iter()
            .filter(|(_, e)| e.deploys_on_cut())
            .map(|(n, _)| n.clone())
            .collect()
    };
    let pending = match &release {
        Target::Existing { tag, .. } => {
            bump::pending_post_bump(repo).is_some_and(|p| &p.tag == tag)
        }
        Target::New { .. } => false,
    };
    let steps = cut_steps(prepared.is_some(), pending, config, &deploy_envs);
    let push_name = format!("push {branch} and {tag} to {} (atomic)", options.remote);
    let github_name = if client.is_some() {
        format!("github release {tag}")
    } else {
        "github release (no GitHub repository)".to_string()
    };

    if options.dry_run {
        report.outcome = Outcome::DryRun;
        report.reason = format!("dry run: would release {tag}");
        for cut_step in &steps {
            match cut_step {
                CutStep::Bump => {
                    if let Some(prepared) = &prepared {
                        let dry = BumpOptions {
                            dry_run: true,
                            ..BumpOptions::default()
                        };
                        report
                            .steps
                            .extend(bump::apply(repo, config, &plan, prepared, &dry)?);
                    }
                }
                CutStep::PendingPostBump => report.steps.push(StepReport {
                    name: format!("run post_bump hooks of {tag} (pending)"),
                    state: StepState::Todo,
                }),
                CutStep::Push => report.steps.push(StepReport {
                    name: push_name.clone(),
                    state: if remote_tag.is_some() {
                        StepState::Done
                    } else {
                        StepState::Todo
                    },
                }),
                CutStep::GithubRelease => report.steps.push(StepReport {
                    name: github_name.clone(),
                    state: if client.is_some() {
                        StepState::Todo
                    } else {
                        StepState::Skipped
                    },
                }),
                CutStep::Image => {
                    let repository = config.image.as_ref().map_or("", |i| i.repository.as_str());
                    report.steps.push(StepReport {
                        name: format!(
                            "image {repository}:{} (build and push unless the registry has it)",
                            crate::core::image::version_tag_of(&version)
                        ),
                        state: StepState::Todo,
                    });
                }
                CutStep::Deploys => {
                    for env in &deploy_envs {
                        report.steps.push(StepReport {
                            name: format!("deploy {version} to {env} (unless it runs there)"),
                            state: StepState::Todo,
                        });
                    }
                }
            }
        }
        return Ok(report);
    }
    if options.confirm
        && !ask(&format!(
            "Release {tag} ({}) and push it to {}?",
            plan_summary(&plan, &release),
            options.remote
        ))
    {
        report.outcome = Outcome::Declined;
        report.reason = "declined at the prompt; nothing was changed".into();
        return Ok(report);
    }
    // From the first write on, SIGINT/SIGTERM stop the run between steps, not in one.
    catch_signals();

    let before = head;
    let mut release_commit = head;
    for cut_step in &steps {
        check_interrupt()?;
        match cut_step {
            // 1. Local release: version files, changelog, commit, tag (each step idempotent).
            CutStep::Bump => {
                if let Some(prepared) = &prepared {
                    let steps =
                        bump::apply(repo, config, &plan, prepared, &BumpOptions::default())?;
                    report.steps.extend(steps);
                }
                release_commit = history::head_commit(repo)?;
            }
            // A release whose post_bump hooks failed is finished by running them.
            CutStep::PendingPostBump => {
                if let Some(done) = bump::finish_pending_post_bump(repo, config, false)? {
                    report.steps.push(step(done.name, done.state));
                }
            }
            // 2. Push branch and tag together.
            CutStep::Push => {
                let tag_spec = format!("refs/tags/{tag}:refs/tags/{tag}");
                let on_remote = git::remote_tag(root, &options.remote, &tag)?;
                // The tag was not on the remote when this run began and is there now: another
                // run released this version meanwhile (a race lost before the push, not at it).
                let lost_race = |report: CutReport| -> Result<CutReport, CutError> {
                    if prepared.is_some() {
                        git::undo_local_release(repo, &tag, release_commit, before)?;
                    }
                    let mut lost = CutReport::new(
                        Outcome::ReleasedByAnotherRun,
                        format!("another run released {tag} first; nothing was pushed and the local release commit was undone"),
                    );
                    lost.version = report.version;
                    lost.tag = report.tag;
                    Ok(lost)
                };
                match on_remote {
                    Some(at) if at != release_commit && remote_tag.is_none() => {
                        return lost_race(report)
                    }
                    Some(at) if at == release_commit => {
                        // Tag already there: the branch may still lag (pushed separately by hand).
                        git::push_atomic(root, &options.remote, &refspecs, false)?;
                        report.steps.push(step(push_name.clone(), StepState::Done));
                    }
                    Some(at) => {
                        return Err(CutError::Refused(format!(
                            "tag {tag} on {} points at {}, not at {}: tags are never moved",
                            options.remote,
                            &at.to_string()[..7],
                            &release_commit.to_string()[..7]
                        )))
                    }
                    None => {
                        let specs = [refspecs[0].clone(), tag_spec];
                        if let Err(e) = git::push_atomic(root, &options.remote, &specs, false) {
                            // Lost a race? Then the remote has our version now, made by another run.
                            if tag_appears(root, &options.remote, &tag) {
                                return lost_race(report);
                            }
                            return Err(CutError::Refused(format!(
                                "the push of {branch} and {tag} was refused, so nothing was published (run again after fixing the cause): {}",
                                e.message
                            )));
                        }
                        report
                            .steps
                            .push(step(push_name.clone(), StepState::Applied));
                    }
                }
                fault::point("push");
            }
            // 3. GitHub release, from the tag's own notes (which someone else may have written:
            // made inert and masked like rendered notes).
            CutStep::GithubRelease => {
                let notes = match git::tag_message(repo, &tag)? {
                    Some(m) if !m.trim().is_empty() => {
                        crate::util::redact::redact(&crate::util::redact::escape_controls(&m))
                            .into_owned()
                    }
                    _ => prepared
                        .as_ref()
                        .map(|p| p.notes.clone())
                        .unwrap_or_default(),
                };
                report.notes = Some(notes.clone());
                if let Some(client) = &client {
                    let existing = rt.block_on(client.release_by_tag(&tag))?;
                    let (state, release) = match existing {
                        Some(r) => (StepState::Done, r),
                        None => {
                            let new = NewRelease {
                                tag_name: tag.clone(),
                                name: tag.clone(),
                                body: notes.clone(),
                                draft: false,
                                prerelease: report.prerelease,
                            };
                            (
                                StepState::Applied,
                                rt.block_on(client.create_release(&new))?,
                            )
                        }
                    };
                    report.release_url = Some(release.html_url);
                    report.steps.push(step(github_name.clone(), state));
                } else {
                    report
                        .steps
                        .push(step(github_name.clone(), StepState::Skipped));
                }
                fault::point("github-release");
            }
            // 4. The container image, when `[image]` is configured: built and pushed once; a
            // re-run finds the version at the recorded digest and skips it.
            CutStep::Image => {
                if let Some(version) = history::tag_version(&tag, &config.tag_prefix) {
                    let created = crate::util::time::now();
                    let (name, applied) =
                        crate::app::image::cut_step(repo, root, config, &version, &rt, created)?;
                    let state = if applied {
                        StepState::Applied
                    } else {
                        StepState::Done
                    };
                    report.steps.push(step(name, state));
                }
                fault::point("image");
            }
            // 5. Deploys to the environments that take every release (`on_cut`), after the
            // image.
            CutStep::Deploys => {
                if let Some(version) = history::tag_version(&tag, &config.tag_prefix) {
                    let version = version.to_string();
                    let digest = crate::adapters::image_record::load(repo.path(), &version)
                        .ok()
                        .flatten()
                        .map(|r| r.digest);
                    for (env, name, state) in
                        crate::app::rollout::cut_steps(repo, config, &version, digest, &rt)?
                    {
                        if state != StepState::Skipped {
                            report.deployed.push(env);
                        }
                        report.steps.push(step(name, state));
                    }
                }
            }
        }
    }

    let applied = report.steps.iter().any(|s| s.state == StepState::Applied);
    report.outcome = if applied {
        Outcome::Released
    } else {
        Outcome::AlreadyReleased
    };
    report.reason = match (&release, applied) {
        (_, false) => format!("HEAD is already released as {tag}; every step was already done"),
        (Target::Existing { .. }, true) => format!("completed the release of {tag}"),
        (Target::New { .. }, true) => format!("released {tag}: {}", plan.reason),
    };
    Ok(report)
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

/// The first release tag that contains HEAD (but is not on it) and that the remote branch has:
/// HEAD was released by another run, from another clone.
fn released_upstream(
    repo: &git2::Repository,
    config: &Config,
    remote: &str,
    branch: &str,
) -> Result<Option<history::ReleaseTag>, CutError> {
    let head = history::head_commit(repo)?;
    let upstream = repo
        .refname_to_id(&format!("refs/remotes/{remote}/{branch}"))
        .map_err(git::GitError::from)?;
    let contains = |a: git2::Oid, b: git2::Oid| -> Result<bool, git::GitError> {
        Ok(a == b || repo.graph_descendant_of(a, b)?)
    };
    let mut found: Option<history::ReleaseTag> = None;
    for tag in history::version_tags(repo, &config.tag_prefix)? {
        if tag.commit != head
            && contains(tag.commit, head)?
            && contains(upstream, tag.commit)?
            && found.as_ref().is_none_or(|f| tag.version < f.version)
        {
            found = Some(tag);
        }
    }
    Ok(found)
}

/// Refuse uncommitted changes that the release would not make itself.
fn ensure_clean(repo: &git2::Repository, prepared: &bump::Prepared) -> Result<(), CutError> {
    let dirty = bump::unexpected_changes(repo, prepared)?;
    if dirty.is_empty() {
        return Ok(());
    }
    Err(CutError::Refused(format!(
        "the worktree has uncommitted changes ({}): commit or stash them first",
        git::summarize_paths(&dirty)
    )))
}

enum Target {
    New { version: String, tag: String },
    Existing { version: String, tag: String },
}

impl Target {
    fn names(&self) -> (String, String) {
        match self {
            Target::New { version, tag } | Target::Existing { version, tag } => {
                (version.clone(), tag.clone())
            }
        }
    }
}

fn step(name: String, state: StepState) -> StepReport {
    tracing::info!("{name}: {state:?}");
    StepReport { name, state }
}

fn plan_summary(plan: &ReleasePlan, release: &Target) -> String {
    match release {
        Target::New { .. } => format!(
            "{} -> {}, {} commit(s)",
            plan.current_version.as_deref().unwrap_or("nothing"),
            plan.next_version.as_deref().unwrap_or("?"),
            plan.commits.len()
        ),
        Target::Existing { .. } => "finish the release HEAD already carries".into(),
    }
}

/// One step of `cut` and `ci`. [`cut_steps`] makes the one list that the dry run prints and
/// the run carries out, so they cannot drift apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CutStep {
    /// The local release: the steps of [`bump::steps`] (hooks, files, commit, tag).
    Bump,
    /// The `post_bump` hooks of the release HEAD carries, which did not succeed yet.
    PendingPostBump,
    /// Branch and tag, pushed atomically.
    Push,
    /// The GitHub release.
    GithubRelease,
    /// The container image (`[image]`).
    Image,
    /// The deploys to the environments that deploy on cut.
    Deploys,
}

fn cut_steps(new: bool, pending: bool, config: &Config, deploys: &[String]) -> Vec<CutStep> {
    let mut steps = Vec::new();
    if new {
        steps.push(CutStep::Bump);
    }
    if pending {
        steps.push(CutStep::PendingPostBump);
    }
    steps.push(CutStep::Push);
    steps.push(CutStep::GithubRelease);
    if config.image.is_some() {
        steps.push(CutStep::Image);
    }
    if !deploys.is_empty() {
        steps.push(CutStep::Deploys);
    }
    steps
}

/// The GitHub repository releases go to: `GITHUB_REPOSITORY`, else the remote's URL; the API
/// from `GITHUB_API_URL`; the token from `GITHUB_TOKEN` (or `GH_TOKEN`).
fn github_target(remote_url: &str) -> Option<GithubTarget> {
    let server = std::env::var("GITHUB_SERVER_URL").ok();
    let repo = std::env::var("GITHUB_REPOSITORY")
        .ok()
        .and_then(|r| RepoId::parse(&r))
        .or_else(|| {
            remote::parse_github(remote_url, server.as_deref()).map(|g| RepoId {
                owner: g.owner,
                name: g.name,
            })
        })?;
    let api = std::env::var("GITHUB_API_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| github::DEFAULT_API.to_string());
    let token = ["GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|t| !t.is_empty()));
    if let Some(t) = &token {
        crate::util::redact::register(t);
    }
    Some(GithubTarget { api, repo, token })
}
