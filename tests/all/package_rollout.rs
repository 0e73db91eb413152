//! Rollouts of a package (`package = "NAME"` in an environment) through the real binary
//! against the emulator: the package's tags and image instead of the root's, several images
//! of one package put on their containers in one new task definition revision, and the
//! configuration errors.

use crate::support::fleet::{Fleet, REPOSITORY};
use crate::support::{clean_failure, stdout, Repo};

const ACTOR: &str = "carol@example.com";

/// `host/name` of ECR repository `name` on the emulator.
fn repository(name: &str) -> String {
    let (host, _) = REPOSITORY.rsplit_once('/').expect("host/path");
    format!("{host}/{name}")
}

/// A repository with `config` whose package api was released as api-v1.0.0 and api-v1.1.0,
/// and the root as v1.0.0 to v1.2.0 (there is no api-v1.2.0).
fn monorepo(config: &str) -> Repo {
    let repo = Repo::new();
    repo.write("release.toml", config);
    repo.write("services/api/main.rs", "fn main() {}\n");
    repo.git(&["add", "-A"]);
    repo.commit("chore: release configuration");
    repo.annotated_tag("v1.0.0");
    repo.annotated_tag("api-v1.0.0");
    repo.commit_file(
        "services/api/main.rs",
        "fn main() { 1 }\n",
        "feat(api): more",
    );
    repo.annotated_tag("v1.1.0");
    repo.annotated_tag("api-v1.1.0");
    repo.commit_file("README.md", "root\n", "feat: root only");
    repo.annotated_tag("v1.2.0");
    repo
}

fn release(repo: &Repo, fleet: &Fleet, args: &[&str]) -> assert_cmd::assert::Assert {
    let mut cmd = repo.release_hermetic();
    cmd.envs(fleet.env())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTOR", ACTOR)
        .args(args);
    cmd.assert()
}

fn environment(extra: &str) -> String {
    format!(
        r#"
[environments.production]
package = "api"
cluster = "prod"
services = ["api"]
container = "app"
timeout = "60s"
poll_interval = "1s"
{extra}
"#
    )
}

#[test]
fn a_package_environment_deploys_the_packages_tagged_image() {
    let fleet = Fleet::start(0.5);
    fleet.create_repository("api");
    // The root's image of 1.1.0 exists too: the environment must not take it.
    let root = fleet.push("1.1.0");
    let api: Vec<String> = ["1.0.0", "1.1.0", "1.2.0"]
        .iter()
        .map(|v| fleet.push_to("api", v, &format!("api {v}")))
        .collect();
    let api_ref = |d: &str| format!("{}@{d}", repository("api"));
    fleet.create_environment("prod", &["api"], &api_ref(&api[0]));
    let repo = monorepo(&format!(
        r#"[image]
repository = "{REPOSITORY}"
builder = "buildah"

[packages.api]
path = "services/api"
image = {{ repository = "{api}", builder = "buildah" }}
{env}"#,
        api = repository("api"),
        env = environment(""),
    ));

    release(&repo, &fleet, &["deploy", "1.1.0", "--env", "production"]).success();
    assert_eq!(fleet.image_of("prod", "api"), api_ref(&api[1]));
    assert_ne!(
        fleet.image_of("prod", "api"),
        crate::support::fleet::reference(&root)
    );

    // The package was never released as 1.2.0: refused, although the root and the registry
    // have a 1.2.0.
    let err = clean_failure(release(
        &repo,
        &fleet,
        &["deploy", "1.2.0", "--env", "production"],
    ));
    assert!(err.contains("no tag api-v1.2.0"), "{err}");
    assert!(err.contains("package api"), "{err}");
    assert_eq!(fleet.image_of("prod", "api"), api_ref(&api[1]));

    // The package's tag names the version as well.
    let out = release(
        &repo,
        &fleet,
        &["deploy", "api-v1.1.0", "--env", "production", "--json"],
    )
    .success();
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON report");
    assert_eq!(report["outcome"], "already_deployed");
    assert_eq!(report["image"], api_ref(&api[1]));

    let out = release(&repo, &fleet, &["status", "--json"]).success();
    let status: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON status");
    assert_eq!(status[0]["env"], "production");
    assert_eq!(status[0]["package"], "api");
    assert_eq!(status[0]["current"]["version"], "1.1.0");
    let out = release(&repo, &fleet, &["status"]).success();
    assert!(
        stdout(&out).contains("production (package api): 1.1.0"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn every_image_of_a_package_goes_to_its_container_in_one_revision() {
    let fleet = Fleet::start(0.5);
    fleet.create_repository("api");
    fleet.create_repository("api-worker");
    let api: Vec<String> = ["1.0.0", "1.1.0"]
        .iter()
        .map(|v| fleet.push_to("api", v, &format!("api {v}")))
        .collect();
    let worker: Vec<String> = ["1.0.0", "1.1.0"]
        .iter()
        .map(|v| fleet.push_to("api-worker", v, &format!("worker {v}")))
        .collect();
    let api_ref = |d: &str| format!("{}@{d}", repository("api"));
    let worker_ref = |d: &str| format!("{}@{d}", repository("api-worker"));
    fleet.create_two_container_environment(
        "prod",
        &["api"],
        &api_ref(&api[0]),
        ("worker", &worker_ref(&worker[0])),
    );
    let before = fleet.task_definition_of("prod", "api");
    let repo = monorepo(&format!(
        r#"[packages.api]
path = "services/api"
images = [
  {{ name = "worker", repository = "{worker}" }},
  {{ name = "api", repository = "{api}", container = "app" }},
]
{env}"#,
        api = repository("api"),
        worker = repository("api-worker"),
        env = environment(""),
    ));

    // The worker has no 1.2.0 image, nor the package a 1.2.0 tag; 1.1.0 has both images.
    release(&repo, &fleet, &["deploy", "1.1.0", "--env", "production"]).success();
    assert_eq!(fleet.image_of("prod", "api"), api_ref(&api[1]));
    assert_eq!(
        fleet.image_of_container("prod", "api", "worker"),
        worker_ref(&worker[1])
    );
    assert_eq!(
        fleet.image_of_container("prod", "api", "log-router"),
        "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0"
    );
    // One new revision with both images, not one per image.
    let after = fleet.task_definition_of("prod", "api");
    let revision = |arn: &str| arn.rsplit(':').next().unwrap().parse::<u32>().unwrap();
    assert_eq!(
        revision(&after),
        revision(&before) + 1,
        "{before} -> {after}"
    );

    // A version whose second image is missing changes nothing.
    repo.annotated_tag("api-v1.2.0");
    fleet.push_to("api", "1.2.0", "api 1.2.0");
    let err = clean_failure(release(
        &repo,
        &fleet,
        &["deploy", "1.2.0", "--env", "production"],
    ));
    assert!(err.contains("container worker"), "{err}");
    assert_eq!(fleet.task_definition_of("prod", "api"), after);
}

#[test]
fn an_environments_package_is_checked_with_the_configuration() {
    let image = format!("image = {{ repository = \"{}\" }}", repository("api"));
    for (config, key, says) in [
        (environment(""), "environments.production.package", "has no [packages"),
        (
            format!("[packages.web]\npath = \"web\"\n{image}\n{}", environment("")),
            "environments.production.package",
            "no package `api`",
        ),
        (
            format!("[packages.api]\npath = \"services/api\"\n{}", environment("")),
            "environments.production.package",
            "no `image` nor `images`",
        ),
        (
            format!(
                "[packages.api]\npath = \"services/api\"\nimages = [{{ name = \"web\", repository = \"{}\" }}]\n{}",
                repository("api"),
                environment("")
            ),
            "environments.production.package",
            "container `app`",
        ),
        (
            format!(
                "[packages.api]\npath = \"services/api\"\n{image}\n{}\n[environments.staging]\ncluster = \"s\"\nservices = [\"api\"]\ncontainer = \"app\"\n",
                environment("requires = \"staging\"")
            ),
            "environments.production.requires",
            "same package",
        ),
    ] {
        let repo = Repo::new();
        repo.write("release.toml", &config);
        let err = clean_failure(repo.release().args(["status"]).assert());
        assert!(err.contains("release.toml:"), "{config}\n{err}");
        assert!(err.contains(&format!("key `{key}`")), "{config}\n{err}");
        assert!(err.contains(says), "{config}\n{err}");
    }
}
