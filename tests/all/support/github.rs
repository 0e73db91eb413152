//! A fake GitHub REST API on loopback (wiremock) for `release cut` and `release ci`.
//!
//! It keeps state like GitHub does: `GET /repos/{o}/{r}/releases/tags/{tag}` answers 404 until
//! a `POST /repos/{o}/{r}/releases` created the release, a second creation of the same tag
//! answers `422 already_exists`, and failures can be scripted (so many 5xx, a persistent
//! status, a repository without push permission). Bodies follow GitHub's documented shapes.

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
                "upload_url": format!("https://uploads.github.com/repos/{REPOSITORY}/releases/{id}/assets{{?name,label}}"),
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

    /// How many `POST` requests were received.
    pub async fn post_count(&self) -> usize {
        self.request_lines()
            .await
            .iter()
            .filter(|l| l.starts_with("POST "))
            .count()
    }

    /// The JSON bodies of the `POST .../releases` requests received, in order.
    pub async fn posts(&self) -> Vec<Value> {
        self.requests()
            .await
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .map(|r| serde_json::from_slice(&r.body).expect("POST bodies are JSON"))
            .collect()
    }

    /// The raw bodies of the POST requests, as text.
    pub async fn raw_posts(&self) -> Vec<String> {
        self.requests()
            .await
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect()
    }
}
