//! `release.toml`: schema, defaults, and validation with `file:line` errors.
//!
//! Every key is optional; an absent file means all defaults. Unknown keys are errors, so a typo
//! never silently falls back to a default.

pub mod assets;
pub mod branches;
pub mod environ;
pub mod environments;
pub mod image;
pub mod packages;

use semver::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file name looked up at the repository root.
pub const FILE_NAME: &str = "release.toml";

/// A problem with the configuration file, located precisely.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or a value has the wrong type or is unknown.
    #[error("{path}:{line}:{column}: {key}{message}")]
    Invalid {
        /// The configuration file.
        path: PathBuf,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column.
        column: usize,
        /// `key `a.b`: ` or empty when the error is not about one key.
        key: String,
        /// What is wrong and, where possible, what is expected.
        message: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Prefix of release tags (`v` in `v1.2.3`).
    pub tag_prefix: String,
    /// The version of the first release, when no release tag exists.
    pub initial_version: Version,
    /// The plain-text file holding the current version.
    pub version_file: String,
    /// Branches releases may be cut from.
    pub branches: Vec<branches::BranchEntry>,
    /// Bump rules.
    pub bump: BumpConfig,
    /// Changelog and release-notes rendering.
    pub changelog: ChangelogConfig,
    /// The release commit.
    pub commit: CommitConfig,
    /// Other files whose version is updated on bump.
    pub version_files: Vec<VersionFile>,
    /// Lifecycle hooks.
    pub hooks: HooksConfig,
    /// Git: signing.
    pub git: GitConfig,
    /// GitHub releases.
    pub github: GithubConfig,
    /// Commit lint rules.
    pub lint: LintConfig,
    /// Container image build, push and promotion (absent: no image).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<image::ImageConfig>,
    /// Where deployments, approvals and locks are recorded.
    pub ledger: crate::config::environments::LedgerConfig,
    /// Deployment targets by name (absent: no deploys).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, crate::config::environments::EnvironmentConfig>,
    /// Several packages in one repository, by name (absent: one package at the root).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub packages: BTreeMap<String, packages::PackageConfig>,
}

impl Config {
    /// The release branches' names.
    pub fn branch_names(&self) -> Vec<String> {
        self.branches.iter().map(|b| b.name().to_string()).collect()
    }

    /// The tag prefix of the versions `package` deploys (the root's without one).
    pub fn tag_prefix_of(&self, package: Option<&str>) -> String {
        match package.and_then(|p| self.packages.get(p).map(|c| (p, c))) {
            Some((name, p)) => p.tag_prefix_of(name),
            None => self.tag_prefix.clone(),
        }
    }

    /// Whether the repository holds several packages (`[packages]`).
    pub fn has_packages(&self) -> bool {
        !self.packages.is_empty()
    }

    /// The `branches` entry of `name`, if it is a release branch.
    pub fn branch(&self, name: &str) -> Option<&branches::BranchEntry> {
        self.branches.iter().find(|b| b.name() == name)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tag_prefix: "v".into(),
            initial_version: Version::new(0, 1, 0),
            version_file: "version.txt".into(),
            branches: vec![
                branches::BranchEntry::Name("main".into()),
                branches::BranchEntry::Name("master".into()),
            ],
            bump: BumpConfig::default(),
            changelog: ChangelogConfig::default(),
            commit: CommitConfig::default(),
            version_files: Vec::new(),
            hooks: HooksConfig::default(),
            git: GitConfig::default(),
            github: GithubConfig::default(),
            lint: LintConfig::default(),
            image: None,
            ledger: crate::config::environments::LedgerConfig::default(),
            environments: BTreeMap::new(),
            packages: BTreeMap::new(),
        }
    }
}

/// How much a release moves the version.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Hash,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    /// Nothing to release.
    None,
    /// `x.y.Z`
    Patch,
    /// `x.Y.0`
    Minor,
    /// `X.0.0`
    Major,
}

impl Bump {
    /// The lower-case name used in output and config.
    pub fn as_str(self) -> &'static str {
        match self {
            Bump::None => "none",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

/// The Angular mapping: feat → minor; fix, perf, revert → patch.
pub fn default_type_levels() -> BTreeMap<String, Bump> {
    [
        ("feat", Bump::Minor),
        ("fix", Bump::Patch),
        ("perf", Bump::Patch),
        ("revert", Bump::Patch),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `[bump]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BumpConfig {
    /// In 0.x, a breaking change bumps major (`false`: minor).
    pub breaking_always_bump_major: bool,
    /// In 0.x, a feature bumps minor (`false`: patch).
    pub features_always_bump_minor: bool,
    /// Level per commit type, merged over the defaults (`feat = "minor"`, `fix`, `perf`,
    /// `revert` = `"patch"`); `"none"` removes a default.
    pub types: BTreeMap<String, Bump>,
    /// `release ci` holds a major release until it is approved (`release approve X.0.0
    /// --release`); `release cut` by a maintainer still publishes it directly.
    pub major_requires_approval: bool,
    /// Approvals a major release needs.
    pub major_approvals: u32,
    /// Who may approve a major release (GitHub logins, AWS principals); empty: anyone but the
    /// authors of its breaking commits.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub major_approvers: Vec<String>,
}

impl Default for BumpConfig {
    fn default() -> Self {
        BumpConfig {
            breaking_always_bump_major: true,
            features_always_bump_minor: true,
            types: BTreeMap::new(),
            major_requires_approval: false,
            major_approvals: 1,
            major_approvers: Vec::new(),
        }
    }
}

impl BumpConfig {
    /// The approval rules of major releases: never approved by their own authors.
    pub fn major_rules(&self) -> crate::config::environments::ApprovalRules<'_> {
        crate::config::environments::ApprovalRules {
            approvals: self.major_approvals,
            approvers: &self.major_approvers,
            self_approval: false,
        }
    }
}

/// `[changelog]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ChangelogConfig {
    /// The changelog file, relative to the repository root.
    pub path: String,
    /// Directory with `changelog.md.tera` / `release-notes.md.tera` / `packages-summary.md.tera`
    /// overrides
    /// (default `.release/templates` when it exists).
    pub templates: Option<String>,
    /// Sections in display order; commit types not listed are left out.
    pub sections: Vec<Section>,
    /// List the authors of each release.
    pub contributors: bool,
    /// With `[packages]`: a changelog at this path (relative to the repository root) that
    /// lists every release commit's packages, each with its version and a link to its own
    /// changelog and compare view. Unset: no such file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages_summary: Option<String>,
}

impl Default for ChangelogConfig {
    fn default() -> Self {
        let s = |types: &[&str], title: &str| Section {
            types: types.iter().map(|t| t.to_string()).collect(),
            title: title.into(),
        };
        ChangelogConfig {
            path: "CHANGELOG.md".into(),
            templates: None,
            sections: vec![
                s(&["feat"], "Features"),
                s(&["fix"], "Bug Fixes"),
                s(&["perf"], "Performance"),
                s(&["revert"], "Reverts"),
                s(&["refactor"], "Refactoring"),
                s(&["docs"], "Documentation"),
            ],
            contributors: true,
            packages_summary: None,
        }
    }
}

/// One changelog section.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Commit types shown in this section.
    pub types: Vec<String>,
    /// The heading.
    pub title: String,
}

/// `[commit]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CommitConfig {
    /// The release commit message; `{version}` is replaced.
    pub message: String,
}

impl Default for CommitConfig {
    fn default() -> Self {
        CommitConfig {
            message: "chore(release): {version}".into(),
        }
    }
}

/// `[[version_files]]`: a file whose version is rewritten on bump.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionFile {
    /// Path relative to the repository root.
    pub path: String,
    /// A regex whose group `version` (or first group) holds the version; without it the kind is
    /// taken from the file name (`Cargo.toml`, `package.json`).
    pub regex: Option<String>,
}

/// `[hooks]`: commands as argument lists, run without a shell.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HooksConfig {
    /// Run before anything is written; a failure aborts the bump.
    pub pre_bump: Vec<Vec<String>>,
    /// Run after the commit and tag.
    pub post_bump: Vec<Vec<String>>,
}

/// `[git]`
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GitConfig {
    /// Sign the release commit and tag even where git's `commit.gpgSign` / `tag.gpgSign` do
    /// not ask for it (git's own `gpg.format`, `user.signingKey` and programs do the signing).
    pub sign: bool,
}

/// `[github]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GithubConfig {
    /// Create a GitHub release in `release cut` and `release ci`.
    pub release: bool,
    /// An SSM Parameter Store SecureString holding the token, read when neither
    /// `GITHUB_TOKEN` nor `GH_TOKEN` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_ssm_parameter: Option<String>,
    /// Files uploaded to the GitHub release, as globs relative to the repository
    /// (`["dist/*.tar.gz"]`), together with a `SHA256SUMS` of them. A pattern that matches
    /// nothing is an error.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<String>,
    /// Move the major tag (`v1`) to each new stable release of that major, as GitHub Actions
    /// users expect of `uses: owner/repo@v1`. With `[packages]`, each released package's own
    /// moving tag (`api-v1`), unless its `major_tag` says otherwise.
    pub major_tag: bool,
}

impl Default for GithubConfig {
    fn default() -> Self {
        GithubConfig {
            release: true,
            token_ssm_parameter: None,
            assets: Vec::new(),
            major_tag: false,
        }
    }
}

/// `[lint]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LintConfig {
    /// Allowed commit types.
    pub types: Vec<String>,
    /// Longest accepted header, in characters.
    pub max_header_length: usize,
}

impl Default for LintConfig {
    fn default() -> Self {
        LintConfig {
            types: [
                "feat", "fix", "perf", "revert", "refactor", "docs", "style", "test", "build",
                "ci", "chore",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            max_header_length: 100,
        }
    }
}

impl Config {
    /// Load `path` if it exists, else the defaults.
    pub fn load_or_default(path: &Path) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The configuration as `release.toml` text.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }

    /// Parse and validate `text`, naming `path` in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |span: Option<std::ops::Range<usize>>, key: String, message: String| {
            let offset = span.map_or(0, |s| s.start);
            let (line, column) = line_col(text, offset);
            let key = if key.is_empty() || key == "." {
                key_on_line(text, line).unwrap_or_default()
            } else {
                key
            };
            let key = if key.is_empty() {
                String::new()
            } else {
                format!("key `{key}`: ")
            };
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                key,
                message,
            }
        };
        let de = toml::de::Deserializer::parse(text)
            .map_err(|e| invalid(e.span(), String::new(), e.message().trim().to_string()))?;
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            invalid(inner.span(), key, inner.message().trim().to_string())
        })?;
        config.validate(text, path)?;
        Ok(config)
    }

    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let err = |key: &str, message: String| {
            let (line, column) = find_path(text, key);
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                key: format!("key `{key}`: "),
                message,
            }
        };
        if self
            .tag_prefix
            .chars()
            .any(|c| c.is_whitespace() || c == '~' || c == '^' || c == ':')
        {
            return Err(err(
                "tag_prefix",
                format!("`{}` cannot be part of a git tag name", self.tag_prefix),
            ));
        }
        if !self.initial_version.pre.is_empty() {
            return Err(err(
                "initial_version",
                "must be a stable version such as \"0.1.0\"".into(),
            ));
        }
        for (i, f) in self.version_files.iter().enumerate() {
            if let Some(re) = &f.regex {
                let compiled = regex::Regex::new(re)
                    .map_err(|e| err("regex", format!("version_files[{i}]: {e}")))?;
                if compiled.captures_len() < 2 {
                    return Err(err(
                        "regex",
                        format!("version_files[{i}]: needs a capture group `(?P<version>...)`"),
                    ));
                }
            }
        }
        for (name, hooks) in [
            ("pre_bump", &self.hooks.pre_bump),
            ("post_bump", &self.hooks.post_bump),
        ] {
            if hooks
                .iter()
                .any(|argv| argv.is_empty() || argv[0].is_empty())
            {
                return Err(err(
                    name,
                    "each hook is a non-empty argument list, e.g. [\"cargo\", \"check\"]".into(),
                ));
            }
        }
        if self
            .commit
            .message
            .lines()
            .next()
            .is_none_or(|l| !l.contains("{version}"))
        {
            return Err(err(
                "message",
                "the release commit header must contain `{version}`".into(),
            ));
        }
        if self.bump.major_requires_approval && self.bump.major_approvals == 0 {
            return Err(err(
                "major_approvals",
                "major_requires_approval needs at least one approval".into(),
            ));
        }
        if self.bump.major_rules().unreachable() {
            return Err(err(
                "major_approvals",
                format!(
                    "{} approvals needed but only {} major_approvers listed",
                    self.bump.major_approvals,
                    self.bump.major_approvers.len()
                ),
            ));
        }
        branches::validate(&self.branches).map_err(|(key, message)| err(&key, message))?;
        for pattern in &self.github.assets {
            assets::check_pattern(pattern).map_err(|message| err("github.assets", message))?;
        }
        packages::validate_root_assets(&self.packages, &self.github.assets)
            .map_err(|message| err("github.assets", message))?;
        crate::config::environments::validate(&self.ledger, &self.environments)
            .map_err(|(key, message)| err(&key, message))?;
        packages::validate(&self.packages, &self.tag_prefix)
            .map_err(|(key, message)| err(&key, message))?;
        packages::validate_environments(&self.packages, &self.environments)
            .map_err(|(key, message)| err(&key, message))?;
        if let Some(summary) = &self.changelog.packages_summary {
            packages::validate_summary(&self.packages, summary)
                .map_err(|message| err("changelog.packages_summary", message))?;
        }
        Ok(())
    }
}

/// 1-based line and column of byte `offset`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The key assigned on 1-based `line` (`name = ...`), for syntax errors that carry no path.
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let (key, _) = text.lines().nth(line.checked_sub(1)?)?.split_once('=')?;
    let key = key.trim();
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.\"' ".contains(c)))
    .then(|| key.to_string())
}

/// Where the dotted `path` (`environments.staging.services`) is assigned: its last part after
/// the header of the table that holds it, or the header itself; a plain key as [`find_key`]
/// finds it, else the line of the inline table that holds it.
fn find_path(text: &str, path: &str) -> (usize, usize) {
    let Some((table, key)) = path.rsplit_once('.') else {
        return find_key(text, path);
    };
    let header = |name: &str| {
        text.lines()
            .position(|l| l.trim().trim_matches(['[', ']']).trim() == name)
    };
    if let Some(start) = header(table) {
        let section_end = text
            .lines()
            .skip(start + 1)
            .position(|l| l.trim_start().starts_with('['))
            .map_or(usize::MAX, |n| start + 1 + n);
        let found = text
            .lines()
            .enumerate()
            .skip(start + 1)
            .take_while(|(i, _)| *i < section_end)
            .find(|(_, l)| assigns(l, key));
        if let Some((i, l)) = found {
            return (i + 1, l.len() - l.trim_start().len() + 1);
        }
        return (start + 1, 1);
    }
    if let Some(start) = header(path) {
        return (start + 1, 1);
    }
    match find_key(text, key) {
        // A key of an inline table (`canary = { percent = 0 }`): the line that assigns it.
        (1, 1) if table.contains('.') => find_path(text, table),
        found => found,
    }
}

fn assigns(line: &str, key: &str) -> bool {
    line.trim_start()
        .strip_prefix(key)
        .is_some_and(|rest| rest.trim_start().starts_with('='))
}

/// Where `key` is assigned, for errors found after parsing; line 1 when it cannot be found.
fn find_key(text: &str, key: &str) -> (usize, usize) {
    text.lines()
        .enumerate()
        .find(|(_, l)| assigns(l, key))
        .map_or((1, 1), |(i, l)| (i + 1, l.len() - l.trim_start().len() + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("release.toml"))
    }

    #[test]
    fn readme_documents_the_defaults() {
        let readme = include_str!("../../README.md");
        let defaults = Config::default().to_toml().unwrap();
        assert!(
            readme.contains(&format!("```toml\n{defaults}```")),
            "README.md's configuration block differs from `release config --default`:\n{defaults}"
        );
    }

    #[test]
    fn empty_file_is_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn types_merge_over_defaults() {
        let c = parse("[bump.types]\ndocs = \"patch\"\nperf = \"none\"\n").unwrap();
        let rules = crate::core::version::BumpRules::from_config(&c.bump);
        assert_eq!(rules.types.get("docs"), Some(&Bump::Patch));
        assert_eq!(rules.types.get("perf"), None);
        assert_eq!(rules.types.get("feat"), Some(&Bump::Minor));
    }

    #[test]
    fn wrong_type_names_file_line_and_key() {
        let e = parse("tag_prefix = \"v\"\n\n[bump]\nbreaking_always_bump_major = 5\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("release.toml:4:"), "{e}");
        assert!(e.contains("bump.breaking_always_bump_major"), "{e}");
        assert!(e.contains("boolean"), "{e}");
    }

    #[test]
    fn unknown_key_is_named() {
        let e = parse("[changelog]\npath = \"C.md\"\ncontributor = true\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("release.toml:3:"), "{e}");
        assert!(e.contains("contributor"), "{e}");
    }

    #[test]
    fn duplicate_key_is_named() {
        let e = parse("tag_prefix = \"v\"\ntag_prefix = \"w\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("release.toml:2:"), "{e}");
        assert!(e.contains("key `tag_prefix`"), "{e}");
    }

    #[test]
    fn syntax_error_has_line() {
        let e = parse("a = \n").unwrap_err().to_string();
        assert!(e.starts_with("release.toml:1:"), "{e}");
    }

    #[test]
    fn bad_version_and_bump_level() {
        let e = parse("initial_version = \"1.0\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("initial_version"), "{e}");
        let e = parse("[bump.types]\nfeat = \"huge\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("release.toml:2:"), "{e}");
        assert!(e.contains("bump.types.feat"), "{e}");
    }

    #[test]
    fn semantic_errors_point_at_the_key() {
        let e = parse("\n[[version_files]]\npath = \"a\"\nregex = \"no group\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("release.toml:4:"), "{e}");
        let e = parse("[hooks]\npre_bump = [[]]\n").unwrap_err().to_string();
        assert!(e.starts_with("release.toml:2:"), "{e}");
        let e = parse("[commit]\nmessage = \"release\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("{version}"), "{e}");
    }

    #[test]
    fn package_errors_point_into_their_table() {
        let text = "[packages.api]\npath = \"services/api\"\n\n[packages.worker]\npath = \"services/worker\"\ndepends_on = [\"core\"]\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.starts_with("release.toml:6:"), "{e}");
        assert!(e.contains("packages.worker.depends_on"), "{e}");
        assert!(e.contains("no package `core`"), "{e}");
        let e = parse("[packages.api]\npath = \"a\"\npaht = \"b\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("release.toml:3:"), "{e}");
        assert!(e.contains("paht"), "{e}");
    }

    #[test]
    fn asset_errors_point_at_their_own_table() {
        let text = "[packages.api]\npath = \"services/api\"\n\n[packages.worker]\npath = \"services/worker\"\nassets = [\"/etc/*\"]\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.starts_with("release.toml:6:"), "{e}");
        assert!(e.contains("key `packages.worker.assets`"), "{e}");
        let text = "[packages.api]\npath = \"services/api\"\nassets = [\"a/*\"]\n\n[github]\nrelease = true\nassets = [\"dist/*.tar.gz\"]\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.starts_with("release.toml:7:"), "{e}");
        assert!(e.contains("key `github.assets`"), "{e}");
        assert!(e.contains("[packages.api] assets"), "{e}");
        let e = parse("[packages.api]\npath = \"a\"\nassets = \"a/*\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("release.toml:3:"), "{e}");
        assert!(e.contains("packages.api.assets"), "{e}");
    }

    #[test]
    fn environment_errors_point_into_their_table() {
        let text = "[environments.staging]\ncluster = \"s\"\nservices = [\"web\"]\ncontainer = \"app\"\n\n[environments.production]\ncluster = \"p\"\nservices = []\ncontainer = \"app\"\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.starts_with("release.toml:8:"), "{e}");
        assert!(e.contains("environments.production.services"), "{e}");
        let text = "[environments.production]\ncluster = \"p\"\nservices = [\"web\"]\ncontainer = \"app\"\nrequires = \"stagign\"\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.starts_with("release.toml:5:"), "{e}");
        assert!(e.contains("stagign"), "{e}");
        let e = parse("[environments.production]\ncluster = \"p\"\nservices = [\"web\"]\ncontainer = \"app\"\ntimeout = \"10 minutes\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("release.toml:5:"), "{e}");
        assert!(e.contains("environments.production.timeout"), "{e}");
    }
}
