//! Git remote URLs: which GitHub repository a remote names, and redaction of credentials.

/// Default API base.
pub const DEFAULT_API: &str = "https://api.github.com";

/// A repository on a GitHub server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubRepo {
    /// Web base, e.g. `https://github.com`.
    pub web: String,
    /// Owner (user or organisation).
    pub owner: String,
    /// Repository name without `.git`.
    pub name: String,
}

impl GithubRepo {
    /// `https://github.com/owner/name`
    pub fn url(&self) -> String {
        format!("{}/{}/{}", self.web, self.owner, self.name)
    }

    /// Link to one commit.
    pub fn commit_url(&self, id: &str) -> String {
        format!("{}/commit/{id}", self.url())
    }

    /// Link comparing two refs.
    pub fn compare_url(&self, from: &str, to: &str) -> String {
        format!("{}/compare/{from}...{to}", self.url())
    }
}

/// The REST API base for `repo`: `configured` (`GITHUB_API_URL`) when given, else
/// [`DEFAULT_API`] for github.com and `https://HOST/api/v3` for GitHub Enterprise, so a token
/// meant for an Enterprise server is never sent to github.com.
pub fn api_base(repo: &GithubRepo, configured: Option<&str>) -> String {
    match configured {
        Some(api) => api.trim_end_matches('/').to_string(),
        None if repo.web == "https://github.com" => DEFAULT_API.to_string(),
        None => format!("{}/api/v3", repo.web.trim_end_matches('/')),
    }
}

/// The GraphQL endpoint beside a REST API base: `https://api.github.com/graphql`, and
/// `https://HOST/api/graphql` for an Enterprise server's `https://HOST/api/v3`.
pub fn graphql_url(api: &str) -> String {
    let api = api.trim_end_matches('/');
    match api.strip_suffix("/v3") {
        Some(base) => format!("{base}/graphql"),
        None => format!("{api}/graphql"),
    }
}

/// Parse `url` as a GitHub remote. `server` is an extra web host that counts as GitHub
/// (GitHub Enterprise, from `GITHUB_SERVER_URL`).
pub fn parse_github(url: &str, server: Option<&str>) -> Option<GithubRepo> {
    let (host, path) = split_remote(url)?;
    let server_host = server.and_then(|s| split_remote(s).map(|(h, _)| h));
    let web = if host == "github.com" {
        "https://github.com".to_string()
    } else if server_host.as_deref() == Some(host.as_str()) {
        server?.trim_end_matches('/').to_string()
    } else {
        return None;
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let mut parts = path.split('/');
    let (owner, name) = (parts.next()?, parts.next()?);
    if owner.is_empty() || name.is_empty() || parts.next().is_some() {
        return None;
    }
    Some(GithubRepo {
        web,
        owner: owner.into(),
        name: name.into(),
    })
}

/// Host (without user, password or port) and path of `scheme://[user@]host[:port]/path` or
/// scp-like `user@host:path`.
fn split_remote(url: &str) -> Option<(String, String)> {
    if let Some((_, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit('@').next()?;
        let host = host.split(':').next()?;
        return Some((host.to_ascii_lowercase(), path.to_string()));
    }
    let (authority, path) = url.split_once(':')?;
    if authority.contains('/') {
        return None; // a local path such as ./a:b
    }
    let host = authority.rsplit('@').next()?;
    Some((host.to_ascii_lowercase(), path.to_string()))
}

/// The URL with any `user:password@` credentials replaced by `***@`.
pub fn redact_url(url: &str) -> String {
    match split_credentials(url) {
        Some((scheme, Some(_), host_and_path)) => format!("{scheme}://***@{host_and_path}"),
        _ => url.to_string(),
    }
}

/// A URL with a scheme as `(scheme, credentials, host and path)`: the credentials are what
/// precedes the last `@` of the authority, if anything does. `None` without `://`.
pub fn split_credentials(url: &str) -> Option<(&str, Option<&str>, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    Some(match rest[..authority_end].rfind('@') {
        Some(at) => (scheme, Some(&rest[..at]), &rest[at + 1..]),
        None => (scheme, None, rest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_sits_beside_the_rest_api() {
        assert_eq!(graphql_url(DEFAULT_API), "https://api.github.com/graphql");
        assert_eq!(
            graphql_url("https://ghe.example.com/api/v3/"),
            "https://ghe.example.com/api/graphql"
        );
        assert_eq!(
            graphql_url("http://127.0.0.1:9"),
            "http://127.0.0.1:9/graphql"
        );
        let dotcom = parse_github("git@github.com:o/r.git", None).unwrap();
        assert_eq!(api_base(&dotcom, None), DEFAULT_API);
        let ghe = parse_github(
            "https://ghe.example.com/o/r.git",
            Some("https://ghe.example.com"),
        )
        .unwrap();
        assert_eq!(api_base(&ghe, None), "https://ghe.example.com/api/v3");
        assert_eq!(api_base(&ghe, Some("http://mock/")), "http://mock");
    }

    #[test]
    fn credentials_are_found_in_the_authority_only() {
        assert_eq!(
            redact_url("https://x-access-token:abc@github.com/acme/app.git"),
            "https://***@github.com/acme/app.git"
        );
        assert_eq!(
            redact_url("https://github.com/a@b"),
            "https://github.com/a@b"
        );
        assert_eq!(
            redact_url("git@github.com:acme/app.git"),
            "git@github.com:acme/app.git"
        );
        assert_eq!(
            crate::core::image::source_url("https://u:p@host:8443/team/app.git"),
            "https://host:8443/team/app.git"
        );
        assert_eq!(
            crate::core::image::source_url("https://u@host"),
            "https://host/"
        );
        assert_eq!(
            crate::core::image::source_url("git@github.com:acme/app.git"),
            "https://github.com/acme/app"
        );
    }

    #[test]
    fn github_remote_forms() {
        for url in [
            "git@github.com:acme/app.git",
            "https://github.com/acme/app",
            "https://github.com/acme/app.git",
            "https://x-access-token:abc@github.com/acme/app.git",
            "ssh://git@github.com/acme/app.git",
            "ssh://git@github.com:22/acme/app",
        ] {
            let r = parse_github(url, None).unwrap_or_else(|| panic!("{url}"));
            assert_eq!(
                (r.owner.as_str(), r.name.as_str()),
                ("acme", "app"),
                "{url}"
            );
            assert_eq!(r.url(), "https://github.com/acme/app");
        }
    }

    #[test]
    fn other_hosts_are_not_github_unless_named() {
        assert_eq!(parse_github("git@gitlab.com:acme/app.git", None), None);
        assert_eq!(parse_github("/srv/git/app.git", None), None);
        let r = parse_github(
            "git@git.corp.example:acme/app.git",
            Some("https://git.corp.example/"),
        );
        assert_eq!(
            r.unwrap().commit_url("abc"),
            "https://git.corp.example/acme/app/commit/abc"
        );
        assert_eq!(parse_github("https://github.com/acme", None), None);
    }

    #[test]
    fn redacts_credentials() {
        assert_eq!(
            redact_url("https://x-access-token:ghs_secret@github.com/a/b.git"),
            "https://***@github.com/a/b.git"
        );
        assert_eq!(
            redact_url("https://github.com/a/b.git"),
            "https://github.com/a/b.git"
        );
        assert_eq!(
            redact_url("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
    }
}
