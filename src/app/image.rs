//! The image steps as `release image` and `release cut` run them: build, push (digest read back
//! from the registry and recorded), promote.

use semver::Version;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::adapters::aws::ecr::{Ecr, EcrError};
use crate::adapters::builder::{self, BuildSpec, Builder, BuilderError};
use crate::adapters::image_record::{self as record, ImageRecord};
use crate::adapters::registry::auth::{self, AuthError, Credentials};
use crate::adapters::registry::{Promotion, Registry, RegistryError};
use crate::config::environ::Environ;
use crate::config::image::{BuilderKind, ImageConfig};
use crate::config::Config;
use crate::core::image::{self, ImageError, Repository};
use crate::core::retention::StoredImage;
use crate::core::step::{self, Applied, RunOptions, Step, StepState};
use crate::util::signals::Interrupted;

/// An image step that failed: what failed and what to do, from the part that failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// `release.toml` has no `[image]`.
    #[error("no [image] section in release.toml: set at least `repository`")]
    NoImageSection,
    /// SIGINT or SIGTERM stopped the run between two steps.
    #[error("{0}: stopped at a step boundary; run the same command again to finish the release")]
    Interrupted(Interrupted),
    /// A version argument that is not a version.
    #[error("`{given}` is not a version like 1.2.3 ({source})")]
    BadVersion {
        /// What was given.
        given: String,
        /// Why it does not parse.
        source: semver::Error,
    },
    /// No version given and none to default to.
    #[error("no release tag on HEAD: pass --version X.Y.Z")]
    NoReleaseTag,
    /// Configuration, references or an immutable tag.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Finding registry credentials.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The OCI distribution API.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The ECR API.
    #[error(transparent)]
    Ecr(#[from] EcrError),
    /// docker, podman or buildah.
    #[error(transparent)]
    Builder(#[from] BuilderError),
    /// `docker login` before the push.
    #[error("cannot log docker in to {registry}: {source}")]
    Login {
        /// The registry host.
        registry: String,
        /// The failed login.
        source: BuilderError,
    },
    /// Reading a build arg from SSM.
    #[error(transparent)]
    Ssm(#[from] crate::adapters::aws::ssm::SsmError),
    /// Reading tags or commits.
    #[error(transparent)]
    Git(#[from] crate::adapters::git::GitError),
    /// Reading history.
    #[error(transparent)]
    History(#[from] crate::adapters::git::history::HistoryError),
    /// A local file (the image record, the builder's auth file).
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The push ended but the registry does not have the version tag.
    #[error("pushed {0} but the registry does not list it: check the builder's output above")]
    NotListed(String),
}

type Result<T, E = PublishError> = std::result::Result<T, E>;

/// A closure that wraps an `io::Error` with what was being done to `path`.
fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PublishError {
    let path = path.to_path_buf();
    move |source| PublishError::Io {
        action,
        path,
        source,
    }
}

/// Everything about the image of one version.
pub struct ImageJob<'a> {
    /// The repository.
    pub repo: &'a git2::Repository,
    /// Its worktree root.
    pub root: &'a Path,
    /// `[image]`.
    pub image: &'a ImageConfig,
    /// The version.
    pub version: Version,
    /// The commit the image is built from.
    pub commit: String,
    /// Where the image goes.
    pub repository: Repository,
    /// Every tag (version first).
    pub tags: Vec<String>,
    /// The environment (builder options, registry credentials).
    pub environ: &'a Environ,
    /// What the pushed digest is recorded under ([`record::load`]): the version for the
    /// root's image, [`record::package_key`] for a package's.
    pub record_key: String,
}

/// What a build made.
#[derive(Debug, Serialize)]
pub struct Built {
    /// The version.
    pub version: String,
    /// Full references tagged.
    pub tags: Vec<String>,
    /// OCI labels.
    pub labels: BTreeMap<String, String>,
}

/// What a push did.
#[derive(Debug, Serialize)]
pub struct Pushed {
    /// The record written.
    #[serde(flatten)]
    pub record: ImageRecord,
    /// `false` when the registry already had the version at the recorded digest.
    pub pushed: bool,
}

/// The `[image]` section, or a clear error.
pub fn image_config(config: &Config) -> Result<&ImageConfig> {
    config.image.as_ref().ok_or(PublishError::NoImageSection)
}

/// The version given, else the latest release tag reachable from HEAD.
pub fn resolve_version(
    repo: &git2::Repository,
    config: &Config,
    given: Option<&str>,
) -> Result<Version> {
    if let Some(v) = given {
        let v = v.strip_prefix(config.tag_prefix.as_str()).unwrap_or(v);
        return Version::parse(v).map_err(|source| PublishError::BadVersion {
            given: v.to_string(),
            source,
        });
    }
    let tags = crate::adapters::git::history::version_tags(repo, &config.tag_prefix)?;
    let head = crate::adapters::git::history::head_commit(repo)?;
    match crate::adapters::git::history::latest_reachable(repo, head, &tags, false)? {
        Some(t) => Ok(t.version.clone()),
        None => Err(PublishError::NoReleaseTag),
    }
}

impl<'a> ImageJob<'a> {
    /// The job for `version`: built from its release tag's commit when the tag exists, else
    /// from HEAD.
    pub fn new(
        repo: &'a git2::Repository,
        root: &'a Path,
        config: &'a Config,
        version: Version,
        environ: &'a Environ,
    ) -> Result<ImageJob<'a>> {
        let image = image_config(config)?;
        let tag = format!("{}{version}", config.tag_prefix);
        let key = version.to_string();
        ImageJob::of(repo, root, image, &tag, version, key, environ)
    }

    /// The job for `image` of the release tagged `tag` (a package's), its digest recorded
    /// under `record_key`: built from the tag's commit when the tag exists, else from HEAD.
    pub fn of(
        repo: &'a git2::Repository,
        root: &'a Path,
        image: &'a ImageConfig,
        tag: &str,
        version: Version,
        record_key: String,
        environ: &'a Environ,
    ) -> Result<ImageJob<'a>> {
        let repository = Repository::parse(&image.repository)?;
        let commit = match crate::adapters::git::tag_target(repo, tag)? {
            Some(oid) => oid,
            None => crate::adapters::git::history::head_commit(repo)?,
        }
        .to_string();
        let tags = image::tags_for(&version, &commit[..7.min(commit.len())], &image.extra_tags)?;
        Ok(ImageJob {
            repo,
            root,
            image,
            version,
            commit,
            repository,
            tags,
            environ,
            record_key,
        })
    }

    /// Full references of every tag.
    pub fn references(&self) -> Vec<String> {
        self.tags
            .iter()
            .map(|t| self.repository.reference(t))
            .collect()
    }

    fn builder(&self) -> Builder {
        Builder::new(self.image.builder, self.environ)
    }

    /// Build and tag the image with the configured builder.
    pub async fn build(&self, created: i64) -> Result<Built> {
        let source = crate::adapters::git::remote_url(self.repo, "origin")
            .ok()
            .map(|u| image::source_url(&u));
        let labels = image::labels(&self.version, &self.commit, source.as_deref(), created);
        let mut secret_args = BTreeMap::new();
        if !self.image.build_args_from_ssm.is_empty() {
            let values = (async {
                let aws = crate::adapters::aws::config().await;
                let mut values = BTreeMap::new();
                for (name, parameter) in &self.image.build_args_from_ssm {
                    values.insert(
                        name.clone(),
                        crate::adapters::aws::ssm::secret(&aws, parameter).await?,
                    );
                }
                Ok::<_, crate::adapters::aws::ssm::SsmError>(values)
            })
            .await?;
            secret_args = values;
        }
        let spec = BuildSpec {
            context: self.root.join(&self.image.context),
            dockerfile: self.root.join(&self.image.dockerfile),
            tags: self.references(),
            labels: labels.clone(),
            build_args: self.image.build_args.clone(),
            secret_args: secret_args.clone(),
        };
        let argv = self.builder().build_argv(&spec);
        builder::run(&argv, &secret_args, None)?;
        Ok(Built {
            version: self.version.to_string(),
            tags: self.references(),
            labels,
        })
    }

    /// Push every tag, read the digest of the version tag back from the registry and record
    /// it. Skipped when the registry already has the version tag at the recorded digest; a
    /// version tag already there at another (or unrecorded) digest is an error, never an
    /// overwrite.
    pub async fn push(&self) -> Result<Pushed> {
        let target = PushTarget::open(self.image, &self.repository, self.environ).await?;
        let version_tag = &self.tags[0];
        let git_dir = self.repo.path();
        let recorded = record::load(git_dir, &self.record_key)
            .map_err(io("read the image record in", &record::dir(git_dir)))?
            .filter(|r| r.repository == self.repository.full());
        if let Some(existing) = target.digest(version_tag).await? {
            match &recorded {
                Some(r) if r.digest == existing => {
                    return Ok(Pushed {
                        record: r.clone(),
                        pushed: false,
                    })
                }
                _ => {
                    return Err(ImageError::TagConflict {
                        repository: self.repository.full(),
                        tag: version_tag.clone(),
                        existing,
                        wanted: recorded.map_or_else(
                            || "the image built here (not pushed yet)".into(),
                            |r| r.digest,
                        ),
                    }
                    .into())
                }
            }
        }
        let builder = self.builder();
        let work = git_dir.join("release-agent");
        std::fs::create_dir_all(&work).map_err(io("create", &work))?;
        // The credentials the registry client uses reach the builder without a command line:
        // docker logs in with the password on stdin, podman and buildah get a private auth file.
        let authfile = match (&target.credentials, self.image.builder) {
            (Some(c), BuilderKind::Docker) => {
                let argv = builder.login_argv(&self.repository.registry, &c.user);
                builder::run(&argv, &BTreeMap::new(), Some(&c.password)).map_err(|source| {
                    PublishError::Login {
                        registry: self.repository.registry.clone(),
                        source,
                    }
                })?;
                None
            }
            (Some(c), _) => Some(
                AuthFile::write(&work, &self.repository, c)
                    .map_err(io("write a registry auth file in", &work))?,
            ),
            (None, _) => None,
        };
        let digestfile = work.join(format!("digest-{}", std::process::id()));
        for reference in self.references() {
            let argv = builder.push_argv(
                &reference,
                Some(digestfile.as_path()).filter(|_| self.image.builder != BuilderKind::Docker),
                authfile.as_ref().map(|a| a.0.as_path()),
                self.repository.is_loopback(),
            );
            builder::run(&argv, &BTreeMap::new(), None)?;
        }
        drop(authfile);
        let pushed_digest = std::fs::read_to_string(&digestfile).ok();
        let _ = std::fs::remove_file(&digestfile);
        let digest = target
            .digest(version_tag)
            .await?
            .ok_or_else(|| PublishError::NotListed(self.repository.reference(version_tag)))?;
        if let Some(local) = pushed_digest.map(|d| d.trim().to_string()) {
            if !local.is_empty() && local != digest {
                tracing::warn!("the builder pushed {local} but the registry reports {digest}");
            }
        }
        let record = ImageRecord {
            version: self.version.to_string(),
            repository: self.repository.full(),
            reference: format!("{}@{digest}", self.repository.full()),
            digest,
            tags: self.tags.clone(),
        };
        record::save(git_dir, &self.record_key, &record)
            .map_err(io("write the image record in", &record::dir(git_dir)))?;
        Ok(Pushed {
            record,
            pushed: true,
        })
    }
}

/// Put `tag` on the image of `version` (its recorded digest, else its version tag).
pub async fn promote(
    git_dir: &Path,
    image: &ImageConfig,
    version: &Version,
    tag: &str,
    environ: &Environ,
) -> Result<Promotion> {
    let repository = Repository::parse(&image.repository)?;
    let source = record::load(git_dir, &version.to_string())
        .map_err(io("read the image record in", &record::dir(git_dir)))?
        .filter(|r| r.repository == repository.full())
        .map_or_else(|| image::version_tag(version), |r| r.digest);
    let target = PushTarget::open(image, &repository, environ).await?;
    target.promote(&source, tag).await
}

/// Where images go: ECR through its API, any other registry through the distribution API.
pub struct PushTarget {
    ecr: Option<Ecr>,
    registry: Registry,
    /// Registry credentials for the builder, when needed.
    pub credentials: Option<Credentials>,
}

impl PushTarget {
    /// Connect; for ECR check the repository (creating it when configured) and log in.
    pub async fn open(
        image: &ImageConfig,
        repository: &Repository,
        environ: &Environ,
    ) -> Result<PushTarget> {
        if repository.ecr().is_none() {
            return PushTarget::other(repository, environ);
        }
        let aws = crate::adapters::aws::config().await;
        let Some(ecr) = Ecr::new(&aws, repository) else {
            // Not reached: `repository.ecr()` said it is an ECR host.
            return PushTarget::other(repository, environ);
        };
        ecr.ensure_repository(image.create_repository).await?;
        let credentials = ecr.login().await?;
        let registry = Registry::new(repository, Some(credentials.clone()));
        Ok(PushTarget {
            ecr: Some(ecr),
            registry,
            credentials: Some(credentials),
        })
    }

    /// Any registry but ECR, with the credentials found for its host.
    fn other(repository: &Repository, environ: &Environ) -> Result<PushTarget> {
        let credentials = auth::lookup(&repository.registry, environ)?;
        match &credentials {
            Some(c) => tracing::info!(
                "registry {}: credentials of {} from {}",
                repository.registry,
                c.user,
                c.source
            ),
            None => tracing::debug!(
                "registry {}: no credentials, anonymous",
                repository.registry
            ),
        }
        Ok(PushTarget {
            ecr: None,
            registry: Registry::new(repository, credentials.clone()),
            credentials,
        })
    }

    /// The digest under `tag`.
    pub async fn digest(&self, tag: &str) -> Result<Option<String>> {
        match &self.ecr {
            Some(e) => Ok(e.digest(tag).await?),
            None => Ok(self.registry.digest(tag)?),
        }
    }

    /// Every image of the repository: on ECR with the time it was pushed; elsewhere the
    /// tagged ones (the distribution API lists tags, not untagged manifests), age unknown.
    pub async fn images(&self) -> Result<Vec<StoredImage>> {
        if let Some(e) = &self.ecr {
            return Ok(e.images().await?);
        }
        let mut by_digest: Vec<StoredImage> = Vec::new();
        for tag in self.registry.tags()? {
            let Some(digest) = self.registry.digest(&tag)? else {
                continue;
            };
            match by_digest.iter_mut().find(|i| i.digest == digest) {
                Some(image) => image.tags.push(tag),
                None => by_digest.push(StoredImage {
                    digest,
                    tags: vec![tag],
                    pushed_at: None,
                }),
            }
        }
        Ok(by_digest)
    }

    /// Delete the image at `digest` with every tag on it.
    pub async fn delete(&self, digest: &str) -> Result<()> {
        match &self.ecr {
            Some(e) => Ok(e.delete(digest).await?),
            None => Ok(self.registry.delete(digest)?),
        }
    }

    /// Put `tag` on the image at `source` (tag or digest).
    pub async fn promote(&self, source: &str, tag: &str) -> Result<Promotion> {
        match &self.ecr {
            Some(e) => Ok(e.promote(source, tag).await?),
            None => Ok(self.registry.promote(source, tag)?),
        }
    }
}

/// A buildah/podman auth file readable only by us, removed when dropped.
struct AuthFile(PathBuf);

impl AuthFile {
    fn write(dir: &Path, repository: &Repository, c: &Credentials) -> std::io::Result<AuthFile> {
        use std::io::Write as _;
        let path = dir.join(format!("auth-{}.json", std::process::id()));
        let body =
            serde_json::json!({ "auths": { repository.registry.clone(): { "auth": c.auth } } });
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = AuthFile(path);
        let mut f = options.open(&file.0)?;
        f.write_all(body.to_string().as_bytes())?;
        Ok(file)
    }
}

impl Drop for AuthFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The image step of `release cut`: build and push the version's image, unless the registry
/// already has it at the recorded digest. Returns what it did and whether it changed anything.
pub async fn cut_step(
    repo: &git2::Repository,
    root: &Path,
    config: &Config,
    version: &Version,
    created: i64,
    environ: &Environ,
) -> Result<(String, bool)> {
    let job = ImageJob::new(repo, root, config, version.clone(), environ)?;
    run_cut_step(job, created).await
}

/// The image step of `release cut` for image `image` of a package's release `tag`: as
/// [`cut_step`], the digest recorded under `record_key` ([`record::package_key`]).
#[allow(clippy::too_many_arguments)]
pub async fn package_cut_step(
    repo: &git2::Repository,
    root: &Path,
    image: &ImageConfig,
    tag: &str,
    version: &Version,
    record_key: String,
    created: i64,
    environ: &Environ,
) -> Result<(String, bool)> {
    let job = ImageJob::of(repo, root, image, tag, version.clone(), record_key, environ)?;
    run_cut_step(job, created).await
}

/// Build and push `job`'s image unless the registry has it at the recorded digest.
async fn run_cut_step(job: ImageJob<'_>, created: i64) -> Result<(String, bool)> {
    let mut run = ImageRun {
        job,
        created,
        released: None,
        pushed: None,
    };
    step::run(&IMAGE_STEPS, &mut run, RunOptions::default(), |_| Ok(())).await?;
    Ok(match (&run.pushed, ImageRun::recorded(&run.job)?) {
        // A build whose push found the version there already changed nothing in the registry.
        (Some(pushed), _) => (format!("image {}", pushed.record.reference), pushed.pushed),
        (None, Some(r)) => (format!("image {}", r.reference), false),
        (None, None) => (
            format!("image {}", run.job.repository.reference(&run.job.tags[0])),
            false,
        ),
    })
}

/// The steps of an image release, in order.
const IMAGE_STEPS: [ImageStep; 2] = [ImageStep::Build, ImageStep::Push];

/// One step of an image release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImageStep {
    /// Build the image with every tag.
    Build,
    /// Push every tag, and record the digest.
    Push,
}

/// What the image steps work on.
struct ImageRun<'a> {
    job: ImageJob<'a>,
    created: i64,
    /// Whether the registry had the version at its recorded digest when the run began.
    released: Option<bool>,
    pushed: Option<Pushed>,
}

impl ImageRun<'_> {
    /// The digest `release image push` recorded for this version and repository.
    fn recorded(job: &ImageJob<'_>) -> Result<Option<record::ImageRecord>> {
        let git_dir = job.repo.path();
        Ok(record::load(git_dir, &job.record_key)
            .map_err(io("read the image record in", &record::dir(git_dir)))?
            .filter(|r| r.repository == job.repository.full()))
    }

    /// Whether the registry has the version's tag at the recorded digest: then both steps are
    /// done (a re-run does not rebuild).
    async fn released(&mut self) -> Result<bool> {
        if let Some(released) = self.released {
            return Ok(released);
        }
        let released = match ImageRun::recorded(&self.job)? {
            Some(r) => {
                let target =
                    PushTarget::open(self.job.image, &self.job.repository, self.job.environ)
                        .await?;
                target.digest(&self.job.tags[0]).await?.as_deref() == Some(r.digest.as_str())
            }
            None => false,
        };
        self.released = Some(released);
        Ok(released)
    }
}

impl Step<ImageRun<'_>> for ImageStep {
    type Error = PublishError;

    fn name(&self, run: &ImageRun<'_>) -> String {
        let reference = run.job.repository.reference(&run.job.tags[0]);
        match self {
            ImageStep::Build => format!("build {reference}"),
            ImageStep::Push => format!("push {reference}"),
        }
    }

    fn boundary(&self) -> &'static str {
        match self {
            ImageStep::Build => "image-build",
            ImageStep::Push => "image-push",
        }
    }

    fn stopped(&self, signal: Interrupted, _: &ImageRun<'_>) -> PublishError {
        PublishError::Interrupted(signal)
    }

    async fn check(&self, run: &mut ImageRun<'_>) -> Result<Option<StepState>> {
        Ok(run.released().await?.then_some(StepState::Done))
    }

    async fn apply(&self, run: &mut ImageRun<'_>) -> Result<Applied> {
        match self {
            ImageStep::Build => {
                run.job.build(run.created).await?;
                Ok(StepState::Applied.into())
            }
            ImageStep::Push => {
                let pushed = run.job.push().await?;
                let state = if pushed.pushed {
                    StepState::Applied
                } else {
                    StepState::Done
                };
                run.pushed = Some(pushed);
                Ok(state.into())
            }
        }
    }
}
