//! `release changelog`

use anyhow::{Context as _, Result};
use std::io::{Read, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use super::{now, Workspace};
use crate::adapters::git::history;
use crate::adapters::templates::Templates;
use crate::app::changelog::compact::CompactCommits;
use crate::cli::args::ChangelogArgs;
use crate::config::Config;
use crate::core::changelog::{self, ReleaseInfo};
use crate::core::commit::RawCommit;
use crate::core::plan;

pub fn run(ws: &Workspace, args: &ChangelogArgs) -> Result<ExitCode> {
    let templates = Templates::load(ws.templates_dir()?.as_deref())?;
    let github = ws.github();
    let head = history::head_commit(&ws.repo)?;
    let tags = history::version_tags(&ws.repo, &ws.config.tag_prefix)?;
    let mut out = Output::new();
    if args.all {
        if ws.repo.is_shallow() {
            return Err(history::HistoryError::Shallow.into());
        }
        out.push(changelog::HEADER)?;
        out.push("\n")?;
        // Stable releases only: a stable section already covers its pre-releases.
        let stable: Vec<_> = tags
            .iter()
            .filter(|t| t.version.pre.is_empty())
            .cloned()
            .collect();
        // Keep of each commit only what the changelog can show (see `crate::app::changelog::compact`).
        let mut digests =
            CompactCommits::new(&ws.config.changelog, templates.changelog_shows_bodies());
        // Release commits count for nothing, as in `plan` and `bump` (a merge always counts
        // for its commits; see `plan::without_release_commits`).
        let release_header = plan::release_header_pattern(&ws.config.commit.message);
        let split = history::split(&ws.repo, head, &stable, |c| {
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
                    Some(t) => ws
                        .repo
                        .find_commit(t.commit)
                        .map_or(0, |c| c.time().seconds()),
                    None => now(),
                },
                github: github.as_ref(),
            })
            .collect();
        let rules = crate::core::version::BumpRules::from_config(&ws.config.bump);
        let sections = &ws.config.changelog;
        let render_one = |i: usize| -> Result<String> {
            let release = &split.releases[i];
            let counted = digests.planned(&split.ids, &split.commits, &release.commits, &rules);
            let model = changelog::release_model(&counted, &infos[i], sections);
            Ok(templates.changelog(std::slice::from_ref(&model))?)
        };
        render_in_order(split.releases.len(), render_one, |text| {
            out.push(&text)?;
            out.push("\n")
        })?;
    } else {
        let current = history::latest_reachable(&ws.repo, head, &tags, true)?;
        if current.is_none() && ws.repo.is_shallow() {
            return Err(history::HistoryError::ShallowWithoutTags.into());
        }
        // The commits `plan` and `bump` count, so the preview is what `bump` writes.
        let commits = plan::without_release_commits(
            history::commits_since(&ws.repo, head, current.map(|t| t.commit))?,
            &ws.config.commit.message,
        );
        let info = ReleaseInfo {
            version: None,
            tag: None,
            previous_tag: current.map(|t| t.name.clone()),
            time: now(),
            github: github.as_ref(),
        };
        out.push(&render(&ws.config, &templates, &commits, &info)?)?;
    }
    out.finish(args.output.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

/// Render `count` releases, spread over up to four threads, and hand each text to `emit` in
/// order. Releases go in batches of [`BATCH`], so only one batch's texts wait in memory: the
/// changelog of a long history is tens of MB.
fn render_in_order(
    count: usize,
    render: impl Fn(usize) -> Result<String> + Sync,
    mut emit: impl FnMut(String) -> Result<()>,
) -> Result<()> {
    const BATCH: usize = 64;
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    let mut start = 0;
    while start < count {
        let end = (start + BATCH).min(count);
        // Each worker takes the next release of the batch (renders differ in length).
        let next = AtomicUsize::new(start);
        let slots: Vec<Mutex<Option<Result<String>>>> =
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
                .unwrap_or_else(|| Err(anyhow::anyhow!("a rendering thread panicked")));
            emit(text?)?;
        }
        start = end;
    }
    Ok(())
}

/// Where the changelog goes while it renders: an unlinked temporary file (memory, when none
/// can be made), copied to the destination once everything rendered, so a failure writes
/// nothing. The text is the concatenation of what was pushed with trailing whitespace removed
/// and one newline added, written without holding it all in memory.
struct Output {
    spool: Spool,
    /// Whitespace pushed after the last non-blank text: written only if more text follows.
    pending: String,
    /// The temporary file's name, where it could not be unlinked while open.
    remove: Option<PathBuf>,
}

enum Spool {
    File(std::io::BufWriter<std::fs::File>),
    Memory(Vec<u8>),
}

impl Output {
    fn new() -> Output {
        let (spool, remove) = match temp_file() {
            Some((f, remove)) => (
                Spool::File(std::io::BufWriter::with_capacity(1 << 16, f)),
                remove,
            ),
            None => (Spool::Memory(Vec::new()), None),
        };
        Output {
            spool,
            pending: String::new(),
            remove,
        }
    }

    fn push(&mut self, text: &str) -> Result<()> {
        let content = text.trim_end();
        if !content.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.write(pending.as_bytes())?;
            self.write(content.as_bytes())?;
        }
        self.pending.push_str(&text[content.len()..]);
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.spool {
            Spool::File(f) => f
                .write_all(bytes)
                .context("cannot write the changelog to a temporary file"),
            Spool::Memory(v) => {
                v.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    /// Write everything to `path` (stdout for `None` or `-`).
    fn finish(mut self, path: Option<&Path>) -> Result<()> {
        self.write(b"\n")?;
        let path = path.filter(|p| p.as_os_str() != "-");
        let mut source: Box<dyn Read> =
            match std::mem::replace(&mut self.spool, Spool::Memory(Vec::new())) {
                Spool::File(f) => {
                    let mut f = f
                        .into_inner()
                        .map_err(|e| e.into_error())
                        .context("cannot write the changelog to a temporary file")?;
                    f.seek(SeekFrom::Start(0))
                        .context("cannot read the changelog back from its temporary file")?;
                    Box::new(f)
                }
                Spool::Memory(v) => Box::new(std::io::Cursor::new(v)),
            };
        match path {
            Some(path) => {
                let mut write = || -> std::io::Result<()> {
                    let mut file = std::fs::File::create(path)?;
                    std::io::copy(&mut source, &mut file)?;
                    Ok(())
                };
                write().with_context(|| format!("cannot write {}", path.display()))
            }
            None => {
                let mut stdout = std::io::stdout().lock();
                std::io::copy(&mut source, &mut stdout)
                    .and_then(|_| stdout.flush())
                    .map_err(super::stdout_error)
            }
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some(path) = &self.remove {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A new temporary file, unlinked at once on Unix (the open file outlives its name); elsewhere
/// with the name to remove after use.
fn temp_file() -> Option<(std::fs::File, Option<PathBuf>)> {
    let dir = std::env::temp_dir();
    for n in 0..16 {
        let path = dir.join(format!(".release-changelog-{}-{n}", std::process::id()));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) if cfg!(unix) => {
                let _ = std::fs::remove_file(&path);
                return Some((file, None));
            }
            Ok(file) => return Some((file, Some(path))),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => return None,
        }
    }
    None
}
/// Render one release's section.
fn render(
    config: &Config,
    templates: &Templates,
    commits: &[RawCommit],
    info: &ReleaseInfo<'_>,
) -> Result<String> {
    let (counted, _, _) = plan::classify_commits(
        commits,
        &crate::core::version::BumpRules::from_config(&config.bump),
    );
    let release = changelog::release_model(&counted, info, &config.changelog);
    Ok(templates.changelog(std::slice::from_ref(&release))?)
}
