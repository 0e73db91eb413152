//! `release ci` end to end: the automatic run on a merge. Real bare remotes, a stateful fake
//! GitHub, `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY` as temporary files, and two runs racing
//! for the same release.

use crate::support::github::FakeGithub;
use crate::support::{stderr, stdout, Published, Repo};
use assert_cmd::assert::Assert;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The files a job hands to `release ci`.
struct JobFiles {
    _dir: tempfile::TempDir,
    output: PathBuf,
    summary: PathBuf,
}

impl JobFiles {
    /// `$GITHUB_OUTPUT` already holding an earlier step's output, an empty summary.
    fn new() -> JobFiles {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("github_output");
        let summary = dir.path().join("step_summary");
        std::fs::write(&output, "earlier=step\n").unwrap();
        JobFiles {
            _dir: dir,
            output,
            summary,
        }
    }

    /// The outputs `release ci` appended, as `key=value` lines.
    fn outputs(&self) -> String {
        let all = std::fs::read_to_string(&self.output).unwrap();
        all.strip_prefix("earlier=step\n")
            .expect("earlier outputs are kept")
            .to_string()
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(&self.summary).unwrap_or_default()
    }
}

/// `release ci [args]` as a job step runs it: `CI=true`, the fake GitHub, the job's files.
fn ci_process(
    repo: &Repo,
    gh: &FakeGithub,
    job: &JobFiles,
    args: &[&str],
) -> std::process::Command {
    let mut cmd = repo.release_process();
    cmd.envs(gh.env())
        .env("CI", "true")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &job.output)
        .env("GITHUB_STEP_SUMMARY", &job.summary)
        .arg("ci")
        .args(args);
    cmd
}

fn ci(repo: &Repo, gh: &FakeGithub, job: &JobFiles, args: &[&str]) -> Assert {
    assert_cmd::Command::from_std(ci_process(repo, gh, job, args)).assert()
}

fn ci_json(repo: &Repo, gh: &FakeGithub, job: &JobFiles) -> Value {
    let out = ci(repo, gh, job, &["--json"]).success();
    serde_json::from_str(&stdout(&out)).expect("ci --json prints JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn ci_releases_and_writes_outputs_and_summary() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let job = JobFiles::new();
    let out = ci(&p.work, &gh, &job, &[]).success();
    assert!(
        stdout(&out).starts_with("released v1.1.0: minor since v1.0.0 (1 minor, 1 patch)\n"),
        "{}",
        stdout(&out)
    );
    assert_eq!(p.remote_tag("v1.1.0"), Some(p.remote_main()));
    assert_eq!(p.remote_main(), p.work.head());
    assert_eq!(gh.releases().len(), 1);

    assert_eq!(
        job.outputs(),
        "released=true\noutcome=released\nversion=1.1.0\ntag=v1.1.0\nprerelease=false\ndeployed=\n"
    );
    let notes = p.remote_tag_message("v1.1.0");
    assert_eq!(
        job.summary(),
        format!(
            "## Released v1.1.0\n\n\
             released v1.1.0: minor since v1.0.0 (1 minor, 1 patch)\n\n\
             [GitHub release](https://github.com/acme/app/releases/tag/v1.1.0)\n\n\
             {notes}\n"
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ci_with_nothing_to_release_exits_zero_and_says_why() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    p.work.annotated_tag("v1.1.0");
    p.work.commit("docs: nothing user-facing");
    p.work.commit("chore: tidy up");
    p.work.git(&["push", "-q", "origin", "main", "v1.1.0"]);
    let refs = p.remote_refs();
    let job = JobFiles::new();
    let out = ci(&p.work, &gh, &job, &[]).success();
    let reason =
        "nothing to release: 2 commit(s) since v1.1.0, none of a type that bumps the version";
    assert_eq!(stdout(&out), format!("{reason}\n"));
    assert_eq!(stderr(&out), "");
    assert_eq!(
        job.outputs(),
        "released=false\noutcome=nothing_to_release\ndeployed=\n"
    );
    assert_eq!(job.summary(), format!("## No release\n\n{reason}\n\n"));
    assert_eq!(p.remote_refs(), refs);
    assert!(gh.request_lines().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn ci_on_the_agents_own_release_commit_does_nothing() {
    // The release commit pushed by a run triggers the workflow again (as it does when a
    // personal token pushes): a fresh checkout of it must neither tag nor release anything.
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let job = JobFiles::new();
    ci(&p.work, &gh, &job, &[]).success();
    let refs = p.remote_refs();
    let posts = gh.post_count().await;
    assert_eq!(posts, 1);

    let checkout = p.clone_remote();
    assert_eq!(checkout.log()[0], "chore(release): 1.1.0");
    let job = JobFiles::new();
    let report = ci_json(&checkout, &gh, &job);
    assert_eq!(report["outcome"], "already_released", "{report:#}");
    assert_eq!(
        report["reason"],
        "HEAD is already released as v1.1.0; every step was already done"
    );
    assert_eq!(p.remote_refs(), refs, "no new tag, nothing pushed");
    assert_eq!(gh.post_count().await, posts, "no new release");
    assert_eq!(gh.releases().len(), 1);
    assert_eq!(checkout.status(), "");
    assert_eq!(checkout.head(), p.remote_main());
    assert_eq!(
        job.outputs(),
        "released=false\noutcome=already_released\nversion=1.1.0\ntag=v1.1.0\nprerelease=false\ndeployed=\n"
    );
    assert_eq!(
        job.summary(),
        "## No release\n\nHEAD is already released as v1.1.0; every step was already done\n\n\
         [GitHub release](https://github.com/acme/app/releases/tag/v1.1.0)\n\n"
    );

    // Human output says the same in one line, with the steps found done.
    let out = ci(&checkout, &gh, &JobFiles::new(), &[]).success();
    assert!(
        stdout(&out)
            .starts_with("HEAD is already released as v1.1.0; every step was already done\n"),
        "{}",
        stdout(&out)
    );
    assert_eq!(p.remote_refs(), refs);
    assert_eq!(gh.post_count().await, posts);
}

#[tokio::test(flavor = "multi_thread")]
async fn ci_on_a_head_released_by_hand_does_nothing() {
    // Someone tagged HEAD and pushed the tag, and made the GitHub release: nothing to do.
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    p.work.annotated_tag("v1.1.0");
    p.work.git(&["push", "-q", "origin", "v1.1.0"]);
    gh.state().releases.push(serde_json::json!({
        "id": 7,
        "tag_name": "v1.1.0",
        "name": "v1.1.0",
        "body": "by hand",
        "html_url": "https://github.com/acme/app/releases/tag/v1.1.0",
        "draft": false,
        "prerelease": false,
    }));
    let refs = p.remote_refs();
    let job = JobFiles::new();
    let report = ci_json(&p.work, &gh, &job);
    assert_eq!(report["outcome"], "already_released", "{report:#}");
    assert_eq!(report["tag"], "v1.1.0");
    assert_eq!(p.remote_refs(), refs);
    assert_eq!(gh.post_count().await, 0);
    assert!(job
        .outputs()
        .starts_with("released=false\noutcome=already_released\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn ci_dry_run_changes_nothing() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let refs = p.remote_refs();
    let head = p.work.head();
    let job = JobFiles::new();
    let out = ci(&p.work, &gh, &job, &["--dry-run"]).success();
    assert!(
        stdout(&out).starts_with("dry run: would release v1.1.0\n"),
        "{}",
        stdout(&out)
    );
    assert_eq!(p.remote_refs(), refs);
    assert_eq!(p.work.head(), head);
    assert_eq!(p.work.status(), "");
    assert_eq!(gh.post_count().await, 0);
    assert!(job
        .outputs()
        .starts_with("released=false\noutcome=dry_run\n"));
}

// ---------------------------------------------------------------------------------------------
// Two runs for the same merge, at the same time

/// What one racing run did.
struct Run {
    repo: Repo,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    report: Value,
}

/// Start `release ci --json` in both clones at once and wait for both.
async fn race(a: Repo, b: Repo, gh: &FakeGithub, job_a: &JobFiles, job_b: &JobFiles) -> [Run; 2] {
    let mut children = Vec::new();
    // Both processes are started before either is waited for.
    for (repo, job) in [(&a, job_a), (&b, job_b)] {
        let child = ci_process(repo, gh, job, &["--json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("release starts");
        children.push(child);
    }
    let outputs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().expect("release runs"))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mut runs = [a, b].into_iter().zip(outputs).map(|(repo, out)| {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        Run {
            repo,
            code: out.status.code(),
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            report,
        }
    });
    [runs.next().unwrap(), runs.next().unwrap()]
}

fn lock_released(repo: &Path) -> bool {
    !repo.join(".git/release-agent.lock").exists()
}

async fn one_race() {
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let merged = p.work.head();
    // Two checkouts of the same merge; the second one's clock runs a little ahead, so that the
    // two release commits differ, as they do on two runners.
    let a = p.clone_remote();
    let b = p.clone_remote();
    b.tick();
    let (job_a, job_b) = (JobFiles::new(), JobFiles::new());
    let runs = race(a, b, &gh, &job_a, &job_b).await;

    for run in &runs {
        assert_eq!(
            run.code,
            Some(0),
            "both runs succeed\nstdout:\n{}\nstderr:\n{}",
            run.stdout,
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(lock_released(run.repo.path()), "the lock is released");
    }
    let outcomes: Vec<&str> = runs
        .iter()
        .map(|r| r.report["outcome"].as_str().unwrap_or("?"))
        .collect();
    let winners: Vec<&Run> = runs
        .iter()
        .filter(|r| r.report["outcome"] == "released")
        .collect();
    assert_eq!(winners.len(), 1, "exactly one run releases: {outcomes:?}");
    let winner = winners[0];
    let loser = runs
        .iter()
        .find(|r| r.report["outcome"] != "released")
        .unwrap();
    assert!(
        matches!(
            loser.report["outcome"].as_str(),
            Some("released_by_another_run" | "already_released")
        ),
        "the other run says it was released elsewhere: {outcomes:?}\n{}",
        loser.stdout
    );
    assert_eq!(loser.report["tag"], "v1.1.0");

    // The remote: one new tag, on the winner's release commit, which is main, on the merge.
    assert_eq!(p.remote_tags(), ["v1.0.0", "v1.1.0"]);
    let main = p.remote_main();
    assert_eq!(p.remote_tag("v1.1.0").as_deref(), Some(main.as_str()));
    assert_eq!(p.remote.git(&["rev-parse", "main~1"]), merged);
    assert_eq!(winner.repo.head(), main);

    // GitHub: one release; any second creation was refused as already existing.
    assert_eq!(gh.releases().len(), 1);
    assert_eq!(gh.releases()[0]["tag_name"], "v1.1.0");
    assert!(gh.post_count().await <= 2);

    // The loser keeps no release of its own: no tag elsewhere than the remote's, no release
    // commit, a clean worktree.
    let remote_tag_object = p.remote.rev("refs/tags/v1.1.0");
    let local = loser.repo.rev("refs/tags/v1.1.0");
    assert!(
        local.is_none() || local == remote_tag_object,
        "dangling local tag {local:?} (remote: {remote_tag_object:?})"
    );
    let loser_head = loser.repo.head();
    assert!(
        loser_head == merged || loser_head == main,
        "the loser's HEAD is the merge or the released commit, not a release of its own"
    );
    assert_eq!(loser.repo.status(), "");

    // The job outputs: only the winner says released.
    let (win_job, lose_job) = if std::ptr::eq(winner, &runs[0]) {
        (&job_a, &job_b)
    } else {
        (&job_b, &job_a)
    };
    assert!(win_job.outputs().starts_with("released=true\n"));
    assert!(lose_job.outputs().starts_with("released=false\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_for_the_same_merge_make_one_release() {
    // Timing decides who wins and whether the runs overlap at all; the invariants hold for
    // every interleaving, so a few rounds cover more of them.
    for _ in 0..3 {
        one_race().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_after_another_released_the_same_merge_says_so() {
    // The serialized case of the race: one run finished before the other started. The late
    // run's checkout is the merge, behind the remote's release commit.
    let p = Published::new(None);
    let gh = FakeGithub::start().await;
    let merged = p.work.head();
    let late = p.clone_remote();
    ci(&p.work, &gh, &JobFiles::new(), &[]).success();
    let refs = p.remote_refs();

    let job = JobFiles::new();
    let report = ci_json(&late, &gh, &job);
    assert!(
        matches!(
            report["outcome"].as_str(),
            Some("released_by_another_run" | "already_released")
        ),
        "{report:#}"
    );
    assert_eq!(report["tag"], "v1.1.0");
    assert_eq!(p.remote_refs(), refs);
    assert_eq!(gh.releases().len(), 1);
    assert_eq!(gh.post_count().await, 1);
    assert_eq!(late.head(), merged);
    assert_eq!(late.status(), "");
    assert!(job.outputs().starts_with("released=false\n"));
}
