//! `[packages.NAME]`: several packages in one repository, each with its own version, tags and
//! changelog.
//!
//! ```toml
//! [packages.api]
//! path = "services/api"          # commits changing it belong to it
//! depends_on = ["core"]          # a release of core releases api (patch)
//! [packages.core]
//! path = "libs/core"
//! tag_prefix = "core@"           # core@1.4.0 (default: core-v1.4.0)
//! ```
//!
//! Without `[packages]` the repository is one package at its root, as it always was.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::config::image::ImageConfig;
use crate::config::VersionFile;

/// One `[packages.NAME]` table.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PackageConfig {
    /// The package's directory, relative to the repository root: a commit that changes a file
    /// under it belongs to the package. Required unless `scopes` is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Directories the package lived in before it moved: commits changing them belong to it too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub former_paths: Vec<String>,
    /// Conventional-commit scopes that belong to the package whatever files they change
    /// (`feat(api): ...`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Paths (relative to the repository root) whose changes do not count for the package.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Prefix of the package's tags (default `NAME-v`, giving `NAME-v1.4.0`; `NAME@` gives
    /// `NAME@1.4.0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_prefix: Option<String>,
    /// The package's changelog (default `<path>/CHANGELOG.md`, or `CHANGELOG-NAME.md` without
    /// a path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changelog: Option<String>,
    /// Files whose version is rewritten on the package's release: paths, or tables with
    /// `path` and `regex` as in `[[version_files]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub version_files: Vec<PackageVersionFile>,
    /// Packages this one depends on: each release of one of them releases this package too
    /// (at least a patch). Empty: the packages its Cargo.toml or package.json version files
    /// list as dependencies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// The package's container image: built and pushed by `release cut` for each release of
    /// the package, and what its environments (`package = "NAME"`) deploy to their
    /// `container`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageConfig>,
    /// Several images of the package, each for one container: `release cut` builds and pushes
    /// each for each release of the package, and a deploy of a version puts each image's
    /// version tag on its container, in one new task definition revision.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<NamedImage>,
    /// Files uploaded to the package's GitHub release, as globs relative to the repository
    /// root (`["services/api/dist/*.tar.gz"]`), together with a `SHA256SUMS` of them: the
    /// package's own `[github] assets`. Resolved only when the package is released; a pattern
    /// that then matches nothing is an error.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<String>,
    /// Move the package's moving major tag (its tag prefix and major: `api-v1`, `api@1`) to
    /// each new stable release of that major. Unset: `[github] major_tag` decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub major_tag: Option<bool>,
}

impl PackageConfig {
    /// Whether the package's moving major tag follows its releases: its own `major_tag`,
    /// else the root's `[github] major_tag`.
    pub fn major_tag_of(&self, root: bool) -> bool {
        self.major_tag.unwrap_or(root)
    }

    /// The tag prefix of package `name`.
    pub fn tag_prefix_of(&self, name: &str) -> String {
        self.tag_prefix
            .clone()
            .unwrap_or_else(|| format!("{name}-v"))
    }

    /// The changelog of package `name`, relative to the repository root.
    pub fn changelog_of(&self, name: &str) -> String {
        if let Some(c) = &self.changelog {
            return c.clone();
        }
        match self.path.as_deref().map(normalize) {
            Some(p) if !p.is_empty() => format!("{p}/CHANGELOG.md"),
            _ => format!("CHANGELOG-{name}.md"),
        }
    }

    /// Every directory whose changes belong to the package: `path` and `former_paths`,
    /// normalized (`""` is the whole repository).
    pub fn paths(&self) -> Vec<String> {
        self.path
            .iter()
            .chain(&self.former_paths)
            .map(|p| normalize(p))
            .collect()
    }

    /// The `exclude` paths, normalized.
    pub fn excludes(&self) -> Vec<String> {
        self.exclude.iter().map(|p| normalize(p)).collect()
    }

    /// Every image of the package as `release cut` builds it: `image` (no name), then each of
    /// `images` (by its name), with its context, Dockerfile (default `<context>/Dockerfile`)
    /// and builder.
    pub fn built_images(&self) -> Vec<(Option<String>, ImageConfig)> {
        self.image
            .iter()
            .map(|i| (None, i.clone()))
            .chain(
                self.images
                    .iter()
                    .map(|i| (Some(i.name.clone()), i.image())),
            )
            .collect()
    }

    /// The images a deploy of the package puts on, as (container, name within `images`, image),
    /// the one for `container` (the environment's) first: `image` runs there, else the
    /// `images` entry mapped to it (the configuration makes sure there is one).
    pub fn deployed_images(&self, container: &str) -> Vec<(String, Option<String>, ImageConfig)> {
        let mut all: Vec<(String, Option<String>, ImageConfig)> = self
            .image
            .iter()
            .map(|i| (container.to_string(), None, i.clone()))
            .chain(self.images.iter().map(|i| {
                (
                    i.container_name().to_string(),
                    Some(i.name.clone()),
                    i.image(),
                )
            }))
            .collect();
        if let Some(at) = all.iter().position(|(c, _, _)| c == container) {
            let primary = all.remove(at);
            all.insert(0, primary);
        }
        all
    }

    /// The version files as `[[version_files]]` entries.
    pub fn version_files(&self) -> Vec<VersionFile> {
        self.version_files
            .iter()
            .map(|f| match f {
                PackageVersionFile::Path(path) => VersionFile {
                    path: path.clone(),
                    regex: None,
                },
                PackageVersionFile::File(f) => f.clone(),
            })
            .collect()
    }
}

/// A repository-relative directory without `./`, duplicate or trailing slashes; `.` and `""`
/// are the root (`""`).
pub fn normalize(path: &str) -> String {
    path.split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// One entry of a package's `version_files`: a path, or a table with a regex.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum PackageVersionFile {
    /// A file whose kind comes from its name (`Cargo.toml`, `package.json`, plain text).
    Path(String),
    /// A file with a regex, as in `[[version_files]]`.
    File(VersionFile),
}

/// A string is a path, a table a `[[version_files]]` entry, whose own errors keep their place.
impl<'de> Deserialize<'de> for PackageVersionFile {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entry;
        impl<'de> serde::de::Visitor<'de> for Entry {
            type Value = PackageVersionFile;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a path, or a table with `path` and optionally `regex`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PackageVersionFile, E> {
                Ok(PackageVersionFile::Path(v.to_string()))
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                map: M,
            ) -> Result<PackageVersionFile, M::Error> {
                VersionFile::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(PackageVersionFile::File)
            }
        }
        deserializer.deserialize_any(Entry)
    }
}

/// One of a package's `images`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedImage {
    /// The image's name within the package.
    pub name: String,
    /// `host[:port]/path` of the repository it is pushed to.
    pub repository: String,
    /// The task definition's container that runs it (default: `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The build context, relative to the repository root (default `.`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The Dockerfile, relative to the repository root (default `<context>/Dockerfile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// The tool that builds and pushes it (default `docker`, as `[image]`'s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<crate::config::image::BuilderKind>,
}

impl NamedImage {
    /// The image as `[image]` would describe it: its repository, context, Dockerfile
    /// (default `<context>/Dockerfile`) and builder, every other setting at its default.
    pub fn image(&self) -> ImageConfig {
        let mut image = ImageConfig::for_repository(&self.repository);
        if let Some(c) = &self.context {
            image.context = c.clone();
            image.dockerfile = match normalize(c).as_str() {
                "" => "Dockerfile".to_string(),
                dir => format!("{dir}/Dockerfile"),
            };
        }
        if let Some(d) = &self.dockerfile {
            image.dockerfile = d.clone();
        }
        if let Some(b) = self.builder {
            image.builder = b;
        }
        image
    }

    /// The container that runs it.
    pub fn container_name(&self) -> &str {
        self.container.as_deref().unwrap_or(&self.name)
    }
}

/// Check the `package` of each environment: a package that exists and has an image, the same
/// as that of the environment it requires; an error is the dotted key at fault and what is
/// wrong.
pub fn validate_environments(
    packages: &BTreeMap<String, PackageConfig>,
    environments: &BTreeMap<String, crate::config::environments::EnvironmentConfig>,
) -> Result<(), (String, String)> {
    for (env_name, env) in environments {
        let key = format!("environments.{env_name}.package");
        if let Some(name) = &env.package {
            let Some(p) = packages.get(name) else {
                let why = if packages.is_empty() {
                    "release.toml has no [packages.NAME] section: declare the package, or remove `package` to deploy the root's versions".to_string()
                } else {
                    let known: Vec<&str> = packages.keys().map(String::as_str).collect();
                    format!("no package `{name}`: the packages are {}", known.join(", "))
                };
                return Err((key, why));
            };
            if p.image.is_none() && p.images.is_empty() {
                return Err((
                    key,
                    format!("package {name} has no `image` nor `images`: give it the image its environments deploy"),
                ));
            }
            let mapped = p.images.iter().any(|i| i.container_name() == env.container);
            match (&p.image, mapped) {
                (None, false) => {
                    return Err((
                        key,
                        format!("none of package {name}'s `images` runs in {env_name}'s container `{}`: set `container = \"{}\"` on the image it runs", env.container, env.container),
                    ))
                }
                (Some(_), true) => {
                    return Err((
                        key,
                        format!("package {name}'s `image` and one of its `images` both run in {env_name}'s container `{}`: keep one", env.container),
                    ))
                }
                _ => {}
            }
        }
        let required = env
            .requires
            .as_ref()
            .and_then(|r| environments.get(r).map(|e| (r, e)));
        if let Some((r, required)) = required.filter(|(_, e)| e.package != env.package) {
            let of = |p: &Option<String>| match p {
                Some(p) => format!("package {p}"),
                None => "the root's versions".to_string(),
            };
            return Err((
                format!("environments.{env_name}.requires"),
                format!(
                    "{env_name} runs {} but requires {r}, which runs {}: a version can only come from an environment of the same package",
                    of(&env.package),
                    of(&required.package)
                ),
            ));
        }
    }
    Ok(())
}

/// Check the `[packages]` tables; an error is the dotted key at fault and what is wrong.
pub fn validate(
    packages: &BTreeMap<String, PackageConfig>,
    root_tag_prefix: &str,
) -> Result<(), (String, String)> {
    let key = |name: &str, k: &str| format!("packages.{name}.{k}");
    let mut prefixes: BTreeMap<String, &str> = BTreeMap::new();
    for (name, p) in packages {
        if !valid_name(name) {
            return Err((
                format!("packages.{name}"),
                format!("`{name}` cannot name a package: use letters, digits, `-`, `_` and `.`, starting with a letter or digit"),
            ));
        }
        if p.path.is_none() && p.scopes.is_empty() {
            return Err((
                format!("packages.{name}"),
                "a package needs `path` (its directory) or `scopes`".into(),
            ));
        }
        for (k, paths) in [
            ("path", p.path.iter().collect::<Vec<_>>()),
            ("former_paths", p.former_paths.iter().collect()),
            ("exclude", p.exclude.iter().collect()),
        ] {
            for path in paths {
                if path.starts_with('/')
                    || path.split('/').any(|part| part == "..")
                    || path.contains('\\')
                {
                    return Err((
                        key(name, k),
                        format!("`{path}` must be a path inside the repository, relative to its root, with `/` between parts"),
                    ));
                }
            }
        }
        let mut containers = std::collections::BTreeSet::new();
        for i in &p.images {
            if !containers.insert(i.container_name()) {
                return Err((
                    key(name, "images"),
                    format!(
                        "two images run in container `{}`: give each its own `container`",
                        i.container_name()
                    ),
                ));
            }
        }
        for pattern in &p.assets {
            crate::config::assets::check_pattern(pattern)
                .map_err(|message| (key(name, "assets"), message))?;
        }
        if let Some(s) = p.scopes.iter().find(|s| s.trim().is_empty()) {
            return Err((key(name, "scopes"), format!("`{s}` is not a scope")));
        }
        let prefix = p.tag_prefix_of(name);
        if prefix.is_empty()
            || prefix
                .chars()
                .any(|c| c.is_whitespace() || "~^:?*[\\".contains(c))
        {
            return Err((
                key(name, "tag_prefix"),
                format!("`{prefix}` cannot start a package's git tag names"),
            ));
        }
        // A prefix the root's or another package's also matches would read the other's tags.
        if let Some(other) = prefixes.insert(prefix.clone(), name) {
            return Err((
                key(name, "tag_prefix"),
                format!("`{prefix}` is also the tag prefix of package {other}: give each package its own"),
            ));
        }
        if prefix == root_tag_prefix {
            return Err((
                key(name, "tag_prefix"),
                format!("`{prefix}` is the root `tag_prefix`: give the package its own"),
            ));
        }
        for dep in &p.depends_on {
            if dep == name {
                return Err((
                    key(name, "depends_on"),
                    format!("package {name} cannot depend on itself"),
                ));
            }
            if !packages.contains_key(dep) {
                let known: Vec<&str> = packages.keys().map(String::as_str).collect();
                return Err((
                    key(name, "depends_on"),
                    format!("no package `{dep}`: the packages are {}", known.join(", ")),
                ));
            }
        }
        for (i, f) in p.version_files().iter().enumerate() {
            if let Some(re) = &f.regex {
                let compiled = regex::Regex::new(re)
                    .map_err(|e| (key(name, "version_files"), format!("[{i}]: {e}")))?;
                if compiled.captures_len() < 2 {
                    return Err((
                        key(name, "version_files"),
                        format!("[{i}]: needs a capture group `(?P<version>...)`"),
                    ));
                }
            }
        }
    }
    if let Some(cycle) = cycle(packages) {
        return Err((
            key(&cycle[0], "depends_on"),
            format!("a dependency cycle: {}", cycle.join(" -> ")),
        ));
    }
    Ok(())
}

/// Check that `[github] assets` is not set beside `[packages]`: each package's GitHub release
/// has its own files, so root patterns would either go to every package's release (wrong) or
/// nowhere (a silent surprise).
pub fn validate_root_assets(
    packages: &BTreeMap<String, PackageConfig>,
    root_assets: &[String],
) -> Result<(), String> {
    let Some(name) = packages.keys().next() else {
        return Ok(());
    };
    if root_assets.is_empty() {
        return Ok(());
    }
    Err(format!(
        "with [packages], each package's GitHub release has its own assets: move the patterns to the package they belong to, e.g. `[packages.{name}] assets = [\"{}\"]`",
        root_assets[0]
    ))
}

/// Check `[changelog] packages_summary`: it needs `[packages]`, and must be no package's own
/// changelog (one file cannot hold both).
pub fn validate_summary(
    packages: &BTreeMap<String, PackageConfig>,
    summary: &str,
) -> Result<(), String> {
    if packages.is_empty() {
        return Err(
            "a summary of the packages' releases needs [packages]; without them the repository is one package, whose changelog is `[changelog] path`".into(),
        );
    }
    let normalized = normalize(summary);
    if normalized.is_empty() {
        return Err("the path is empty".into());
    }
    if let Some((name, _)) = packages
        .iter()
        .find(|(name, p)| normalize(&p.changelog_of(name)) == normalized)
    {
        return Err(format!(
            "`{summary}` is the changelog of package {name}: give the summary a file of its own"
        ));
    }
    Ok(())
}

/// Letters, digits, `-`, `_` and `.`, starting with a letter or digit: a name that reads well
/// in tags, commit messages and paths.
fn valid_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A `depends_on` cycle, as the names along it (the first repeated at the end).
fn cycle(packages: &BTreeMap<String, PackageConfig>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit<'a>(
        name: &'a str,
        packages: &'a BTreeMap<String, PackageConfig>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match marks.get(name) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|n| *n == name).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|n| n.to_string()).collect();
                cycle.push(name.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(name, Mark::Open);
        path.push(name);
        for dep in packages
            .get(name)
            .map(|p| &p.depends_on)
            .into_iter()
            .flatten()
        {
            if let Some(c) = visit(dep, packages, marks, path) {
                return Some(c);
            }
        }
        path.pop();
        marks.insert(name, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for name in packages.keys() {
        if let Some(c) = visit(name, packages, &mut marks, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkgs(text: &str) -> BTreeMap<String, PackageConfig> {
        #[derive(Deserialize)]
        struct T {
            packages: BTreeMap<String, PackageConfig>,
        }
        toml::from_str::<T>(text).unwrap().packages
    }

    #[test]
    fn a_packages_major_tag_overrides_the_roots_setting() {
        let p =
            pkgs("[packages.api]\npath = \"a\"\nmajor_tag = false\n[packages.web]\npath = \"w\"\n");
        assert!(!p["api"].major_tag_of(true));
        assert!(p["web"].major_tag_of(true));
        assert!(!p["web"].major_tag_of(false));
    }

    #[test]
    fn defaults_follow_the_name_and_path() {
        let p = pkgs("[packages.api]\npath = \"./services//api/\"\n");
        let api = &p["api"];
        assert_eq!(api.tag_prefix_of("api"), "api-v");
        assert_eq!(api.changelog_of("api"), "services/api/CHANGELOG.md");
        assert_eq!(api.paths(), vec!["services/api".to_string()]);
        let p = pkgs("[packages.api]\nscopes = [\"api\"]\ntag_prefix = \"api@\"\n");
        assert_eq!(p["api"].changelog_of("api"), "CHANGELOG-api.md");
        assert_eq!(p["api"].tag_prefix_of("api"), "api@");
        assert_eq!(normalize("."), "");
    }

    #[test]
    fn the_image_of_the_environments_container_comes_first() {
        let p = pkgs("[packages.api]\npath = \"api\"\nimages = [{ name = \"worker\", repository = \"r/w\" }, { name = \"api\", repository = \"r/a\", container = \"app\" }]\n");
        let images = p["api"].deployed_images("app");
        let order: Vec<(&str, &str)> = images
            .iter()
            .map(|(c, _, i)| (c.as_str(), i.repository.as_str()))
            .collect();
        assert_eq!(order, [("app", "r/a"), ("worker", "r/w")]);
        let p = pkgs("[packages.api]\npath = \"api\"\nimages = [{ name = \"w\", repository = \"r/w\", context = \"services/w\", builder = \"buildah\" }, { name = \"x\", repository = \"r/x\", context = \"x\", dockerfile = \"x/Containerfile\" }]\n");
        let built = p["api"].built_images();
        assert_eq!(built[0].0.as_deref(), Some("w"));
        assert_eq!(built[0].1.dockerfile, "services/w/Dockerfile");
        assert_eq!(
            built[0].1.builder,
            crate::config::image::BuilderKind::Buildah
        );
        assert_eq!(built[1].1.dockerfile, "x/Containerfile");
        let p = pkgs("[packages.api]\npath = \"api\"\nimages = [{ name = \"a\", repository = \"r/a\" }, { name = \"b\", repository = \"r/b\", container = \"a\" }]\n");
        assert_eq!(validate(&p, "v").unwrap_err().0, "packages.api.images");
    }

    #[test]
    fn version_files_take_paths_and_tables() {
        let p = pkgs("[packages.a]\npath = \"a\"\nversion_files = [\"a/Cargo.toml\", { path = \"a/v.txt\", regex = \"v=(.*)\" }]\n");
        let files = p["a"].version_files();
        assert_eq!(files[0].path, "a/Cargo.toml");
        assert_eq!(files[1].regex.as_deref(), Some("v=(.*)"));
    }

    #[test]
    fn cycles_and_unknown_dependencies_are_refused() {
        let p = pkgs("[packages.a]\npath = \"a\"\ndepends_on = [\"b\"]\n[packages.b]\npath = \"b\"\ndepends_on = [\"c\"]\n[packages.c]\npath = \"c\"\ndepends_on = [\"a\"]\n");
        let (key, message) = validate(&p, "v").unwrap_err();
        assert_eq!(key, "packages.a.depends_on");
        assert!(message.contains("a -> b -> c -> a"), "{message}");
        let p = pkgs("[packages.a]\npath = \"a\"\ndepends_on = [\"z\"]\n");
        let (key, message) = validate(&p, "v").unwrap_err();
        assert_eq!(key, "packages.a.depends_on");
        assert!(message.contains("no package `z`"), "{message}");
    }

    #[test]
    fn names_paths_and_prefixes_are_checked() {
        for (text, key) in [
            ("[packages.\"a b\"]\npath = \"a\"\n", "packages.a b"),
            ("[packages.a]\n", "packages.a"),
            ("[packages.a]\npath = \"../x\"\n", "packages.a.path"),
            ("[packages.a]\npath = \"/x\"\n", "packages.a.path"),
            (
                "[packages.a]\npath = \"a\"\ntag_prefix = \"x\"\n[packages.b]\npath = \"b\"\ntag_prefix = \"x\"\n",
                "packages.b.tag_prefix",
            ),
            ("[packages.a]\npath = \"a\"\ntag_prefix = \"v\"\n", "packages.a.tag_prefix"),
        ] {
            assert_eq!(validate(&pkgs(text), "v").unwrap_err().0, key, "{text}");
        }
        assert!(validate(&pkgs("[packages.a]\npath = \".\"\n"), "v").is_ok());
    }

    #[test]
    fn assets_are_checked_per_package_and_not_at_the_root() {
        let p = pkgs("[packages.api]\npath = \"a\"\nassets = [\"a/dist/*.tar.gz\"]\n");
        assert!(validate(&p, "v").is_ok());
        assert_eq!(p["api"].assets, ["a/dist/*.tar.gz"]);
        let p = pkgs("[packages.api]\npath = \"a\"\nassets = [\"../x/*\"]\n");
        let (key, message) = validate(&p, "v").unwrap_err();
        assert_eq!(key, "packages.api.assets");
        assert!(message.contains("`..`"), "{message}");
        let err = validate_root_assets(&pkgs("[packages.api]\npath = \"a\"\n"), &["dist/*".into()])
            .unwrap_err();
        assert!(err.contains("[packages.api] assets"), "{err}");
        assert!(validate_root_assets(&BTreeMap::new(), &["dist/*".into()]).is_ok());
    }

    #[test]
    fn the_summary_is_no_package_changelog() {
        let p =
            pkgs("[packages.api]\npath = \"services/api\"\n[packages.cli]\nscopes = [\"cli\"]\n");
        assert!(validate_summary(&p, "CHANGELOG.md").is_ok());
        let err = validate_summary(&p, "./services/api/CHANGELOG.md").unwrap_err();
        assert!(err.contains("changelog of package api"), "{err}");
        let err = validate_summary(&p, "CHANGELOG-cli.md").unwrap_err();
        assert!(err.contains("package cli"), "{err}");
        let err = validate_summary(&BTreeMap::new(), "CHANGELOG.md").unwrap_err();
        assert!(err.contains("needs [packages]"), "{err}");
    }
}
