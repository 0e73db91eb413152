//! Conventional Commits: the message model and its parsing.
//!
//! Pure: no git here. Parsing is delegated to `conventional_commit_parser`, wrapped so that any
//! input — huge, odd or hostile — yields a value or a typed reason, never a panic.

use serde::Serialize;

/// Messages larger than this are parsed by header and footer scan only: the full grammar is
/// linear but a multi-megabyte body says nothing about the version that its header does not.
const FULL_PARSE_LIMIT: usize = 64 * 1024;

/// A commit message that follows the Conventional Commits specification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conventional {
    /// The type, lower-cased (`feat`, `fix`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The optional scope inside parentheses.
    pub scope: Option<String>,
    /// `type!:` or a `BREAKING CHANGE:` / `BREAKING-CHANGE:` footer.
    pub breaking: bool,
    /// The text of the breaking-change footer, when there is one.
    pub breaking_description: Option<String>,
    /// The description after `: ` on the first line.
    pub summary: String,
    /// The body between the header and the footers.
    pub body: Option<String>,
    /// Footers as `(token, value)` pairs, in message order.
    pub footers: Vec<(String, String)>,
}

/// Why a message is not a Conventional Commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct NotConventional {
    /// Human explanation of what is wrong.
    pub reason: String,
}

/// Strip what git itself would strip and normalise line endings: `#` comment lines, everything
/// after a scissors line, trailing whitespace and blank lines.
pub fn clean_message(raw: &str, strip_comments: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    for line in raw.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if strip_comments {
            if line.starts_with("# ------------------------ >8 ------------------------") {
                break;
            }
            if line.starts_with('#') {
                continue;
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let trimmed_len = out.trim_end().len();
    out.truncate(trimmed_len);
    // Leading blank lines are not part of the header.
    let start = out.len() - out.trim_start_matches('\n').len();
    out.drain(..start);
    out
}

/// Parse a commit message (as stored by git) as a Conventional Commit.
pub fn parse(message: &str) -> Result<Conventional, NotConventional> {
    let message = clean_message(message, false);
    if message.is_empty() {
        return Err(NotConventional {
            reason: "the message is empty".into(),
        });
    }
    if message.len() > FULL_PARSE_LIMIT {
        return parse_large(&message);
    }
    match conventional_commit_parser::parse(&message) {
        Ok(c) => Ok(from_parsed(c)),
        Err(e) => Err(NotConventional {
            reason: explain(&message, &e.to_string()),
        }),
    }
}

fn from_parsed(c: conventional_commit_parser::commit::ConventionalCommit) -> Conventional {
    let footers: Vec<(String, String)> = c
        .footers
        .into_iter()
        .map(|f| (f.token, f.content))
        .collect();
    let breaking_description = footers
        .iter()
        .find(|(t, _)| is_breaking_token(t))
        .map(|(_, v)| v.clone());
    Conventional {
        kind: c.commit_type.as_ref().to_ascii_lowercase(),
        scope: c.scope,
        breaking: c.is_breaking_change || breaking_description.is_some(),
        breaking_description,
        summary: c.summary.trim().to_string(),
        body: c.body,
        footers,
    }
}

fn is_breaking_token(token: &str) -> bool {
    token == "BREAKING CHANGE" || token == "BREAKING-CHANGE"
}

/// Header-only parse with a line scan for breaking footers; used for oversized messages.
fn parse_large(message: &str) -> Result<Conventional, NotConventional> {
    let header = message.lines().next().unwrap_or_default();
    let c = conventional_commit_parser::parse_summary(header).map_err(|e| NotConventional {
        reason: explain(header, &e.to_string()),
    })?;
    let mut parsed = from_parsed(c);
    let footer = message.lines().skip(1).find_map(|l| {
        l.strip_prefix("BREAKING CHANGE: ")
            .or_else(|| l.strip_prefix("BREAKING-CHANGE: "))
    });
    if let Some(text) = footer {
        parsed.breaking = true;
        parsed.breaking_description = Some(text.trim().to_string());
        parsed
            .footers
            .push(("BREAKING CHANGE".into(), text.trim().into()));
    }
    Ok(parsed)
}

/// Turn the parser's terse error into a sentence about the header the user wrote.
fn explain(message: &str, parser_error: &str) -> String {
    let header = message.lines().next().unwrap_or_default();
    match header.find(':') {
        None => format!("the header has no `type: ` prefix ({parser_error})"),
        Some(_) if !header.contains(": ") => {
            "the header needs a space after the `:` that ends the type".into()
        }
        Some(i) if header[..i].trim_end_matches('!').trim().is_empty() => {
            "the header has no type before the `:`".into()
        }
        Some(_) => parser_error.to_string(),
    }
}

/// Recognise a revert: the commit it reverts (full or abbreviated hex id), from git's
/// `This reverts commit <id>.` line.
pub fn reverted_commit(message: &str) -> Option<&str> {
    message.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("This reverts commit ")?;
        let id = rest.trim_end_matches('.').trim();
        (id.len() >= 7 && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
    })
}

/// Interpret git's default revert header `Revert "<header>"` as a `revert` commit, which the
/// specification recommends and semantic-release does.
pub fn parse_git_revert(message: &str) -> Option<Conventional> {
    let header = message.lines().next()?.trim();
    let inner = header.strip_prefix("Revert \"")?.strip_suffix('"')?;
    Some(Conventional {
        kind: "revert".into(),
        scope: None,
        breaking: false,
        breaking_description: None,
        summary: inner.to_string(),
        body: None,
        footers: Vec::new(),
    })
}

/// Parse a message the way the release engine reads history: Conventional Commits first, then
/// git's own revert header.
pub fn classify(message: &str) -> Result<Conventional, NotConventional> {
    parse(message).or_else(|e| parse_git_revert(message).ok_or(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_type_scope_and_summary() {
        let c = parse("feat(api): add thing\n").unwrap();
        assert_eq!(c.kind, "feat");
        assert_eq!(c.scope.as_deref(), Some("api"));
        assert_eq!(c.summary, "add thing");
        assert!(!c.breaking);
    }

    #[test]
    fn type_is_case_insensitive() {
        assert_eq!(parse("Feat: x").unwrap().kind, "feat");
        assert_eq!(parse("FIX: x").unwrap().kind, "fix");
    }

    #[test]
    fn bang_is_breaking() {
        let c = parse("refactor(core)!: drop old api").unwrap();
        assert!(c.breaking);
        assert_eq!(c.breaking_description, None);
    }

    #[test]
    fn breaking_footer_both_spellings() {
        for token in ["BREAKING CHANGE", "BREAKING-CHANGE"] {
            let m = format!("fix: a\n\nbody text\n\n{token}: config moved");
            let c = parse(&m).unwrap();
            assert!(c.breaking, "{token}");
            assert_eq!(c.breaking_description.as_deref(), Some("config moved"));
            assert_eq!(c.body.as_deref(), Some("body text"));
        }
    }

    #[test]
    fn lower_case_breaking_footer_is_not_breaking() {
        let c = parse("fix: a\n\nbreaking change: nope").unwrap();
        assert!(!c.breaking);
    }

    #[test]
    fn crlf_and_trailing_blank_lines_are_accepted() {
        let c = parse("fix: a\r\n\r\nbody\r\n\r\n\r\n").unwrap();
        assert_eq!(c.summary, "a");
        assert_eq!(c.body.as_deref(), Some("body"));
    }

    #[test]
    fn non_conventional_is_an_error_value() {
        for m in [
            "Update README.md",
            "wip",
            "feat:missing space",
            ": no type",
            "",
            "\n\n",
        ] {
            assert!(parse(m).is_err(), "{m:?}");
        }
    }

    #[test]
    fn explains_missing_space() {
        let e = parse("feat:x").unwrap_err();
        assert!(e.reason.contains("space"), "{}", e.reason);
    }

    #[test]
    fn huge_messages_parse_header_and_breaking_footer() {
        let body = "word ".repeat(100_000);
        let m = format!("feat: big\n\n{body}\n\nBREAKING CHANGE: yes");
        let c = parse(&m).unwrap();
        assert_eq!(c.kind, "feat");
        assert!(c.breaking);
    }

    #[test]
    fn odd_bytes_never_panic() {
        for m in [
            "\u{0}",
            "feat(: x",
            "feat(a b): x",
            "feat(()): x",
            "x: \u{feff}",
            "a:\r",
        ] {
            let _ = parse(m);
        }
    }

    #[test]
    fn finds_reverted_commit() {
        let m =
            "Revert \"feat: x\"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.";
        assert_eq!(
            reverted_commit(m),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(
            reverted_commit("revert: x\n\nThis reverts commit zz."),
            None
        );
    }

    #[test]
    fn git_revert_header_is_a_revert() {
        let c = classify("Revert \"feat: x\"\n\nThis reverts commit abcdef0.").unwrap();
        assert_eq!(c.kind, "revert");
        assert_eq!(c.summary, "feat: x");
    }

    #[test]
    fn clean_message_strips_comments_and_scissors() {
        let m = "feat: a\n# comment\n\nbody\n# ------------------------ >8 ------------------------\ndiff";
        assert_eq!(clean_message(m, true), "feat: a\n\nbody");
        assert_eq!(clean_message("\n\nfix: b  \n\n", false), "fix: b");
    }
}
