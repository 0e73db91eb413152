//! `release lint` and `release hooks install`, with real files, real commits and a real
//! `git commit` going through the installed hook.

use crate::support::{assert_snapshot, clean_failure, code, release_bin, stderr, stdout, Repo};
use std::ffi::OsString;

/// `release lint --edit FILE` on `message`; the finished command.
fn lint_file(repo: &Repo, message: &str) -> assert_cmd::assert::Assert {
    let file = repo.root().join("COMMIT_EDITMSG");
    std::fs::write(&file, message).unwrap();
    repo.release().args(["lint", "--edit"]).arg(&file).assert()
}

#[test]
fn good_messages_pass_silently() {
    let repo = Repo::new();
    for message in [
        "feat: add a thing\n",
        "fix(parser)!: drop v1\n\nLong body\nover lines.\n\nBREAKING CHANGE: v1 syntax is gone\nRefs: #12\n",
        "chore(release): 1.2.0",
        "Merge branch 'topic'\n",
        "Revert \"feat: a\"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.\n",
        "fixup! feat: a\n",
        // What git writes into COMMIT_EDITMSG: comments and a verbose diff below the scissors.
        "feat: a\n\n# Please enter the commit message for your changes. Lines starting\n# with '#' will be ignored.\n#\n# On branch main\n# ------------------------ >8 ------------------------\n# Do not modify or remove the line above.\ndiff --git a/x b/x\nnot a conventional line\n",
        "# leading comment\nfeat: a\n",
        "fix: windows line endings\r\n\r\nbody\r\n",
    ] {
        let out = lint_file(&repo, message).success();
        assert_eq!(stderr(&out), "", "{message:?}");
        assert_eq!(stdout(&out), "", "{message:?}");
    }
}

#[test]
fn bad_messages_fail_with_a_located_friendly_error() {
    let repo = Repo::new();
    let out = lint_file(&repo, "Added stuff\nmore stuff\n").failure();
    assert_eq!(code(&out), 1);
    let err = stderr(&out).replace(repo.root().to_str().unwrap(), "[TMP]");
    assert_snapshot!("lint_edit_two_problems", err);
    assert!(err.contains("COMMIT_EDITMSG, line 1"), "{err}");
    assert!(err.contains("COMMIT_EDITMSG, line 2"), "{err}");
    assert!(err.contains("e.g. `feat(parser): "), "{err}");
    assert_eq!(stdout(&out), "");

    let table = [
        (
            "feat:stuff",
            "the `:` after the type must be followed by a space",
        ),
        ("feature: x", "unknown type `feature`"),
        ("feat(my scope): x", "the scope `(my scope)` must be a word"),
        ("feat(x: y", "the scope is missing its closing `)`"),
        ("f3at: x", "the type `f3at` must be letters only"),
        (": x", "no type before the `:`"),
        ("", "the message is empty"),
        ("# only a comment\n", "the message is empty"),
        (
            "fix: a\n\nbreaking change: b",
            "a breaking-change footer must be written in upper case",
        ),
    ];
    for (message, expected) in table {
        let out = lint_file(&repo, message).failure();
        let err = stderr(&out);
        assert!(err.contains(expected), "{message:?}:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let long = format!("feat: {}", "x".repeat(120));
    let err = stderr(&lint_file(&repo, &long).failure());
    assert!(
        err.contains("the header is 126 characters long, more than 100"),
        "{err}"
    );
}

#[test]
fn line_numbers_point_into_the_file_even_after_comments() {
    let repo = Repo::new();
    let out = lint_file(
        &repo,
        "# Write a Conventional Commit\n\nfix: a\nbody right below\n# trailing comment\n",
    )
    .failure();
    let err = stderr(&out);
    assert!(err.contains("COMMIT_EDITMSG, line 4\n"), "{err}");
    assert!(err.contains("   | body right below\n"), "{err}");
}

#[test]
fn lint_reads_a_message_argument_or_stdin_and_uses_the_configured_types() {
    let repo = Repo::new();
    repo.run(&["lint", "feat: ok"]).success();
    repo.release()
        .arg("lint")
        .write_stdin("fix: from stdin\n")
        .assert()
        .success();
    let err = stderr(
        &repo
            .release()
            .arg("lint")
            .write_stdin("nope\n")
            .assert()
            .failure(),
    );
    assert!(err.contains("--> stdin, line 1"), "{err}");

    repo.write(
        "release.toml",
        "[lint]\ntypes = [\"feat\", \"fix\", \"security\"]\nmax_header_length = 20\n",
    );
    repo.run(&["lint", "security: patch"]).success();
    let err = stderr(&repo.run(&["lint", "chore: tidy"]).failure());
    assert!(err.contains("use one of: feat, fix, security"), "{err}");
    let err = stderr(&repo.run(&["lint", "feat: a rather long header"]).failure());
    assert!(err.contains("more than 20"), "{err}");
}

#[test]
fn lint_works_outside_a_repository() {
    let dir = Repo::bare_dir();
    dir.run(&["lint", "feat: ok"]).success();
    let err = stderr(&dir.run(&["lint", "not ok"]).failure());
    assert!(err.contains("has no `type: ` prefix"), "{err}");
    let err = clean_failure(dir.run(&["lint", "--edit", "missing-file"]));
    assert!(err.contains("cannot read missing-file"), "{err}");
}

#[test]
fn range_reports_bad_commits_by_short_id_and_skips_merges() {
    let repo = Repo::new();
    repo.commit("feat: base");
    repo.tag("v1.0.0");
    let bad1 = repo.commit("bad one");
    repo.branch("topic");
    let bad2 = repo.commit("also bad");
    repo.commit("fix(topic): fine");
    repo.switch("main");
    repo.commit("docs: fine");
    // A merge with a non-conventional message: merges are not linted.
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "weird merge message",
        "topic",
    ]);
    repo.commit("feat: last");

    let out = repo.run(&["lint", "--range", "v1.0.0..HEAD"]).failure();
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("--> commit {}, line 1", &bad1[..7])),
        "{err}"
    );
    assert!(
        err.contains(&format!("--> commit {}, line 1", &bad2[..7])),
        "{err}"
    );
    assert!(!err.contains("weird merge message"), "{err}");
    assert!(
        err.contains("2 of 5 commit(s) do not follow Conventional Commits"),
        "{err}"
    );
    assert_eq!(err.matches("error: ").count(), 2, "{err}");

    // Only good commits in the range.
    let out = repo.run(&["lint", "--range", "HEAD~1..HEAD"]).success();
    assert!(
        stderr(&out).contains("1 commit(s) checked, all conventional"),
        "{}",
        stderr(&out)
    );
    // A single ref: all of its history.
    let err = stderr(&repo.run(&["lint", "--range", "main"]).failure());
    assert!(err.contains("2 of 6 commit(s)"), "{err}");
    // A range that does not resolve.
    let err = clean_failure(repo.run(&["lint", "--range", "nope..HEAD"]));
    assert!(
        err.contains("cannot resolve the range `nope..HEAD`"),
        "{err}"
    );
}

#[test]
fn range_snapshot() {
    let repo = Repo::new();
    repo.commit("feat: base");
    repo.commit("Added stuff\nno blank line");
    repo.commit("feat:x");
    let err = stderr(&repo.run(&["lint", "--range", "HEAD~2..HEAD"]).failure());
    assert_snapshot!("lint_range", err);
}

#[cfg(unix)]
fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o111 == 0o111
}

#[cfg(not(unix))]
fn is_executable(_: &std::path::Path) -> bool {
    true
}

#[test]
fn hooks_install_writes_an_executable_commit_msg_hook() {
    let repo = Repo::new();
    let out = repo.run(&["hooks", "install"]).success();
    let hook = repo.path().join(".git/hooks/commit-msg");
    assert_eq!(stdout(&out).trim(), format!("installed {}", hook.display()));
    assert!(is_executable(&hook));
    let text = std::fs::read_to_string(&hook).unwrap();
    assert!(text.starts_with("#!/bin/sh\n"), "{text}");
    assert!(text.contains("release lint --edit \"$1\""), "{text}");
    // Installing again over our own hook is fine.
    repo.run(&["hooks", "install"]).success();
}

#[test]
fn hooks_install_refuses_to_overwrite_a_foreign_hook_without_force() {
    let repo = Repo::new();
    let hook = repo.path().join(".git/hooks/commit-msg");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::fs::write(&hook, "#!/bin/sh\necho mine\n").unwrap();
    let err = clean_failure(repo.run(&["hooks", "install"]));
    assert!(
        err.contains("already exists and is not release's hook"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    repo.run(&["hooks", "install", "--force"]).success();
    assert!(std::fs::read_to_string(&hook)
        .unwrap()
        .contains("release lint --edit"));
    assert!(is_executable(&hook));
}

#[test]
fn hooks_install_in_a_linked_worktree_writes_where_git_reads_hooks() {
    let repo = Repo::new();
    repo.commit("feat: start");
    let wt = repo.root().join("wt");
    repo.git(&["worktree", "add", "-q", "-b", "other", wt.to_str().unwrap()]);
    let out = repo
        .release()
        .current_dir(&wt)
        .args(["hooks", "install"])
        .assert()
        .success();
    // Where git itself looks for the hook from the worktree.
    let mut cmd = repo.git_cmd(&["rev-parse", "--path-format=absolute", "--git-path", "hooks"]);
    cmd.current_dir(&wt);
    let dir = String::from_utf8(cmd.output().unwrap().stdout).unwrap();
    let hook = std::path::Path::new(dir.trim()).join("commit-msg");
    assert_eq!(hook, repo.path().join(".git/hooks/commit-msg"));
    assert_eq!(stdout(&out).trim(), format!("installed {}", hook.display()));
    assert!(is_executable(&hook));
    // And git runs it there: a commit in the worktree is checked.
    let hook_text =
        "#!/bin/sh\necho checked > \"$(git rev-parse --git-common-dir)/../../hook-ran\"\n";
    std::fs::write(&hook, hook_text).unwrap();
    let mut commit = repo.git_cmd(&["commit", "-q", "--allow-empty", "-m", "feat: x"]);
    commit.current_dir(&wt);
    assert!(commit.status().unwrap().success());
    assert!(repo.root().join("hook-ran").exists());
}

#[test]
fn hooks_install_honours_core_hooks_path() {
    let repo = Repo::new();
    repo.git(&["config", "core.hooksPath", ".githooks"]);
    repo.run(&["hooks", "install"]).success();
    assert!(repo.path().join(".githooks/commit-msg").is_file());
    assert!(!repo.path().join(".git/hooks/commit-msg").exists());
    // From a subdirectory, the relative path is still taken from the worktree root.
    std::fs::create_dir_all(repo.path().join("sub")).unwrap();
    repo.release()
        .current_dir(repo.path().join("sub"))
        .args(["hooks", "install"])
        .assert()
        .success();
    assert!(!repo.path().join("sub/.githooks").exists());

    let absolute = Repo::new();
    let dir = absolute.root().join("shared-hooks");
    absolute.git(&["config", "core.hooksPath", dir.to_str().unwrap()]);
    absolute.run(&["hooks", "install"]).success();
    assert!(dir.join("commit-msg").is_file());
}

/// PATH with the directory of the cargo-built `release` first.
fn path_with_release() -> OsString {
    let dir = release_bin().parent().unwrap().to_path_buf();
    let mut paths = vec![dir];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

#[test]
fn the_installed_hook_rejects_bad_commits_and_accepts_good_ones() {
    let repo = Repo::new();
    repo.run(&["hooks", "install"]).success();
    let commit = |message: &str| {
        repo.git_cmd(&["commit", "--allow-empty", "-m", message])
            .env("PATH", path_with_release())
            .output()
            .unwrap()
    };
    let bad = commit("bad message");
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("the header `bad message` has no `type: ` prefix"),
        "{err}"
    );
    assert!(err.contains("COMMIT_EDITMSG, line 1"), "{err}");
    assert_eq!(
        repo.git_output(&["rev-parse", "--verify", "-q", "HEAD"])
            .status
            .code(),
        Some(1),
        "the bad commit was made"
    );

    let good = commit("feat: good message");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert_eq!(repo.log(), ["feat: good message"]);

    // Shell metacharacters in the message are data for the hook, not commands.
    let sneaky = commit("fix: $(touch pwned) `touch pwned2`; touch pwned3");
    assert!(sneaky.status.success());
    let sneaky_bad = commit("$(touch pwned4); oops");
    assert!(!sneaky_bad.status.success());
    for f in ["pwned", "pwned2", "pwned3", "pwned4"] {
        assert!(!repo.exists(f), "{f} was created");
    }
    // `--no-verify` bypasses the hook, as git users expect.
    let out = repo
        .git_cmd(&["commit", "--allow-empty", "--no-verify", "-m", "wip"])
        .env("PATH", path_with_release())
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn a_squash_merged_git_revert_passes_like_the_plain_one() {
    let repo = Repo::new();
    for message in [
        "Revert \"fix(deps): update yargs\" (#2534)\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.\n",
        "Revert \"feat: a (#12)\" (#13)\n",
    ] {
        let out = lint_file(&repo, message).success();
        assert_eq!(stderr(&out), "", "{message:?}");
    }
}

/// Whatever `release lint` accepts, `release plan` reads the same way: a line that looks like a
/// breaking-change footer either is one (plan bumps major) or lint rejects the message.
#[test]
fn lint_and_plan_agree_on_breaking_changes() {
    let footers = [
        ("BREAKING CHANGE:", Some("has no description")),
        ("BREAKING-CHANGE:   ", Some("has no description")),
        ("BREAKING CHANGES: the api", Some("not a footer token")),
        (
            "BREAKING CHANGE:the api",
            Some("must be followed by a space"),
        ),
        (
            "BREAKING CHANGE : the api",
            Some("is not read as a breaking-change footer"),
        ),
        ("BREAKING CHANGE: the api", None),
        ("BREAKING-CHANGE: the api", None),
        (
            "BREAKING CHANGE:\n  the api, described on the next line",
            None,
        ),
        ("BREAKING CHANGE #12", None),
        // `:` then a newline is a separator too: the next line is the description.
        ("BREAKING CHANGE:\nRefs: #12", None),
    ];
    for (footer, problem) in footers {
        let repo = Repo::new();
        repo.commit("feat: first");
        repo.tag("v1.0.0");
        repo.commit(&format!("fix: a\n\nbody\n\n{footer}\n"));
        let lint = repo.run(&["lint", "--range", "v1.0.0..HEAD"]);
        let plan = repo.plan_json(&[]);
        let breaking = plan["commits"][0]["breaking"].as_bool().unwrap();
        match problem {
            None => {
                lint.success();
                assert!(breaking, "{footer:?}: lint accepts it, plan must count it");
                assert_eq!(plan["next_version"], "2.0.0", "{footer:?}");
            }
            Some(problem) => {
                let err = stderr(&lint.failure());
                assert!(err.contains(problem), "{footer:?}:\n{err}");
                assert!(err.contains("BREAKING CHANGE: <what changed"), "{err}");
                assert!(!breaking, "{footer:?}");
            }
        }
    }
}
