//! Rollout scenarios through the real binary against the emulator (moto with the launcher's
//! ECS deployments): each ends by checking the ledger (`status`/`history --json`, or SSM) and
//! the task definitions the services run.

use std::collections::HashMap;

use crate::support::fleet::{reference, Fleet};
use crate::support::health::Health;
use crate::support::rng::{kill_seed, Rng};
use crate::support::{self, clean_failure, stderr, stdout, Repo};

const CUTTER: &str = "carol@example.com"; // the tagger of the test repository's tags

struct World {
    repo: Repo,
    fleet: Fleet,
    staging_health: Health,
    prod_health: Health,
    digests: HashMap<&'static str, String>,
}

fn world(ledger: &str) -> World {
    world_with(ledger, 0.4, "30s", "")
}

/// A world whose deployments settle after `deploy_seconds`, whose environments time out after
/// `timeout`, with `staging_extra` lines in `[environments.staging]`.
fn world_with(ledger: &str, deploy_seconds: f64, timeout: &str, staging_extra: &str) -> World {
    let fleet = Fleet::start(deploy_seconds);
    let mut digests = HashMap::new();
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        digests.insert(v, fleet.push(v));
    }
    let baseline = reference(&digests["1.0.0"]);
    fleet.create_environment("staging", &["web", "worker"], &baseline);
    fleet.create_environment("prod", &["web", "worker"], &baseline);
    let staging_health = Health::start();
    let prod_health = Health::start();
    let repo = Repo::new();
    repo.write(
        "release.toml",
        &format!(
            r#"[image]
repository = "{repository}"
builder = "buildah"

[ledger]
backend = "{ledger}"
prefix = "/release-agent/test"

[environments.staging]
cluster = "staging"
services = ["web", "worker"]
container = "app"
health_url = "{staging}"
timeout = "{timeout}"
poll_interval = "1s"
health_checks = 2
health_failures = 2
{staging_extra}

[environments.production]
cluster = "prod"
services = ["web", "worker"]
container = "app"
health_url = "{prod}"
timeout = "{timeout}"
poll_interval = "1s"
health_checks = 2
health_failures = 2
requires = "staging"
approvals = 1
approvers = ["bob", "dave", "{CUTTER}"]
self_approval = false
"#,
            repository = support::fleet::REPOSITORY,
            staging = staging_health.url,
            prod = prod_health.url,
        ),
    );
    repo.git(&["add", "-A"]);
    repo.commit("chore: release configuration");
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        repo.commit(&format!("feat: towards {v}"));
        repo.annotated_tag(&format!("v{v}"));
    }
    World {
        repo,
        fleet,
        staging_health,
        prod_health,
        digests,
    }
}

impl World {
    /// `release ARGS` as `actor` in GitHub Actions (the only place `GITHUB_ACTOR` is believed),
    /// pointed at the emulator.
    fn release(&self, actor: &str, args: &[&str]) -> assert_cmd::assert::Assert {
        let mut cmd = self.repo.release_hermetic();
        cmd.envs(self.fleet.env())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", actor)
            .args(args);
        cmd.assert()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.release(CUTTER, args).success();
        serde_json::from_str(&stdout(&out)).expect("JSON on stdout")
    }

    fn history(&self, env: &str) -> Vec<serde_json::Value> {
        self.json(&["history", "--env", env, "--json"])
            .as_array()
            .cloned()
            .unwrap()
    }

    /// Both services of `cluster` run `version`'s image.
    fn assert_runs(&self, cluster: &str, version: &str) {
        for service in ["web", "worker"] {
            assert_eq!(
                self.fleet.image_of(cluster, service),
                reference(&self.digests[version]),
                "{cluster}/{service} should run {version}"
            );
        }
    }

    fn task_definitions(&self, cluster: &str) -> Vec<String> {
        ["web", "worker"]
            .iter()
            .map(|s| self.fleet.task_definition_of(cluster, s))
            .collect()
    }

    fn update_calls(&self, cluster: &str) -> usize {
        self.fleet
            .calls("UpdateService")
            .iter()
            .filter(|c| c["cluster"] == cluster)
            .count()
    }
}

fn summary(entry: &serde_json::Value) -> String {
    format!(
        "{} {} {}",
        entry["action"].as_str().unwrap_or("?"),
        entry["version"].as_str().unwrap_or("-"),
        entry["status"].as_str().unwrap_or("?")
    )
}

/// The summaries of the changes of state (the history also holds the in-between writes).
fn summaries(history: &[serde_json::Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in history.iter().rev() {
        let s = summary(e);
        if out.last() != Some(&s) {
            out.push(s);
        }
    }
    out.reverse();
    out
}

#[test]
fn a_good_version_goes_from_staging_to_production_with_approval() {
    let w = world("ssm");
    let out = w
        .release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    assert!(
        stdout(&out).contains("1.1.0 runs in staging"),
        "{}",
        stdout(&out)
    );
    let progress = stderr(&out);
    assert!(progress.contains("deployment ecs-svc/"), "{progress}");
    assert!(progress.contains("health gate passed"), "{progress}");
    // Service events stream as they come, counts as they change.
    assert!(
        progress.contains("(service web) has started 2 tasks"),
        "{progress}"
    );
    assert!(progress.contains("deployment completed."), "{progress}");
    assert!(
        progress.contains("web 2/2 running [completed]"),
        "{progress}"
    );
    // Those of the service's creation, before this deploy, are not repeated.
    assert_eq!(
        progress.matches("(service web) has started").count(),
        1,
        "{progress}"
    );
    w.assert_runs("staging", "1.1.0");

    // Only the image of `app` changed: everything else of the task definition is kept.
    let (td, tags) = w
        .fleet
        .task_definition(&w.fleet.task_definition_of("staging", "web"));
    // A new revision of the family (revisions 1 and 2 are the two clusters' originals).
    assert_eq!(td.family(), Some("web"));
    assert_eq!(td.revision(), 3);
    assert_eq!(td.cpu(), Some("256"));
    assert_eq!(td.memory(), Some("512"));
    assert_eq!(
        td.task_role_arn(),
        Some("arn:aws:iam::123456789012:role/task")
    );
    assert_eq!(
        td.execution_role_arn(),
        Some("arn:aws:iam::123456789012:role/exec")
    );
    let app = &td.container_definitions()[0];
    assert_eq!(app.secrets()[0].name(), "DB_PASSWORD");
    assert_eq!(app.environment()[0].value(), Some("staging-web"));
    let sidecar = &td.container_definitions()[1];
    assert_eq!(sidecar.name(), Some("log-router"));
    assert!(sidecar.image().unwrap().contains("fluent-bit"));
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].value(), Some("payments"));

    let out = w.release(
        "bob",
        &["approve", "1.1.0", "--env", "production", "--note", "LGTM"],
    );
    assert!(stdout(&out.success()).contains("ready: `release promote 1.1.0 --to production`"));
    w.release(CUTTER, &["promote", "1.1.0", "--to", "production"])
        .success();
    w.assert_runs("prod", "1.1.0");
    // The environments' moving tags are on the digest that runs there.
    assert_eq!(
        w.fleet.ecr_digest("production"),
        Some(w.digests["1.1.0"].clone())
    );
    assert_eq!(
        w.fleet.ecr_digest("staging"),
        Some(w.digests["1.1.0"].clone())
    );

    let status = w.json(&["status", "--json"]);
    let by_env: HashMap<&str, &serde_json::Value> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["env"].as_str().unwrap(), &s["current"]))
        .collect();
    for env in ["staging", "production"] {
        assert_eq!(by_env[env]["version"], "1.1.0", "{status}");
        assert_eq!(by_env[env]["status"], "completed", "{status}");
        assert_eq!(by_env[env]["digest"], w.digests["1.1.0"].as_str());
    }
    let prod = w.history("production");
    assert_eq!(
        summaries(&prod),
        vec![
            "deploy 1.1.0 completed",
            "deploy 1.1.0 in_progress",
            "adopted - completed"
        ]
    );
    assert_eq!(prod[0]["by"], CUTTER);
    let services = prod[0]["services"].as_array().unwrap();
    assert_eq!(
        services[0]["task_definition"],
        w.task_definitions("prod")[0].as_str()
    );
    assert!(services[0]["deployment_id"]
        .as_str()
        .unwrap()
        .starts_with("ecs-svc/"));

    // The SSM ledger: the record is a parameter, its history the parameter's history.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let history = rt
        .block_on(
            w.fleet
                .ssm
                .get_parameter_history()
                .name("/release-agent/test/production/current")
                .send(),
        )
        .unwrap();
    assert_eq!(history.parameters().len(), prod.len());
    let approval = rt
        .block_on(
            w.fleet
                .ssm
                .get_parameters_by_path()
                .path("/release-agent/test/production/approvals/1.1.0")
                .send(),
        )
        .unwrap();
    let value: serde_json::Value =
        serde_json::from_str(approval.parameters()[0].value().unwrap()).unwrap();
    assert_eq!(value["by"], "bob");
    // Who wrote it: the AWS caller (a session of the CI role), and the Actions actor of the run.
    assert_eq!(value["identity"]["source"], "aws-sts");
    assert_eq!(
        value["identity"]["name"],
        "arn:aws:sts::123456789012:assumed-role/release-ci/ci"
    );
    assert_eq!(value["identity"]["actor"], "bob");
    assert_eq!(prod[0]["identity"]["actor"], CUTTER);
    assert_eq!(value["note"], "LGTM");
    assert_eq!(value["decision"], "approved");

    // A re-run changes nothing.
    let before = w.update_calls("prod");
    let out = w
        .release(CUTTER, &["promote", "1.1.0", "--to", "production"])
        .success();
    assert!(stdout(&out).contains("already runs in production"));
    assert_eq!(w.update_calls("prod"), before);

    // A change made behind the ledger's back shows in `status`.
    w.fleet.update_service("prod", "worker", "worker:1");
    let out = w
        .release(CUTTER, &["status", "--env", "production"])
        .success();
    let text = stdout(&out);
    assert!(
        text.contains("production: 1.1.0 deploy completed"),
        "{text}"
    );
    assert!(
        text.contains("drift: service worker is set to worker:1, the ledger says worker:4"),
        "{text}"
    );
}

#[test]
fn a_version_failing_in_staging_rolls_back_to_the_last_completed_and_is_never_promotable() {
    let w = world("file");
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    let good = w.task_definitions("staging");

    w.fleet.moto.fail_image(&w.digests["1.2.0"]);
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.2.0", "--env", "staging"]));
    assert!(err.contains("deploying 1.2.0 to staging failed"), "{err}");
    assert!(err.contains("circuit breaker"), "{err}");
    assert!(err.contains("rolled back: 1.1.0"), "{err}");
    assert_eq!(w.task_definitions("staging"), good);
    w.assert_runs("staging", "1.1.0");

    // Again: the service's previous revision is now the failed one; the rollback still goes
    // to the last *completed* deployment's task definitions.
    clean_failure(w.release(CUTTER, &["deploy", "1.2.0", "--env", "staging"]));
    assert_eq!(w.task_definitions("staging"), good);

    let history = w.history("staging");
    let s = summaries(&history);
    assert_eq!(
        &s[..4],
        [
            "rollback 1.1.0 completed",
            "rollback 1.1.0 in_progress",
            "deploy 1.2.0 failed",
            "deploy 1.2.0 in_progress"
        ]
    );
    assert!(history[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("automatic: service"));

    // Never promotable, even approved.
    w.release("bob", &["approve", "1.2.0", "--env", "production"])
        .success();
    let err = clean_failure(w.release(CUTTER, &["promote", "1.2.0", "--to", "production"]));
    assert!(err.contains("1.2.0 failed in staging"), "{err}");
    assert_eq!(w.update_calls("prod"), 0);
    w.assert_runs("prod", "1.0.0");
}

#[test]
fn a_version_failing_the_health_gate_in_production_rolls_back() {
    let w = world("file");
    for v in ["1.1.0", "1.2.0"] {
        w.release(CUTTER, &["deploy", v, "--env", "staging"])
            .success();
        w.release("dave", &["approve", v, "--env", "production"])
            .success();
    }
    w.release(CUTTER, &["promote", "1.1.0", "--to", "production"])
        .success();
    let good = w.task_definitions("prod");

    w.prod_health.set(503, "down");
    let hits = w.prod_health.hits();
    let err = clean_failure(w.release(CUTTER, &["promote", "1.2.0", "--to", "production"]));
    assert!(err.contains("health gate failed"), "{err}");
    assert!(err.contains("HTTP 503"), "{err}");
    assert!(err.contains("rolled back: 1.1.0"), "{err}");
    assert_eq!(
        w.prod_health.hits() - hits,
        2,
        "fails after health_failures in a row"
    );
    assert_eq!(w.task_definitions("prod"), good);
    w.assert_runs("prod", "1.1.0");
    assert_eq!(
        w.fleet.ecr_digest("production"),
        Some(w.digests["1.1.0"].clone())
    );

    let s = summaries(&w.history("production"));
    assert_eq!(
        &s[..3],
        [
            "rollback 1.1.0 completed",
            "rollback 1.1.0 in_progress",
            "deploy 1.2.0 failed"
        ]
    );

    // Rolled back by hand too: to an earlier completed version, by name.
    w.prod_health.set(200, "ok");
    w.release(CUTTER, &["rollback", "--env", "staging", "--to", "1.1.0"])
        .success();
    w.assert_runs("staging", "1.1.0");
    let err = clean_failure(w.release(CUTTER, &["rollback", "--env", "staging", "--to", "1.0.0"]));
    assert!(err.contains("1.0.0 never completed in staging"), "{err}");
}

#[test]
fn promote_without_approval_is_refused_and_changes_nothing() {
    let w = world("file");
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    let before = w.task_definitions("prod");
    let err = clean_failure(w.release(CUTTER, &["promote", "1.1.0", "--to", "production"]));
    assert!(err.contains("1.1.0 cannot go to production yet"), "{err}");
    assert!(
        err.contains("needs 1 approval(s) of 1.1.0, it has 0"),
        "{err}"
    );
    // Not done in staging either: both reasons at once.
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.2.0", "--env", "production"]));
    assert!(
        err.contains("1.2.0 has not completed a deploy to staging"),
        "{err}"
    );
    assert!(err.contains("needs 1 approval"), "{err}");
    assert_eq!(w.task_definitions("prod"), before);
    assert_eq!(w.update_calls("prod"), 0);
    assert!(w.history("production").is_empty());

    // A rejection blocks even with an approval.
    w.release("bob", &["approve", "1.1.0", "--env", "production"])
        .success();
    w.release(
        "dave",
        &[
            "reject",
            "1.1.0",
            "--env",
            "production",
            "--note",
            "wait for the freeze",
        ],
    )
    .success();
    let err = clean_failure(w.release(CUTTER, &["promote", "1.1.0", "--to", "production"]));
    assert!(
        err.contains("dave rejected 1.1.0 for production (wait for the freeze)"),
        "{err}"
    );
    let status = w.json(&["status", "--env", "production", "--json"]);
    let waiting = &status[0]["waiting"][0];
    assert_eq!(waiting["version"], "1.1.0");
    assert_eq!(waiting["approved_by"][0], "bob");
    assert_eq!(w.update_calls("prod"), 0);
}

#[test]
fn self_approval_and_strangers_are_refused() {
    let w = world("file");
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    let err = clean_failure(w.release(CUTTER, &["approve", "1.1.0", "--env", "production"]));
    assert!(err.contains("cut this release"), "{err}");
    assert!(err.contains("self_approval = false"), "{err}");
    let err = clean_failure(w.release("mallory", &["approve", "1.1.0", "--env", "production"]));
    assert!(
        err.contains("mallory is not an approver of production"),
        "{err}"
    );
    let status = w.json(&["status", "--env", "production", "--json"]);
    assert!(status[0]["waiting"][0]["approved_by"]
        .as_array()
        .unwrap()
        .is_empty());
    clean_failure(w.release(CUTTER, &["promote", "1.1.0", "--to", "production"]));
    assert_eq!(w.update_calls("prod"), 0);
}

#[test]
fn two_deploys_racing_for_one_environment_never_overlap() {
    let w = world("ssm");
    let spawn = |version: &str, extra: &[&str]| {
        let mut cmd = w.repo.release_process();
        cmd.envs(w.fleet.env())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", CUTTER)
            .args(["deploy", version, "--env", "staging"])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let a = spawn("1.1.0", &[]);
    let b = spawn("1.2.0", &[]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let results = [(&a, "1.1.0"), (&b, "1.2.0")];
    let winners: Vec<&str> = results
        .iter()
        .filter(|(o, _)| o.status.success())
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one deploy runs");
    let loser = results.iter().find(|(o, _)| !o.status.success()).unwrap();
    let err = String::from_utf8_lossy(&loser.0.stderr);
    assert!(
        err.contains("environment staging is locked by carol@example.com"),
        "{err}"
    );
    assert!(err.contains("--wait"), "{err}");
    assert_eq!(
        w.update_calls("staging"),
        2,
        "only the winner updated services"
    );
    w.assert_runs("staging", winners[0]);

    // With --wait the second run waits for the first, then deploys.
    let a = spawn("1.1.0", &["--wait", "60s"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let b = spawn("1.2.0", &["--wait", "60s"]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    w.assert_runs("staging", "1.2.0");
    let s = summaries(&w.history("staging"));
    assert_eq!(s[0], "deploy 1.2.0 completed");
    // Every state change of one deploy is contiguous: never interleaved with the other's.
    let versions: Vec<&str> = s
        .iter()
        .filter_map(|l| l.strip_prefix("deploy "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    let mut runs = versions.clone();
    runs.dedup();
    assert!(runs.len() <= 3, "interleaved: {s:?}");
}

#[test]
fn a_deploy_killed_half_way_is_finished_by_running_it_again() {
    let w = world("ssm");
    let out = w
        .repo
        .release_hermetic()
        .envs(w.fleet.env())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTOR", CUTTER)
        .env("RELEASE_AGENT_FAIL_AFTER", "update-services")
        .args(["deploy", "1.1.0", "--env", "staging"])
        .assert()
        .code(86);
    assert!(stderr(&out).contains("fault injected"));
    assert_eq!(w.update_calls("staging"), 2);
    let current = w.json(&["status", "--env", "staging", "--json"]);
    assert_eq!(current[0]["current"]["status"], "in_progress");

    // The lock of the dead run is taken over; the recorded deployments are waited on, not
    // started again.
    let out = w
        .release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    assert!(
        stderr(&out).contains("resuming the deploy of 1.1.0"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.update_calls("staging"), 2, "no second UpdateService");
    w.assert_runs("staging", "1.1.0");
    let s = summaries(&w.history("staging"));
    assert_eq!(s[0], "deploy 1.1.0 completed");

    // Killed after registering the task definitions only: the re-run reuses them.
    let out = w
        .repo
        .release_hermetic()
        .envs(w.fleet.env())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTOR", CUTTER)
        .env("RELEASE_AGENT_FAIL_AFTER", "register-task-definitions")
        .args(["deploy", "1.2.0", "--env", "staging"])
        .assert()
        .code(86);
    drop(out);
    let registered = w.fleet.calls("RegisterTaskDefinition").len();
    w.release(CUTTER, &["deploy", "1.2.0", "--env", "staging"])
        .success();
    assert_eq!(w.fleet.calls("RegisterTaskDefinition").len(), registered);
    w.assert_runs("staging", "1.2.0");
}

#[test]
fn a_deploy_that_times_out_is_rolled_back_and_a_stuck_rollback_is_said_loudly() {
    // Deployments take 30 s here; the environments give up after 1 s.
    let w = world_with("file", 30.0, "1s", "");
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"]));
    assert!(err.contains("timed out after 1s"), "{err}");
    assert!(err.contains("and so did the rollback"), "{err}");
    assert!(
        err.contains("still needs attention: web (") && err.contains("worker ("),
        "{err}"
    );
    assert!(err.contains("release rollback --env staging"), "{err}");
    let s = summaries(&w.history("staging"));
    assert_eq!(
        &s[..3],
        [
            "rollback - failed",
            "rollback - in_progress",
            "deploy 1.1.0 failed"
        ]
    );
    // The rollback did go out: the services are set to the adopted task definitions again.
    w.assert_runs("staging", "1.0.0");
}

#[test]
fn a_lock_held_elsewhere_is_honoured_until_removed() {
    let w = world("ssm");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let holder = serde_json::json!({
        "by": "ci-bot", "host": "ci-runner-7", "pid": 4242, "purpose": "deploy 9.9.9",
        "since": 1_900_000_000i64, "expires": 4_000_000_000i64, "token": "x"
    });
    rt.block_on(
        w.fleet
            .ssm
            .put_parameter()
            .name("/release-agent/test/staging/lock")
            .value(holder.to_string())
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send(),
    )
    .unwrap();
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"]));
    assert!(
        err.contains(
            "environment staging is locked by ci-bot (deploy 9.9.9, process 4242 on ci-runner-7)"
        ),
        "{err}"
    );
    assert!(err.contains("release unlock --env staging"), "{err}");
    assert_eq!(w.update_calls("staging"), 0);

    let out = w.release(CUTTER, &["unlock", "--env", "staging"]).success();
    assert!(stdout(&out).contains("removed the lock of staging held by ci-bot"));
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    w.assert_runs("staging", "1.1.0");
    // Released after the deploy: nothing is left behind.
    let lock = rt.block_on(
        w.fleet
            .ssm
            .get_parameter()
            .name("/release-agent/test/staging/lock")
            .send(),
    );
    assert!(lock.is_err(), "the lock parameter is deleted");

    // An expired lock of another host is taken over.
    let mut expired = holder.clone();
    expired["expires"] = serde_json::json!(1_000_000_000i64);
    rt.block_on(
        w.fleet
            .ssm
            .put_parameter()
            .name("/release-agent/test/staging/lock")
            .value(expired.to_string())
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send(),
    )
    .unwrap();
    let out = w
        .release(CUTTER, &["-q", "deploy", "1.2.0", "--env", "staging"])
        .success();
    assert_eq!(stderr(&out), "", "-q leaves progress out");
    w.assert_runs("staging", "1.2.0");
}

#[test]
fn approving_a_version_that_was_never_released_is_refused() {
    let w = world("file");
    let err = clean_failure(w.release("bob", &["approve", "9.9.9", "--env", "production"]));
    assert!(
        err.contains("there is no release 9.9.9 (no tag v9.9.9 here)"),
        "{err}"
    );
    let err = clean_failure(w.release("bob", &["approve", "1.1.0", "--env", "nowhere"]));
    assert!(
        err.contains("no environment `nowhere` in release.toml (configured: production, staging)"),
        "{err}"
    );
}

#[test]
fn the_health_gate_can_require_the_version_in_the_answer() {
    let w = world_with("file", 0.4, "30s", "expect_version = true");
    w.staging_health.set(200, r#"{"version":"1.1.0"}"#);
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    // ECS completes, but the endpoint still shows the old version: not healthy.
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.2.0", "--env", "staging"]));
    assert!(err.contains("without `1.2.0` in the answer"), "{err}");
    assert!(err.contains("rolled back: 1.1.0"), "{err}");
    w.assert_runs("staging", "1.1.0");
}

/// Runs `release ARGS` as `actor` in a pseudo-terminal (util-linux `script`), typing `input`.
fn in_terminal(w: &World, actor: &str, args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write as _;
    let command = std::iter::once(support::release_bin().display().to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = std::process::Command::new("script");
    w.repo.env_for(&mut cmd);
    cmd.current_dir(w.repo.path())
        .envs(w.fleet.env())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTOR", actor)
        .env_remove("CI")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("util-linux `script` runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn promote_in_a_terminal_asks_an_allowed_approver() {
    let w = world("file");
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();

    // Declined: nothing recorded, refused.
    let out = in_terminal(
        &w,
        "dave",
        &["promote", "1.1.0", "--to", "production"],
        "n\n",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1.1.0 has not enough approvals for production. Approve it as dave? [y/N]"),
        "{text}"
    );
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("needs 1 approval"), "{text}");
    w.assert_runs("prod", "1.0.0");

    // The cutter is not asked (self-approval), and neither is a stranger.
    for actor in [CUTTER, "mallory"] {
        let out = in_terminal(
            &w,
            actor,
            &["promote", "1.1.0", "--to", "production"],
            "y\n",
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("Approve it as"), "{actor}: {text}");
        assert!(!out.status.success());
    }

    // Accepted: the approval is recorded, then the promotion runs.
    let out = in_terminal(
        &w,
        "dave",
        &["promote", "1.1.0", "--to", "production"],
        "y\n",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    w.assert_runs("prod", "1.1.0");
    let status = w.json(&["status", "--env", "production", "--json"]);
    assert_eq!(status[0]["current"]["version"], "1.1.0", "{status}");
    let approvals = std::fs::read_to_string(
        w.repo
            .path()
            .join(".git/release-agent/ledger/production/approvals/1.1.0/dave.json"),
    )
    .unwrap();
    assert!(approvals.contains("at the promote prompt"), "{approvals}");
}

impl World {
    /// The `UpdateService` calls of `cluster` from log line `from` on, as `(service,
    /// taskDefinition)`.
    fn updates_since(&self, cluster: &str, from: usize) -> Vec<(String, String)> {
        self.fleet
            .calls("UpdateService")
            .iter()
            .skip(from)
            .filter(|c| c["cluster"] == cluster)
            .map(|c| {
                (
                    c["service"].as_str().unwrap_or("").to_string(),
                    c["taskDefinition"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }
}

/// The error of a run is one `error:` line, without the SDK's debug structs.
fn assert_one_line_error(err: &str) {
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    for raw in [
        "Error {",
        "ServiceError",
        "unhandled error",
        "ErrorMetadata",
        "raw: ",
    ] {
        assert!(!err.contains(raw), "raw SDK text `{raw}` in:\n{err}");
    }
}

#[test]
fn a_refused_update_service_rolls_back_every_service_that_changed() {
    let w = world("file");
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    let good = w.task_definitions("staging");
    let from = w.fleet.calls("UpdateService").len();

    w.fleet.moto.set_faults(&[
        "UpdateService worker AccessDeniedException User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecs:UpdateService",
    ]);
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.2.0", "--env", "staging"]));
    assert!(
        err.contains("deploying 1.2.0 to staging failed: ECS UpdateService on service worker in cluster staging was refused: AccessDeniedException: User: arn:aws:iam::123456789012:user/ci is not authorized"),
        "{err}"
    );
    assert!(
        err.contains("grant the IAM permission ecs:UpdateService"),
        "{err}"
    );
    assert!(err.contains("rolled back: 1.1.0"), "{err}");
    assert_one_line_error(&err);

    // web changed and went back; worker never changed and was left alone.
    assert_eq!(w.task_definitions("staging"), good);
    w.assert_runs("staging", "1.1.0");
    let updates = w.updates_since("staging", from);
    let web: Vec<&(String, String)> = updates.iter().filter(|(s, _)| s == "web").collect();
    assert_eq!(
        web.len(),
        2,
        "web: the deploy, then the rollback: {updates:?}"
    );
    assert_eq!(web[1].1, good[0], "{updates:?}");
    assert_eq!(
        updates.iter().filter(|(s, _)| s == "worker").count(),
        1,
        "worker: only the refused call: {updates:?}"
    );
    let s = summaries(&w.history("staging"));
    assert_eq!(
        &s[..3],
        [
            "rollback 1.1.0 completed",
            "rollback 1.1.0 in_progress",
            "deploy 1.2.0 failed"
        ]
    );
    let status = w.json(&["status", "--env", "staging", "--json"]);
    assert!(
        status[0]["drift"].as_array().unwrap().is_empty(),
        "{status}"
    );
}

#[test]
fn a_refused_rollback_names_the_services_left_and_rollback_finishes_it() {
    let w = world("ssm");
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    let good = w.task_definitions("staging");
    // The rollback's UpdateService of worker (back to its 1.1.0 task definition) is refused.
    w.fleet.moto.fail_image(&w.digests["1.2.0"]);
    let fault = format!(
        "UpdateService {} AccessDeniedException not authorized to perform: ecs:UpdateService",
        good[1]
    );
    w.fleet.moto.set_faults(&[&fault]);
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.2.0", "--env", "staging"]));
    assert!(err.contains("and so did the rollback"), "{err}");
    assert!(
        err.contains("still needs attention: worker (ECS UpdateService on service worker in cluster staging was refused: AccessDeniedException"),
        "{err}"
    );
    assert!(!err.contains("attention: web"), "{err}");
    assert!(err.contains("release rollback --env staging"), "{err}");
    assert!(err.contains("When a rollback fails"), "{err}");
    assert_eq!(w.fleet.task_definition_of("staging", "web"), good[0]);
    let s = summaries(&w.history("staging"));
    assert_eq!(s[0], "rollback 1.1.0 failed", "{s:?}");

    // A manual rollback that fails is reported as a rollback.
    let err = clean_failure(w.release(CUTTER, &["rollback", "--env", "staging", "--to", "1.1.0"]));
    assert!(
        err.contains("rolling staging back to 1.1.0 failed"),
        "{err}"
    );
    assert!(!err.contains("deploying"), "{err}");
    assert_one_line_error(&err);

    // Cause fixed: a plain rollback goes to the last completed version (what ECS runs is not
    // it), and only the service that still needs it is touched.
    w.fleet.moto.set_faults(&[]);
    let from = w.fleet.calls("UpdateService").len();
    let out = w
        .release(CUTTER, &["rollback", "--env", "staging"])
        .success();
    assert!(
        stdout(&out).contains("rolled staging back to 1.1.0"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        w.updates_since("staging", from),
        vec![("worker".to_string(), good[1].clone())]
    );
    w.assert_runs("staging", "1.1.0");
    assert_eq!(w.task_definitions("staging"), good);
    let s = summaries(&w.history("staging"));
    assert_eq!(s[0], "rollback 1.1.0 completed", "{s:?}");
}

#[test]
fn a_failed_rollback_is_recovered_by_forcing_a_new_deployment() {
    let w = world("file");
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    let good = w.task_definitions("staging");
    let fail_both = || {
        w.fleet
            .moto
            .set_fail_images(&[&w.digests["1.1.0"], &w.digests["1.2.0"]])
    };
    // 1.2.0 fails, and so does the rollback to 1.1.0: the services are set to 1.1.0's task
    // definitions, on failed deployments.
    fail_both();
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.2.0", "--env", "staging"]));
    assert!(err.contains("and so did the rollback"), "{err}");
    assert_eq!(w.task_definitions("staging"), good);

    // `rollback --to` with the task definition already set: a new deployment, not the failed one.
    w.fleet.moto.set_fail_images(&[]);
    let from = w.fleet.calls("UpdateService").len();
    let out = w
        .release(CUTTER, &["rollback", "--env", "staging", "--to", "1.1.0"])
        .success();
    assert!(
        stderr(&out).contains("forcing a new deployment"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.updates_since("staging", from).len(), 2);
    assert_eq!(
        summaries(&w.history("staging"))[0],
        "rollback 1.1.0 completed"
    );
    let status = w.json(&["status", "--env", "staging", "--json"]);
    assert!(
        status[0]["drift"].as_array().unwrap().is_empty(),
        "{status}"
    );

    // The same through `deploy 1.1.0`.
    fail_both();
    clean_failure(w.release(CUTTER, &["deploy", "1.2.0", "--env", "staging"]));
    w.fleet.moto.set_fail_images(&[]);
    let out = w
        .release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    assert!(
        stdout(&out).contains("1.1.0 runs in staging"),
        "{}",
        stdout(&out)
    );
    w.assert_runs("staging", "1.1.0");
    assert_eq!(
        summaries(&w.history("staging"))[0],
        "deploy 1.1.0 completed"
    );
}

#[test]
fn a_deploy_killed_during_its_rollback_is_finished_not_restarted() {
    let w = world_with("file", 0.4, "30s", "");
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    let good = w.task_definitions("staging");
    w.fleet.moto.fail_image(&w.digests["1.2.0"]);
    let from = w.fleet.calls("UpdateService").len();
    let mut child = w
        .repo
        .release_process()
        .envs(w.fleet.env())
        .env("GITHUB_ACTOR", CUTTER)
        .args(["deploy", "1.2.0", "--env", "staging"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed right after the rollback's first UpdateService (the 3rd of the run).
    loop {
        if w.updates_since("staging", from).len() >= 3 {
            child.kill().unwrap();
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the deploy ended before its rollback"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.wait().unwrap();
    let killed = w.updates_since("staging", from);
    let bad: Vec<String> = killed[..2].iter().map(|(_, td)| td.clone()).collect();
    let s = summaries(&w.history("staging"));
    assert_eq!(s[0], "rollback 1.1.0 in_progress", "recorded first: {s:?}");

    let err = clean_failure(w.release(CUTTER, &["deploy", "1.2.0", "--env", "staging"]));
    assert!(err.contains("finishing the interrupted rollback"), "{err}");
    assert!(err.contains("rolled back: 1.1.0"), "{err}");
    let all = w.updates_since("staging", from);
    assert!(
        all[killed.len()..].iter().all(|(_, td)| !bad.contains(td)),
        "the bad image went out again: {all:?}"
    );
    for service in ["web", "worker"] {
        assert!(
            all.iter()
                .filter(|(s, td)| s == service && good.contains(td))
                .count()
                <= 1,
            "one rollback UpdateService per service: {all:?}"
        );
    }
    assert_eq!(w.task_definitions("staging"), good);
    assert_eq!(
        summaries(&w.history("staging"))[0],
        "rollback 1.1.0 completed"
    );
}

#[test]
fn rollback_without_a_version_after_a_killed_deploy_goes_to_the_last_completed() {
    let w = world("ssm");
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    let good = w.task_definitions("staging");
    w.repo
        .release_hermetic()
        .envs(w.fleet.env())
        .env("GITHUB_ACTOR", CUTTER)
        .env("RELEASE_AGENT_FAIL_AFTER", "update-services")
        .args(["deploy", "1.2.0", "--env", "staging"])
        .assert()
        .code(86);
    // ECS runs (a part of) 1.2.0, not 1.1.0: the rollback goes to 1.1.0, not further back.
    let out = w
        .release(CUTTER, &["rollback", "--env", "staging"])
        .success();
    assert!(
        stdout(&out).contains("rolled staging back to 1.1.0"),
        "{}",
        stdout(&out)
    );
    w.assert_runs("staging", "1.1.0");
    assert_eq!(w.task_definitions("staging"), good);
    // Now 1.1.0 runs, completed: one step back is what ran before it.
    w.release(CUTTER, &["rollback", "--env", "staging"])
        .success();
    w.assert_runs("staging", "1.0.0");
}

#[test]
fn a_deleted_or_scaled_to_zero_service_is_reported_before_the_deploy_starts() {
    let w = world("file");
    w.fleet.scale("staging", "worker", 0);
    let from = w.fleet.calls("UpdateService").len();
    let registered = w.fleet.calls("RegisterTaskDefinition").len();
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"]));
    assert!(
        err.contains("cannot deploy to staging, nothing was changed"),
        "{err}"
    );
    assert!(
        err.contains("service worker in cluster staging is scaled to 0 (desiredCount 0)"),
        "{err}"
    );
    assert!(
        err.contains("aws ecs update-service --cluster staging --service worker --desired-count N"),
        "{err}"
    );
    assert_eq!(w.fleet.calls("RegisterTaskDefinition").len(), registered);
    assert!(w.updates_since("staging", from).is_empty());
    assert!(w.history("staging").is_empty());

    w.fleet.scale("staging", "worker", 2);
    w.fleet.delete_service("staging", "web");
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"]));
    assert!(
        err.contains("service web in cluster staging is INACTIVE (deleted or being deleted)"),
        "{err}"
    );
    assert_eq!(w.fleet.calls("RegisterTaskDefinition").len(), registered);
    assert!(w.history("staging").is_empty());
}

#[test]
fn a_throttled_ecs_is_one_line_with_the_call_the_resource_and_what_to_do() {
    let w = world("file");
    w.fleet
        .moto
        .set_faults(&["DescribeServices * ThrottlingException Rate exceeded"]);
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"]));
    assert!(
        err.contains("ECS DescribeServices on cluster staging was refused: ThrottlingException: Rate exceeded; AWS throttled the call"),
        "{err}"
    );
    assert_one_line_error(&err);
    assert!(w.history("staging").is_empty());
}

/// The ECS calls on `cluster` from log line `from` on (UpdateService, DescribeServices, ...).
fn ecs_calls_since(w: &World, cluster: &str, from: usize) -> Vec<serde_json::Value> {
    w.fleet
        .moto
        .log_lines()
        .into_iter()
        .skip(from)
        .filter(|l| l["kind"] == "call")
        .filter(|l| l["cluster"] == cluster || l["cluster"].is_null())
        .collect()
}

/// `release deploy` killed (SIGKILL or SIGINT) at a random point among its ECS calls, over the
/// happy path and the failing one (and so its rollback), with both ledger backends; after each
/// kill, one plain re-run leaves every service on the new digest (completed) or on the last
/// completed one, the ledger agreeing with ECS, and at most one `UpdateService` per service
/// per phase. `KILL_SEED` replays a run, `KILL_ITERATIONS` (default 4) sets the kills per
/// backend.
#[test]
fn a_deploy_killed_anywhere_is_finished_by_one_plain_rerun() {
    let seed = kill_seed();
    let iterations: usize = std::env::var("KILL_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    eprintln!("kill-loop: KILL_ITERATIONS={iterations}");
    let mut rng = Rng::new(seed);
    for ledger in ["file", "ssm"] {
        let w = world_with(ledger, 0.3, "30s", "");
        w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
            .success();
        for i in 0..iterations {
            let running = w.json(&["status", "--env", "staging", "--json"])[0]["current"]
                ["version"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let version = if running == "1.1.0" { "1.2.0" } else { "1.1.0" };
            let failing = rng.below(2) == 1;
            let signal = if rng.below(2) == 1 { "INT" } else { "KILL" };
            // A failing deploy makes about 18 ECS calls (its rollback included), a good one 10.
            let at = 1 + rng.below(if failing { 18 } else { 10 }) as usize;
            let jitter = std::time::Duration::from_millis(rng.below(40));
            let ctx = format!(
                "KILL_SEED={seed} ledger={ledger} iteration={i}: deploy {version} (failing: {failing}) SIG{signal} after ECS call {at} + {jitter:?}"
            );
            eprintln!("kill-loop: {ctx}");
            let bad = [w.digests[version].as_str()];
            w.fleet
                .moto
                .set_fail_images(if failing { &bad[..] } else { &[] });
            let before = w.task_definitions("staging");
            let from = w.fleet.moto.log_lines().len();
            let mut child = w
                .repo
                .release_process()
                .envs(w.fleet.env())
                .env("GITHUB_ACTOR", CUTTER)
                .args(["deploy", version, "--env", "staging"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let mut killed = false;
            while child.try_wait().unwrap().is_none() {
                if ecs_calls_since(&w, "staging", from).len() >= at {
                    std::thread::sleep(jitter);
                    let status = std::process::Command::new("kill")
                        .args([format!("-{signal}"), child.id().to_string()])
                        .status()
                        .unwrap();
                    killed = status.success();
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            child.wait().unwrap();
            let current = w.json(&["status", "--env", "staging", "--json"])[0]["current"].clone();
            let finished = current["status"] == "completed"
                && (current["version"] == version || current["action"] == "rollback");
            if killed && !finished {
                // One plain re-run; its exit code says how the deploy ended, not checked here.
                let _ = w
                    .repo
                    .release_hermetic()
                    .envs(w.fleet.env())
                    .env("GITHUB_ACTOR", CUTTER)
                    .args(["deploy", version, "--env", "staging"])
                    .output()
                    .unwrap();
            }

            let status = w.json(&["status", "--env", "staging", "--json"]);
            let current = &status[0]["current"];
            assert_eq!(current["status"], "completed", "{ctx}\n{status}");
            assert!(
                status[0]["drift"].as_array().unwrap().is_empty(),
                "ledger and ECS disagree: {ctx}\n{status}"
            );
            let now = w.task_definitions("staging");
            let recorded: Vec<&str> = current["services"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["task_definition"].as_str().unwrap())
                .collect();
            assert_eq!(recorded, now, "{ctx}\n{status}");
            if current["action"] == "deploy" && current["version"] == version {
                assert!(!failing, "a failing version completed: {ctx}");
                w.assert_runs("staging", version);
            } else {
                assert_eq!(
                    now, before,
                    "not back on the last completed: {ctx}\n{status}"
                );
                assert_eq!(current["version"], running.as_str(), "{ctx}\n{status}");
            }
            let calls = ecs_calls_since(&w, "staging", from);
            for service in ["web", "worker"] {
                let mine: Vec<&str> = calls
                    .iter()
                    .filter(|c| c["action"] == "UpdateService" && c["service"] == service)
                    .map(|c| c["taskDefinition"].as_str().unwrap_or(""))
                    .collect();
                let back = mine
                    .iter()
                    .filter(|td| before.contains(&td.to_string()))
                    .count();
                let forward = mine.len() - back;
                assert!(
                    forward <= 1 && back <= 1,
                    "{service}: more than one UpdateService in a phase: {mine:?}\n{ctx}"
                );
            }
        }
    }
}

/// A spawned `release` whose stderr is read line by line as it comes.
struct Running {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<String>,
}

impl Running {
    fn start(w: &World, actor: &str, args: &[&str]) -> Running {
        use std::io::BufRead as _;
        let mut cmd = w.repo.release_process();
        cmd.envs(w.fleet.env())
            .env("GITHUB_ACTOR", actor)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                all.push_str(&line);
                all.push('\n');
                let _ = tx.send(line);
            }
            all
        });
        Running {
            child,
            lines,
            reader,
        }
    }

    /// Wait (up to `limit`) for a line of stderr containing `text`; whether it came.
    fn wait_for(&self, text: &str, limit: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }

    /// Its exit status and whole stderr.
    fn finish(self) -> (std::process::ExitStatus, String) {
        let out = self.child.wait_with_output().unwrap();
        (out.status, self.reader.join().unwrap())
    }
}

#[test]
fn a_version_rejected_while_its_promotion_waits_for_the_lock_never_reaches_production() {
    // Deployments take 5 s, so the first promotion holds production's lock while the second
    // waits for it and two approvers change their minds.
    let w = world_with("ssm", 5.0, "30s", "");
    for v in ["1.1.0", "1.2.0"] {
        w.release(CUTTER, &["deploy", v, "--env", "staging"])
            .success();
        w.release("dave", &["approve", v, "--env", "production"])
            .success();
    }
    let first = Running::start(&w, CUTTER, &["promote", "1.1.0", "--to", "production"]);
    assert!(
        first.wait_for("deployment ecs-svc/", std::time::Duration::from_secs(30)),
        "the first promotion updates production"
    );
    // Approved, so it passes its first look and waits for the lock.
    let second = Running::start(
        &w,
        CUTTER,
        &["promote", "1.2.0", "--to", "production", "--wait", "60s"],
    );
    let waiting = second.wait_for(
        "production is locked by ",
        std::time::Duration::from_secs(20),
    );
    // While it waits, two approvers refuse 1.2.0.
    for who in ["bob", "dave"] {
        w.release(
            who,
            &[
                "reject",
                "1.2.0",
                "--env",
                "production",
                "--note",
                "bad migration",
            ],
        )
        .success();
    }
    let (status, text) = first.finish();
    assert!(status.success(), "{text}");
    let (status, text) = second.finish();
    assert!(
        !status.success(),
        "a refused promotion exits non-zero: {text}"
    );
    w.assert_runs("prod", "1.1.0");
    assert!(
        text.contains("1.2.0 cannot go to production: its gates were checked again once this run held the lock"),
        "{text}"
    );
    assert!(
        text.contains("bob rejected 1.2.0 for production (bad migration)"),
        "{text}"
    );
    assert!(text.contains("dave rejected 1.2.0"), "{text}");
    assert!(
        waiting,
        "the second promotion says it waits for the lock: {text}"
    );
    assert_eq!(
        w.update_calls("prod"),
        2,
        "only the first promotion updated"
    );
    let s = summaries(&w.history("production"));
    assert_eq!(s[0], "deploy 1.1.0 completed", "{s:?}");
    assert!(!s.iter().any(|l| l.contains("1.2.0")), "{s:?}");
}

#[test]
fn a_moved_version_tag_is_refused_and_approvals_count_for_their_digest_only() {
    let w = world("file");
    let a = w.digests["1.1.0"].clone();
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    let out = w
        .release("dave", &["approve", "1.1.0", "--env", "production"])
        .success();
    assert!(
        stdout(&out).contains(&format!("dave approved 1.1.0 ({a}) for production")),
        "{}",
        stdout(&out)
    );

    // Someone pushes another image as 1.1.0.
    let b = w.fleet.push_image("1.1.0", "1.1.0, rebuilt");
    assert_ne!(a, b);
    let before = w.update_calls("staging");
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"]));
    assert!(
        err.contains(&format!(
            "1.1.0 was first recorded as {a}, but the registry's tag 1.1.0 points at {b}"
        )),
        "{err}"
    );
    assert_eq!(w.update_calls("staging"), before, "nothing deployed");
    w.assert_runs("staging", "1.1.0");

    // Promotion takes the digest that passed staging, under the approval given for it.
    w.release(CUTTER, &["promote", "1.1.0", "--to", "production"])
        .success();
    w.assert_runs("prod", "1.1.0");

    // An approval given for one digest does not count for another: 1.2.0 is approved as
    // the registry had it, then its tag moves before its first deploy.
    let c = w.digests["1.2.0"].clone();
    let out = w
        .release("dave", &["approve", "1.2.0", "--env", "production"])
        .success();
    assert!(stdout(&out).contains(&format!("({c})")), "{}", stdout(&out));
    let d = w.fleet.push_image("1.2.0", "1.2.0, rebuilt");
    w.release(CUTTER, &["deploy", "1.2.0", "--env", "staging"])
        .success();
    assert_eq!(w.fleet.image_of("staging", "web"), reference(&d));
    let err = clean_failure(w.release(CUTTER, &["promote", "1.2.0", "--to", "production"]));
    assert!(
        err.contains("needs 1 approval(s) of 1.2.0, it has 0"),
        "{err}"
    );
    assert!(
        err.contains(&format!("dave approved 1.2.0 as {c}, not {d}")),
        "{err}"
    );
    w.assert_runs("prod", "1.1.0");
    // Approved again, for what ran in staging: it goes.
    w.release("bob", &["approve", "1.2.0", "--env", "production"])
        .success();
    w.release(CUTTER, &["promote", "1.2.0", "--to", "production"])
        .success();
    assert_eq!(w.fleet.image_of("prod", "web"), reference(&d));
}

fn put_ssm(w: &World, name: &str, value: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(
        w.fleet
            .ssm
            .put_parameter()
            .name(name)
            .value(value)
            .overwrite(true)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send(),
    )
    .unwrap();
}

#[test]
fn a_corrupt_ssm_value_is_skipped_with_a_warning_and_blocks_nothing() {
    let w = world("ssm");
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    // The newest value of staging's record is garbage.
    put_ssm(&w, "/release-agent/test/staging/current", "{not json");
    let named = "SSM parameter /release-agent/test/staging/current version";

    let out = w
        .release(CUTTER, &["history", "--env", "staging"])
        .success();
    assert!(stderr(&out).contains(named), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("it is not counted as a deployment"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("1.1.0 deploy completed"),
        "{}",
        stdout(&out)
    );
    let status = w.json(&["status", "--env", "staging", "--json"]);
    assert_eq!(status[0]["current"]["version"], "1.1.0", "{status}");
    assert_eq!(status[0]["current"]["status"], "completed", "{status}");

    // Approving records and succeeds; promoting goes.
    let out = w
        .release("bob", &["approve", "1.1.0", "--env", "production"])
        .success();
    assert!(
        stdout(&out).contains("ready: `release promote 1.1.0 --to production`"),
        "{}",
        stdout(&out)
    );
    w.release(CUTTER, &["promote", "1.1.0", "--to", "production"])
        .success();
    w.assert_runs("prod", "1.1.0");

    // A deploy on top of it, then a rollback: the garbage (now mid-history) is never a target.
    w.release(CUTTER, &["deploy", "1.2.0", "--env", "staging"])
        .success();
    let out = w
        .release(CUTTER, &["rollback", "--env", "staging"])
        .success();
    assert!(stderr(&out).contains(named), "{}", stderr(&out));
    w.assert_runs("staging", "1.1.0");
    let s = summaries(&w.history("staging"));
    assert_eq!(s[0], "rollback 1.1.0 completed", "{s:?}");

    // An unreadable approval may be a rejection: it blocks that version, named, and
    // approving still records and exits 0.
    put_ssm(
        &w,
        "/release-agent/test/production/approvals/1.2.0/mallory",
        "garbage",
    );
    w.release("bob", &["approve", "1.2.0", "--env", "production"])
        .success();
    let err = clean_failure(w.release(CUTTER, &["promote", "1.2.0", "--to", "production"]));
    assert!(
        err.contains(
            "SSM parameter /release-agent/test/production/approvals/1.2.0/mallory cannot be read"
        ),
        "{err}"
    );
    w.assert_runs("prod", "1.1.0");
}

#[test]
fn a_corrupt_file_ledger_line_is_named_by_file_and_line_and_skipped() {
    let w = world("file");
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    let path = w
        .repo
        .path()
        .join(".git/release-agent/ledger/staging/current.history.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    let lines = text.lines().count();
    text.push_str("{\"env\":\"staging\",\"status\":\"completed\"\n");
    std::fs::write(&path, text).unwrap();
    let out = w
        .release(CUTTER, &["history", "--env", "staging"])
        .success();
    assert!(
        stderr(&out).contains(&format!("{} line {}", path.display(), lines + 1)),
        "{}",
        stderr(&out)
    );
    w.release("bob", &["approve", "1.1.0", "--env", "production"])
        .success();
    w.release(CUTTER, &["promote", "1.1.0", "--to", "production"])
        .success();
    w.release(CUTTER, &["deploy", "1.2.0", "--env", "staging"])
        .success();
    w.release(CUTTER, &["rollback", "--env", "staging"])
        .success();
    w.assert_runs("staging", "1.1.0");
}

#[test]
fn status_shows_a_timed_out_rollback_that_ecs_finished_later() {
    // Deployments take 3 s; the environments give up after 1 s.
    let w = world_with("file", 3.0, "1s", "");
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"]));
    assert!(err.contains("and so did the rollback"), "{err}");
    std::thread::sleep(std::time::Duration::from_secs(5));
    let out = w.release(CUTTER, &["status", "--env", "staging"]).success();
    let text = stdout(&out);
    assert!(
        text.contains("staging: (from before release-agent) rollback failed"),
        "{text}"
    );
    assert!(
        text.contains("drift: the ledger says this rollback failed, but ECS has completed it since: web on web:1, worker on worker:1"),
        "{text}"
    );
}

#[test]
fn a_version_with_build_metadata_deploys_the_image_pushed_under_its_tag() {
    let w = world("file");
    // `+` is not allowed in an image tag: the image of 1.3.0+build.5 was pushed as 1.3.0_build.5.
    let digest = w.fleet.push("1.3.0_build.5");
    w.repo.commit("feat: towards 1.3.0+build.5");
    w.repo.annotated_tag("v1.3.0+build.5");
    let out = w
        .release(CUTTER, &["deploy", "1.3.0+build.5", "--env", "staging"])
        .success();
    assert!(stdout(&out).contains("runs in staging"), "{}", stdout(&out));
    for service in ["web", "worker"] {
        assert_eq!(w.fleet.image_of("staging", service), reference(&digest));
    }
}

// ---------------------------------------------------------------------------------------------
// The image scan gate

#[test]
fn ecr_scan_findings_above_max_severity_refuse_until_an_approver_accepts_the_risk() {
    let w = world_with("file", 0.4, "30s", "max_severity = \"MEDIUM\"");
    // moto's scan of every image finds CVE-9999-9999, HIGH, in moto_fake 9.9.9.
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"]));
    assert!(
        err.contains("finding(s) above MEDIUM (max_severity)"),
        "{err}"
    );
    assert!(
        err.contains("CVE-9999-9999 (HIGH, moto_fake 9.9.9)"),
        "{err}"
    );
    assert!(
        err.contains("--accept-risk CVE-9999-9999"),
        "the way out is named: {err}"
    );
    assert_eq!(w.update_calls("staging"), 0, "nothing deployed");

    // The cutter may not accept the risk of their own release; another approver may.
    let err = clean_failure(w.release(
        CUTTER,
        &[
            "approve",
            "1.1.0",
            "--env",
            "staging",
            "--accept-risk",
            "CVE-9999-9999",
        ],
    ));
    assert!(err.contains("self-approval"), "{err}");
    w.release(
        "bob",
        &[
            "approve",
            "1.1.0",
            "--env",
            "staging",
            "--accept-risk",
            "CVE-9999-9999",
            "--note",
            "not reachable",
        ],
    )
    .success();
    let out = w
        .release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    assert!(
        stderr(&out).contains("scan: CVE-9999-9999 accepted by bob for 1.1.0 in staging"),
        "{}",
        stderr(&out)
    );
    w.assert_runs("staging", "1.1.0");
    // The exception is in the ledger with the person's name.
    let ledger = std::fs::read_to_string(
        std::fs::read_dir(
            w.repo
                .path()
                .join(".git/release-agent/ledger/staging/approvals"),
        )
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .next()
        .unwrap()
        .path(),
    )
    .unwrap();
    assert!(ledger.contains("\"accepted_risks\""), "{ledger}");
    assert!(
        ledger.contains("CVE-9999-9999") && ledger.contains("bob"),
        "{ledger}"
    );
}

#[test]
fn findings_at_max_severity_pass() {
    let w = world_with("file", 0.4, "30s", "max_severity = \"HIGH\"");
    w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"])
        .success();
    w.assert_runs("staging", "1.1.0");
}

#[test]
fn a_scan_command_judges_the_digest_from_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("scanner");
    let args = dir.path().join("args");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\ncat <<'EOF'\n{{\"SchemaVersion\": 2, \"Results\": [{{\"Target\": \"img\", \"Vulnerabilities\": [{{\"VulnerabilityID\": \"CVE-2024-0001\", \"PkgName\": \"openssl\", \"InstalledVersion\": \"3.0.1\", \"Severity\": \"CRITICAL\"}}]}}]}}\nEOF\n",
            args.display()
        ),
    )
    .unwrap();
    support::make_executable(&script);
    let w = world_with(
        "file",
        0.4,
        "30s",
        &format!(
            "max_severity = \"HIGH\"\nscan_command = [\"{}\", \"image\", \"--format\", \"json\", \"{{image}}\"]",
            script.display()
        ),
    );
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"]));
    assert!(
        err.contains("CVE-2024-0001 (CRITICAL, openssl 3.0.1)"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&args).unwrap(),
        format!(
            "image\n--format\njson\n{}\n",
            reference(&w.digests["1.1.0"])
        ),
        "the scanner got the digest as one argument"
    );
    assert_eq!(w.update_calls("staging"), 0);
}

// ---------------------------------------------------------------------------------------------
// release image prune on ECR, with what runs and what can be rolled back to

#[test]
fn prune_never_deletes_what_runs_what_can_be_rolled_back_to_or_what_waits() {
    let w = world("file");
    let old = w.fleet.push("0.9.0");
    let loose = w.fleet.push_image("sha-1234567", "a build of no release");
    for v in ["1.1.0", "1.2.0"] {
        w.release(CUTTER, &["deploy", v, "--env", "staging"])
            .success();
    }
    // staging runs 1.2.0, can roll back to 1.1.0, which also waits for production; production
    // runs the baseline 1.0.0 (in ECS; the ledger never deployed it).
    let report = w.json(&["image", "prune", "--keep", "0", "--json"]);
    let verdict = |digest: &str| {
        report["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["digest"] == digest)
            .cloned()
            .unwrap_or_else(|| panic!("{digest} in {report:#}"))
    };
    assert_eq!(verdict(&old)["verdict"], "delete", "{report:#}");
    assert_eq!(verdict(&loose)["verdict"], "delete", "{report:#}");
    let why = |v: &str| {
        verdict(&w.digests[v])["why"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(why("1.2.0"), "staging runs it (the ledger)");
    assert!(
        why("1.1.0").starts_with("staging can roll back to it"),
        "{}",
        why("1.1.0")
    );
    assert!(
        why("1.0.0").starts_with("ECS runs it (prod/"),
        "{}",
        why("1.0.0")
    );
    assert_eq!(report["deleted"], 2);

    // They are gone from ECR; the rest is there.
    let again = w.json(&["image", "prune", "--keep", "0", "--dry-run", "--json"]);
    assert_eq!(again["images"].as_array().unwrap().len(), 3, "{again:#}");
    assert_eq!(again["deleted"], 0);
    w.release(CUTTER, &["rollback", "--env", "staging"])
        .success();
    w.assert_runs("staging", "1.1.0");
}

/// Give moto's ECR this answer for the scan of `digest` (moto's API for scan results).
fn scan_result(w: &World, digest: &str, status: &str, enhanced: serde_json::Value) {
    let answer = serde_json::json!({
        "results": [{
            "registryId": "123456789012",
            "repositoryName": "app",
            "imageId": {"imageDigest": digest},
            "imageScanStatus": {"status": status, "description": format!("scan {status}")},
            "imageScanFindings": {"enhancedFindings": enhanced, "findingSeverityCounts": {}}
        }],
        "region": "eu-north-1"
    });
    let response = ureq::post(format!(
        "{}/moto-api/static/ecr/scan-finding-results",
        w.fleet.moto.endpoint
    ))
    .header("Content-Type", "application/json")
    .send(answer.to_string())
    .expect("moto takes the scan result");
    assert_eq!(response.status(), 201, "moto's API answered");
}

#[test]
fn enhanced_findings_block_and_a_scan_that_never_completes_blocks_too() {
    let w = world_with("file", 0.4, "3s", "max_severity = \"HIGH\"");
    scan_result(
        &w,
        &w.digests["1.1.0"],
        "COMPLETE",
        serde_json::json!([{
            "severity": "CRITICAL",
            "title": "CVE-2024-0002 - libssl",
            "packageVulnerabilityDetails": {
                "vulnerabilityId": "CVE-2024-0002",
                "vulnerablePackages": [{"name": "libssl3", "version": "3.0.2"}]
            }
        }]),
    );
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"]));
    assert!(
        err.contains("CVE-2024-0002 (CRITICAL, libssl3 3.0.2)"),
        "{err}"
    );

    scan_result(
        &w,
        &w.digests["1.2.0"],
        "IN_PROGRESS",
        serde_json::json!([]),
    );
    let out = w.release(CUTTER, &["deploy", "1.2.0", "--env", "staging"]);
    let err = clean_failure(out);
    assert!(
        err.contains("the ECR scan is still not complete after 3 s"),
        "{err}"
    );
    assert!(err.contains("waiting for ECR's scan"), "{err}");
    assert_eq!(w.update_calls("staging"), 0);
}

// ---------------------------------------------------------------------------------------------
// CloudWatch alarms and bake

#[test]
fn an_alarm_already_firing_refuses_the_deploy_unless_forced_and_recorded() {
    let w = world_with("file", 0.4, "30s", "alarms = [\"staging-5xx\"]");
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"]));
    assert!(
        err.contains("CloudWatch has no alarm named staging-5xx"),
        "a missing alarm is a configuration error: {err}"
    );
    w.fleet.create_alarm("staging-5xx");
    w.fleet
        .set_alarm("staging-5xx", "ALARM", "Threshold Crossed: 12 errors");
    let err = clean_failure(w.release(CUTTER, &["deploy", "1.1.0", "--env", "staging"]));
    assert!(
        err.contains("alarm staging-5xx is already in ALARM (Threshold Crossed: 12 errors)"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(w.update_calls("staging"), 0);

    let out = w
        .release(CUTTER, &["deploy", "1.1.0", "--env", "staging", "--force"])
        .success();
    assert!(
        stderr(&out)
            .contains("--force: deploying to staging although alarm staging-5xx is in ALARM"),
        "{}",
        stderr(&out)
    );
    w.assert_runs("staging", "1.1.0");
    let history = w.history("staging");
    assert_eq!(
        history[0]["forced_alarms"],
        serde_json::json!(["staging-5xx"]),
        "{history:#?}"
    );
}

#[test]
fn an_alarm_firing_during_the_bake_rolls_the_deploy_back_naming_it() {
    let w = world_with(
        "file",
        0.4,
        "30s",
        "alarms = [\"staging-5xx\"]\nbake = \"20s\"",
    );
    w.fleet.create_alarm("staging-5xx");
    let mut child = w
        .repo
        .release_process()
        .envs(w.fleet.env())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTOR", CUTTER)
        .args(["deploy", "1.1.0", "--env", "staging"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read what the deploy says as it goes; once it bakes, the alarm fires.
    let stderr = child.stderr.take().unwrap();
    let (baking, baked) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("baking for") {
                let _ = baking.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    baked
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the deploy reaches its bake");
    w.fleet
        .set_alarm("staging-5xx", "ALARM", "Threshold Crossed: 40 errors");
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert!(!status.success(), "{err}");
    assert!(err.contains("baking for 20s"), "{err}");
    assert!(
        err.contains("alarm staging-5xx went to ALARM: Threshold Crossed: 40 errors"),
        "{err}"
    );
    w.assert_runs("staging", "1.0.0");
    let history = w.history("staging");
    assert_eq!(history[0]["action"], "rollback", "{history:#?}");
}
