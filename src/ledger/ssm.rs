//! The SSM Parameter Store backend: one `String` parameter per key under the prefix; a key's
//! history is the parameter's history (SSM keeps its last 100 versions).
//!
//! The lock is a parameter created only if absent. A stale one (expired, or its process gone
//! from this host) is taken over by overwriting it; since SSM has no compare-and-swap, the
//! winner among several overwriters is the one whose value is the version right after the stale
//! one in the parameter's history, which every contender reads the same. A loser whose value
//! the parameter holds afterwards writes the winner's value back.

use std::time::{Duration, Instant};

use super::{Holder, LedgerError};
use crate::adapters::aws::ssm::Parameters;

/// Values as parameters under a prefix.
#[derive(Clone)]
pub struct SsmStore {
    params: Parameters,
    prefix: String,
}

/// A held environment lock.
pub struct SsmLock {
    params: Parameters,
    name: String,
    value: String,
}

impl SsmStore {
    /// A store under `prefix` (`/release-agent/app`).
    pub fn new(config: &aws_config::SdkConfig, prefix: &str) -> SsmStore {
        SsmStore {
            params: Parameters::new(config),
            prefix: prefix.trim_end_matches('/').to_string(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn name(&self, key: &str) -> String {
        format!("{}/{key}", self.prefix)
    }

    async fn get_versioned(&self, key: &str) -> Result<Option<(String, i64)>, LedgerError> {
        Ok(self.params.get(&self.name(key)).await?)
    }

    /// The value of `key`.
    pub async fn get(&self, key: &str) -> Result<Option<String>, LedgerError> {
        Ok(self.get_versioned(key).await?.map(|(v, _)| v))
    }

    /// Write `key`; with `overwrite = false` only when absent (`None` then). The new version.
    async fn write(
        &self,
        key: &str,
        value: &str,
        overwrite: bool,
    ) -> Result<Option<i64>, LedgerError> {
        Ok(self.params.put(&self.name(key), value, overwrite).await?)
    }

    /// Set `key`.
    pub async fn put(&self, key: &str, value: &str) -> Result<(), LedgerError> {
        self.write(key, value, true).await.map(|_| ())
    }

    /// Every value `key` had, oldest first, with its version.
    async fn versions(&self, key: &str) -> Result<Vec<(i64, String)>, LedgerError> {
        Ok(self.params.history(&self.name(key)).await?)
    }

    /// Every value `key` had, oldest first.
    pub async fn history(&self, key: &str) -> Result<Vec<String>, LedgerError> {
        Ok(self
            .versions(key)
            .await?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Every value `key` had, oldest first, each with where it is (`SSM parameter <name>
    /// version <n>`), so an unreadable one can be named.
    pub async fn history_entries(&self, key: &str) -> Result<Vec<(String, String)>, LedgerError> {
        let name = self.name(key);
        Ok(self
            .versions(key)
            .await?
            .into_iter()
            .map(|(version, v)| (format!("SSM parameter {name} version {version}"), v))
            .collect())
    }

    /// The parameter that holds `key`, for messages.
    pub fn origin(&self, key: &str) -> String {
        format!("SSM parameter {}", self.name(key))
    }

    /// Set `key` only if it has no value yet; whether it was set.
    pub async fn put_new(&self, key: &str, value: &str) -> Result<bool, LedgerError> {
        Ok(self.write(key, value, false).await?.is_some())
    }

    /// The values of the parameters right under `prefix`.
    pub async fn children(&self, prefix: &str) -> Result<Vec<String>, LedgerError> {
        Ok(self
            .children_entries(prefix)
            .await?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// The values of the parameters right under `prefix`, each with its parameter's name.
    pub async fn children_entries(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, LedgerError> {
        Ok(self
            .params
            .children(&self.name(prefix))
            .await?
            .into_iter()
            .map(|(name, value)| (format!("SSM parameter {name}"), value))
            .collect())
    }

    async fn delete(&self, name: &str) -> Result<(), LedgerError> {
        Ok(self.params.delete(name).await?)
    }

    /// Lock `env`, waiting up to `wait` while a live holder has it; a stale lock is taken over.
    pub async fn lock(
        &self,
        env: &str,
        holder: Holder,
        wait: Duration,
    ) -> Result<SsmLock, LedgerError> {
        let key = format!("{env}/lock");
        let name = self.name(&key);
        let value = serde_json::to_string(&holder).unwrap_or_default();
        let deadline = Instant::now() + wait;
        loop {
            if self.write(&key, &value, false).await?.is_some() {
                return Ok(self.guard(name, value));
            }
            let Some((existing, version)) = self.get_versioned(&key).await? else {
                continue; // released between our two calls
            };
            let current = serde_json::from_str::<Holder>(&existing).ok();
            // An unreadable lock is nobody's: treat it as stale.
            if current.as_ref().is_none_or(Holder::is_stale) {
                if let Some(h) = &current {
                    tracing::warn!("taking over the stale lock of {env} held by {h}");
                }
                self.write(&key, &value, true).await?;
                let winner = self
                    .versions(&key)
                    .await?
                    .into_iter()
                    .find(|(v, _)| *v == version + 1)
                    .map(|(_, v)| v);
                if winner.as_deref() == Some(value.as_str()) {
                    return Ok(self.guard(name, value));
                }
                // Another run broke it first. If our overwrite is what the parameter holds now,
                // give the winner its value back (or, if the lock is already gone, remove ours),
                // so no run is named as holder that does not hold it.
                if self.get(&key).await?.as_deref() == Some(value.as_str()) {
                    match &winner {
                        Some(w) => {
                            self.write(&key, w, true).await?;
                        }
                        None => self.delete(&name).await?,
                    }
                }
                continue;
            }
            if Instant::now() >= deadline {
                return Err(LedgerError::Locked {
                    env: env.to_string(),
                    holder: current.map_or_else(|| "another run".into(), |h| h.to_string()),
                });
            }
            tokio::time::sleep(Duration::from_millis(500).min(wait)).await;
        }
    }

    fn guard(&self, name: String, value: String) -> SsmLock {
        SsmLock {
            params: self.params.clone(),
            name,
            value,
        }
    }

    /// Delete `env`'s lock whoever holds it.
    pub async fn unlock(&self, env: &str) -> Result<Option<Holder>, LedgerError> {
        let key = format!("{env}/lock");
        let holder = self
            .get(&key)
            .await?
            .and_then(|v| serde_json::from_str::<Holder>(&v).ok());
        self.delete(&self.name(&key)).await?;
        Ok(holder)
    }
}

impl SsmLock {
    /// Delete the lock if it is still ours (someone may have broken it after it expired).
    pub async fn release(self) {
        let ours = match self.params.get(&self.name).await {
            Ok(current) => current.is_some_and(|(v, _)| v == self.value),
            Err(_) => false,
        };
        if ours {
            if let Err(e) = self.params.delete(&self.name).await {
                tracing::warn!(
                    "could not release the lock {}: {}; it expires on its own",
                    self.name,
                    e.message
                );
            }
        }
    }
}
