//! Changelog and release notes: a pure model of a release, rendered with tera.
//!
//! Templates ship in the binary (`templates/`) and can be overridden per repository. Commit text
//! is data, never template source, and goes through the `md` filter so that a `#`, an HTML tag
//! or a `{{` in a message cannot break the document.

use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use tera::{Context, Tera};

use crate::config::ChangelogConfig;
use crate::core::plan::PlannedCommit;
use crate::core::remote::GithubRepo;

/// The built-in changelog template.
pub const CHANGELOG_TEMPLATE: &str = include_str!("../../templates/changelog.md.tera");
/// The built-in release-notes template.
pub const NOTES_TEMPLATE: &str = include_str!("../../templates/release-notes.md.tera");
/// The header of a new `CHANGELOG.md`.
pub const HEADER: &str =
    "# Changelog\n\nAll notable changes to this project are documented in this file.\n";

const CHANGELOG: &str = "changelog.md.tera";
const NOTES: &str = "release-notes.md.tera";

/// A template that cannot be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum ChangelogError {
    /// A user template does not compile.
    #[error("template {path}: {message}")]
    Template {
        /// The template file.
        path: PathBuf,
        /// The tera error chain.
        message: String,
    },
    /// Rendering failed (a template uses a variable that does not exist, ...).
    #[error("rendering template {name}: {message}")]
    Render {
        /// The template file.
        name: String,
        /// The tera error chain.
        message: String,
    },
    /// A template path that release refuses to read (a symlink, ...).
    #[error(transparent)]
    UnsafePath(#[from] crate::util::safe_path::UnsafePath),
    /// A template file could not be read.
    #[error("cannot read template {path}: {source}")]
    Read {
        /// The template file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

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
    /// Breaking changes, listed first.
    pub breaking: Vec<CommitEntry>,
    /// Sections in configured order, empty ones left out.
    pub sections: Vec<SectionEntry>,
    /// Distinct authors, sorted.
    pub contributors: Vec<String>,
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
    let contributors = if config.contributors {
        commits
            .iter()
            .map(|c| c.author.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    } else {
        Vec::new()
    };
    let compare_url = match (info.github, &info.previous_tag) {
        (Some(gh), Some(prev)) => Some(gh.compare_url(prev, info.tag.as_deref().unwrap_or("HEAD"))),
        _ => None,
    };
    Release {
        version: info.version.clone(),
        tag: info.tag.clone(),
        previous_tag: info.previous_tag.clone(),
        date: date_of(info.time),
        compare_url,
        breaking: commits
            .iter()
            .filter(|c| c.message.breaking)
            .map(entry)
            .collect(),
        sections,
        contributors,
    }
}

/// Seconds since the epoch: `SOURCE_DATE_EPOCH` when set (reproducible output), else now.
pub fn now() -> i64 {
    if let Some(t) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return t;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time.
pub fn rfc3339(seconds: i64) -> String {
    let day = seconds.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date_of(seconds),
        day / 3600,
        day % 3600 / 60,
        day % 60
    )
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
pub fn date_of(seconds: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = seconds.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The loaded templates.
pub struct Templates {
    tera: Tera,
    /// Where each template came from, for error messages.
    sources: HashMap<&'static str, PathBuf>,
    /// Whether the changelog template is a user's (the built-in one shows no commit body).
    user_changelog: bool,
}

impl Templates {
    /// The built-in templates, overridden by files in `dir` when present.
    pub fn load(dir: Option<&Path>) -> Result<Templates, ChangelogError> {
        if let Some(d) = dir.filter(|d| !d.is_dir()) {
            return Err(ChangelogError::Read {
                path: d.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the configured template directory does not exist ([changelog] templates)",
                ),
            });
        }
        let mut tera = Tera::default();
        tera.autoescape_on(vec![]);
        tera.register_filter("md", md_filter);
        // Templates come from the repository, which is untrusted input in CI: they see the
        // release and nothing else of the machine that renders them.
        for (function, why) in DISABLED_FUNCTIONS {
            tera.register_function(function, disabled(function, why));
        }
        let mut sources = HashMap::new();
        let mut user_changelog = false;
        for (name, builtin) in [(CHANGELOG, CHANGELOG_TEMPLATE), (NOTES, NOTES_TEMPLATE)] {
            // A template is read like the files release rewrites: a regular file, no symlink.
            let user = match dir {
                Some(d) => Some(crate::util::safe_path::check(
                    d,
                    name,
                    "changelog.templates",
                )?),
                None => None,
            }
            .filter(|p| p.exists());
            let source = match &user {
                Some(p) => read_template(p)?,
                None => builtin.to_string(),
            };
            user_changelog |= name == CHANGELOG && user.is_some();
            let path = user.unwrap_or_else(|| PathBuf::from(format!("(built-in) {name}")));
            tera.add_raw_template(name, &source)
                .map_err(|e| ChangelogError::Template {
                    path: path.clone(),
                    message: chain(&e),
                })?;
            sources.insert(name, path);
        }
        Ok(Templates {
            tera,
            sources,
            user_changelog,
        })
    }

    /// Whether the changelog template may show commit bodies: a user's template may show any
    /// field; the built-in one shows none of them.
    pub fn changelog_shows_bodies(&self) -> bool {
        self.user_changelog
    }

    /// Changelog sections for `releases` (newest first), without the file header.
    pub fn changelog(&self, releases: &[Release]) -> Result<String, ChangelogError> {
        let mut ctx = Context::new();
        ctx.insert("releases", releases);
        self.render(CHANGELOG, &ctx)
    }

    /// Release notes for one release (the tag message and the GitHub release body).
    pub fn notes(&self, release: &Release) -> Result<String, ChangelogError> {
        let mut ctx = Context::new();
        ctx.insert("release", release);
        self.render(NOTES, &ctx)
    }

    fn render(&self, name: &str, ctx: &Context) -> Result<String, ChangelogError> {
        let out = self
            .tera
            .render(name, ctx)
            .map_err(|e| ChangelogError::Render {
                name: self
                    .sources
                    .get(name)
                    .map_or_else(|| name.to_string(), |p| p.display().to_string()),
                message: chain(&e),
            })?;
        // Commit text is escaped where it enters (history); this also covers what a template
        // writes itself, and masks any secret that found its way in.
        let out = crate::util::redact::escape_controls(&out);
        Ok(tidy(&crate::util::redact::redact(&out)))
    }
}

/// tera's functions that reach outside the render context, with why each is refused.
const DISABLED_FUNCTIONS: [(&str, &str); 3] = [
    (
        "get_env",
        "templates come from the repository and must not read the environment of the machine \
         that releases it (its tokens); use the fields of `release`",
    ),
    (
        "now",
        "a release's notes must not depend on when they are rendered; use `release.date`",
    ),
    (
        "get_random",
        "a release's notes must be the same on every run",
    ),
];

/// A template function that fails with `why`.
fn disabled(name: &'static str, why: &'static str) -> impl tera::Function {
    move |_: &HashMap<String, tera::Value>| -> tera::Result<tera::Value> {
        Err(tera::Error::msg(format!("{name} is disabled: {why}")))
    }
}

/// A user template: a regular file, never a link (a link committed to the repository could make
/// a template of any file of the machine, such as `/proc/self/environ`).
fn read_template(path: &Path) -> Result<String, ChangelogError> {
    let read = |source| ChangelogError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::symlink_metadata(path).map_err(read)?;
    if !meta.file_type().is_file() {
        return Err(read(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a symbolic link or a directory): a template must be a file of \
             the repository itself",
        )));
    }
    std::fs::read_to_string(path).map_err(read)
}

/// The whole tera error chain: the top-level message alone rarely says what is wrong.
fn chain(e: &tera::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

/// Collapse runs of blank lines and end with exactly one newline, so templates can be written
/// for readability without fighting tera's whitespace control.
fn tidy(text: &str) -> String {
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

fn md_filter(
    value: &tera::Value,
    args: &HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = match value {
        tera::Value::String(s) => s.clone(),
        tera::Value::Null => String::new(),
        other => other.to_string(),
    };
    let indent = args.get("indent").and_then(|v| v.as_str()).unwrap_or("  ");
    Ok(tera::Value::String(escape_markdown(&text, indent)))
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

    #[test]
    fn dates() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(1_600_000_000), "2020-09-13");
        assert_eq!(date_of(951_782_400), "2000-02-29");
        assert_eq!(date_of(-86_400), "1969-12-31");
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
    /// ([`Templates::changelog_shows_bodies`]): it must not show them.
    #[test]
    fn the_builtin_changelog_shows_no_body() {
        let commit = |body: Option<&str>| CommitEntry {
            id: "a".repeat(40),
            short_id: "aaaaaaa".into(),
            link: "aaaaaaa".into(),
            kind: "feat".into(),
            scope: Some("api".into()),
            summary: "add a thing".into(),
            body: body.map(str::to_string),
            breaking: true,
            breaking_description: "gone".into(),
            author: "Ann".into(),
        };
        let release = |body| Release {
            version: Some("1.0.0".into()),
            tag: Some("v1.0.0".into()),
            previous_tag: None,
            date: "2020-01-01".into(),
            compare_url: None,
            breaking: vec![commit(body)],
            sections: vec![SectionEntry {
                title: "Features".into(),
                commits: vec![commit(body)],
            }],
            contributors: vec!["Ann".into()],
        };
        let templates = Templates::load(None).unwrap();
        assert!(!templates.changelog_shows_bodies());
        let with = templates.changelog(&[release(Some("BODY TEXT"))]).unwrap();
        assert!(!with.contains("BODY TEXT"), "{with}");
        assert_eq!(with, templates.changelog(&[release(None)]).unwrap());
    }

    fn empty_release() -> Release {
        Release {
            version: Some("1.0.0".into()),
            tag: Some("v1.0.0".into()),
            previous_tag: None,
            date: "2020-01-01".into(),
            compare_url: None,
            breaking: vec![],
            sections: vec![],
            contributors: vec![],
        }
    }

    /// Notes rendered by a user template of `source`.
    fn notes_of(source: &str) -> Result<String, ChangelogError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(NOTES), source).unwrap();
        Templates::load(Some(dir.path()))?.notes(&empty_release())
    }

    #[test]
    fn templates_reach_nothing_outside_the_release() {
        for (source, why) in [
            (r#"{{ get_env(name="PATH") }}"#, "get_env is disabled"),
            (
                r#"{{ get_env(name="PATH", default="x") }}"#,
                "get_env is disabled",
            ),
            (
                r#"{% set p = get_env(name="HOME") %}{{ p }}"#,
                "get_env is disabled",
            ),
            ("{{ now() }}", "now is disabled"),
            ("{{ get_random(end=10) }}", "get_random is disabled"),
        ] {
            let err = notes_of(source).unwrap_err().to_string();
            assert!(err.contains(why), "{source}: {err}");
            assert!(err.contains(NOTES), "{source}: {err}");
        }
        // What stays: the release, and tera's own pure functions.
        assert_eq!(
            notes_of("{{ release.version }} {% for i in range(end=3) %}{{ i }}{% endfor %}")
                .unwrap(),
            "1.0.0 012\n"
        );
    }

    #[test]
    fn rendered_text_is_masked_and_inert() {
        crate::util::redact::register("tmpl-Secret-0123456789");
        let out = notes_of("v{{ release.version }} tmpl-Secret-0123456789 \u{1b}[2J\u{7}").unwrap();
        assert_eq!(out, "v1.0.0 *** \\x1b[2J\\x07\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_template_that_is_a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "secret").unwrap();
        let templates = dir.path().join("templates");
        std::fs::create_dir(&templates).unwrap();
        std::os::unix::fs::symlink(&outside, templates.join(NOTES)).unwrap();
        let err = Templates::load(Some(&templates)).err().unwrap().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        // A dangling link is no template either, not a silent fallback to the built-in one.
        std::fs::remove_file(&outside).unwrap();
        assert!(Templates::load(Some(&templates)).is_err());
    }

    const NEW: &str =
        "## [1.1.0] - 2020-02-02\n\n### Features\n\n- new (abc1234)\n\n### Contributors\n\n- Ann\n";

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
