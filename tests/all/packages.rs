//! Several packages in one repository (`[packages]`): which commits belong to which package,
//! per-package plans and `--package`, one release commit with a tag per package, and the
//! configuration errors.

use crate::support::{clean_failure, stderr, stdout, Repo};
use serde_json::Value;

const CONFIG: &str = r#"[packages.api]
path = "services/api"
version_files = ["services/api/Cargo.toml"]
depends_on = ["core"]

[packages.worker]
path = "services/worker"
exclude = ["services/worker/docs"]

[packages.core]
path = "libs/core"
tag_prefix = "core@"
"#;

/// Two services and a shared library, each released once (api-v1.0.0, worker-v1.0.0,
/// core@1.0.0).
fn monorepo() -> Repo {
    let repo = Repo::new();
    repo.write("release.toml", CONFIG);
    repo.write(
        "services/api/Cargo.toml",
        "[package]\nname = \"api\"\nversion = \"1.0.0\"\n",
    );
    repo.write("services/api/main.rs", "fn main() {}\n");
    repo.write("services/worker/main.py", "print()\n");
    repo.write("libs/core/lib.rs", "pub fn f() {}\n");
    repo.write("README.md", "monorepo\n");
    repo.first_release(&["api-v1.0.0", "worker-v1.0.0", "core@1.0.0"]);
    repo
}

fn package<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan["packages"]
        .as_array()
        .expect("packages is an array")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no package {name} in {plan:#}"))
}

fn summaries(p: &Value) -> Vec<String> {
    p["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|c| c["summary"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_package_gets_its_own_commits_version_and_tag() {
    let repo = monorepo();
    repo.commit_file(
        "services/api/main.rs",
        "fn main() { 1 }\n",
        "feat: an endpoint",
    );
    repo.commit_file("README.md", "more\n", "fix: a root typo");
    repo.commit_file(
        "services/worker/docs/guide.md",
        "guide\n",
        "fix: excluded docs",
    );
    let plan = repo.plan_json(&[]);
    let api = package(&plan, "api");
    assert_eq!(api["current_version"], "1.0.0");
    assert_eq!(api["next_version"], "1.1.0");
    assert_eq!(api["bump"], "minor");
    assert_eq!(api["tag"], "api-v1.1.0");
    assert_eq!(summaries(api), ["an endpoint"]);
    let worker = package(&plan, "worker");
    assert_eq!(worker["next_version"], Value::Null, "{plan:#}");
    assert_eq!(summaries(worker), Vec::<String>::new());
    let core = package(&plan, "core");
    assert_eq!(core["current_tag"], "core@1.0.0");
    assert_eq!(core["next_version"], Value::Null);
    assert_eq!(plan["release_commit"], "chore(release): api 1.1.0");
    // The one-package fields are not at the top.
    assert!(plan.get("next_version").is_none(), "{plan:#}");

    let text = stdout(&repo.run(&["plan"]).success());
    assert!(text.contains("package api:"), "{text}");
    assert!(text.contains("an endpoint"), "{text}");
    assert!(
        text.contains("nothing to release: core 1.0.0, worker 1.0.0"),
        "{text}"
    );
}

#[test]
fn a_library_release_releases_its_dependents_in_one_commit() {
    let repo = monorepo();
    repo.commit_file("libs/core/lib.rs", "pub fn f() { 1 }\n", "fix: core bug");
    repo.commit_file("services/worker/main.py", "print(1)\n", "feat!: new queue");
    let plan = repo.plan_json(&[]);
    let api = package(&plan, "api");
    assert_eq!(api["next_version"], "1.0.1", "{plan:#}");
    assert_eq!(api["pulled_by"], serde_json::json!(["core"]));
    assert_eq!(summaries(api), Vec::<String>::new());
    assert_eq!(package(&plan, "core")["next_version"], "1.0.1");
    assert_eq!(package(&plan, "worker")["next_version"], "2.0.0");

    let out = stdout(&repo.run(&["bump"]).success());
    assert!(out.contains("released api api-v1.0.1"), "{out}");
    assert_eq!(
        repo.log()[0],
        "chore(release): api 1.0.1, core 1.0.1, worker 2.0.0"
    );
    let head = repo.head();
    for tag in ["api-v1.0.1", "core@1.0.1", "worker-v2.0.0"] {
        assert_eq!(
            repo.rev(&format!("refs/tags/{tag}^{{commit}}")).as_deref(),
            Some(head.as_str()),
            "{tag}"
        );
        assert_eq!(repo.tag_type(tag), "tag");
    }
    // Each changelog holds only its package's commits.
    let core_log = repo.read("libs/core/CHANGELOG.md");
    assert!(core_log.contains("core bug"), "{core_log}");
    assert!(!core_log.contains("new queue"), "{core_log}");
    let worker_log = repo.read("services/worker/CHANGELOG.md");
    assert!(worker_log.contains("new queue"), "{worker_log}");
    assert!(!worker_log.contains("core bug"), "{worker_log}");
    assert!(repo.exists("services/api/CHANGELOG.md"));
    assert!(repo
        .read("services/api/Cargo.toml")
        .contains("version = \"1.0.1\""));
    assert!(!repo.exists("version.txt"), "no root version file");
    assert_eq!(repo.status(), "");
    // Released: the release commit does not count for the packages it changed.
    let plan = repo.plan_json(&[]);
    assert_eq!(plan["release_commit"], Value::Null, "{plan:#}");
    let again = repo.run(&["bump"]).success();
    assert_eq!(repo.head(), head);
    drop(again);
}

#[test]
fn a_commit_touching_two_packages_and_a_rename_across_them_count_for_both() {
    let repo = monorepo();
    repo.write("services/api/main.rs", "fn main() { 2 }\n");
    repo.write("services/worker/main.py", "print(2)\n");
    repo.git(&["add", "-A"]);
    repo.commit_staged("fix: shared timeout");
    repo.git(&["mv", "libs/core/lib.rs", "services/api/lib.rs"]);
    repo.commit_staged("refactor: move the helper");
    let plan = repo.plan_json(&[]);
    assert_eq!(
        summaries(package(&plan, "api")),
        ["move the helper", "shared timeout"]
    );
    assert_eq!(summaries(package(&plan, "worker")), ["shared timeout"]);
    assert_eq!(summaries(package(&plan, "core")), ["move the helper"]);
}

#[test]
fn a_merge_counts_through_the_commits_it_brings_in() {
    let repo = monorepo();
    repo.branch("topic");
    repo.commit_file(
        "services/api/main.rs",
        "fn main() { 3 }\n",
        "feat: api part",
    );
    repo.commit_file("services/worker/main.py", "print(3)\n", "fix: worker part");
    repo.switch("main");
    repo.commit_file("README.md", "main\n", "docs: on main");
    repo.merge("topic");
    let plan = repo.plan_json(&[]);
    assert_eq!(summaries(package(&plan, "api")), ["api part"]);
    assert_eq!(summaries(package(&plan, "worker")), ["worker part"]);
    assert_eq!(package(&plan, "api")["next_version"], "1.1.0");
    assert_eq!(package(&plan, "worker")["next_version"], "1.0.1");
    assert_eq!(package(&plan, "core")["next_version"], Value::Null);
}

#[test]
fn a_package_added_late_starts_with_the_commit_that_adds_it() {
    let repo = Repo::new();
    repo.commit_file("services/api/main.rs", "x\n", "feat: api");
    repo.commit_file("release.toml", CONFIG, "chore: configure packages");
    repo.commit_file("libs/core/lib.rs", "y\n", "feat: the core library");
    repo.commit_file("libs/core/lib.rs", "z\n", "fix: in core");
    let plan = repo.plan_json(&[]);
    let core = package(&plan, "core");
    assert_eq!(core["current_version"], Value::Null);
    assert_eq!(core["next_version"], "0.1.0");
    assert_eq!(core["tag"], "core@0.1.0");
    assert_eq!(summaries(core), ["in core", "the core library"]);
    assert_eq!(summaries(package(&plan, "api")), ["api"]);
    assert_eq!(package(&plan, "worker")["next_version"], Value::Null);
}

#[test]
fn a_moved_package_keeps_its_history_through_former_paths() {
    let repo = Repo::new();
    repo.commit_file("old/api/main.rs", "x\n", "feat: api in its old place");
    repo.annotated_tag("api-v1.0.0");
    repo.commit_file("old/api/main.rs", "y\n", "fix: before the move");
    repo.git(&["mv", "old/api", "api"]);
    repo.commit_staged("refactor: move api");
    repo.commit_file(
        "release.toml",
        "[packages.api]\npath = \"api\"\nformer_paths = [\"old/api\"]\n",
        "chore: configure",
    );
    let plan = repo.plan_json(&[]);
    let api = package(&plan, "api");
    assert_eq!(summaries(api), ["move api", "before the move"]);
    assert_eq!(api["next_version"], "1.0.1");
}

#[test]
fn scopes_add_commits_whatever_files_they_change() {
    let repo = monorepo();
    repo.write(
        "release.toml",
        &CONFIG.replace(
            "tag_prefix = \"core@\"",
            "tag_prefix = \"core@\"\nscopes = [\"core\"]",
        ),
    );
    repo.git(&["add", "-A"]);
    repo.commit_staged("chore: scopes");
    repo.commit_file("README.md", "core docs\n", "feat(core): documented");
    let plan = repo.plan_json(&[]);
    assert_eq!(summaries(package(&plan, "core")), ["documented"]);
    assert_eq!(package(&plan, "core")["next_version"], "1.1.0");
    assert_eq!(summaries(package(&plan, "worker")), Vec::<String>::new());
}

#[test]
fn package_selects_one_package_and_forces_its_level() {
    let repo = monorepo();
    repo.commit_file("libs/core/lib.rs", "pub fn f() { 1 }\n", "fix: core bug");
    repo.commit_file("services/worker/main.py", "print(1)\n", "fix: worker bug");
    let plan = repo.plan_json(&["--package", "worker"]);
    let names: Vec<&str> = plan["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["worker"]);
    let err = clean_failure(repo.run(&["plan", "--package", "wroker"]));
    assert!(err.contains("no package `wroker`"), "{err}");
    assert!(err.contains("api, core, worker"), "{err}");
    let err = clean_failure(repo.run(&["bump", "minor"]));
    assert!(err.contains("--package"), "{err}");

    repo.run(&["bump", "minor", "--package", "core"]).success();
    assert_eq!(repo.log()[0], "chore(release): core 1.1.0");
    assert!(repo.rev("refs/tags/core@1.1.0").is_some());
    assert!(repo.rev("refs/tags/worker-v1.0.1").is_none());
    // The worker's fix is still to release; the api is pulled along by core's release on HEAD.
    let plan = repo.plan_json(&[]);
    assert_eq!(package(&plan, "worker")["next_version"], "1.0.1");
    assert_eq!(package(&plan, "core")["next_version"], Value::Null);
    assert_eq!(package(&plan, "api")["next_version"], "1.0.1");
    assert_eq!(
        package(&plan, "api")["pulled_by"],
        serde_json::json!(["core"])
    );

    let single = Repo::released(&[]);
    let err = clean_failure(single.run(&["plan", "--package", "api"]));
    assert!(err.contains("has no [packages]"), "{err}");
}

#[test]
fn a_release_stopped_after_its_commit_is_finished_by_running_again() {
    let repo = monorepo();
    repo.commit_file("libs/core/lib.rs", "pub fn f() { 1 }\n", "fix: core bug");
    let out = repo
        .release_hermetic()
        .args(["bump"])
        .env("RELEASE_AGENT_FAIL_AFTER", "commit")
        .assert()
        .failure();
    drop(out);
    let commit = repo.head();
    assert_eq!(repo.log()[0], "chore(release): api 1.0.1, core 1.0.1");
    assert!(repo.rev("refs/tags/core@1.0.1").is_none());
    repo.run(&["bump"]).success();
    assert_eq!(repo.head(), commit, "no second release commit");
    for tag in ["api-v1.0.1", "core@1.0.1"] {
        assert_eq!(
            repo.rev(&format!("refs/tags/{tag}^{{commit}}")).as_deref(),
            Some(commit.as_str()),
            "{tag}"
        );
    }
    // One tag lost: only it is made again, on the same commit.
    repo.git(&["tag", "-d", "api-v1.0.1"]);
    repo.run(&["bump"]).success();
    assert_eq!(repo.head(), commit);
    assert_eq!(
        repo.rev("refs/tags/api-v1.0.1^{commit}").as_deref(),
        Some(commit.as_str())
    );
}

#[test]
fn configuration_errors_name_file_line_and_key() {
    let repo = monorepo();
    repo.write(
        "release.toml",
        "[packages.api]\npath = \"services/api\"\ndepends_on = [\"core\"]\n",
    );
    let err = clean_failure(repo.run(&["plan"]));
    assert!(err.contains("release.toml:3:"), "{err}");
    assert!(err.contains("packages.api.depends_on"), "{err}");
    assert!(err.contains("no package `core`"), "{err}");
    repo.write(
        "release.toml",
        "[packages.a]\npath = \"a\"\ndepends_on = [\"b\"]\n\n[packages.b]\npath = \"b\"\ndepends_on = [\"a\"]\n",
    );
    let err = clean_failure(repo.run(&["plan"]));
    assert!(err.contains("release.toml:3:"), "{err}");
    assert!(err.contains("cycle: a -> b -> a"), "{err}");
    repo.write("release.toml", "[packages.a]\ntag_prefix = \"a@\"\n");
    let err = clean_failure(repo.run(&["plan"]));
    assert!(err.contains("needs `path`"), "{err}");
    let err = clean_failure(repo.run(&["cut", "--yes"]));
    assert!(err.contains("needs `path`"), "{err}");
}

#[test]
fn tag_prefixes_like_name_at_version_work() {
    let repo = monorepo();
    repo.write(
        "release.toml",
        &CONFIG.replace(
            "path = \"services/api\"",
            "path = \"services/api\"\ntag_prefix = \"api@\"",
        ),
    );
    repo.git(&["add", "-A"]);
    repo.commit_staged("chore: api@ tags");
    repo.git(&["tag", "api@1.3.0", "HEAD~1"]);
    repo.commit_file("services/api/main.rs", "fn main() { 9 }\n", "feat: more");
    let plan = repo.plan_json(&["--package", "api"]);
    let api = package(&plan, "api");
    assert_eq!(api["current_tag"], "api@1.3.0");
    assert_eq!(api["tag"], "api@1.4.0");
}

#[test]
fn cut_pushes_the_release_commit_and_every_tag_at_once_and_a_rerun_finishes_a_stopped_push() {
    let origin = Repo::bare_remote();
    let repo = monorepo();
    repo.publish_to(&origin);
    repo.commit_file("libs/core/lib.rs", "pub fn f() { 1 }\n", "fix: core bug");
    let out = repo
        .release_hermetic()
        .args(["cut", "--yes", "--no-github"])
        .env("RELEASE_AGENT_FAIL_AFTER", "tag")
        .assert()
        .failure();
    drop(out);
    assert!(
        origin.rev("refs/tags/core@1.0.1").is_none(),
        "not pushed yet"
    );
    let out = stdout(
        &repo
            .release_hermetic()
            .args(["cut", "--yes", "--no-github"])
            .assert()
            .success(),
    );
    assert!(out.contains("released api-v1.0.1, core@1.0.1"), "{out}");
    let head = repo.head();
    assert_eq!(
        origin.rev("refs/heads/main").as_deref(),
        Some(head.as_str())
    );
    for tag in ["api-v1.0.1", "core@1.0.1"] {
        assert_eq!(
            origin
                .rev(&format!("refs/tags/{tag}^{{commit}}"))
                .as_deref(),
            Some(head.as_str()),
            "{tag}"
        );
    }
    let again = stdout(
        &repo
            .release_hermetic()
            .args(["ci", "--no-github"])
            .assert()
            .success(),
    );
    assert!(
        again.contains("no package has anything to release"),
        "{again}"
    );
    assert!(again.contains("[already done] push main"), "{again}");
    assert_eq!(repo.head(), head);
}

#[tokio::test(flavor = "multi_thread")]
async fn cut_creates_one_github_release_per_package_also_after_a_stopped_run() {
    let gh = crate::support::github::FakeGithub::start().await;
    let origin = Repo::bare_remote();
    let repo = monorepo();
    repo.publish_to(&origin);
    repo.commit_file("libs/core/lib.rs", "pub fn f() { 1 }\n", "fix: core bug");
    repo.commit_file("services/worker/main.py", "print(1)\n", "feat: queue");
    let out = repo
        .release_hermetic()
        .envs(gh.env())
        .env("RELEASE_AGENT_FAIL_AFTER", "push")
        .args(["cut", "--yes"])
        .assert()
        .failure();
    drop(out);
    assert!(gh.releases().is_empty());
    assert!(origin.rev("refs/tags/worker-v1.1.0").is_some());
    let out = repo
        .release_hermetic()
        .envs(gh.env())
        .args(["ci", "--json"])
        .assert()
        .success();
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["released"], true, "{report:#}");
    let mut names: Vec<String> = gh
        .releases()
        .iter()
        .map(|r| r["tag_name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["api-v1.0.1", "core@1.0.1", "worker-v1.1.0"]);
    let worker = gh
        .releases()
        .into_iter()
        .find(|r| r["tag_name"] == "worker-v1.1.0")
        .unwrap();
    let body = worker["body"].as_str().unwrap();
    assert!(
        body.contains("queue") && !body.contains("core bug"),
        "{body}"
    );
    // Once more: nothing new.
    repo.release_hermetic()
        .envs(gh.env())
        .args(["ci"])
        .assert()
        .success();
    assert_eq!(gh.releases().len(), 3);
}

#[test]
fn dependents_ask_for_the_new_version_in_cargo_workspaces_and_npm_manifests() {
    let repo = Repo::new();
    repo.write(
        "release.toml",
        r#"[packages.api]
path = "services/api"
version_files = ["services/api/Cargo.toml"]
depends_on = ["core"]

# No depends_on: read from package.json, which lists @acme/core.
[packages.web]
path = "services/web"
version_files = ["services/web/package.json"]

[packages.core]
path = "libs/core"
version_files = ["libs/core/Cargo.toml", "libs/core/package.json"]
"#,
    );
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"services/api\", \"libs/core\"]\n",
    );
    repo.write(
        "Cargo.lock",
        "version = 4\n\n[[package]]\nname = \"acme-api\"\nversion = \"1.0.0\"\ndependencies = [\"acme-core\"]\n\n[[package]]\nname = \"acme-core\"\nversion = \"1.0.0\"\n",
    );
    repo.write(
        "services/api/Cargo.toml",
        "[package]\nname = \"acme-api\"\nversion = \"1.0.0\"\n\n[dependencies]\nacme-core = { path = \"../../libs/core\", version = \"1.0.0\" }\n",
    );
    repo.write(
        "libs/core/Cargo.toml",
        "[package]\nname = \"acme-core\"\nversion = \"1.0.0\"\n",
    );
    repo.write(
        "libs/core/package.json",
        "{\n  \"name\": \"@acme/core\",\n  \"version\": \"1.0.0\"\n}\n",
    );
    repo.write(
        "services/web/package.json",
        "{\n  \"name\": \"@acme/web\",\n  \"version\": \"2.0.0\",\n  \"dependencies\": {\n    \"@acme/core\": \"^1.0.0\"\n  }\n}\n",
    );
    repo.first_release(&["api-v1.0.0", "web-v2.0.0", "core-v1.0.0"]);
    repo.commit_file(
        "libs/core/lib.rs",
        "pub fn f() {}\n",
        "feat: a core function",
    );
    let plan = repo.plan_json(&[]);
    assert_eq!(
        package(&plan, "web")["pulled_by"],
        serde_json::json!(["core"])
    );
    repo.run(&["bump"]).success();
    assert_eq!(
        repo.log()[0],
        "chore(release): api 1.0.1, core 1.1.0, web 2.0.1"
    );
    let api = repo.read("services/api/Cargo.toml");
    assert!(api.contains("version = \"1.0.1\""), "{api}");
    assert!(
        api.contains("acme-core = { path = \"../../libs/core\", version = \"1.1.0\" }"),
        "{api}"
    );
    let web = repo.read("services/web/package.json");
    assert!(web.contains("\"version\": \"2.0.1\""), "{web}");
    assert!(web.contains("\"@acme/core\": \"^1.1.0\""), "{web}");
    let lock = repo.read("Cargo.lock");
    assert!(
        lock.contains("name = \"acme-api\"\nversion = \"1.0.1\""),
        "{lock}"
    );
    assert!(
        lock.contains("name = \"acme-core\"\nversion = \"1.1.0\""),
        "{lock}"
    );
    assert!(repo.read("libs/core/package.json").contains("\"1.1.0\""));
    assert_eq!(repo.status(), "", "everything is in the release commit");
    let files = repo.files_of("HEAD");
    assert!(files.contains(&"Cargo.lock".to_string()), "{files:?}");
}

#[test]
fn a_repository_released_as_one_package_moves_to_packages() {
    let repo = Repo::new();
    repo.commit_file("services/api/main.rs", "x\n", "feat: first");
    repo.commit_file("version.txt", "1.0.0\n", "chore(release): 1.0.0");
    repo.annotated_tag("v1.0.0");
    repo.commit_file(
        "release.toml",
        "[packages.api]\npath = \"services/api\"\n",
        "chore: packages",
    );
    repo.commit_file("services/api/main.rs", "y\n", "fix: api bug");
    let plan = repo.plan_json(&[]);
    assert_eq!(summaries(package(&plan, "api")), ["api bug", "first"]);
    repo.run(&["bump"]).success();
    assert_eq!(repo.log()[0], "chore(release): api 0.1.0");
    assert!(repo.rev("refs/tags/api-v0.1.0").is_some());
}

#[test]
fn changelog_of_one_package_has_only_its_tags_and_commits() {
    let repo = monorepo();
    repo.commit_file("libs/core/lib.rs", "pub fn f() { 1 }\n", "fix: core bug");
    repo.commit_file("services/worker/main.py", "print(1)\n", "feat: queue");
    repo.run(&["bump"]).success();
    repo.commit_file("services/worker/main.py", "print(2)\n", "fix: worker retry");
    repo.commit_file("libs/core/lib.rs", "pub fn f() { 2 }\n", "perf: core speed");

    let unreleased = stdout(&repo.run(&["changelog", "--package", "worker"]).success());
    assert!(unreleased.contains("worker retry"), "{unreleased}");
    assert!(!unreleased.contains("core speed"), "{unreleased}");

    let all = stdout(
        &repo
            .run(&["changelog", "--all", "--package", "worker"])
            .success(),
    );
    assert!(all.contains("[1.1.0]"), "{all}");
    assert!(all.contains("queue"), "{all}");
    assert!(all.contains("worker retry"), "{all}");
    assert!(!all.contains("core bug"), "{all}");
    assert!(!all.contains("core speed"), "{all}");
    assert!(!all.contains("chore(release)"), "{all}");
    let err = clean_failure(repo.run(&["changelog", "--package", "nope"]));
    assert!(err.contains("no package `nope`"), "{err}");
}

/// A monorepo written by `bench/synth-monorepo` carries every package's tags where `release`'s
/// rules put them: planned again at each tag's commit (that tag and the package's later ones
/// removed), `release plan --package` gives the tag's version.
#[test]
fn every_package_tag_of_a_synthetic_monorepo_is_reproduced() {
    let repo = Repo::bare_dir();
    std::fs::remove_dir(repo.path()).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/synth-monorepo");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(repo.path())
        .args(["1200", "--packages", "3", "--tag-every", "25"])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut checked = 0;
    for package in ["p0", "p1", "p2"] {
        let prefix = format!("{package}-v");
        let listed = repo.git(&[
            "tag",
            "-l",
            &format!("{prefix}*"),
            "--sort=-version:refname",
        ]);
        let tags: Vec<String> = listed.lines().map(str::to_string).collect();
        assert!(tags.len() >= 5, "{package}: {tags:?}");
        for tag in &tags {
            let commit = repo.git(&["rev-parse", &format!("{tag}^{{commit}}")]);
            repo.git(&["tag", "-d", tag]);
            repo.git(&["checkout", "-q", "--detach", &commit]);
            let plan = repo.plan_json(&["--package", package]);
            let p = self::package(&plan, package);
            assert_eq!(
                p["next_tag"].as_str(),
                Some(tag.as_str()),
                "{package} at {commit}: {p:#}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked}");
}

/// `changelog --all --package` over a history long enough to be read on several threads lists
/// exactly the commits that changed the package (the generator names them in each message).
#[test]
fn a_long_monorepo_history_gives_each_package_exactly_its_commits() {
    let repo = Repo::bare_dir();
    std::fs::remove_dir(repo.path()).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/synth-monorepo");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(repo.path())
        .args(["9000", "--packages", "4", "--tag-every", "200"])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let number = |line: &str| -> Option<u32> {
        let rest = &line[line.find("change ")? + 7..];
        rest.split_whitespace().next()?.parse().ok()
    };
    let shown = ["feat", "fix", "perf", "refactor", "docs"];
    let log = repo.git(&["log", "--format=%s"]);
    let expected: std::collections::BTreeSet<u32> = log
        .lines()
        .filter(|s| s.contains(" p2") && shown.iter().any(|t| s.starts_with(&format!("{t}:"))))
        .filter_map(number)
        .collect();
    let text = stdout(
        &repo
            .run(&["changelog", "--all", "--package", "p2"])
            .success(),
    );
    let listed: std::collections::BTreeSet<u32> = text.lines().filter_map(number).collect();
    assert!(expected.len() > 1000, "{}", expected.len());
    assert_eq!(listed, expected);

    // The second run reads the remembered answers, and gives exactly the same.
    let dir = repo.path().join(".git/release-agent/packages");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the cache is written")
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!files.is_empty());
    let again = || {
        stdout(
            &repo
                .run(&["changelog", "--all", "--package", "p2"])
                .success(),
        )
    };
    assert_eq!(again(), text);
    // A run killed while appending leaves a partial record: ignored.
    for f in &files {
        let mut bytes = std::fs::read(f).unwrap();
        bytes.truncate(bytes.len() - 7);
        std::fs::write(f, bytes).unwrap();
    }
    assert_eq!(again(), text);
    for f in &files {
        let len = std::fs::metadata(f).unwrap().len();
        let header = std::fs::read(f)
            .unwrap()
            .iter()
            .position(|&b| b == b'\n')
            .unwrap()
            + 1;
        assert_eq!((len - header as u64) % 21, 0, "records stay aligned");
    }
    let plan = repo.plan_json(&[]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(repo.plan_json(&[]), plan, "a cold run plans the same");
}

#[test]
fn ci_writes_every_released_package_to_github_output() {
    let origin = Repo::bare_remote();
    let repo = monorepo();
    repo.publish_to(&origin);
    repo.commit_file("libs/core/lib.rs", "pub fn f() { 1 }\n", "feat: core api");
    let output = repo.root().join("github-output");
    let summary = repo.root().join("summary.md");
    repo.release_hermetic()
        .args(["ci", "--no-github"])
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .assert()
        .success();
    let text = std::fs::read_to_string(&output).unwrap();
    assert_eq!(
        text,
        "released=true\ntags=api-v1.0.1,core@1.1.0\ndeployed=\npackages=api,core\nversion_api=1.0.1\nversion_core=1.1.0\n"
    );
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.starts_with("## Released api-v1.0.1, core@1.1.0"),
        "{summary}"
    );
}

/// What `npm install` (npm 11, `--lockfile-version 2`) writes for a workspace of `libs/core`
/// and two services depending on it; web also depends on api, as a dev dependency.
const NPM_LOCK_V2: &str = include_str!("../data/npm-workspace-lock-v2.json");

/// The same workspace after `npm install` with core 1.1.0, api 1.0.1 and web 2.0.1 in the
/// manifests (npm's own output, for comparison byte for byte).
const NPM_LOCK_V2_RELEASED: &str = r#"{
  "name": "acme",
  "lockfileVersion": 2,
  "requires": true,
  "packages": {
    "": {
      "name": "acme",
      "workspaces": [
        "libs/*",
        "services/*"
      ]
    },
    "libs/core": {
      "name": "@acme/core",
      "version": "1.1.0"
    },
    "node_modules/@acme/api": {
      "resolved": "services/api",
      "link": true
    },
    "node_modules/@acme/core": {
      "resolved": "libs/core",
      "link": true
    },
    "node_modules/@acme/web": {
      "resolved": "services/web",
      "link": true
    },
    "services/api": {
      "name": "@acme/api",
      "version": "1.0.1",
      "dependencies": {
        "@acme/core": "^1.1.0"
      }
    },
    "services/web": {
      "name": "@acme/web",
      "version": "2.0.1",
      "dependencies": {
        "@acme/core": "~1.1.0"
      },
      "devDependencies": {
        "@acme/api": "1.0.1"
      }
    }
  },
  "dependencies": {
    "@acme/api": {
      "version": "file:services/api",
      "requires": {
        "@acme/core": "^1.1.0"
      }
    },
    "@acme/core": {
      "version": "file:libs/core"
    },
    "@acme/web": {
      "version": "file:services/web",
      "requires": {
        "@acme/api": "1.0.1",
        "@acme/core": "~1.1.0"
      }
    }
  }
}
"#;

/// An npm workspace of two services and a shared library, each with its package.json as its
/// version file and no `depends_on` (read from the manifests), released once.
fn npm_workspace(lock: &str) -> Repo {
    let repo = Repo::new();
    repo.write(
        "release.toml",
        r#"[packages.api]
path = "services/api"
version_files = ["services/api/package.json"]

[packages.web]
path = "services/web"
version_files = ["services/web/package.json"]

[packages.core]
path = "libs/core"
version_files = ["libs/core/package.json"]
"#,
    );
    repo.write(
        "package.json",
        "{\n  \"name\": \"acme\",\n  \"private\": true,\n  \"workspaces\": [\"libs/*\", \"services/*\"]\n}\n",
    );
    repo.write(
        "libs/core/package.json",
        "{\n  \"name\": \"@acme/core\",\n  \"version\": \"1.0.0\"\n}\n",
    );
    repo.write(
        "services/api/package.json",
        "{\n  \"name\": \"@acme/api\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\n    \"@acme/core\": \"^1.0.0\"\n  }\n}\n",
    );
    repo.write(
        "services/web/package.json",
        "{\n  \"name\": \"@acme/web\",\n  \"version\": \"2.0.0\",\n  \"dependencies\": {\n    \"@acme/core\": \"~1.0.0\"\n  },\n  \"devDependencies\": {\n    \"@acme/api\": \"1.0.0\"\n  }\n}\n",
    );
    repo.write("package-lock.json", lock);
    repo.first_release(&["api-v1.0.0", "web-v2.0.0", "core-v1.0.0"]);
    repo
}

#[test]
fn an_npm_workspace_release_updates_manifests_and_the_lockfile() {
    let repo = npm_workspace(NPM_LOCK_V2);
    repo.commit_file(
        "libs/core/index.js",
        "export const f = 1;\n",
        "feat: a core function",
    );
    let plan = repo.plan_json(&[]);
    assert_eq!(package(&plan, "core")["next_version"], "1.1.0", "{plan:#}");
    assert_eq!(package(&plan, "api")["next_version"], "1.0.1");
    assert_eq!(
        package(&plan, "api")["pulled_by"],
        serde_json::json!(["core"])
    );
    assert_eq!(package(&plan, "web")["next_version"], "2.0.1");
    assert_eq!(
        package(&plan, "web")["pulled_by"],
        serde_json::json!(["api", "core"])
    );

    repo.run(&["bump"]).success();
    assert_eq!(
        repo.log()[0],
        "chore(release): api 1.0.1, core 1.1.0, web 2.0.1"
    );
    assert_eq!(
        repo.read("libs/core/package.json"),
        "{\n  \"name\": \"@acme/core\",\n  \"version\": \"1.1.0\"\n}\n"
    );
    assert_eq!(
        repo.read("services/api/package.json"),
        "{\n  \"name\": \"@acme/api\",\n  \"version\": \"1.0.1\",\n  \"dependencies\": {\n    \"@acme/core\": \"^1.1.0\"\n  }\n}\n"
    );
    assert_eq!(
        repo.read("services/web/package.json"),
        "{\n  \"name\": \"@acme/web\",\n  \"version\": \"2.0.1\",\n  \"dependencies\": {\n    \"@acme/core\": \"~1.1.0\"\n  },\n  \"devDependencies\": {\n    \"@acme/api\": \"1.0.1\"\n  }\n}\n"
    );
    // What npm itself writes for these manifests, byte for byte.
    assert_eq!(repo.read("package-lock.json"), NPM_LOCK_V2_RELEASED);
    assert!(repo.read("package.json").contains("\"private\": true"));
    assert_eq!(repo.status(), "", "everything is in the release commit");
    let files = repo.files_of("HEAD");
    assert!(
        files.contains(&"package-lock.json".to_string()),
        "{files:?}"
    );
    for tag in ["api-v1.0.1", "core-v1.1.0", "web-v2.0.1"] {
        assert!(repo.rev(&format!("refs/tags/{tag}")).is_some(), "{tag}");
    }

    // Lockfile version 3 (npm 9 and later) has no legacy `dependencies`: the same entries.
    let v3 = |lock: &str| -> String {
        let at = lock.find("\n  },\n  \"dependencies\"").unwrap();
        format!("{}\n  }}\n}}\n", &lock[..at])
            .replace("\"lockfileVersion\": 2", "\"lockfileVersion\": 3")
    };
    let repo = npm_workspace(&v3(NPM_LOCK_V2));
    repo.commit_file(
        "libs/core/index.js",
        "export const f = 1;\n",
        "feat: a core function",
    );
    repo.run(&["bump"]).success();
    assert_eq!(repo.read("package-lock.json"), v3(NPM_LOCK_V2_RELEASED));
    assert_eq!(repo.status(), "");
}

#[test]
fn a_malformed_npm_lockfile_stops_the_release_before_any_write() {
    let broken = NPM_LOCK_V2.replacen("\"link\": true\n", "\"link\": true,\n", 1);
    let repo = npm_workspace(&broken);
    repo.commit_file(
        "libs/core/index.js",
        "export const f = 1;\n",
        "feat: a core function",
    );
    let head = repo.head();
    let err = clean_failure(repo.run(&["bump"]));
    assert!(err.contains("package-lock.json"), "{err}");
    assert!(err.contains("not valid JSON"), "{err}");
    assert!(err.contains("line 20"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(repo.head(), head);
    assert_eq!(repo.status(), "", "no file was touched");
    assert!(repo.rev("refs/tags/core-v1.1.0").is_none());

    // A lockfile that is valid JSON but no npm lockfile is refused too.
    repo.write("package-lock.json", "{\"packages\": {}}\n");
    repo.git(&["add", "-A"]);
    repo.commit_staged("chore: an odd lockfile");
    let err = clean_failure(repo.run(&["bump"]));
    assert!(err.contains("package-lock.json"), "{err}");
    assert!(err.contains("lockfileVersion"), "{err}");
    assert_eq!(repo.status(), "");
}

#[test]
fn the_packages_summary_lists_each_release_commit_and_keeps_what_is_there() {
    let repo = monorepo();
    repo.remote("git@github.com:acme/mono.git");
    repo.write(
        "release.toml",
        &format!("{CONFIG}\n[changelog]\npackages_summary = \"CHANGELOG.md\"\n"),
    );
    let hand_written = "# Releases\n\nEvery package's releases; the details are in each package's changelog.\n\n## [Unreleased]\n\n- The repository is now a monorepo.\n\n## 0.9.0 - 2020-01-01\n\nThe last release as one package.\n";
    repo.write("CHANGELOG.md", hand_written);
    repo.git(&["add", "-A"]);
    repo.commit_staged("chore: a summary of the packages' releases");
    repo.commit_file("libs/core/lib.rs", "pub fn f() { 1 }\n", "fix: core bug");
    repo.commit_file("services/worker/main.py", "print(1)\n", "feat: queue");

    // Killed after writing every file, before the commit: the next run finishes the release
    // with the section it wrote, not a second one.
    let out = repo
        .release_hermetic()
        .args(["bump"])
        .env("RELEASE_AGENT_FAIL_AFTER", "write-files")
        .assert()
        .failure();
    drop(out);
    assert_ne!(
        repo.read("CHANGELOG.md"),
        hand_written,
        "written before the kill"
    );
    repo.run(&["bump"]).success();
    assert_eq!(
        repo.log()[0],
        "chore(release): api 1.0.1, core 1.0.1, worker 1.1.0",
        "one release commit"
    );
    let text = repo.read("CHANGELOG.md");
    let heading = "## api 1.0.1, core 1.0.1, worker 1.1.0 - ";
    assert_eq!(text.matches(heading).count(), 1, "{text}");
    let at = text.find(heading).unwrap();
    let line_end = at + text[at..].find('\n').unwrap();
    let date = &text[at + heading.len()..line_end];
    assert_eq!(date.len(), 10, "a YYYY-MM-DD date: {text}");
    // The header and the older sections are kept; the hand-written note of [Unreleased]
    // describes this release and moves into its section, under an empty [Unreleased].
    let expected = format!(
        "# Releases\n\nEvery package's releases; the details are in each package's changelog.\n\n## [Unreleased]\n\n{heading}{date}\n\n- The repository is now a monorepo.\n\n\
         - **api** [1.0.1](https://github.com/acme/mono/compare/api-v1.0.0...api-v1.0.1) (api-v1.0.1, uses the new core): [changelog](services/api/CHANGELOG.md)\n\
         - **core** [1.0.1](https://github.com/acme/mono/compare/core@1.0.0...core@1.0.1) (core@1.0.1): [changelog](libs/core/CHANGELOG.md)\n\
         - **worker** [1.1.0](https://github.com/acme/mono/compare/worker-v1.0.0...worker-v1.1.0) (worker-v1.1.0): [changelog](services/worker/CHANGELOG.md)\n\n\
         ## 0.9.0 - 2020-01-01\n\nThe last release as one package.\n"
    );
    assert_eq!(text, expected);
    assert_eq!(repo.status(), "");
    assert!(repo.files_of("HEAD").contains(&"CHANGELOG.md".to_string()));
    // Each package's changelog still has only its own commits.
    assert!(!repo.read("libs/core/CHANGELOG.md").contains("queue"));

    // The next release commit goes on top; the earlier one stays.
    repo.commit_file("services/worker/main.py", "print(2)\n", "fix: retry");
    repo.run(&["bump"]).success();
    let next = repo.read("CHANGELOG.md");
    assert!(
        next.starts_with(&format!(
            "# Releases\n\nEvery package's releases; the details are in each package's changelog.\n\n## [Unreleased]\n\n## worker 1.1.1 - {date}\n\n- **worker** [1.1.1](https://github.com/acme/mono/compare/worker-v1.1.0...worker-v1.1.1) (worker-v1.1.1): [changelog](services/worker/CHANGELOG.md)\n\n{heading}"
        )),
        "{next}"
    );
    assert!(
        next.ends_with(&expected[expected.find(heading).unwrap()..]),
        "{next}"
    );
}

#[test]
fn the_packages_summary_is_off_by_default_and_checked() {
    let repo = monorepo();
    repo.commit_file("libs/core/lib.rs", "pub fn f() { 1 }\n", "fix: core bug");
    repo.run(&["bump"]).success();
    assert!(!repo.exists("CHANGELOG.md"), "no summary unless asked for");

    repo.write(
        "release.toml",
        &format!("{CONFIG}\n[changelog]\npackages_summary = \"libs/core/CHANGELOG.md\"\n"),
    );
    let err = clean_failure(repo.run(&["plan"]));
    assert!(err.contains("changelog.packages_summary"), "{err}");
    assert!(err.contains("changelog of package core"), "{err}");
    let single = Repo::released(&[]);
    single.write(
        "release.toml",
        "[changelog]\npackages_summary = \"CHANGELOG.md\"\n",
    );
    let err = clean_failure(single.run(&["plan"]));
    assert!(err.contains("needs [packages]"), "{err}");
}

#[test]
fn the_nearest_npm_lockfile_above_a_package_is_its_workspace_s() {
    let repo = Repo::new();
    repo.write(
        "release.toml",
        "[packages.ui]\npath = \"frontend/packages/ui\"\nversion_files = [\"frontend/packages/ui/package.json\"]\n",
    );
    // A workspace rooted in frontend/, and an unrelated lockfile (tooling) at the root.
    let root_lock = "{\n  \"name\": \"tools\",\n  \"lockfileVersion\": 3,\n  \"requires\": true,\n  \"packages\": {\n    \"\": {\n      \"name\": \"tools\"\n    }\n  }\n}\n";
    repo.write("package-lock.json", root_lock);
    let lock = "{\n  \"name\": \"frontend\",\n  \"lockfileVersion\": 3,\n  \"requires\": true,\n  \"packages\": {\n    \"\": {\n      \"name\": \"frontend\",\n      \"workspaces\": [\n        \"packages/*\"\n      ]\n    },\n    \"node_modules/@acme/ui\": {\n      \"resolved\": \"packages/ui\",\n      \"link\": true\n    },\n    \"packages/ui\": {\n      \"name\": \"@acme/ui\",\n      \"version\": \"0.3.0\"\n    }\n  }\n}\n";
    repo.write("frontend/package-lock.json", lock);
    repo.write(
        "frontend/packages/ui/package.json",
        "{\n  \"name\": \"@acme/ui\",\n  \"version\": \"0.3.0\"\n}\n",
    );
    repo.git(&["add", "-A"]);
    repo.commit_staged("feat: first");
    repo.annotated_tag("ui-v0.3.0");
    repo.commit_file("frontend/packages/ui/button.js", "1\n", "fix: button");
    repo.run(&["bump"]).success();
    assert_eq!(repo.log()[0], "chore(release): ui 0.3.1");
    assert_eq!(
        repo.read("frontend/package-lock.json"),
        lock.replace("\"version\": \"0.3.0\"", "\"version\": \"0.3.1\"")
    );
    assert_eq!(repo.read("package-lock.json"), root_lock);
    assert_eq!(repo.status(), "");
}

#[test]
fn a_package_path_missing_at_head_is_warned_about() {
    let repo = monorepo();
    repo.write(
        "release.toml",
        &CONFIG.replace("path = \"services/worker\"", "path = \"services/wroker/\""),
    );
    repo.commit_file("services/worker/main.py", "print(1)\n", "fix: a bug");
    for args in [&["plan"][..], &["plan", "--json"], &["bump", "--dry-run"]] {
        let out = repo.run(args).success();
        let err = stderr(&out);
        assert!(
            err.contains("package worker: `services/wroker` is not in the repository at HEAD"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("package api"), "{args:?}: {err}");
    }
    // A path that is there, a file included, is not warned about.
    repo.write(
        "release.toml",
        &CONFIG.replace("path = \"services/worker\"", "path = \"README.md\""),
    );
    let err = stderr(&repo.run(&["plan"]).success());
    assert!(!err.contains("is not in the repository"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_packages_refused_file_is_named_by_its_package_key() {
    let repo = monorepo();
    let outside = repo.root().join("outside.md");
    std::fs::write(&outside, "precious\n").unwrap();
    std::os::unix::fs::symlink(&outside, repo.path().join("services/api/CHANGELOG.md")).unwrap();
    repo.commit_file("services/api/main.rs", "fn main() { 1 }\n", "fix: a bug");
    let before = repo.state();
    let err = clean_failure(repo.run(&["bump"]));
    assert!(
        err.contains("services/api/CHANGELOG.md (packages.api.changelog)")
            && err.contains("symbolic link")
            && err.contains("point packages.api.changelog at one"),
        "{err}"
    );
    assert_eq!(repo.state(), before);
    std::fs::remove_file(repo.path().join("services/api/CHANGELOG.md")).unwrap();
    repo.write(
        "release.toml",
        &CONFIG.replace(
            "version_files = [\"services/api/Cargo.toml\"]",
            "version_files = [\"../outside.md\"]",
        ),
    );
    let before = repo.state();
    let err = clean_failure(repo.run(&["bump", "--allow-dirty"]));
    assert!(
        err.contains("../outside.md (packages.api.version_files)"),
        "{err}"
    );
    assert_eq!(repo.state(), before);
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n");
}

#[test]
fn a_package_at_the_root_with_an_exclude_counts_every_other_change() {
    let repo = Repo::new();
    repo.write(
        "release.toml",
        "[packages.site]\npath = \".\"\nexclude = [\"docs\"]\n\n[packages.api]\npath = \"api\"\n",
    );
    repo.write("api/main.rs", "fn main() {}\n");
    repo.write("docs/guide.md", "guide\n");
    repo.first_release(&["site-v1.0.0", "api-v1.0.0"]);
    repo.commit_file("docs/guide.md", "more\n", "fix: only the docs");
    repo.commit_file("api/main.rs", "fn main() { 1 }\n", "feat: an endpoint");
    repo.commit_file("index.html", "<p>\n", "fix: the front page");
    let plan = repo.plan_json(&[]);
    assert_eq!(
        summaries(package(&plan, "site")),
        ["the front page", "an endpoint"],
        "{plan:#}"
    );
    assert_eq!(package(&plan, "site")["next_version"], "1.1.0");
    assert_eq!(summaries(package(&plan, "api")), ["an endpoint"]);
    let changelog = stdout(&repo.run(&["changelog", "--package", "site"]).success());
    assert!(
        changelog.contains("the front page") && !changelog.contains("only the docs"),
        "{changelog}"
    );
    // Answers remembered by a release before the fix are not read: the package sets are
    // those of the paths *and* of the cache's version.
    let dir = repo.path().join(".git/release-agent/packages");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            bytes.starts_with(b"release-agent package paths v2 "),
            "{}",
            String::from_utf8_lossy(&bytes[..40.min(bytes.len())])
        );
    }
}
