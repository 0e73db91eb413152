//! Which commits change a package, remembered under `.git/release-agent/packages/`: one file per
//! set of package paths, with a record per commit id. Whether a commit changes some paths
//! depends on nothing but the commit (its tree and its first parent's, both fixed by its id)
//! and the paths, so a remembered answer is exactly what reading the trees again gives.
//!
//! A file starts with a line naming its paths (a file for other paths, say after a hash
//! collision, is not used), then 21-byte records: the commit id and 0 or 1. Records are only
//! appended; a run killed while writing leaves at most a partial last record, which is ignored.
//! Nothing is remembered for a shallow clone, whose oldest commits have no parent to compare
//! with. Any failure to read or write the cache only costs speed.

use git2::{Oid, Repository};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;

use super::history::PathFilter;

/// v2: v1 answered "no" for every commit of a package at the root with an `exclude` (a
/// pathspec bug, not a property of the commits). The version is in the header, which names the
/// file, so v1 files are never opened again.
const MAGIC: &str = "release-agent package paths v2";
const RECORD: usize = 21;

/// The remembered answers for one set of package paths.
pub struct TouchCache {
    path: Option<PathBuf>,
    header: String,
    known: HashMap<Oid, bool>,
    added: Vec<(Oid, bool)>,
}

impl TouchCache {
    /// The cache of `filter`'s paths in `repo` (empty, and never written, in a shallow clone).
    pub fn open(repo: &Repository, filter: &PathFilter) -> TouchCache {
        let header = format!(
            "{MAGIC} paths={:?} exclude={:?}\n",
            filter.paths, filter.exclude
        );
        let mut cache = TouchCache {
            path: None,
            known: HashMap::new(),
            added: Vec::new(),
            header,
        };
        if repo.is_shallow() {
            return cache;
        }
        let name = crate::util::sha256::digest(cache.header.as_bytes());
        let path = repo
            .commondir()
            .join("release-agent")
            .join("packages")
            .join(&name[..name.len().min(32)]);
        if let Ok(bytes) = std::fs::read(&path) {
            if let Some(records) = bytes.strip_prefix(cache.header.as_bytes()) {
                for r in records.chunks_exact(RECORD) {
                    if let (Ok(id), Some(&flag)) = (Oid::from_bytes(&r[..20]), r.get(20)) {
                        if flag <= 1 {
                            cache.known.insert(id, flag == 1);
                        }
                    }
                }
            }
        }
        cache.path = Some(path);
        cache
    }

    /// The remembered answer for commit `id`.
    pub fn get(&self, id: Oid) -> Option<bool> {
        self.known.get(&id).copied()
    }

    /// Remember the answer for `id` (written by [`TouchCache::save`]).
    pub fn put(&mut self, id: Oid, touched: bool) {
        if self.path.is_some() && self.known.insert(id, touched).is_none() {
            self.added.push((id, touched));
        }
    }

    /// Append what was added; failures are only logged. A file that does not start with this
    /// cache's header is started again, and a partial last record (a killed run's) is cut off
    /// first, so records stay aligned.
    pub fn save(&mut self) {
        let Some(path) = &self.path else { return };
        if self.added.is_empty() {
            return;
        }
        let mut records = Vec::with_capacity(self.added.len() * RECORD);
        for (id, touched) in self.added.drain(..) {
            records.extend_from_slice(id.as_bytes());
            records.push(u8::from(touched));
        }
        let header = self.header.as_bytes();
        let write = || -> std::io::Result<()> {
            use std::io::{Read as _, Seek as _, SeekFrom};
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(path)?;
            let len = f.metadata()?.len();
            let mut head = vec![0u8; header.len()];
            let ours =
                len >= header.len() as u64 && f.read_exact(&mut head).is_ok() && head == header;
            if ours {
                let extra = (len - header.len() as u64) % RECORD as u64;
                f.set_len(len - extra)?;
            } else {
                f.set_len(0)?;
                f.seek(SeekFrom::Start(0))?;
                f.write_all(header)?;
            }
            f.seek(SeekFrom::End(0))?;
            f.write_all(&records)
        };
        if let Err(e) = write() {
            tracing::debug!("cannot write {}: {e}", path.display());
        }
    }
}
