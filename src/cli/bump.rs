//! `release bump`

use anyhow::Result;
use serde::Serialize;
use std::process::ExitCode;

use super::{now, plan_options, Workspace};
use crate::adapters::templates::Templates;
use crate::app::bump::{self, BumpOptions};
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
    let options = BumpOptions {
        allow_dirty: args.allow_dirty,
        no_commit: args.no_commit,
        no_tag: args.no_tag,
        dry_run: args.dry_run,
        skip_hooks: args.skip_hooks,
    };
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
