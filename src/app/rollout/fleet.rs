//! Environments of several clusters and regions (`targets`): deployed in waves, the targets of
//! a wave together, and rolled back together when any of them fails.

use super::*;
use futures_util::future::join_all;

/// One cluster of an environment, as a deploy sees it.
pub(super) struct Target {
    /// Its name in the ledger: the environment's own for its `cluster`, else
    /// `<env>.<region>.<cluster>`.
    pub(super) name: String,
    /// The environment with this target's cluster and services.
    pub(super) env: EnvironmentConfig,
    /// Its region (`None`: the one `release` runs with).
    pub(super) region: Option<String>,
    /// Its wave.
    pub(super) wave: u32,
}

/// The targets of `env`: its own cluster first, then `targets`, in wave order (stable).
pub(super) fn targets(env_name: &str, env: &EnvironmentConfig) -> Vec<Target> {
    let mut all = vec![Target {
        name: env_name.to_string(),
        env: EnvironmentConfig {
            targets: Vec::new(),
            ..env.clone()
        },
        region: None,
        wave: env.wave.unwrap_or(1),
    }];
    for t in &env.targets {
        all.push(Target {
            name: t.ledger_name(env_name),
            env: EnvironmentConfig {
                cluster: t.cluster.clone(),
                services: t.services.clone().unwrap_or_else(|| env.services.clone()),
                targets: Vec::new(),
                // The migration runs once, with the environment's own cluster, in an earlier
                // wave than every other target (the configuration makes sure of it).
                migrate: None,
                ..env.clone()
            },
            region: t.region.clone(),
            wave: t.wave.unwrap_or(1),
        });
    }
    all.sort_by_key(|t| t.wave);
    all
}

impl<'a> Rollout<'a> {
    /// This rollout against `region`'s ECS and CloudWatch (the ledger and registry stay).
    pub(super) fn in_region(&self, region: Option<&str>) -> Rollout<'a> {
        let aws = match region {
            Some(r) => self
                .aws
                .to_builder()
                .region(aws_config::Region::new(r.to_string()))
                .build(),
            None => self.aws.clone(),
        };
        let prefix = self.config.tag_prefix.clone();
        let repo = self.repo;
        let rollout = Rollout {
            config: self.config,
            ledger: self.ledger.clone(),
            ecs: Ecs::new(&aws),
            who: self.who.clone(),
            repo,
            aws,
            tagger: Box::new(move |version| git::tagger(repo, &format!("{prefix}{version}"))),
            images: RegistryImages::new(repo.path(), self.config, self.environ),
            package: None,
            extra_images: Vec::new(),
            environ: self.environ,
            lock_wait: self.lock_wait,
            force_alarms: self.force_alarms,
            rerun_migrations: self.rerun_migrations,
            scans: std::sync::Mutex::new(std::collections::HashMap::new()),
        };
        match &self.package {
            Some((package, container)) => rollout.for_package(package.clone(), container),
            None => rollout,
        }
    }

    /// Deploy to every target of `env`, wave by wave, its lock held. A target that fails rolls
    /// itself back; then every target that took the version (this wave's and earlier ones')
    /// is rolled back too, and no later wave starts. Only when every wave passed is any of
    /// them recorded completed.
    pub(super) async fn deploy_fleet(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
        image: &str,
        digest: &str,
    ) -> Result<DeployReport, DeployError> {
        let targets = targets(env_name, env);
        let regional: Vec<Rollout<'a>> = targets
            .iter()
            .map(|t| self.in_region(t.region.as_deref()))
            .collect();
        let mut waves: Vec<u32> = targets.iter().map(|t| t.wave).collect();
        waves.dedup();
        let mut held: Vec<(usize, Record)> = Vec::new();
        let mut failed: Option<(usize, DeployReport)> = None;
        for wave in waves {
            let members: Vec<usize> = (0..targets.len())
                .filter(|i| targets[*i].wave == wave)
                .collect();
            self.say(&format!(
                "wave {wave}: {}",
                members
                    .iter()
                    .map(|i| targets[*i].name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            let reports = join_all(members.iter().map(|i| {
                let t = &targets[*i];
                regional[*i].deploy_locked(&t.name, &t.env, version, image, digest, true)
            }))
            .await;
            for (i, report) in members.iter().zip(reports) {
                match report {
                    Ok(r) if r.outcome.is_success() => {
                        if let Some(record) = r.running.clone() {
                            held.push((*i, record));
                        }
                    }
                    Ok(r) => {
                        failed.get_or_insert((*i, r));
                    }
                    Err(e) => {
                        failed.get_or_insert((
                            *i,
                            DeployReport {
                                outcome: DeployOutcome::Failed,
                                action: Action::Deploy,
                                env: targets[*i].name.clone(),
                                version: Some(version.to_string()),
                                image: Some(image.to_string()),
                                reason: Some(e.to_string()),
                                running: None,
                                migration: None,
                            },
                        ));
                    }
                }
            }
            if failed.is_some() {
                break;
            }
        }
        let own = |records: &[(usize, Record)]| {
            records
                .iter()
                .find(|(i, _)| *i == 0)
                .map(|(_, r)| r.clone())
        };
        let Some((at, report)) = failed else {
            let mut completed = Vec::new();
            for (i, record) in held {
                let t = &targets[i];
                let record = regional[i].complete(&t.name, &t.env, record).await?;
                completed.push((i, record));
            }
            return Ok(DeployReport {
                outcome: DeployOutcome::Deployed,
                action: Action::Deploy,
                env: env_name.to_string(),
                version: Some(version.to_string()),
                image: Some(image.to_string()),
                reason: None,
                running: own(&completed),
                migration: None,
            });
        };
        let why = format!(
            "{} failed: {}",
            targets[at].name,
            report.reason.as_deref().unwrap_or("no reason given")
        );
        let mut outcome = match report.outcome {
            DeployOutcome::RollbackFailed => DeployOutcome::RollbackFailed,
            _ => DeployOutcome::RolledBack,
        };
        let mut running = Vec::new();
        if let Some(r) = report.running {
            running.push((at, r));
        }
        for (i, record) in held {
            let t = &targets[i];
            self.say(&format!("rolling {} back: {why}", t.name));
            let (o, r) = regional[i]
                .fail_and_roll_back(&t.name, &t.env, record, &why)
                .await?;
            if o == DeployOutcome::RollbackFailed {
                outcome = DeployOutcome::RollbackFailed;
            }
            if let Some(r) = r {
                running.push((i, r));
            }
        }
        Ok(DeployReport {
            outcome,
            action: Action::Deploy,
            env: env_name.to_string(),
            version: Some(version.to_string()),
            image: Some(image.to_string()),
            reason: Some(why),
            running: own(&running),
            migration: None,
        })
    }
}
