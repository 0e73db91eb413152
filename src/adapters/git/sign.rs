//! Signed release commits and tags, made by git's own programs.
//!
//! libgit2 cannot sign, and a signature made by hand would support one format and no agent.
//! So when signing is asked for, the commit is made by `git commit-tree -S` and the tag by
//! `git tag -s`: git reads `gpg.format` (openpgp, ssh, x509), `user.signingKey`,
//! `gpg.program`, `gpg.ssh.program` and talks to the user's agent as it always does. The
//! message goes through stdin, never an argument or a shell; the identity and date are the
//! ones libgit2 would have used, passed as git's own variables.

use git2::{Oid, Repository, Signature};
use std::path::Path;

use super::{git_run, CliError};

/// What gets signed: git's `commit.gpgSign` and `tag.gpgSign`, or both with `[git] sign`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signing {
    /// Sign the release commit.
    pub commit: bool,
    /// Sign the release tag.
    pub tag: bool,
    /// The signature format git will use (`gpg.format`, default `openpgp`), for step names;
    /// read only when something is signed.
    pub format: String,
}

impl Signing {
    /// Signing as git is configured for `root`, everything when `force`.
    pub fn of(root: &Path, force: bool) -> Signing {
        let flag = |key: &str| {
            git_run(root, &["config", "--type=bool", "--get", key], None, &[])
                .map(|v| v.trim() == "true")
                .unwrap_or(false)
        };
        let (commit, tag) = (
            force || flag("commit.gpgSign"),
            force || flag("tag.gpgSign"),
        );
        let format = if commit || tag {
            git_run(root, &["config", "--get", "gpg.format"], None, &[])
                .map(|v| v.trim().to_string())
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "openpgp".into())
        } else {
            String::new()
        };
        Signing {
            commit,
            tag,
            format,
        }
    }
}

/// A signature git could not make.
#[derive(Debug, thiserror::Error)]
#[error("signing the release {what} failed (commit.gpgSign/tag.gpgSign or [git] sign asked for it): {message}; check user.signingKey and gpg.format (and that the key's agent is reachable), or turn signing off; nothing was pushed, so running again finishes the release")]
pub struct SignError {
    /// `commit` or `tag`.
    pub what: &'static str,
    /// git's message.
    pub message: String,
}

fn failed(what: &'static str) -> impl Fn(CliError) -> SignError {
    move |e| SignError {
        what,
        message: e.message,
    }
}

/// `GIT_<ROLE>_NAME`, `_EMAIL` and `_DATE` of a libgit2 signature.
fn identity(role: &str, sig: &Signature<'_>) -> Vec<(String, String)> {
    let when = sig.when();
    let offset = when.offset_minutes();
    let date = format!(
        "{} {}{:02}{:02}",
        when.seconds(),
        if offset < 0 { '-' } else { '+' },
        offset.abs() / 60,
        offset.abs() % 60
    );
    vec![
        (
            format!("GIT_{role}_NAME"),
            String::from_utf8_lossy(sig.name_bytes()).into_owned(),
        ),
        (
            format!("GIT_{role}_EMAIL"),
            String::from_utf8_lossy(sig.email_bytes()).into_owned(),
        ),
        (format!("GIT_{role}_DATE"), date),
    ]
}

/// A signed commit of `tree` on `parent` (`git commit-tree -S`); HEAD is not moved.
pub fn commit(
    root: &Path,
    tree: Oid,
    parent: Oid,
    author: &Signature<'_>,
    committer: &Signature<'_>,
    message: &str,
) -> Result<Oid, SignError> {
    let mut env = identity("AUTHOR", author);
    env.extend(identity("COMMITTER", committer));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (tree, parent) = (tree.to_string(), parent.to_string());
    let out = git_run(
        root,
        &["commit-tree", "-S", &tree, "-p", &parent, "-F", "-"],
        Some(message.as_bytes()),
        &env,
    )
    .map_err(failed("commit"))?;
    Oid::from_str(out.trim()).map_err(|e| SignError {
        what: "commit",
        message: format!("git commit-tree printed no commit id: {e}"),
    })
}

/// The signed annotated tag `name` at `target` (`git tag -s`), its message kept verbatim.
pub fn tag(
    repo: &Repository,
    root: &Path,
    name: &str,
    target: Oid,
    tagger: &Signature<'_>,
    message: &str,
) -> Result<(), SignError> {
    let env = identity("COMMITTER", tagger);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let target = target.to_string();
    git_run(
        root,
        &[
            "tag",
            "-s",
            "--cleanup=verbatim",
            "-F",
            "-",
            "--",
            name,
            &target,
        ],
        Some(message.as_bytes()),
        &env,
    )
    .map_err(failed("tag"))?;
    // git wrote the ref behind libgit2's back: make sure this handle sees it.
    let _ = repo.find_reference(&format!("refs/tags/{name}"));
    Ok(())
}
