//! `release changelog`

use anyhow::{Context as _, Result};
use std::process::ExitCode;

use super::{now, Workspace};
use crate::changelog::{self, Release, ReleaseInfo, Templates};
use crate::cli::ChangelogArgs;
use crate::history;
use crate::plan;

pub fn run(ws: &Workspace, args: &ChangelogArgs) -> Result<ExitCode> {
    let templates = Templates::load(ws.templates_dir().as_deref())?;
    let github = ws.github();
    let rules = ws.config.bump.rules();
    let head = history::head_commit(&ws.repo)?;
    let tags = history::version_tags(&ws.repo, &ws.config.tag_prefix)?;
    let releases: Vec<Release> = if args.all {
        // Stable releases only: a stable section already covers its pre-releases.
        let stable: Vec<_> = tags
            .iter()
            .filter(|t| t.version.pre.is_empty())
            .cloned()
            .collect();
        let split = history::releases(&ws.repo, head, &stable)?;
        let mut out = Vec::with_capacity(split.len());
        for (i, history::ReleaseCommits { tag, commits }) in split.iter().enumerate() {
            let previous_tag = split
                .get(i + 1)
                .and_then(|r| r.tag.as_ref())
                .map(|t| t.name.clone());
            let time = match tag {
                Some(t) => ws
                    .repo
                    .find_commit(t.commit)
                    .map_or(0, |c| c.time().seconds()),
                None => now(),
            };
            let (counted, _, _) = plan::classify_commits(commits, &rules);
            let info = ReleaseInfo {
                version: tag.as_ref().map(|t| t.version.to_string()),
                tag: tag.as_ref().map(|t| t.name.clone()),
                previous_tag,
                time,
                github: github.as_ref(),
            };
            out.push(changelog::release_model(
                &counted,
                &info,
                &ws.config.changelog,
            ));
        }
        out
    } else {
        let current = history::latest_reachable(&ws.repo, head, &tags, true)?;
        let commits = history::commits_since(&ws.repo, head, current.map(|t| t.commit))?;
        let (counted, _, _) = plan::classify_commits(&commits, &rules);
        let info = ReleaseInfo {
            version: None,
            tag: None,
            previous_tag: current.map(|t| t.name.clone()),
            time: now(),
            github: github.as_ref(),
        };
        vec![changelog::release_model(
            &counted,
            &info,
            &ws.config.changelog,
        )]
    };
    let mut text = templates.changelog(&releases)?;
    if args.all {
        text = format!("{}\n{text}", changelog::HEADER);
    }
    match &args.output {
        Some(path) if path.as_os_str() != "-" => std::fs::write(path, &text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        _ => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
