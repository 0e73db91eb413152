//! The digest pushed for each version, kept in `.git/release-agent/images/<version>.json`: a
//! tiny local record that later steps (promote, deploy) read.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What was pushed for one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The release version.
    pub version: String,
    /// `host/name`.
    pub repository: String,
    /// The manifest digest the registry reported.
    pub digest: String,
    /// Every tag pushed.
    pub tags: Vec<String>,
    /// `repository@digest`: what to deploy.
    pub reference: String,
}

/// The directory of records inside a git directory.
pub fn dir(git_dir: &Path) -> PathBuf {
    git_dir.join("release-agent").join("images")
}

/// The record of `version`, if any.
pub fn load(git_dir: &Path, version: &str) -> std::io::Result<Option<ImageRecord>> {
    match std::fs::read_to_string(dir(git_dir).join(format!("{version}.json"))) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Write the record (atomically: a temporary file renamed into place).
pub fn save(git_dir: &Path, record: &ImageRecord) -> std::io::Result<PathBuf> {
    let dir = dir(git_dir);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.json", record.version));
    let tmp = dir.join(format!(".{}.json.tmp", record.version));
    let text = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, format!("{text}\n"))?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
