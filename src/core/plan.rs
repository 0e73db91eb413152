//! The release plan: what the next release is and why.
//!
//! [`build`] is pure (plain data in, plan out) so every rule is unit-testable and fuzzable;
//! [`gather`] reads the repository into that plain data.

use semver::Version;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

use crate::config::branches::{BranchEntry, BranchKind};
use crate::core::commit::RawCommit;
use crate::core::commit::{self, Conventional};
use crate::core::version::{self, Bump, BumpRules};

/// What the user forces instead of the computed level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forced {
    /// A level, whatever the commits say.
    Level(Bump),
    /// An exact version.
    Version(Version),
}

/// Options of `plan` and `bump` that change the outcome.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Force a level or version.
    pub forced: Option<Forced>,
    /// Pre-release channel (`rc`, `beta`, ...).
    pub pre: Option<String>,
    /// The `branches` rule of the branch released from, when it is a rule (a plain name
    /// changes nothing).
    pub branch: Option<BranchEntry>,
}

/// Everything [`build`] needs, read from the repository.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// The tag prefix in use.
    pub tag_prefix: String,
    /// Version of the first release.
    pub initial_version: Option<Version>,
    /// The last stable release reachable from HEAD.
    pub current: Option<(String, Version)>,
    /// Every version tag in the repository (for pre-release numbering and collisions).
    pub all_versions: Vec<Version>,
    /// Versions whose tag points at HEAD.
    pub head_versions: Vec<Version>,
    /// Commits since the current release, newest first.
    pub commits: Vec<RawCommit>,
}

/// A commit that counts for the release.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlannedCommit {
    /// Full commit id.
    pub id: String,
    /// Abbreviated id (7 characters).
    pub short_id: String,
    /// The parsed message.
    #[serde(flatten)]
    pub message: Conventional,
    /// The level this commit asks for.
    pub level: Bump,
    /// Author name.
    pub author: String,
    /// Author email.
    pub email: String,
    /// Commit time, seconds since the epoch.
    pub time: i64,
}

/// A commit that does not count, and why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SkippedCommit {
    /// Full commit id.
    pub id: String,
    /// The first line of the message.
    pub header: String,
    /// Why it does not count.
    pub reason: String,
}

/// The plan `release plan` prints and `release bump` carries out.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReleasePlan {
    /// The last stable release, if any.
    pub current_version: Option<String>,
    /// Its tag.
    pub current_tag: Option<String>,
    /// The version to release; `None` when there is nothing to release.
    pub next_version: Option<String>,
    /// The tag to create.
    pub next_tag: Option<String>,
    /// The level applied.
    pub bump: Bump,
    /// One sentence: why this version (or why none).
    pub reason: String,
    /// Commits that count, newest first.
    pub commits: Vec<PlannedCommit>,
    /// How many commits are not Conventional Commits.
    pub ignored: usize,
    /// The commits that are not Conventional Commits, with the reason.
    pub ignored_commits: Vec<SkippedCommit>,
    /// Commits cancelled by a revert in the same range (the revert included).
    pub reverted: Vec<SkippedCommit>,
    /// The branch rule applied (`branches`), when the branch has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

impl ReleasePlan {
    /// The next version, parsed back.
    pub fn next(&self) -> Option<Version> {
        self.next_version
            .as_deref()
            .and_then(|v| Version::parse(v).ok())
    }
}

/// A plan that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A forced version is not ahead of the current one.
    #[error("version {forced} is not greater than the current release {current}: choose a higher version")]
    NotGreater {
        /// The forced version.
        forced: Version,
        /// The current release.
        current: Version,
    },
    /// The version's tag already exists.
    #[error("tag {0} already exists: that version was released; choose another version")]
    TagExists(String),
    /// The next version does not fit in semver's numbers.
    #[error(
        "the version after {0} overflows: a component of the current release tag is at its maximum"
    )]
    Overflow(String),
    /// A maintenance branch's release would leave its range.
    #[error("{version} is outside {range}, the range of maintenance branch {branch}: the commits ask for a {level} release, which belongs on a later line; release it from there, or revert it here")]
    OutsideRange {
        /// The version the commits ask for.
        version: Version,
        /// The range.
        range: String,
        /// The branch.
        branch: String,
        /// The level.
        level: &'static str,
    },
    /// A maintenance branch's release would reach a later line's.
    #[error("{version} would not be below {later}, already released from a later line: maintenance branch {branch} can only release versions below it (a {level} release is too much here)")]
    AboveLaterLine {
        /// The version the commits ask for.
        version: Version,
        /// The lowest later release.
        later: Version,
        /// The branch.
        branch: String,
        /// The level.
        level: &'static str,
    },
    /// An unusable pre-release channel.
    #[error(
        "`{0}` cannot be a pre-release channel: use letters, digits and `-`, e.g. `rc` or `beta`"
    )]
    BadChannel(String),
}

/// The abbreviated id (7 characters) of a full one.
pub fn short(id: &str) -> String {
    id.chars().take(7).collect()
}

/// Split commits into counted, ignored and cancelled-by-revert.
pub fn classify_commits(
    commits: &[RawCommit],
    rules: &BumpRules,
) -> (Vec<PlannedCommit>, Vec<SkippedCommit>, Vec<SkippedCommit>) {
    let cancelled = cancelled_by_reverts(commits);
    let mut counted = Vec::new();
    let mut ignored = Vec::new();
    let mut reverted = Vec::new();
    for (i, raw) in commits.iter().enumerate() {
        let id = raw.id.to_string();
        let header = raw.message.lines().next().unwrap_or_default().to_string();
        if let Some(by) = cancelled.get(&i) {
            reverted.push(SkippedCommit {
                reason: by.clone(),
                id,
                header,
            });
            continue;
        }
        match commit::classify(&raw.message) {
            Ok(message) => {
                let level = rules.level_of(&message);
                counted.push(PlannedCommit {
                    short_id: short(&id),
                    id,
                    message,
                    level,
                    author: raw.author.clone(),
                    email: raw.email.clone(),
                    time: raw.time,
                });
            }
            // A merge that is not itself conventional is structure, not a change: its commits
            // are counted on their own.
            Err(_) if raw.parents > 1 => {}
            Err(e) => ignored.push(SkippedCommit {
                id,
                header,
                reason: e.reason,
            }),
        }
    }
    (counted, ignored, reverted)
}

/// Indexes of commits cancelled by a later revert in the same list, with the reason.
/// `commits` is newest first; a revert of a revert restores the original.
fn cancelled_by_reverts(commits: &[RawCommit]) -> HashMap<usize, String> {
    if !commits
        .iter()
        .any(|c| commit::reverted_commit(&c.message).is_some())
    {
        return HashMap::new();
    }
    let ids: Vec<String> = commits.iter().map(|c| c.id.to_string()).collect();
    cancelled_among(&ids, |i| commit::reverted_commit(&commits[i].message))
}

/// Indexes of commits cancelled by a later revert in the same list, with the reason, over
/// commits given by their full ids (newest first) and, for each index, the abbreviated id its
/// message says it reverts ([`commit::reverted_commit`]). A revert of a revert restores the
/// original.
pub fn cancelled_among<'a>(
    ids: &[String],
    reverts: impl Fn(usize) -> Option<&'a str>,
) -> HashMap<usize, String> {
    let find = |abbrev: &str| ids.iter().position(|id| id.starts_with(abbrev));
    // target of each revert in range: revert index -> reverted index
    let mut target: HashMap<usize, usize> = HashMap::new();
    for i in 0..ids.len() {
        if let Some(j) = reverts(i).and_then(find) {
            // A revert can only undo an older commit.
            if j > i {
                target.insert(i, j);
            }
        }
    }
    // Oldest first: a revert that is itself active cancels its target.
    let mut active: HashSet<usize> = (0..ids.len()).collect();
    let mut cancelled: HashMap<usize, String> = HashMap::new();
    for i in (0..ids.len()).rev() {
        let Some(&j) = target.get(&i) else { continue };
        if !active.contains(&i) {
            continue;
        }
        if active.remove(&j) {
            cancelled.insert(j, format!("reverted by {}", short(&ids[i])));
            active.remove(&i);
            cancelled.insert(i, format!("reverts {} in the same release", short(&ids[j])));
        } else {
            // Reverting a revert: the original comes back, both reverts cancel out.
            if let Some(&k) = target.get(&j) {
                active.insert(k);
                cancelled.remove(&k);
            }
            active.remove(&i);
            cancelled.insert(i, format!("reverts {} in the same release", short(&ids[j])));
        }
    }
    cancelled
}

/// Build the plan from plain data.
pub fn build(
    input: &Input,
    rules: &BumpRules,
    options: &PlanOptions,
) -> Result<ReleasePlan, PlanError> {
    if let Some(ch) = &options.pre {
        if !version::valid_channel(ch) {
            return Err(PlanError::BadChannel(ch.clone()));
        }
    }
    let (commits, ignored_commits, reverted) = classify_commits(&input.commits, rules);
    let current = input.current.as_ref().map(|(_, v)| v);
    let computed = rules.level(commits.iter().map(|c| &c.message));
    let mut plan = ReleasePlan {
        current_version: current.map(|v| v.to_string()),
        current_tag: input.current.as_ref().map(|(t, _)| t.clone()),
        next_version: None,
        next_tag: None,
        bump: Bump::None,
        reason: String::new(),
        ignored: ignored_commits.len(),
        commits,
        ignored_commits,
        reverted,
        branch: options.branch.as_ref().map(BranchEntry::describe),
    };
    let kind = options
        .branch
        .as_ref()
        .map_or(BranchKind::Stable, BranchEntry::kind);
    let channel = match (&options.pre, &kind) {
        (Some(ch), _) => Some(ch.clone()),
        (None, BranchKind::Prerelease(ch)) => Some(ch.clone()),
        (None, _) => None,
    };
    let since = plan
        .current_tag
        .as_deref()
        .map_or_else(|| "the first commit".to_string(), str::to_string);

    if input.commits.is_empty() {
        plan.reason = format!("nothing to release: HEAD is already {since}");
        return Ok(plan);
    }

    let initial = input
        .initial_version
        .clone()
        .unwrap_or_else(|| Version::new(0, 1, 0));
    let (stable, bump, reason) = match (&options.forced, current) {
        (Some(Forced::Version(v)), cur) => {
            if let Some(cur) = cur {
                if v <= cur {
                    return Err(PlanError::NotGreater {
                        forced: v.clone(),
                        current: cur.clone(),
                    });
                }
            }
            let bump = cur.map_or(Bump::None, |c| level_between(c, v));
            (
                v.clone(),
                bump,
                format!("version {v} given on the command line"),
            )
        }
        (Some(Forced::Level(level)), Some(cur)) => (
            version::bumped(cur, *level).ok_or_else(|| PlanError::Overflow(cur.to_string()))?,
            *level,
            format!("{} bump forced on the command line", level.as_str()),
        ),
        (None, None) if computed == Bump::None => {
            plan.reason = format!(
                "nothing to release: no release tag yet and none of the {} commit(s) is of a type that bumps the version (force the first release with `release bump {initial}`)",
                input.commits.len()
            );
            return Ok(plan);
        }
        (Some(Forced::Level(_)), None) | (None, None) => (
            initial.clone(),
            computed,
            format!("first release: no release tag yet, starting at initial_version {initial}"),
        ),
        (None, Some(cur)) => {
            let level = rules.effective(cur, computed);
            if level == Bump::None {
                plan.bump = Bump::None;
                plan.reason = format!(
                    "nothing to release: {} commit(s) since {since}, none of a type that bumps the version",
                    input.commits.len()
                );
                return Ok(plan);
            }
            (
                version::bumped(cur, level).ok_or_else(|| PlanError::Overflow(cur.to_string()))?,
                level,
                explain_level(&plan.commits, level, computed, cur, &since),
            )
        }
    };

    if let (BranchKind::Maintenance(range), Some(entry)) = (&kind, &options.branch) {
        let branch = entry.name().to_string();
        if !range.contains(&stable) {
            return Err(PlanError::OutsideRange {
                version: stable,
                range: range.to_string(),
                branch,
                level: bump.as_str(),
            });
        }
        // Every stable release above the branch's own is a later line's (the branch's
        // latest is the newest reachable one).
        let later = input
            .all_versions
            .iter()
            .filter(|v| v.pre.is_empty() && current.is_none_or(|c| *v > c))
            .min();
        if let Some(later) = later.filter(|l| stable >= **l) {
            return Err(PlanError::AboveLaterLine {
                version: stable,
                later: later.clone(),
                branch,
                level: bump.as_str(),
            });
        }
    }
    let next = match &channel {
        Some(channel) if stable.pre.is_empty() => {
            if let Some(at_head) = input
                .head_versions
                .iter()
                .find(|v| same_release(v, &stable) && !v.pre.is_empty())
            {
                plan.reason = format!(
                    "nothing to release: HEAD is already {}{at_head}",
                    input.tag_prefix
                );
                return Ok(plan);
            }
            version::next_prerelease(&stable, channel, &input.all_versions)
                .ok_or_else(|| PlanError::Overflow(stable.to_string()))?
        }
        _ => stable,
    };
    if input.all_versions.contains(&next) {
        return Err(PlanError::TagExists(format!("{}{next}", input.tag_prefix)));
    }
    plan.bump = bump;
    plan.next_tag = Some(format!("{}{next}", input.tag_prefix));
    plan.next_version = Some(next.to_string());
    plan.reason = reason;
    Ok(plan)
}

fn same_release(a: &Version, b: &Version) -> bool {
    (a.major, a.minor, a.patch) == (b.major, b.minor, b.patch)
}

fn level_between(from: &Version, to: &Version) -> Bump {
    if to.major != from.major {
        Bump::Major
    } else if to.minor != from.minor {
        Bump::Minor
    } else {
        Bump::Patch
    }
}

fn explain_level(
    commits: &[PlannedCommit],
    level: Bump,
    asked: Bump,
    current: &Version,
    since: &str,
) -> String {
    let count = |l: Bump| commits.iter().filter(|c| c.level == l).count();
    let mut parts = Vec::new();
    for (l, name) in [
        (Bump::Major, "breaking"),
        (Bump::Minor, "minor"),
        (Bump::Patch, "patch"),
    ] {
        let n = count(l);
        if n > 0 {
            parts.push(format!("{n} {name}"));
        }
    }
    let mut reason = format!("{} since {since} ({})", level.as_str(), parts.join(", "));
    if level != asked {
        reason.push_str(&format!(
            "; {} lowered to {} because {current} is 0.x ([bump] settings)",
            asked.as_str(),
            level.as_str()
        ));
    }
    reason
}

/// `commits` without the release commits made from the `[commit] message` template.
///
/// Release commits (ours, from pre-releases or from a run that stopped before tagging) are
/// bookkeeping, not changes: counting them would, e.g., add the releaser to the contributors.
/// `release changelog` filters with this too, so its preview is what `bump` writes.
pub fn without_release_commits(commits: Vec<RawCommit>, template: &str) -> Vec<RawCommit> {
    let Some(release_header) = release_header_pattern(template) else {
        return commits;
    };
    commits
        .into_iter()
        .filter(|c| {
            c.parents > 1 || !release_header.is_match(c.message.lines().next().unwrap_or_default())
        })
        .collect()
}

/// A regex matching the header of a release commit made from `template` (`{version}` stands for
/// any version, captured as group 1), also when a pull request carrying it was squash-merged
/// (` (#123)` after it).
pub fn release_header_pattern(template: &str) -> Option<regex::Regex> {
    const VERSION: &str = r"(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)";
    let header = template.lines().next()?;
    if !header.contains("{version}") {
        return None;
    }
    let parts: Vec<String> = header.split("{version}").map(regex::escape).collect();
    regex::Regex::new(&format!(r"^{}(?: \(#\d+\))*$", parts.join(VERSION))).ok()
}

/// The prefix the repository really uses: the configured one, or none when only bare version
/// tags exist.
pub fn tag_prefix_in_use(first_tag: Option<&str>, configured: &str) -> String {
    match first_tag {
        Some(name) if !name.starts_with(configured) => String::new(),
        _ => configured.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::commit::CommitId;

    fn raw(n: u8, message: &str) -> RawCommit {
        RawCommit {
            id: CommitId([n; 20]),
            message: message.into(),
            lossy: false,
            author: "A".into(),
            email: "a@example.com".into(),
            time: i64::from(n),
            parents: 1,
        }
    }

    fn hex(n: u8) -> String {
        CommitId([n; 20]).to_string()
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn input(current: Option<&str>, messages: &[&str]) -> Input {
        Input {
            tag_prefix: "v".into(),
            initial_version: Some(v("0.1.0")),
            current: current.map(|c| (format!("v{c}"), v(c))),
            all_versions: current.map(v).into_iter().collect(),
            head_versions: vec![],
            // newest first: the last message is the oldest commit
            commits: messages
                .iter()
                .enumerate()
                .map(|(i, m)| raw(200 - i as u8, m))
                .collect(),
        }
    }

    fn next(current: Option<&str>, messages: &[&str]) -> Option<String> {
        build(
            &input(current, messages),
            &BumpRules::default(),
            &PlanOptions::default(),
        )
        .unwrap()
        .next_version
    }

    #[test]
    fn version_rules_table() {
        let table: &[(Option<&str>, &[&str], Option<&str>)] = &[
            (Some("1.2.3"), &["fix: a"], Some("1.2.4")),
            (Some("1.2.3"), &["perf: a"], Some("1.2.4")),
            (Some("1.2.3"), &["revert: a"], Some("1.2.4")),
            (Some("1.2.3"), &["feat: a", "fix: b"], Some("1.3.0")),
            (Some("1.2.3"), &["feat!: a"], Some("2.0.0")),
            (
                Some("1.2.3"),
                &["chore: a\n\nBREAKING CHANGE: x"],
                Some("2.0.0"),
            ),
            (
                Some("1.2.3"),
                &["chore: a\n\nBREAKING-CHANGE: x"],
                Some("2.0.0"),
            ),
            (
                Some("1.2.3"),
                &["docs: a", "chore: b", "Update README"],
                None,
            ),
            (Some("0.3.1"), &["feat!: a"], Some("1.0.0")),
            (Some("0.3.1"), &["feat: a"], Some("0.4.0")),
            (None, &["chore: first"], None),
            (None, &["fix: first", "chore: init"], Some("0.1.0")),
            (None, &["feat!: first"], Some("0.1.0")),
            (Some("1.2.3"), &[], None),
        ];
        for (current, messages, want) in table {
            assert_eq!(
                next(*current, messages).as_deref(),
                *want,
                "{current:?} {messages:?}"
            );
        }
    }

    #[test]
    fn zero_x_flags_lower_the_level() {
        let rules = BumpRules {
            breaking_always_bump_major: false,
            features_always_bump_minor: false,
            ..BumpRules::default()
        };
        let plan =
            |m: &str| build(&input(Some("0.3.1"), &[m]), &rules, &PlanOptions::default()).unwrap();
        assert_eq!(plan("feat!: a").next_version.as_deref(), Some("0.4.0"));
        assert_eq!(plan("feat: a").next_version.as_deref(), Some("0.3.2"));
        assert!(plan("feat: a").reason.contains("0.x"));
    }

    #[test]
    fn non_conventional_commits_are_counted_as_ignored() {
        let plan = build(
            &input(Some("1.0.0"), &["fix: a", "wip", "Merge branch 'x'"]),
            &BumpRules::default(),
            &PlanOptions::default(),
        )
        .unwrap();
        assert_eq!(plan.ignored, 2);
        assert_eq!(plan.commits.len(), 1);
        assert_eq!(plan.ignored_commits[0].header, "wip");
    }

    #[test]
    fn reverted_commit_in_range_counts_for_nothing() {
        let feat = hex(199);
        let revert = format!("Revert \"feat: a\"\n\nThis reverts commit {feat}.");
        let plan = build(
            &input(Some("1.0.0"), &[&revert, "feat: a", "fix: b"]),
            &BumpRules::default(),
            &PlanOptions::default(),
        )
        .unwrap();
        assert_eq!(plan.next_version.as_deref(), Some("1.0.1"));
        assert_eq!(plan.reverted.len(), 2);
        assert_eq!(plan.commits.len(), 1);
    }

    #[test]
    fn abbreviated_revert_ids_match() {
        let feat = hex(199);
        let revert = format!("revert: feat a\n\nThis reverts commit {}.", &feat[..10]);
        assert_eq!(next(Some("1.0.0"), &[&revert, "feat!: a"]), None);
    }

    #[test]
    fn revert_of_a_commit_outside_the_range_is_a_patch() {
        let revert = format!("Revert \"feat: old\"\n\nThis reverts commit {}.", hex(7));
        assert_eq!(next(Some("1.0.0"), &[&revert]).as_deref(), Some("1.0.1"));
    }

    #[test]
    fn revert_of_a_revert_restores_the_original() {
        let feat = hex(198);
        let r1 = format!("Revert \"feat: a\"\n\nThis reverts commit {feat}.");
        let r2 = format!(
            "Revert \"Revert \\\"feat: a\\\"\"\n\nThis reverts commit {}.",
            hex(199)
        );
        let plan = build(
            &input(Some("1.0.0"), &[&r2, &r1, "feat: a"]),
            &BumpRules::default(),
            &PlanOptions::default(),
        )
        .unwrap();
        assert_eq!(plan.next_version.as_deref(), Some("1.1.0"));
        assert_eq!(plan.reverted.len(), 2);
    }

    #[test]
    fn forced_levels_and_versions() {
        let opts = |f| PlanOptions {
            forced: Some(f),
            pre: None,
            branch: None,
        };
        let i = input(Some("1.2.3"), &["docs: a"]);
        let r = BumpRules::default();
        assert_eq!(
            build(&i, &r, &opts(Forced::Level(Bump::Minor)))
                .unwrap()
                .next_version
                .as_deref(),
            Some("1.3.0")
        );
        assert_eq!(
            build(&i, &r, &opts(Forced::Level(Bump::Major)))
                .unwrap()
                .next_version
                .as_deref(),
            Some("2.0.0")
        );
        assert_eq!(
            build(&i, &r, &opts(Forced::Version(v("1.5.0"))))
                .unwrap()
                .bump,
            Bump::Minor
        );
        assert!(matches!(
            build(&i, &r, &opts(Forced::Version(v("1.2.3")))),
            Err(PlanError::NotGreater { .. })
        ));
    }

    #[test]
    fn prerelease_channel() {
        let mut i = input(Some("1.2.3"), &["feat: a"]);
        i.all_versions.extend([v("1.3.0-rc.1"), v("1.3.0-rc.2")]);
        let opts = PlanOptions {
            forced: None,
            pre: Some("rc".into()),
            branch: None,
        };
        let plan = build(&i, &BumpRules::default(), &opts).unwrap();
        assert_eq!(plan.next_version.as_deref(), Some("1.3.0-rc.3"));
        assert_eq!(plan.next_tag.as_deref(), Some("v1.3.0-rc.3"));
        // HEAD already carries an rc of that release: nothing new.
        i.head_versions.push(v("1.3.0-rc.2"));
        let plan = build(&i, &BumpRules::default(), &opts).unwrap();
        assert_eq!(plan.next_version, None);
        assert!(plan.reason.contains("v1.3.0-rc.2"));
        let bad = PlanOptions {
            forced: None,
            pre: Some("r c".into()),
            branch: None,
        };
        assert!(matches!(
            build(&i, &BumpRules::default(), &bad),
            Err(PlanError::BadChannel(_))
        ));
    }

    #[test]
    fn overflowing_versions_are_an_error_not_a_panic() {
        let max = u64::MAX;
        let i = input(Some(&format!("1.2.{max}")), &["fix: a"]);
        let r = BumpRules::default();
        assert!(matches!(
            build(&i, &r, &PlanOptions::default()),
            Err(PlanError::Overflow(_))
        ));
        let i = input(Some(&format!("1.{max}.0")), &["feat: a"]);
        assert!(matches!(
            build(&i, &r, &PlanOptions::default()),
            Err(PlanError::Overflow(_))
        ));
    }

    #[test]
    fn release_header_pattern_accepts_a_squash_merge_suffix() {
        let re = release_header_pattern("chore(release): {version}").unwrap();
        for header in [
            "chore(release): 1.2.3",
            "chore(release): 1.2.3 (#45)",
            "chore(release): 1.2.3-rc.1+b.2 (#45) (#46)",
        ] {
            assert!(re.is_match(header), "{header}");
        }
        for header in ["chore(release): 1.2.3 (#)", "chore(release): 1.2.3 extra"] {
            assert!(!re.is_match(header), "{header}");
        }
    }

    #[test]
    fn existing_tag_is_refused() {
        let mut i = input(Some("1.2.3"), &["fix: a"]);
        i.all_versions.push(v("1.2.4"));
        assert!(
            matches!(build(&i, &BumpRules::default(), &PlanOptions::default()), Err(PlanError::TagExists(t)) if t == "v1.2.4")
        );
    }
}
