//! Progressive delivery through the real binary against the emulator: many services, ECS's own
//! canary, linear and blue/green strategies followed through the service-deployment API, the
//! pause before production traffic, and alarms that roll a deploy back.

use crate::support::fleet::{reference, Fleet};
use crate::support::{stderr, Repo};

const ACTOR: &str = "carol@example.com";

/// An emulator with `versions` pushed, one cluster `prod` whose `services` run the first
/// version, and a repository whose `[environments.production]` lists them with `extra` lines.
struct Stage {
    repo: Repo,
    fleet: Fleet,
    digests: Vec<(String, String)>,
    services: Vec<String>,
}

fn stage(deploy_seconds: f64, services: &[String], extra: &str) -> Stage {
    let fleet = Fleet::start(deploy_seconds);
    let versions = ["1.0.0", "1.1.0"];
    let digests: Vec<(String, String)> = versions
        .iter()
        .map(|v| (v.to_string(), fleet.push(v)))
        .collect();
    let names: Vec<&str> = services.iter().map(String::as_str).collect();
    fleet.create_environment("prod", &names, &reference(&digests[0].1));
    let repo = Repo::new();
    let list = services
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    repo.write(
        "release.toml",
        &format!(
            r#"[image]
repository = "{repository}"
builder = "buildah"

[environments.production]
cluster = "prod"
services = [{list}]
container = "app"
timeout = "60s"
poll_interval = "1s"
{extra}
"#,
            repository = crate::support::fleet::REPOSITORY,
        ),
    );
    repo.git(&["add", "-A"]);
    repo.commit("chore: release configuration");
    for v in versions {
        repo.commit(&format!("feat: towards {v}"));
        repo.annotated_tag(&format!("v{v}"));
    }
    Stage {
        repo,
        fleet,
        digests,
        services: services.to_vec(),
    }
}

impl Stage {
    fn release(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        self.release_as(ACTOR, args)
    }

    /// `release ARGS` as `actor` in GitHub Actions (where `GITHUB_ACTOR` is believed).
    fn release_as(&self, actor: &str, args: &[&str]) -> assert_cmd::assert::Assert {
        let mut cmd = self.repo.release_hermetic();
        cmd.envs(self.fleet.env())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", actor)
            .args(args);
        cmd.assert()
    }

    /// `release ARGS` started in the background; each line it writes to stderr is sent on
    /// the channel as it comes, and the whole of it is the thread's result.
    fn spawn(&self, args: &[&str]) -> Running {
        let mut child = self
            .repo
            .release_process()
            .envs(self.fleet.env())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", ACTOR)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            use std::io::BufRead as _;
            let mut all = String::new();
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = send.send(line.clone());
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        Running {
            child,
            lines,
            reader,
        }
    }

    /// The ledger's history of production, newest first.
    fn history(&self) -> Vec<serde_json::Value> {
        let out = self
            .release(&["history", "--env", "production", "--json"])
            .success();
        serde_json::from_str(&crate::support::stdout(&out)).expect("JSON history")
    }

    fn digest(&self, version: &str) -> &str {
        &self
            .digests
            .iter()
            .find(|(v, _)| v == version)
            .expect("a pushed version")
            .1
    }

    /// Every service runs `version`'s image.
    fn assert_runs(&self, version: &str) {
        for service in &self.services {
            assert_eq!(
                self.fleet.image_of("prod", service),
                reference(self.digest(version)),
                "prod/{service} should run {version}"
            );
        }
    }
}

/// A `release` running in the background.
struct Running {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<String>,
}

impl Running {
    /// Wait (at most a minute) for a line of stderr containing `text`.
    fn wait_for(&self, text: &str) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no line with {text:?} within a minute");
    }

    /// Its exit status and all of its stderr.
    fn finish(mut self) -> (std::process::ExitStatus, String) {
        let status = self.child.wait().unwrap();
        (status, self.reader.join().unwrap())
    }
}

/// The stages the ledger recorded for `service` in a history entry.
fn stages(entry: &serde_json::Value, service: &str) -> Vec<String> {
    entry["services"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["service"] == service)
        .and_then(|s| s["stages"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

fn web_and_worker() -> Vec<String> {
    vec!["web".to_string(), "worker".to_string()]
}

#[test]
fn a_canary_moves_a_share_of_traffic_first_then_all_and_is_recorded_stage_by_stage() {
    let s = stage(
        0.5,
        &web_and_worker(),
        "strategy = \"canary\"\ncanary = { percent = 10, bake = \"2m\" }\nbake = \"3m\"",
    );
    let out = s
        .release(&["deploy", "1.1.0", "--env", "production"])
        .success();
    let err = stderr(&out);
    assert!(
        err.contains("web: PRODUCTION_TRAFFIC_SHIFT (10% of production traffic)"),
        "{err}"
    );
    assert!(err.contains("worker: BAKE_TIME"), "{err}");
    assert!(err.contains("1.1.0 completed in production"), "{err}");
    s.assert_runs("1.1.0");
    let history = s.history();
    assert_eq!(history[0]["status"], "completed", "{history:#?}");
    assert_eq!(history[0]["strategy"], "canary");
    let web = stages(&history[0], "web");
    let canary = web
        .iter()
        .position(|x| x == "PRODUCTION_TRAFFIC_SHIFT (10% of production traffic)")
        .expect("the canary stage is recorded");
    let bake = web
        .iter()
        .position(|x| x == "BAKE_TIME")
        .expect("the bake is recorded");
    assert!(canary < bake, "{web:?}");
}

#[test]
fn a_canary_whose_alarm_fires_during_the_bake_is_rolled_back_and_the_stage_recorded() {
    let s = stage(
        0.5,
        &web_and_worker(),
        "strategy = \"canary\"\ncanary = { percent = 10, bake = \"1m\" }\nbake = \"30m\"\nalarms = [\"prod-5xx\"]",
    );
    s.fleet.create_alarm("prod-5xx");
    let run = s.spawn(&["deploy", "1.1.0", "--env", "production"]);
    run.wait_for("BAKE_TIME");
    s.fleet
        .set_alarm("prod-5xx", "ALARM", "Threshold Crossed: 40 errors");
    let (status, err) = run.finish();
    assert!(!status.success(), "{err}");
    assert!(err.contains("prod-5xx"), "the alarm is named: {err}");
    s.assert_runs("1.0.0");
    let history = s.history();
    let failed = history
        .iter()
        .find(|e| e["action"] == "deploy" && e["status"] == "failed")
        .expect("the failed deploy is recorded");
    assert_eq!(
        stages(failed, "web").last().map(String::as_str),
        Some("BAKE_TIME")
    );
    assert!(
        failed["reason"].as_str().unwrap_or("").contains("prod-5xx"),
        "{failed:#?}"
    );
    assert_eq!(history[0]["action"], "rollback", "{history:#?}");
    assert_eq!(history[0]["status"], "completed", "{history:#?}");
    // ECS rolled the services back itself: the only UpdateService calls are the deploy's.
    assert_eq!(s.fleet.calls("UpdateService").len(), 2);
}

#[test]
fn blue_green_waits_at_the_pause_until_an_approver_continues_it() {
    let s = stage(
        0.5,
        &web_and_worker(),
        "strategy = \"blue_green\"\npause_before_shift = true\napprovals = 1\napprovers = [\"bob\"]",
    );
    // Bob's approval to deploy is not an approval to shift production traffic later.
    s.release_as("bob", &["approve", "1.1.0", "--env", "production"])
        .success();
    let run = s.spawn(&["deploy", "1.1.0", "--env", "production"]);
    run.wait_for("paused before production traffic");
    std::thread::sleep(std::time::Duration::from_secs(2));
    for service in ["web", "worker"] {
        assert_eq!(
            s.fleet.image_of("prod", service),
            reference(s.digest("1.1.0")),
            "the new revision is set while it waits"
        );
    }
    let status = crate::support::stdout(&s.release(&["status", "--json"]).success());
    assert!(status.contains("POST_TEST_TRAFFIC_SHIFT"), "{status}");
    // Carol cut 1.1.0 and is no approver here.
    let refused = s
        .release_as(ACTOR, &["continue", "1.1.0", "--env", "production"])
        .failure();
    assert!(stderr(&refused).contains("carol"), "{}", stderr(&refused));
    s.release_as("bob", &["continue", "1.1.0", "--env", "production"])
        .success();
    let (status, err) = run.finish();
    assert!(status.success(), "{err}");
    let paused = err
        .find("web: paused before production traffic")
        .expect("paused");
    let done = err
        .find("1.1.0 completed in production")
        .expect("completed");
    assert!(paused < done, "{err}");
    s.assert_runs("1.1.0");
    assert_eq!(s.history()[0]["status"], "completed");
}

#[test]
fn a_pause_nobody_continues_times_out_and_is_rolled_back() {
    let s = stage(
        0.5,
        &web_and_worker(),
        "strategy = \"blue_green\"\npause_before_shift = true\npause_timeout = \"2m\"",
    );
    let out = s
        .release(&["deploy", "1.1.0", "--env", "production"])
        .failure();
    let err = stderr(&out);
    assert!(err.contains("paused before production traffic"), "{err}");
    assert!(err.contains("timed out"), "{err}");
    s.assert_runs("1.0.0");
    let history = s.history();
    assert_eq!(history[0]["action"], "rollback", "{history:#?}");
    assert_eq!(history[0]["status"], "completed", "{history:#?}");
}

#[test]
fn twenty_five_services_deploy_together_with_one_describe_per_ten_services() {
    let services: Vec<String> = (1..=25).map(|i| format!("svc{i:02}")).collect();
    let s = stage(0.5, &services, "");
    let before = s.fleet.calls("DescribeServices").len();
    let out = s
        .release(&["deploy", "1.1.0", "--env", "production"])
        .success();
    let err = stderr(&out);
    assert!(err.contains("1.1.0 completed in production"), "{err}");
    let describes: Vec<_> = s.fleet.calls("DescribeServices")[before..].to_vec();
    s.assert_runs("1.1.0");
    assert_eq!(s.fleet.calls("UpdateService").len(), 25);
    for call in &describes {
        let n = call["services"].as_array().map_or(0, Vec::len);
        assert!(
            (1..=10).contains(&n),
            "one DescribeServices takes 1 to 10 services: {call}"
        );
    }
    // Every read of the environment asks for all 25 services in exactly three calls.
    let asked: usize = describes
        .iter()
        .map(|c| c["services"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(asked % 25, 0, "{describes:#?}");
    assert!(
        asked >= 50,
        "read before and while deploying: {describes:#?}"
    );
    assert_eq!(describes.len(), asked / 25 * 3, "{describes:#?}");
}

#[test]
fn strategy_settings_that_do_not_fit_name_file_line_and_key() {
    let base = "[environments.p]\ncluster = \"c\"\nservices = [\"web\"]\ncontainer = \"app\"\n";
    let cases = [
        (
            "canary = { percent = 10, bake = \"5m\" }\n",
            "release.toml:5:",
            "environments.p.canary",
            "goes with strategy = \"canary\"",
        ),
        (
            "strategy = \"canary\"\ncanary = { percent = 0, bake = \"5m\" }\n",
            "release.toml:6:",
            "environments.p.canary.percent",
            "0.1 to 100",
        ),
        (
            "pause_before_shift = true\n",
            "release.toml:5:",
            "environments.p.pause_before_shift",
            "no test traffic to pause after",
        ),
        (
            "strategy = \"blue_green\"\nbake = \"25h\"\n",
            "release.toml:6:",
            "environments.p.bake",
            "longer than ECS allows",
        ),
        (
            "strategy = \"sideways\"\n",
            "release.toml:5:",
            "environments.p.strategy",
            "blue_green",
        ),
    ];
    for (extra, location, key, says) in cases {
        let repo = Repo::new();
        repo.commit("feat: a");
        repo.write("release.toml", &format!("{base}{extra}"));
        let err = crate::support::clean_failure(repo.run(&["plan"]));
        let err = repo.redact(&err);
        assert!(
            err.starts_with(&format!("error: [TMP]/repo/{location}")),
            "{extra}: {err}"
        );
        assert!(err.contains(&format!("key `{key}`")), "{extra}: {err}");
        assert!(err.contains(says), "{extra}: {err}");
    }
}

/// An emulator with 1.0.0 running in `prod` (the default region) and `prod-eu` (eu-west-1),
/// and a production environment of both, `prod-eu` in wave 2.
fn two_regions() -> Stage {
    let s = stage(
        0.4,
        &web_and_worker(),
        "\n[[environments.production.targets]]\nregion = \"eu-west-1\"\ncluster = \"prod-eu\"\nwave = 2",
    );
    s.fleet.create_environment_in(
        Some("eu-west-1"),
        "prod-eu",
        &["web", "worker"],
        &reference(s.digest("1.0.0")),
    );
    s
}

impl Stage {
    /// Every service of `cluster` in `region` runs `version`.
    fn assert_runs_in(&self, region: Option<&str>, cluster: &str, version: &str) {
        for service in &self.services {
            assert_eq!(
                self.fleet.image_of_in(region, cluster, service),
                reference(self.digest(version)),
                "{cluster}/{service} should run {version}"
            );
        }
    }

    /// The clusters of the UpdateService calls so far, in order.
    fn updated_clusters(&self) -> Vec<String> {
        self.fleet
            .calls("UpdateService")
            .iter()
            .map(|c| c["cluster"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

#[test]
fn a_failure_in_the_second_wave_rolls_back_the_first_and_a_rerun_finishes_both() {
    let s = two_regions();
    s.fleet
        .moto
        .set_faults(&["UpdateService prod-eu AccessDeniedException not allowed in eu-west-1"]);
    let out = s
        .release(&["deploy", "1.1.0", "--env", "production"])
        .failure();
    let err = stderr(&out);
    assert!(err.contains("wave 1: production"), "{err}");
    assert!(
        err.contains("wave 2: production.eu-west-1.prod-eu"),
        "{err}"
    );
    assert!(err.contains("AccessDeniedException"), "{err}");
    assert!(err.contains("rolling production back"), "{err}");
    s.assert_runs_in(None, "prod", "1.0.0");
    s.assert_runs_in(Some("eu-west-1"), "prod-eu", "1.0.0");
    // Wave 2 started only once wave 1 had passed.
    let clusters = s.updated_clusters();
    let first_eu = clusters
        .iter()
        .position(|c| c == "prod-eu")
        .expect("wave 2 ran");
    assert!(
        clusters[..first_eu].iter().filter(|c| *c == "prod").count() == 2,
        "{clusters:?}"
    );
    // Production's own record never says 1.1.0 completed: it was held for wave 2.
    let history = s.history();
    assert!(
        !history.iter().any(|e| e["version"] == "1.1.0"
            && e["status"] == "completed"
            && e["action"] == "deploy"),
        "{history:#?}"
    );
    assert_eq!(history[0]["action"], "rollback", "{history:#?}");

    s.fleet.moto.set_faults(&[]);
    let out = s
        .release(&["deploy", "1.1.0", "--env", "production"])
        .success();
    let err = stderr(&out);
    assert!(
        err.contains("1.1.0 completed in production.eu-west-1.prod-eu"),
        "{err}"
    );
    s.assert_runs_in(None, "prod", "1.1.0");
    s.assert_runs_in(Some("eu-west-1"), "prod-eu", "1.1.0");
    let status = crate::support::stdout(&s.release(&["status", "--env", "production"]).success());
    assert!(
        status.contains("production.eu-west-1.prod-eu: 1.1.0 deploy completed"),
        "{status}"
    );
    let eu = s
        .release(&["history", "--env", "production.eu-west-1.prod-eu", "--json"])
        .success();
    assert!(crate::support::stdout(&eu).contains("\"completed\""));

    // One rollback of the environment takes every cluster back.
    s.release(&["rollback", "--env", "production"]).success();
    s.assert_runs_in(None, "prod", "1.0.0");
    s.assert_runs_in(Some("eu-west-1"), "prod-eu", "1.0.0");
}

#[test]
fn a_failure_in_the_first_wave_never_starts_the_second() {
    let s = two_regions();
    s.fleet
        .moto
        .set_faults(&["UpdateService prod AccessDeniedException not allowed"]);
    s.release(&["deploy", "1.1.0", "--env", "production"])
        .failure();
    assert!(
        !s.updated_clusters().iter().any(|c| c == "prod-eu"),
        "{:?}",
        s.updated_clusters()
    );
    s.assert_runs_in(Some("eu-west-1"), "prod-eu", "1.0.0");
}

#[test]
fn a_canary_killed_at_any_ecs_call_is_finished_by_one_plain_rerun_without_a_second_update() {
    let s = stage(
        0.3,
        &web_and_worker(),
        "strategy = \"canary\"\ncanary = { percent = 20, bake = \"1m\" }\nbake = \"1m\"",
    );
    let ecs_calls = |from: usize| {
        s.fleet
            .moto
            .log_lines()
            .into_iter()
            .skip(from)
            .filter(|l| l["kind"] == "call" && l.get("api").is_none())
            .collect::<Vec<_>>()
    };
    // From the first ECS call of a deploy to its polls of the stages: registration, the
    // update, the pins, the follow.
    for (i, at) in [2usize, 5, 8, 10, 12, 15, 18].into_iter().enumerate() {
        let version = if i % 2 == 0 { "1.1.0" } else { "1.0.0" };
        let ctx = format!("deploy {version}, SIGKILL after ECS call {at}");
        let from = s.fleet.moto.log_lines().len();
        let mut child = s
            .repo
            .release_process()
            .envs(s.fleet.env())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", ACTOR)
            .args(["deploy", version, "--env", "production"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        while child.try_wait().unwrap().is_none() {
            if ecs_calls(from).len() >= at {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        child.wait().unwrap();
        let out = s
            .repo
            .release_hermetic()
            .envs(s.fleet.env())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", ACTOR)
            .args(["deploy", version, "--env", "production"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{ctx}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s.assert_runs(version);
        let status: serde_json::Value = serde_json::from_str(&crate::support::stdout(
            &s.release(&["status", "--env", "production", "--json"])
                .success(),
        ))
        .unwrap();
        assert_eq!(
            status[0]["current"]["status"], "completed",
            "{ctx}\n{status}"
        );
        assert!(
            status[0]["drift"].as_array().unwrap().is_empty(),
            "{ctx}\n{status}"
        );
        for service in ["web", "worker"] {
            let updates = ecs_calls(from)
                .iter()
                .filter(|c| c["action"] == "UpdateService" && c["service"] == service)
                .count();
            assert_eq!(updates, 1, "{service}: one UpdateService per deploy: {ctx}");
        }
    }
}

#[test]
fn linear_moves_production_traffic_in_equal_steps() {
    let s = stage(
        0.5,
        &["web".to_string()],
        "strategy = \"linear\"\nlinear = { step_percent = 50, interval = \"2m\" }",
    );
    let out = s
        .release(&["deploy", "1.1.0", "--env", "production"])
        .success();
    let err = stderr(&out);
    assert!(
        err.contains("web: PRODUCTION_TRAFFIC_SHIFT (50% of production traffic)"),
        "{err}"
    );
    s.assert_runs("1.1.0");
    assert_eq!(s.history()[0]["strategy"], "linear");
}

#[test]
fn each_wave_of_a_fleet_pauses_for_its_own_continue() {
    let s = stage(
        0.4,
        &web_and_worker(),
        "strategy = \"blue_green\"\npause_before_shift = true\napprovers = [\"bob\"]\n\n[[environments.production.targets]]\nregion = \"eu-west-1\"\ncluster = \"prod-eu\"\nwave = 2",
    );
    s.fleet.create_environment_in(
        Some("eu-west-1"),
        "prod-eu",
        &["web", "worker"],
        &reference(s.digest("1.0.0")),
    );
    let run = s.spawn(&["deploy", "1.1.0", "--env", "production"]);
    run.wait_for("paused before production traffic");
    s.release_as("bob", &["continue", "1.1.0", "--env", "production"])
        .success();
    run.wait_for("wave 2: production.eu-west-1.prod-eu");
    run.wait_for("paused before production traffic");
    // The first wave's approval was given before this wave started: it holds.
    std::thread::sleep(std::time::Duration::from_secs(2));
    s.assert_runs_in(None, "prod", "1.1.0");
    let status = crate::support::stdout(&s.release(&["status"]).success());
    assert!(
        status.contains("release continue 1.1.0 --env production`"),
        "{status}"
    );
    let out = s
        .release_as("bob", &["continue", "1.1.0", "--env", "production"])
        .success();
    assert!(
        crate::support::stdout(&out).contains("(production.eu-west-1.prod-eu)"),
        "{}",
        crate::support::stdout(&out)
    );
    let (status, err) = run.finish();
    assert!(status.success(), "{err}");
    s.assert_runs_in(None, "prod", "1.1.0");
    s.assert_runs_in(Some("eu-west-1"), "prod-eu", "1.1.0");
}
