//! `release init`: the real binary on real repository shapes, and the written `release.toml`
//! loaded by the real configuration loader (and by the commands that use it).

use crate::support::{clean_failure, stdout, Repo};
use release_agent::config::Config;
use std::path::Path;

/// The written release.toml, loaded as every command loads it.
fn loaded(repo: &Repo) -> Config {
    let text = repo.read("release.toml");
    Config::parse(&text, Path::new("release.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// `release config` (the file in effect) as the binary prints it.
fn config_in_effect(repo: &Repo) -> String {
    stdout(&repo.run(&["config"]).success())
}

#[test]
fn an_empty_repository_gets_comments_only() {
    let repo = Repo::new();
    let out = stdout(&repo.run(&["init"]).success());
    assert!(
        out.contains("found: no release tag yet: the first release will be 0.1.0"),
        "{out}"
    );
    assert!(out.contains("wrote release.toml"), "{out}");
    let text = repo.read("release.toml");
    assert!(
        text.contains("No release tag yet: the first release will be initial_version"),
        "{text}"
    );
    assert!(text.contains("0.1.0 (the default)"), "{text}");
    assert!(text.contains("No origin remote"), "{text}");
    // Nothing differs from the defaults: every line is a comment.
    assert!(
        text.lines().all(|l| l.is_empty() || l.starts_with('#')),
        "{text}"
    );
    assert_eq!(loaded(&repo), Config::default());
    assert_eq!(
        config_in_effect(&repo),
        stdout(&repo.run(&["config", "--default"]).success())
    );
}

#[test]
fn a_rust_crate_with_v_tags_needs_only_its_cargo_toml() {
    let repo = Repo::new();
    let cargo = "[package]\nname = \"app\"\nversion = \"1.2.0\"\nedition = \"2021\"\n";
    let lock = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"1.2.0\"\n";
    repo.write("Cargo.toml", cargo);
    repo.write("Cargo.lock", lock);
    repo.git(&["add", "-A"]);
    repo.commit_staged("feat: first");
    repo.tag("v1.0.0");
    repo.commit("feat: second");
    repo.annotated_tag("v1.2.0");
    let out = stdout(&repo.run(&["init"]).success());
    assert!(out.contains("2 release tag(s), the newest v1.2.0"), "{out}");
    assert!(out.contains("found: Cargo.toml at version 1.2.0"), "{out}");
    let text = repo.read("release.toml");
    assert!(
        !text.contains("\ntag_prefix ="),
        "the default prefix is not written:\n{text}"
    );
    assert!(!text.contains("\ninitial_version ="), "{text}");
    let config = loaded(&repo);
    assert_eq!(config.tag_prefix, "v");
    assert_eq!(config.version_files.len(), 1);
    assert_eq!(config.version_files[0].path, "Cargo.toml");
    assert_eq!(config.version_files[0].regex, None);
    assert_eq!(
        Config {
            version_files: Vec::new(),
            ..config
        },
        Config::default(),
        "only version_files differs"
    );
    // The next release rewrites the crate's version.
    repo.git(&["add", "release.toml"]);
    repo.commit_staged("feat: release config");
    repo.run(&["bump"]).success();
    assert!(repo.read("Cargo.toml").contains("version = \"1.3.0\""));
    assert!(repo.read("Cargo.lock").contains("version = \"1.3.0\""));
    assert!(repo.tags().contains(&"v1.3.0".to_string()));
}

#[test]
fn a_node_package_with_bare_tags_keeps_them_bare() {
    let repo = Repo::new();
    repo.write(
        "package.json",
        "{\n  \"name\": \"web\",\n  \"version\": \"1.2.3\",\n  \"private\": true\n}\n",
    );
    repo.git(&["add", "-A"]);
    repo.commit_staged("feat: first");
    repo.tag("1.0.0");
    repo.commit("fix: a bug");
    repo.tag("1.2.3");
    let out = stdout(&repo.run(&["init"]).success());
    assert!(out.contains("tag_prefix = \"\""), "{out}");
    let text = repo.read("release.toml");
    assert!(text.contains("\ntag_prefix = \"\"\n"), "{text}");
    let config = loaded(&repo);
    assert_eq!(config.tag_prefix, "");
    assert_eq!(config.version_files[0].path, "package.json");
    assert!(config_in_effect(&repo).contains("tag_prefix = \"\""));
    repo.git(&["add", "release.toml"]);
    repo.commit_staged("feat: release config");
    let plan = repo.plan_json(&[]);
    assert_eq!(plan["current_tag"], "1.2.3");
    assert_eq!(plan["next_tag"], "1.3.0", "{plan}");
}

#[test]
fn a_python_project_with_a_dockerfile_on_github() {
    let repo = Repo::new();
    let pyproject = "[build-system]\nrequires = [\"hatchling\"]\n\n[project]\nname = \"pyapp\"\nauthors = [\n  { name = \"A\" },\n]\nversion = \"0.4.0\"\n\n[tool.other]\nversion = \"9.9.9\"\n";
    repo.write("pyproject.toml", pyproject);
    repo.write("Dockerfile", "FROM python:3.12-slim\n");
    repo.git(&["add", "-A"]);
    repo.commit_staged("feat: first");
    repo.remote("git@github.com:acme/pyapp.git");
    let out = stdout(&repo.run(&["init"]).success());
    assert!(
        out.contains("no release tag yet: the first release will be 0.4.0"),
        "{out}"
    );
    assert!(
        out.contains("found: pyproject.toml at version 0.4.0"),
        "{out}"
    );
    assert!(out.contains("found: Dockerfile"), "{out}");
    assert!(out.contains("https://github.com/acme/pyapp"), "{out}");
    let text = repo.read("release.toml");
    assert!(text.contains("pyproject.toml says 0.4.0"), "{text}");
    assert!(text.contains("# [image]"), "{text}");
    assert!(
        text.contains("# repository = \"REGISTRY/REPOSITORY\""),
        "{text}"
    );
    assert!(text.contains("Replace the placeholder"), "{text}");
    assert!(
        text.contains("origin is https://github.com/acme/pyapp"),
        "{text}"
    );
    assert!(text.contains("GITHUB_TOKEN"), "{text}");
    let config = loaded(&repo);
    assert_eq!(config.initial_version, semver::Version::new(0, 4, 0));
    assert_eq!(config.version_files[0].path, "pyproject.toml");
    assert!(config.version_files[0].regex.is_some());
    assert_eq!(
        config.image, None,
        "the image section waits for its repository"
    );
    // The first release is the manifest's version, written back to [project] only.
    repo.git(&["add", "release.toml"]);
    repo.commit_staged("feat: release config");
    repo.run(&["bump"]).success();
    assert_eq!(repo.read("version.txt"), "0.4.0\n");
    assert!(repo.tags().contains(&"v0.4.0".to_string()));
    repo.commit("feat: more");
    repo.run(&["bump"]).success();
    let after = repo.read("pyproject.toml");
    assert_eq!(
        after,
        pyproject.replace("version = \"0.4.0\"", "version = \"0.5.0\""),
        "only [project] version moves"
    );
}

#[test]
fn an_existing_release_toml_is_replaced_only_with_force() {
    let repo = Repo::new();
    repo.write("release.toml", "tag_prefix = \"x\"\nnot valid toml = \n");
    let err = clean_failure(repo.run(&["init"]).failure());
    assert!(err.contains("release.toml already exists"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        repo.read("release.toml"),
        "tag_prefix = \"x\"\nnot valid toml = \n"
    );
    // A broken file does not stop its replacement.
    let out = stdout(&repo.run(&["init", "--force"]).success());
    assert!(out.contains("replaced release.toml"), "{out}");
    assert_eq!(loaded(&repo), Config::default());
    assert!(!repo.exists(".release.toml.release-tmp"));
}

#[test]
fn a_symlinked_target_is_refused_even_with_force() {
    let repo = Repo::new();
    let outside = repo.root().join("outside.toml");
    std::fs::write(&outside, "kept\n").unwrap();
    std::os::unix::fs::symlink(&outside, repo.path().join("release.toml")).unwrap();
    let err = clean_failure(repo.run(&["init", "--force"]).failure());
    assert!(err.contains("refusing to write release.toml"), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "kept\n");
}

#[test]
fn dry_run_writes_nothing() {
    let repo = Repo::new();
    repo.write("package.json", "{\"version\": \"2.0.0\"}\n");
    let out = stdout(
        &repo
            .run(&["init", "--dry-run", "--github-actions"])
            .success(),
    );
    assert!(out.contains("would write release.toml:"), "{out}");
    assert!(out.contains("initial_version = \"2.0.0\""), "{out}");
    assert!(out.contains("path = \"package.json\""), "{out}");
    assert!(
        out.contains("would write .github/workflows/release.yml:"),
        "{out}"
    );
    assert!(out.contains("run: release ci"), "{out}");
    assert!(!repo.exists("release.toml"));
    assert!(!repo.exists(".github"));
    // It still says when a file would be refused.
    repo.write("release.toml", "");
    let err = clean_failure(repo.run(&["init", "--dry-run"]).failure());
    assert!(err.contains("--force"), "{err}");
}

#[test]
fn github_actions_writes_the_workflow() {
    let repo = Repo::new();
    repo.commit("feat: first");
    repo.git(&["branch", "-m", "master"]);
    repo.remote("https://github.com/acme/app.git");
    let out = stdout(&repo.run(&["init", "--github-actions"]).success());
    assert!(out.contains("wrote release.toml"), "{out}");
    assert!(out.contains("wrote .github/workflows/release.yml"), "{out}");
    let yml = repo.read(".github/workflows/release.yml");
    assert!(yml.contains("branches: [master]"), "{yml}");
    assert!(yml.contains("fetch-depth: 0"), "{yml}");
    assert!(yml.contains("contents: write"), "{yml}");
    assert!(yml.contains("cancel-in-progress: false"), "{yml}");
    assert!(
        yml.contains("GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}"),
        "{yml}"
    );
    assert!(yml.contains("run: release ci"), "{yml}");
    assert!(!yml.contains("aws-actions"), "no image, no AWS: {yml}");
    // Both files are checked before either is written.
    std::fs::remove_file(repo.path().join("release.toml")).unwrap();
    let err = clean_failure(repo.run(&["init", "--github-actions"]).failure());
    assert!(
        err.contains(".github/workflows/release.yml already exists"),
        "{err}"
    );
    assert!(!repo.exists("release.toml"));
    repo.run(&["init", "--github-actions", "--force"]).success();
    assert!(repo.exists("release.toml"));
}

#[test]
fn config_flag_is_refused() {
    let repo = Repo::new();
    let err = clean_failure(repo.run(&["--config", "other.toml", "init"]).failure());
    assert!(err.contains("drop --config"), "{err}");
    assert!(!repo.exists("release.toml"));
}
