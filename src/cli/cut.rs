//! `release cut` and `release ci`

use anyhow::{Context as _, Result};
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use super::{plan_options, print_json, Workspace};
use crate::app::cut::{self, CutOptions, CutOutcome, CutReport};
use crate::cli::args::{CiArgs, CutArgs, VersionArgs};
use crate::util::redact::redact;

pub async fn cut(ws: &Workspace, args: &CutArgs) -> Result<ExitCode> {
    crate::app::packages::check_selection(&ws.config, args.version.package.as_deref())?;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let options = CutOptions {
        remote: args.publish.remote.clone(),
        dry_run: args.publish.dry_run,
        confirm: interactive && !args.yes && !super::is_ci(),
        plan: plan_options(&args.version)?,
        no_github: args.publish.no_github,
        no_deploy: args.publish.no_deploy,
        rerun_migrations: args.publish.rerun_migrations,
        hold_majors: false,
        environ: ws.environ.clone(),
    };
    if ws.config.has_packages() {
        return packages(
            ws,
            &options,
            args.version.package.as_deref(),
            args.publish.json,
            false,
        )
        .await;
    }
    let report = run(ws, &options).await?;
    output(&report, args.publish.json)
}

/// `cut` and `ci` with `[packages]`.
async fn packages(
    ws: &Workspace,
    options: &CutOptions,
    only: Option<&str>,
    json: bool,
    ci: bool,
) -> Result<ExitCode> {
    let github = ws.github();
    let report = crate::app::packages_cut::cut(
        &ws.repo,
        &ws.root,
        &ws.config,
        ws.templates_dir()?.as_deref(),
        options,
        only,
        github.as_ref(),
    )
    .await?;
    if ci {
        packages_github_outputs(&report)?;
    }
    if json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!("{}\n", report.reason);
    out.push_str(&super::step_lines(&report.steps));
    out!("{}", redact(&out))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn ci(ws: &Workspace, args: &CiArgs) -> Result<ExitCode> {
    let options = CutOptions {
        remote: args.publish.remote.clone(),
        dry_run: args.publish.dry_run,
        confirm: false,
        plan: plan_options(&VersionArgs {
            level: None,
            pre: None,
            package: None,
        })?,
        no_github: args.publish.no_github,
        no_deploy: args.publish.no_deploy,
        rerun_migrations: args.publish.rerun_migrations,
        hold_majors: ws.config.bump.major_requires_approval,
        environ: ws.environ.clone(),
    };
    if ws.config.has_packages() {
        return packages(ws, &options, None, args.publish.json, true).await;
    }
    let report = run(ws, &options).await?;
    github_outputs(&report)?;
    output(&report, args.publish.json)
}

async fn run(ws: &Workspace, options: &CutOptions) -> Result<CutReport> {
    let mut ask = |question: &str| {
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
    };
    Ok(cut::cut(
        &ws.repo,
        &ws.root,
        &ws.config,
        ws.templates_dir()?.as_deref(),
        options,
        &mut ask,
    )
    .await?)
}

fn output(report: &CutReport, json: bool) -> Result<ExitCode> {
    if json {
        print_json(report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    out.push_str(&format!("{}\n", report.reason));
    out.push_str(&super::step_lines(&report.steps));
    if let Some(url) = &report.release_url {
        out.push_str(&format!("release: {url}\n"));
    }
    out!("{}", redact(&out))?;
    Ok(ExitCode::SUCCESS)
}

/// `released`, `version`, `tag` (and `prerelease`, `outcome`) for later steps of the job, and a
/// summary for the run's page. Both files are appended to, as GitHub documents.
fn github_outputs(report: &CutReport) -> Result<()> {
    let released = matches!(report.outcome, CutOutcome::Released);
    if let Ok(path) = std::env::var("GITHUB_OUTPUT") {
        let mut text = format!("released={released}\n");
        let outcome = serde_json::to_value(report.outcome)?;
        text.push_str(&format!(
            "outcome={}\n",
            outcome.as_str().unwrap_or_default()
        ));
        if let (Some(v), Some(t)) = (&report.version, &report.tag) {
            text.push_str(&format!(
                "version={v}\ntag={t}\nprerelease={}\n",
                report.prerelease
            ));
        }
        text.push_str(&format!("deployed={}\n", report.deployed.join(",")));
        if let Some(pending) = &report.pending {
            text.push_str(&format!("pending={pending}\n"));
        }
        append(&path, &text)?;
    }
    if let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY") {
        let mut text = match (&report.tag, released, &report.pending) {
            (Some(tag), true, _) => format!("## Released {tag}\n\n"),
            (_, _, Some(pending)) => format!("## Major release {pending} waits for approval\n\n"),
            _ => "## No release\n\n".to_string(),
        };
        text.push_str(&format!("{}\n\n", report.reason));
        if let Some(url) = &report.release_url {
            text.push_str(&format!("[GitHub release]({url})\n\n"));
        }
        if !report.deployed.is_empty() {
            text.push_str(&format!("Runs in: {}\n\n", report.deployed.join(", ")));
        }
        if let (Some(notes), true) = (&report.notes, released) {
            text.push_str(notes);
            text.push('\n');
        }
        append(&path, &redact(&text))?;
    }
    Ok(())
}

/// `released`, `tags` and `packages` (comma-separated) and one `version_NAME` per released
/// package for later steps of the job, and a summary for the run's page.
fn packages_github_outputs(report: &crate::app::packages_cut::PackagesCutReport) -> Result<()> {
    let released: Vec<_> = report.plan.released().collect();
    if let Ok(path) = std::env::var("GITHUB_OUTPUT") {
        let mut text = format!("released={}\n", report.released);
        if !report.pending.is_empty() {
            text.push_str(&format!(
                "outcome=pending_approval\npending={}\n",
                report.pending.join(",")
            ));
        }
        text.push_str(&format!("tags={}\n", report.tags.join(",")));
        text.push_str(&format!("deployed={}\n", report.deployed.join(",")));
        let names: Vec<&str> = released.iter().map(|p| p.name.as_str()).collect();
        text.push_str(&format!("packages={}\n", names.join(",")));
        for p in &released {
            if let Some(v) = &p.plan.next_version {
                text.push_str(&format!("version_{}={v}\n", p.name));
            }
        }
        append(&path, &text)?;
    }
    if let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY") {
        let mut text = if report.released {
            format!("## Released {}\n\n", report.tags.join(", "))
        } else if !report.pending.is_empty() {
            format!(
                "## Major release {} waits for approval\n\n",
                report.pending.join(", ")
            )
        } else {
            "## No release\n\n".to_string()
        };
        text.push_str(&format!("{}\n\n", report.reason));
        for url in &report.release_urls {
            text.push_str(&format!("- [{url}]({url})\n"));
        }
        if !report.deployed.is_empty() {
            text.push_str(&format!("\nRuns in: {}\n", report.deployed.join(", ")));
        }
        append(&path, &redact(&text))?;
    }
    Ok(())
}

fn append(path: &str, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot write {path}"))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {path}"))
}
