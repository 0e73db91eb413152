//! Several packages in one repository: which commits belong to a package beyond its paths
//! (scopes), which packages a release pulls along (dependents), and the one release commit
//! that records them all.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

use crate::core::commit::{self, RawCommit};

/// Whether the Conventional Commit `message` has one of `scopes` (`feat(api): ...`; a scope list
/// `feat(api,worker): ...` matches each of its parts).
pub fn scope_matches(message: &str, scopes: &[String]) -> bool {
    if scopes.is_empty() {
        return false;
    }
    let Ok(parsed) = commit::classify(message) else {
        return false;
    };
    parsed.scope.is_some_and(|scope| {
        scope
            .split(',')
            .map(str::trim)
            .any(|s| scopes.iter().any(|w| w == s))
    })
}

/// The release commit's message: `{version}` of the template replaced by the released
/// packages and versions, `api 1.4.0, worker 2.0.1`.
pub fn release_message(template: &str, released: &[(String, String)]) -> String {
    let list: Vec<String> = released.iter().map(|(n, v)| format!("{n} {v}")).collect();
    template.replace("{version}", &list.join(", "))
}

/// A regex matching the header of a release commit of several packages made from `template`;
/// group 1 holds the list (`api 1.4.0, worker 2.0.1`). Squash-merge suffixes (` (#12)`) are
/// accepted, as for one package.
pub fn release_header_pattern(template: &str) -> Option<regex::Regex> {
    const ONE: &str =
        r"[A-Za-z0-9][A-Za-z0-9._-]* \d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?";
    let header = template.lines().next()?;
    if !header.contains("{version}") {
        return None;
    }
    let list = format!("({ONE}(?:, {ONE})*)");
    let parts: Vec<String> = header.split("{version}").map(regex::escape).collect();
    regex::Regex::new(&format!(r"^{}(?: \(#\d+\))*$", parts.join(&list))).ok()
}

/// The packages and versions a release commit's header names, when it is one.
pub fn released_in(header: &str, template: &str) -> Option<Vec<(String, String)>> {
    let pattern = release_header_pattern(template)?;
    let list = pattern.captures(header.trim_end())?.get(1)?.as_str();
    list.split(", ")
        .map(|one| {
            one.split_once(' ')
                .map(|(n, v)| (n.to_string(), v.to_string()))
        })
        .collect()
}

/// The commits without release commits (of several packages, or of one): they change every
/// released package's files but are not changes of their own.
pub fn without_release_commits(commits: Vec<RawCommit>, template: &str) -> Vec<RawCommit> {
    let commits = crate::core::plan::without_release_commits(commits, template);
    let Some(pattern) = release_header_pattern(template) else {
        return commits;
    };
    commits
        .into_iter()
        .filter(|c| c.parents > 1 || !pattern.is_match(c.message.lines().next().unwrap_or("")))
        .collect()
}

/// The packages a release of `released` pulls along: every package depending (directly or
/// through others) on a released one, with the released or pulled packages it depends on.
/// `depends_on` maps a package to the packages it depends on; it has no cycle (config checks).
pub fn dependents(
    depends_on: &BTreeMap<String, Vec<String>>,
    released: &BTreeSet<String>,
) -> BTreeMap<String, Vec<String>> {
    let mut pulled: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut changed = true;
    while changed {
        changed = false;
        for (name, deps) in depends_on {
            if released.contains(name) || pulled.contains_key(name) {
                continue;
            }
            let why: Vec<String> = deps
                .iter()
                .filter(|d| released.contains(*d) || pulled.contains_key(*d))
                .cloned()
                .collect();
            if !why.is_empty() {
                pulled.insert(name.clone(), why);
                changed = true;
            }
        }
    }
    pulled
}

/// What the section of `[changelog] packages_summary` shows of one release commit.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PackagesSummary {
    /// The release date, `YYYY-MM-DD`.
    pub date: String,
    /// The released packages, by name.
    pub packages: Vec<SummaryEntry>,
}

/// One released package in a [`PackagesSummary`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SummaryEntry {
    /// The package's name.
    pub name: String,
    /// Its new version.
    pub version: String,
    /// Its new tag.
    pub tag: String,
    /// Its previous tag, if any.
    pub previous_tag: Option<String>,
    /// The GitHub compare view from the previous tag, when known.
    pub compare_url: Option<String>,
    /// Its changelog, as a link from the summary file.
    pub changelog: String,
    /// The released packages it depends on that released it too (empty: its own commits did).
    pub pulled_by: Vec<String>,
}

/// A relative link from the file `from` to the file `to`, both relative to the repository
/// root: `services/api/CHANGELOG.md` from `CHANGELOG.md`, `../services/api/CHANGELOG.md` from
/// `docs/CHANGELOG.md`.
pub fn relative_link(from: &str, to: &str) -> String {
    let parts = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .map(str::to_string)
            .collect()
    };
    let mut from_dir = parts(from);
    from_dir.pop();
    let to = parts(to);
    let common = from_dir
        .iter()
        .zip(&to)
        .take_while(|(a, b)| a == b)
        .count()
        .min(to.len().saturating_sub(1));
    let mut link: Vec<String> = vec!["..".to_string(); from_dir.len() - common];
    link.extend(to[common..].iter().cloned());
    link.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(message: &str, parents: usize) -> RawCommit {
        RawCommit {
            id: crate::core::commit::CommitId([1; 20]),
            message: message.into(),
            lossy: false,
            author: "A".into(),
            email: "a@example.com".into(),
            time: 1,
            parents,
        }
    }

    #[test]
    fn scopes_match_exactly_and_in_lists() {
        let scopes = vec!["api".to_string()];
        assert!(scope_matches("feat(api): x", &scopes));
        assert!(scope_matches("fix(worker,api)!: x", &scopes));
        assert!(!scope_matches("feat(apix): x", &scopes));
        assert!(!scope_matches("feat: x", &scopes));
        assert!(!scope_matches("api: not conventional", &scopes));
        assert!(!scope_matches("feat(api): x", &[]));
    }

    #[test]
    fn release_commits_round_trip() {
        let template = "chore(release): {version}";
        let released = vec![
            ("api".to_string(), "1.4.0".to_string()),
            ("worker".to_string(), "2.0.1-rc.1".to_string()),
        ];
        let message = release_message(template, &released);
        assert_eq!(message, "chore(release): api 1.4.0, worker 2.0.1-rc.1");
        assert_eq!(released_in(&message, template), Some(released));
        assert_eq!(
            released_in("chore(release): core 0.2.0 (#12)", template),
            Some(vec![("core".into(), "0.2.0".into())])
        );
        assert_eq!(released_in("chore(release): 1.2.3", template), None);
        assert_eq!(released_in("feat: api 1.2.3", template), None);
        let kept = without_release_commits(
            vec![
                raw("chore(release): api 1.4.0", 1),
                raw("chore(release): 1.4.0", 1),
                raw("chore(release): api 1.4.0", 2),
                raw("feat(api): x", 1),
            ],
            template,
        );
        assert_eq!(kept.len(), 2);
    }

    #[test]
    fn links_between_changelogs_are_relative() {
        assert_eq!(
            relative_link("CHANGELOG.md", "services/api/CHANGELOG.md"),
            "services/api/CHANGELOG.md"
        );
        assert_eq!(
            relative_link("docs/CHANGELOG.md", "./services/api/CHANGELOG.md"),
            "../services/api/CHANGELOG.md"
        );
        assert_eq!(
            relative_link("services/RELEASES.md", "services/api/CHANGELOG.md"),
            "api/CHANGELOG.md"
        );
        assert_eq!(
            relative_link("a/b/SUMMARY.md", "CHANGELOG-cli.md"),
            "../../CHANGELOG-cli.md"
        );
    }

    #[test]
    fn dependents_follow_the_graph() {
        let graph: BTreeMap<String, Vec<String>> = [
            ("api", vec!["core"]),
            ("worker", vec!["core", "api"]),
            ("cli", vec!["worker"]),
            ("core", vec![]),
            ("other", vec![]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
        .collect();
        let released: BTreeSet<String> = ["core".to_string()].into();
        let pulled = dependents(&graph, &released);
        assert_eq!(pulled.keys().collect::<Vec<_>>(), ["api", "cli", "worker"]);
        assert_eq!(pulled["worker"], vec!["core", "api"]);
        let released: BTreeSet<String> = ["other".to_string()].into();
        assert!(dependents(&graph, &released).is_empty());
    }
}
