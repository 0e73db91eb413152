//! Waiting for ECS: following the pinned deployments until they complete or fail.

use super::*;

impl<'a> Rollout<'a> {
    /// Poll until every pinned deployment completes; `Err` says why not. With `alarms` (the
    /// ones to ignore), an alarm of the environment going to ALARM fails it too. One DescribeServices
    /// per poll for all services. Events already in `before` (the services as they were
    /// before the update) are not shown again; without them, the first poll's are not shown.
    pub(super) async fn wait(
        &self,
        env: &EnvironmentConfig,
        record: &Record,
        before: &[ServiceView],
        deadline: Instant,
        alarms: Option<&[String]>,
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
            let views = match self
                .ecs
                .describe_services(&env.cluster, &env.services)
                .await
            {
                Ok(v) => {
                    errors = 0;
                    v
                }
                Err(e) if errors < 2 && Instant::now() < deadline => {
                    errors += 1;
                    self.say(&format!("  cannot read the services ({e}); trying again"));
                    tokio::time::sleep(env.poll_interval.0).await;
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
            // A deploy is judged by its alarms too (not a rollback: it is the way back).
            if let Some(ignored) = alarms {
                self.watch_alarms(env, ignored).await?;
            }
            match deployment::assess_all(&views, &pinned) {
                Progress::Completed => return Ok(()),
                Progress::Failed(why) => return Err(why),
                Progress::InProgress => {}
            }
            if Instant::now() >= deadline {
                return Err(format!("timed out after {} ({last_line})", env.timeout));
            }
            tokio::time::sleep(env.poll_interval.0.min(deadline - Instant::now())).await;
        }
    }

    /// The services of `services` that do not run their task definition on a completed
    /// deployment (all of them when ECS cannot be read).
    pub(super) async fn unsettled(
        &self,
        env: &EnvironmentConfig,
        services: &[ServiceState],
    ) -> Vec<String> {
        let views = self
            .ecs
            .describe_services(&env.cluster, &env.services)
            .await
            .unwrap_or_default();
        services
            .iter()
            .filter(|s| !deployment::runs_completed(&views, std::slice::from_ref(*s)))
            .map(|s| s.service.clone())
            .collect()
    }
}
