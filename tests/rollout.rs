//! Rollout scenarios through the real binary against the emulator (moto with the launcher's
//! ECS deployments): each ends by checking the ledger (`status`/`history --json`, or SSM) and
//! the task definitions the services run.

mod support;

use std::collections::HashMap;

use support::fleet::{reference, Fleet};
use support::health::Health;
use support::{clean_failure, stderr, stdout, Repo};

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
poll_interval = "200ms"
health_checks = 2
health_failures = 2
{staging_extra}

[environments.production]
cluster = "prod"
services = ["web", "worker"]
container = "app"
health_url = "{prod}"
timeout = "{timeout}"
poll_interval = "200ms"
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
    // Who wrote it: the AWS caller (moto's default), and the Actions actor of the run.
    assert_eq!(value["identity"]["source"], "aws-sts");
    assert_eq!(
        value["identity"]["name"],
        "arn:aws:sts::123456789012:user/moto"
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
        err.contains("check the services in the ECS console"),
        "{err}"
    );
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
