//! A real moto server (from PyPI) on a loopback port, for the AWS adapters.
//!
//! It runs through `tests/all/support/moto_launcher.py`, which extends moto's ECS so deployments
//! complete (or fail, for images listed in [`Moto::fail_image`]) after `deploy_seconds`, and
//! RunTask tasks stop after half a second with the exit codes of [`Moto::set_task_exits`];
//! every other service is plain moto. The Python is the one next to `$MOTO_SERVER`, else
//! `.venv/bin/python` in this checkout (made by `make test` and `.ci/run`). It is killed when
//! dropped.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    /// Images matching a line of this file fail to deploy (`MOTO_ECS_FAIL_FILE`).
    fail_file: PathBuf,
    /// Refused ECS calls, `Operation resource ErrorCode [message]` a line
    /// (`MOTO_ECS_FAULTS_FILE`, re-read on every request).
    faults_file: PathBuf,
    _dir: tempfile::TempDir,
    /// The launcher's event log (`MOTO_ECS_LOG`): ECS calls and deployment outcomes.
    pub log: PathBuf,
    /// Exit codes of RunTask tasks, `<regex> <code> [log line]` a line
    /// (`MOTO_ECS_TASK_EXIT_FILE`, re-read whenever a task stops).
    task_exit_file: PathBuf,
}

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("MOTO_SERVER") {
        if let Some(dir) = PathBuf::from(p).parent() {
            return dir.join("python");
        }
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

impl Moto {
    /// Start a fresh server (empty state) and wait until it accepts connections; ECS
    /// deployments settle after one second.
    pub fn start() -> Moto {
        Moto::start_with(1.0)
    }

    /// Start a server whose ECS deployments settle after `deploy_seconds`.
    pub fn start_with(deploy_seconds: f64) -> Moto {
        let dir = tempfile::tempdir().expect("a temp dir");
        let fail_file = dir.path().join("fail-images");
        let log = dir.path().join("ecs-log.jsonl");
        let faults_file = dir.path().join("faults");
        let task_exit_file = dir.path().join("task-exits");
        let binary = python();
        let launcher =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/all/support/moto_launcher.py");
        // The free port is found by binding it and letting it go, so another test's server can
        // take it before moto does: then moto exits, and the next port is tried. Only moto's
        // own answer counts as started (another server on the port answers too).
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free loopback port");
            let mut child = Command::new(&binary)
                .arg(&launcher)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_ECS_DEPLOY_SECONDS", deploy_seconds.to_string())
                .env("MOTO_ECS_FAIL_FILE", &fail_file)
                .env("MOTO_ECS_LOG", &log)
                .env("MOTO_ECS_FAULTS_FILE", &faults_file)
                // Staged deployments: a stage lasts 0.2 s, and ECS's "minutes" are seconds.
                .env("MOTO_ECS_STAGE_SECONDS", "0.2")
                .env("MOTO_ECS_MINUTE_SECONDS", "1")
                .env("MOTO_ECS_TASK_SECONDS", "0.5")
                .env("MOTO_ECS_TASK_EXIT_FILE", &task_exit_file)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start {} ({e}): run `make test` (it installs moto into .venv) or set MOTO_SERVER to the venv's moto_server",
                        binary.display()
                    )
                });
            let deadline = Instant::now() + Duration::from_secs(30);
            let started = loop {
                if answers_as_moto(port) {
                    break true;
                }
                if child.try_wait().ok().flatten().is_some() {
                    break false; // the port was taken: try another
                }
                assert!(
                    Instant::now() < deadline,
                    "moto did not start on port {port}"
                );
                std::thread::sleep(Duration::from_millis(50));
            };
            if started {
                return Moto {
                    child,
                    endpoint: format!("http://127.0.0.1:{port}"),
                    fail_file,
                    faults_file,
                    _dir: dir,
                    log,
                    task_exit_file,
                };
            }
        }
        panic!("moto could not get a free loopback port in 5 attempts");
    }

    /// From now on, deployments of images containing `pattern` (a digest) fail.
    pub fn fail_image(&self, pattern: &str) {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.fail_file)
            .expect("the fail file");
        writeln!(f, "{}", regex_escape(pattern)).expect("write the fail file");
    }

    /// From now on, deployments fail only for images containing one of `patterns`.
    pub fn set_fail_images(&self, patterns: &[&str]) {
        let text: String = patterns
            .iter()
            .map(|p| format!("{}\n", regex_escape(p)))
            .collect();
        let tmp = self.fail_file.with_extension("tmp");
        std::fs::write(&tmp, text).expect("write the fail file");
        std::fs::rename(&tmp, &self.fail_file).expect("install the fail file");
    }

    /// From now on, ECS refuses the calls of these lines (`Operation resource ErrorCode
    /// [message]`, see the launcher's "Fault switch"); an empty slice allows every call again.
    pub fn set_faults(&self, lines: &[&str]) {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        // Written whole then renamed: the launcher never reads half a file.
        let tmp = self.faults_file.with_extension("tmp");
        std::fs::write(&tmp, text).expect("write the faults file");
        std::fs::rename(&tmp, &self.faults_file).expect("install the faults file");
    }

    /// From now on, RunTask tasks whose command (joined by spaces) matches a regex exit with
    /// its code (see the launcher's "Tasks that stop"); others exit 0.
    pub fn set_task_exits(&self, exits: &[(&str, i32)]) {
        let lines: Vec<(&str, i32, &str)> = exits.iter().map(|(r, c)| (*r, *c, "")).collect();
        self.set_task_exits_with_log(&lines);
    }

    /// As [`Moto::set_task_exits`], each also writing a line to the task's awslogs stream.
    pub fn set_task_exits_with_log(&self, exits: &[(&str, i32, &str)]) {
        let lines: Vec<String> = exits
            .iter()
            .map(|(regex, code, line)| format!("{regex} {code} {line}"))
            .collect();
        self.set_task_exit_lines(&lines);
    }

    /// The exit file's lines as given (`<regex> <code>|hang [log line]`).
    pub fn set_task_exit_lines<S: AsRef<str>>(&self, lines: &[S]) {
        let text: String = lines.iter().map(|l| format!("{}\n", l.as_ref())).collect();
        let tmp = self.task_exit_file.with_extension("tmp");
        std::fs::write(&tmp, text).expect("write the task exit file");
        std::fs::rename(&tmp, &self.task_exit_file).expect("install the task exit file");
    }

    /// A subnet and the security group `default` of moto's default VPC, for the
    /// `awsvpcConfiguration` of services whose tasks are run (asked through boto3, which the
    /// launcher's Python has).
    pub fn default_network(&self) -> (String, String) {
        let script = r#"
import sys, boto3
ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="eu-north-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
print(ec2.describe_subnets()["Subnets"][0]["SubnetId"])
print(ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"])
"#;
        let out = Command::new(python())
            .args(["-c", script, &self.endpoint])
            .output()
            .expect("run python for the default network");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut lines = text.lines().map(str::to_string);
        (lines.next().unwrap(), lines.next().unwrap())
    }

    /// An AWS SDK configuration for this server (for the tests' own clients).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("eu-north-1"))
            .credentials_provider(aws_sdk_ssm::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .load()
            .await
    }

    /// The launcher's log lines (JSON).
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Environment that points the AWS SDK at this server with dummy credentials.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "eu-north-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == ':' || c == '/' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

/// Whether the server on `port` is moto: its `/moto-api/data.json` answers with the state of
/// its models (served as `application/javascript` by moto 5).
fn answers_as_moto(port: u16) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = "GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 1024];
    let n = stream.read(&mut head).unwrap_or(0);
    let head = String::from_utf8_lossy(&head[..n]).to_ascii_lowercase();
    head.starts_with("http/1")
        && head.contains(" 200 ")
        && (head.contains("application/javascript") || head.contains("application/json"))
}
