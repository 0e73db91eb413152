//! ECS's own strategies (blue/green, canary, linear): following a deploy's service deployments
//! stage by stage, the pause before production traffic and `release continue`, and ECS's
//! rollback when the tool decides one.

use super::*;
use crate::core::record::{Approval, Decision};

/// The approval gate of the pause in `env` (a name no environment can have: those start with
/// a letter or digit).
fn continue_gate(env_name: &str) -> String {
    format!("_continue.{env_name}")
}

impl Rollout<'_> {
    /// Pin each updated service's service deployment (looked up again by a resumed run that
    /// was killed before it was recorded).
    pub(super) async fn pin_service_deployments(
        &self,
        env: &EnvironmentConfig,
        record: &mut Record,
    ) -> Result<(), DeployError> {
        for i in 0..record.services.len() {
            if record.services[i].service_deployment.is_some() {
                continue;
            }
            let s = &record.services[i];
            let arn = self
                .ecs
                .service_deployment_for(&env.cluster, &s.service, &s.task_definition)
                .await?
                .ok_or(EcsError::Incomplete {
                    call: "ListServiceDeployments",
                    what: "a service deployment of the new task definition",
                })?;
            self.say(&format!(
                "{}: service deployment {}",
                s.service,
                short_arn(&arn)
            ));
            record.services[i].service_deployment = Some(arn);
            self.ledger.write(record).await?;
        }
        Ok(())
    }

    /// Follow the pinned service deployments until all succeed; `Err` says why not: ECS
    /// stopped or rolled one back (naming the stage), an alarm not in `ignored` fired, someone
    /// rejected the version while it paused, or the deadline passed. Every new stage is said
    /// and recorded; a pause is continued once its approvals are in.
    pub(super) async fn follow_stages(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        record: &mut Record,
        deadline: Instant,
        ignored: &[String],
    ) -> Result<(), DeployError> {
        let pinned = record.service_deployments();
        let version = record.version.clone().unwrap_or_default();
        let mut said_pause: HashSet<String> = HashSet::new();
        let mut errors = 0;
        loop {
            let views = match self.ecs.describe_service_deployments(&pinned).await {
                Ok(v) => {
                    errors = 0;
                    v
                }
                Err(e) if errors < 2 && Instant::now() < deadline => {
                    errors += 1;
                    self.say(&format!(
                        "  cannot read the deployments ({e}); trying again"
                    ));
                    tokio::time::sleep(env.poll_interval.0).await;
                    continue;
                }
                Err(e) => return Err(DeployError::Unhealthy(e.to_string())),
            };
            if self.record_stages(record, &views) {
                self.ledger.write(record).await?;
            }
            self.watch_alarms(env, ignored)
                .await
                .map_err(DeployError::Unhealthy)?;
            let paused: Vec<&ServiceDeploymentView> =
                views.iter().filter(|v| v.awaiting().is_some()).collect();
            if !paused.is_empty() {
                for v in &paused {
                    if said_pause.insert(v.arn.clone()) {
                        let until = v
                            .awaiting()
                            .and_then(|h| h.expires_at.clone())
                            .map(|t| format!(" until {t}, then ECS rolls back"))
                            .unwrap_or_default();
                        self.say(&format!(
                            "  {}: paused before production traffic{until}; `release continue {version} --env {env_name}` lets it go on",
                            v.service
                        ));
                    }
                }
                let blockers = self.continue_blockers(env_name, env, record).await?;
                if let Some(rejected) = blockers.iter().find(|b| b.contains(" rejected ")) {
                    return Err(DeployError::Unhealthy(format!(
                        "stopped at the pause: {rejected}"
                    )));
                }
                if blockers.is_empty() {
                    self.continue_all(&paused).await;
                }
            }
            match deployment::assess_service_deployments(&views, &pinned) {
                Progress::Completed => return Ok(()),
                Progress::Failed(why) => return Err(DeployError::Unhealthy(why)),
                Progress::InProgress => {}
            }
            if Instant::now() >= deadline {
                let at: Vec<String> = views
                    .iter()
                    .map(|v| format!("{} at {}", v.service, v.stage_line()))
                    .collect();
                return Err(DeployError::Unhealthy(format!(
                    "timed out after {} ({})",
                    env.timeout,
                    at.join("; ")
                )));
            }
            tokio::time::sleep(env.poll_interval.0.min(deadline - Instant::now())).await;
        }
    }

    /// Add each service's new stage to `record`, saying it; whether any was new.
    fn record_stages(&self, record: &mut Record, views: &[ServiceDeploymentView]) -> bool {
        let mut changed = false;
        for state in &mut record.services {
            let Some(v) = views
                .iter()
                .find(|v| Some(&v.arn) == state.service_deployment.as_ref())
            else {
                continue;
            };
            let line = v.stage_line();
            if state.stages.last() != Some(&line) {
                self.say(&format!("  {}: {line}", state.service));
                state.stages.push(line);
                changed = true;
            }
        }
        changed
    }

    /// What keeps the paused deploy `record` from going on: the approvals (by the
    /// environment's rules, at least one) given after it started, by `release continue` or
    /// `release approve`, and any rejection since then.
    async fn continue_blockers(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        record: &Record,
    ) -> Result<Vec<String>, DeployError> {
        let version = record.version.clone().unwrap_or_default();
        let mut decisions: Vec<Approval> = Vec::new();
        let mut unreadable = Vec::new();
        // A cluster of a fleet pauses for its environment's approvals.
        let parent = self.parent_env(env_name);
        for gate in [continue_gate(&parent), parent.clone()] {
            let entries = self.ledger.approval_entries(&gate, &version).await?;
            unreadable.extend(entries.unreadable);
            // Strictly after the deploy's start (timestamps are whole seconds): an approval to
            // deploy, given just before, is not one to shift production traffic.
            decisions.extend(entries.approvals.into_iter().filter(|a| a.at > record.at));
        }
        decisions.sort_by(|a, b| a.at.cmp(&b.at));
        let (counted, ignored) =
            deployment::bound_to_digest(&version, &decisions, record.digest.as_deref(), None);
        let cutters = self.cutters(&version).await?;
        let mut tally = deployment::tally(env_name, &env.rules(), &counted, &cutters);
        tally.ignored.extend(ignored);
        tally.unreadable = unreadable;
        Ok(deployment::approval_blockers(
            &format!("{version} at the pause in {env_name}"),
            env.approvals.max(1),
            &tally,
            |needed, have| format!("{have} of {needed} approvals to continue"),
        ))
    }

    /// Let every paused deployment of `paused` go on; the services continued. One that
    /// cannot be continued is said, not an error: another run (the deploy, or `release
    /// continue`) may have continued it a moment before, and a deploy asks again next poll.
    async fn continue_all(&self, paused: &[&ServiceDeploymentView]) -> Vec<String> {
        let mut continued = Vec::new();
        for v in paused {
            let Some(hook) = v.awaiting() else {
                continue;
            };
            match self.ecs.continue_service_deployment(&v.arn, &hook.id).await {
                Ok(()) => {
                    self.say(&format!("  {}: continued to production traffic", v.service));
                    continued.push(v.service.clone());
                }
                Err(e) => self.say(&format!("  {}: not continued here ({e})", v.service)),
            }
        }
        continued
    }

    /// Ask ECS to roll back every service deployment of `record` still in progress, and wait
    /// until none is moving; ECS takes those services back itself.
    pub(super) async fn stop_service_deployments(
        &self,
        env: &EnvironmentConfig,
        record: &Record,
    ) -> Result<(), DeployError> {
        let pinned = record.service_deployments();
        if pinned.is_empty() {
            return Ok(());
        }
        let views = self.ecs.describe_service_deployments(&pinned).await?;
        for v in views.iter().filter(|v| {
            matches!(
                v.status,
                crate::core::service::ServiceDeploymentStatus::Pending
                    | crate::core::service::ServiceDeploymentStatus::InProgress
            )
        }) {
            self.say(&format!(
                "  {}: asking ECS to roll back its deployment at {}",
                v.service,
                v.stage_line()
            ));
            // A deployment that ended meanwhile cannot be stopped: the rollback below finds
            // where it ended.
            if let Err(e) = self.ecs.roll_back_service_deployment(&v.arn).await {
                self.say(&format!("  {}: {e}", v.service));
            }
        }
        let deadline = Instant::now() + env.timeout.0;
        loop {
            let views = self.ecs.describe_service_deployments(&pinned).await?;
            if views.iter().all(|v| !v.status.is_active()) || Instant::now() >= deadline {
                return Ok(());
            }
            tokio::time::sleep(env.poll_interval.0.min(deadline - Instant::now())).await;
        }
    }

    /// `release continue`: approve `version`'s paused deploy in `env` to go on to production
    /// traffic, by the environment's approval rules; once enough approvals are in, the paused
    /// deployments are continued here too (a deploy run that has ended meanwhile does not keep
    /// them waiting). What was recorded, and the services continued.
    pub async fn continue_deploy(
        &self,
        env_name: &str,
        version: &str,
        note: Option<String>,
    ) -> Result<(Approval, Vec<String>, Vec<String>), DeployError> {
        let env = self.env(env_name)?;
        let mut record = None;
        for t in super::fleet::targets(env_name, env) {
            if let Some(r) = self.paused_deploy(&t.name, version).await? {
                record = Some(r);
                break;
            }
        }
        let record = record.ok_or_else(|| {
            DeployError::NotAllowed(format!(
                "no deploy of {version} is in progress in {env_name}: `release status` shows what runs and what waits there"
            ))
        })?;
        if !env.pause_before_shift {
            return Err(DeployError::NotAllowed(format!(
                "{env_name} does not pause before production traffic (pause_before_shift): nothing to continue"
            )));
        }
        let who = self.approver(env_name, env, version).await?;
        let approval = Approval {
            version: version.to_string(),
            env: continue_gate(env_name),
            by: self.by().await,
            identity: Some(who.clone()),
            at: ledger::timestamp(),
            decision: Decision::Approved,
            note,
            digest: record.digest.clone(),
            accepted_risks: Vec::new(),
        };
        self.ledger.add_approval(&approval).await?;
        let (continued, blockers) = self.continue_if_ready(env_name, version).await?;
        Ok((approval, continued, blockers))
    }

    /// Continue `version`'s deploy paused in `env` when its approvals are in: the services
    /// continued, and what is still missing (empty for a deploy that is not paused here).
    pub async fn continue_if_ready(
        &self,
        env_name: &str,
        version: &str,
    ) -> Result<(Vec<String>, Vec<String>), DeployError> {
        let env = self.env(env_name)?;
        let mut continued = Vec::new();
        let mut missing: Vec<String> = Vec::new();
        if !env.pause_before_shift {
            return Ok((continued, missing));
        }
        // Every cluster of a fleet: a later wave may be the one waiting.
        for t in super::fleet::targets(env_name, env) {
            let regional = self.in_region(t.region.as_deref());
            let Some(record) = regional.paused_deploy(&t.name, version).await? else {
                continue;
            };
            let blockers = regional.continue_blockers(&t.name, &t.env, &record).await?;
            if !blockers.is_empty() {
                missing.extend(
                    blockers
                        .into_iter()
                        .filter(|b| !missing.contains(b))
                        .collect::<Vec<_>>(),
                );
                continue;
            }
            let pinned = record.service_deployments();
            let views = regional.ecs.describe_service_deployments(&pinned).await?;
            let paused: Vec<&ServiceDeploymentView> =
                views.iter().filter(|v| v.awaiting().is_some()).collect();
            for service in regional.continue_all(&paused).await {
                continued.push(if t.name == env_name {
                    service
                } else {
                    format!("{service} ({})", t.name)
                });
            }
        }
        Ok((continued, missing))
    }

    /// The deploy of `version` in progress in `name` (an environment, or a cluster of a
    /// fleet by its ledger name).
    async fn paused_deploy(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<Record>, DeployError> {
        Ok(self.ledger.current(name).await?.filter(|r| {
            r.action == Action::Deploy
                && r.status == Status::InProgress
                && r.version.as_deref() == Some(version)
        }))
    }

    /// The configured environment `name` belongs to: itself, or the fleet it is a cluster of.
    fn parent_env(&self, name: &str) -> String {
        self.config
            .environments
            .iter()
            .find(|(env_name, env)| env.targets.iter().any(|t| t.ledger_name(env_name) == name))
            .map_or_else(|| name.to_string(), |(env_name, _)| env_name.clone())
    }
}

/// The last part of an ARN, for messages.
fn short_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
