//! `release image promote` and the ECR repository checks against a real moto server: promotion
//! is `BatchGetImage` then `PutImage` (no layer moves), the same digest twice is success, a
//! version tag at another digest is an error naming both, a missing repository is a clear error
//! unless `create_repository = true`.

use crate::support::moto::Moto;
use crate::support::{self, clean_failure, stdout, Repo};

const ACCOUNT: &str = "123456789012";
const MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

fn host() -> String {
    format!("{ACCOUNT}.dkr.ecr.eu-north-1.amazonaws.com")
}

async fn client(moto: &Moto) -> aws_sdk_ecr::Client {
    aws_sdk_ecr::Client::new(&moto.sdk_config().await)
}

/// A client, with the repository `app` created.
async fn client_with_app(moto: &Moto) -> aws_sdk_ecr::Client {
    let ecr = client(moto).await;
    ecr.create_repository()
        .repository_name("app")
        .send()
        .await
        .unwrap();
    ecr
}

/// A manifest that differs by `marker`.
fn manifest(marker: &str) -> String {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{}", support::registry::sha256_hex(marker.as_bytes())),
            "size": marker.len()
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": format!("sha256:{}", support::registry::sha256_hex(format!("layer {marker}").as_bytes())),
            "size": 10
        }]
    })
    .to_string()
}

async fn put(ecr: &aws_sdk_ecr::Client, repository: &str, tag: &str, manifest: &str) -> String {
    ecr.put_image()
        .repository_name(repository)
        .image_manifest(manifest)
        .image_manifest_media_type(MEDIA_TYPE)
        .image_tag(tag)
        .send()
        .await
        .expect("moto stores the image")
        .image()
        .and_then(|i| i.image_id())
        .and_then(|i| i.image_digest())
        .unwrap()
        .to_string()
}

async fn digest(ecr: &aws_sdk_ecr::Client, repository: &str, tag: &str) -> Option<String> {
    let out = ecr
        .batch_get_image()
        .repository_name(repository)
        .image_ids(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_tag(tag)
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.images()
        .first()
        .and_then(|i| i.image_id())
        .and_then(|i| i.image_digest())
        .map(str::to_string)
}

fn project(repository: &str, extra: &str) -> Repo {
    let repo = Repo::new();
    repo.write(
        "release.toml",
        &format!("[image]\nrepository = \"{}/{repository}\"\n{extra}", host()),
    );
    repo.git(&["add", "."]);
    repo.commit_staged("feat: image");
    repo.annotated_tag("v1.2.3");
    repo
}

fn release(repo: &Repo, moto: &Moto, args: &[&str]) -> assert_cmd::assert::Assert {
    let mut cmd = repo.release_hermetic();
    cmd.envs(moto.env()).args(args);
    cmd.assert()
}

#[tokio::test(flavor = "multi_thread")]
async fn promote_puts_the_same_manifest_under_the_new_tag() {
    let moto = Moto::start();
    let ecr = client_with_app(&moto).await;
    let d = put(&ecr, "app", "1.2.3", &manifest("one")).await;
    let repo = project("app", "");

    let out = release(
        &repo,
        &moto,
        &["image", "promote", "1.2.3", "--tag", "production", "--json"],
    )
    .success();
    let promoted: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(promoted["digest"], d.as_str());
    assert_eq!(promoted["changed"], true);
    assert_eq!(
        digest(&ecr, "app", "production").await.as_deref(),
        Some(d.as_str())
    );
    assert_eq!(
        digest(&ecr, "app", "1.2.3").await.as_deref(),
        Some(d.as_str())
    );

    // Twice: the tag is already on that digest, which is success.
    let out = release(
        &repo,
        &moto,
        &["image", "promote", "1.2.3", "--tag", "production"],
    )
    .success();
    assert!(stdout(&out).contains("already at"), "{}", stdout(&out));

    // A moving tag at another image is moved.
    put(&ecr, "app", "staging", &manifest("two")).await;
    release(
        &repo,
        &moto,
        &["image", "promote", "1.2.3", "--tag", "staging"],
    )
    .success();
    assert_eq!(
        digest(&ecr, "app", "staging").await.as_deref(),
        Some(d.as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_tag_at_another_digest_is_an_error_naming_both() {
    let moto = Moto::start();
    let ecr = client_with_app(&moto).await;
    let d = put(&ecr, "app", "1.2.3", &manifest("one")).await;
    let other = put(&ecr, "app", "2.0.0", &manifest("two")).await;
    let repo = project("app", "");

    let err = clean_failure(release(
        &repo,
        &moto,
        &["image", "promote", "1.2.3", "--tag", "2.0.0"],
    ));
    assert!(err.contains(&d) && err.contains(&other), "{err}");
    assert_eq!(
        digest(&ecr, "app", "2.0.0").await.as_deref(),
        Some(other.as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_repository_is_a_clear_error() {
    let moto = Moto::start();
    let repo = project("missing", "");
    let err = clean_failure(release(
        &repo,
        &moto,
        &["image", "promote", "1.2.3", "--tag", "production"],
    ));
    assert!(
        err.contains("missing") && err.contains("does not exist"),
        "{err}"
    );
    assert!(err.contains("create_repository"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn create_repository_creates_it() {
    let moto = Moto::start();
    let ecr = client(&moto).await;
    let repo = project("fresh", "create_repository = true\n");
    // The repository is created; the version has no image yet, which is the error.
    let err = clean_failure(release(
        &repo,
        &moto,
        &["image", "promote", "1.2.3", "--tag", "production"],
    ));
    assert!(
        err.contains("fresh:1.2.3") && err.contains("does not exist in ECR"),
        "{err}"
    );
    let repos = ecr.describe_repositories().send().await.unwrap();
    let names: Vec<&str> = repos
        .repositories()
        .iter()
        .filter_map(|r| r.repository_name())
        .collect();
    assert_eq!(names, ["fresh"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn push_logs_the_builder_in_without_a_password_on_the_command_line() {
    // No docker engine here: a fake `docker` records its arguments and stdin, and fails the
    // push; the login must have received the ECR password on stdin only.
    let moto = Moto::start();
    client_with_app(&moto).await;
    let repo = project("app", "builder = \"docker\"\n");
    let bin = repo.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = repo.root().join("docker.log");
    let script = format!(
        "#!/bin/sh\necho \"ARGS $*\" >> {log}\nif [ \"$1\" = login ]; then echo \"STDIN $(cat)\" >> {log}; exit 0; fi\nexit 3\n",
        log = log.display()
    );
    std::fs::write(bin.join("docker"), script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(bin.join("docker"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = repo.release_hermetic();
    cmd.envs(moto.env())
        .env("PATH", path)
        .args(["image", "push"]);
    let err = clean_failure(cmd.assert());
    assert!(err.contains("docker") && err.contains("push"), "{err}");
    let log = std::fs::read_to_string(log).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines[0],
        format!("ARGS login --username AWS --password-stdin {}", host())
    );
    let password = lines[1]
        .strip_prefix("STDIN ")
        .expect("the password on stdin");
    assert!(password.len() >= 4, "{log}");
    assert!(!lines[0].contains(password));
    assert_eq!(lines[2], format!("ARGS push {}/app:1.2.3", host()));
    assert!(!err.contains(password), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn retagging_the_same_digest_is_success_when_ecr_says_image_already_exists() {
    let moto = Moto::start();
    let ecr = client_with_app(&moto).await;
    let d = put(&ecr, "app", "1.2.3", &manifest("one")).await;
    // `staging` is already on the same image.
    assert_eq!(put(&ecr, "app", "staging", &manifest("one")).await, d);
    let repo = project("app", "");
    // Our own debug lines only: they say which answer ECR gave.
    let promote = |tag: &str| {
        let mut cmd = repo.release_hermetic();
        cmd.envs(moto.env())
            .env("RUST_LOG", "release_agent=debug")
            .args(["image", "promote", "1.2.3", "--tag", tag, "--json"]);
        let out = cmd.assert().success();
        let result: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        (result, support::stderr(&out))
    };

    let (first, log) = promote("production");
    assert_eq!(first["changed"], true, "{log}");
    assert!(!log.contains("ImageAlreadyExistsException"), "{log}");

    // The same digest to the same tag again: PutImage answers ImageAlreadyExistsException,
    // which is success with nothing changed.
    let (again, log) = promote("production");
    assert!(
        log.contains("answered ImageAlreadyExistsException"),
        "{log}"
    );
    assert_eq!(again["changed"], false, "{log}");
    assert_eq!(again["digest"], d.as_str());
    assert_eq!(again["tag"], "production");

    // A tag that is already at that digest.
    let (staging, log) = promote("staging");
    assert!(
        log.contains("answered ImageAlreadyExistsException"),
        "{log}"
    );
    assert_eq!(staging["changed"], false, "{log}");
    assert_eq!(staging["digest"], d.as_str());

    for tag in ["1.2.3", "production", "staging"] {
        assert_eq!(
            digest(&ecr, "app", tag).await.as_deref(),
            Some(d.as_str()),
            "{tag}"
        );
    }
}
