//! `release completions`, `release man` and `release config --schema`: what shells, `man` and
//! editors load, generated from the CLI and config definitions themselves.

use crate::support::{code, release_bin, stdout};
use assert_cmd::Command;

fn release(args: &[&str]) -> assert_cmd::assert::Assert {
    Command::new(release_bin()).args(args).assert()
}

#[test]
fn every_shell_gets_a_completion_script_naming_the_subcommands() {
    for (shell, marker) in [
        ("bash", "complete -F _release"),
        ("zsh", "#compdef release"),
        ("fish", "complete -c release"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = release(&["completions", shell]).success();
        let script = stdout(&out);
        assert!(script.contains(marker), "{shell}: {marker} missing");
        for sub in ["deploy", "promote", "rollback", "changelog"] {
            assert!(script.contains(sub), "{shell}: no `{sub}`");
        }
    }
    let unknown = release(&["completions", "tcsh"]).failure();
    assert_eq!(code(&unknown), 2);
}

#[test]
fn the_bash_script_is_valid_bash() {
    let script = stdout(&release(&["completions", "bash"]).success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("release.bash");
    std::fs::write(&file, script).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn the_man_page_is_roff_with_every_subcommand() {
    let page = stdout(&release(&["man"]).success());
    assert!(
        page.contains(".TH release 1"),
        "{}",
        &page[..200.min(page.len())]
    );
    for sub in [
        "plan",
        "bump",
        "cut",
        "ci",
        "deploy",
        "approve",
        "completions",
    ] {
        assert!(page.contains(sub), "no `{sub}` in the man page");
    }
}

#[test]
fn the_schema_describes_exactly_the_keys_of_release_toml() {
    let schema: serde_json::Value =
        serde_json::from_str(&stdout(&release(&["config", "--schema"]).success()))
            .expect("the schema is JSON");
    let defaults: toml::Table = stdout(&release(&["config", "--default"]).success())
        .parse()
        .expect("the defaults are TOML");
    let properties = schema["properties"].as_object().expect("properties");
    for key in defaults.keys() {
        assert!(properties.contains_key(key), "the schema lacks `{key}`");
    }
    for key in ["environments", "image", "version_files"] {
        assert!(properties.contains_key(key), "the schema lacks `{key}`");
    }
    // Unknown keys are an error in release.toml, and so in the schema.
    assert_eq!(schema["additionalProperties"], false);
    let text = schema.to_string();
    for needle in [
        "cluster",
        "health_url",
        "approvers",
        "repository",
        "breaking_always_bump_major",
    ] {
        assert!(text.contains(needle), "the schema lacks `{needle}`");
    }
    // Durations take a number of seconds or a text like "10m".
    assert!(text.contains("1h30m"), "no duration description");
    let both = release(&["config", "--schema", "--default"]).failure();
    assert_eq!(code(&both), 2);
}
