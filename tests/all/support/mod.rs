//! Shared builders for the integration tests: real git repositories in temporary directories,
//! driven by the real `git` CLI, and the real `release` binary.
//!
//! Everything is deterministic: identities and dates come from environment variables (never from
//! the global git config of the machine), every git invocation advances a fake clock by one
//! day, and `SOURCE_DATE_EPOCH` fixes the release date. Commit ids are therefore the same on
//! every run, which keeps snapshots stable.

#![allow(dead_code)]

pub mod fleet;
pub mod github;
pub mod health;
pub mod moto;
pub mod registry;
pub mod rng;

use assert_cmd::assert::Assert;
use assert_cmd::Command;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// `insta::assert_snapshot!(name, value)` against `tests/snapshots/<module>__<name>.snap`, the
/// file the snapshot had when every module of this binary was a test binary of its own. Left to
/// itself, insta would now prefix the binary's name (`all__bump__...`) and look in
/// `tests/all/snapshots`.
macro_rules! assert_snapshot {
    ($name:expr, $value:expr $(,)?) => {{
        let module = module_path!()
            .split_once("::")
            .map_or("", |(_, module)| module)
            .replace("::", "__");
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"));
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| insta::assert_snapshot!(format!("{module}__{}", $name), $value));
    }};
}
pub(crate) use assert_snapshot;

/// The fake clock starts here (2023-11-14T22:13:20Z).
pub const EPOCH: i64 = 1_700_000_000;
/// Each git or release invocation moves the fake clock by a day, so release dates differ.
pub const TICK: i64 = 86_400;
/// `SOURCE_DATE_EPOCH` given to `release`: 2025-06-15, after any fake commit date.
pub const SOURCE_DATE_EPOCH: &str = "1750000000";
/// The release date `SOURCE_DATE_EPOCH` gives.
pub const RELEASE_DATE: &str = "2025-06-15";

pub const AUTHOR_NAME: &str = "Alice Author";
pub const AUTHOR_EMAIL: &str = "alice@example.com";
pub const COMMITTER_NAME: &str = "Carol Committer";
pub const COMMITTER_EMAIL: &str = "carol@example.com";

/// Variables that would make git or release look somewhere else than the test repository, or
/// change their output.
const CLEARED: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_NAMESPACE",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_SYSTEM",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "GIT_TEMPLATE_DIR",
    "GIT_PAGER",
    "GIT_QUARANTINE_PATH",
    "GIT_REFLOG_ACTION",
    "EMAIL",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "GITHUB_SERVER_URL",
    "SOURCE_DATE_EPOCH",
    // A token of the machine running the tests (GitHub Actions') must not reach GitHub from a
    // test: a test that wants one sets it.
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITHUB_API_URL",
    // Signing: the keys and agents of the machine running the tests stay out of them.
    "GNUPGHOME",
    "GPG_AGENT_INFO",
    "SSH_AUTH_SOCK",
];

/// Variables of CI machines and of GitHub Actions that `release cut` and `release ci` read:
/// cleared by [`Repo::release_hermetic`], so that a test never talks to the real GitHub or
/// writes the real job's outputs when the suite itself runs in Actions.
pub const GITHUB_VARS: &[&str] = &[
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "GITHUB_SERVER_URL",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_ACTIONS",
    "CI",
    "RELEASE_AGENT_FAIL_AFTER",
    "RELEASE_AGENT_RETRY_BASE_MS",
];

/// A git date for the fake clock.
pub fn git_date(seconds: i64) -> String {
    format!("@{seconds} +0000")
}

/// The `release` binary built by cargo.
pub fn release_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("release")
}

/// A temporary directory holding a repository (`repo/`), a fake home (`home/`) and room for
/// more (clones, outside files).
pub struct Repo {
    tmp: TempDir,
    path: PathBuf,
    home: PathBuf,
    clock: Cell<i64>,
}

impl Repo {
    /// A fresh repository on branch `main`, no commits.
    pub fn new() -> Repo {
        let repo = Repo::bare_dir();
        std::fs::create_dir_all(&repo.path).unwrap();
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// A fresh repository with the history most release tests start from: `files` and
    /// `src.txt` committed as `feat: first release`, tagged `v1.0.0` (annotated), then `src.txt`
    /// changed by a `feat(api)` and a `fix` commit, so the next release is 1.1.0.
    pub fn released(files: &[(&str, &str)]) -> Repo {
        let repo = Repo::new();
        repo.release_v1_then_feat_and_fix(files);
        repo
    }

    /// Make the history of [`Repo::released`] in this repository, on its current branch.
    pub fn release_v1_then_feat_and_fix(&self, files: &[(&str, &str)]) {
        for (path, content) in files {
            self.write(path, content);
        }
        self.write("src.txt", "code\n");
        self.git(&["add", "-A"]);
        self.commit_staged("feat: first release");
        self.annotated_tag("v1.0.0");
        self.commit_file("src.txt", "code 2\n", "feat(api): add an endpoint");
        self.commit_file("src.txt", "code 3\n", "fix: handle empty input");
    }

    /// Commit everything written so far as `feat: first` and give that commit each of `tags`
    /// (annotated): the first release of every package of a monorepo.
    pub fn first_release(&self, tags: &[&str]) {
        self.git(&["add", "-A"]);
        self.commit_staged("feat: first");
        for tag in tags {
            self.annotated_tag(tag);
        }
    }

    /// Add `origin` as the remote `origin` and push `main` with its tags there.
    pub fn publish_to(&self, origin: &Repo) {
        self.remote(&origin.path().display().to_string());
        self.git(&["push", "-q", "--follow-tags", "origin", "main"]);
    }

    /// The sandbox without `git init`: `path()` is an empty directory, not a repository.
    pub fn bare_dir() -> Repo {
        let tmp = tempfile::Builder::new()
            .prefix("release-it-")
            .tempdir()
            .unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let home = root.join("home");
        std::fs::create_dir_all(home.join(".config")).unwrap();
        std::fs::write(home.join(".gitconfig"), "").unwrap();
        let path = root.join("repo");
        std::fs::create_dir_all(&path).unwrap();
        Repo {
            tmp,
            path,
            home,
            clock: Cell::new(EPOCH),
        }
    }

    /// A clone of `origin` made with `git clone [args] file://...` in a new sandbox.
    pub fn clone_of(origin: &Repo, args: &[&str]) -> Repo {
        let repo = Repo::bare_dir();
        std::fs::remove_dir(&repo.path).unwrap();
        let url = format!("file://{}", origin.path().display());
        let target = repo.path.to_str().unwrap().to_string();
        let mut all = vec!["clone", "-q"];
        all.extend_from_slice(args);
        all.push(&url);
        all.push(&target);
        let mut cmd = std::process::Command::new("git");
        repo.env_for(&mut cmd);
        let out = cmd.current_dir(repo.root()).args(&all).output().unwrap();
        assert!(
            out.status.success(),
            "git clone failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        repo.clock.set(origin.clock.get());
        repo
    }

    /// A bare repository on branch `main`, no commits: a remote to clone and push to.
    /// `path()` is the bare repository itself; `git()` runs there.
    pub fn bare_remote() -> Repo {
        let repo = Repo::bare_dir();
        repo.git(&["init", "-q", "--bare", "-b", "main"]);
        repo
    }

    /// The worktree.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary directory around the worktree.
    pub fn root(&self) -> &Path {
        self.path.parent().unwrap()
    }

    /// Advance the fake clock; the new time.
    pub fn tick(&self) -> i64 {
        self.clock.set(self.clock.get() + TICK);
        self.clock.get()
    }

    /// The deterministic environment, applied to any command.
    pub fn env_for(&self, cmd: &mut std::process::Command) {
        let date = git_date(self.tick());
        for k in CLEARED {
            cmd.env_remove(k);
        }
        cmd.env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.home.join(".gitconfig"))
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_AUTHOR_NAME", AUTHOR_NAME)
            .env("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL)
            .env("GIT_COMMITTER_NAME", COMMITTER_NAME)
            .env("GIT_COMMITTER_EMAIL", COMMITTER_EMAIL)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .env("LC_ALL", "C")
            .env("LANG", "C")
            .env("NO_COLOR", "1")
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH);
    }

    /// A `git` command in the worktree with the deterministic environment.
    pub fn git_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new("git");
        self.env_for(&mut cmd);
        cmd.current_dir(&self.path).args(args);
        cmd
    }

    /// Run git, which must succeed; its stdout without the trailing newline.
    pub fn git(&self, args: &[&str]) -> String {
        let out = self.git_cmd(args).output().expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("git output is UTF-8")
            .trim_end_matches('\n')
            .to_string()
    }

    /// Run git and return its whole output, whether it succeeded or not.
    pub fn git_output(&self, args: &[&str]) -> std::process::Output {
        self.git_cmd(args).output().expect("git runs")
    }

    /// An empty commit with `message` (kept as written: `#` lines are not comments here).
    /// Returns the full commit id.
    pub fn commit(&self, message: &str) -> String {
        self.commit_with(&["--allow-empty"], message)
    }

    /// Write `content` to `path`, stage it and commit with `message`. Returns the commit id.
    pub fn commit_file(&self, path: &str, content: &str, message: &str) -> String {
        self.write(path, content);
        self.git(&["add", "--", path]);
        self.commit_with(&[], message)
    }

    /// Commit what is staged. Returns the commit id.
    pub fn commit_staged(&self, message: &str) -> String {
        self.commit_with(&[], message)
    }

    fn commit_with(&self, extra: &[&str], message: &str) -> String {
        let file = self.root().join("COMMIT_MSG");
        std::fs::write(&file, message).unwrap();
        let file = file.to_str().unwrap();
        let mut args = vec![
            "commit",
            "-q",
            "--no-verify",
            "--cleanup=whitespace",
            "-F",
            file,
        ];
        args.extend_from_slice(extra);
        self.git(&args);
        self.head()
    }

    /// Several empty commits, oldest first. Returns their ids.
    pub fn commits(&self, messages: &[&str]) -> Vec<String> {
        messages.iter().map(|m| self.commit(m)).collect()
    }

    /// A lightweight tag at HEAD.
    pub fn tag(&self, name: &str) {
        self.git(&["tag", name]);
    }

    /// An annotated tag at HEAD.
    pub fn annotated_tag(&self, name: &str) {
        self.git(&["tag", "-a", name, "-m", &format!("Release {name}")]);
    }

    /// Create branch `name` at HEAD and switch to it.
    pub fn branch(&self, name: &str) {
        self.git(&["switch", "-q", "-c", name]);
    }

    /// Switch to an existing branch.
    pub fn switch(&self, name: &str) {
        self.git(&["switch", "-q", name]);
    }

    /// Merge `branch` into the current branch with a merge commit. Returns the merge id.
    pub fn merge(&self, branch: &str) -> String {
        self.git(&[
            "merge",
            "-q",
            "--no-ff",
            "--no-edit",
            "-m",
            &format!("Merge branch '{branch}'"),
            branch,
        ]);
        self.head()
    }

    /// `git revert` a commit, with git's own message. Returns the revert's id.
    pub fn revert(&self, id: &str) -> String {
        self.git(&["revert", "--no-edit", id]);
        self.head()
    }

    /// Add `origin`.
    pub fn remote(&self, url: &str) {
        self.git(&["remote", "add", "origin", url]);
    }

    /// The full id of HEAD.
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// The 7-character id of a revision.
    pub fn short(&self, rev: &str) -> String {
        self.git(&["rev-parse", "--short=7", rev])
    }

    /// All tags, sorted by name.
    pub fn tags(&self) -> Vec<String> {
        self.git(&["tag", "-l"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The message of an annotated tag.
    pub fn tag_message(&self, name: &str) -> String {
        self.git(&["rev-parse", "--verify", "-q", &format!("refs/tags/{name}")]);
        self.git(&["tag", "-l", "--format=%(contents)", name])
    }

    /// Whether `name` is an annotated tag (a tag object, not a plain ref to a commit).
    pub fn tag_type(&self, name: &str) -> String {
        self.git(&["cat-file", "-t", &format!("refs/tags/{name}")])
    }

    /// `git status --porcelain`, untracked files included.
    pub fn status(&self) -> String {
        self.git(&["status", "--porcelain", "--untracked-files=all"])
    }

    /// Subjects of the commits on HEAD, newest first.
    pub fn log(&self) -> Vec<String> {
        self.git(&["log", "--format=%s"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Files changed by a commit.
    pub fn files_of(&self, rev: &str) -> Vec<String> {
        let mut files: Vec<String> = self
            .git(&["show", "--format=", "--name-only", rev])
            .lines()
            .map(str::to_string)
            .collect();
        files.sort();
        files
    }

    /// Everything observable about the repository: refs, HEAD, index, worktree and the contents
    /// of every file in the worktree (`.git` excluded).
    pub fn state(&self) -> String {
        let mut out = String::new();
        out.push_str(&self.git(&["show-ref", "--head"]));
        out.push_str("\n--- symbolic HEAD\n");
        let head = self.git_output(&["symbolic-ref", "-q", "HEAD"]);
        out.push_str(&String::from_utf8_lossy(&head.stdout));
        out.push_str("\n--- status\n");
        out.push_str(&self.status());
        out.push_str("\n--- index\n");
        out.push_str(&self.git(&["ls-files", "--stage"]));
        out.push_str("\n--- files\n");
        let mut files = Vec::new();
        collect_files(&self.path, &self.path, &mut files);
        files.sort();
        for f in files {
            let content = std::fs::read(self.path.join(&f)).unwrap();
            out.push_str(&format!("{f}: {}\n", String::from_utf8_lossy(&content)));
        }
        out
    }

    /// Write a file in the worktree (parent directories created).
    pub fn write(&self, path: &str, content: &str) {
        let full = self.path.join(path);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(full, content).unwrap();
    }

    /// Read a file of the worktree.
    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.path.join(path))
            .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
    }

    /// Whether a file exists in the worktree.
    pub fn exists(&self, path: &str) -> bool {
        self.path.join(path).exists()
    }

    /// The `release` binary, in the worktree, with the deterministic environment.
    pub fn release(&self) -> Command {
        let mut std_cmd = std::process::Command::new(release_bin());
        self.env_for(&mut std_cmd);
        std_cmd.current_dir(&self.path);
        Command::from_std(std_cmd)
    }

    /// [`Repo::release`] without any variable of [`GITHUB_VARS`] from the machine running the
    /// tests: GitHub, CI and the fault switch are whatever the test sets.
    pub fn release_hermetic(&self) -> Command {
        Command::from_std(self.release_process())
    }

    /// [`Repo::release_hermetic`] as a plain `std` command, to start several at once.
    pub fn release_process(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(release_bin());
        self.env_for(&mut cmd);
        for k in GITHUB_VARS {
            cmd.env_remove(k);
        }
        cmd.current_dir(&self.path);
        cmd
    }

    /// The commit `rev` names (`None` when it does not resolve), e.g. `refs/tags/v1.0.0^{commit}`.
    pub fn rev(&self, rev: &str) -> Option<String> {
        let out = self.git_output(&["rev-parse", "--verify", "-q", rev]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Every ref with the object it points at (`git show-ref`, tags peeled too), one per line.
    pub fn refs(&self) -> String {
        String::from_utf8_lossy(&self.git_output(&["show-ref", "--dereference"]).stdout)
            .into_owned()
    }

    /// Run `release` with `args`.
    pub fn run(&self, args: &[&str]) -> Assert {
        self.release().args(args).assert()
    }

    /// `release plan --json [extra]`, which must succeed, parsed.
    pub fn plan_json(&self, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["plan", "--json"];
        args.extend_from_slice(extra);
        let out = self.run(&args).success();
        serde_json::from_str(&stdout(&out)).expect("plan --json prints JSON")
    }

    /// The next version `plan` computes (`None`: nothing to release).
    pub fn next_version(&self) -> Option<String> {
        self.plan_json(&[])["next_version"]
            .as_str()
            .map(str::to_string)
    }

    /// Replace the temporary directory in `text` by `[TMP]`, for snapshots.
    pub fn redact(&self, text: &str) -> String {
        text.replace(self.root().to_str().unwrap(), "[TMP]")
    }
}

impl Default for Repo {
    fn default() -> Self {
        Repo::new()
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == ".git") {
            continue;
        }
        if path.is_dir() {
            collect_files(root, &path, out);
        } else {
            out.push(
                path.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
}

/// The stdout of a finished command.
pub fn stdout(assert: &Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).expect("stdout is UTF-8")
}

/// The stderr of a finished command.
pub fn stderr(assert: &Assert) -> String {
    String::from_utf8(assert.get_output().stderr.clone()).expect("stderr is UTF-8")
}

/// The exit code of a finished command.
pub fn code(assert: &Assert) -> i32 {
    assert.get_output().status.code().expect("exited normally")
}

/// A failed command with a clear message: non-zero exit, `error: ` on stderr, no panic.
/// Returns stderr.
pub fn clean_failure(assert: Assert) -> String {
    let assert = assert.failure();
    let err = stderr(&assert);
    assert!(
        !err.contains("panicked"),
        "panic instead of an error:\n{err}"
    );
    assert!(!err.contains("RUST_BACKTRACE"), "panic output:\n{err}");
    assert!(
        err.lines().any(|l| l.starts_with("error: ")),
        "no `error: ` line:\n{err}"
    );
    err
}

/// The names of the steps of a `--json` report, in order.
pub fn step_names(report: &serde_json::Value) -> Vec<String> {
    report["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The ids in a plan, as `type: summary` lines, newest first.
pub fn plan_headers(plan: &serde_json::Value) -> Vec<String> {
    plan["commits"]
        .as_array()
        .expect("commits is an array")
        .iter()
        .map(|c| {
            let scope = c["scope"]
                .as_str()
                .map(|s| format!("({s})"))
                .unwrap_or_default();
            let bang = if c["breaking"].as_bool().unwrap() {
                "!"
            } else {
                ""
            };
            format!(
                "{}{scope}{bang}: {}",
                c["type"].as_str().unwrap(),
                c["summary"].as_str().unwrap()
            )
        })
        .collect()
}

/// A project released as v1.0.0 then given two unreleased commits (`feat`, `fix`), all pushed
/// to a real bare repository: `remote` is that bare repository (what everyone else sees),
/// `work` a clone whose `origin` is it, on `main`, level with the remote.
pub struct Published {
    /// The bare remote.
    pub remote: Repo,
    /// A clone to release from.
    pub work: Repo,
}

/// The changelog of [`Published`] before the release.
pub const PUBLISHED_CHANGELOG: &str =
    "# Changelog\n\n## [1.0.0] - 2020-01-01\n\n### Features\n\n- first release\n";

impl Published {
    /// The project; `release.toml` is committed first when `config` is given.
    pub fn new(config: Option<&str>) -> Published {
        let remote = Repo::bare_remote();
        let work = Repo::clone_of(&remote, &[]);
        work.git(&["symbolic-ref", "HEAD", "refs/heads/main"]);
        let mut files = vec![
            ("version.txt", "1.0.0\n"),
            ("CHANGELOG.md", PUBLISHED_CHANGELOG),
        ];
        files.extend(config.map(|config| ("release.toml", config)));
        work.release_v1_then_feat_and_fix(&files);
        work.git(&["push", "-q", "origin", "main", "v1.0.0"]);
        Published { remote, work }
    }

    /// Another clone of the remote, on `main`.
    pub fn clone_remote(&self) -> Repo {
        Repo::clone_of(&self.remote, &[])
    }

    /// The remote's refs (`git show-ref --dereference` in the bare repository).
    pub fn remote_refs(&self) -> String {
        self.remote.refs()
    }

    /// The tags of the remote, sorted by name.
    pub fn remote_tags(&self) -> Vec<String> {
        self.remote.tags()
    }

    /// The commit the remote's `main` points at.
    pub fn remote_main(&self) -> String {
        self.remote
            .rev("refs/heads/main")
            .expect("the remote has main")
    }

    /// The commit a tag of the remote points at (peeled), if the remote has the tag.
    pub fn remote_tag(&self, tag: &str) -> Option<String> {
        self.remote.rev(&format!("refs/tags/{tag}^{{commit}}"))
    }

    /// The message of an annotated tag of the remote, exactly as stored in the tag object.
    pub fn remote_tag_message(&self, tag: &str) -> String {
        assert_eq!(
            self.remote
                .git(&["cat-file", "-t", &format!("refs/tags/{tag}")]),
            "tag",
            "{tag} is an annotated tag"
        );
        let out = self
            .remote
            .git_output(&["cat-file", "tag", &format!("refs/tags/{tag}")]);
        let raw = String::from_utf8(out.stdout).expect("tag object is UTF-8");
        raw.split_once("\n\n")
            .map(|(_, m)| m.to_string())
            .unwrap_or_default()
    }

    /// A file at a revision of the remote.
    pub fn remote_file(&self, rev: &str, path: &str) -> String {
        self.remote.git(&["show", &format!("{rev}:{path}")])
    }
}

/// Make a script the test wrote executable.
#[cfg(unix)]
pub fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
