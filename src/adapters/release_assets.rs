//! The files `[github] assets` (or a package's `[packages.NAME] assets`) names, found and
//! hashed before anything is written.
//!
//! A release uploads them with a `SHA256SUMS`. They are hashed once up front so that a missing
//! file, a symlink (which a hostile repository could point at `~/.ssh/id_ed25519`) or two files
//! with one name stop the run before the release commit; each file is hashed again when it is
//! read for the upload, so a file changed in between is not published under the old digest.

use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::config::assets::{self, CHECKSUMS};
use crate::util::safe_path::{self, UnsafePath};

/// A file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAsset {
    /// The asset's name on the release: the file name.
    pub name: String,
    /// The path relative to the repository, for messages.
    pub rel: String,
    /// Where it is.
    pub path: PathBuf,
    /// `sha256:<hex>`
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Why the files of one asset setting cannot be uploaded.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct AssetError {
    /// The setting the files come from (`[github] assets`, `[packages.api] assets`), so that
    /// the message says which patterns to fix.
    pub setting: String,
    /// What is wrong.
    pub problem: AssetProblem,
}

/// What is wrong with the files of an asset setting.
#[derive(Debug, thiserror::Error)]
pub enum AssetProblem {
    /// A pattern matched no file.
    #[error("`{0}` matches no file; build the assets before `release cut`, or remove the pattern")]
    NoMatch(String),
    /// A match is not a regular file inside the repository.
    #[error(transparent)]
    Unsafe(#[from] UnsafePath),
    /// Two files would get the same asset name.
    #[error("{first} and {second} would both be uploaded as `{name}`; asset names must be unique")]
    SameName {
        /// The asset name.
        name: String,
        /// One file.
        first: String,
        /// The other.
        second: String,
    },
    /// A file name GitHub would rewrite (so a re-run could not find the asset again).
    #[error("{0}: asset names are made of letters, digits, `.`, `_`, `-` and `+` (GitHub rewrites other characters); rename the file")]
    BadName(String),
    /// A file was named like the checksum file.
    #[error("{0} is named {CHECKSUMS}, which release writes itself")]
    Reserved(String),
    /// A file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// A file changed after it was hashed.
    #[error("{path} changed during the release (it was {before}, it is {after}); build it once, then run again")]
    Changed {
        /// The file.
        path: String,
        /// The digest at the start.
        before: String,
        /// The digest now.
        after: String,
    },
}

impl AssetProblem {
    /// The problem, for the files of `setting`.
    fn of(self, setting: &str) -> AssetError {
        AssetError {
            setting: setting.to_string(),
            problem: self,
        }
    }
}

/// The setting `[github] assets`, as errors name it.
pub const ROOT_SETTING: &str = "[github] assets";

/// The setting `[packages.NAME] assets`, as errors name it.
pub fn package_setting(name: &str) -> String {
    format!("[packages.{name}] assets")
}

/// Every file the patterns of `setting` (see [`ROOT_SETTING`], [`package_setting`]) match,
/// sorted by name, each once.
pub fn resolve(
    root: &Path,
    patterns: &[String],
    setting: &str,
) -> Result<Vec<LocalAsset>, AssetError> {
    resolve_files(root, patterns, setting).map_err(|p| p.of(setting))
}

fn resolve_files(
    root: &Path,
    patterns: &[String],
    setting: &str,
) -> Result<Vec<LocalAsset>, AssetProblem> {
    let mut by_name: BTreeMap<String, LocalAsset> = BTreeMap::new();
    for pattern in patterns {
        let glob = assets::glob(pattern).map_err(|_| AssetProblem::NoMatch(pattern.clone()))?;
        let start = root.join(assets::walk_root(pattern));
        let mut found = false;
        let walk = walkdir::WalkDir::new(&start)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.file_name() != ".git");
        for entry in walk {
            let Ok(entry) = entry else { continue };
            if entry.file_type().is_dir() {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(root) else {
                continue;
            };
            if !glob.is_match(rel) {
                continue;
            }
            // A matching name that is not UTF-8 cannot be an asset name: refused, not skipped.
            let Some(rel) = rel.to_str().map(|r| r.replace('\\', "/")) else {
                return Err(AssetProblem::BadName(rel.to_string_lossy().into_owned()));
            };
            found = true;
            let path = safe_path::check(root, &rel, setting)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
                || name.starts_with('.')
            {
                return Err(AssetProblem::BadName(rel));
            }
            if name == CHECKSUMS {
                return Err(AssetProblem::Reserved(rel));
            }
            match by_name.get(&name) {
                Some(seen) if seen.rel == rel => continue,
                Some(seen) => {
                    return Err(AssetProblem::SameName {
                        name,
                        first: seen.rel.clone(),
                        second: rel,
                    })
                }
                None => {}
            }
            let (digest, size) = hash_file(&path, &rel)?;
            by_name.insert(
                name.clone(),
                LocalAsset {
                    name,
                    rel,
                    path,
                    digest,
                    size,
                },
            );
        }
        if !found {
            return Err(AssetProblem::NoMatch(pattern.clone()));
        }
    }
    Ok(by_name.into_values().collect())
}

/// `SHA256SUMS` of `assets`, in the format `sha256sum --check` reads.
pub fn checksums(assets: &[LocalAsset]) -> Vec<u8> {
    let mut out = String::new();
    for a in assets {
        let hex = a.digest.strip_prefix("sha256:").unwrap_or(&a.digest);
        out.push_str(&format!("{hex}  {}\n", a.name));
    }
    out.into_bytes()
}

/// The file's content, provided it still has the digest it had when it was resolved from
/// `setting`.
pub fn read(asset: &LocalAsset, setting: &str) -> Result<Vec<u8>, AssetError> {
    let data = std::fs::read(&asset.path).map_err(|e| {
        AssetProblem::Read {
            path: asset.rel.clone(),
            message: e.to_string(),
        }
        .of(setting)
    })?;
    let now = crate::util::sha256::digest(&data);
    if now != asset.digest {
        return Err(AssetProblem::Changed {
            path: asset.rel.clone(),
            before: asset.digest.clone(),
            after: now,
        }
        .of(setting));
    }
    Ok(data)
}

/// Digest and size, read in blocks: release binaries can be large.
fn hash_file(path: &Path, rel: &str) -> Result<(String, u64), AssetProblem> {
    let failed = |e: std::io::Error| AssetProblem::Read {
        path: rel.to_string(),
        message: e.to_string(),
    };
    let mut file = std::fs::File::open(path).map_err(failed)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(failed)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((format!("sha256:{:x}", hasher.finalize()), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        dir
    }

    fn names(assets: &[LocalAsset]) -> Vec<&str> {
        assets.iter().map(|a| a.name.as_str()).collect()
    }

    #[test]
    fn finds_hashes_and_sorts() {
        let dir = tree(&[
            ("dist/b.tar.gz", "b"),
            ("dist/a.tar.gz", "abc"),
            ("dist/sub/c.tar.gz", "c"),
            ("dist/notes.txt", "n"),
        ]);
        let found = resolve(dir.path(), &["dist/*.tar.gz".into()], ROOT_SETTING).unwrap();
        assert_eq!(names(&found), ["a.tar.gz", "b.tar.gz"]);
        assert_eq!(
            found[0].digest,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(found[0].size, 3);
        // The same file through two patterns is one asset.
        let twice = resolve(
            dir.path(),
            &["dist/a.tar.gz".into(), "dist/*.tar.gz".into()],
            ROOT_SETTING,
        );
        assert_eq!(names(&twice.unwrap()), ["a.tar.gz", "b.tar.gz"]);
        let sums = String::from_utf8(checksums(&found)).unwrap();
        assert_eq!(
            sums.lines().next().unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  a.tar.gz"
        );
        assert_eq!(sums.lines().count(), 2);
    }

    #[test]
    fn refuses_what_must_not_be_published() {
        let dir = tree(&[("dist/x/app.zip", "1"), ("dist/y/app.zip", "2")]);
        let err = resolve(dir.path(), &["dist/**/*.zip".into()], ROOT_SETTING).unwrap_err();
        assert!(
            matches!(err.problem, AssetProblem::SameName { .. }),
            "{err}"
        );
        let err = resolve(dir.path(), &["dist/*.tar.gz".into()], ROOT_SETTING).unwrap_err();
        assert!(err.to_string().contains("matches no file"), "{err}");
        let err = resolve(dir.path(), &["nowhere/*".into()], ROOT_SETTING).unwrap_err();
        assert!(matches!(err.problem, AssetProblem::NoMatch(_)), "{err}");

        let dir = tree(&[("dist/my app.zip", "1"), ("dist/SHA256SUMS", "x")]);
        let err = resolve(dir.path(), &["dist/*.zip".into()], ROOT_SETTING).unwrap_err();
        assert!(matches!(err.problem, AssetProblem::BadName(_)), "{err}");
        let err = resolve(dir.path(), &["dist/SHA*".into()], ROOT_SETTING).unwrap_err();
        assert!(matches!(err.problem, AssetProblem::Reserved(_)), "{err}");
    }

    #[test]
    fn errors_name_the_setting_of_the_patterns() {
        let dir = tree(&[("services/api/dist/a.zip", "1")]);
        let err = resolve(
            dir.path(),
            &["services/api/dist/*.tar.gz".into()],
            &package_setting("api"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "[packages.api] assets: `services/api/dist/*.tar.gz` matches no file; build the assets before `release cut`, or remove the pattern"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_never_read() {
        let outside = tree(&[("id_ed25519", "PRIVATE KEY")]);
        let dir = tree(&[("dist/real.tar.gz", "ok")]);
        std::os::unix::fs::symlink(
            outside.path().join("id_ed25519"),
            dir.path().join("dist/key.tar.gz"),
        )
        .unwrap();
        let err = resolve(dir.path(), &["dist/*.tar.gz".into()], ROOT_SETTING).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // A symlinked directory on the way is refused too.
        std::fs::remove_file(dir.path().join("dist/key.tar.gz")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        let err = resolve(dir.path(), &["out/*".into()], ROOT_SETTING).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_name_that_is_not_utf8_is_refused_not_skipped() {
        use std::os::unix::ffi::OsStrExt as _;
        let dir = tree(&[("dist/ok.zip", "1")]);
        let odd = std::ffi::OsStr::from_bytes(b"dist/caf\xe9.txt");
        std::fs::write(dir.path().join(odd), "2").unwrap();
        let err = resolve(dir.path(), &["dist/*".into()], ROOT_SETTING).unwrap_err();
        assert!(matches!(err.problem, AssetProblem::BadName(_)), "{err}");
        // Beside the pattern it is no one's business.
        let found = resolve(dir.path(), &["dist/*.zip".into()], ROOT_SETTING).unwrap();
        assert_eq!(names(&found), ["ok.zip"]);
    }

    #[test]
    fn a_file_changed_after_hashing_is_not_uploaded() {
        let dir = tree(&[("dist/a.zip", "one")]);
        let found = resolve(dir.path(), &["dist/*.zip".into()], ROOT_SETTING).unwrap();
        assert_eq!(read(&found[0], ROOT_SETTING).unwrap(), b"one");
        std::fs::write(dir.path().join("dist/a.zip"), "two").unwrap();
        let err = read(&found[0], ROOT_SETTING).unwrap_err();
        assert!(matches!(err.problem, AssetProblem::Changed { .. }), "{err}");
    }
}
