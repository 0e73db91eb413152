//! Changelog and release notes: the pure model of a release, and merging a rendered section
//! into an existing changelog. Rendering with tera is [`crate::adapters::templates`]'s.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::config::ChangelogConfig;
use crate::core::plan::PlannedCommit;
use crate::core::remote::GithubRepo;

/// The header of a new `CHANGELOG.md`.
pub const HEADER: &str =
    "# Changelog\n\nAll notable changes to this project are documented in this file.\n";

/// One commit as templates see it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CommitEntry {
    /// Full id.
    pub id: String,
    /// Abbreviated id.
    pub short_id: String,
    /// `[abc1234](url)` when the remote is on GitHub, else `abc1234`.
    pub link: String,
    /// Commit type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Scope, if any.
    pub scope: Option<String>,
    /// Description.
    pub summary: String,
    /// Body, if any.
    pub body: Option<String>,
    /// Breaking change.
    pub breaking: bool,
    /// Text of the breaking-change footer, else the summary.
    pub breaking_description: String,
    /// Author name.
    pub author: String,
}

/// A titled group of commits.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SectionEntry {
    /// Heading.
    pub title: String,
    /// Commits, newest first.
    pub commits: Vec<CommitEntry>,
}

/// One release as templates see it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Release {
    /// The version, or `None` for unreleased commits.
    pub version: Option<String>,
    /// The tag.
    pub tag: Option<String>,
    /// The previous release's tag.
    pub previous_tag: Option<String>,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// GitHub compare link from the previous tag, when known.
    pub compare_url: Option<String>,
    /// `https://github.com/OWNER/REPO/issues` when the remote is on GitHub: the `refs` filter
    /// links `#123` there (GitHub sends pull requests on to their own page).
    pub issues_url: Option<String>,
    /// Breaking changes, listed first.
    pub breaking: Vec<CommitEntry>,
    /// Sections in configured order, empty ones left out.
    pub sections: Vec<SectionEntry>,
    /// Distinct authors, sorted: `@login` when their GitHub login is known, else their name;
    /// bots (`name[bot]`, Renovate, Dependabot) left out. Strings, so templates written before
    /// logins existed keep working.
    pub contributors: Vec<String>,
    /// The same people in the same order, with what custom templates may want to show.
    pub contributor_details: Vec<Contributor>,
}

/// One contributor of a release as templates see it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Contributor {
    /// The author name of their newest commit in the release.
    pub name: String,
    /// Their GitHub login, when known.
    pub login: Option<String>,
    /// `@login` when the login is known, else the name: their entry in
    /// [`Release::contributors`].
    pub display: String,
    /// None of their commits comes before this release: this is their first contribution.
    pub first_time: bool,
}

/// What is known about the authors of a release beyond their commits, found outside the core
/// (GitHub, the history before the release). The default knows nothing: names, nobody marked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Authors {
    /// GitHub login by author key ([`author_key`]).
    pub logins: HashMap<String, String>,
    /// Keys ([`author_key`]) of the authors with no commit before this release.
    pub first_time: HashSet<String>,
}

/// Who an author is across commits: the email, lower-cased (GitHub matches emails without
/// regard to case), or the name for a commit without an email.
pub fn author_key(name: &str, email: &str) -> String {
    let email = email.trim();
    if email.is_empty() {
        format!("name:{}", name.trim())
    } else {
        email.to_lowercase()
    }
}

/// Facts about the release being described, besides its commits.
#[derive(Debug, Clone, Default)]
pub struct ReleaseInfo<'a> {
    /// Version, or `None` for unreleased.
    pub version: Option<String>,
    /// Tag of this release.
    pub tag: Option<String>,
    /// Tag of the previous release.
    pub previous_tag: Option<String>,
    /// Release time, seconds since the epoch.
    pub time: i64,
    /// Where commits live on GitHub, if they do.
    pub github: Option<&'a GithubRepo>,
    /// Logins and first-time contributors, when they were looked up.
    pub authors: Option<&'a Authors>,
}

/// Build the template model of one release. Pure.
pub fn release_model(
    commits: &[PlannedCommit],
    info: &ReleaseInfo<'_>,
    config: &ChangelogConfig,
) -> Release {
    let entry = |c: &PlannedCommit| CommitEntry {
        id: c.id.clone(),
        short_id: c.short_id.clone(),
        link: match info.github {
            Some(gh) => format!("[{}]({})", c.short_id, gh.commit_url(&c.id)),
            None => c.short_id.clone(),
        },
        kind: c.message.kind.clone(),
        scope: c.message.scope.clone(),
        summary: c.message.summary.clone(),
        body: c.message.body.clone(),
        breaking: c.message.breaking,
        breaking_description: c
            .message
            .breaking_description
            .clone()
            .unwrap_or_else(|| c.message.summary.clone()),
        author: c.author.clone(),
    };
    let mut by_type: HashMap<&str, Vec<CommitEntry>> = HashMap::new();
    for c in commits {
        by_type
            .entry(c.message.kind.as_str())
            .or_default()
            .push(entry(c));
    }
    let sections = config
        .sections
        .iter()
        .map(|s| SectionEntry {
            title: s.title.clone(),
            commits: s
                .types
                .iter()
                .flat_map(|t| by_type.get(t.as_str()).cloned().unwrap_or_default())
                .collect(),
        })
        .filter(|s| !s.commits.is_empty())
        .collect();
    let contributor_details = if config.contributors {
        contributors_of(commits, info.authors)
    } else {
        Vec::new()
    };
    let contributors = contributor_details
        .iter()
        .map(|c| c.display.clone())
        .collect();
    let compare_url = match (info.github, &info.previous_tag) {
        (Some(gh), Some(prev)) => Some(gh.compare_url(prev, info.tag.as_deref().unwrap_or("HEAD"))),
        _ => None,
    };
    Release {
        version: info.version.clone(),
        tag: info.tag.clone(),
        previous_tag: info.previous_tag.clone(),
        date: crate::util::time::date_of(info.time),
        compare_url,
        issues_url: info.github.map(|gh| format!("{}/issues", gh.url())),
        breaking: commits
            .iter()
            .filter(|c| c.message.breaking)
            .map(entry)
            .collect(),
        sections,
        contributors,
        contributor_details,
    }
}

/// The distinct people behind `commits` (newest first), bots left out, sorted by what is shown
/// of them. Commits shown the same way (two emails of one login, or one name) are one person,
/// who is new only when each of their author keys is.
fn contributors_of(commits: &[PlannedCommit], authors: Option<&Authors>) -> Vec<Contributor> {
    let mut people: BTreeMap<String, Contributor> = BTreeMap::new();
    for c in commits.iter().filter(|c| !is_bot(&c.author)) {
        let key = author_key(&c.author, &c.email);
        let login = authors
            .and_then(|a| a.logins.get(&key))
            .filter(|login| !login.is_empty() && !is_bot(login));
        let first_time = authors.is_some_and(|a| a.first_time.contains(&key));
        let display = match login {
            Some(login) => format!("@{login}"),
            None => c.author.clone(),
        };
        people
            .entry(display.clone())
            .and_modify(|p| p.first_time &= first_time)
            .or_insert_with(|| Contributor {
                name: c.author.clone(),
                login: login.cloned(),
                display,
                first_time,
            });
    }
    people.into_values().collect()
}

/// Collapse runs of blank lines and end with exactly one newline, so templates can be written
/// for readability without fighting tera's whitespace control.
pub fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() && blank > 0 {
            out.push('\n');
        }
        blank = 0;
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Make commit text safe inside a Markdown list item: HTML is escaped, characters that would
/// start a heading, quote, list or rule at the start of a line are escaped, and continuation
/// lines are indented so they stay in the item.
pub fn escape_markdown(text: &str, indent: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text.trim().lines().enumerate() {
        if i > 0 {
            out.push('\n');
            if line.trim().is_empty() {
                continue;
            }
            out.push_str(indent);
        }
        let line = line.trim();
        // `>` needs no escape: it becomes `&gt;`, which starts no quote. An ordered-list marker
        // is escaped at its dot (`1\.`), which CommonMark accepts, unlike `\1`.
        let ordered = line
            .find(['.', ')'])
            .filter(|&at| at > 0 && line[..at].bytes().all(|b| b.is_ascii_digit()))
            .filter(|&at| line[at + 1..].is_empty() || line[at + 1..].starts_with(' '));
        if i > 0 && ordered.is_none() && line.starts_with(['#', '=', '-', '+', '*', '|', '`', '~'])
        {
            out.push('\\');
        }
        for (at, ch) in line.char_indices() {
            if i > 0 && ordered == Some(at) {
                out.push('\\');
            }
            match ch {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                _ => out.push(ch),
            }
        }
    }
    out
}

/// Whether an author is a bot, which the contributors list leaves out: GitHub Apps commit as
/// `name[bot]`, and Renovate and Dependabot also commit under their plain names.
pub fn is_bot(author: &str) -> bool {
    let name = author.trim().to_ascii_lowercase();
    name.ends_with("[bot]") || matches!(name.as_str(), "renovate" | "dependabot" | "github-actions")
}

/// `#123` references in already-escaped Markdown `text`, linked to `issues_url/123`. A `#`
/// inside a word, a path, a link or an HTML entity (`&#60;`) is not a reference.
pub fn link_references(text: &str, issues_url: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_ref = bytes[i] == b'#'
            && (i == 0
                || !matches!(bytes[i - 1], b'&' | b'/' | b'[' | b'\\')
                    && !bytes[i - 1].is_ascii_alphanumeric());
        if starts_ref {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let end = i + 1 + digits;
            let word_ends = bytes
                .get(end)
                .is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'_');
            if digits > 0 && word_ends {
                let number = &text[i + 1..end];
                out.push_str(&format!("[#{number}]({issues_url}/{number})"));
                i = end;
                continue;
            }
        }
        let ch = text[i..].chars().next().unwrap_or_default();
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    out
}

/// Merge a rendered release section into an existing changelog (`None`: no file yet).
///
/// The section goes before the first release heading (`## ...`), after the file's header, and
/// every byte already there is kept:
///
/// - an `[Unreleased]` section whose every line is also in the new section (what
///   `release changelog --all` wrote for these commits) is replaced by the new section;
/// - an `[Unreleased]` section with anything else in it (hand-written Keep-a-Changelog notes)
///   keeps its heading, now empty, and its text moves into the new section, right under the
///   release heading: it describes this release;
/// - a heading for the same version written by hand does not count as this release: "already
///   released" is the tag's business, not the changelog's.
///
/// Returns `None` when the file already holds exactly this section (a run that stopped after
/// writing it).
pub fn merge(existing: Option<&str>, section: &str) -> Option<String> {
    let section = section.trim_end();
    let Some(existing) = existing else {
        return Some(format!("{HEADER}\n{section}\n"));
    };
    if contains_block(existing, section) {
        return None;
    }
    let headings = level2_headings(existing);
    let Some(&(first, first_end)) = headings.first() else {
        // No release yet: the section goes at the end, after whatever is there.
        let mut out = existing.to_string();
        out.push_str(match () {
            _ if out.is_empty() || out.ends_with("\n\n") => "",
            _ if out.ends_with('\n') => "\n",
            _ => "\n\n",
        });
        out.push_str(section);
        out.push('\n');
        return Some(out);
    };
    let mut out = String::with_capacity(existing.len() + section.len() + 4);
    if !is_unreleased(&existing[first..first_end]) {
        out.push_str(&existing[..first]);
        out.push_str(section);
        out.push_str("\n\n");
        out.push_str(&existing[first..]);
        return Some(out);
    }
    let end = headings.get(1).map_or(existing.len(), |&(at, _)| at);
    let body = trim_blank_lines(&existing[first_end..end]);
    // Generated: each of its lines is one of the new section's (as often), nothing else.
    let mut ours: HashMap<&str, usize> = HashMap::new();
    for line in section.lines().map(str::trim_end) {
        *ours.entry(line).or_default() += 1;
    }
    let generated = !body.is_empty()
        && body
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .all(|l| match ours.get_mut(l) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            });
    if generated {
        out.push_str(&existing[..first]);
        out.push_str(section);
    } else {
        out.push_str(&existing[..first_end]);
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
        if body.is_empty() {
            out.push_str(section);
        } else {
            // Under the release heading, before the generated lists: after them, a bare
            // bullet would read as one more contributor.
            let (heading, rest) = match section.split_once('\n') {
                Some((h, rest)) if h.starts_with("## ") => (Some(h), rest),
                _ if section.starts_with("## ") && !section.contains('\n') => (Some(section), ""),
                _ => (None, section),
            };
            if let Some(h) = heading {
                out.push_str(h);
                out.push_str("\n\n");
            }
            let rest = trim_blank_lines(rest);
            let (first_part, second_part) = if heading.is_some() {
                (body, rest)
            } else {
                (rest, body)
            };
            out.push_str(first_part);
            if !second_part.is_empty() {
                out.push_str("\n\n");
                out.push_str(second_part);
            }
        }
    }
    if end < existing.len() {
        out.push_str("\n\n");
        out.push_str(&existing[end..]);
    } else {
        out.push('\n');
    }
    Some(out)
}

/// Whether `block` occurs in `text` as whole lines.
fn contains_block(text: &str, block: &str) -> bool {
    if block.is_empty() {
        return false;
    }
    text.match_indices(block).any(|(at, _)| {
        let after = &text[at + block.len()..];
        (at == 0 || text[..at].ends_with('\n'))
            && (after.is_empty() || after.starts_with('\n') || after.starts_with("\r\n"))
    })
}

/// Start and end (after its line break) of every `## ` heading outside fenced code blocks.
/// [`merge`] for the release of `version`: a stable release first folds away the sections of
/// its own pre-releases (`## [2.0.0-rc.1]`, `-next.2`) whose every line its `section` holds,
/// since their notes are in it; one with a line of its own (written by hand) stays.
pub fn merge_release(existing: Option<&str>, section: &str, version: &str) -> Option<String> {
    let stable = semver::Version::parse(version)
        .ok()
        .filter(|v| v.pre.is_empty());
    let Some((existing, stable)) = existing.zip(stable) else {
        return merge(existing, section);
    };
    let folded = fold_prereleases(existing, section, &stable);
    match merge(Some(&folded), section) {
        None if folded != existing => Some(folded),
        merged => merged,
    }
}

/// `text` without the sections of `stable`'s pre-releases that `section` covers.
fn fold_prereleases(text: &str, section: &str, stable: &semver::Version) -> String {
    let covered: HashSet<&str> = section.lines().map(str::trim).collect();
    let headings = level2_headings(text);
    let mut out = String::with_capacity(text.len());
    let mut kept_until = 0;
    for (i, &(start, heading_end)) in headings.iter().enumerate() {
        let end = headings.get(i + 1).map_or(text.len(), |&(next, _)| next);
        let is_ours = heading_version(&text[start..heading_end]).is_some_and(|v| {
            !v.pre.is_empty()
                && (v.major, v.minor, v.patch) == (stable.major, stable.minor, stable.patch)
        });
        let all_covered = text[heading_end..end]
            .lines()
            .map(str::trim)
            .all(|l| l.is_empty() || covered.contains(l));
        if is_ours && all_covered {
            out.push_str(&text[kept_until..start]);
            kept_until = end;
        }
    }
    out.push_str(&text[kept_until..]);
    out
}

/// The version a `## [1.2.3-rc.1] - date` heading names (brackets, a link and a `v` optional).
fn heading_version(heading: &str) -> Option<semver::Version> {
    let title = heading.trim_start_matches("## ").trim_start();
    let title = title.strip_prefix('[').unwrap_or(title);
    let word = title
        .split(|c: char| c == ']' || c.is_whitespace())
        .next()?;
    let word = word.strip_prefix('v').unwrap_or(word);
    semver::Version::parse(word).ok()
}

fn level2_headings(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(f), Some(m)) if f == m => fence = None,
            (None, None) if line.starts_with("## ") => out.push((offset, offset + line.len())),
            _ => {}
        }
        offset += line.len();
    }
    out
}

/// Whether a heading line is `## [Unreleased]` (any case, with or without brackets or a link).
fn is_unreleased(heading: &str) -> bool {
    let title = heading
        .trim_end()
        .trim_start_matches("## ")
        .trim_start()
        .trim_start_matches('[')
        .to_ascii_lowercase();
    title
        .strip_prefix("unreleased")
        .is_some_and(|after| after.is_empty() || after.starts_with([']', ' ', '(']))
}

/// `text` without the blank lines it starts and ends with.
fn trim_blank_lines(text: &str) -> &str {
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        if !line.trim().is_empty() {
            break;
        }
        start += line.len();
    }
    let mut end = text.len();
    while end > start {
        let line_start = text[..end]
            .trim_end_matches(['\n', '\r'])
            .rfind('\n')
            .map_or(0, |i| i + 1);
        if !text[line_start..end].trim().is_empty() {
            end = line_start + text[line_start..end].trim_end_matches(['\n', '\r']).len();
            break;
        }
        end = line_start;
    }
    &text[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str =
        "## [1.1.0] - 2020-02-02\n\n### Features\n\n- new (abc1234)\n\n### Contributors\n\n- Ann\n";

    #[test]
    fn references_become_links_and_nothing_else_does() {
        let url = "https://github.com/o/r/issues";
        assert_eq!(
            link_references("fix crash (#12), see #3.", url),
            "fix crash ([#12](https://github.com/o/r/issues/12)), see [#3](https://github.com/o/r/issues/3)."
        );
        for inert in [
            "C#1 and a#2",
            "&#60;tag&#62;",
            "path/#4",
            "[#5](x)",
            "#x1",
            "#12abc",
            "#",
        ] {
            assert_eq!(link_references(inert, url), inert, "{inert}");
        }
        assert_eq!(
            link_references("ünï #7", url),
            "ünï [#7](https://github.com/o/r/issues/7)"
        );
    }

    fn planned(author: &str, email: &str) -> PlannedCommit {
        PlannedCommit {
            id: "a".repeat(40),
            short_id: "aaaaaaa".into(),
            message: crate::core::commit::classify("fix: x").unwrap(),
            level: crate::core::version::Bump::Patch,
            author: author.into(),
            email: email.into(),
            time: 0,
        }
    }

    #[test]
    fn contributors_show_logins_and_first_contributions() {
        let commits = [
            planned("Ann", "ann@x"),
            planned("Ann B.", "ANN@x"),
            planned("Bob", "bob@x"),
            planned("Bob", "bob@y"),
            planned("Cy", ""),
            planned("renovate[bot]", "bot@x"),
        ];
        let config = ChangelogConfig::default();
        let names = release_model(&commits, &ReleaseInfo::default(), &config);
        assert_eq!(names.contributors, ["Ann", "Ann B.", "Bob", "Cy"]);
        assert!(names.contributor_details.iter().all(|c| !c.first_time));
        let authors = Authors {
            logins: [("ann@x", "ann"), ("bot@x", "renovate[bot]")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
            first_time: ["bob@x", "name:Cy", "bot@x"].map(String::from).into(),
        };
        let info = ReleaseInfo {
            authors: Some(&authors),
            ..Default::default()
        };
        let model = release_model(&commits, &info, &config);
        // Both of Ann's emails are one login; Bob is new under one email only: not new.
        assert_eq!(model.contributors, ["@ann", "Bob", "Cy"]);
        let ann = &model.contributor_details[0];
        assert_eq!(
            (ann.name.as_str(), ann.login.as_deref(), ann.first_time),
            ("Ann", Some("ann"), false)
        );
        assert!(!model.contributor_details[1].first_time);
        assert!(model.contributor_details[2].first_time);
        assert_eq!(author_key("X", " A@B.c "), "a@b.c");
    }

    #[test]
    fn bots_are_not_contributors() {
        for bot in [
            "dependabot[bot]",
            "renovate[bot]",
            "Renovate",
            "github-actions[bot]",
        ] {
            assert!(is_bot(bot), "{bot}");
        }
        for person in ["Ann", "Bot Builder", "robot"] {
            assert!(!is_bot(person), "{person}");
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_markdown("use <b> tag", "  "), "use &lt;b&gt; tag");
        assert_eq!(
            escape_markdown("a\n# not a heading\n\nb", "  "),
            "a\n  \\# not a heading\n\n  b"
        );
        assert_eq!(escape_markdown("{{ x }}", "  "), "{{ x }}");
        assert_eq!(escape_markdown("a\n1. b", "  "), "a\n  1\\. b");
        assert_eq!(escape_markdown("a\n> quote", "  "), "a\n  &gt; quote");
        assert_eq!(
            escape_markdown("a\n2) b\n10.5 c", "  "),
            "a\n  2\\) b\n  10.5 c"
        );
        assert_eq!(escape_markdown("a\n- b\n```", "  "), "a\n  \\- b\n  \\```");
    }

    /// `changelog --all` drops commit bodies when the built-in template renders
    /// ([`crate::adapters::templates::Templates::changelog_shows_bodies`]): it must not show them.

    #[test]
    fn merge_goes_before_the_first_release_keeping_everything() {
        let existing = "# Changelog\n\nHand-written intro.\n\n## [1.0.0] - 2020-01-01\n\n- old\n";
        let out = merge(Some(existing), NEW).unwrap();
        assert_eq!(
            out,
            format!(
                "# Changelog\n\nHand-written intro.\n\n{NEW}\n## [1.0.0] - 2020-01-01\n\n- old\n"
            )
        );
        // The exact section is there already: a re-run changes nothing.
        assert_eq!(merge(Some(&out), NEW), None);
        let fresh = merge(None, "## [0.1.0] - 2020-01-01\n").unwrap();
        assert!(fresh.starts_with("# Changelog\n"));
        assert!(fresh.ends_with("\n\n## [0.1.0] - 2020-01-01\n"));
        // No release heading yet: at the end, the text before kept as it is.
        assert_eq!(
            merge(Some("# Log\nno newline"), "## [0.1.0]\n").unwrap(),
            "# Log\nno newline\n\n## [0.1.0]\n"
        );
    }

    #[test]
    fn a_stable_release_folds_its_pre_releases_it_covers() {
        let existing = "# Changelog\n\n## [2.0.0-rc.2] - 2020-01-02\n\n- fix b\n- feat a\n\n## [2.0.0-rc.1] - 2020-01-01\n\n- feat a\n- Hand-written: read the migration guide\n\n## [1.9.0-rc.1]\n\n- feat a\n\n## [1.8.0] - 2019-01-01\n\n- old\n";
        let section = "## [2.0.0] - 2020-01-03\n\n- feat a\n- fix b\n";
        let out = merge_release(Some(existing), section, "2.0.0").unwrap();
        assert_eq!(
            out,
            "# Changelog\n\n## [2.0.0] - 2020-01-03\n\n- feat a\n- fix b\n\n## [2.0.0-rc.1] - 2020-01-01\n\n- feat a\n- Hand-written: read the migration guide\n\n## [1.9.0-rc.1]\n\n- feat a\n\n## [1.8.0] - 2019-01-01\n\n- old\n"
        );
        // Done is done.
        assert_eq!(merge_release(Some(&out), section, "2.0.0"), None);
        // A pre-release folds nothing.
        let rc3 = "## [2.0.0-rc.3]\n\n- feat a\n";
        let out = merge_release(Some(existing), rc3, "2.0.0-rc.3").unwrap();
        assert!(out.contains("## [2.0.0-rc.2]"), "{out}");
        assert_eq!(
            heading_version("## [v2.0.0-next.1](https://x) - d\n"),
            semver::Version::parse("2.0.0-next.1").ok()
        );
    }

    #[test]
    fn a_heading_for_the_version_written_by_hand_does_not_stop_the_merge() {
        let existing = "# Changelog\n\n## [1.1.0]\n\nPlanned: x.\n";
        let out = merge(Some(existing), NEW).unwrap();
        assert_eq!(
            out,
            format!("# Changelog\n\n{NEW}\n## [1.1.0]\n\nPlanned: x.\n")
        );
    }

    #[test]
    fn a_generated_unreleased_section_is_replaced() {
        let existing = "# Changelog\n\n## [Unreleased]\n\n### Features\n\n- new (abc1234)\n\n### Contributors\n\n- Ann\n\n## [1.0.0] - 2020-01-01\n\n- old\n";
        let out = merge(Some(existing), NEW).unwrap();
        assert_eq!(
            out,
            format!("# Changelog\n\n{NEW}\n## [1.0.0] - 2020-01-01\n\n- old\n")
        );
        // Also when it is the last section.
        let last = "# Changelog\n\n## [Unreleased]\n\n### Features\n\n- new (abc1234)\n";
        assert_eq!(
            merge(Some(last), NEW).unwrap(),
            format!("# Changelog\n\n{NEW}")
        );
    }

    #[test]
    fn hand_written_unreleased_notes_move_into_the_release() {
        let existing = "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- Überall: a thing\n\n## [1.0.0] - 2020-01-01\n\n- old\n";
        let out = merge(Some(existing), NEW).unwrap();
        assert_eq!(
            out,
            "# Changelog\n\n## [Unreleased]\n\n## [1.1.0] - 2020-02-02\n\n### Added\n\n- Überall: a thing\n\n### Features\n\n- new (abc1234)\n\n### Contributors\n\n- Ann\n\n## [1.0.0] - 2020-01-01\n\n- old\n"
        );
        // An empty Keep-a-Changelog heading stays, the release goes under it.
        let empty = "# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2020-01-01\n";
        assert_eq!(
            merge(Some(empty), NEW).unwrap(),
            format!("# Changelog\n\n## [Unreleased]\n\n{NEW}\n## [1.0.0] - 2020-01-01\n")
        );
    }

    #[test]
    fn headings_in_code_blocks_do_not_count() {
        let existing = "# Changelog\n\n```\n## [Unreleased]\n```\n\n## [1.0.0]\n";
        let out = merge(Some(existing), NEW).unwrap();
        assert_eq!(
            out,
            format!("# Changelog\n\n```\n## [Unreleased]\n```\n\n{NEW}\n## [1.0.0]\n")
        );
        assert!(is_unreleased(
            "## [Unreleased](https://x/compare/v1...HEAD)\n"
        ));
        assert!(is_unreleased("## unreleased\r\n"));
        assert!(!is_unreleased("## [Unreleasedx]"));
    }

    mod property {
        use super::super::*;
        use proptest::prelude::*;

        /// A line a person might write: ASCII, non-ASCII, Markdown, CRLF.
        fn hand_line() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-zA-Z0-9 *_.,:!()-]{0,30}",
                "- [a-zäöüéß€😀 ]{1,20}",
                "### [A-Za-z]{1,10}",
                "[a-z ]{1,10}\r",
                "   ",
                Just(String::new()),
                Just("## [9.9.9] - by hand".to_string()),
            ]
        }

        fn lines(n: usize) -> impl Strategy<Value = String> {
            prop::collection::vec(hand_line(), 0..n)
                .prop_map(|ls| ls.into_iter().map(|l| l + "\n").collect::<String>())
        }

        fn section() -> impl Strategy<Value = String> {
            prop::collection::vec("[a-z]{1,8}", 1..4).prop_map(|items| {
                let mut s = "## [9.9.9] - 2025-06-15\n\n### Features\n\n".to_string();
                for (i, it) in items.iter().enumerate() {
                    s.push_str(&format!("- {it} (abc{i:04})\n"));
                }
                s.push_str("\n### Contributors\n\n- Zoë\n");
                s
            })
        }

        #[derive(Debug, Clone)]
        enum Unreleased {
            None,
            Generated,
            Hand(String),
        }

        fn unreleased() -> impl Strategy<Value = Unreleased> {
            prop_oneof![
                Just(Unreleased::None),
                Just(Unreleased::Generated),
                lines(6).prop_map(Unreleased::Hand),
            ]
        }

        fn releases() -> impl Strategy<Value = String> {
            prop::collection::vec(("[0-9]\\.[0-9]\\.[0-9]", lines(5)), 0..4).prop_map(|rs| {
                rs.into_iter()
                    .map(|(v, body)| format!("## [{v}] - 2020-01-01\n{body}"))
                    .collect()
            })
        }

        /// `text` with its `## ` headings made `### ` ones.
        fn demote(text: &str) -> String {
            text.split_inclusive('\n')
                .map(|l| {
                    if l.starts_with("## ") {
                        format!("#{l}")
                    } else {
                        l.to_string()
                    }
                })
                .collect()
        }

        fn count(text: &str, line: &str) -> usize {
            text.lines().filter(|l| *l == line).count()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            #[test]
            fn merge_keeps_every_byte_and_adds_exactly_one_section(
                header in lines(4),
                section in section(),
                unreleased in unreleased(),
                rest in releases(),
            ) {
                let header = demote(&header);
                let rest_has_release = rest.starts_with("## ");
                let unreleased_text = match &unreleased {
                    Unreleased::None => String::new(),
                    Unreleased::Generated => {
                        // What `changelog --all` rendered: a part of this release's lines.
                        let body: Vec<&str> = section.lines().skip(1).take(5).collect();
                        format!("## [Unreleased]\n{}\n", body.join("\n"))
                    }
                    Unreleased::Hand(body) => {
                        format!("## [Unreleased]\n{}", demote(body))
                    }
                };
                let existing = format!("{header}{unreleased_text}{rest}");
                let Some(out) = merge(Some(&existing), &section) else {
                    prop_assert!(existing.contains(section.trim_end()));
                    return Ok(());
                };
                let heading = section.lines().next().unwrap();
                // Exactly one section more.
                prop_assert_eq!(count(&out, heading), count(&existing, heading) + 1);
                prop_assert!(out.contains(section.trim_end()) || matches!(unreleased, Unreleased::Hand(_)));
                // What comes before the first heading and from the first release on: byte for byte.
                prop_assert!(out.starts_with(&header), "{:?}", out);
                if rest_has_release {
                    prop_assert!(out.ends_with(&rest), "{:?}", out);
                }
                // Every line that was there is still there, as often (blank lines aside; a
                // generated [Unreleased] section is replaced by the lines it repeats).
                for line in existing.lines().filter(|l| !l.trim().is_empty()) {
                    let replaced = (matches!(unreleased, Unreleased::Generated)
                        && section.lines().any(|s| s == line))
                        || line == "## [Unreleased]";
                    prop_assert!(
                        replaced || count(&out, line) >= count(&existing, line),
                        "lost {:?} from {:?}: {:?}", line, existing, out
                    );
                }
                // The [Unreleased] heading goes only with a section it repeats.
                if let Unreleased::Hand(body) = &unreleased {
                    let repeats = body.lines().map(str::trim_end).filter(|l| !l.is_empty())
                        .all(|l| section.lines().any(|s| s == l));
                    prop_assert!(repeats || out.contains("## [Unreleased]\n"));
                }
                // Merging again is a no-op only when the exact section is in the file.
                if out.contains(section.trim_end()) {
                    prop_assert_eq!(merge(Some(&out), &section), None);
                }
            }
        }
    }
}
