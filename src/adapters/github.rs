//! GitHub: the repository's permissions and its releases, through octocrab.
//!
//! Only octocrab's raw requests are used, so that this module decides what a status means:
//! 5xx, 429 and rate-limit 403s are retried with backoff (honouring `Retry-After` and
//! `x-ratelimit-reset`), other 4xx never are. Commit text reaches GitHub only as JSON data.

use http::StatusCode;
use octocrab::Octocrab;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::config::environ::Environ;
use crate::util::redact;

pub use crate::core::remote::DEFAULT_API;

/// A GitHub request that failed.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    /// No token to authenticate with.
    #[error("no GitHub token: set GITHUB_TOKEN (in Actions: `env: GITHUB_TOKEN: ${{{{ secrets.GITHUB_TOKEN }}}}` with `permissions: contents: write`), or name an SSM SecureString parameter in [github] token_ssm_parameter")]
    NoToken,
    /// The repository could not be determined.
    #[error("cannot tell which GitHub repository to release to: set GITHUB_REPOSITORY=owner/name or use a GitHub `origin` remote")]
    NoRepository,
    /// GitHub answered with an error status.
    #[error("GitHub {method} {path} answered {status}: {message}{hint}")]
    Status {
        /// HTTP method.
        method: &'static str,
        /// Request path.
        path: String,
        /// Status code.
        status: u16,
        /// GitHub's message.
        message: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// The request did not get an answer.
    #[error("GitHub {method} {path} failed: {message}")]
    Transport {
        /// HTTP method.
        method: &'static str,
        /// Request path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The client could not be built.
    #[error("cannot set up the GitHub client for {api}: {message}")]
    Client {
        /// API base URL.
        api: String,
        /// Why.
        message: String,
    },
}

/// `owner/name`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoId {
    /// Owner.
    pub owner: String,
    /// Name.
    pub name: String,
}

impl RepoId {
    /// Parse `owner/name` (as in `GITHUB_REPOSITORY`).
    pub fn parse(s: &str) -> Option<RepoId> {
        let (owner, name) = s.trim().split_once('/')?;
        let name = name.strip_suffix(".git").unwrap_or(name);
        (!owner.is_empty() && !name.is_empty() && !name.contains('/')).then(|| RepoId {
            owner: owner.into(),
            name: name.into(),
        })
    }
}

impl std::fmt::Display for RepoId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A release as GitHub describes it (the fields we use).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct GithubRelease {
    /// Release id.
    pub id: u64,
    /// Its tag.
    pub tag_name: String,
    /// Web page.
    #[serde(default)]
    pub html_url: String,
    /// Draft flag.
    #[serde(default)]
    pub draft: bool,
    /// Pre-release flag.
    #[serde(default)]
    pub prerelease: bool,
    /// Where its assets are uploaded (a URI template ending in `{?name,label}`).
    #[serde(default)]
    pub upload_url: String,
}

/// A file attached to a release (the fields we use).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ReleaseAsset {
    /// Asset id.
    pub id: u64,
    /// File name.
    pub name: String,
    /// `uploaded` when complete; an upload that was cut off leaves another state.
    #[serde(default)]
    pub state: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// `sha256:<hex>`, which GitHub computes on upload (absent on assets from before 2025).
    #[serde(default)]
    pub digest: Option<String>,
}

impl ReleaseAsset {
    /// Whether the upload completed.
    pub fn complete(&self) -> bool {
        self.state == "uploaded"
    }
}

/// What `POST /repos/{owner}/{repo}/releases` receives.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NewRelease {
    /// The existing tag.
    pub tag_name: String,
    /// Title.
    pub name: String,
    /// Markdown body (the release notes).
    pub body: String,
    /// Never a draft: a draft is invisible to users and to `GET /releases/tags/{tag}`.
    pub draft: bool,
    /// Marked as a pre-release.
    pub prerelease: bool,
}

/// Retry policy; tests shorten it.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all, first included.
    pub attempts: u32,
    /// First backoff; doubles each time.
    pub base: Duration,
    /// Longest wait between attempts.
    pub max_wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            base: Duration::from_secs(1),
            max_wait: Duration::from_secs(60),
        }
    }
}

impl Retry {
    /// The default policy, with the first backoff from `RELEASE_AGENT_RETRY_BASE_MS` when set.
    pub fn from_environ(environ: &Environ) -> Retry {
        let mut r = Retry::default();
        if let Some(ms) = environ
            .get("RELEASE_AGENT_RETRY_BASE_MS")
            .and_then(|v| v.parse().ok())
        {
            r.base = Duration::from_millis(ms);
        }
        r
    }
}

/// A client for one repository.
pub struct Github {
    client: Octocrab,
    repo: RepoId,
    retry: Retry,
    /// The hosts the token may go to: the API's, and GitHub.com's upload host.
    token_hosts: Vec<String>,
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
    /// The raw body, for downloads.
    bytes: bytes::Bytes,
}

/// A request's method and body.
#[derive(Clone, Copy)]
enum Call<'a> {
    Get,
    /// A download: `Accept: application/octet-stream`.
    Download,
    Json(&'a serde_json::Value),
    Upload(&'a bytes::Bytes),
    Delete,
}

impl Call<'_> {
    fn method(&self) -> &'static str {
        match self {
            Call::Get | Call::Download => "GET",
            Call::Json(_) | Call::Upload(_) => "POST",
            Call::Delete => "DELETE",
        }
    }
}

impl Github {
    /// A client for `repo` at `api` (e.g. `https://api.github.com` or a GHE `/api/v3`).
    pub fn new(api: &str, token: &str, repo: RepoId, retry: Retry) -> Result<Github, GithubError> {
        redact::register(token);
        let host = |url: &str| {
            url.parse::<http::Uri>()
                .ok()
                .and_then(|u| u.authority().map(|a| a.to_string()))
        };
        let api_host = host(api).unwrap_or_default();
        // GitHub.com takes uploads on another host; GHE and tests on the API's own.
        let upload = if api_host == "api.github.com" {
            "https://uploads.github.com".to_string()
        } else {
            api.to_string()
        };
        let token_hosts = [Some(api_host), host(&upload)]
            .into_iter()
            .flatten()
            .collect();
        let client = Octocrab::builder()
            .base_uri(api)
            .and_then(|b| b.upload_uri(upload.as_str()))
            .and_then(|b| {
                b.personal_token(token.to_string())
                    .set_connect_timeout(Some(Duration::from_secs(10)))
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .build()
            })
            .map_err(|e| GithubError::Client {
                api: api.to_string(),
                message: redact::redact(&e.to_string()).into_owned(),
            })?;
        Ok(Github {
            client,
            repo,
            retry,
            token_hosts,
        })
    }

    /// The repository.
    pub fn repo(&self) -> &RepoId {
        &self.repo
    }

    /// Whether the token may push to the repository (`GET /repos/{owner}/{repo}`).
    pub async fn can_push(&self) -> Result<bool, GithubError> {
        let path = format!("/repos/{}", self.repo);
        let answer = self.send(&path, Call::Get).await?;
        if !answer.status.is_success() {
            return Err(self.status_error("GET", &path, &answer));
        }
        let value: serde_json::Value = serde_json::from_str(&answer.body).unwrap_or_default();
        // Tokens without repository metadata access (fine-grained, contents only) get no
        // `permissions` object; the push itself will tell then.
        Ok(value
            .get("permissions")
            .and_then(|p| p.get("push"))
            .and_then(|p| p.as_bool())
            .unwrap_or(true))
    }

    /// The published release of `tag`, if any (`GET /repos/{owner}/{repo}/releases/tags/{tag}`).
    pub async fn release_by_tag(&self, tag: &str) -> Result<Option<GithubRelease>, GithubError> {
        let path = format!(
            "/repos/{}/releases/tags/{}",
            self.repo,
            redact::percent_encode(tag)
        );
        let answer = self.send(&path, Call::Get).await?;
        match answer.status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => self.parse("GET", &path, &answer).map(Some),
            _ => Err(self.status_error("GET", &path, &answer)),
        }
    }

    /// Create a release. A concurrent creation of the same tag (`422 already_exists`) returns
    /// the release that won.
    pub async fn create_release(&self, release: &NewRelease) -> Result<GithubRelease, GithubError> {
        let path = format!("/repos/{}/releases", self.repo);
        let body = serde_json::to_value(release).unwrap_or_default();
        let answer = self.send(&path, Call::Json(&body)).await?;
        if answer.status.is_success() {
            return self.parse("POST", &path, &answer);
        }
        if answer.status == StatusCode::UNPROCESSABLE_ENTITY
            && answer.body.contains("already_exists")
        {
            if let Some(existing) = self.release_by_tag(&release.tag_name).await? {
                return Ok(existing);
            }
        }
        Err(self.status_error("POST", &path, &answer))
    }

    /// Every asset of `release` (`GET .../releases/{id}/assets`, all pages).
    pub async fn assets(&self, release: &GithubRelease) -> Result<Vec<ReleaseAsset>, GithubError> {
        let mut all = Vec::new();
        for page in 1.. {
            let path = format!(
                "/repos/{}/releases/{}/assets?per_page=100&page={page}",
                self.repo, release.id
            );
            let answer = self.send(&path, Call::Get).await?;
            if !answer.status.is_success() {
                return Err(self.status_error("GET", &path, &answer));
            }
            let batch: Vec<ReleaseAsset> = self.parse("GET", &path, &answer)?;
            let last = batch.len() < 100;
            all.extend(batch);
            if last {
                break;
            }
        }
        Ok(all)
    }

    /// Upload `data` as asset `name` of `release`, to the release's `upload_url`. `None`: an
    /// asset of that name exists (`422 already_exists`).
    pub async fn upload_asset(
        &self,
        release: &GithubRelease,
        name: &str,
        data: bytes::Bytes,
    ) -> Result<Option<ReleaseAsset>, GithubError> {
        let base = release
            .upload_url
            .split_once('{')
            .map_or(release.upload_url.as_str(), |(b, _)| b);
        let host = base
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.authority().map(|a| a.to_string()));
        // The token goes only where octocrab sends it; an upload URL elsewhere would fail
        // unauthenticated, or worse, so it is refused with the reason.
        if !host.is_some_and(|h| self.token_hosts.contains(&h)) {
            return Err(GithubError::Transport {
                method: "POST",
                path: redact::redact(base).into_owned(),
                message: format!(
                    "the release's upload_url is not on {}; refusing to send the token there",
                    self.token_hosts.join(" or ")
                ),
            });
        }
        let url = format!("{base}?name={}", redact::percent_encode(name));
        let answer = self.send(&url, Call::Upload(&data)).await?;
        if answer.status == StatusCode::UNPROCESSABLE_ENTITY
            && answer.body.contains("already_exists")
        {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(self.status_error("POST", base, &answer));
        }
        self.parse("POST", base, &answer).map(Some)
    }

    /// Delete an asset (an upload that was cut off).
    pub async fn delete_asset(&self, asset: &ReleaseAsset) -> Result<(), GithubError> {
        let path = format!("/repos/{}/releases/assets/{}", self.repo, asset.id);
        let answer = self.send(&path, Call::Delete).await?;
        if answer.status.is_success() || answer.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(self.status_error("DELETE", &path, &answer))
    }

    /// The asset's `sha256:<hex>`: GitHub's own, or (for assets from before GitHub kept
    /// digests) the digest of its content, downloaded.
    pub async fn asset_digest(&self, asset: &ReleaseAsset) -> Result<String, GithubError> {
        if let Some(d) = asset.digest.as_deref().filter(|d| d.starts_with("sha256:")) {
            return Ok(d.to_string());
        }
        let path = format!("/repos/{}/releases/assets/{}", self.repo, asset.id);
        let mut answer = self.send(&path, Call::Download).await?;
        // GitHub redirects to its storage, where the token must not go (octocrab sends it only
        // to the API and upload hosts).
        if answer.status.is_redirection() {
            if let Some(location) = answer
                .headers
                .get(http::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(str::to_string)
            {
                answer = self.send(&location, Call::Download).await?;
            }
        }
        if !answer.status.is_success() {
            return Err(self.status_error("GET", &path, &answer));
        }
        Ok(crate::util::sha256::digest(&answer.bytes))
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        method: &'static str,
        path: &str,
        answer: &Answer,
    ) -> Result<T, GithubError> {
        serde_json::from_str(&answer.body).map_err(|e| GithubError::Transport {
            method,
            path: path.to_string(),
            message: format!("unexpected response body: {e}"),
        })
    }

    fn status_error(&self, method: &'static str, path: &str, answer: &Answer) -> GithubError {
        let message = serde_json::from_str::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| answer.body.chars().take(200).collect());
        let hint = match answer.status.as_u16() {
            401 => " (the token is invalid or expired)",
            403 => " (the token lacks permission: it needs contents: write)",
            404 => " (check GITHUB_REPOSITORY and that the token can see the repository)",
            _ => "",
        };
        GithubError::Status {
            method,
            path: path.to_string(),
            status: answer.status.as_u16(),
            message: redact::redact(&message).into_owned(),
            hint,
        }
    }

    /// One request with the retry policy.
    async fn send(&self, path: &str, call: Call<'_>) -> Result<Answer, GithubError> {
        let method = call.method();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match call {
                Call::Get => self.client._get(path).await,
                Call::Json(b) => self.client._post(path, Some(b)).await,
                Call::Delete => self.client._delete(path, None::<&()>).await,
                Call::Download => {
                    let mut headers = http::HeaderMap::new();
                    headers.insert(
                        http::header::ACCEPT,
                        http::HeaderValue::from_static("application/octet-stream"),
                    );
                    self.client._get_with_headers(path, Some(headers)).await
                }
                Call::Upload(data) => {
                    match http::Request::builder()
                        .method(http::Method::POST)
                        .uri(path)
                        .header(http::header::CONTENT_TYPE, "application/octet-stream")
                        .header(http::header::CONTENT_LENGTH, data.len())
                        .body(data.clone())
                    {
                        Ok(request) => self.client.execute(request).await,
                        Err(e) => {
                            return Err(GithubError::Transport {
                                method,
                                path: path.to_string(),
                                message: e.to_string(),
                            })
                        }
                    }
                }
            };
            let answer = match result {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let bytes = http_body_util::BodyExt::collect(response.into_body())
                        .await
                        .map(|c| c.to_bytes())
                        .unwrap_or_default();
                    Ok(Answer {
                        status,
                        headers,
                        body: String::from_utf8_lossy(&bytes).into_owned(),
                        bytes,
                    })
                }
                Err(e) => Err(redact::redact(&e.to_string()).into_owned()),
            };
            let wait = match &answer {
                Ok(a) => retry_after(a, attempt, &self.retry),
                Err(_) => Some(backoff(attempt, &self.retry)),
            };
            match (answer, wait) {
                (Ok(a), None) => return Ok(a),
                (Ok(a), Some(_)) if attempt >= self.retry.attempts => return Ok(a),
                (Err(message), _) if attempt >= self.retry.attempts => {
                    return Err(GithubError::Transport {
                        method,
                        path: path.to_string(),
                        message,
                    })
                }
                (_, Some(wait)) => {
                    tracing::warn!(
                        "GitHub {method} {path}: retrying in {} ms (attempt {attempt})",
                        wait.as_millis()
                    );
                    tokio::time::sleep(wait).await;
                }
                (Err(message), None) => {
                    return Err(GithubError::Transport {
                        method,
                        path: path.to_string(),
                        message,
                    })
                }
            }
        }
    }
}

/// Exponential backoff for `attempt` (1-based), capped.
fn backoff(attempt: u32, retry: &Retry) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    retry.base.saturating_mul(factor).min(retry.max_wait)
}

/// Whether (and how long) to wait before retrying this answer; `None`: do not retry.
fn retry_after(answer: &Answer, attempt: u32, retry: &Retry) -> Option<Duration> {
    let status = answer.status;
    let header = |name: &str| answer.headers.get(name).and_then(|v| v.to_str().ok());
    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (header("x-ratelimit-remaining") == Some("0")
                || answer.body.contains("rate limit")));
    if !(status.is_server_error() || rate_limited) {
        return None;
    }
    let told = header("retry-after")
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .or_else(|| {
            let reset: u64 = header("x-ratelimit-reset")?.parse().ok()?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs();
            Some(Duration::from_secs(reset.saturating_sub(now)))
        });
    Some(told.map_or_else(|| backoff(attempt, retry), |d| d.min(retry.max_wait)))
}

/// The login of the user `token` belongs to: `GET {api}/user`.
pub fn github_login(api: &str, token: &str) -> Result<String, String> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent();
    let url = format!("{}/user", api.trim_end_matches('/'));
    let mut response = agent
        .get(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .header("User-Agent", "release-agent")
        .call()
        .map_err(|e| format!("GET {url} failed: {}", redact::redact(&e.to_string())))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    if status != 200 {
        let message = value
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default();
        let hint = match status {
            401 => " (the token is invalid or expired)",
            403 => " (an app installation token, such as Actions' GITHUB_TOKEN, names no user: use a personal token, or run in GitHub Actions)",
            _ => "",
        };
        return Err(format!(
            "GitHub GET /user answered {status} {}{hint}",
            redact::redact(message)
        ));
    }
    value
        .get("login")
        .and_then(|l| l.as_str())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "GitHub GET /user answered without a login".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&'static str, &str)], body: &str) -> Answer {
        let mut h = http::HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: h,
            body: body.into(),
            bytes: bytes::Bytes::new(),
        }
    }

    #[test]
    fn which_answers_are_retried() {
        let r = Retry::default();
        assert_eq!(retry_after(&answer(200, &[], ""), 1, &r), None);
        assert_eq!(retry_after(&answer(404, &[], ""), 1, &r), None);
        assert_eq!(retry_after(&answer(422, &[], ""), 1, &r), None);
        assert_eq!(
            retry_after(&answer(403, &[], "Resource not accessible"), 1, &r),
            None
        );
        assert_eq!(
            retry_after(&answer(502, &[], ""), 1, &r),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            retry_after(&answer(503, &[], ""), 3, &r),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            retry_after(&answer(429, &[("retry-after", "7")], ""), 1, &r),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(
                &answer(
                    403,
                    &[("x-ratelimit-remaining", "0"), ("retry-after", "2")],
                    ""
                ),
                1,
                &r
            ),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(
                &answer(403, &[], "You have exceeded a secondary rate limit"),
                1,
                &r
            ),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            retry_after(&answer(429, &[("retry-after", "9999")], ""), 1, &r),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn repo_ids() {
        assert_eq!(RepoId::parse("acme/app").unwrap().to_string(), "acme/app");
        assert_eq!(RepoId::parse("acme/app.git").unwrap().name, "app");
        assert_eq!(RepoId::parse("acme"), None);
        assert_eq!(RepoId::parse("a/b/c"), None);
    }

    #[test]
    fn tag_segments_are_encoded() {
        assert_eq!(
            redact::percent_encode("v1.2.3+build/x"),
            "v1.2.3%2Bbuild%2Fx"
        );
    }
}
