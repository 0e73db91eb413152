//! Who approves: an identity from a credential (the AWS caller with the SSM ledger, a GitHub
//! token's login, the Actions actor in Actions), never a name anyone can set.

use crate::support::moto::Moto;
use crate::support::{clean_failure, stdout, Repo};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A repository with releases 1.0.0 and 1.1.0 (tagged by carol@example.com) and a production
/// environment that `approvers` may approve for.
fn repo(ledger: &str, approvers: &str) -> Repo {
    let repo = Repo::new();
    repo.write(
        "release.toml",
        &format!(
            r#"[ledger]
backend = "{ledger}"
prefix = "/release-agent/test"

[environments.production]
cluster = "prod"
services = ["web"]
container = "app"
approvals = 1
approvers = {approvers}
"#
        ),
    );
    repo.git(&["add", "-A"]);
    repo.commit("chore: release configuration");
    for v in ["1.0.0", "1.1.0"] {
        repo.commit(&format!("feat: towards {v}"));
        repo.annotated_tag(&format!("v{v}"));
    }
    repo
}

fn approve(repo: &Repo, env: &[(&str, String)]) -> assert_cmd::assert::Assert {
    repo.release_hermetic()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["approve", "1.1.0", "--env", "production", "--json"])
        .assert()
}

fn approvals(repo: &Repo) -> Vec<serde_json::Value> {
    let dir = repo
        .path()
        .join(".git/release-agent/ledger/production/approvals/1.1.0");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap())
        .collect()
}

#[test]
fn github_actor_outside_actions_approves_nothing() {
    let repo = repo("file", r#"["bob"]"#);
    let err = clean_failure(approve(&repo, &[("GITHUB_ACTOR", "bob".into())]));
    assert!(err.contains("is not a verified identity"), "{err}");
    assert!(
        err.contains("GITHUB_ACTOR is ignored outside GitHub Actions"),
        "{err}"
    );
    assert!(err.contains("GITHUB_TOKEN or GH_TOKEN"), "{err}");
    assert!(approvals(&repo).is_empty(), "nothing recorded");

    // Nor does it count when it was written into the ledger by hand (or by an older release).
    let dir = repo
        .path()
        .join(".git/release-agent/ledger/production/approvals/1.1.0");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bob.json"),
        r#"{"version":"1.1.0","env":"production","by":"bob","at":"2026-01-01T00:00:00Z","decision":"approved"}"#,
    )
    .unwrap();
    let err = clean_failure(
        repo.release_hermetic()
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", "dave")
            .args(["deploy", "1.1.0", "--env", "production"])
            .assert(),
    );
    assert!(
        err.contains("needs 1 approval(s) of 1.1.0, it has 0"),
        "{err}"
    );
    assert!(err.contains("bob is not a verified identity"), "{err}");
}

#[test]
fn inside_actions_the_actor_approves_and_is_recorded_as_such() {
    let repo = repo("file", r#"["bob"]"#);
    let out = approve(
        &repo,
        &[
            ("GITHUB_ACTIONS", "true".into()),
            ("GITHUB_ACTOR", "bob".into()),
        ],
    )
    .success();
    let approval: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(approval["by"], "bob");
    assert_eq!(approval["identity"]["source"], "github-actions");
    assert_eq!(approvals(&repo), vec![approval]);
}

async fn github_user(login_for_token: &[(&str, u16, serde_json::Value)]) -> MockServer {
    let server = MockServer::start().await;
    for (token, status, body) in login_for_token {
        Mock::given(method("GET"))
            .and(path("/user"))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(ResponseTemplate::new(*status).set_body_json(body.clone()))
            .mount(&server)
            .await;
    }
    server
}

#[test]
fn a_github_token_approves_as_the_login_it_belongs_to() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // GET /user as GitHub documents it (abridged), and its 401 for a bad token.
    let gh = rt.block_on(github_user(&[
        (
            "ghp_bob",
            200,
            serde_json::json!({"login": "bob", "id": 2, "type": "User", "site_admin": false,
                "name": "Bob", "email": null}),
        ),
        (
            "ghp_mallory",
            200,
            serde_json::json!({"login": "mallory", "id": 3, "type": "User"}),
        ),
        (
            "ghp_bad",
            401,
            serde_json::json!({"message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest"}),
        ),
    ]));
    let repo = repo("file", r#"["bob"]"#);
    let env = |token: &str| {
        vec![
            ("GITHUB_API_URL", gh.uri()),
            ("GITHUB_TOKEN", token.to_string()),
            // Ignored: outside Actions anyone can set it.
            ("GITHUB_ACTOR", "bob".to_string()),
        ]
    };

    let err = clean_failure(approve(&repo, &env("ghp_mallory")));
    assert!(
        err.contains("mallory is not an approver of production"),
        "{err}"
    );
    let err = clean_failure(approve(&repo, &env("ghp_bad")));
    assert!(
        err.contains("GITHUB_TOKEN: GitHub GET /user answered 401 Bad credentials"),
        "{err}"
    );
    assert!(!err.contains("ghp_bad"), "the token never shows: {err}");
    assert!(approvals(&repo).is_empty());

    let out = approve(&repo, &env("ghp_bob")).success();
    let approval: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(approval["by"], "bob");
    assert_eq!(approval["identity"]["name"], "bob");
    assert_eq!(approval["identity"]["source"], "github-token");
    assert_eq!(approvals(&repo), vec![approval]);
}

#[test]
fn with_the_ssm_ledger_the_aws_caller_approves() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // An IAM Identity Center user's session: AWS names the session after the user.
    let sso_role = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Approver_0123abcd";
    let creds = rt.block_on(async {
        let sts = aws_sdk_sts::Client::new(&moto.sdk_config().await);
        sts.assume_role()
            .role_arn(sso_role)
            .role_session_name("dave@example.com")
            .send()
            .await
            .unwrap()
            .credentials()
            .cloned()
            .unwrap()
    });
    let repo = repo("ssm", r#"["dave@example.com"]"#);
    let mut env = moto.env();
    // The default caller of moto's dummy credentials is `arn:aws:sts::123456789012:user/moto`;
    // a GITHUB_ACTOR outside Actions changes nothing.
    env.push(("GITHUB_ACTOR", "dave@example.com".into()));
    let err = clean_failure(approve(&repo, &env));
    assert!(
        err.contains(
            "arn:aws:sts::123456789012:user/moto is not an approver of production (approvers: dave@example.com)"
        ),
        "{err}"
    );

    let env: Vec<(&str, String)> = env
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
        .chain([
            ("AWS_ACCESS_KEY_ID", creds.access_key_id().to_string()),
            (
                "AWS_SECRET_ACCESS_KEY",
                creds.secret_access_key().to_string(),
            ),
            ("AWS_SESSION_TOKEN", creds.session_token().to_string()),
        ])
        .collect();
    let out = approve(&repo, &env).success();
    let approval: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let caller =
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Approver_0123abcd/dave@example.com";
    assert_eq!(approval["by"], caller);
    assert_eq!(approval["identity"]["source"], "aws-sts");

    // Stored under the approver's own parameter, identity included.
    let stored = rt.block_on(async {
        aws_sdk_ssm::Client::new(&moto.sdk_config().await)
            .get_parameters_by_path()
            .path("/release-agent/test/production/approvals/1.1.0")
            .send()
            .await
            .unwrap()
    });
    let params = stored.parameters();
    assert_eq!(params.len(), 1);
    assert!(
        params[0].name().unwrap().contains("dave_example.com"),
        "{:?}",
        params[0].name()
    );
    let value: serde_json::Value = serde_json::from_str(params[0].value().unwrap()).unwrap();
    assert_eq!(value["identity"]["name"], caller);
}
