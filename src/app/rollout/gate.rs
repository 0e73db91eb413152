//! The health gate, and the environment's moving image tag.

use super::*;

impl<'a> Rollout<'a> {
    /// The health gate: `health_checks` good answers in a row pass, `health_failures` bad ones
    /// in a row (or the timeout, or an alarm going to ALARM) fail.
    pub(super) async fn gate(
        &self,
        env: &EnvironmentConfig,
        version: &str,
        deadline: Instant,
        ignored_alarms: &[String],
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
            self.watch_alarms(env, ignored_alarms).await?;
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
            tokio::time::sleep(env.poll_interval.0).await;
        }
    }

    /// Put the environment's moving tag on `digest`.
    pub(super) async fn tag_environment(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        digest: &str,
    ) -> Result<(), DeployError> {
        if let Some(tag) = env.image_tag(env_name) {
            self.images
                .tag(digest, tag)
                .await
                .map_err(|message| DeployError::Tag {
                    tag: tag.to_string(),
                    message,
                })?;
        }
        Ok(())
    }
}
