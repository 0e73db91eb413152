//! `[bump] major_requires_approval`: `release ci` holds a major release in the ledger until an
//! approver who did not write its breaking change approves it; `release cut` publishes directly.

use crate::support::github::FakeGithub;
use crate::support::{clean_failure, stdout, Published};
use assert_cmd::assert::Assert;
use std::path::PathBuf;

const CONFIG: &str = "[bump]\nmajor_requires_approval = true\n";

/// A published 1.x project whose next release is 2.0.0: a breaking change by alice, committed
/// with her GitHub no-reply address.
fn project() -> Published {
    let p = Published::new(Some(CONFIG));
    let out = p
        .work
        .git_cmd(&[
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "feat!: drop the v1 API",
        ])
        .env("GIT_AUTHOR_NAME", "Alice")
        .env("GIT_AUTHOR_EMAIL", "1234+alice@users.noreply.github.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    p
}

struct Job {
    _dir: tempfile::TempDir,
    output: PathBuf,
    summary: PathBuf,
}

fn job() -> Job {
    let dir = tempfile::tempdir().unwrap();
    Job {
        output: dir.path().join("output"),
        summary: dir.path().join("summary"),
        _dir: dir,
    }
}

fn ci(p: &Published, gh: &FakeGithub, job: &Job, args: &[&str]) -> Assert {
    let mut cmd = p.work.release_hermetic();
    cmd.envs(gh.env())
        .env("CI", "true")
        .env("GITHUB_OUTPUT", &job.output)
        .env("GITHUB_STEP_SUMMARY", &job.summary)
        .arg("ci")
        .args(args);
    cmd.assert()
}

/// `release <args>` as GitHub Actions' `actor`.
fn as_actor(p: &Published, actor: &str, args: &[&str]) -> Assert {
    let mut cmd = p.work.release_hermetic();
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTOR", actor)
        .args(args);
    cmd.assert()
}

fn held(p: &Published) -> bool {
    p.work
        .path()
        .join(".git/release-agent/ledger/pending")
        .read_dir()
        .is_ok_and(|mut d| d.next().is_some())
}

#[tokio::test(flavor = "multi_thread")]
async fn ci_holds_a_major_release_until_someone_else_approves_it() {
    let p = project();
    let gh = FakeGithub::start().await;
    let remote = p.remote_refs();
    let head = p.work.head();

    // A dry run says so and records nothing.
    let j = job();
    let dry = stdout(&ci(&p, &gh, &j, &["--dry-run"]).success());
    assert!(
        dry.contains("major release 2.0.0 is held for approval"),
        "{dry}"
    );
    assert!(!held(&p));

    let j = job();
    let out = stdout(&ci(&p, &gh, &j, &[]).success());
    assert!(
        out.contains("major release 2.0.0 is held for approval"),
        "{out}"
    );
    assert!(out.contains("release approve 2.0.0 --release"), "{out}");
    let outputs = std::fs::read_to_string(&j.output).unwrap();
    assert!(outputs.contains("released=false\n"), "{outputs}");
    assert!(outputs.contains("outcome=pending_approval\n"), "{outputs}");
    assert!(outputs.contains("pending=2.0.0\n"), "{outputs}");
    let summary = std::fs::read_to_string(&j.summary).unwrap();
    assert!(
        summary.starts_with("## Major release 2.0.0 waits for approval"),
        "{summary}"
    );
    assert!(held(&p));
    assert_eq!(p.remote_refs(), remote, "nothing pushed");
    assert_eq!(p.work.head(), head, "no release commit");
    assert!(gh.releases().is_empty());

    // The author of the breaking change may not approve it, nor may an unknown version be.
    let err = clean_failure(as_actor(&p, "alice", &["approve", "2.0.0", "--release"]));
    assert!(err.contains("self-approval"), "{err}");
    let err = clean_failure(as_actor(&p, "bob", &["approve", "3.0.0", "--release"]));
    assert!(err.contains("no major release 3.0.0 is waiting"), "{err}");
    // Still held.
    let out = stdout(&ci(&p, &gh, &job(), &[]).success());
    assert!(out.contains("is held"), "{out}");

    let ok = stdout(&as_actor(&p, "bob", &["approve", "2.0.0", "--release"]).success());
    assert!(ok.contains("bob approved the major release 2.0.0"), "{ok}");
    assert!(
        ok.contains("ready: the next `release ci` publishes 2.0.0"),
        "{ok}"
    );

    let j = job();
    let out = stdout(&ci(&p, &gh, &j, &[]).success());
    assert!(out.starts_with("released v2.0.0"), "{out}");
    assert_eq!(p.remote_tag("v2.0.0"), Some(p.remote_main()));
    assert_eq!(gh.releases().len(), 1);
    let outputs = std::fs::read_to_string(&j.output).unwrap();
    assert!(outputs.contains("released=true\n"), "{outputs}");
    assert!(!outputs.contains("pending="), "{outputs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejection_keeps_it_held_whatever_the_approvals() {
    let p = project();
    let gh = FakeGithub::start().await;
    ci(&p, &gh, &job(), &[]).success();
    as_actor(&p, "bob", &["approve", "2.0.0", "--release"]).success();
    as_actor(
        &p,
        "carol",
        &[
            "reject",
            "2.0.0",
            "--release",
            "--note",
            "not before the migration",
        ],
    )
    .success();
    let out = stdout(&ci(&p, &gh, &job(), &[]).success());
    assert!(
        out.contains("carol rejected release 2.0.0 (not before the migration)"),
        "{out}"
    );
    assert!(p.remote_tag("v2.0.0").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_maintainer_cut_publishes_a_major_release_directly() {
    let p = project();
    let gh = FakeGithub::start().await;
    let mut cmd = p.work.release_hermetic();
    cmd.envs(gh.env()).args(["cut", "--yes"]);
    let out = stdout(&cmd.assert().success());
    assert!(out.starts_with("released v2.0.0"), "{out}");
    assert_eq!(p.remote_tag("v2.0.0"), Some(p.remote_main()));
}

#[tokio::test(flavor = "multi_thread")]
async fn minor_releases_are_not_held() {
    let p = Published::new(Some(CONFIG));
    let gh = FakeGithub::start().await;
    let out = stdout(&ci(&p, &gh, &job(), &[]).success());
    assert!(out.starts_with("released v1.1.0"), "{out}");
    assert!(!held(&p));
}

#[test]
fn approvals_the_config_cannot_reach_are_a_config_error() {
    let p = Published::new(Some(
        "[bump]\nmajor_requires_approval = true\nmajor_approvals = 2\nmajor_approvers = [\"bob\"]\n",
    ));
    let err = clean_failure(p.work.release_hermetic().arg("plan").assert());
    assert!(err.contains("release.toml:3:"), "{err}");
    assert!(err.contains("only 1 major_approvers listed"), "{err}");
}
