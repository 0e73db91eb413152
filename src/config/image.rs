//! `[image]`: what to build and where to push it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[image]` in `release.toml`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// `host[:port]/path`, e.g. `123456789012.dkr.ecr.eu-north-1.amazonaws.com/app`.
    pub repository: String,
    /// The build context, relative to the repository root.
    #[serde(default = "default_context")]
    pub context: String,
    /// The Dockerfile, relative to the repository root.
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
    /// Which tool builds and pushes.
    #[serde(default)]
    pub builder: BuilderKind,
    /// `--build-arg` values.
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    /// More tags, with `{major}`, `{minor}`, `{patch}` and `{version}` replaced.
    #[serde(default)]
    pub extra_tags: Vec<String>,
    /// Create a missing ECR repository instead of failing.
    #[serde(default)]
    pub create_repository: bool,
    /// Build args read from SSM parameters (name -> parameter); values never reach the output
    /// nor a command line.
    #[serde(default)]
    pub build_args_from_ssm: BTreeMap<String, String>,
    /// `release image prune` keeps the images of each environment's last this many completed
    /// deployments (what a rollback can return to).
    #[serde(default = "default_keep_deployments")]
    pub keep_deployments: usize,
}

impl ImageConfig {
    /// An image of `repository` with every other setting at its default.
    pub fn for_repository(repository: &str) -> ImageConfig {
        ImageConfig {
            repository: repository.to_string(),
            context: default_context(),
            dockerfile: default_dockerfile(),
            builder: BuilderKind::default(),
            build_args: BTreeMap::new(),
            extra_tags: Vec::new(),
            create_repository: false,
            build_args_from_ssm: BTreeMap::new(),
            keep_deployments: default_keep_deployments(),
        }
    }
}

fn default_keep_deployments() -> usize {
    10
}

fn default_context() -> String {
    ".".into()
}

fn default_dockerfile() -> String {
    "Dockerfile".into()
}

/// The tool that builds and pushes images.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum BuilderKind {
    /// `docker build` / `docker push` (needs a Docker engine).
    #[default]
    Docker,
    /// `podman build` / `podman push`.
    Podman,
    /// `buildah build` / `buildah push`: no daemon needed.
    Buildah,
}

impl BuilderKind {
    /// The program name.
    pub fn program(self) -> &'static str {
        match self {
            BuilderKind::Docker => "docker",
            BuilderKind::Podman => "podman",
            BuilderKind::Buildah => "buildah",
        }
    }
}

/// Whether `tag` is a valid OCI tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// Whether `tag` names a version: such tags are immutable.
pub fn is_version_tag(tag: &str) -> bool {
    semver::Version::parse(&tag.replace('_', "+")).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_tags() {
        assert!(is_version_tag("1.4.2"));
        assert!(!is_version_tag("production"));
        assert!(!is_version_tag("1.4"));
        assert!(is_valid_tag("1.4.2_build.1"));
        assert!(!is_valid_tag("bad tag"));
        assert!(!is_valid_tag("-x"));
    }

    #[test]
    fn image_section_in_release_toml() {
        let parse = |t: &str| crate::config::Config::parse(t, std::path::Path::new("release.toml"));
        let c = parse("[image]\nrepository = \"127.0.0.1:5000/app\"\n").unwrap();
        let image = c.image.unwrap();
        assert_eq!(image.context, ".");
        assert_eq!(image.dockerfile, "Dockerfile");
        assert_eq!(image.builder, BuilderKind::Docker);
        assert!(!image.create_repository);
        let c = parse(
            "[image]\nrepository = \"r.example/app\"\nbuilder = \"buildah\"\nbuild_args_from_ssm = { NPM_TOKEN = \"/app/npm\" }\n",
        )
        .unwrap();
        let image = c.image.unwrap();
        assert_eq!(image.builder, BuilderKind::Buildah);
        assert_eq!(image.build_args_from_ssm["NPM_TOKEN"], "/app/npm");
        let e = parse("[image]\nrepository = \"r/app\"\nbuilder = \"kaniko\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("release.toml:3:"), "{e}");
        assert!(parse("[image]\nrepository = \"r/app\"\ntags = []\n").is_err());
        assert!(parse("[image]\ncontext = \".\"\n").is_err());
        // No [image]: the defaults print no image section.
        assert!(!crate::config::Config::default()
            .to_toml()
            .unwrap()
            .contains("[image]"));
    }
}
