//! The whole product, end to end, on real parts: commits in a repository with a bare remote;
//! `release ci` (the run on a merge; a maintainer's `release cut` later) tags, pushes, publishes the GitHub release (the HTTP fake), builds the image
//! with buildah into a local `docker-registry`, and deploys it to staging (ECS on moto with the
//! launcher); `release approve` and `release promote` take the same digest to production, as
//! an ECS canary; then a bad commit's release fails staging's health gate and is rolled back
//! automatically, and a release that passes staging trips production's alarm during its canary
//! and is rolled back by ECS.

use crate::support::fleet::Fleet;
use crate::support::github::FakeGithub;
use crate::support::health::Health;
use crate::support::registry::Registry;
use crate::support::{self, clean_failure, stderr, stdout, Published, Repo};

const NAME: &str = "acme/app";
const CUTTER: &str = "carol@example.com";

fn config(registry: &Registry, staging: &Health, prod: &Health) -> String {
    format!(
        r#"[image]
repository = "{host}/{NAME}"
builder = "buildah"
context = "image"
dockerfile = "image/Dockerfile"

[environments.staging]
cluster = "staging"
services = ["web", "worker"]
container = "app"
health_url = "{staging}"
poll_interval = "1s"
timeout = "60s"
health_checks = 2
health_failures = 2

[environments.production]
cluster = "prod"
services = ["web", "worker"]
container = "app"
health_url = "{prod}"
poll_interval = "1s"
timeout = "60s"
health_checks = 2
requires = "staging"
approvals = 1
approvers = ["bob"]
strategy = "canary"
canary = {{ percent = 10, bake = "5m" }}
alarms = ["prod-5xx"]
"#,
        host = registry.host,
        staging = staging.url,
        prod = prod.url,
    )
}

/// `release` as `actor`, with GitHub, AWS and buildah's storage pointed at the test's.
fn command(repo: &Repo, gh: &FakeGithub, fleet: &Fleet, actor: &str) -> assert_cmd::Command {
    let mut cmd = repo.release_hermetic();
    cmd.envs(gh.env())
        .envs(fleet.env())
        .envs(support::registry::buildah_env(repo.root()))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTOR", actor);
    cmd
}

/// `release ARGS` as `actor`.
fn release(
    repo: &Repo,
    gh: &FakeGithub,
    fleet: &Fleet,
    actor: &str,
    args: &[&str],
) -> assert_cmd::assert::Assert {
    command(repo, gh, fleet, actor).args(args).assert()
}

#[test]
fn commits_to_production_and_a_bad_release_rolled_back() {
    // The fake GitHub serves from this runtime's worker threads while the test blocks.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gh = rt.block_on(FakeGithub::start());
    let registry = Registry::start();
    let fleet = Fleet::start(0.4);
    let staging_health = Health::start();
    let prod_health = Health::start();
    fleet.create_alarm("prod-5xx");
    let bootstrap = format!("{}/{NAME}:bootstrap", registry.host);
    fleet.create_environment("staging", &["web", "worker"], &bootstrap);
    fleet.create_environment("prod", &["web", "worker"], &bootstrap);

    let p = Published::new(Some(&config(&registry, &staging_health, &prod_health)));
    let work = &p.work;
    work.write(
        "image/Dockerfile",
        "FROM scratch\nCOPY version.txt /version.txt\n",
    );
    work.write("image/version.txt", "app\n");
    work.git(&["add", "-A"]);
    work.commit_staged("build: container image");

    // 1. Release: tag, push, GitHub release, image, staging.
    let out = release(work, &gh, &fleet, CUTTER, &["cut", "--yes", "--dry-run"]).success();
    assert!(
        stdout(&out).contains("[would run   ] deploy 1.1.0 to staging (unless it runs there)"),
        "{}",
        stdout(&out)
    );
    // The automatic run on a merge: `release ci`, with GitHub Actions' output file.
    let output = work.root().join("github-output");
    let out = command(work, &gh, &fleet, CUTTER)
        .env("GITHUB_OUTPUT", &output)
        .arg("ci")
        .assert()
        .success();
    let text = stdout(&out);
    assert!(text.contains("released v1.1.0"), "{text}");
    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(outputs.contains("version=1.1.0\n"), "{outputs}");
    assert!(outputs.contains("deployed=staging\n"), "{outputs}");
    assert!(
        text.contains("[applied     ] deploy 1.1.0 to staging"),
        "{text}"
    );
    assert!(p.remote_tags().contains(&"v1.1.0".to_string()));
    assert_eq!(gh.releases().len(), 1);
    let digest = registry
        .digest(NAME, "1.1.0")
        .expect("the image was pushed");
    let image = format!("{}/{NAME}@{digest}", registry.host);
    for service in ["web", "worker"] {
        assert_eq!(fleet.image_of("staging", service), image);
        assert_eq!(fleet.image_of("prod", service), bootstrap);
    }
    assert_eq!(registry.digest(NAME, "staging"), Some(digest.clone()));
    // Who cut it, as the Actions run says: what self-approval is judged by.
    let cut: serde_json::Value =
        serde_json::from_str(&work.read(".git/release-agent/ledger/releases/1.1.0.json")).unwrap();
    assert_eq!(cut["cut_by"], CUTTER, "{cut}");
    assert_eq!(cut["identity"]["source"], "github-actions", "{cut}");

    // 2. Approve and promote the same digest.
    let err = clean_failure(release(
        work,
        &gh,
        &fleet,
        CUTTER,
        &["promote", "1.1.0", "--to", "production"],
    ));
    assert!(err.contains("needs 1 approval"), "{err}");
    release(
        work,
        &gh,
        &fleet,
        "bob",
        &["approve", "1.1.0", "--env", "production"],
    )
    .success();
    release(
        work,
        &gh,
        &fleet,
        CUTTER,
        &["promote", "1.1.0", "--to", "production"],
    )
    .success();
    for service in ["web", "worker"] {
        assert_eq!(fleet.image_of("prod", service), image);
    }
    assert_eq!(registry.digest(NAME, "production"), Some(digest.clone()));
    let good_staging: Vec<String> = ["web", "worker"]
        .iter()
        .map(|s| fleet.task_definition_of("staging", s))
        .collect();

    // 3. A bad commit: its release is published, fails staging's gate, and is rolled back.
    work.commit_file("src.txt", "broken\n", "fix: a change that breaks /health");
    work.write("image/version.txt", "app, broken\n");
    work.git(&["add", "-A"]);
    work.commit_staged("fix: ship the broken build");
    staging_health.set(500, "broken");
    let err = clean_failure(release(work, &gh, &fleet, CUTTER, &["cut", "--yes"]));
    assert!(
        err.contains("the release is published, but a deploy failed"),
        "{err}"
    );
    assert!(
        err.contains("deploying 1.1.1 to staging failed: health gate failed"),
        "{err}"
    );
    assert!(err.contains("rolled back: 1.1.0"), "{err}");
    assert!(p.remote_tags().contains(&"v1.1.1".to_string()));
    assert_eq!(gh.releases().len(), 2);
    let bad = registry
        .digest(NAME, "1.1.1")
        .expect("the bad image was pushed");
    assert_ne!(bad, digest);
    let now_staging: Vec<String> = ["web", "worker"]
        .iter()
        .map(|s| fleet.task_definition_of("staging", s))
        .collect();
    assert_eq!(
        now_staging, good_staging,
        "back on 1.1.0's task definitions"
    );
    assert_eq!(registry.digest(NAME, "staging"), Some(digest.clone()));
    for service in ["web", "worker"] {
        assert_eq!(
            fleet.image_of("prod", service),
            image,
            "production untouched"
        );
    }

    // The ledger says so, and the bad version can never be promoted.
    let out = release(work, &gh, &fleet, CUTTER, &["status"]).success();
    let status = stdout(&out);
    assert!(
        status.contains("staging: 1.1.0 rollback completed"),
        "{status}"
    );
    assert!(
        status.contains("production: 1.1.0 deploy completed"),
        "{status}"
    );
    release(
        work,
        &gh,
        &fleet,
        "bob",
        &["approve", "1.1.1", "--env", "production"],
    )
    .success();
    let err = clean_failure(release(
        work,
        &gh,
        &fleet,
        CUTTER,
        &["promote", "1.1.1", "--to", "production"],
    ));
    assert!(err.contains("1.1.1 failed in staging"), "{err}");

    // Running cut again completes nothing twice and does not retry the failed deploy.
    let updates = fleet.calls("UpdateService").len();
    let out = release(work, &gh, &fleet, CUTTER, &["cut", "--yes"]).success();
    let text = stdout(&out);
    assert!(
        text.contains("[skipped     ] deploy 1.1.1 to staging (failed at"),
        "{text}"
    );
    assert_eq!(fleet.calls("UpdateService").len(), updates);
    assert_eq!(gh.releases().len(), 2);
    assert!(stderr(&out).is_empty() || !stderr(&out).contains("panicked"));

    // 4. A fix passes staging; in production its canary trips the 5xx alarm: ECS rolls back.
    staging_health.set(200, "ok");
    work.write("image/version.txt", "app, fixed\n");
    work.git(&["add", "-A"]);
    work.commit_staged("fix: repair /health");
    release(work, &gh, &fleet, CUTTER, &["cut", "--yes"]).success();
    release(
        work,
        &gh,
        &fleet,
        "bob",
        &["approve", "1.1.2", "--env", "production"],
    )
    .success();
    let mut promote = work
        .release_process()
        .envs(gh.env())
        .envs(fleet.env())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTOR", CUTTER)
        .args(["promote", "1.1.2", "--to", "production"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = promote.stderr.take().unwrap();
    let (canary, in_canary) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut all = String::new();
        for line in std::io::BufReader::new(lines).lines().map_while(Result::ok) {
            if line.contains("(10% of production traffic)") {
                let _ = canary.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    in_canary
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("production reaches its canary");
    fleet.set_alarm("prod-5xx", "ALARM", "Threshold Crossed: 5xx at 12%");
    let status = promote.wait().unwrap();
    let err = reader.join().unwrap();
    assert!(!status.success(), "{err}");
    assert!(err.contains("prod-5xx"), "{err}");
    for service in ["web", "worker"] {
        assert_eq!(fleet.image_of("prod", service), image, "back on 1.1.0");
    }
    let history: serde_json::Value = serde_json::from_str(&stdout(
        &release(
            work,
            &gh,
            &fleet,
            CUTTER,
            &["history", "--env", "production", "--json"],
        )
        .success(),
    ))
    .unwrap();
    assert_eq!(history[0]["action"], "rollback", "{history:#}");
    assert_eq!(history[0]["status"], "completed", "{history:#}");
    let failed = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["version"] == "1.1.2" && e["status"] == "failed")
        .expect("the failed canary is recorded");
    assert_eq!(failed["strategy"], "canary");
    let stages = failed["services"][0]["stages"].to_string();
    assert!(
        stages.contains("PRODUCTION_TRAFFIC_SHIFT (10% of production traffic)"),
        "{stages}"
    );
}
