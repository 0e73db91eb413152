//! `release cut` and `release ci` with `[packages]`: the release of every changed package made
//! as `release bump` makes it (one commit, one tag per package), then the branch and every tag
//! of that release commit pushed in one atomic push, a GitHub release per tag, each released
//! package's assets uploaded and its moving major tag (`api-v1`) moved, its images built and
//! pushed, and its version deployed to the environments that run it and deploy on cut. A run
//! stopped anywhere is finished by the next: the bump's steps check what is done, the push
//! sends what the remote lacks, a moving tag already at its release stays, an image the
//! registry has at its recorded digest is not built again, and an environment running the
//! version is left alone.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

use crate::adapters::git::lock::{Lock, LockError};
use crate::adapters::git::{self, history, CliError, GitError, Tracking};
use crate::adapters::github::{Github, GithubRelease};
use crate::adapters::release_assets::{self, AssetError, LocalAsset};
use crate::adapters::templates::{TemplateError, Templates};
use crate::app::bump::{self, BumpError, BumpOptions};
use crate::app::packages::{self, PackagesError, PackagesPlan};
use crate::config::Config;
use crate::core::step::{self, Applied, RunOptions, Step, StepReport, StepState};
use crate::util::signals::Interrupted;

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
    /// A released package's `assets` cannot be uploaded: found before anything is written.
    #[error(transparent)]
    Assets(#[from] AssetError),
    /// Uploading a package's assets to its GitHub release failed; the release is pushed.
    #[error(
        "the release is pushed, but the assets of package {package} are not all uploaded: {source}"
    )]
    Upload {
        /// The package.
        package: String,
        /// What failed.
        source: Box<crate::app::cut::CutError>,
    },
    /// Moving a package's moving major tag (`api-v1`) failed; the release is published.
    #[error("the release is published, but the moving tag {tag} of package {package} was not moved: {source}; running the same command again moves it")]
    MajorTag {
        /// The package.
        package: String,
        /// The moving tag.
        tag: String,
        /// What failed.
        source: Box<crate::app::cut::CutError>,
    },
    /// Building or pushing one of a package's images failed; the release is published.
    #[error("the release is published, but the image of package {package} failed: {source}; running the same command again builds and pushes what the registry lacks")]
    Image {
        /// The package.
        package: String,
        /// What failed.
        source: Box<crate::app::image::PublishError>,
    },
    /// One or more deploys failed (each rolled back); the release is published, and the
    /// other deploys ran.
    #[error("the release is published, but a deploy failed: {}{}", .failed.join("; "), the_others(.others))]
    Deploy {
        /// Each failed deploy: package, version, environment and why.
        failed: Vec<String>,
        /// What the other deploys of the run did.
        others: Vec<String>,
    },
}

/// The other deploys' states, for the deploy error.
fn the_others(others: &[String]) -> String {
    if others.is_empty() {
        String::new()
    } else {
        format!(" (the other deploys: {})", others.join(", "))
    }
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
    /// The environments each package's version runs in after this run's deploy steps
    /// (`NAME:ENV`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deployed: Vec<String>,
    /// The major releases held for approval (their tags): the whole release waits for them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<String>,
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
    // Found and hashed before the first write: a released package's missing or unsafe asset
    // stops the run here, with nothing committed, tagged or pushed.
    let assets = if client.is_some() {
        resolve_assets(repo, root, config, &plan)?
    } else {
        BTreeMap::new()
    };
    let bump_options = BumpOptions {
        dry_run: options.dry_run,
        ..BumpOptions::default()
    };
    if options.hold_majors {
        let held = hold_majors(repo, config, options, &plan).await?;
        if !held.is_empty() {
            let (pending, why): (Vec<String>, Vec<String>) = held.into_iter().unzip();
            return Ok(PackagesCutReport {
                released: false,
                dry_run: options.dry_run,
                reason: format!(
                    "{} (the release of every package waits for it)",
                    why.join("; ")
                ),
                tags: Vec::new(),
                release_urls: Vec::new(),
                plan,
                steps: Vec::new(),
                deployed: Vec::new(),
                pending,
            });
        }
    }
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
            for p in plan.released() {
                steps.push(StepReport {
                    name: format!("github release {}", p.tag.as_deref().unwrap_or_default()),
                    state: if client.is_some() {
                        StepState::Todo
                    } else {
                        StepState::Skipped
                    },
                });
            }
            let releases: Vec<PackageRelease> = plan
                .released()
                .filter_map(|p| {
                    Some(PackageRelease {
                        name: p.name.clone(),
                        version: semver::Version::parse(p.plan.next_version.as_deref()?).ok()?,
                        tag: p.tag.clone()?,
                    })
                })
                .collect();
            let mut publish = Publish::new(repo, root, config, options, releases)?;
            publish.github(client.as_ref(), assets);
            steps.extend(publish.run().await?);
            return Ok(PackagesCutReport {
                released: false,
                dry_run: true,
                reason: format!("dry run: would release {}", tags.join(", ")),
                tags,
                release_urls: Vec::new(),
                plan,
                steps,
                deployed: Vec::new(),
                pending: Vec::new(),
            });
        }
    }
    // The release commit's tags: made now, or by an earlier run that did not push them.
    let releases = head_releases(repo, config)?;
    let tags: Vec<String> = releases.iter().map(|r| r.tag.clone()).collect();
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
    let mut published = BTreeMap::new();
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
            published.insert(tag.clone(), release);
            steps.push(StepReport { name, state });
        }
        if !options.dry_run && !tags.is_empty() {
            crate::util::fault::point("github-release");
        }
    }
    // Then each released package's assets, its images, and its deploys.
    if !options.dry_run && !releases.is_empty() {
        crate::util::signals::catch_signals();
    }
    let mut publish = Publish::new(repo, root, config, options, releases)?;
    publish.github(client.as_ref(), assets);
    publish.published = published;
    steps.extend(publish.run().await?);
    let deployed = publish.deployed.clone();
    if !publish.failed.is_empty() {
        return Err(PackagesCutError::Deploy {
            failed: publish.failed,
            others: publish.others,
        });
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
        deployed,
        pending: Vec::new(),
    })
}

/// The version of a package tag, when it is one.
fn tag_version(config: &Config, tag: &str) -> Option<semver::Version> {
    config
        .packages
        .iter()
        .find_map(|(name, p)| history::tag_version(tag, &p.tag_prefix_of(name)))
}

/// The `assets` of every package this run releases or finishes, by package name: those the
/// plan releases, and those of the release commit HEAD already is (a run stopped after its
/// commit). Only these: a package not released now is not asked for files it did not build.
fn resolve_assets(
    repo: &git2::Repository,
    root: &Path,
    config: &Config,
    plan: &PackagesPlan,
) -> Result<BTreeMap<String, Vec<LocalAsset>>, PackagesCutError> {
    let mut names: Vec<String> = plan.released().map(|p| p.name.clone()).collect();
    names.extend(head_releases(repo, config)?.into_iter().map(|r| r.name));
    let mut assets = BTreeMap::new();
    for name in names {
        let Some(package) = config.packages.get(&name) else {
            continue;
        };
        if package.assets.is_empty() || assets.contains_key(&name) {
            continue;
        }
        let setting = release_assets::package_setting(&name);
        let files = release_assets::resolve(root, &package.assets, &setting)?;
        assets.insert(name, files);
    }
    Ok(assets)
}

/// The moving major tag release `r` moves (its tag prefix and major: `api-v1`, `api@1`), when
/// the package's `major_tag` (else `[github] major_tag`) is on: by the root's rules, none for a
/// pre-release, a 0.x version, or a release older than the package's newest of its major.
fn package_major_tag(
    repo: &git2::Repository,
    config: &Config,
    r: &PackageRelease,
) -> Result<Option<String>, PackagesCutError> {
    let Some(package) = config.packages.get(&r.name) else {
        return Ok(None);
    };
    if !package.major_tag_of(config.github.major_tag) {
        return Ok(None);
    }
    let prefix = package.tag_prefix_of(&r.name);
    let released: Vec<semver::Version> = history::prefixed_tags(repo, &prefix)?
        .into_iter()
        .map(|t| t.version)
        .collect();
    Ok(crate::core::version::major_tag(
        &prefix, &r.version, &released,
    ))
}

/// One package's release: its name, version and tag.
#[derive(Debug, Clone)]
struct PackageRelease {
    name: String,
    version: semver::Version,
    tag: String,
}

/// The package releases HEAD's release commit names whose tags exist on HEAD (none when HEAD
/// is no release commit of packages).
fn head_releases(
    repo: &git2::Repository,
    config: &Config,
) -> Result<Vec<PackageRelease>, PackagesCutError> {
    let head = history::head_commit(repo)?;
    let commit = history::read_commit(repo, head)?;
    if commit.parents > 1 {
        return Ok(Vec::new());
    }
    let header = commit.message.lines().next().unwrap_or_default();
    let mut releases = Vec::new();
    for (name, version) in
        crate::core::packages::released_in(header, &config.commit.message).unwrap_or_default()
    {
        let Some(package) = config.packages.get(&name) else {
            continue;
        };
        let tag = format!("{}{version}", package.tag_prefix_of(&name));
        let Ok(version) = semver::Version::parse(&version.to_string()) else {
            continue;
        };
        if git::tag_target(repo, &tag)? == Some(head) {
            releases.push(PackageRelease { name, version, tag });
        }
    }
    Ok(releases)
}

/// The major releases among the planned ones that wait for approval, as (tag, why), each
/// held in the ledger under its tag (`api-v2.0.0`) as the one-package flow holds its version.
///
/// One held package holds the whole release: the packages of a release commit go out
/// together, and a dependent pulled along by the held package would otherwise be released
/// against a version that is not published.
async fn hold_majors(
    repo: &git2::Repository,
    config: &Config,
    options: &crate::app::cut::CutOptions,
    plan: &PackagesPlan,
) -> Result<Vec<(String, String)>, PackagesCutError> {
    let head = history::head_commit(repo)?;
    let mut held = Vec::new();
    for p in plan.released() {
        let (Some(version), Some(tag)) = (&p.plan.next_version, &p.tag) else {
            continue;
        };
        if let Some(why) =
            crate::app::cut::hold_major(repo, config, options, &p.plan, head, version, tag)
                .await
                .map_err(Box::new)?
        {
            held.push((tag.clone(), why));
        }
    }
    Ok(held)
}

/// One step after the GitHub releases.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PublishStep {
    /// Upload release `release`'s package `assets` and their `SHA256SUMS` to its GitHub
    /// release.
    Assets { release: usize },
    /// Move release `release`'s moving major tag (`api-v1`) to it, after its GitHub release
    /// and assets, since `@v1` users download them at once.
    MajorTag { release: usize },
    /// Build and push image `image` (index into the package's [`PackageConfig::built_images`])
    /// of release `release`.
    ///
    /// [`PackageConfig::built_images`]: crate::config::packages::PackageConfig::built_images
    Image { release: usize, image: usize },
    /// Deploy release `release` to environment `env`.
    Deploy { release: usize, env: String },
}

/// What the images and deploys of the released packages work on.
struct Publish<'a> {
    repo: &'a git2::Repository,
    root: &'a Path,
    config: &'a Config,
    options: &'a crate::app::cut::CutOptions,
    releases: Vec<PackageRelease>,
    /// Each release's images, as (name within `images`, image).
    images: Vec<Vec<(Option<String>, crate::config::image::ImageConfig)>>,
    /// The GitHub client, when there are GitHub releases.
    client: Option<&'a Github>,
    /// Each released package's `assets`, resolved, by package name.
    assets: BTreeMap<String, Vec<LocalAsset>>,
    /// The GitHub release of each tag, as this run made or found it.
    published: BTreeMap<String, GithubRelease>,
    /// Each release's moving major tag, when it moves one (`[github] major_tag`).
    major_tags: Vec<Option<String>>,
    /// `NAME:ENV` where the version runs after its deploy step.
    deployed: Vec<String>,
    /// The deploys that failed, with why.
    failed: Vec<String>,
    /// What the other deploys did.
    others: Vec<String>,
}

impl<'a> Publish<'a> {
    fn new(
        repo: &'a git2::Repository,
        root: &'a Path,
        config: &'a Config,
        options: &'a crate::app::cut::CutOptions,
        releases: Vec<PackageRelease>,
    ) -> Result<Publish<'a>, PackagesCutError> {
        let major_tags = releases
            .iter()
            .map(|r| package_major_tag(repo, config, r))
            .collect::<Result<_, _>>()?;
        let images = releases
            .iter()
            .map(|r| {
                config
                    .packages
                    .get(&r.name)
                    .map(|p| p.built_images())
                    .unwrap_or_default()
            })
            .collect();
        Ok(Publish {
            repo,
            root,
            config,
            options,
            releases,
            images,
            client: None,
            assets: BTreeMap::new(),
            published: BTreeMap::new(),
            major_tags,
            deployed: Vec::new(),
            failed: Vec::new(),
            others: Vec::new(),
        })
    }

    /// The GitHub releases' client and the released packages' assets they get.
    fn github(&mut self, client: Option<&'a Github>, assets: BTreeMap<String, Vec<LocalAsset>>) {
        self.client = client;
        self.assets = assets;
    }

    /// The assets of release `release`, when it has any and there are GitHub releases.
    fn assets_of(&self, release: usize) -> Option<(&PackageRelease, &[LocalAsset])> {
        self.client?;
        let r = self.releases.get(release)?;
        let files = self.assets.get(&r.name)?;
        (!files.is_empty()).then_some((r, files.as_slice()))
    }

    /// The moving major tag of release `release`, with the release.
    fn major_tag_of(&self, release: usize) -> Option<(&PackageRelease, &str)> {
        let name = self.major_tags.get(release)?.as_deref()?;
        Some((self.releases.get(release)?, name))
    }

    /// Every release's assets, then every release's moving major tag, then every image of
    /// every release, then every deploy (unless `--no-deploy`).
    fn steps(&self) -> Vec<PublishStep> {
        let mut steps: Vec<PublishStep> = (0..self.releases.len())
            .filter(|r| self.assets_of(*r).is_some())
            .map(|release| PublishStep::Assets { release })
            .collect();
        steps.extend(
            (0..self.releases.len())
                .filter(|r| self.major_tag_of(*r).is_some())
                .map(|release| PublishStep::MajorTag { release }),
        );
        for (release, images) in self.images.iter().enumerate() {
            steps.extend((0..images.len()).map(|image| PublishStep::Image { release, image }));
        }
        if self.options.no_deploy {
            return steps;
        }
        for (release, r) in self.releases.iter().enumerate() {
            steps.extend(
                self.config
                    .environments
                    .iter()
                    .filter(|(_, e)| e.deploys_package_on_cut(&r.name))
                    .map(|(env, _)| PublishStep::Deploy {
                        release,
                        env: env.clone(),
                    }),
            );
        }
        steps
    }

    /// Go through the steps: every image (the first failure stops the run), then every deploy,
    /// each whatever the others did (their failures are collected in `failed`).
    async fn run(&mut self) -> Result<Vec<StepReport>, PackagesCutError> {
        let steps = self.steps();
        let options = RunOptions {
            dry_run: self.options.dry_run,
            ..RunOptions::default()
        };
        step::run(&steps, self, options, |_| Ok(())).await
    }

    fn image_of(&self, release: usize, image: usize) -> Option<&crate::config::image::ImageConfig> {
        self.images.get(release)?.get(image).map(|(_, i)| i)
    }
}

impl<'a> Step<Publish<'a>> for PublishStep {
    type Error = PackagesCutError;

    fn name(&self, run: &Publish<'a>) -> String {
        match self {
            PublishStep::Assets { release } => match run.assets_of(*release) {
                Some((r, files)) => crate::app::cut::assets_step_name(files, &r.tag),
                None => String::new(),
            },
            PublishStep::MajorTag { release } => match run.major_tag_of(*release) {
                Some((r, name)) => format!("move {name} to {} on {}", r.tag, run.options.remote),
                None => String::new(),
            },
            PublishStep::Image { release, image } => {
                let (Some(r), Some(i)) =
                    (run.releases.get(*release), run.image_of(*release, *image))
                else {
                    return String::new();
                };
                format!(
                    "image {}:{} of {} (build and push unless the registry has it)",
                    i.repository,
                    crate::core::image::version_tag_of(&r.version.to_string()),
                    r.name
                )
            }
            PublishStep::Deploy { release, env } => {
                let Some(r) = run.releases.get(*release) else {
                    return String::new();
                };
                let migration = crate::app::rollout::migration_clause(run.config, env);
                format!(
                    "deploy {} {} to {env} (unless it runs there{migration})",
                    r.name, r.version
                )
            }
        }
    }

    fn boundary(&self) -> &'static str {
        match self {
            PublishStep::Assets { .. } => "github-assets",
            PublishStep::MajorTag { .. } => "major-tag",
            PublishStep::Image { .. } => "image",
            PublishStep::Deploy { .. } => "deploy",
        }
    }

    fn stopped(&self, signal: Interrupted, _: &Publish<'a>) -> PackagesCutError {
        PackagesCutError::Cut(Box::new(crate::app::cut::CutError::Interrupted(signal)))
    }

    // Whether these are done is asked of the registry and ECS when they run: a dry run does
    // not ask.
    async fn check(&self, _: &mut Publish<'a>) -> Result<Option<StepState>, PackagesCutError> {
        Ok(None)
    }

    async fn apply(&self, run: &mut Publish<'a>) -> Result<Applied, PackagesCutError> {
        match self {
            // Each asset GitHub has with the same digest is left alone: a re-run uploads only
            // what a stopped one did not.
            PublishStep::Assets { release } => {
                let (Some((r, files)), Some(client)) = (run.assets_of(*release), run.client) else {
                    return Ok(StepState::Skipped.into());
                };
                let failed = |e: crate::app::cut::CutError| PackagesCutError::Upload {
                    package: r.name.clone(),
                    source: Box::new(e),
                };
                let found;
                let github_release = match run.published.get(&r.tag) {
                    Some(release) => release,
                    None => {
                        found = client.release_by_tag(&r.tag).await?.ok_or_else(|| {
                            crate::adapters::github::GithubError::Transport {
                                method: "GET",
                                path: format!("releases/tags/{}", r.tag),
                                message:
                                    "the GitHub release made by this run is not found; run again"
                                        .into(),
                            }
                        })?;
                        &found
                    }
                };
                let setting = release_assets::package_setting(&r.name);
                crate::app::cut::upload_assets(client, github_release, &r.tag, files, &setting)
                    .await
                    .map_err(failed)
            }
            // Where the tag is already, or at a newer release of the package, it stays.
            PublishStep::MajorTag { release } => {
                let Some((r, name)) = run.major_tag_of(*release) else {
                    return Ok(StepState::Skipped.into());
                };
                let failed = |e: crate::app::cut::CutError| PackagesCutError::MajorTag {
                    package: r.name.clone(),
                    tag: name.to_string(),
                    source: Box::new(e),
                };
                // The package's release commit is where its tag is (HEAD, for a release this
                // run made or finishes).
                let Some(release_commit) = git::tag_target(run.repo, &r.tag)? else {
                    return Ok(StepState::Skipped.into());
                };
                crate::app::cut::move_major_tag(
                    run.repo,
                    run.root,
                    &run.options.remote,
                    name,
                    release_commit,
                )
                .map_err(failed)
            }
            // Built and pushed once; a re-run finds the version at the recorded digest.
            PublishStep::Image { release, image } => {
                let (Some(r), Some((name, config))) = (
                    run.releases.get(*release),
                    run.images.get(*release).and_then(|i| i.get(*image)),
                ) else {
                    return Ok(StepState::Done.into());
                };
                let key = crate::adapters::image_record::package_key(&r.tag, name.as_deref());
                let (done, applied) = crate::app::image::package_cut_step(
                    run.repo,
                    run.root,
                    config,
                    &r.tag,
                    &r.version,
                    key,
                    crate::util::time::now(),
                    &run.options.environ,
                )
                .await
                .map_err(|source| PackagesCutError::Image {
                    package: r.name.clone(),
                    source: Box::new(source),
                })?;
                Ok(Applied {
                    state: if applied {
                        StepState::Applied
                    } else {
                        StepState::Done
                    },
                    detail: Some(format!("{done} of {}", r.name)),
                    stop: false,
                })
            }
            PublishStep::Deploy { release, env } => {
                let Some(r) = run.releases.get(*release).cloned() else {
                    return Ok(StepState::Done.into());
                };
                let what = format!("{} {} to {env}", r.name, r.version);
                match deploy(run, env, &r.version.to_string()).await {
                    Ok((name, state)) => {
                        if state != StepState::Skipped {
                            run.deployed.push(format!("{}:{env}", r.name));
                        }
                        let said = match state {
                            StepState::Applied => "deployed",
                            StepState::Done => "already running",
                            _ => "skipped",
                        };
                        run.others.push(format!("{what} {said}"));
                        Ok(Applied {
                            state,
                            detail: Some(format!("{name} ({})", r.name)),
                            stop: false,
                        })
                    }
                    // The other packages' deploys go on: the error names every failure.
                    Err(e) => {
                        tracing::error!("deploy {what} failed: {e}");
                        run.failed.push(format!("{what}: {e}"));
                        Ok(Applied {
                            state: StepState::Skipped,
                            detail: Some(format!("deploy {what}: failed")),
                            stop: false,
                        })
                    }
                }
            }
        }
    }
}

/// Deploy `version` of the package `env` runs there, as the one-package cut does: its digest
/// (from this run's image record) fixed first, then the deploy unless it runs there.
async fn deploy(
    run: &Publish<'_>,
    env: &str,
    version: &str,
) -> Result<(String, StepState), crate::app::rollout::DeployError> {
    let mut rollout =
        crate::app::rollout::Rollout::open(run.repo, run.config, &run.options.environ)
            .await
            .for_env(env);
    rollout.rerun_migrations = run.options.rerun_migrations;
    let digest = rollout.images.recorded(version).map(|(_, d)| d);
    rollout.record_release(version, digest).await?;
    rollout.deploy_on_cut(env, version).await
}
