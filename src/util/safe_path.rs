//! Paths from the configuration that `release` reads and rewrites as its own files (the
//! changelog, the version files, the templates): they must be regular files inside the
//! worktree. A committed symlink (`CHANGELOG.md -> /proc/self/environ`), a `..`, an absolute
//! path or a path into `.git/` would otherwise make a release read a file outside the project
//! and commit it, or overwrite git's own files.

use std::path::{Component, Path, PathBuf};

/// A configured path that `release` refuses to read or write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refusing {path} ({key}): {reason}; release only reads and rewrites regular files inside the worktree, so point {key} at one")]
pub struct UnsafePath {
    /// The path as configured.
    pub path: String,
    /// The configuration key it came from.
    pub key: String,
    /// Why it is refused.
    pub reason: String,
}

/// What a checked path is expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    File,
    Dir,
}

/// `root/rel` when `rel` names a regular file inside `root` (or a file not created yet whose
/// parent directories are inside `root`): relative, without `..`, not under `.git/`, with no
/// symlink anywhere on the way. `key` names the configuration key in the error.
pub fn check(root: &Path, rel: &str, key: &str) -> Result<PathBuf, UnsafePath> {
    check_as(root, rel, key, Expect::File)
}

/// Like [`check`], for a directory (the templates directory).
pub fn check_dir(root: &Path, rel: &str, key: &str) -> Result<PathBuf, UnsafePath> {
    check_as(root, rel, key, Expect::Dir)
}

fn check_as(root: &Path, rel: &str, key: &str, expect: Expect) -> Result<PathBuf, UnsafePath> {
    let refuse = |reason: &str| UnsafePath {
        path: rel.to_string(),
        key: key.to_string(),
        reason: reason.to_string(),
    };
    if rel.trim().is_empty() {
        return Err(refuse("the path is empty"));
    }
    let path = Path::new(rel);
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(name) => {
                if name.eq_ignore_ascii_case(".git") {
                    return Err(refuse("it is inside .git/, which belongs to git"));
                }
                parts.push(name);
            }
            Component::CurDir => {}
            Component::ParentDir => return Err(refuse("`..` leads out of the worktree")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(refuse(
                    "it is an absolute path, not one inside the worktree",
                ))
            }
        }
    }
    if parts.is_empty() {
        return Err(refuse("it names the worktree itself, not a file in it"));
    }
    let mut at = root.to_path_buf();
    let last = parts.len() - 1;
    for (i, name) in parts.iter().enumerate() {
        at.push(name);
        let meta = match std::fs::symlink_metadata(&at) {
            Ok(meta) => meta,
            // Not there yet (a first CHANGELOG.md): nothing below it exists either.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(refuse(&format!("cannot inspect it: {e}"))),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            return Err(refuse(&if i == last {
                "it is a symbolic link".to_string()
            } else {
                format!(
                    "its directory {} is a symbolic link",
                    parts[..=i]
                        .iter()
                        .map(|p| p.to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/")
                )
            }));
        }
        match (i == last, expect) {
            (false, _) | (true, Expect::Dir) if !kind.is_dir() => {
                return Err(refuse(if i == last {
                    "it is not a directory"
                } else {
                    "a part of it is not a directory"
                }))
            }
            (true, Expect::File) if !kind.is_file() => {
                return Err(refuse("it is not a regular file"))
            }
            _ => {}
        }
    }
    // No component is a symlink, so the path stays inside; the worktree itself may sit behind
    // a symlink (`/tmp` on macOS), which is why both sides are resolved.
    if let (Ok(real_root), Ok(real)) = (root.canonicalize(), deepest_existing(&at)) {
        if !real.starts_with(&real_root) {
            return Err(refuse("it resolves to a place outside the worktree"));
        }
    }
    Ok(root.join(path))
}

/// The canonical form of `path`'s longest existing prefix.
fn deepest_existing(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path;
    loop {
        match p.canonicalize() {
            Ok(real) => return Ok(real),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match p.parent() {
                Some(parent) => p = parent,
                None => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(root: &Path, rel: &str) -> String {
        check(root, rel, "changelog.path").unwrap_err().reason
    }

    #[test]
    fn regular_files_inside_pass() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("docs")).unwrap();
        std::fs::write(root.join("docs/CHANGELOG.md"), "x").unwrap();
        assert_eq!(
            check(root, "docs/CHANGELOG.md", "k").unwrap(),
            root.join("docs/CHANGELOG.md")
        );
        assert!(check(root, "./docs/CHANGELOG.md", "k").is_ok());
        // Not created yet: fine, as long as the way there is inside.
        assert!(check(root, "CHANGELOG.md", "k").is_ok());
        assert!(check(root, "new/dir/CHANGELOG.md", "k").is_ok());
        assert!(check_dir(root, "docs", "k").is_ok());
    }

    #[test]
    fn everything_else_is_refused_naming_path_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join(".git")).unwrap();
        std::fs::create_dir(root.join("docs")).unwrap();
        let err = check(root, ".git/config", "version_file").unwrap_err();
        assert!(
            err.to_string().contains(".git/config (version_file)"),
            "{err}"
        );
        assert!(reason(root, ".GIT/HEAD").contains(".git"));
        assert!(reason(root, "sub/.git/HEAD").contains(".git"));
        assert!(reason(root, "../CHANGELOG.md").contains(".."));
        assert!(reason(root, "docs/../../x").contains(".."));
        assert!(reason(root, "/etc/passwd").contains("absolute"));
        assert!(reason(root, "").contains("empty"));
        assert!(reason(root, ".").contains("worktree itself"));
        assert!(reason(root, "docs").contains("not a regular file"));
        std::fs::write(root.join("file"), "x").unwrap();
        assert!(reason(root, "file/below").contains("not a directory"));
        assert!(check_dir(root, "file", "k").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused_anywhere_on_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(outside.path().join("secret"), "token").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.join("CHANGELOG.md"))
            .unwrap();
        assert!(reason(root, "CHANGELOG.md").contains("symbolic link"));
        std::os::unix::fs::symlink(outside.path(), root.join("docs")).unwrap();
        let r = reason(root, "docs/CHANGELOG.md");
        assert!(r.contains("directory docs is a symbolic link"), "{r}");
        assert!(check_dir(root, "docs", "k").is_err());
        // Even a link that stays inside: the file would be committed under another name.
        std::fs::write(root.join("real.md"), "x").unwrap();
        std::os::unix::fs::symlink("real.md", root.join("alias.md")).unwrap();
        assert!(reason(root, "alias.md").contains("symbolic link"));
        // A dangling link is a link too.
        std::os::unix::fs::symlink("/nonexistent/x", root.join("dangling")).unwrap();
        assert!(reason(root, "dangling").contains("symbolic link"));
        // The worktree itself behind a symlink is fine.
        let linked = outside.path().join("linked-root");
        std::os::unix::fs::symlink(root, &linked).unwrap();
        assert!(check(&linked, "real.md", "k").is_ok());
    }
}
