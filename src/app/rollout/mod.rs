//! Rollouts: deploy a version's digest to an environment's ECS services, wait for the pinned
//! deployments and the health gate, roll back to the last completed deployment on failure;
//! approvals, promotion gates, manual rollbacks, and what the ledger says.
//!
//! Every step checks the ledger and ECS before acting, so a run killed anywhere is finished by
//! running the same command again: a deploy whose services were already updated waits on the
//! recorded deployments instead of starting new ones.

mod images;

pub use images::{ImageSource, ImageSourceError, RegistryImages};

use serde::Serialize;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::adapters::aws::ecs::{Ecs, EcsError};
use crate::adapters::health::Probe;
use crate::config::environments::EnvironmentConfig;
use crate::config::Config;
use crate::core::deployment::{self, Gate, GateState, Progress};
use crate::core::identity::{Identity, Resolution};
use crate::core::service::{RolloutState, ServiceStatus, ServiceView};
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
pub enum Outcome {
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
}

impl Outcome {
    /// Whether the command succeeded.
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Deployed | Outcome::AlreadyDeployed)
    }
}

/// What a deploy or rollback did (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// How it ended.
    pub outcome: Outcome,
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
            Outcome::Deployed => format!("{version} runs in {}: {runs}", self.env),
            Outcome::AlreadyDeployed => format!("{version} already runs in {}: {runs}", self.env),
            Outcome::RolledBack => format!(
                "deploying {version} to {} failed: {reason}\nrolled back: {runs} runs now",
                self.env
            ),
            Outcome::Failed => format!(
                "deploying {version} to {} failed: {reason}\nnothing completed there before, so nothing was rolled back",
                self.env
            ),
            Outcome::RollbackFailed => format!(
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

/// What the gates of an environment judge a version by.
struct Gates {
    /// The history of the required environment (empty without one).
    required_history: Vec<Record>,
    /// The approvals that count (for the digest judged).
    tally: deployment::ApprovalTally,
    /// Who cut the version.
    cutters: Vec<String>,
}

impl Gates {
    /// What keeps the version out (empty: nothing).
    fn blockers(&self, env_name: &str, env: &EnvironmentConfig, version: &str) -> Vec<String> {
        deployment::promotion_blockers(env_name, env, version, &self.required_history, &self.tally)
    }
}

/// Everything a rollout needs.
pub struct Rollout<'a> {
    /// The loaded configuration.
    pub config: &'a Config,
    /// The ledger.
    pub ledger: Ledger,
    /// ECS.
    pub ecs: Ecs,
    /// Who runs this, resolved the first time it is needed (read-only commands never ask).
    who: std::cell::OnceCell<Resolution>,
    /// Resolves who runs this ([`crate::core::identity`]).
    whoami: Box<dyn Fn() -> Resolution + 'a>,
    /// Who cut a version: from the release tag (`version -> identities`).
    pub tagger: Tagger<'a>,
    /// Images.
    pub images: Box<dyn ImageSource + 'a>,
    /// How long to wait for another run's lock.
    pub lock_wait: Duration,
    /// The async runtime the AWS calls run on.
    pub rt: &'a tokio::runtime::Runtime,
}

/// One environment in `release status`.
#[derive(Debug, Clone, Serialize)]
pub struct EnvStatus {
    /// The name.
    pub env: String,
    /// What runs or is being deployed.
    pub current: Option<Record>,
    /// Versions that completed in the required environment and wait here, newest first.
    pub waiting: Vec<Waiting>,
    /// Where ECS differs from the ledger (a service changed by hand, a deploy under way);
    /// empty when they agree.
    pub drift: Vec<String>,
}

/// A version waiting for an environment.
#[derive(Debug, Clone, Serialize)]
pub struct Waiting {
    /// The version.
    pub version: String,
    /// Who approved it.
    pub approved_by: Vec<String>,
    /// Approvals needed.
    pub approvals_needed: u32,
    /// What still blocks it (empty: ready to promote).
    pub blockers: Vec<String>,
}

impl<'a> Rollout<'a> {
    fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

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
    pub fn who(&self) -> &Resolution {
        self.who.get_or_init(|| (self.whoami)())
    }

    /// Who runs this, as records name them.
    pub fn by(&self) -> String {
        self.who().identity.by().to_string()
    }

    /// Who cut `version`: recorded by `release cut` (every name of its identity), and the
    /// release tag's tagger.
    pub fn cutters(&self, version: &str) -> Result<Vec<String>, DeployError> {
        let mut who = (self.tagger)(version);
        if let Some(info) = self.block(self.ledger.release(version))? {
            who.extend(info.identity.iter().flat_map(Identity::names));
            who.push(info.cut_by);
        }
        Ok(who)
    }

    /// Record who cut `version` (by `release cut`), and fix its digest when the cut pushed one.
    pub fn record_release(&self, version: &str, digest: Option<String>) -> Result<(), DeployError> {
        self.block(self.ledger.put_release(&ReleaseRecord {
            version: version.to_string(),
            cut_by: self.by(),
            identity: Some(self.who().identity.clone()),
            digest: digest.clone(),
        }))?;
        if let Some(digest) = digest {
            let image = self.images.reference(&digest).ok();
            self.fix_digest(version, image.as_deref(), &digest)?;
        }
        Ok(())
    }

    /// Record `digest` as `version`'s digest if none is yet; refused when another one is.
    fn fix_digest(
        &self,
        version: &str,
        image: Option<&str>,
        digest: &str,
    ) -> Result<(), DeployError> {
        let fixed = self.block(self.ledger.fix_digest(&ledger::ImageDigest {
            version: version.to_string(),
            digest: digest.to_string(),
            image: image.map(str::to_string),
            by: self.by(),
            at: ledger::timestamp(),
        }))?;
        if fixed.digest != digest {
            return Err(DeployError::DigestMoved {
                version: version.to_string(),
                recorded: fixed.digest,
                source_name: "this run's image".into(),
                found: digest.to_string(),
            });
        }
        Ok(())
    }

    /// What keeps `version` from `env` (empty: nothing).
    pub fn blockers(&self, env_name: &str, version: &str) -> Result<Vec<String>, DeployError> {
        let env = self.env(env_name)?;
        Ok(self
            .gates(env_name, env, version)?
            .blockers(env_name, env, version))
    }

    /// The approvals of `version` for `env` that count for `digest` (unknown: all), and who
    /// cut it.
    fn tally(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
        digest: Option<&str>,
    ) -> Result<(deployment::ApprovalTally, Vec<String>), DeployError> {
        let entries = self.block(self.ledger.approval_entries(env_name, version))?;
        let fixed = self.block(self.ledger.digest(version))?.map(|d| d.digest);
        let (counted, ignored) =
            deployment::bound_to_digest(version, &entries.approvals, digest, fixed.as_deref());
        let cutters = self.cutters(version)?;
        let mut tally = deployment::tally(env_name, env, &counted, &cutters);
        tally.ignored.extend(ignored);
        tally.unreadable = entries.unreadable;
        Ok((tally, cutters))
    }

    /// The digest `version` would go to `env` with, as far as the ledger knows (no registry):
    /// the one that completed in the required environment, else its recorded digest.
    fn known_digest(
        &self,
        env: &EnvironmentConfig,
        version: &str,
        required_history: &[Record],
    ) -> Result<Option<String>, DeployError> {
        if env.requires.is_some() {
            return Ok(
                deployment::completed_in(required_history, version).and_then(|r| r.digest.clone())
            );
        }
        Ok(self.block(self.ledger.digest(version))?.map(|d| d.digest))
    }

    /// Everything the gates of `env` judge `version` by, read once; approvals are counted
    /// for `digest`, else for the digest the ledger knows.
    fn gates_for(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
        digest: Option<&str>,
    ) -> Result<Gates, DeployError> {
        let required_history = match &env.requires {
            Some(r) => self.block(self.ledger.history(r))?,
            None => Vec::new(),
        };
        let known = match digest {
            Some(d) => Some(d.to_string()),
            None => self.known_digest(env, version, &required_history)?,
        };
        let (tally, cutters) = self.tally(env_name, env, version, known.as_deref())?;
        Ok(Gates {
            required_history,
            tally,
            cutters,
        })
    }

    /// [`Self::gates_for`] the digest the ledger knows.
    fn gates(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
    ) -> Result<Gates, DeployError> {
        self.gates_for(env_name, env, version, None)
    }

    /// Approve or reject `version` for `env` as the current actor.
    pub fn decide(
        &self,
        env_name: &str,
        version: &str,
        decision: Decision,
        note: Option<String>,
    ) -> Result<Approval, DeployError> {
        let env = self.env(env_name)?;
        let cutters = self.cutters(version)?;
        let who = &self.who().identity;
        if !who.is_verified() && !env.approvers.is_empty() {
            return Err(DeployError::NotAllowed(format!(
                "{} is not a verified identity ({}), and {env_name} lists approvers: {}",
                who.by(),
                who.source.describe(),
                self.who().advice()
            )));
        }
        deployment::may_approve(env_name, env, who, &cutters).map_err(DeployError::NotAllowed)?;
        let approval = Approval {
            version: version.to_string(),
            env: env_name.to_string(),
            by: self.by(),
            identity: Some(who.clone()),
            at: ledger::timestamp(),
            decision,
            note,
            digest: self.decision_digest(env, version)?,
        };
        self.block(self.ledger.add_approval(&approval))?;
        Ok(approval)
    }

    /// The digest a decision on `version` for `env` is about: the one that completed in the
    /// required environment, else the recorded one, else what `release image push` recorded
    /// here or the registry's version tag. Unknown (`None`) when none can be read: such a
    /// decision counts for the version's first recorded digest only.
    fn decision_digest(
        &self,
        env: &EnvironmentConfig,
        version: &str,
    ) -> Result<Option<String>, DeployError> {
        let required_history = match &env.requires {
            Some(r) => self.block(self.ledger.history(r))?,
            None => Vec::new(),
        };
        if let Some(d) =
            deployment::completed_in(&required_history, version).and_then(|r| r.digest.clone())
        {
            return Ok(Some(d));
        }
        if let Some(d) = self.block(self.ledger.digest(version))? {
            return Ok(Some(d.digest));
        }
        if let Some((_, d)) = self.images.recorded(version) {
            return Ok(Some(d));
        }
        Ok(match self.images.tagged(version) {
            Ok(found) => found.map(|(_, d)| d),
            Err(why) => {
                tracing::warn!(
                    "cannot read the image of {version} ({why}): the decision counts for the digest {version} is first recorded with"
                );
                None
            }
        })
    }

    /// The image to deploy: for an environment that requires another, the very digest that
    /// completed there; else the version's recorded digest, else its image (the record of
    /// `release image push` here, else the registry's version tag). A digest found anywhere
    /// that differs from the recorded one is refused, both named.
    fn image_for(
        &self,
        required_history: &[Record],
        version: &str,
    ) -> Result<(String, String), DeployError> {
        let fixed = self.block(self.ledger.digest(version))?;
        let moved = |recorded: &str, source_name: String, found: &str| DeployError::DigestMoved {
            version: version.to_string(),
            recorded: recorded.to_string(),
            source_name,
            found: found.to_string(),
        };
        if let Some(r) = deployment::completed_in(required_history, version) {
            if let (Some(image), Some(digest)) = (&r.image, &r.digest) {
                // Without a recorded digest (a ledger from before digests were recorded), the
                // first digest the version completed with there is the one it was given for.
                let first = fixed
                    .map(|f| f.digest)
                    .or_else(|| deployment::first_completed_digest(required_history, version));
                if let Some(first) = first.filter(|f| f != digest) {
                    return Err(moved(
                        &first,
                        format!(
                            "the deploy of {version} that completed in {} ({})",
                            r.env, r.at
                        ),
                        digest,
                    ));
                }
                return Ok((image.clone(), digest.clone()));
            }
        }
        let no_image = |why: ImageSourceError| DeployError::NoImage {
            version: version.to_string(),
            why,
        };
        let tagged = self.images.tagged(version).map_err(no_image)?;
        let recorded = self.images.recorded(version);
        let (image, digest) = match fixed {
            Some(f) => {
                let image = match f.image {
                    Some(i) => i,
                    None => self.images.reference(&f.digest).map_err(no_image)?,
                };
                (image, f.digest)
            }
            None => recorded.clone().or_else(|| tagged.clone()).ok_or_else(|| {
                no_image(ImageSourceError::NotPushed {
                    tag: crate::core::image::version_tag_of(version),
                    version: version.to_string(),
                })
            })?,
        };
        for (source_name, found) in [
            (
                format!(
                    "the registry's tag {}",
                    crate::core::image::version_tag_of(version)
                ),
                tagged,
            ),
            (
                "the record of `release image push` in this clone".to_string(),
                recorded,
            ),
        ] {
            if let Some((_, d)) = found.filter(|(_, d)| *d != digest) {
                return Err(moved(&digest, source_name, &d));
            }
        }
        Ok((image, digest))
    }

    /// Judge `version` for `env` by every gate (the required environment, rejections,
    /// approvals of the digest that would go) and pick its image; refused with what is missing.
    fn judge(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
        after_lock: bool,
    ) -> Result<(String, String), DeployError> {
        let required_history = match &env.requires {
            Some(r) => self.block(self.ledger.history(r))?,
            None => Vec::new(),
        };
        // No image to judge before the required environment is done: its blocker says so.
        let image = if env.requires.is_some()
            && deployment::completed_in(&required_history, version).is_none()
        {
            None
        } else {
            Some(self.image_for(&required_history, version))
        };
        let digest = match &image {
            Some(Ok((_, d))) => Some(d.as_str()),
            _ => None,
        };
        let (tally, _) = self.tally(env_name, env, version, digest)?;
        let missing =
            deployment::promotion_blockers(env_name, env, version, &required_history, &tally);
        let (version, env_name) = (version.to_string(), env_name.to_string());
        // A missing image matters only once nothing else blocks: the gates say more.
        let image = match image {
            Some(Err(e)) if missing.is_empty() => return Err(e),
            Some(Ok(image)) => Some(image),
            _ => None,
        };
        match image {
            Some(image) if missing.is_empty() => Ok(image),
            _ if after_lock => Err(DeployError::RefusedAfterLock {
                version,
                env: env_name,
                missing,
            }),
            _ => Err(DeployError::Refused {
                version,
                env: env_name,
                missing,
            }),
        }
    }

    /// Deploy `version` to `env`: gates, lock, gates again, task definitions, update, wait,
    /// health gate; on failure, roll back to the last completed deployment.
    pub fn deploy(&self, env_name: &str, version: &str) -> Result<DeployReport, DeployError> {
        let env = self.env(env_name)?;
        // Refused now: said at once, without waiting for the lock.
        self.judge(env_name, env, version, false)?;
        self.locked(env_name, env, &format!("deploy {version}"), || {
            // Again once the lock is held, right before the first write to ECS: while this
            // run waited, someone may have rejected the version, or the required environment
            // may have moved on. Only what passes now goes out.
            let (image, digest) = self.judge(env_name, env, version, true)?;
            self.fix_digest(version, Some(&image), &digest)?;
            self.deploy_locked(env_name, env, version, &image, &digest)
        })
    }

    /// Run `work` holding `env`'s lock, which is given back however `work` ends.
    fn locked<T>(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        purpose: &str,
        work: impl FnOnce() -> Result<T, DeployError>,
    ) -> Result<T, DeployError> {
        let holder = Holder::me(
            &self.by(),
            purpose,
            self.config.ledger.lock_ttl.0.max(env.timeout.0 * 3),
        );
        let lock = match self.block(self.ledger.lock(env_name, holder.clone(), Duration::ZERO)) {
            Err(LedgerError::Locked { holder: other, .. }) if !self.lock_wait.is_zero() => {
                self.say(&format!(
                    "{env_name} is locked by {other}; waiting up to {}s for it",
                    self.lock_wait.as_secs()
                ));
                self.block(self.ledger.lock(env_name, holder, self.lock_wait))?
            }
            other => other?,
        };
        let result = work();
        self.block(lock.release());
        result
    }

    fn deploy_locked(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
        image: &str,
        digest: &str,
    ) -> Result<DeployReport, DeployError> {
        let current = self.block(self.ledger.current(env_name))?;
        let report = |outcome, running: Option<Record>, reason: Option<String>| DeployReport {
            outcome,
            action: Action::Deploy,
            env: env_name.to_string(),
            version: Some(version.to_string()),
            image: Some(image.to_string()),
            reason,
            running,
        };
        let views = self.block(self.ecs.describe_services(&env.cluster, &env.services))?;
        preflight(env_name, env, &views)?;

        // A rollback that a killed run left unfinished is finished first; when it was the
        // rollback of this very deploy, the deploy is not started again.
        if let Some((record, failed_deploy)) = self.unfinished_rollback(current.as_ref(), &views)? {
            let this_deploy = failed_deploy.as_ref().filter(|d| {
                d.version.as_deref() == Some(version) && d.digest.as_deref() == Some(digest)
            });
            self.say(&format!(
                "finishing the interrupted rollback of {env_name} first"
            ));
            let (outcome, running) = self.finish_rollback(env_name, env, record, &views, true)?;
            if let Some(d) = this_deploy {
                let why = d
                    .reason
                    .clone()
                    .unwrap_or_else(|| "no reason recorded".into());
                let outcome = if outcome.is_success() {
                    Outcome::RolledBack
                } else {
                    Outcome::RollbackFailed
                };
                return Ok(report(outcome, Some(running), Some(why)));
            }
            if !outcome.is_success() {
                return Ok(report(
                    Outcome::RollbackFailed,
                    Some(running.clone()),
                    running.reason.clone(),
                ));
            }
            // Rolled back: what runs now is the new starting point.
            return self.deploy_locked(env_name, env, version, image, digest);
        }

        // Already there, completed, and ECS still runs it: only the tag may be missing.
        if let Some(c) = &current {
            if c.status == Status::Completed
                && c.version.as_deref() == Some(version)
                && c.digest.as_deref() == Some(digest)
                && runs_completed(&views, &c.services)
            {
                self.tag_environment(env_name, env, digest)?;
                return Ok(report(Outcome::AlreadyDeployed, Some(c.clone()), None));
            }
        }

        let baseline = match &current {
            Some(c) => c.last_completed.clone(),
            None => self.adopt(env_name, env, &views)?,
        };

        // A run of the same deploy that was killed after updating: wait on its deployments.
        let resumed = current.as_ref().filter(|c| {
            c.status == Status::InProgress
                && c.action == Action::Deploy
                && c.version.as_deref() == Some(version)
                && c.digest.as_deref() == Some(digest)
        });
        let mut record = match resumed {
            Some(c) => {
                self.say(&format!("resuming the deploy of {version} to {env_name}"));
                c.clone()
            }
            None => Record {
                env: env_name.to_string(),
                action: Action::Deploy,
                status: Status::InProgress,
                version: Some(version.to_string()),
                digest: Some(digest.to_string()),
                image: Some(image.to_string()),
                services: Vec::new(),
                by: self.by(),
                identity: Some(self.who().identity.clone()),
                at: ledger::timestamp(),
                reason: None,
                last_completed: baseline.clone(),
            },
        };

        // Nothing in ECS has changed before the services are updated: a failure up to here
        // is only reported.
        if record.services.len() != env.services.len() {
            record.services = self.register(env, &views, image)?;
            self.block(self.ledger.write(&record))?;
        }
        fault::point("register-task-definitions");
        // From the first UpdateService on, any failure rolls back every service that changed.
        let failure = match self.update_services(env, &views, &mut record, resumed.is_some()) {
            Err(DeployError::Ledger(e)) => return Err(DeployError::Ledger(e)),
            Err(e) => Some(e.to_string()),
            Ok(()) => {
                fault::point("update-services");
                // One deadline for ECS and the health gate together.
                let deadline = Instant::now() + env.timeout.0;
                match self.wait(env, &record, &views, deadline) {
                    Ok(()) => self.gate(env, version, deadline).err(),
                    Err(why) => Some(why),
                }
            }
        };
        match failure {
            None => {
                record.status = Status::Completed;
                record.at = ledger::timestamp();
                record.last_completed = Some(record.snapshot());
                self.block(self.ledger.write(&record))?;
                self.say(&format!("{version} completed in {env_name}"));
                self.tag_environment(env_name, env, digest)?;
                Ok(report(Outcome::Deployed, Some(record), None))
            }
            Some(why) => {
                record.status = Status::Failed;
                record.reason = Some(why.clone());
                record.at = ledger::timestamp();
                self.block(self.ledger.write(&record))?;
                self.say(&format!("deploy of {version} to {env_name} failed: {why}"));
                let Some(target) = baseline else {
                    return Ok(report(Outcome::Failed, None, Some(why)));
                };
                let (outcome, running) =
                    self.roll_back(env_name, env, &target, &format!("automatic: {why}"))?;
                let outcome = if outcome.is_success() {
                    Outcome::RolledBack
                } else {
                    Outcome::RollbackFailed
                };
                Ok(report(outcome, Some(running), Some(why)))
            }
        }
    }

    /// The rollback a killed run left unfinished, as the record to finish, and the failed
    /// deploy it undoes (for an automatic one). A rollback in progress is unfinished; so is a
    /// failed deploy whose rollback never started (killed between the two ledger writes) while
    /// ECS does not run what completed before it.
    fn unfinished_rollback(
        &self,
        current: Option<&Record>,
        views: &[ServiceView],
    ) -> Result<Option<(Record, Option<Record>)>, DeployError> {
        let Some(c) = current else {
            return Ok(None);
        };
        match (c.action, c.status) {
            (Action::Rollback, Status::InProgress) => {
                let automatic = c
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("automatic: "));
                let failed_deploy = if automatic {
                    let history = self.block(self.ledger.history(&c.env))?;
                    history
                        .iter()
                        .rev()
                        .find(|r| r.action == Action::Deploy)
                        .filter(|r| r.status == Status::Failed)
                        .cloned()
                } else {
                    None
                };
                Ok(Some((c.clone(), failed_deploy)))
            }
            (Action::Deploy, Status::Failed) => {
                let Some(target) = &c.last_completed else {
                    return Ok(None);
                };
                if runs_completed(views, &target.services) {
                    return Ok(None);
                }
                let why = c.reason.as_deref().unwrap_or("no reason recorded");
                let record = self.rollback_record(&c.env, target, &format!("automatic: {why}"));
                Ok(Some((record, Some(c.clone()))))
            }
            _ => Ok(None),
        }
    }

    /// The first deploy to an environment: what ECS runs now becomes the rollback target.
    fn adopt(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        views: &[ServiceView],
    ) -> Result<Option<Snapshot>, DeployError> {
        let services: Vec<ServiceState> = views
            .iter()
            .filter(|v| {
                v.primary().is_some_and(|p| {
                    p.task_definition == v.task_definition && p.rollout_completed()
                })
            })
            .map(|v| ServiceState {
                service: v.name.clone(),
                task_definition: v.task_definition.clone(),
                deployment_id: None,
            })
            .collect();
        if services.len() != env.services.len() {
            return Ok(None);
        }
        let mut record = Record {
            env: env_name.to_string(),
            action: Action::Adopted,
            status: Status::Completed,
            version: None,
            digest: None,
            image: None,
            services,
            by: self.by(),
            identity: Some(self.who().identity.clone()),
            at: ledger::timestamp(),
            reason: Some("running before release-agent's first deploy".into()),
            last_completed: None,
        };
        record.last_completed = Some(record.snapshot());
        self.block(self.ledger.write(&record))?;
        Ok(record.last_completed)
    }

    /// A task definition per service running `image` in the configured container: the
    /// current one if it already does, else a new revision of it.
    fn register(
        &self,
        env: &EnvironmentConfig,
        views: &[ServiceView],
        image: &str,
    ) -> Result<Vec<ServiceState>, DeployError> {
        let mut states = Vec::new();
        for view in views {
            let current = self.block(self.ecs.describe_task_definition(&view.task_definition))?;
            let arn = if current.image(&env.container)? == image {
                current.arn().to_string()
            } else {
                let arn = self.block(self.ecs.register_task_definition(
                    &current,
                    &env.container,
                    image,
                ))?;
                self.say(&format!(
                    "{}: registered {} with {image}",
                    view.name,
                    deployment::short_name(&arn)
                ));
                arn
            };
            states.push(ServiceState {
                service: view.name.clone(),
                task_definition: arn,
                deployment_id: None,
            });
        }
        Ok(states)
    }

    /// Point each service at its task definition and pin the deployment that starts, writing
    /// the record after each service; a service already on it (a re-run) keeps its
    /// deployment. Stops at the first refusal.
    fn update_services(
        &self,
        env: &EnvironmentConfig,
        views: &[ServiceView],
        record: &mut Record,
        resumed: bool,
    ) -> Result<(), DeployError> {
        for i in 0..record.services.len() {
            let view = views.iter().find(|v| v.name == record.services[i].service);
            if let Some(id) = self.update_one(env, view, &record.services[i], resumed)? {
                self.pin(record, i, id)?;
            }
        }
        Ok(())
    }

    /// Pin the deployment `id` that ECS started for the `i`th service of `record`, and record
    /// it at once: a run killed from here on waits on that deployment instead of starting one.
    fn pin(&self, record: &mut Record, i: usize, id: String) -> Result<(), DeployError> {
        let state = &mut record.services[i];
        self.say(&format!(
            "{}: deployment {id} of {}",
            state.service,
            deployment::short_name(&state.task_definition)
        ));
        state.deployment_id = Some(id);
        self.block(self.ledger.write(record))?;
        Ok(())
    }

    /// The deployment to pin for one service, sending `UpdateService` only when needed; `None`
    /// when the recorded one still stands. When the service is already set to the task
    /// definition, its primary deployment of it is pinned, unless that one failed: then a new
    /// deployment is forced (ECS starts nothing for an unchanged task definition). A resumed
    /// run pins even a failed one: it is the deployment the killed run started.
    fn update_one(
        &self,
        env: &EnvironmentConfig,
        view: Option<&ServiceView>,
        state: &ServiceState,
        resumed: bool,
    ) -> Result<Option<String>, DeployError> {
        let recorded = state.deployment_id.as_deref().and_then(|id| {
            view.and_then(|v| v.deployment(id))
                .filter(|d| d.task_definition == state.task_definition)
        });
        if recorded.is_some() {
            return Ok(None);
        }
        let same = view.is_some_and(|v| v.task_definition == state.task_definition);
        let existing = view
            .filter(|_| same)
            .and_then(|v| v.primary())
            .filter(|p| p.task_definition == state.task_definition)
            .filter(|p| resumed || p.rollout_state != Some(RolloutState::Failed));
        if let Some(p) = existing {
            return Ok(Some(p.id.clone()));
        }
        if same {
            self.say(&format!(
                "{}: already set to {}, forcing a new deployment",
                state.service,
                deployment::short_name(&state.task_definition)
            ));
        }
        let answer = self.block(self.ecs.update_service(
            &env.cluster,
            &state.service,
            &state.task_definition,
            same,
        ))?;
        let id = answer
            .primary()
            .filter(|p| p.task_definition == state.task_definition)
            .map(|p| p.id.clone())
            .ok_or(EcsError::Incomplete {
                call: "UpdateService",
                what: "a primary deployment of the new task definition",
            })?;
        Ok(Some(id))
    }

    /// Poll until every pinned deployment completes; `Err` says why not. One DescribeServices
    /// per poll for all services. Events already in `before` (the services as they were
    /// before the update) are not shown again; without them, the first poll's are not shown.
    fn wait(
        &self,
        env: &EnvironmentConfig,
        record: &Record,
        before: &[ServiceView],
        deadline: Instant,
    ) -> Result<(), String> {
        let pinned: Vec<(String, String)> = record
            .services
            .iter()
            .map(|s| {
                (
                    s.service.clone(),
                    s.deployment_id.clone().unwrap_or_default(),
                )
            })
            .collect();
        let mut seen: HashSet<String> = before
            .iter()
            .flat_map(|v| v.events.iter().map(|e| e.id.clone()))
            .collect();
        let mut first = before.is_empty();
        let mut last_line = String::new();
        let mut errors = 0;
        loop {
            // A passing network or throttling error is not a failed deployment: only several
            // in a row end the wait.
            let views = match self.block(self.ecs.describe_services(&env.cluster, &env.services)) {
                Ok(v) => {
                    errors = 0;
                    v
                }
                Err(e) if errors < 2 && Instant::now() < deadline => {
                    errors += 1;
                    self.say(&format!("  cannot read the services ({e}); trying again"));
                    std::thread::sleep(env.poll_interval.0);
                    continue;
                }
                Err(e) => return Err(e.to_string()),
            };
            for v in &views {
                let fresh = deployment::new_events(v, &mut seen);
                // Events from before this deploy are history, not progress.
                if !first {
                    for message in fresh {
                        self.say(&format!("  {message}"));
                    }
                }
            }
            first = false;
            let line = deployment::progress_line(&views, &pinned);
            if line != last_line {
                self.say(&format!("  {line}"));
                last_line = line;
            }
            match deployment::assess_all(&views, &pinned) {
                Progress::Completed => return Ok(()),
                Progress::Failed(why) => return Err(why),
                Progress::InProgress => {}
            }
            if Instant::now() >= deadline {
                return Err(format!("timed out after {} ({last_line})", env.timeout));
            }
            std::thread::sleep(env.poll_interval.0.min(deadline - Instant::now()));
        }
    }

    /// The health gate: `health_checks` good answers in a row pass, `health_failures` bad ones
    /// in a row (or the timeout) fail.
    fn gate(
        &self,
        env: &EnvironmentConfig,
        version: &str,
        deadline: Instant,
    ) -> Result<(), String> {
        let Some(url) = &env.health_url else {
            return Ok(());
        };
        let probe = Probe::new(
            url,
            env.expect_version.then(|| version.to_string()),
            env.poll_interval.0.max(Duration::from_secs(2)),
        );
        let mut gate = Gate::new(env);
        self.say(&format!("  health gate: {}", probe.url()));
        loop {
            let answer = probe.check();
            let state = gate.observe(answer.is_ok());
            if let Err(why) = &answer {
                self.say(&format!("  health: {why}"));
            }
            match state {
                GateState::Passed => {
                    self.say("  health gate passed");
                    return Ok(());
                }
                GateState::Failed => {
                    return Err(format!(
                        "health gate failed: {} answered {} {} time(s) in a row",
                        probe.url(),
                        answer.err().unwrap_or_default(),
                        env.health_failures
                    ))
                }
                GateState::Open => {}
            }
            if Instant::now() >= deadline {
                return Err(format!("health gate did not pass within {}", env.timeout));
            }
            std::thread::sleep(env.poll_interval.0);
        }
    }

    /// Put the environment's moving tag on `digest`.
    fn tag_environment(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        digest: &str,
    ) -> Result<(), DeployError> {
        if let Some(tag) = env.image_tag(env_name) {
            self.images
                .tag(digest, tag)
                .map_err(|message| DeployError::Tag {
                    tag: tag.to_string(),
                    message,
                })?;
        }
        Ok(())
    }

    /// A new rollback record of `env_name` to `target`, in progress.
    fn rollback_record(&self, env_name: &str, target: &Snapshot, reason: &str) -> Record {
        Record {
            env: env_name.to_string(),
            action: Action::Rollback,
            status: Status::InProgress,
            version: target.version.clone(),
            digest: target.digest.clone(),
            image: target.image.clone(),
            services: ledger::without_deployments(&target.services),
            by: self.by(),
            identity: Some(self.who().identity.clone()),
            at: ledger::timestamp(),
            reason: Some(reason.to_string()),
            last_completed: Some(target.clone()),
        }
    }

    /// Move every service of `env` that is not on `target` back to it and wait; the outcome
    /// and the record of what runs now.
    fn roll_back(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        target: &Snapshot,
        reason: &str,
    ) -> Result<(Outcome, Record), DeployError> {
        let record = self.rollback_record(env_name, target, reason);
        let views = self.block(self.ecs.describe_services(&env.cluster, &env.services));
        self.finish_rollback(
            env_name,
            env,
            record,
            views.as_deref().unwrap_or(&[]),
            false,
        )
    }

    /// Carry out the rollback `record` (new, or left by a killed run when `resumed`): it is
    /// written before the first `UpdateService`, so a run killed from then on finishes it. Every
    /// service is tried even when one is refused; a failed rollback is recorded with the
    /// services that still need attention.
    fn finish_rollback(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        mut record: Record,
        views: &[ServiceView],
        resumed: bool,
    ) -> Result<(Outcome, Record), DeployError> {
        let name = record
            .version
            .clone()
            .unwrap_or_else(|| "the version from before".into());
        self.say(&format!("rolling {env_name} back to {name}"));
        self.block(self.ledger.write(&record))?;
        let mut refused = Vec::new();
        for i in 0..record.services.len() {
            let view = views.iter().find(|v| v.name == record.services[i].service);
            match self.update_one(env, view, &record.services[i], resumed) {
                Ok(None) => {}
                Ok(Some(id)) => self.pin(&mut record, i, id)?,
                Err(DeployError::Ledger(e)) => return Err(DeployError::Ledger(e)),
                Err(e) => refused.push((record.services[i].service.clone(), e.to_string())),
            }
        }
        fault::point("rollback-update-services");
        let mut pending = record.clone();
        pending
            .services
            .retain(|s| !refused.iter().any(|(name, _)| name == &s.service));
        let waited = if pending.services.is_empty() {
            Ok(())
        } else {
            self.wait(env, &pending, views, Instant::now() + env.timeout.0)
        };
        if refused.is_empty() && waited.is_ok() {
            record.status = Status::Completed;
            record.at = ledger::timestamp();
            record.last_completed = Some(record.snapshot());
            self.block(self.ledger.write(&record))?;
            if let Some(digest) = record.digest.clone() {
                self.tag_environment(env_name, env, &digest)?;
            }
            return Ok((Outcome::Deployed, record));
        }
        let mut problems: Vec<String> = refused
            .iter()
            .map(|(service, why)| format!("{service} ({why})"))
            .collect();
        if let Err(why) = waited {
            for service in self.unsettled(env, &pending.services) {
                problems.push(format!("{service} ({why})"));
            }
        }
        record.status = Status::Failed;
        record.reason = Some(format!(
            "rollback to {name} failed; still needs attention: {}",
            problems.join("; ")
        ));
        record.at = ledger::timestamp();
        self.block(self.ledger.write(&record))?;
        Ok((Outcome::RollbackFailed, record))
    }

    /// The services of `services` that do not run their task definition on a completed
    /// deployment (all of them when ECS cannot be read).
    fn unsettled(&self, env: &EnvironmentConfig, services: &[ServiceState]) -> Vec<String> {
        let views = self
            .block(self.ecs.describe_services(&env.cluster, &env.services))
            .unwrap_or_default();
        services
            .iter()
            .filter(|s| !runs_completed(&views, std::slice::from_ref(*s)))
            .map(|s| s.service.clone())
            .collect()
    }

    /// `release rollback`: back to `to` (its latest completed deployment here), or else one
    /// step back from what runs now. What runs now is read from ECS: when it is not the last
    /// completed deployment (a deploy was killed, or its rollback failed), that one is the
    /// target; when it is, the completed deployment before it.
    pub fn rollback(&self, env_name: &str, to: Option<&str>) -> Result<DeployReport, DeployError> {
        let env = self.env(env_name)?;
        self.locked(env_name, env, "rollback", || {
            let history = self.block(self.ledger.history(env_name))?;
            let current = history.last();
            let views = self.block(self.ecs.describe_services(&env.cluster, &env.services))?;
            let target = match to {
                Some(v) => deployment::completed_in(&history, v)
                    .map(Record::snapshot)
                    .ok_or_else(|| {
                        DeployError::NoRollbackTarget(format!(
                            "{v} never completed in {env_name}: `release history --env {env_name}` lists what did"
                        ))
                    })?,
                None => match current {
                    // A rollback that was killed goes on to its own target, not further back.
                    Some(c) if c.action == Action::Rollback && c.status == Status::InProgress => {
                        c.last_completed.clone()
                    }
                    Some(c) => match &c.last_completed {
                        Some(last) if !runs_completed(&views, &last.services) => {
                            Some(last.clone())
                        }
                        _ => deployment::previous_completed(&history, current),
                    },
                    None => None,
                }
                .ok_or_else(|| {
                    DeployError::NoRollbackTarget(format!(
                        "{env_name} has no earlier completed deployment to roll back to"
                    ))
                })?,
            };
            let record = self.rollback_record(env_name, &target, "asked for");
            let (outcome, running) = self.finish_rollback(env_name, env, record, &views, false)?;
            Ok(DeployReport {
                outcome,
                action: Action::Rollback,
                env: env_name.to_string(),
                version: target.version.clone(),
                image: target.image.clone(),
                reason: running.reason.clone().filter(|_| !outcome.is_success()),
                running: Some(running),
            })
        })
    }

    /// Every environment: what runs, what waits.
    pub fn status(&self) -> Result<Vec<EnvStatus>, DeployError> {
        let mut all = Vec::new();
        for (name, env) in &self.config.environments {
            let current = self.block(self.ledger.current(name))?;
            let mut waiting = Vec::new();
            if let Some(required) = &env.requires {
                let history = self.block(self.ledger.history(required))?;
                let here = self.block(self.ledger.history(name))?;
                let mut versions: Vec<semver::Version> = history
                    .iter()
                    .filter(|r| r.status == Status::Completed)
                    .filter_map(|r| r.version.as_deref())
                    .filter(|v| deployment::completed_in(&here, v).is_none())
                    .filter_map(|v| semver::Version::parse(v).ok())
                    .collect();
                versions.sort();
                versions.dedup();
                let running = current
                    .as_ref()
                    .and_then(|c| c.version.as_deref())
                    .and_then(|v| semver::Version::parse(v).ok());
                for v in versions.into_iter().rev() {
                    if running.as_ref().is_some_and(|r| &v <= r) {
                        continue;
                    }
                    let version = v.to_string();
                    let digest =
                        deployment::completed_in(&history, &version).and_then(|r| r.digest.clone());
                    // One version whose records cannot be read blocks itself, not the status.
                    let (blockers, approved_by) =
                        match self.tally(name, env, &version, digest.as_deref()) {
                            Ok((tally, _)) => (
                                deployment::promotion_blockers(
                                    name, env, &version, &history, &tally,
                                ),
                                tally.approved_by,
                            ),
                            Err(e) => (vec![e.to_string()], Vec::new()),
                        };
                    waiting.push(Waiting {
                        blockers,
                        approved_by,
                        approvals_needed: env.approvals,
                        version,
                    });
                }
            }
            let drift = match &current {
                Some(c) => {
                    match self.block(self.ecs.describe_services(&env.cluster, &env.services)) {
                        Ok(views) => {
                            let mut drift = deployment::drift(&views, c);
                            drift.extend(deployment::reconcile(&views, c));
                            drift
                        }
                        Err(e) => vec![format!("cannot read ECS: {e}")],
                    }
                }
                None => Vec::new(),
            };
            all.push(EnvStatus {
                env: name.clone(),
                current,
                waiting,
                drift,
            });
        }
        Ok(all)
    }

    /// The history of `env`, newest first.
    pub fn history(&self, env_name: &str) -> Result<Vec<Record>, DeployError> {
        self.env(env_name)?;
        let mut h = self.block(self.ledger.history(env_name))?;
        h.reverse();
        Ok(h)
    }

    /// Remove `env`'s lock.
    pub fn unlock(&self, env_name: &str) -> Result<Option<Holder>, DeployError> {
        self.env(env_name)?;
        Ok(self.block(self.ledger.unlock(env_name))?)
    }
}

/// What keeps the services of `env` from taking a deploy: deleted (INACTIVE) or scaled to 0
/// (nothing would run to judge the deploy by).
fn preflight(
    env_name: &str,
    env: &EnvironmentConfig,
    views: &[ServiceView],
) -> Result<(), DeployError> {
    let problems: Vec<String> = views
        .iter()
        .filter_map(|v| {
            if v.status != ServiceStatus::Active {
                Some(format!(
                    "service {} in cluster {} is {} (deleted or being deleted): recreate it, or remove it from `services` of [environments.{env_name}]",
                    v.name, env.cluster, v.status
                ))
            } else if v.desired == 0 {
                Some(format!(
                    "service {} in cluster {} is scaled to 0 (desiredCount 0), so no task would prove the new version runs: scale it up (`aws ecs update-service --cluster {} --service {} --desired-count N`), or remove it from `services` of [environments.{env_name}]",
                    v.name, env.cluster, env.cluster, v.name
                ))
            } else {
                None
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DeployError::NotReady {
            env: env_name.to_string(),
            problems,
        })
    }
}

/// Whether every service runs its recorded task definition on a completed primary deployment.
fn runs_completed(views: &[ServiceView], services: &[ServiceState]) -> bool {
    services.iter().all(|s| {
        views.iter().any(|v| {
            v.name == s.service
                && v.task_definition == s.task_definition
                && v.primary().is_some_and(|p| {
                    p.task_definition == s.task_definition && p.rollout_completed()
                })
        })
    })
}

impl<'a> Rollout<'a> {
    /// The rollout of `repo` with its configuration: ledger, ECS and registry from the
    /// environment (`AWS_*`), who runs it from a credential ([`crate::core::identity`]).
    pub fn open(
        repo: &'a git2::Repository,
        config: &'a Config,
        rt: &'a tokio::runtime::Runtime,
    ) -> Rollout<'a> {
        let aws = rt.block_on(crate::adapters::aws::ssm::aws_config());
        let ledger = rt.block_on(Ledger::open(&config.ledger, repo.path()));
        let prefix = config.tag_prefix.clone();
        Rollout {
            config,
            ledger,
            ecs: Ecs::new(&aws),
            who: std::cell::OnceCell::new(),
            whoami: Box::new(move || who(repo, config, &aws, rt)),
            tagger: Box::new(move |version| tag_identities(repo, &prefix, version)),
            images: Box::new(RegistryImages::new(rt, repo.path(), config)),
            lock_wait: Duration::ZERO,
            rt,
        }
    }
}

/// Who runs this: with the SSM ledger the AWS caller, in GitHub Actions `GITHUB_ACTOR`, else
/// the owner of a GitHub token, else git's `user.email` (unverified).
pub fn who(
    repo: &git2::Repository,
    config: &Config,
    aws: &aws_config::SdkConfig,
    rt: &tokio::runtime::Runtime,
) -> Resolution {
    let env = |k: &str| std::env::var(k).ok();
    let caller = || rt.block_on(crate::adapters::aws::sts::aws_caller(aws));
    let ssm = config.ledger.backend == crate::config::environments::LedgerBackend::Ssm;
    crate::core::identity::resolve(&crate::core::identity::Credentials {
        env: &env,
        aws_caller: ssm.then_some(&caller as &dyn Fn() -> Result<String, String>),
        github_login: &crate::adapters::github::github_login,
        git_email: repo
            .config()
            .ok()
            .and_then(|c| c.get_string("user.email").ok()),
    })
}

/// The tagger (email and name) of `version`'s annotated release tag.
fn tag_identities(repo: &git2::Repository, prefix: &str, version: &str) -> Vec<String> {
    let Ok(reference) = repo.find_reference(&format!("refs/tags/{prefix}{version}")) else {
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

impl Rollout<'_> {
    /// Whether asking the actor to approve `version` for `env` could unblock a promotion:
    /// the required environment is done, nobody rejected it, approvals are short, and the
    /// actor may approve and has not.
    pub fn may_approve_now(&self, env_name: &str, version: &str) -> Result<bool, DeployError> {
        let env = self.env(env_name)?;
        if env.approvals == 0 {
            return Ok(false);
        }
        let Gates {
            required_history,
            tally,
            cutters,
        } = self.gates(env_name, env, version)?;
        let required_done = env.requires.is_none()
            || deployment::completed_in(&required_history, version).is_some();
        Ok(required_done
            && deployment::may_approve(env_name, env, &self.who().identity, &cutters).is_ok()
            && tally.rejected_by.is_empty()
            && (tally.approved_by.len() as u64) < u64::from(env.approvals)
            && !self.who().identity.is_among(&tally.approved_by))
    }
}

/// The deploy steps of `release cut`: `version` to every environment that deploys on cut
/// (`on_cut`). An environment where it already runs is done; one where it failed before is
/// skipped (a failed version is not retried by every re-run: `release deploy` retries it).
/// A deploy that fails (and rolls back) is an error that says what runs now. Each step is
/// `(environment, step name, state)`.
pub fn cut_steps(
    repo: &git2::Repository,
    config: &Config,
    version: &str,
    digest: Option<String>,
    rt: &tokio::runtime::Runtime,
) -> Result<Vec<(String, String, crate::app::bump::StepState)>, DeployError> {
    use crate::app::bump::StepState;
    let targets: Vec<&String> = config
        .environments
        .iter()
        .filter(|(_, e)| e.deploys_on_cut())
        .map(|(name, _)| name)
        .collect();
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let rollout = Rollout::open(repo, config, rt);
    rollout.record_release(version, digest)?;
    let mut steps = Vec::new();
    for env in targets {
        let name = format!("deploy {version} to {env}");
        let history = rt.block_on(rollout.ledger.history(env))?;
        if deployment::completed_in(&history, version).is_none() {
            if let Some(failed) = deployment::failed_in(&history, version) {
                steps.push((
                    env.clone(),
                    format!(
                        "{name} (failed at {}: {}; retry with `release deploy {version} --env {env}`)",
                        failed.at,
                        failed.reason.as_deref().unwrap_or("no reason recorded")
                    ),
                    StepState::Skipped,
                ));
                continue;
            }
        }
        let report = rollout.deploy(env, version)?;
        match report.outcome {
            Outcome::Deployed => steps.push((env.clone(), name, StepState::Applied)),
            Outcome::AlreadyDeployed => steps.push((env.clone(), name, StepState::Done)),
            _ => return Err(DeployError::Failed(report.summary())),
        }
    }
    Ok(steps)
}
