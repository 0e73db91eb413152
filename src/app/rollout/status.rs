//! What runs where, what waits, and the ledger's history and locks.

use super::*;

/// One environment in `release status`.
#[derive(Debug, Clone, Serialize)]
pub struct EnvStatus {
    /// The name.
    pub env: String,
    /// The package whose versions it runs (`null`: the root's).
    pub package: Option<String>,
    /// What runs or is being deployed.
    pub current: Option<Record>,
    /// Versions that completed in the required environment and wait here, newest first.
    pub waiting: Vec<Waiting>,
    /// Where ECS differs from the ledger (a service changed by hand, a deploy under way);
    /// empty when they agree.
    pub drift: Vec<String>,
    /// Where each service deployment of a staged deploy under way stands, read from ECS.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<ServiceDeploymentView>,
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
    /// Every environment: what runs, what waits.
    pub async fn status(&self) -> Result<Vec<EnvStatus>, DeployError> {
        let mut all = Vec::new();
        for (name, env) in &self.config.environments {
            let current = self.ledger.current(name).await?;
            let mut waiting = Vec::new();
            // A package's versions are judged by its own tags (who cut them) and digests.
            let of_package = env
                .package
                .clone()
                .map(|p| self.in_region(None).for_package(p, &env.container));
            let judge = of_package.as_ref().unwrap_or(self);
            if let Some(required) = &env.requires {
                let history = self.ledger.history(required).await?;
                let here = self.ledger.history(name).await?;
                let running = current.as_ref().and_then(|c| c.version.as_deref());
                for version in deployment::waiting_versions(&history, &here, running) {
                    let digest =
                        deployment::completed_in(&history, &version).and_then(|r| r.digest.clone());
                    // One version whose records cannot be read blocks itself, not the status.
                    let (blockers, approved_by) = match judge
                        .tally(name, env, &version, digest.as_deref())
                        .await
                    {
                        Ok((tally, _)) => (
                            deployment::promotion_blockers(name, env, &version, &history, &tally),
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
            let (drift, stages) = self.cluster_status(name, env, current.as_ref()).await;
            all.push(EnvStatus {
                env: name.clone(),
                package: env.package.clone(),
                current,
                waiting,
                drift,
                stages,
            });
            // The other clusters of a fleet, each as its own line.
            for t in super::fleet::targets(name, env).into_iter().skip(1) {
                let current = self.ledger.current(&t.name).await?;
                let (drift, stages) = self
                    .in_region(t.region.as_deref())
                    .cluster_status(&t.name, &t.env, current.as_ref())
                    .await;
                all.push(EnvStatus {
                    env: t.name,
                    package: env.package.clone(),
                    current,
                    waiting: Vec::new(),
                    drift,
                    stages,
                });
            }
        }
        Ok(all)
    }

    /// Where ECS differs from the ledger's `current` for one cluster, and the stages of a
    /// staged deploy under way there.
    async fn cluster_status(
        &self,
        name: &str,
        env: &EnvironmentConfig,
        current: Option<&Record>,
    ) -> (Vec<String>, Vec<ServiceDeploymentView>) {
        let Some(c) = current else {
            return (Vec::new(), Vec::new());
        };
        let drift = match self
            .ecs
            .describe_services(&env.cluster, &env.services)
            .await
        {
            Ok(views) => {
                let mut drift = deployment::drift(&views, c);
                drift.extend(deployment::reconcile(&views, c));
                drift
            }
            Err(e) => vec![format!("cannot read ECS: {e}")],
        };
        let pinned: Vec<String> = Some(c)
            .filter(|c| c.status == Status::InProgress)
            .map(Record::service_deployments)
            .unwrap_or_default();
        let stages = if pinned.is_empty() {
            Vec::new()
        } else {
            match self.ecs.describe_service_deployments(&pinned).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!("cannot read the service deployments of {name}: {e}");
                    Vec::new()
                }
            }
        };
        (drift, stages)
    }

    /// The history of `env` (or of one cluster of a fleet, by its ledger name), newest
    /// first.
    pub async fn history(&self, env_name: &str) -> Result<Vec<Record>, DeployError> {
        let target = self
            .config
            .environments
            .iter()
            .any(|(name, env)| env.targets.iter().any(|t| t.ledger_name(name) == env_name));
        if !target {
            self.env(env_name)?;
        }
        let mut h = self.ledger.history(env_name).await?;
        h.reverse();
        Ok(h)
    }

    /// Remove `env`'s lock.
    pub async fn unlock(&self, env_name: &str) -> Result<Option<Holder>, DeployError> {
        self.env(env_name)?;
        Ok(self.ledger.unlock(env_name).await?)
    }
}
