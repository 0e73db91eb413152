//! Version rules end to end: real repositories, `release plan`.

use crate::support::{clean_failure, plan_headers, stdout, Repo};
use serde_json::Value;

fn s(v: &Value) -> Option<&str> {
    v.as_str()
}

/// A repository whose `main` is released as v1.2.3 (annotated tag).
fn released(version: &str) -> Repo {
    let repo = Repo::new();
    repo.commit("feat: first");
    repo.annotated_tag(&format!("v{version}"));
    repo
}

#[test]
fn first_release_without_any_tag_is_the_initial_version() {
    let repo = Repo::new();
    repo.commits(&["feat: a", "fix: b"]);
    let plan = repo.plan_json(&[]);
    assert_eq!(plan["current_version"], Value::Null);
    assert_eq!(plan["current_tag"], Value::Null);
    assert_eq!(s(&plan["next_version"]), Some("0.1.0"));
    assert_eq!(s(&plan["next_tag"]), Some("v0.1.0"));
    assert_eq!(plan_headers(&plan), ["fix: b", "feat: a"]);
}

#[test]
fn first_release_uses_the_configured_initial_version() {
    let repo = Repo::new();
    repo.write("release.toml", "initial_version = \"1.0.0\"\n");
    repo.commits(&["feat!: a", "fix: b"]);
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["next_version"]), Some("1.0.0"));
    assert_eq!(s(&plan["next_tag"]), Some("v1.0.0"));
}

#[test]
fn each_commit_type_asks_for_its_level() {
    let repo = released("1.2.3");
    let table: &[(&str, Option<&str>, &str)] = &[
        ("feat: add", Some("1.3.0"), "minor"),
        ("feat(api): add", Some("1.3.0"), "minor"),
        ("fix: repair", Some("1.2.4"), "patch"),
        ("perf: faster", Some("1.2.4"), "patch"),
        ("revert: undo the thing", Some("1.2.4"), "patch"),
        ("feat!: drop", Some("2.0.0"), "major"),
        ("fix(core)!: drop", Some("2.0.0"), "major"),
        ("chore!: drop node 16", Some("2.0.0"), "major"),
        (
            "fix: a\n\nSome body.\n\nBREAKING CHANGE: config moved",
            Some("2.0.0"),
            "major",
        ),
        (
            "feat: a\n\nBREAKING-CHANGE: config moved",
            Some("2.0.0"),
            "major",
        ),
        ("Feat: capitalised type", Some("1.3.0"), "minor"),
        ("chore: tidy", None, "none"),
        ("docs: explain", None, "none"),
        ("refactor: move", None, "none"),
        ("ci: cache", None, "none"),
        ("test: more", None, "none"),
        ("style: fmt", None, "none"),
        // A lower-case footer is not a breaking change (the specification wants upper case).
        ("fix: a\n\nbreaking change: nope", Some("1.2.4"), "patch"),
    ];
    for (i, (message, next, bump)) in table.iter().enumerate() {
        repo.git(&["switch", "-q", "-c", &format!("case-{i}"), "v1.2.3"]);
        repo.commit(message);
        let plan = repo.plan_json(&[]);
        assert_eq!(s(&plan["next_version"]), *next, "{message:?}: {plan:#}");
        assert_eq!(s(&plan["bump"]), Some(*bump), "{message:?}");
        assert_eq!(s(&plan["current_version"]), Some("1.2.3"), "{message:?}");
    }
}

#[test]
fn the_highest_level_among_the_commits_wins() {
    let repo = released("1.2.3");
    repo.commits(&["fix: a", "docs: b", "feat: c", "perf: d"]);
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["next_version"]), Some("1.3.0"));
    assert_eq!(s(&plan["bump"]), Some("minor"));
    repo.commit("refactor!: e");
    assert_eq!(repo.next_version().as_deref(), Some("2.0.0"));
}

#[test]
fn nothing_to_release_exits_zero_with_null_version() {
    let repo = released("1.2.3");
    repo.commits(&["chore: a", "docs: b", "ci: c"]);
    let plan = repo.plan_json(&[]);
    assert_eq!(plan["next_version"], Value::Null);
    assert_eq!(plan["next_tag"], Value::Null);
    assert_eq!(s(&plan["bump"]), Some("none"));
    assert_eq!(plan_headers(&plan).len(), 3);
    let human = stdout(&repo.run(&["plan"]).success());
    assert!(human.contains("nothing to release"), "{human}");
    // HEAD exactly at the tag: nothing either.
    let at_tag = released("2.0.0");
    let plan = at_tag.plan_json(&[]);
    assert_eq!(plan["next_version"], Value::Null);
    assert!(s(&plan["reason"]).unwrap().contains("v2.0.0"), "{plan:#}");
}

#[test]
fn bump_types_are_configurable() {
    let repo = released("1.2.3");
    repo.write(
        "release.toml",
        "[bump.types]\ndocs = \"patch\"\nperf = \"none\"\nsecurity = \"minor\"\n",
    );
    repo.git(&["switch", "-q", "-c", "docs", "v1.2.3"]);
    repo.commit("docs: explain");
    assert_eq!(repo.next_version().as_deref(), Some("1.2.4"));
    repo.git(&["switch", "-q", "-c", "perf", "v1.2.3"]);
    repo.commit("perf: faster");
    assert_eq!(repo.next_version(), None);
    repo.git(&["switch", "-q", "-c", "security", "v1.2.3"]);
    repo.commit("security: patch a hole");
    assert_eq!(repo.next_version().as_deref(), Some("1.3.0"));
    // Defaults not overridden still apply.
    repo.git(&["switch", "-q", "-c", "feat", "v1.2.3"]);
    repo.commit("feat: a");
    assert_eq!(repo.next_version().as_deref(), Some("1.3.0"));
}

#[test]
fn zero_x_flags_lower_the_level_below_1_0() {
    let repo = released("0.3.1");
    repo.git(&["switch", "-q", "-c", "breaking", "v0.3.1"]);
    repo.commit("feat!: drop");
    assert_eq!(repo.next_version().as_deref(), Some("1.0.0"));
    repo.git(&["switch", "-q", "-c", "feature", "v0.3.1"]);
    repo.commit("feat: add");
    assert_eq!(repo.next_version().as_deref(), Some("0.4.0"));

    repo.write(
        "release.toml",
        "[bump]\nbreaking_always_bump_major = false\nfeatures_always_bump_minor = false\n",
    );
    repo.switch("breaking");
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["next_version"]), Some("0.4.0"));
    assert_eq!(s(&plan["bump"]), Some("minor"));
    assert!(s(&plan["reason"]).unwrap().contains("0.x"), "{plan:#}");
    repo.switch("feature");
    assert_eq!(repo.next_version().as_deref(), Some("0.3.2"));

    // From 1.0 on the flags change nothing.
    let stable = released("1.0.0");
    stable.write(
        "release.toml",
        "[bump]\nbreaking_always_bump_major = false\nfeatures_always_bump_minor = false\n",
    );
    stable.commit("feat!: drop");
    assert_eq!(stable.next_version().as_deref(), Some("2.0.0"));
}

#[test]
fn a_higher_tag_on_an_unmerged_branch_is_ignored() {
    let repo = released("1.0.0");
    repo.branch("experiment");
    repo.commit("feat!: rewrite");
    repo.annotated_tag("v2.0.0");
    repo.switch("main");
    repo.commit("fix: a");
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["current_tag"]), Some("v1.0.0"));
    assert_eq!(s(&plan["next_version"]), Some("1.0.1"));
    assert_eq!(plan_headers(&plan), ["fix: a"]);
    // Once merged, the branch's tag is reachable and is the current release.
    repo.merge("experiment");
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["current_tag"]), Some("v2.0.0"));
    assert_eq!(s(&plan["next_version"]), Some("2.0.1"));
    assert_eq!(plan_headers(&plan), ["fix: a"]);
}

#[test]
fn the_highest_version_wins_not_the_newest_tag() {
    let repo = Repo::new();
    repo.commit("feat: a");
    repo.tag("v1.5.0");
    repo.commit("fix: b");
    // A lower version tagged later (a backport tag on the same line, say).
    repo.tag("v1.4.9");
    repo.commit("fix: c");
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["current_tag"]), Some("v1.5.0"));
    assert_eq!(s(&plan["next_version"]), Some("1.5.1"));
    assert_eq!(plan_headers(&plan), ["fix: c", "fix: b"]);
}

#[test]
fn lightweight_and_annotated_tags_both_count() {
    let repo = Repo::new();
    repo.commit("feat: a");
    repo.tag("v1.0.0");
    repo.commit("feat: b");
    repo.annotated_tag("v1.1.0");
    repo.commit("fix: c");
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["current_tag"]), Some("v1.1.0"));
    assert_eq!(s(&plan["next_version"]), Some("1.1.1"));
}

#[test]
fn pre_release_tags_are_not_the_current_stable_release() {
    let repo = released("1.0.0");
    repo.commit("feat: a");
    repo.annotated_tag("v1.1.0-rc.1");
    repo.commit("fix: b");
    repo.annotated_tag("v1.1.0-beta.3");
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["current_tag"]), Some("v1.0.0"));
    assert_eq!(s(&plan["next_version"]), Some("1.1.0"));
    assert_eq!(plan_headers(&plan), ["fix: b", "feat: a"]);
}

#[test]
fn tags_without_prefix_are_used_when_no_prefixed_tag_exists() {
    let repo = Repo::new();
    repo.commit("feat: a");
    repo.tag("1.0.0");
    repo.commit("fix: b");
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["current_tag"]), Some("1.0.0"));
    assert_eq!(s(&plan["current_version"]), Some("1.0.0"));
    assert_eq!(s(&plan["next_version"]), Some("1.0.1"));
    // The repository's own convention is kept for the new tag.
    assert_eq!(s(&plan["next_tag"]), Some("1.0.1"));

    // As soon as one prefixed tag exists, bare ones are not versions any more.
    repo.git(&["tag", "v0.9.0", "HEAD~1"]);
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["current_tag"]), Some("v0.9.0"));
    assert_eq!(s(&plan["next_tag"]), Some("v0.9.1"));
}

#[test]
fn a_configured_prefix_is_used() {
    let repo = Repo::new();
    repo.write("release.toml", "tag_prefix = \"app-v\"\n");
    repo.commit("feat: a");
    repo.tag("app-v2.0.0");
    repo.tag("v9.0.0");
    repo.commit("feat: b");
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["current_tag"]), Some("app-v2.0.0"));
    assert_eq!(s(&plan["next_tag"]), Some("app-v2.1.0"));
}

#[test]
fn odd_tags_are_not_versions() {
    let repo = Repo::new();
    repo.commit("feat: a");
    for odd in [
        "v1", "v1.2", "1.2.3.4", "v1.2.3.4", "latest", "v01.2.3", "vv1.2.3",
    ] {
        repo.tag(odd);
    }
    repo.commit("fix: b");
    let plan = repo.plan_json(&[]);
    assert_eq!(plan["current_tag"], Value::Null, "{plan:#}");
    assert_eq!(s(&plan["next_version"]), Some("0.1.0"));
    assert_eq!(s(&plan["next_tag"]), Some("v0.1.0"));
    // And next to a real release tag they change nothing.
    repo.tag("v1.0.0");
    repo.commit("fix: c");
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["current_tag"]), Some("v1.0.0"));
    assert_eq!(s(&plan["next_version"]), Some("1.0.1"));
}

#[test]
fn commits_of_merged_branches_are_included() {
    let repo = released("1.0.0");
    repo.branch("topic");
    repo.commits(&["feat(topic): one", "fix(topic): two"]);
    repo.switch("main");
    repo.commit("docs: main work");
    repo.merge("topic");
    repo.branch("other");
    repo.commit("perf: three");
    repo.switch("main");
    repo.merge("other");
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["next_version"]), Some("1.1.0"));
    // Exactly `git log v1.0.0..HEAD` without merges.
    let mut expected: Vec<String> = repo
        .git(&["log", "--no-merges", "--format=%H", "v1.0.0..HEAD"])
        .lines()
        .map(str::to_string)
        .collect();
    let mut got: Vec<String> = plan["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    // A branch merged before the tag contributes nothing after it.
    let old = Repo::new();
    old.commit("feat: base");
    old.branch("early");
    old.commit("feat: early");
    old.switch("main");
    old.merge("early");
    old.tag("v1.0.0");
    old.commit("fix: late");
    assert_eq!(plan_headers(&old.plan_json(&[])), ["fix: late"]);
}

#[test]
fn pre_releases_continue_numbering_then_stable_counts_from_the_last_stable_tag() {
    let repo = released("1.0.0");
    repo.commit("feat: a");
    let plan = repo.plan_json(&["--pre", "rc"]);
    assert_eq!(s(&plan["next_version"]), Some("1.1.0-rc.1"));
    repo.run(&["bump", "--pre", "rc"]).success();
    assert!(repo.tags().contains(&"v1.1.0-rc.1".to_string()));

    // HEAD already carries that rc: nothing new to pre-release.
    let plan = repo.plan_json(&["--pre", "rc"]);
    assert_eq!(plan["next_version"], Value::Null, "{plan:#}");

    repo.commit("fix: b");
    let plan = repo.plan_json(&["--pre", "rc"]);
    assert_eq!(s(&plan["next_version"]), Some("1.1.0-rc.2"));
    assert_eq!(s(&plan["current_tag"]), Some("v1.0.0"));
    repo.run(&["bump", "--pre", "rc"]).success();

    // Another channel starts at 1.
    repo.commit("fix: c");
    assert_eq!(
        s(&repo.plan_json(&["--pre", "beta"])["next_version"]),
        Some("1.1.0-beta.1")
    );

    // The stable release is computed from v1.0.0 and lists every commit since.
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["current_tag"]), Some("v1.0.0"));
    assert_eq!(s(&plan["next_version"]), Some("1.1.0"));
    let headers = plan_headers(&plan);
    for h in ["feat: a", "fix: b", "fix: c"] {
        assert!(headers.contains(&h.to_string()), "{headers:?}");
    }
    repo.run(&["bump"]).success();
    assert_eq!(
        repo.tags(),
        ["v1.0.0", "v1.1.0", "v1.1.0-rc.1", "v1.1.0-rc.2"]
    );
    // After the stable release, a new rc line starts from it.
    repo.commit("feat: d");
    assert_eq!(
        s(&repo.plan_json(&["--pre", "rc"])["next_version"]),
        Some("1.2.0-rc.1")
    );
}

#[test]
fn a_bad_pre_release_channel_is_refused() {
    let repo = released("1.0.0");
    repo.commit("feat: a");
    for bad in ["r c", "rc.1", "1", ""] {
        let err = clean_failure(repo.run(&["plan", "--pre", bad]));
        assert!(err.contains("pre-release channel"), "{bad:?}: {err}");
    }
}

#[test]
fn forced_levels_and_versions() {
    let repo = released("1.2.3");
    repo.commit("docs: only docs");
    let next = |args: &[&str]| {
        let plan = repo.plan_json(args);
        (
            s(&plan["next_version"]).map(str::to_string),
            s(&plan["bump"]).unwrap().to_string(),
        )
    };
    assert_eq!(next(&["major"]), (Some("2.0.0".into()), "major".into()));
    assert_eq!(next(&["minor"]), (Some("1.3.0".into()), "minor".into()));
    assert_eq!(next(&["patch"]), (Some("1.2.4".into()), "patch".into()));
    assert_eq!(next(&["1.5.0"]), (Some("1.5.0".into()), "minor".into()));
    assert_eq!(next(&["v3.0.0"]), (Some("3.0.0".into()), "major".into()));
    // A forced level can lower what the commits ask for.
    repo.commit("feat!: big");
    assert_eq!(next(&["patch"]), (Some("1.2.4".into()), "patch".into()));
    // Pre-release on a forced level.
    assert_eq!(
        next(&["minor", "--pre", "rc"]).0.as_deref(),
        Some("1.3.0-rc.1")
    );

    for not_greater in ["1.2.3", "1.0.0", "0.9.9"] {
        let err = clean_failure(repo.run(&["plan", not_greater]));
        assert!(err.contains("not greater"), "{err}");
        assert!(err.contains("1.2.3"), "{err}");
    }
    let err = clean_failure(repo.run(&["plan", "huge"]));
    assert!(
        err.contains("`huge` is neither major, minor, patch nor a version"),
        "{err}"
    );
    let err = clean_failure(repo.run(&["bump", "1.2.3"]));
    assert!(err.contains("not greater"), "{err}");
    assert_eq!(repo.tags(), ["v1.2.3"]);
}

#[test]
fn a_forced_version_that_is_already_tagged_is_refused() {
    let repo = released("1.0.0");
    repo.branch("side");
    repo.commit("fix: side");
    repo.tag("v1.0.1");
    repo.switch("main");
    repo.commit("fix: a");
    // v1.0.1 exists (on another branch): computing it again would collide.
    let err = clean_failure(repo.run(&["plan"]));
    assert!(err.contains("tag v1.0.1 already exists"), "{err}");
    // Forcing a free version works.
    assert_eq!(
        s(&repo.plan_json(&["1.0.2"])["next_version"]),
        Some("1.0.2")
    );
}

#[test]
fn a_reverted_commit_counts_for_nothing() {
    let repo = released("1.0.0");
    repo.commit("fix: small");
    let feat = repo.commit_file("a.txt", "a\n", "feat!: breaking thing");
    let revert = repo.revert(&feat);
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["next_version"]), Some("1.0.1"), "{plan:#}");
    assert_eq!(plan_headers(&plan), ["fix: small"]);
    let reverted: Vec<&str> = plan["reverted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(reverted, [revert.as_str(), feat.as_str()]);

    // Only a revert of both: nothing to release.
    let only = released("1.0.0");
    let feat = only.commit_file("a.txt", "a\n", "feat: thing");
    only.revert(&feat);
    let plan = only.plan_json(&[]);
    assert_eq!(plan["next_version"], Value::Null, "{plan:#}");
    assert_eq!(plan["commits"].as_array().unwrap().len(), 0);
}

#[test]
fn reverting_a_released_commit_is_a_patch_and_a_revert_of_a_revert_restores() {
    let repo = Repo::new();
    let feat = repo.commit_file("a.txt", "a\n", "feat: thing");
    repo.tag("v1.0.0");
    repo.revert(&feat);
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["next_version"]), Some("1.0.1"));
    assert_eq!(plan_headers(&plan), ["revert: feat: thing"]);

    let again = released("1.0.0");
    let feat = again.commit_file("b.txt", "b\n", "feat: thing");
    let revert = again.revert(&feat);
    again.revert(&revert);
    let plan = again.plan_json(&[]);
    assert_eq!(s(&plan["next_version"]), Some("1.1.0"), "{plan:#}");
    assert_eq!(plan_headers(&plan), ["feat: thing"]);
}

#[test]
fn non_conventional_commits_are_listed_as_ignored() {
    let repo = released("1.0.0");
    repo.commits(&["wip", "feat: a", "Update README.md", "fix:no space"]);
    let plan = repo.plan_json(&[]);
    assert_eq!(plan["ignored"], 3);
    assert_eq!(s(&plan["next_version"]), Some("1.1.0"));
    let headers: Vec<&str> = plan["ignored_commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["header"].as_str().unwrap())
        .collect();
    assert_eq!(headers, ["fix:no space", "Update README.md", "wip"]);
    for c in plan["ignored_commits"].as_array().unwrap() {
        assert!(!c["reason"].as_str().unwrap().is_empty());
    }
    // Only non-conventional commits: nothing to release, still counted.
    let none = released("1.0.0");
    none.commits(&["wip", "more wip"]);
    let plan = none.plan_json(&[]);
    assert_eq!(plan["next_version"], Value::Null);
    assert_eq!(plan["ignored"], 2);
}

#[test]
fn github_squash_merge_suffix_does_not_hide_a_revert_or_a_release_commit() {
    // GitHub's revert button, squash-merged: `Revert "<header>" (#N)`, git's line in the body.
    let repo = Repo::new();
    let fix = repo.commit_file("a.txt", "a\n", "fix(deps): update yargs (#2533)");
    repo.tag("v1.0.0");
    repo.commit(&format!(
        "Revert \"fix(deps): update yargs (#2533)\" (#2534)\n\n* Revert \"fix(deps): update yargs (#2533)\"\n\nThis reverts commit {fix}.\n"
    ));
    let plan = repo.plan_json(&[]);
    assert_eq!(s(&plan["next_version"]), Some("1.0.1"), "{plan:#}");
    assert_eq!(plan["ignored"], 0, "{plan:#}");
    assert_eq!(
        plan_headers(&plan),
        ["revert: fix(deps): update yargs (#2533)"]
    );

    // A squash-merged release pull request is bookkeeping, like the release commit itself.
    let repo = released("1.0.0");
    repo.commits(&["chore(release): 1.1.0 (#45)", "fix: a (#46)"]);
    let plan = repo.plan_json(&[]);
    assert_eq!(plan_headers(&plan), ["fix: a (#46)"], "{plan:#}");
}
