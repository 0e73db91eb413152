//! `release cut` end to end: pushes to real bare repositories, GitHub played by a stateful
//! fake on loopback, guard rails, every fault point resumed, GitHub failures and retries.
//!
//! The binary runs as a separate process (blocking, on the test's thread); the fake GitHub
//! serves from its own thread, so it answers while the test waits.

use crate::support::github::{Answer, FakeGithub, TOKEN};
use crate::support::{self, clean_failure, code, stderr, stdout, Published, Repo, RELEASE_DATE};
use assert_cmd::assert::Assert;
use serde_json::Value;

/// `release cut --yes [args]` in `repo`, against the fake GitHub.
fn cut(repo: &Repo, gh: &FakeGithub, args: &[&str]) -> Assert {
    cut_with(repo, gh, args, &[])
}

/// [`cut`] with more environment variables.
fn cut_with(repo: &Repo, gh: &FakeGithub, args: &[&str], env: &[(&str, &str)]) -> Assert {
    let mut cmd = repo.release_hermetic();
    cmd.envs(gh.env())
        .envs(env.iter().copied())
        .args(["cut", "--yes"])
        .args(args);
    cmd.assert()
}

/// `release cut --yes --json [args]`, which must succeed, parsed.
fn cut_json(repo: &Repo, gh: &FakeGithub, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = cut(repo, gh, &all).success();
    serde_json::from_str(&stdout(&out)).expect("cut --json prints JSON")
}

/// What a run may change: the clone's refs (remote-tracking refs aside: a fetch is not a
/// write), HEAD, index and files, and the remote's refs.
fn snapshot(p: &Published) -> (String, String) {
    let work: String = p
        .work
        .state()
        .lines()
        .filter(|l| !l.contains(" refs/remotes/"))
        .map(|l| format!("{l}\n"))
        .collect();
    (work, p.remote_refs())
}

/// A refusal: non-zero exit with a clear message containing `expected`, and nothing written,
/// locally or on the remote, and no release created.
async fn assert_refused(
    p: &Published,
    gh: &FakeGithub,
    before: (String, String),
    out: Assert,
    expected: &str,
) {
    let err = clean_failure(out);
    assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
    assert_eq!(snapshot(p), before, "a refused run changed something");
    assert_eq!(gh.post_count().await, 0);
    assert!(gh.releases().is_empty());
}

/// How many times `needle` occurs in `hay`.
fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

// ---------------------------------------------------------------------------------------------
// Happy path

#[tokio::test(flavor = "multi_thread")]
async fn cut_pushes_branch_and_annotated_tag_and_creates_one_github_release() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let before = p.work.head();

    let out = cut(&p.work, &gh, &[]).success();
    assert_eq!(
        stdout(&out),
        "released v1.1.0: minor since v1.0.0 (1 minor, 1 patch)\n\
         \x20 [applied     ] write version.txt\n\
         \x20 [applied     ] write CHANGELOG.md\n\
         \x20 [applied     ] commit \"chore(release): 1.1.0\"\n\
         \x20 [applied     ] tag v1.1.0 (annotated)\n\
         \x20 [applied     ] push main and v1.1.0 to origin (atomic)\n\
         \x20 [applied     ] github release v1.1.0\n\
         release: https://github.com/acme/app/releases/tag/v1.1.0\n"
    );
    assert_eq!(stderr(&out), "");

    // Locally: one release commit on main, clean, tagged.
    let release = p.work.head();
    assert_eq!(p.work.git(&["rev-parse", "HEAD~1"]), before);
    assert_eq!(p.work.log()[0], "chore(release): 1.1.0");
    assert_eq!(p.work.status(), "");
    assert_eq!(p.work.files_of("HEAD"), ["CHANGELOG.md", "version.txt"]);

    // The remote: main at the release commit, an annotated v1.1.0 on it, the same tag object.
    assert_eq!(p.remote_main(), release);
    assert_eq!(p.remote_tags(), ["v1.0.0", "v1.1.0"]);
    assert_eq!(p.remote_tag("v1.1.0").as_deref(), Some(release.as_str()));
    assert_eq!(
        p.remote.rev("refs/tags/v1.1.0"),
        p.work.rev("refs/tags/v1.1.0"),
        "the local tag object is the one pushed"
    );
    assert_eq!(p.remote_file("main", "version.txt"), "1.1.0");
    let changelog = p.remote_file("main", "CHANGELOG.md");
    assert_eq!(count(&changelog, "## [1.1.0]"), 1, "{changelog}");
    assert!(changelog.contains(&format!("## [1.1.0] - {RELEASE_DATE}")));
    assert!(changelog.contains("## [1.0.0] - 2020-01-01"));

    // GitHub: the permission check, the lookup, one creation with the tag's own notes.
    assert_eq!(
        gh.request_lines().await,
        [
            "GET /repos/acme/app",
            "GET /repos/acme/app/releases/tags/v1.1.0",
            "POST /repos/acme/app/releases",
        ]
    );
    for r in gh.requests().await {
        assert_eq!(
            r.headers.get("authorization").and_then(|v| v.to_str().ok()),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{} {}",
            r.method,
            r.url
        );
    }
    let notes = p.remote_tag_message("v1.1.0");
    assert!(notes.contains("- **api:** add an endpoint"), "{notes}");
    assert!(notes.contains("- handle empty input"), "{notes}");
    let posts = gh.posts().await;
    assert_eq!(
        posts,
        [serde_json::json!({
            "tag_name": "v1.1.0",
            "name": "v1.1.0",
            "body": notes,
            "draft": false,
            "prerelease": false,
        })]
    );
    let releases = gh.releases();
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0]["body"], notes.as_str());

    // Running again changes nothing and creates nothing.
    let refs = p.remote_refs();
    let again = cut_json(&p.work, &gh, &[]);
    assert_eq!(again["outcome"], "already_released", "{again:#}");
    assert_eq!(again["tag"], "v1.1.0");
    assert_eq!(
        again["release_url"],
        "https://github.com/acme/app/releases/tag/v1.1.0"
    );
    assert_eq!(p.remote_refs(), refs);
    assert_eq!(p.work.head(), release);
    assert_eq!(gh.post_count().await, 1);
    assert_eq!(gh.releases().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn cut_json_reports_every_step() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let report = cut_json(&p.work, &gh, &[]);
    assert_eq!(report["outcome"], "released");
    assert_eq!(report["version"], "1.1.0");
    assert_eq!(report["tag"], "v1.1.0");
    assert_eq!(report["prerelease"], false);
    assert_eq!(report["notes"], p.remote_tag_message("v1.1.0").as_str());
    let steps: Vec<(String, String)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "write version.txt",
            "write CHANGELOG.md",
            "commit \"chore(release): 1.1.0\"",
            "tag v1.1.0 (annotated)",
            "push main and v1.1.0 to origin (atomic)",
            "github release v1.1.0",
        ]
    );
    assert!(steps.iter().all(|(_, s)| s == "applied"), "{steps:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cut_pre_release_is_marked_as_such_on_github() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let out = cut(&p.work, &gh, &["--pre", "rc"]).success();
    assert!(
        stdout(&out).starts_with("released v1.1.0-rc.1: "),
        "{}",
        stdout(&out)
    );
    assert_eq!(p.remote_tag("v1.1.0-rc.1"), Some(p.work.head()));
    let posts = gh.posts().await;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["tag_name"], "v1.1.0-rc.1");
    assert_eq!(posts[0]["name"], "v1.1.0-rc.1");
    assert_eq!(posts[0]["prerelease"], true);
    assert_eq!(posts[0]["draft"], false);
    assert_eq!(
        posts[0]["body"],
        p.remote_tag_message("v1.1.0-rc.1").as_str()
    );
    assert!(gh
        .request_lines()
        .await
        .contains(&"GET /repos/acme/app/releases/tags/v1.1.0-rc.1".to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_changes_nothing_anywhere() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let before = snapshot(&p);
    let out = cut(&p.work, &gh, &["--dry-run"]).success();
    assert_eq!(
        stdout(&out),
        "dry run: would release v1.1.0\n\
         \x20 [would run   ] write version.txt\n\
         \x20 [would run   ] write CHANGELOG.md\n\
         \x20 [would run   ] commit \"chore(release): 1.1.0\"\n\
         \x20 [would run   ] tag v1.1.0 (annotated)\n\
         \x20 [would run   ] push main and v1.1.0 to origin (atomic)\n\
         \x20 [would run   ] github release v1.1.0\n"
    );
    assert_eq!(snapshot(&p), before);
    assert_eq!(gh.post_count().await, 0);
    assert!(gh.releases().is_empty());
    // Only reads reached GitHub.
    assert!(gh
        .request_lines()
        .await
        .iter()
        .all(|l| l.starts_with("GET ")));
}

/// The dry run lists the steps the run carries out, from the same list: hooks included.
#[tokio::test(flavor = "multi_thread")]
async fn dry_run_lists_every_step_the_run_carries_out() {
    let config = "[hooks]\npre_bump = [[\"touch\", \"../pre-ran\"]]\npost_bump = [[\"touch\", \"../post-ran\"]]\n";
    let p = Published::new(Some(config));
    let gh = FakeGithub::start().await;
    let dry = stdout(&cut(&p.work, &gh, &["--dry-run"]).success());
    assert!(!p.work.root().join("pre-ran").exists());
    let dry_names: Vec<String> = dry
        .lines()
        .skip(1)
        .map(|l| l.replacen("[would run   ]", "[ ]", 1))
        .collect();
    assert_eq!(
        dry_names.first().map(String::as_str),
        Some("  [ ] run pre_bump hooks (1)"),
        "{dry}"
    );
    assert!(
        dry_names.contains(&"  [ ] run post_bump hooks (1)".to_string()),
        "{dry}"
    );
    let run = stdout(&cut(&p.work, &gh, &[]).success());
    assert!(p.work.root().join("pre-ran").exists());
    assert!(p.work.root().join("post-ran").exists());
    let run_names: Vec<String> = run
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("  ["))
        .map(|l| l.replacen("[applied     ]", "[ ]", 1))
        .collect();
    assert_eq!(run_names, dry_names, "dry run:\n{dry}\nrun:\n{run}");
}

/// A cut whose post_bump hook failed is finished by the next cut: the hook runs again.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_post_bump_hook_is_retried_by_the_next_cut() {
    let config =
        "[hooks]\npost_bump = [[\"sh\", \"-c\", \"test -f ../allow && touch ../post-ran\"]]\n";
    let p = Published::new(Some(config));
    let gh = FakeGithub::start().await;
    let err = clean_failure(cut(&p.work, &gh, &[]));
    assert!(err.contains("post_bump hook"), "{err}");
    std::fs::write(p.work.root().join("allow"), "").unwrap();
    let out = cut(&p.work, &gh, &[]).success();
    assert!(
        stdout(&out).contains("[applied     ] run post_bump hooks of v1.1.0 (1, pending)"),
        "{}",
        stdout(&out)
    );
    assert!(p.work.root().join("post-ran").exists());
    assert_eq!(p.remote_tag("v1.1.0"), Some(p.work.head()));
    std::fs::remove_file(p.work.root().join("post-ran")).unwrap();
    let out = cut(&p.work, &gh, &[]).success();
    assert!(!stdout(&out).contains("post_bump"), "{}", stdout(&out));
    assert!(
        !p.work.root().join("post-ran").exists(),
        "the hook ran once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_github_the_release_is_pushed_and_the_step_skipped() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let out = cut(&p.work, &gh, &["--no-github"]).success();
    assert!(
        stdout(&out).contains("[skipped     ] github release (no GitHub repository)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(p.remote_tag("v1.1.0"), Some(p.work.head()));
    assert!(gh.request_lines().await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Guard rails: a clear message, nothing written, nothing created

#[tokio::test(flavor = "multi_thread")]
async fn refuses_a_branch_that_is_not_allowed() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    p.work.branch("feature");
    let before = snapshot(&p);
    let out = cut(&p.work, &gh, &[]);
    assert_refused(
        &p,
        &gh,
        before,
        out,
        "releases are cut from main, master (the `branches` setting), not from `feature`",
    )
    .await;
    assert!(gh.request_lines().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_main_when_the_configured_branches_do_not_include_it() {
    let p = Published::new(Some("branches = [\"release\"]\n"));
    let gh = FakeGithub::start().await;
    let before = snapshot(&p);
    let out = cut(&p.work, &gh, &[]);
    assert_refused(
        &p,
        &gh,
        before,
        out,
        "releases are cut from release (the `branches` setting), not from `main`",
    )
    .await;

    // The configured branch is accepted, though the remote does not have it yet.
    p.work.branch("release");
    let out = cut(&p.work, &gh, &[]).success();
    assert!(
        stdout(&out).starts_with("released v1.1.0"),
        "{}",
        stdout(&out)
    );
    assert_eq!(p.remote.rev("refs/heads/release"), Some(p.work.head()));
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_a_dirty_worktree() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    p.work.write("src.txt", "uncommitted\n");
    let before = snapshot(&p);
    let out = cut(&p.work, &gh, &[]);
    assert_refused(&p, &gh, before, out, "uncommitted changes (src.txt)").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_hand_edits_to_the_changelog() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    p.work.write(
        "CHANGELOG.md",
        &format!(
            "{}\nA note not meant for this release.\n",
            support::PUBLISHED_CHANGELOG
        ),
    );
    let before = snapshot(&p);
    let out = cut(&p.work, &gh, &[]);
    assert_refused(&p, &gh, before, out, "uncommitted changes (CHANGELOG.md)").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_when_behind_the_remote() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let other = p.clone_remote();
    other.commit_file("other.txt", "x\n", "fix: someone else's fix");
    other.git(&["push", "-q", "origin", "main"]);
    let before = snapshot(&p);
    let out = cut(&p.work, &gh, &[]);
    assert_refused(
        &p,
        &gh,
        before,
        out,
        "`main` is 1 commit(s) behind origin/main: pull first (`git pull --ff-only`)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_when_diverged_from_the_remote() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let other = p.clone_remote();
    other.commit_file("other.txt", "x\n", "fix: someone else's fix");
    other.git(&["push", "-q", "origin", "main"]);
    p.work.commit_file("mine.txt", "y\n", "fix: my fix");
    let before = snapshot(&p);
    let out = cut(&p.work, &gh, &[]);
    assert_refused(
        &p,
        &gh,
        before,
        out,
        "`main` and origin/main have diverged (1 local and 1 remote commit(s)): reconcile them first",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_a_version_whose_tag_is_on_the_remote_elsewhere() {
    // Someone tagged v1.1.0 on a commit that never reached main.
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let other = p.clone_remote();
    other.branch("experiment");
    other.commit_file("exp.txt", "x\n", "feat: experiment");
    other.annotated_tag("v1.1.0");
    other.git(&["push", "-q", "origin", "v1.1.0"]);
    let theirs = p.remote.rev("refs/tags/v1.1.0").unwrap();
    let before = snapshot(&p);
    let out = cut(&p.work, &gh, &[]);
    let err = clean_failure(out);
    assert!(
        err.contains(
            "tag v1.1.0 already exists: that version was released; choose another version"
        ),
        "{err}"
    );
    // The fetch brought the tag (as it is on the remote); nothing else changed, and the tag
    // on the remote was not moved.
    let (work, remote) = snapshot(&p);
    assert_eq!(remote, before.1);
    assert_eq!(p.remote.rev("refs/tags/v1.1.0").unwrap(), theirs);
    assert_eq!(p.work.rev("refs/tags/v1.1.0").unwrap(), theirs);
    let without_tag: String = work
        .lines()
        .filter(|l| !l.contains(" refs/tags/v1.1.0"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(without_tag, before.0);
    assert_eq!(gh.post_count().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn never_moves_a_remote_tag_that_differs_from_the_local_one() {
    // A local release (`release bump`) of v1.1.0 while another clone released v1.1.0 first.
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let other = p.clone_remote();
    other.commit_file("other.txt", "x\n", "feat: theirs");
    other.annotated_tag("v1.1.0");
    other.git(&["push", "-q", "origin", "main", "v1.1.0"]);
    let theirs = p.remote.rev("refs/tags/v1.1.0").unwrap();
    p.work.release_hermetic().arg("bump").assert().success();
    let ours = p.work.rev("refs/tags/v1.1.0").unwrap();
    assert_ne!(ours, theirs);
    let before = snapshot(&p);
    let out = cut(&p.work, &gh, &[]);
    let err = clean_failure(out);
    assert!(
        err.contains("! [rejected]        v1.1.0     -> v1.1.0  (would clobber existing tag)"),
        "{err}"
    );
    assert_eq!(p.remote_refs(), before.1);
    assert_eq!(p.remote.rev("refs/tags/v1.1.0").unwrap(), theirs);
    assert_eq!(p.work.rev("refs/tags/v1.1.0").unwrap(), ours);
    assert_eq!(gh.post_count().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_without_push_permission_before_any_write() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    gh.state().push = false;
    let before = snapshot(&p);
    let out = cut(&p.work, &gh, &[]);
    assert_refused(
        &p,
        &gh,
        before,
        out,
        "the GitHub token cannot push to acme/app: it needs contents: write",
    )
    .await;
    assert_eq!(gh.request_lines().await, ["GET /repos/acme/app"]);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_push_the_remote_rejects_publishes_nothing_and_a_later_run_finishes() {
    // The remote refuses pushes (a server-side hook, as for a protected branch). `git push
    // --dry-run` does not run the remote's hooks, so the refusal comes at the real push, which
    // is atomic: neither branch nor tag lands, and no GitHub release is made.
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let hook = p.remote.path().join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'protected branch' >&2\nexit 1\n").unwrap();
    support::make_executable(&hook);
    let remote_before = p.remote_refs();
    let err = clean_failure(cut(&p.work, &gh, &[]));
    assert!(
        err.contains("the push of main and v1.1.0 was refused, so nothing was published (run again after fixing the cause)"),
        "{err}"
    );
    assert!(err.contains("pre-receive hook declined"), "{err}");
    assert_eq!(p.remote_refs(), remote_before);
    assert_eq!(gh.post_count().await, 0);

    // The cause is fixed: the next run pushes the release made locally and creates it.
    std::fs::remove_file(&hook).unwrap();
    let report = cut_json(&p.work, &gh, &[]);
    assert_eq!(report["outcome"], "released", "{report:#}");
    assert_eq!(report["reason"], "completed the release of v1.1.0");
    assert_eq!(p.remote_tag("v1.1.0"), Some(p.work.head()));
    assert_eq!(p.remote_main(), p.work.head());
    assert_eq!(gh.releases().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_without_a_token_when_a_github_repository_is_configured() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let before = snapshot(&p);
    let mut cmd = p.work.release_hermetic();
    cmd.envs(gh.env().into_iter().filter(|(k, _)| *k != "GITHUB_TOKEN"))
        .args(["cut", "--yes"]);
    let out = cmd.assert();
    assert_refused(&p, &gh, before, out, "no GitHub token: set GITHUB_TOKEN").await;
    assert!(gh.request_lines().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_to_release_exits_zero_with_one_line() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    p.work.annotated_tag("v1.1.0");
    p.work.commit("chore: tidy up");
    p.work.git(&["push", "-q", "origin", "main", "v1.1.0"]);
    let before = snapshot(&p);
    let out = cut(&p.work, &gh, &[]).success();
    let text = stdout(&out);
    assert_eq!(
        text,
        "nothing to release: 1 commit(s) since v1.1.0, none of a type that bumps the version\n"
    );
    assert_eq!(stderr(&out), "");
    assert_eq!(snapshot(&p), before);
    assert!(gh.request_lines().await.is_empty());

    let report = cut_json(&p.work, &gh, &[]);
    assert_eq!(report["outcome"], "nothing_to_release");
    assert_eq!(report["reason"], text.trim_end());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_in_progress_in_the_same_clone_is_not_interleaved_with() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let lock = p.work.path().join(".git/release-agent.lock");
    // This test's own process stands for the run in progress.
    std::fs::write(&lock, format!("{}\n", std::process::id())).unwrap();
    let before = snapshot(&p);
    let out = cut(&p.work, &gh, &[]);
    assert_refused(
        &p,
        &gh,
        before,
        out,
        "another release is running in this clone",
    )
    .await;
    assert!(lock.exists(), "another run's lock is left alone");
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn the_lock_of_a_killed_run_is_taken_over() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let lock = p.work.path().join(".git/release-agent.lock");
    std::fs::write(&lock, format!("{pid}\n")).unwrap();
    let out = cut(&p.work, &gh, &[]).success();
    assert!(
        stdout(&out).starts_with("released v1.1.0"),
        "{}",
        stdout(&out)
    );
    assert!(!lock.exists(), "the lock is released at the end");
}

// ---------------------------------------------------------------------------------------------
// Resumability: a run killed after any step is completed by the next run, and the end state is
// the one a run that never failed leaves.

/// What the remote and GitHub look like after a release: compared between a clean run and a
/// run that was killed and resumed.
#[derive(Debug, PartialEq)]
struct EndState {
    /// The remote's tags.
    tags: Vec<String>,
    /// The parent of the remote's main (the commit that was released).
    parent: String,
    /// The tree of the release commit.
    tree: String,
    /// Its message.
    message: String,
    /// The tag's message.
    tag_message: String,
    /// Bodies of the POSTs made.
    posts: Vec<Value>,
    /// Releases GitHub holds.
    releases: usize,
}

async fn end_state(p: &Published, gh: &FakeGithub) -> EndState {
    let main = p.remote_main();
    assert_eq!(
        p.remote_tag("v1.1.0").as_deref(),
        Some(main.as_str()),
        "the tag is on the remote's main"
    );
    assert_eq!(p.work.head(), main, "the clone is at the release commit");
    assert_eq!(p.work.status(), "", "the clone is clean");
    assert_eq!(
        p.work.rev("refs/tags/v1.1.0"),
        p.remote.rev("refs/tags/v1.1.0")
    );
    let changelog = p.remote_file("main", "CHANGELOG.md");
    assert_eq!(count(&changelog, "## [1.1.0]"), 1, "{changelog}");
    EndState {
        tags: p.remote_tags(),
        parent: p.remote.git(&["rev-parse", "main~1"]),
        tree: p.remote.git(&["rev-parse", "main^{tree}"]),
        message: p.remote.git(&["log", "-1", "--format=%B", "main"]),
        tag_message: p.remote_tag_message("v1.1.0"),
        posts: gh.posts().await,
        releases: gh.releases().len(),
    }
}

/// The end state of a release that never failed.
async fn reference_end_state() -> EndState {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    cut(&p.work, &gh, &[]).success();
    end_state(&p, &gh).await
}

/// Kill the run after `step`, check what it left, run again, compare with a clean run.
async fn resume_after(step: &str) {
    let reference = reference_end_state().await;
    assert_eq!(reference.posts.len(), 1);
    assert_eq!(reference.releases, 1);

    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let start = p.work.head();
    let remote_before = p.remote_refs();
    let out = cut_with(&p.work, &gh, &[], &[("RELEASE_AGENT_FAIL_AFTER", step)]);
    assert_eq!(code(&out), 86, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("fault injected after step `{step}`")),
        "{}",
        stderr(&out)
    );

    // What the killed run left behind.
    let pushed = matches!(step, "push" | "github-release");
    if pushed {
        assert_eq!(p.remote_main(), p.work.head());
        assert_eq!(p.remote_tag("v1.1.0"), Some(p.work.head()));
    } else {
        assert_eq!(p.remote_refs(), remote_before, "nothing pushed yet");
    }
    match step {
        "write-files" => {
            assert_eq!(p.work.head(), start);
            assert_eq!(p.work.read("version.txt"), "1.1.0\n");
            assert!(p.work.tags().iter().all(|t| t != "v1.1.0"));
        }
        "commit" => {
            assert_eq!(p.work.git(&["rev-parse", "HEAD~1"]), start);
            assert!(p.work.tags().iter().all(|t| t != "v1.1.0"));
        }
        "tag" => assert_eq!(p.work.rev("refs/tags/v1.1.0^{commit}"), Some(p.work.head())),
        _ => {}
    }
    let posts_after_fault = gh.post_count().await;
    assert_eq!(posts_after_fault, usize::from(step == "github-release"));

    // The next run completes the release.
    let report = cut_json(&p.work, &gh, &[]);
    let expected_outcome = if step == "github-release" {
        "already_released"
    } else {
        "released"
    };
    assert_eq!(report["outcome"], expected_outcome, "{report:#}");
    assert_eq!(report["tag"], "v1.1.0");
    assert_eq!(
        report["release_url"],
        "https://github.com/acme/app/releases/tag/v1.1.0"
    );

    let resumed = end_state(&p, &gh).await;
    assert_eq!(resumed, reference, "resumed after `{step}`");

    // And a third run finds everything done.
    let again = cut_json(&p.work, &gh, &[]);
    assert_eq!(again["outcome"], "already_released", "{again:#}");
    assert_eq!(gh.post_count().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn resumes_after_write_files() {
    resume_after("write-files").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn resumes_after_commit() {
    resume_after("commit").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn resumes_after_tag() {
    resume_after("tag").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn resumes_after_push() {
    resume_after("push").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn resumes_after_github_release() {
    resume_after("github-release").await;
}

// ---------------------------------------------------------------------------------------------
// GitHub failures

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_on_create_are_retried() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    {
        let mut s = gh.state();
        s.post_script.push_back(Answer::error(500, "Server Error"));
        s.post_script.push_back(Answer::error(502, "Bad Gateway"));
    }
    let out = cut(&p.work, &gh, &[]).success();
    assert!(
        stderr(&out).contains("retrying in 10 ms (attempt 1)"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).starts_with("released v1.1.0"),
        "{}",
        stdout(&out)
    );
    assert_eq!(gh.post_count().await, 3);
    assert_eq!(gh.releases().len(), 1);
    // Every attempt carried the same request.
    let posts = gh.posts().await;
    assert!(posts.iter().all(|b| b == &posts[0]));
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_are_retried() {
    // A secondary rate limit (429 with Retry-After) and a primary one (403 with no requests
    // remaining and a reset time already past): both are waited out, not failed on.
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    {
        let mut s = gh.state();
        s.post_script.push_back(
            Answer::error(429, "You have exceeded a secondary rate limit")
                .with_header("retry-after", "0"),
        );
        s.post_script.push_back(
            Answer::error(403, "API rate limit exceeded for installation ID 1.")
                .with_header("x-ratelimit-remaining", "0")
                .with_header("x-ratelimit-reset", "0"),
        );
    }
    let out = cut(&p.work, &gh, &[]).success();
    assert!(
        stdout(&out).starts_with("released v1.1.0"),
        "{}",
        stdout(&out)
    );
    assert_eq!(gh.post_count().await, 3);
    assert_eq!(gh.releases().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_github_outage_fails_the_run_and_the_next_run_completes_it() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    gh.state().post_always = Some(Answer::error(500, "Server Error"));
    let out = cut(&p.work, &gh, &[]);
    let err = clean_failure(out);
    assert!(
        err.contains("error: GitHub POST /repos/acme/app/releases answered 500: Server Error"),
        "{err}"
    );
    let attempts = gh.post_count().await;
    assert!(attempts > 1, "5xx is retried ({attempts} attempt(s))");
    assert!(gh.releases().is_empty());
    // Branch and tag were pushed before GitHub failed.
    let tag = p.remote.rev("refs/tags/v1.1.0").expect("tag pushed");
    let main = p.remote_main();

    // GitHub is back.
    gh.state().post_always = None;
    let report = cut_json(&p.work, &gh, &[]);
    assert_eq!(report["outcome"], "released", "{report:#}");
    assert_eq!(report["reason"], "completed the release of v1.1.0");
    assert_eq!(gh.releases().len(), 1);
    assert_eq!(gh.post_count().await, attempts + 1);
    assert_eq!(
        p.remote.rev("refs/tags/v1.1.0").unwrap(),
        tag,
        "never moved"
    );
    assert_eq!(p.remote_main(), main);
    assert_eq!(p.remote_tags(), ["v1.0.0", "v1.1.0"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_errors_are_not_retried() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    gh.state().post_always = Some(Answer::error(403, "Resource not accessible by integration"));
    let err = clean_failure(cut(&p.work, &gh, &[]));
    assert!(
        err.contains("error: GitHub POST /repos/acme/app/releases answered 403: Resource not accessible by integration (the token lacks permission: it needs contents: write)"),
        "{err}"
    );
    assert_eq!(gh.post_count().await, 1, "a 403 is not retried");
    assert!(gh.releases().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_created_meanwhile_is_not_created_again() {
    // The release appears between the lookup and the creation (another run): GitHub answers
    // 422 already_exists, and the run takes the release that exists.
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    gh.state().appears_on_post = Some(serde_json::json!({
        "url": "https://api.github.com/repos/acme/app/releases/99",
        "html_url": "https://github.com/acme/app/releases/tag/v1.1.0-by-another-run",
        "id": 99,
        "tag_name": "v1.1.0",
        "name": "v1.1.0",
        "body": "made elsewhere",
        "draft": false,
        "prerelease": false,
        "created_at": "2025-06-15T00:00:00Z",
        "published_at": "2025-06-15T00:00:00Z",
        "author": {"login": "octocat", "id": 1, "type": "User"},
        "assets": []
    }));
    let report = cut_json(&p.work, &gh, &[]);
    assert_eq!(
        report["release_url"],
        "https://github.com/acme/app/releases/tag/v1.1.0-by-another-run"
    );
    assert_eq!(gh.releases().len(), 1, "no second release");
    assert_eq!(gh.post_count().await, 1, "a 422 is not retried");
    assert_eq!(
        gh.request_lines().await,
        [
            "GET /repos/acme/app",
            "GET /repos/acme/app/releases/tags/v1.1.0",
            "POST /repos/acme/app/releases",
            "GET /repos/acme/app/releases/tags/v1.1.0",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// The moving major tag

#[tokio::test(flavor = "multi_thread")]
async fn major_tag_follows_each_stable_release_and_never_a_pre_release() {
    let p = Published::new(Some("[github]\nmajor_tag = true\n"));
    let gh = FakeGithub::start().await;
    cut(&p.work, &gh, &["--pre", "rc"]).success();
    assert_eq!(p.remote_tag("v1.1.0-rc.1"), Some(p.remote_main()));
    assert_eq!(p.remote_tag("v1"), None, "a pre-release leaves v1 alone");

    p.work.commit("fix: one more fix");
    let report = cut_json(&p.work, &gh, &[]);
    assert_eq!(report["version"], "1.1.0", "{report:#}");
    assert_eq!(p.remote_tag("v1"), Some(p.remote_main()));
    assert_eq!(
        p.work.rev("refs/tags/v1"),
        Some(p.remote_main()),
        "and locally"
    );
    let moved = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "move v1 to v1.1.0 on origin")
        .cloned()
        .unwrap_or_default();
    assert_eq!(moved["state"], "applied", "{report:#}");

    p.work.commit("fix: and another");
    cut(&p.work, &gh, &[]).success();
    let main = p.remote_main();
    assert_eq!(p.remote_tag("v1.1.1"), Some(main.clone()));
    assert_eq!(p.remote_tag("v1"), Some(main.clone()), "moved to 1.1.1");

    // Done is done: a re-run leaves it.
    let again = cut_json(&p.work, &gh, &[]);
    assert_eq!(again["outcome"], "already_released", "{again:#}");
    assert_eq!(p.remote_tag("v1"), Some(main));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_major_tag_no_tag_moves() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    cut(&p.work, &gh, &[]).success();
    assert_eq!(p.remote_tags(), ["v1.0.0", "v1.1.0"]);
}
