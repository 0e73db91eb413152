//! Secrets and hostile text: a token never reaches stdout, stderr, `--json` or the job's files,
//! whichever way it leaks towards them (GitHub echoing it, a remote URL carrying it, plain or
//! percent-encoded), and commit text reaches GitHub only as JSON data, never through a shell.

use crate::support::github::{Answer, FakeGithub, TOKEN};
use crate::support::{clean_failure, stderr, stdout, Published, Repo};
use assert_cmd::assert::Assert;

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

// ---------------------------------------------------------------------------------------------
// Secrets in what a release writes: the run's output, the release commit, the tag, the tree

/// A token shaped like a GitHub personal access token, for the runs below.
const PAT: &str = "ghp_Rel3aseSecretValue0123456789abcdWXYZ";

/// The forms a leak of `secret` takes, beyond [`forms`]: every byte percent-encoded
/// (over-encoded, upper and lower case hex), the same encoded twice, and the base64 (standard
/// and URL-safe) of the secret alone and of `user:secret` for users of each alignment, as a
/// server echoing a `Basic` authorization shows it.
fn encodings(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    let mut all = forms(secret);
    let upper: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
    let lower: String = secret.bytes().map(|b| format!("%{b:02x}")).collect();
    all.push(upper.replace('%', "%25"));
    all.push(upper);
    all.push(lower);
    for engine in [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        all.push(engine.encode(secret));
        for user in ["a", "ab", "abc", "x-access-token"] {
            all.push(engine.encode(format!("{user}:{secret}")));
        }
    }
    all.dedup();
    all
}

/// Every form of `secret` that must never appear: its [`encodings`], and for a base64
/// `user:secret`, the characters that carry the secret's bits alone (all but one at each end),
/// so that masking only part of an encoding is caught too.
fn leak_forms(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    let mut all = encodings(secret);
    for engine in [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        for user in ["a", "ab", "abc", "x-access-token"] {
            let full = engine.encode(format!("{user}:{secret}"));
            let from = ((user.len() + 1) * 8).div_ceil(6) + 1;
            let to = (user.len() + 1 + secret.len()) * 8 / 6 - 1;
            all.push(full[from..to].to_string());
        }
    }
    all
}

/// The remote's release: the message of the commit on `main`, every tag's message, and every
/// file of the tree of `main` with its path.
fn pushed_release(p: &Published) -> String {
    let mut text = p
        .remote
        .git(&["log", "-1", "--format=%B%n%an%n%ae", "main"]);
    text.push_str(
        &p.remote
            .git(&["for-each-ref", "refs/tags", "--format=%(contents)"]),
    );
    for path in p
        .remote
        .git(&["ls-tree", "-r", "--name-only", "main"])
        .lines()
    {
        text.push_str(&format!("\n{path}:\n{}", p.remote_file("main", path)));
    }
    text
}

/// No form of `secret` ([`leak_forms`]) in the run's stdout and stderr, nor in the pushed
/// release ([`pushed_release`]), nor in the local worktree's changelog.
fn assert_nowhere(secret: &str, p: &Published, out: &Assert) {
    let places = [
        ("stdout", stdout(out)),
        ("stderr", stderr(out)),
        ("the pushed release", pushed_release(p)),
        ("CHANGELOG.md", p.work.read("CHANGELOG.md")),
    ];
    for (what, text) in &places {
        for form in leak_forms(secret) {
            assert!(
                !text.contains(&form),
                "the secret ({form}) leaked into {what}:\n{text}"
            );
        }
    }
}

/// `release cut --yes --no-github` to the bare remote, with [`PAT`] as `GITHUB_TOKEN` and
/// `extra` variables.
fn cut_no_github(p: &Published, extra: &[(&str, &str)]) -> Assert {
    let mut cmd = p.work.release_hermetic();
    cmd.env("GITHUB_TOKEN", PAT)
        .envs(extra.iter().copied())
        .args(["-vv", "cut", "--yes", "--no-github"]);
    cmd.assert()
}

/// Commit and push `files` (path, content) on the work clone of `p`.
fn commit_and_push(p: &Published, files: &[(&str, &str)], message: &str) {
    for (path, content) in files {
        p.work.write(path, content);
        p.work.git(&["add", "--", path]);
    }
    p.work.commit_staged(message);
    p.work.git(&["push", "-q", "origin", "main"]);
}

#[test]
fn templates_cannot_read_the_environment() {
    // `AWS_SECRET_ACCESS_KEY` is no token `release` knows of: masking cannot save it, only
    // refusing `get_env` does.
    let aws = "aws/Secret+Access0Key0Value0123456789";
    for (name, source) in [
        (
            "release-notes.md.tera",
            r#"{{ get_env(name="GITHUB_TOKEN") }}"#,
        ),
        (
            "changelog.md.tera",
            r#"## [{{ releases.0.version }}]\n{{ get_env(name="AWS_SECRET_ACCESS_KEY", default="none") }}"#,
        ),
        (
            "release-notes.md.tera",
            r#"{% set home = get_env(name="HOME") %}{{ home }}"#,
        ),
    ] {
        let p = Published::new(None);
        commit_and_push(
            &p,
            &[(&format!(".release/templates/{name}"), source)],
            "docs: notes template",
        );
        let before = p.remote_refs();
        let out = cut_no_github(&p, &[("AWS_SECRET_ACCESS_KEY", aws)]);
        assert_nowhere(PAT, &p, &out);
        assert_nowhere(aws, &p, &out);
        let err = clean_failure(out);
        assert!(
            err.contains("get_env is disabled: templates come from the repository"),
            "{name}: {err}"
        );
        assert!(err.contains(name), "the error names the template: {err}");
        assert_eq!(p.remote_refs(), before, "nothing was pushed");
    }
}

#[cfg(unix)]
#[test]
fn a_template_cannot_be_a_link_to_a_file_outside() {
    let p = Published::new(None);
    let outside = p.work.root().join("outside-secret.txt");
    let secret = "outside-Secret-Value-0123456789";
    std::fs::write(&outside, format!("AWS_SECRET_ACCESS_KEY={secret}\n")).unwrap();
    std::fs::create_dir_all(p.work.path().join(".release/templates")).unwrap();
    std::os::unix::fs::symlink(
        &outside,
        p.work
            .path()
            .join(".release/templates/release-notes.md.tera"),
    )
    .unwrap();
    p.work.git(&["add", "-A"]);
    p.work.commit_staged("docs: notes template");
    p.work.git(&["push", "-q", "origin", "main"]);
    let before = p.remote_refs();
    let out = cut_no_github(&p, &[]);
    assert_nowhere(secret, &p, &out);
    let err = clean_failure(out);
    assert!(
        err.contains("release-notes.md.tera") && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(p.remote_refs(), before, "nothing was pushed");
}

#[test]
fn a_token_in_commit_text_is_masked_in_what_release_writes() {
    // Second line of defence: whatever brings the token into rendered text, it is masked.
    let p = Published::new(Some(
        "[changelog]\ntemplates = \"notes\"\n[[changelog.sections]]\ntitle = \"Fixes\"\ntypes = [\"fix\"]\n",
    ));
    commit_and_push(
        &p,
        &[(
            "notes/changelog.md.tera",
            "{% for r in releases %}## [{{ r.version }}]\n{% for s in r.sections %}{% for c in s.commits %}- {{ c.summary }} {{ c.body }}\n{% endfor %}{% endfor %}{% endfor %}",
        )],
        &format!("fix: rotate the token {PAT}\n\nIt was {PAT}, leaked."),
    );
    let out = p
        .work
        .release_hermetic()
        .env("GITHUB_TOKEN", PAT)
        .arg("plan")
        .assert()
        .success();
    for form in leak_forms(PAT) {
        assert!(!stdout(&out).contains(&form), "{}", stdout(&out));
    }
    assert!(
        stdout(&out).contains("rotate the token ***"),
        "{}",
        stdout(&out)
    );
    let out = cut_no_github(&p, &[]).success();
    // (The commit that carries it was pushed before; the release adds no copy.)
    assert_nowhere(PAT, &p, &out);
    let changelog = p.remote_file("main", "CHANGELOG.md");
    assert!(
        changelog.contains("- rotate the token *** It was ***, leaked."),
        "{changelog}"
    );
}

#[test]
fn hook_output_is_masked_in_every_encoding() {
    // The hooks print each form from the environment (the repository holds none of them), on
    // stdout, and the token itself on stderr.
    let forms = encodings(PAT);
    let mut hooks = Vec::new();
    let mut env = Vec::new();
    for (i, form) in forms.iter().enumerate() {
        hooks.push(format!(
            r#"["sh", "-c", "echo \"form-{i} $LEAK_{i} end\""]"#
        ));
        env.push((format!("LEAK_{i}"), form.as_str()));
    }
    hooks.push(r#"["sh", "-c", "echo \"on-stderr $GITHUB_TOKEN end\" >&2"]"#.to_string());
    let hooks = hooks.join(", ");
    let p = Published::new(Some(&format!(
        "[hooks]\npre_bump = [{hooks}]\npost_bump = [{hooks}]\n"
    )));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let out = cut_no_github(&p, &env).success();
    assert_nowhere(PAT, &p, &out);
    let err = stderr(&out);
    // The hooks' lines are there, masked, twice each (pre and post), on stderr.
    for i in 0..forms.len() {
        let line = err
            .lines()
            .find(|l| l.starts_with(&format!("form-{i} ")))
            .unwrap_or_else(|| panic!("form-{i} is shown:\n{err}"));
        assert!(line.contains("***") && line.ends_with(" end"), "{line}");
        let shown = err.lines().filter(|l| l.starts_with(&format!("form-{i} ")));
        assert_eq!(shown.count(), 2, "{err}");
    }
    assert_eq!(err.matches("on-stderr *** end").count(), 2, "{err}");
    assert!(!stdout(&out).contains("form-"), "{}", stdout(&out));
    assert_eq!(p.remote_tag("v1.1.0"), Some(p.work.head()));
}

/// Characters that drive a terminal: C0 controls (ESC, BEL, a lone CR, backspace), DEL, the C1
/// controls (CSI), and Unicode's bidirectional overrides.
const DRIVING: &[char] = &[
    '\u{1b}', '\u{7}', '\u{8}', '\u{7f}', '\u{9b}', '\u{85}', '\u{202e}', '\u{2066}',
];

fn assert_inert(text: &str, what: &str) {
    for c in DRIVING {
        assert!(
            !text.contains(*c),
            "{what} holds {:?}:\n{}",
            c,
            text.escape_debug()
        );
    }
    assert!(
        !text.replace("\r\n", "\n").contains('\r'),
        "{what} holds a lone CR:\n{}",
        text.escape_debug()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn control_characters_in_commits_reach_no_terminal_nor_file() {
    let p = Published::new(Some(
        "[changelog]\ntemplates = \"notes\"\n[[changelog.sections]]\ntitle = \"Features\"\ntypes = [\"feat\"]\n",
    ));
    // A user template showing bodies and authors as they are, and one more control character
    // of its own.
    p.work.write(
        "notes/changelog.md.tera",
        "{% for r in releases %}## [{{ r.version }}]\n{% for s in r.sections %}{% for c in s.commits %}- {{ c.summary }} ({{ c.author }})\n{{ c.body }}\n{% endfor %}{% endfor %}{% endfor %}\u{1b}[2J",
    );
    p.work.git(&["add", "-A"]);
    p.work.commit_staged("docs: changelog template");
    // (A lone CR ends a line for the commit parser: one in the header would end the header.)
    let hostile = "feat: add \u{1b}[31mred\u{1b}[0m and \u{7}bell\u{8}\u{7f} \u{9b}2J \u{202e}txt.exe\u{2066}\n\nbody \u{1b}]0;title\u{7} tab\there\rforged line\n\u{85}next line\r\nwindows line";
    let mut cmd = p.work.git_cmd(&[
        "commit",
        "-q",
        "--allow-empty",
        "--cleanup=verbatim",
        "-m",
        hostile,
    ]);
    cmd.env("GIT_AUTHOR_NAME", "Mallory \u{1b}[8m");
    assert!(cmd.status().unwrap().success());
    p.work.git(&["push", "-q", "origin", "main"]);

    let out = p.work.release_hermetic().arg("plan").assert().success();
    assert_inert(&stdout(&out), "plan");
    assert!(
        stdout(&out).contains(r"add \x1b[31mred\x1b[0m and \x07bell"),
        "{}",
        stdout(&out)
    );
    let out = p
        .work
        .release_hermetic()
        .args(["plan", "--json"])
        .assert()
        .success();
    assert_inert(&stdout(&out), "plan --json");
    let out = p
        .work
        .release_hermetic()
        .args(["lint", "--range", "HEAD~1..HEAD"])
        .assert();
    assert_inert(&stderr(&out), "lint");
    assert_inert(&stdout(&out), "lint");
    // A message lint rejects is quoted in its report, from a commit or as given.
    let rejected = "Added \u{1b}[31mred\u{9b}2J\u{202e} stuff";
    p.work.commit(rejected);
    p.work.git(&["push", "-q", "origin", "main"]);
    for args in [
        &["lint", "--range", "HEAD~1..HEAD"][..],
        &["lint", rejected],
    ] {
        let out = p.work.release_hermetic().args(args).assert().failure();
        assert_inert(&stderr(&out), "lint");
        assert!(
            stderr(&out).contains(r"Added \x1b[31mred\u{9b}2J\u{202e} stuff"),
            "{}",
            stderr(&out)
        );
    }
    let out = p
        .work
        .release_hermetic()
        .args(["changelog"])
        .assert()
        .success();
    assert_inert(&stdout(&out), "changelog");

    let gh = FakeGithub::start().await;
    let out = run(&p.work, &gh, TOKEN, &["cut", "--yes"]).success();
    assert_inert(&stdout(&out), "cut's stdout");
    assert_inert(&stderr(&out), "cut's stderr");
    let changelog = p.remote_file("main", "CHANGELOG.md");
    assert_inert(&changelog, "CHANGELOG.md");
    assert!(
        changelog.contains(r"- add \x1b[31mred\x1b[0m"),
        "{changelog}"
    );
    assert!(changelog.contains(r"(Mallory \x1b[8m)"), "{changelog}");
    // Tabs and line ends of the body are kept.
    assert!(changelog.contains("tab\there\n"), "{changelog}");
    assert_inert(&p.remote_tag_message("v1.1.0"), "the tag message");
    let posts = gh.posts().await;
    assert_inert(posts[0]["body"].as_str().unwrap(), "the GitHub release");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_tag_written_by_someone_else_reaches_github_inert_and_masked() {
    // HEAD already carries the release tag (a maintainer tagged by hand): the run finishes the
    // release from the tag's own message.
    let p = Published::new(None);
    let message = format!("notes \u{1b}]8;;https://evil\u{7}link\u{1b}]8;;\u{7} {TOKEN}\n");
    p.work.git(&["tag", "-a", "v1.1.0", "-m", &message]);
    let gh = FakeGithub::start().await;
    let out = run(&p.work, &gh, TOKEN, &["cut", "--yes"]).success();
    assert_absent(TOKEN, &all_output(&out), "the output");
    let posts = gh.posts().await;
    assert_eq!(posts.len(), 1, "the release was created");
    let body = posts[0]["body"].as_str().unwrap();
    assert_inert(body, "the GitHub release");
    assert_absent(TOKEN, body, "the GitHub release");
    assert!(
        body.contains(r"notes \x1b]8;;https://evil\x07link"),
        "{body}"
    );
}
