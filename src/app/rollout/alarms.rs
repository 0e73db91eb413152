//! CloudWatch alarms around a deploy (`alarms`, `bake`): checked before it starts, watched from
//! the update until the bake ends.

use super::*;
use crate::adapters::aws::cloudwatch::Alarms;

impl Rollout<'_> {
    /// The alarms of `env` in ALARM now, as `name (reason)`; a missing alarm is an error.
    pub(super) async fn firing_alarms(
        &self,
        env: &EnvironmentConfig,
    ) -> Result<Vec<(String, String)>, DeployError> {
        if env.alarms.is_empty() {
            return Ok(Vec::new());
        }
        let states = Alarms::new(&self.aws)
            .states(&env.alarms)
            .await
            .map_err(|e| DeployError::Alarms(e.to_string()))?;
        Ok(states
            .into_iter()
            .filter(|a| a.firing())
            .map(|a| (a.name, a.reason))
            .collect())
    }

    /// The alarms in ALARM that `--force` overrides for this deploy, said and recorded.
    pub(super) async fn forced_alarms(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
    ) -> Result<Vec<String>, DeployError> {
        if !self.force_alarms {
            return Ok(Vec::new());
        }
        let firing = self.firing_alarms(env).await?;
        for (name, reason) in &firing {
            self.say(&format!(
                "--force: deploying to {env_name} although alarm {name} is in ALARM ({reason}); it is not watched during this deploy"
            ));
        }
        Ok(firing.into_iter().map(|(name, _)| name).collect())
    }

    /// What keeps a deploy from starting: an alarm already in ALARM, unless `--force`.
    pub(super) async fn alarm_blockers(
        &self,
        env: &EnvironmentConfig,
    ) -> Result<Vec<String>, DeployError> {
        let firing = self.firing_alarms(env).await?;
        if self.force_alarms {
            return Ok(Vec::new());
        }
        Ok(firing
            .into_iter()
            .map(|(name, reason)| {
                format!(
                    "alarm {name} is already in ALARM ({reason}): the deploy would be judged by an alarm that is firing; fix what it reports first, or deploy anyway with --force (recorded in the ledger, and that alarm is not watched)"
                )
            })
            .collect())
    }

    /// `Err` naming the first alarm of `env` in ALARM that is not in `ignored`. A CloudWatch
    /// that cannot be read now is said and not held against the deploy: the next poll asks
    /// again.
    pub(super) async fn watch_alarms(
        &self,
        env: &EnvironmentConfig,
        ignored: &[String],
    ) -> Result<(), String> {
        if env.alarms.iter().all(|a| ignored.contains(a)) {
            return Ok(());
        }
        match self.firing_alarms(env).await {
            Ok(firing) => match firing.into_iter().find(|(name, _)| !ignored.contains(name)) {
                Some((name, reason)) => Err(format!("alarm {name} went to ALARM: {reason}")),
                None => Ok(()),
            },
            Err(e) => {
                self.say(&format!("  cannot read the alarms ({e}); asking again"));
                Ok(())
            }
        }
    }

    /// The bake: the alarms watched for `env.bake` after the health gate.
    pub(super) async fn bake(
        &self,
        env: &EnvironmentConfig,
        ignored: &[String],
    ) -> Result<(), String> {
        let Some(bake) = env.bake else {
            return Ok(());
        };
        self.say(&format!(
            "  baking for {bake}, watching {}",
            env.alarms.join(", ")
        ));
        let end = Instant::now() + bake.0;
        loop {
            self.watch_alarms(env, ignored).await?;
            let now = Instant::now();
            if now >= end {
                self.say("  bake passed");
                return Ok(());
            }
            tokio::time::sleep(env.poll_interval.0.min(end - now)).await;
        }
    }
}
