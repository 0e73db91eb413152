//! `[packages.NAME] assets`: each released package's files uploaded to ITS GitHub release with
//! its own `SHA256SUMS`, found and hashed before anything is written, only for the packages
//! released, resumable after a kill between two uploads.

use crate::support::github::{sha256, FakeGithub};
use crate::support::{clean_failure, code, stderr, stdout, step_names, Repo};
use serde_json::Value;

const CONFIG: &str = r#"[packages.api]
path = "services/api"
depends_on = ["core"]
assets = ["services/api/dist/*.tar.gz"]

[packages.worker]
path = "services/worker"
assets = ["services/worker/dist/*.zip"]

[packages.core]
path = "libs/core"
assets = ["libs/core/dist/*.tar.gz"]
"#;

/// api, worker and core released once (api-v1.0.0, worker-v1.0.0, core-v1.0.0) and pushed to
/// `origin`, then a change to api and one to worker; their assets built (untracked, as build
/// output is), core's not: core is not released.
fn monorepo(origin: &Repo) -> Repo {
    let repo = Repo::new();
    repo.write("release.toml", CONFIG);
    repo.write("services/api/main.rs", "fn main() {}\n");
    repo.write("services/worker/main.py", "print()\n");
    repo.write("libs/core/lib.rs", "pub fn f() {}\n");
    repo.first_release(&["api-v1.0.0", "worker-v1.0.0", "core-v1.0.0"]);
    repo.publish_to(origin);
    repo.commit_file(
        "services/api/main.rs",
        "fn main() { 1 }\n",
        "feat: api more",
    );
    repo.commit_file("services/worker/main.py", "print(1)\n", "fix: worker less");
    repo.write("services/api/dist/api-linux.tar.gz", "api linux");
    repo.write("services/api/dist/api-macos.tar.gz", "api macos");
    repo.write("services/api/dist/notes.txt", "not an asset");
    repo.write("services/worker/dist/worker.zip", "worker zip");
    // Matches no pattern of api's: it is worker's build output.
    repo.write("services/worker/dist/worker.tar.gz", "worker tarball");
    repo
}

/// The assets of the GitHub release of `tag`, as (name, content), in upload order.
fn assets_of(gh: &FakeGithub, tag: &str) -> Vec<(String, String)> {
    let Some(id) = gh
        .releases()
        .iter()
        .find(|r| r["tag_name"] == tag)
        .and_then(|r| r["id"].as_u64())
    else {
        return Vec::new();
    };
    let state = gh.state();
    state
        .assets
        .iter()
        .filter(|(release, _)| *release == id)
        .map(|(_, a)| {
            let content = a["id"]
                .as_u64()
                .and_then(|i| state.blobs.get(&i))
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            (a["name"].as_str().unwrap_or_default().to_string(), content)
        })
        .collect()
}

fn names(assets: &[(String, String)]) -> Vec<&str> {
    assets.iter().map(|(n, _)| n.as_str()).collect()
}

/// The line `sha256sum` writes for `content` under `name`.
fn sum_line(content: &str, name: &str) -> String {
    format!(
        "{}  {name}\n",
        &sha256(content.as_bytes())["sha256:".len()..]
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn each_released_package_gets_only_its_own_assets_and_checksums_on_its_own_release() {
    let gh = FakeGithub::start().await;
    let origin = Repo::bare_remote();
    let repo = monorepo(&origin);

    // The dry run lists one upload per released package, named by its tag; none for core.
    let dry = stdout(&gh.release(&repo, &["cut", "--yes", "--dry-run"]).success());
    for step in [
        "upload services/api/dist/api-linux.tar.gz, services/api/dist/api-macos.tar.gz and SHA256SUMS to the github release api-v1.1.0 (those not there yet)",
        "upload services/worker/dist/worker.zip and SHA256SUMS to the github release worker-v1.0.1 (those not there yet)",
    ] {
        assert!(dry.contains(step), "{step} in\n{dry}");
    }
    assert!(!dry.contains("core"), "core is not released:\n{dry}");
    assert!(gh.releases().is_empty());
    assert!(gh.uploads().await.is_empty());

    let out = stdout(&gh.release(&repo, &["cut", "--yes"]).success());
    assert!(out.contains("released api-v1.1.0, worker-v1.0.1"), "{out}");
    let api = assets_of(&gh, "api-v1.1.0");
    assert_eq!(
        names(&api),
        ["api-linux.tar.gz", "api-macos.tar.gz", "SHA256SUMS"]
    );
    assert_eq!(api[0].1, "api linux");
    assert_eq!(
        api[2].1,
        sum_line("api linux", "api-linux.tar.gz") + &sum_line("api macos", "api-macos.tar.gz")
    );
    let worker = assets_of(&gh, "worker-v1.0.1");
    assert_eq!(names(&worker), ["worker.zip", "SHA256SUMS"]);
    assert_eq!(worker[1].1, sum_line("worker zip", "worker.zip"));
    assert_eq!(gh.releases().len(), 2, "no release for core");
    assert_eq!(gh.uploads().await.len(), 5);

    // Once more (the release commit arriving in CI): every asset is there, nothing uploaded.
    let again = gh.release(&repo, &["ci", "--json"]).success();
    let report: Value = serde_json::from_str(&stdout(&again)).unwrap();
    let steps = step_names(&report);
    for step in [
        "upload assets to the github release api-v1.1.0: 0 of 3 uploaded, 3 already there",
        "upload assets to the github release worker-v1.0.1: 0 of 2 uploaded, 2 already there",
    ] {
        assert!(steps.iter().any(|s| s == step), "{step} in {steps:#?}");
    }
    assert_eq!(gh.uploads().await.len(), 5, "nothing uploaded twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_between_two_uploads_is_finished_without_uploading_anything_twice() {
    let gh = FakeGithub::start().await;
    let origin = Repo::bare_remote();
    let repo = monorepo(&origin);
    let out = repo
        .release_hermetic()
        .envs(gh.env())
        .env("RELEASE_AGENT_FAIL_AFTER", "github-asset")
        .args(["cut", "--yes"])
        .assert();
    assert_eq!(code(&out), 86, "{}", stderr(&out));
    assert_eq!(
        gh.uploads().await,
        ["api-linux.tar.gz"],
        "killed after the first upload"
    );
    assert_eq!(
        gh.releases().len(),
        2,
        "both GitHub releases were made first"
    );

    let out = gh.release(&repo, &["cut", "--yes", "--json"]).success();
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let steps = step_names(&report);
    for step in [
        "upload assets to the github release api-v1.1.0: 2 of 3 uploaded, 1 already there",
        "upload assets to the github release worker-v1.0.1: 2 of 2 uploaded, 0 already there",
    ] {
        assert!(steps.iter().any(|s| s == step), "{step} in {steps:#?}");
    }
    assert_eq!(
        gh.uploads().await,
        [
            "api-linux.tar.gz",
            "api-macos.tar.gz",
            "SHA256SUMS",
            "worker.zip",
            "SHA256SUMS"
        ],
        "every asset uploaded exactly once"
    );
    assert_eq!(
        names(&assets_of(&gh, "api-v1.1.0")),
        ["api-linux.tar.gz", "api-macos.tar.gz", "SHA256SUMS"]
    );
    assert_eq!(
        names(&assets_of(&gh, "worker-v1.0.1")),
        ["worker.zip", "SHA256SUMS"]
    );
    assert_eq!(gh.post_count().await, 2, "one GitHub release per package");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_released_package_whose_pattern_matches_nothing_stops_the_run_before_any_write() {
    let gh = FakeGithub::start().await;
    let origin = Repo::bare_remote();
    let repo = monorepo(&origin);
    std::fs::remove_file(repo.path().join("services/worker/dist/worker.zip")).unwrap();
    let head = repo.head();
    let local_tags = repo.tags();
    let remote = origin.refs();
    let err = clean_failure(gh.release(&repo, &["cut", "--yes"]));
    assert!(
        err.contains("[packages.worker] assets: `services/worker/dist/*.zip` matches no file"),
        "{err}"
    );
    assert_eq!(repo.head(), head, "no release commit");
    assert_eq!(repo.tags(), local_tags, "no tag");
    assert_eq!(origin.refs(), remote, "nothing pushed");
    assert!(gh.releases().is_empty());

    // Releasing api alone does not ask for worker's files.
    let out = stdout(
        &gh.release(&repo, &["cut", "--yes", "--package", "api"])
            .success(),
    );
    assert!(out.contains("released api-v1.1.0"), "{out}");
    assert_eq!(gh.releases().len(), 1, "{:#?}", gh.releases());
    assert_eq!(
        names(&assets_of(&gh, "api-v1.1.0")),
        ["api-linux.tar.gz", "api-macos.tar.gz", "SHA256SUMS"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_github_no_asset_is_looked_for() {
    let gh = FakeGithub::start().await;
    let origin = Repo::bare_remote();
    let repo = monorepo(&origin);
    std::fs::remove_file(repo.path().join("services/worker/dist/worker.zip")).unwrap();
    let out = stdout(
        &gh.release(&repo, &["cut", "--yes", "--no-github"])
            .success(),
    );
    assert!(out.contains("released api-v1.1.0, worker-v1.0.1"), "{out}");
    assert!(!out.contains("upload"), "{out}");
    assert!(gh.uploads().await.is_empty());
}

#[test]
fn root_assets_beside_packages_are_a_configuration_error_pointing_to_the_packages() {
    let origin = Repo::bare_remote();
    let repo = monorepo(&origin);
    repo.write(
        "release.toml",
        &format!("[github]\nassets = [\"dist/*.tar.gz\"]\n\n{CONFIG}"),
    );
    let err = clean_failure(repo.run(&["plan"]));
    assert!(err.contains("release.toml:2:"), "{err}");
    assert!(err.contains("key `github.assets`"), "{err}");
    assert!(err.contains("[packages.api] assets"), "{err}");

    repo.write(
        "release.toml",
        &CONFIG.replace(
            "assets = [\"services/worker/dist/*.zip\"]",
            "assets = \"services/worker/dist/*.zip\"",
        ),
    );
    let err = clean_failure(repo.run(&["plan"]));
    assert!(err.contains("release.toml:8:"), "{err}");
    assert!(err.contains("key `packages.worker.assets`"), "{err}");

    repo.write(
        "release.toml",
        &CONFIG.replace("libs/core/dist/*.tar.gz", "../core/*.tar.gz"),
    );
    let err = clean_failure(repo.run(&["plan"]));
    assert!(err.contains("release.toml:12:"), "{err}");
    assert!(err.contains("key `packages.core.assets`"), "{err}");
    assert!(err.contains("`..` leads out of the repository"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_package_asset_rebuilt_with_other_content_is_refused_naming_both_digests() {
    let gh = FakeGithub::start().await;
    let origin = Repo::bare_remote();
    let repo = monorepo(&origin);
    gh.release(&repo, &["cut", "--yes"]).success();
    repo.write("services/worker/dist/worker.zip", "another worker zip");
    let err = clean_failure(gh.release(&repo, &["ci"]));
    assert!(err.contains("assets of package worker"), "{err}");
    assert!(err.contains("worker-v1.0.1"), "{err}");
    assert!(err.contains(&sha256(b"worker zip")), "{err}");
    assert!(err.contains(&sha256(b"another worker zip")), "{err}");
    assert!(err.contains("services/worker/dist/worker.zip"), "{err}");
    assert_eq!(gh.uploads().await.len(), 5, "nothing replaced");
    assert_eq!(assets_of(&gh, "worker-v1.0.1")[0].1, "worker zip");
}
