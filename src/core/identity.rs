//! Who runs release-agent, taken from a credential rather than from a name anyone can set.
//!
//! In order: with the SSM ledger, the AWS caller (`sts:GetCallerIdentity`); inside GitHub
//! Actions (`GITHUB_ACTIONS=true`), `GITHUB_ACTOR`, which GitHub sets; else the login a GitHub
//! token in `GITHUB_TOKEN`/`GH_TOKEN` belongs to (`GET /user`). Without any of them the
//! identity is git's `user.email`, marked unverified: it still names who deployed, but an
//! environment that lists `approvers` takes no approval from it.
//!
//! Approvers may name an AWS caller by its ARN, by the IAM role or user it is (role ARN or
//! name), or, for IAM Identity Center (SSO) roles, by the session name, which AWS sets to the
//! user's name. Other roles' session names are chosen by whoever assumes the role, so they
//! name nobody: every session of such a role is one approver, the role.

use serde::{Deserialize, Serialize};

use crate::config::environments::is_sso_role;
use crate::util::arn;

/// Where an identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The AWS caller, from `sts:GetCallerIdentity`.
    AwsSts,
    /// The owner of a GitHub token, from `GET /user`.
    GithubToken,
    /// `GITHUB_ACTOR` inside GitHub Actions.
    GithubActions,
    /// git's `user.email`: anyone can set it.
    GitConfig,
}

impl Source {
    /// How messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            Source::AwsSts => "AWS caller identity",
            Source::GithubToken => "GitHub token",
            Source::GithubActions => "GitHub Actions",
            Source::GitConfig => "git config, unverified",
        }
    }
}

/// Who wrote a ledger record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The AWS caller ARN, the GitHub login, or the git email.
    pub name: String,
    /// Where `name` comes from.
    pub source: Source,
    /// The GitHub Actions actor of the run, when the name is another credential's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.actor {
            Some(actor) => write!(
                f,
                "{actor} (GitHub Actions, as {} by {})",
                self.name,
                self.source.describe()
            ),
            None => write!(f, "{} ({})", self.name, self.source.describe()),
        }
    }
}

impl Identity {
    /// An identity nobody vouched for (records written before identities were recorded).
    pub fn unverified(name: &str) -> Identity {
        Identity {
            name: name.to_string(),
            source: Source::GitConfig,
            actor: None,
        }
    }

    /// Whether a credential stands behind it.
    pub fn is_verified(&self) -> bool {
        self.source != Source::GitConfig
    }

    /// The name records show: the Actions actor, else the name.
    pub fn by(&self) -> &str {
        self.actor.as_deref().unwrap_or(&self.name)
    }

    /// The person behind it, to tell approvals apart: the Actions actor, the SSO user, the
    /// role (any session of a non-SSO role), the IAM user, the login or the email.
    pub fn person(&self) -> String {
        match &self.actor {
            Some(actor) => actor.clone(),
            None => person_names(&self.name)
                .into_iter()
                .next()
                .unwrap_or_else(|| self.name.clone()),
        }
    }

    /// Whether `approvers` names it (case-insensitively).
    pub fn is_named_by(&self, approvers: &[String]) -> bool {
        let mut names = approver_names(&self.name);
        names.extend(self.actor.iter().cloned());
        approvers.iter().any(|a| {
            let a = normalize(a.trim());
            names.iter().any(|n| n.eq_ignore_ascii_case(&a))
        })
    }

    /// Whether it is the same person as one of `others` (identities as recorded: ARNs,
    /// logins, emails, names).
    pub fn is_among(&self, others: &[String]) -> bool {
        let mut mine = person_names(&self.name);
        mine.extend(self.actor.iter().cloned());
        others.iter().any(|o| {
            person_names(o.trim())
                .iter()
                .any(|n| mine.iter().any(|m| m.eq_ignore_ascii_case(n)))
        })
    }

    /// Every name that may stand for this person in a list of cutters.
    pub fn names(&self) -> Vec<String> {
        let mut names = vec![self.name.clone()];
        names.extend(self.actor.iter().cloned());
        names
    }
}

/// A name as approvers are compared: IAM role and user ARNs without their path (a caller's
/// assumed-role ARN does not show it).
fn normalize(name: &str) -> String {
    match arn::parse(name) {
        Some(a) if a.service == "iam" => match a.resource.split_once('/') {
            Some((kind @ ("role" | "user"), rest)) => {
                let last = rest.rsplit('/').next().unwrap_or(rest);
                format!("arn:{}:iam::{}:{kind}/{last}", a.partition, a.account)
            }
            _ => name.to_string(),
        },
        _ => name.to_string(),
    }
}

/// The names an approvers list may use for the caller `name`.
fn approver_names(name: &str) -> Vec<String> {
    let mut names = vec![normalize(name)];
    if let Some(a) = arn::parse(name) {
        match a.resource.split('/').collect::<Vec<_>>().as_slice() {
            ["assumed-role", role, session] if a.service == "sts" => {
                names.push(format!(
                    "arn:{}:iam::{}:role/{role}",
                    a.partition, a.account
                ));
                names.push(role.to_string());
                if is_sso_role(role) {
                    names.push(session.to_string());
                }
            }
            ["user", .., user] if a.service == "iam" => names.push(user.to_string()),
            _ => {}
        }
    }
    names
}

/// Whether the caller `arn` is one person: an SSO user's session, an IAM user, an account root.
fn is_person(arn_text: &str) -> bool {
    let Some(a) = arn::parse(arn_text) else {
        return false;
    };
    match a.resource.split('/').collect::<Vec<_>>().as_slice() {
        ["assumed-role", role, _] => a.service == "sts" && is_sso_role(role),
        ["user", ..] | ["root"] => a.service == "iam",
        _ => false,
    }
}

/// The names of the person behind `name`, the first one telling people apart.
fn person_names(name: &str) -> Vec<String> {
    if let Some(a) = arn::parse(name) {
        match a.resource.split('/').collect::<Vec<_>>().as_slice() {
            ["assumed-role", role, session] if a.service == "sts" => {
                let role_arn = format!("arn:{}:iam::{}:role/{role}", a.partition, a.account);
                return if is_sso_role(role) {
                    vec![session.to_string(), name.to_string()]
                } else {
                    vec![role_arn]
                };
            }
            ["user", .., user] if a.service == "iam" => {
                return vec![normalize(name), user.to_string()]
            }
            _ => {}
        }
    }
    vec![name.to_string()]
}

/// The identity of this run, and why it is unverified when it is.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// Who.
    pub identity: Identity,
    /// What was tried and failed, for the message that refuses an unverified identity.
    pub notes: Vec<String>,
}

impl Resolution {
    /// Why the identity is unverified and which credential to provide.
    pub fn advice(&self) -> String {
        let mut text = String::from(
            "approvals need an identity from a credential: AWS credentials with the SSM ledger \
             (sts:GetCallerIdentity names you), a GitHub token in GITHUB_TOKEN or GH_TOKEN \
             (the login GET /user returns), or a GitHub Actions job (GITHUB_ACTOR)",
        );
        for note in &self.notes {
            text.push_str("\n  - ");
            text.push_str(note);
        }
        text
    }
}

/// Where an identity may come from.
pub struct Credentials<'a> {
    /// Read an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The AWS caller ARN (only asked with the SSM ledger).
    pub aws_caller: Option<&'a dyn Fn() -> Result<String, String>>,
    /// The login of a GitHub token, given the API base and the token.
    pub github_login: &'a dyn Fn(&str, &str) -> Result<String, String>,
    /// git's `user.email`.
    pub git_email: Option<String>,
}

/// Resolve who runs this from `credentials`, in the order the module documents.
pub fn resolve(credentials: &Credentials<'_>) -> Resolution {
    let env = |k: &str| (credentials.env)(k).filter(|v| !v.trim().is_empty());
    let in_actions = env("GITHUB_ACTIONS").as_deref() == Some("true");
    let actor = env("GITHUB_ACTOR").filter(|_| in_actions);
    let mut notes = Vec::new();
    if let Some(caller) = credentials.aws_caller {
        match caller() {
            Ok(arn) => {
                // A caller that is a person (SSO user, IAM user) is that person, whatever the
                // environment claims; the actor names the person behind a workflow's role.
                let actor = actor.filter(|_| !is_person(&arn));
                return Resolution {
                    identity: Identity {
                        name: arn,
                        source: Source::AwsSts,
                        actor,
                    },
                    notes,
                };
            }
            Err(e) => notes.push(format!("sts:GetCallerIdentity failed: {e}")),
        }
    }
    if let Some(actor) = actor {
        return Resolution {
            identity: Identity {
                name: actor,
                source: Source::GithubActions,
                actor: None,
            },
            notes,
        };
    }
    if env("GITHUB_ACTOR").is_some() {
        notes.push(
            "GITHUB_ACTOR is ignored outside GitHub Actions (GITHUB_ACTIONS is not `true`): anyone can set it".into(),
        );
    }
    match ["GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .find_map(|k| env(k).map(|t| (*k, t)))
    {
        Some((var, token)) => {
            crate::util::redact::register(&token);
            let api =
                env("GITHUB_API_URL").unwrap_or_else(|| crate::core::remote::DEFAULT_API.into());
            match (credentials.github_login)(&api, &token) {
                Ok(login) => {
                    return Resolution {
                        identity: Identity {
                            name: login,
                            source: Source::GithubToken,
                            actor: None,
                        },
                        notes,
                    }
                }
                Err(e) => notes.push(format!("{var}: {e}")),
            }
        }
        None => notes.push("no GITHUB_TOKEN or GH_TOKEN is set".into()),
    }
    let name = credentials
        .git_email
        .clone()
        .filter(|e| !e.trim().is_empty())
        .or_else(|| env("USER"))
        .unwrap_or_else(|| "unknown".into());
    Resolution {
        identity: Identity::unverified(&name),
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSO: &str =
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Approver_0123abcd/alice@example.com";
    const ROLE: &str = "arn:aws:sts::123456789012:assumed-role/deployer/GitHubActions";

    fn sts(name: &str) -> Identity {
        Identity {
            name: name.into(),
            source: Source::AwsSts,
            actor: None,
        }
    }

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sso_callers_match_their_user_role_and_arn() {
        let alice = sts(SSO);
        for approver in [
            "alice@example.com",
            "Alice@Example.com",
            SSO,
            "AWSReservedSSO_Approver_0123abcd",
            "arn:aws:iam::123456789012:role/AWSReservedSSO_Approver_0123abcd",
            // IAM shows SSO roles with their path; the caller's ARN does not.
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Approver_0123abcd",
        ] {
            assert!(alice.is_named_by(&list(&[approver])), "{approver}");
        }
        for other in [
            "bob@example.com",
            "alice",
            "arn:aws:iam::999999999999:role/AWSReservedSSO_Approver_0123abcd",
            "AWSReservedSSO_Other",
        ] {
            assert!(!alice.is_named_by(&list(&[other])), "{other}");
        }
        assert_eq!(alice.person(), "alice@example.com");
    }

    #[test]
    fn a_plain_roles_session_name_names_nobody() {
        let caller = sts(ROLE);
        assert!(!caller.is_named_by(&list(&["GitHubActions"])));
        assert!(caller.is_named_by(&list(&["deployer"])));
        assert!(caller.is_named_by(&list(&["arn:aws:iam::123456789012:role/deployer"])));
        // Two sessions of one role are one approver.
        let other = sts("arn:aws:sts::123456789012:assumed-role/deployer/someone-else");
        assert_eq!(caller.person(), other.person());
        assert!(other.is_among(&list(&[ROLE])));
    }

    #[test]
    fn iam_users_match_by_arn_with_or_without_path_and_by_name() {
        let user = sts("arn:aws:iam::123456789012:user/ops/dave");
        assert!(user.is_named_by(&list(&["dave"])));
        assert!(user.is_named_by(&list(&["arn:aws:iam::123456789012:user/dave"])));
        assert!(user.is_named_by(&list(&["arn:aws:iam::123456789012:user/ops/dave"])));
        assert!(!user.is_named_by(&list(&["arn:aws:iam::123456789012:user/eve"])));
    }

    #[test]
    fn the_actions_actor_is_a_name_of_the_run() {
        let run = Identity {
            name: ROLE.into(),
            source: Source::AwsSts,
            actor: Some("carol".into()),
        };
        assert_eq!(run.by(), "carol");
        assert_eq!(run.person(), "carol");
        assert!(run.is_named_by(&list(&["carol"])));
        assert!(run.is_among(&list(&["Carol"])));
        assert!(!run.is_among(&list(&["dave"])));
        // The cutter recorded as an SSO caller is the same person as their tag email.
        assert!(sts(SSO).is_among(&list(&["alice@example.com"])));
        assert!(Identity::unverified("alice@example.com").is_among(&list(&[SSO])));
    }

    fn resolve_with(vars: &[(&str, &str)], aws: Option<Result<&str, &str>>) -> Resolution {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let caller = move || aws.unwrap().map(str::to_string).map_err(str::to_string);
        let login = |_: &str, token: &str| match token {
            "good" => Ok("octocat".to_string()),
            _ => Err("GitHub GET /user answered 401".to_string()),
        };
        resolve(&Credentials {
            env: &env,
            aws_caller: aws.is_some().then_some(&caller as &dyn Fn() -> _),
            github_login: &login,
            git_email: Some("me@example.com".into()),
        })
    }

    #[test]
    fn github_actor_counts_only_inside_actions() {
        let outside = resolve_with(&[("GITHUB_ACTOR", "alice")], None);
        assert_eq!(outside.identity, Identity::unverified("me@example.com"));
        assert!(outside
            .advice()
            .contains("GITHUB_ACTOR is ignored outside GitHub Actions"));
        let inside = resolve_with(
            &[("GITHUB_ACTOR", "alice"), ("GITHUB_ACTIONS", "true")],
            None,
        );
        assert_eq!(inside.identity.name, "alice");
        assert_eq!(inside.identity.source, Source::GithubActions);
    }

    #[test]
    fn the_order_is_aws_then_actions_then_token_then_git() {
        let all = [
            ("GITHUB_ACTOR", "carol"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_TOKEN", "good"),
        ];
        let r = resolve_with(&all, Some(Ok(ROLE)));
        assert_eq!(r.identity.source, Source::AwsSts);
        assert_eq!(r.identity.actor.as_deref(), Some("carol"));
        assert_eq!(
            resolve_with(&all, None).identity.source,
            Source::GithubActions
        );
        // A person's own AWS session is not overridden by a claimed actor.
        let r = resolve_with(&all, Some(Ok(SSO)));
        assert_eq!(r.identity.actor, None);
        assert_eq!(r.identity.by(), SSO);
        let r = resolve_with(&[("GH_TOKEN", "good")], Some(Err("no credentials")));
        assert_eq!(r.identity.name, "octocat");
        assert_eq!(r.identity.source, Source::GithubToken);
        let r = resolve_with(&[("GITHUB_TOKEN", "bad")], None);
        assert!(!r.identity.is_verified());
        assert!(r
            .advice()
            .contains("GITHUB_TOKEN: GitHub GET /user answered 401"));
        let r = resolve_with(&[], Some(Err("no credentials")));
        assert!(r
            .advice()
            .contains("sts:GetCallerIdentity failed: no credentials"));
    }
}
