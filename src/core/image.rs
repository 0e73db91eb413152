//! Container image names: a repository split into registry and name, the tags of a version,
//! and the OCI labels of a build. Pure.
//!
//! Building and pushing is [`crate::app::image`]'s, with the adapters
//! [`crate::adapters::builder`] (argument vectors of `docker`, `podman`, `buildah`),
//! [`crate::adapters::registry`] (the OCI distribution API) and [`crate::adapters::aws::ecr`].

use std::collections::BTreeMap;

pub use crate::util::sha256::digest as sha256_digest;

/// A repository split into registry host and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// `host[:port]`.
    pub registry: String,
    /// The path inside the registry (`app`, `team/app`).
    pub name: String,
}

/// A problem with image configuration or references.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The repository has no registry host.
    #[error("image repository `{0}` must name its registry, e.g. `127.0.0.1:5000/app` or `123456789012.dkr.ecr.eu-north-1.amazonaws.com/app`")]
    NoRegistry(String),
    /// A tag that registries reject.
    #[error("`{0}` is not a valid image tag (letters, digits, `_`, `.`, `-`; at most 128; not starting with `.` or `-`)")]
    BadTag(String),
    /// The tag is immutable and already points elsewhere.
    #[error("tag {repository}:{tag} already points to {existing}, not {wanted}: version tags are immutable; release a new version instead")]
    TagConflict {
        /// The repository.
        repository: String,
        /// The tag.
        tag: String,
        /// Where the tag points now.
        existing: String,
        /// The digest that was to be tagged.
        wanted: String,
    },
}

impl Repository {
    /// Split `host[:port]/path` (a tag or digest suffix is not allowed here).
    pub fn parse(repository: &str) -> Result<Repository, ImageError> {
        let (host, name) = repository
            .split_once('/')
            .ok_or_else(|| ImageError::NoRegistry(repository.to_string()))?;
        if !(host.contains('.') || host.contains(':') || host == "localhost") || name.is_empty() {
            return Err(ImageError::NoRegistry(repository.to_string()));
        }
        Ok(Repository {
            registry: host.to_string(),
            name: name.to_string(),
        })
    }

    /// `host/name`.
    pub fn full(&self) -> String {
        format!("{}/{}", self.registry, self.name)
    }

    /// `host/name:tag`.
    pub fn reference(&self, tag: &str) -> String {
        format!("{}/{}:{}", self.registry, self.name, tag)
    }

    /// The AWS account and region of an ECR registry host
    /// (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`), else `None`.
    pub fn ecr(&self) -> Option<(String, String)> {
        let host = self.registry.split(':').next().unwrap_or_default();
        let parts: Vec<&str> = host.split('.').collect();
        if parts.len() >= 6
            && parts[0].len() == 12
            && parts[0].bytes().all(|b| b.is_ascii_digit())
            && parts[1] == "dkr"
            && parts[2] == "ecr"
            && parts[4] == "amazonaws"
        {
            Some((parts[0].to_string(), parts[3].to_string()))
        } else {
            None
        }
    }

    /// Whether the registry is on a loopback address (plain HTTP, no TLS verification).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.registry)
    }
}

/// Whether `host[:port]` is a loopback address.
pub fn is_loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    name == "localhost" || name == "[::1]" || name.starts_with("127.")
}

/// Check that `tag` is a valid tag.
pub fn check_tag(tag: &str) -> Result<(), ImageError> {
    let ok = crate::config::image::is_valid_tag(tag);
    if ok {
        Ok(())
    } else {
        Err(ImageError::BadTag(tag.to_string()))
    }
}

/// The tag of a version (`1.2.3`, `1.2.3-rc.1`; `+build` metadata becomes `_build`).
pub fn version_tag(version: &semver::Version) -> String {
    version_tag_of(&version.to_string())
}

/// [`version_tag`] of a version given as text: every lookup of a version's image goes through
/// here, since `+` is not allowed in a tag and the image was pushed with `_`.
pub fn version_tag_of(version: &str) -> String {
    version.replace('+', "_")
}

/// Every tag of a build: the version, `sha-<short commit>`, and the extra tags expanded.
pub fn tags_for(
    version: &semver::Version,
    short_commit: &str,
    extra: &[String],
) -> Result<Vec<String>, ImageError> {
    let mut tags = vec![version_tag(version), format!("sha-{short_commit}")];
    for t in extra {
        let tag = t
            .replace("{major}", &version.major.to_string())
            .replace("{minor}", &version.minor.to_string())
            .replace("{patch}", &version.patch.to_string())
            .replace("{version}", &version_tag(version));
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    for t in &tags {
        check_tag(t)?;
    }
    Ok(tags)
}

/// The OCI labels of a build.
pub fn labels(
    version: &semver::Version,
    commit: &str,
    source: Option<&str>,
    created: i64,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let key = |k: &str| format!("org.opencontainers.image.{k}");
    labels.insert(key("version"), version.to_string());
    labels.insert(key("revision"), commit.to_string());
    if let Some(source) = source {
        labels.insert(key("source"), source.to_string());
    }
    labels.insert(key("created"), crate::util::time::rfc3339(created));
    labels
}

/// A remote URL as a label value: credentials removed, GitHub SSH turned into https.
pub fn source_url(remote: &str) -> String {
    if let Some(rest) = remote.strip_prefix("git@github.com:") {
        return format!("https://github.com/{}", rest.trim_end_matches(".git"));
    }
    match crate::core::remote::split_credentials(remote) {
        Some((scheme, _, host_and_path)) if host_and_path.contains('/') => {
            format!("{scheme}://{host_and_path}")
        }
        Some((scheme, _, host)) => format!("{scheme}://{host}/"),
        None => remote.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories() {
        let r = Repository::parse("127.0.0.1:5000/team/app").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.name, "team/app");
        assert!(r.is_loopback());
        assert_eq!(r.ecr(), None);
        let e = Repository::parse("123456789012.dkr.ecr.eu-north-1.amazonaws.com/app").unwrap();
        assert_eq!(e.ecr(), Some(("123456789012".into(), "eu-north-1".into())));
        assert!(!e.is_loopback());
        assert!(Repository::parse("app").is_err());
        assert!(Repository::parse("library/app").is_err());
    }

    #[test]
    fn tags_expand_placeholders() {
        let v = semver::Version::new(1, 4, 2);
        let tags = tags_for(
            &v,
            "abc1234",
            &[
                "{major}.{minor}".into(),
                "latest".into(),
                "{version}".into(),
            ],
        )
        .unwrap();
        assert_eq!(tags, ["1.4.2", "sha-abc1234", "1.4", "latest"]);
        assert!(tags_for(&v, "abc1234", &["bad tag".into()]).is_err());
    }

    #[test]
    fn labels_and_dates() {
        assert_eq!(
            crate::util::time::rfc3339(1_750_000_000),
            "2025-06-15T15:06:40Z"
        );
        let l = labels(
            &semver::Version::new(1, 0, 0),
            "abc",
            Some("https://x/y"),
            0,
        );
        assert_eq!(
            l["org.opencontainers.image.created"],
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(l["org.opencontainers.image.version"], "1.0.0");
        assert_eq!(
            source_url("https://x-access-token:secret@github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(
            source_url("git@github.com:o/r.git"),
            "https://github.com/o/r"
        );
    }
}
