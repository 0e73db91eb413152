//! `branches` rules: pre-release channels and maintenance lines, on real repositories with
//! real branches and merges.

use crate::support::{clean_failure, stdout, Repo};

const RULES: &str = r#"
[[branches]]
name = "main"

[[branches]]
name = "next"
prerelease = "next"

[[branches]]
name = "1.x"
"#;

/// main at v1.0.0 (and a feat and a fix after it), with the rules committed.
fn project(rules: &str) -> Repo {
    let repo = Repo::new();
    repo.release_v1_then_feat_and_fix(&[("version.txt", "1.0.0\n"), ("release.toml", rules)]);
    repo
}

fn plan_text(repo: &Repo) -> String {
    stdout(&repo.run(&["plan"]).success())
}

#[test]
fn a_prerelease_branch_releases_on_its_channel_and_main_releases_the_stable_version() {
    let repo = project(RULES);
    repo.release().arg("bump").assert().success(); // 1.1.0 on main
    repo.git(&["checkout", "-q", "-b", "next"]);
    repo.commit_file("src.txt", "v2\n", "feat!: a new API");

    let plan = plan_text(&repo);
    assert!(plan.contains("next:    2.0.0-next.1"), "{plan}");
    assert!(
        plan.contains("branch:  next: pre-releases on the `next` channel"),
        "{plan}"
    );
    assert_eq!(
        repo.plan_json(&[])["branch"],
        "next: pre-releases on the `next` channel"
    );
    repo.release().arg("bump").assert().success();
    repo.commit_file("src.txt", "v2.1\n", "fix: the new API's edge case");
    repo.release().arg("bump").assert().success();
    assert!(
        repo.tags().contains(&"v2.0.0-next.2".to_string()),
        "{:?}",
        repo.tags()
    );

    // Merged into main, the same changes make the stable release.
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge branch 'next'",
        "next",
    ]);
    let plan = plan_text(&repo);
    assert!(
        plan.contains("next:    2.0.0 (tag v2.0.0, major bump)"),
        "{plan}"
    );
    assert!(plan.contains("branch:  main: stable releases"), "{plan}");
    repo.release().arg("bump").assert().success();
    let changelog = repo.read("CHANGELOG.md");
    let stable = changelog
        .split("\n## ")
        .find(|s| s.starts_with("[2.0.0]"))
        .unwrap_or_else(|| panic!("a 2.0.0 section: {changelog}"));
    assert!(stable.contains("a new API"), "{stable}");
    assert!(stable.contains("the new API's edge case"), "{stable}");
    assert!(
        !changelog.contains("## [2.0.0-next"),
        "the pre-release sections are folded into 2.0.0's: {changelog}"
    );
}

/// main: 1.0.0, 1.1.0, then 1.2.0 and 2.0.0; `1.x` branched at 1.1.0.
fn maintained(rules: &str) -> Repo {
    let repo = project(rules);
    repo.release().arg("bump").assert().success(); // 1.1.0
    repo.git(&["branch", "1.x"]);
    repo.git(&["branch", "1.1.x"]);
    repo.commit_file("src.txt", "4\n", "feat: more");
    repo.release().arg("bump").assert().success(); // 1.2.0
    repo.commit_file("src.txt", "5\n", "feat!: new API");
    repo.release().arg("bump").assert().success(); // 2.0.0
    assert!(
        repo.tags().contains(&"v2.0.0".to_string()),
        "{:?}",
        repo.tags()
    );
    repo
}

#[test]
fn a_maintenance_branch_releases_fixes_below_the_later_lines() {
    let repo = maintained(RULES);
    repo.git(&["checkout", "-q", "1.x"]);
    repo.commit_file("src.txt", "fix\n", "fix: backport the crash fix");
    let plan = plan_text(&repo);
    assert!(
        plan.contains("next:    1.1.1 (tag v1.1.1, patch bump)"),
        "{plan}"
    );
    assert!(
        plan.contains("branch:  1.x: maintenance of 1.x, below every release of a later line"),
        "{plan}"
    );
    repo.release().arg("bump").assert().success();
    assert_eq!(repo.git(&["rev-parse", "v1.1.1^{commit}"]), repo.head());

    // A feature would make 1.2.0, which main released already.
    repo.commit_file("src.txt", "feat\n", "feat: a backported feature");
    let err = clean_failure(repo.run(&["plan"]));
    assert!(
        err.contains("1.2.0 would not be below 1.2.0, already released from a later line"),
        "{err}"
    );
    assert!(err.contains("maintenance branch 1.x"), "{err}");
    let err = clean_failure(repo.run(&["bump"]));
    assert!(err.contains("1.2.0 would not be below 1.2.0"), "{err}");
    assert_eq!(repo.git(&["describe", "--tags", "--abbrev=0"]), "v1.1.1");
}

#[test]
fn a_breaking_change_on_a_maintenance_branch_is_refused_with_the_reason() {
    let repo = maintained("[[branches]]\nname = \"main\"\n[[branches]]\nname = \"1.1.x\"\n");
    repo.git(&["checkout", "-q", "1.1.x"]);
    repo.commit_file("src.txt", "f\n", "feat: a feature on a patch line");
    let err = clean_failure(repo.run(&["plan"]));
    assert!(
        err.contains("1.2.0 is outside 1.1.x, the range of maintenance branch 1.1.x"),
        "{err}"
    );
    assert!(err.contains("a minor release"), "{err}");
}

#[test]
fn plain_names_keep_their_old_meaning() {
    let repo = project("branches = [\"main\", \"1.x\"]\n");
    repo.git(&["checkout", "-q", "-b", "1.x"]);
    repo.commit_file("src.txt", "x\n", "feat!: breaking");
    let plan = plan_text(&repo);
    assert!(plan.contains("next:    2.0.0"), "{plan}");
    assert!(!plan.contains("branch:"), "{plan}");
    assert!(repo.plan_json(&[]).get("branch").is_none());
}

#[test]
fn a_rule_that_cannot_work_is_a_config_error_with_its_line() {
    let repo = project(
        "[[branches]]\nname = \"main\"\n[[branches]]\nname = \"odd\"\nprerelease = \"rc\"\nrange = \"1.x\"\n",
    );
    let err = clean_failure(repo.run(&["plan"]));
    assert!(err.contains("release.toml:6:"), "{err}");
    assert!(err.contains("both prerelease and range"), "{err}");
}

#[test]
fn a_misspelled_key_in_a_rule_is_named_with_its_line() {
    let repo =
        project("[[branches]]\nname = \"main\"\n[[branches]]\nname = \"1.x\"\nrang = \"1.x\"\n");
    let err = clean_failure(repo.run(&["plan"]));
    assert!(err.contains("release.toml:5:"), "{err}");
    assert!(err.contains("unknown field `rang`"), "{err}");
    let repo = project("branches = [1]\n");
    let err = clean_failure(repo.run(&["plan"]));
    assert!(err.contains("expected a branch name, or a table"), "{err}");
}
