//! Bad input: each case a clear message and a non-zero exit, never a panic; odd but valid
//! input simply works.

use crate::support::{self, assert_snapshot, clean_failure, stdout, Repo};

#[test]
fn not_a_git_repository() {
    let dir = Repo::bare_dir();
    for args in [
        &["plan"][..],
        &["bump"],
        &["changelog"],
        &["hooks", "install"],
        &["lint", "--range", "HEAD"],
    ] {
        let err = clean_failure(dir.run(args));
        assert!(
            err.contains("is not inside a git repository"),
            "{args:?}: {err}"
        );
        assert!(err.contains("git init"), "{err}");
    }
    assert_snapshot!(
        "not_a_repository",
        dir.redact(&clean_failure(dir.run(&["plan"])))
    );
    // -C points elsewhere.
    let repo = Repo::new();
    repo.commit("feat: a");
    let out = dir
        .release()
        .args(["-C", repo.path().to_str().unwrap(), "plan", "--json"])
        .assert()
        .success();
    assert!(stdout(&out).contains("\"next_version\": \"0.1.0\""));
}

#[test]
fn empty_repository() {
    let repo = Repo::new();
    for args in [
        &["plan"][..],
        &["bump"],
        &["changelog"],
        &["changelog", "--all"],
    ] {
        let err = clean_failure(repo.run(args));
        assert!(
            err.contains("the repository has no commits yet: commit something first"),
            "{args:?}: {err}"
        );
    }
    // Installing the hook in a new repository is what one does first: it works.
    repo.run(&["hooks", "install"]).success();
}

#[test]
fn shallow_clone_without_tags_asks_to_fetch_them() {
    let origin = Repo::new();
    origin.commit("feat: a");
    origin.annotated_tag("v1.0.0");
    origin.commits(&["fix: b", "fix: c"]);
    let clone = Repo::clone_of(&origin, &["--depth", "1"]);
    assert_eq!(clone.git(&["rev-parse", "--is-shallow-repository"]), "true");
    assert!(clone.tags().is_empty());
    for args in [
        &["plan"][..],
        &["plan", "--json"],
        &["bump"],
        &["changelog"],
        &["changelog", "--all"],
    ] {
        let err = clean_failure(clone.run(args));
        assert!(err.contains("shallow clone"), "{args:?}: {err}");
        assert!(err.contains("git fetch --tags --unshallow"), "{err}");
    }
    assert_snapshot!("shallow_clone", clean_failure(clone.run(&["plan"])));
    // Following the advice fixes it.
    clone.git(&["fetch", "-q", "--tags", "--unshallow"]);
    let plan = clone.plan_json(&[]);
    assert_eq!(plan["current_tag"], "v1.0.0");
    assert_eq!(plan["next_version"], "1.0.1");
}

#[test]
fn shallow_clone_with_the_tag_in_reach_works() {
    let origin = Repo::new();
    origin.commits(&["feat: old", "feat: a"]);
    origin.annotated_tag("v1.0.0");
    origin.commits(&["fix: b", "fix: c"]);
    // Deep enough to reach the tag, which clone then fetches with the history.
    let clone = Repo::clone_of(&origin, &["--depth", "3"]);
    assert_eq!(clone.tags(), ["v1.0.0"]);
    assert_eq!(clone.git(&["rev-parse", "--is-shallow-repository"]), "true");
    let plan = clone.plan_json(&[]);
    assert_eq!(plan["current_tag"], "v1.0.0");
    assert_eq!(plan["next_version"], "1.0.1");
}

#[test]
fn non_utf8_commit_message_does_not_stop_a_release() {
    let repo = Repo::new();
    repo.commit("feat: a");
    repo.tag("v1.0.0");
    let file = repo.root().join("latin1.txt");
    std::fs::write(&file, b"fix: caf\xe9 cr\xe8me\n\nBody \xe0 la carte\n").unwrap();
    repo.git(&[
        "-c",
        "i18n.commitEncoding=ISO-8859-1",
        "commit",
        "-q",
        "--allow-empty",
        "-F",
        file.to_str().unwrap(),
    ]);
    let raw = repo.git_output(&["cat-file", "-p", "HEAD"]).stdout;
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.contains("\nencoding ISO-8859-1\n"), "{raw}");
    let out = repo.run(&["plan", "--json"]).success();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(plan["next_version"], "1.0.1");
    // The encoding header is honoured: the text is decoded, not replaced by U+FFFD.
    assert_eq!(plan["commits"][0]["summary"], "café crème");
    repo.run(&["plan"]).success();
    repo.run(&["changelog", "--all"]).success();
    repo.run(&["lint", "--range", "v1.0.0..HEAD"]).success();
    repo.run(&["bump"]).success();
    assert_eq!(repo.tags(), ["v1.0.0", "v1.0.1"]);

    // A non-UTF-8 message file for the hook is linted, not rejected as unreadable.
    let msg = repo.root().join("MSG");
    std::fs::write(&msg, b"feat: \xff\xfe odd bytes\n").unwrap();
    repo.release()
        .args(["lint", "--edit"])
        .arg(&msg)
        .assert()
        .success();
}

#[test]
fn huge_commit_message_works() {
    let repo = Repo::new();
    repo.commit("feat: a");
    repo.tag("v1.0.0");
    let line = "lorem ipsum dolor sit amet ".repeat(4);
    let body: String = std::iter::repeat_n(line.as_str(), 20_000)
        .collect::<Vec<_>>()
        .join("\n");
    let message = format!("feat(big): huge body\n\n{body}\n\nBREAKING CHANGE: the big footer\n");
    assert!(message.len() > 2_000_000);
    repo.commit(&message);
    repo.commit("fix: small");
    let plan = repo.plan_json(&[]);
    assert_eq!(plan["next_version"], "2.0.0");
    assert_eq!(plan["commits"][1]["summary"], "huge body");
    assert_eq!(plan["commits"][1]["breaking"], true);
    let text = stdout(&repo.run(&["changelog"]).success());
    assert!(text.contains("- **big:** the big footer ("), "{text}");
    repo.run(&["lint", "--range", "v1.0.0..HEAD"]).success();
    let file = repo.root().join("BIG_MSG");
    std::fs::write(&file, &message).unwrap();
    repo.release()
        .args(["lint", "--edit"])
        .arg(&file)
        .assert()
        .success();
    repo.run(&["bump"]).success();
    assert!(repo.tag_message("v2.0.0").contains("the big footer"));
}

/// `release plan` with `config` as release.toml: the error line.
fn config_error(config: &str) -> String {
    let repo = Repo::new();
    repo.commit("feat: a");
    repo.write("release.toml", config);
    let err = clean_failure(repo.run(&["plan"]));
    repo.redact(&err)
}

#[test]
fn invalid_release_toml_names_file_line_and_key() {
    let cases = [
        (
            "unknown_key",
            "tag_prefix = \"v\"\n\n[changelog]\npath = \"C.md\"\ncontributor = true\n",
            "release.toml:5:",
            "changelog.contributor",
        ),
        (
            "wrong_type",
            "tag_prefix = \"v\"\n[bump]\nbreaking_always_bump_major = \"yes\"\n",
            "release.toml:3:",
            "bump.breaking_always_bump_major",
        ),
        (
            "wrong_type_in_list",
            "[hooks]\npre_bump = \"make check\"\n",
            "release.toml:2:",
            "hooks.pre_bump",
        ),
        (
            "bad_level",
            "[bump.types]\nfeat = \"huge\"\n",
            "release.toml:2:",
            "bump.types.feat",
        ),
        (
            "bad_version",
            "\ninitial_version = \"1.0\"\n",
            "release.toml:2:",
            "initial_version",
        ),
        (
            "bad_regex",
            "[[version_files]]\npath = \"x\"\nregex = \"(unclosed\"\n",
            "release.toml:3:",
            "regex",
        ),
        (
            "message_without_version",
            "[commit]\nmessage = \"release\"\n",
            "release.toml:2:",
            "message",
        ),
    ];
    for (name, config, location, key) in cases {
        let err = config_error(config);
        assert!(
            err.starts_with(&format!("error: [TMP]/repo/{location}")),
            "{name}: {err}"
        );
        assert!(err.contains(&format!("key `{key}`")), "{name}: {err}");
    }
    assert_snapshot!(
        "config_unknown_key",
        config_error("[changelog]\ncontributor = true\n")
    );
    // A package's table lists its keys, `assets` among them.
    assert_snapshot!(
        "config_package_unknown_key",
        config_error("[packages.api]\npath = \"services/api\"\nasset = [\"dist/*\"]\n")
    );
    assert_snapshot!(
        "config_wrong_type",
        config_error("[bump]\nbreaking_always_bump_major = \"yes\"\n")
    );
}

#[test]
fn release_toml_syntax_error_names_the_line() {
    let err = config_error("tag_prefix = \"v\"\n\n[bump\nx = 1\n");
    assert!(
        err.starts_with("error: [TMP]/repo/release.toml:3:"),
        "{err}"
    );
    assert_snapshot!("config_syntax_error", err);
    let err = config_error("tag_prefix = \"v\"\ntag_prefix = \"w\"\n");
    assert!(
        err.starts_with("error: [TMP]/repo/release.toml:2:"),
        "{err}"
    );
    assert!(err.contains("duplicate key"), "{err}");
}

#[test]
fn an_explicit_config_file_must_exist() {
    let repo = Repo::new();
    repo.commit("feat: a");
    let err = clean_failure(repo.run(&["--config", "nope.toml", "plan"]));
    assert!(
        err.contains("config file nope.toml does not exist"),
        "{err}"
    );
    repo.write("other.toml", "initial_version = \"2.0.0\"\n");
    let out = repo
        .run(&["--config", "other.toml", "plan", "--json"])
        .success();
    assert!(stdout(&out).contains("\"next_version\": \"2.0.0\""));
}

#[test]
fn bad_command_line_is_a_usage_error() {
    let repo = Repo::new();
    let out = repo.run(&["plan", "--nope"]).failure();
    assert_eq!(out.get_output().status.code(), Some(2));
    let out = repo
        .run(&["lint", "--edit", "x", "--range", "a..b"])
        .failure();
    assert_eq!(out.get_output().status.code(), Some(2));
}

#[test]
fn an_explicit_config_file_must_exist_for_every_command() {
    let repo = Repo::new();
    repo.commit("feat: a");
    repo.tag("v0.1.0");
    let commands: &[&[&str]] = &[
        &["plan"],
        &["bump", "--dry-run"],
        &["changelog"],
        &["lint", "feat: fine"],
        &["lint", "--range", "HEAD"],
        &["config"],
        &["config", "--default"],
        &["status"],
        &["history", "--env", "staging"],
        &["deploy", "0.1.0", "--env", "staging"],
        &["rollback", "--env", "staging"],
        &["unlock", "--env", "staging"],
        &["image", "build"],
        &["hooks", "install"],
        &["cut", "--dry-run"],
    ];
    for args in commands {
        let mut all = vec!["--config", "missing.toml"];
        all.extend_from_slice(args);
        let err = clean_failure(repo.run(&all));
        assert!(
            err.contains("config file missing.toml does not exist"),
            "{args:?}: {err}"
        );
    }
    // Outside a repository, `lint` reads no release.toml unless told to: told, it must exist.
    let dir = Repo::bare_dir();
    let err = clean_failure(dir.run(&["--config", "missing.toml", "lint", "feat: fine"]));
    assert!(
        err.contains("config file missing.toml does not exist"),
        "{err}"
    );
    dir.run(&["lint", "feat: fine"]).success();
}

/// A release.toml with one valid environment, `extra` lines added to it.
fn environment_config(extra: &str) -> String {
    format!("[environments.staging]\ncluster = \"c\"\nservices = [\"web\"]\ncontainer = \"app\"\n{extra}\n")
}

#[test]
fn rollout_settings_that_would_fail_later_are_refused_at_load() {
    let cases = [
        // Durations longer than 7 days (some overflow the clock).
        (
            environment_config("timeout = \"18446744073709551615s\""),
            "release.toml:5:",
            "environments.staging.timeout",
            "maximum of 7 days",
        ),
        (
            environment_config("timeout = \"6148914691236517206s\""),
            "release.toml:5:",
            "environments.staging.timeout",
            "maximum of 7 days",
        ),
        (
            environment_config("timeout = 9223372036854775807"),
            "release.toml:5:",
            "environments.staging.timeout",
            "maximum of 7 days",
        ),
        (
            environment_config("timeout = 604801"),
            "release.toml:5:",
            "environments.staging.timeout",
            "maximum of 7 days",
        ),
        (
            "[ledger]\nlock_ttl = \"5124095576030431h\"\n".to_string(),
            "release.toml:2:",
            "ledger.lock_ttl",
            "maximum of 7 days",
        ),
        (
            environment_config("poll_interval = \"500ms\""),
            "release.toml:5:",
            "environments.staging.poll_interval",
            "at most once a second",
        ),
        (
            environment_config("poll_interval = \"0s\""),
            "release.toml:5:",
            "environments.staging.poll_interval",
            "at most once a second",
        ),
        (
            "[environments.staging]\ncluster = \"c\"\nservices = [\"web\", \"worker\", \"web\"]\ncontainer = \"app\"\n".to_string(),
            "release.toml:3:",
            "environments.staging.services",
            "`web` is listed twice",
        ),
        (
            environment_config("tag = \"not a tag\""),
            "release.toml:5:",
            "environments.staging.tag",
            "not a valid image tag",
        ),
        (
            environment_config("tag = \"1.2.3\""),
            "release.toml:5:",
            "environments.staging.tag",
            "version tags never move",
        ),
        (
            "[environments.\"..\"]\ncluster = \"c\"\nservices = [\"web\"]\ncontainer = \"app\"\n".to_string(),
            "release.toml:",
            "environments...",
            "environment name",
        ),
        (
            "[environments.\"-x\"]\ncluster = \"c\"\nservices = [\"web\"]\ncontainer = \"app\"\n".to_string(),
            "release.toml:1:",
            "environments.-x",
            "environment name",
        ),
        (
            "[ledger]\nbackend = \"ssm\"\nprefix = \"/release-agent/../other\"\n".to_string(),
            "release.toml:3:",
            "ledger.prefix",
            "`..`",
        ),
    ];
    for (config, location, key, message) in cases {
        let err = config_error(&config);
        assert!(
            err.starts_with(&format!("error: [TMP]/repo/{location}")),
            "{config}\n{err}"
        );
        assert!(err.contains(&format!("key `{key}`")), "{config}\n{err}");
        assert!(err.contains(message), "{config}\n{err}");
    }
    // Refused by every command, at load: a rollback no longer overflows the clock.
    let repo = Repo::new();
    repo.commit("feat: a");
    repo.write(
        "release.toml",
        &environment_config("timeout = \"18446744073709551615s\""),
    );
    let err = clean_failure(repo.run(&["rollback", "--env", "staging"]));
    assert!(err.contains("environments.staging.timeout"), "{err}");
    // The limits themselves are accepted.
    repo.write(
        "release.toml",
        &environment_config("timeout = \"168h\"\npoll_interval = \"1s\"\ntag = \"live\""),
    );
    repo.run(&["plan"]).success();
}

#[test]
fn an_overflowing_wait_is_refused_naming_the_flag() {
    let repo = Repo::new();
    repo.commit("feat: a");
    repo.tag("v1.0.0");
    repo.write("release.toml", &environment_config(""));
    for wait in ["18446744073709551615s", "5124095576030431h", "8d", "169h"] {
        for args in [
            &["deploy", "1.0.0", "--env", "staging", "--wait", wait][..],
            &["rollback", "--env", "staging", "--wait", wait],
            &["promote", "1.0.0", "--to", "staging", "--wait", wait],
        ] {
            let err = clean_failure(repo.run(args));
            assert!(err.contains("--wait"), "{args:?}: {err}");
            assert!(
                err.contains("7 days") || err.contains("unknown unit"),
                "{args:?}: {err}"
            );
        }
    }
}

/// `release ARGS` in `repo` with stdout going to `stdout`; the finished process.
fn with_stdout(repo: &Repo, args: &[&str], stdout: std::process::Stdio) -> std::process::Output {
    let mut cmd = std::process::Command::new(support::release_bin());
    repo.env_for(&mut cmd);
    cmd.current_dir(repo.path())
        .args(args)
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null());
    cmd.output().expect("release runs")
}

const PRINTING: &[&[&str]] = &[
    &["plan"],
    &["plan", "--json"],
    &["changelog"],
    &["changelog", "--all"],
    &["config"],
    &["config", "--default"],
    &["bump", "--dry-run"],
];

#[test]
fn a_closed_stdout_ends_quietly_with_the_sigpipe_exit_code() {
    let repo = Repo::new();
    repo.commits(&["feat: a", "fix: b"]);
    for args in PRINTING {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = with_stdout(&repo, args, writer.into());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(141), "{args:?}: {err}");
        assert_eq!(err, "", "{args:?}: a closed pipe is not an error to report");
    }
}

#[test]
fn a_full_disk_on_stdout_is_a_clear_error() {
    if !std::path::Path::new("/dev/full").exists() {
        return;
    }
    let repo = Repo::new();
    repo.commits(&["feat: a", "fix: b"]);
    for args in PRINTING {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = with_stdout(&repo, args, full.into());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("error: writing to stdout: No space left on device"),
            "{args:?}: {err}"
        );
    }
}
