//! Rollouts: deploy a version's digest to an environment's ECS services, wait for the pinned
//! deployments and the health gate, roll back to the last completed deployment on failure;
//! approvals, promotion gates, manual rollbacks, and what the ledger says.
//!
//! Every step checks the ledger and ECS before acting, so a run killed anywhere is finished by
//! running the same command again: a deploy whose services were already updated waits on the
//! recorded deployments instead of starting new ones.

use serde::Serialize;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::ecs::{Ecs, EcsError, ServiceView};
use crate::environments::EnvironmentConfig;
use crate::health::Probe;
use crate::identity::{Identity, Resolution};
use crate::ledger::{
    self, Action, Approval, Decision, Holder, Ledger, LedgerError, Record, ReleaseInfo,
    ServiceState, Snapshot, Status,
};
use crate::pipeline::fault_point;
use crate::rollout::{self, Gate, GateState, Progress};

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
    /// An approval is refused.
    #[error("{0}")]
    NotAllowed(String),
    /// The image of the version cannot be found.
    #[error("no image digest known for {version}: {why}")]
    NoImage {
        /// The version.
        version: String,
        /// Where it was looked for.
        why: String,
    },
    /// Nothing to roll back to.
    #[error("{0}")]
    NoRollbackTarget(String),
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
        message: String,
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
                            rollout::short_name(&s.task_definition)
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .unwrap_or_else(|| "unknown".into());
        let reason = self.reason.as_deref().unwrap_or("unknown reason");
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
                "deploying {version} to {} failed, and so did the rollback: {reason}\ncheck the services in the ECS console",
                self.env
            ),
        }
    }
}

/// Where the image of a version comes from, resolved by the caller (registry, record).
pub trait ImageSource {
    /// `(repository@digest, digest)` of `version`.
    fn image_of(&self, version: &str) -> Result<(String, String), String>;
    /// Put `tag` on `digest` (moving tags only).
    fn tag(&self, digest: &str, tag: &str) -> Result<(), String>;
}

/// Who cut a version (its identities), from the release tag.
pub type Tagger<'a> = Box<dyn Fn(&str) -> Vec<String> + 'a>;

/// What the gates of an environment judge a version by.
struct Gates {
    /// The history of the required environment (empty without one).
    required_history: Vec<Record>,
    /// The approvals that count.
    tally: rollout::ApprovalTally,
    /// Who cut the version.
    cutters: Vec<String>,
}

impl Gates {
    /// What keeps the version out (empty: nothing).
    fn blockers(&self, env_name: &str, env: &EnvironmentConfig, version: &str) -> Vec<String> {
        rollout::promotion_blockers(env_name, env, version, &self.required_history, &self.tally)
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
    /// Resolves who runs this ([`crate::identity`]).
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
        crate::progress::line(line);
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

    /// Record who cut `version` (by `release cut`).
    pub fn record_release(&self, version: &str, digest: Option<String>) -> Result<(), DeployError> {
        Ok(self.block(self.ledger.put_release(&ReleaseInfo {
            version: version.to_string(),
            cut_by: self.by(),
            identity: Some(self.who().identity.clone()),
            digest,
        }))?)
    }

    /// What keeps `version` from `env` (empty: nothing).
    pub fn blockers(&self, env_name: &str, version: &str) -> Result<Vec<String>, DeployError> {
        let env = self.env(env_name)?;
        Ok(self
            .gates(env_name, env, version)?
            .blockers(env_name, env, version))
    }

    /// The approvals of `version` for `env` that count, and who cut it.
    fn tally(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
    ) -> Result<(rollout::ApprovalTally, Vec<String>), DeployError> {
        let approvals = self.block(self.ledger.approvals(env_name, version))?;
        let cutters = self.cutters(version)?;
        Ok((rollout::tally(env_name, env, &approvals, &cutters), cutters))
    }

    /// Everything the gates of `env` judge `version` by, read once.
    fn gates(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
    ) -> Result<Gates, DeployError> {
        let required_history = match &env.requires {
            Some(r) => self.block(self.ledger.history(r))?,
            None => Vec::new(),
        };
        let (tally, cutters) = self.tally(env_name, env, version)?;
        Ok(Gates {
            required_history,
            tally,
            cutters,
        })
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
        rollout::may_approve(env_name, env, who, &cutters).map_err(DeployError::NotAllowed)?;
        let approval = Approval {
            version: version.to_string(),
            env: env_name.to_string(),
            by: self.by(),
            identity: Some(who.clone()),
            at: ledger::timestamp(),
            decision,
            note,
        };
        self.block(self.ledger.add_approval(&approval))?;
        Ok(approval)
    }

    /// The image to deploy: for an environment that requires another, the very digest that
    /// completed there; else the version's image.
    fn image_for(
        &self,
        required_history: &[Record],
        version: &str,
    ) -> Result<(String, String), DeployError> {
        if let Some(r) = rollout::completed_in(required_history, version) {
            if let (Some(image), Some(digest)) = (&r.image, &r.digest) {
                return Ok((image.clone(), digest.clone()));
            }
        }
        self.images
            .image_of(version)
            .map_err(|why| DeployError::NoImage {
                version: version.to_string(),
                why,
            })
    }

    /// Deploy `version` to `env`: gates, lock, task definitions, update, wait, health gate;
    /// on failure, roll back to the last completed deployment.
    pub fn deploy(&self, env_name: &str, version: &str) -> Result<DeployReport, DeployError> {
        let env = self.env(env_name)?;
        let gates = self.gates(env_name, env, version)?;
        let missing = gates.blockers(env_name, env, version);
        if !missing.is_empty() {
            return Err(DeployError::Refused {
                version: version.to_string(),
                env: env_name.to_string(),
                missing,
            });
        }
        let (image, digest) = self.image_for(&gates.required_history, version)?;
        self.locked(env_name, env, &format!("deploy {version}"), || {
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
        let lock = self.block(self.ledger.lock(env_name, holder, self.lock_wait))?;
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
            env: env_name.to_string(),
            version: Some(version.to_string()),
            image: Some(image.to_string()),
            reason,
            running,
        };
        let views = self.block(self.ecs.describe_services(&env.cluster, &env.services))?;

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

        if record.services.len() != env.services.len() {
            record.services = self.register(env, &views, image)?;
            self.block(self.ledger.write(&record))?;
        }
        fault_point("register-task-definitions");
        self.update_services(env, &views, &mut record)?;
        self.block(self.ledger.write(&record))?;
        fault_point("update-services");

        // One deadline for ECS and the health gate together.
        let deadline = Instant::now() + env.timeout.0;
        let failure = match self.wait(env, &record, &views, deadline) {
            Ok(()) => self.gate(env, version, deadline).err(),
            Err(why) => Some(why),
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
                    p.task_definition == v.task_definition
                        && p.rollout_state.as_deref().is_none_or(|s| s == "COMPLETED")
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
                    rollout::short_name(&arn)
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

    /// Point each service at its task definition and pin the deployment that starts; a
    /// service already on it (a re-run) keeps its deployment.
    fn update_services(
        &self,
        env: &EnvironmentConfig,
        views: &[ServiceView],
        record: &mut Record,
    ) -> Result<(), DeployError> {
        for state in &mut record.services {
            let view = views.iter().find(|v| v.name == state.service);
            let pinned = state.deployment_id.as_deref().and_then(|id| {
                view.and_then(|v| v.deployment(id))
                    .filter(|d| d.task_definition == state.task_definition)
            });
            if pinned.is_some() {
                continue;
            }
            // Already on it with a primary deployment of it: pin that one.
            let existing = view
                .filter(|v| v.task_definition == state.task_definition)
                .and_then(|v| v.primary())
                .filter(|p| p.task_definition == state.task_definition);
            let id = match existing {
                Some(p) => p.id.clone(),
                None => {
                    let answer = self.block(self.ecs.update_service(
                        &env.cluster,
                        &state.service,
                        &state.task_definition,
                    ))?;
                    answer
                        .primary()
                        .filter(|p| p.task_definition == state.task_definition)
                        .map(|p| p.id.clone())
                        .ok_or(EcsError::Incomplete {
                            call: "UpdateService",
                            what: "a primary deployment of the new task definition",
                        })?
                }
            };
            self.say(&format!(
                "{}: deployment {id} of {}",
                state.service,
                rollout::short_name(&state.task_definition)
            ));
            state.deployment_id = Some(id);
        }
        Ok(())
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
                let fresh = rollout::new_events(v, &mut seen);
                // Events from before this deploy are history, not progress.
                if !first {
                    for message in fresh {
                        self.say(&format!("  {message}"));
                    }
                }
            }
            first = false;
            let line = rollout::progress_line(&views, &pinned);
            if line != last_line {
                self.say(&format!("  {line}"));
                last_line = line;
            }
            match rollout::assess_all(&views, &pinned) {
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

    /// Move every service of `env` back to `target` and wait; the outcome and the record of
    /// what runs now.
    fn roll_back(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        target: &Snapshot,
        reason: &str,
    ) -> Result<(Outcome, Record), DeployError> {
        let name = target
            .version
            .as_deref()
            .unwrap_or("the version from before");
        self.say(&format!("rolling {env_name} back to {name}"));
        let mut record = Record {
            env: env_name.to_string(),
            action: Action::Rollback,
            status: Status::InProgress,
            version: target.version.clone(),
            digest: target.digest.clone(),
            image: target.image.clone(),
            services: target.services.clone(),
            by: self.by(),
            identity: Some(self.who().identity.clone()),
            at: ledger::timestamp(),
            reason: Some(reason.to_string()),
            last_completed: Some(target.clone()),
        };
        // No describe first: the rollback's UpdateService goes out at once.
        self.update_services(env, &[], &mut record)?;
        self.block(self.ledger.write(&record))?;
        match self.wait(env, &record, &[], Instant::now() + env.timeout.0) {
            Ok(()) => {
                record.status = Status::Completed;
                record.at = ledger::timestamp();
                record.last_completed = Some(record.snapshot());
                self.block(self.ledger.write(&record))?;
                if let Some(digest) = &target.digest {
                    self.tag_environment(env_name, env, digest)?;
                }
                Ok((Outcome::Deployed, record))
            }
            Err(why) => {
                record.status = Status::Failed;
                record.reason = Some(format!("rollback failed: {why}"));
                record.at = ledger::timestamp();
                self.block(self.ledger.write(&record))?;
                Ok((Outcome::RollbackFailed, record))
            }
        }
    }

    /// `release rollback`: back to `to` (its latest completed deployment here), or to the
    /// latest completed deployment before what runs now.
    pub fn rollback(&self, env_name: &str, to: Option<&str>) -> Result<DeployReport, DeployError> {
        let env = self.env(env_name)?;
        self.locked(env_name, env, "rollback", || {
            let history = self.block(self.ledger.history(env_name))?;
            let current = history.last();
            let target = match to {
                Some(v) => rollout::completed_in(&history, v)
                    .map(Record::snapshot)
                    .ok_or_else(|| {
                        DeployError::NoRollbackTarget(format!(
                            "{v} never completed in {env_name}: `release history --env {env_name}` lists what did"
                        ))
                    })?,
                // A rollback that was killed goes on to its own target, not further back.
                None => match current {
                    Some(c) if c.action == Action::Rollback && c.status == Status::InProgress => {
                        c.last_completed.clone()
                    }
                    _ => rollout::previous_completed(&history, current),
                }
                .ok_or_else(|| {
                    DeployError::NoRollbackTarget(format!(
                        "{env_name} has no earlier completed deployment to roll back to"
                    ))
                })?,
            };
            let (outcome, running) = self.roll_back(env_name, env, &target, "asked for")?;
            Ok(DeployReport {
                outcome,
                env: env_name.to_string(),
                version: target.version.clone(),
                image: None,
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
                    .filter(|v| rollout::completed_in(&here, v).is_none())
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
                    let (tally, _) = self.tally(name, env, &version)?;
                    waiting.push(Waiting {
                        blockers: rollout::promotion_blockers(
                            name, env, &version, &history, &tally,
                        ),
                        approved_by: tally.approved_by,
                        approvals_needed: env.approvals,
                        version,
                    });
                }
            }
            let drift = match &current {
                Some(c) => {
                    match self.block(self.ecs.describe_services(&env.cluster, &env.services)) {
                        Ok(views) => rollout::drift(&views, c),
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

/// Whether every service runs its recorded task definition on a completed primary deployment.
fn runs_completed(views: &[ServiceView], services: &[ServiceState]) -> bool {
    services.iter().all(|s| {
        views.iter().any(|v| {
            v.name == s.service
                && v.task_definition == s.task_definition
                && v.primary().is_some_and(|p| {
                    p.task_definition == s.task_definition
                        && p.rollout_state.as_deref().is_none_or(|r| r == "COMPLETED")
                })
        })
    })
}

impl<'a> Rollout<'a> {
    /// The rollout of `repo` with its configuration: ledger, ECS and registry from the
    /// environment (`AWS_*`), who runs it from a credential ([`crate::identity`]).
    pub fn open(
        repo: &'a git2::Repository,
        config: &'a Config,
        rt: &'a tokio::runtime::Runtime,
    ) -> Rollout<'a> {
        let aws = rt.block_on(crate::ssm::aws_config());
        let ledger = rt.block_on(Ledger::open(&config.ledger, repo.path()));
        let prefix = config.tag_prefix.clone();
        Rollout {
            config,
            ledger,
            ecs: Ecs::new(&aws),
            who: std::cell::OnceCell::new(),
            whoami: Box::new(move || who(repo, config, &aws, rt)),
            tagger: Box::new(move |version| tag_identities(repo, &prefix, version)),
            images: Box::new(crate::image::publish::RegistryImages::new(
                rt,
                repo.path(),
                config,
            )),
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
    let caller = || rt.block_on(crate::identity::aws_caller(aws));
    let ssm = config.ledger.backend == crate::environments::LedgerBackend::Ssm;
    crate::identity::resolve(&crate::identity::Credentials {
        env: &env,
        aws_caller: ssm.then_some(&caller as &dyn Fn() -> Result<String, String>),
        github_login: &crate::identity::github_login,
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
        let required_done =
            env.requires.is_none() || rollout::completed_in(&required_history, version).is_some();
        Ok(required_done
            && rollout::may_approve(env_name, env, &self.who().identity, &cutters).is_ok()
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
) -> Result<Vec<(String, String, crate::bump::StepState)>, DeployError> {
    use crate::bump::StepState;
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
        if rollout::completed_in(&history, version).is_none() {
            if let Some(failed) = rollout::failed_in(&history, version) {
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
