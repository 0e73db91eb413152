//! Rolling back: to the last completed deployment, finishing one a killed run left.

use super::*;

impl<'a> Rollout<'a> {
    /// The rollback a killed run left unfinished, as the record to finish, and the failed
    /// deploy it undoes (for an automatic one). A rollback in progress is unfinished; so is a
    /// failed deploy whose rollback never started (killed between the two ledger writes) while
    /// ECS does not run what completed before it.
    pub(super) async fn unfinished_rollback(
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
                    let history = self.ledger.history(&c.env).await?;
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
                if deployment::runs_completed(views, &target.services) {
                    return Ok(None);
                }
                let why = c.reason.as_deref().unwrap_or("no reason recorded");
                let record = self
                    .rollback_record(&c.env, target, &format!("automatic: {why}"))
                    .await;
                Ok(Some((record, Some(c.clone()))))
            }
            _ => Ok(None),
        }
    }

    /// A new rollback record of `env_name` to `target`, in progress.
    pub(super) async fn rollback_record(
        &self,
        env_name: &str,
        target: &Snapshot,
        reason: &str,
    ) -> Record {
        Record {
            env: env_name.to_string(),
            action: Action::Rollback,
            status: Status::InProgress,
            version: target.version.clone(),
            digest: target.digest.clone(),
            image: target.image.clone(),
            services: ledger::without_deployments(&target.services),
            by: self.by().await,
            identity: Some(self.who().await.identity.clone()),
            at: ledger::timestamp(),
            reason: Some(reason.to_string()),
            last_completed: Some(target.clone()),
            forced_alarms: Vec::new(),
            strategy: None,
        }
    }

    /// Move every service of `env` that is not on `target` back to it and wait; the outcome
    /// and the record of what runs now.
    pub(super) async fn roll_back(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        target: &Snapshot,
        reason: &str,
    ) -> Result<(DeployOutcome, Record), DeployError> {
        let record = self.rollback_record(env_name, target, reason).await;
        let views = self
            .ecs
            .describe_services(&env.cluster, &env.services)
            .await;
        self.finish_rollback(
            env_name,
            env,
            record,
            views.as_deref().unwrap_or(&[]),
            false,
        )
        .await
    }

    /// Carry out the rollback `record` (new, or left by a killed run when `resumed`): it is
    /// written before the first `UpdateService`, so a run killed from then on finishes it. Every
    /// service is tried even when one is refused; a failed rollback is recorded with the
    /// services that still need attention.
    pub(super) async fn finish_rollback(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        mut record: Record,
        views: &[ServiceView],
        resumed: bool,
    ) -> Result<(DeployOutcome, Record), DeployError> {
        let name = record
            .version
            .clone()
            .unwrap_or_else(|| "the version from before".into());
        self.say(&format!("rolling {env_name} back to {name}"));
        self.ledger.write(&record).await?;
        let mut refused = Vec::new();
        for i in 0..record.services.len() {
            let view = views.iter().find(|v| v.name == record.services[i].service);
            match self
                .update_one(env, view, &record.services[i], resumed, None)
                .await
            {
                Ok(None) => {}
                Ok(Some(id)) => self.pin(&mut record, i, id).await?,
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
            self.wait(env, &pending, views, Instant::now() + env.timeout.0, None)
                .await
        };
        if refused.is_empty() && waited.is_ok() {
            record.status = Status::Completed;
            record.at = ledger::timestamp();
            record.last_completed = Some(record.snapshot());
            self.ledger.write(&record).await?;
            if let Some(digest) = record.digest.clone() {
                self.tag_environment(env_name, env, &digest).await?;
            }
            return Ok((DeployOutcome::Deployed, record));
        }
        let mut problems: Vec<String> = refused
            .iter()
            .map(|(service, why)| format!("{service} ({why})"))
            .collect();
        if let Err(why) = waited {
            for service in self.unsettled(env, &pending.services).await {
                problems.push(format!("{service} ({why})"));
            }
        }
        record.status = Status::Failed;
        record.reason = Some(format!(
            "rollback to {name} failed; still needs attention: {}",
            problems.join("; ")
        ));
        record.at = ledger::timestamp();
        self.ledger.write(&record).await?;
        Ok((DeployOutcome::RollbackFailed, record))
    }

    /// `release rollback`: back to `to` (its latest completed deployment here), or else one
    /// step back from what runs now. What runs now is read from ECS: when it is not the last
    /// completed deployment (a deploy was killed, or its rollback failed), that one is the
    /// target; when it is, the completed deployment before it.
    pub async fn rollback(
        &self,
        env_name: &str,
        to: Option<&str>,
    ) -> Result<DeployReport, DeployError> {
        let env = self.env(env_name)?;
        self.locked(env_name, env, "rollback", async {
            if env.targets.is_empty() {
                return self.rollback_one(env_name, env, to).await;
            }
            // Every target of a fleet goes back; the report is the environment's own
            // cluster's, with the worst outcome of all.
            let mut report: Option<DeployReport> = None;
            let mut failed = Vec::new();
            for t in super::fleet::targets(env_name, env) {
                let r = match self
                    .in_region(t.region.as_deref())
                    .rollback_one(&t.name, &t.env, to)
                    .await
                {
                    // A cluster added since (or never deployed) has nothing to go back to;
                    // the others still go back.
                    Err(DeployError::NoRollbackTarget(why)) if t.name != env_name => {
                        self.say(&format!("{}: {why}; left as it is", t.name));
                        continue;
                    }
                    other => other?,
                };
                if !r.outcome.is_success() {
                    failed.push(format!(
                        "{}: {}",
                        t.name,
                        r.reason.as_deref().unwrap_or("no reason recorded")
                    ));
                }
                if t.name == env_name {
                    report = Some(r);
                }
            }
            let mut report = report.ok_or_else(|| {
                DeployError::NoRollbackTarget(format!("{env_name} has no cluster of its own"))
            })?;
            if !failed.is_empty() {
                report.outcome = DeployOutcome::RollbackFailed;
                report.reason = Some(failed.join("; "));
            }
            Ok(report)
        })
        .await
    }

    /// [`Self::rollback`] of one cluster, `env_name` being its name in the ledger.
    async fn rollback_one(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        to: Option<&str>,
    ) -> Result<DeployReport, DeployError> {
        let history = self.ledger.history(env_name).await?;
        let current = history.last();
        let views = self
            .ecs
            .describe_services(&env.cluster, &env.services)
            .await?;
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
                    Some(last) if !deployment::runs_completed(&views, &last.services) => {
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
        let record = self.rollback_record(env_name, &target, "asked for").await;
        let (outcome, running) = self
            .finish_rollback(env_name, env, record, &views, false)
            .await?;
        Ok(DeployReport {
            outcome,
            action: Action::Rollback,
            env: env_name.to_string(),
            version: target.version.clone(),
            image: target.image.clone(),
            reason: running.reason.clone().filter(|_| !outcome.is_success()),
            running: Some(running),
            migration: None,
        })
    }
}
