//! `[github] assets`: the glob patterns of the files a release uploads.
//!
//! A pattern is relative to the repository and stays inside it: no absolute path, no `..`,
//! nothing under `.git/`. The files it matches are checked again when they are read (see
//! `adapters::release_assets`), because a pattern cannot rule out a symlink.

use std::path::{Component, Path};

/// The name of the checksum file uploaded with the assets, as GoReleaser and the action expect.
pub const CHECKSUMS: &str = "SHA256SUMS";

/// Why `pattern` cannot be an asset pattern, if it cannot.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern.trim().is_empty() {
        return Err("an asset pattern is empty".into());
    }
    for c in Path::new(pattern).components() {
        match c {
            Component::ParentDir => {
                return Err(format!("`{pattern}`: `..` leads out of the repository"))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "`{pattern}` is absolute; patterns are relative to the repository"
                ))
            }
            Component::Normal(name) if name.eq_ignore_ascii_case(".git") => {
                return Err(format!("`{pattern}` reaches into .git/"))
            }
            _ => {}
        }
    }
    glob(pattern).map(|_| ())
}

/// The compiled glob: `*` and `?` stay within one path component, `**` crosses them.
pub fn glob(pattern: &str) -> Result<globset::GlobMatcher, String> {
    globset::GlobBuilder::new(pattern.trim_start_matches("./"))
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("`{pattern}` is not a valid glob: {e}"))
}

/// The directory a walk for `pattern` starts at: its components before the first one with a
/// glob character, so that `dist/*.tar.gz` walks `dist/` and not the whole repository.
pub fn walk_root(pattern: &str) -> &str {
    let pattern = pattern.trim_start_matches("./");
    let mut end = 0;
    for (i, part) in pattern.split('/').enumerate() {
        if part.contains(['*', '?', '[', '{', '\\']) {
            break;
        }
        if i > 0 {
            end += 1;
        }
        end += part.len();
    }
    if end >= pattern.len() {
        // No glob character: the parent of the one file named.
        return pattern.rsplit_once('/').map_or("", |(dir, _)| dir);
    }
    &pattern[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_stay_in_the_repository() {
        assert!(check_pattern("dist/*.tar.gz").is_ok());
        assert!(check_pattern("./dist/**/*.zip").is_ok());
        assert!(check_pattern("../secrets/*").unwrap_err().contains(".."));
        assert!(check_pattern("/etc/passwd")
            .unwrap_err()
            .contains("absolute"));
        assert!(check_pattern(".git/config").unwrap_err().contains(".git"));
        assert!(check_pattern("dist/[.zip").unwrap_err().contains("glob"));
        assert!(check_pattern(" ").is_err());
    }

    #[test]
    fn stars_stay_in_one_directory() {
        let g = glob("dist/*.tar.gz").unwrap();
        assert!(g.is_match("dist/a.tar.gz"));
        assert!(!g.is_match("dist/sub/a.tar.gz"));
        assert!(glob("dist/**/*.tar.gz")
            .unwrap()
            .is_match("dist/sub/a.tar.gz"));
    }

    #[test]
    fn walks_start_below_the_glob() {
        assert_eq!(walk_root("dist/*.tar.gz"), "dist");
        assert_eq!(walk_root("./out/bin/release-*"), "out/bin");
        assert_eq!(walk_root("*.zip"), "");
        assert_eq!(walk_root("dist/app.tar.gz"), "dist");
        assert_eq!(walk_root("app.tar.gz"), "");
        assert_eq!(walk_root("a/**/x"), "a");
    }
}
