//! Rollouts: deploy a version's digest to an environment's ECS services, wait for the pinned
//! deployments and the health gate, roll back to the last completed deployment on failure;
//! approvals, promotion gates, manual rollbacks, and what the ledger says.
//!
//! Every step checks the ledger and ECS before acting, so a run killed anywhere is finished by
//! running the same command again: a deploy whose services were already updated waits on the
//! recorded deployments instead of starting new ones.
//!
//! [`deploy`] runs a deploy's steps, [`wait`] follows ECS, [`gate`] probes the health URL,
//! [`rollback`] goes back, [`approve`] keeps the gates and approvals, [`status`] says what runs
//! where, and [`images`] finds a version's digest. The decisions are the core's
//! ([`crate::core::deployment`]).

mod alarms;
mod approve;
mod deploy;
mod fleet;
mod gate;
mod images;
mod keep;
mod migrate;
mod rollback;
mod scan;
mod stages;
mod status;
mod wait;

pub use images::{ImageSourceError, RegistryImages};
pub use migrate::dry_run_clause as migration_clause;
pub use status::{EnvStatus, Waiting};

use serde::Serialize;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::adapters::aws::ecs::{Ecs, EcsError};
use crate::adapters::git;
use crate::adapters::health::Probe;
use crate::config::environ::Environ;
use crate::config::environments::EnvironmentConfig;
use crate::config::Config;
use crate::core::deployment::{self, Gate, GateState, Progress};
use crate::core::identity::{Identity, Resolution};
use crate::core::release_gate;
use crate::core::service::{
    RolloutState, ServiceDeploymentView, ServiceStatus, ServiceView, StrategyPlan,
};
use crate::core::step::StepState;
use crate::ledger::{
    self, Action, Approval, Decision, Holder, Ledger, LedgerError, Record, ReleaseRecord,
    ServiceState, Snapshot, Status,
};
use crate::util::fault;

/// A rollout that cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// No such environment in `release.toml`.
    #[error("no environment `{0}` in release.toml (configured: {1})")]
    UnknownEnvironment(String, String),
    /// The alarms could not be read, or one does not exist.
    #[error("alarms: {0}")]
    Alarms(String),
    /// The image scan could not be read.
    #[error("the image scan gate: {0}")]
    Scan(String),
    /// The gates of the environment refuse the version.
    #[error("{version} cannot go to {env} yet:\n  - {}", .missing.join("\n  - "))]
    Refused {
        /// The version.
        version: String,
        /// The environment.
        env: String,
        /// What is missing.
        missing: Vec<String>,
    },
    /// The gates passed when the run started but not once it held the lock: something
    /// changed while it waited (a rejection, a new deploy of the required environment).
    #[error("{version} cannot go to {env}: its gates were checked again once this run held the lock, and they no longer pass (nothing was changed in {env}):\n  - {}", .missing.join("\n  - "))]
    RefusedAfterLock {
        /// The version.
        version: String,
        /// The environment.
        env: String,
        /// What is missing now.
        missing: Vec<String>,
    },
    /// The image found for a version is not the digest it was first recorded with (a version
    /// tag pushed again, a local record of another push).
    #[error("{version} was first recorded as {recorded}, but {source_name} points at {found}: a version's image never changes; release the new image as a new version (or, if {found} is the right one, remove its recorded digest from the ledger by hand)")]
    DigestMoved {
        /// The version.
        version: String,
        /// The digest it was first recorded with.
        recorded: String,
        /// Where the other digest was found.
        source_name: String,
        /// The other digest.
        found: String,
    },
    /// An approval is refused.
    #[error("{0}")]
    NotAllowed(String),
    /// The image of the version cannot be found.
    #[error("no image digest known for {version}: {why}")]
    NoImage {
        /// The version.
        version: String,
        /// Where it was looked for.
        why: ImageSourceError,
    },
    /// Nothing to roll back to.
    #[error("{0}")]
    NoRollbackTarget(String),
    /// A service cannot take a deploy (deleted, scaled to 0): found before anything changed.
    #[error("cannot deploy to {env}, nothing was changed:\n  - {}", .problems.join("\n  - "))]
    NotReady {
        /// The environment.
        env: String,
        /// One line per service.
        problems: Vec<String>,
    },
    /// A deploy of `release cut` failed (and was rolled back): what failed, what runs now.
    #[error("{0}")]
    Failed(String),
    /// The migration before the deploy failed: no service was changed.
    #[error("the migration of {version} in {env} failed: {why}")]
    MigrationFailed {
        /// The version.
        version: String,
        /// The environment.
        env: String,
        /// Why (exit code, stop reason, timeout).
        why: String,
    },
    /// ECS did not complete the deployment, or the health gate failed: why.
    #[error("{0}")]
    Unhealthy(String),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// ECS failed.
    #[error(transparent)]
    Ecs(#[from] EcsError),
    /// The registry failed while tagging the environment's image.
    #[error("image tag `{tag}`: {message}")]
    Tag {
        /// The tag.
        tag: String,
        /// Why.
        message: ImageSourceError,
    },
}

/// How a rollout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployOutcome {
    /// The version runs and passed its gates.
    Deployed,
    /// It already ran there, completed.
    AlreadyDeployed,
    /// It failed and the environment was rolled back.
    RolledBack,
    /// It failed and there was nothing to roll back to.
    Failed,
    /// It failed and the rollback failed too.
    RollbackFailed,
    /// Its migration failed: no service was changed, nothing to roll back.
    MigrationFailed,
}

impl DeployOutcome {
    /// Whether the command succeeded.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            DeployOutcome::Deployed | DeployOutcome::AlreadyDeployed
        )
    }
}

/// What a deploy or rollback did (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// How it ended.
    pub outcome: DeployOutcome,
    /// What was asked for: a deploy (or promotion), or a rollback.
    pub action: Action,
    /// The environment.
    pub env: String,
    /// The version asked for.
    pub version: Option<String>,
    /// Its image, `repository@digest`.
    pub image: Option<String>,
    /// Why it failed.
    pub reason: Option<String>,
    /// What runs there now.
    pub running: Option<Record>,
    /// The migration run (or found already run) before the services changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<crate::core::migration::MigrationRecord>,
}

impl DeployReport {
    /// One paragraph for people.
    pub fn summary(&self) -> String {
        let version = self.version.as_deref().unwrap_or("?");
        let runs = self
            .running
            .as_ref()
            .map(|r| {
                format!(
                    "{} ({})",
                    r.version
                        .as_deref()
                        .unwrap_or("the version from before release-agent"),
                    r.services
                        .iter()
                        .map(|s| format!(
                            "{} on {}",
                            s.service,
                            deployment::short_name(&s.task_definition)
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .unwrap_or_else(|| "unknown".into());
        let reason = self.reason.as_deref().unwrap_or("unknown reason");
        if self.action == Action::Rollback {
            let again = match &self.version {
                Some(v) => format!("release rollback --env {} --to {v}", self.env),
                None => format!("release rollback --env {}", self.env),
            };
            return match self.outcome {
                o if o.is_success() => format!("rolled {} back to {version}: {runs} runs now", self.env),
                _ => format!(
                    "rolling {} back to {version} failed: {reason}\nfix that, then run `{again}` (README: \"When a rollback fails\")",
                    self.env
                ),
            };
        }
        match self.outcome {
            DeployOutcome::Deployed => format!("{version} runs in {}: {runs}", self.env),
            DeployOutcome::AlreadyDeployed => format!("{version} already runs in {}: {runs}", self.env),
            DeployOutcome::RolledBack => format!(
                "deploying {version} to {} failed: {reason}\nrolled back: {runs} runs now",
                self.env
            ),
            DeployOutcome::Failed => format!(
                "deploying {version} to {} failed: {reason}\nnothing completed there before, so nothing was rolled back",
                self.env
            ),
            DeployOutcome::MigrationFailed => format!(
                "deploying {version} to {} failed before any service changed: {reason}\nno service was updated, so nothing was rolled back; fix the migration and deploy again (a failed migration runs again)",
                self.env
            ),
            DeployOutcome::RollbackFailed => format!(
                "deploying {version} to {} failed, and so did the rollback: {reason}\n{}\nfix that, then run `release rollback --env {}` (README: \"When a rollback fails\")",
                self.env,
                self.running
                    .as_ref()
                    .and_then(|r| r.reason.as_deref())
                    .unwrap_or("the rollback left no record"),
                self.env
            ),
        }
    }
}

/// Who cut a version (its identities), from the release tag.
pub type Tagger<'a> = Box<dyn Fn(&str) -> Vec<String> + 'a>;

/// Everything a rollout needs.
pub struct Rollout<'a> {
    /// The loaded configuration.
    pub config: &'a Config,
    /// The ledger.
    pub ledger: Ledger,
    /// ECS.
    pub ecs: Ecs,
    /// Who runs this, resolved the first time it is needed (read-only commands never ask).
    who: tokio::sync::OnceCell<Resolution>,
    /// Where the identity comes from ([`crate::core::identity`]).
    repo: &'a git2::Repository,
    /// The AWS configuration (the STS caller is an identity).
    aws: aws_config::SdkConfig,
    /// The environment (identity from CI variables and tokens).
    environ: &'a Environ,
    /// Who cut a version: from the release tag (`version -> identities`).
    pub tagger: Tagger<'a>,
    /// Images.
    pub images: RegistryImages<'a>,
    /// The package whose versions this rollout deploys, and the container of its primary
    /// image (`None`: the root's versions).
    package: Option<(String, String)>,
    /// A package's other images, by the container they run in: each deployed by the
    /// registry's tag of the version.
    extra_images: Vec<(String, RegistryImages<'a>)>,
    /// How long to wait for another run's lock.
    pub lock_wait: Duration,
    /// Deploy although an alarm of the environment is in ALARM (`--force`).
    pub force_alarms: bool,
    /// Run the environment's migration even if it completed for the version
    /// (`--rerun-migrations`).
    pub rerun_migrations: bool,
    /// Scan findings read in this run, by environment and digest.
    scans: std::sync::Mutex<std::collections::HashMap<String, Vec<crate::core::scan::Finding>>>,
}

impl<'a> Rollout<'a> {
    fn env(&self, name: &str) -> Result<&'a EnvironmentConfig, DeployError> {
        self.config.environments.get(name).ok_or_else(|| {
            DeployError::UnknownEnvironment(
                name.to_string(),
                self.config
                    .environments
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })
    }

    fn say(&self, line: &str) {
        crate::util::progress::line(line);
    }

    /// Who runs this, from a credential where there is one.
    pub async fn who(&self) -> &Resolution {
        self.who
            .get_or_init(|| who(self.repo, self.config, &self.aws, self.environ))
            .await
    }

    /// Who runs this, as records name them.
    pub async fn by(&self) -> String {
        self.who().await.identity.by().to_string()
    }

    /// Run `work` holding `env`'s lock, which is given back however `work` ends.
    async fn locked<T>(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        purpose: &str,
        work: impl std::future::Future<Output = Result<T, DeployError>>,
    ) -> Result<T, DeployError> {
        let holder = Holder::me(
            &self.by().await,
            purpose,
            self.config.ledger.lock_ttl.0.max(env.timeout.0 * 3),
        );
        let lock = match self
            .ledger
            .lock(env_name, holder.clone(), Duration::ZERO)
            .await
        {
            Err(LedgerError::Locked { holder: other, .. }) if !self.lock_wait.is_zero() => {
                self.say(&format!(
                    "{env_name} is locked by {other}; waiting up to {}s for it",
                    self.lock_wait.as_secs()
                ));
                self.ledger.lock(env_name, holder, self.lock_wait).await?
            }
            other => other?,
        };
        let result = work.await;
        lock.release().await;
        result
    }
}

impl<'a> Rollout<'a> {
    /// The rollout of `repo` with its configuration: ledger, ECS and registry from the
    /// environment (`AWS_*`), who runs it from a credential ([`crate::core::identity`]).
    pub async fn open(
        repo: &'a git2::Repository,
        config: &'a Config,
        environ: &'a Environ,
    ) -> Rollout<'a> {
        let aws = crate::adapters::aws::config().await;
        let ledger = Ledger::open(&config.ledger, repo.path()).await;
        let prefix = config.tag_prefix.clone();
        Rollout {
            config,
            ledger,
            ecs: Ecs::new(&aws),
            who: tokio::sync::OnceCell::new(),
            repo,
            aws,
            tagger: Box::new(move |version| git::tagger(repo, &format!("{prefix}{version}"))),
            images: RegistryImages::new(repo.path(), config, environ),
            package: None,
            extra_images: Vec::new(),
            environ,
            lock_wait: Duration::ZERO,
            force_alarms: false,
            rerun_migrations: false,
            scans: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }
}

/// Who runs this: with the SSM ledger the AWS caller, in GitHub Actions `GITHUB_ACTOR`, else
/// the owner of a GitHub token, else git's `user.email` (unverified).
pub async fn who(
    repo: &git2::Repository,
    config: &Config,
    aws: &aws_config::SdkConfig,
    environ: &Environ,
) -> Resolution {
    let env = |k: &str| environ.get_raw(k).map(str::to_string);
    let ssm = config.ledger.backend == crate::config::environments::LedgerBackend::Ssm;
    let caller_arn = if ssm {
        Some(crate::adapters::aws::sts::aws_caller(aws).await)
    } else {
        None
    };
    let caller = || caller_arn.clone().unwrap_or_else(|| Err(String::new()));
    crate::core::identity::resolve(&crate::core::identity::Credentials {
        env: &env,
        aws_caller: ssm.then_some(&caller as &dyn Fn() -> Result<String, String>),
        github_login: &crate::adapters::github::github_login,
        git_email: git::user_email(repo),
    })
}

impl<'a> Rollout<'a> {
    /// This rollout for the versions `env_name` runs: its package's tags and images when it
    /// names one (`package`), else unchanged.
    pub fn for_env(self, env_name: &str) -> Rollout<'a> {
        match self
            .config
            .environments
            .get(env_name)
            .and_then(|e| e.package.clone().map(|p| (p, e.container.clone())))
        {
            Some((package, container)) => self.for_package(package, &container),
            None => self,
        }
    }

    pub(super) fn for_package(mut self, package: String, container: &str) -> Rollout<'a> {
        let prefix = self.config.tag_prefix_of(Some(&package));
        let repo = self.repo;
        let mut images = self
            .config
            .packages
            .get(&package)
            .map(|p| p.deployed_images(container))
            .unwrap_or_default()
            .into_iter()
            .map(|(c, name, i)| {
                let images = RegistryImages::of_package(
                    repo.path(),
                    i,
                    &prefix,
                    name.as_deref(),
                    self.environ,
                );
                (c, images)
            });
        self.images = match images.next() {
            Some((_, primary)) => primary,
            None => RegistryImages::of(repo.path(), None, self.environ),
        };
        self.extra_images = images.collect();
        self.tagger = Box::new(move |version| git::tagger(repo, &format!("{prefix}{version}")));
        self.package = Some((package, container.to_string()));
        self
    }

    /// The name a version's digest is kept under in the ledger: a package's versions by
    /// their tag (`api-v1.4.0`), apart from the root's and other packages' same numbers.
    pub(super) fn digest_key(&self, version: &str) -> String {
        match &self.package {
            Some((p, _)) => format!("{}{version}", self.config.tag_prefix_of(Some(p))),
            None => version.to_string(),
        }
    }
}
