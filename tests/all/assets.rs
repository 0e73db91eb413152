//! `[github] assets`: files uploaded to the GitHub release with a `SHA256SUMS`, idempotent by
//! digest, resumable after a kill, and never a file from outside the repository.

use crate::support::github::{sha256, FakeGithub};
use crate::support::{clean_failure, code, stderr, stdout, Published};
use assert_cmd::assert::Assert;
use serde_json::Value;

const CONFIG: &str = "[github]\nassets = [\"dist/*.tar.gz\"]\n";

/// A published project with two built assets (untracked, as build output is).
fn project(config: &str) -> Published {
    let p = Published::new(Some(config));
    p.work.write("dist/app-linux.tar.gz", "linux binary");
    p.work.write("dist/app-macos.tar.gz", "macos binary");
    p.work.write("dist/notes.txt", "not an asset");
    p
}

fn cut(p: &Published, gh: &FakeGithub, env: &[(&str, &str)]) -> Assert {
    let mut cmd = p.work.release_hermetic();
    cmd.envs(gh.env())
        .envs(env.iter().copied())
        .args(["cut", "--yes"]);
    cmd.assert()
}

/// `release cut --yes --json`, which must succeed, parsed.
fn cut_json(p: &Published, gh: &FakeGithub) -> Value {
    let mut cmd = p.work.release_hermetic();
    cmd.envs(gh.env()).args(["cut", "--yes", "--json"]);
    serde_json::from_str(&stdout(&cmd.assert().success())).expect("cut --json prints JSON")
}

/// The report of the upload step.
fn upload_step(report: &Value) -> Value {
    report["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| {
            s["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with("upload ")
        })
        .cloned()
        .expect("an upload step")
}

fn names(gh: &FakeGithub) -> Vec<String> {
    gh.assets().into_iter().map(|(name, _, _)| name).collect()
}

/// The `SHA256SUMS` GitHub holds, which must describe the local files.
fn checksums_of(gh: &FakeGithub) -> String {
    let (_, _, content) = gh
        .assets()
        .into_iter()
        .find(|(name, _, _)| name == "SHA256SUMS")
        .expect("SHA256SUMS was uploaded");
    String::from_utf8(content).expect("SHA256SUMS is text")
}

#[tokio::test(flavor = "multi_thread")]
async fn cut_uploads_the_assets_and_their_checksums_once() {
    let p = project(CONFIG);
    let gh = FakeGithub::start().await;
    let out = cut(&p, &gh, &[]).success();
    assert!(
        stdout(&out).starts_with("released v1.1.0"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        names(&gh),
        ["app-linux.tar.gz", "app-macos.tar.gz", "SHA256SUMS"]
    );
    for (name, state, content) in gh.assets() {
        assert_eq!(state, "uploaded", "{name}");
        if name == "app-linux.tar.gz" {
            assert_eq!(content, b"linux binary");
        }
    }
    let linux = sha256(b"linux binary");
    let macos = sha256(b"macos binary");
    assert_eq!(
        checksums_of(&gh),
        format!(
            "{}  app-linux.tar.gz\n{}  app-macos.tar.gz\n",
            &linux["sha256:".len()..],
            &macos["sha256:".len()..]
        )
    );
    // `sha256sum --check` accepts it, as the action's installer relies on.
    std::fs::write(p.work.path().join("dist/SHA256SUMS"), checksums_of(&gh)).unwrap();
    let check = std::process::Command::new("sha256sum")
        .args(["--check", "SHA256SUMS"])
        .current_dir(p.work.path().join("dist"))
        .output()
        .expect("sha256sum runs");
    assert!(check.status.success(), "{check:?}");
    std::fs::remove_file(p.work.path().join("dist/SHA256SUMS")).unwrap();

    // A second run finds every asset in place and uploads nothing.
    let again = cut_json(&p, &gh);
    assert_eq!(again["outcome"], "already_released", "{again:#}");
    assert_eq!(upload_step(&again)["state"], "done");
    assert_eq!(gh.uploads().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_half_way_through_the_uploads_is_finished_by_the_next_run() {
    let p = project(CONFIG);
    let gh = FakeGithub::start().await;
    let out = cut(&p, &gh, &[("RELEASE_AGENT_FAIL_AFTER", "github-asset")]);
    assert_eq!(code(&out), 86, "{}", stderr(&out));
    assert_eq!(
        names(&gh),
        ["app-linux.tar.gz"],
        "killed after the first upload"
    );

    let report = cut_json(&p, &gh);
    assert_eq!(report["outcome"], "released", "{report:#}");
    assert_eq!(report["reason"], "completed the release of v1.1.0");
    let step = upload_step(&report);
    assert_eq!(step["state"], "applied", "{step:#}");
    assert_eq!(
        step["name"],
        "upload assets to the github release v1.1.0: 2 of 3 uploaded, 1 already there"
    );
    assert_eq!(
        gh.uploads().await,
        ["app-linux.tar.gz", "app-macos.tar.gz", "SHA256SUMS"],
        "every asset uploaded exactly once"
    );
    assert_eq!(gh.post_count().await, 1, "one GitHub release");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_cut_off_by_github_is_replaced() {
    let p = project(CONFIG);
    let gh = FakeGithub::start().await;
    gh.state().cut_off_upload = Some("app-macos.tar.gz".into());
    let out = cut(&p, &gh, &[]).success();
    assert!(
        stderr(&out).contains("an earlier upload was cut off"),
        "{}",
        stderr(&out)
    );
    let assets = gh.assets();
    assert_eq!(assets.len(), 3, "{assets:?}");
    let macos = assets.iter().find(|a| a.0 == "app-macos.tar.gz").unwrap();
    assert_eq!(
        (macos.1.as_str(), macos.2.as_slice()),
        ("uploaded", &b"macos binary"[..])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_asset_with_other_content_is_refused_naming_both_digests() {
    let p = project(CONFIG);
    let gh = FakeGithub::start().await;
    cut(&p, &gh, &[]).success();
    // Rebuilt differently after the release was published.
    p.work
        .write("dist/app-linux.tar.gz", "another linux binary");
    let err = clean_failure(cut(&p, &gh, &[]));
    assert!(err.contains(&sha256(b"linux binary")), "{err}");
    assert!(err.contains(&sha256(b"another linux binary")), "{err}");
    assert!(err.contains("dist/app-linux.tar.gz"), "{err}");
    assert_eq!(gh.uploads().await.len(), 3, "nothing replaced");
    let linux = gh
        .assets()
        .into_iter()
        .find(|a| a.0 == "app-linux.tar.gz")
        .unwrap();
    assert_eq!(linux.2, b"linux binary");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_asset_without_a_github_digest_is_compared_by_content() {
    let p = project(CONFIG);
    let gh = FakeGithub::start().await;
    cut(&p, &gh, &[]).success();
    // Assets uploaded before GitHub kept digests have none.
    for (_, asset) in gh.state().assets.iter_mut() {
        asset["digest"] = Value::Null;
    }
    cut(&p, &gh, &[]).success();
    assert_eq!(
        gh.uploads().await.len(),
        3,
        "same content: nothing uploaded"
    );
    let downloads = gh
        .request_lines()
        .await
        .into_iter()
        .filter(|l| l.starts_with("GET /download/"))
        .count();
    assert_eq!(downloads, 3, "each asset downloaded through the redirect");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_to_a_file_outside_stops_the_run_before_any_write() {
    let p = project(CONFIG);
    let gh = FakeGithub::start().await;
    let secret = tempfile::tempdir().unwrap();
    std::fs::write(secret.path().join("id_ed25519"), "PRIVATE KEY").unwrap();
    std::os::unix::fs::symlink(
        secret.path().join("id_ed25519"),
        p.work.path().join("dist/key.tar.gz"),
    )
    .unwrap();
    let head = p.work.head();
    let remote = p.remote_refs();
    let err = clean_failure(cut(&p, &gh, &[]));
    assert!(err.contains("dist/key.tar.gz"), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(p.work.head(), head);
    assert_eq!(p.remote_refs(), remote);
    assert!(gh.releases().is_empty());
    assert!(gh.uploads().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pattern_matching_nothing_stops_the_run_before_any_write() {
    let p = project("[github]\nassets = [\"dist/*.tar.gz\", \"dist/*.zip\"]\n");
    let gh = FakeGithub::start().await;
    let remote = p.remote_refs();
    let err = clean_failure(cut(&p, &gh, &[]));
    assert!(err.contains("`dist/*.zip` matches no file"), "{err}");
    assert_eq!(p.remote_refs(), remote);
    assert!(gh.releases().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pattern_leaving_the_repository_is_a_config_error_with_its_line() {
    let p = project("[github]\nrelease = true\nassets = [\"../../*\"]\n");
    let gh = FakeGithub::start().await;
    let err = clean_failure(cut(&p, &gh, &[]));
    assert!(err.contains("release.toml:3:"), "{err}");
    assert!(err.contains("assets"), "{err}");
    assert!(err.contains("`..` leads out of the repository"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dry_run_names_the_files() {
    let p = project(CONFIG);
    let gh = FakeGithub::start().await;
    let mut cmd = p.work.release_hermetic();
    cmd.envs(gh.env()).args(["cut", "--dry-run"]);
    let out = stdout(&cmd.assert().success());
    assert!(
        out.contains("upload dist/app-linux.tar.gz, dist/app-macos.tar.gz and SHA256SUMS to the github release v1.1.0"),
        "{out}"
    );
    assert!(gh.releases().is_empty());
}
