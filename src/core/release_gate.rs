//! Major releases behind a person (`[bump] major_requires_approval`): which releases are held,
//! whose change they are (who may not approve them alone), and what still holds one.
//!
//! Release approvals live in the ledger next to environment approvals, under the name
//! [`GATE`], which no environment can have (environment names start with a letter or digit).

use semver::Version;

use crate::config::environments::ApprovalRules;
use crate::core::deployment::{approval_blockers, ApprovalTally};
use crate::core::plan::PlannedCommit;

/// The ledger name release approvals are kept under.
pub const GATE: &str = "_release";

/// Whether going from `current` to `next` is a major release: a stable version whose major
/// is above the current one's. The first release is not held (nothing came before it).
pub fn is_major(current: Option<&Version>, next: &Version) -> bool {
    next.pre.is_empty() && current.is_some_and(|c| next.major > c.major)
}

/// The people a major release is the change of: the authors of its breaking commits, by
/// name, email and, for GitHub's no-reply addresses (`12345+login@users.noreply.github.com`),
/// login. Without self-approval, none of them may approve it.
pub fn authors(commits: &[PlannedCommit]) -> Vec<String> {
    let mut who: Vec<String> = Vec::new();
    for c in commits.iter().filter(|c| c.message.breaking) {
        let mut add = |s: &str| {
            let s = s.trim();
            if !s.is_empty() && !who.iter().any(|w| w.eq_ignore_ascii_case(s)) {
                who.push(s.to_string());
            }
        };
        add(&c.author);
        add(&c.email);
        if let Some(login) = noreply_login(&c.email) {
            add(login);
        }
    }
    who
}

/// The login in a GitHub no-reply address.
fn noreply_login(email: &str) -> Option<&str> {
    let local = email
        .strip_suffix("@users.noreply.github.com")
        .filter(|l| !l.is_empty())?;
    Some(local.split_once('+').map_or(local, |(_, login)| login))
}

/// What still holds major release `version` (empty: it may be published).
pub fn blockers(version: &str, rules: &ApprovalRules<'_>, tally: &ApprovalTally) -> Vec<String> {
    approval_blockers(
        &format!("release {version}"),
        rules.approvals,
        tally,
        |needed, have| {
            format!(
                "{version} is a major release and needs {needed} approval(s), it has {have}: run `release approve {version} --release` as an approver"
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::version::Bump;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn only_stable_majors_after_a_release_are_held() {
        assert!(is_major(Some(&v("1.4.2")), &v("2.0.0")));
        assert!(is_major(Some(&v("0.9.0")), &v("1.0.0")));
        assert!(!is_major(Some(&v("1.4.2")), &v("1.5.0")));
        assert!(!is_major(Some(&v("1.4.2")), &v("2.0.0-rc.1")));
        assert!(!is_major(None, &v("1.0.0")));
    }

    fn commit(author: &str, email: &str, breaking: bool) -> PlannedCommit {
        PlannedCommit {
            id: "a".repeat(40),
            short_id: "aaaaaaa".into(),
            message: crate::core::commit::parse(if breaking { "feat!: x" } else { "fix: y" })
                .unwrap(),
            level: Bump::Patch,
            author: author.into(),
            email: email.into(),
            time: 0,
        }
    }

    #[test]
    fn the_authors_are_those_of_the_breaking_commits() {
        let commits = [
            commit("Alice", "12345+alice-gh@users.noreply.github.com", true),
            commit("Bob", "bob@example.com", false),
            commit("alice", "alice@example.com", true),
        ];
        assert_eq!(
            authors(&commits),
            [
                "Alice",
                "12345+alice-gh@users.noreply.github.com",
                "alice-gh",
                "alice@example.com"
            ]
        );
        assert_eq!(
            noreply_login("carol@users.noreply.github.com"),
            Some("carol")
        );
        assert_eq!(noreply_login("carol@example.com"), None);
    }

    #[test]
    fn blockers_name_what_is_missing() {
        let approvers = vec!["carol".to_string()];
        let rules = ApprovalRules {
            approvals: 1,
            approvers: &approvers,
            self_approval: false,
        };
        let mut tally = ApprovalTally::default();
        let b = blockers("2.0.0", &rules, &tally);
        assert_eq!(b.len(), 1);
        assert!(b[0].contains("release approve 2.0.0 --release"), "{b:?}");
        tally.approved_by.push("carol".into());
        assert!(blockers("2.0.0", &rules, &tally).is_empty());
        tally
            .rejected_by
            .push(("dave".into(), Some("not yet".into())));
        assert_eq!(
            blockers("2.0.0", &rules, &tally),
            ["dave rejected release 2.0.0 (not yet)"]
        );
    }
}
