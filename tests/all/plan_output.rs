//! What `release plan` prints: the JSON contract and the human text.

use crate::support::{assert_snapshot, stdout, Repo};
use serde_json::Value;

/// v1.0.0, then a representative mix: a merged branch, a breaking change, a revert pair,
/// non-conventional commits.
fn repo() -> Repo {
    let repo = Repo::new();
    repo.commit("feat: first");
    repo.annotated_tag("v1.0.0");
    repo.commit("fix(parser): handle tabs");
    repo.branch("topic");
    repo.commit("feat(api)!: new endpoint\n\nBREAKING CHANGE: v1 endpoint removed");
    repo.switch("main");
    let perf = repo.commit_file("a.txt", "a\n", "perf: cache");
    repo.merge("topic");
    repo.revert(&perf);
    repo.commits(&["docs: readme", "Update README.md", "wip"]);
    repo
}

fn is_hex_id(v: &Value, len: usize) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[test]
fn json_has_the_documented_fields_and_types() {
    let repo = repo();
    let plan = repo.plan_json(&[]);
    assert_eq!(plan["current_version"], "1.0.0");
    assert_eq!(plan["current_tag"], "v1.0.0");
    assert_eq!(plan["next_version"], "2.0.0");
    assert_eq!(plan["next_tag"], "v2.0.0");
    assert_eq!(plan["bump"], "major");
    assert_eq!(plan["ignored"], 2, "{plan:#}"); // the merge commit is not counted
    assert!(plan["reason"].is_string());
    let commits = plan["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 3, "{plan:#}");
    for c in commits {
        assert!(is_hex_id(&c["id"], 40), "{c}");
        assert!(is_hex_id(&c["short_id"], 7), "{c}");
        assert!(c["id"]
            .as_str()
            .unwrap()
            .starts_with(c["short_id"].as_str().unwrap()));
        assert!(c["type"].is_string(), "{c}");
        assert!(c["scope"].is_string() || c["scope"].is_null(), "{c}");
        assert!(c["breaking"].is_boolean(), "{c}");
        assert!(c["summary"].is_string(), "{c}");
    }
    let breaking: Vec<&Value> = commits.iter().filter(|c| c["breaking"] == true).collect();
    assert_eq!(breaking.len(), 1);
    assert_eq!(breaking[0]["type"], "feat");
    assert_eq!(breaking[0]["scope"], "api");
    assert_eq!(breaking[0]["summary"], "new endpoint");
    // Ids are those of the real commits.
    let ids: Vec<&str> = commits.iter().map(|c| c["id"].as_str().unwrap()).collect();
    for id in ids {
        assert_eq!(repo.git(&["cat-file", "-t", id]), "commit");
    }
    assert_eq!(plan["reverted"].as_array().unwrap().len(), 2);

    // Nothing to release: nulls, not missing fields.
    let done = Repo::new();
    done.commit("feat: a");
    done.tag("v1.0.0");
    let plan = done.plan_json(&[]);
    for key in ["next_version", "next_tag"] {
        assert!(plan.get(key).is_some_and(Value::is_null), "{key}: {plan:#}");
    }
    assert_eq!(plan["bump"], "none");
    assert_eq!(plan["ignored"], 0);
    assert_eq!(plan["commits"], serde_json::json!([]));

    // No release yet: current_* are null.
    let fresh = Repo::new();
    fresh.commit("feat: a");
    let plan = fresh.plan_json(&[]);
    for key in ["current_version", "current_tag"] {
        assert!(plan.get(key).is_some_and(Value::is_null), "{key}: {plan:#}");
    }
}

#[test]
fn json_snapshot() {
    let repo = repo();
    assert_snapshot!(
        "plan_json",
        stdout(&repo.run(&["plan", "--json"]).success())
    );
}

#[test]
fn human_snapshot() {
    let repo = repo();
    assert_snapshot!("plan_human", stdout(&repo.run(&["plan"]).success()));
}

#[test]
fn human_output_for_the_special_cases() {
    let fresh = Repo::new();
    fresh.commits(&["feat: a", "fix: b"]);
    let first = stdout(&fresh.run(&["plan"]).success());

    let done = Repo::new();
    done.commit("feat: a");
    done.tag("v1.0.0");
    done.commits(&["chore: a", "docs: b"]);
    let nothing = stdout(&done.run(&["plan"]).success());

    let zero = Repo::new();
    zero.write(
        "release.toml",
        "[bump]\nbreaking_always_bump_major = false\n",
    );
    zero.commit("feat: a");
    zero.tag("v0.4.2");
    zero.commit("feat!: b");
    let lowered = stdout(&zero.run(&["plan"]).success());
    let forced = stdout(&zero.run(&["plan", "major", "--pre", "rc"]).success());

    let many = Repo::new();
    many.commit("feat: a");
    many.tag("v1.0.0");
    for i in 0..25 {
        many.commit(&format!("not conventional {i}"));
    }
    let ignored = stdout(&many.run(&["plan"]).success());
    assert!(ignored.contains("ignored, not Conventional Commits (25):"));
    assert!(
        ignored.contains("  ... and 5 more (see --json)"),
        "{ignored}"
    );
    assert_eq!(ignored.matches("not conventional").count(), 20);

    assert_snapshot!(
        "plan_human_special_cases",
        format!(
            "--- first release\n{first}--- nothing to release\n{nothing}--- 0.x lowered\n{lowered}--- forced\n{forced}"
        )
    );
}
