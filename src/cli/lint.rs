//! `release lint`

use anyhow::{Context as _, Result};
use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use super::Workspace;
use crate::cli::args::LintArgs;
use crate::core::lint;
use crate::util::redact::{escape_controls, redact};

pub fn run(dir: &Path, config_path: Option<&Path>, args: &LintArgs) -> Result<ExitCode> {
    if let Some(range) = &args.range {
        let ws = Workspace::open(dir, config_path)?;
        return lint_range(&ws, range);
    }
    // A message or file can be checked outside a repository; inside one, its configuration
    // (or the explicit file) must load like for any other command.
    let config = match crate::adapters::git::history::open(dir) {
        Ok(_) => Workspace::open(dir, config_path)?.config,
        Err(_) => super::load_config(dir, config_path)?,
    };
    let (source, message) = match (&args.edit, &args.message) {
        (Some(file), _) => {
            let bytes =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            (
                file.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        }
        (None, Some(m)) => ("message".to_string(), m.clone()),
        (None, None) => {
            let mut m = String::new();
            std::io::stdin()
                .read_to_string(&mut m)
                .context("cannot read the message from stdin")?;
            ("stdin".to_string(), m)
        }
    };
    let diagnostics = lint::check(&message, &config.lint);
    if diagnostics.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprint!("{}", shown(&lint::render(&source, &message, &diagnostics)));
    eprintln!("\nthe commit message does not follow Conventional Commits (https://www.conventionalcommits.org)");
    Ok(ExitCode::FAILURE)
}

fn lint_range(ws: &Workspace, range: &str) -> Result<ExitCode> {
    let what = if range.contains("..") {
        "the range "
    } else {
        ""
    };
    let commits = crate::adapters::git::history::commits_in(&ws.repo, range)
        .with_context(|| format!("cannot resolve {what}`{range}`"))?;
    let (mut checked, mut failed) = (0usize, 0usize);
    for commit in commits {
        if commit.parents > 1 {
            continue;
        }
        checked += 1;
        let message = commit.message;
        let diagnostics = lint::check(&message, &ws.config.lint);
        if !diagnostics.is_empty() {
            failed += 1;
            let short = &commit.id.to_string()[..7];
            eprint!(
                "{}",
                shown(&lint::render(
                    &format!("commit {short}"),
                    &message,
                    &diagnostics
                ))
            );
        }
    }
    if failed > 0 {
        eprintln!("\n{failed} of {checked} commit(s) do not follow Conventional Commits");
        return Ok(ExitCode::FAILURE);
    }
    eprintln!("{checked} commit(s) checked, all conventional");
    Ok(ExitCode::SUCCESS)
}

/// A lint report as shown: the message quoted in it is the commit's (or the editor's) text,
/// whose terminal controls are made visible and whose secrets are masked.
fn shown(report: &str) -> String {
    redact(&escape_controls(report)).into_owned()
}
