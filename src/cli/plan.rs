//! `release plan`

use anyhow::Result;
use std::fmt::Write as _;
use std::process::ExitCode;

use super::{plan_options, Workspace};
use crate::cli::args::PlanArgs;
use crate::core::plan::ReleasePlan;

pub fn run(ws: &Workspace, args: &PlanArgs) -> Result<ExitCode> {
    let plan = crate::app::plan::gather(&ws.repo, &ws.config, &plan_options(&args.version)?)?;
    if args.json {
        super::print_json(&plan)?;
    } else {
        out!("{}", crate::util::redact::redact(&human(&plan)))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The plan as a person reads it.
pub fn human(plan: &ReleasePlan) -> String {
    let mut out = String::new();
    let current = match (&plan.current_tag, &plan.current_version) {
        (Some(t), Some(v)) => format!("{v} (tag {t})"),
        _ => "none (no release tag yet)".into(),
    };
    let _ = writeln!(out, "current: {current}");
    match (&plan.next_version, &plan.next_tag) {
        (Some(v), Some(t)) => {
            let _ = writeln!(out, "next:    {v} (tag {t}, {} bump)", plan.bump.as_str());
        }
        _ => {
            let _ = writeln!(out, "next:    nothing to release");
        }
    }
    let _ = writeln!(out, "why:     {}", plan.reason);
    if let Some(branch) = &plan.branch {
        let _ = writeln!(out, "branch:  {branch}");
    }
    if !plan.commits.is_empty() {
        let _ = writeln!(out, "\ncommits ({}):", plan.commits.len());
        for c in &plan.commits {
            let scope = c
                .message
                .scope
                .as_ref()
                .map(|s| format!("({s})"))
                .unwrap_or_default();
            let bang = if c.message.breaking { "!" } else { "" };
            let _ = writeln!(
                out,
                "  {} {:<6} {}{scope}{bang}: {}",
                c.short_id,
                c.level.as_str(),
                c.message.kind,
                c.message.summary
            );
        }
    }
    if !plan.reverted.is_empty() {
        let _ = writeln!(
            out,
            "\nreverted in this release, not counted ({}):",
            plan.reverted.len()
        );
        for c in &plan.reverted {
            let _ = writeln!(
                out,
                "  {} {} ({})",
                &c.id[..7.min(c.id.len())],
                c.header,
                c.reason
            );
        }
    }
    if plan.ignored > 0 {
        let _ = writeln!(
            out,
            "\nignored, not Conventional Commits ({}):",
            plan.ignored
        );
        for c in plan.ignored_commits.iter().take(20) {
            let _ = writeln!(out, "  {} {}", &c.id[..7.min(c.id.len())], c.header);
        }
        if plan.ignored > 20 {
            let _ = writeln!(out, "  ... and {} more (see --json)", plan.ignored - 20);
        }
    }
    out
}
