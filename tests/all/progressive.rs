//! Progressive delivery through the real binary against the emulator: many services, ECS's own
//! canary, linear and blue/green strategies followed through the service-deployment API, the
//! pause before production traffic, and alarms that roll a deploy back.

use crate::support::fleet::{reference, Fleet};
use crate::support::{stderr, Repo};

const ACTOR: &str = "carol@example.com";

/// An emulator with `versions` pushed, one cluster `prod` whose `services` run the first
/// version, and a repository whose `[environments.production]` lists them with `extra` lines.
struct Stage {
    repo: Repo,
    fleet: Fleet,
    digests: Vec<(String, String)>,
    services: Vec<String>,
}

fn stage(deploy_seconds: f64, services: &[String], extra: &str) -> Stage {
    let fleet = Fleet::start(deploy_seconds);
    let versions = ["1.0.0", "1.1.0"];
    let digests: Vec<(String, String)> = versions
        .iter()
        .map(|v| (v.to_string(), fleet.push(v)))
        .collect();
    let names: Vec<&str> = services.iter().map(String::as_str).collect();
    fleet.create_environment("prod", &names, &reference(&digests[0].1));
    let repo = Repo::new();
    let list = services
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    repo.write(
        "release.toml",
        &format!(
            r#"[image]
repository = "{repository}"
builder = "buildah"

[environments.production]
cluster = "prod"
services = [{list}]
container = "app"
timeout = "60s"
poll_interval = "1s"
{extra}
"#,
            repository = crate::support::fleet::REPOSITORY,
        ),
    );
    repo.git(&["add", "-A"]);
    repo.commit("chore: release configuration");
    for v in versions {
        repo.commit(&format!("feat: towards {v}"));
        repo.annotated_tag(&format!("v{v}"));
    }
    Stage {
        repo,
        fleet,
        digests,
        services: services.to_vec(),
    }
}

impl Stage {
    fn release(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        let mut cmd = self.repo.release_hermetic();
        cmd.envs(self.fleet.env())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", ACTOR)
            .args(args);
        cmd.assert()
    }

    fn digest(&self, version: &str) -> &str {
        &self
            .digests
            .iter()
            .find(|(v, _)| v == version)
            .expect("a pushed version")
            .1
    }

    /// Every service runs `version`'s image.
    fn assert_runs(&self, version: &str) {
        for service in &self.services {
            assert_eq!(
                self.fleet.image_of("prod", service),
                reference(self.digest(version)),
                "prod/{service} should run {version}"
            );
        }
    }
}

#[test]
fn twenty_five_services_deploy_together_with_one_describe_per_ten_services() {
    let services: Vec<String> = (1..=25).map(|i| format!("svc{i:02}")).collect();
    let s = stage(0.5, &services, "");
    let before = s.fleet.calls("DescribeServices").len();
    let out = s
        .release(&["deploy", "1.1.0", "--env", "production"])
        .success();
    let err = stderr(&out);
    assert!(err.contains("1.1.0 completed in production"), "{err}");
    let describes: Vec<_> = s.fleet.calls("DescribeServices")[before..].to_vec();
    s.assert_runs("1.1.0");
    assert_eq!(s.fleet.calls("UpdateService").len(), 25);
    for call in &describes {
        let n = call["services"].as_array().map_or(0, Vec::len);
        assert!(
            (1..=10).contains(&n),
            "one DescribeServices takes 1 to 10 services: {call}"
        );
    }
    // Every read of the environment asks for all 25 services in exactly three calls.
    let asked: usize = describes
        .iter()
        .map(|c| c["services"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(asked % 25, 0, "{describes:#?}");
    assert!(
        asked >= 50,
        "read before and while deploying: {describes:#?}"
    );
    assert_eq!(describes.len(), asked / 25 * 3, "{describes:#?}");
}
