//! The image scan gate (`max_severity`): ECR's scan of the digest, or the report of the
//! environment's `scan_command`, judged against the risks approvers accepted.

use super::*;
use crate::adapters::aws::ecr::{Ecr, Scan};
use crate::core::scan::{self, Finding};
use crate::util::progress;

impl Rollout<'_> {
    /// What the scan of `image` (at `digest`) says against `version` going to `env`: empty
    /// when nothing blocks. ECR scans still running are waited for, up to the environment's
    /// timeout.
    pub(super) async fn scan_blockers(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
        image: &str,
        digest: &str,
    ) -> Result<Vec<String>, DeployError> {
        let Some(max) = env.max_severity else {
            return Ok(Vec::new());
        };
        let findings = match self.findings(env_name, env, image, digest).await? {
            Ok(found) => found,
            Err(why) => {
                return Ok(vec![format!(
                    "the image scan of {digest} gives no findings to judge: {why}"
                )])
            }
        };
        let accepted = self.accepted_risks(env_name, env, version, digest).await?;
        let ids: Vec<String> = accepted.iter().map(|(id, _)| id.clone()).collect();
        let blocking = scan::blocking(&findings, max, &ids);
        for (id, by) in &accepted {
            if findings
                .iter()
                .any(|f| f.id.eq_ignore_ascii_case(id) && f.severity > max)
            {
                progress::line(&format!(
                    "scan: {id} accepted by {by} for {version} in {env_name}"
                ));
            }
        }
        if blocking.is_empty() {
            return Ok(Vec::new());
        }
        let shown: Vec<String> = blocking.iter().take(20).map(|f| f.to_string()).collect();
        let more = blocking.len().saturating_sub(shown.len());
        Ok(vec![format!(
            "the image {digest} has {} finding(s) above {} (max_severity): {}{}; rebuild it without them, or accept each risk as an approver: `release approve {version} --env {env_name} --accept-risk {}`",
            blocking.len(),
            max.as_str(),
            shown.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() },
            blocking[0].id
        )])
    }

    /// The findings of the image, from `scan_command` or ECR; `Err` (inside) when the scan
    /// cannot give any. Kept per digest for the rest of the run (the gates are judged twice).
    async fn findings(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        image: &str,
        digest: &str,
    ) -> Result<Result<Vec<Finding>, String>, DeployError> {
        let key = format!("{env_name} {digest}");
        if let Some(found) = self.scans.lock().ok().and_then(|s| s.get(&key).cloned()) {
            return Ok(Ok(found));
        }
        let found = if !env.scan_command.is_empty() {
            let (argv, image, timeout) =
                (env.scan_command.clone(), image.to_string(), env.timeout.0);
            tokio::task::spawn_blocking(move || {
                crate::adapters::scanner::scan(&argv, &image, timeout)
            })
            .await
            .map_err(|e| DeployError::Scan(e.to_string()))?
            .map_err(|e| DeployError::Scan(e.to_string()))?
        } else {
            let repository = crate::core::image::Repository::parse(
                image.split_once('@').map_or(image, |(r, _)| r),
            )
            .map_err(|e| DeployError::Scan(e.to_string()))?;
            let Some(ecr) = Ecr::new(&self.aws, &repository) else {
                return Err(DeployError::Scan(format!(
                    "environments.{env_name}.max_severity: {} is not an ECR repository, whose scans release reads; set scan_command (e.g. [\"trivy\", \"image\", \"--format\", \"json\", \"{{image}}\"])",
                    repository.full()
                )));
            };
            let started = Instant::now();
            loop {
                match ecr
                    .scan(digest)
                    .await
                    .map_err(|e| DeployError::Scan(e.to_string()))?
                {
                    Scan::Complete(found) => break found,
                    Scan::Failed(why) => return Ok(Err(format!("ECR: {why}"))),
                    Scan::Pending(why) => {
                        if started.elapsed() >= env.timeout.0 {
                            return Ok(Err(format!(
                                "the ECR scan is still not complete after {} s ({why})",
                                env.timeout.0.as_secs()
                            )));
                        }
                        progress::line(&format!(
                            "scan: waiting for ECR's scan of {digest} ({why})"
                        ));
                        tokio::time::sleep(env.poll_interval.0).await;
                    }
                }
            }
        };
        if let Ok(mut scans) = self.scans.lock() {
            scans.insert(key, found.clone());
        }
        Ok(Ok(found))
    }

    /// The finding ids approvers accepted for `version` in `env` at `digest`, with who.
    async fn accepted_risks(
        &self,
        env_name: &str,
        env: &EnvironmentConfig,
        version: &str,
        digest: &str,
    ) -> Result<Vec<(String, String)>, DeployError> {
        let entries = self.ledger.approval_entries(env_name, version).await?;
        let fixed = self
            .ledger
            .digest(&self.digest_key(version))
            .await?
            .map(|d| d.digest);
        let (counted, _) = deployment::bound_to_digest(
            version,
            &entries.approvals,
            Some(digest),
            fixed.as_deref(),
        );
        let cutters = self.cutters(version).await?;
        Ok(counted
            .iter()
            .filter(|a| a.decision == Decision::Approved)
            .filter(|a| {
                deployment::may_approve(env_name, &env.rules(), &a.identity(), &cutters).is_ok()
            })
            .flat_map(|a| a.accepted_risks.iter().map(|id| (id.clone(), a.by.clone())))
            .collect())
    }
}
