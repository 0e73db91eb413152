//! `[github] major_tag` with `[packages]`: each released package's moving tag (its tag prefix
//! and major, `api-v1` or `worker@1`) moved to its new stable release after its GitHub release,
//! none for a 0.x package or one that turns it off, a killed run finished by the next, a fix on
//! an older line leaving the tag where it is, and the moving tags never read as releases.

use crate::support::github::FakeGithub;
use crate::support::{code, stderr, stdout, step_names, Repo};
use serde_json::Value;

const CONFIG: &str = r#"[github]
major_tag = true

[packages.api]
path = "services/api"

[packages.worker]
path = "services/worker"
tag_prefix = "worker@"

[packages.core]
path = "libs/core"

[packages.tools]
path = "tools"
major_tag = false
"#;

/// api 1.0.0, worker 1.0.0, core 0.3.0 and tools 1.0.0 released and pushed to `origin` (with
/// `extra` before the packages in release.toml), then a change to each: api's a feature, the
/// others' fixes.
fn monorepo(origin: &Repo, extra: &str) -> Repo {
    let repo = Repo::new();
    repo.write("release.toml", &format!("{extra}{CONFIG}"));
    repo.write("services/api/main.rs", "fn main() {}\n");
    repo.write("services/worker/main.py", "print()\n");
    repo.write("libs/core/lib.rs", "pub fn f() {}\n");
    repo.write("tools/run.sh", "true\n");
    repo.first_release(&["api-v1.0.0", "worker@1.0.0", "core-v0.3.0", "tools-v1.0.0"]);
    repo.publish_to(origin);
    repo.commit_file(
        "services/api/main.rs",
        "fn main() { 1 }\n",
        "feat: api more",
    );
    repo.commit_file("services/worker/main.py", "print(1)\n", "fix: worker less");
    repo.commit_file("libs/core/lib.rs", "pub fn f() { 1 }\n", "fix: core");
    repo.commit_file("tools/run.sh", "false\n", "fix: tools");
    repo
}

fn json(repo: &Repo, gh: &FakeGithub, args: &[&str]) -> Value {
    let out = gh.release(repo, args).success();
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// The commit the remote's tag `tag` points at, when it has it.
fn remote_tag(origin: &Repo, tag: &str) -> Option<String> {
    origin.rev(&format!("refs/tags/{tag}^{{commit}}"))
}

/// The state of the report's step named `name` (`None`: no such step).
fn step_state(report: &Value, name: &str) -> Option<String> {
    report["steps"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)
        .and_then(|s| s["state"].as_str())
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_released_package_moves_its_own_major_tag_but_not_a_0x_one_or_one_that_opts_out() {
    let gh = FakeGithub::start().await;
    let origin = Repo::bare_remote();
    let repo = monorepo(&origin, "");

    let dry = stdout(&gh.release(&repo, &["cut", "--yes", "--dry-run"]).success());
    for step in [
        "move api-v1 to api-v1.1.0 on origin",
        "move worker@1 to worker@1.0.1 on origin",
    ] {
        assert!(dry.contains(step), "{step} in\n{dry}");
    }
    assert!(!dry.contains("move core"), "core is 0.x:\n{dry}");
    assert!(!dry.contains("move tools"), "tools opts out:\n{dry}");
    assert_eq!(
        remote_tag(&origin, "api-v1"),
        None,
        "a dry run moves nothing"
    );

    let report = json(&repo, &gh, &["cut", "--yes", "--json"]);
    let head = repo.head();
    for (tag, step) in [
        ("api-v1", "move api-v1 to api-v1.1.0 on origin"),
        ("worker@1", "move worker@1 to worker@1.0.1 on origin"),
    ] {
        assert_eq!(remote_tag(&origin, tag), Some(head.clone()), "{tag}");
        assert_eq!(repo.rev(&format!("refs/tags/{tag}")), Some(head.clone()));
        assert_eq!(
            step_state(&report, step).as_deref(),
            Some("applied"),
            "{report:#}"
        );
    }
    // Moved after the package's GitHub release: `@v1` users find it at once.
    let steps = step_names(&report);
    let at = |name: &str| steps.iter().position(|s| s == name).unwrap();
    assert!(at("github release api-v1.1.0") < at("move api-v1 to api-v1.1.0 on origin"));
    assert_eq!(remote_tag(&origin, "core-v0.3.1"), Some(head.clone()));
    assert_eq!(remote_tag(&origin, "core-v0"), None, "0.x: no moving tag");
    assert_eq!(remote_tag(&origin, "tools-v1.0.1"), Some(head.clone()));
    assert_eq!(remote_tag(&origin, "tools-v1"), None, "major_tag = false");
    assert_eq!(
        origin.tags(),
        [
            "api-v1",
            "api-v1.0.0",
            "api-v1.1.0",
            "core-v0.3.0",
            "core-v0.3.1",
            "tools-v1.0.0",
            "tools-v1.0.1",
            "worker@1",
            "worker@1.0.0",
            "worker@1.0.1"
        ]
    );

    // The next release of api alone moves api-v1 and leaves worker@1.
    let released = repo.commit_file("services/api/main.rs", "fn main() { 2 }\n", "fix: api");
    let report = json(&repo, &gh, &["cut", "--yes", "--json"]);
    let head = repo.head();
    assert_ne!(head, released);
    assert_eq!(remote_tag(&origin, "api-v1.1.1"), Some(head.clone()));
    assert_eq!(remote_tag(&origin, "api-v1"), Some(head.clone()));
    assert_eq!(
        remote_tag(&origin, "worker@1"),
        repo.rev("worker@1.0.1^{commit}")
    );
    assert!(
        !step_names(&report).iter().any(|s| s.contains("worker@1")),
        "{report:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn moving_tags_are_not_releases_to_plan_and_changelog() {
    let gh = FakeGithub::start().await;
    let origin = Repo::bare_remote();
    let repo = monorepo(&origin, "");
    gh.release(&repo, &["cut", "--yes"]).success();
    // A later commit of api, and the moving tag put there by hand: still no release of api.
    repo.commit_file(
        "services/api/main.rs",
        "fn main() { 3 }\n",
        "fix: api again",
    );
    repo.git(&["tag", "-f", "api-v1"]);
    repo.git(&["tag", "-f", "worker@1"]);

    let plan = repo.plan_json(&[]);
    let api = plan["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "api")
        .cloned()
        .unwrap();
    assert_eq!(api["current_tag"], "api-v1.1.0", "{plan:#}");
    assert_eq!(api["next_version"], "1.1.1", "{plan:#}");
    let worker = plan["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "worker")
        .cloned()
        .unwrap();
    assert_eq!(worker["current_tag"], "worker@1.0.1", "{plan:#}");

    let changelog = stdout(
        &repo
            .run(&["changelog", "--all", "--package", "api"])
            .success(),
    );
    assert!(!changelog.contains("api-v1 "), "{changelog}");
    assert!(!changelog.contains("api-v1)"), "{changelog}");
    let headers: Vec<&str> = changelog.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(
        headers.len(),
        3,
        "unreleased, 1.1.0 and 1.0.0:\n{changelog}"
    );
    assert!(headers[1].contains("1.1.0"), "{changelog}");
    assert!(headers[2].contains("1.0.0"), "{changelog}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_before_the_moving_tags_is_finished_by_the_next_and_each_tag_converges() {
    let gh = FakeGithub::start().await;
    let origin = Repo::bare_remote();
    let repo = monorepo(&origin, "");
    let out = repo
        .release_hermetic()
        .envs(gh.env())
        .env("RELEASE_AGENT_FAIL_AFTER", "github-release")
        .args(["cut", "--yes"])
        .assert();
    assert_eq!(code(&out), 86, "{}", stderr(&out));
    let head = repo.head();
    assert_eq!(remote_tag(&origin, "api-v1.1.0"), Some(head.clone()));
    assert_eq!(
        remote_tag(&origin, "api-v1"),
        None,
        "killed before the move"
    );
    assert_eq!(remote_tag(&origin, "worker@1"), None);

    let report = json(&repo, &gh, &["ci", "--json"]);
    for step in [
        "move api-v1 to api-v1.1.0 on origin",
        "move worker@1 to worker@1.0.1 on origin",
    ] {
        assert_eq!(
            step_state(&report, step).as_deref(),
            Some("applied"),
            "{report:#}"
        );
    }
    assert_eq!(remote_tag(&origin, "api-v1"), Some(head.clone()));
    assert_eq!(remote_tag(&origin, "worker@1"), Some(head.clone()));

    // One moved, the other not (a kill between the two moves): only the missing one moves.
    origin.git(&["tag", "-d", "worker@1"]);
    let report = json(&repo, &gh, &["ci", "--json"]);
    assert_eq!(
        step_state(&report, "move api-v1 to api-v1.1.0 on origin").as_deref(),
        Some("done"),
        "{report:#}"
    );
    assert_eq!(
        step_state(&report, "move worker@1 to worker@1.0.1 on origin").as_deref(),
        Some("applied"),
        "{report:#}"
    );
    assert_eq!(remote_tag(&origin, "worker@1"), Some(head.clone()));

    // Converged: once more changes nothing.
    let refs = origin.refs();
    let report = json(&repo, &gh, &["ci", "--json"]);
    assert_eq!(
        step_state(&report, "move worker@1 to worker@1.0.1 on origin").as_deref(),
        Some("done"),
        "{report:#}"
    );
    assert_eq!(origin.refs(), refs);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fix_on_an_older_line_leaves_the_packages_major_tag_on_the_newer_release() {
    let gh = FakeGithub::start().await;
    let origin = Repo::bare_remote();
    let repo = monorepo(
        &origin,
        "[[branches]]\nname = \"main\"\n[[branches]]\nname = \"1.0.x\"\n\n",
    );
    gh.release(&repo, &["cut", "--yes"]).success();
    let newer = repo.head();
    assert_eq!(remote_tag(&origin, "api-v1"), Some(newer.clone()));

    // 1.0.x from api 1.0.0: a fix there is api 1.0.1, older than 1.1.0.
    repo.git(&["switch", "-q", "-c", "1.0.x", "api-v1.0.0"]);
    repo.git(&["push", "-q", "origin", "1.0.x"]);
    repo.commit_file(
        "services/api/main.rs",
        "fn main() { 0 }\n",
        "fix: api on 1.0",
    );
    let report = json(&repo, &gh, &["cut", "--yes", "--json", "--package", "api"]);
    let fixed = repo.head();
    assert_eq!(
        remote_tag(&origin, "api-v1.0.1"),
        Some(fixed.clone()),
        "{report:#}"
    );
    assert_eq!(remote_tag(&origin, "api-v1"), Some(newer), "not moved back");
    assert!(
        !step_names(&report).iter().any(|s| s.contains("api-v1 ")),
        "{report:#}"
    );
}
