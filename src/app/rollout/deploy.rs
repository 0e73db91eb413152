//! Deploying a version: the gates again under the lock, then the steps (task definitions, migration, services, wait, health gate), and an automatic rollback when one fails.

use super::*;
use crate::core::step::{self, Applied, RunOptions, Step};

impl<'a> Rollout<'a> {
    /// The image to deploy: for an environment that requires another, the very digest that
    /// completed there; else the version's recorded digest, else its image (the record of
    /// `release image push` here, else the registry's version tag). A digest found anywhere
    /// that differs from the recorded one is refused, both named.
    pub(super) async fn image_for(
        &self,
        required_history: &[Record],
        version: &str,
    ) -> Result<(String, String), DeployError> {
        let fixed = self.ledger.digest(&self.digest_key(version)).await?;
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
        let tagged = self.images.tagged(version).await.map_err(no_image)?;
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
    pub(super) async fn judge(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
        after_lock: bool,
    ) -> Result<(String, String), DeployError> {
        let required_history = match &env.requires {
            Some(r) => self.ledger.history(r).await?,
            None => Vec::new(),
        };
        // No image to judge before the required environment is done: its blocker says so.
        let image = if env.requires.is_some()
            && deployment::completed_in(&required_history, version).is_none()
        {
            None
        } else {
            Some(self.image_for(&required_history, version).await)
        };
        let digest = match &image {
            Some(Ok((_, d))) => Some(d.as_str()),
            _ => None,
        };
        let (tally, _) = self.tally(env_name, env, version, digest).await?;
        let mut missing =
            deployment::promotion_blockers(env_name, env, version, &required_history, &tally);
        // The scan is judged once nothing else blocks: no scan waited on for a refused version.
        if let (Some(Ok((image, digest))), true) = (&image, missing.is_empty()) {
            missing.extend(
                self.scan_blockers(env_name, env, version, image, digest)
                    .await?,
            );
        }
        if missing.is_empty() {
            missing.extend(self.alarm_blockers(env).await?);
        }
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
    pub async fn deploy(&self, env_name: &str, version: &str) -> Result<DeployReport, DeployError> {
        let env = self.env(env_name)?;
        // Refused now: said at once, without waiting for the lock.
        self.judge(env_name, env, version, false).await?;
        self.locked(env_name, env, &format!("deploy {version}"), async {
            // Again once the lock is held, right before the first write to ECS: while this
            // run waited, someone may have rejected the version, or the required environment
            // may have moved on. Only what passes now goes out.
            let (image, digest) = self.judge(env_name, env, version, true).await?;
            self.fix_digest(version, Some(&image), &digest).await?;
            if env.targets.is_empty() {
                self.deploy_locked(env_name, env, version, &image, &digest, false)
                    .await
            } else {
                self.deploy_fleet(env_name, env, version, &image, &digest)
                    .await
            }
        })
        .await
    }

    /// The deploy of `image` to the one cluster of `env`, its lock held. With `hold`, a
    /// deploy that passes stays in progress in the ledger: a fleet completes it once every
    /// wave passed ([`Self::complete`]), or rolls it back.
    pub(super) async fn deploy_locked(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
        image: &str,
        digest: &str,
        hold: bool,
    ) -> Result<DeployReport, DeployError> {
        let current = self.ledger.current(env_name).await?;
        let report = |outcome, running: Option<Record>, reason: Option<String>| DeployReport {
            outcome,
            action: Action::Deploy,
            env: env_name.to_string(),
            version: Some(version.to_string()),
            image: Some(image.to_string()),
            reason,
            running,
            migration: None,
        };
        let views = self
            .ecs
            .describe_services(&env.cluster, &env.services)
            .await?;
        preflight(env_name, env, &views)?;

        // A rollback that a killed run left unfinished is finished first; when it was the
        // rollback of this very deploy, the deploy is not started again.
        if let Some((record, failed_deploy)) =
            self.unfinished_rollback(current.as_ref(), &views).await?
        {
            let this_deploy = failed_deploy.as_ref().filter(|d| {
                d.version.as_deref() == Some(version) && d.digest.as_deref() == Some(digest)
            });
            self.say(&format!(
                "finishing the interrupted rollback of {env_name} first"
            ));
            let (outcome, running) = self
                .finish_rollback(env_name, env, record, &views, true)
                .await?;
            if let Some(d) = this_deploy {
                let why = d
                    .reason
                    .clone()
                    .unwrap_or_else(|| "no reason recorded".into());
                let outcome = if outcome.is_success() {
                    DeployOutcome::RolledBack
                } else {
                    DeployOutcome::RollbackFailed
                };
                return Ok(report(outcome, Some(running), Some(why)));
            }
            if !outcome.is_success() {
                return Ok(report(
                    DeployOutcome::RollbackFailed,
                    Some(running.clone()),
                    running.reason.clone(),
                ));
            }
            // Rolled back: what runs now is the new starting point.
            return Box::pin(self.deploy_locked(env_name, env, version, image, digest, hold)).await;
        }

        // Already there, completed, and ECS still runs it: only the tag may be missing.
        if let Some(c) = &current {
            if c.status == Status::Completed
                && c.version.as_deref() == Some(version)
                && c.digest.as_deref() == Some(digest)
                && deployment::runs_completed(&views, &c.services)
            {
                self.tag_environment(env_name, env, digest).await?;
                return Ok(report(
                    DeployOutcome::AlreadyDeployed,
                    Some(c.clone()),
                    None,
                ));
            }
        }

        let baseline = match &current {
            Some(c) => c.last_completed.clone(),
            None => self.adopt(env_name, env, &views).await?,
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
                by: self.by().await,
                identity: Some(self.who().await.identity.clone()),
                at: ledger::timestamp(),
                reason: None,
                last_completed: baseline.clone(),
                forced_alarms: self.forced_alarms(env_name, env).await?,
                strategy: env.strategy,
            },
        };

        let mut run = DeployRun {
            rollout: self,
            env_name,
            env,
            version,
            image,
            views: &views,
            resumed: resumed.is_some(),
            record: &mut record,
            deadline: None,
            services_changed: false,
            migration: None,
        };
        let result = step::run(&DEPLOY_STEPS, &mut run, UNINTERRUPTED, |_| Ok(())).await;
        let migration = run.migration.take();
        let report = |outcome, running, reason| DeployReport {
            migration: migration.clone(),
            ..report(outcome, running, reason)
        };
        let failure = match result {
            Ok(_) => None,
            // A failed migration changed no service: recorded and reported, nothing to undo.
            Err(e @ DeployError::MigrationFailed { .. }) => {
                let why = e.to_string();
                record.status = Status::Failed;
                record.reason = Some(why.clone());
                record.at = ledger::timestamp();
                self.ledger.write(&record).await?;
                let mut failed = report(DeployOutcome::MigrationFailed, None, Some(why));
                failed.migration = self.ledger.migration(env_name, version).await?;
                return Ok(failed);
            }
            // Nothing in ECS has changed before the services are updated: a failure up to
            // there is only reported, and so is a ledger that cannot be written.
            Err(e @ DeployError::Ledger(_)) => return Err(e),
            Err(e) if !run.services_changed => return Err(e),
            // From the first UpdateService on, any failure rolls back every service that
            // changed.
            Err(e) => Some(e.to_string()),
        };
        match failure {
            // Held: another wave decides whether it completes.
            None if hold => Ok(report(DeployOutcome::Deployed, Some(record), None)),
            None => {
                let record = self.complete(env_name, env, record).await?;
                Ok(report(DeployOutcome::Deployed, Some(record), None))
            }
            Some(why) => {
                let (outcome, running) =
                    self.fail_and_roll_back(env_name, env, record, &why).await?;
                Ok(report(outcome, running, Some(why)))
            }
        }
    }

    /// Record the deploy `record` completed, and put the environment's tag on its digest.
    pub(super) async fn complete(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        mut record: Record,
    ) -> Result<Record, DeployError> {
        if record.status != Status::Completed {
            record.status = Status::Completed;
            record.at = ledger::timestamp();
            record.last_completed = Some(record.snapshot());
            self.ledger.write(&record).await?;
        }
        let version = record.version.as_deref().unwrap_or("the version");
        self.say(&format!("{version} completed in {env_name}"));
        if let Some(digest) = record.digest.clone() {
            self.tag_environment(env_name, env, &digest).await?;
        }
        Ok(record)
    }

    /// Record the deploy `record`, which changed services, as failed for `why`, and roll
    /// `env` back to what completed before it: the outcome, and what runs now (nothing
    /// completed before: nothing to go back to).
    pub(super) async fn fail_and_roll_back(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        mut record: Record,
        why: &str,
    ) -> Result<(DeployOutcome, Option<Record>), DeployError> {
        // ECS's own strategies roll back themselves, faster and without a second
        // deployment: asked first, the rollback below then finds those services done.
        if record.strategy.is_some_and(|s| s.is_staged()) {
            if let Err(e) = self.stop_service_deployments(env, &record).await {
                self.say(&format!(
                    "  cannot ask ECS to roll back ({e}); rolling back by hand"
                ));
            }
        }
        // A deploy that had completed goes back to the one completed before it.
        let target = if record.status == Status::Completed {
            let history = self.ledger.history(env_name).await?;
            deployment::previous_completed(&history, Some(&record))
        } else {
            record.last_completed.clone()
        };
        record.status = Status::Failed;
        record.reason = Some(why.to_string());
        record.at = ledger::timestamp();
        self.ledger.write(&record).await?;
        let version = record.version.as_deref().unwrap_or("the version");
        self.say(&format!("deploy of {version} to {env_name} failed: {why}"));
        let Some(target) = target else {
            return Ok((DeployOutcome::Failed, None));
        };
        let (outcome, running) = self
            .roll_back(env_name, env, &target, &format!("automatic: {why}"))
            .await?;
        let outcome = if outcome.is_success() {
            DeployOutcome::RolledBack
        } else {
            DeployOutcome::RollbackFailed
        };
        Ok((outcome, Some(running)))
    }

    /// The first deploy to an environment: what ECS runs now becomes the rollback target.
    pub(super) async fn adopt(
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
                ..Default::default()
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
            by: self.by().await,
            identity: Some(self.who().await.identity.clone()),
            at: ledger::timestamp(),
            reason: Some("running before release-agent's first deploy".into()),
            last_completed: None,
            forced_alarms: Vec::new(),
            strategy: None,
        };
        record.last_completed = Some(record.snapshot());
        self.ledger.write(&record).await?;
        Ok(record.last_completed)
    }

    /// A task definition per service running `image` in the configured container, and each
    /// of a package's other images in its container where the task definition has one: the
    /// current one if it already does, else one new revision of it.
    pub(super) async fn register(
        &self,
        env: &EnvironmentConfig,
        views: &[ServiceView],
        version: &str,
        image: &str,
    ) -> Result<Vec<ServiceState>, DeployError> {
        let mut images = vec![(env.container.clone(), image.to_string())];
        images.extend(self.other_images(version).await?);
        let mut states = Vec::new();
        for view in views {
            let arn = self
                .with_images(&view.name, &view.task_definition, &images)
                .await?;
            states.push(ServiceState {
                service: view.name.clone(),
                task_definition: arn,
                deployment_id: None,
                ..Default::default()
            });
        }
        Ok(states)
    }

    /// A package's other images of `version`, each with its container: found by the
    /// registry's tag of the version.
    async fn other_images(&self, version: &str) -> Result<Vec<(String, String)>, DeployError> {
        let mut found = Vec::new();
        for (container, images) in &self.extra_images {
            let why = |why| DeployError::NoImage {
                version: version.to_string(),
                why,
            };
            let (image, _) = images.tagged(version).await.map_err(why)?.ok_or_else(|| {
                why(ImageSourceError::NotPushed {
                    tag: format!(
                        "{} (the image of container {container})",
                        crate::core::image::version_tag_of(version)
                    ),
                    version: version.to_string(),
                })
            })?;
            found.push((container.clone(), image));
        }
        Ok(found)
    }

    /// A task definition (`from`: an ARN or a family's latest revision) whose `container` runs
    /// `image`: `from` itself if it already does, else a new revision of it; `label` names it
    /// in the progress.
    pub(super) async fn with_image(
        &self,
        label: &str,
        from: &str,
        container: &str,
        image: &str,
    ) -> Result<String, DeployError> {
        self.with_images(label, from, &[(container.to_string(), image.to_string())])
            .await
    }

    /// A task definition (`from`) where the first container of `images` runs its image, and
    /// each other one its image where `from` has that container: `from` itself if it already
    /// does, else one new revision of it; `label` names it in the progress.
    async fn with_images(
        &self,
        label: &str,
        from: &str,
        images: &[(String, String)],
    ) -> Result<String, DeployError> {
        let current = self.ecs.describe_task_definition(from).await?;
        let mut wanted: Vec<(&str, &str)> = Vec::new();
        for (i, (container, image)) in images.iter().enumerate() {
            // The environment's container must be there; a package's other images go where
            // their containers are.
            if (i == 0 || current.has_container(container)) && current.image(container)? != image {
                wanted.push((container, image));
            }
        }
        if wanted.is_empty() {
            return Ok(current.arn().to_string());
        }
        let arn = (self.ecs.register_task_definition(&current, &wanted)).await?;
        self.say(&format!(
            "{label}: registered {} with {}",
            deployment::short_name(&arn),
            wanted
                .iter()
                .map(|(_, image)| *image)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok(arn)
    }

    /// Point each service at its task definition and pin the deployment that starts, writing
    /// the record after each service; a service already on it (a re-run) keeps its
    /// deployment. Stops at the first refusal.
    pub(super) async fn update_services(
        &self,
        env: &EnvironmentConfig,
        views: &[ServiceView],
        record: &mut Record,
        resumed: bool,
    ) -> Result<(), DeployError> {
        let plan = deployment::strategy_plan(env);
        for i in 0..record.services.len() {
            let view = views.iter().find(|v| v.name == record.services[i].service);
            if let Some(id) = self
                .update_one(env, view, &record.services[i], resumed, plan.as_ref())
                .await?
            {
                self.pin(record, i, id).await?;
            }
        }
        Ok(())
    }

    /// Pin the deployment `id` that ECS started for the `i`th service of `record`, and record
    /// it at once: a run killed from here on waits on that deployment instead of starting one.
    pub(super) async fn pin(
        &self,
        record: &mut Record,
        i: usize,
        id: String,
    ) -> Result<(), DeployError> {
        let state = &mut record.services[i];
        self.say(&format!(
            "{}: deployment {id} of {}",
            state.service,
            deployment::short_name(&state.task_definition)
        ));
        state.deployment_id = Some(id);
        self.ledger.write(record).await?;
        Ok(())
    }

    /// The deployment to pin for one service, sending `UpdateService` only when needed; `None`
    /// when the recorded one still stands. When the service is already set to the task
    /// definition, its primary deployment of it is pinned, unless that one failed: then a new
    /// deployment is forced (ECS starts nothing for an unchanged task definition). A resumed
    /// run pins even a failed one: it is the deployment the killed run started.
    pub(super) async fn update_one(
        &self,
        env: &EnvironmentConfig,
        view: Option<&ServiceView>,
        state: &ServiceState,
        resumed: bool,
        plan: Option<&StrategyPlan>,
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
        let answer = (self.ecs.update_service(
            &env.cluster,
            &state.service,
            &state.task_definition,
            same,
            plan,
        ))
        .await?;
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

    /// The deploy step of `release cut` for `env`: an environment where `version` already
    /// runs is done; one where it failed before is skipped (a failed version is not retried by
    /// every re-run: `release deploy` retries it). A deploy that fails (and rolls back) is an
    /// error that says what runs now. Returns what the step did, and its state.
    pub async fn deploy_on_cut(
        &self,
        env: &str,
        version: &str,
    ) -> Result<(String, StepState), DeployError> {
        let name = format!("deploy {version} to {env}");
        let history = self.ledger.history(env).await?;
        if deployment::completed_in(&history, version).is_none() {
            if let Some(failed) = deployment::failed_in(&history, version) {
                return Ok((
                    format!(
                        "{name} (failed at {}: {}; retry with `release deploy {version} --env {env}`)",
                        failed.at,
                        failed.reason.as_deref().unwrap_or("no reason recorded")
                    ),
                    StepState::Skipped,
                ));
            }
        }
        let report = self.deploy(env, version).await?;
        match report.outcome {
            DeployOutcome::Deployed => Ok((name, StepState::Applied)),
            DeployOutcome::AlreadyDeployed => Ok((name, StepState::Done)),
            _ => Err(DeployError::Failed(report.summary())),
        }
    }
}

/// What keeps the services of `env` from taking a deploy: deleted (INACTIVE) or scaled to 0
/// (nothing would run to judge the deploy by).
pub(super) fn preflight(
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

/// The steps of one deploy, in order. A signal does not stop a deploy half-way: ECS goes on
/// either way, so the run follows it to the end (a killed run is resumed by the next one).
const DEPLOY_STEPS: [DeployStep; 6] = [
    DeployStep::Register,
    DeployStep::Migrate,
    DeployStep::Update,
    DeployStep::Wait,
    DeployStep::HealthGate,
    DeployStep::Bake,
];

const UNINTERRUPTED: RunOptions = RunOptions {
    dry_run: false,
    uninterruptible: true,
};

/// One step of a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeployStep {
    /// A new revision of each service's task definition, with the version's image.
    Register,
    /// The migration task runs to exit code 0 (`migrate`), once per version.
    Migrate,
    /// Each service pinned to its new revision (`UpdateService`).
    Update,
    /// ECS completes every deployment, or one fails.
    Wait,
    /// The health URL answers, when there is one.
    HealthGate,
    /// The alarms stay quiet for `bake`, when there is one.
    Bake,
}

/// What the steps of one deploy work on.
struct DeployRun<'r, 'a> {
    rollout: &'r Rollout<'a>,
    env_name: &'r str,
    env: &'r EnvironmentConfig,
    version: &'r str,
    image: &'r str,
    /// The services as they were before the deploy.
    views: &'r [ServiceView],
    /// A killed run's deploy of the same version, resumed.
    resumed: bool,
    /// The deploy's ledger record, written at every change.
    record: &'r mut Record,
    /// One deadline for ECS and the health gate together, from the update on.
    deadline: Option<Instant>,
    /// Whether a service was (or may have been) updated: from then on a failure rolls back.
    services_changed: bool,
    /// The migration this deploy ran, or found already run.
    migration: Option<crate::core::migration::MigrationRecord>,
}

impl DeployRun<'_, '_> {
    /// Whether ECS deploys with one of its staged strategies (followed stage by stage).
    fn staged(&self) -> bool {
        self.record.strategy.is_some_and(|s| s.is_staged())
    }

    fn deadline(&self) -> Instant {
        self.deadline
            .unwrap_or_else(|| Instant::now() + self.env.timeout.0)
    }
}

impl Step<DeployRun<'_, '_>> for DeployStep {
    type Error = DeployError;

    fn name(&self, run: &DeployRun<'_, '_>) -> String {
        match self {
            DeployStep::Register => format!("register task definitions of {}", run.image),
            DeployStep::Migrate => match &run.env.migrate {
                Some(m) => format!("run migration ({})", super::migrate::describe(m)),
                None => "run migration (none configured)".into(),
            },
            DeployStep::Update => format!("update {}", run.env.services.join(", ")),
            DeployStep::Wait => "wait for ECS".into(),
            DeployStep::HealthGate => "health gate".into(),
            DeployStep::Bake => "bake".into(),
        }
    }

    fn boundary(&self) -> &'static str {
        match self {
            DeployStep::Register => "register-task-definitions",
            DeployStep::Migrate => "migrate",
            DeployStep::Update => "update-services",
            DeployStep::Wait => "wait",
            DeployStep::HealthGate => "health-gate",
            DeployStep::Bake => "bake",
        }
    }

    fn stopped(
        &self,
        signal: crate::util::signals::Interrupted,
        _: &DeployRun<'_, '_>,
    ) -> DeployError {
        DeployError::Failed(signal.to_string())
    }

    async fn check(&self, run: &mut DeployRun<'_, '_>) -> Result<Option<StepState>, DeployError> {
        Ok(match self {
            // Registered by a killed run of this deploy: its revisions are in the record.
            DeployStep::Register => {
                (run.record.services.len() == run.env.services.len()).then_some(StepState::Done)
            }
            DeployStep::Migrate if run.env.migrate.is_none() => Some(StepState::Skipped),
            // Completed for this version before (and not asked to run again).
            DeployStep::Migrate => {
                let done = run.rollout.migration_done(run.record, run.version).await?;
                if let Some(m) = &done {
                    run.rollout.say(&format!(
                        "migration of {} in {} already completed at {} (exit code {}); not run again (--rerun-migrations runs it)",
                        run.version,
                        run.record.env,
                        m.at,
                        m.exit_code.unwrap_or(0)
                    ));
                }
                let state = done.is_some().then_some(StepState::Done);
                run.migration = done;
                state
            }
            DeployStep::HealthGate if run.env.health_url.is_none() => Some(StepState::Skipped),
            // ECS bakes a staged deployment itself (its BAKE_TIME stage, followed by Wait).
            DeployStep::Bake if run.env.bake.is_none() || run.staged() => Some(StepState::Skipped),
            DeployStep::Update | DeployStep::Wait | DeployStep::HealthGate | DeployStep::Bake => {
                None
            }
        })
    }

    async fn apply(&self, run: &mut DeployRun<'_, '_>) -> Result<Applied, DeployError> {
        let rollout = run.rollout;
        match self {
            DeployStep::Register => {
                run.record.services = rollout
                    .register(run.env, run.views, run.version, run.image)
                    .await?;
                rollout.ledger.write(run.record).await?;
            }
            DeployStep::Migrate => {
                if let Some(m) = &run.env.migrate {
                    let migrated = rollout
                        .migrate(run.env, m, run.version, run.image, run.record)
                        .await?;
                    run.migration = Some(migrated.record);
                    return Ok(Applied {
                        state: StepState::Applied,
                        detail: Some(migrated.detail),
                        stop: false,
                    });
                }
            }
            DeployStep::Update => {
                run.services_changed = true;
                rollout
                    .update_services(run.env, run.views, run.record, run.resumed)
                    .await?;
                if run.staged() {
                    rollout.pin_service_deployments(run.env, run.record).await?;
                }
                run.deadline = Some(Instant::now() + run.env.timeout.0);
            }
            DeployStep::Wait if run.staged() => {
                // A pause waits for people: its own timeout comes on top.
                let pause = match run.env.pause_before_shift {
                    true => run
                        .env
                        .pause_timeout
                        .map_or(crate::config::environments::DEFAULT_PAUSE_TIMEOUT, |t| t.0),
                    false => Duration::ZERO,
                };
                let deadline = run.deadline() + pause;
                let ignored = run.record.forced_alarms.clone();
                rollout
                    .follow_stages(run.env_name, run.env, run.record, deadline, &ignored)
                    .await?;
            }
            DeployStep::Wait => {
                let deadline = run.deadline();
                rollout
                    .wait(
                        run.env,
                        run.record,
                        run.views,
                        deadline,
                        Some(&run.record.forced_alarms),
                    )
                    .await
                    .map_err(DeployError::Unhealthy)?;
            }
            DeployStep::HealthGate => {
                let deadline = run.deadline();
                rollout
                    .gate(run.env, run.version, deadline, &run.record.forced_alarms)
                    .await
                    .map_err(DeployError::Unhealthy)?;
            }
            DeployStep::Bake => {
                rollout
                    .bake(run.env, &run.record.forced_alarms)
                    .await
                    .map_err(DeployError::Unhealthy)?;
            }
        }
        Ok(StepState::Applied.into())
    }
}
