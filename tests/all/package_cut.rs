//! `release cut` and `release ci` with `[packages]` after the push and the GitHub releases:
//! each released package's images built with buildah into a local registry, its version
//! deployed to the environments that run it (ECS on moto), a run killed between the steps
//! finished by the next without building or deploying twice, and a major release of one
//! package held for approval under its tag.

use crate::support::fleet::Fleet;
use crate::support::registry::Registry;
use crate::support::{self, clean_failure, stdout, Repo};

const ACTOR: &str = "carol@example.com";

/// api (one image, context `services/api`) and worker (one of `images`, with its own
/// context), released as api-v1.0.0 and worker-v1.0.0 and pushed to `origin`; the environment
/// production runs api and deploys on cut.
fn monorepo(registry: &Registry, origin: &Repo, extra: &str) -> Repo {
    let host = &registry.host;
    let repo = Repo::new();
    repo.write(
        "release.toml",
        &format!(
            r#"{extra}
[packages.api]
path = "services/api"
image = {{ repository = "{host}/acme/api", builder = "buildah", context = "services/api", dockerfile = "services/api/Dockerfile" }}

[packages.worker]
path = "services/worker"
images = [{{ name = "worker", repository = "{host}/acme/worker", context = "services/worker", builder = "buildah" }}]

[environments.production]
package = "api"
cluster = "prod"
services = ["api"]
container = "app"
timeout = "60s"
poll_interval = "1s"
"#
        ),
    );
    for (service, file) in [("api", "main.rs"), ("worker", "main.py")] {
        repo.write(
            &format!("services/{service}/Dockerfile"),
            &format!("FROM scratch\nCOPY {file} /{file}\n"),
        );
        repo.write(&format!("services/{service}/{file}"), service);
    }
    repo.first_release(&["api-v1.0.0", "worker-v1.0.0"]);
    repo.publish_to(origin);
    repo
}

fn release(
    repo: &Repo,
    fleet: &Fleet,
    args: &[&str],
    env: &[(&str, &str)],
) -> assert_cmd::assert::Assert {
    let mut cmd = repo.release_hermetic();
    cmd.envs(fleet.env())
        .envs(support::registry::buildah_env(repo.root()))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTOR", ACTOR)
        .envs(env.iter().copied())
        .args(args);
    cmd.assert()
}

fn record(repo: &Repo, key: &str) -> serde_json::Value {
    serde_json::from_str(&repo.read(&format!(".git/release-agent/images/{key}.json")))
        .unwrap_or_else(|e| panic!("the image record {key}: {e}"))
}

#[test]
fn cut_builds_every_released_packages_images_and_deploys_api_and_a_killed_run_is_finished_once() {
    let registry = Registry::start();
    let fleet = Fleet::start(0.4);
    let bootstrap = format!("{}/acme/api:bootstrap", registry.host);
    fleet.create_environment("prod", &["api"], &bootstrap);
    let origin = Repo::bare_remote();
    let repo = monorepo(&registry, &origin, "");
    repo.commit_file("services/api/main.rs", "api 2", "feat(api): more");
    repo.commit_file("services/worker/main.py", "worker 2", "fix(worker): less");

    // The dry run lists both images and the deploy, and changes nothing.
    let dry = stdout(
        &release(
            &repo,
            &fleet,
            &["cut", "--yes", "--no-github", "--dry-run"],
            &[],
        )
        .success(),
    );
    for step in [
        format!("image {}/acme/api:1.1.0 of api", registry.host),
        format!("image {}/acme/worker:1.0.1 of worker", registry.host),
        "deploy api 1.1.0 to production (unless it runs there)".to_string(),
    ] {
        assert!(dry.contains(&step), "{step} in\n{dry}");
    }
    assert!(registry.digest("acme/api", "1.1.0").is_none());
    let dry = stdout(
        &release(
            &repo,
            &fleet,
            &["cut", "--yes", "--no-github", "--dry-run", "--no-deploy"],
            &[],
        )
        .success(),
    );
    assert!(dry.contains("of worker (build and push"), "{dry}");
    assert!(!dry.contains("deploy api"), "--no-deploy:\n{dry}");

    // Killed once both images are pushed, before the deploy.
    let out = release(
        &repo,
        &fleet,
        &["cut", "--yes", "--no-github"],
        &[("RELEASE_AGENT_FAIL_AFTER", "image")],
    )
    .failure();
    assert_eq!(out.get_output().status.code(), Some(86));
    let api = registry
        .digest("acme/api", "1.1.0")
        .expect("api's image pushed");
    let worker = registry
        .digest("acme/worker", "1.0.1")
        .expect("worker's image pushed");
    assert_ne!(api, worker);
    let api_record = record(&repo, "api-v1.1.0");
    assert_eq!(api_record["digest"], api.as_str());
    assert_eq!(
        record(&repo, "worker-v1.0.1@worker")["digest"],
        worker.as_str()
    );
    // Tagged with the version and the release commit, as the root's image is.
    let short = repo.short("api-v1.1.0^{commit}");
    assert!(
        registry.tags("acme/api").contains(&format!("sha-{short}")),
        "{:?}",
        registry.tags("acme/api")
    );
    assert_eq!(fleet.image_of("prod", "api"), bootstrap, "not deployed yet");
    let uploads = registry.blob_uploads();

    // The next run builds nothing again and deploys api.
    let out = stdout(&release(&repo, &fleet, &["ci"], &[]).success());
    assert!(out.contains("[already done] image"), "{out}");
    assert!(!out.contains("[applied     ] image"), "{out}");
    assert!(
        out.contains("[applied     ] deploy 1.1.0 to production"),
        "{out}"
    );
    assert_eq!(registry.blob_uploads(), uploads, "nothing pushed again");
    let image = format!("{}/acme/api@{api}", registry.host);
    assert_eq!(fleet.image_of("prod", "api"), image);
    let deployed = fleet.task_definition_of("prod", "api");

    // And one more run finds everything done.
    let out = stdout(&release(&repo, &fleet, &["ci", "--json"], &[]).success());
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let states: Vec<(&str, &str)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert!(states.iter().all(|(_, s)| *s == "done"), "{states:?}");
    assert_eq!(report["deployed"][0], "api:production", "{report:#}");
    assert_eq!(fleet.task_definition_of("prod", "api"), deployed);

    // `release deploy` of the package finds the digest the cut recorded.
    let out = stdout(
        &release(
            &repo,
            &fleet,
            &["deploy", "api-v1.1.0", "--env", "production", "--json"],
            &[],
        )
        .success(),
    );
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["outcome"], "already_deployed", "{report:#}");
    assert_eq!(report["image"], image.as_str());
}

#[test]
fn a_failed_deploy_names_its_package_and_environment_and_the_others_still_deploy() {
    let registry = Registry::start();
    let fleet = Fleet::start(0.4);
    let bootstrap = format!("{}/acme/api:bootstrap", registry.host);
    fleet.create_environment("prod", &["api"], &bootstrap);
    // worker's environment runs on a cluster that does not exist: its deploy fails.
    let origin = Repo::bare_remote();
    let repo = monorepo(
        &registry,
        &origin,
        r#"[environments.jobs]
package = "worker"
cluster = "jobs"
services = ["worker"]
container = "worker"
timeout = "60s"
poll_interval = "1s"
"#,
    );
    repo.commit_file("services/api/main.rs", "api 2", "feat(api): more");
    repo.commit_file("services/worker/main.py", "worker 2", "fix(worker): less");
    let err = clean_failure(release(
        &repo,
        &fleet,
        &["cut", "--yes", "--no-github"],
        &[],
    ));
    assert!(
        err.contains("the release is published, but a deploy failed: worker 1.0.1 to jobs:"),
        "{err}"
    );
    assert!(err.contains("api 1.1.0 to production deployed"), "{err}");
    assert!(origin.rev("refs/tags/api-v1.1.0").is_some(), "published");
    assert!(origin.rev("refs/tags/worker-v1.0.1").is_some(), "published");
    let api = registry.digest("acme/api", "1.1.0").expect("api's image");
    assert_eq!(
        fleet.image_of("prod", "api"),
        format!("{}/acme/api@{api}", registry.host)
    );
}

#[test]
fn ci_holds_a_packages_major_release_under_its_tag_until_approved() {
    let registry = Registry::start();
    let fleet = Fleet::start(0.4);
    let origin = Repo::bare_remote();
    let repo = monorepo(
        &registry,
        &origin,
        "[bump]\nmajor_requires_approval = true\n",
    );
    repo.commit_file("services/api/main.rs", "api 2", "feat(api)!: drop v1");
    repo.commit_file("services/worker/main.py", "worker 2", "fix(worker): less");
    let remote = origin.refs();
    let head = repo.head();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let out = stdout(
        &release(
            &repo,
            &fleet,
            &["ci", "--no-github"],
            &[("GITHUB_OUTPUT", output.to_str().unwrap())],
        )
        .success(),
    );
    assert!(
        out.contains("major release api-v2.0.0 is held for approval"),
        "{out}"
    );
    assert!(
        out.contains("release approve api-v2.0.0 --release"),
        "{out}"
    );
    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(outputs.contains("outcome=pending_approval\n"), "{outputs}");
    assert!(outputs.contains("pending=api-v2.0.0\n"), "{outputs}");
    assert_eq!(origin.refs(), remote, "nothing pushed");
    assert_eq!(repo.head(), head, "no release commit");
    assert!(repo.exists(".git/release-agent/ledger/pending/api-v2.0.0.json"));

    // A bare version is no package's release; the tag is.
    let err = clean_failure(release(
        &repo,
        &fleet,
        &["approve", "2.0.0", "--release"],
        &[],
    ));
    assert!(err.contains("no package's tag"), "{err}");
    release(
        &repo,
        &fleet,
        &["approve", "api-v2.0.0", "--release"],
        &[("GITHUB_ACTOR", "bob")],
    )
    .success();
    let out = stdout(&release(&repo, &fleet, &["ci", "--no-github", "--no-deploy"], &[]).success());
    assert!(out.contains("released api-v2.0.0, worker-v1.0.1"), "{out}");
    assert!(origin.rev("refs/tags/api-v2.0.0").is_some());
}
