//! `release init`: what a repository already says about its releases (tag prefix, manifest
//! versions, a Dockerfile, the GitHub remote), and the `release.toml` that holds only what
//! differs from the defaults. Pure: the caller reads the tags and files.

use crate::config::Config;
use crate::core::remote::{self, GithubRepo};
use semver::Version;
use std::collections::BTreeMap;

/// What `release init` looked at, read by the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    /// Every tag name of the repository (without `refs/tags/`).
    pub tags: Vec<String>,
    /// `Cargo.toml` at the root, when it is there.
    pub cargo_toml: Option<String>,
    /// `package.json` at the root.
    pub package_json: Option<String>,
    /// `pyproject.toml` at the root.
    pub pyproject_toml: Option<String>,
    /// Whether a `Dockerfile` is at the root.
    pub dockerfile: bool,
    /// The URL of `origin`, when there is one.
    pub origin: Option<String>,
    /// An extra web host that counts as GitHub (`GITHUB_SERVER_URL`).
    pub github_server: Option<String>,
    /// The branch HEAD is on, when it is on one.
    pub branch: Option<String>,
}

/// A manifest holding the project's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Its path at the root: `Cargo.toml`, `package.json`, `pyproject.toml`.
    pub path: &'static str,
    /// The version it holds.
    pub version: String,
    /// The `regex` its `[[version_files]]` entry needs (none when the kind comes from the name).
    pub regex: Option<String>,
}

/// What was found, and the settings that follow from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Detected {
    /// The prefix of the release tags, when there are any.
    pub tag_prefix: Option<String>,
    /// How many release tags carry that prefix.
    pub release_tags: usize,
    /// The newest of them.
    pub latest_tag: Option<String>,
    /// Version tags with other prefixes (left alone by the chosen prefix).
    pub other_prefixes: Vec<String>,
    /// Manifests holding a version, in the order Cargo, npm, Python.
    pub manifests: Vec<Manifest>,
    /// Manifests found without a version `release` can rewrite, with why.
    pub skipped: Vec<(&'static str, String)>,
    /// The first release's version, when no release tag exists and a manifest says another
    /// one than the default.
    pub initial_version: Option<Version>,
    /// Whether a Dockerfile is at the root.
    pub dockerfile: bool,
    /// The GitHub repository of `origin`.
    pub github: Option<GithubRepo>,
    /// `origin`, when it is not on GitHub (credentials masked).
    pub other_origin: Option<String>,
    /// The branch the workflow releases from.
    pub branch: String,
}

/// The placeholder written for the image repository, which the user must replace.
pub const IMAGE_PLACEHOLDER: &str = "REGISTRY/REPOSITORY";

/// The prefix of a version tag: what comes before the shortest tail that is a semantic version.
pub fn tag_prefix_of(tag: &str) -> Option<&str> {
    tag.char_indices()
        .filter(|(_, c)| c.is_ascii_digit())
        .find(|(i, _)| Version::parse(&tag[*i..]).is_ok())
        .map(|(i, _)| &tag[..i])
}

/// Look at `inputs` and say what the configuration should hold.
pub fn detect(inputs: &Inputs) -> Detected {
    // The prefix most release tags share; on a tie, the one with the newest version.
    let mut by_prefix: BTreeMap<&str, Vec<(Version, &str)>> = BTreeMap::new();
    for tag in &inputs.tags {
        let Some(prefix) = tag_prefix_of(tag) else {
            continue;
        };
        if let Ok(version) = Version::parse(&tag[prefix.len()..]) {
            by_prefix.entry(prefix).or_default().push((version, tag));
        }
    }
    let best = by_prefix
        .iter()
        .max_by(|a, b| {
            let newest = |v: &Vec<(Version, &str)>| v.iter().map(|(v, _)| v.clone()).max();
            a.1.len()
                .cmp(&b.1.len())
                .then_with(|| newest(a.1).cmp(&newest(b.1)))
        })
        .map(|(p, tags)| (p.to_string(), tags.clone()));
    let (tag_prefix, release_tags, latest_tag) = match &best {
        Some((prefix, tags)) => {
            let latest = tags
                .iter()
                .max_by(|a, b| a.0.cmp(&b.0))
                .map(|t| t.1.to_string());
            (Some(prefix.clone()), tags.len(), latest)
        }
        None => (None, 0, None),
    };
    let other_prefixes = by_prefix
        .keys()
        .filter(|p| Some(**p) != tag_prefix.as_deref())
        .map(|p| p.to_string())
        .collect();

    let mut manifests = Vec::new();
    let mut skipped = Vec::new();
    let mut found =
        |path: &'static str, result: Result<(String, Option<String>), String>| match result {
            Ok((version, regex)) => manifests.push(Manifest {
                path,
                version,
                regex,
            }),
            Err(why) => skipped.push((path, why)),
        };
    if let Some(text) = &inputs.cargo_toml {
        found("Cargo.toml", cargo_version(text).map(|v| (v, None)));
    }
    if let Some(text) = &inputs.package_json {
        found(
            "package.json",
            package_json_version(text).map(|v| (v, None)),
        );
    }
    if let Some(text) = &inputs.pyproject_toml {
        found(
            "pyproject.toml",
            pyproject_version(text).map(|(v, re)| (v, Some(re))),
        );
    }

    let initial_version = if tag_prefix.is_none() {
        manifests
            .iter()
            .find_map(|m| Version::parse(&m.version).ok())
            .map(|v| Version::new(v.major, v.minor, v.patch))
            .filter(|v| *v != Config::default().initial_version)
    } else {
        None
    };

    let github = inputs
        .origin
        .as_deref()
        .and_then(|url| remote::parse_github(url, inputs.github_server.as_deref()));
    let other_origin = match (&github, &inputs.origin) {
        (None, Some(url)) => Some(remote::redact_url(url)),
        _ => None,
    };
    let defaults = Config::default().branch_names();
    let branch = inputs
        .branch
        .clone()
        .filter(|b| defaults.contains(b))
        .unwrap_or_else(|| defaults.first().cloned().unwrap_or_else(|| "main".into()));
    Detected {
        tag_prefix,
        release_tags,
        latest_tag,
        other_prefixes,
        manifests,
        skipped,
        initial_version,
        dockerfile: inputs.dockerfile,
        github,
        other_origin,
        branch,
    }
}

fn cargo_version(text: &str) -> Result<String, String> {
    let doc: toml::Table = text.parse().map_err(|e| format!("not valid TOML: {e}"))?;
    let at = |table: &[&str]| {
        let mut item = doc.get(table[0])?;
        for key in &table[1..] {
            item = item.get(key)?;
        }
        item.get("version")?.as_str().map(str::to_string)
    };
    at(&["package"])
        .or_else(|| at(&["workspace", "package"]))
        .ok_or_else(|| "no `version` string in [package] or [workspace.package]".into())
}

fn package_json_version(text: &str) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    value
        .get("version")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| "no top-level \"version\" string".into())
}

/// The version of `[project]` (PEP 621) or `[tool.poetry]`, and a regex that finds it there:
/// the `version = "..."` line of that table, not one of another table.
fn pyproject_version(text: &str) -> Result<(String, String), String> {
    let doc: toml::Table = text.parse().map_err(|e| format!("not valid TOML: {e}"))?;
    for table in [&["project"][..], &["tool", "poetry"][..]] {
        let mut item = doc.get(table[0]);
        for key in &table[1..] {
            item = item.and_then(|i| i.get(key));
        }
        if let Some(version) = item.and_then(|i| i.get("version")).and_then(|v| v.as_str()) {
            let header = table.join(r"\.");
            // From the table's header, over lines that open no other table, to its
            // `version = "..."` line.
            let regex = format!(
                r#"(?m)^\[{header}\][ \t]*\r?\n(?:(?:[^\[\n][^\n]*)?\n)*?version[ \t]*=[ \t]*"(?P<version>[^"]*)""#
            );
            return Ok((version.to_string(), regex));
        }
    }
    Err(
        "no `version` string in [project] or [tool.poetry] (a dynamic version is not rewritten)"
            .into(),
    )
}

/// A TOML string value, quoted and escaped.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A TOML literal string (for regexes, which are full of `\` and `"`); a basic string when the
/// text holds a `'`.
fn literal(s: &str) -> String {
    if s.contains('\'') || s.contains('\n') {
        quoted(s)
    } else {
        format!("'{s}'")
    }
}

/// The `release.toml` text: comments on what was found, and the settings that differ from the
/// defaults. `release config --default` prints the rest.
pub fn release_toml(d: &Detected) -> String {
    let defaults = Config::default();
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    line("# release.toml, written by `release init` from what this repository already has.");
    line("# It holds only what differs from the defaults; `release config --default` prints them,");
    line("# and the README's \"Configuration\" section explains each key.");
    line("");

    match (&d.tag_prefix, &d.latest_tag) {
        (Some(prefix), Some(latest)) => {
            line(&format!(
                "# Release tags: {} like {latest} (the newest).",
                d.release_tags
            ));
            if *prefix != defaults.tag_prefix {
                line(&format!("tag_prefix = {}", quoted(prefix)));
            } else {
                line(&format!(
                    "# Their prefix is the default, tag_prefix = {}.",
                    quoted(prefix)
                ));
            }
            if !d.other_prefixes.is_empty() {
                line(&format!(
                    "# Version tags with other prefixes are not release tags of this project: {}.",
                    d.other_prefixes
                        .iter()
                        .map(|p| if p.is_empty() {
                            "none (bare X.Y.Z)".to_string()
                        } else {
                            format!("\"{p}\"")
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        _ => {
            line("# No release tag yet: the first release will be initial_version.");
            match &d.initial_version {
                Some(v) => {
                    let from = d
                        .manifests
                        .iter()
                        .find(|m| {
                            Version::parse(&m.version)
                                .is_ok_and(|mv| Version::new(mv.major, mv.minor, mv.patch) == *v)
                        })
                        .map_or("the manifest", |m| m.path);
                    line(&format!(
                        "# {from} says {v}; the default is {}.",
                        defaults.initial_version
                    ));
                    line(&format!("initial_version = {}", quoted(&v.to_string())));
                }
                None => line(&format!(
                    "# That is {} (the default), and tags will look like {}{}.",
                    defaults.initial_version, defaults.tag_prefix, defaults.initial_version
                )),
            }
        }
    }

    line("");
    line(&format!(
        "# Each release writes its version to {} (version_file) and to these files:",
        defaults.version_file
    ));
    if d.manifests.is_empty() {
        line("# no Cargo.toml, package.json or pyproject.toml with a version was found.");
    }
    for (path, why) in &d.skipped {
        line(&format!("# {path} is left alone: {why}."));
    }
    for m in &d.manifests {
        line("");
        match m.path {
            "Cargo.toml" => line(&format!(
                "# Cargo.toml ({}); Cargo.lock is updated with it.",
                m.version
            )),
            "package.json" => line(&format!("# package.json ({}).", m.version)),
            _ => line(&format!(
                "# {} ({}): the version line of its table.",
                m.path, m.version
            )),
        }
        line("[[version_files]]");
        line(&format!("path = {}", quoted(m.path)));
        if let Some(re) = &m.regex {
            line(&format!("regex = {}", literal(re)));
        }
    }

    if d.dockerfile {
        line("");
        line("# A Dockerfile is at the root: `release image` and `release cut` can build and push its");
        line("# image. Replace the placeholder with your image repository (e.g.");
        line("# 123456789012.dkr.ecr.eu-north-1.amazonaws.com/app), then uncomment the section.");
        line("# See the README, \"Images\".");
        line("# [image]");
        line(&format!("# repository = {}", quoted(IMAGE_PLACEHOLDER)));
        line("# builder = \"docker\"   # or \"podman\", \"buildah\"");
    }

    line("");
    match (&d.github, &d.other_origin) {
        (Some(gh), _) => {
            line(&format!(
                "# origin is {}: `release cut` and `release ci` push there and create the",
                gh.url()
            ));
            line("# GitHub release, with a token in GITHUB_TOKEN (or GH_TOKEN).");
        }
        (None, Some(url)) => {
            line(&format!(
                "# origin ({url}) is not on GitHub: releases are pushed there, without a GitHub release."
            ));
        }
        (None, None) => {
            line("# No origin remote: `release bump` works locally; `release cut` needs a remote to push to.");
        }
    }
    out
}

/// `.github/workflows/release.yml`: `release ci` on every push to the release branch, from
/// `examples/github-actions/release.yml`, without the image and deploy parts when there is no
/// image. `version` is the release-agent version to install.
pub fn workflow(d: &Detected, version: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# Release on every push to {branch}: version, changelog, tag and GitHub release, by `release ci`.\n",
        branch = d.branch
    ));
    out.push_str("# Written by `release init`; see the README, \"GitHub Actions\".\n");
    out.push_str("#\n# Set up once: Settings > Actions > General > Workflow permissions must let GITHUB_TOKEN\n");
    out.push_str("# create releases (or keep the `permissions:` blocks below, which ask for exactly that).\n");
    if d.dockerfile {
        out.push_str(
            "# For the image (once [image] is set in release.toml), add AWS credentials before\n",
        );
        out.push_str("# `release ci`, e.g. aws-actions/configure-aws-credentials with `id-token: write`; see\n");
        out.push_str("# examples/github-actions/release.yml in release-agent.\n");
    }
    out.push_str(&format!(
        r#"name: release

on:
  push:
    branches: [{branch}]

permissions:
  contents: read

jobs:
  release:
    runs-on: ubuntu-latest
    permissions:
      contents: write # push the release commit and tag, create the GitHub release
    concurrency:
      group: release-${{{{ github.repository }}}}
      cancel-in-progress: false # never cancel a release half-way; the next run finishes or waits
    outputs:
      released: ${{{{ steps.release.outputs.released }}}}
      version: ${{{{ steps.release.outputs.version }}}}
      tag: ${{{{ steps.release.outputs.tag }}}}
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0 # release needs the history and the tags
      - name: Install release
        # Pin the version you have reviewed; replace OWNER with where release-agent lives.
        run: cargo install --locked --git https://github.com/OWNER/release-agent --tag v{version} release-agent
      - name: Identity for the release commit
        run: |
          git config user.name "github-actions[bot]"
          git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
      - name: Release
        id: release
        # Exits 0 with a reason when there is nothing to release, when HEAD is already
        # released, or when HEAD is this job's own release commit (no release loops).
        run: release ci
        env:
          GITHUB_TOKEN: ${{{{ secrets.GITHUB_TOKEN }}}}
"#,
        branch = d.branch,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn tags(names: &[&str]) -> Inputs {
        Inputs {
            tags: names.iter().map(|s| s.to_string()).collect(),
            ..Inputs::default()
        }
    }

    fn load(text: &str) -> Config {
        Config::parse(text, Path::new("release.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn prefixes_of_version_tags() {
        assert_eq!(tag_prefix_of("v1.2.3"), Some("v"));
        assert_eq!(tag_prefix_of("1.2.3"), Some(""));
        assert_eq!(tag_prefix_of("app-v1.0.0"), Some("app-v"));
        assert_eq!(tag_prefix_of("v2-1.0.0-rc.1"), Some("v2-"));
        assert_eq!(tag_prefix_of("release-candidate"), None);
        assert_eq!(tag_prefix_of("v1.2"), None);
    }

    #[test]
    fn the_default_prefix_writes_nothing() {
        let d = detect(&tags(&["v1.0.0", "v1.2.3", "nightly"]));
        assert_eq!(d.tag_prefix.as_deref(), Some("v"));
        assert_eq!(d.latest_tag.as_deref(), Some("v1.2.3"));
        assert_eq!(d.release_tags, 2);
        assert_eq!(load(&release_toml(&d)), Config::default());
    }

    #[test]
    fn bare_and_other_prefixes_are_written() {
        let d = detect(&tags(&["1.0.0", "1.2.3", "v0.1.0"]));
        assert_eq!(d.tag_prefix.as_deref(), Some(""));
        assert_eq!(d.other_prefixes, vec!["v".to_string()]);
        let text = release_toml(&d);
        assert_eq!(load(&text).tag_prefix, "");
        let d = detect(&tags(&["app-v1.0.0", "app-v1.1.0"]));
        assert_eq!(load(&release_toml(&d)).tag_prefix, "app-v");
        // A tie goes to the prefix of the newest version.
        let d = detect(&tags(&["a-1.0.0", "b-2.0.0"]));
        assert_eq!(d.tag_prefix.as_deref(), Some("b-"));
        // An odd but valid tag name is quoted.
        let d = detect(&tags(&["my\"app-1.0.0"]));
        assert_eq!(load(&release_toml(&d)).tag_prefix, "my\"app-");
    }

    #[test]
    fn no_tags_take_the_first_version_from_a_manifest() {
        let d = detect(&Inputs {
            cargo_toml: Some("[package]\nname = \"a\"\nversion = \"0.3.0\"\n".into()),
            ..Inputs::default()
        });
        let c = load(&release_toml(&d));
        assert_eq!(c.initial_version, Version::new(0, 3, 0));
        assert_eq!(c.version_files.len(), 1);
        assert_eq!(c.version_files[0].path, "Cargo.toml");
        assert_eq!(c.version_files[0].regex, None);
        // The default version, or a release tag, proposes nothing.
        let d = detect(&Inputs {
            package_json: Some("{\"version\": \"0.1.0\"}".into()),
            ..Inputs::default()
        });
        assert_eq!(d.initial_version, None);
        let d = detect(&Inputs {
            tags: vec!["v0.2.0".into()],
            package_json: Some("{\"version\": \"0.2.0\"}".into()),
            ..Inputs::default()
        });
        assert_eq!(d.initial_version, None);
        // A pre-release manifest version proposes its stable part.
        let d = detect(&Inputs {
            package_json: Some("{\"version\": \"2.0.0-beta.1\"}".into()),
            ..Inputs::default()
        });
        assert_eq!(
            load(&release_toml(&d)).initial_version,
            Version::new(2, 0, 0)
        );
    }

    #[test]
    fn manifests_without_a_version_are_skipped() {
        let d = detect(&Inputs {
            cargo_toml: Some("[package]\nname = \"a\"\nversion.workspace = true\n".into()),
            package_json: Some("not json".into()),
            pyproject_toml: Some("[project]\nname = \"a\"\ndynamic = [\"version\"]\n".into()),
            ..Inputs::default()
        });
        assert!(d.manifests.is_empty());
        assert_eq!(d.skipped.len(), 3);
        let text = release_toml(&d);
        assert!(text.contains("# Cargo.toml is left alone"), "{text}");
        assert_eq!(load(&text), Config::default());
    }

    #[test]
    fn pyproject_regex_finds_its_table_only() {
        let text = "[tool.other]\nversion = \"9.9.9\"\n\n[project]\nname = \"a\"\nauthors = [\n  {name = \"x\"},\n]\nversion = \"1.4.0\"\n\n[tool.poetry]\nversion = \"0.0.0\"\n";
        let (version, re) = pyproject_version(text).unwrap();
        assert_eq!(version, "1.4.0");
        let re = regex::Regex::new(&re).unwrap();
        let found: Vec<_> = re
            .captures_iter(text)
            .map(|c| c.name("version").unwrap().as_str())
            .collect();
        assert_eq!(found, vec!["1.4.0"]);
        let poetry = "[tool.poetry]\nname = \"a\"\nversion = \"0.2.0\"\n";
        let (version, re) = pyproject_version(poetry).unwrap();
        assert_eq!(version, "0.2.0");
        assert!(regex::Regex::new(&re).unwrap().is_match(poetry));
        // The regex survives the trip through release.toml.
        let d = detect(&Inputs {
            pyproject_toml: Some(text.into()),
            ..Inputs::default()
        });
        let c = load(&release_toml(&d));
        assert_eq!(c.version_files[0].path, "pyproject.toml");
        assert_eq!(
            c.version_files[0].regex.as_deref(),
            d.manifests[0].regex.as_deref()
        );
    }

    #[test]
    fn dockerfile_and_origin_are_comments() {
        let d = detect(&Inputs {
            dockerfile: true,
            origin: Some("git@github.com:acme/app.git".into()),
            ..Inputs::default()
        });
        let text = release_toml(&d);
        assert!(text.contains("# [image]"), "{text}");
        assert!(text.contains(IMAGE_PLACEHOLDER), "{text}");
        assert!(text.contains("https://github.com/acme/app"), "{text}");
        assert!(text.contains("GITHUB_TOKEN"), "{text}");
        assert_eq!(load(&text), Config::default());
        // Uncommented, the section is a valid [image].
        let uncommented = text.replace("# [image]", "[image]").replace(
            &format!("# repository = \"{IMAGE_PLACEHOLDER}\""),
            "repository = \"r.example/app\"",
        );
        assert_eq!(
            load(&uncommented).image.unwrap().repository,
            "r.example/app"
        );
        let d = detect(&Inputs {
            origin: Some("https://user:secret@git.example/app.git".into()),
            ..Inputs::default()
        });
        let text = release_toml(&d);
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("not on GitHub"), "{text}");
    }

    #[test]
    fn workflow_releases_from_the_branch() {
        let d = detect(&Inputs {
            branch: Some("master".into()),
            ..Inputs::default()
        });
        let yml = workflow(&d, "0.1.0");
        assert!(yml.contains("branches: [master]"), "{yml}");
        assert!(yml.contains("fetch-depth: 0"), "{yml}");
        assert!(yml.contains("${{ secrets.GITHUB_TOKEN }}"), "{yml}");
        assert!(yml.contains("--tag v0.1.0"), "{yml}");
        assert!(yml.contains("run: release ci"), "{yml}");
        let d = detect(&Inputs {
            branch: Some("feature/x".into()),
            ..Inputs::default()
        });
        assert!(workflow(&d, "0.1.0").contains("branches: [main]"));
    }
}
