//! Who wrote a release, beyond the names in its commits: the GitHub login of each author (asked
//! once per email in one batched query, remembered under `.git/`), and who contributes for the
//! first time. Both are niceties of the changelog: whatever fails is a warning, and the
//! changelog falls back to what the commits say, never failing a release.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::adapters::git::{self, history};
use crate::adapters::github_logins::{self, LoginQuery};
use crate::config::environ::Environ;
use crate::core::changelog::{author_key, is_bot, Authors};
use crate::core::plan::PlannedCommit;
use crate::core::remote::{self, GithubRepo};
use crate::util::redact;

/// What is known of the authors of `commits` (one release's counted commits, newest first),
/// whose previous release is the tag `previous`: logins when `github` is known and the
/// environment has a token (`GITHUB_TOKEN`, else `GH_TOKEN`; the API from `GITHUB_API_URL`),
/// first-time contributors when there is a previous release.
pub fn authors(
    repo: &git2::Repository,
    commits: &[PlannedCommit],
    previous: Option<&str>,
    github: Option<&GithubRepo>,
    environ: &Environ,
) -> Authors {
    let people: Vec<&PlannedCommit> = commits.iter().filter(|c| !is_bot(&c.author)).collect();
    if people.is_empty() {
        return Authors::default();
    }
    Authors {
        first_time: match previous {
            Some(tag) => first_time(repo, &people, tag),
            None => HashSet::new(),
        },
        logins: match github {
            Some(gh) => logins(repo, &people, gh, environ),
            None => HashMap::new(),
        },
    }
}

/// The author keys of `people` that no commit reachable from the tag `previous` has: one walk
/// back from the tag, which stops as soon as every author was seen (returning authors are
/// usually found among the last few commits; only a newcomer makes it read the whole history).
fn first_time(
    repo: &git2::Repository,
    people: &[&PlannedCommit],
    previous: &str,
) -> HashSet<String> {
    let mut unseen: HashSet<String> = people
        .iter()
        .map(|c| author_key(&c.author, &c.email))
        .collect();
    let walked = git::tag_target(repo, previous)
        .map_err(|e| e.to_string())
        .and_then(|target| {
            let Some(target) = target else {
                return Ok(());
            };
            history::each_author(repo, target, |name, email| {
                unseen.remove(&author_key(name, email));
                !unseen.is_empty()
            })
            .map_err(|e| e.to_string())
        });
    match walked {
        Ok(()) => unseen,
        Err(e) => {
            tracing::warn!(
                "cannot read the history before {previous} ({}); no contributor is marked as new",
                redact::redact(&e)
            );
            HashSet::new()
        }
    }
}

/// GitHub logins by author key, for the authors of `people` with an email.
fn logins(
    repo: &git2::Repository,
    people: &[&PlannedCommit],
    github: &GithubRepo,
    environ: &Environ,
) -> HashMap<String, String> {
    // One commit per email, the oldest of the release: the one most likely pushed already
    // (`bump` runs before the push).
    let mut samples: BTreeMap<String, String> = BTreeMap::new();
    for c in people.iter().filter(|c| !c.email.trim().is_empty()) {
        samples.insert(author_key(&c.author, &c.email), c.id.clone());
    }
    logins_of(repo, samples, github, environ)
}

/// GitHub logins by author key, for the emails (keys of [`author_key`]) of `samples`, each with
/// the id of one commit of theirs: from the cache, and for the emails it does not know, from
/// GitHub, in batches of [`github_logins::MAX_ALIASES`]. Empty without a token.
pub fn logins_of(
    repo: &git2::Repository,
    samples: BTreeMap<String, String>,
    github: &GithubRepo,
    environ: &Environ,
) -> HashMap<String, String> {
    let Some(token) = ["GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .find_map(|k| environ.get(k))
    else {
        return HashMap::new();
    };
    redact::register(token);
    let path = github_logins::cache_path(repo.commondir());
    let mut cache = github_logins::read_cache(&path).unwrap_or_else(|e| {
        tracing::warn!("ignoring {}; it is written anew", redact::redact(&e));
        BTreeMap::new()
    });
    let unknown: Vec<(String, String)> = samples
        .iter()
        .filter(|(email, _)| !cache.contains_key(*email))
        .map(|(email, id)| (email.clone(), id.clone()))
        .collect();
    if !unknown.is_empty() {
        let endpoint =
            remote::graphql_url(&remote::api_base(github, environ.get("GITHUB_API_URL")));
        let query = LoginQuery {
            endpoint: &endpoint,
            token,
            owner: &github.owner,
            name: &github.name,
        };
        let mut learned = false;
        for batch in unknown.chunks(github_logins::MAX_ALIASES) {
            match github_logins::logins(&query, batch) {
                Ok(found) => {
                    learned |= !found.is_empty();
                    cache.extend(found);
                }
                Err(e) => {
                    let text = format!(
                        "cannot look up the GitHub logins of the contributors ({e}); the changelog names them instead"
                    );
                    tracing::warn!("{}", redact::redact(&text));
                    break;
                }
            }
        }
        if learned {
            if let Err(e) = github_logins::write_cache(&path, &cache) {
                tracing::warn!("cannot write {}: {e}", path.display());
            }
        }
    }
    samples
        .into_keys()
        .filter_map(|email| {
            let login = cache.get(&email).cloned().flatten()?;
            Some((email, login))
        })
        .collect()
}
