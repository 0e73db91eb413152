//! `release plan`

use anyhow::Result;
use std::fmt::Write as _;
use std::process::ExitCode;

use super::{plan_options, Workspace};
use crate::app::packages::PackagesPlan;
use crate::cli::args::PlanArgs;
use crate::core::plan::ReleasePlan;

pub fn run(ws: &Workspace, args: &PlanArgs) -> Result<ExitCode> {
    let only = args.version.package.as_deref();
    crate::app::packages::check_selection(&ws.config, only)?;
    if ws.config.has_packages() {
        let plan = crate::app::packages::gather(
            &ws.repo,
            &ws.config,
            &plan_options(&args.version)?,
            only,
        )?;
        if args.json {
            super::print_json(&plan)?;
        } else {
            out!("{}", crate::util::redact::redact(&human_packages(&plan)))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let plan = crate::app::plan::gather(&ws.repo, &ws.config, &plan_options(&args.version)?)?;
    if args.json {
        super::print_json(&plan)?;
    } else {
        out!("{}", crate::util::redact::redact(&human(&plan)))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The plan of several packages as a person reads it: each package with a release and why,
/// then the others in one line.
pub fn human_packages(plan: &PackagesPlan) -> String {
    let mut out = String::new();
    for p in plan.released() {
        let _ = writeln!(out, "package {}:", p.name);
        for line in human(&p.plan).lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                let _ = writeln!(out, "  {line}");
            }
        }
        out.push('\n');
    }
    let unchanged: Vec<String> = plan
        .packages
        .iter()
        .filter(|p| p.plan.next_version.is_none())
        .map(|p| match &p.plan.current_version {
            Some(v) => format!("{} {v}", p.name),
            None => format!("{} (no release yet)", p.name),
        })
        .collect();
    if !unchanged.is_empty() {
        let _ = writeln!(out, "nothing to release: {}", unchanged.join(", "));
    }
    match &plan.release_commit {
        Some(message) => {
            let _ = writeln!(out, "release commit: {message}");
        }
        None => {
            let _ = writeln!(out, "no package has anything to release");
        }
    }
    out
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
