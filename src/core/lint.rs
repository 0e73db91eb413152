//! Commit message lint: precise, friendly diagnostics for Conventional Commits. Pure.

use crate::config::LintConfig;
use crate::core::commit;

/// One problem in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line in the cleaned message.
    pub line: usize,
    /// What is wrong.
    pub message: String,
    /// What is expected instead, with an example.
    pub hint: String,
}

const FORMAT: &str = "expected `<type>[(scope)][!]: <description>`, e.g. `feat(parser): accept tags without a prefix`";

/// Messages git writes itself, which are accepted as they are; a git revert also when GitHub
/// squash-merged it and appended ` (#123)`, as the release engine reads it the same way.
fn is_generated(header: &str) -> bool {
    header.starts_with("Merge ")
        || header.starts_with("fixup! ")
        || header.starts_with("squash! ")
        || header.starts_with("amend! ")
        || commit::parse_git_revert(header).is_some()
}

/// Check one message (as written to `COMMIT_EDITMSG`: comment lines are ignored).
pub fn check(raw: &str, config: &LintConfig) -> Vec<Diagnostic> {
    let message = commit::clean_message(raw, true);
    let header = message.lines().next().unwrap_or_default();
    let diag = |line: usize, message: String, hint: &str| Diagnostic {
        line,
        message,
        hint: hint.to_string(),
    };
    if message.is_empty() {
        return vec![diag(1, "the message is empty".into(), FORMAT)];
    }
    if is_generated(header) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let parsed = commit::parse(&message);
    match &parsed {
        Ok(parsed) => {
            if !config
                .types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(&parsed.kind))
            {
                out.push(diag(
                    1,
                    format!("unknown type `{}`", parsed.kind),
                    &format!("use one of: {}", config.types.join(", ")),
                ));
            }
            if parsed.summary.is_empty() {
                out.push(diag(
                    1,
                    "the description after `: ` is empty".into(),
                    FORMAT,
                ));
            }
        }
        Err(e) => out.push(diag(
            1,
            header_problem(header).unwrap_or_else(|| e.reason.clone()),
            FORMAT,
        )),
    }
    let length = header.chars().count();
    if length > config.max_header_length {
        out.push(diag(
            1,
            format!(
                "the header is {length} characters long, more than {}",
                config.max_header_length
            ),
            "keep the first line short; put details in the body after a blank line",
        ));
    }
    if message.lines().nth(1).is_some_and(|l| !l.trim().is_empty()) {
        out.push(diag(
            2,
            "the second line must be blank".into(),
            "leave one empty line between the header and the body",
        ));
    }
    // What the release engine reads as a breaking change is what the parser found; a line that
    // looks like one but is not would pass here and silently not bump major there.
    let has_breaking_footer = parsed.is_ok_and(|p| p.breaking_description.is_some());
    for (i, line) in message.lines().enumerate().skip(1) {
        let line = line.trim_start();
        let lower = line.to_ascii_lowercase();
        if !(lower.starts_with("breaking change") || lower.starts_with("breaking-change")) {
            continue;
        }
        if !line.starts_with("BREAKING CHANGE") && !line.starts_with("BREAKING-CHANGE") {
            if lower[15..].starts_with(':') {
                out.push(diag(
                    i + 1,
                    "a breaking-change footer must be written in upper case".into(),
                    BREAKING_HINT,
                ));
            }
            continue;
        }
        if !has_breaking_footer {
            out.push(diag(i + 1, breaking_problem(&line[15..]), BREAKING_HINT));
        }
    }
    out
}

const BREAKING_HINT: &str =
    "write `BREAKING CHANGE: <what changed and what to do>` (or mark the header with `!`)";

/// Why a line starting `BREAKING CHANGE` (given after those words) is not a breaking-change
/// footer.
fn breaking_problem(rest: &str) -> String {
    let rest = rest.trim_end();
    if rest.is_empty() || rest == ":" {
        "the breaking-change footer has no description, so it is not read as a breaking change"
            .into()
    } else if rest.starts_with(['S', 's']) {
        "`BREAKING CHANGES` is not a footer token: write `BREAKING CHANGE` (singular)".into()
    } else if rest.starts_with(':') {
        "the `:` after `BREAKING CHANGE` must be followed by a space".into()
    } else {
        format!("`BREAKING CHANGE{rest}` is not read as a breaking-change footer")
    }
}

/// A more precise explanation of a malformed header than the parser gives.
fn header_problem(header: &str) -> Option<String> {
    let Some(colon) = header.find(':') else {
        return Some(format!("the header `{header}` has no `type: ` prefix"));
    };
    let prefix = &header[..colon];
    let kind_end = prefix.find(['(', '!']).unwrap_or(prefix.len());
    let kind = &prefix[..kind_end];
    if kind.is_empty() {
        return Some("the header has no type before the `:`".into());
    }
    if !kind.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Some(format!("the type `{kind}` must be letters only"));
    }
    let rest = &prefix[kind_end..];
    if rest.starts_with('(') {
        let Some(close) = rest.find(')') else {
            return Some("the scope is missing its closing `)`".into());
        };
        let scope = &rest[1..close];
        if scope.is_empty() || scope.contains(char::is_whitespace) || scope.contains('(') {
            return Some(format!(
                "the scope `({scope})` must be a word without spaces or parentheses"
            ));
        }
        let after = &rest[close + 1..];
        if !after.is_empty() && after != "!" {
            return Some(format!("unexpected `{after}` after the scope"));
        }
    } else if !rest.is_empty() && rest != "!" {
        return Some(format!("unexpected `{rest}` after the type"));
    }
    if !header[colon..].starts_with(": ") {
        return Some("the `:` after the type must be followed by a space".into());
    }
    if header[colon + 2..].trim().is_empty() {
        return Some("the description after `: ` is empty".into());
    }
    None
}

/// Render diagnostics for a person: which message, which line, what is expected.
pub fn render(source: &str, raw: &str, diagnostics: &[Diagnostic]) -> String {
    let message = commit::clean_message(raw, true);
    let lines: Vec<&str> = message.lines().collect();
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&format!("error: {}\n", d.message));
        out.push_str(&format!("  --> {source}, line {}\n", raw_line(raw, d.line)));
        if let Some(text) = lines.get(d.line - 1) {
            out.push_str(&format!("   | {text}\n"));
        }
        out.push_str(&format!("   = {}\n", d.hint));
    }
    out
}

/// The line of `raw` that is line `cleaned` (1-based) of its cleaned message, so that a location
/// points into the file the user edits even when comment or leading blank lines precede it.
fn raw_line(raw: &str, cleaned: usize) -> usize {
    let mut kept = 0;
    let mut started = false;
    for (i, line) in raw.split('\n').enumerate() {
        if line.starts_with("# ------------------------ >8 ------------------------") {
            break;
        }
        if line.starts_with('#') {
            continue;
        }
        started |= !line.trim().is_empty();
        if started {
            kept += 1;
            if kept == cleaned {
                return i + 1;
            }
        }
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(m: &str) -> Vec<String> {
        check(m, &LintConfig::default())
            .into_iter()
            .map(|d| format!("{}: {}", d.line, d.message))
            .collect()
    }

    #[test]
    fn good_messages_pass() {
        for m in [
            "feat: a",
            "fix(api)!: b\n\nbody\n\nBREAKING CHANGE: c",
            "chore(release): 1.0.0",
            "Merge branch 'x'",
            "Revert \"feat: a\"\n\nThis reverts commit abc.",
            "fixup! feat: a",
            "feat: a\n# Please enter the commit message\n# ------------------------ >8 ------------------------\ndiff --git",
        ] {
            assert_eq!(lint(m), Vec::<String>::new(), "{m}");
        }
    }

    #[test]
    fn precise_errors() {
        let table = [
            (
                "Added stuff",
                "1: the header `Added stuff` has no `type: ` prefix",
            ),
            (
                "feat:stuff",
                "1: the `:` after the type must be followed by a space",
            ),
            (
                "feat(my scope): x",
                "1: the scope `(my scope)` must be a word without spaces or parentheses",
            ),
            ("feat(x: y", "1: the scope is missing its closing `)`"),
            ("f3at: x", "1: the type `f3at` must be letters only"),
            ("feature: x", "1: unknown type `feature`"),
            ("", "1: the message is empty"),
            ("# only a comment", "1: the message is empty"),
            ("fix: a\nbody", "2: the second line must be blank"),
            (
                "fix: a\n\nbreaking change: b",
                "3: a breaking-change footer must be written in upper case",
            ),
        ];
        for (m, want) in table {
            assert!(lint(m).contains(&want.to_string()), "{m:?}: {:?}", lint(m));
        }
    }

    #[test]
    fn breaking_lines_that_are_not_footers_are_errors() {
        for (m, want) in [
            (
                "fix: a\n\nBREAKING CHANGE:",
                "3: the breaking-change footer has no description",
            ),
            (
                "fix!: a\n\nBREAKING-CHANGE:  ",
                "3: the breaking-change footer has no description",
            ),
            (
                "fix: a\n\nBREAKING CHANGES: x",
                "3: `BREAKING CHANGES` is not a footer token",
            ),
            (
                "fix: a\n\nBREAKING CHANGE:x",
                "3: the `:` after `BREAKING CHANGE` must be",
            ),
            (
                "fix: a\n\nBREAKING CHANGE :x",
                "3: `BREAKING CHANGE :x` is not read",
            ),
        ] {
            let got = lint(m);
            assert!(got.iter().any(|d| d.starts_with(want)), "{m:?}: {got:?}");
        }
        for m in [
            "fix: a\n\nBREAKING CHANGE: x",
            "fix: a\n\nBREAKING CHANGE:\n  described below",
            "fix: a\n\n  BREAKING CHANGE: indented",
            "fix: a\n\nBREAKING CHANGE #12",
            "fix: a\n\nbody mentions breaking changes in passing",
        ] {
            assert_eq!(lint(m), Vec::<String>::new(), "{m:?}");
        }
    }

    #[test]
    fn long_header() {
        let m = format!("feat: {}", "x".repeat(120));
        assert!(lint(&m)[0].contains("more than 100"));
    }

    #[test]
    fn rendering_shows_line_and_hint() {
        let d = check("Added stuff", &LintConfig::default());
        let text = render("commit abc1234", "Added stuff", &d);
        assert!(text.contains("--> commit abc1234, line 1"), "{text}");
        assert!(text.contains("   | Added stuff"), "{text}");
        assert!(text.contains("e.g. `feat(parser)"), "{text}");
    }
}
