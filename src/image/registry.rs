//! A small client of the OCI distribution API: read a manifest and its digest, put a manifest
//! under a new tag. Promotion by retag moves no layer: only the manifest is read and written.
//!
//! Registries on a loopback address are spoken to over plain HTTP, every other over HTTPS.

use std::time::Duration;

use super::{is_version_tag, ImageError, Repository};
use crate::redact;

/// Every manifest media type we accept, for `Accept`.
pub const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// A registry request that failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Network or TLS failure.
    #[error("cannot reach registry {registry}: {message}")]
    Unreachable {
        /// `host[:port]`.
        registry: String,
        /// Why.
        message: String,
    },
    /// An unexpected HTTP status.
    #[error("registry {registry}: {method} {path} answered {status}: {body}")]
    Status {
        /// `host[:port]`.
        registry: String,
        /// The method.
        method: &'static str,
        /// The path requested.
        path: String,
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// Nothing under that reference.
    #[error("{0} does not exist in the registry")]
    NotFound(String),
    /// A tag conflict.
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// A manifest as stored: its bytes (never re-serialized, so the digest holds), media type and
/// digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The `Content-Type` it was served with.
    pub media_type: String,
    /// The exact bytes.
    pub body: Vec<u8>,
    /// `sha256:...`.
    pub digest: String,
}

/// What a promotion did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Promotion {
    /// The digest now under the tag.
    pub digest: String,
    /// The tag.
    pub tag: String,
    /// `false` when the tag was already there.
    pub changed: bool,
}

/// A registry client for one repository.
pub struct Registry {
    repository: Repository,
    base: String,
    authorization: Option<String>,
    agent: ureq::Agent,
}

impl Registry {
    /// A client for `repository`; `authorization` is a full header value (`Basic ...`), which
    /// is registered for redaction.
    pub fn new(repository: &Repository, authorization: Option<String>) -> Registry {
        let scheme = if repository.is_loopback() {
            "http"
        } else {
            "https"
        };
        if let Some(a) = &authorization {
            redact::register(a);
            if let Some((_, secret)) = a.split_once(' ') {
                redact::register(secret);
            }
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .new_agent();
        Registry {
            repository: repository.clone(),
            base: format!("{scheme}://{}", repository.registry),
            authorization,
            agent,
        }
    }

    fn unreachable(&self, e: ureq::Error) -> RegistryError {
        RegistryError::Unreachable {
            registry: self.repository.registry.clone(),
            message: redact::redact(&e.to_string()).into_owned(),
        }
    }

    fn status(
        &self,
        method: &'static str,
        path: &str,
        response: &mut http::Response<ureq::Body>,
    ) -> RegistryError {
        let body = response.body_mut().read_to_string().unwrap_or_default();
        RegistryError::Status {
            registry: self.repository.registry.clone(),
            method,
            path: path.to_string(),
            status: response.status().as_u16(),
            body: redact::redact(body.trim().chars().take(300).collect::<String>().as_str())
                .into_owned(),
        }
    }

    fn manifest_path(&self, reference: &str) -> String {
        format!("/v2/{}/manifests/{reference}", self.repository.name)
    }

    /// The manifest under a tag or digest; `None` when there is none.
    pub fn manifest(&self, reference: &str) -> Result<Option<Manifest>, RegistryError> {
        let path = self.manifest_path(reference);
        let mut request = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Accept", MANIFEST_TYPES.join(", "));
        if let Some(a) = &self.authorization {
            request = request.header("Authorization", a);
        }
        let mut response = request.call().map_err(|e| self.unreachable(e))?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            _ => return Err(self.status("GET", &path, &mut response)),
        }
        let media_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let header_digest = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| self.unreachable(e))?;
        let computed = super::sha256_digest(&body);
        // A digest reference is what the registry hashed; otherwise trust the header, and fall
        // back to hashing the bytes.
        let digest = header_digest.unwrap_or(computed);
        let media_type = match media_type {
            Some(t) if t != "application/json" && !t.is_empty() => t,
            _ => media_type_in(&body).unwrap_or_else(|| MANIFEST_TYPES[1].to_string()),
        };
        Ok(Some(Manifest {
            media_type,
            body,
            digest,
        }))
    }

    /// The digest under a tag, from `HEAD` (`Docker-Content-Digest`), else from the manifest.
    pub fn digest(&self, tag: &str) -> Result<Option<String>, RegistryError> {
        let path = self.manifest_path(tag);
        let mut request = self
            .agent
            .head(format!("{}{path}", self.base))
            .header("Accept", MANIFEST_TYPES.join(", "));
        if let Some(a) = &self.authorization {
            request = request.header("Authorization", a);
        }
        let mut response = request.call().map_err(|e| self.unreachable(e))?;
        match response.status().as_u16() {
            200 => {
                if let Some(d) = response
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                {
                    return Ok(Some(d.to_string()));
                }
            }
            404 => return Ok(None),
            // Some registries refuse HEAD; GET below decides.
            405 => {}
            _ => return Err(self.status("HEAD", &path, &mut response)),
        }
        Ok(self.manifest(tag)?.map(|m| m.digest))
    }

    /// Store `manifest` under `tag`, with its own media type; the digest the registry reports.
    pub fn put_manifest(&self, tag: &str, manifest: &Manifest) -> Result<String, RegistryError> {
        let path = self.manifest_path(tag);
        let mut request = self
            .agent
            .put(format!("{}{path}", self.base))
            .header("Content-Type", &manifest.media_type);
        if let Some(a) = &self.authorization {
            request = request.header("Authorization", a);
        }
        let mut response = request
            .send(&manifest.body[..])
            .map_err(|e| self.unreachable(e))?;
        if !response.status().is_success() {
            return Err(self.status("PUT", &path, &mut response));
        }
        Ok(response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| manifest.digest.clone(), str::to_string))
    }

    /// Put `tag` on the manifest at `source` (a tag or a digest): the manifest is read by
    /// digest and written back under the new tag, no layer moves. A version tag that already
    /// points elsewhere is an error naming both digests; a moving tag (`production`) is moved.
    pub fn promote(&self, source: &str, tag: &str) -> Result<Promotion, RegistryError> {
        super::check_tag(tag)?;
        let digest = if source.starts_with("sha256:") {
            source.to_string()
        } else {
            self.digest(source)?
                .ok_or_else(|| RegistryError::NotFound(self.repository.reference(source)))?
        };
        let manifest = self.manifest(&digest)?.ok_or_else(|| {
            RegistryError::NotFound(format!("{}@{digest}", self.repository.full()))
        })?;
        if let Some(existing) = self.digest(tag)? {
            if existing == digest {
                return Ok(Promotion {
                    digest,
                    tag: tag.to_string(),
                    changed: false,
                });
            }
            if is_version_tag(tag) {
                return Err(ImageError::TagConflict {
                    repository: self.repository.full(),
                    tag: tag.to_string(),
                    existing,
                    wanted: digest,
                }
                .into());
            }
        }
        let stored = self.put_manifest(tag, &manifest)?;
        Ok(Promotion {
            digest: stored,
            tag: tag.to_string(),
            changed: true,
        })
    }
}

/// The `mediaType` field of a manifest, when it has one.
fn media_type_in(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("mediaType")?.as_str().map(str::to_string)
}
