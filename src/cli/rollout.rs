//! `release deploy|promote|approve|reject|rollback|status|history|unlock`

use anyhow::{bail, Result};
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use super::{print_json, Workspace};
use crate::app::rollout::{DeployReport, Rollout};
use crate::cli::args::{
    ContinueArgs, DecideArgs, DeployArgs, HistoryArgs, PromoteArgs, RollbackArgs, RunArgs,
    StatusArgs,
};
use crate::config::environments::Span;
use crate::ledger::{Decision, Record, Status};
use crate::util::redact::redact;

/// The rollout, for the versions `env` runs (its package's) when one is given.
async fn open<'a>(
    ws: &'a Workspace,
    run: Option<&RunArgs>,
    env: Option<&str>,
) -> Result<Rollout<'a>> {
    if ws.config.environments.is_empty() {
        bail!("release.toml has no [environments.<name>] section: nothing to deploy to (see README, \"Rollout\")");
    }
    let mut rollout = Rollout::open(&ws.repo, &ws.config, &ws.environ).await;
    if let Some(env) = env {
        rollout = rollout.for_env(env);
    }
    if let Some(run) = run {
        rollout.lock_wait = Span::parse(&run.wait)
            .map_err(|e| anyhow::anyhow!("--wait: {e}"))?
            .0;
        rollout.force_alarms = run.force;
    }
    Ok(rollout)
}

/// A version as given, without the tag prefix, checked.
fn version_arg(ws: &Workspace, given: &str) -> Result<String> {
    version_of(ws, given, None)
}

/// The name a held major release has in the ledger: the version for the root, a package's tag
/// (`api-v2.0.0`) with `[packages]`.
fn release_key(ws: &Workspace, given: &str) -> Result<String> {
    if !ws.config.has_packages() {
        return version_arg(ws, given);
    }
    for name in ws.config.packages.keys() {
        let prefix = ws.config.tag_prefix_of(Some(name));
        if let Some(v) = given.strip_prefix(prefix.as_str()) {
            if let Ok(v) = semver::Version::parse(v) {
                return Ok(format!("{prefix}{v}"));
            }
        }
    }
    bail!("`{given}` is no package's tag: with [packages], a held major release is named by its package's tag (`release approve api-v2.0.0 --release`; `release ci` names the held ones)")
}

/// The package `env` runs, if it names one.
fn package_of<'w>(ws: &'w Workspace, env: &str) -> Option<&'w str> {
    ws.config
        .environments
        .get(env)
        .and_then(|e| e.package.as_deref())
}

/// A version of what `env` runs as given, without its tag prefix, checked.
fn version_for(ws: &Workspace, given: &str, env: &str) -> Result<String> {
    version_of(ws, given, package_of(ws, env))
}

fn version_of(ws: &Workspace, given: &str, package: Option<&str>) -> Result<String> {
    let prefix = ws.config.tag_prefix_of(package);
    let v = given.strip_prefix(prefix.as_str()).unwrap_or(given);
    semver::Version::parse(v)
        .map(|v| v.to_string())
        .map_err(|e| anyhow::anyhow!("`{given}` is not a version like 1.2.3 ({e})"))
}

/// A package's environment takes only versions the package was released with (its tag).
fn package_release(ws: &Workspace, env: &str, version: &str) -> Result<()> {
    let Some(package) = package_of(ws, env) else {
        return Ok(());
    };
    let tag = format!("{}{version}", ws.config.tag_prefix_of(Some(package)));
    if crate::adapters::git::tag_target(&ws.repo, &tag)?.is_none() {
        bail!("{env} runs package {package}, which has no release {version} (no tag {tag} here): fetch the tags (`git fetch --tags`), or check the version (`release plan --package {package}`); nothing was changed");
    }
    Ok(())
}

fn finish(report: &DeployReport, json: bool) -> Result<ExitCode> {
    if json {
        print_json(report)?;
    }
    if report.outcome.is_success() {
        if !json {
            outln!("{}", redact(&report.summary()))?;
        }
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: {}", redact(&report.summary()));
        Ok(ExitCode::FAILURE)
    }
}

pub async fn deploy(ws: &Workspace, args: &DeployArgs) -> Result<ExitCode> {
    let mut rollout = open(ws, Some(&args.run), Some(&args.env)).await?;
    rollout.rerun_migrations = args.rerun_migrations;
    let version = version_for(ws, &args.version, &args.env)?;
    package_release(ws, &args.env, &version)?;
    let report = rollout.deploy(&args.env, &version).await?;
    finish(&report, args.run.json)
}

pub async fn promote(ws: &Workspace, args: &PromoteArgs) -> Result<ExitCode> {
    let mut rollout = open(ws, Some(&args.run), Some(&args.to)).await?;
    rollout.rerun_migrations = args.rerun_migrations;
    let version = version_for(ws, &args.version, &args.to)?;
    package_release(ws, &args.to, &version)?;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if interactive
        && !args.yes
        && !super::is_ci()
        && rollout.may_approve_now(&args.to, &version).await?
    {
        eprint!(
            "{version} has not enough approvals for {}. Approve it as {}? [y/N] ",
            args.to,
            rollout.by().await
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
            rollout
                .decide(
                    &args.to,
                    &version,
                    Decision::Approved,
                    Some("at the promote prompt".into()),
                    Vec::new(),
                )
                .await?;
        }
    }
    let report = rollout.deploy(&args.to, &version).await?;
    finish(&report, args.run.json)
}

pub async fn decide(ws: &Workspace, args: &DecideArgs, decision: Decision) -> Result<ExitCode> {
    let Some(env) = args.env.as_deref() else {
        let version = release_key(ws, &args.version)?;
        // A held major release needs the ledger, not an environment.
        let rollout = Rollout::open(&ws.repo, &ws.config, &ws.environ).await;
        return decide_release(&rollout, args, &version, decision).await;
    };
    let version = version_for(ws, &args.version, env)?;
    let rollout = open(ws, None, Some(env)).await?;
    let tag = format!("{}{version}", ws.config.tag_prefix_of(package_of(ws, env)));
    if crate::adapters::git::tag_target(&ws.repo, &tag)?.is_none() {
        bail!("there is no release {version} (no tag {tag} here): fetch the tags (`git fetch --tags`) or check the version");
    }
    let note = args.note.clone().filter(|n| !n.trim().is_empty());
    let approval = rollout
        .decide(env, &version, decision, note, args.accept_risk.clone())
        .await?;
    if args.json {
        print_json(&approval)?;
    } else {
        let verb = match decision {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        };
        let digest = approval
            .digest
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        outln!("{} {verb} {version}{digest} for {env}", approval.by)?;
        // The decision is recorded: what is still missing is advice, and failing to read it
        // must not turn a recorded decision into a failed command.
        let missing = match rollout.blockers(env, &version).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("cannot tell what {version} still needs for {env}: {e}");
                return Ok(ExitCode::SUCCESS);
            }
        };
        // An approval given while a deploy of the version is paused there also lets it go on.
        if decision == Decision::Approved {
            match rollout.continue_if_ready(env, &version).await {
                Ok((continued, _)) if !continued.is_empty() => {
                    outln!("continued to production traffic: {}", continued.join(", "))?;
                    return Ok(ExitCode::SUCCESS);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("cannot continue the paused deploy of {version} in {env}: {e}")
                }
            }
        }
        if decision == Decision::Approved {
            if missing.is_empty() {
                outln!("ready: `release promote {version} --to {env}`")?;
            } else {
                for m in missing {
                    outln!("  still missing: {m}")?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `release continue`: approve a paused deploy to go on; continued once approvals are in.
pub async fn continue_deploy(ws: &Workspace, args: &ContinueArgs) -> Result<ExitCode> {
    let version = version_for(ws, &args.version, &args.env)?;
    let rollout = open(ws, None, Some(&args.env)).await?;
    let note = args.note.clone().filter(|n| !n.trim().is_empty());
    let (approval, continued, missing) = rollout.continue_deploy(&args.env, &version, note).await?;
    if args.json {
        print_json(&serde_json::json!({
            "approval": approval,
            "continued": continued,
            "missing": missing,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{} approved {version} to go on to production traffic in {}",
        approval.by,
        args.env
    )?;
    if !continued.is_empty() {
        outln!("continued: {}", continued.join(", "))?;
    } else if missing.is_empty() {
        outln!("enough approvals: the deploy goes on at its pause (or already did)")?;
    } else {
        for m in missing {
            outln!("  still missing: {m}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `release approve|reject X.0.0 --release`: a decision on a held major release.
async fn decide_release(
    rollout: &Rollout<'_>,
    args: &DecideArgs,
    version: &str,
    decision: Decision,
) -> Result<ExitCode> {
    let note = args.note.clone().filter(|n| !n.trim().is_empty());
    let approval = rollout.decide_release(version, decision, note).await?;
    if args.json {
        print_json(&approval)?;
        return Ok(ExitCode::SUCCESS);
    }
    let verb = match decision {
        Decision::Approved => "approved",
        Decision::Rejected => "rejected",
    };
    outln!("{} {verb} the major release {version}", approval.by)?;
    match rollout.release_blockers(version).await {
        Ok(missing) if missing.is_empty() && decision == Decision::Approved => {
            outln!("ready: the next `release ci` publishes {version}")?
        }
        Ok(missing) => {
            for m in missing {
                outln!("  still missing: {m}")?;
            }
        }
        Err(e) => tracing::warn!("cannot tell what {version} still needs: {e}"),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn rollback(ws: &Workspace, args: &RollbackArgs) -> Result<ExitCode> {
    let rollout = open(ws, Some(&args.run), Some(&args.env)).await?;
    let to = args
        .to
        .as_deref()
        .map(|v| version_for(ws, v, &args.env))
        .transpose()?;
    let report = rollout.rollback(&args.env, to.as_deref()).await?;
    finish(&report, args.run.json)
}

fn describe_record(r: &Record) -> String {
    let version = r
        .version
        .as_deref()
        .unwrap_or("(from before release-agent)");
    let status = match r.status {
        Status::InProgress => "in progress",
        Status::Completed => "completed",
        Status::Failed => "failed",
    };
    let action = serde_json::to_value(r.action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut line = format!("{version} {action} {status} at {} by {}", r.at, r.by);
    if let Some(reason) = &r.reason {
        line.push_str(&format!(" ({reason})"));
    }
    line
}

pub async fn status(ws: &Workspace, args: &StatusArgs) -> Result<ExitCode> {
    let rollout = open(ws, None, None).await?;
    let mut all = rollout.status().await?;
    if let Some(env) = &args.env {
        if !ws.config.environments.contains_key(env) {
            bail!("no environment `{env}` in release.toml");
        }
        all.retain(|s| &s.env == env || s.env.starts_with(&format!("{env}.")));
    }
    if args.json {
        print_json(&all)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    for s in &all {
        let name = match &s.package {
            Some(p) => format!("{} (package {p})", s.env),
            None => s.env.clone(),
        };
        match &s.current {
            Some(r) => out.push_str(&format!("{name}: {}\n", describe_record(r))),
            None => out.push_str(&format!("{name}: nothing deployed yet\n")),
        }
        for d in &s.drift {
            out.push_str(&format!("  drift: {d}\n"));
        }
        for d in &s.stages {
            out.push_str(&format!(
                "  {}: {} ({})",
                d.service,
                d.stage_line(),
                d.status
            ));
            if let Some(hook) = d.awaiting() {
                let version = s
                    .current
                    .as_ref()
                    .and_then(|c| c.version.as_deref())
                    .unwrap_or("VERSION");
                // A cluster of a fleet is continued through its environment.
                let env = ws
                    .config
                    .environments
                    .keys()
                    .find(|e| s.env == **e || s.env.starts_with(&format!("{e}.")))
                    .unwrap_or(&s.env);
                out.push_str(&format!(
                    ", paused before production traffic until {}: `release continue {version} --env {env}`",
                    hook.expires_at.as_deref().unwrap_or("its timeout"),
                ));
            }
            out.push('\n');
        }
        for w in &s.waiting {
            if w.blockers.is_empty() {
                out.push_str(&format!(
                    "  {} ready to promote (approved by {})\n",
                    w.version,
                    if w.approved_by.is_empty() {
                        "nobody needed".to_string()
                    } else {
                        w.approved_by.join(", ")
                    }
                ));
            } else {
                out.push_str(&format!(
                    "  {} waits ({} of {} approvals): {}\n",
                    w.version,
                    w.approved_by.len(),
                    w.approvals_needed,
                    w.blockers.join("; ")
                ));
            }
        }
    }
    out!("{}", redact(&out))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn history(ws: &Workspace, args: &HistoryArgs) -> Result<ExitCode> {
    let rollout = open(ws, None, None).await?;
    let history = rollout.history(&args.env).await?;
    if args.json {
        print_json(&history)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    for r in &history {
        out.push_str(&describe_record(r));
        out.push('\n');
        for s in &r.services {
            out.push_str(&format!("    {} {}\n", s.service, s.task_definition));
        }
    }
    if history.is_empty() {
        out.push_str(&format!("nothing deployed to {} yet\n", args.env));
    }
    out!("{}", redact(&out))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn unlock(ws: &Workspace, env: &str) -> Result<ExitCode> {
    let rollout = open(ws, None, None).await?;
    match rollout.unlock(env).await? {
        Some(holder) => outln!("removed the lock of {env} held by {holder}")?,
        None => outln!("{env} was not locked")?,
    }
    Ok(ExitCode::SUCCESS)
}
