//! A small client of the OCI distribution API: read a manifest and its digest, put a manifest
//! under a new tag. Promotion by retag moves no layer: only the manifest is read and written.
//!
//! Registries on a loopback address are spoken to over plain HTTP, every other over HTTPS.

pub mod auth;

use std::sync::Mutex;
use std::time::Duration;

use crate::config::image::is_version_tag;
use crate::core::image::{self, ImageError, Repository};
use crate::util::redact;
use auth::{parse_challenges, Challenge, Credentials, AUTH_FILES};

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
    /// The registry wants credentials and none were found.
    #[error("registry {registry} requires authentication and no credentials were found for it: set RELEASE_REGISTRY_USERNAME and RELEASE_REGISTRY_PASSWORD, or run `docker login {registry}` or `podman login {registry}` (credentials are read from {files})", files = AUTH_FILES)]
    Anonymous {
        /// `host[:port]`.
        registry: String,
    },
    /// The registry (or its token server) refused the credentials.
    #[error("registry {registry} rejected the credentials from {origin}: check the user name and the password or token (and the token's scopes, e.g. write:packages on ghcr.io)")]
    Rejected {
        /// `host[:port]`.
        registry: String,
        /// Where the credentials came from (never the secret).
        origin: String,
    },
    /// An authentication challenge that cannot be answered.
    #[error("cannot authenticate to registry {registry}: {message}")]
    Challenge {
        /// `host[:port]`.
        registry: String,
        /// Why.
        message: String,
    },
    /// The registry does not delete manifests (the distribution API's DELETE is off).
    #[error("registry {0} does not allow deleting images (DELETE answered 405 UNSUPPORTED): enable deletion on it (distribution: `storage.delete.enabled: true`), or prune with its own tools")]
    DeleteUnsupported(String),
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
///
/// Requests go out anonymously (or with the authorization that worked last); a `401` is answered
/// the way docker does: `Basic` gets the credentials, `Bearer realm=...,service=...,scope=...`
/// gets a token from the realm (with the credentials, if any), and the request is sent again
/// once. The token is kept for the next requests.
pub struct Registry {
    repository: Repository,
    base: String,
    credentials: Option<Credentials>,
    /// The `Authorization` value in use (`Basic ...` or `Bearer <token>`), once one was needed.
    authorization: Mutex<Option<String>>,
    agent: ureq::Agent,
}

/// The host that serves the distribution API of a registry (Docker Hub's is not `docker.io`).
pub fn api_host(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" => "registry-1.docker.io",
        other => other,
    }
}

impl Registry {
    /// A client for `repository`, with `credentials` for when the registry asks for them.
    pub fn new(repository: &Repository, credentials: Option<Credentials>) -> Registry {
        let scheme = if repository.is_loopback() {
            "http"
        } else {
            "https"
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .new_agent();
        Registry {
            repository: repository.clone(),
            base: format!("{scheme}://{}", api_host(&repository.registry)),
            credentials,
            authorization: Mutex::new(None),
            agent,
        }
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> RegistryError {
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
        RegistryError::Status {
            registry: self.repository.registry.clone(),
            method,
            path: path.to_string(),
            status: response.status().as_u16(),
            body: body_start(response),
        }
    }

    /// The error for a `401` that authentication did not cure.
    fn refused(&self) -> RegistryError {
        match &self.credentials {
            Some(c) => RegistryError::Rejected {
                registry: self.repository.registry.clone(),
                origin: c.source.clone(),
            },
            None => RegistryError::Anonymous {
                registry: self.repository.registry.clone(),
            },
        }
    }

    fn current_authorization(&self) -> Option<String> {
        self.authorization
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Send a request, answering one `401` challenge (see [`Registry`]).
    fn call(
        &self,
        method: &'static str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<http::Response<ureq::Body>, RegistryError> {
        let url = format!("{}{path}", self.base);
        let mut renewed = false;
        loop {
            let mut request = http::Request::builder().method(method).uri(&url);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some(a) = self.current_authorization() {
                request = request.header("Authorization", a);
            }
            let sent = match body {
                Some(b) => request.body(b).map(|r| self.agent.run(r)),
                None => request.body(()).map(|r| self.agent.run(r)),
            };
            let response = sent
                .map_err(|e| self.unreachable(e))?
                .map_err(|e| self.unreachable(e))?;
            if response.status() != 401 {
                return Ok(response);
            }
            if renewed {
                return Err(self.refused());
            }
            let challenges: Vec<Challenge> = response
                .headers()
                .get_all("www-authenticate")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(parse_challenges)
                .collect();
            let authorization = self.authenticate(&challenges)?;
            *self.authorization.lock().unwrap_or_else(|e| e.into_inner()) = Some(authorization);
            renewed = true;
        }
    }

    /// The `Authorization` value that answers `challenges`.
    fn authenticate(&self, challenges: &[Challenge]) -> Result<String, RegistryError> {
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            return self.bearer_token(bearer);
        }
        // Basic, or no usable challenge at all: the credentials are all we can offer.
        match &self.credentials {
            Some(c) => Ok(c.basic()),
            None => Err(RegistryError::Anonymous {
                registry: self.repository.registry.clone(),
            }),
        }
    }

    /// A token from the challenge's realm for this repository (`pull,push` when there are
    /// credentials, else what the challenge asked for): `Bearer <token>`.
    fn bearer_token(&self, challenge: &Challenge) -> Result<String, RegistryError> {
        let failed = |message: String| RegistryError::Challenge {
            registry: self.repository.registry.clone(),
            message,
        };
        let realm = challenge
            .param("realm")
            .filter(|r| !r.is_empty())
            .ok_or_else(|| failed("a Bearer challenge without a realm".into()))?;
        let (scheme, rest) = realm
            .split_once("://")
            .filter(|(s, _)| *s == "https" || *s == "http")
            .ok_or_else(|| failed(format!("the token realm `{realm}` is not an http(s) URL")))?;
        let realm_host = rest.split(['/', '?']).next().unwrap_or_default();
        if scheme == "http" && self.credentials.is_some() && !image::is_loopback_host(realm_host) {
            return Err(failed(format!(
                "the token realm {realm} is plain HTTP: credentials are only sent to it over HTTPS"
            )));
        }
        let mut scopes: Vec<String> = challenge
            .param("scope")
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if self.credentials.is_some() || scopes.is_empty() {
            let ours = format!("repository:{}:pull,push", self.repository.name);
            if !scopes.contains(&ours) {
                scopes.push(ours);
            }
        }
        let mut query: Vec<String> = Vec::new();
        if let Some(service) = challenge.param("service") {
            query.push(format!("service={}", redact::percent_encode(service)));
        }
        for scope in &scopes {
            query.push(format!("scope={}", redact::percent_encode(scope)));
        }
        let sep = if realm.contains('?') { '&' } else { '?' };
        let url = format!("{realm}{sep}{}", query.join("&"));
        let mut request = self.agent.get(&url);
        if let Some(c) = &self.credentials {
            request = request.header("Authorization", c.basic());
        }
        tracing::debug!("token for {} from {realm}", scopes.join(" "));
        let mut response = request.call().map_err(|e| self.unreachable(e))?;
        match response.status().as_u16() {
            200 => {}
            401 | 403 => return Err(self.refused()),
            status => {
                return Err(failed(format!(
                    "the token server {realm} answered {status}: {}",
                    body_start(&mut response)
                )))
            }
        }
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| self.unreachable(e))?;
        let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let token = ["token", "access_token"]
            .iter()
            .find_map(|k| {
                answer
                    .get(*k)
                    .and_then(|v| v.as_str())
                    .filter(|t| !t.is_empty())
            })
            .ok_or_else(|| failed(format!("the token server {realm} answered without a token")))?;
        redact::register(token);
        Ok(format!("Bearer {token}"))
    }

    fn manifest_path(&self, reference: &str) -> String {
        format!("/v2/{}/manifests/{reference}", self.repository.name)
    }

    /// Every tag of the repository (`GET /v2/<name>/tags/list`, following `Link` pages).
    pub fn tags(&self) -> Result<Vec<String>, RegistryError> {
        let mut tags = Vec::new();
        let mut path = format!("/v2/{}/tags/list?n=1000", self.repository.name);
        loop {
            let mut response = self.call("GET", &path, &[], None)?;
            match response.status().as_u16() {
                200 => {}
                404 => return Ok(tags),
                _ => return Err(self.status("GET", &path, &mut response)),
            }
            let next = response
                .headers()
                .get("link")
                .and_then(|l| l.to_str().ok())
                .and_then(|l| l.split_once('<'))
                .and_then(|(_, rest)| rest.split_once('>'))
                .map(|(next, _)| next.to_string())
                .filter(|n| n.starts_with("/v2/"));
            let text = response
                .body_mut()
                .with_config()
                .limit(16 * 1024 * 1024)
                .read_to_string()
                .map_err(|e| self.unreachable(e))?;
            let page: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            tags.extend(
                page["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string)),
            );
            match next {
                Some(n) => path = n,
                None => return Ok(tags),
            }
        }
    }

    /// Delete the manifest at `digest` (every tag on it); already gone is success.
    pub fn delete(&self, digest: &str) -> Result<(), RegistryError> {
        let path = self.manifest_path(digest);
        let mut response = self.call("DELETE", &path, &[], None)?;
        match response.status().as_u16() {
            200 | 202 | 404 => Ok(()),
            405 => Err(RegistryError::DeleteUnsupported(
                self.repository.registry.clone(),
            )),
            _ => Err(self.status("DELETE", &path, &mut response)),
        }
    }

    /// The manifest under a tag or digest; `None` when there is none.
    pub fn manifest(&self, reference: &str) -> Result<Option<Manifest>, RegistryError> {
        let path = self.manifest_path(reference);
        let accept = MANIFEST_TYPES.join(", ");
        let mut response = self.call("GET", &path, &[("Accept", &accept)], None)?;
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
        let computed = image::sha256_digest(&body);
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
        let accept = MANIFEST_TYPES.join(", ");
        let mut response = self.call("HEAD", &path, &[("Accept", &accept)], None)?;
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
        let mut response = self.call(
            "PUT",
            &path,
            &[("Content-Type", &manifest.media_type)],
            Some(&manifest.body),
        )?;
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
        image::check_tag(tag)?;
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

/// The start of a response body, secrets masked, for messages.
fn body_start(response: &mut http::Response<ureq::Body>) -> String {
    let body = response.body_mut().read_to_string().unwrap_or_default();
    redact::redact(body.trim().chars().take(300).collect::<String>().as_str()).into_owned()
}

/// The `mediaType` field of a manifest, when it has one.
fn media_type_in(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("mediaType")?.as_str().map(str::to_string)
}
