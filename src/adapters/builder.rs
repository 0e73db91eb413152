//! The argument vectors of `docker`, `podman` and `buildah` (never a shell string), and running
//! them with their output kept off stdout and secrets masked.
//!
//! Secrets never sit on a command line: build args from SSM are passed as `--build-arg NAME`
//! with the value in the environment; registry credentials go through `login --password-stdin`
//! (docker) or an auth file readable only by us (`--authfile`: podman, buildah).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::environ::Environ;
use crate::config::image::BuilderKind;
use crate::util::redact;

/// Options of `buildah` that depend on the machine: `RELEASE_AGENT_BUILDAH_STORAGE_DRIVER`
/// (default `vfs`) and `RELEASE_AGENT_BUILDAH_ISOLATION` (default `chroot`); an empty value
/// leaves the option out (buildah's own default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildahOptions {
    /// `--storage-driver`.
    pub storage_driver: Option<String>,
    /// `--isolation`.
    pub isolation: Option<String>,
}

impl BuildahOptions {
    /// From `RELEASE_AGENT_BUILDAH_STORAGE_DRIVER` and `RELEASE_AGENT_BUILDAH_ISOLATION`, with
    /// the daemonless defaults (set empty: buildah's own default).
    pub fn from_environ(environ: &Environ) -> BuildahOptions {
        let get = |var: &str, default: &str| match environ.get_raw(var) {
            Some("") => None,
            Some(v) => Some(v.to_string()),
            None => Some(default.to_string()),
        };
        BuildahOptions {
            storage_driver: get("RELEASE_AGENT_BUILDAH_STORAGE_DRIVER", "vfs"),
            isolation: get("RELEASE_AGENT_BUILDAH_ISOLATION", "chroot"),
        }
    }
}

/// One build.
#[derive(Debug, Clone)]
pub struct BuildSpec {
    /// The context directory.
    pub context: PathBuf,
    /// The Dockerfile.
    pub dockerfile: PathBuf,
    /// Full references to tag (`host/app:1.2.3`).
    pub tags: Vec<String>,
    /// OCI labels.
    pub labels: BTreeMap<String, String>,
    /// Plain build args (`--build-arg NAME=VALUE`).
    pub build_args: BTreeMap<String, String>,
    /// Secret build args: only the name is on the command line, the value in the environment.
    pub secret_args: BTreeMap<String, String>,
}

/// A builder: its kind and, for buildah, its machine options.
#[derive(Debug, Clone)]
pub struct Builder {
    /// docker, podman or buildah.
    pub kind: BuilderKind,
    /// Used by buildah only.
    pub buildah: BuildahOptions,
}

/// A builder command that failed.
#[derive(Debug, thiserror::Error)]
pub enum BuilderError {
    /// The program could not be started.
    #[error(
        "cannot run {program} ({source}): install it, or choose another `builder` under [image]"
    )]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// It ran and failed.
    #[error("`{command}` failed ({status}):\n{output}")]
    Failed {
        /// The command line (no secrets are ever on it).
        command: String,
        /// The exit status.
        status: String,
        /// The end of its output, secrets masked.
        output: String,
    },
}

impl Builder {
    /// The builder of `kind` with options from the environment.
    pub fn new(kind: BuilderKind, environ: &Environ) -> Builder {
        Builder {
            kind,
            buildah: BuildahOptions::from_environ(environ),
        }
    }

    fn program_and_globals(&self) -> Vec<String> {
        let mut argv = vec![self.kind.program().to_string()];
        if self.kind == BuilderKind::Buildah {
            if let Some(d) = &self.buildah.storage_driver {
                argv.extend(["--storage-driver".into(), d.clone()]);
            }
        }
        argv
    }

    /// The build command.
    pub fn build_argv(&self, spec: &BuildSpec) -> Vec<String> {
        let mut argv = self.program_and_globals();
        argv.push("build".into());
        if self.kind == BuilderKind::Buildah {
            if let Some(i) = &self.buildah.isolation {
                argv.extend(["--isolation".into(), i.clone()]);
            }
            argv.push("--layers".into());
        }
        argv.extend(["-f".into(), spec.dockerfile.display().to_string()]);
        for (k, v) in &spec.labels {
            argv.extend(["--label".into(), format!("{k}={v}")]);
        }
        for (k, v) in &spec.build_args {
            argv.extend(["--build-arg".into(), format!("{k}={v}")]);
        }
        for k in spec.secret_args.keys() {
            argv.extend(["--build-arg".into(), k.clone()]);
        }
        for t in &spec.tags {
            argv.extend(["-t".into(), t.clone()]);
        }
        argv.push(spec.context.display().to_string());
        argv
    }

    /// The push command of one reference. `authfile` and `insecure` are for buildah and podman
    /// (docker logs in first, see [`Builder::login_argv`]); `digestfile` for buildah and
    /// podman.
    pub fn push_argv(
        &self,
        reference: &str,
        digestfile: Option<&Path>,
        authfile: Option<&Path>,
        insecure: bool,
    ) -> Vec<String> {
        let mut argv = self.program_and_globals();
        argv.push("push".into());
        match self.kind {
            BuilderKind::Docker => argv.push(reference.into()),
            BuilderKind::Podman | BuilderKind::Buildah => {
                if insecure {
                    argv.push("--tls-verify=false".into());
                }
                if let Some(a) = authfile {
                    argv.extend(["--authfile".into(), a.display().to_string()]);
                }
                if let Some(d) = digestfile {
                    argv.extend(["--digestfile".into(), d.display().to_string()]);
                }
                argv.push(reference.into());
                argv.push(format!("docker://{reference}"));
            }
        }
        argv
    }

    /// `login --username USER --password-stdin REGISTRY` (docker and podman; the password goes
    /// to stdin).
    pub fn login_argv(&self, registry: &str, user: &str) -> Vec<String> {
        let mut argv = self.program_and_globals();
        argv.extend(
            ["login", "--username", user, "--password-stdin", registry].map(str::to_string),
        );
        argv
    }
}

/// Run `argv` with extra environment and optional stdin; its output goes to our stderr (never
/// stdout, which may carry JSON), secrets masked.
pub fn run(
    argv: &[String],
    env: &BTreeMap<String, String>,
    stdin: Option<&str>,
) -> Result<(), BuilderError> {
    tracing::info!("running {}", argv.join(" "));
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .envs(env)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| BuilderError::Spawn {
        program: argv[0].clone(),
        source,
    })?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let _ = pipe.write_all(input.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|source| BuilderError::Spawn {
            program: argv[0].clone(),
            source,
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = redact::redact(&text).into_owned();
    if out.status.success() {
        tracing::debug!("{text}");
        return Ok(());
    }
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(30)..].join("\n");
    Err(BuilderError::Failed {
        command: redact::redact(&argv.join(" ")).into_owned(),
        status: out.status.to_string(),
        output: tail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> BuildSpec {
        BuildSpec {
            context: ".".into(),
            dockerfile: "Dockerfile".into(),
            tags: vec![
                "r.example/app:1.2.3".into(),
                "r.example/app:sha-abc1234".into(),
            ],
            labels: [(
                "org.opencontainers.image.version".to_string(),
                "1.2.3".to_string(),
            )]
            .into(),
            build_args: [("RUST_VERSION".to_string(), "1.95".to_string())].into(),
            secret_args: [("NPM_TOKEN".to_string(), "s3cret-value".to_string())].into(),
        }
    }

    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    #[test]
    fn docker_arguments() {
        let b = Builder::new(BuilderKind::Docker, &Environ::default());
        assert_eq!(
            strs(&b.build_argv(&spec())),
            [
                "docker",
                "build",
                "-f",
                "Dockerfile",
                "--label",
                "org.opencontainers.image.version=1.2.3",
                "--build-arg",
                "RUST_VERSION=1.95",
                "--build-arg",
                "NPM_TOKEN",
                "-t",
                "r.example/app:1.2.3",
                "-t",
                "r.example/app:sha-abc1234",
                "."
            ]
        );
        assert_eq!(
            strs(&b.push_argv("r.example/app:1.2.3", None, None, false)),
            ["docker", "push", "r.example/app:1.2.3"]
        );
        assert_eq!(
            strs(&b.login_argv("r.example", "AWS")),
            [
                "docker",
                "login",
                "--username",
                "AWS",
                "--password-stdin",
                "r.example"
            ]
        );
    }

    #[test]
    fn podman_arguments() {
        let b = Builder::new(BuilderKind::Podman, &Environ::default());
        let argv = b.build_argv(&spec());
        assert_eq!(argv[..2], ["podman", "build"]);
        assert_eq!(argv.len(), 15);
        assert_eq!(
            strs(&b.push_argv("r.example/app:1.2.3", Some(Path::new("/d")), None, false)),
            [
                "podman",
                "push",
                "--digestfile",
                "/d",
                "r.example/app:1.2.3",
                "docker://r.example/app:1.2.3"
            ]
        );
    }

    #[test]
    fn buildah_arguments() {
        let b = Builder {
            kind: BuilderKind::Buildah,
            buildah: BuildahOptions {
                storage_driver: Some("vfs".into()),
                isolation: Some("chroot".into()),
            },
        };
        assert_eq!(
            strs(&b.build_argv(&spec())),
            [
                "buildah",
                "--storage-driver",
                "vfs",
                "build",
                "--isolation",
                "chroot",
                "--layers",
                "-f",
                "Dockerfile",
                "--label",
                "org.opencontainers.image.version=1.2.3",
                "--build-arg",
                "RUST_VERSION=1.95",
                "--build-arg",
                "NPM_TOKEN",
                "-t",
                "r.example/app:1.2.3",
                "-t",
                "r.example/app:sha-abc1234",
                "."
            ]
        );
        assert_eq!(
            strs(&b.push_argv(
                "127.0.0.1:5000/app:1.2.3",
                Some(Path::new("/d")),
                Some(Path::new("/a.json")),
                true
            )),
            [
                "buildah",
                "--storage-driver",
                "vfs",
                "push",
                "--tls-verify=false",
                "--authfile",
                "/a.json",
                "--digestfile",
                "/d",
                "127.0.0.1:5000/app:1.2.3",
                "docker://127.0.0.1:5000/app:1.2.3"
            ]
        );
        // No secret value is ever on a command line.
        assert!(!b.build_argv(&spec()).iter().any(|a| a.contains("s3cret")));
    }
}
