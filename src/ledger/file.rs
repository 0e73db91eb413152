//! The file backend: `.git/release-agent/ledger/<key>.json` holds a key's value, and
//! `<key>.history.jsonl` every value it had. Locks are `flock`s, so a killed run never leaves
//! one behind.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Holder, LedgerError};

/// Values as files in one directory tree.
#[derive(Clone)]
pub struct FileStore {
    root: PathBuf,
}

/// A held environment lock: the open, locked file.
pub struct FileLock {
    _file: std::fs::File,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LedgerError + '_ {
    move |source| LedgerError::File {
        path: path.to_path_buf(),
        source,
    }
}

impl FileStore {
    /// The ledger of the repository whose git directory is `git_dir`.
    pub fn new(git_dir: &Path) -> FileStore {
        FileStore {
            root: git_dir.join("release-agent").join("ledger"),
        }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn value_path(&self, key: &str) -> PathBuf {
        self.root.join(format!("{key}.json"))
    }

    fn history_path(&self, key: &str) -> PathBuf {
        self.root.join(format!("{key}.history.jsonl"))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Result<Option<String>, LedgerError> {
        let path = self.value_path(key);
        match std::fs::read_to_string(&path) {
            Ok(v) => Ok(Some(v.trim_end().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Set `key` (one line of JSON), appending it to its history first.
    pub fn put(&self, key: &str, value: &str) -> Result<(), LedgerError> {
        let path = self.value_path(key);
        let dir = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let history = self.history_path(key);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&history)
            .map_err(io(&history))?;
        writeln!(f, "{}", value.replace('\n', " ")).map_err(io(&history))?;
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&tmp, format!("{value}\n")).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }

    /// Every value `key` had, oldest first.
    pub fn history(&self, key: &str) -> Result<Vec<String>, LedgerError> {
        Ok(self
            .history_entries(key)?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Every value `key` had, oldest first, each with where it is (`<file> line <n>`), so an
    /// unreadable one can be named.
    pub fn history_entries(&self, key: &str) -> Result<Vec<(String, String)>, LedgerError> {
        let path = self.history_path(key);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(n, l)| (format!("{} line {}", path.display(), n + 1), l.to_string()))
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let value = self.value_path(key).display().to_string();
                Ok(self
                    .get(key)?
                    .into_iter()
                    .map(|v| (value.clone(), v))
                    .collect())
            }
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// The file that holds `key`'s value, for messages.
    pub fn origin(&self, key: &str) -> String {
        self.value_path(key).display().to_string()
    }

    /// Set `key` only if it has no value yet; whether it was set.
    pub fn put_new(&self, key: &str, value: &str) -> Result<bool, LedgerError> {
        if self.get(key)?.is_some() {
            return Ok(false);
        }
        self.put(key, value)?;
        Ok(true)
    }

    /// The values of the keys right under `prefix`.
    pub fn children(&self, prefix: &str) -> Result<Vec<String>, LedgerError> {
        Ok(self
            .children_entries(prefix)?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// The values of the keys right under `prefix`, each with its file.
    pub fn children_entries(&self, prefix: &str) -> Result<Vec<(String, String)>, LedgerError> {
        let dir = self.root.join(prefix);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&dir)(e)),
        };
        let mut values = Vec::new();
        for entry in entries {
            let path = entry.map_err(io(&dir))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                values.push((path.display().to_string(), text.trim_end().to_string()));
            }
        }
        Ok(values)
    }

    fn lock_path(&self, env: &str) -> PathBuf {
        self.root.join(env).join("lock")
    }

    /// Lock `env`, waiting up to `wait` while another process holds it.
    pub async fn lock(
        &self,
        env: &str,
        holder: &Holder,
        wait: Duration,
    ) -> Result<FileLock, LedgerError> {
        let path = self.lock_path(env);
        let dir = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let deadline = Instant::now() + wait;
        loop {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io(&path))?;
            match file.try_lock() {
                Ok(()) => {
                    // The holder is written for the loser's message only; the lock is the flock.
                    let text = serde_json::to_string(holder).unwrap_or_default();
                    file.set_len(0).map_err(io(&path))?;
                    file.write_all(text.as_bytes()).map_err(io(&path))?;
                    return Ok(FileLock { _file: file });
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        let holder = std::fs::read_to_string(&path)
                            .ok()
                            .and_then(|t| serde_json::from_str::<Holder>(&t).ok())
                            .map_or_else(|| "another process".to_string(), |h| h.to_string());
                        return Err(LedgerError::Locked {
                            env: env.to_string(),
                            holder,
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
            }
        }
    }

    /// Remove `env`'s lock file: a hung holder keeps its lock on the removed file, new runs
    /// lock a new one.
    pub fn unlock(&self, env: &str) -> Result<Option<Holder>, LedgerError> {
        let path = self.lock_path(env);
        let holder = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<Holder>(&t).ok());
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(holder),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn values_keep_their_history_and_children_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        assert_eq!(store.get("staging/current").unwrap(), None);
        assert!(store.history("staging/current").unwrap().is_empty());
        store.put("staging/current", "{\"n\":1}").unwrap();
        store.put("staging/current", "{\"n\":2}").unwrap();
        assert_eq!(
            store.get("staging/current").unwrap().as_deref(),
            Some("{\"n\":2}")
        );
        assert_eq!(
            store.history("staging/current").unwrap(),
            vec!["{\"n\":1}", "{\"n\":2}"]
        );
        store
            .put("staging/approvals/1.0.0/bob", "{\"by\":\"bob\"}")
            .unwrap();
        store
            .put("staging/approvals/1.0.0/dave", "{\"by\":\"dave\"}")
            .unwrap();
        let mut children = store.children("staging/approvals/1.0.0").unwrap();
        children.sort();
        assert_eq!(children, vec!["{\"by\":\"bob\"}", "{\"by\":\"dave\"}"]);
        assert!(store
            .children("production/approvals/1.0.0")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_held_lock_names_its_holder_and_is_freed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let rt = rt();
        let holder = Holder::me("alice", "deploy 1.0.0", Duration::from_secs(60));
        let first = rt
            .block_on(store.lock("staging", &holder, Duration::ZERO))
            .unwrap();
        let other = Holder::me("bob", "deploy 1.1.0", Duration::from_secs(60));
        let err = rt
            .block_on(store.lock("staging", &other, Duration::from_millis(200)))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("staging is locked by alice (deploy 1.0.0"),
            "{err}"
        );
        // Another environment is free. The waits below are not zero because a child that
        // another test forks in this process holds a copy of every open descriptor, and so the
        // flock, until it execs.
        let settle = Duration::from_secs(5);
        assert!(rt
            .block_on(store.lock("production", &other, settle))
            .is_ok());
        drop(first);
        assert!(rt.block_on(store.lock("staging", &other, settle)).is_ok());
    }
}
