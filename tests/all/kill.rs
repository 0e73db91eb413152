//! Killed and interrupted runs: what a run killed at any moment leaves behind is cleaned up by
//! the next run, which finishes the release; git lock files of other processes are named, never
//! reported as a raw libgit2 error; SIGINT and SIGTERM stop at a step boundary and kill hooks;
//! two runs in one clone never interleave.
//!
//! The random kill loops print their seed; replay one with `KILL_SEED=<seed> cargo test --test
//! all kill::` (the kill delays are fractions of a run's time measured on the machine, so a
//! replay on a machine of another speed kills at other moments).

#![cfg(unix)]

use crate::support::rng::{kill_seed, Rng};
use crate::support::{self, clean_failure, stderr, stdout, Published, Repo};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A released v1.0.0 with a `feat` and a `fix` after it, and a changelog.
fn project() -> Repo {
    project_with("")
}

fn project_with(config: &str) -> Repo {
    let changelog = "# Changelog\n\n## [1.0.0] - 2020-01-01\n\n- first\n";
    let mut files = vec![("version.txt", "1.0.0\n"), ("CHANGELOG.md", changelog)];
    if !config.is_empty() {
        files.push(("release.toml", config));
    }
    Repo::released(&files)
}

/// The one end state of a finished release of v1.1.0 in `repo`: exactly one release commit on
/// top of the two commits, one tag on it, the changelog section once, a clean worktree, no
/// lock file left.
fn assert_released_once(repo: &Repo, context: &str) {
    let log = repo.log();
    assert_eq!(
        log.iter().filter(|s| *s == "chore(release): 1.1.0").count(),
        1,
        "{context}: {log:?}"
    );
    assert_eq!(log[0], "chore(release): 1.1.0", "{context}");
    assert_ne!(log[1], "chore(release): 1.1.0", "{context}");
    assert_eq!(repo.tags(), ["v1.0.0", "v1.1.0"], "{context}");
    assert_eq!(
        repo.rev("refs/tags/v1.1.0^{commit}"),
        Some(repo.head()),
        "{context}: the tag is on the release commit"
    );
    let changelog = repo.read("CHANGELOG.md");
    assert_eq!(
        changelog.matches("## [1.1.0]").count(),
        1,
        "{context}: {changelog}"
    );
    assert_eq!(repo.read("version.txt"), "1.1.0\n", "{context}");
    assert_eq!(repo.status(), "", "{context}: the worktree is clean");
    let git_dir = repo.path().join(".git");
    assert!(
        !git_dir.join("release-agent.lock").exists(),
        "{context}: the release lock is released"
    );
    let mut locks = Vec::new();
    find_locks(&git_dir, &mut locks);
    assert!(locks.is_empty(), "{context}: lock files left: {locks:?}");
}

fn find_locks(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            find_locks(&path, out);
        } else if path.extension().is_some_and(|e| e == "lock") {
            out.push(path);
        }
    }
}

/// The id of a process that has exited.
fn dead_pid() -> u32 {
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    pid
}

/// The lock a killed release run leaves in `.git`: it names a process that is gone.
fn leave_dead_release_lock(repo: &Repo) {
    std::fs::write(
        repo.path().join(".git/release-agent.lock"),
        format!("{}\n", dead_pid()),
    )
    .unwrap();
    // Lock files made by that run are newer than its own lock, whatever the clock resolution.
    std::thread::sleep(Duration::from_millis(20));
}

fn touch(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, "").unwrap();
}

// ---------------------------------------------------------------------------------------------
// Lock files

#[test]
fn git_lock_files_left_by_a_killed_run_are_removed_and_the_release_finishes() {
    for leftovers in [
        &[".git/index.lock"][..],
        &[".git/refs/heads/main.lock"],
        &[".git/refs/tags/v1.1.0.lock"],
        &[".git/HEAD.lock", ".git/packed-refs.lock", ".git/index.lock"],
    ] {
        let repo = project();
        leave_dead_release_lock(&repo);
        for l in leftovers {
            touch(&repo.path().join(l));
        }
        let out = repo.run(&["bump"]).success();
        let err = stderr(&out);
        for l in leftovers {
            assert!(
                err.contains(&format!("removed {}", repo.path().join(l).display())),
                "{err}"
            );
        }
        assert!(err.contains("is gone"), "{err}");
        assert_released_once(&repo, &format!("{leftovers:?}"));
    }
}

#[test]
fn a_git_lock_file_of_another_process_is_named_with_what_to_do() {
    for (lock, dead_run_before) in [
        (".git/index.lock", false),
        (".git/refs/heads/main.lock", false),
        (".git/refs/tags/v1.1.0.lock", false),
        // Older than the killed run's lock: not that run's.
        (".git/index.lock", true),
    ] {
        let repo = project();
        let path = repo.path().join(lock);
        touch(&path);
        if dead_run_before {
            std::thread::sleep(Duration::from_millis(20));
            leave_dead_release_lock(&repo);
        }
        let before = repo.state();
        let err = clean_failure(repo.run(&["bump"]));
        assert!(
            err.contains(&format!(
                "another git process is holding {}",
                path.display()
            )),
            "{lock}: {err}"
        );
        assert!(
            err.contains("if none is running, remove it"),
            "{lock}: {err}"
        );
        assert!(!err.contains("code="), "{lock}: raw libgit2 error: {err}");
        assert!(
            path.exists(),
            "{lock}: another process's lock is left alone"
        );
        assert_eq!(repo.state(), before, "{lock}: nothing was written");

        // Once that process is done, the release goes through.
        std::fs::remove_file(&path).unwrap();
        repo.run(&["bump"]).success();
        assert_released_once(&repo, lock);
    }
}

#[test]
fn a_git_lock_taken_during_the_run_is_explained_not_a_raw_libgit2_error() {
    // The lock appears after the checks, while the files are written (a `git gc` starting):
    // the commit meets it.
    let repo = project_with("[hooks]\npre_bump = [[\"sh\", \"-c\", \"touch .git/index.lock\"]]\n");
    let err = clean_failure(repo.run(&["bump"]));
    assert!(
        err.contains("another git process is holding") && err.contains(".git/index.lock"),
        "{err}"
    );
    assert!(!err.contains("code="), "raw libgit2 error: {err}");
}

#[test]
fn two_racing_bumps_one_releases_the_other_explains() {
    for round in 0..5 {
        let repo = project();
        // Slow enough that the two runs overlap.
        let config = "[hooks]\npre_bump = [[\"sleep\", \"0.3\"]]\n";
        repo.write("release.toml", config);
        repo.git(&["add", "release.toml"]);
        repo.commit_staged("chore: slow hook");
        let runs: Vec<Child> = (0..2)
            .map(|_| {
                let mut cmd = repo.release_process();
                cmd.arg("bump")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                cmd.spawn().unwrap()
            })
            .collect();
        let outs: Vec<_> = runs
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let won: Vec<_> = outs.iter().filter(|o| o.status.success()).collect();
        let lost: Vec<_> = outs.iter().filter(|o| !o.status.success()).collect();
        assert_eq!(won.len(), 1, "round {round}: one run releases");
        assert_eq!(lost.len(), 1, "round {round}: the other refuses");
        let err = String::from_utf8_lossy(&lost[0].stderr);
        assert_eq!(lost[0].status.code(), Some(1), "{err}");
        assert!(
            err.contains("error: another release is running in this clone"),
            "round {round}: {err}"
        );
        assert!(!err.contains("code="), "raw libgit2 error: {err}");
        assert_released_once(&repo, &format!("round {round}"));
    }
}

#[test]
fn a_bump_while_cut_runs_is_refused_too() {
    // The lock of a live release run (this test's process stands for it).
    let repo = project();
    let lock = repo.path().join(".git/release-agent.lock");
    std::fs::write(&lock, format!("{}\n", std::process::id())).unwrap();
    let before = repo.state();
    let err = clean_failure(repo.run(&["bump"]));
    assert!(
        err.contains(&format!(
            "another release is running in this clone: process {} holds {}",
            std::process::id(),
            lock.display()
        )),
        "{err}"
    );
    assert_eq!(repo.state(), before);
    assert!(lock.exists());
}

#[test]
fn a_release_in_a_linked_worktree_cleans_up_after_a_killed_run_too() {
    let repo = project();
    let wt = repo.root().join("wt");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "release",
        wt.to_str().unwrap(),
    ]);
    repo.write("release.toml", "branches = [\"main\", \"release\"]\n");
    std::fs::write(
        wt.join("release.toml"),
        "branches = [\"main\", \"release\"]\n",
    )
    .unwrap();
    let git = |args: &[&str]| {
        let mut cmd = repo.git_cmd(args);
        cmd.current_dir(&wt);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["add", "release.toml"]);
    git(&["commit", "-q", "-m", "chore: release branch"]);
    std::fs::remove_file(repo.path().join("release.toml")).unwrap();
    let own = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"]));
    let common = repo.path().join(".git");
    assert_ne!(own, common);
    // A killed run in the worktree: the own lock in the common directory, the index lock in the
    // worktree's git directory, the branch lock in the common one.
    std::fs::write(
        common.join("release-agent.lock"),
        format!("{}\n", dead_pid()),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    touch(&own.join("index.lock"));
    touch(&common.join("refs/heads/release.lock"));
    let mut cmd = repo.release();
    cmd.current_dir(&wt).arg("bump");
    let out = cmd.assert().success();
    let err = stderr(&out);
    assert!(
        err.contains(&format!("removed {}", own.join("index.lock").display())),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "removed {}",
            common.join("refs/heads/release.lock").display()
        )),
        "{err}"
    );
    assert_eq!(git(&["log", "-1", "--format=%s"]), "chore(release): 1.1.0");
    assert_eq!(git(&["tag", "--points-at", "HEAD"]), "v1.1.0");
    assert!(!common.join("release-agent.lock").exists());
    assert!(!own.join("release-agent.lock").exists());
}

// ---------------------------------------------------------------------------------------------
// Signals

/// Start `release args` in `repo` with its output captured, as the leader of its own process
/// group.
fn spawn(repo: &Repo, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = repo.release_process();
    cmd.args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn().unwrap()
}

fn send(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal} {pid}");
}

/// Wait (bounded) until `path` exists.
fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn alive(pid: &str) -> bool {
    // A zombie is gone for our purpose.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        })
        .unwrap_or(false)
}

#[cfg(target_os = "linux")]
#[test]
fn sigint_or_sigterm_during_a_hook_kills_it_and_stops_before_the_next_step() {
    for (signal, code, stage) in [
        ("INT", 130, "pre_bump"),
        ("TERM", 143, "pre_bump"),
        ("INT", 130, "post_bump"),
    ] {
        // The hook records its pid, then a child of its own (a grandchild of release), then
        // waits; neither may outlive the interrupted release.
        let hook = "echo $$ > ../hook.pid; sleep 60 & echo $! > ../child.pid; wait";
        let repo = project_with(&format!(
            "[hooks]\n{stage} = [[\"sh\", \"-c\", \"{hook}\"]]\n"
        ));
        let before = repo.state();
        let head = repo.head();
        let run = spawn(&repo, &["bump"], &[]);
        let child_pid = repo.root().join("child.pid");
        wait_for(&child_pid);
        std::thread::sleep(Duration::from_millis(50));
        send(run.id(), signal);
        let out = run.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{signal}: {err}");
        assert!(
            err.contains(&format!("error: {stage} hook"))
                && err.contains(&format!("interrupted by SIG{signal}")),
            "{signal}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        for f in ["hook.pid", "child.pid"] {
            let pid = std::fs::read_to_string(repo.root().join(f)).unwrap();
            let pid = pid.trim();
            let deadline = Instant::now() + Duration::from_secs(10);
            while alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(!alive(pid), "{signal} {stage}: {f} ({pid}) still runs");
        }
        assert!(!repo.path().join(".git/release-agent.lock").exists());
        if stage == "pre_bump" {
            assert_eq!(repo.state(), before, "{signal}: nothing was written");
            assert!(err.contains("nothing was written"), "{err}");
        } else {
            // The release is recorded; its post_bump hook is pending, retried by the next run.
            assert_eq!(repo.git(&["rev-parse", "HEAD~1"]), head);
            assert_eq!(repo.tags(), ["v1.0.0", "v1.1.0"]);
            std::fs::remove_file(repo.root().join("child.pid")).unwrap();
            repo.write(
                "release.toml",
                "[hooks]\npost_bump = [[\"touch\", \"../post-ran\"]]\n",
            );
            // The config change is not committed: keep the tree clean for the check below.
            let out = repo.run(&["bump", "--allow-dirty"]).success();
            assert!(
                stdout(&out).contains("[applied     ] run post_bump hooks of v1.1.0"),
                "{}",
                stdout(&out)
            );
            assert!(repo.root().join("post-ran").exists());
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn sigterm_between_steps_stops_at_the_boundary_and_the_next_run_finishes() {
    // The pre_bump hook ignores SIGTERM and finishes: release stops after it, before any write.
    let hook = "trap '' TERM; touch ../started; sleep 0.5";
    let repo = project_with(&format!(
        "[hooks]\npre_bump = [[\"sh\", \"-c\", \"{hook}\"]]\n"
    ));
    let run = spawn(&repo, &["bump"], &[]);
    wait_for(&repo.root().join("started"));
    send(run.id(), "TERM");
    let out = run.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    assert!(err.contains("run the same command again"), "{err}");
    assert_eq!(repo.tags(), ["v1.0.0"]);
    repo.run(&["bump"]).success();
    assert_released_once(&repo, "after SIGTERM");
}

// ---------------------------------------------------------------------------------------------
// Kills

/// Whether a process still works in one of `dirs` (its current directory is there): the git
/// processes a killed release started run on, in their own process groups.
fn busy(dirs: &[&Path]) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        std::fs::read_link(e.path().join("cwd"))
            .is_ok_and(|cwd| dirs.iter().any(|d| cwd.starts_with(d)))
    })
}

/// SIGKILL `child` (release only, as a crash or the OOM killer would: the git processes it
/// started finish on their own), reap it, and wait until those are gone from `dirs`.
fn kill_and_drain(mut child: Child, dirs: &[&Path]) -> ExitStatus {
    let _ = child.kill();
    let status = child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while busy(dirs) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    status
}

/// How long one uninterrupted run takes here, in microseconds.
fn typical_run(repo: &Repo, args: &[&str]) -> u64 {
    let start = Instant::now();
    let out = spawn(repo, args, &[]).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed().as_micros() as u64
}

#[test]
fn bump_killed_at_a_random_moment_is_finished_by_one_plain_run() {
    let seed = kill_seed();
    let mut rng = Rng::new(seed);
    let typical = typical_run(&project(), &["bump"]);
    for i in 0..25 {
        let repo = project();
        let delay = rng.below(typical + 1);
        let run = spawn(&repo, &["bump"], &[]);
        std::thread::sleep(Duration::from_micros(delay));
        let status = kill_and_drain(run, &[repo.root()]);
        let context = format!("KILL_SEED={seed}, iteration {i}, killed after {delay}us ({status})");
        let out = repo.release().arg("bump").output().unwrap();
        assert!(
            out.status.success(),
            "{context}: the re-run failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_released_once(&repo, &context);
    }
}

#[test]
fn cut_killed_at_a_random_moment_is_finished_by_one_plain_run() {
    let seed = kill_seed();
    let mut rng = Rng::new(seed.wrapping_add(1));
    let args = ["cut", "--yes", "--no-github"];
    let typical = typical_run(&Published::new(None).work, &args);
    for i in 0..15 {
        let p = Published::new(None);
        let delay = rng.below(typical + 1);
        let run = spawn(&p.work, &args, &[]);
        std::thread::sleep(Duration::from_micros(delay));
        let status = kill_and_drain(run, &[p.work.root(), p.remote.root()]);
        let context = format!("KILL_SEED={seed}, iteration {i}, killed after {delay}us ({status})");
        let out = p.work.release_process().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{context}: the re-run failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_released_once(&p.work, &context);
        assert_eq!(p.remote_main(), p.work.head(), "{context}: main is pushed");
        assert_eq!(
            p.remote_tag("v1.1.0"),
            Some(p.work.head()),
            "{context}: the tag is pushed"
        );
    }
}

/// Kill bump at each rename it makes (each file, the index, each ref), deterministically.
#[cfg(target_os = "linux")]
#[test]
fn bump_killed_at_each_rename_is_finished_by_one_plain_run() {
    if Command::new("strace").arg("-V").output().is_err() {
        // CI installs strace (.ci/run): there, a missing strace is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "strace is not installed, and CI must run this test"
        );
        eprintln!("strace is not installed: the kill at each rename is not tested here");
        return;
    }
    let renames = "rename,renameat,renameat2";
    for when in 1.. {
        assert!(when < 50, "more renames than expected");
        let repo = project();
        let mut cmd = Command::new("strace");
        repo.env_for(&mut cmd);
        cmd.current_dir(repo.path())
            .args(["-f", "-qq", "-o", "/dev/null", "-e"])
            .arg(format!("trace={renames}"))
            .arg("-e")
            .arg(format!("inject={renames}:signal=SIGKILL:when={when}"))
            .arg(support::release_bin())
            .arg("bump");
        let first = cmd.output().unwrap();
        let context = format!("killed at rename {when}");
        if first.status.success() {
            // Fewer renames than `when`: every rename was a kill point.
            assert!(when > 4, "only {when} renames?");
            assert_released_once(&repo, "never killed");
            break;
        }
        let out = repo.release().arg("bump").output().unwrap();
        assert!(
            out.status.success(),
            "{context}: the re-run failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_released_once(&repo, &context);
    }
}

#[test]
fn a_cut_killed_at_each_fault_point_is_finished_by_one_plain_run_with_no_lock_left() {
    for step in ["write-files", "commit", "tag", "push"] {
        let p = Published::new(None);
        let out = p
            .work
            .release_hermetic()
            .args(["cut", "--yes", "--no-github"])
            .env("RELEASE_AGENT_FAIL_AFTER", step)
            .assert();
        assert_eq!(support::code(&out), 86, "{step}");
        // The dead run's own lock is left behind, as after a kill.
        assert!(p.work.path().join(".git/release-agent.lock").exists());
        p.work
            .release_hermetic()
            .args(["cut", "--yes", "--no-github"])
            .assert()
            .success();
        assert_released_once(&p.work, step);
    }
}
