//! `release image build|push|promote` against real parts: buildah (daemonless, vfs storage,
//! chroot isolation) builds a small image `FROM scratch`, a real `docker-registry` on a
//! loopback port receives it, and everything is checked through the registry's HTTP API.

mod support;

use support::registry::Registry;
use support::{clean_failure, stdout, Repo};

const NAME: &str = "acme/app";

/// A released repository (tag v1.2.3) with a Dockerfile, configured for `registry`.
fn project(registry: &Registry) -> Repo {
    let repo = Repo::new();
    repo.remote("https://github.com/acme/app.git");
    repo.write(
        "release.toml",
        &format!(
            "[image]\nrepository = \"{}/{NAME}\"\nbuilder = \"buildah\"\ncontext = \"image\"\ndockerfile = \"image/Dockerfile\"\nextra_tags = [\"{{major}}.{{minor}}\", \"latest\"]\nbuild_args = {{ GREETING = \"hello\" }}\n",
            registry.host
        ),
    );
    repo.write(
        "image/Dockerfile",
        "FROM scratch\nARG GREETING\nLABEL greeting=$GREETING\nCOPY hello.txt /hello.txt\n",
    );
    repo.write("image/hello.txt", "hello from release-agent\n");
    repo.git(&["add", "."]);
    repo.commit_staged("feat: ship an image");
    repo.annotated_tag("v1.2.3");
    repo
}

/// `release` with buildah's storage inside the test's sandbox.
fn release(repo: &Repo, args: &[&str]) -> assert_cmd::Command {
    let storage = repo.root().join("containers");
    let conf = repo.root().join("storage.conf");
    if !conf.exists() {
        std::fs::write(
            &conf,
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                storage.join("root").display(),
                storage.join("run").display()
            ),
        )
        .unwrap();
    }
    let mut cmd = repo.release_hermetic();
    cmd.env("CONTAINERS_STORAGE_CONF", &conf)
        .env("BUILDAH_ISOLATION", "chroot")
        .args(args);
    cmd
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn build_push_and_promote_by_digest() {
    let registry = Registry::start();
    let repo = project(&registry);
    let commit = repo.head();
    let short = repo.short("HEAD");

    // Build: every tag, nothing on stdout but the result.
    let out = release(&repo, &["image", "build", "--json"])
        .assert()
        .success();
    let built = json(&stdout(&out));
    let reference = |tag: &str| format!("{}/{NAME}:{tag}", registry.host);
    assert_eq!(
        built["tags"],
        serde_json::json!([
            reference("1.2.3"),
            reference(&format!("sha-{short}")),
            reference("1.2"),
            reference("latest")
        ])
    );

    // Push: the digest is the registry's, and it is recorded.
    let out = release(&repo, &["image", "push", "--json"])
        .assert()
        .success();
    let pushed = json(&stdout(&out));
    let digest = registry.digest(NAME, "1.2.3").expect("1.2.3 pushed");
    assert_eq!(pushed["digest"], digest.as_str());
    assert_eq!(pushed["pushed"], true);
    assert_eq!(
        pushed["reference"],
        format!("{}/{NAME}@{digest}", registry.host).as_str()
    );
    let record = repo.path().join(".git/release-agent/images/1.2.3.json");
    let recorded = json(&std::fs::read_to_string(record).unwrap());
    assert_eq!(recorded["digest"], digest.as_str());

    let mut expected = vec![
        "1.2".to_string(),
        "1.2.3".into(),
        "latest".into(),
        format!("sha-{short}"),
    ];
    expected.sort();
    assert_eq!(registry.tags(NAME), expected);
    for tag in &expected {
        assert_eq!(
            registry.digest(NAME, tag).as_deref(),
            Some(digest.as_str()),
            "{tag}"
        );
    }

    // Labels, read from the image config blob.
    let config = registry.image_config(NAME, "1.2.3");
    let labels = &config["config"]["Labels"];
    assert_eq!(labels["org.opencontainers.image.version"], "1.2.3");
    assert_eq!(labels["org.opencontainers.image.revision"], commit.as_str());
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://github.com/acme/app.git"
    );
    assert_eq!(
        labels["org.opencontainers.image.created"],
        "2025-06-15T15:06:40Z"
    );
    assert_eq!(labels["greeting"], "hello");

    // A second push finds the version at the recorded digest and moves nothing.
    let uploads = registry.blob_uploads();
    assert!(uploads > 0, "the push uploaded blobs:\n{}", registry.log());
    let out = release(&repo, &["image", "push"]).assert().success();
    assert!(
        stdout(&out).starts_with("already pushed "),
        "{}",
        stdout(&out)
    );
    assert_eq!(registry.blob_uploads(), uploads);

    // Promote: same digest under the new tag, no blob uploaded.
    let blobs = registry.blobs();
    let out = release(
        &repo,
        &["image", "promote", "1.2.3", "--tag", "production", "--json"],
    )
    .assert()
    .success();
    let promoted = json(&stdout(&out));
    assert_eq!(promoted["digest"], digest.as_str());
    assert_eq!(promoted["changed"], true);
    assert_eq!(
        registry.digest(NAME, "production").as_deref(),
        Some(digest.as_str())
    );
    assert_eq!(registry.blob_uploads(), uploads);
    assert_eq!(registry.blobs(), blobs);

    // Again: already there, success.
    let out = release(&repo, &["image", "promote", "1.2.3", "--tag", "production"])
        .assert()
        .success();
    assert!(stdout(&out).contains("already at"), "{}", stdout(&out));
}

#[test]
fn a_version_tag_at_another_digest_is_never_overwritten() {
    let registry = Registry::start();
    let repo = project(&registry);
    release(&repo, &["image", "build"]).assert().success();
    release(&repo, &["image", "push"]).assert().success();
    let digest = registry.digest(NAME, "1.2.3").unwrap();

    // Another manifest (same blobs, one annotation more) under 9.9.9.
    let (media_type, mut manifest) = registry.manifest(NAME, "1.2.3");
    manifest["annotations"] = serde_json::json!({ "other": "image" });
    let body = serde_json::to_vec(&manifest).unwrap();
    let media_type = media_type.split(';').next().unwrap().to_string();
    let other = registry.put_manifest(NAME, "9.9.9", &media_type, &body);
    assert_ne!(other, digest);

    let err =
        clean_failure(release(&repo, &["image", "promote", "1.2.3", "--tag", "9.9.9"]).assert());
    assert!(err.contains(&digest) && err.contains(&other), "{err}");
    assert_eq!(
        registry.digest(NAME, "9.9.9").as_deref(),
        Some(other.as_str())
    );

    // A moving tag is moved.
    registry.put_manifest(NAME, "staging", &media_type, &body);
    release(&repo, &["image", "promote", "1.2.3", "--tag", "staging"])
        .assert()
        .success();
    assert_eq!(
        registry.digest(NAME, "staging").as_deref(),
        Some(digest.as_str())
    );

    // Pushing a version whose tag the registry has at an unrecorded digest is refused.
    std::fs::remove_file(repo.path().join(".git/release-agent/images/1.2.3.json")).unwrap();
    let err = clean_failure(release(&repo, &["image", "push"]).assert());
    assert!(err.contains(&digest) && err.contains("immutable"), "{err}");
}

#[test]
fn promote_without_a_pushed_version_is_a_clear_error() {
    let registry = Registry::start();
    let repo = project(&registry);
    let err = clean_failure(
        release(&repo, &["image", "promote", "1.2.3", "--tag", "production"]).assert(),
    );
    assert!(
        err.contains("1.2.3") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn no_image_section_is_a_clear_error() {
    let repo = Repo::new();
    repo.commit("feat: x");
    repo.tag("v1.0.0");
    let err = clean_failure(repo.release_hermetic().args(["image", "build"]).assert());
    assert!(err.contains("[image]"), "{err}");
}

#[test]
fn cut_builds_and_pushes_the_image_once() {
    let registry = Registry::start();
    let config = format!(
        "[image]\nrepository = \"{}/{NAME}\"\nbuilder = \"buildah\"\n",
        registry.host
    );
    let p = support::Published::new(Some(&config));
    p.work
        .write("Dockerfile", "FROM scratch\nCOPY src.txt /src.txt\n");
    p.work.git(&["add", "Dockerfile"]);
    p.work.commit_staged("build: add a Dockerfile");
    p.work.git(&["push", "-q", "origin", "main"]);

    // A dry run lists the image step and pushes nothing.
    let out = release(&p.work, &["cut", "--yes", "--dry-run", "--json"])
        .assert()
        .success();
    let report = json(&stdout(&out));
    let planned = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str().unwrap().starts_with("image "))
        .unwrap_or_else(|| panic!("no image step in the dry run: {report}"))
        .clone();
    assert_eq!(planned["state"], "todo", "{planned}");
    assert_eq!(registry.digest(NAME, "1.1.0"), None);

    let out = release(&p.work, &["cut", "--yes", "--json"])
        .assert()
        .success();
    let report = json(&stdout(&out));
    let digest = registry.digest(NAME, "1.1.0").expect("1.1.0 pushed by cut");
    let step = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str().unwrap().starts_with("image "))
        .unwrap_or_else(|| panic!("no image step: {report}"))
        .clone();
    assert!(step["name"].as_str().unwrap().ends_with(&digest), "{step}");
    let recorded = json(
        &std::fs::read_to_string(p.work.path().join(".git/release-agent/images/1.1.0.json"))
            .unwrap(),
    );
    assert_eq!(recorded["digest"], digest.as_str());

    // A re-run finds everything done, the image included, and uploads nothing.
    let uploads = registry.blob_uploads();
    let out = release(&p.work, &["cut", "--yes", "--json"])
        .assert()
        .success();
    let report = json(&stdout(&out));
    assert_eq!(report["outcome"], "already_released", "{report}");
    assert_eq!(registry.blob_uploads(), uploads);
}

#[tokio::test(flavor = "multi_thread")]
async fn build_args_from_ssm_reach_the_build_but_no_output() {
    const SECRET: &str = "npm_secretFromSsm0123456789";
    let moto = support::moto::Moto::start();
    let ssm_config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(aws_config::Region::new("eu-north-1"))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    aws_sdk_ssm::Client::new(&ssm_config)
        .put_parameter()
        .name("/app/npm-token")
        .value(SECRET)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let registry = Registry::start();
    let repo = Repo::new();
    repo.write(
        "release.toml",
        &format!(
            "[image]\nrepository = \"{}/{NAME}\"\nbuilder = \"buildah\"\nbuild_args_from_ssm = {{ NPM_TOKEN = \"/app/npm-token\" }}\n",
            registry.host
        ),
    );
    // The label proves the value reached the build (a real Dockerfile would use it in a RUN).
    repo.write(
        "Dockerfile",
        "FROM scratch\nARG NPM_TOKEN\nLABEL token=$NPM_TOKEN\nCOPY release.toml /x\n",
    );
    repo.git(&["add", "."]);
    repo.commit_staged("feat: x");
    repo.tag("v2.0.0");
    let mut cmd = release(&repo, &["-vv", "image", "build"]);
    cmd.envs(moto.env());
    let out = cmd.assert().success();
    let text = format!("{}{}", stdout(&out), support::stderr(&out));
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("--build-arg NPM_TOKEN"), "{text}");
    let mut cmd = release(&repo, &["image", "push"]);
    cmd.envs(moto.env());
    cmd.assert().success();
    let config = registry.image_config(NAME, "2.0.0");
    assert_eq!(config["config"]["Labels"]["token"], SECRET);
}
