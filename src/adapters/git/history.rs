//! Reading history: release tags, the commits since a release, and the whole history split into
//! releases with a single traversal.

use git2::{ErrorCode, Oid, Repository, Sort};
use semver::Version;
use std::borrow::Cow;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};

use crate::core::commit::{CommitId, RawCommit};
use crate::util::redact;

/// What can go wrong while reading history.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// No repository at or above the directory.
    #[error(
        "{0} is not inside a git repository: run `git init`, or pass -C with a repository path"
    )]
    NotARepository(PathBuf),
    /// HEAD points at an unborn branch.
    #[error("the repository has no commits yet: commit something first")]
    Empty,
    /// A shallow clone without the release tags we need.
    #[error("this is a shallow clone and no release tag is reachable from HEAD: fetch the full history and tags (`git fetch --tags --unshallow`, or `fetch-depth: 0` in actions/checkout)")]
    ShallowWithoutTags,
    /// A shallow clone cannot show the whole history.
    #[error("this is a shallow clone, so the history is incomplete: fetch it all first (`git fetch --tags --unshallow`, or `fetch-depth: 0` in actions/checkout)")]
    Shallow,
    /// Any other libgit2 failure.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

/// A tag whose name is a semantic version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseTag {
    /// The full tag name (`v1.2.3`).
    pub name: String,
    /// The version it names.
    pub version: Version,
    /// The commit it points at (peeled through annotated tags).
    pub commit: Oid,
}

/// The core's id of a git object id.
pub fn commit_id(oid: Oid) -> CommitId {
    let mut bytes = [0u8; 20];
    let raw = oid.as_bytes();
    let n = raw.len().min(20);
    bytes[..n].copy_from_slice(&raw[..n]);
    CommitId(bytes)
}

/// The git object id of a core commit id.
pub fn oid(id: CommitId) -> Oid {
    Oid::from_bytes(&id.0).unwrap_or(Oid::ZERO_SHA1)
}

/// The commits of a range (`A..B`) or reachable from one revision, newest first.
pub fn commits_in(repo: &Repository, range: &str) -> Result<Vec<RawCommit>, HistoryError> {
    let mut walk = repo.revwalk()?;
    if range.contains("..") {
        walk.push_range(range)?;
    } else {
        walk.push(repo.revparse_single(range)?.id())?;
    }
    read_walk(repo, walk)
}

/// Every commit of `walk`, read.
fn read_walk(repo: &Repository, walk: git2::Revwalk<'_>) -> Result<Vec<RawCommit>, HistoryError> {
    let mut out = Vec::new();
    for id in walk {
        out.push(read_commit(repo, id?)?);
    }
    Ok(out)
}

/// The commit time of `id` (seconds since the epoch), 0 when it cannot be read.
pub fn commit_time(repo: &Repository, id: Oid) -> i64 {
    repo.find_commit(id).map_or(0, |c| c.time().seconds())
}

/// The first release tag that contains HEAD (but is not on it) and that the remote branch
/// `remote/branch` has: HEAD was released by another run, from another clone.
pub fn released_upstream(
    repo: &Repository,
    prefix: &str,
    remote: &str,
    branch: &str,
) -> Result<Option<ReleaseTag>, HistoryError> {
    let head = head_commit(repo)?;
    let upstream = repo.refname_to_id(&format!("refs/remotes/{remote}/{branch}"))?;
    let contains = |a: Oid, b: Oid| -> Result<bool, git2::Error> {
        Ok(a == b || repo.graph_descendant_of(a, b)?)
    };
    let mut found: Option<ReleaseTag> = None;
    for tag in version_tags(repo, prefix)? {
        if tag.commit != head
            && contains(tag.commit, head)?
            && contains(upstream, tag.commit)?
            && found.as_ref().is_none_or(|f| tag.version < f.version)
        {
            found = Some(tag);
        }
    }
    Ok(found)
}

/// Open the repository containing `dir`.
pub fn open(dir: &Path) -> Result<Repository, HistoryError> {
    tune_libgit2();
    Repository::discover(dir).map_err(|e| match e.code() {
        ErrorCode::NotFound => HistoryError::NotARepository(dir.to_path_buf()),
        _ => HistoryError::Git(e),
    })
}

/// Settings for reading whole histories, applied once per process. Every commit is read once,
/// so libgit2's object cache only costs memory (60 MB instead of 140 MB on 100,000 commits),
/// and re-hashing every object on read (which `git log` does not do either) costs a quarter of
/// the walk. libgit2 maps packs in 1 GiB windows, which stay resident once touched: reading
/// the 10,000 tags of a 1,000,000-commit history kept 540 MB; 32 MiB windows within 128 MiB
/// kept 210 MB, and ran faster; 8 MiB windows within 32 MiB keep 140 MB (`plan`; 50 MB less
/// for `changelog --all`) at the same speed. What stays is mostly the pack index (94 MB
/// there), which libgit2 maps whole. Measured with `make bench` and a git2-only probe.
fn tune_libgit2() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        git2::opts::strict_hash_verification(false);
        git2::opts::enable_caching(false);
        // SAFETY: these set libgit2 globals; this runs once, before the process opens any
        // repository, so no other libgit2 call can race with them.
        unsafe {
            let _ = git2::opts::set_mwindow_size(8 << 20);
            let _ = git2::opts::set_mwindow_mapped_limit(32 << 20);
            // Only [`SharedReads`] turns the cache on, for the recent commits every package's
            // plan reads; a package never released reads all history, which must not stay.
            let _ = git2::opts::set_cache_max_size(64 << 20);
        }
    });
}

/// libgit2's object cache, on while this lives. [`tune_libgit2`] turns it off because a whole
/// history is read once; planning several packages reads the same recent commits once per
/// package (its walk since its tag, its reachability checks), and the cache saves inflating
/// them again. libgit2's switch is process-wide: hold this only where no other thread reads.
pub struct SharedReads(());

impl SharedReads {
    /// Turn the cache on until the value is dropped.
    pub fn on() -> SharedReads {
        git2::opts::enable_caching(true);
        SharedReads(())
    }
}

impl Drop for SharedReads {
    fn drop(&mut self) {
        git2::opts::enable_caching(false);
    }
}

/// The commit HEAD points at.
pub fn head_commit(repo: &Repository) -> Result<Oid, HistoryError> {
    match repo.head() {
        Ok(r) => Ok(r.peel_to_commit()?.id()),
        Err(e) if e.code() == ErrorCode::UnbornBranch || e.code() == ErrorCode::NotFound => {
            Err(HistoryError::Empty)
        }
        Err(e) => Err(e.into()),
    }
}

/// Turn a tag name into a version given the prefix; `None` for tags that are not versions.
pub fn tag_version(name: &str, prefix: &str) -> Option<Version> {
    let rest = name.strip_prefix(prefix)?;
    Version::parse(rest).ok()
}

/// Every tag name, without `refs/tags/`.
pub fn tag_names(repo: &Repository) -> Result<Vec<String>, HistoryError> {
    let mut names = Vec::new();
    repo.tag_foreach(|_, name| {
        if let Some(n) = std::str::from_utf8(name)
            .ok()
            .and_then(|n| n.strip_prefix("refs/tags/"))
        {
            names.push(n.to_string());
        }
        true
    })?;
    names.sort();
    Ok(names)
}

/// The branch HEAD is on, also before its first commit; `None` when HEAD is detached.
pub fn head_branch(repo: &Repository) -> Option<String> {
    let head = repo.find_reference("HEAD").ok()?;
    head.symbolic_target()
        .ok()??
        .strip_prefix("refs/heads/")
        .map(str::to_string)
}

/// All version tags: those with `prefix`, or — when none has it — bare `X.Y.Z` tags.
pub fn version_tags(repo: &Repository, prefix: &str) -> Result<Vec<ReleaseTag>, HistoryError> {
    tags_with(repo, prefix, true)
}

/// The version tags with exactly `prefix`, never bare ones: a package's tags (`api-v1.2.0`).
pub fn prefixed_tags(repo: &Repository, prefix: &str) -> Result<Vec<ReleaseTag>, HistoryError> {
    tags_with(repo, prefix, false)
}

/// [`prefixed_tags`] among `names` (from [`tag_names`]), for looking up several prefixes with
/// one read of the tag refs.
pub fn prefixed_tags_among(
    repo: &Repository,
    names: &[String],
    prefix: &str,
) -> Result<Vec<ReleaseTag>, HistoryError> {
    tags_among(repo, names, prefix, false)
}

fn tags_with(
    repo: &Repository,
    prefix: &str,
    bare_fallback: bool,
) -> Result<Vec<ReleaseTag>, HistoryError> {
    tags_among(repo, &tag_names(repo)?, prefix, bare_fallback)
}

fn tags_among(
    repo: &Repository,
    names: &[String],
    prefix: &str,
    bare_fallback: bool,
) -> Result<Vec<ReleaseTag>, HistoryError> {
    let pick = |prefix: &str| -> Vec<(String, Version)> {
        names
            .iter()
            .filter_map(|n| tag_version(n, prefix).map(|v| (n.clone(), v)))
            .collect()
    };
    let mut chosen = pick(prefix);
    if bare_fallback && chosen.is_empty() && !prefix.is_empty() {
        chosen = pick("");
    }
    let mut tags = Vec::with_capacity(chosen.len());
    for (name, version) in chosen {
        let reference = repo.find_reference(&format!("refs/tags/{name}"))?;
        // A tag on a tree or blob is not a release; skip it rather than fail.
        if let Ok(commit) = reference.peel_to_commit() {
            tags.push(ReleaseTag {
                name,
                version,
                commit: commit.id(),
            });
        }
    }
    tags.sort_by(|a, b| b.version.cmp(&a.version).then_with(|| a.name.cmp(&b.name)));
    Ok(tags)
}

/// Whether `ancestor` is `head` or one of its ancestors.
pub fn reachable(repo: &Repository, head: Oid, ancestor: Oid) -> Result<bool, HistoryError> {
    Ok(head == ancestor || repo.graph_descendant_of(head, ancestor)?)
}

/// The highest version tag reachable from `head`; `stable_only` skips pre-releases.
/// `tags` must be sorted highest first, as [`version_tags`] returns them.
pub fn latest_reachable<'a>(
    repo: &Repository,
    head: Oid,
    tags: &'a [ReleaseTag],
    stable_only: bool,
) -> Result<Option<&'a ReleaseTag>, HistoryError> {
    for tag in tags {
        if stable_only && !tag.version.pre.is_empty() {
            continue;
        }
        if reachable(repo, head, tag.commit)? {
            return Ok(Some(tag));
        }
    }
    if repo.is_shallow() && !tags.is_empty() {
        return Err(HistoryError::ShallowWithoutTags);
    }
    Ok(None)
}

/// Read one commit.
pub fn read_commit(repo: &Repository, id: Oid) -> Result<RawCommit, HistoryError> {
    let c = repo.find_commit(id)?;
    Ok(view(&c, |v| v.to_raw()))
}

/// One commit as read from git, borrowed for the time of a callback: reading a whole history
/// through it allocates nothing for the commits whose text the caller does not keep.
#[derive(Debug, Clone, Copy)]
pub struct CommitView<'a> {
    /// The commit id.
    pub id: Oid,
    /// The full message, lossily decoded when it is not UTF-8.
    pub message: &'a str,
    /// Whether the message was not valid UTF-8.
    pub lossy: bool,
    /// Author name.
    pub author: &'a str,
    /// Author email.
    pub email: &'a str,
    /// Commit time, seconds since the epoch.
    pub time: i64,
    /// Number of parents (more than one: a merge).
    pub parents: usize,
    /// Its tree.
    pub tree: Oid,
    /// Its first parent, if any.
    pub first_parent: Option<Oid>,
}

impl CommitView<'_> {
    /// An owned copy.
    pub fn to_raw(&self) -> RawCommit {
        RawCommit {
            id: commit_id(self.id),
            message: self.message.to_string(),
            lossy: self.lossy,
            author: self.author.to_string(),
            email: self.email.to_string(),
            time: self.time,
            parents: self.parents,
        }
    }
}

/// Decode a commit and show it to `f`.
fn view<R>(c: &git2::Commit<'_>, f: impl FnOnce(&CommitView<'_>) -> R) -> R {
    RawParts::with(c, |raw| decode(raw, f))
}

/// A commit's fields as git stores them, before decoding: borrowed from a libgit2 commit, from
/// the bytes [`super::commit_object`] read, or from the copy another thread made of either
/// (see [`super::pipeline`]).
pub(super) struct RawParts<'a> {
    pub(super) id: Oid,
    pub(super) message: &'a [u8],
    /// Whether the header names Latin-1 as the message's encoding.
    pub(super) latin1: bool,
    pub(super) name: &'a [u8],
    pub(super) email: &'a [u8],
    pub(super) time: i64,
    pub(super) parents: usize,
    pub(super) tree: Oid,
    pub(super) first_parent: Option<Oid>,
}

impl RawParts<'_> {
    /// The fields of commit `id` as [`super::commit_object`] read them from its bytes.
    pub(super) fn from_fields<'a>(
        id: Oid,
        c: &super::commit_object::Fields<'a>,
        parents: &[Oid],
    ) -> RawParts<'a> {
        RawParts {
            id,
            message: c.message,
            latin1: c
                .encoding
                .and_then(|e| std::str::from_utf8(e).ok())
                .is_some_and(is_latin1),
            name: c.name,
            email: c.email,
            time: c.time,
            parents: parents.len(),
            tree: c.tree,
            first_parent: parents.first().copied(),
        }
    }

    /// Show `c`'s fields to `f`.
    pub(super) fn with<R>(c: &git2::Commit<'_>, f: impl FnOnce(RawParts<'_>) -> R) -> R {
        let author = c.author();
        f(RawParts {
            id: c.id(),
            message: c.message_bytes(),
            latin1: c.message_encoding().is_ok_and(|e| e.is_some_and(is_latin1)),
            name: author.name_bytes(),
            email: author.email_bytes(),
            time: c.time().seconds(),
            parents: c.parent_count(),
            tree: c.tree_id(),
            first_parent: c.parent_id(0).ok(),
        })
    }
}

/// Decode a commit's fields and show them to `f`.
pub(super) fn decode<R>(raw: RawParts<'_>, f: impl FnOnce(&CommitView<'_>) -> R) -> R {
    let bytes = raw.message;
    let (message, lossy) = match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), false),
        // git records a legacy encoding in the commit header (i18n.commitEncoding); Latin-1
        // maps byte for byte to the first 256 code points.
        Err(_) if raw.latin1 => (
            Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
            false,
        ),
        Err(_) => (String::from_utf8_lossy(bytes), true),
    };
    // Commit text is attacker-controlled: what would drive a terminal is made visible here,
    // where it enters, so plans, changelogs, tags and release bodies never carry it.
    let message = inert_message(message);
    f(&CommitView {
        id: raw.id,
        message: &message,
        lossy,
        author: &inert_line(String::from_utf8_lossy(raw.name)),
        email: &inert_line(String::from_utf8_lossy(raw.email)),
        time: raw.time,
        parents: raw.parents,
        tree: raw.tree,
        first_parent: raw.first_parent,
    })
}

/// A message with the characters that drive a terminal made visible
/// ([`redact::escape_controls`]). A lone CR ends a line, as the commit parser reads it (old Mac
/// line ends), rather than going back over the line on a terminal.
fn inert_message(text: Cow<'_, str>) -> Cow<'_, str> {
    let text = if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        text
    };
    match redact::escaped_controls(&text) {
        Some(escaped) => Cow::Owned(escaped),
        None => text,
    }
}

/// A name or email with every control character made visible, line ends included.
fn inert_line(text: Cow<'_, str>) -> Cow<'_, str> {
    match redact::escaped_line(&text) {
        Some(escaped) => Cow::Owned(escaped),
        None => text,
    }
}

fn is_latin1(label: &str) -> bool {
    matches!(
        label.to_ascii_lowercase().as_str(),
        "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" | "l1" | "iso_8859-1"
    )
}

/// Commits reachable from `head` but not from `since` (`git log since..head`), newest first.
pub fn commits_since(
    repo: &Repository,
    head: Oid,
    since: Option<Oid>,
) -> Result<Vec<RawCommit>, HistoryError> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)?;
    walk.push(head)?;
    if let Some(since) = since {
        walk.hide(since)?;
    }
    read_walk(repo, walk)
}

/// The directories of one package, as the git adapter matches them against trees.
#[derive(Debug, Clone, Default)]
pub struct PathFilter {
    /// Repository-relative directories (or files), normalized; `""` is the whole tree.
    pub paths: Vec<String>,
    /// Paths under those whose changes do not count.
    pub exclude: Vec<String>,
}

/// Whether `path` is `dir` or lies under it (`""` holds everything).
fn under(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The id and mode of the entry at `path` in `tree` (`None`: nothing there).
fn entry_at(tree: Option<&git2::Tree<'_>>, path: &str) -> Option<(Oid, i32)> {
    let tree = tree?;
    if path.is_empty() {
        return Some((tree.id(), 0o040000));
    }
    tree.get_path(Path::new(path))
        .ok()
        .map(|e| (e.id(), e.filemode()))
}

impl PathFilter {
    /// Whether a commit whose tree is `new` changes a file of the package against `old` (its
    /// first parent's tree; `None` for a root commit, the empty tree). An unchanged entry id
    /// at a path means nothing under it changed, so only the package's own directories are
    /// looked up, never the whole tree; only where `exclude` applies are the two subtrees
    /// compared file by file.
    pub fn touched(
        &self,
        repo: &Repository,
        old: Option<&git2::Tree<'_>>,
        new: &git2::Tree<'_>,
    ) -> Result<bool, HistoryError> {
        for path in &self.paths {
            if entry_at(old, path) == entry_at(Some(new), path) {
                continue;
            }
            let excluded: Vec<&String> = self
                .exclude
                .iter()
                .filter(|x| under(x, path) || under(path, x))
                .collect();
            if excluded.is_empty() {
                return Ok(true);
            }
            if excluded.iter().any(|x| under(path, x)) {
                // The whole directory is excluded.
                continue;
            }
            let mut options = git2::DiffOptions::new();
            // libgit2 matches a pathspec `.` against the names themselves, so it matches none:
            // the repository root takes no pathspec.
            if !path.is_empty() {
                options.pathspec(path.as_str());
            }
            options.skip_binary_check(true);
            let diff = repo.diff_tree_to_tree(old, Some(new), Some(&mut options))?;
            let counts = diff.deltas().any(|d| {
                [d.old_file().path(), d.new_file().path()]
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.to_str())
                    .any(|p| under(p, path) && !excluded.iter().any(|x| under(p, x)))
            });
            if counts {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Commits reachable from `head` but not from `since`, newest first, each with whether it
/// changes a file of `filter` against its first parent ([`PathFilter::touched`]). A merge is
/// never judged by its own diff (that is the whole branch it brings in, whose commits are
/// listed and judged on their own): its flag is `false`.
pub fn commits_since_touching(
    repo: &Repository,
    head: Oid,
    since: Option<Oid>,
    filter: &PathFilter,
) -> Result<Vec<(RawCommit, bool)>, HistoryError> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)?;
    walk.push(head)?;
    if let Some(since) = since {
        walk.hide(since)?;
    }
    let odb = repo.odb()?;
    let mut parents = Vec::new();
    let (mut ids, mut shapes, mut commits) = (Vec::new(), Vec::new(), Vec::new());
    for id in walk {
        let id = id?;
        let (commit, shape) =
            with_raw_commit(repo, &odb, id, &mut parents, |c| (c.to_raw(), Shape::of(c)))?;
        ids.push(id);
        shapes.push(shape);
        commits.push(commit);
    }
    let touched = touched_each_shaped(repo, &ids, &shapes, filter)?;
    Ok(commits.into_iter().zip(touched).collect())
}

/// Show commit `id` to `f`, read as bytes from the object database and parsed by
/// [`super::commit_object`] (libgit2 reads what that leaves to it). Reading it as bytes, as
/// libgit2's own revision walks do, lets its object cache serve both: a commit looked up as a
/// parsed object is cached as that, and a walk would inflate it again.
fn with_raw_commit<R>(
    repo: &Repository,
    odb: &git2::Odb<'_>,
    id: Oid,
    parents: &mut Vec<Oid>,
    f: impl FnOnce(&CommitView<'_>) -> R,
) -> Result<R, HistoryError> {
    let object = odb.read(id)?;
    if object.kind() == git2::ObjectType::Commit {
        if let Some(fields) = super::commit_object::parse(object.data(), parents) {
            return Ok(decode(RawParts::from_fields(id, &fields, parents), f));
        }
    }
    Ok(view(&repo.find_commit(id)?, f))
}

/// What [`touched_each_shaped`] needs of one commit, kept from a [`CommitView`] while the
/// history is read: its tree, first parent and number of parents.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// The commit's tree.
    pub tree: Oid,
    /// Its first parent.
    pub first_parent: Option<Oid>,
    /// Its number of parents.
    pub parents: usize,
}

impl Shape {
    /// The shape of a commit as read.
    pub fn of(c: &CommitView<'_>) -> Shape {
        Shape {
            tree: c.tree,
            first_parent: c.first_parent,
            parents: c.parents,
        }
    }
}

/// For each of `ids`, whether it changes a file of `filter` against its first parent, as
/// [`commits_since_touching`] judges it (a merge: `false`), for commits already read
/// (`shapes[i]` is `ids[i]`'s): only trees are read, each looked up once, on several threads,
/// the remembered answers ([`super::touch_cache`]) first.
pub fn touched_each_shaped(
    repo: &Repository,
    ids: &[Oid],
    shapes: &[Shape],
    filter: &PathFilter,
) -> Result<Vec<bool>, HistoryError> {
    let mut cache = super::touch_cache::TouchCache::open(repo, filter);
    let tree_of: std::collections::HashMap<Oid, Oid> = ids
        .iter()
        .copied()
        .zip(shapes.iter().map(|s| s.tree))
        .collect();
    let missing: Vec<usize> = (0..ids.len().min(shapes.len()))
        .filter(|&i| cache.get(ids[i]).is_none())
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    let computed: Vec<bool> = if threads < 2 || missing.len() < 4096 {
        shaped_chunk(repo, ids, shapes, &missing, &tree_of, filter)?
    } else {
        let dir = repo.path().to_path_buf();
        let size = missing.len().div_ceil(threads);
        std::thread::scope(|scope| -> Result<Vec<bool>, HistoryError> {
            let handles: Vec<_> = missing
                .chunks(size)
                .map(|part| {
                    let (dir, tree_of) = (&dir, &tree_of);
                    scope.spawn(move || -> Result<Vec<bool>, HistoryError> {
                        shaped_chunk(&Repository::open(dir)?, ids, shapes, part, tree_of, filter)
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(missing.len());
            for handle in handles {
                out.extend(handle.join().map_err(|_| {
                    HistoryError::Git(git2::Error::from_str("a thread reading history panicked"))
                })??);
            }
            Ok(out)
        })?
    };
    let mut fresh = vec![None; ids.len()];
    for (&i, &touched) in missing.iter().zip(&computed) {
        cache.put(ids[i], touched);
        fresh[i] = Some(touched);
    }
    cache.save();
    Ok((0..ids.len())
        .map(|i| fresh[i].or_else(|| cache.get(ids[i])).unwrap_or(false))
        .collect())
}

/// [`touched_each_shaped`] for the commits at `which`, on one thread.
fn shaped_chunk(
    repo: &Repository,
    ids: &[Oid],
    shapes: &[Shape],
    which: &[usize],
    tree_of: &std::collections::HashMap<Oid, Oid>,
    filter: &PathFilter,
) -> Result<Vec<bool>, HistoryError> {
    type Entries = Vec<Option<(Oid, i32)>>;
    let shallow = repo.is_shallow();
    let mut memo: std::collections::HashMap<Oid, Entries> = std::collections::HashMap::new();
    let mut entries = |tree: Oid| -> Result<Entries, HistoryError> {
        if let Some(e) = memo.get(&tree) {
            return Ok(e.clone());
        }
        let t = repo.find_tree(tree)?;
        let e: Entries = filter.paths.iter().map(|p| entry_at(Some(&t), p)).collect();
        // Only a commit's first parent looks its tree up again: a small memo is enough.
        if memo.len() > 4096 {
            memo.clear();
        }
        memo.insert(tree, e.clone());
        Ok(e)
    };
    let mut out = Vec::with_capacity(which.len());
    for &i in which {
        let shape = shapes[i];
        let touched = match (shape.parents, shape.first_parent) {
            (1, Some(parent)) => {
                let parent_tree = match tree_of.get(&parent) {
                    Some(&t) => Some(t),
                    None => match repo.find_commit(parent) {
                        Ok(c) => Some(c.tree_id()),
                        Err(e) if shallow && e.code() == ErrorCode::NotFound => None,
                        Err(e) => return Err(e.into()),
                    },
                };
                match parent_tree {
                    // The edge of a shallow clone: counted, as in `touched_commit`.
                    None => true,
                    Some(old) if entries(old)? == entries(shape.tree)? => false,
                    Some(_) if filter.exclude.is_empty() => true,
                    Some(_) => touched_commit(repo, &repo.find_commit(ids[i])?, filter, shallow)?,
                }
            }
            // A merge is judged by the commits it brings in, as in `touched_commit`.
            (n, _) if n > 1 => false,
            _ => touched_commit(repo, &repo.find_commit(ids[i])?, filter, shallow)?,
        };
        out.push(touched);
    }
    Ok(out)
}

/// Whether `commit` changes a file of `filter` against its first parent (a merge: `false`).
fn touched_commit(
    repo: &Repository,
    commit: &git2::Commit<'_>,
    filter: &PathFilter,
    shallow: bool,
) -> Result<bool, HistoryError> {
    Ok(match commit.parent_count() {
        0 => filter.touched(repo, None, &commit.tree()?)?,
        1 => match commit.parent(0) {
            Ok(parent) => filter.touched(repo, Some(&parent.tree()?), &commit.tree()?)?,
            // The edge of a shallow clone: its first parent is not here, so its diff is
            // unknown; it counts for the package rather than being lost.
            Err(e) if shallow && e.code() == ErrorCode::NotFound => true,
            Err(e) => return Err(e.into()),
        },
        _ => false,
    })
}

/// The author (name, email) of each commit reachable from `from`, newest first, shown to `f`
/// until it returns `false`. Only commit headers are read, not messages; names and emails are
/// made inert as [`CommitView`]'s are, so they compare equal to those.
pub fn each_author(
    repo: &Repository,
    from: Oid,
    mut f: impl FnMut(&str, &str) -> bool,
) -> Result<(), HistoryError> {
    let mut walk = repo.revwalk()?;
    walk.push(from)?;
    for id in walk {
        let commit = repo.find_commit(id?)?;
        let author = commit.author();
        let name = inert_line(String::from_utf8_lossy(author.name_bytes()));
        let email = inert_line(String::from_utf8_lossy(author.email_bytes()));
        if !f(&name, &email) {
            break;
        }
    }
    Ok(())
}

/// The history reachable from one commit, split by release (see [`split`]), with what its
/// caller kept of each commit.
#[derive(Debug)]
pub struct Split<T> {
    /// Commit ids, in traversal order.
    pub ids: Vec<Oid>,
    /// What the caller kept of each commit, in the same order.
    pub commits: Vec<T>,
    /// Highest release first, the unreleased commits (if any) on top.
    pub releases: Vec<SplitRelease>,
}

/// One release of a [`Split`].
#[derive(Debug, Clone)]
pub struct SplitRelease {
    /// The release tag; `None` for unreleased commits.
    pub tag: Option<ReleaseTag>,
    /// Its commits as indexes into [`Split::ids`] and [`Split::commits`], newest first.
    pub commits: Vec<u32>,
}

/// The whole history reachable from `head`, split by release: each commit belongs to the lowest
/// version tag that contains it. Releases come highest first, with the unreleased commits
/// (those no tag contains) under `None` at the top; commits newest first within a release.
///
/// One traversal reads every commit once; the split is done in memory, so the cost does not grow
/// with the number of tags. Of each commit only `keep(commit)` stays: the caller decides how
/// little of a long history stays in memory (`changelog --all` keeps a few bytes).
/// `keep` runs on a second thread, beside the walk, and sees the commits in traversal order.
/// `tags` reads the release tags to split by; it runs beside the walk too, on its own handle
/// of the repository (reading a thousand annotated tags is a twentieth of a whole walk).
pub fn split<T: Send>(
    repo: &Repository,
    head: Oid,
    tags: impl FnOnce(&Repository) -> Result<Vec<ReleaseTag>, HistoryError> + Send,
    keep: impl FnMut(&CommitView<'_>) -> T + Send,
) -> Result<Split<T>, HistoryError> {
    let path = repo.path().to_path_buf();
    let (walked, tags) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || tags(&Repository::open(&path)?));
        let walked = Graph::load(repo, head, keep);
        (walked, reader.join())
    });
    let (graph, data) = walked?;
    let tags = tags.map_err(|_| {
        HistoryError::Git(git2::Error::from_str(
            "the thread reading release tags panicked",
        ))
    })??;
    let tags = &tags[..];
    // Lowest version first, so a commit lands in the first release that shipped it.
    let mut ordered: Vec<(&ReleaseTag, u32)> = tags
        .iter()
        .filter_map(|t| graph.index.get(&graph.ids, t.commit).map(|i| (t, i)))
        .collect();
    ordered.sort_by(|a, b| a.0.version.cmp(&b.0.version));
    let mut owner = vec![UNSET; graph.ids.len()];
    let mut stack = Vec::new();
    for (release, &(_, tip)) in ordered.iter().enumerate() {
        stack.push(tip);
        while let Some(i) = stack.pop() {
            if owner[i as usize] != UNSET {
                continue;
            }
            owner[i as usize] = release as u32;
            stack.extend(
                graph
                    .parents_of(i)
                    .iter()
                    .filter(|&&p| p != UNSET && owner[p as usize] == UNSET),
            );
        }
    }
    let Graph {
        ids,
        times,
        starts,
        parents,
        index,
    } = graph;
    // What only the traversal needed goes before the buckets come.
    drop((starts, parents, index));
    let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); ordered.len() + 1];
    for (i, o) in owner.into_iter().enumerate() {
        let slot = if o == UNSET {
            ordered.len()
        } else {
            o as usize
        };
        buckets[slot].push(i as u32);
    }
    let mut releases = Vec::with_capacity(buckets.len());
    for (i, mut commits) in buckets.into_iter().enumerate().rev() {
        // Newest first, discovery order breaking ties: the same order as `git log`.
        commits.sort_by_key(|&c| std::cmp::Reverse(times[c as usize]));
        let tag = ordered.get(i).map(|(t, _)| (*t).clone());
        if tag.is_some() || !commits.is_empty() {
            releases.push(SplitRelease { tag, commits });
        }
    }
    Ok(Split {
        ids,
        commits: data,
        releases,
    })
}

/// No commit: an unknown owner, or a parent outside the graph (the edge of a shallow clone).
const UNSET: u32 = u32::MAX;

/// A commit's index in a [`Graph`].
fn index_of(n: usize) -> u32 {
    u32::try_from(n)
        .ok()
        .filter(|&i| i != UNSET)
        .expect("a history of fewer than 4 billion commits")
}

/// The commit graph reachable from one commit, read once. Compact: commits are numbered in
/// traversal order, parents are one array of numbers with offsets (no list per commit), and
/// the id lookup stores numbers only.
struct Graph {
    ids: Vec<Oid>,
    times: Vec<i64>,
    /// The parents of commit `i` are `parents[starts[i]..starts[i + 1]]`.
    starts: Vec<u32>,
    parents: Vec<u32>,
    index: OidIndex,
}

impl Graph {
    /// The graph reachable from `head`, and what `keep` kept of each of its commits (in the
    /// graph's order), `keep` running beside the walk ([`super::pipeline::read_beside`]).
    fn load<T: Send>(
        repo: &Repository,
        head: Oid,
        keep: impl FnMut(&CommitView<'_>) -> T + Send,
    ) -> Result<(Graph, Vec<T>), HistoryError> {
        super::pipeline::read_beside(|each| Graph::walk(repo, head, each), keep)
    }

    /// Read the graph reachable from `head`, showing each commit to `each` as it is first read,
    /// until `each` returns `false`. Commits stored whole in a pack are read by
    /// [`super::packs`]; libgit2 reads the others.
    fn walk(
        repo: &Repository,
        head: Oid,
        each: &mut dyn FnMut(RawParts<'_>) -> bool,
    ) -> Result<Graph, HistoryError> {
        let mut graph = Graph {
            ids: Vec::new(),
            times: Vec::new(),
            starts: vec![0],
            parents: Vec::new(),
            index: OidIndex::default(),
        };
        let mut packs = super::packs::Packs::open(repo);
        let mut parent_ids: Vec<Oid> = Vec::new();
        // (commit, the parent slot that names it); the slot is filled when the commit is
        // popped, so parents need no second pass and no list of parent ids.
        let mut stack: Vec<(Oid, usize)> = vec![(head, usize::MAX)];
        let shallow = repo.is_shallow();
        while let Some((id, slot)) = stack.pop() {
            let i = match graph.index.get(&graph.ids, id) {
                Some(i) => i,
                None => {
                    let i = index_of(graph.ids.len());
                    let packed = packs.as_mut().and_then(|p| p.commit(&id)).and_then(|raw| {
                        super::commit_object::parse(raw, &mut parent_ids)
                            .map(|c| RawParts::from_fields(id, &c, &parent_ids))
                    });
                    let (time, go_on) = match packed {
                        Some(parts) => (parts.time, each(parts)),
                        None => {
                            let commit = match repo.find_commit(id) {
                                Ok(c) => c,
                                // The graft boundary of a shallow clone: history simply ends
                                // there, and the slot stays UNSET.
                                Err(e) if shallow && e.code() == ErrorCode::NotFound => continue,
                                Err(e) => return Err(e.into()),
                            };
                            parent_ids.clear();
                            parent_ids.extend(commit.parent_ids());
                            let time = commit.time().seconds();
                            (time, RawParts::with(&commit, &mut *each))
                        }
                    };
                    graph.ids.push(id);
                    graph.index.insert(&graph.ids, i);
                    graph.times.push(time);
                    if !go_on {
                        break;
                    }
                    let first = graph.parents.len();
                    let at = stack.len();
                    stack.extend(parent_ids.iter().enumerate().map(|(k, &p)| (p, first + k)));
                    // Reverse so the first parent is visited first (depth-first along it).
                    stack[at..].reverse();
                    graph.parents.resize(first + (stack.len() - at), UNSET);
                    graph.starts.push(index_of(graph.parents.len()));
                    i
                }
            };
            if slot != usize::MAX {
                graph.parents[slot] = i;
            }
        }
        Ok(graph)
    }

    fn parents_of(&self, i: u32) -> &[u32] {
        let i = i as usize;
        &self.parents[self.starts[i] as usize..self.starts[i + 1] as usize]
    }
}

/// A hasher for object ids: their bytes are a hash already, so a folded multiply of their first
/// eight with a per-process random key spreads them, at a fraction of SipHash's cost. The key
/// keeps a history built to collide in the table's bits from slowing the table down.
#[derive(Clone, Copy)]
struct OidHash(u64);

impl Default for OidHash {
    fn default() -> OidHash {
        static KEY: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        OidHash(*KEY.get_or_init(|| {
            use std::hash::Hasher;
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        }))
    }
}

impl BuildHasher for OidHash {
    type Hasher = OidHasher;
    fn build_hasher(&self) -> OidHasher {
        OidHasher(self.0)
    }
}

struct OidHasher(u64);

impl std::hash::Hasher for OidHasher {
    fn finish(&self) -> u64 {
        let folded = u128::from(self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
        (folded as u64) ^ ((folded >> 64) as u64)
    }
    fn write(&mut self, bytes: &[u8]) {
        // Ids hash as their 20 bytes (after a length, the same for all): the first 8 are enough.
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(word).rotate_left(17);
    }
    fn write_usize(&mut self, _: usize) {}
}

/// An object id as a key: compared as bytes (git2's `Oid` compares through a libgit2 call).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct OidKey([u8; 20]);

impl OidKey {
    fn of(id: Oid) -> OidKey {
        let mut key = [0u8; 20];
        let bytes = id.as_bytes();
        let n = bytes.len().min(20);
        key[..n].copy_from_slice(&bytes[..n]);
        OidKey(key)
    }
}

/// Commit id to index, storing only the indexes (the ids are in the graph already): a quarter of
/// a `HashMap<Oid, u32>`.
#[derive(Default)]
struct OidIndex {
    table: hashbrown::HashTable<u32>,
    hasher: OidHash,
}

impl OidIndex {
    fn get(&self, ids: &[Oid], id: Oid) -> Option<u32> {
        let key = OidKey::of(id);
        self.table
            .find(self.hasher.hash_one(key), |&i| {
                OidKey::of(ids[i as usize]) == key
            })
            .copied()
    }

    /// Add `ids[i]`, which must not be present yet.
    fn insert(&mut self, ids: &[Oid], i: u32) {
        let hasher = &self.hasher;
        let key = |j: u32| OidKey::of(ids[j as usize]);
        self.table
            .insert_unique(hasher.hash_one(key(i)), i, |&j| hasher.hash_one(key(j)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_names() {
        let v = |s: &str| Version::parse(s).unwrap();
        assert_eq!(tag_version("v1.2.3", "v"), Some(v("1.2.3")));
        assert_eq!(tag_version("v1.2.3-rc.1", "v"), Some(v("1.2.3-rc.1")));
        assert_eq!(tag_version("1.2.3", ""), Some(v("1.2.3")));
        for odd in [
            "v1", "v1.2", "v1.2.3.4", "latest", "1.2.3", "vv1.2.3", "v01.2.3",
        ] {
            assert_eq!(tag_version(odd, "v"), None, "{odd}");
        }
    }

    /// A history with merges, branches and commits sharing a timestamp: (repository, head).
    fn branchy_history(dir: &Path) -> (Repository, Oid) {
        let repo = Repository::init(dir).unwrap();
        let tree_id = repo.index().unwrap().write_tree().unwrap();
        let commit = |n: usize, parents: &[Oid]| -> Oid {
            // Timestamps repeat, so only the reading order breaks ties.
            let when = git2::Time::new(1_700_000_000 + (n / 7) as i64, 0);
            let sig = git2::Signature::new("A", "a@example.com", &when).unwrap();
            let parents: Vec<git2::Commit<'_>> = parents
                .iter()
                .map(|&p| repo.find_commit(p).unwrap())
                .collect();
            let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
            let tree = repo.find_tree(tree_id).unwrap();
            repo.commit(None, &sig, &sig, &format!("feat: change {n}"), &tree, &refs)
                .unwrap()
        };
        let mut head = commit(0, &[]);
        for n in 1..400 {
            head = if n % 10 == 0 {
                // A branch of three commits from a few commits back, merged in.
                let mut side = head;
                for k in 0..3 {
                    side = commit(10_000 + n * 10 + k, &[side]);
                }
                commit(n, &[head, side])
            } else {
                commit(n, &[head])
            };
        }
        (repo, head)
    }

    #[test]
    fn what_is_kept_beside_the_walk_follows_each_commit_across_batches() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, head) = branchy_history(dir.path());
        let mut seen = Vec::new();
        let alone = Graph::walk(&repo, head, &mut |c| {
            seen.push(c.id);
            true
        })
        .unwrap();
        let (graph, kept) =
            super::super::pipeline::read_beside(|each| Graph::walk(&repo, head, each), |c| c.id)
                .unwrap();
        assert_eq!(graph.ids, alone.ids);
        assert_eq!(graph.parents, alone.parents);
        assert_eq!(seen, alone.ids);
        assert_eq!(
            kept, graph.ids,
            "kept in the walk's order, past the first batch"
        );
        assert!(kept.len() > 512, "more than one batch: {}", kept.len());
        assert_eq!(kept.len(), 400 + 39 * 3);
    }
}
