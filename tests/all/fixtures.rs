//! Folder fixtures, git-cliff style: every directory under `tests/fixtures/` is one case.
//!
//! - `commits.sh`: bash, run with the current directory in a fresh repository (`git init -b main`
//!   done); it makes the history with plain `git` commands. `git` is a shell function there that
//!   moves the author and committer dates one day forward per call, so ids are deterministic.
//! - `release.toml` (optional): copied into the repository before `commits.sh` runs (untracked,
//!   unless the script commits it).
//! - `args`: the arguments of one `release` invocation, split on whitespace, e.g. `changelog --all`.
//! - `expected.md` or `expected.txt`: what it prints on stdout. When stderr is not empty it is
//!   appended after a `--- stderr ---` line, and a non-zero exit adds `--- exit code N ---`.
//!
//! A missing expected file is written from the actual output and the test fails, asking for a
//! review; `UPDATE_FIXTURES=1 cargo test --test all fixtures::` rewrites every expected file.

use crate::support::{self, Repo};
use std::path::{Path, PathBuf};

/// Sourced before `commits.sh`.
const PRELUDE: &str = r#"
__release_fixture_clock=${RELEASE_FIXTURE_EPOCH:?}
git() {
    __release_fixture_clock=$((__release_fixture_clock + 86400))
    GIT_AUTHOR_DATE="@$__release_fixture_clock +0000" \
    GIT_COMMITTER_DATE="@$__release_fixture_clock +0000" \
    command git "$@"
}
"#;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

/// Run one case; its output in the expected-file format and the expected file's path.
fn run_case(case: &Path) -> Result<(String, PathBuf), String> {
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let script = case.join("commits.sh");
    if !script.is_file() {
        return Err(format!("{name}: no commits.sh"));
    }
    let args_text = std::fs::read_to_string(case.join("args"))
        .map_err(|e| format!("{name}: cannot read args: {e}"))?;
    let args: Vec<&str> = args_text.split_whitespace().collect();
    if args.is_empty() {
        return Err(format!("{name}: args is empty"));
    }

    let repo = Repo::new();
    if let Ok(config) = std::fs::read_to_string(case.join("release.toml")) {
        repo.write("release.toml", &config);
    }
    let prelude = repo.root().join("prelude.sh");
    std::fs::write(&prelude, PRELUDE).unwrap();
    let mut bash = std::process::Command::new("bash");
    repo.env_for(&mut bash);
    let out = bash
        .current_dir(repo.path())
        .env("RELEASE_FIXTURE_EPOCH", support::EPOCH.to_string())
        .args([
            "-c",
            r#"set -euo pipefail; source "$1"; source "$2""#,
            "bash",
        ])
        .arg(&prelude)
        .arg(&script)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(format!(
            "{name}: commits.sh failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }

    let out = repo.release().args(&args).output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.is_empty() {
        text.push_str("--- stderr ---\n");
        text.push_str(&repo.redact(&stderr));
    }
    if !out.status.success() {
        text.push_str(&format!(
            "--- exit code {} ---\n",
            out.status.code().unwrap_or(-1)
        ));
    }
    let expected = ["expected.md", "expected.txt"]
        .iter()
        .map(|f| case.join(f))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            let ext = if args[0] == "changelog" { "md" } else { "txt" };
            case.join(format!("expected.{ext}"))
        });
    Ok((text, expected))
}

#[test]
fn fixtures() {
    let update = std::env::var_os("UPDATE_FIXTURES").is_some_and(|v| v == "1");
    let cases = cases();
    assert!(!cases.is_empty(), "no fixtures found");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let (actual, expected_path) = match run_case(case) {
            Ok(r) => r,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        if update || !expected_path.exists() {
            std::fs::write(&expected_path, &actual).unwrap();
            if !update {
                failures.push(format!(
                    "{name}: wrote {} from the actual output; review it, then run again",
                    expected_path.display()
                ));
            }
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap();
        if expected != actual {
            failures.push(format!(
                "{name}: output differs from {}\n--- expected\n{expected}\n--- actual\n{actual}\n(UPDATE_FIXTURES=1 rewrites the expected files)",
                expected_path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixture(s) failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
