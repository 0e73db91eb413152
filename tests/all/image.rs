//! `release image build|push|promote` against real parts: buildah (daemonless, vfs storage,
//! chroot isolation) builds a small image `FROM scratch`, a real `docker-registry` on a
//! loopback port receives it, and everything is checked through the registry's HTTP API.

use crate::support::registry::Registry;
use crate::support::{self, clean_failure, stderr, stdout, Repo};
use base64::Engine as _;

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

/// A published project (see [`support::Published`]) with a Dockerfile, configured for
/// `registry`, its Dockerfile commit pushed.
fn published(registry: &Registry) -> support::Published {
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
    p
}

/// `release` with buildah's storage inside the test's sandbox.
fn release(repo: &Repo, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = repo.release_hermetic();
    // Registry credentials only from what the test sets (HOME is the sandbox's already).
    for var in CREDENTIAL_VARS {
        cmd.env_remove(var);
    }
    cmd.envs(support::registry::buildah_env(repo.root()))
        .args(args);
    cmd
}

/// Where registry credentials may come from on the machine running the tests.
const CREDENTIAL_VARS: &[&str] = &[
    "RELEASE_REGISTRY_USERNAME",
    "RELEASE_REGISTRY_PASSWORD",
    "GITHUB_ACTOR",
    "DOCKER_CONFIG",
    "REGISTRY_AUTH_FILE",
    "XDG_RUNTIME_DIR",
];

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
    let p = published(&registry);

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
    let ssm_config = moto.sdk_config().await;
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
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("--build-arg NPM_TOKEN"), "{text}");
    let mut cmd = release(&repo, &["image", "push"]);
    cmd.envs(moto.env());
    cmd.assert().success();
    let config = registry.image_config(NAME, "2.0.0");
    assert_eq!(config["config"]["Labels"]["token"], SECRET);
}

const USER: &str = "releaser";
const PASSWORD: &str = "pw-Sup3r-s3cret-9f2c";

/// stdout and stderr of a run, which must not show the password in any form.
fn assert_no_secret(out: &assert_cmd::assert::Assert) -> String {
    let text = format!("{}{}", stdout(out), stderr(out));
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    assert!(!text.contains(PASSWORD), "the password leaked:\n{text}");
    assert!(
        !text.contains(&auth),
        "the base64 credentials leaked:\n{text}"
    );
    text
}

#[test]
fn an_authenticated_registry_with_credentials_from_a_docker_config() {
    let registry = Registry::start_authenticated(USER, PASSWORD);
    assert_eq!(registry.anonymous_status(), 401, "{}", registry.log());
    let repo = project(&registry);
    release(&repo, &["image", "build"]).assert().success();

    // Anonymous: a clear error that names the registry and says how to log in.
    let err = clean_failure(release(&repo, &["image", "push"]).assert());
    assert!(err.contains(&registry.host), "{err}");
    assert!(
        err.contains("RELEASE_REGISTRY_USERNAME")
            && err.contains(&format!("docker login {}", registry.host)),
        "{err}"
    );
    assert_eq!(registry.blob_uploads(), 0);

    // A wrong password: rejected, and the wrong password is not shown either.
    let mut cmd = release(&repo, &["-vv", "image", "push"]);
    cmd.env("RELEASE_REGISTRY_USERNAME", USER)
        .env("RELEASE_REGISTRY_PASSWORD", "wrong-Passw0rd-77");
    let err = clean_failure(cmd.assert());
    assert!(
        err.contains("rejected the credentials from RELEASE_REGISTRY_USERNAME"),
        "{err}"
    );
    assert!(!err.contains("wrong-Passw0rd-77"), "{err}");

    // `docker login` wrote them to $DOCKER_CONFIG/config.json (in the `https://host` form).
    let docker = repo.root().join("docker-config");
    std::fs::create_dir_all(&docker).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    std::fs::write(
        docker.join("config.json"),
        serde_json::json!({ "auths": { format!("https://{}", registry.host): { "auth": auth } } })
            .to_string(),
    )
    .unwrap();
    let mut cmd = release(&repo, &["-vv", "image", "push", "--json"]);
    cmd.env("DOCKER_CONFIG", &docker);
    let out = cmd.assert().success();
    let text = assert_no_secret(&out);
    let pushed = json(&stdout(&out));
    let digest = registry.digest(NAME, "1.2.3").expect("1.2.3 pushed");
    assert_eq!(pushed["digest"], digest.as_str(), "{text}");
    assert_eq!(pushed["pushed"], true);
    assert!(registry.blob_uploads() > 0);
    assert_eq!(
        registry.digest(NAME, "latest").as_deref(),
        Some(digest.as_str())
    );
    // The builder's temporary auth file is gone.
    let leftovers: Vec<_> = std::fs::read_dir(repo.path().join(".git/release-agent"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("auth-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Promote with the same credentials: a new tag on the same digest.
    let mut cmd = release(
        &repo,
        &[
            "-vv",
            "image",
            "promote",
            "1.2.3",
            "--tag",
            "production",
            "--json",
        ],
    );
    cmd.env("DOCKER_CONFIG", &docker);
    let out = cmd.assert().success();
    assert_no_secret(&out);
    let promoted = json(&stdout(&out));
    assert_eq!(promoted["digest"], digest.as_str());
    assert_eq!(promoted["changed"], true);
    assert_eq!(
        registry.digest(NAME, "production").as_deref(),
        Some(digest.as_str())
    );
}

#[test]
fn an_authenticated_registry_with_credentials_from_the_environment() {
    let registry = Registry::start_authenticated(USER, PASSWORD);
    let repo = project(&registry);
    let with_env = |args: &[&str]| {
        let mut cmd = release(&repo, args);
        cmd.env("RELEASE_REGISTRY_USERNAME", USER)
            .env("RELEASE_REGISTRY_PASSWORD", PASSWORD);
        cmd
    };
    with_env(&["image", "build"]).assert().success();
    let out = with_env(&["-vv", "image", "push", "--json"])
        .assert()
        .success();
    let text = assert_no_secret(&out);
    assert!(
        text.contains("credentials of releaser from RELEASE_REGISTRY_USERNAME"),
        "{text}"
    );
    let digest = registry.digest(NAME, "1.2.3").expect("1.2.3 pushed");
    assert_eq!(json(&stdout(&out))["digest"], digest.as_str());

    // A re-run reads the digest back with the credentials and moves nothing.
    let out = with_env(&["image", "push"]).assert().success();
    assert!(
        stdout(&out).starts_with("already pushed "),
        "{}",
        stdout(&out)
    );

    let out = with_env(&["-vv", "image", "promote", "1.2.3", "--tag", "stable"])
        .assert()
        .success();
    assert_no_secret(&out);
    assert_eq!(
        registry.digest(NAME, "stable").as_deref(),
        Some(digest.as_str())
    );
}

#[test]
fn cut_stops_at_a_registry_that_wants_credentials_and_finishes_with_them() {
    let registry = Registry::start_authenticated(USER, PASSWORD);
    let p = published(&registry);

    // The image step's typed error keeps its message, once.
    let err = clean_failure(release(&p.work, &["cut", "--yes"]).assert());
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    let expected = format!(
        "error: image: registry {} requires authentication",
        registry.host
    );
    assert!(line.starts_with(&expected), "{err}");
    assert_eq!(line.matches("requires authentication").count(), 1, "{err}");
    assert!(line.contains("RELEASE_REGISTRY_PASSWORD"), "{err}");

    // Running it again with credentials completes the release with the image.
    let mut cmd = release(&p.work, &["-vv", "cut", "--yes", "--json"]);
    cmd.env("RELEASE_REGISTRY_USERNAME", USER)
        .env("RELEASE_REGISTRY_PASSWORD", PASSWORD);
    let out = cmd.assert().success();
    assert_no_secret(&out);
    let report = json(&stdout(&out));
    let digest = registry.digest(NAME, "1.1.0").expect("1.1.0 pushed by cut");
    let image_step = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str().unwrap_or_default().starts_with("image "))
        .unwrap_or_else(|| panic!("no image step: {report}"))
        .clone();
    assert!(
        image_step["name"].as_str().unwrap().ends_with(&digest),
        "{image_step}"
    );
    assert_eq!(image_step["state"], "applied", "{image_step}");
}

mod bearer {
    //! The token flow of the distribution spec, against a wiremock token server and registry
    //! answers shaped like the spec's (`401` with `WWW-Authenticate: Bearer realm=...`).

    use release_agent::adapters::registry::auth::Credentials;
    use release_agent::adapters::registry::{Registry, RegistryError};
    use release_agent::core::image::Repository;
    use wiremock::matchers::{header, method, path, path_regex, query_param};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    const TOKEN: &str = "tok-Bearer-0123456789abcdef";
    const DIGEST: &str = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";
    const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

    /// Requests without an `Authorization` header.
    struct Anonymous;

    impl wiremock::Match for Anonymous {
        fn matches(&self, request: &Request) -> bool {
            !request.headers.contains_key("authorization")
        }
    }

    fn challenge(server: &MockServer) -> String {
        format!(
            r#"Bearer realm="{}/token",service="registry.test",scope="repository:app:pull""#,
            server.uri()
        )
    }

    fn basic(user: &str, password: &str) -> String {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    /// A registry whose `app` has `1.0.0` (and its manifest by digest) for `Bearer <token>`,
    /// no `production` yet, accepts a manifest PUT, and challenges everything else.
    async fn registry(server: &MockServer, token: &str) {
        let bearer = format!("Bearer {token}");
        Mock::given(method("HEAD"))
            .and(path("/v2/app/manifests/1.0.0"))
            .and(header("authorization", bearer.as_str()))
            .respond_with(ResponseTemplate::new(200).insert_header("Docker-Content-Digest", DIGEST))
            .with_priority(1)
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/v2/app/manifests/{DIGEST}")))
            .and(header("authorization", bearer.as_str()))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Docker-Content-Digest", DIGEST)
                    .set_body_raw(r#"{"schemaVersion":2}"#, MANIFEST_TYPE),
            )
            .with_priority(1)
            .mount(server)
            .await;
        Mock::given(method("HEAD"))
            .and(path("/v2/app/manifests/production"))
            .and(header("authorization", bearer.as_str()))
            .respond_with(ResponseTemplate::new(404))
            .with_priority(1)
            .mount(server)
            .await;
        Mock::given(method("PUT"))
            .and(path("/v2/app/manifests/production"))
            .and(header("authorization", bearer.as_str()))
            .and(header("content-type", MANIFEST_TYPE))
            .respond_with(ResponseTemplate::new(201).insert_header("Docker-Content-Digest", DIGEST))
            .with_priority(1)
            .mount(server)
            .await;
        Mock::given(path_regex("^/v2/"))
            .respond_with(
                ResponseTemplate::new(401)
                    .insert_header("WWW-Authenticate", challenge(server).as_str())
                    .set_body_string(r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#),
            )
            .with_priority(10)
            .mount(server)
            .await;
    }

    fn client(server: &MockServer, credentials: Option<Credentials>) -> Registry {
        let host = server.address().to_string();
        Registry::new(
            &Repository::parse(&format!("{host}/app")).unwrap(),
            credentials,
        )
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_token_from_the_realm_with_basic_credentials_is_fetched_once() {
        let server = MockServer::start().await;
        registry(&server, TOKEN).await;
        // The token server wants the credentials and is asked for push too.
        Mock::given(method("GET"))
            .and(path("/token"))
            .and(query_param("service", "registry.test"))
            .and(query_param("scope", "repository:app:pull,push"))
            .and(header(
                "authorization",
                basic("robot", "r0bot-Pass").as_str(),
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({ "token": TOKEN, "expires_in": 300 })),
            )
            .expect(1)
            .mount(&server)
            .await;
        let registry = client(
            &server,
            Some(Credentials::new("robot", "r0bot-Pass", "the test")),
        );
        // The blocking client runs off the runtime's threads, which serve the mocks.
        let promotion =
            tokio::task::spawn_blocking(move || registry.promote("1.0.0", "production"))
                .await
                .unwrap()
                .unwrap();
        assert_eq!(promotion.digest, DIGEST);
        assert!(promotion.changed);
        let requests = server.received_requests().await.unwrap();
        let puts = requests
            .iter()
            .filter(|r| r.method.as_str() == "PUT")
            .count();
        assert_eq!(puts, 1, "{requests:?}");
        // `expect(1)`: one token for all four registry requests.
        server.verify().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn anonymous_pull_gets_an_access_token_without_credentials() {
        let server = MockServer::start().await;
        registry(&server, "anon-access-token-42").await;
        Mock::given(method("GET"))
            .and(path("/token"))
            .and(query_param("service", "registry.test"))
            .and(query_param("scope", "repository:app:pull"))
            .and(Anonymous)
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({ "access_token": "anon-access-token-42" })),
            )
            .expect(1)
            .mount(&server)
            .await;
        let registry = client(&server, None);
        let digest = tokio::task::spawn_blocking(move || registry.digest("1.0.0"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(digest.as_deref(), Some(DIGEST));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_token_server_that_refuses_the_credentials_is_a_clear_error() {
        let server = MockServer::start().await;
        registry(&server, TOKEN).await;
        Mock::given(method("GET"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(401).set_body_string("bad credentials"))
            .mount(&server)
            .await;
        let registry = client(
            &server,
            Some(Credentials::new("robot", "Wr0ng-pass-123", "the test")),
        );
        let err = tokio::task::spawn_blocking(move || registry.digest("1.0.0"))
            .await
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, RegistryError::Rejected { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(&server.address().to_string()) && text.contains("the test"),
            "{text}"
        );
        assert!(!text.contains("Wr0ng-pass-123"), "{text}");

        // Without credentials the same registry says how to provide them.
        let anonymous = client(&server, None);
        let err = tokio::task::spawn_blocking(move || anonymous.digest("1.0.0"))
            .await
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(err.contains("RELEASE_REGISTRY_USERNAME"), "{err}");
    }
}

#[test]
fn a_push_fixes_the_versions_digest_in_the_rollout_ledger() {
    let registry = Registry::start();
    let repo = project(&registry);
    let mut config = repo.read("release.toml");
    config.push_str(
        "\n[environments.staging]\ncluster = \"staging\"\nservices = [\"web\"]\ncontainer = \"app\"\n",
    );
    repo.write("release.toml", &config);
    release(&repo, &["image", "build"]).assert().success();
    release(&repo, &["image", "push"]).assert().success();
    let digest = registry.digest(NAME, "1.2.3").expect("1.2.3 pushed");
    let fixed = std::fs::read_to_string(
        repo.path()
            .join(".git/release-agent/ledger/digests/1.2.3.json"),
    )
    .expect("the digest is in the ledger");
    assert_eq!(json(&fixed)["digest"], digest.as_str(), "{fixed}");
}

// ---------------------------------------------------------------------------------------------
// release image prune

/// Store an image made of `content` under `tags` in the registry; its digest.
fn store(registry: &Registry, content: &str, tags: &[&str]) -> String {
    let config = format!("{{\"created\":\"2020-01-01T00:00:00Z\",\"content\":\"{content}\"}}");
    let config_digest = registry.put_blob(NAME, config.as_bytes());
    let layer_digest = registry.put_blob(NAME, content.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": content.len()}]
    });
    let body = serde_json::to_vec(&manifest).unwrap();
    let mut digest = String::new();
    for tag in tags {
        digest = registry.put_manifest(
            NAME,
            tag,
            "application/vnd.oci.image.manifest.v1+json",
            &body,
        );
    }
    digest
}

#[test]
fn prune_deletes_old_versions_and_sha_images_but_never_a_moving_tag() {
    let registry = Registry::start();
    let old = store(&registry, "one", &["1.0.0", "sha-aaaaaaa"]);
    let staged = store(&registry, "two", &["1.1.0", "staging"]);
    let newer = store(&registry, "three", &["1.2.0"]);
    let newest = store(&registry, "four", &["1.3.0", "sha-ddddddd"]);
    let loose = store(&registry, "five", &["sha-eeeeeee"]);
    let repo = Repo::new();
    repo.write(
        "release.toml",
        &format!("[image]\nrepository = \"{}/{NAME}\"\n", registry.host),
    );

    // A dry run says what would go and deletes nothing.
    let dry = stdout(
        &release(&repo, &["image", "prune", "--keep", "2", "--dry-run"])
            .assert()
            .success(),
    );
    assert!(
        dry.contains(&format!("would delete {old} (1.0.0, sha-aaaaaaa)")),
        "{dry}"
    );
    assert!(
        dry.contains(&format!("would delete {loose} (sha-eeeeeee)")),
        "{dry}"
    );
    assert!(
        dry.contains(&format!(
            "keep   {staged} (1.1.0, staging): the moving tag `staging` points at it"
        )),
        "{dry}"
    );
    assert!(
        dry.contains(&format!(
            "keep   {newest} (1.3.0, sha-ddddddd): one of the 2 newest versions (#1)"
        )),
        "{dry}"
    );
    assert!(
        dry.contains(&format!(
            "keep   {newer} (1.2.0): one of the 2 newest versions (#2)"
        )),
        "{dry}"
    );
    assert!(
        dry.ends_with(&format!(
            "would delete 2 of 5 image(s) in {}/{NAME}\n",
            registry.host
        )),
        "{dry}"
    );
    assert_eq!(registry.tags(NAME).len(), 8, "nothing deleted");

    let out: serde_json::Value = serde_json::from_str(&stdout(
        &release(&repo, &["image", "prune", "--keep", "2", "--json"])
            .assert()
            .success(),
    ))
    .unwrap();
    assert_eq!(out["deleted"], 2, "{out:#}");
    let mut tags = registry.tags(NAME);
    tags.sort();
    assert_eq!(tags, ["1.1.0", "1.2.0", "1.3.0", "sha-ddddddd", "staging"]);

    // With an age limit, images of unknown age (a registry says none) stay.
    let out = stdout(
        &release(
            &repo,
            &[
                "image",
                "prune",
                "--keep",
                "0",
                "--older-than",
                "90d",
                "--dry-run",
            ],
        )
        .assert()
        .success(),
    );
    assert!(out.contains("would delete 0 of 3"), "{out}");
    assert!(out.contains("its age is unknown"), "{out}");
    let err = clean_failure(release(&repo, &["image", "prune", "--older-than", "9y"]).assert());
    assert!(err.contains("the unit is one of s, m, h, d, w"), "{err}");
}
