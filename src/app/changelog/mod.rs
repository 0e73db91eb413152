//! The changelog as `release changelog` renders it: the unreleased changes, or every release of
//! the whole history (read once, kept compact, rendered on up to four threads, in order).

pub mod compact;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::adapters::git::history::{self, HistoryError};
use crate::adapters::templates::{TemplateError, Templates};
use crate::config::Config;
use crate::core::changelog::{self, ReleaseInfo};
use crate::core::commit::RawCommit;
use crate::core::plan;
use crate::core::remote::GithubRepo;
use compact::CompactCommits;

/// A changelog that cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ChangelogError {
    /// The history cannot be read.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// A template failed.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A rendering thread panicked.
    #[error("a rendering thread panicked")]
    Panicked,
    /// The rendered text cannot be written.
    #[error("cannot write the changelog to a temporary file: {0}")]
    Output(#[source] std::io::Error),
}

/// What a changelog is made from.
pub struct Source<'a> {
    /// The repository.
    pub repo: &'a git2::Repository,
    /// The configuration.
    pub config: &'a Config,
    /// The templates.
    pub templates: &'a Templates,
    /// The GitHub repository, for links.
    pub github: Option<&'a GithubRepo>,
    /// The date of what is not released yet.
    pub now: i64,
}

/// The changes since the last release, as `bump` would write them.
pub fn unreleased(source: &Source<'_>) -> Result<String, ChangelogError> {
    let repo = source.repo;
    let config = source.config;
    let head = history::head_commit(repo)?;
    let tags = history::version_tags(repo, &config.tag_prefix)?;
    let current = history::latest_reachable(repo, head, &tags, true)?;
    if current.is_none() && repo.is_shallow() {
        return Err(HistoryError::ShallowWithoutTags.into());
    }
    // The commits `plan` and `bump` count, so the preview is what `bump` writes.
    let commits = plan::without_release_commits(
        history::commits_since(repo, head, current.map(|t| t.commit))?,
        &config.commit.message,
    );
    let info = ReleaseInfo {
        version: None,
        tag: None,
        previous_tag: current.map(|t| t.name.clone()),
        time: source.now,
        github: source.github,
    };
    render(config, source.templates, &commits, &info)
}

/// Every stable release of the whole history, newest first, each handed to `emit` in order
/// (a long history's changelog is tens of MB: it is never held whole).
pub fn whole_history(
    source: &Source<'_>,
    mut emit: impl FnMut(&str) -> std::io::Result<()>,
) -> Result<(), ChangelogError> {
    let (repo, config, templates) = (source.repo, source.config, source.templates);
    if repo.is_shallow() {
        return Err(HistoryError::Shallow.into());
    }
    let head = history::head_commit(repo)?;
    let tags = history::version_tags(repo, &config.tag_prefix)?;
    let mut out = |text: &str| emit(text).map_err(ChangelogError::Output);
    out(changelog::HEADER)?;
    out("\n")?;
    // Stable releases only: a stable section already covers its pre-releases.
    let stable: Vec<_> = tags
        .iter()
        .filter(|t| t.version.pre.is_empty())
        .cloned()
        .collect();
    // Keep of each commit only what the changelog can show (see `crate::app::changelog::compact`).
    let mut digests = CompactCommits::new(&config.changelog, templates.changelog_shows_bodies());
    // Release commits count for nothing, as in `plan` and `bump` (a merge always counts
    // for its commits; see `plan::without_release_commits`).
    let release_header = plan::release_header_pattern(&config.commit.message);
    let split = history::split(repo, head, &stable, |c| {
        let header = c.message.lines().next().unwrap_or_default();
        if c.parents <= 1
            && release_header
                .as_ref()
                .is_some_and(|re| re.is_match(header))
        {
            // An empty message is no Conventional Commit: kept as not counted.
            digests.add(&history::CommitView { message: "", ..*c })
        } else {
            digests.add(c)
        }
    })?;
    let previous: Vec<Option<String>> = split
        .releases
        .iter()
        .skip(1)
        .map(|r| r.tag.as_ref().map(|t| t.name.clone()))
        .chain(std::iter::once(None))
        .collect();
    let infos: Vec<ReleaseInfo<'_>> = split
        .releases
        .iter()
        .zip(previous)
        .map(|(release, previous_tag)| ReleaseInfo {
            version: release.tag.as_ref().map(|t| t.version.to_string()),
            tag: release.tag.as_ref().map(|t| t.name.clone()),
            previous_tag,
            time: match &release.tag {
                Some(t) => history::commit_time(repo, t.commit),
                None => source.now,
            },
            github: source.github,
        })
        .collect();
    let rules = crate::core::version::BumpRules::from_config(&config.bump);
    let sections = &config.changelog;
    let render_one = |i: usize| -> Result<String, ChangelogError> {
        let release = &split.releases[i];
        let counted = digests.planned(&split.ids, &split.commits, &release.commits, &rules);
        let model = changelog::release_model(&counted, &infos[i], sections);
        Ok(templates.changelog(std::slice::from_ref(&model))?)
    };
    render_in_order(split.releases.len(), render_one, |text| {
        out(&text)?;
        out("\n")
    })?;
    Ok(())
}

/// Render `count` releases, spread over up to four threads, and hand each text to `emit` in
/// order. Releases go in batches of [`BATCH`], so only one batch's texts wait in memory: the
/// changelog of a long history is tens of MB.
fn render_in_order(
    count: usize,
    render: impl Fn(usize) -> Result<String, ChangelogError> + Sync,
    mut emit: impl FnMut(String) -> Result<(), ChangelogError>,
) -> Result<(), ChangelogError> {
    const BATCH: usize = 64;
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    let mut start = 0;
    while start < count {
        let end = (start + BATCH).min(count);
        // Each worker takes the next release of the batch (renders differ in length).
        let next = AtomicUsize::new(start);
        let slots: Vec<Mutex<Option<Result<String, ChangelogError>>>> =
            (start..end).map(|_| Mutex::new(None)).collect();
        let (render, next, slots) = (&render, &next, &slots);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers.min(end - start))
                .map(|_| {
                    scope.spawn(move || loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= end {
                            break;
                        }
                        let text = render(i);
                        *slots[i - start]
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner) = Some(text);
                    })
                })
                .collect();
            for h in handles {
                // A panicking render leaves its slot empty, which is reported below.
                let _ = h.join();
            }
        });
        for slot in &slots[..] {
            let text = slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .unwrap_or(Err(ChangelogError::Panicked));
            emit(text?)?;
        }
        start = end;
    }
    Ok(())
}

/// Render one release's section.
fn render(
    config: &Config,
    templates: &Templates,
    commits: &[RawCommit],
    info: &ReleaseInfo<'_>,
) -> Result<String, ChangelogError> {
    let (counted, _, _) = plan::classify_commits(
        commits,
        &crate::core::version::BumpRules::from_config(&config.bump),
    );
    let release = changelog::release_model(&counted, info, &config.changelog);
    Ok(templates.changelog(std::slice::from_ref(&release))?)
}
