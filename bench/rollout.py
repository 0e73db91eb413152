#!/usr/bin/env python3
"""Rollback latency: from a deployment turning FAILED (or the health gate failing) to the
rollback's UpdateService, against the emulator.

Starts the test launcher (tests/all/support/moto_launcher.py: moto with ECS deployments that
settle after --deploy-seconds and FAIL when their image matches the fail file) with its
event log on, creates the ECR repository `app`, the cluster `staging` with services `web`
and `worker`, and a git repository whose release.toml polls every --poll. It deploys 1.0.1
(a good version, the rollback target), then repeats --runs times:

  A. ECS fails: `release deploy 1.1.<i>` of an image listed in the fail file. The bad
     deployment is FAILED from t_fail (createdAt + deploy seconds; the first service's) and
     the launcher notices it (`detected`) in the DescribeServices that observes it.
  B. The health gate fails: `release deploy 1.2.<i>`, which ECS completes, while the health
     URL (a loopback HTTP server) answers 503; the gate fails at its last probe.

  C. An alarm fires: `release deploy 1.3.<i>` with `alarms` and a `bake`; once ECS has
     completed it (the bake is on), the alarm is set to ALARM (CloudWatch's SetAlarmState,
     at t_alarm). Latency = the rollback's UpdateService - t_alarm.
  D. A fleet: 25 services in each of 3 targets (3 regions, one wave) with an alarm, one good
     deploy; per target and poll, the DescribeServices and DescribeAlarms calls (a poll is
     one read of the target's first service; CloudWatch calls are told apart by region).
     Goal: at most one DescribeServices per 10 services and one DescribeAlarms per target.

From the launcher's log it takes the first UpdateService after the failure (the rollback's)
and reports latency = t_update - t_fail (A) or t_update - last probe (B), reaction =
t_update - detected (A), and the ECS calls per poll (every ECS request between the bad
deploy's UpdateService and the rollback's, over the DescribeServices among them). Goals:
latency at most one poll interval + 0.25 s, at most 3 calls per poll. Goal misses are FAIL
lines; the exit status is non-zero only when a command misbehaves (a bad deploy that
succeeds, a good one that fails, a log line that is missing).

    .venv/bin/python bench/rollout.py                        # 5 runs each, poll 2s
    .venv/bin/python bench/rollout.py --poll 500ms --runs 3

Needs the venv's python (boto3 and moto: `make .venv/bin/moto_server`). Environment:
RELEASE_BIN (default target/release/release).
"""

import argparse
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

try:
    import boto3
except ImportError:
    sys.exit("boto3 missing: run this with the venv's python (make .venv/bin/moto_server; .venv/bin/python bench/rollout.py)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE_BIN = os.path.abspath(os.environ.get("RELEASE_BIN") or os.path.join(ROOT, "target", "release", "release"))
LAUNCHER = os.path.join(ROOT, "tests", "all", "support", "moto_launcher.py")
REGION = "eu-north-1"
REPOSITORY = "123456789012.dkr.ecr.eu-north-1.amazonaws.com/app"
CLUSTER = "staging"
SERVICES = ("web", "worker")
MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"

SLACK = 0.25  # seconds a rollback may take beyond one poll interval
GOAL_CALLS_PER_POLL = 3.0


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def seconds(text):
    """`2s`, `500ms`, `1m30s` (the units release.toml takes) in seconds."""
    parts = re.findall(r"(\d+)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 2s or 500ms")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total = sum(int(n) * scale[u] for n, u in parts)
    if total <= 0:
        raise argparse.ArgumentTypeError("the poll interval must be more than 0")
    return total


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Health:
    """A health URL on loopback that records when each request came and answers 503 while bad."""

    def __init__(self):
        self.bad = False
        self.lock = threading.Lock()
        self.times = []
        health = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with health.lock:
                    health.times.append(time.time())
                    status = 503 if health.bad else 200
                body = b"unavailable\n" if status == 503 else b"ok\n"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def probes(self):
        with self.lock:
            return list(self.times)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Emulator:
    """The launcher, its event log and boto3 clients."""

    def __init__(self, tmp, deploy_seconds):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(tmp, "ecs-events.jsonl")
        self.fail_file = os.path.join(tmp, "fail-images")
        open(self.fail_file, "w").close()
        env = dict(os.environ, MOTO_ECS_DEPLOY_SECONDS=str(deploy_seconds),
                   MOTO_ECS_FAIL_FILE=self.fail_file, MOTO_ECS_LOG=self.log_path)
        self.output_path = os.path.join(tmp, "launcher.out")
        self.output = open(self.output_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, LAUNCHER, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.output, stderr=self.output, env=env)
        for _ in range(600):
            if self.process.poll() is not None:
                raise BenchError(f"the launcher exited with {self.process.returncode}:\n{self.tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise BenchError(f"the launcher did not listen on port {self.port}:\n{self.tail()}")
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=REGION)
        self.session = session
        self.ecr = session.client("ecr", endpoint_url=self.endpoint)
        self.ecs = session.client("ecs", endpoint_url=self.endpoint)
        self.cloudwatch = session.client("cloudwatch", endpoint_url=self.endpoint)

    def regional(self, service, region):
        return self.session.client(service, endpoint_url=self.endpoint, region_name=region)

    def create_alarm(self, name, region=REGION):
        cw = self.regional("cloudwatch", region)
        cw.put_metric_alarm(AlarmName=name, MetricName="5XXError", Namespace="AWS/ApplicationELB",
                            Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1.0,
                            ComparisonOperator="GreaterThanThreshold")
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="quiet")

    def set_alarm(self, name, state, reason):
        self.cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)

    def tail(self):
        self.output.flush()
        with open(self.output_path) as f:
            return "".join(f.readlines()[-20:])

    def env(self):
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def push(self, tag):
        """Put an image tagged `tag` in ECR (moto's digest covers the layers: one per tag)."""
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": MEDIA_TYPE,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + hashlib.sha256(tag.encode()).hexdigest(), "size": len(tag)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": "sha256:" + hashlib.sha256(f"layer {tag}".encode()).hexdigest(),
                        "size": 10}],
        })
        out = self.ecr.put_image(repositoryName="app", imageManifest=manifest,
                                 imageManifestMediaType=MEDIA_TYPE, imageTag=tag)
        return out["image"]["imageId"]["imageDigest"]

    def fail(self, digest):
        with open(self.fail_file, "a") as f:
            f.write(re.escape(digest) + "\n")

    def create_environment(self, image, cluster=CLUSTER, services=SERVICES, region=REGION):
        ecs = self.regional("ecs", region)
        ecs.create_cluster(clusterName=cluster)
        for service in services:
            ecs.register_task_definition(
                family=service, networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                cpu="256", memory="512",
                containerDefinitions=[{"name": "app", "image": image, "essential": True}])
            ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=service,
                               desiredCount=2, launchType="FARGATE")

    def events(self, offset):
        """The log's lines from byte `offset` on, and the offset after them."""
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            data = f.read()
        return [json.loads(line) for line in data.splitlines() if line.strip()], offset + len(data)

    def offset(self):
        return os.path.getsize(self.log_path)

    def close(self):
        self.process.kill()
        self.process.wait()
        self.output.close()


class Repo:
    """The git repository `release` runs in."""

    def __init__(self, tmp, emulator):
        self.path = os.path.join(tmp, "repo")
        home = os.path.join(tmp, "home")
        os.makedirs(self.path)
        os.makedirs(home)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GIT_", "GITHUB_", "GH_", "RUST_")) and k not in ("CI", "EMAIL")}
        env.update({
            "HOME": home, "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.path.join(home, ".gitconfig"),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
            "LC_ALL": "C", "NO_COLOR": "1",
        })
        env.update(emulator.env())
        self.env = env

    def git(self, *args):
        subprocess.run(["git", *args], cwd=self.path, env=self.env, check=True, stdout=subprocess.DEVNULL)

    def configure(self, poll, health_url=None, extra=""):
        gate = (f'health_url = "{health_url}"\nhealth_checks = 2\nhealth_failures = 2\n'
                if health_url else "")
        with open(os.path.join(self.path, "release.toml"), "w") as f:
            f.write(f'[image]\nrepository = "{REPOSITORY}"\nbuilder = "buildah"\n\n'
                    f'[environments.staging]\ncluster = "{CLUSTER}"\nservices = ["web", "worker"]\n'
                    f'container = "app"\npoll_interval = "{poll}"\ntimeout = "5m"\n{gate}{extra}')

    def configure_fleet(self, poll, services, targets):
        (cluster, _), rest = targets[0], targets[1:]
        listed = ", ".join(f'"{s}"' for s in services)
        text = (f'[image]\nrepository = "{REPOSITORY}"\nbuilder = "buildah"\n\n'
                f'[environments.fleet]\ncluster = "{cluster}"\nservices = [{listed}]\n'
                f'container = "app"\npoll_interval = "{poll}"\ntimeout = "5m"\nalarms = ["fleet-5xx"]\n')
        for c, region in rest:
            text += f'\n[[environments.fleet.targets]]\nregion = "{region}"\ncluster = "{c}"\n'
        with open(os.path.join(self.path, "release.toml"), "w") as f:
            f.write(text)

    def deploy(self, version, env="staging"):
        return subprocess.run([RELEASE_BIN, "deploy", version, "--env", env], cwd=self.path,
                              env=self.env, capture_output=True, text=True)

    def start_deploy(self, version):
        return subprocess.Popen([RELEASE_BIN, "deploy", version, "--env", "staging"], cwd=self.path,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def calls(events, action=None):
    return [e for e in events if e["kind"] == "call" and e.get("cluster") == CLUSTER
            and (action is None or e["action"] == action)]


def window(events, start, end):
    """(DescribeServices calls, all ECS calls) strictly between two times."""
    inside = [e for e in calls(events) if start < e["t"] < end]
    return sum(1 for e in inside if e["action"] == "DescribeServices"), len(inside)


def rollback_update(events, after, what):
    later = [e for e in calls(events, "UpdateService") if e["t"] > after]
    if not later:
        raise BenchError(f"{what}: no UpdateService in the log after the failure")
    return min(e["t"] for e in later)


def expect_rollback(result, version):
    if result.returncode == 0:
        raise BenchError(f"deploy {version} should have failed and rolled back, but exited 0:\n{result.stderr}")
    if result.returncode != 1 or "rolled back: 1.0.1 " not in result.stderr:
        raise BenchError(f"deploy {version}: expected exit 1 and \"rolled back\", got exit "
                         f"{result.returncode}:\n{result.stderr}{result.stdout}")


def ecs_failure(emulator, repo, run):
    """Scenario A: one deploy whose deployments FAIL; its measurements."""
    version = f"1.1.{run}"
    emulator.fail(emulator.push(version))
    offset = emulator.offset()
    result = repo.deploy(version)
    expect_rollback(result, version)
    events, _ = emulator.events(offset)
    failed = [e for e in events if e["kind"] == "deployment" and e["state"] == "FAILED"
              and e["cluster"] == CLUSTER]
    if not failed:
        raise BenchError(f"deploy {version}: no FAILED deployment line in the launcher's log")
    first = min(failed, key=lambda e: e["t"])
    t_fail, detected = first["t"], first["decidedAt"]
    bad_updates = [e["t"] for e in calls(events, "UpdateService") if e["t"] < t_fail]
    if not bad_updates:
        raise BenchError(f"deploy {version}: no UpdateService before the deployment failed")
    t_update = rollback_update(events, detected, f"deploy {version}")
    polls, total = window(events, max(bad_updates), t_update)
    return t_update - t_fail, t_update - detected, polls, total


def gate_failure(emulator, repo, health, run):
    """Scenario B: one deploy that ECS completes and the health gate fails; its measurements."""
    version = f"1.2.{run}"
    emulator.push(version)
    offset = emulator.offset()
    probed = len(health.probes())
    health.bad = True
    try:
        result = repo.deploy(version)
    finally:
        health.bad = False
    expect_rollback(result, version)
    if "health gate failed" not in result.stderr:
        raise BenchError(f"deploy {version}: the health gate should have failed it:\n{result.stderr}")
    events, _ = emulator.events(offset)
    completed = [e for e in events if e["kind"] == "deployment" and e["state"] == "COMPLETED"
                 and e["cluster"] == CLUSTER]
    if not completed:
        raise BenchError(f"deploy {version}: no COMPLETED deployment line in the launcher's log")
    done = min(e["decidedAt"] for e in completed)
    bad_updates = [e["t"] for e in calls(events, "UpdateService") if e["t"] < done]
    if not bad_updates:
        raise BenchError(f"deploy {version}: no UpdateService before the deployment completed")
    t_update = rollback_update(events, done, f"deploy {version}")
    probes = [t for t in health.probes()[probed:] if t < t_update]
    if not probes:
        raise BenchError(f"deploy {version}: the health URL was never probed")
    polls, total = window(events, max(bad_updates), t_update)
    return t_update - max(probes), None, polls, total


def alarm_failure(emulator, repo, run):
    """Scenario C: a deploy whose alarm fires during its bake; its measurements."""
    version = f"1.3.{run}"
    emulator.push(version)
    offset = emulator.offset()
    process = repo.start_deploy(version)
    t_alarm = None
    deadline = time.time() + 120
    while process.poll() is None and time.time() < deadline:
        events, _ = emulator.events(offset)
        done = {e["service"] for e in events if e["kind"] == "deployment" and e["state"] == "COMPLETED"
                and e["cluster"] == CLUSTER}
        if done >= set(SERVICES):
            time.sleep(0.3)  # into the bake
            t_alarm = time.time()
            emulator.set_alarm("staging-5xx", "ALARM", "Threshold Crossed: bench")
            break
        time.sleep(0.02)
    stdout, stderr = process.communicate(timeout=300)
    emulator.set_alarm("staging-5xx", "OK", "quiet")
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if t_alarm is None:
        raise BenchError(f"deploy {version}: its deployments never completed:\n{stderr}")
    expect_rollback(result, version)
    if "staging-5xx" not in stderr:
        raise BenchError(f"deploy {version}: the alarm should have failed it:\n{stderr}")
    events, _ = emulator.events(offset)
    t_update = rollback_update(events, t_alarm, f"deploy {version}")
    bad_updates = [e["t"] for e in calls(events, "UpdateService") if e["t"] < t_alarm]
    polls, total = window(events, max(bad_updates), t_update)
    return t_update - t_alarm, None, polls, total


def fleet_calls(emulator, repo, poll):
    """Scenario D: per target and poll, DescribeServices and DescribeAlarms calls."""
    services = [f"s{i:02}" for i in range(1, 26)]
    targets = [("fleet-a", REGION), ("fleet-b", "eu-west-1"), ("fleet-c", "us-east-1")]
    image = f"{REPOSITORY}@{emulator.push('2.0.0')}"
    for cluster, region in targets:
        emulator.create_environment(image, cluster, services, region)
        emulator.create_alarm("fleet-5xx", region)
    emulator.push("2.0.1")
    repo.configure_fleet(poll, services, targets)
    offset = emulator.offset()
    result = repo.deploy("2.0.1", env="fleet")
    if result.returncode != 0:
        raise BenchError(f"the fleet deploy failed:\n{result.stderr}")
    events, _ = emulator.events(offset)
    rows = []
    for cluster, region in targets:
        first_update = min(e["t"] for e in events if e["kind"] == "call" and e.get("cluster") == cluster
                           and e["action"] == "UpdateService")
        reads = [e for e in events if e["kind"] == "call" and e.get("cluster") == cluster
                 and e["action"] == "DescribeServices" and e["t"] > first_update]
        polls = sum(1 for e in reads if "s01" in (e.get("services") or []))
        alarms = [e for e in events if e.get("api") == "cloudwatch" and e["action"] == "DescribeAlarms"
                  and e.get("region") == region and e["t"] > first_update]
        rows.append((cluster, region, polls, len(reads), len(alarms)))
    return rows


def stats(values):
    return statistics.median(values), max(values)


def print_table(rows, poll):
    print(f"\n{'scenario':<24} {'runs':>4} {'latency med':>12} {'max':>7} {'reaction med':>13} {'max':>7} "
          f"{'polls':>6} {'calls/poll med':>15} {'max':>5}")
    print("-" * 102)
    for label, results in rows:
        lat = stats([r[0] for r in results])
        reactions = [r[1] for r in results if r[1] is not None]
        react = f"{stats(reactions)[0]:>13.3f} {stats(reactions)[1]:>7.3f}" if reactions else f"{'-':>13} {'-':>7}"
        per_poll = stats([r[3] / r[2] if r[2] else float("inf") for r in results])
        polls = statistics.median(r[2] for r in results)
        print(f"{label:<24} {len(results):>4} {lat[0]:>12.3f} {lat[1]:>7.3f} {react} "
              f"{polls:>6g} {per_poll[0]:>15.2f} {per_poll[1]:>5.2f}")
    print(f"(seconds; poll interval {poll:g}s)")


def check_goals(rows, poll):
    """PASS/FAIL lines; returns the number of FAILs."""
    fails = 0
    print()
    for label, results in rows:
        worst = max(r[0] for r in results)
        per_poll = max(r[3] / r[2] if r[2] else float("inf") for r in results)
        for ok, text in (
            (worst <= poll + SLACK, f"max latency {worst:.3f}s <= poll interval + {SLACK}s ({poll + SLACK:g}s)"),
            (per_poll <= GOAL_CALLS_PER_POLL, f"max {per_poll:.2f} ECS calls per poll <= {GOAL_CALLS_PER_POLL:g}"),
        ):
            print(f"{'PASS' if ok else 'FAIL'}  {label}: {text}")
            fails += not ok
    return fails


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5, help="deploys per scenario (default 5)")
    p.add_argument("--poll", default="2s",
                   help="the environment's poll_interval (default 2s)")
    p.add_argument("--deploy-seconds", type=float, default=1.0,
                   help="how long the emulator's deployments take to settle (default 1.0)")
    a = p.parse_args()
    try:
        poll = seconds(a.poll)
    except argparse.ArgumentTypeError as e:
        p.error(f"--poll: {e}")
    if a.runs < 1:
        p.error("--runs must be at least 1")
    if not os.path.exists(RELEASE_BIN):
        sys.exit(f"{RELEASE_BIN} missing: run `cargo build --release` (make bench does)")

    tmp = tempfile.mkdtemp(prefix="bench-rollout-")
    emulator = health = None
    try:
        emulator = Emulator(tmp, a.deploy_seconds)
        health = Health()
        emulator.ecr.create_repository(repositoryName="app")
        baseline = emulator.push("1.0.0")
        emulator.create_environment(f"{REPOSITORY}@{baseline}")
        repo = Repo(tmp, emulator)
        repo.git("init", "-q", "-b", "main")
        repo.configure(a.poll)
        repo.git("add", "release.toml")
        repo.git("commit", "-q", "-m", "chore: release configuration")

        print(f"release: {RELEASE_BIN}")
        print(f"poll interval: {a.poll}, deployments settle after {a.deploy_seconds:g}s, {a.runs} run(s) per scenario", flush=True)
        emulator.push("1.0.1")
        result = repo.deploy("1.0.1")
        if result.returncode != 0:
            raise BenchError(f"deploy 1.0.1 (the rollback target) failed:\n{result.stderr}")

        ecs = []
        for i in range(a.runs):
            ecs.append(ecs_failure(emulator, repo, i))
            log(f"ECS FAILED, run {i + 1}: latency {ecs[-1][0]:.3f}s")
        # release.toml is read from the worktree: the gate needs no commit.
        repo.configure(a.poll, health.url)
        gate = []
        for i in range(a.runs):
            gate.append(gate_failure(emulator, repo, health, i))
            log(f"health gate failed, run {i + 1}: latency {gate[-1][0]:.3f}s")

        repo.configure(a.poll, extra='alarms = ["staging-5xx"]\nbake = "5m"\n')
        emulator.create_alarm("staging-5xx")
        alarm = []
        for i in range(a.runs):
            alarm.append(alarm_failure(emulator, repo, i))
            log(f"alarm fired, run {i + 1}: latency {alarm[-1][0]:.3f}s")

        rows = [("ECS deployment FAILED", ecs), ("health gate failed", gate), ("alarm went to ALARM", alarm)]
        print_table(rows, poll)
        fails = check_goals(rows, poll)

        fleet = fleet_calls(emulator, repo, a.poll)
        print(f"\n{'fleet target':<24} {'polls':>6} {'DescribeServices/poll':>22} {'DescribeAlarms/poll':>20}")
        print("-" * 76)
        for cluster, region, polls, reads, alarms in fleet:
            print(f"{cluster + ' (' + region + ')':<24} {polls:>6} {reads / max(polls, 1):>22.2f} "
                  f"{alarms / max(polls, 1):>20.2f}")
        print("(25 services per target, 3 targets in one wave)")
        print()
        for cluster, region, polls, reads, alarms in fleet:
            for ok, text in (
                (polls > 0 and reads / polls <= 3, f"{reads / max(polls, 1):.2f} DescribeServices per poll <= 3 (25 services)"),
                (polls > 0 and alarms / polls <= 1, f"{alarms / max(polls, 1):.2f} DescribeAlarms per poll <= 1"),
            ):
                print(f"{'PASS' if ok else 'FAIL'}  fleet {cluster}: {text}")
                fails += not ok
        print(f"\n{'all goals met' if not fails else f'{fails} goal(s) missed'} (informational)")
    except BenchError as e:
        sys.exit(f"error: {e}")
    finally:
        if health:
            health.close()
        if emulator:
            emulator.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
