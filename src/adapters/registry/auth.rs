//! Registry credentials, found where docker, podman and crane look for them, and the parser of
//! the `WWW-Authenticate` challenges a registry answers with.
//!
//! For a registry host, the first of these that has credentials wins:
//! 1. `RELEASE_REGISTRY_USERNAME` and `RELEASE_REGISTRY_PASSWORD` (for the configured registry);
//! 2. for `ghcr.io`, `GITHUB_ACTOR` and `GITHUB_TOKEN`, as in GitHub Actions;
//! 3. the auth files, in this order: `$REGISTRY_AUTH_FILE`,
//!    `$XDG_RUNTIME_DIR/containers/auth.json`, `$XDG_CONFIG_HOME/containers/auth.json` (else
//!    `~/.config/containers/auth.json`), `$DOCKER_CONFIG/config.json` (else
//!    `~/.docker/config.json`). In a file, a `credHelpers` entry for the host runs
//!    `docker-credential-<helper> get`; else the `auths` entry (key `host`, `https://host`,
//!    `https://host/v1/`, ...) gives `auth`, base64 `user:password`; else `credsStore` runs its
//!    helper.
//!
//! Every secret found is registered for redaction before it is returned.

use crate::config::environ::Environ;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;

use crate::util::redact;

/// The variable with the registry user name.
pub const USERNAME_VAR: &str = "RELEASE_REGISTRY_USERNAME";
/// The variable with the registry password or token.
pub const PASSWORD_VAR: &str = "RELEASE_REGISTRY_PASSWORD";

/// The auth files read, for error messages.
pub const AUTH_FILES: &str = "$REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json, $DOCKER_CONFIG/config.json or ~/.docker/config.json";

/// Registry credentials: user and password (or token), and where they came from.
#[derive(Clone)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password or token.
    pub password: String,
    /// `base64(user:password)`, as in an auth file and a `Basic` header.
    pub auth: String,
    /// Where they were found (a variable or file name; never a secret), for messages.
    pub source: String,
}

impl Credentials {
    /// Credentials from a user and password; the password and the base64 form are registered
    /// for redaction.
    pub fn new(user: &str, password: &str, source: impl Into<String>) -> Credentials {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        redact::register(password);
        redact::register(&auth);
        Credentials {
            user: user.to_string(),
            password: password.to_string(),
            auth,
            source: source.into(),
        }
    }

    /// From `auth` (base64 `user:password`, as in an auth file or an ECR token); `None` when it
    /// is not that. The raw value is registered for redaction first.
    pub fn from_auth(auth: &str, source: impl Into<String>) -> Option<Credentials> {
        redact::register(auth);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (user, password) = text.split_once(':')?;
        Some(Credentials::new(user, password, source))
    }

    /// The `Authorization` value of Basic authentication.
    pub fn basic(&self) -> String {
        format!("Basic {}", self.auth)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***, from {})", self.user, self.source)
    }
}

/// Credentials that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// One variable of a pair without the other.
    #[error("{set} is set but {missing} is not: set both, or neither")]
    HalfSet {
        /// The variable that is set.
        set: &'static str,
        /// The one that is missing.
        missing: &'static str,
    },
    /// An auth file that exists but cannot be read.
    #[error("cannot read the registry auth file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An auth file that is not JSON of the expected shape.
    #[error("{} is not a valid registry auth file ({message}): fix it, or log in again", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An `auth` entry that is not base64 `user:password`.
    #[error("the `auth` of {host} in {} is not base64 `user:password`: log in again with `docker login {host}`", path.display())]
    BadAuth {
        /// The registry.
        host: String,
        /// The file.
        path: PathBuf,
    },
    /// An identity (OAuth refresh) token, which needs a token exchange we do not do.
    #[error("the credentials of {host} in {origin} are an identity token, which release-agent does not support: set RELEASE_REGISTRY_USERNAME and RELEASE_REGISTRY_PASSWORD (a password or access token) instead")]
    IdentityToken {
        /// The registry.
        host: String,
        /// The file or helper.
        origin: String,
    },
    /// A credential helper that failed or answered nonsense.
    #[error("credential helper docker-credential-{helper} (from {}) failed for {host}: {message}", path.display())]
    Helper {
        /// The helper name.
        helper: String,
        /// The registry.
        host: String,
        /// The auth file that names the helper.
        path: PathBuf,
        /// Why, secrets masked.
        message: String,
    },
}

/// The credentials for registry `host` (`host[:port]`), from the environment and the auth
/// files; `None` when there are none (anonymous access).
pub fn lookup(host: &str, environ: &Environ) -> Result<Option<Credentials>, AuthError> {
    lookup_in(host, &|name| environ.lookup(name))
}

/// [`lookup`] with the environment given as a function (tests pass their own).
pub fn lookup_in(
    host: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, AuthError> {
    match (env(USERNAME_VAR), env(PASSWORD_VAR)) {
        (Some(user), Some(password)) => {
            return Ok(Some(Credentials::new(
                &user,
                &password,
                format!("{USERNAME_VAR}/{PASSWORD_VAR}"),
            )))
        }
        (Some(_), None) => {
            return Err(AuthError::HalfSet {
                set: USERNAME_VAR,
                missing: PASSWORD_VAR,
            })
        }
        (None, Some(_)) => {
            return Err(AuthError::HalfSet {
                set: PASSWORD_VAR,
                missing: USERNAME_VAR,
            })
        }
        (None, None) => {}
    }
    if host == "ghcr.io" {
        if let (Some(user), Some(token)) = (env("GITHUB_ACTOR"), env("GITHUB_TOKEN")) {
            return Ok(Some(Credentials::new(
                &user,
                &token,
                "GITHUB_ACTOR/GITHUB_TOKEN",
            )));
        }
    }
    for path in auth_files(env) {
        if let Some(c) = from_file(host, &path, env)? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// The auth files to read, in order (podman's order, with docker's file last).
pub fn auth_files(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let home = env("HOME").map(PathBuf::from);
    let mut files = Vec::new();
    if let Some(f) = env("REGISTRY_AUTH_FILE") {
        files.push(PathBuf::from(f));
    }
    if let Some(d) = env("XDG_RUNTIME_DIR") {
        files.push(Path::new(&d).join("containers/auth.json"));
    }
    match (env("XDG_CONFIG_HOME"), &home) {
        (Some(d), _) => files.push(Path::new(&d).join("containers/auth.json")),
        (None, Some(h)) => files.push(h.join(".config/containers/auth.json")),
        (None, None) => {}
    }
    match (env("DOCKER_CONFIG"), &home) {
        (Some(d), _) => files.push(Path::new(&d).join("config.json")),
        (None, Some(h)) => files.push(h.join(".docker/config.json")),
        (None, None) => {}
    }
    files
}

/// The Docker Hub hosts, which share one credential entry.
const DOCKER_HUB: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

/// Whether an `auths` key (`host`, `https://host`, `https://host/v1/`) names `host`.
fn key_matches(key: &str, host: &str) -> bool {
    let bare = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let bare = bare.split('/').next().unwrap_or(bare);
    bare == host || (DOCKER_HUB.contains(&bare) && DOCKER_HUB.contains(&host))
}

/// The name a credential helper knows the host by (Docker Hub's is its v1 URL).
fn server_url(host: &str) -> String {
    if DOCKER_HUB.contains(&host) {
        "https://index.docker.io/v1/".to_string()
    } else {
        host.to_string()
    }
}

/// The entry of `map` (an `auths` or `credHelpers` object) for `host`: the exact key first.
fn entry<'a>(
    map: Option<&'a serde_json::Map<String, serde_json::Value>>,
    host: &str,
) -> Option<&'a serde_json::Value> {
    let map = map?;
    map.get(host).or_else(|| {
        map.iter()
            .find(|(k, _)| key_matches(k, host))
            .map(|(_, v)| v)
    })
}

/// The credentials for `host` in one auth file; `None` when the file does not exist or has
/// none for the host. `env` gives the `PATH` credential helpers are found on.
pub fn from_file(
    host: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, AuthError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(AuthError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let parse_error = |message: String| AuthError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| parse_error(e.to_string()))?;
    let object = value
        .as_object()
        .ok_or_else(|| parse_error("not a JSON object".into()))?;
    if let Some(helper) = entry(object.get("credHelpers").and_then(|v| v.as_object()), host) {
        let helper = helper
            .as_str()
            .ok_or_else(|| parse_error(format!("credHelpers of {host} is not a string")))?;
        return run_helper(helper, host, path, env);
    }
    if let Some(e) = entry(object.get("auths").and_then(|v| v.as_object()), host) {
        let field = |name: &str| {
            e.get(name)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        let source = path.display().to_string();
        if let Some(token) = field("identitytoken") {
            redact::register(token);
            return Err(AuthError::IdentityToken {
                host: host.to_string(),
                origin: source,
            });
        }
        if let Some(auth) = field("auth") {
            return Credentials::from_auth(auth, source)
                .map(Some)
                .ok_or_else(|| AuthError::BadAuth {
                    host: host.to_string(),
                    path: path.to_path_buf(),
                });
        }
        if let (Some(user), Some(password)) = (field("username"), field("password")) {
            return Ok(Some(Credentials::new(user, password, source)));
        }
        // An empty entry: docker writes these when the secret is in `credsStore`.
    }
    match object.get("credsStore").and_then(|v| v.as_str()) {
        Some(store) if !store.is_empty() => run_helper(store, host, path, env),
        _ => Ok(None),
    }
}

/// `docker-credential-<helper> get` with the server URL on stdin (no shell, no argument but
/// `get`); `None` when the helper has no credentials for it.
fn run_helper(
    helper: &str,
    host: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, AuthError> {
    let failure = |message: String| AuthError::Helper {
        helper: helper.to_string(),
        host: host.to_string(),
        path: path.to_path_buf(),
        message: redact::redact(&message).into_owned(),
    };
    // The name becomes part of a program name: no path separators.
    if helper.is_empty()
        || !helper
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        || helper.starts_with('.')
    {
        return Err(failure("not a valid helper name".into()));
    }
    let program = format!("docker-credential-{helper}");
    let mut command = Command::new(&program);
    if let Some(p) = env("PATH") {
        // Set explicitly, the child's PATH is also where the program is looked up.
        command.env("PATH", p);
    }
    let mut child = command
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            failure(format!(
                "cannot run {program} ({e}): install it, or remove it from the auth file"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading stdin is judged by its answer below.
        let _ = stdin.write_all(server_url(host).as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failure(e.to_string()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let said = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        // The helpers' protocol: this text means "no credentials", not a failure.
        if said.contains("credentials not found") {
            return Ok(None);
        }
        let said: String = said.trim().chars().take(300).collect();
        return Err(failure(format!("{} ({said})", out.status)));
    }
    let answer: serde_json::Value = serde_json::from_str(&stdout)
        .map_err(|_| failure("the answer is not JSON with Username and Secret".into()))?;
    let get = |k: &str| answer.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let (user, secret) = (get("Username"), get("Secret"));
    redact::register(secret);
    if user == "<token>" {
        return Err(AuthError::IdentityToken {
            host: host.to_string(),
            origin: program,
        });
    }
    if secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials::new(user, secret, program)))
}

/// One challenge of a `WWW-Authenticate` header: the scheme (lowercase) and its parameters
/// (names lowercase, values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `basic`, `bearer`, ...
    pub scheme: String,
    /// `realm`, `service`, `scope`, ...
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn skip(&mut self, what: impl Fn(u8) -> bool) {
        while self.i < self.s.len() && what(self.s[self.i]) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.i;
        self.skip(is_tchar);
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// A quoted string starting at `"`: backslash escapes the next byte; an unterminated one
    /// runs to the end.
    fn quoted(&mut self) -> String {
        let mut out = Vec::new();
        self.i += 1;
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'"' => {
                    self.i += 1;
                    break;
                }
                b'\\' if self.i + 1 < self.s.len() => {
                    out.push(self.s[self.i + 1]);
                    self.i += 2;
                }
                b => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Every challenge in a `WWW-Authenticate` value (RFC 9110 §11.6.1): `Bearer realm="...",
/// service="...",scope="repository:app:pull,push"`, several challenges separated by commas,
/// quoted values with commas and escapes.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let is_space = |b: u8| b == b' ' || b == b'\t';
    let mut c = Cursor {
        s: header.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    while c.i < c.s.len() {
        c.skip(|b| b == b',' || is_space(b));
        let Some(scheme) = c.token() else {
            // Not a challenge: skip the byte and look further.
            c.i += 1;
            continue;
        };
        let mut params = BTreeMap::new();
        loop {
            let before = c.i;
            c.skip(|b| b == b',' || is_space(b));
            let Some(name) = c.token() else {
                c.i = before;
                break;
            };
            c.skip(is_space);
            if c.s.get(c.i) != Some(&b'=') {
                // The scheme of the next challenge (or a token68): not a parameter.
                c.i = before;
                break;
            }
            c.i += 1;
            c.skip(is_space);
            let value = if c.s.get(c.i) == Some(&b'"') {
                c.quoted()
            } else {
                c.token().unwrap_or_default()
            };
            params.insert(name.to_ascii_lowercase(), value);
        }
        out.push(Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| vars.get(k).cloned()
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn bearer_challenge_with_commas_in_quotes() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/app:pull,push""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.example/token"));
        assert_eq!(c[0].param("service"), Some("registry.example"));
        assert_eq!(c[0].param("scope"), Some("repository:team/app:pull,push"));
    }

    #[test]
    fn several_challenges_spaces_escapes_and_tokens() {
        let c = parse_challenges(
            r#"Basic realm="Registry \"Realm\"", BEARER  Realm = "https://a/t?x=1" , Service=reg.test,error="invalid_token""#,
        );
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some(r#"Registry "Realm""#));
        assert_eq!(c[1].scheme, "bearer");
        assert_eq!(c[1].param("realm"), Some("https://a/t?x=1"));
        assert_eq!(c[1].param("service"), Some("reg.test"));
        assert_eq!(c[1].param("error"), Some("invalid_token"));
        // A bare scheme, garbage and an unterminated quote do not panic nor loop.
        assert_eq!(parse_challenges("Basic")[0].scheme, "basic");
        assert!(parse_challenges("").is_empty());
        assert!(parse_challenges("  ,, ").is_empty());
        assert_eq!(
            parse_challenges(r#"Bearer realm="open"#)[0].param("realm"),
            Some("open")
        );
        assert_eq!(parse_challenges("\"x\" Basic realm=r")[1].scheme, "basic");
    }

    #[test]
    fn env_first_then_github_for_ghcr() {
        let e = env(&[
            (USERNAME_VAR, "robot"),
            (PASSWORD_VAR, "pa55word-env"),
            ("GITHUB_ACTOR", "octocat"),
            ("GITHUB_TOKEN", "ghs_token123"),
        ]);
        let c = lookup_in("ghcr.io", &e).unwrap().unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_str()),
            ("robot", "pa55word-env")
        );
        assert_eq!(c.auth, b64("robot:pa55word-env"));

        let e = env(&[
            ("GITHUB_ACTOR", "octocat"),
            ("GITHUB_TOKEN", "ghs_token123"),
        ]);
        let c = lookup_in("ghcr.io", &e).unwrap().unwrap();
        assert_eq!(
            (c.user.as_str(), c.source.as_str()),
            ("octocat", "GITHUB_ACTOR/GITHUB_TOKEN")
        );
        // GitHub's token is for GitHub's registry only.
        assert!(lookup_in("quay.io", &e).unwrap().is_none());

        let e = env(&[(USERNAME_VAR, "robot")]);
        let err = lookup_in("r.example", &e).unwrap_err().to_string();
        assert!(err.contains(PASSWORD_VAR), "{err}");
    }

    #[test]
    fn auth_files_in_order_and_key_forms() {
        let dir = tempfile::tempdir().unwrap();
        let docker = dir.path().join("docker");
        std::fs::create_dir_all(&docker).unwrap();
        std::fs::write(
            docker.join("config.json"),
            serde_json::json!({ "auths": {
                "https://r.example": { "auth": b64("docker-user:docker-pass") },
                "https://index.docker.io/v1/": { "auth": b64("hub-user:hub-pass") },
                "127.0.0.1:5000": { "username": "u", "password": "plain-pass" },
                "bad.example": { "auth": "%%%" },
                "id.example": { "identitytoken": "refresh-token-xyz" }
            }})
            .to_string(),
        )
        .unwrap();
        let podman = dir.path().join("auth.json");
        std::fs::write(
            &podman,
            serde_json::json!({ "auths": { "r.example": { "auth": b64("podman-user:podman-pass") } } })
                .to_string(),
        )
        .unwrap();
        let home = dir.path().to_str().unwrap();
        let docker_dir = docker.to_str().unwrap();
        let only_docker = env(&[("HOME", home), ("DOCKER_CONFIG", docker_dir)]);
        let c = lookup_in("r.example", &only_docker).unwrap().unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_str()),
            ("docker-user", "docker-pass")
        );
        assert!(c.source.ends_with("config.json"), "{}", c.source);
        let c = lookup_in("docker.io", &only_docker).unwrap().unwrap();
        assert_eq!(c.user, "hub-user");
        let c = lookup_in("127.0.0.1:5000", &only_docker).unwrap().unwrap();
        assert_eq!(c.password, "plain-pass");
        assert!(lookup_in("other.example", &only_docker).unwrap().is_none());
        let err = lookup_in("bad.example", &only_docker)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bad.example") && err.contains("docker login"),
            "{err}"
        );
        let err = lookup_in("id.example", &only_docker)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("identity token") && !err.contains("refresh-token-xyz"),
            "{err}"
        );

        // $REGISTRY_AUTH_FILE comes before docker's file.
        let both = env(&[
            ("HOME", home),
            ("DOCKER_CONFIG", docker_dir),
            ("REGISTRY_AUTH_FILE", podman.to_str().unwrap()),
        ]);
        assert_eq!(
            lookup_in("r.example", &both).unwrap().unwrap().user,
            "podman-user"
        );
        // ... and falls through to it for other hosts.
        assert_eq!(
            lookup_in("docker.io", &both).unwrap().unwrap().user,
            "hub-user"
        );

        // Without DOCKER_CONFIG, ~/.docker/config.json.
        let dot = dir.path().join(".docker");
        std::fs::create_dir_all(&dot).unwrap();
        std::fs::copy(docker.join("config.json"), dot.join("config.json")).unwrap();
        let c = lookup_in("r.example", &env(&[("HOME", home)]))
            .unwrap()
            .unwrap();
        assert_eq!(c.user, "docker-user");

        // A broken file is an error naming it.
        std::fs::write(&podman, "{ not json").unwrap();
        let err = lookup_in("r.example", &both).unwrap_err().to_string();
        assert!(err.contains("auth.json"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn credential_helpers_get_the_host_on_stdin() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        // The helper protocol: `get`, the server URL on stdin, JSON on stdout.
        let helper = bin.join("docker-credential-testhelper");
        std::fs::write(
            &helper,
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r host\nif [ \"$host\" = helped.example ]; then\n  printf '{\"ServerURL\":\"%s\",\"Username\":\"helper-user\",\"Secret\":\"helper-secret\"}' \"$host\"\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = dir.path().join("config.json");
        std::fs::write(
            &config,
            serde_json::json!({ "credHelpers": { "helped.example": "testhelper", "missing.example": "nosuchhelper" }, "credsStore": "testhelper" })
                .to_string(),
        )
        .unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let e = env(&[("PATH", path.as_str())]);
        let c = from_file("helped.example", &config, &e).unwrap().unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_str()),
            ("helper-user", "helper-secret")
        );
        assert_eq!(c.source, "docker-credential-testhelper");
        // credsStore for other hosts; "not found" is no credentials, not an error.
        assert!(from_file("other.example", &config, &e).unwrap().is_none());
        let err = from_file("missing.example", &config, &e)
            .unwrap_err()
            .to_string();
        assert!(err.contains("docker-credential-nosuchhelper"), "{err}");
    }
}
