//! Rollout decisions, as pure functions of described state: is a deployment done, failed or
//! still going; does the health gate pass; may a version be approved or promoted; where does a
//! rollback go. No I/O here: [`crate::app::rollout`] asks, these answer.

use std::collections::HashSet;

use crate::config::environments::{ApprovalRules, EnvironmentConfig};
use crate::core::identity::Identity;
use crate::core::record::{Action, Approval, Decision, Record, ServiceState, Snapshot, Status};
use crate::core::service::{DeploymentStatus, RolloutState, ServiceView};

/// Where one pinned deployment stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Still rolling out.
    InProgress,
    /// `rolloutState=COMPLETED` with running equal to desired.
    Completed,
    /// It failed, or is gone; why.
    Failed(String),
}

/// Judge the deployment `pinned` of `service`. "The service is stable" alone is not success: a
/// circuit-breaker rollback also ends stable, on another deployment.
pub fn assess(service: &ServiceView, pinned: &str) -> Progress {
    let Some(d) = service.deployment(pinned) else {
        return Progress::Failed(format!(
            "service {}: deployment {pinned} is gone (replaced by another deployment or rolled back by ECS)",
            service.name
        ));
    };
    match &d.rollout_state {
        Some(RolloutState::Failed) => Progress::Failed(format!(
            "service {}: deployment {pinned} failed ({}; {} tasks failed)",
            service.name,
            d.rollout_reason.as_deref().unwrap_or("no reason given"),
            d.failed
        )),
        _ if d.status != DeploymentStatus::Primary => Progress::Failed(format!(
            "service {}: deployment {pinned} is no longer the primary one (another deploy replaced it)",
            service.name
        )),
        Some(RolloutState::Completed) if d.running == d.desired => Progress::Completed,
        _ => Progress::InProgress,
    }
}

/// All services together: failed if any failed, completed when all completed.
pub fn assess_all(services: &[ServiceView], pinned: &[(String, String)]) -> Progress {
    let mut all_done = true;
    for (name, id) in pinned {
        let Some(service) = services.iter().find(|s| &s.name == name) else {
            return Progress::Failed(format!("service {name} is gone"));
        };
        match assess(service, id) {
            Progress::Failed(why) => return Progress::Failed(why),
            Progress::InProgress => all_done = false,
            Progress::Completed => {}
        }
    }
    if all_done {
        Progress::Completed
    } else {
        Progress::InProgress
    }
}

/// One line of counts: `web 1/2 running (1 pending), worker 2/2 running, done`.
pub fn progress_line(services: &[ServiceView], pinned: &[(String, String)]) -> String {
    pinned
        .iter()
        .map(|(name, id)| {
            let Some(d) = services
                .iter()
                .find(|s| &s.name == name)
                .and_then(|s| s.deployment(id))
            else {
                return format!("{name} gone");
            };
            let mut line = format!("{name} {}/{} running", d.running, d.desired);
            if d.pending > 0 {
                line.push_str(&format!(", {} pending", d.pending));
            }
            if d.failed > 0 {
                line.push_str(&format!(", {} failed", d.failed));
            }
            if let Some(state) = &d.rollout_state {
                line.push_str(&format!(" [{}]", state.as_str().to_ascii_lowercase()));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The events of `service` not seen before, oldest first; they are marked seen.
pub fn new_events(service: &ServiceView, seen: &mut HashSet<String>) -> Vec<String> {
    let mut fresh: Vec<String> = service
        .events
        .iter()
        .filter(|e| seen.insert(e.id.clone()))
        .map(|e| e.message.clone())
        .collect();
    fresh.reverse();
    fresh
}

/// The health gate: `needed` 2xx answers in a row pass it, `allowed_failures` bad ones in a row
/// fail it.
#[derive(Debug, Clone)]
pub struct Gate {
    needed: u32,
    allowed_failures: u32,
    ok: u32,
    bad: u32,
}

/// What the gate says after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateState {
    /// Keep probing.
    Open,
    /// Enough good answers in a row.
    Passed,
    /// Too many bad answers in a row.
    Failed,
}

impl Gate {
    /// A gate for an environment.
    pub fn new(env: &EnvironmentConfig) -> Gate {
        Gate {
            needed: env.health_checks.max(1),
            allowed_failures: env.health_failures.max(1),
            ok: 0,
            bad: 0,
        }
    }

    /// Count one answer.
    pub fn observe(&mut self, healthy: bool) -> GateState {
        if healthy {
            self.ok += 1;
            self.bad = 0;
        } else {
            self.bad += 1;
            self.ok = 0;
        }
        if self.ok >= self.needed {
            GateState::Passed
        } else if self.bad >= self.allowed_failures {
            GateState::Failed
        } else {
            GateState::Open
        }
    }
}

/// May `who` approve a release cut by `cutters` (recorded identities, tagger) for `env`?
/// `Err` says why not.
pub fn may_approve(
    env_name: &str,
    env: &ApprovalRules<'_>,
    who: &Identity,
    cutters: &[String],
) -> Result<(), String> {
    let by = who.by();
    if !env.approvers.is_empty() && !who.is_verified() {
        return Err(format!(
            "{by} is not a verified identity ({}), and {env_name} lists approvers: only an identity from a credential may approve there",
            who.source.describe()
        ));
    }
    if !(env.approvers.is_empty() || who.is_named_by(env.approvers)) {
        return Err(format!(
            "{by} is not an approver of {env_name} (approvers: {})",
            env.approvers.join(", ")
        ));
    }
    if !env.self_approval && who.is_among(cutters) {
        return Err(format!(
            "{by} cut this release and {env_name} does not allow self-approval (`self_approval = false`): another approver must approve it"
        ));
    }
    Ok(())
}

/// The approvals of a version that count: each person's latest decision, from allowed
/// approvers who did not cut it (unless self-approval is allowed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalTally {
    /// Who approved.
    pub approved_by: Vec<String>,
    /// Who rejected, with their note.
    pub rejected_by: Vec<(String, Option<String>)>,
    /// Approvals that do not count, and why.
    pub ignored: Vec<String>,
    /// Approval entries that cannot be read, named: each blocks (it may be a rejection).
    pub unreadable: Vec<String>,
}

/// The decisions on `version` that may count for `digest` (the one about to be deployed),
/// and why the others do not. An approval names the digest it was given for and counts for
/// that one only; one recorded before approvals named a digest counts only when `digest` is
/// the version's first recorded one (`fixed`), since that is what it was given for. A
/// rejection counts whatever digest it names. With `digest` unknown, all may count.
pub fn bound_to_digest(
    version: &str,
    approvals: &[Approval],
    digest: Option<&str>,
    fixed: Option<&str>,
) -> (Vec<Approval>, Vec<String>) {
    let Some(digest) = digest else {
        return (approvals.to_vec(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut ignored = Vec::new();
    for a in approvals {
        if a.decision == Decision::Rejected {
            kept.push(a.clone());
            continue;
        }
        match (&a.digest, fixed) {
            (Some(d), _) if d == digest => kept.push(a.clone()),
            (Some(d), _) => ignored.push(format!(
                "{} approved {version} as {d}, not {digest}",
                a.by
            )),
            (None, Some(f)) if f != digest => ignored.push(format!(
                "{} approved {version} before approvals named a digest, and {version} was first recorded as {f}, not {digest}",
                a.by
            )),
            (None, _) => kept.push(a.clone()),
        }
    }
    (kept, ignored)
}

/// Count `approvals` (oldest first) for `env`. A rejection counts from anyone (it only
/// stops a rollout); an approval only from who may approve.
pub fn tally(
    env_name: &str,
    env: &ApprovalRules<'_>,
    approvals: &[Approval],
    cutters: &[String],
) -> ApprovalTally {
    let mut latest: Vec<(&Approval, String)> = Vec::new();
    for a in approvals {
        let person = a.identity().person();
        latest.retain(|(_, p)| !p.eq_ignore_ascii_case(&person));
        latest.push((a, person));
    }
    let mut t = ApprovalTally::default();
    for (a, _) in latest {
        match (
            a.decision,
            may_approve(env_name, env, &a.identity(), cutters),
        ) {
            (Decision::Rejected, _) => t.rejected_by.push((a.by.clone(), a.note.clone())),
            (Decision::Approved, Ok(())) => t.approved_by.push(a.by.clone()),
            (Decision::Approved, Err(why)) => t.ignored.push(why),
        }
    }
    t
}

/// The latest completed deployment of `version` in a history (oldest first).
pub fn completed_in<'a>(history: &'a [Record], version: &str) -> Option<&'a Record> {
    history.iter().rev().find(|r| {
        r.status == Status::Completed
            && r.action != Action::Adopted
            && r.version.as_deref() == Some(version)
    })
}

/// The digest of the first completed deployment of `version` in a history (oldest first).
pub fn first_completed_digest(history: &[Record], version: &str) -> Option<String> {
    history
        .iter()
        .find(|r| {
            r.status == Status::Completed
                && r.action != Action::Adopted
                && r.version.as_deref() == Some(version)
        })
        .and_then(|r| r.digest.clone())
}

/// Whether `version` ever failed in a history.
pub fn failed_in<'a>(history: &'a [Record], version: &str) -> Option<&'a Record> {
    history
        .iter()
        .rev()
        .find(|r| r.status == Status::Failed && r.version.as_deref() == Some(version))
}

/// What keeps `version` from `env`: the required environment, approvals, rejections. Empty
/// when it may go.
pub fn promotion_blockers(
    env_name: &str,
    env: &EnvironmentConfig,
    version: &str,
    required_history: &[Record],
    tally: &ApprovalTally,
) -> Vec<String> {
    let mut missing = Vec::new();
    if let Some(required) = &env.requires {
        if completed_in(required_history, version).is_none() {
            let why = match failed_in(required_history, version) {
                Some(r) => format!(
                    "{version} failed in {required} ({}) and was never completed there",
                    r.reason.as_deref().unwrap_or("no reason recorded")
                ),
                None => format!("{version} has not completed a deploy to {required}"),
            };
            missing.push(format!(
                "{why}: run `release deploy {version} --env {required}` first"
            ));
        }
    }
    missing.extend(approval_blockers(
        &format!("{version} for {env_name}"),
        env.approvals,
        tally,
        |needed, have| {
            format!(
                "{env_name} needs {needed} approval(s) of {version}, it has {have}: run `release approve {version} --env {env_name}` as an approver"
            )
        },
    ));
    missing
}

/// What the decisions in `tally` still lack for `subject` (`1.2.0 for production`, `release
/// 2.0.0`): an unreadable entry (it may be a rejection), each rejection, and approvals short of
/// `needed`, said by `short(needed, have)` with what was not counted.
pub fn approval_blockers(
    subject: &str,
    needed: u32,
    tally: &ApprovalTally,
    short: impl Fn(u32, u32) -> String,
) -> Vec<String> {
    let mut missing = Vec::new();
    for entry in &tally.unreadable {
        missing.push(format!(
            "an approval entry of {subject} is unreadable and may be a rejection: {entry}; fix or delete it"
        ));
    }
    for (who, note) in &tally.rejected_by {
        missing.push(format!(
            "{who} rejected {subject}{}",
            note.as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ));
    }
    let have = u32::try_from(tally.approved_by.len()).unwrap_or(u32::MAX);
    if have < needed {
        let mut line = short(needed, have);
        if !tally.ignored.is_empty() {
            line.push_str(&format!(" (not counted: {})", tally.ignored.join("; ")));
        }
        missing.push(line);
    }
    missing
}

/// Where a rollback without `--to` goes: the latest completed deployment that is not what runs
/// now (another version, or other task definitions).
pub fn previous_completed(history: &[Record], current: Option<&Record>) -> Option<Snapshot> {
    let now = current.and_then(|c| c.last_completed.clone());
    history
        .iter()
        .rev()
        .filter(|r| r.status == Status::Completed)
        .map(Record::snapshot)
        .find(|s| {
            now.as_ref()
                .is_none_or(|n| n.version != s.version || !same_task_definitions(n, s))
        })
}

/// How the services differ from what the ledger says runs (or is being deployed) there.
pub fn drift(services: &[ServiceView], record: &Record) -> Vec<String> {
    let mut out = Vec::new();
    for s in &record.services {
        let Some(view) = services.iter().find(|v| v.name == s.service) else {
            out.push(format!("service {} is not in ECS", s.service));
            continue;
        };
        if view.task_definition != s.task_definition {
            out.push(format!(
                "service {} is set to {}, the ledger says {}",
                s.service,
                short_name(&view.task_definition),
                short_name(&s.task_definition)
            ));
        } else if let Some(p) = view.primary() {
            let state = p
                .rollout_state
                .as_ref()
                .map_or("COMPLETED", RolloutState::as_str);
            if !p.rollout_completed() || p.running != p.desired {
                out.push(format!(
                    "service {}: deployment {} is {} with {}/{} running",
                    s.service,
                    p.id,
                    state.to_ascii_lowercase(),
                    p.running,
                    p.desired
                ));
            }
        }
    }
    out
}

/// What ECS says of a record that is not completed: when every service runs the record's
/// task definition on a completed deployment, ECS finished what the ledger says failed or is
/// still going (a rollback that timed out and completed later, a run that was stopped).
pub fn reconcile(services: &[ServiceView], record: &Record) -> Option<String> {
    if record.status == Status::Completed || record.services.is_empty() {
        return None;
    }
    let finished = record.services.iter().all(|s| {
        services.iter().any(|v| {
            v.name == s.service
                && v.task_definition == s.task_definition
                && v.primary().is_some_and(|p| {
                    p.task_definition == s.task_definition
                        && p.rollout_completed()
                        && p.running == p.desired
                })
        })
    });
    if !finished {
        return None;
    }
    let what = match record.action {
        Action::Rollback => "rollback",
        Action::Deploy | Action::Adopted => "deploy",
    };
    let runs = record
        .services
        .iter()
        .map(|s| format!("{} on {}", s.service, short_name(&s.task_definition)))
        .collect::<Vec<_>>()
        .join(", ");
    let version = record
        .version
        .as_deref()
        .unwrap_or("the version from before");
    let ledger_says = match record.status {
        Status::Failed => "failed",
        _ => "still in progress",
    };
    Some(format!(
        "the ledger says this {what} {ledger_says}, but ECS has completed it since: {runs} ({version}) run now"
    ))
}

/// A task definition ARN as people say it: `family:revision`.
pub fn short_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Whether two snapshots run the same task definitions.
pub fn same_task_definitions(a: &Snapshot, b: &Snapshot) -> bool {
    a.services.len() == b.services.len()
        && a.services.iter().all(|s| {
            b.services
                .iter()
                .any(|t| t.service == s.service && t.task_definition == s.task_definition)
        })
}

/// Whether every service runs its recorded task definition on a completed primary deployment.
pub fn runs_completed(views: &[ServiceView], services: &[ServiceState]) -> bool {
    services.iter().all(|s| {
        views.iter().any(|v| {
            v.name == s.service
                && v.task_definition == s.task_definition
                && v.primary().is_some_and(|p| {
                    p.task_definition == s.task_definition && p.rollout_completed()
                })
        })
    })
}

/// Whether asking `who` to approve `version` for `env` could unblock a promotion: the required
/// environment is done, nobody rejected it, approvals are short, and `who` may approve and has
/// not.
pub fn may_approve_now(
    env_name: &str,
    env: &EnvironmentConfig,
    version: &str,
    required_history: &[Record],
    tally: &ApprovalTally,
    cutters: &[String],
    who: &Identity,
) -> bool {
    let required_done = env.requires.is_none() || completed_in(required_history, version).is_some();
    env.approvals > 0
        && required_done
        && may_approve(env_name, &env.rules(), who, cutters).is_ok()
        && tally.rejected_by.is_empty()
        && (tally.approved_by.len() as u64) < u64::from(env.approvals)
        && !who.is_among(&tally.approved_by)
}

/// The versions that completed in the required environment (`required`) and wait for this one
/// (`here`): not completed here, and newer than what runs here (`running`). Newest first.
pub fn waiting_versions(
    required: &[Record],
    here: &[Record],
    running: Option<&str>,
) -> Vec<String> {
    let mut versions: Vec<semver::Version> = required
        .iter()
        .filter(|r| r.status == Status::Completed)
        .filter_map(|r| r.version.as_deref())
        .filter(|v| completed_in(here, v).is_none())
        .filter_map(|v| semver::Version::parse(v).ok())
        .collect();
    versions.sort();
    versions.dedup();
    let running = running.and_then(|v| semver::Version::parse(v).ok());
    versions
        .into_iter()
        .rev()
        .filter(|v| running.as_ref().is_none_or(|r| v > r))
        .map(|v| v.to_string())
        .collect()
}

/// What a deploy to `env` sets in each service's deployment configuration; `None` when the
/// environment names no strategy, so whatever the service has is left alone.
pub fn strategy_plan(env: &EnvironmentConfig) -> Option<crate::core::service::StrategyPlan> {
    use crate::config::environments::Span;
    use crate::config::environments::{ecs_minutes, Strategy, DEFAULT_PAUSE_TIMEOUT};
    let strategy = env.strategy?;
    // The configuration was validated: a span out of ECS's range cannot reach here.
    let minutes = |span: Span| ecs_minutes(span).unwrap_or(1440);
    Some(crate::core::service::StrategyPlan {
        strategy,
        bake_minutes: env.bake.filter(|_| strategy.is_staged()).map(minutes),
        canary: (strategy == Strategy::Canary).then(|| {
            env.canary
                .as_ref()
                .map_or((10.0, 5), |c| (c.percent, minutes(c.bake)))
        }),
        linear: (strategy == Strategy::Linear).then(|| {
            env.linear
                .as_ref()
                .map_or((25.0, 2), |l| (l.step_percent, minutes(l.interval)))
        }),
        alarms: if strategy.is_staged() {
            env.alarms.clone()
        } else {
            Vec::new()
        },
        pause_minutes: env
            .pause_before_shift
            .then(|| minutes(env.pause_timeout.unwrap_or(Span(DEFAULT_PAUSE_TIMEOUT)))),
    })
}

/// Where pinned service deployments stand together: failed when ECS stopped or rolled back
/// any, completed when all are successful.
pub fn assess_service_deployments(
    views: &[crate::core::service::ServiceDeploymentView],
    pinned: &[String],
) -> Progress {
    use crate::core::service::ServiceDeploymentStatus as S;
    let mut all_done = true;
    for arn in pinned {
        let Some(d) = views.iter().find(|v| &v.arn == arn) else {
            return Progress::Failed(format!("service deployment {arn} is gone"));
        };
        match &d.status {
            S::Successful => {}
            S::Pending | S::InProgress => all_done = false,
            other => {
                let mut why = format!(
                    "service {}: ECS ended its deployment {other} at {}",
                    d.service,
                    d.stage.as_deref().unwrap_or("its start")
                );
                if !d.triggered_alarms.is_empty() {
                    why.push_str(&format!(
                        " (alarms {} went to ALARM)",
                        d.triggered_alarms.join(", ")
                    ));
                }
                if let Some(r) = d.rollback_reason.as_ref().or(d.reason.as_ref()) {
                    why.push_str(&format!(": {r}"));
                }
                return Progress::Failed(why);
            }
        }
    }
    if all_done {
        Progress::Completed
    } else {
        Progress::InProgress
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::environments::Span;
    use crate::core::identity::Source;
    use crate::core::service::{DeploymentView, EventView, ServiceStatus};
    use crate::ledger::ServiceState;
    use std::time::Duration;

    fn deployment(id: &str, status: &str, state: &str, running: i32) -> DeploymentView {
        DeploymentView {
            id: id.into(),
            status: DeploymentStatus::from(status),
            task_definition: format!("td-{id}"),
            desired: 2,
            running,
            pending: 2 - running,
            failed: if state == "FAILED" { 3 } else { 0 },
            rollout_state: Some(RolloutState::from(state)),
            rollout_reason: Some(format!("reason {state}")),
        }
    }

    fn service(deployments: Vec<DeploymentView>) -> ServiceView {
        ServiceView {
            name: "web".into(),
            status: ServiceStatus::Active,
            task_definition: "td".into(),
            desired: 2,
            running: 2,
            deployments,
            events: vec![
                EventView {
                    id: "2".into(),
                    message: "newer".into(),
                },
                EventView {
                    id: "1".into(),
                    message: "older".into(),
                },
            ],
        }
    }

    #[test]
    fn pinned_deployment_decides() {
        let s = service(vec![
            deployment("new", "PRIMARY", "IN_PROGRESS", 1),
            deployment("old", "ACTIVE", "COMPLETED", 2),
        ]);
        assert_eq!(assess(&s, "new"), Progress::InProgress);
        let s = service(vec![deployment("new", "PRIMARY", "COMPLETED", 2)]);
        assert_eq!(assess(&s, "new"), Progress::Completed);
        // COMPLETED but short of desired: not yet.
        let s = service(vec![deployment("new", "PRIMARY", "COMPLETED", 1)]);
        assert_eq!(assess(&s, "new"), Progress::InProgress);
        let s = service(vec![
            deployment("new", "PRIMARY", "FAILED", 0),
            deployment("old", "ACTIVE", "COMPLETED", 2),
        ]);
        assert!(
            matches!(assess(&s, "new"), Progress::Failed(w) if w.contains("reason FAILED") && w.contains("3 tasks failed"))
        );
    }

    #[test]
    fn stable_on_another_deployment_is_failure() {
        // A circuit-breaker rollback: the service is stable, but not on our deployment.
        let s = service(vec![deployment("rollback", "PRIMARY", "COMPLETED", 2)]);
        assert!(matches!(assess(&s, "new"), Progress::Failed(w) if w.contains("gone")));
        let s = service(vec![
            deployment("other", "PRIMARY", "IN_PROGRESS", 0),
            deployment("new", "ACTIVE", "COMPLETED", 2),
        ]);
        assert!(matches!(assess(&s, "new"), Progress::Failed(w) if w.contains("no longer")));
    }

    #[test]
    fn all_services_must_complete() {
        let mut worker = service(vec![deployment("w", "PRIMARY", "IN_PROGRESS", 0)]);
        worker.name = "worker".into();
        let web = service(vec![deployment("n", "PRIMARY", "COMPLETED", 2)]);
        let pinned = vec![("web".into(), "n".into()), ("worker".into(), "w".into())];
        assert_eq!(
            assess_all(&[web.clone(), worker.clone()], &pinned),
            Progress::InProgress
        );
        let line = progress_line(&[web.clone(), worker], &pinned);
        assert_eq!(
            line,
            "web 2/2 running [completed]; worker 0/2 running, 2 pending [in_progress]"
        );
        assert!(matches!(
            assess_all(&[web], &pinned),
            Progress::Failed(w) if w.contains("worker")
        ));
    }

    #[test]
    fn events_are_new_once_and_oldest_first() {
        let s = service(vec![]);
        let mut seen = HashSet::new();
        assert_eq!(new_events(&s, &mut seen), vec!["older", "newer"]);
        assert!(new_events(&s, &mut seen).is_empty());
    }

    fn env() -> EnvironmentConfig {
        EnvironmentConfig {
            health_checks: 2,
            health_failures: 2,
            timeout: Span(Duration::from_secs(60)),
            poll_interval: Span(Duration::from_secs(1)),
            requires: Some("staging".into()),
            approvals: 1,
            approvers: vec!["alice".into(), "bob".into()],
            ..EnvironmentConfig::for_test("prod", &["web"], "app")
        }
    }

    #[test]
    fn gate_needs_a_streak() {
        let mut g = Gate::new(&env());
        assert_eq!(g.observe(true), GateState::Open);
        assert_eq!(g.observe(false), GateState::Open);
        assert_eq!(g.observe(true), GateState::Open);
        assert_eq!(g.observe(true), GateState::Passed);
        let mut g = Gate::new(&env());
        assert_eq!(g.observe(false), GateState::Open);
        assert_eq!(g.observe(false), GateState::Failed);
    }

    fn actions(login: &str) -> Identity {
        Identity {
            name: login.into(),
            source: Source::GithubActions,
            actor: None,
        }
    }

    fn approval(by: &str, decision: Decision, at: &str) -> Approval {
        Approval {
            version: "1.0.0".into(),
            env: "production".into(),
            by: by.into(),
            identity: Some(actions(by)),
            at: at.into(),
            decision,
            note: Some("n".into()),
            digest: None,
            accepted_risks: Vec::new(),
        }
    }

    #[test]
    fn approvers_and_self_approval() {
        let e = env();
        let cutters = vec!["alice".to_string()];
        assert!(may_approve("production", &e.rules(), &actions("bob"), &cutters).is_ok());
        assert!(
            may_approve("production", &e.rules(), &actions("Alice"), &cutters)
                .unwrap_err()
                .contains("self-approval")
        );
        assert!(
            may_approve("production", &e.rules(), &actions("mallory"), &cutters)
                .unwrap_err()
                .contains("not an approver")
        );
        let mut open = e.clone();
        open.approvers.clear();
        open.self_approval = true;
        assert!(may_approve("production", &open.rules(), &actions("alice"), &cutters).is_ok());
    }

    #[test]
    fn unverified_identities_approve_only_where_nobody_is_listed() {
        let e = env();
        let git = Identity::unverified("bob");
        let err = may_approve("production", &e.rules(), &git, &[]).unwrap_err();
        assert!(err.contains("bob is not a verified identity"), "{err}");
        let mut open = e.clone();
        open.approvers.clear();
        assert!(may_approve("production", &open.rules(), &git, &[]).is_ok());
        // An approval recorded without an identity (before they were recorded) is unverified.
        let mut old = approval("bob", Decision::Approved, "1");
        old.identity = None;
        let t = tally("production", &e.rules(), &[old], &[]);
        assert!(t.approved_by.is_empty());
        assert!(t.ignored[0].contains("not a verified identity"), "{t:?}");
    }

    #[test]
    fn sessions_of_one_role_are_one_approver() {
        let mut e = env();
        e.approvers = vec!["arn:aws:iam::123456789012:role/approvers".into()];
        let by_session = |session: &str, at: &str| {
            let name = format!("arn:aws:sts::123456789012:assumed-role/approvers/{session}");
            Approval {
                identity: Some(Identity {
                    name: name.clone(),
                    source: Source::AwsSts,
                    actor: None,
                }),
                ..approval(&name, Decision::Approved, at)
            }
        };
        let t = tally(
            "production",
            &e.rules(),
            &[by_session("alice", "1"), by_session("bob", "2")],
            &[],
        );
        assert_eq!(t.approved_by.len(), 1, "{t:?}");
    }

    #[test]
    fn tally_keeps_each_persons_latest_decision() {
        let e = env();
        let cutters = vec!["carol".to_string()];
        let t = tally(
            "production",
            &e.rules(),
            &[
                approval("bob", Decision::Rejected, "1"),
                approval("bob", Decision::Approved, "2"),
                approval("mallory", Decision::Approved, "3"),
            ],
            &cutters,
        );
        assert_eq!(t.approved_by, vec!["bob"]);
        assert!(t.rejected_by.is_empty());
        assert_eq!(t.ignored.len(), 1);
        let t = tally(
            "production",
            &e.rules(),
            &[
                approval("bob", Decision::Approved, "1"),
                approval("alice", Decision::Rejected, "2"),
            ],
            &cutters,
        );
        assert_eq!(t.rejected_by.len(), 1);
    }

    #[test]
    fn approvals_count_only_for_their_digest() {
        let mut for_a = approval("bob", Decision::Approved, "1");
        for_a.digest = Some("sha256:a".into());
        let legacy = approval("dave", Decision::Approved, "2");
        let mut rejected = approval("alice", Decision::Rejected, "3");
        rejected.digest = Some("sha256:a".into());
        let all = vec![for_a, legacy, rejected];
        let (kept, ignored) = bound_to_digest("1.0.0", &all, Some("sha256:a"), Some("sha256:a"));
        assert_eq!(kept.len(), 3);
        assert!(ignored.is_empty());
        let (kept, ignored) = bound_to_digest("1.0.0", &all, Some("sha256:b"), Some("sha256:a"));
        let who: Vec<&str> = kept.iter().map(|a| a.by.as_str()).collect();
        assert_eq!(who, vec!["alice"], "a rejection counts for any digest");
        assert_eq!(ignored.len(), 2, "{ignored:?}");
        assert!(ignored[0].contains("bob approved 1.0.0 as sha256:a, not sha256:b"));
        assert!(ignored[1].contains("first recorded as sha256:a"));
        let (kept, _) = bound_to_digest("1.0.0", &all, None, None);
        assert_eq!(kept.len(), 3);
    }

    fn record(version: &str, status: Status, td: &str) -> Record {
        Record {
            env: "staging".into(),
            action: Action::Deploy,
            status,
            version: Some(version.into()),
            digest: None,
            image: None,
            services: vec![ServiceState {
                service: "web".into(),
                task_definition: td.into(),
                deployment_id: None,
                ..Default::default()
            }],
            by: "ci".into(),
            identity: None,
            at: "t".into(),
            reason: Some("circuit breaker".into()),
            last_completed: None,
            forced_alarms: Vec::new(),
            strategy: None,
        }
    }

    #[test]
    fn promotion_needs_completion_and_approvals() {
        let e = env();
        let empty = ApprovalTally::default();
        let history = vec![record("1.1.0", Status::Failed, "td:2")];
        let b = promotion_blockers("production", &e, "1.1.0", &history, &empty);
        assert_eq!(b.len(), 2, "{b:?}");
        assert!(
            b[0].contains("failed in staging (circuit breaker)"),
            "{b:?}"
        );
        assert!(b[1].contains("needs 1 approval"), "{b:?}");
        let history = vec![record("1.1.0", Status::Completed, "td:2")];
        let approved = ApprovalTally {
            approved_by: vec!["bob".into()],
            ..Default::default()
        };
        assert!(promotion_blockers("production", &e, "1.1.0", &history, &approved).is_empty());
        let rejected = ApprovalTally {
            approved_by: vec!["bob".into()],
            rejected_by: vec![("alice".into(), Some("too risky".into()))],
            ..Default::default()
        };
        let b = promotion_blockers("production", &e, "1.1.0", &history, &rejected);
        assert!(
            b[0].contains("alice rejected 1.1.0 for production (too risky)"),
            "{b:?}"
        );
    }

    #[test]
    fn drift_names_what_ecs_runs_against_the_ledger() {
        let record = record("1.0.0", Status::Completed, "arn:td/web:2");
        let mut s = service(vec![deployment("d", "PRIMARY", "COMPLETED", 2)]);
        s.task_definition = "arn:td/web:2".into();
        assert!(drift(std::slice::from_ref(&s), &record).is_empty());
        s.task_definition = "arn:td/web:7".into();
        assert_eq!(
            drift(std::slice::from_ref(&s), &record),
            vec!["service web is set to web:7, the ledger says web:2"]
        );
        let mut s = service(vec![deployment("d", "PRIMARY", "IN_PROGRESS", 1)]);
        s.task_definition = "arn:td/web:2".into();
        assert_eq!(
            drift(&[s], &record),
            vec!["service web: deployment d is in_progress with 1/2 running"]
        );
        assert_eq!(drift(&[], &record), vec!["service web is not in ECS"]);
    }

    #[test]
    fn a_failed_record_that_ecs_completed_later_is_reconciled() {
        let mut rollback = record("1.0.0", Status::Failed, "arn:td/web:2");
        rollback.action = Action::Rollback;
        let mut s = service(vec![deployment("d", "PRIMARY", "IN_PROGRESS", 1)]);
        s.task_definition = "arn:td/web:2".into();
        s.deployments[0].task_definition = "arn:td/web:2".into();
        assert_eq!(reconcile(std::slice::from_ref(&s), &rollback), None);
        s.deployments[0] = DeploymentView {
            task_definition: "arn:td/web:2".into(),
            ..deployment("d", "PRIMARY", "COMPLETED", 2)
        };
        let line = reconcile(std::slice::from_ref(&s), &rollback).unwrap();
        assert!(
            line.contains(
                "this rollback failed, but ECS has completed it since: web on web:2 (1.0.0)"
            ),
            "{line}"
        );
        // Completed records, and services elsewhere, are drift's business.
        let done = record("1.0.0", Status::Completed, "arn:td/web:2");
        assert_eq!(reconcile(std::slice::from_ref(&s), &done), None);
        s.task_definition = "arn:td/web:3".into();
        assert_eq!(reconcile(&[s], &rollback), None);
    }

    #[test]
    fn the_first_completed_digest_is_the_oldest() {
        let mut a = record("1.1.0", Status::Completed, "td:1");
        a.digest = Some("sha256:a".into());
        let mut b = record("1.1.0", Status::Completed, "td:2");
        b.digest = Some("sha256:b".into());
        let mut failed = record("1.1.0", Status::Failed, "td:0");
        failed.digest = Some("sha256:x".into());
        assert_eq!(
            first_completed_digest(&[failed, a, b], "1.1.0").as_deref(),
            Some("sha256:a")
        );
    }

    #[test]
    fn rollback_goes_to_the_previous_completed_version() {
        let mut current = record("1.2.0", Status::Completed, "td:3");
        current.last_completed = Some(current.snapshot());
        let history = vec![
            record("1.0.0", Status::Completed, "td:1"),
            record("1.1.0", Status::Failed, "td:2"),
            current.clone(),
        ];
        let target = previous_completed(&history, Some(&current)).unwrap();
        assert_eq!(target.version.as_deref(), Some("1.0.0"));
        assert_eq!(target.services[0].task_definition, "td:1");
    }

    #[test]
    fn versions_wait_when_done_upstream_newer_and_not_done_here() {
        let staging = vec![
            record("1.0.0", Status::Completed, "td:1"),
            record("1.1.0", Status::Failed, "td:2"),
            record("1.2.0", Status::Completed, "td:3"),
            record("1.3.0", Status::Completed, "td:4"),
            record("1.3.0", Status::Completed, "td:4"),
        ];
        let production = vec![record("1.2.0", Status::Completed, "td:3")];
        assert_eq!(
            waiting_versions(&staging, &production, Some("1.0.0")),
            ["1.3.0"],
            "1.1.0 failed upstream, 1.2.0 is done here, 1.3.0 is listed once"
        );
        assert_eq!(
            waiting_versions(&staging, &[], None),
            ["1.3.0", "1.2.0", "1.0.0"],
            "newest first"
        );
        assert!(waiting_versions(&staging, &[], Some("1.3.0")).is_empty());
    }

    #[test]
    fn a_service_runs_its_record_only_on_a_completed_primary() {
        let r = record("1.0.0", Status::Completed, "td-d");
        let done = service(vec![deployment("d", "PRIMARY", "COMPLETED", 2)]);
        let done = ServiceView {
            task_definition: "td-d".into(),
            ..done
        };
        assert!(runs_completed(std::slice::from_ref(&done), &r.services));
        let moving = ServiceView {
            deployments: vec![deployment("d", "PRIMARY", "IN_PROGRESS", 1)],
            ..done.clone()
        };
        assert!(!runs_completed(&[moving], &r.services));
        let other = ServiceView {
            task_definition: "td-other".into(),
            ..done
        };
        assert!(!runs_completed(&[other], &r.services));
        assert!(
            !runs_completed(&[], &r.services),
            "a missing service does not run it"
        );
    }

    #[test]
    fn asking_to_approve_only_when_it_could_unblock() {
        let e = env();
        let staging = vec![record("1.1.0", Status::Completed, "td:2")];
        let nobody = ApprovalTally::default();
        let alice = actions("alice");
        let ask = |history: &[Record], tally: &ApprovalTally, who: &Identity| {
            may_approve_now("production", &e, "1.1.0", history, tally, &[], who)
        };
        assert!(ask(&staging, &nobody, &alice));
        assert!(!ask(&[], &nobody, &alice), "not done in staging yet");
        assert!(
            !ask(&staging, &nobody, &actions("mallory")),
            "not an approver"
        );
        let approved = ApprovalTally {
            approved_by: vec!["bob".into()],
            ..Default::default()
        };
        assert!(!ask(&staging, &approved, &alice), "approvals are complete");
        let rejected = ApprovalTally {
            rejected_by: vec![("bob".into(), None)],
            ..Default::default()
        };
        assert!(!ask(&staging, &rejected, &alice), "a rejection blocks");
        let cut_by_alice = may_approve_now(
            "production",
            &e,
            "1.1.0",
            &staging,
            &nobody,
            &["alice".into()],
            &alice,
        );
        assert!(!cut_by_alice, "no self-approval");
    }
}
