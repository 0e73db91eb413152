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
    // Bob has no commit before v1.1.0; Alice has.
    assert!(
        text.contains("- Bob Builder (first contribution)\n"),
        "{text}"
    );
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

/// `changelog --all` reads packed commits itself (adapters::git::packs) and leaves the rest to
/// libgit2: the same history gives the same changelog loose, packed, packed with deltas and
/// spread over several packs.
#[test]
fn all_is_the_same_however_git_stores_the_commits() {
    let repo = history();
    repo.git(&["tag", "v1.1.0-rc.1", "v1.1.0~1"]);
    // Long alike messages, which `repack -f` stores as deltas of each other.
    let long = "A paragraph that repeats, so the messages compress against each other. ".repeat(30);
    for n in 0..12 {
        repo.commit(&format!("fix(io): case {n}\n\n{long}{n}\n\nCloses #{n}"));
    }
    repo.annotated_tag("v1.1.1");
    repo.commit("feat: après l'été, not ASCII");
    let loose = stdout(&repo.run(&["changelog", "--all"]).success());
    assert!(
        loose.contains("case 11") && loose.contains("## [1.1.1]"),
        "{loose}"
    );
    repo.git(&["repack", "-q", "-a", "-d", "-f", "--window=50"]);
    let packed = stdout(&repo.run(&["changelog", "--all"]).success());
    assert_eq!(packed, loose);
    let pack_dir = repo.path().join(".git/objects/pack");
    let packs = || {
        std::fs::read_dir(&pack_dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "pack"))
            })
            .count()
    };
    assert_eq!(packs(), 1);
    repo.commit("fix: in a second pack");
    repo.git(&["repack", "-q", "-d"]);
    assert_eq!(packs(), 2);
    repo.commit("fix: left loose");
    let spread = stdout(&repo.run(&["changelog", "--all"]).success());
    assert!(
        spread.contains("in a second pack") && spread.contains("left loose"),
        "{spread}"
    );
    // Packing again changes nothing.
    repo.git(&["gc", "-q", "--aggressive", "--prune=now"]);
    assert_eq!(stdout(&repo.run(&["changelog", "--all"]).success()), spread);
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

/// GitHub logins instead of names, and first contributions, against a mocked GraphQL API.
mod usernames {
    use crate::support::{stderr, stdout, Repo, AUTHOR_EMAIL};
    use std::collections::HashMap;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    const TOKEN: &str = "ghp_usernamesTestToken42";
    const DAN: (&str, &str) = ("Dan Developer", "dan@example.com");
    const ERIN: (&str, &str) = ("Erin Example", "erin@example.com");

    fn commit_as(repo: &Repo, (name, email): (&str, &str), message: &str) {
        let status = repo
            .git_cmd(&["commit", "-q", "--allow-empty", "-m", message])
            .env("GIT_AUTHOR_NAME", name)
            .env("GIT_AUTHOR_EMAIL", email)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// v1.0.0 by Alice (the default author), then many commits by Alice (returning), Dan and
    /// Erin (both new; Erin's email belongs to no GitHub account) and Dependabot, on GitHub.
    fn project() -> Repo {
        let repo = Repo::released(&[("version.txt", "1.0.0\n")]);
        repo.remote("git@github.com:acme/app.git");
        for i in 0..4 {
            repo.commit(&format!("fix: alice's fix {i}"));
            commit_as(&repo, DAN, &format!("feat: dan's feature {i}"));
            commit_as(&repo, ERIN, &format!("fix: erin's fix {i}"));
        }
        commit_as(
            &repo,
            (
                "dependabot[bot]",
                "49699333+dependabot[bot]@users.noreply.github.com",
            ),
            "fix(deps): bump x",
        );
        repo
    }

    /// GitHub's GraphQL API for one repository: each aliased `object(oid:)` of a commit it has
    /// answers `{"author": {"user": {"login": ...}}}` (`"user": null` for an email of no
    /// account), and `null` for a commit it does not have, as documented for `Commit.author`
    /// (a `GitActor`, whose `user` is nullable) and `Repository.object`.
    struct Graphql {
        /// Login (or none) by commit id.
        by_commit: HashMap<String, Option<String>>,
    }

    impl Respond for Graphql {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
            assert_eq!(body["variables"]["owner"], "acme");
            assert_eq!(body["variables"]["name"], "app");
            let mut repository = serde_json::Map::new();
            for (alias, id) in aliases(body["query"].as_str().unwrap()) {
                let answer = match self.by_commit.get(&id) {
                    Some(login) => serde_json::json!({"author": {"user":
                        login.as_ref().map(|l| serde_json::json!({"login": l}))}}),
                    None => serde_json::Value::Null,
                };
                repository.insert(alias, answer);
            }
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"data": {"repository": repository}}))
        }
    }

    /// `(alias, commit id)` of each `alias: object(oid: "id")` in a query.
    fn aliases(query: &str) -> Vec<(String, String)> {
        let marker = ": object(oid: \"";
        let mut out = Vec::new();
        let mut rest = query;
        while let Some(at) = rest.find(marker) {
            let alias = rest[..at].rsplit([' ', '{']).next().unwrap().to_string();
            let after = &rest[at + marker.len()..];
            let end = after.find('"').unwrap();
            out.push((alias, after[..end].to_string()));
            rest = &after[end..];
        }
        out
    }

    /// The login each email has on the mocked GitHub.
    fn login_of(email: &str) -> Option<String> {
        match email {
            AUTHOR_EMAIL => Some("alice".into()),
            "dan@example.com" => Some("dan".into()),
            "finn@example.com" => Some("finn-gh".into()),
            _ => None,
        }
    }

    /// A GitHub that knows every commit of `repo` now.
    async fn github_for(repo: &Repo) -> MockServer {
        let server = MockServer::start().await;
        let by_commit = repo
            .git(&["log", "--all", "--format=%H %ae"])
            .lines()
            .map(|l| {
                let (id, email) = l.split_once(' ').unwrap();
                (id.to_string(), login_of(&email.to_lowercase()))
            })
            .collect();
        Mock::given(method("POST"))
            .and(path("/graphql"))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(Graphql { by_commit })
            .mount(&server)
            .await;
        server
    }

    fn release(
        repo: &Repo,
        server: &MockServer,
        token: bool,
        args: &[&str],
    ) -> assert_cmd::assert::Assert {
        let mut cmd = repo.release_hermetic();
        cmd.env("GITHUB_API_URL", server.uri());
        if token {
            cmd.env("GITHUB_TOKEN", TOKEN);
        }
        cmd.args(args).assert()
    }

    async fn graphql_requests(server: &MockServer) -> Vec<serde_json::Value> {
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }

    fn cache(repo: &Repo) -> Option<serde_json::Value> {
        let text =
            std::fs::read_to_string(repo.path().join(".git/release-agent/logins.json")).ok()?;
        Some(serde_json::from_str(&text).unwrap())
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn logins_replace_names_in_one_query_and_the_cache_answers_next_time() {
        let repo = project();
        let gh = github_for(&repo).await;

        let text = stdout(&release(&repo, &gh, true, &["changelog"]).success());
        let contributors = &text[text.find("### Contributors").unwrap()..];
        assert_eq!(
            contributors.trim_end(),
            "### Contributors\n\n- @alice\n- @dan (first contribution)\n- Erin Example (first contribution)",
            "{text}"
        );
        let requests = graphql_requests(&gh).await;
        assert_eq!(requests.len(), 1, "one query for 13 commits by 4 authors");
        // One commit per person asked about, the bot not at all.
        let asked = aliases(requests[0]["query"].as_str().unwrap());
        assert_eq!(asked.len(), 3, "{asked:?}");
        assert_eq!(
            cache(&repo).unwrap(),
            serde_json::json!({"alice@example.com": "alice", "dan@example.com": "dan",
                "erin@example.com": null})
        );
        // The whole history lists the same people the same way, from the cache alone: a
        // changelog written by `--all` has the [Unreleased] section `bump` replaces.
        let all = stdout(&release(&repo, &gh, true, &["changelog", "--all"]).success());
        assert!(all.contains(contributors.trim_end()), "{all}");
        assert_eq!(graphql_requests(&gh).await.len(), 1);

        // The release itself asks nothing more: every email is in the cache.
        let out = release(&repo, &gh, true, &["bump"]).success();
        assert_eq!(stderr(&out), "");
        assert_eq!(graphql_requests(&gh).await.len(), 1);
        let changelog = repo.read("CHANGELOG.md");
        assert!(
            changelog.contains("- @alice\n- @dan (first contribution)\n"),
            "{changelog}"
        );
        let notes = repo.tag_message("v1.1.0");
        assert!(notes.contains("@alice, @dan, Erin Example"), "{notes}");
        assert!(
            notes.contains("- @dan made their first contribution\n"),
            "{notes}"
        );
        assert!(
            notes.contains("- Erin Example made their first contribution"),
            "{notes}"
        );
        assert!(!notes.contains("@alice made"), "{notes}");

        // Next release: Dan returns, Finn is new; only Finn's email is asked about.
        commit_as(&repo, DAN, "fix: dan again");
        commit_as(&repo, ("Finn", "Finn@Example.com"), "feat: finn's first");
        let finn = repo.head();
        let gh = github_for(&repo).await;
        release(&repo, &gh, true, &["bump"]).success();
        let requests = graphql_requests(&gh).await;
        assert_eq!(requests.len(), 1);
        let asked = aliases(requests[0]["query"].as_str().unwrap());
        assert_eq!(asked, [("c0".to_string(), finn)]);
        let notes = repo.tag_message("v1.2.0");
        assert!(notes.contains("@dan, @finn-gh\n"), "{notes}");
        assert!(
            notes.contains("- @finn-gh made their first contribution"),
            "{notes}"
        );
        assert!(!notes.contains("@dan made"), "{notes}");
        assert_eq!(cache(&repo).unwrap()["finn@example.com"], "finn-gh");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn without_a_token_names_and_no_request() {
        let repo = project();
        let gh = github_for(&repo).await;
        let out = release(&repo, &gh, false, &["bump"]).success();
        assert_eq!(stderr(&out), "");
        let changelog = repo.read("CHANGELOG.md");
        assert!(
            changelog.contains("### Contributors\n\n- Alice Author\n- Dan Developer (first contribution)\n- Erin Example (first contribution)\n"),
            "{changelog}"
        );
        assert!(!changelog.contains('@'), "{changelog}");
        assert!(graphql_requests(&gh).await.is_empty());
        assert_eq!(cache(&repo), None);

        // With a token but `contributors = false`: nothing listed, nothing asked.
        let repo = project();
        repo.write("release.toml", "[changelog]\ncontributors = false\n");
        repo.git(&["add", "release.toml"]);
        repo.commit_staged("chore: no contributors");
        release(&repo, &gh, true, &["bump"]).success();
        assert!(!repo.read("CHANGELOG.md").contains("Contributors"));
        assert!(graphql_requests(&gh).await.is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_failing_lookup_leaves_names_and_the_release_goes_on() {
        let answers = [
            ResponseTemplate::new(502).set_body_string(format!("<html>Bad gateway {TOKEN}</html>")),
            ResponseTemplate::new(500)
                .set_body_json(serde_json::json!({"message": format!("boom for {TOKEN}")})),
            ResponseTemplate::new(200).set_body_string("garbage {"),
            // How GitHub answers for a repository the token cannot see.
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "data": {"repository": null},
                "errors": [{"type": "NOT_FOUND", "path": ["repository"],
                    "locations": [{"line": 1, "column": 42}],
                    "message": format!("Could not resolve to a Repository with the name 'acme/app'. {TOKEN}")}]
            })),
        ];
        for answer in answers {
            let gh = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path("/graphql"))
                .respond_with(answer)
                .mount(&gh)
                .await;
            let repo = project();
            let out = release(&repo, &gh, true, &["bump"]).success();
            let (out, err) = (stdout(&out), stderr(&out));
            assert!(out.starts_with("released v1.1.0"), "{out}");
            assert!(
                err.contains("cannot look up the GitHub logins of the contributors"),
                "{err}"
            );
            assert!(!out.contains(TOKEN) && !err.contains(TOKEN), "{out}{err}");
            let changelog = repo.read("CHANGELOG.md");
            assert!(
                changelog.contains("- Alice Author\n- Dan Developer (first contribution)\n"),
                "{changelog}"
            );
            assert_eq!(graphql_requests(&gh).await.len(), 1);
            assert_eq!(cache(&repo), None, "nothing learned, nothing cached");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_corrupt_cache_is_ignored_and_rewritten() {
        let repo = project();
        let gh = github_for(&repo).await;
        std::fs::create_dir_all(repo.path().join(".git/release-agent")).unwrap();
        std::fs::write(
            repo.path().join(".git/release-agent/logins.json"),
            "{\"a\": 3,",
        )
        .unwrap();
        let out = release(&repo, &gh, true, &["changelog"]).success();
        assert!(stdout(&out).contains("- @alice\n"), "{}", stdout(&out));
        assert!(stderr(&out).contains("ignoring"), "{}", stderr(&out));
        assert_eq!(cache(&repo).unwrap()["dan@example.com"], "dan");
        assert_eq!(graphql_requests(&gh).await.len(), 1);
    }

    #[test]
    fn the_first_release_marks_nobody() {
        let repo = Repo::new();
        repo.commit("feat: start");
        commit_as(&repo, DAN, "fix: help");
        let text = stdout(&repo.release_hermetic().arg("changelog").assert().success());
        assert!(text.contains("- Alice Author\n- Dan Developer\n"), "{text}");
        assert!(!text.contains("first contribution"), "{text}");
    }
}
