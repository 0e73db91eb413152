//! Secrets and hostile text: a token never reaches stdout, stderr, `--json` or the job's files,
//! whichever way it leaks towards them (GitHub echoing it, a remote URL carrying it, plain or
//! percent-encoded), and commit text reaches GitHub only as JSON data, never through a shell.

mod support;

use assert_cmd::assert::Assert;
use support::github::{Answer, FakeGithub, TOKEN};
use support::{clean_failure, stderr, stdout, Published, Repo};

/// Every form a secret may take in output: as is, percent-encoded (upper and lower case hex,
/// as it sits in a URL), and with its URL-special characters decoded.
fn forms(secret: &str) -> Vec<String> {
    let mut upper = String::new();
    let mut lower = String::new();
    for b in secret.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            upper.push(char::from(b));
            lower.push(char::from(b));
        } else {
            upper.push_str(&format!("%{b:02X}"));
            lower.push_str(&format!("%{b:02x}"));
        }
    }
    let mut all = vec![secret.to_string(), upper, lower];
    all.dedup();
    all
}

/// Assert that no form of `secret` is in `text`.
fn assert_absent(secret: &str, text: &str, what: &str) {
    for form in forms(secret) {
        assert!(
            !text.contains(&form),
            "the secret ({form}) leaked into {what}:\n{text}"
        );
    }
}

/// stdout and stderr of a finished run.
fn all_output(out: &Assert) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

/// `release [args]` against the fake GitHub with `token`, verbose logs on.
fn run(repo: &Repo, gh: &FakeGithub, token: &str, args: &[&str]) -> Assert {
    let mut cmd = repo.release_hermetic();
    cmd.envs(gh.env())
        .env("GITHUB_TOKEN", token)
        .arg("-vv")
        .args(args);
    cmd.assert()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_github_error_echoing_the_token_is_masked() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    gh.state().all_requests = Some(Answer::error(
        401,
        &format!("Bad credentials: token {TOKEN} is invalid"),
    ));
    for args in [
        &["cut", "--yes"][..],
        &["cut", "--yes", "--json"],
        &["ci"],
        &["ci", "--json"],
    ] {
        let out = run(&p.work, &gh, TOKEN, args);
        let text = all_output(&out);
        let err = clean_failure(out);
        assert_absent(TOKEN, &text, &format!("the output of {args:?}"));
        assert!(
            err.contains("answered 401: Bad credentials: token *** is invalid (the token is invalid or expired)"),
            "{err}"
        );
    }
    // The token did reach GitHub: it is masked in output, not withheld from the API.
    let requests = gh.requests().await;
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r
        .headers
        .get("authorization")
        .is_some_and(|v| v.to_str().unwrap() == format!("Bearer {TOKEN}"))));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_with_url_special_characters_is_masked_in_every_form() {
    // GitHub echoes the token raw and percent-encoded, on the release creation, after the push.
    let secret = "ghp_S3cr/et+tok@en=42";
    let encoded = forms(secret)[1].clone();
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    gh.state().post_always = Some(Answer::error(
        401,
        &format!("Bad credentials {secret} (sent as {encoded})"),
    ));
    let job = tempfile::tempdir().unwrap();
    let summary = job.path().join("summary");
    let output = job.path().join("output");
    let mut cmd = p.work.release_hermetic();
    cmd.envs(gh.env())
        .env("GH_TOKEN", secret)
        .env_remove("GITHUB_TOKEN")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["-vv", "ci", "--json"]);
    let out = cmd.assert();
    let text = all_output(&out);
    let err = clean_failure(out);
    assert_absent(secret, &text, "the output");
    assert!(
        err.contains("answered 401: Bad credentials *** (sent as ***)"),
        "{err}"
    );
    for file in [&summary, &output] {
        assert_absent(
            secret,
            &std::fs::read_to_string(file).unwrap_or_default(),
            "the job files",
        );
    }
    // GH_TOKEN was the token used.
    let requests = gh.requests().await;
    assert!(requests.iter().all(|r| r
        .headers
        .get("authorization")
        .is_some_and(|v| v.to_str().unwrap() == format!("Bearer {secret}"))));
}

/// Runs of `release` against a remote URL that carries `in_url` as its password, on port 9 of
/// loopback where nothing listens, so the fetch fails: each run's output must hold no form of
/// `secret`. Returns the outputs.
fn runs_against_unreachable_url(secret: &str, in_url: &str) -> Vec<String> {
    let p = Published::new(None);
    let url = format!("https://x-access-token:{in_url}@127.0.0.1:9/acme/app.git");
    p.work.git(&["remote", "set-url", "origin", &url]);
    let mut outputs = Vec::new();
    for (args, trace) in [
        (&["cut", "--yes"][..], false),
        (&["cut", "--yes", "--json"], false),
        (&["ci", "--json"], false),
        (&["cut", "--yes", "--no-github"], false),
        // GIT_TRACE makes git print the URL of the remote helper it runs, credentials and all,
        // into the error output that `release` passes on.
        (&["cut", "--yes"], true),
        (&["ci", "--json"], true),
    ] {
        let mut cmd = p.work.release_hermetic();
        cmd.env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_REPOSITORY", "acme/app")
            .env("GITHUB_API_URL", "http://127.0.0.1:9")
            .arg("-vv")
            .args(args);
        if trace {
            cmd.env("GIT_TRACE", "1");
        }
        let out = cmd.assert();
        let text = all_output(&out);
        let err = clean_failure(out);
        assert_absent(
            secret,
            &text,
            &format!("the output of {args:?} (GIT_TRACE: {trace})"),
        );
        assert!(err.contains("127.0.0.1"), "the error says where: {err}");
        if trace {
            assert!(
                err.contains("https://x-access-token:***@127.0.0.1:9/acme/app.git"),
                "the URL is shown, masked: {err}"
            );
        }
        outputs.push(text);
    }

    // The URL given as `--remote` rather than as a named remote.
    for args in [&["cut", "--yes", "--remote"][..], &["ci", "--remote"]] {
        let mut cmd = p.work.release_hermetic();
        cmd.args(args).arg(&url).arg("--no-github");
        let out = cmd.assert();
        let text = all_output(&out);
        let err = clean_failure(out);
        assert_absent(secret, &text, &format!("the output of {args:?} URL"));
        assert!(
            err.contains("`--remote` takes the name of a remote, not a URL (https://***@127.0.0.1:9/acme/app.git)"),
            "{err}"
        );
        outputs.push(text);
    }
    outputs
}

#[test]
fn a_token_in_the_remote_url_is_masked() {
    let secret = "ghs_UrlSecret0123456789abcdefXYZ";
    runs_against_unreachable_url(secret, secret);
}

#[test]
fn a_percent_encoded_token_in_the_remote_url_is_masked() {
    // A secret with `/`, `+` and `@` must be percent-encoded in a URL; both its encoded and its
    // decoded forms are secrets.
    let secret = "s3cr/t+v@lue-0123456789";
    let in_url = forms(secret)[1].clone();
    assert_eq!(in_url, "s3cr%2Ft%2Bv%40lue-0123456789");
    runs_against_unreachable_url(secret, &in_url);
    // Written with lower-case hex digits, as some tools do.
    runs_against_unreachable_url(secret, &forms(secret)[2]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_is_not_in_the_output_of_a_successful_release() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let job = tempfile::tempdir().unwrap();
    let summary = job.path().join("summary");
    let output = job.path().join("output");
    let mut cmd = p.work.release_hermetic();
    cmd.envs(gh.env())
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        // Every library's logs, HTTP clients included.
        .env("RUST_LOG", "trace")
        .args(["ci", "--json"]);
    let out = cmd.assert().success();
    assert_absent(TOKEN, &all_output(&out), "the output");
    assert!(stderr(&out).contains("TRACE"), "trace logs are on");
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["outcome"], "released");
    for file in [&summary, &output] {
        assert_absent(
            TOKEN,
            &std::fs::read_to_string(file).unwrap(),
            "the job files",
        );
    }
    // Nor in the repository: no remote URL, config or ref carries it.
    let config = std::fs::read_to_string(p.work.path().join(".git/config")).unwrap();
    assert_absent(TOKEN, &config, ".git/config");
}

#[tokio::test(flavor = "multi_thread")]
async fn commit_text_reaches_github_as_json_only() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let hostile = "feat: $(touch pwned) `touch pwned2` ; touch pwned3 && echo \"q\" 'x' | cat > pwned4 <<EOF\n\nbody ${HOME} %s %n \\ \\\" {{ tera }} {% raw %}\n";
    p.work.commit(hostile);
    p.work.git(&["push", "-q", "origin", "main"]);
    let out = run(&p.work, &gh, TOKEN, &["cut", "--yes"]).success();
    assert!(
        stdout(&out).starts_with("released v1.1.0"),
        "{}",
        stdout(&out)
    );

    let posts = gh.posts().await;
    assert_eq!(posts.len(), 1);
    let body = posts[0]["body"].as_str().unwrap();
    assert!(body.contains("$(touch pwned)"), "{body}");
    assert!(body.contains("`touch pwned2`"), "{body}");
    // (`<` and `>` are HTML-escaped by the changelog template, as everywhere in the notes.)
    assert!(
        body.contains("; touch pwned3 && echo \"q\" 'x' | cat &gt; pwned4"),
        "{body}"
    );
    assert_eq!(body, p.remote_tag_message("v1.1.0"));
    // The raw request is JSON that carries the text as a string.
    let raw = &gh.raw_posts().await[0];
    assert!(raw.contains("$(touch pwned)"), "{raw}");
    assert!(raw.contains("\\\"q\\\""), "quotes are JSON-escaped: {raw}");

    for dir in [
        p.work.path(),
        p.work.root(),
        std::env::current_dir().unwrap().as_path(),
    ] {
        for name in ["pwned", "pwned2", "pwned3", "pwned4"] {
            assert!(
                !dir.join(name).exists(),
                "{name} was created in {}",
                dir.display()
            );
        }
    }
}
