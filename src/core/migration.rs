//! Migrations before a deploy: what the ledger keeps of one, the ECS task as the decisions see
//! it, and whether a stopped task succeeded.

use serde::{Deserialize, Serialize};

/// Where a migration got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationStatus {
    /// Written before `RunTask`: a killed run finds its task by `started_by`.
    Started,
    /// Its essential containers exited 0.
    Completed,
    /// It failed (an exit code, a stop, a timeout): the deploy stopped before any service.
    Failed,
}

/// The migration of one version in one environment (ledger key
/// `<env>/migrations/<version>`, rewritten at every change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationRecord {
    /// The environment.
    pub env: String,
    /// The version.
    pub version: String,
    /// Its image, `repository@digest`.
    pub image: String,
    /// Where it got to.
    pub status: MigrationStatus,
    /// The task definition run.
    pub task_definition: String,
    /// The `startedBy` of its task, unique to this attempt.
    pub started_by: String,
    /// The task, once `RunTask` answered (or a re-run found it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// The command override (empty: the task definition's command).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// The exit code of the migration container, once stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the deploy that ran it started (its record's `at`): a resumed deploy asked to
    /// rerun migrations does not run its own migration twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<String>,
    /// Who ran it.
    pub by: String,
    /// When this state was written (RFC 3339).
    pub at: String,
}

/// A container of a task, as far as a migration is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerExit {
    /// The container's name.
    pub name: String,
    /// Its exit code, once it exited.
    pub exit_code: Option<i32>,
    /// ECS's reason, when it did not exit normally.
    pub reason: Option<String>,
}

/// An ECS task, as a migration is followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    /// The task ARN.
    pub arn: String,
    /// `PROVISIONING`, `PENDING`, `RUNNING`, ..., `STOPPED`.
    pub last_status: String,
    /// Why it stopped.
    pub stopped_reason: Option<String>,
    /// ECS's stop code (`EssentialContainerExited`, `TaskFailedToStart`, ...).
    pub stop_code: Option<String>,
    /// Its containers.
    pub containers: Vec<ContainerExit>,
}

impl TaskView {
    /// Whether the task has stopped.
    pub fn stopped(&self) -> bool {
        self.last_status == "STOPPED"
    }

    /// The task's id: the last part of its ARN (the awslogs stream ends with it).
    pub fn id(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }
}

/// Why a stopped migration task failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// One line: the container, its exit code, ECS's reason.
    pub message: String,
    /// The container whose log tells more.
    pub container: String,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
}

/// Whether the stopped `task` succeeded: every `essential` container exited 0. `main` is the
/// migration's container, named first when it failed (its log is the one shown).
pub fn verdict(task: &TaskView, essential: &[String], main: &str) -> Result<i32, TaskFailure> {
    let reason = task
        .stopped_reason
        .as_deref()
        .filter(|r| !r.is_empty())
        .unwrap_or("no reason given");
    let mut names: Vec<&str> = vec![main];
    names.extend(essential.iter().map(String::as_str).filter(|n| *n != main));
    let mut main_code = None;
    for name in names {
        let container = task.containers.iter().find(|c| c.name == name);
        let code = container.and_then(|c| c.exit_code);
        if name == main {
            main_code = code;
        }
        if code == Some(0) {
            continue;
        }
        // A container that is not essential and not the migration's may be missing.
        if container.is_none() && name != main && !essential.iter().any(|e| e == name) {
            continue;
        }
        let why = match (code, container.and_then(|c| c.reason.as_deref())) {
            (Some(c), _) => format!("container {name} exited with code {c}"),
            (None, Some(r)) => format!("container {name} did not exit normally ({r})"),
            (None, None) => format!("container {name} has no exit code"),
        };
        return Err(TaskFailure {
            message: format!("{why}; the task stopped: {reason}"),
            container: name.to_string(),
            exit_code: code,
        });
    }
    Ok(main_code.unwrap_or(0))
}

/// The `startedBy` of one attempt: names release-agent, unique per attempt (ECS allows
/// letters, digits, `-`, `_`; at most 36 to be safe everywhere).
pub fn started_by(token: &str) -> String {
    let clean: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(22)
        .collect();
    format!("release-agent-{clean}")
}

/// The awslogs stream of a task's container: `<prefix>/<container>/<task id>`.
pub fn log_stream(prefix: &str, container: &str, task_id: &str) -> String {
    format!("{prefix}/{container}/{task_id}")
}

/// The lines of a log, shown indented under the failure, at most `n`, the last ones.
pub fn tail(lines: &[String], n: usize) -> Vec<String> {
    let skip = lines.len().saturating_sub(n);
    lines[skip..]
        .iter()
        .flat_map(|l| l.lines().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(containers: &[(&str, Option<i32>)]) -> TaskView {
        TaskView {
            arn: "arn:aws:ecs:eu-north-1:1:task/prod/abc123".into(),
            last_status: "STOPPED".into(),
            stopped_reason: Some("Essential container in task exited".into()),
            stop_code: Some("EssentialContainerExited".into()),
            containers: containers
                .iter()
                .map(|(n, c)| ContainerExit {
                    name: n.to_string(),
                    exit_code: *c,
                    reason: None,
                })
                .collect(),
        }
    }

    #[test]
    fn every_essential_container_must_exit_0() {
        let essential = vec!["app".to_string(), "proxy".to_string()];
        assert_eq!(
            verdict(
                &task(&[("app", Some(0)), ("proxy", Some(0))]),
                &essential,
                "app"
            ),
            Ok(0)
        );
        let e = verdict(
            &task(&[("app", Some(3)), ("proxy", Some(0))]),
            &essential,
            "app",
        )
        .unwrap_err();
        assert_eq!(e.container, "app");
        assert_eq!(e.exit_code, Some(3));
        assert!(e.message.contains("exited with code 3"), "{}", e.message);
        assert!(e.message.contains("Essential container in task exited"));
        let e = verdict(
            &task(&[("app", Some(0)), ("proxy", Some(137))]),
            &essential,
            "app",
        )
        .unwrap_err();
        assert_eq!(e.container, "proxy");
        let e = verdict(&task(&[("proxy", Some(0))]), &essential, "app").unwrap_err();
        assert!(e.message.contains("no exit code"), "{}", e.message);
        // A sidecar that is not essential may fail.
        assert!(verdict(
            &task(&[("app", Some(0)), ("log", Some(1))]),
            &["app".to_string()],
            "app"
        )
        .is_ok());
    }

    #[test]
    fn names_of_streams_and_attempts() {
        assert_eq!(task(&[]).id(), "abc123");
        assert_eq!(log_stream("migrate", "app", "abc123"), "migrate/app/abc123");
        let s = started_by("1a2b-3c/4d");
        assert_eq!(s, "release-agent-1a2b3c4d");
        assert!(started_by(&"f".repeat(64)).len() <= 36);
    }

    #[test]
    fn the_tail_is_the_last_lines() {
        let lines: Vec<String> = (1..=30).map(|i| format!("line {i}")).collect();
        let t = tail(&lines, 20);
        assert_eq!(t.len(), 20);
        assert_eq!(t[0], "line 11");
        assert_eq!(t[19], "line 30");
        assert_eq!(tail(&lines[..3], 20).len(), 3);
    }
}
