//! `release bump`

use anyhow::Result;
use serde::Serialize;
use std::process::ExitCode;

use super::{now, plan_options, Workspace};
use crate::adapters::templates::Templates;
use crate::app::bump::{self, BumpOptions};
use crate::app::packages::PackagesPlan;
use crate::core::plan::ReleasePlan;
use crate::core::step::StepReport;

#[derive(Serialize)]
struct BumpOutput<'a> {
    released: bool,
    dry_run: bool,
    #[serde(flatten)]
    plan: &'a ReleasePlan,
    steps: Vec<StepReport>,
}

pub async fn run(ws: &Workspace, args: &crate::cli::args::BumpArgs) -> Result<ExitCode> {
    // The same lock as `cut` and `ci`: two releases in one clone never interleave, and the
    // lock of a killed run tells which git lock files it left.
    let _lock = if args.dry_run {
        None
    } else {
        Some(crate::adapters::git::lock::Lock::acquire(&ws.repo)?)
    };
    crate::app::packages::check_selection(&ws.config, args.version.package.as_deref())?;
    if ws.config.has_packages() {
        return run_packages(ws, args).await;
    }
    let plan = crate::app::plan::gather(&ws.repo, &ws.config, &plan_options(&args.version)?)?;
    if plan.next_version.is_none() {
        // HEAD is released; its post_bump hooks may not have succeeded yet.
        let pending = if args.dry_run {
            None
        } else {
            crate::util::signals::catch_signals();
            bump::finish_pending_post_bump(&ws.repo, &ws.config, args.skip_hooks)?
        };
        let steps: Vec<StepReport> = pending.into_iter().collect();
        if args.json {
            let out = BumpOutput {
                released: false,
                dry_run: args.dry_run,
                plan: &plan,
                steps,
            };
            super::print_json(&out)?;
        } else if steps.is_empty() {
            eprintln!("{}", crate::util::redact::redact(&plan.reason));
        } else {
            outln!(
                "{}; finished its pending post_bump hooks",
                crate::util::redact::redact(&plan.reason)
            )?;
            out!("{}", super::step_lines(&steps))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let options = options_of(args);
    let templates = Templates::load(ws.templates_dir()?.as_deref())?;
    let github = ws.github();
    let release = bump::release_of(
        &ws.repo,
        &plan,
        now(),
        github.as_ref(),
        &ws.config,
        &ws.environ,
    );
    let prepared = bump::prepare(&ws.repo, &ws.config, &plan, &templates, &release)?;
    if !args.dry_run {
        crate::util::signals::catch_signals();
    }
    let steps = bump::apply(&ws.repo, &ws.config, &plan, &prepared, &options).await?;
    if args.json {
        let out = BumpOutput {
            released: !args.dry_run,
            dry_run: args.dry_run,
            plan: &plan,
            steps,
        };
        super::print_json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if args.dry_run {
        "would release"
    } else {
        "released"
    };
    let from = plan.current_version.as_deref().unwrap_or("nothing");
    let text = format!(
        "{verb} {} ({from} -> {}, {})\n{}",
        prepared.tag,
        prepared.version,
        plan.reason,
        super::step_lines(&steps)
    );
    out!("{}", crate::util::redact::redact(&text))?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct PackagesBumpOutput<'a> {
    released: bool,
    dry_run: bool,
    #[serde(flatten)]
    plan: &'a PackagesPlan,
    steps: Vec<StepReport>,
}

/// `release bump` with `[packages]`: every changed package (or `--package`) in one release
/// commit, one tag each.
/// The bump options the command line asks for.
fn options_of(args: &crate::cli::args::BumpArgs) -> BumpOptions {
    BumpOptions {
        allow_dirty: args.allow_dirty,
        no_commit: args.no_commit,
        no_tag: args.no_tag,
        dry_run: args.dry_run,
        skip_hooks: args.skip_hooks,
    }
}

async fn run_packages(ws: &Workspace, args: &crate::cli::args::BumpArgs) -> Result<ExitCode> {
    let plan = crate::app::packages::gather(
        &ws.repo,
        &ws.config,
        &plan_options(&args.version)?,
        args.version.package.as_deref(),
    )?;
    let first = plan.released().next().map(|p| p.plan.clone());
    let Some(first) = first else {
        let pending = if args.dry_run {
            None
        } else {
            crate::util::signals::catch_signals();
            bump::finish_pending_post_bump(&ws.repo, &ws.config, args.skip_hooks)?
        };
        let steps: Vec<StepReport> = pending.into_iter().collect();
        if args.json {
            super::print_json(&PackagesBumpOutput {
                released: false,
                dry_run: args.dry_run,
                plan: &plan,
                steps,
            })?;
        } else {
            eprint!(
                "{}",
                crate::util::redact::redact(&super::plan::human_packages(&plan))
            );
            out!("{}", super::step_lines(&steps))?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let options = options_of(args);
    let templates = Templates::load(ws.templates_dir()?.as_deref())?;
    let github = ws.github();
    let prepared = crate::app::packages::prepare(
        &ws.repo,
        &ws.config,
        &plan,
        &templates,
        now(),
        github.as_ref(),
        &ws.environ,
    )?;
    if !args.dry_run {
        crate::util::signals::catch_signals();
    }
    let steps = bump::apply(&ws.repo, &ws.config, &first, &prepared, &options).await?;
    if args.json {
        super::print_json(&PackagesBumpOutput {
            released: !args.dry_run,
            dry_run: args.dry_run,
            plan: &plan,
            steps,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if args.dry_run {
        "would release"
    } else {
        "released"
    };
    let mut text = String::new();
    for p in plan.released() {
        text.push_str(&format!(
            "{verb} {} {} ({} -> {}, {})\n",
            p.name,
            p.tag.as_deref().unwrap_or_default(),
            p.plan.current_version.as_deref().unwrap_or("nothing"),
            p.plan.next_version.as_deref().unwrap_or_default(),
            p.plan.reason
        ));
    }
    text.push_str(&super::step_lines(&steps));
    out!("{}", crate::util::redact::redact(&text))?;
    Ok(ExitCode::SUCCESS)
}
