//! The files `release` reads and rewrites: only regular UTF-8 files inside the worktree, the
//! changelog merged keeping every byte, the release commit holding only those files, and a
//! release commit left without its tag finished or refused, never repeated.

use crate::support::{clean_failure, stderr, stdout, Published, Repo};

/// A fake CI token, kept in a file outside the worktree.
const TOKEN: &str = "ghp_FAKEfakeFAKEfake0123456789abcdefABCD";

/// Released as v1.0.0 with a changelog, then a `feat` and a `fix`.
fn project(changelog: &str) -> Repo {
    Repo::released(&[("version.txt", "1.0.0\n"), ("CHANGELOG.md", changelog)])
}

const OLD: &str = "# Changelog\n\n## [1.0.0] - 2020-01-01\n\n- first release\n";

/// The token in a file outside the worktree; its path.
fn secret(repo: &Repo) -> std::path::PathBuf {
    let path = repo.root().join("environ");
    std::fs::write(&path, format!("GITHUB_TOKEN={TOKEN}\n")).unwrap();
    path
}

/// Everything git stores, as text: every object of every ref, for "the token is nowhere".
fn all_objects(repo: &Repo) -> String {
    let out = repo.git_output(&["log", "--all", "-p", "--binary", "--format=%H %B"]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(unix)]
#[test]
fn a_symlinked_changelog_is_refused_and_its_target_never_leaks() {
    let repo = project(OLD);
    let secret = secret(&repo);
    std::fs::remove_file(repo.path().join("CHANGELOG.md")).unwrap();
    std::os::unix::fs::symlink(&secret, repo.path().join("CHANGELOG.md")).unwrap();
    repo.git(&["add", "-A"]);
    repo.commit_staged("docs: link the changelog");
    let before = repo.state();
    let objects = all_objects(&repo);

    for args in [&["bump"][..], &["bump", "--dry-run"], &["changelog"]] {
        let run = repo
            .release()
            .env("GITHUB_TOKEN", TOKEN)
            .env("CI", "1")
            .args(args)
            .assert();
        let (out, err) = (stdout(&run), stderr(&run));
        assert!(!out.contains(TOKEN) && !err.contains(TOKEN), "{out}{err}");
        if args[0] == "bump" {
            let err = clean_failure(run);
            assert!(err.contains("CHANGELOG.md (changelog.path)"), "{err}");
            assert!(err.contains("symbolic link"), "{err}");
        }
    }
    assert_eq!(repo.state(), before);
    assert_eq!(all_objects(&repo), objects);
    assert!(!objects.contains(TOKEN));
}

#[cfg(unix)]
#[test]
fn cut_in_ci_pushes_nothing_from_a_symlinked_changelog() {
    let p = Published::new(None);
    let secret = secret(&p.work);
    std::fs::remove_file(p.work.path().join("CHANGELOG.md")).unwrap();
    std::os::unix::fs::symlink(&secret, p.work.path().join("CHANGELOG.md")).unwrap();
    p.work.git(&["add", "-A"]);
    p.work.commit_staged("docs: link the changelog");
    p.work.git(&["push", "-q", "origin", "main"]);
    let remote_before = p.remote_refs();
    let run = p
        .work
        .release_hermetic()
        .env("GITHUB_TOKEN", TOKEN)
        .env("CI", "1")
        .args(["cut", "--yes", "--no-github"])
        .assert();
    let (out, err) = (stdout(&run), stderr(&run));
    assert!(!out.contains(TOKEN) && !err.contains(TOKEN), "{out}{err}");
    let err = clean_failure(run);
    assert!(err.contains("CHANGELOG.md (changelog.path)"), "{err}");
    assert_eq!(p.remote_refs(), remote_before);
    assert!(!all_objects(&p.remote).contains(TOKEN));
    assert!(!all_objects(&p.work).contains(TOKEN));
}

/// Each configuration names a path `release` must neither read nor write.
#[cfg(unix)]
#[test]
fn unsafe_paths_from_the_config_are_refused_before_anything_is_written() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "version_file = \".git/config\"\n",
            ".git/config (version_file)",
            ".git",
        ),
        (
            "[changelog]\npath = \".git/HEAD\"\n",
            ".git/HEAD (changelog.path)",
            ".git",
        ),
        (
            "[changelog]\npath = \"../CHANGELOG.md\"\n",
            "../CHANGELOG.md (changelog.path)",
            "..",
        ),
        (
            "version_file = \"/tmp/release-version.txt\"\n",
            "/tmp/release-version.txt (version_file)",
            "absolute",
        ),
        (
            "[[version_files]]\npath = \"docs/chart.yaml\"\nregex = 'version: (.*)'\n",
            "docs/chart.yaml (version_files)",
            "directory docs is a symbolic link",
        ),
        (
            "[changelog]\npath = \"docs/CHANGELOG.md\"\n",
            "docs/CHANGELOG.md (changelog.path)",
            "directory docs is a symbolic link",
        ),
        (
            "[changelog]\ntemplates = \"docs\"\n",
            "docs (changelog.templates)",
            "symbolic link",
        ),
        (
            "[changelog]\ntemplates = \"tpl\"\n",
            "changelog.md.tera (changelog.templates)",
            "symbolic link",
        ),
    ];
    for (config, names, why) in cases {
        let repo = project(OLD);
        let secret = secret(&repo);
        // A directory outside the worktree, reached through a committed symlink.
        let outside = repo.root().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("chart.yaml"), format!("version: {TOKEN}\n")).unwrap();
        std::fs::write(outside.join("CHANGELOG.md"), TOKEN).unwrap();
        std::os::unix::fs::symlink(&outside, repo.path().join("docs")).unwrap();
        std::fs::create_dir_all(repo.path().join("tpl")).unwrap();
        std::os::unix::fs::symlink(&secret, repo.path().join("tpl/changelog.md.tera")).unwrap();
        repo.write("release.toml", config);
        repo.git(&["add", "-A"]);
        repo.commit_staged("chore: configure");
        let git_config = std::fs::read(repo.path().join(".git/config")).unwrap();
        let before = repo.state();
        for args in [&["bump"][..], &["bump", "--dry-run"]] {
            let run = repo.run(args);
            let (out, err) = (stdout(&run), stderr(&run));
            assert!(!out.contains(TOKEN) && !err.contains(TOKEN), "{out}{err}");
            let err = clean_failure(run);
            assert!(err.contains(names), "{config}: {err}");
            assert!(err.contains(why), "{config}: {err}");
        }
        assert_eq!(repo.state(), before, "{config}");
        assert_eq!(
            std::fs::read(repo.path().join(".git/config")).unwrap(),
            git_config
        );
        assert_eq!(
            std::fs::read_to_string(outside.join("chart.yaml")).unwrap(),
            format!("version: {TOKEN}\n")
        );
        assert!(!std::path::Path::new("/tmp/release-version.txt").exists());
    }
}

/// A planted `.CHANGELOG.md.release-tmp` symlink does not redirect the atomic write.
#[cfg(unix)]
#[test]
fn the_temporary_file_of_a_write_is_never_followed() {
    let repo = project(OLD);
    let target = repo.root().join("victim");
    std::fs::write(&target, "untouched\n").unwrap();
    std::os::unix::fs::symlink(&target, repo.path().join(".CHANGELOG.md.release-tmp")).unwrap();
    repo.run(&["bump"]).success();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched\n");
    assert!(repo.read("CHANGELOG.md").contains("## [1.1.0]"));
}

#[test]
fn a_changelog_that_is_not_utf8_stops_the_run_before_any_write() {
    let repo = project(OLD);
    std::fs::write(
        repo.path().join("CHANGELOG.md"),
        b"# Changelog\n\n- by Ren\xe9\n",
    )
    .unwrap();
    repo.git(&["commit", "-q", "-am", "docs: x"]);
    let before = repo.state();
    let err = clean_failure(repo.run(&["bump"]));
    assert!(err.contains("CHANGELOG.md (changelog.path)"), "{err}");
    assert!(err.contains("not UTF-8 (line 3"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(repo.state(), before);
    assert_eq!(
        std::fs::read(repo.path().join("CHANGELOG.md")).unwrap(),
        b"# Changelog\n\n- by Ren\xe9\n"
    );

    // The same for any file the release rewrites.
    let repo = project(OLD);
    repo.write(
        "release.toml",
        "[[version_files]]\npath = \"chart.yaml\"\nregex = 'version: (.*)'\n",
    );
    std::fs::write(
        repo.path().join("chart.yaml"),
        b"name: caf\xe9\nversion: 1.0.0\n",
    )
    .unwrap();
    repo.git(&["add", "-A"]);
    repo.commit_staged("chore: chart");
    let before = repo.state();
    let err = clean_failure(repo.run(&["bump"]));
    assert!(err.contains("chart.yaml (version_files)"), "{err}");
    assert!(err.contains("not UTF-8"), "{err}");
    assert_eq!(repo.state(), before);
}

#[cfg(unix)]
#[test]
fn an_unreadable_changelog_stops_the_run() {
    // A directory where the changelog should be: neither "not found" nor readable.
    let repo = project(OLD);
    std::fs::remove_file(repo.path().join("CHANGELOG.md")).unwrap();
    repo.write("CHANGELOG.md/keep", "x\n");
    repo.git(&["add", "-A"]);
    repo.commit_staged("docs: oops");
    let before = repo.state();
    let err = clean_failure(repo.run(&["bump"]));
    assert!(err.contains("CHANGELOG.md (changelog.path)"), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    assert_eq!(repo.state(), before);
}

/// The 1.1.0 section `bump` writes (up to the next `## ` heading).
fn section_of<'a>(changelog: &'a str, heading: &str) -> &'a str {
    let start = changelog
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading} in {changelog}"));
    let rest = &changelog[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 4);
    &rest[..end]
}

#[test]
fn a_changelog_regenerated_with_all_gets_no_stale_unreleased_section() {
    let repo = project(OLD);
    repo.run(&["changelog", "--all", "-o", "CHANGELOG.md"])
        .success();
    assert!(repo.read("CHANGELOG.md").contains("## [Unreleased]"));
    repo.git(&["commit", "-q", "-am", "docs: regenerate the changelog"]);
    repo.run(&["bump"]).success();
    let text = repo.read("CHANGELOG.md");
    assert!(!text.contains("[Unreleased]"), "{text}");
    assert_eq!(text.matches("add an endpoint").count(), 1, "{text}");
    assert_eq!(text.matches("## [1.1.0]").count(), 1, "{text}");
    let headings: Vec<&str> = text.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(headings.len(), 2, "{text}");
    assert!(headings[0].starts_with("## [1.1.0]"), "{text}");
}

#[test]
fn hand_written_unreleased_notes_stay_and_the_release_goes_under_that_heading() {
    let keep_a_changelog = "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- Exporte für Zoë, by hand\n\n## [1.0.0] - 2020-01-01\n\n- first release\n";
    let repo = project(keep_a_changelog);
    repo.run(&["bump"]).success();
    let text = repo.read("CHANGELOG.md");
    // Every line that was there is still there.
    for line in keep_a_changelog.lines() {
        assert!(text.lines().any(|l| l == line), "lost {line:?}:\n{text}");
    }
    assert!(
        text.starts_with("# Changelog\n\n## [Unreleased]\n\n## [1.1.0] - "),
        "{text}"
    );
    let section = section_of(&text, "## [1.1.0]");
    assert!(
        section.contains("### Added\n\n- Exporte für Zoë, by hand\n"),
        "{section}"
    );
    assert!(section.contains("add an endpoint"), "{section}");
    assert!(
        text.ends_with("## [1.0.0] - 2020-01-01\n\n- first release\n"),
        "{text}"
    );
}

#[test]
fn a_hand_written_heading_for_the_version_does_not_make_bump_skip_the_notes() {
    let planned = "# Changelog\n\n## [1.1.0]\n\nPlanned by hand.\n\n## [1.0.0] - 2020-01-01\n\n- first release\n";
    let repo = project(planned);
    let out = repo.run(&["bump"]).success();
    assert!(
        stdout(&out).contains("[applied     ] write CHANGELOG.md"),
        "{}",
        stdout(&out)
    );
    let text = repo.read("CHANGELOG.md");
    assert!(text.contains("Planned by hand."), "{text}");
    assert!(text.contains("add an endpoint"), "{text}");
    assert_eq!(repo.tags(), ["v1.0.0", "v1.1.0"]);
    // The tag's notes and the changelog tell the same commits.
    let notes = repo.tag_message("v1.1.0");
    assert!(notes.contains("add an endpoint"), "{notes}");
}

#[test]
fn a_stopped_run_is_completed_without_a_second_section_even_the_next_day() {
    let keep_a_changelog = "# Changelog\n\n## [Unreleased]\n\n- by hand\n\n## [1.0.0] - 2020-01-01\n\n- first release\n";
    let repo = project(keep_a_changelog);
    repo.run(&["bump", "--no-commit"]).success();
    let written = repo.read("CHANGELOG.md");
    let out = repo.run(&["bump"]).success();
    assert!(
        stdout(&out).contains("[already done] write CHANGELOG.md"),
        "{}",
        stdout(&out)
    );
    assert_eq!(repo.read("CHANGELOG.md"), written);

    // Stopped before tagging, resumed on another day: the release commit is tagged as it is.
    let repo = project(keep_a_changelog);
    repo.run(&["bump", "--no-tag"]).success();
    let written = repo.read("CHANGELOG.md");
    let release_commit = repo.head();
    let out = repo
        .release()
        .env("SOURCE_DATE_EPOCH", "1760000000")
        .args(["bump"])
        .assert()
        .success();
    assert!(
        stdout(&out).contains("[applied     ] tag v1.1.0"),
        "{}",
        stdout(&out)
    );
    assert_eq!(repo.read("CHANGELOG.md"), written);
    assert_eq!(repo.head(), release_commit);
    assert_eq!(
        repo.rev("refs/tags/v1.1.0^{commit}").as_deref(),
        Some(release_commit.as_str())
    );
}

#[test]
fn allow_dirty_commits_only_the_files_release_wrote() {
    let repo = project(OLD);
    repo.write("unrelated.txt", "staged, not released\n");
    repo.write("src.txt", "staged edit\n");
    repo.git(&["add", "unrelated.txt", "src.txt"]);
    repo.run(&["bump", "--allow-dirty"]).success();
    assert_eq!(repo.files_of("HEAD"), ["CHANGELOG.md", "version.txt"]);
    assert_eq!(repo.git(&["show", "HEAD:src.txt"]), "code 3");
    // Still staged, for the user's own commit.
    let status = repo.status();
    assert!(status.contains("A  unrelated.txt"), "{status}");
    assert!(status.contains("M  src.txt"), "{status}");
    assert!(!status.contains("CHANGELOG.md"), "{status}");
}

#[test]
fn a_release_commit_without_its_tag_is_refused_once_commits_follow_it() {
    let repo = project(OLD);
    repo.run(&["bump", "--no-tag"]).success();
    let release_commit = repo.head();
    repo.commit_file("src.txt", "code 4\n", "fix: one more");
    let before = repo.state();
    for args in [&["bump"][..], &["bump", "--dry-run"]] {
        let err = clean_failure(repo.run(args));
        assert!(
            err.contains(&format!("git tag -a v1.1.0 {release_commit}")),
            "{err}"
        );
        assert!(err.contains("chore(release): 1.1.0"), "{err}");
        assert!(err.contains("1 commit(s) came after it"), "{err}");
        assert_eq!(repo.state(), before);
    }
    // The command it gives finishes that release; the next one counts from it.
    repo.git(&["tag", "-a", "v1.1.0", &release_commit, "-m", "v1.1.0"]);
    repo.run(&["bump"]).success();
    assert_eq!(repo.tags(), ["v1.0.0", "v1.1.0", "v1.1.1"]);
    let text = repo.read("CHANGELOG.md");
    assert_eq!(text.matches("## [1.1.0]").count(), 1, "{text}");
    assert_eq!(section_of(&text, "## [1.1.1]").matches("\n- ").count(), 2);
}

#[test]
fn an_old_untagged_first_release_is_refused_not_repeated() {
    // This repository's own case: `chore(release): 0.1.0` lost its tag, work went on.
    let repo = Repo::new();
    repo.commit("feat: start");
    repo.run(&["bump", "--no-tag"]).success();
    let release_commit = repo.head();
    for i in 0..5 {
        repo.commit(&format!("fix: step {i}"));
    }
    let before = repo.state();
    let err = clean_failure(repo.run(&["bump", "--dry-run"]));
    assert!(
        err.contains(&format!("git tag -a v0.1.0 {release_commit}")),
        "{err}"
    );
    assert_eq!(repo.state(), before);
}

#[test]
fn a_reverted_release_commit_was_abandoned_and_does_not_block() {
    let repo = project(OLD);
    repo.run(&["bump", "--no-tag"]).success();
    let abandoned = repo.head();
    repo.git(&["revert", "--no-edit", &abandoned]);
    repo.commit_file("src.txt", "code 4\n", "fix: one more");
    repo.run(&["bump"]).success();
    assert_eq!(repo.tags(), ["v1.0.0", "v1.1.0"]);
    assert_ne!(repo.rev("refs/tags/v1.1.0^{commit}"), Some(abandoned));
    let text = repo.read("CHANGELOG.md");
    assert_eq!(text.matches("## [1.1.0]").count(), 1, "{text}");
}
