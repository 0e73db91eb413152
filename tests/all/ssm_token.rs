//! The GitHub token read from an SSM SecureString parameter, served by a real moto server.

use crate::support::github::FakeGithub;
use crate::support::moto::Moto;
use crate::support::{clean_failure, stdout, Published};

const PARAMETER: &str = "/release-agent/github-token";
const SSM_TOKEN: &str = "ghs_fromSsmParameterStore0123456789";

/// Put `value` into moto as a SecureString, through the real SDK.
async fn put_secret(moto: &Moto, name: &str, value: &str) {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(aws_config::Region::new("eu-north-1"));
    loader = loader.credentials_provider(aws_sdk_ssm::config::Credentials::new(
        "testing", "testing", None, None, "test",
    ));
    let config = loader.load().await;
    aws_sdk_ssm::Client::new(&config)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("moto accepts the parameter");
}

fn config() -> String {
    format!("[github]\ntoken_ssm_parameter = \"{PARAMETER}\"\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn token_comes_from_ssm_when_github_token_is_unset() {
    let moto = Moto::start();
    put_secret(&moto, PARAMETER, SSM_TOKEN).await;
    let gh = FakeGithub::start().await;
    let p = Published::new(Some(&config()));

    let mut cmd = p.work.release_hermetic();
    cmd.envs(gh.env().into_iter().filter(|(k, _)| *k != "GITHUB_TOKEN"))
        .envs(moto.env())
        .args(["cut", "--yes", "--json"]);
    let out = cmd.assert().success();
    let text = format!(
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.get_output().stderr)
    );
    assert!(!text.contains(SSM_TOKEN), "{text}");

    // Every GitHub request carried the token from the parameter, and one release was made.
    let requests = gh.requests().await;
    assert!(!requests.is_empty());
    for r in &requests {
        let auth = r
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert_eq!(
            auth,
            format!("Bearer {SSM_TOKEN}"),
            "{} {}",
            r.method,
            r.url
        );
    }
    assert_eq!(gh.releases().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_parameter_is_a_clear_error_before_any_write() {
    let moto = Moto::start();
    let gh = FakeGithub::start().await;
    let p = Published::new(Some(&config()));
    let before = p.work.state();

    let mut cmd = p.work.release_hermetic();
    cmd.envs(gh.env().into_iter().filter(|(k, _)| *k != "GITHUB_TOKEN"))
        .envs(moto.env())
        .args(["cut", "--yes"]);
    let err = clean_failure(cmd.assert());
    assert!(err.contains(PARAMETER), "{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(p.work.state(), before);
    assert!(gh.releases().is_empty());
}
