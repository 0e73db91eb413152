//! `release bump`

use anyhow::Result;
use serde::Serialize;
use std::process::ExitCode;

use super::{now, plan_options, Workspace};
use crate::bump::{self, BumpOptions, StepReport};
use crate::changelog::Templates;
use crate::plan::{self, ReleasePlan};

#[derive(Serialize)]
struct Outcome<'a> {
    released: bool,
    dry_run: bool,
    #[serde(flatten)]
    plan: &'a ReleasePlan,
    steps: Vec<StepReport>,
}

pub fn run(ws: &Workspace, args: &crate::cli::BumpArgs) -> Result<ExitCode> {
    let plan = plan::gather(&ws.repo, &ws.config, &plan_options(&args.version)?)?;
    if plan.next_version.is_none() {
        if args.json {
            let out = Outcome {
                released: false,
                dry_run: args.dry_run,
                plan: &plan,
                steps: vec![],
            };
            super::print_json(&out)?;
        } else {
            eprintln!("{}", crate::redact::redact(&plan.reason));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let options = BumpOptions {
        allow_dirty: args.allow_dirty,
        no_commit: args.no_commit,
        no_tag: args.no_tag,
        dry_run: args.dry_run,
    };
    let templates = Templates::load(ws.templates_dir()?.as_deref())?;
    let github = ws.github();
    let release = bump::release_of(&plan, now(), github.as_ref(), &ws.config);
    let prepared = bump::prepare(&ws.repo, &ws.config, &plan, &templates, &release)?;
    let steps = bump::apply(&ws.repo, &ws.config, &plan, &prepared, &options)?;
    if args.json {
        let out = Outcome {
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
    out!("{}", crate::redact::redact(&text))?;
    Ok(ExitCode::SUCCESS)
}
