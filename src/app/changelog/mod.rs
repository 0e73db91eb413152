//! The changelog as `release changelog` renders it: the unreleased changes, or every release of
//! the whole history (read once, kept compact, rendered on up to four threads, in order).

pub mod compact;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::adapters::git::history::{self, HistoryError};
use crate::adapters::templates::{TemplateError, Templates};
use crate::config::environ::Environ;
use crate::config::packages::PackageConfig;
use crate::config::Config;
use crate::core::changelog::{self, Authors, ReleaseInfo};
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
    /// The package's plan cannot be made.
    #[error(transparent)]
    Package(#[from] Box<crate::app::packages::PackagesError>),
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
    /// The environment: the GitHub token and API for contributors' logins.
    pub environ: &'a Environ,
    /// One package of `[packages]` (`--package`): only its tags and commits.
    pub package: Option<&'a str>,
}

impl Source<'_> {
    /// The package, with its configuration, when one is chosen and configured.
    fn package(&self) -> Option<(&str, &PackageConfig)> {
        let name = self.package?;
        self.config
            .packages
            .get_key_value(name)
            .map(|(n, p)| (n.as_str(), p))
    }
}

/// The changes since the last release, as `bump` would write them.
pub fn unreleased(source: &Source<'_>) -> Result<String, ChangelogError> {
    let repo = source.repo;
    let config = source.config;
    if let Some(name) = source.package {
        crate::app::packages::check_selection(config, Some(name)).map_err(Box::new)?;
        let plan =
            crate::app::packages::gather(repo, config, &plan::PlanOptions::default(), Some(name))
                .map_err(Box::new)?;
        let (counted, previous_tag) = plan
            .packages
            .into_iter()
            .next()
            .map(|p| (p.plan.commits, p.plan.current_tag))
            .unwrap_or_default();
        return render_unreleased(source, &counted, previous_tag);
    }
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
    let (counted, _, _) = plan::classify_commits(
        &commits,
        &crate::core::version::BumpRules::from_config(&config.bump),
    );
    let previous_tag = current.map(|t| t.name.clone());
    render_unreleased(source, &counted, previous_tag)
}

/// The unreleased section of `counted`, the commits since `previous_tag`.
fn render_unreleased(
    source: &Source<'_>,
    counted: &[plan::PlannedCommit],
    previous_tag: Option<String>,
) -> Result<String, ChangelogError> {
    let (repo, config) = (source.repo, source.config);
    let counted = counted.to_vec();
    // The same lookup as `bump`'s, so the preview lists contributors as the release will.
    let authors = config.changelog.contributors.then(|| {
        crate::app::authors::authors(
            repo,
            &counted,
            previous_tag.as_deref(),
            source.github,
            source.environ,
        )
    });
    let info = ReleaseInfo {
        version: None,
        tag: None,
        previous_tag,
        time: source.now,
        github: source.github,
        authors: authors.as_ref(),
    };
    let release = changelog::release_model(&counted, &info, &config.changelog);
    Ok(source.templates.changelog(std::slice::from_ref(&release))?)
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
    if let Some(name) = source.package {
        crate::app::packages::check_selection(config, Some(name)).map_err(Box::new)?;
    }
    let package = source.package();
    let prefix = package.map(|(name, p)| p.tag_prefix_of(name));
    // Stable releases only: a stable section already covers its pre-releases.
    let stable = |repo: &git2::Repository| {
        let tags = match &prefix {
            Some(prefix) => history::prefixed_tags(repo, prefix)?,
            None => history::version_tags(repo, &config.tag_prefix)?,
        };
        Ok(tags
            .into_iter()
            .filter(|t| t.version.pre.is_empty())
            .collect())
    };
    let mut out = |text: &str| emit(text).map_err(ChangelogError::Output);
    out(changelog::HEADER)?;
    out("\n")?;
    // Keep of each commit only what the changelog can show (see `crate::app::changelog::compact`).
    let mut digests = CompactCommits::new(&config.changelog, templates.changelog_shows_bodies());
    // Release commits count for nothing, as in `plan` and `bump` (a merge always counts
    // for its commits; see `plan::without_release_commits`).
    let release_header = plan::release_header_pattern(&config.commit.message);
    let packages_header = crate::core::packages::release_header_pattern(&config.commit.message);
    // With a package: the commits its scopes name, in traversal order.
    let mut scoped: Vec<bool> = Vec::new();
    let mut shapes: Vec<history::Shape> = Vec::new();
    let split = history::split(repo, head, stable, |c| {
        let header = c.message.lines().next().unwrap_or_default();
        if let Some((_, p)) = package {
            scoped.push(crate::core::packages::scope_matches(c.message, &p.scopes));
            shapes.push(history::Shape::of(c));
        }
        if c.parents <= 1
            && [&release_header, &packages_header]
                .iter()
                .any(|re| re.as_ref().is_some_and(|re| re.is_match(header)))
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
    let authors = if config.changelog.contributors {
        history_authors(source, &split, &digests)
    } else {
        Vec::new()
    };
    let infos: Vec<ReleaseInfo<'_>> = split
        .releases
        .iter()
        .zip(previous)
        .enumerate()
        .map(|(i, (release, previous_tag))| ReleaseInfo {
            version: release.tag.as_ref().map(|t| t.version.to_string()),
            tag: release.tag.as_ref().map(|t| t.name.clone()),
            previous_tag,
            time: match &release.tag {
                Some(t) => history::commit_time(repo, t.commit),
                None => source.now,
            },
            github: source.github,
            authors: authors.get(i),
        })
        .collect();
    // With a package: whether each commit belongs to it (its paths, or its scopes).
    let belongs: Option<Vec<bool>> = match package {
        Some((_, p)) => {
            let filter = history::PathFilter {
                paths: p.paths(),
                exclude: p.excludes(),
            };
            let touched = history::touched_each_shaped(repo, &split.ids, &shapes, &filter)?;
            Some(
                touched
                    .into_iter()
                    .zip(&scoped)
                    .map(|(t, s)| t || *s)
                    .collect(),
            )
        }
        None => None,
    };
    let rules = crate::core::version::BumpRules::from_config(&config.bump);
    let sections = &config.changelog;
    let render_one = |i: usize| -> Result<String, ChangelogError> {
        let release = &split.releases[i];
        let mine: Vec<u32>;
        let commits = match &belongs {
            Some(b) => {
                mine = release
                    .commits
                    .iter()
                    .copied()
                    .filter(|&c| b.get(c as usize).copied().unwrap_or(false))
                    .collect();
                &mine
            }
            None => &release.commits,
        };
        let counted = digests.planned(&split.ids, &split.commits, commits, &rules);
        let model = changelog::release_model(&counted, &infos[i], sections);
        Ok(templates.changelog(std::slice::from_ref(&model))?)
    };
    render_in_order(split.releases.len(), render_one, |text| {
        out(&text)?;
        out("\n")
    })?;
    Ok(())
}

/// What is known of the authors of each release of `split` (in its order): their GitHub logins
/// (one lookup for the whole history, see [`crate::app::authors::logins_of`]) and who is new in
/// each release: an author none of whose commits is in an older release. Nobody is new in the
/// oldest release, as `bump` marks nobody in a first release.
fn history_authors(
    source: &Source<'_>,
    split: &history::Split<compact::CompactCommit>,
    digests: &CompactCommits,
) -> Vec<Authors> {
    // Authors are numbered by name and email; the key (the email, any case) numbers people.
    let mut key_numbers: HashMap<String, u32> = HashMap::new();
    let mut keys: Vec<String> = Vec::new();
    let mut person_of: Vec<u32> = Vec::with_capacity(digests.author_count());
    for n in 0..digests.author_count() {
        let (name, email) = digests.author(n as u32);
        let key = changelog::author_key(name, email);
        let number = *key_numbers.entry(key.clone()).or_insert_with(|| {
            keys.push(key);
            (keys.len() - 1) as u32
        });
        person_of.push(number);
    }
    let person =
        |commit: u32| person_of[CompactCommits::author_of(split.commits[commit as usize]) as usize];
    let logins = match source.github {
        Some(gh) => {
            // One commit per email: the oldest read (the walk goes from new to old).
            let mut samples = BTreeMap::new();
            for (i, d) in split.commits.iter().enumerate() {
                let (name, email) = digests.author(CompactCommits::author_of(*d));
                if !email.trim().is_empty() && !changelog::is_bot(name) {
                    samples.insert(changelog::author_key(name, email), split.ids[i].to_string());
                }
            }
            crate::app::authors::logins_of(source.repo, samples, gh, source.environ)
        }
        None => HashMap::new(),
    };
    let mut seen = vec![false; keys.len()];
    let mut out: Vec<Authors> = Vec::with_capacity(split.releases.len());
    for (n, release) in split.releases.iter().enumerate().rev() {
        let people: BTreeSet<u32> = release.commits.iter().map(|&c| person(c)).collect();
        let oldest = n + 1 == split.releases.len();
        let mut authors = Authors::default();
        for &p in &people {
            let key = &keys[p as usize];
            if !oldest && !seen[p as usize] {
                authors.first_time.insert(key.clone());
            }
            if let Some(login) = logins.get(key) {
                authors.logins.insert(key.clone(), login.clone());
            }
        }
        for p in people {
            seen[p as usize] = true;
        }
        out.push(authors);
    }
    out.reverse();
    out
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
