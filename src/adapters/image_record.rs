//! The digest pushed for each version, kept in `.git/release-agent/images/<key>.json`: a
//! tiny local record that later steps (promote, deploy) read. The root's image is kept under
//! its version (`1.4.0.json`); a package's images under the package's tag, and the image's
//! name for one of several (`api-v1.4.0.json`, `api-v1.4.0@worker.json`), so that two packages
//! released at the same version never share a record.

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

/// The key of a package's image record: the package's release tag, and the image's name when
/// it is one of the package's `images`.
pub fn package_key(tag: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{tag}@{name}"),
        None => tag.to_string(),
    }
}

/// The file name of `key`'s record: the key when it holds only letters, digits and `.`, `_`,
/// `-`, `+`, `@` (a tag prefix may hold anything, `/` included, and must not reach another
/// directory), else those characters with a short hash of the key, so two keys never share a
/// file.
fn file_name(key: &str) -> String {
    let clean: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean == key && !key.starts_with('.') {
        format!("{clean}.json")
    } else {
        let hash = crate::util::sha256::digest(key.as_bytes());
        let short = hash.trim_start_matches("sha256:").get(..8).unwrap_or("");
        format!("_{clean}-{short}.json")
    }
}

/// The record kept under `key` (a version, or [`package_key`]), if any.
pub fn load(git_dir: &Path, key: &str) -> std::io::Result<Option<ImageRecord>> {
    match std::fs::read_to_string(dir(git_dir).join(file_name(key))) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Write the record under `key` (atomically: a temporary file renamed into place).
pub fn save(git_dir: &Path, key: &str, record: &ImageRecord) -> std::io::Result<PathBuf> {
    let dir = dir(git_dir);
    std::fs::create_dir_all(&dir)?;
    let name = file_name(key);
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let text = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, format!("{text}\n"))?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_in_the_directory_and_apart() {
        assert_eq!(file_name("1.4.0"), "1.4.0.json");
        assert_eq!(
            file_name(&package_key("api-v1.4.0", None)),
            "api-v1.4.0.json"
        );
        assert_eq!(
            file_name(&package_key("core@1.4.0", Some("worker"))),
            "core@1.4.0@worker.json"
        );
        let odd = file_name("../x/1.0.0");
        assert!(!odd.contains('/'), "{odd}");
        assert_ne!(file_name("a/1.0.0"), file_name("a_1.0.0"));
        assert_ne!(file_name(".1.0.0"), ".1.0.0.json");
    }
}
