//! `release changelog` and the changelog / release-notes templates.

use crate::support::{assert_snapshot, clean_failure, stdout, Repo, RELEASE_DATE};

/// v1.0.0 and v1.1.0 released, then unreleased work by two people of every kind.
fn history() -> Repo {
    let repo = Repo::new();
    repo.commit("feat: first");
    repo.annotated_tag("v1.0.0");
    repo.commits(&["fix(io): handle EOF", "feat(cli): add --json"]);
    repo.annotated_tag("v1.1.0");
    repo.commits(&[
        "fix: repair the thing",
        "docs: explain",
        "perf(db): faster queries",
        "chore: tidy",
        "refactor(core)!: split the engine\n\nBREAKING CHANGE: `Engine::new` takes a config",
        "feat(api): add an endpoint",
        "wip",
    ]);
    repo.git_cmd(&[
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "fix(api): a bug Bob found",
    ])
    .env("GIT_AUTHOR_NAME", "Bob Builder")
    .env("GIT_AUTHOR_EMAIL", "bob@example.com")
    .status()
    .unwrap();
    repo
}

fn headings(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with('#')).collect()
}

#[test]
fn unreleased_changes_by_section_breaking_first() {
    let repo = history();
    let text = stdout(&repo.run(&["changelog"]).success());
    assert_snapshot!("changelog_unreleased", text);
    assert_eq!(
        headings(&text),
        [
            "## [Unreleased]",
            "### ⚠ BREAKING CHANGES",
            "### Features",
            "### Bug Fixes",
            "### Performance",
            "### Refactoring",
            "### Documentation",
            "### Contributors",
        ]
    );
    // Only unreleased commits.
    assert!(!text.contains("add --json"), "{text}");
    // Chores, non-conventional commits: not listed.
    assert!(!text.contains("tidy"), "{text}");
    assert!(!text.contains("wip"), "{text}");
    // Scope in bold, short id unlinked (no GitHub remote).
    let fix = repo.short("HEAD");
    assert!(
        text.contains(&format!("- **api:** a bug Bob found ({fix})\n")),
        "{text}"
    );
    assert!(!text.contains("https://"), "{text}");
    // The breaking change is described by its footer.
    assert!(
        text.contains("- **core:** `Engine::new` takes a config ("),
        "{text}"
    );
    assert!(text.contains("- Alice Author\n"), "{text}");
    assert!(text.contains("- Bob Builder\n"), "{text}");
}

#[test]
fn all_renders_one_section_per_release() {
    let repo = history();
    // A pre-release tag is folded into the stable release that follows it.
    repo.git(&["tag", "v1.1.0-rc.1", "v1.1.0~1"]);
    let text = stdout(&repo.run(&["changelog", "--all"]).success());
    assert_snapshot!("changelog_all", text);
    assert!(text.starts_with("# Changelog\n"), "{text}");
    let releases: Vec<&str> = text.lines().filter(|l| l.starts_with("## ")).collect();
    let date_of = |tag: &str| {
        repo.git(&[
            "log",
            "-1",
            "--format=%cd",
            "--date=format-local:%Y-%m-%d",
            tag,
        ])
    };
    assert_eq!(
        releases,
        [
            "## [Unreleased]".to_string(),
            format!("## [1.1.0] - {}", date_of("v1.1.0")),
            format!("## [1.0.0] - {}", date_of("v1.0.0")),
        ]
    );
    // Each commit appears once, under the release that shipped it.
    assert_eq!(text.matches("add --json").count(), 1);
    let v110 = &text[text.find("## [1.1.0]").unwrap()..text.find("## [1.0.0]").unwrap()];
    assert!(
        v110.contains("handle EOF") && v110.contains("add --json"),
        "{v110}"
    );
}

#[test]
fn github_references_are_linked_and_bots_are_no_contributors() {
    let repo = history();
    repo.remote("git@github.com:acme/app.git");
    repo.commit("fix: crash on C# input, see #12 (#13)");
    repo.git(&[
        "-c",
        "user.name=dependabot[bot]",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "fix(deps): bump x (#14)",
    ]);
    let text = stdout(&repo.run(&["changelog"]).success());
    assert!(
        text.contains("crash on C# input, see [#12](https://github.com/acme/app/issues/12) ([#13](https://github.com/acme/app/issues/13))"),
        "{text}"
    );
    assert!(
        text.contains("bump x ([#14](https://github.com/acme/app/issues/14))"),
        "{text}"
    );
    assert!(!text.contains("dependabot"), "{text}");
    // Without a GitHub remote the references stay text.
    let plain = history();
    plain.commit("fix: see #12");
    let text = stdout(&plain.run(&["changelog"]).success());
    assert!(text.contains("see #12 ("), "{text}");
}

#[test]
fn github_origin_links_commits_and_compares() {
    let repo = history();
    repo.remote("git@github.com:acme/app.git");
    let text = stdout(&repo.run(&["changelog", "--all"]).success());
    let id = repo.head();
    assert!(
        text.contains(&format!(
            "- **api:** a bug Bob found ([{}](https://github.com/acme/app/commit/{id}))",
            &id[..7]
        )),
        "{text}"
    );
    assert!(
        text.contains("## [1.1.0](https://github.com/acme/app/compare/v1.0.0...v1.1.0) - "),
        "{text}"
    );
    // The first release has nothing to compare with.
    assert!(text.contains("## [1.0.0] - "), "{text}");
    assert_snapshot!("changelog_github", text);

    // Other hosts are not linked.
    let gitlab = history();
    gitlab.remote("git@gitlab.com:acme/app.git");
    let text = stdout(&gitlab.run(&["changelog"]).success());
    assert!(!text.contains("https://"), "{text}");
    assert!(!text.contains("]("), "{text}");
}

#[test]
fn sections_and_contributors_are_configurable() {
    let repo = history();
    repo.write(
        "release.toml",
        r#"[changelog]
contributors = false

[[changelog.sections]]
title = "Fixed"
types = ["fix", "perf"]

[[changelog.sections]]
title = "Added"
types = ["feat"]
"#,
    );
    let text = stdout(&repo.run(&["changelog"]).success());
    assert_eq!(
        headings(&text),
        [
            "## [Unreleased]",
            "### ⚠ BREAKING CHANGES",
            "### Fixed",
            "### Added"
        ]
    );
    let fixed = &text[text.find("### Fixed").unwrap()..text.find("### Added").unwrap()];
    assert!(fixed.contains("repair the thing") && fixed.contains("faster queries"));
    assert!(!text.contains("explain"), "{text}");
    assert!(!text.contains("Alice"), "{text}");
}

#[test]
fn output_file() {
    let repo = history();
    let printed = stdout(&repo.run(&["changelog", "--all"]).success());
    let out = repo
        .run(&["changelog", "--all", "-o", "NOTES.md"])
        .success();
    assert_eq!(stdout(&out), "");
    assert_eq!(repo.read("NOTES.md"), printed);
    repo.run(&["changelog", "--output", "sub/../UNRELEASED.md"]);
    let unreleased = stdout(&repo.run(&["changelog"]).success());
    assert_eq!(
        stdout(&repo.run(&["changelog", "-o", "-"]).success()),
        unreleased
    );
    let err = clean_failure(repo.run(&["changelog", "-o", "no/such/dir/x.md"]));
    assert!(err.contains("cannot write no/such/dir/x.md"), "{err}");
}

#[test]
fn commit_text_cannot_break_the_document() {
    let repo = Repo::new();
    repo.commit("feat: first");
    repo.tag("v1.0.0");
    repo.commit(
        "feat(ui)!: render <script>alert(1)</script> and {{ x }} {% if y %}\n\nBody.\n\nBREAKING CHANGE: the config moved\n# Not a heading\n## Nor this\n- not a list item\n1. nor this\n",
    );
    repo.commit("fix: <img src=x onerror=alert(1)> in {{ summary }}");
    let text = stdout(&repo.run(&["changelog"]).success());
    assert_snapshot!("changelog_hostile_text", text);
    // No heading comes from commit text.
    assert_eq!(
        headings(&text),
        [
            "## [Unreleased]",
            "### ⚠ BREAKING CHANGES",
            "### Features",
            "### Bug Fixes",
            "### Contributors",
        ]
    );
    // Continuation lines stay inside their list item.
    for line in text
        .lines()
        .filter(|l| l.contains("Not a heading") || l.contains("list item"))
    {
        assert!(line.starts_with("  \\"), "{line:?}");
    }
    // HTML is shown, not interpreted.
    assert!(!text.contains('<'), "{text}");
    assert!(
        text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{text}"
    );
    // Template syntax in commit text is text.
    assert!(text.contains("{{ x }} {% if y %}"), "{text}");
    assert!(text.contains("in {{ summary }}"), "{text}");

    // The release notes (tag message) are protected the same way.
    repo.run(&["bump"]).success();
    let notes = repo.tag_message("v2.0.0");
    assert!(!notes.contains('<'), "{notes}");
    assert!(
        notes
            .lines()
            .filter(|l| l.starts_with('#'))
            .all(|l| l.starts_with("## ")),
        "{notes}"
    );
    assert!(!notes.lines().any(|l| l.starts_with("## Nor")), "{notes}");
}

#[test]
fn template_overrides_from_dot_release() {
    let repo = history();
    repo.write(
        ".release/templates/changelog.md.tera",
        "{% for r in releases %}RELEASE {{ r.version | default(value=\"next\") }}\n{% for s in r.sections %}{{ s.title }}:{% for c in s.commits %} [{{ c.type }}] {{ c.summary | md }}{% endfor %}\n{% endfor %}{% endfor %}",
    );
    repo.write(
        ".release/templates/release-notes.md.tera",
        "Notes for {{ release.version }} ({{ release.date }})\n",
    );
    let text = stdout(&repo.run(&["changelog"]).success());
    assert!(
        text.starts_with("RELEASE next\nFeatures: [feat] add an endpoint\n"),
        "{text}"
    );
    let all = stdout(&repo.run(&["changelog", "--all"]).success());
    assert!(all.contains("RELEASE 1.1.0\n"), "{all}");
    assert!(all.contains("RELEASE 1.0.0\n"), "{all}");

    repo.git(&["add", ".release"]);
    repo.commit_staged("chore: templates");
    repo.run(&["bump"]).success();
    assert_eq!(
        repo.tag_message("v2.0.0"),
        format!("Notes for 2.0.0 ({RELEASE_DATE})")
    );
    assert!(repo.read("CHANGELOG.md").contains("RELEASE 2.0.0\n"));
}

#[test]
fn template_overrides_from_a_configured_directory() {
    let repo = history();
    repo.write("release.toml", "[changelog]\ntemplates = \"docs/tpl\"\n");
    repo.write(
        "docs/tpl/changelog.md.tera",
        "{% for r in releases %}{{ r.sections | length }} sections{% endfor %}\n",
    );
    // A `.release/templates` is not used when a directory is configured.
    repo.write(".release/templates/changelog.md.tera", "WRONG\n");
    let text = stdout(&repo.run(&["changelog"]).success());
    assert_eq!(text, "5 sections\n");
}

#[test]
fn a_configured_template_directory_must_exist() {
    let repo = history();
    repo.write("release.toml", "[changelog]\ntemplates = \"no/such/dir\"\n");
    let err = clean_failure(repo.run(&["changelog"]));
    assert!(err.contains("no/such/dir"), "{err}");
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn a_broken_template_is_a_clear_error_naming_the_file() {
    let repo = history();
    repo.write(
        ".release/templates/changelog.md.tera",
        "{% for r in releases %}{{ r.version }\n",
    );
    let err = clean_failure(repo.run(&["changelog"]));
    let path = repo.path().join(".release/templates/changelog.md.tera");
    assert!(
        err.starts_with(&format!("error: template {}: ", path.display())),
        "{err}"
    );
    assert_snapshot!("changelog_broken_template", repo.redact(&err));

    // A template that compiles but uses an unknown variable fails when rendering.
    repo.write(
        ".release/templates/changelog.md.tera",
        "{% for r in releases %}{{ r.no_such_field }}{% endfor %}\n",
    );
    let err = clean_failure(repo.run(&["changelog"]));
    assert!(err.contains("changelog.md.tera"), "{err}");
    assert!(err.contains("r.no_such_field"), "{err}");
    // A broken release-notes template stops a bump before anything is written.
    repo.write(".release/templates/changelog.md.tera", "ok\n");
    repo.write(
        ".release/templates/release-notes.md.tera",
        "{% if release.version %}\n",
    );
    repo.git(&["add", ".release"]);
    repo.commit_staged("chore: templates");
    let before = repo.state();
    let err = clean_failure(repo.run(&["bump"]));
    assert!(err.contains("release-notes.md.tera"), "{err}");
    assert_eq!(repo.state(), before);
}

/// `release changelog` previews exactly the section `release bump` then writes: release
/// commits (here a pre-release's, by someone else) count for nothing in either.
#[test]
fn the_preview_is_what_bump_writes() {
    let repo = Repo::new();
    repo.commit("feat: first");
    repo.annotated_tag("v1.0.0");
    repo.commit("feat(api): add an endpoint");
    repo.git_cmd(&[
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "chore(release): 1.1.0-rc.1",
    ])
    .env("GIT_AUTHOR_NAME", "Rita Releaser")
    .status()
    .unwrap();
    repo.annotated_tag("v1.1.0-rc.1");
    repo.commit("fix: handle empty input");
    let preview = stdout(&repo.run(&["changelog"]).success());
    assert!(!preview.contains("Rita Releaser"), "{preview}");
    repo.run(&["bump"]).success();
    let written = repo.read("CHANGELOG.md");
    // The same section but for its heading: `[Unreleased]` until `bump` names the version.
    let body = |text: &str| -> String {
        text.lines()
            .skip_while(|l| !l.starts_with("## "))
            .skip(1)
            .take_while(|l| !l.starts_with("## "))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    assert_eq!(body(&preview), body(&written));
    assert!(preview.starts_with("## [Unreleased]\n"), "{preview}");
    let all = stdout(&repo.run(&["changelog", "--all"]).success());
    assert!(!all.contains("Rita Releaser"), "{all}");
}
