//! A fake GitHub REST API on loopback (wiremock) for `release cut` and `release ci`.
//!
//! It keeps state like GitHub does: `GET /repos/{o}/{r}/releases/tags/{tag}` answers 404 until
//! a `POST /repos/{o}/{r}/releases` created the release, a second creation of the same tag
//! answers `422 already_exists`, and failures can be scripted (so many 5xx, a persistent
//! status, a repository without push permission). Bodies follow GitHub's documented shapes.
//!
//! Release assets too: uploads to the release's `upload_url` (on this server) are kept with the
//! `sha256:` digest GitHub computes, listed, deleted and downloaded (through a redirect, as
//! GitHub does); an upload can be scripted to be cut off, which leaves the asset in the
//! `starter` state GitHub leaves it in, and then answers `422 already_exists` to new uploads.

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The repository the tests release to (`GITHUB_REPOSITORY`).
pub const OWNER: &str = "acme";
/// Its name.
pub const NAME: &str = "app";
/// `owner/name`
pub const REPOSITORY: &str = "acme/app";
/// The token the tests hand to `release`.
pub const TOKEN: &str = "ghs_FakeTokenForTests0123456789abcdef";

/// A scripted answer: status, JSON body, extra headers.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// Headers besides `content-type`.
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// The same answer with one more header.
    pub fn with_header(mut self, name: &'static str, value: &str) -> Answer {
        self.headers.push((name, value.to_string()));
        self
    }

    /// A GitHub error body: `{"message", "documentation_url", "status"}`.
    pub fn error(status: u16, message: &str) -> Answer {
        Answer::json(
            status,
            json!({
                "message": message,
                "documentation_url": "https://docs.github.com/rest/releases/releases#create-a-release",
                "status": status.to_string(),
            }),
        )
    }
}

/// What the fake knows and what it was told to do.
#[derive(Debug)]
pub struct State {
    /// Releases created so far (GitHub release objects), in order.
    pub releases: Vec<Value>,
    /// `permissions.push` of the repository object.
    pub push: bool,
    /// Answers given to the next POSTs, one each, before the normal behaviour resumes.
    pub post_script: VecDeque<Answer>,
    /// When set, every POST gets this answer.
    pub post_always: Option<Answer>,
    /// When set, every request of any kind gets this answer.
    pub all_requests: Option<Answer>,
    /// A release another run creates just before the next POST arrives (which then gets
    /// `422 already_exists`).
    pub appears_on_post: Option<Value>,
    /// Release assets: (release id, asset object).
    pub assets: Vec<(u64, Value)>,
    /// Asset contents by asset id.
    pub blobs: std::collections::HashMap<u64, Vec<u8>>,
    /// The upload of this asset name is cut off once: the asset stays `starter` and the
    /// request gets a 502.
    pub cut_off_upload: Option<String>,
    /// This server's base URL (for `upload_url` and download redirects).
    base: String,
    next_id: u64,
}

/// The fake server and its shared state.
pub struct FakeGithub {
    /// The wiremock server.
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

struct Responder(Arc<Mutex<State>>);

fn reply(answer: &Answer) -> ResponseTemplate {
    let mut template = ResponseTemplate::new(answer.status)
        .insert_header("content-type", "application/json; charset=utf-8")
        .set_body_json(&answer.body);
    for (name, value) in &answer.headers {
        template = template.insert_header(*name, value.as_str());
    }
    template
}

fn not_found(doc: &str) -> Answer {
    Answer::json(
        404,
        json!({
            "message": "Not Found",
            "documentation_url": doc,
            "status": "404",
        }),
    )
}

fn repository_object(push: bool) -> Value {
    json!({
        "id": 1296269,
        "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
        "name": NAME,
        "full_name": REPOSITORY,
        "private": false,
        "owner": {
            "login": OWNER,
            "id": 1,
            "node_id": "MDQ6VXNlcjE=",
            "type": "Organization",
            "site_admin": false
        },
        "html_url": format!("https://github.com/{REPOSITORY}"),
        "description": "An app",
        "fork": false,
        "url": format!("https://api.github.com/repos/{REPOSITORY}"),
        "default_branch": "main",
        "visibility": "public",
        "permissions": {
            "admin": false,
            "maintain": false,
            "push": push,
            "triage": true,
            "pull": true
        }
    })
}

impl Responder {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.state();
        if let Some(answer) = &state.all_requests {
            return reply(answer);
        }
        let repo_path = format!("/repos/{REPOSITORY}");
        let path = request.url.path().to_string();
        let method = request.method.as_str();
        if method == "GET" && path == repo_path {
            return reply(&Answer::json(200, repository_object(state.push)));
        }
        if method == "GET" {
            if let Some(tag) = path.strip_prefix(&format!("{repo_path}/releases/tags/")) {
                let tag = percent_decode(tag);
                return match state
                    .releases
                    .iter()
                    .find(|r| r["tag_name"] == tag.as_str())
                {
                    Some(release) => reply(&Answer::json(200, release.clone())),
                    None => reply(&not_found(
                        "https://docs.github.com/rest/releases/releases#get-a-release-by-tag-name",
                    )),
                };
            }
        }
        if let Some(template) = assets(&mut state, method, &path, request) {
            return template;
        }
        if method == "POST" && path == format!("{repo_path}/releases") {
            if let Some(release) = state.appears_on_post.take() {
                state.releases.push(release);
            }
            if let Some(answer) = state.post_script.pop_front() {
                return reply(&answer);
            }
            if let Some(answer) = &state.post_always {
                return reply(answer);
            }
            let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
                return reply(&Answer::json(
                    400,
                    json!({
                        "message": "Problems parsing JSON",
                        "documentation_url": "https://docs.github.com/rest/releases/releases#create-a-release",
                        "status": "400",
                    }),
                ));
            };
            let tag = body["tag_name"].as_str().unwrap_or_default().to_string();
            if state.releases.iter().any(|r| r["tag_name"] == tag.as_str()) {
                return reply(&Answer::json(
                    422,
                    json!({
                        "message": "Validation Failed",
                        "errors": [
                            {"resource": "Release", "code": "already_exists", "field": "tag_name"}
                        ],
                        "documentation_url": "https://docs.github.com/rest/releases/releases#create-a-release",
                        "status": "422",
                    }),
                ));
            }
            state.next_id += 1;
            let id = state.next_id;
            let release = json!({
                "url": format!("https://api.github.com/repos/{REPOSITORY}/releases/{id}"),
                "html_url": format!("https://github.com/{REPOSITORY}/releases/tag/{tag}"),
                "assets_url": format!("https://api.github.com/repos/{REPOSITORY}/releases/{id}/assets"),
                "upload_url": format!("{}/repos/{REPOSITORY}/releases/{id}/assets{{?name,label}}", state.base),
                "tarball_url": format!("https://api.github.com/repos/{REPOSITORY}/tarball/{tag}"),
                "zipball_url": format!("https://api.github.com/repos/{REPOSITORY}/zipball/{tag}"),
                "id": id,
                "node_id": format!("RE_kwDOAAAAA{id}"),
                "tag_name": tag,
                "target_commitish": body.get("target_commitish").cloned().unwrap_or(json!("main")),
                "name": body.get("name").cloned().unwrap_or(Value::Null),
                "body": body.get("body").cloned().unwrap_or(Value::Null),
                "draft": body.get("draft").and_then(Value::as_bool).unwrap_or(false),
                "prerelease": body.get("prerelease").and_then(Value::as_bool).unwrap_or(false),
                "created_at": "2025-06-15T00:00:00Z",
                "published_at": "2025-06-15T00:00:00Z",
                "author": {
                    "login": "github-actions[bot]",
                    "id": 41898282,
                    "node_id": "MDM6Qm90NDE4OTgyODI=",
                    "type": "Bot",
                    "site_admin": false
                },
                "assets": []
            });
            state.releases.push(release.clone());
            return reply(&Answer::json(201, release));
        }
        reply(&not_found("https://docs.github.com/rest"))
    }
}

/// The asset endpoints, or `None` for another request.
fn assets(
    state: &mut State,
    method: &str,
    path: &str,
    request: &Request,
) -> Option<ResponseTemplate> {
    let repo_path = format!("/repos/{REPOSITORY}/releases/");
    if let Some(id) = path.strip_prefix("/download/") {
        let id: u64 = id.parse().ok()?;
        let blob = state.blobs.get(&id)?.clone();
        return Some(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/octet-stream")
                .set_body_bytes(blob),
        );
    }
    let rest = path.strip_prefix(&repo_path)?;
    if let Some(asset_id) = rest.strip_prefix("assets/") {
        let asset_id: u64 = asset_id.parse().ok()?;
        let at = state.assets.iter().position(|(_, a)| a["id"] == asset_id);
        return Some(match (method, at) {
            ("DELETE", Some(i)) => {
                state.assets.remove(i);
                state.blobs.remove(&asset_id);
                ResponseTemplate::new(204)
            }
            ("GET", Some(_)) => ResponseTemplate::new(302)
                .insert_header("location", format!("{}/download/{asset_id}", state.base)),
            _ => reply(&not_found(
                "https://docs.github.com/rest/releases/assets#get-a-release-asset",
            )),
        });
    }
    let release_id: u64 = rest.strip_suffix("/assets")?.parse().ok()?;
    if !state.releases.iter().any(|r| r["id"] == release_id) {
        return Some(reply(&not_found(
            "https://docs.github.com/rest/releases/assets",
        )));
    }
    match method {
        "GET" => {
            let list: Vec<Value> = state
                .assets
                .iter()
                .filter(|(r, _)| *r == release_id)
                .map(|(_, a)| a.clone())
                .collect();
            Some(reply(&Answer::json(200, Value::Array(list))))
        }
        "POST" => {
            let name = request
                .url
                .query_pairs()
                .find(|(k, _)| k == "name")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            if state
                .assets
                .iter()
                .any(|(r, a)| *r == release_id && a["name"] == name.as_str())
            {
                return Some(reply(&Answer::json(
                    422,
                    json!({
                        "message": "Validation Failed",
                        "errors": [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}],
                        "documentation_url": "https://docs.github.com/rest/releases/assets#upload-a-release-asset",
                        "status": "422",
                    }),
                )));
            }
            state.next_id += 1;
            let id = state.next_id;
            let cut_off = state.cut_off_upload.as_deref() == Some(name.as_str());
            let asset = json!({
                "url": format!("{}/repos/{REPOSITORY}/releases/assets/{id}", state.base),
                "browser_download_url": format!("https://github.com/{REPOSITORY}/releases/download/v/{name}"),
                "id": id,
                "node_id": format!("RA_kwDOAAAAA{id}"),
                "name": name,
                "label": "",
                "state": if cut_off { "starter" } else { "uploaded" },
                "content_type": "application/octet-stream",
                "size": request.body.len(),
                "digest": if cut_off { Value::Null } else { json!(sha256(&request.body)) },
                "download_count": 0,
                "created_at": "2025-06-15T00:00:00Z",
                "updated_at": "2025-06-15T00:00:00Z",
            });
            state.assets.push((release_id, asset.clone()));
            if cut_off {
                state.cut_off_upload = None;
                return Some(reply(&Answer::error(502, "Bad Gateway")));
            }
            state.blobs.insert(id, request.body.clone());
            Some(reply(&Answer::json(201, asset)))
        }
        _ => None,
    }
}

/// `sha256:<hex>`, as GitHub writes asset digests.
pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{:x}", sha2::Sha256::digest(data))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FakeGithub {
    /// `release ARGS` in `repo`, hermetic, talking to this fake.
    pub fn release(&self, repo: &super::Repo, args: &[&str]) -> assert_cmd::assert::Assert {
        repo.release_hermetic().envs(self.env()).args(args).assert()
    }

    /// A fresh fake: the token may push, no releases yet.
    pub async fn start() -> FakeGithub {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            releases: Vec::new(),
            push: true,
            post_script: VecDeque::new(),
            post_always: None,
            all_requests: None,
            appears_on_post: None,
            assets: Vec::new(),
            blobs: std::collections::HashMap::new(),
            cut_off_upload: None,
            base: server.uri(),
            next_id: 0,
        }));
        Mock::given(any())
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        FakeGithub { server, state }
    }

    /// `GITHUB_API_URL` for `release`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The variables that point `release` here: token, API URL, repository, and a short retry
    /// backoff (10 ms) so retries cost no time.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GITHUB_TOKEN", TOKEN.to_string()),
            ("GITHUB_API_URL", self.uri()),
            ("GITHUB_REPOSITORY", REPOSITORY.to_string()),
            ("RELEASE_AGENT_RETRY_BASE_MS", "10".to_string()),
        ]
    }

    /// The state, to read or to script.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Releases created so far.
    pub fn releases(&self) -> Vec<Value> {
        self.state().releases.clone()
    }

    /// Every request received, in order.
    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    /// `METHOD /path` of every request received, in order.
    pub async fn request_lines(&self) -> Vec<String> {
        self.requests()
            .await
            .iter()
            .map(|r| format!("{} {}", r.method, r.url.path()))
            .collect()
    }

    /// How many `POST .../releases` requests (release creations) were received.
    pub async fn post_count(&self) -> usize {
        self.release_posts().await.len()
    }

    async fn release_posts(&self) -> Vec<Request> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/releases"))
            .collect()
    }

    /// The JSON bodies of the `POST .../releases` requests received, in order.
    pub async fn posts(&self) -> Vec<Value> {
        self.release_posts()
            .await
            .iter()
            .map(|r| serde_json::from_slice(&r.body).expect("POST bodies are JSON"))
            .collect()
    }

    /// The raw bodies of the `POST .../releases` requests, as text.
    pub async fn raw_posts(&self) -> Vec<String> {
        self.release_posts()
            .await
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect()
    }

    /// The asset names of the upload requests received, in order.
    pub async fn uploads(&self) -> Vec<String> {
        self.requests()
            .await
            .iter()
            .filter(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/assets"))
            .filter_map(|r| {
                r.url
                    .query_pairs()
                    .find(|(k, _)| k == "name")
                    .map(|(_, v)| v.into_owned())
            })
            .collect()
    }

    /// The assets GitHub holds: (name, state, content).
    pub fn assets(&self) -> Vec<(String, String, Vec<u8>)> {
        let s = self.state();
        s.assets
            .iter()
            .map(|(_, a)| {
                let id = a["id"].as_u64().unwrap_or_default();
                (
                    a["name"].as_str().unwrap_or_default().to_string(),
                    a["state"].as_str().unwrap_or_default().to_string(),
                    s.blobs.get(&id).cloned().unwrap_or_default(),
                )
            })
            .collect()
    }
}
