//! `release changelog`

use anyhow::{Context as _, Result};
use std::io::Write as _;
use std::process::ExitCode;

use super::{now, Workspace};
use crate::changelog::{self, ReleaseInfo, Templates};
use crate::cli::ChangelogArgs;
use crate::config::Config;
use crate::history::{self, RawCommit};
use crate::plan;

pub fn run(ws: &Workspace, args: &ChangelogArgs) -> Result<ExitCode> {
    let templates = Templates::load(ws.templates_dir().as_deref())?;
    let github = ws.github();
    let head = history::head_commit(&ws.repo)?;
    let tags = history::version_tags(&ws.repo, &ws.config.tag_prefix)?;
    let mut text = String::new();
    if args.all {
        if ws.repo.is_shallow() {
            return Err(history::HistoryError::Shallow.into());
        }
        text.push_str(changelog::HEADER);
        text.push('\n');
        // Stable releases only: a stable section already covers its pre-releases.
        let stable: Vec<_> = tags
            .iter()
            .filter(|t| t.version.pre.is_empty())
            .cloned()
            .collect();
        let split = history::releases(&ws.repo, head, &stable)?;
        let previous: Vec<Option<String>> = split
            .iter()
            .skip(1)
            .map(|r| r.tag.as_ref().map(|t| t.name.clone()))
            .chain(std::iter::once(None))
            .collect();
        let infos: Vec<ReleaseInfo<'_>> = split
            .iter()
            .zip(previous)
            .map(|(release, previous_tag)| ReleaseInfo {
                version: release.tag.as_ref().map(|t| t.version.to_string()),
                tag: release.tag.as_ref().map(|t| t.name.clone()),
                previous_tag,
                time: match &release.tag {
                    Some(t) => ws
                        .repo
                        .find_commit(t.commit)
                        .map_or(0, |c| c.time().seconds()),
                    None => now(),
                },
                github: github.as_ref(),
            })
            .collect();
        // Releases render independently: split them over the cores, keep their order. Each
        // worker holds one release's model at a time, so memory does not grow with history.
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4);
        let chunk = split.len().div_ceil(workers).max(1);
        let config = &ws.config;
        let templates = &templates;
        let parts: Vec<Result<String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = split
                .chunks(chunk)
                .zip(infos.chunks(chunk))
                .map(|(releases, infos)| {
                    scope.spawn(move || {
                        let mut out = String::new();
                        for (release, info) in releases.iter().zip(infos) {
                            out.push_str(&render(config, templates, &release.commits, info)?);
                            out.push('\n');
                        }
                        Ok(out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a rendering thread panicked")))
                })
                .collect()
        });
        for part in parts {
            text.push_str(&part?);
        }
    } else {
        let current = history::latest_reachable(&ws.repo, head, &tags, true)?;
        if current.is_none() && ws.repo.is_shallow() {
            return Err(history::HistoryError::ShallowWithoutTags.into());
        }
        let commits = history::commits_since(&ws.repo, head, current.map(|t| t.commit))?;
        let info = ReleaseInfo {
            version: None,
            tag: None,
            previous_tag: current.map(|t| t.name.clone()),
            time: now(),
            github: github.as_ref(),
        };
        text = render(&ws.config, &templates, &commits, &info)?;
    }
    let text = format!("{}\n", text.trim_end());
    match &args.output {
        Some(path) if path.as_os_str() != "-" => std::fs::write(path, &text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        _ => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("cannot write to stdout")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Render one release's section.
fn render(
    config: &Config,
    templates: &Templates,
    commits: &[RawCommit],
    info: &ReleaseInfo<'_>,
) -> Result<String> {
    let (counted, _, _) = plan::classify_commits(commits, &config.bump.rules());
    let release = changelog::release_model(&counted, info, &config.changelog);
    Ok(templates.changelog(std::slice::from_ref(&release))?)
}
