//! The ledger: per environment, what runs there (version, digest, task definition per service,
//! deployment id, who, when) and its history; the approvals of each version; a lock per
//! environment so two deploys never overlap.
//!
//! Two backends keep the same keys: [`file`](mod@file) (JSON files under `.git/release-agent/ledger/`,
//! the default) and [`ssm`] (Parameter Store under a prefix, shared by CI and laptops; the
//! history of an environment is the parameter's own history).
//!
//! Keys: `<env>/current` (a [`Record`], rewritten at every change), `<env>/approvals/<version>/
//! <who>` (one [`Approval`] each, so two approvers never overwrite each other), `releases/
//! <version>` (a [`ReleaseRecord`]: who cut it, its digest), `digests/<version>` (an
//! [`ImageDigest`], written once), `<env>/migrations/<version>` (a [`MigrationRecord`]), and
//! `<env>/lock`.
//!
//! Reading is tolerant: an unreadable history value is skipped with a warning that names it
//! (parameter and version, or file and line), never counted as a deployment.

pub mod file;
pub mod ssm;

use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

use crate::config::environments::{LedgerBackend, LedgerConfig};
pub use crate::core::migration::{MigrationRecord, MigrationStatus};
pub use crate::core::record::{
    without_deployments, Action, Approval, Approvals, Decision, ImageDigest, PendingRelease,
    Record, ReleaseRecord, ServiceState, Snapshot, Status,
};

/// A ledger operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The file backend failed.
    #[error("ledger file {path}: {source}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The SSM backend failed.
    #[error("ledger parameter {name}: {message}")]
    Ssm {
        /// The parameter.
        name: String,
        /// Why, from the SDK.
        message: String,
    },
    /// A stored value is not what this version of release-agent writes.
    #[error("ledger entry {key} is not valid: {message} (fix or delete it)")]
    Corrupt {
        /// The key.
        key: String,
        /// The parse error.
        message: String,
    },
    /// Another run holds the environment.
    #[error("environment {env} is locked by {holder}; wait for that run to end (or pass --wait), or if it is dead, remove the lock with `release unlock --env {env}`")]
    Locked {
        /// The environment.
        env: String,
        /// Who holds it, since when, until when.
        holder: String,
    },
}

impl From<crate::adapters::aws::ssm::CallError> for LedgerError {
    fn from(e: crate::adapters::aws::ssm::CallError) -> LedgerError {
        LedgerError::Ssm {
            message: e.to_string(),
            name: e.name,
        }
    }
}

/// Who holds an environment's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Who runs it.
    pub by: String,
    /// The host.
    pub host: String,
    /// The process.
    pub pid: u32,
    /// What it does.
    pub purpose: String,
    /// Taken at (Unix seconds).
    pub since: i64,
    /// Honoured until (Unix seconds).
    pub expires: i64,
    /// Tells two holders apart that share host, process and second.
    #[serde(default)]
    pub token: String,
    /// The process-id namespace the pid belongs to (containers sharing a host name have
    /// their own); empty where it cannot be told.
    #[serde(default)]
    pub pid_namespace: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, process {} on {}) since {}, until {}",
            self.by,
            self.purpose,
            self.pid,
            self.host,
            crate::util::time::rfc3339(self.since),
            crate::util::time::rfc3339(self.expires)
        )
    }
}

impl Holder {
    /// This process, holding for `ttl`.
    pub fn me(by: &str, purpose: &str, ttl: Duration) -> Holder {
        let now = unix_now();
        Holder {
            by: by.to_string(),
            host: hostname(),
            pid: std::process::id(),
            purpose: purpose.to_string(),
            since: now,
            expires: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            pid_namespace: pid_namespace(),
            token: format!(
                "{:x}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ),
        }
    }

    /// A lock nobody needs to honour: expired, or its process is gone from this host. A pid
    /// is only checked where it means the same process: same host, same pid namespace.
    pub fn is_stale(&self) -> bool {
        self.expires <= unix_now()
            || (self.host == hostname()
                && !self.pid_namespace.is_empty()
                && self.pid_namespace == pid_namespace()
                && !crate::util::process::process_alive(self.pid))
    }
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Now, RFC 3339 (UTC).
pub fn timestamp() -> String {
    crate::util::time::rfc3339(unix_now())
}

/// This process's pid namespace (`pid:[4026531836]`), empty where there is none to read.
fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(crate::util::process::hostname)
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A part of a key made from free text (an email, a version with `+`): the characters SSM
/// allows, plus a short hash so two different texts never share a key.
pub fn key_part(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean == text {
        clean
    } else {
        let hash = crate::core::image::sha256_digest(text.as_bytes());
        let short = hash.trim_start_matches("sha256:").get(..8).unwrap_or("");
        format!("{clean}-{short}")
    }
}

/// The ledger of one repository.
#[derive(Clone)]
pub enum Ledger {
    /// Files under `.git/`.
    File(file::FileStore),
    /// SSM Parameter Store.
    Ssm(ssm::SsmStore),
}

/// A held environment lock; [`LockGuard::release`] gives it back (a dropped file lock is
/// released by the OS, a dropped SSM lock expires).
pub enum LockGuard {
    /// An `flock`ed file, released when closed.
    File(file::FileLock),
    /// A parameter that is ours until deleted or expired.
    Ssm(ssm::SsmLock),
}

impl LockGuard {
    /// Give the lock back.
    pub async fn release(self) {
        match self {
            LockGuard::File(l) => drop(l),
            LockGuard::Ssm(l) => l.release().await,
        }
    }
}

impl Ledger {
    /// Open the configured backend; `git_dir` holds the file backend.
    pub async fn open(config: &LedgerConfig, git_dir: &Path) -> Ledger {
        match config.backend {
            LedgerBackend::File => Ledger::File(file::FileStore::new(git_dir)),
            LedgerBackend::Ssm => {
                let aws = crate::adapters::aws::config().await;
                Ledger::Ssm(ssm::SsmStore::new(&aws, &config.prefix))
            }
        }
    }

    /// Where the ledger lives, for messages.
    pub fn location(&self) -> String {
        match self {
            Ledger::File(f) => f.root().display().to_string(),
            Ledger::Ssm(s) => format!("SSM {}", s.prefix()),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<String>, LedgerError> {
        match self {
            Ledger::File(f) => f.get(key),
            Ledger::Ssm(s) => s.get(key).await,
        }
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), LedgerError> {
        match self {
            Ledger::File(f) => f.put(key, value),
            Ledger::Ssm(s) => s.put(key, value).await,
        }
    }

    /// Store `value` as one line of JSON under `key`.
    async fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), LedgerError> {
        let text = serde_json::to_string(value).map_err(|e| LedgerError::Corrupt {
            key: key.to_string(),
            message: e.to_string(),
        })?;
        self.put(key, &text).await
    }

    /// Every value of `key`, oldest first, with where each is.
    async fn values(&self, key: &str) -> Result<Vec<(String, String)>, LedgerError> {
        match self {
            Ledger::File(f) => f.history_entries(key),
            Ledger::Ssm(s) => s.history_entries(key).await,
        }
    }

    async fn children(&self, prefix: &str) -> Result<Vec<(String, String)>, LedgerError> {
        match self {
            Ledger::File(f) => f.children_entries(prefix),
            Ledger::Ssm(s) => s.children_entries(prefix).await,
        }
    }

    fn origin(&self, key: &str) -> String {
        match self {
            Ledger::File(f) => f.origin(key),
            Ledger::Ssm(s) => s.origin(key),
        }
    }

    /// What runs in `env` now (or is being deployed). An unreadable value is skipped with a
    /// warning: the latest readable state of the history stands in for it.
    pub async fn current(&self, env: &str) -> Result<Option<Record>, LedgerError> {
        let key = format!("{env}/current");
        let Some(value) = self.get(&key).await? else {
            return Ok(None);
        };
        match parse(&key, &value) {
            Ok(record) => Ok(Some(record)),
            Err(e) => {
                warn_unreadable(
                    &self.origin(&key),
                    &e,
                    "the latest readable state of the history stands in for it",
                );
                Ok(self.history(env).await?.pop())
            }
        }
    }

    /// Every state `env` went through, oldest first. Unreadable entries are left out with a
    /// warning that names them: they never count as a deployment, completed or not.
    pub async fn history(&self, env: &str) -> Result<Vec<Record>, LedgerError> {
        let key = format!("{env}/current");
        Ok(self
            .values(&key)
            .await?
            .iter()
            .filter_map(|(origin, v)| {
                parse(&key, v)
                    .map_err(|e| warn_unreadable(origin, &e, "it is not counted as a deployment"))
                    .ok()
            })
            .collect())
    }

    /// Record a new state of `record.env`.
    pub async fn write(&self, record: &Record) -> Result<(), LedgerError> {
        self.put_json(&format!("{}/current", record.env), record)
            .await
    }

    /// The approvals and rejections of `version` for `env`, oldest first (unreadable ones
    /// left out with a warning).
    pub async fn approvals(&self, env: &str, version: &str) -> Result<Vec<Approval>, LedgerError> {
        Ok(self.approval_entries(env, version).await?.approvals)
    }

    /// The approvals and rejections of `version` for `env`, oldest first, and the entries
    /// that cannot be read (each warned about and named).
    pub async fn approval_entries(
        &self,
        env: &str,
        version: &str,
    ) -> Result<Approvals, LedgerError> {
        let prefix = format!("{env}/approvals/{}", key_part(version));
        let mut out = Approvals::default();
        for (origin, value) in self.children(&prefix).await? {
            match parse::<Approval>(&prefix, &value) {
                Ok(a) => out.approvals.push(a),
                Err(e) => {
                    warn_unreadable(&origin, &e, "it blocks the version here until then");
                    out.unreadable
                        .push(format!("{origin} cannot be read ({e})"));
                }
            }
        }
        out.approvals.sort_by(|a, b| a.at.cmp(&b.at));
        Ok(out)
    }

    /// Record an approval (one per person: a later decision replaces theirs).
    pub async fn add_approval(&self, approval: &Approval) -> Result<(), LedgerError> {
        let key = format!(
            "{}/approvals/{}/{}",
            approval.env,
            key_part(&approval.version),
            key_part(&approval.identity().person())
        );
        self.put_json(&key, approval).await
    }

    /// The major release held for approval, if `version` is one.
    pub async fn pending_release(
        &self,
        version: &str,
    ) -> Result<Option<PendingRelease>, LedgerError> {
        let key = format!("pending/{}", key_part(version));
        self.get(&key)
            .await?
            .map(|v| parse(&self.origin(&key), &v))
            .transpose()
    }

    /// Hold a major release for approval (kept if already held: the first hold names the
    /// authors approvals are judged against).
    pub async fn put_pending_release(&self, pending: &PendingRelease) -> Result<(), LedgerError> {
        if self.pending_release(&pending.version).await?.is_some() {
            return Ok(());
        }
        let key = format!("pending/{}", key_part(&pending.version));
        self.put_json(&key, pending).await
    }

    /// What is known of a released version.
    pub async fn release(&self, version: &str) -> Result<Option<ReleaseRecord>, LedgerError> {
        let key = format!("releases/{}", key_part(version));
        self.get(&key)
            .await?
            .map(|v| parse(&self.origin(&key), &v))
            .transpose()
    }

    /// Record who cut a version (kept if already there).
    pub async fn put_release(&self, info: &ReleaseRecord) -> Result<(), LedgerError> {
        if self.release(&info.version).await?.is_some() {
            return Ok(());
        }
        let key = format!("releases/{}", key_part(&info.version));
        self.put_json(&key, info).await
    }

    /// The digest `version` was first recorded with, if any: its own record, else the one
    /// `release cut` kept with who cut it.
    pub async fn digest(&self, version: &str) -> Result<Option<ImageDigest>, LedgerError> {
        let key = format!("digests/{}", key_part(version));
        if let Some(value) = self.get(&key).await? {
            return parse(&self.origin(&key), &value).map(Some);
        }
        Ok(self.release(version).await?.and_then(|r| {
            Some(ImageDigest {
                version: r.version,
                digest: r.digest?,
                image: None,
                by: r.cut_by,
                at: String::new(),
            })
        }))
    }

    /// Record `record` as its version's digest unless one is recorded already; the digest
    /// that stands (the first one).
    pub async fn fix_digest(&self, record: &ImageDigest) -> Result<ImageDigest, LedgerError> {
        if let Some(existing) = self.digest(&record.version).await? {
            return Ok(existing);
        }
        let key = format!("digests/{}", key_part(&record.version));
        let text = serde_json::to_string(record).map_err(|e| LedgerError::Corrupt {
            key: key.clone(),
            message: e.to_string(),
        })?;
        let created = match self {
            Ledger::File(f) => f.put_new(&key, &text)?,
            Ledger::Ssm(s) => s.put_new(&key, &text).await?,
        };
        if created {
            return Ok(record.clone());
        }
        // Another run recorded one between our read and our write: theirs stands.
        Ok(self
            .digest(&record.version)
            .await?
            .unwrap_or_else(|| record.clone()))
    }

    /// The migration of `version` in `env`, as last written.
    pub async fn migration(
        &self,
        env: &str,
        version: &str,
    ) -> Result<Option<MigrationRecord>, LedgerError> {
        let key = format!("{env}/migrations/{}", key_part(version));
        self.get(&key)
            .await?
            .map(|v| parse(&self.origin(&key), &v))
            .transpose()
    }

    /// Record a new state of a migration (before `RunTask`, with its task, when it ends).
    pub async fn put_migration(&self, record: &MigrationRecord) -> Result<(), LedgerError> {
        let key = format!("{}/migrations/{}", record.env, key_part(&record.version));
        self.put_json(&key, record).await
    }

    /// Take `env`'s lock, waiting up to `wait` for another run to end.
    pub async fn lock(
        &self,
        env: &str,
        holder: Holder,
        wait: Duration,
    ) -> Result<LockGuard, LedgerError> {
        match self {
            Ledger::File(f) => f.lock(env, &holder, wait).await.map(LockGuard::File),
            Ledger::Ssm(s) => s.lock(env, holder, wait).await.map(LockGuard::Ssm),
        }
    }

    /// Remove `env`'s lock whoever holds it; the holder, if there was one.
    pub async fn unlock(&self, env: &str) -> Result<Option<Holder>, LedgerError> {
        match self {
            Ledger::File(f) => f.unlock(env),
            Ledger::Ssm(s) => s.unlock(env).await,
        }
    }
}

/// Say that the entry at `origin` is skipped.
fn warn_unreadable(origin: &str, e: &LedgerError, meaning: &str) {
    let why = match e {
        LedgerError::Corrupt { message, .. } => message.clone(),
        other => other.to_string(),
    };
    tracing::warn!(
        "skipping the unreadable ledger entry {origin} ({why}): {meaning}; fix or delete that entry"
    );
}

fn parse<T: serde::de::DeserializeOwned>(key: &str, value: &str) -> Result<T, LedgerError> {
    serde_json::from_str(value).map_err(|e| LedgerError::Corrupt {
        key: key.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parts_are_ssm_safe_and_distinct() {
        assert_eq!(key_part("1.2.3"), "1.2.3");
        assert_eq!(key_part("alice"), "alice");
        let a = key_part("alice@example.com");
        let b = key_part("alice_example.com");
        assert_ne!(a, b);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
        assert!(key_part("1.0.0+build.5").starts_with("1.0.0_build.5-"));
    }

    fn record(version: &str) -> Record {
        Record {
            env: "staging".into(),
            action: Action::Deploy,
            status: Status::Completed,
            version: Some(version.into()),
            digest: None,
            image: None,
            services: Vec::new(),
            by: "ci".into(),
            identity: None,
            at: "t".into(),
            reason: None,
            last_completed: None,
            forced_alarms: Vec::new(),
            strategy: None,
        }
    }

    #[test]
    fn unreadable_values_are_skipped_and_never_block_the_current_state() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = file::FileStore::new(dir.path());
        store.put("staging/current", "{broken").unwrap();
        let ledger = Ledger::File(store);
        rt.block_on(ledger.write(&record("1.0.0"))).unwrap();
        rt.block_on(ledger.write(&record("1.1.0"))).unwrap();
        let history = rt.block_on(ledger.history("staging")).unwrap();
        let versions: Vec<_> = history.iter().map(|r| r.version.clone()).collect();
        assert_eq!(versions, vec![Some("1.0.0".into()), Some("1.1.0".into())]);
        // The newest value is the broken one: the latest readable state stands in for it.
        let Ledger::File(store) = &ledger else {
            unreachable!()
        };
        store.put("staging/current", "also broken").unwrap();
        let entries = store.history_entries("staging/current").unwrap();
        assert!(entries[0]
            .0
            .ends_with("staging/current.history.jsonl line 1"));
        assert!(entries[3].0.ends_with("line 4"));
        let current = rt.block_on(ledger.current("staging")).unwrap().unwrap();
        assert_eq!(current.version.as_deref(), Some("1.1.0"));
    }

    #[test]
    fn expired_or_dead_holders_are_stale() {
        let mut h = Holder::me("a", "deploy", Duration::from_secs(60));
        assert!(!h.is_stale());
        h.expires = unix_now() - 1;
        assert!(h.is_stale());
        let mut h = Holder::me("a", "deploy", Duration::from_secs(60));
        h.pid = u32::MAX - 1;
        assert!(h.is_stale(), "no such process on this host");
        h.host = "elsewhere".into();
        assert!(!h.is_stale(), "another host's process cannot be checked");
        let mut h = Holder::me("a", "deploy", Duration::from_secs(60));
        h.pid = u32::MAX - 1;
        h.pid_namespace = "pid:[1]".into();
        assert!(!h.is_stale(), "nor can another container's");
    }
}
