//! GitHub logins of commit authors: one batched GraphQL query asks, for one sample commit per
//! email, which GitHub user authored it; and the file under `.git/` that remembers the answers
//! so an email is asked once per clone.
//!
//! The GraphQL API is the one way to ask about many commits in one request: the REST API takes
//! one request per commit, and its search for users by email only finds public emails.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::redact;

/// The most commits one query asks about: GitHub limits the nodes a query may touch, and a
/// hundred aliases stay well inside that.
pub const MAX_ALIASES: usize = 100;

/// What a query needs besides the commits.
#[derive(Debug, Clone, Copy)]
pub struct LoginQuery<'a> {
    /// The GraphQL endpoint (see [`crate::core::remote::graphql_url`]).
    pub endpoint: &'a str,
    /// The token; registered for redaction by the caller.
    pub token: &'a str,
    /// Owner of the repository holding the commits.
    pub owner: &'a str,
    /// Its name.
    pub name: &'a str,
}

/// A lookup that gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The request did not get an answer.
    #[error("POST {url} failed: {reason}")]
    Request {
        /// The endpoint.
        url: String,
        /// Why, redacted.
        reason: String,
    },
    /// GitHub answered with an error status.
    #[error("GitHub GraphQL answered {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Status {
        /// The HTTP status.
        status: u16,
        /// GitHub's message, redacted.
        message: String,
    },
    /// The answer is not what GitHub's GraphQL API documents.
    #[error("GitHub GraphQL answered something unexpected: {0}")]
    Unexpected(String),
    /// GraphQL errors and no data (an unknown repository, a token without access).
    #[error("GitHub GraphQL answered with errors: {0}")]
    Graphql(String),
    /// More commits than one query may ask about.
    #[error("{0} commits in one query; at most {MAX_ALIASES}")]
    TooMany(usize),
}

/// The logins of the authors of `samples` (`(email, commit id)` pairs, at most
/// [`MAX_ALIASES`]), in one GraphQL request. The answer maps an email to `Some(login)`, or to
/// `None` when GitHub links the commit to no user (the email belongs to no account). An email
/// whose commit GitHub does not have (not pushed yet) is left out: it may be known later.
pub fn logins(
    query: &LoginQuery<'_>,
    samples: &[(String, String)],
) -> Result<HashMap<String, Option<String>>, LoginError> {
    if samples.len() > MAX_ALIASES {
        return Err(LoginError::TooMany(samples.len()));
    }
    // Commit ids come from git, but they are spliced into the query: only hex goes in.
    let samples: Vec<&(String, String)> = samples
        .iter()
        .filter(|(_, id)| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    if samples.is_empty() {
        return Ok(HashMap::new());
    }
    let mut text = String::from(
        "query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) {",
    );
    for (i, (_, id)) in samples.iter().enumerate() {
        text.push_str(&format!(
            " c{i}: object(oid: \"{id}\") {{ ... on Commit {{ author {{ user {{ login }} }} }} }}"
        ));
    }
    text.push_str(" } }");
    let body = serde_json::json!({
        "query": text,
        "variables": {"owner": query.owner, "name": query.name},
    })
    .to_string();
    let answer = post(query, &body)?;
    let repository = answer
        .get("data")
        .and_then(|d| d.get("repository"))
        .filter(|r| r.is_object());
    let Some(repository) = repository else {
        let errors = graphql_errors(&answer);
        return Err(if errors.is_empty() {
            LoginError::Unexpected("no data.repository".into())
        } else {
            LoginError::Graphql(errors)
        });
    };
    let mut out = HashMap::new();
    for (i, (email, _)) in samples.iter().enumerate() {
        // `null` for the alias: GitHub does not have the commit; say nothing of its author.
        let Some(author) = repository
            .get(format!("c{i}"))
            .and_then(|c| c.get("author"))
            .filter(|a| a.is_object())
        else {
            continue;
        };
        let login = author
            .get("user")
            .and_then(|u| u.get("login"))
            .and_then(|l| l.as_str())
            .filter(|l| !l.is_empty())
            .map(str::to_string);
        out.insert(email.clone(), login);
    }
    Ok(out)
}

/// POST `body` to the endpoint; the answer's JSON.
fn post(query: &LoginQuery<'_>, body: &str) -> Result<serde_json::Value, LoginError> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        // A changelog nicety: never hold a release up for long.
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .new_agent();
    let url = query.endpoint;
    let mut response = agent
        .post(url)
        .header("Authorization", &format!("Bearer {}", query.token))
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .header("User-Agent", "release-agent")
        .send(body)
        .map_err(|e| LoginError::Request {
            url: redact::redact(url).into_owned(),
            reason: redact::redact(&e.to_string()).into_owned(),
        })?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(4 * 1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    let value: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    if status != 200 {
        let message = value
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(|m| m.as_str())
            .unwrap_or_default();
        return Err(LoginError::Status {
            status,
            message: redact::redact(&redact::escape_controls(message)).into_owned(),
        });
    }
    value.ok_or_else(|| LoginError::Unexpected("the body is not JSON".into()))
}

/// The messages of a GraphQL answer's `errors`, joined and redacted.
fn graphql_errors(answer: &serde_json::Value) -> String {
    let messages: Vec<&str> = answer
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e.get("message").and_then(|m| m.as_str()))
                .collect()
        })
        .unwrap_or_default();
    redact::redact(&redact::escape_controls(&messages.join("; "))).into_owned()
}

/// Where the answers are remembered: `release-agent/logins.json` in the git common dir (shared
/// by the worktrees of one clone).
pub fn cache_path(git_common_dir: &Path) -> PathBuf {
    git_common_dir.join("release-agent").join("logins.json")
}

/// The remembered answers: email to login, or to `None` for an email of no account. A missing
/// file is an empty cache; an unreadable or corrupt one is an error, which the caller may
/// ignore (the cache is only a cache).
pub fn read_cache(path: &Path) -> Result<BTreeMap<String, Option<String>>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    serde_json::from_str(&text).map_err(|e| format!("{} is not a login cache: {e}", path.display()))
}

/// Write the answers to `path` atomically (a temporary file renamed over it): a run killed
/// meanwhile, or another one writing too, leaves a whole file.
pub fn write_cache(path: &Path, logins: &BTreeMap<String, Option<String>>) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(logins).map_err(std::io::Error::other)?;
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    std::fs::write(&tmp, format!("{text}\n"))?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_round_trips_and_a_corrupt_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = cache_path(dir.path());
        assert_eq!(read_cache(&path), Ok(BTreeMap::new()));
        let mut logins = BTreeMap::new();
        logins.insert("ann@example.com".to_string(), Some("ann".to_string()));
        logins.insert("bob@example.com".to_string(), None);
        write_cache(&path, &logins).unwrap();
        assert_eq!(read_cache(&path), Ok(logins));
        std::fs::write(&path, "{not json").unwrap();
        assert!(read_cache(&path).is_err());
        std::fs::write(&path, "[1, 2]").unwrap();
        assert!(read_cache(&path).is_err());
    }

    #[test]
    fn too_many_commits_are_refused_before_any_request() {
        let query = LoginQuery {
            endpoint: "http://127.0.0.1:9/graphql",
            token: "t",
            owner: "o",
            name: "r",
        };
        let samples: Vec<(String, String)> = (0..=MAX_ALIASES)
            .map(|i| (format!("{i}@x"), "ab".into()))
            .collect();
        assert!(matches!(
            logins(&query, &samples),
            Err(LoginError::TooMany(101))
        ));
        // Nothing but hex reaches the query: nothing to ask, no request.
        let odd = vec![("a@x".to_string(), "\" } evil".to_string())];
        assert!(logins(&query, &odd).unwrap().is_empty());
    }
}
