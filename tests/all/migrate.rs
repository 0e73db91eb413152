//! Migrations before a deploy (`[environments.<name>.migrate]`), through the real binary
//! against the emulator: the launcher's RunTask tasks stop with the exit codes a test sets,
//! and write their awslogs lines. Each test counts the RunTask and UpdateService calls the
//! emulator served.

use aws_sdk_ecs::types::{
    AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType, LogConfiguration,
    LogDriver, NetworkConfiguration, NetworkMode,
};

use crate::support::fleet::{reference, Fleet};
use crate::support::{self, clean_failure, stderr, stdout, Repo};

const ACTOR: &str = "carol@example.com";

struct World {
    repo: Repo,
    fleet: Fleet,
    rt: tokio::runtime::Runtime,
    ecs: aws_sdk_ecs::Client,
    digests: std::collections::HashMap<&'static str, String>,
}

/// A container `app` at `image` logging to awslogs group `/ecs/<family>` (prefix `ecs`),
/// with `command`, and a sidecar that is not essential.
fn containers(family: &str, image: &str, command: &[&str]) -> Vec<ContainerDefinition> {
    let logs = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", format!("/ecs/{family}"))
        .options("awslogs-region", "eu-north-1")
        .options("awslogs-stream-prefix", "ecs")
        .build()
        .unwrap();
    vec![
        ContainerDefinition::builder()
            .name("app")
            .image(image)
            .essential(true)
            .memory(256)
            .set_command(Some(command.iter().map(|c| c.to_string()).collect()))
            .log_configuration(logs)
            .build(),
        ContainerDefinition::builder()
            .name("log-router")
            .image("public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0")
            .essential(false)
            .memory(64)
            .build(),
    ]
}

/// Cluster `staging` with services `web` and `worker` (Fargate, awsvpc, with a network
/// configuration as real services have), the task family `app-migrate`, and a repository
/// whose `[environments.staging]` ends with `migrate` (the lines of its `.migrate` table).
fn world(ledger: &str, migrate: &str) -> World {
    let fleet = Fleet::start(0.3);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ecs = aws_sdk_ecs::Client::new(&rt.block_on(fleet.moto.sdk_config()));
    let mut digests = std::collections::HashMap::new();
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        digests.insert(v, fleet.push(v));
    }
    let baseline = reference(&digests["1.0.0"]);
    let (subnet, group) = fleet.moto.default_network();
    rt.block_on(async {
        ecs.create_cluster().cluster_name("staging").send().await?;
        for (family, command) in [
            ("web", vec!["serve"]),
            ("worker", vec!["work"]),
            ("app-migrate", vec!["migrate", "--default"]),
        ] {
            ecs.register_task_definition()
                .family(family)
                .set_container_definitions(Some(containers(family, &baseline, &command)))
                .network_mode(NetworkMode::Awsvpc)
                .requires_compatibilities(Compatibility::Fargate)
                .cpu("256")
                .memory("512")
                .send()
                .await?;
        }
        for service in ["web", "worker"] {
            let network = NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .subnets(subnet.clone())
                        .security_groups(group.clone())
                        .build()
                        .unwrap(),
                )
                .build();
            ecs.create_service()
                .cluster("staging")
                .service_name(service)
                .task_definition(service)
                .desired_count(2)
                .launch_type(LaunchType::Fargate)
                .network_configuration(network)
                .send()
                .await?;
        }
        Ok::<_, aws_sdk_ecs::Error>(())
    })
    .unwrap();
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
timeout = "30s"
poll_interval = "1s"

[environments.staging.migrate]
{migrate}
"#,
            repository = support::fleet::REPOSITORY,
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
        rt,
        ecs,
        digests,
    }
}

impl World {
    fn release(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        self.release_with(args, &[])
    }

    fn release_with(&self, args: &[&str], env: &[(&str, &str)]) -> assert_cmd::assert::Assert {
        let mut cmd = self.repo.release_hermetic();
        cmd.envs(self.fleet.env())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", ACTOR)
            .envs(env.iter().copied())
            .args(args);
        cmd.assert()
    }

    /// The launcher's `task` lines of tasks run (`event: run`).
    fn runs(&self) -> Vec<serde_json::Value> {
        self.fleet
            .moto
            .log_lines()
            .into_iter()
            .filter(|l| l["kind"] == "task" && l["event"] == "run")
            .collect()
    }

    fn run_task_calls(&self) -> usize {
        self.fleet.calls("RunTask").len()
    }

    fn update_calls(&self) -> usize {
        self.fleet.calls("UpdateService").len()
    }

    fn task_definitions(&self) -> Vec<String> {
        ["web", "worker"]
            .iter()
            .map(|s| self.fleet.task_definition_of("staging", s))
            .collect()
    }

    fn assert_runs(&self, version: &str) {
        for service in ["web", "worker"] {
            assert_eq!(
                self.fleet.image_of("staging", service),
                reference(&self.digests[version]),
                "{service} should run {version}"
            );
        }
    }

    /// The value of SSM parameter `name`.
    fn parameter(&self, name: &str) -> String {
        let ssm = aws_sdk_ssm::Client::new(&self.rt.block_on(self.fleet.moto.sdk_config()));
        let out = self
            .rt
            .block_on(ssm.get_parameter().name(name).send())
            .unwrap();
        out.parameter().unwrap().value().unwrap().to_string()
    }

    /// The tags of the task `arn`, as `key=value`.
    fn task_tags(&self, arn: &str) -> Vec<String> {
        let out = self
            .rt
            .block_on(
                self.ecs
                    .describe_tasks()
                    .cluster("staging")
                    .tasks(arn)
                    .include(aws_sdk_ecs::types::TaskField::Tags)
                    .send(),
            )
            .unwrap();
        out.tasks()[0]
            .tags()
            .iter()
            .map(|t| format!("{}={}", t.key().unwrap_or(""), t.value().unwrap_or("")))
            .collect()
    }
}

#[test]
fn a_failed_migration_stops_the_deploy_before_any_service_changes() {
    let w = world(
        "file",
        "task_family = \"app-migrate\"\ncommand = \"alembic upgrade head\"\ntimeout = \"20s\"",
    );
    w.fleet.moto.set_task_exits_with_log(&[(
        "alembic",
        3,
        "ERROR: column users.email already exists",
    )]);
    let before = w.task_definitions();
    let out = w
        .release(&["deploy", "1.1.0", "--env", "staging", "--json"])
        .failure();
    let err = stderr(&out);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON on stdout");
    assert_eq!(report["outcome"], "migration_failed", "{report}");
    assert_eq!(report["migration"]["status"], "failed", "{report}");
    assert_eq!(report["migration"]["exit_code"], 3, "{report}");
    // Why, the exit code, and the log's last lines.
    assert!(err.contains("container app exited with code 3"), "{err}");
    assert!(err.contains("Essential container in task exited"), "{err}");
    assert!(err.contains("| $ /bin/sh -c alembic upgrade head"), "{err}");
    assert!(
        err.contains("| ERROR: column users.email already exists"),
        "{err}"
    );
    assert!(err.contains("| exit 3"), "{err}");
    assert!(err.contains("before any service changed"), "{err}");
    assert!(err.contains("nothing was rolled back"), "{err}");
    // No service touched.
    assert_eq!(w.update_calls(), 0);
    assert_eq!(w.task_definitions(), before);
    // The shell form reached ECS as sh -c, in the family's new revision with the image.
    let runs = w.runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        runs[0]["command"],
        serde_json::json!(["/bin/sh", "-c", "alembic upgrade head"])
    );
    assert_eq!(runs[0]["overridden"], true);
    assert!(
        runs[0]["taskDefinition"]
            .as_str()
            .unwrap()
            .ends_with("task-definition/app-migrate:2"),
        "{runs:?}"
    );
    assert!(runs[0]["startedBy"]
        .as_str()
        .unwrap()
        .starts_with("release-agent-"));
    let (td, _) = w
        .fleet
        .task_definition(runs[0]["taskDefinition"].as_str().unwrap());
    assert_eq!(
        td.container_definitions()[0].image(),
        Some(reference(&w.digests["1.1.0"]).as_str())
    );
    let tags = w.task_tags(runs[0]["taskArn"].as_str().unwrap());
    assert!(
        tags.contains(&"release-agent:version=1.1.0".to_string()),
        "{tags:?}"
    );
    assert!(
        tags.contains(&"release-agent:environment=staging".to_string()),
        "{tags:?}"
    );
    // The ledger says so.
    let history: serde_json::Value = serde_json::from_str(&stdout(
        &w.release(&["history", "--env", "staging", "--json"])
            .success(),
    ))
    .unwrap();
    // Newest first.
    let last = history[0].clone();
    assert_eq!(last["status"], "failed", "{history}");
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .contains("the migration of 1.1.0 in staging failed"),
        "{last}"
    );

    // Fixed: the failed migration runs again, then the services.
    w.fleet.moto.set_task_exits(&[]);
    let out = w
        .release(&["deploy", "1.1.0", "--env", "staging"])
        .success();
    assert!(
        stdout(&out).contains("1.1.0 runs in staging"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.run_task_calls(), 2);
    assert_eq!(w.update_calls(), 2);
    w.assert_runs("1.1.0");
}

#[test]
fn a_completed_migration_is_not_run_again_unless_asked() {
    let w = world(
        "ssm",
        "task_family = \"app-migrate\"\ncommand = [\"alembic\", \"upgrade\", \"head\"]",
    );
    // The services fail to deploy 1.1.0: the migration ran, the deploy is rolled back.
    w.fleet.moto.set_fail_images(&[&w.digests["1.1.0"]]);
    let err = clean_failure(w.release(&["deploy", "1.1.0", "--env", "staging"]));
    assert!(
        err.contains("migration of 1.1.0 completed (exit code 0)"),
        "{err}"
    );
    assert!(err.contains("rolled back"), "{err}");
    assert_eq!(w.run_task_calls(), 1);
    // The exec form reached ECS as given.
    assert_eq!(
        w.runs()[0]["command"],
        serde_json::json!(["alembic", "upgrade", "head"])
    );
    let record: serde_json::Value =
        serde_json::from_str(&w.parameter("/release-agent/test/staging/migrations/1.1.0")).unwrap();
    assert_eq!(record["status"], "completed", "{record}");
    assert_eq!(record["exit_code"], 0, "{record}");

    // Asked to: it runs again (and the deploy fails again).
    clean_failure(w.release(&["deploy", "1.1.0", "--env", "staging", "--rerun-migrations"]));
    assert_eq!(w.run_task_calls(), 2);

    // A plain re-run does not run it again; the services go out.
    w.fleet.moto.set_fail_images(&[]);
    let updates = w.update_calls();
    let out = w
        .release(&["deploy", "1.1.0", "--env", "staging"])
        .success();
    let err = stderr(&out);
    assert!(err.contains("already completed"), "{err}");
    assert_eq!(w.run_task_calls(), 2, "{err}");
    assert_eq!(w.update_calls(), updates + 2);
    w.assert_runs("1.1.0");
}

#[test]
fn a_migration_of_a_service_runs_its_new_task_definition_where_it_runs() {
    let w = world("file", "service = \"worker\"");
    w.release(&["deploy", "1.1.0", "--env", "staging"])
        .success();
    let runs = w.runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    // Its new revision, run before the service was updated to it, with its own command.
    assert_eq!(
        runs[0]["taskDefinition"],
        w.fleet.task_definition_of("staging", "worker")
    );
    assert_eq!(runs[0]["command"], serde_json::json!(["work"]));
    assert_eq!(runs[0]["overridden"], false);
    let lines = w.fleet.moto.log_lines();
    let run_at = lines
        .iter()
        .position(|l| l["kind"] == "call" && l["action"] == "RunTask")
        .unwrap();
    let first_update = lines
        .iter()
        .position(|l| l["kind"] == "call" && l["action"] == "UpdateService")
        .unwrap();
    assert!(run_at < first_update);
    w.assert_runs("1.1.0");
}

#[test]
fn a_deploy_killed_around_its_migration_runs_it_once_and_updates_each_service_once() {
    for (ledger, point, args) in [
        ("file", "migrate-run-task", &[][..]),
        ("ssm", "migrate-run-task", &[][..]),
        ("file", "migrate", &[][..]),
        // Asked to rerun: once per deploy, not once per run of it.
        ("ssm", "migrate", &["--rerun-migrations"][..]),
    ] {
        let ctx = format!("ledger {ledger}, killed at {point} {args:?}");
        let deploy: Vec<&str> = ["deploy", "1.1.0", "--env", "staging"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        let w = world(
            ledger,
            "task_family = \"app-migrate\"\ncommand = [\"alembic\", \"upgrade\", \"head\"]",
        );
        let out = w
            .release_with(&deploy, &[("RELEASE_AGENT_FAIL_AFTER", point)])
            .code(86);
        assert!(stderr(&out).contains("fault injected"), "{ctx}");
        assert_eq!(w.run_task_calls(), 1, "{ctx}");
        assert_eq!(w.update_calls(), 0, "{ctx}");
        let out = w.release(&deploy).success();
        let err = stderr(&out);
        assert_eq!(w.run_task_calls(), 1, "{ctx}: no second migration\n{err}");
        assert_eq!(
            w.update_calls(),
            2,
            "{ctx}: one UpdateService per service\n{err}"
        );
        if point == "migrate-run-task" {
            assert!(err.contains("found its task"), "{ctx}: {err}");
        }
        w.assert_runs("1.1.0");
    }
}

#[test]
fn a_migration_that_outlives_its_timeout_is_stopped_and_fails_the_deploy() {
    let w = world("file", "task_family = \"app-migrate\"\ntimeout = \"2s\"");
    w.fleet.moto.set_task_exit_lines(&["migrate hang"]);
    let before = w.task_definitions();
    let err = clean_failure(w.release(&["deploy", "1.1.0", "--env", "staging"]));
    assert!(
        err.contains("the migration did not stop within its timeout of 2s; its task was stopped"),
        "{err}"
    );
    assert!(err.contains("before any service changed"), "{err}");
    assert_eq!(w.fleet.calls("StopTask").len(), 1, "{err}");
    let stopped: Vec<_> = w
        .fleet
        .moto
        .log_lines()
        .into_iter()
        .filter(|l| l["kind"] == "task" && l["event"] == "stopped")
        .collect();
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    assert_eq!(stopped[0]["stopCode"], "UserInitiated");
    assert_eq!(w.update_calls(), 0);
    assert_eq!(w.task_definitions(), before);
}

#[test]
fn a_bad_migrate_table_names_file_line_and_key() {
    let cases = [
        (
            "task_family = \"a\"\nservice = \"web\"",
            "release.toml:8:",
            "environments.staging.migrate.service",
            "not both",
        ),
        (
            "command = \"alembic upgrade head\"",
            "release.toml:6:",
            "environments.staging.migrate.task_family",
            "say which task runs the migration",
        ),
        (
            "service = \"api\"",
            "release.toml:7:",
            "environments.staging.migrate.service",
            "`api` is not one of the environment's services (web, worker)",
        ),
        (
            "task_family = \"a\"\ncommand = []",
            "release.toml:8:",
            "environments.staging.migrate.command",
            "give a command",
        ),
        (
            "task_family = \"a\"\nimage = \"x\"",
            "release.toml:8:",
            "image",
            "unknown field",
        ),
    ];
    for (migrate, line, key, message) in cases {
        let repo = Repo::new();
        repo.commit("feat: a");
        repo.write(
            "release.toml",
            &format!(
                "[environments.staging]\ncluster = \"staging\"\nservices = [\"web\", \"worker\"]\ncontainer = \"app\"\n\n[environments.staging.migrate]\n{migrate}\n"
            ),
        );
        let err = clean_failure(repo.run(&["plan"]));
        assert!(err.contains(line), "{migrate}: {err}");
        assert!(err.contains(key), "{migrate}: {err}");
        assert!(err.contains(message), "{migrate}: {err}");
    }
}

#[test]
fn the_dry_run_of_a_cut_names_the_migration_of_its_deploy() {
    let p = support::Published::new(Some(
        "[image]\nrepository = \"registry.example.com/app\"\nbuilder = \"buildah\"\n\n[environments.staging]\ncluster = \"staging\"\nservices = [\"web\"]\ncontainer = \"app\"\n\n[environments.staging.migrate]\ntask_family = \"app-migrate\"\ncommand = \"alembic upgrade head\"\n",
    ));
    let out = p
        .work
        .release_hermetic()
        .args(["cut", "--yes", "--dry-run", "--no-github"])
        .assert()
        .success();
    let text = stdout(&out);
    assert!(
        text.contains("deploy 1.1.0 to staging (unless it runs there, its migration first: task family app-migrate)"),
        "{text}"
    );
}
