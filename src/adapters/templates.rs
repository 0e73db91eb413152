//! Templates: the built-in changelog and release-notes templates, or a repository's own,
//! rendered with tera.
//!
//! Commit text is data, never template source, and goes through the `md` filter so that a `#`,
//! an HTML tag or a `{{` in a message cannot break the document.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tera::{Context, Tera};

use crate::core::changelog::{escape_markdown, link_references, tidy, Release};
use crate::core::packages::PackagesSummary;

/// The built-in changelog template.
pub const CHANGELOG_TEMPLATE: &str = include_str!("../../templates/changelog.md.tera");
/// The built-in release-notes template.
pub const NOTES_TEMPLATE: &str = include_str!("../../templates/release-notes.md.tera");
/// The built-in template of a section of `[changelog] packages_summary`.
pub const SUMMARY_TEMPLATE: &str = include_str!("../../templates/packages-summary.md.tera");

const CHANGELOG: &str = "changelog.md.tera";
const NOTES: &str = "release-notes.md.tera";
const SUMMARY: &str = "packages-summary.md.tera";

/// A template that cannot be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
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
    pub fn load(dir: Option<&Path>) -> Result<Templates, TemplateError> {
        if let Some(d) = dir.filter(|d| !d.is_dir()) {
            return Err(TemplateError::Read {
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
        tera.register_filter("refs", refs_filter);
        // Templates come from the repository, which is untrusted input in CI: they see the
        // release and nothing else of the machine that renders them.
        for (function, why) in DISABLED_FUNCTIONS {
            tera.register_function(function, disabled(function, why));
        }
        let mut sources = HashMap::new();
        let mut user_changelog = false;
        for (name, builtin) in [
            (CHANGELOG, CHANGELOG_TEMPLATE),
            (NOTES, NOTES_TEMPLATE),
            (SUMMARY, SUMMARY_TEMPLATE),
        ] {
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
                .map_err(|e| TemplateError::Template {
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
    pub fn changelog(&self, releases: &[Release]) -> Result<String, TemplateError> {
        let mut ctx = Context::new();
        ctx.insert("releases", releases);
        self.render(CHANGELOG, &ctx)
    }

    /// Release notes for one release (the tag message and the GitHub release body).
    pub fn notes(&self, release: &Release) -> Result<String, TemplateError> {
        let mut ctx = Context::new();
        ctx.insert("release", release);
        self.render(NOTES, &ctx)
    }

    /// The `[changelog] packages_summary` section of one release commit of several packages.
    pub fn packages_summary(&self, summary: &PackagesSummary) -> Result<String, TemplateError> {
        let ctx = Context::from_serialize(summary).map_err(|e| TemplateError::Render {
            name: SUMMARY.to_string(),
            message: chain(&e),
        })?;
        self.render(SUMMARY, &ctx)
    }

    fn render(&self, name: &str, ctx: &Context) -> Result<String, TemplateError> {
        let out = self
            .tera
            .render(name, ctx)
            .map_err(|e| TemplateError::Render {
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
fn read_template(path: &Path) -> Result<String, TemplateError> {
    let read = |source| TemplateError::Read {
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

/// A filter's input as text (`null` is empty).
fn text_of(value: &tera::Value) -> String {
    match value {
        tera::Value::String(s) => s.clone(),
        tera::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `{{ text | md | refs(url=release.issues_url) }}`: `#123` linked to the repository's issues;
/// without a URL (no GitHub remote), the text as it is.
fn refs_filter(
    value: &tera::Value,
    args: &HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = text_of(value);
    Ok(tera::Value::String(
        match args.get("url").and_then(|v| v.as_str()) {
            Some(url) if !url.is_empty() => link_references(&text, url),
            _ => text,
        },
    ))
}

fn md_filter(
    value: &tera::Value,
    args: &HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = text_of(value);
    let indent = args.get("indent").and_then(|v| v.as_str()).unwrap_or("  ");
    Ok(tera::Value::String(escape_markdown(&text, indent)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::changelog::{CommitEntry, SectionEntry};

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
            issues_url: None,
            breaking: vec![commit(body)],
            sections: vec![SectionEntry {
                title: "Features".into(),
                commits: vec![commit(body)],
            }],
            contributors: vec!["Ann".into()],
            contributor_details: vec![crate::core::changelog::Contributor {
                name: "Ann".into(),
                login: None,
                display: "Ann".into(),
                first_time: false,
            }],
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
            issues_url: None,
            breaking: vec![],
            sections: vec![],
            contributors: vec![],
            contributor_details: vec![],
        }
    }

    /// Notes rendered by a user template of `source`.
    fn notes_of(source: &str) -> Result<String, TemplateError> {
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
}
