//! Migrations: the one-off task of `[environments.<name>.migrate]`, run to completion before
//! any service of a deploy changes.
//!
//! Once per version and environment (the ledger's `<env>/migrations/<version>`), unless
//! `--rerun-migrations`. The record is written as `started` before `RunTask`, with a
//! `startedBy` unique to the attempt: a run killed after `RunTask` finds that task again
//! (`ListTasks` by `startedBy`) and waits for it instead of starting a second one.

use super::*;
use crate::adapters::aws::ecs::{Placement, RunTaskRequest};
use crate::adapters::aws::logs::Logs;
use crate::config::environments::MigrateConfig;
use crate::core::migration::{self, MigrationRecord, MigrationStatus, TaskView};

/// How many lines of a failed migration's log are shown.
const TAIL_LINES: usize = 20;

/// The fault point between `RunTask` and the record of its task (tests kill the run there).
pub(super) const RUN_TASK_POINT: &str = "migrate-run-task";

/// What the migration step did.
pub(super) struct Migrated {
    /// What to report.
    pub detail: String,
    /// The migration's record.
    pub record: MigrationRecord,
}

/// The task a migration runs, for names and messages.
pub fn describe(m: &MigrateConfig) -> String {
    match (&m.task_family, &m.service) {
        (Some(f), _) => format!("task family {f}"),
        (None, Some(s)) => format!("the task definition of service {s}"),
        (None, None) => "no task".into(),
    }
}

/// How a dry run names the migration a deploy to `env` runs first: `, its migration first: ...`,
/// or nothing when the environment has none.
pub fn dry_run_clause(config: &crate::config::Config, env: &str) -> String {
    config
        .environments
        .get(env)
        .and_then(|e| e.migrate.as_ref())
        .map(|m| format!(", its migration first: {}", describe(m)))
        .unwrap_or_default()
}

impl Rollout<'_> {
    /// Whether the migration of `record`'s version already completed and is not to run again
    /// (with `--rerun-migrations`, only the one this very deploy ran before it was killed);
    /// its record.
    pub(super) async fn migration_done(
        &self,
        record: &Record,
        version: &str,
    ) -> Result<Option<MigrationRecord>, DeployError> {
        Ok(self
            .ledger
            .migration(&record.env, version)
            .await?
            .filter(|m| m.status == MigrationStatus::Completed)
            .filter(|m| !self.rerun_migrations || m.deploy.as_deref() == Some(record.at.as_str())))
    }

    /// Run the migration of `version` (`image`) in `env_name`, or wait for the one a killed
    /// run started; `record` holds the services' new task definitions. A failed migration is
    /// [`DeployError::MigrationFailed`], its log's last lines shown.
    pub(super) async fn migrate(
        &self,
        env: &EnvironmentConfig,
        m: &MigrateConfig,
        version: &str,
        image: &str,
        record: &Record,
    ) -> Result<Migrated, DeployError> {
        let env_name = record.env.as_str();
        let container = m.container(env);
        let previous = self.ledger.migration(env_name, version).await?;
        let resumed = previous
            .as_ref()
            .is_some_and(|r| r.status == MigrationStatus::Started);
        let mut attempt = match previous {
            Some(r) if r.status == MigrationStatus::Started => {
                self.say(&format!(
                    "resuming the migration of {version} started at {} ({})",
                    r.at, r.started_by
                ));
                r
            }
            _ => {
                let task_definition = self
                    .migration_task_definition(env, m, record, image)
                    .await?;
                MigrationRecord {
                    env: env_name.to_string(),
                    version: version.to_string(),
                    image: image.to_string(),
                    status: MigrationStatus::Started,
                    task_definition,
                    started_by: migration::started_by(&attempt_token()),
                    task_arn: None,
                    command: m.command.as_ref().map(|c| c.argv()).unwrap_or_default(),
                    exit_code: None,
                    reason: None,
                    deploy: Some(record.at.clone()),
                    by: self.by().await,
                    at: ledger::timestamp(),
                }
            }
        };
        let definition = self
            .ecs
            .describe_task_definition(&attempt.task_definition)
            .await?;
        definition.check_container(container)?;

        // A killed run may have started the task without recording it: find it by startedBy.
        if attempt.task_arn.is_none() && resumed {
            attempt.task_arn = self
                .ecs
                .tasks_started_by(&env.cluster, &attempt.started_by)
                .await?
                .into_iter()
                .next();
            if let Some(arn) = &attempt.task_arn {
                self.say(&format!("found its task {arn}"));
                self.ledger.put_migration(&attempt).await?;
            }
        }
        let arn = match attempt.task_arn.clone() {
            Some(arn) => arn,
            None => {
                self.ledger.put_migration(&attempt).await?;
                let placement = self
                    .ecs
                    .placement(&env.cluster, migration_service(env, m))
                    .await?;
                let arn = self
                    .run_migration(env, container, &attempt, version, &placement)
                    .await?;
                fault::point(RUN_TASK_POINT);
                attempt.task_arn = Some(arn.clone());
                attempt.at = ledger::timestamp();
                self.ledger.put_migration(&attempt).await?;
                arn
            }
        };

        let task = self.follow(env, m, &arn).await;
        let verdict = match &task {
            Ok(t) => migration::verdict(t, &definition.essential_containers(), container)
                .map_err(|f| (f.message, Some(f.container), f.exit_code)),
            Err(why) => Err((why.clone(), None, None)),
        };
        attempt.at = ledger::timestamp();
        match verdict {
            Ok(code) => {
                attempt.status = MigrationStatus::Completed;
                attempt.exit_code = Some(code);
                self.ledger.put_migration(&attempt).await?;
                self.say(&format!(
                    "migration of {version} completed (exit code {code})"
                ));
                Ok(Migrated {
                    detail: format!(
                        "run migration {} (exit code {code})",
                        deployment::short_name(&attempt.task_definition)
                    ),
                    record: attempt,
                })
            }
            Err((why, failed_container, code)) => {
                attempt.status = MigrationStatus::Failed;
                attempt.exit_code = code;
                attempt.reason = Some(why.clone());
                self.ledger.put_migration(&attempt).await?;
                self.say(&format!(
                    "migration of {version} in {env_name} failed: {why}"
                ));
                if let (Ok(t), Some(c)) = (&task, failed_container) {
                    self.show_log(&definition, &c, t).await;
                }
                Err(DeployError::MigrationFailed {
                    version: version.to_string(),
                    env: env_name.to_string(),
                    why: format!("{why} (task {})", deployment::short_name(&arn)),
                })
            }
        }
    }

    /// The task definition the migration runs: the family's latest revision with `image`
    /// (registered like a service's), or the service's new one from the deploy's record.
    async fn migration_task_definition(
        &self,
        env: &EnvironmentConfig,
        m: &MigrateConfig,
        record: &Record,
        image: &str,
    ) -> Result<String, DeployError> {
        if let Some(family) = &m.task_family {
            return self
                .with_image(family, family, m.container(env), image)
                .await;
        }
        let service = migration_service(env, m);
        record
            .services
            .iter()
            .find(|s| s.service == service)
            .map(|s| s.task_definition.clone())
            .ok_or_else(|| {
                DeployError::Failed(format!(
                    "the deploy's record has no task definition for service {service}, whose task runs the migration"
                ))
            })
    }

    /// `RunTask` of the attempt, tagged with the version and environment.
    async fn run_migration(
        &self,
        env: &EnvironmentConfig,
        container: &str,
        attempt: &MigrationRecord,
        version: &str,
        placement: &Placement,
    ) -> Result<String, DeployError> {
        let tags = [
            ("release-agent:version".to_string(), version.to_string()),
            ("release-agent:environment".to_string(), attempt.env.clone()),
        ];
        let command = (!attempt.command.is_empty()).then_some(attempt.command.as_slice());
        let arn = self
            .ecs
            .run_task(&RunTaskRequest {
                cluster: &env.cluster,
                task_definition: &attempt.task_definition,
                container,
                command,
                started_by: &attempt.started_by,
                tags: &tags,
                placement,
            })
            .await?;
        self.say(&format!(
            "migration: started task {arn} of {}{}",
            deployment::short_name(&attempt.task_definition),
            match command {
                Some(c) => format!(" running {c:?}"),
                None => String::new(),
            }
        ));
        Ok(arn)
    }

    /// Poll the task until it stops; past the migration's timeout it is stopped and `Err`.
    async fn follow(
        &self,
        env: &EnvironmentConfig,
        m: &MigrateConfig,
        arn: &str,
    ) -> Result<TaskView, String> {
        let deadline = Instant::now() + m.timeout.0;
        let mut last = String::new();
        let mut errors = 0;
        loop {
            match self.ecs.describe_task(&env.cluster, arn).await {
                Ok(Some(t)) => {
                    errors = 0;
                    if t.last_status != last {
                        self.say(&format!("  migration task {}", t.last_status));
                        last = t.last_status.clone();
                    }
                    if t.stopped() {
                        return Ok(t);
                    }
                }
                // A passing error (or a task not yet visible) is not a failed migration.
                Ok(None) if errors < 2 => errors += 1,
                Err(e) if errors < 2 => {
                    errors += 1;
                    self.say(&format!(
                        "  cannot read the migration task ({e}); trying again"
                    ));
                }
                Ok(None) => return Err(format!("ECS does not know the migration task {arn}")),
                Err(e) => return Err(e.to_string()),
            }
            if Instant::now() >= deadline {
                let why = format!(
                    "the migration did not stop within its timeout of {}",
                    m.timeout
                );
                if let Err(e) = self
                    .ecs
                    .stop_task(&env.cluster, arn, &format!("release-agent: {why}"))
                    .await
                {
                    self.say(&format!("warning: stopping the migration task failed: {e}"));
                }
                return Err(format!("{why}; its task was stopped"));
            }
            tokio::time::sleep(env.poll_interval.0.min(deadline - Instant::now())).await;
        }
    }

    /// The last lines of `container`'s awslogs stream, or a warning why they cannot be read.
    async fn show_log(
        &self,
        definition: &crate::adapters::aws::ecs::TaskDefinitionCopy,
        container: &str,
        task: &TaskView,
    ) {
        let Some(logs) = definition.awslogs(container) else {
            self.say(&format!(
                "  (container {container} has no awslogs log configuration: no log to show)"
            ));
            return;
        };
        let Some(prefix) = logs.stream_prefix.as_deref() else {
            self.say(&format!(
                "warning: the awslogs configuration of container {container} has no awslogs-stream-prefix, so its stream cannot be named; see log group {}",
                logs.group
            ));
            return;
        };
        let stream = migration::log_stream(prefix, container, task.id());
        match Logs::new(&self.aws)
            .last_lines(
                logs.region.as_deref(),
                &logs.group,
                &stream,
                TAIL_LINES as i32,
            )
            .await
        {
            Ok(lines) if lines.is_empty() => {
                self.say(&format!("  (log stream {}/{stream} is empty)", logs.group));
            }
            Ok(lines) => {
                self.say(&format!(
                    "  last lines of log stream {}/{stream}:",
                    logs.group
                ));
                for line in migration::tail(&lines, TAIL_LINES) {
                    self.say(&format!("    | {line}"));
                }
            }
            Err(e) => self.say(&format!("warning: {e}")),
        }
    }
}

/// The service whose placement the task copies: the one named, else the environment's first.
fn migration_service<'e>(env: &'e EnvironmentConfig, m: &'e MigrateConfig) -> &'e str {
    m.service
        .as_deref()
        .or(env.services.first().map(String::as_str))
        .unwrap_or_default()
}

/// A token unique to one attempt (time and process).
fn attempt_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}{:x}", nanos & 0xffff_ffff_ffff, std::process::id())
}
