//! Signed release commits and tags, through git's own signing: a real SSH key made with
//! ssh-keygen and a throwaway GPG key, checked with `git verify-commit` and `git verify-tag`.

use crate::support::github::FakeGithub;
use crate::support::{clean_failure, stdout, Published, Repo};
use std::process::Command;

/// An ed25519 key in the repository's temporary directory, set as git's SSH signing key, with
/// an allowed-signers file so that git can verify what it signed.
fn ssh_signing(repo: &Repo) -> std::path::PathBuf {
    let key = repo.root().join("signing_key");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "release-test", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen runs");
    assert!(out.status.success(), "{out:?}");
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let allowed = repo.root().join("allowed_signers");
    std::fs::write(&allowed, format!("* {public}")).unwrap();
    repo.git(&["config", "gpg.format", "ssh"]);
    repo.git(&["config", "user.signingKey", key.to_str().unwrap()]);
    repo.git(&[
        "config",
        "gpg.ssh.allowedSignersFile",
        allowed.to_str().unwrap(),
    ]);
    key
}

fn verified(repo: &Repo, what: &str, rev: &str) {
    let out = repo.git_output(&[what, rev]);
    assert!(
        out.status.success(),
        "git {what} {rev}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn unsigned(repo: &Repo, what: &str, rev: &str) {
    let out = repo.git_output(&[what, rev]);
    assert!(!out.status.success(), "git {what} {rev} passed");
}

/// A project with a release and two commits to release, in a plain repository.
fn project() -> Repo {
    let repo = Repo::new();
    repo.release_v1_then_feat_and_fix(&[("version.txt", "1.0.0\n")]);
    repo
}

#[test]
fn git_config_asks_for_ssh_signatures_and_gets_them() {
    let repo = project();
    ssh_signing(&repo);
    repo.git(&["config", "commit.gpgSign", "true"]);
    repo.git(&["config", "tag.gpgSign", "true"]);

    let dry = stdout(
        &repo
            .release()
            .args(["bump", "--dry-run"])
            .assert()
            .success(),
    );
    assert!(
        dry.contains("commit \"chore(release): 1.1.0\" (signed, ssh)"),
        "{dry}"
    );
    assert!(dry.contains("tag v1.1.0 (annotated, signed, ssh)"), "{dry}");

    repo.release().arg("bump").assert().success();
    verified(&repo, "verify-commit", "HEAD");
    verified(&repo, "verify-tag", "v1.1.0");
    // The same commit libgit2 would have made, plus the signature: author, committer, message.
    assert_eq!(repo.log()[0], "chore(release): 1.1.0");
    assert_eq!(
        repo.git(&["log", "-1", "--format=%an <%ae>|%cn <%ce>"]),
        repo.git(&["log", "-1", "--format=%an <%ae>|%cn <%ce>", "HEAD~1"])
    );
    assert_eq!(repo.git(&["rev-parse", "v1.1.0^{commit}"]), repo.head());
    assert_eq!(repo.status(), "");
    let tag = repo.git(&["cat-file", "tag", "v1.1.0"]);
    assert!(tag.contains("-----BEGIN SSH SIGNATURE-----"), "{tag}");
    assert!(
        tag.contains("## Features"),
        "the notes are the tag message: {tag}"
    );
}

#[test]
fn without_signing_configured_nothing_is_signed() {
    let repo = project();
    ssh_signing(&repo);
    repo.release().arg("bump").assert().success();
    unsigned(&repo, "verify-commit", "HEAD");
    unsigned(&repo, "verify-tag", "v1.1.0");
}

#[test]
fn config_sign_forces_gpg_signatures() {
    let repo = project();
    std::fs::write(repo.path().join("release.toml"), "[git]\nsign = true\n").unwrap();
    repo.git(&["add", "release.toml"]);
    repo.commit_staged("chore: sign releases");
    let gpg = |args: &[&str]| {
        let mut cmd = Command::new("gpg");
        repo.env_for(&mut cmd);
        let out = cmd
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("gpg runs");
        assert!(out.status.success(), "gpg {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    gpg(&[
        "--quick-gen-key",
        "Release Test <release@example.com>",
        "ed25519",
        "sign",
        "never",
    ]);
    let fingerprint = gpg(&["--list-secret-keys", "--with-colons"])
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_string())
        })
        .expect("a fingerprint");
    repo.git(&["config", "user.signingKey", &fingerprint]);

    repo.release().arg("bump").assert().success();
    verified(&repo, "verify-commit", "HEAD");
    verified(&repo, "verify-tag", "v1.1.0");
    let tag = repo.git(&["cat-file", "tag", "v1.1.0"]);
    assert!(tag.contains("-----BEGIN PGP SIGNATURE-----"), "{tag}");

    let mut kill = Command::new("gpgconf");
    repo.env_for(&mut kill);
    let _ = kill.args(["--kill", "gpg-agent"]).output();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signature_that_fails_stops_the_cut_before_the_push_and_a_rerun_finishes() {
    let p = Published::new(Some("[git]\nsign = true\n"));
    let gh = FakeGithub::start().await;
    p.work.git(&["config", "gpg.format", "ssh"]);
    p.work
        .git(&["config", "user.signingKey", "/nonexistent/key"]);
    let head = p.work.head();
    let remote = p.remote_refs();

    let mut cmd = p.work.release_hermetic();
    cmd.envs(gh.env()).args(["cut", "--yes"]);
    let err = clean_failure(cmd.assert());
    assert!(err.contains("signing the release commit failed"), "{err}");
    assert!(err.contains("nothing was pushed"), "{err}");
    assert_eq!(p.work.head(), head, "no commit");
    assert!(p.work.tags().iter().all(|t| t != "v1.1.0"), "no tag");
    assert_eq!(p.remote_refs(), remote, "nothing pushed");
    assert!(gh.releases().is_empty());

    // With a key that works, the same command finishes the release, signed.
    ssh_signing(&p.work);
    let mut cmd = p.work.release_hermetic();
    cmd.envs(gh.env()).args(["cut", "--yes"]);
    cmd.assert().success();
    assert_eq!(p.remote_main(), p.work.head());
    verified(&p.work, "verify-commit", "HEAD");
    verified(&p.work, "verify-tag", "v1.1.0");
    assert_eq!(p.remote_tag("v1.1.0"), Some(p.work.head()));
    assert_eq!(gh.releases().len(), 1);
}
