#!/usr/bin/env python3
"""Self-test of moto_launcher.py: starts it on a free loopback port and drives it with boto3.

    .venv/bin/python tests/all/support/moto_launcher_selftest.py [-v]

-v prints example DescribeServices responses (after a success and after a failure).
Exits 0 when every check passed. Uses MOTO_ECS_DEPLOY_SECONDS' default (1.0 s) unless the
variable is set in the environment. Always runs the launcher with MOTO_ECS_LOG set (to a
temporary file) and checks the event log's ``call`` and ``deployment`` lines at the end.

"Tasks that stop" (RunTask) is checked against a second launcher of its own
(``tasks_selftest``), so its calls and ``task`` lines stay out of the first one's exact counts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "moto_launcher.py"
REGION = "eu-north-1"
ACCOUNT = "123456789012"
REPO = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web"
DIGEST = {k: "sha256:" + k * 64 for k in "abcdef"}
DEPLOY_SECONDS = float(os.environ.get("MOTO_ECS_DEPLOY_SECONDS") or 1.0)
ID_RE = re.compile(r"^ecs-svc/\d{19}$")
DEPLOYMENT_KEYS = {
    "id", "status", "taskDefinition", "desiredCount", "pendingCount", "runningCount",
    "failedTasks", "createdAt", "updatedAt", "launchType", "rolloutState", "rolloutStateReason",
}
VERBOSE = "-v" in sys.argv[1:]
TIMINGS: list[tuple[str, float]] = []
# Filled by run() for the event-log checks: every UpdateService the test sent, as
# (wall time before sending, wall time after the response, id of the deployment it started or
# None); the deployments the test saw decided (id -> state); those superseded before a decision.
UPDATES: list[tuple[float, float, str | None]] = []
DECIDED: dict[str, str] = {}
UNDECIDED: set[str] = set()
# Exact number of requests run() sends per ECS action (each must be logged exactly once).
EXPECTED_CALLS = {
    "CreateCluster": 1, "RegisterTaskDefinition": 5, "DescribeTaskDefinition": 1,
    "CreateService": 1, "DescribeClusters": 2, "ListServices": 1, "UpdateService": 12,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(cond: bool, what: str, detail: Any = None) -> None:
    if not cond:
        raise AssertionError(f"{what}" + (f"\n{json.dumps(detail, indent=1, default=str)}" if detail is not None else ""))


class Timer:
    def __init__(self, name: str):
        self.name = name

    def __enter__(self) -> "Timer":
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc: Any) -> None:
        TIMINGS.append((self.name, time.monotonic() - self.t0))


def dump(title: str, resp: dict[str, Any]) -> None:
    if VERBOSE:
        resp = {k: v for k, v in resp.items() if k != "ResponseMetadata"}
        print(f"--- {title}\n{json.dumps(resp, indent=1, default=str)}")


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="moto_launcher_selftest."))
    fail_file = tmp / "fail-patterns.txt"  # does not exist yet: "no patterns"
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    event_log = tmp / "ecs-events.jsonl"
    faults_file = tmp / "faults.txt"  # does not exist yet: "no faults"
    env.update(MOTO_ECS_FAIL_FILE=str(fail_file), MOTO_ECS_FAIL_IMAGE=r":doomed$",
               MOTO_ECS_LOG=str(event_log), MOTO_ECS_FAULTS_FILE=str(faults_file))
    log = open(tmp / "server.log", "w+")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() - t0 > 30:
                    raise AssertionError("launcher did not start")
                time.sleep(0.05)
        TIMINGS.append(("server start", time.monotonic() - t0))
        wall0 = time.time()
        run(endpoint, fail_file, faults_file)
        with Timer("MOTO_ECS_LOG event log"):
            check_event_log(event_log, wall0, time.time())
    except BaseException:
        log.flush()
        log.seek(0)
        sys.stderr.write("---- launcher output ----\n" + log.read()[-6000:] + "\n")
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    tasks_selftest()
    service_deployments_selftest()
    for name, secs in TIMINGS:
        print(f"{secs:7.2f}s  {name}")
    print(f"{time.monotonic() - t0:7.2f}s  total; moto_launcher self-test: OK")
    return 0


# --- Tasks that stop (RunTask, for migrations): a launcher of their own ---------------------

TASK_SECONDS = 0.3


def tasks_selftest() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="moto_launcher_tasks."))
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    exit_file = tmp / "exits.txt"
    event_log = tmp / "ecs-events.jsonl"
    env = dict(os.environ)
    env.update(MOTO_ECS_TASK_SECONDS=str(TASK_SECONDS), MOTO_ECS_TASK_EXIT_FILE=str(exit_file),
               MOTO_ECS_LOG=str(event_log))
    log = open(tmp / "server.log", "w+")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() - t0 > 30:
                    raise AssertionError("launcher (tasks) did not start")
                time.sleep(0.05)
        with Timer("RunTask tasks that stop"):
            run_tasks(endpoint, exit_file, event_log)
    except BaseException:
        log.flush()
        log.seek(0)
        sys.stderr.write("---- launcher (tasks) output ----\n" + log.read()[-6000:] + "\n")
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def service_deployments_selftest() -> None:
    """moto_service_deployments.py, against a launcher of its own (stages of 0.1 s, 0.2 s
    "minutes"), so the main run's exact call counts stay as they are."""
    tmp = Path(tempfile.mkdtemp(prefix="moto_launcher_sd."))
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(os.environ, MOTO_ECS_STAGE_SECONDS="0.1", MOTO_ECS_MINUTE_SECONDS="0.2",
               MOTO_ECS_FAIL_IMAGE=r":doomed$")
    log = open(tmp / "server.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    t0 = time.monotonic()
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() - t0 > 30:
                    raise AssertionError("launcher (service deployments) did not start")
                time.sleep(0.05)
        with Timer("service deployments: canary, pause, rollback"):
            run_service_deployments(endpoint)
    except BaseException:
        log.flush()
        log.seek(0)
        sys.stderr.write("---- launcher (service deployments) output ----\n" + log.read()[-6000:] + "\n")
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def run_service_deployments(endpoint: str) -> None:
    from botocore.exceptions import ClientError

    ecs, cw = client("ecs", endpoint), client("cloudwatch", endpoint)
    ecs.create_cluster(clusterName="c")
    for image in ("img:1", "img:2", "img:3", "img:doomed"):
        ecs.register_task_definition(family="web", containerDefinitions=[{"name": "app", "image": image, "memory": 64}])
    ecs.create_service(cluster="c", serviceName="web", taskDefinition="web:1", desiredCount=2)

    def watch(arn: str, until: Any, act: Any = None) -> list[tuple[Any, ...]]:
        seen: list[tuple[Any, ...]] = []
        deadline = time.time() + 20
        while time.time() < deadline:
            d = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
            state = (d["status"], d.get("lifecycleStage"),
                     d["targetServiceRevision"].get("requestedProductionTrafficWeight"),
                     tuple(h["status"] for h in d.get("lifecycleHookDetails", [])))
            if not seen or seen[-1] != state:
                seen.append(state)
            if act:
                act(d)
            if until(d):
                return seen
            time.sleep(0.02)
        raise AssertionError(f"{arn} never got there: {seen}")

    def newest() -> str:
        return ecs.list_service_deployments(cluster="c", service="web")["serviceDeployments"][0]["serviceDeploymentArn"]

    def task_definition() -> str:
        return ecs.describe_services(cluster="c", services=["web"])["services"][0]["taskDefinition"]

    # A canary with a pause after test traffic, continued.
    ecs.update_service(cluster="c", service="web", taskDefinition="web:2", deploymentConfiguration={
        "strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2},
        "bakeTimeInMinutes": 1,
        "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                            "timeoutConfiguration": {"timeoutInMinutes": 30, "action": "ROLLBACK"}}]})
    arn = newest()
    revision = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]["targetServiceRevision"]["arn"]
    got = ecs.describe_service_revisions(serviceRevisionArns=[revision])["serviceRevisions"][0]
    check(got["taskDefinition"].endswith("web:2"), "the target revision names the task definition", got)

    def resume(d: dict[str, Any]) -> None:
        hooks = d.get("lifecycleHookDetails", [])
        if hooks and hooks[0]["status"] == "AWAITING_ACTION":
            ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hooks[0]["hookId"], action="CONTINUE")

    seen = watch(arn, lambda d: d["status"] == "SUCCESSFUL", resume)
    stages = [x[1] for x in seen]
    check(("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", 0.0, ("AWAITING_ACTION",)) in seen, "paused after test traffic", seen)
    check(("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", 10.0, ()) in seen, "10% first", seen)
    check(stages.index("PRODUCTION_TRAFFIC_SHIFT") < stages.index("BAKE_TIME"), "bake after the shift", seen)
    check(task_definition().endswith("web:2"), "runs the new revision", task_definition())
    legacy = ecs.describe_services(cluster="c", services=["web"])["services"][0]["deployments"]
    check([(d["status"], d["rolloutState"]) for d in legacy] == [("PRIMARY", "COMPLETED")], "the rolling record completes", legacy)

    # Blue/green stopped with a rollback: back on web:2.
    ecs.update_service(cluster="c", service="web", taskDefinition="web:3",
                       deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1})
    arn = newest()
    time.sleep(0.15)
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    watch(arn, lambda d: d["status"] == "ROLLBACK_SUCCESSFUL")
    check(task_definition().endswith("web:2"), "rolled back to the source revision", task_definition())
    try:
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
        raise AssertionError("stopping a finished deployment was not refused")
    except ClientError as e:
        check(e.response["Error"]["Code"] == "InvalidParameterException", "a finished one cannot be stopped", e.response)

    # An alarm with rollback fails a linear deployment.
    cw.put_metric_alarm(AlarmName="web-5xx", MetricName="5XX", Namespace="x", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
    ecs.update_service(cluster="c", service="web", taskDefinition="web:3", deploymentConfiguration={
        "strategy": "LINEAR", "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 5},
        "alarms": {"alarmNames": ["web-5xx"], "enable": True, "rollback": True}})
    arn = newest()
    watch(arn, lambda d: d.get("lifecycleStage") == "PRODUCTION_TRAFFIC_SHIFT")
    cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="test")
    watch(arn, lambda d: d["status"] == "ROLLBACK_SUCCESSFUL")
    d = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    check(d["alarms"]["triggeredAlarmNames"] == ["web-5xx"], "the alarm is named", d)
    check(d["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT", "the stage it failed in stays", d)
    check(task_definition().endswith("web:2"), "back on web:2", task_definition())
    cw.set_alarm_state(AlarmName="web-5xx", StateValue="OK", StateReason="test")

    # A failing image rolls back at the end of SCALE_UP.
    ecs.update_service(cluster="c", service="web", taskDefinition="web:4",
                       deploymentConfiguration={"strategy": "BLUE_GREEN"})
    arn = newest()
    watch(arn, lambda d: d["status"] == "ROLLBACK_SUCCESSFUL")
    d = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    check(d["lifecycleStage"] == "SCALE_UP" and "failed to start" in d["statusReason"], "fails at scale-up", d)


def run_tasks(endpoint: str, exit_file: Path, event_log: Path) -> None:
    ecs, logs = client("ecs", endpoint), client("logs", endpoint)
    ecs.create_cluster(clusterName="prod")
    td = ecs.register_task_definition(
        family="migrate",
        requiresCompatibilities=["FARGATE"],
        containerDefinitions=[
            {"name": "app", "image": "app:1", "essential": True, "memory": 256, "command": ["migrate", "--all"],
             "logConfiguration": {"logDriver": "awslogs", "options": {
                 "awslogs-group": "/ecs/app", "awslogs-region": REGION, "awslogs-stream-prefix": "m"}}},
            {"name": "sidecar", "image": "side:1", "essential": False, "memory": 64},
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    exit_file.write_text("# comment\nboom\\s+now 3 migration 42 failed: duplicate column\n")
    ec2 = client("ec2", endpoint)
    network = {"awsvpcConfiguration": {
        "subnets": [ec2.describe_subnets()["Subnets"][0]["SubnetId"]],
        "securityGroups": [ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]],
    }}

    def run(command: list[str] | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if command is not None:
            kwargs["overrides"] = {"containerOverrides": [{"name": "app", "command": command}]}
        return ecs.run_task(cluster="prod", taskDefinition=td, launchType="FARGATE",
                            networkConfiguration=network, startedBy="release-agent-selftest",
                            **kwargs)["tasks"][0]

    def wait(arn: str) -> dict[str, Any]:
        deadline = time.time() + 10
        while True:
            task = ecs.describe_tasks(cluster="prod", tasks=[arn])["tasks"][0]
            if task["lastStatus"] == "STOPPED" or time.time() > deadline:
                return task
            time.sleep(0.05)

    good = run()
    check(good["lastStatus"] == "RUNNING", "a run task starts RUNNING", good)
    check([c["name"] for c in good["containers"]] == ["app", "sidecar"], "one container per definition", good)
    first = ecs.describe_tasks(cluster="prod", tasks=[good["taskArn"]])["tasks"][0]
    check(first["lastStatus"] == "RUNNING" and "exitCode" not in first["containers"][0], "still running", first)
    running = ecs.list_tasks(cluster="prod", startedBy="release-agent-selftest", desiredStatus="RUNNING")["taskArns"]
    check(running == [good["taskArn"]], "ListTasks by startedBy, running", running)
    stopped = wait(good["taskArn"])
    check(stopped["lastStatus"] == "STOPPED" and stopped["desiredStatus"] == "STOPPED", "stops", stopped)
    check(stopped["stopCode"] == "EssentialContainerExited", "stop code", stopped)
    check(stopped["stoppedReason"] == "Essential container in task exited", "stopped reason", stopped)
    check([c.get("exitCode") for c in stopped["containers"]] == [0, 0], "exit 0 by default", stopped)
    listed = ecs.list_tasks(cluster="prod", startedBy="release-agent-selftest", desiredStatus="STOPPED")["taskArns"]
    check(listed == [good["taskArn"]], "ListTasks by startedBy, stopped", listed)

    bad = wait(run(["/bin/sh", "-c", "boom  now"])["taskArn"])
    check([c.get("exitCode") for c in bad["containers"]] == [3, 0], "exit code from the exit file", bad)
    task_id = bad["taskArn"].split("/")[-1]
    events = logs.get_log_events(logGroupName="/ecs/app", logStreamName=f"m/app/{task_id}")["events"]
    lines = [e["message"] for e in events]
    check(lines == ["$ /bin/sh -c boom  now", "migration 42 failed: duplicate column", "exit 3"], "awslogs lines", lines)

    # The file is re-read: a task run later sees its new content.
    exit_file.write_text("migrate 7\n")
    again = wait(run()["taskArn"])
    check(again["containers"][0].get("exitCode") == 7, "the exit file is re-read", again)

    # StopTask of a task that hangs: stopped by the user, no exit code.
    exit_file.write_text("migrate 7\nsleep hang\n")
    slow = run(["sleep"])
    time.sleep(TASK_SECONDS + 0.1)
    hung = ecs.describe_tasks(cluster="prod", tasks=[slow["taskArn"]])["tasks"][0]
    check(hung["lastStatus"] == "RUNNING", "a hanging task keeps running", hung)
    ecs.stop_task(cluster="prod", task=slow["taskArn"], reason="timed out")
    gone = ecs.describe_tasks(cluster="prod", tasks=[slow["taskArn"]])["tasks"][0]
    check(gone["lastStatus"] == "STOPPED" and gone["stopCode"] == "UserInitiated", "StopTask", gone)
    check(gone["stoppedReason"] == "timed out" and "exitCode" not in gone["containers"][0], "StopTask reason", gone)
    exit_file.write_text("migrate 7\n")  # no longer hanging: still never decided again
    time.sleep(TASK_SECONDS + 0.1)
    gone = ecs.describe_tasks(cluster="prod", tasks=[slow["taskArn"]])["tasks"][0]
    check(gone["stopCode"] == "UserInitiated", "a stopped task is never decided again", gone)

    records = [json.loads(l) for l in event_log.read_text().splitlines() if l.strip()]
    runs = [r for r in records if r.get("kind") == "task" and r["event"] == "run"]
    check([r["command"] for r in runs] == [["migrate", "--all"], ["/bin/sh", "-c", "boom  now"],
                                           ["migrate", "--all"], ["sleep"]], "task run lines", runs)
    check([r["overridden"] for r in runs] == [False, True, False, True], "overridden flags", runs)
    check(all(r["startedBy"] == "release-agent-selftest" for r in runs), "startedBy logged", runs)
    ends = [(r["exitCode"], r["stopCode"]) for r in records if r.get("kind") == "task" and r["event"] == "stopped"]
    check(ends == [(0, "EssentialContainerExited"), (3, "EssentialContainerExited"),
                   (7, "EssentialContainerExited"), (None, "UserInitiated")], "task stopped lines", ends)


def check_event_log(path: Path, wall0: float, wall1: float) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    check(all(isinstance(r, dict) for r in records), "one JSON object per line", lines[:5])
    calls = [r for r in records if r.get("kind") == "call"]
    decisions = [r for r in records if r.get("kind") == "deployment"]
    check(len(calls) + len(decisions) == len(records), "only call/deployment lines", records)
    for r in records:
        check(isinstance(r.get("t"), float) and wall0 - 0.5 <= r["t"] <= wall1 + 0.5,
              "t is a unix float within the test run", r)
    for r in calls:
        allowed = {"t", "kind", "action", "cluster", "services", "service", "taskDefinition", "fault"}
        check(set(r) <= allowed and isinstance(r.get("action"), str), "call line shape", r)
    actions: dict[str, int] = {}
    for r in calls:
        actions[r["action"]] = actions.get(r["action"], 0) + 1
    for action, n in EXPECTED_CALLS.items():
        check(actions.get(action) == n, f"{action} logged exactly {n} times (once per request)", actions)
    check(actions.get("DescribeServices", 0) >= 8, "DescribeServices calls logged", actions)
    faulted = [(r["action"], r["fault"]) for r in calls if "fault" in r]
    check(faulted == [("UpdateService", "AccessDeniedException"), ("DescribeServices", "ThrottlingException")],
          "refused calls are logged with their fault", faulted)
    check(set(actions) == set(EXPECTED_CALLS) | {"DescribeServices"},
          "only ECS actions logged (no SSM/ECR)", actions)
    for r in calls:
        if r["action"] == "DescribeServices":
            check(r.get("cluster") == "prod" and r.get("services") == ["web"], "DescribeServices fields", r)
        if r["action"] == "CreateService":
            check(r.get("cluster") == "prod" and r.get("service") == "web"
                  and r.get("taskDefinition", "").endswith(":task-definition/web:1"), "CreateService fields", r)
    update_calls = sorted((r for r in calls if r["action"] == "UpdateService"), key=lambda r: r["t"])
    check(len(update_calls) == len(UPDATES), "every UpdateService logged", [update_calls, UPDATES])
    for r, (before, after, _) in zip(update_calls, sorted(UPDATES)):
        check(r.get("cluster") == "prod" and r.get("service") == "web", "UpdateService cluster/service", r)
        check(before - 0.05 <= r["t"] <= after + 0.05, "UpdateService t = when the request arrived", [r, before, after])
    check(sum("taskDefinition" in r for r in update_calls) == 8, "UpdateService taskDefinition when given", update_calls)

    keys = {"t", "kind", "state", "deploymentId", "service", "cluster", "taskDefinition", "decidedAt"}
    for r in decisions:
        check(set(r) == keys, "deployment line shape", r)
        check(r["service"] == "web" and r["cluster"] == "prod"
              and ":task-definition/web:" in r["taskDefinition"], "deployment line fields", r)
    by_id = {r["deploymentId"]: r for r in decisions}
    check(len(by_id) == len(decisions), "each deployment decided at most once", decisions)
    check({k: r["state"] for k, r in by_id.items()} == DECIDED, "decision lines = decided deployments",
          [decisions, DECIDED])
    check(not (UNDECIDED & set(by_id)), "superseded deployments have no decision line", [decisions, UNDECIDED])
    check(sorted(set(DECIDED.values())) == ["COMPLETED", "FAILED"], "both outcomes seen", DECIDED)
    started = {dep_id: (before, after) for before, after, dep_id in UPDATES if dep_id}
    for r in decisions:
        before, after = started[r["deploymentId"]]
        # t = createdAt + delay, and createdAt was stamped while that UpdateService was handled
        check(before + DEPLOY_SECONDS - 0.05 <= r["t"] <= after + DEPLOY_SECONDS + 0.05,
              "decision t = createdAt + MOTO_ECS_DEPLOY_SECONDS", [r, before, after])
        check(r["t"] <= r["decidedAt"] <= r["t"] + 5, "decidedAt >= t (and not much later)", r)
        check(any(c["t"] >= r["t"] for c in calls), "a later call line (t >= decision t)", r)
        later = [c for c in calls if c["t"] >= r["t"]]
        check(min(c["t"] for c in later) <= r["decidedAt"], "decided by a call that came after t", [r, later[:3]])
    if VERBOSE:
        print("--- MOTO_ECS_LOG (first call lines and all deployment lines)")
        for r in calls[:3] + [c for c in calls if c["action"] == "UpdateService"][:1] + decisions:
            print(json.dumps(r))


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


def run(endpoint: str, fail_file: Path, faults_file: Path) -> None:
    ecs = client("ecs", endpoint)

    def describe() -> dict[str, Any]:
        resp = ecs.describe_services(cluster="prod", services=["web"])
        check(len(resp["services"]) == 1, "one service described", resp)
        return resp

    def wait_decided(dep_id: str) -> tuple[dict[str, Any], float]:
        t0 = time.monotonic()
        while True:
            resp = describe()
            dep = next((d for d in resp["services"][0]["deployments"] if d["id"] == dep_id), None)
            check(dep is not None, f"deployment {dep_id} still listed while in progress", resp)
            if dep["rolloutState"] != "IN_PROGRESS":
                return resp, time.monotonic() - t0
            check(time.monotonic() - t0 < DEPLOY_SECONDS + 10, "deployment decided in time", resp)
            time.sleep(0.05)

    def register(image: str, rev_env: str = "1") -> str:
        td = ecs.register_task_definition(
            family="web",
            containerDefinitions=[{
                "name": "web", "image": image, "essential": True,
                "environment": [{"name": "REV", "value": rev_env}, {"name": "EQ", "value": "a=b"}],
                "secrets": [{"name": "TOKEN", "valueFrom": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/web/token"}],
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            }],
            cpu="256", memory="512", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/exec",
            taskRoleArn=f"arn:aws:iam::{ACCOUNT}:role/task",
            tags=[{"key": "app", "value": "web"}],
        )["taskDefinition"]
        return td["taskDefinitionArn"]

    def update(**kwargs: Any) -> dict[str, Any]:
        before = time.time()
        service = ecs.update_service(**kwargs)["service"]
        after = time.time()
        primary = service["deployments"][0] if service["deployments"] else None
        new_id = None
        if primary and primary["rolloutState"] == "IN_PROGRESS" and primary["id"] not in {u[2] for u in UPDATES}:
            new_id = primary["id"]
        UPDATES.append((before, after, new_id))
        return {"service": service}

    def check_deployment_shape(d: dict[str, Any]) -> None:
        check(DEPLOYMENT_KEYS <= set(d), f"deployment has {sorted(DEPLOYMENT_KEYS - set(d))}", d)
        check(bool(ID_RE.match(d["id"])), "deployment id is ecs-svc/<19 digits>", d)
        check(d["launchType"] == "FARGATE", "deployment launchType", d)

    # --- task definitions keep what a deploy tool copies --------------------------------
    with Timer("register/describe task definition round trip"):
        ecs.create_cluster(clusterName="prod")
        td1 = register(f"{REPO}@{DIGEST['a']}", "1")
        got = ecs.describe_task_definition(taskDefinition="web", include=["TAGS"])
        td = got["taskDefinition"]
        cd = td["containerDefinitions"][0]
        check(td["taskDefinitionArn"] == td1, "describe by family gives the latest revision", got)
        check(cd["image"] == f"{REPO}@{DIGEST['a']}", "image kept", cd)
        check(cd["environment"] == [{"name": "REV", "value": "1"}, {"name": "EQ", "value": "a=b"}], "environment kept", cd)
        check(cd["secrets"][0]["valueFrom"].endswith(":parameter/web/token"), "secrets kept", cd)
        check((td["cpu"], td["memory"], td["networkMode"]) == ("256", "512", "awsvpc"), "cpu/memory/networkMode", td)
        check(td["requiresCompatibilities"] == ["FARGATE"], "requiresCompatibilities", td)
        check(td["executionRoleArn"].endswith(":role/exec") and td["taskRoleArn"].endswith(":role/task"), "roles", td)
        check(got.get("tags") == [{"key": "app", "value": "web"}], "tags with include=TAGS", got)
        check("registeredAt" in td and td["registeredBy"] == f"arn:aws:iam::{ACCOUNT}:root", "registeredAt/By", td)

    # --- CreateService: initial deployment is COMPLETED at once -------------------------
    with Timer("create service -> initial deployment COMPLETED"):
        created = ecs.create_service(
            cluster="prod", serviceName="web", taskDefinition=td1, desiredCount=2, launchType="FARGATE",
        )["service"]
        deps = created["deployments"]
        check(len(deps) == 1 and deps[0]["status"] == "PRIMARY" and deps[0]["rolloutState"] == "COMPLETED",
              "one PRIMARY COMPLETED deployment", created)
        check_deployment_shape(deps[0])
        check((deps[0]["runningCount"], deps[0]["pendingCount"]) == (2, 0), "initial counts", created)
        check(created["runningCount"] == 2 and created["pendingCount"] == 0, "service counts", created)
        check(created["events"][0]["message"] == "(service web) has reached a steady state.", "steady-state event", created)
        cluster = ecs.describe_clusters(clusters=["prod"])["clusters"][0]
        check(cluster["runningTasksCount"] == 2 and cluster["pendingTasksCount"] == 0, "cluster counts", cluster)

    # --- good update: IN_PROGRESS, then COMPLETED, old removed --------------------------
    with Timer("update to good image -> COMPLETED"):
        td2 = register(f"{REPO}@{DIGEST['b']}", "2")
        updated = update(cluster="prod", service="web", taskDefinition="web")["service"]
        check(updated["taskDefinition"] == td2, "service taskDefinition is the new ARN at once", updated)
        new, old = updated["deployments"]
        check_deployment_shape(new)
        check(new["status"] == "PRIMARY" and new["rolloutState"] == "IN_PROGRESS" and new["taskDefinition"] == td2,
              "new PRIMARY IN_PROGRESS", updated)
        check(new["rolloutStateReason"] == f"ECS deployment {new['id']} in progress.", "in-progress reason", new)
        check((new["desiredCount"], new["runningCount"], new["pendingCount"], new["failedTasks"]) == (2, 0, 2, 0),
              "new deployment counts", new)
        check(old["status"] == "ACTIVE" and old["taskDefinition"] == td1 and old["runningCount"] == 2, "old ACTIVE", updated)
        check(updated["runningCount"] == 2 and updated["pendingCount"] == 2, "service counts while in progress", updated)
        resp, waited = wait_decided(new["id"])
        check(waited >= DEPLOY_SECONDS - 0.25, f"not decided before the delay (waited {waited:.2f}s)")
        svc = resp["services"][0]
        (done,) = svc["deployments"]
        check(done["id"] == new["id"] and done["rolloutState"] == "COMPLETED", "COMPLETED, old removed", svc)
        DECIDED[new["id"]] = "COMPLETED"
        check(done["rolloutStateReason"] == f"ECS deployment {new['id']} completed.", "completed reason", done)
        check((done["runningCount"], done["pendingCount"]) == (2, 0), "completed counts", done)
        check(svc["runningCount"] == 2 and svc["pendingCount"] == 0, "service counts after", svc)
        msgs = [e["message"] for e in svc["events"]]
        check(msgs[0] == "(service web) has reached a steady state.", "newest event: steady state", msgs)
        check(msgs[1] == f"(service web) (deployment {new['id']}) deployment completed.", "deployment completed event", msgs)
        check(re.match(r"^\(service web\) has stopped 2 running tasks: \(task [0-9a-f]{32}\) \(task [0-9a-f]{32}\)\.$", msgs[2]) is not None, "stopped event", msgs)
        check(re.match(r"^\(service web\) has started 2 tasks: \(task [0-9a-f]{32}\) \(task [0-9a-f]{32}\)\.$", msgs[3]) is not None, "started event", msgs)
        check(all(set(e) == {"id", "createdAt", "message"} for e in svc["events"]), "event shape", svc["events"])
        check(ecs.list_services(cluster="prod")["serviceArns"] == [svc["serviceArn"]], "list_services", svc)
        dump("DescribeServices after a successful deployment", resp)

    # --- bad update: image matched by a pattern added to the fail file after start --------
    with Timer("update to failing image -> FAILED"):
        td3 = register(f"{REPO}@{DIGEST['c']}", "3")
        fail_file.write_text("# patterns appended by the test\n" + DIGEST["c"] + "\n")
        updated = update(cluster="prod", service="web", taskDefinition=td3)["service"]
        bad = updated["deployments"][0]
        resp, waited = wait_decided(bad["id"])
        check(waited >= DEPLOY_SECONDS - 0.25, f"not decided before the delay (waited {waited:.2f}s)")
        svc = resp["services"][0]
        check(svc["taskDefinition"] == td3, "service keeps the failed task definition (no auto rollback)", svc)
        failed, good = svc["deployments"]
        check(failed["status"] == "PRIMARY" and failed["rolloutState"] == "FAILED", "PRIMARY FAILED", svc)
        DECIDED[failed["id"]] = "FAILED"
        check(failed["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start.", "failed reason", failed)
        check(failed["failedTasks"] >= 1 and failed["runningCount"] == 0 and failed["pendingCount"] == 0, "failed counts", failed)
        check(good["status"] == "ACTIVE" and good["taskDefinition"] == td2 and good["rolloutState"] == "COMPLETED"
              and good["runningCount"] == 2, "previous deployment still ACTIVE and running", svc)
        check(svc["runningCount"] == 2 and svc["pendingCount"] == 0, "service still runs the old tasks", svc)
        check(svc["events"][0]["message"] == f"(service web) (deployment {failed['id']}) deployment failed: tasks failed to start.",
              "failed event", svc["events"])
        dump("DescribeServices after a failed deployment", resp)
        fail_file.write_text("")  # editing patterns later does not rewrite history
        again = describe()["services"][0]["deployments"][0]
        check(again["id"] == failed["id"] and again["rolloutState"] == "FAILED", "FAILED is final", again)

    # --- rollback by the client: back to the previous task definition -------------------
    with Timer("roll back to previous task definition -> COMPLETED"):
        updated = update(cluster="prod", service="web", taskDefinition=td2)["service"]
        check([d["status"] for d in updated["deployments"]] == ["PRIMARY", "ACTIVE", "ACTIVE"], "rollback deployments", updated)
        rb = updated["deployments"][0]
        check(rb["taskDefinition"] == td2 and rb["rolloutState"] == "IN_PROGRESS", "rollback in progress", updated)
        resp, _ = wait_decided(rb["id"])
        svc = resp["services"][0]
        check([(d["id"], d["rolloutState"]) for d in svc["deployments"]] == [(rb["id"], "COMPLETED")], "rollback completed", svc)
        DECIDED[rb["id"]] = "COMPLETED"
        check(svc["taskDefinition"] == td2 and svc["runningCount"] == 2, "service on previous task definition", svc)

    # --- superseded before decided; MOTO_ECS_FAIL_IMAGE; forceNewDeployment -------------
    with Timer("superseded deployment + MOTO_ECS_FAIL_IMAGE + forceNewDeployment"):
        td4 = register(f"{REPO}:doomed", "4")  # matched by MOTO_ECS_FAIL_IMAGE=":doomed$"
        td5 = register(f"{REPO}@{DIGEST['e']}", "5")
        first = update(cluster="prod", service="web", taskDefinition=td4)["service"]["deployments"][0]
        second = update(cluster="prod", service="web", taskDefinition=td5)["service"]["deployments"]
        check([d["status"] for d in second] == ["PRIMARY", "ACTIVE", "ACTIVE"], "superseded deployment is ACTIVE", second)
        check(second[1]["id"] == first["id"] and second[1]["rolloutState"] == "IN_PROGRESS", "superseded stays undecided", second)
        resp, _ = wait_decided(second[0]["id"])
        check([d["rolloutState"] for d in resp["services"][0]["deployments"]] == ["COMPLETED"], "superseded removed", resp)
        UNDECIDED.add(first["id"])
        DECIDED[second[0]["id"]] = "COMPLETED"
        doomed = update(cluster="prod", service="web", taskDefinition=td4)["service"]["deployments"][0]
        resp, _ = wait_decided(doomed["id"])
        check(resp["services"][0]["deployments"][0]["rolloutState"] == "FAILED", "MOTO_ECS_FAIL_IMAGE fails", resp)
        DECIDED[doomed["id"]] = "FAILED"
        same = update(cluster="prod", service="web", taskDefinition=td4)["service"]
        check(len(same["deployments"]) == 2, "same task definition without force starts nothing", same)
        forced = update(cluster="prod", service="web", taskDefinition=td5, forceNewDeployment=True)["service"]
        check(forced["deployments"][0]["id"] != doomed["id"] and len(forced["deployments"]) == 3, "new deployment", forced)
        again = update(cluster="prod", service="web", forceNewDeployment=True)["service"]
        check(len(again["deployments"]) == 4 and again["deployments"][0]["taskDefinition"] == td5, "force without td", again)
        resp, _ = wait_decided(again["deployments"][0]["id"])
        svc = resp["services"][0]
        check(len(svc["deployments"]) == 1 and svc["runningCount"] == 2, "forced deployment completed", svc)
        UNDECIDED.add(forced["deployments"][0]["id"])
        DECIDED[again["deployments"][0]["id"]] = "COMPLETED"
        scaled = update(cluster="prod", service="web", desiredCount=3)["service"]
        check(len(scaled["deployments"]) == 1 and scaled["deployments"][0]["runningCount"] == 3
              and scaled["runningCount"] == 3, "desiredCount rescales in place", scaled)
        cluster = ecs.describe_clusters(clusters=["prod"])["clusters"][0]
        check(cluster["runningTasksCount"] == 3 and cluster["pendingTasksCount"] == 0, "cluster counts follow", cluster)

    # --- fault switch: refused calls change nothing --------------------------------------
    with Timer("MOTO_ECS_FAULTS_FILE refuses chosen calls"):
        from botocore.config import Config as BotoConfig
        from botocore.exceptions import ClientError

        def refused(call: Any, code: str, **kwargs: Any) -> str:
            try:
                call(**kwargs)
            except ClientError as e:
                check(e.response["Error"]["Code"] == code, f"refused with {code}", e.response)
                return e.response["Error"]["Message"]
            raise AssertionError(f"{kwargs} was not refused")

        faults_file.write_text(
            "# comment\n\nUpdateService other AccessDeniedException\n"
            "UpdateService web AccessDeniedException User: x is not authorized to perform: ecs:UpdateService\n"
        )
        before = time.time()
        message = refused(ecs.update_service, "AccessDeniedException", cluster="prod", service="web", desiredCount=5)
        UPDATES.append((before, time.time(), None))
        check(message == "User: x is not authorized to perform: ecs:UpdateService", "the fault's message", message)
        check(describe()["services"][0]["desiredCount"] == 3, "a refused call changes nothing")
        # Re-read on every call: another line, another refusal (no retries: one logged call).
        faults_file.write_text("DescribeServices prod ThrottlingException\n")
        once = boto3.client("ecs", endpoint_url=endpoint, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"}))
        message = refused(once.describe_services, "ThrottlingException", cluster="prod", services=["web"])
        check(message == "refused by MOTO_ECS_FAULTS_FILE", "the default message", message)
        faults_file.unlink()
        svc = update(cluster="prod", service="web", desiredCount=3)["service"]
        check(svc["desiredCount"] == 3, "allowed again once the line is gone", svc)

    # --- other services untouched --------------------------------------------------------
    with Timer("SSM + ECR still served"):
        ssm = client("ssm", endpoint)
        ssm.put_parameter(Name="/web/token", Value="s3cret", Type="SecureString")
        got = ssm.get_parameter(Name="/web/token", WithDecryption=True)["Parameter"]
        check(got["Value"] == "s3cret", "SSM round trip", got)
        ecr = client("ecr", endpoint)
        repo = ecr.create_repository(repositoryName="web")["repository"]
        check(repo["repositoryUri"].endswith("/web"), "ECR create_repository", repo)
        check([r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["web"], "ECR describe", repo)


if __name__ == "__main__":
    sys.exit(main())
