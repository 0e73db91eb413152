//! A real OCI registry (Debian's `docker-registry`, the CNCF distribution server) on a loopback
//! port with filesystem storage in a temporary directory. Killed when dropped.
//!
//! The binary is `$DOCKER_REGISTRY`, else `docker-registry` on PATH (`.ci/run` installs it).

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A running registry.
pub struct Registry {
    child: Child,
    dir: TempDir,
    /// `127.0.0.1:PORT`
    pub host: String,
    agent: ureq::Agent,
    /// The `Authorization` of the test's own requests, when the registry wants one.
    authorization: Option<String>,
}

impl Registry {
    /// Start an empty registry and wait until `/v2/` answers.
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// Start an empty registry that only lets `user` with `password` in (htpasswd auth, which
    /// answers `401` with a `Basic` challenge).
    pub fn start_authenticated(user: &str, password: &str) -> Registry {
        Registry::start_with(Some((user, password)))
    }

    fn start_with(login: Option<(&str, &str)>) -> Registry {
        // The free port is found by binding it and letting it go, so another test's server can
        // take it first: then the registry exits and the next port is tried.
        for _attempt in 0..5 {
            if let Some(registry) = Registry::try_start(login) {
                return registry;
            }
        }
        panic!("docker-registry could not get a free loopback port in 5 attempts");
    }

    /// One start on a new port; `None` when the registry exited (its port was taken).
    fn try_start(login: Option<(&str, &str)>) -> Option<Registry> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let dir = tempfile::Builder::new()
            .prefix("registry-")
            .tempdir()
            .unwrap();
        let config = dir.path().join("config.yml");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("storage").display()
        );
        let mut authorization = None;
        if let Some((user, password)) = login {
            // The registry reads bcrypt hashes only (what `htpasswd -B` writes); cost 4 is the
            // cheapest, which is all a test needs.
            let hash = bcrypt::hash_with_result(password, 4)
                .expect("bcrypt")
                .format_for_version(bcrypt::Version::TwoA);
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{hash}\n")).unwrap();
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: release-agent-test\n    path: {}\n",
                htpasswd.display()
            ));
            use base64::Engine as _;
            authorization = Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ));
        }
        std::fs::write(&config, yaml).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let binary =
            std::env::var("DOCKER_REGISTRY").unwrap_or_else(|_| "docker-registry".to_string());
        let child = Command::new(&binary)
            .args(["serve", config.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {binary} ({e}): install the Debian package docker-registry (.ci/run does) or set DOCKER_REGISTRY")
            });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut registry = Registry {
            child,
            dir,
            host: format!("127.0.0.1:{port}"),
            agent,
            authorization,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // Only a registry's answer counts: another server on the port answers too.
            let ok = registry
                .with_auth(registry.agent.get(format!("http://{}/v2/", registry.host)))
                .call()
                .is_ok_and(|r| {
                    r.status() == 200 && r.headers().contains_key("docker-distribution-api-version")
                });
            if ok {
                break;
            }
            if registry.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer on port {port}:\n{}",
                registry.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(registry)
    }

    /// `request` with the test's credentials, when the registry wants them.
    fn with_auth<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.authorization {
            Some(a) => request.header("Authorization", a),
            None => request,
        }
    }

    /// The status of an anonymous `GET /v2/`: 200 when open, 401 when it wants credentials.
    pub fn anonymous_status(&self) -> u16 {
        self.agent
            .get(format!("http://{}/v2/", self.host))
            .call()
            .unwrap()
            .status()
            .as_u16()
    }

    /// The storage root.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Everything the registry logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// How many blob uploads were started (`POST .../blobs/uploads/`).
    pub fn blob_uploads(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains("POST /v2/") && l.contains("/blobs/uploads/"))
            .count()
    }

    /// Every blob stored, by digest.
    pub fn blobs(&self) -> Vec<String> {
        let root = self.storage().join("docker/registry/v2/blobs/sha256");
        let mut out = Vec::new();
        for prefix in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            for blob in std::fs::read_dir(prefix.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                out.push(format!("sha256:{}", blob.file_name().to_string_lossy()));
            }
        }
        out.sort();
        out
    }

    /// GET `path` (`/v2/...`): status, content type and body.
    pub fn get(&self, path: &str, accept: &str) -> (u16, String, Vec<u8>) {
        let mut r = self
            .with_auth(self.agent.get(format!("http://{}{path}", self.host)))
            .header("Accept", accept)
            .call()
            .unwrap();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let digest = r
            .headers()
            .get("docker-content-digest")
            .map(|v| v.to_str().unwrap().to_string());
        let body = r
            .body_mut()
            .with_config()
            .limit(200 << 20)
            .read_to_vec()
            .unwrap();
        let _ = digest;
        (r.status().as_u16(), ct, body)
    }

    /// The tags of `name`, sorted.
    pub fn tags(&self, name: &str) -> Vec<String> {
        let (status, _, body) = self.get(&format!("/v2/{name}/tags/list"), "application/json");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let mut tags: Vec<String> = v["tags"]
            .as_array()
            .map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        tags.sort();
        tags
    }

    /// The digest of `name:reference` from `HEAD` (`Docker-Content-Digest`).
    pub fn digest(&self, name: &str, reference: &str) -> Option<String> {
        let r = self
            .with_auth(self.agent.head(format!(
                "http://{}/v2/{name}/manifests/{reference}",
                self.host
            )))
            .header("Accept", ACCEPT)
            .call()
            .unwrap();
        if r.status() == 404 {
            return None;
        }
        assert_eq!(r.status(), 200);
        r.headers()
            .get("docker-content-digest")
            .map(|v| v.to_str().unwrap().to_string())
    }

    /// The manifest of `name:reference` as JSON, with its content type.
    pub fn manifest(&self, name: &str, reference: &str) -> (String, serde_json::Value) {
        let (status, ct, body) = self.get(&format!("/v2/{name}/manifests/{reference}"), ACCEPT);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        (ct, serde_json::from_slice(&body).unwrap())
    }

    /// The image config (labels live under `config.Labels`) of `name:reference`.
    pub fn image_config(&self, name: &str, reference: &str) -> serde_json::Value {
        let (_, manifest) = self.manifest(name, reference);
        let digest = manifest["config"]["digest"]
            .as_str()
            .expect("an image manifest");
        let (status, _, body) = self.get(&format!("/v2/{name}/blobs/{digest}"), "*/*");
        assert_eq!(status, 200);
        serde_json::from_slice(&body).unwrap()
    }

    /// Upload a blob in one request; its digest.
    pub fn put_blob(&self, name: &str, data: &[u8]) -> String {
        let digest = format!("sha256:{}", sha256_hex(data));
        let r = self
            .with_auth(
                self.agent
                    .post(format!("http://{}/v2/{name}/blobs/uploads/", self.host)),
            )
            .send_empty()
            .unwrap();
        assert_eq!(r.status(), 202);
        let location = r
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let url = if location.starts_with("http") {
            location
        } else {
            format!("http://{}{location}", self.host)
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let r = self
            .with_auth(self.agent.put(format!("{url}{sep}digest={digest}")))
            .header("Content-Type", "application/octet-stream")
            .send(data)
            .unwrap();
        assert_eq!(r.status(), 201);
        digest
    }

    /// Put a manifest under `reference`; its digest.
    pub fn put_manifest(
        &self,
        name: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let mut r = self
            .with_auth(self.agent.put(format!(
                "http://{}/v2/{name}/manifests/{reference}",
                self.host
            )))
            .header("Content-Type", media_type)
            .send(body)
            .unwrap();
        let status = r.status();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(status, 201, "{text}");
        r.headers()
            .get("docker-content-digest")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    }

    /// Where the registry keeps its data.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Every manifest type.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// The SHA-256 of `data` in hex, via the crate's implementation.
pub fn sha256_hex(data: &[u8]) -> String {
    release_agent::core::image::sha256_digest(data)
        .trim_start_matches("sha256:")
        .to_string()
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Environment for `release` that keeps buildah's storage (vfs, chroot isolation) inside the
/// test's sandbox.
pub fn buildah_env(sandbox: &Path) -> Vec<(&'static str, PathBuf)> {
    let conf = sandbox.join("storage.conf");
    if !conf.exists() {
        let storage = sandbox.join("containers");
        std::fs::write(
            &conf,
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                storage.join("root").display(),
                storage.join("run").display()
            ),
        )
        .expect("write storage.conf");
    }
    vec![
        ("CONTAINERS_STORAGE_CONF", conf),
        ("BUILDAH_ISOLATION", PathBuf::from("chroot")),
    ]
}
