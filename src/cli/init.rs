//! `release init`

use anyhow::Result;
use clap::Args;
use std::path::Path;
use std::process::ExitCode;

use crate::adapters::git::history;
use crate::app::init::{self, InitOptions};

/// `release init`
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Also write .github/workflows/release.yml (`release ci` on every push to the branch).
    #[arg(long)]
    pub github_actions: bool,
    /// Replace files that exist.
    #[arg(long)]
    pub force: bool,
    /// Print what would be written and write nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
}

/// Inspect the repository around `dir` and write its `release.toml`. The existing configuration
/// is not loaded: `--force` must be able to replace a broken one.
pub fn run(dir: &Path, config: Option<&Path>, args: &InitArgs) -> Result<ExitCode> {
    if let Some(p) = config {
        anyhow::bail!(
            "release init writes release.toml at the repository root, not {}: drop --config",
            p.display()
        );
    }
    let repo = history::open(dir)?;
    let root = crate::adapters::git::workdir(&repo)?;
    let environ = super::environ();
    let options = InitOptions {
        github_actions: args.github_actions,
        force: args.force,
        dry_run: args.dry_run,
        github_server: environ.get("GITHUB_SERVER_URL").map(str::to_string),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let report = init::run(&repo, &root, &options)?;
    let d = &report.detected;
    match (&d.tag_prefix, &d.latest_tag) {
        (Some(prefix), Some(latest)) => outln!(
            "found: {} release tag(s), the newest {latest} (tag_prefix = \"{prefix}\")",
            d.release_tags
        )?,
        _ => outln!(
            "found: no release tag yet: the first release will be {} (initial_version)",
            d.initial_version
                .clone()
                .unwrap_or_else(|| crate::config::Config::default().initial_version)
        )?,
    }
    for m in &d.manifests {
        outln!("found: {} at version {}", m.path, m.version)?;
    }
    for (path, why) in &d.skipped {
        outln!("found: {path}, left alone: {why}")?;
    }
    if d.dockerfile {
        outln!("found: Dockerfile ([image] written commented out: fill in its repository)")?;
    }
    if let Some(gh) = &d.github {
        outln!("found: origin on GitHub, {}", gh.url())?;
    } else if let Some(url) = &d.other_origin {
        outln!("found: origin {url}, not on GitHub")?;
    }
    for file in &report.files {
        if args.dry_run {
            outln!(
                "\nwould {} {}:\n{}",
                if file.replaced { "replace" } else { "write" },
                file.path,
                file.content.trim_end()
            )?;
        } else {
            outln!(
                "{} {}",
                if file.replaced { "replaced" } else { "wrote" },
                file.path
            )?;
        }
    }
    if !args.dry_run {
        outln!("next: `release config` shows the configuration in effect, `release plan` the next release")?;
    }
    Ok(ExitCode::SUCCESS)
}
