//! The images `release image prune` must never delete, as the ledger and ECS know them.

use super::*;
use std::collections::HashMap;

impl Rollout<'_> {
    /// Digests that must stay, with why: what each environment runs (in the ledger and in
    /// ECS, every deployment of every service), the last `keep_deployments` completed
    /// deployments of each (what a rollback can return to), and the versions waiting for an
    /// environment. `tags` maps tags to digests, for task definitions that name a tag. ECS
    /// that cannot be read is an error: what runs must be known before anything is deleted.
    pub async fn protected_images(
        &self,
        keep_deployments: usize,
        tags: &HashMap<String, String>,
    ) -> Result<HashMap<String, String>, DeployError> {
        // Strongest reason first: what runs, then what a rollback returns to, then what waits.
        let mut runs = Vec::new();
        let mut rollbacks = Vec::new();
        let mut waits = Vec::new();
        for (name, env) in &self.config.environments {
            let history = self.ledger.history(name).await?;
            let current = self.ledger.current(name).await?;
            if let Some(c) = &current {
                runs.push((c.digest.clone(), format!("{name} runs it (the ledger)")));
                if let Some(last) = &c.last_completed {
                    rollbacks.push((last.digest.clone(), format!("{name} can roll back to it")));
                }
            }
            for r in history
                .iter()
                .rev()
                .filter(|r| r.status == ledger::Status::Completed)
                .take(keep_deployments)
            {
                rollbacks.push((
                    r.digest.clone(),
                    format!(
                        "{name} can roll back to it ({}, {})",
                        r.version.as_deref().unwrap_or("unknown version"),
                        r.at
                    ),
                ));
            }
            if let Some(required) = &env.requires {
                let before = self.ledger.history(required).await?;
                let running = current.as_ref().and_then(|c| c.version.as_deref());
                for version in deployment::waiting_versions(&before, &history, running) {
                    let digest =
                        deployment::completed_in(&before, &version).and_then(|r| r.digest.clone());
                    waits.push((digest, format!("{version} waits for {name}")));
                }
            }
            for view in self
                .ecs
                .describe_services(&env.cluster, &env.services)
                .await?
            {
                let mut definitions = vec![view.task_definition.clone()];
                definitions.extend(view.deployments.iter().map(|d| d.task_definition.clone()));
                definitions.sort();
                definitions.dedup();
                for arn in definitions {
                    let copy = self.ecs.describe_task_definition(&arn).await?;
                    for container in copy.definition.container_definitions() {
                        let Some(image) = container.image() else {
                            continue;
                        };
                        let digest = match image.split_once('@') {
                            Some((_, d)) => Some(d.to_string()),
                            None => image
                                .rsplit_once(':')
                                .filter(|(_, t)| !t.contains('/'))
                                .and_then(|(_, t)| tags.get(t).cloned()),
                        };
                        runs.push((
                            digest,
                            format!("ECS runs it ({}/{})", env.cluster, view.name),
                        ));
                    }
                }
            }
        }
        let mut keep: HashMap<String, String> = HashMap::new();
        for (digest, why) in runs.into_iter().chain(rollbacks).chain(waits) {
            if let Some(d) = digest {
                keep.entry(d).or_insert(why);
            }
        }
        Ok(keep)
    }
}
