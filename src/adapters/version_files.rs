//! Rewriting the version in files: `version.txt`, `Cargo.toml` (+ `Cargo.lock`), `package.json`,
//! and any file by a configured regex. Each rewrite is a pure `&str -> String` function that
//! keeps the rest of the file byte for byte.

use regex::Regex;

use crate::adapters::npm;
use std::path::{Path, PathBuf};

/// A version file that cannot be updated.
#[derive(Debug, thiserror::Error)]
pub enum VersionFileError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file has no version where one was expected.
    #[error("{path}: {message}")]
    NoVersion {
        /// The file.
        path: PathBuf,
        /// What was looked for.
        message: String,
    },
}

/// How a file holds its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The whole file is the version.
    Plain,
    /// `[package] version` or `[workspace.package] version`.
    CargoToml,
    /// `[[package]]` entries of the crate named.
    CargoLock(String),
    /// Top-level `"version"`.
    PackageJson,
    /// Group `version` (or the first group) of every match.
    Regex(String),
}

impl Kind {
    /// The kind implied by a file name when no regex is configured.
    pub fn from_path(path: &str, regex: Option<&str>) -> Kind {
        if let Some(re) = regex {
            return Kind::Regex(re.to_string());
        }
        match Path::new(path).file_name().and_then(|n| n.to_str()) {
            Some("Cargo.toml") => Kind::CargoToml,
            Some("package.json") => Kind::PackageJson,
            _ => Kind::Plain,
        }
    }
}

/// Return `content` with its version set to `version`.
pub fn rewrite(kind: &Kind, content: &str, version: &str) -> Result<String, String> {
    match kind {
        Kind::Plain => Ok(format!("{version}\n")),
        Kind::CargoToml => cargo_toml(content, version),
        Kind::CargoLock(name) => cargo_lock(content, name, version),
        Kind::PackageJson => package_json(content, version),
        Kind::Regex(re) => by_regex(content, re, version),
    }
}

fn cargo_toml(content: &str, version: &str) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = content
        .parse()
        .map_err(|e| format!("not valid TOML: {e}"))?;
    let has = |doc: &toml_edit::DocumentMut, table: &[&str]| {
        let mut item = doc.as_item();
        for key in table {
            match item.get(key) {
                Some(i) => item = i,
                None => return false,
            }
        }
        item.get("version").and_then(|v| v.as_str()).is_some()
    };
    if has(&doc, &["package"]) {
        doc["package"]["version"] = toml_edit::value(version);
    } else if has(&doc, &["workspace", "package"]) {
        doc["workspace"]["package"]["version"] = toml_edit::value(version);
    } else {
        return Err("no `version` string in [package] or [workspace.package]".into());
    }
    Ok(doc.to_string())
}

/// The `[package] name` of a Cargo.toml, to find its entry in Cargo.lock.
pub fn cargo_package_name(content: &str) -> Option<String> {
    let doc: toml_edit::DocumentMut = content.parse().ok()?;
    doc.get("package")?
        .get("name")?
        .as_str()
        .map(str::to_string)
}

/// The `"name"` of a package.json.
pub fn package_json_name(content: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(content).ok()?;
    value.get("name")?.as_str().map(str::to_string)
}

/// A Cargo.toml with its dependency on crate `name` (by key, or by `package = "name"`) asking
/// for `version`, in every dependency table (`[dependencies]`, dev, build, per target, and
/// `[workspace.dependencies]`). A `workspace = true` entry is left to the workspace's. `None`
/// when no entry names the crate with a version.
pub fn cargo_dependency(
    content: &str,
    name: &str,
    version: &str,
) -> Result<Option<String>, String> {
    let mut doc: toml_edit::DocumentMut = content
        .parse()
        .map_err(|e| format!("not valid TOML: {e}"))?;
    let mut changed = false;
    let mut set = |table: &mut dyn toml_edit::TableLike| {
        for (key, item) in table.iter_mut() {
            let renamed = item
                .get("package")
                .and_then(|p| p.as_str())
                .is_some_and(|p| p == name);
            if key.get() != name && !renamed {
                continue;
            }
            if item.is_str() {
                *item = toml_edit::value(version);
                changed = true;
            } else if item.get("version").is_some_and(|v| v.is_str()) {
                item["version"] = toml_edit::value(version);
                changed = true;
            }
        }
    };
    const TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];
    for t in TABLES {
        if let Some(table) = doc.get_mut(t).and_then(|i| i.as_table_like_mut()) {
            set(table);
        }
    }
    if let Some(table) = doc
        .get_mut("workspace")
        .and_then(|w| w.get_mut("dependencies"))
        .and_then(|i| i.as_table_like_mut())
    {
        set(table);
    }
    if let Some(targets) = doc.get_mut("target").and_then(|i| i.as_table_like_mut()) {
        for (_, target) in targets.iter_mut() {
            for t in TABLES {
                if let Some(table) = target.get_mut(t).and_then(|i| i.as_table_like_mut()) {
                    set(table);
                }
            }
        }
    }
    Ok(changed.then(|| doc.to_string()))
}

/// A package.json with its dependency on `name` (in `dependencies`, `devDependencies`,
/// `peerDependencies`, `optionalDependencies`) asking for `version`, keeping a `^` or `~` in
/// front; `workspace:` and other protocols, and ranges that are not one version, are left
/// alone ([`npm::bumped_range`]). Only those strings change, keeping the file's formatting.
/// `None` when no entry changes.
pub fn npm_dependency(content: &str, name: &str, version: &str) -> Result<Option<String>, String> {
    npm::dependency(content, name, version)
}

/// The names a manifest depends on: a Cargo.toml's dependency tables (by the crate's name, so
/// `package = "..."` renames count under it), or a package.json's dependency sections. Empty for
/// other files and for text that does not parse.
pub fn dependency_names(kind: &Kind, content: &str) -> Vec<String> {
    let mut names = Vec::new();
    match kind {
        Kind::CargoToml => {
            let Ok(doc) = content.parse::<toml_edit::DocumentMut>() else {
                return names;
            };
            let mut add = |table: &dyn toml_edit::TableLike| {
                for (key, item) in table.iter() {
                    let name = item.get("package").and_then(|p| p.as_str()).unwrap_or(key);
                    names.push(name.to_string());
                }
            };
            const TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];
            for t in TABLES {
                if let Some(table) = doc.get(t).and_then(|i| i.as_table_like()) {
                    add(table);
                }
            }
            if let Some(targets) = doc.get("target").and_then(|i| i.as_table_like()) {
                for (_, target) in targets.iter() {
                    for t in TABLES {
                        if let Some(table) = target.get(t).and_then(|i| i.as_table_like()) {
                            add(table);
                        }
                    }
                }
            }
        }
        Kind::PackageJson => {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(content) else {
                return names;
            };
            for section in npm::SECTIONS {
                if let Some(deps) = value.get(section).and_then(|d| d.as_object()) {
                    names.extend(deps.keys().cloned());
                }
            }
        }
        _ => {}
    }
    names
}

fn cargo_lock(content: &str, name: &str, version: &str) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = content
        .parse()
        .map_err(|e| format!("not valid TOML: {e}"))?;
    let packages = doc
        .get_mut("package")
        .and_then(|p| p.as_array_of_tables_mut())
        .ok_or("no [[package]] entries")?;
    let mut found = false;
    for p in packages.iter_mut() {
        // Registry packages of the same name have a `source`; ours does not.
        if p.get("name").and_then(|n| n.as_str()) == Some(name) && p.get("source").is_none() {
            p["version"] = toml_edit::value(version);
            found = true;
        }
    }
    if !found {
        return Err(format!("no [[package]] named `{name}`"));
    }
    Ok(doc.to_string())
}

fn package_json(content: &str, version: &str) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_str(content).map_err(|e| format!("not valid JSON: {e}"))?;
    if value.get("version").and_then(|v| v.as_str()).is_none() {
        return Err("no top-level \"version\" string".into());
    }
    // Rewrite text, not the parsed value, to keep key order and formatting. The first
    // `"version": "..."` at depth 1 is the top-level one.
    let value_re = Regex::new(r#"^\s*:\s*"((?:[^"\\]|\\.)*)""#).map_err(|e| e.to_string())?;
    let bytes = content.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                b'"' if depth == 1 && content[i..].starts_with("\"version\"") => {
                    let rest = &content[i + 9..];
                    if let Some(m) = value_re.captures(rest).and_then(|c| c.get(1)) {
                        let start = i + 9 + m.start();
                        let end = i + 9 + m.end();
                        return Ok(format!("{}{version}{}", &content[..start], &content[end..]));
                    }
                    in_string = true;
                }
                b'"' => in_string = true,
                _ => {}
            }
        }
        i += 1;
    }
    Err("no top-level \"version\" string".into())
}

fn by_regex(content: &str, pattern: &str, version: &str) -> Result<String, String> {
    let re = Regex::new(pattern).map_err(|e| e.to_string())?;
    let mut out = String::with_capacity(content.len());
    let mut last = 0;
    for caps in re.captures_iter(content) {
        if let Some(m) = caps.name("version").or_else(|| caps.get(1)) {
            out.push_str(&content[last..m.start()]);
            out.push_str(version);
            last = m.end();
        }
    }
    if last == 0 {
        return Err(format!("the regex `{pattern}` matches nothing"));
    }
    out.push_str(&content[last..]);
    Ok(out)
}

/// Write `content` to `path` atomically (temporary file, then rename), so a crash never leaves
/// a half-written file.
pub fn write_atomic(path: &Path, content: &str) -> Result<(), VersionFileError> {
    let io = |source| VersionFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.release-tmp"));
    // A leftover (or planted) file or symlink of that name is removed, and the temporary file
    // is created new: writing through a symlink would write outside the worktree.
    if std::fs::symlink_metadata(&tmp).is_ok() {
        std::fs::remove_file(&tmp).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(io)?;
    std::io::Write::write_all(&mut file, content.as_bytes()).map_err(io)?;
    drop(file);
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_versions_are_rewritten_in_manifests() {
        let cargo = "[package]\nname = \"api\"\nversion = \"1.0.0\"\n\n[dependencies]\ncore = { path = \"../core\", version = \"1.0.0\" } # ours\nserde = \"1\"\nalias = { package = \"core\", path = \"../core\", version = \"1.0\" }\n\n[dev-dependencies.core]\npath = \"../core\"\nversion = \"1.0.0\"\n";
        let out = cargo_dependency(cargo, "core", "1.2.0").unwrap().unwrap();
        assert!(
            out.contains("core = { path = \"../core\", version = \"1.2.0\" } # ours"),
            "{out}"
        );
        assert!(
            out.contains("alias = { package = \"core\", path = \"../core\", version = \"1.2.0\" }"),
            "{out}"
        );
        assert!(
            out.contains("[dev-dependencies.core]\npath = \"../core\"\nversion = \"1.2.0\""),
            "{out}"
        );
        assert!(out.contains("serde = \"1\""), "{out}");
        assert!(
            out.contains("version = \"1.0.0\"\n\n[dependencies]"),
            "own version untouched: {out}"
        );
        assert_eq!(cargo_dependency(cargo, "other", "1.2.0").unwrap(), None);
        let json = "{\n  \"name\": \"worker\",\n  \"dependencies\": {\n    \"@acme/core\": \"^1.0.0\",\n    \"left\": \"workspace:*\"\n  }\n}\n";
        let out = npm_dependency(json, "@acme/core", "1.2.0")
            .unwrap()
            .unwrap();
        assert!(out.contains("\"@acme/core\": \"^1.2.0\""), "{out}");
        assert_eq!(npm_dependency(json, "left", "1.2.0").unwrap(), None);
        assert_eq!(package_json_name(json).as_deref(), Some("worker"));
        assert_eq!(
            dependency_names(&Kind::CargoToml, cargo),
            ["core", "serde", "core", "core"]
        );
        assert_eq!(
            dependency_names(&Kind::PackageJson, json),
            ["@acme/core", "left"]
        );
    }

    #[test]
    fn cargo_toml_keeps_formatting() {
        let src = "[package]\nname = \"app\" # the app\nversion = \"0.1.0\"\n\n[dependencies]\nx = { version = \"1\" }\n";
        let out = rewrite(&Kind::CargoToml, src, "0.2.0").unwrap();
        assert_eq!(
            out,
            src.replace("version = \"0.1.0\"", "version = \"0.2.0\"")
        );
        let ws = "[workspace.package]\nversion = \"1.0.0\"\n";
        assert_eq!(
            rewrite(&Kind::CargoToml, ws, "1.1.0").unwrap(),
            "[workspace.package]\nversion = \"1.1.0\"\n"
        );
        assert!(rewrite(&Kind::CargoToml, "[package]\nname = \"a\"\n", "1.0.0").is_err());
    }

    #[test]
    fn cargo_lock_only_our_package() {
        let lock = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = \"registry+https://example\"\n";
        let out = rewrite(&Kind::CargoLock("app".into()), lock, "0.2.0").unwrap();
        assert_eq!(out.matches("0.2.0").count(), 1);
        assert_eq!(out.matches("0.1.0").count(), 1);
    }

    #[test]
    fn package_json_top_level_only() {
        let src = "{\n  \"name\": \"a\",\n  \"dependencies\": { \"version\": \"9\" },\n  \"version\": \"1.0.0\"\n}\n";
        let out = rewrite(&Kind::PackageJson, src, "1.1.0").unwrap();
        assert_eq!(out, src.replace("\"1.0.0\"", "\"1.1.0\""));
        let tricky = "{\"d\": \"\\\"version\\\"\", \"version\": \"1.0.0\"}";
        assert_eq!(
            rewrite(&Kind::PackageJson, tricky, "2.0.0").unwrap(),
            tricky.replace("1.0.0", "2.0.0")
        );
        assert!(rewrite(&Kind::PackageJson, "{\"a\": {\"version\": \"1\"}}", "2.0.0").is_err());
    }

    #[test]
    fn regex_replaces_every_match() {
        let src = "version: 1.0.0\nappVersion: \"1.0.0\"\n";
        let out = rewrite(
            &Kind::Regex(r#"(?m)^(?:app)?[vV]ersion: "?(?P<version>[^"\n]+)"#.into()),
            src,
            "1.1.0",
        )
        .unwrap();
        assert_eq!(out, "version: 1.1.0\nappVersion: \"1.1.0\"\n");
        assert!(rewrite(&Kind::Regex("nomatch(x)".into()), src, "1.1.0").is_err());
    }

    #[test]
    fn kinds_from_names() {
        assert_eq!(
            Kind::from_path("crates/a/Cargo.toml", None),
            Kind::CargoToml
        );
        assert_eq!(Kind::from_path("web/package.json", None), Kind::PackageJson);
        assert_eq!(Kind::from_path("VERSION", None), Kind::Plain);
        assert_eq!(
            Kind::from_path("Cargo.toml", Some("x(y)")),
            Kind::Regex("x(y)".into())
        );
    }
}
