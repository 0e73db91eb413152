#!/usr/bin/env python3
"""Test launcher: moto's server, with ECS service deployments that actually roll out.

Why this exists
===============
The integration tests run against a real ``moto`` server (PyPI ``moto[server]==5.2.5``).
Moto's ECS backend never moves a deployment on: ``CreateService`` makes one PRIMARY
deployment that stays ``IN_PROGRESS`` forever (unless ``MOTO_ECS_SERVICE_RUNNING`` is set,
which then makes *every* deployment look finished at once), and ``UpdateService`` only swaps
the service's ``taskDefinition`` string (``forceNewDeployment`` re-stamps the *same*
deployment). So a rollout that waits for ``rolloutState=COMPLETED``, notices ``FAILED``, and
rolls back cannot be tested with plain ``moto_server``.

This launcher is NOT an AWS server of our own. It imports moto, monkeypatches a few methods
of moto's ECS model classes (``moto.ecs.models.EC2ContainerServiceBackend`` and
``moto.ecs.models.TaskDefinition``), then hands over to moto's own server entry point
(``moto.server.main``) with the same command line flags as ``moto_server``. Every other
service (SSM, ECR, ...) is served by moto unchanged; ECS requests still go through moto's own
request parsing and response serialization.

How to run
==========
    .venv/bin/python tests/all/support/moto_launcher.py -H 127.0.0.1 -p 5000

All flags are moto_server's (``-H/--host``, ``-p/--port``, ``-r``, ``-s``, ``-c``, ``-k``).
Self-test: ``.venv/bin/python tests/all/support/moto_launcher_selftest.py``.

Environment (read once, at launch, except the *content* of the fail and faults files)
=====================================================================================
``MOTO_ECS_DEPLOY_SECONDS``  float >= 0, default ``1.0``. How long after its creation a
                             deployment stops being ``IN_PROGRESS``.
``MOTO_ECS_FAIL_IMAGE``      optional Python regex. A deployment whose task definition has a
                             container ``image`` matched by it (``re.search``) FAILS.
``MOTO_ECS_FAIL_FILE``       optional path to a text file of further regexes, one per line
                             (blank lines and lines starting with ``#`` are ignored; a line
                             that is not a valid regex is matched as a literal substring).
                             The file is re-read every time a deployment is evaluated, so a
                             test can append e.g. ``sha256:abcd...`` after the launcher
                             started (images are referenced as ``repo@sha256:...``). A
                             missing file means "no patterns".
``MOTO_ECS_LOG``             optional path of an event log (JSON Lines, for benchmarks; see
                             "Event log" below). Unset or empty: no log.
``MOTO_ECS_FAULTS_FILE``     optional path to a text file of refused ECS calls (see "Fault
                             switch" below). Re-read on every ECS request, so a test can
                             refuse or allow calls while the launcher runs. A missing file
                             means "no faults".
Invalid values for the first two, or a ``MOTO_ECS_LOG`` path that cannot be opened for
appending, make the launcher exit with status 2 before serving.

What changes in ECS (services whose deploymentController is ``ECS``, the default)
================================================================================
Deployments are dicts in ``Service.deployments`` (as in moto) and are serialized by moto into
the real API's ``Deployment`` shape: ``id`` (``ecs-svc/`` + 19 digits), ``status``
(``PRIMARY``/``ACTIVE``), ``taskDefinition`` (ARN), ``desiredCount``, ``pendingCount``,
``runningCount``, ``failedTasks``, ``createdAt``, ``updatedAt``, ``launchType``,
``platformVersion``/``platformFamily``/``networkConfiguration`` (as moto sets them),
``rolloutState``, ``rolloutStateReason``. Service ``events`` are ``{id, createdAt, message}``,
newest first, at most 100 (like ECS).

* ``CreateService``: the single PRIMARY deployment is ``COMPLETED`` immediately (no delay, no
  failure-pattern check): ``runningCount = desiredCount``, ``pendingCount = 0``, reason
  ``"ECS deployment <id> completed."``; events "has started N tasks", "deployment completed",
  "has reached a steady state". ``MOTO_ECS_SERVICE_RUNNING``/``..._FAILED_TASKS`` are ignored.
* ``UpdateService`` with a ``taskDefinition`` that resolves to a different ARN than the
  service's current one, or with ``forceNewDeployment=true``: the service's
  ``taskDefinition`` becomes the new *ARN* at once (moto would store the raw string, e.g.
  ``web`` or ``web:3``); every PRIMARY deployment becomes ``ACTIVE``; a new PRIMARY is put
  first: ``rolloutState=IN_PROGRESS``, reason ``"ECS deployment <id> in progress."``,
  ``desiredCount`` = service desired, ``pendingCount`` = desired, ``runningCount=0``,
  ``failedTasks=0``. The same task definition ARN without ``forceNewDeployment`` starts
  nothing (as in ECS). ``desiredCount`` alone rescales the PRIMARY deployment in place (no
  events). ``deploymentConfiguration`` is stored but its circuit breaker ``rollback`` flag is
  ignored: there is never an automatic rollback; the client under test rolls back itself.
* Lazy progress, from wall-clock time, on ``DescribeServices``, ``ListServices`` and before
  ``UpdateService``: once ``MOTO_ECS_DEPLOY_SECONDS`` have passed since an ``IN_PROGRESS``
  PRIMARY deployment was created, it is decided once and for all (the timestamps used are
  ``createdAt + delay``):
    - FAILED if any container image of its task definition matches a failure pattern:
      ``rolloutState=FAILED``, reason ``"ECS deployment circuit breaker: tasks failed to
      start."``, ``failedTasks`` = ECS's circuit breaker threshold
      (``max(3, min(200, ceil(desired/2)))``), ``runningCount=0``, ``pendingCount=0``. It stays
      PRIMARY; older deployments stay ``ACTIVE`` with their running tasks. Event
      ``"(service S) (deployment ID) deployment failed: tasks failed to start."``
    - COMPLETED otherwise: ``runningCount=desiredCount``, ``pendingCount=0``, reason
      ``"ECS deployment <id> completed."``; all other deployments are removed (drained).
      Events, oldest to newest: ``"(service S) has started N tasks: (task X) ..."`` (if N > 0),
      ``"(service S) has stopped M running tasks: (task Y) ..."`` (if older deployments had
      running tasks), ``"(service S) (deployment ID) deployment completed."``,
      ``"(service S) has reached a steady state."``
  A deployment replaced before it was decided becomes ``ACTIVE``, keeps
  ``rolloutState=IN_PROGRESS`` with 0 running, is never decided, and is removed when a newer
  one completes. A decided deployment never changes again (editing the fail file later
  does not rewrite history).
* Service ``runningCount``/``pendingCount`` are the sums over its deployments, and the
  cluster's ``runningTasksCount``/``pendingTasksCount`` follow them.

Event log (``MOTO_ECS_LOG``)
===========================
When set, the launcher appends one JSON object per line to that file (the file is created if
missing and never truncated; each line is written with a single ``write`` while holding a
process-wide lock, then flushed, so concurrent requests never interleave). Times are Unix
seconds as floats (``time.time()``, the server host's clock). Two kinds of lines:

* One ``call`` line per ECS HTTP request, for every ECS action (``DescribeServices``,
  ``UpdateService``, ``RegisterTaskDefinition``, ``ListServices``, ``CreateCluster``, ...),
  written when moto starts handling it (before the action runs, so also for requests that
  then fail)::

    {"t": 1718000000.123456, "kind": "call", "action": "UpdateService",
     "cluster": "prod", "service": "web", "taskDefinition": "web:3"}

  ``t`` is when the request reached moto's ECS handler (before its body was parsed).
  ``cluster`` (string), ``services`` (list of strings, e.g. DescribeServices),
  ``service`` (string; UpdateService/DeleteService's ``service``, or CreateService's
  ``serviceName``) and ``taskDefinition`` (string) are copied verbatim from the request
  body, each only when present; no other request fields are logged. CloudWatch requests in
  Smithy RPC v2 CBOR (see below) get a ``call`` line too, with ``"api": "cloudwatch"``, the
  operation as ``action`` and the region of the request's signature as ``region``. Requests
  to other services (SSM, ECR, ...) are not logged.
* One ``deployment`` line each time a PRIMARY ``IN_PROGRESS`` deployment is decided (see
  "Lazy progress" above; each deployment is decided at most once)::

    {"t": 1718000001.123456, "kind": "deployment", "state": "FAILED",
     "deploymentId": "ecs-svc/1234567890123456789", "service": "web", "cluster": "prod",
     "taskDefinition": "arn:aws:ecs:eu-north-1:123456789012:task-definition/web:3",
     "decidedAt": 1718000001.456789}

  ``state`` is ``"COMPLETED"`` or ``"FAILED"``; ``t`` is the decision timestamp
  ``createdAt + MOTO_ECS_DEPLOY_SECONDS`` (the moment the outcome became observable, the
  same time as the deployment's ``updatedAt`` and its events); ``decidedAt`` is when the
  launcher actually evaluated it (``>= t``; the handling time of the request that triggered
  the evaluation). ``service``/``cluster`` are names, ``taskDefinition`` the deployment's
  ARN. CreateService's initial deployment (COMPLETED at once) and deployments superseded
  before being decided produce no ``deployment`` line.
  A ``deployment`` line is written while the request that decided it is handled, so it
  comes after that request's ``call`` line in the file even though its ``t`` may be
  earlier; lines are in write order, not sorted by ``t``.
If a line cannot be written at run time the error is reported on stderr and the request is
served anyway.

Fault switch (``MOTO_ECS_FAULTS_FILE``)
=======================================
Each line of the file is ``Operation resource ErrorCode [message...]``, whitespace-separated
(blank lines and lines starting with ``#`` are ignored; a line with fewer than three fields is
ignored too)::

    UpdateService worker AccessDeniedException
    UpdateService * ThrottlingException Rate exceeded
    DescribeServices staging ClusterNotFoundException

``Operation`` is the ECS action (``UpdateService``, ``DescribeServices``, ...) or ``*``.
``resource`` is ``*`` or a name compared with the request's ``service`` (or CreateService's
``serviceName``), each of its ``services``, its ``cluster``, its ``family``
(RegisterTaskDefinition) or its ``taskDefinition`` (the family part before ``:``, or the
whole value). The first matching line wins: the request is answered with HTTP 400 and the
AWS JSON error body ``{"__type": ErrorCode, "message": message}`` (message defaults to
``"refused by MOTO_ECS_FAULTS_FILE"``), and moto does not run it (no state changes). The
SDK's retry rules then apply as against AWS: ``ThrottlingException`` is retried by the
client, then fails. A refused request still gets its ``call`` line in the event log, with
``"fault": ErrorCode`` added. Nothing of this reaches any real AWS endpoint: it only answers
requests made to this local server.

Service deployments and ECS's own strategies
============================================
``moto_service_deployments.py`` (next to this file; its docstring documents the model and its
``MOTO_ECS_STAGE_SECONDS``/``MOTO_ECS_MINUTE_SECONDS``) adds ``ListServiceDeployments``,
``DescribeServiceDeployments``, ``DescribeServiceRevisions``, ``StopServiceDeployment`` and
``ContinueServiceDeployment``, and decides blue/green, canary and linear deployments itself
(stages, traffic weights, pause hooks, alarms, rollback) instead of the timer above.

Task definition fixes (small, realistic)
========================================
* ``registeredAt`` (time of registration) and ``registeredBy``
  (``arn:<partition>:iam::<account>:root``) are set; moto 5.2.5 omits both.
* ``DescribeTaskDefinition``/``CreateService``/``UpdateService``/``RunTask`` given a bare
  family use the latest ``ACTIVE`` revision (moto picks the latest revision, even INACTIVE).
Known moto gaps left alone: ``requiresAttributes``, ``deregisteredAt``,
``enableFaultInjection`` and ``trustedExecutionConfiguration`` are not returned (the last two
are dropped on register).

Tasks that stop (``RunTask``, for migrations)
=============================================
Moto 5.2.5 makes a ``RunTask`` task look ``STOPPED`` at once (its state machine is
"immediate"), with ``exitCode`` 0 on one container (the task definition's first), no
``stopCode`` and no logs, so a client cannot be tested waiting for a task, failing on its exit
code, or reading its log. The launcher (``install_tasks``) changes only tasks started by
``RunTask``:

``MOTO_ECS_TASK_SECONDS``    float >= 0, default ``0.5``. How long a task stays ``RUNNING``.
``MOTO_ECS_TASK_EXIT_FILE``  optional path of a text file of ``<regex> <exit code> [log line]``
                             lines (blank lines and lines starting with ``#`` are ignored; a
                             regex cannot hold spaces: use ``\s``). Re-read whenever a task
                             stops. The first line whose regex matches (``re.search``) the
                             task's effective command of its first essential container (the
                             ``containerOverrides`` command, else the container definition's,
                             joined by single spaces) gives its exit code; none: exit 0.
                             ``hang`` instead of a code keeps the task ``RUNNING`` until
                             ``StopTask`` (for timeouts). A missing file means "exit 0".
An invalid ``MOTO_ECS_TASK_SECONDS`` makes the launcher exit with status 2 before serving.

* ``RunTask``: one container per container definition of the task definition (moto makes only
  the first), ``lastStatus``/``desiredStatus`` ``RUNNING``, no exit code yet.
* On ``DescribeTasks`` and ``ListTasks``, once ``MOTO_ECS_TASK_SECONDS`` have passed since
  ``RunTask``: ``lastStatus``/``desiredStatus`` ``STOPPED``, ``stopCode``
  ``EssentialContainerExited``, ``stoppedReason`` ``"Essential container in task exited"``,
  ``stoppedAt``/``stoppingAt``/``executionStoppedAt`` = ``RunTask`` time + delay; every container
  ``STOPPED``, the first essential one with the exit code from the exit file, the others 0.
  Decided once, never changed by later edits of the file.
* ``StopTask`` before that: ``STOPPED`` with the given reason, ``stopCode`` ``UserInitiated``,
  containers ``STOPPED`` without an exit code (moto's own behaviour, plus the stop code).
* Logs: when a container definition has ``logConfiguration`` ``logDriver: awslogs`` with
  ``awslogs-group`` and ``awslogs-stream-prefix``, the stopping task writes into moto's logs
  backend (region ``awslogs-region``, else the task's; group and stream created if missing),
  stream ``<prefix>/<container>/<task id>``: ``$ <command>``, the exit file line's log line if
  it has one, and ``exit <code>``.
* Event log (``MOTO_ECS_LOG``): one ``task`` line when a task is run and one when it stops::

    {"t": ..., "kind": "task", "event": "run", "taskArn": "...", "cluster": "prod",
     "taskDefinition": "arn:...:task-definition/api-migrate:2", "startedBy": "release-agent-...",
     "command": ["/bin/sh", "-c", "..."], "overridden": true}
    {"t": ..., "kind": "task", "event": "stopped", "taskArn": "...", "exitCode": 3,
     "stopCode": "EssentialContainerExited"}

CloudWatch over Smithy RPC v2 CBOR
==================================
CloudWatch's current SDKs (aws-sdk-cloudwatch for Rust among them) speak Smithy RPC v2 CBOR:
``POST /service/GraniteServiceVersion20100801/operation/<Op>`` with a CBOR body. Moto 5.2.5
serves CloudWatch over the Query and JSON protocols only, and answers those paths 404. The
launcher translates, and moto does the rest: such a request's CBOR body is decoded (PyPI
``cbor2``), re-sent to moto as the JSON protocol request (``X-Amz-Target:
GraniteServiceVersion20100801.<Op>``, timestamps as epoch seconds), and moto's JSON answer is
encoded back to CBOR (members named ``*Timestamp`` as CBOR epoch timestamps, tag 1) with
``smithy-protocol: rpc-v2-cbor``. Status codes and error bodies (``__type``) pass through.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, NoReturn

ENV_DEPLOY_SECONDS = "MOTO_ECS_DEPLOY_SECONDS"
ENV_FAIL_IMAGE = "MOTO_ECS_FAIL_IMAGE"
ENV_FAIL_FILE = "MOTO_ECS_FAIL_FILE"
ENV_LOG = "MOTO_ECS_LOG"
ENV_FAULTS_FILE = "MOTO_ECS_FAULTS_FILE"
DEFAULT_FAULT_MESSAGE = "refused by MOTO_ECS_FAULTS_FILE"

FAILED_REASON = "ECS deployment circuit breaker: tasks failed to start."
MAX_EVENTS = 100


def _die(message: str) -> NoReturn:
    print(f"moto_launcher: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


@dataclass(frozen=True)
class Config:
    deploy_seconds: float = 1.0
    fail_image: re.Pattern[str] | None = None
    fail_file: str | None = None
    log_path: str | None = None
    faults_file: str | None = None

    @staticmethod
    def from_env(env: Any = None) -> "Config":
        env = os.environ if env is None else env
        raw = env.get(ENV_DEPLOY_SECONDS, "").strip()
        try:
            seconds = float(raw) if raw else 1.0
        except ValueError:
            _die(f"{ENV_DEPLOY_SECONDS}={raw!r} is not a number")
        if not math.isfinite(seconds) or seconds < 0:
            _die(f"{ENV_DEPLOY_SECONDS}={raw!r} must be a finite number >= 0")
        pattern = env.get(ENV_FAIL_IMAGE) or None
        compiled = None
        if pattern is not None:
            try:
                compiled = re.compile(pattern)
            except re.error as e:
                _die(f"{ENV_FAIL_IMAGE}={pattern!r} is not a valid regex: {e}")
        log_path = env.get(ENV_LOG) or None
        if log_path is not None:
            try:
                with open(log_path, "a", encoding="utf-8"):
                    pass
            except OSError as e:
                _die(f"{ENV_LOG}={log_path!r} cannot be opened for appending: {e}")
        return Config(
            seconds,
            compiled,
            env.get(ENV_FAIL_FILE) or None,
            log_path,
            env.get(ENV_FAULTS_FILE) or None,
        )

    def faults(self) -> list[tuple[str, str, str, str]]:
        """The refused calls right now, as (operation, resource, code, message): the faults
        file is read on every request."""
        if not self.faults_file:
            return []
        try:
            with open(self.faults_file, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            fields = line.split()
            if len(fields) < 3 or fields[0].startswith("#"):
                continue
            message = " ".join(fields[3:]) or DEFAULT_FAULT_MESSAGE
            out.append((fields[0], fields[1], fields[2], message))
        return out

    def patterns(self) -> list[re.Pattern[str]]:
        """The failure patterns right now (the fail file is read on every call)."""
        out = [self.fail_image] if self.fail_image is not None else []
        if self.fail_file:
            try:
                with open(self.fail_file, encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except FileNotFoundError:
                lines = []
            for line in lines:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                try:
                    out.append(re.compile(line))
                except re.error:
                    out.append(re.compile(re.escape(line)))
        return out


@dataclass
class _Rollout:
    """Launcher-private bookkeeping of one deployment (never serialized)."""

    created: float  # time.time() at creation
    images: tuple[str, ...]
    task_ids: list[str] = field(default_factory=list)  # its running tasks, once decided


_CONFIG = Config()
_LOCK = threading.RLock()  # moto's server is threaded; keep each ECS mutation atomic
_INSTALLED = False
_ROLLOUTS = "_moto_launcher_rollouts"  # attribute on moto's Service objects
_LOG_LOCK = threading.Lock()  # serializes event-log lines (a leaf lock: nothing nests inside)
_ARRIVED = "_moto_launcher_arrived"  # attribute on moto's per-request ECS response objects
_SD: Any = None  # the service-deployment model (moto_service_deployments.py), once installed


def _log(record: dict[str, Any]) -> None:
    """Append one JSON line to MOTO_ECS_LOG (no-op when unset)."""
    path = _CONFIG.log_path
    if not path:
        return
    line = json.dumps(record, separators=(", ", ": "), default=str) + "\n"
    try:
        with _LOG_LOCK:
            with open(path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
    except OSError as e:
        print(f"moto_launcher: cannot write {ENV_LOG}={path!r}: {e}", file=sys.stderr, flush=True)


def _call_record(t: float, action: str, body: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"t": t, "kind": "call", "action": action}
    try:
        params = json.loads(body) if isinstance(body, (str, bytes)) and body else {}
    except ValueError:
        params = {}
    if not isinstance(params, dict):
        params = {}
    if isinstance(params.get("cluster"), str):
        record["cluster"] = params["cluster"]
    services = params.get("services")
    if isinstance(services, list) and all(isinstance(x, str) for x in services):
        record["services"] = services
    service = params.get("service", params.get("serviceName"))
    if isinstance(service, str):
        record["service"] = service
    if isinstance(params.get("taskDefinition"), str):
        record["taskDefinition"] = params["taskDefinition"]
    return record


def _request_names(body: Any) -> set[str]:
    """The names a fault line's resource is compared with (see "Fault switch")."""
    try:
        params = json.loads(body) if isinstance(body, (str, bytes)) and body else {}
    except ValueError:
        params = {}
    if not isinstance(params, dict):
        return set()
    names: set[str] = set()
    for key in ("service", "serviceName", "cluster", "family"):
        if isinstance(params.get(key), str):
            names.add(params[key])
            names.add(params[key].split("/")[-1])
    services = params.get("services")
    if isinstance(services, list):
        names.update(x.split("/")[-1] for x in services if isinstance(x, str))
    td = params.get("taskDefinition")
    if isinstance(td, str):
        names.add(td)
        names.add(td.split("/")[-1].split(":")[0])
    return names


def _fault(action: str, body: Any) -> tuple[str, str] | None:
    """(code, message) of the first fault line matching this request, if any."""
    faults = _CONFIG.faults()
    if not faults:
        return None
    names = _request_names(body)
    for operation, resource, code, message in faults:
        if operation not in ("*", action):
            continue
        if resource == "*" or resource in names:
            return code, message
    return None


def _utc(t: float) -> datetime.datetime:
    # moto stores naive UTC datetimes (moto.core.utils.utcnow)
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).replace(tzinfo=None)


def _random() -> Any:
    from moto.moto_api._internal import mock_random

    return mock_random


def _new_deployment_id() -> str:
    return f"ecs-svc/{_random().randint(10**18, 10**19 - 1)}"


def _new_task_ids(n: int) -> list[str]:
    return [_random().uuid4().hex for _ in range(max(n, 0))]


def _tasks_text(ids: list[str]) -> str:
    return " ".join(f"(task {t})" for t in ids)


def _add_events(service: Any, when: float, messages: list[str]) -> None:
    """Append events (given oldest first); service.events is kept newest first."""
    for message in messages:
        service.events.insert(
            0, {"id": str(_random().uuid4()), "createdAt": _utc(when), "message": message}
        )
    del service.events[MAX_EVENTS:]


def _images(backend: Any, task_definition: str | None) -> tuple[str, ...]:
    if not task_definition:
        return ()
    try:
        td = backend.describe_task_definition(task_definition)
    except Exception:
        return ()
    return tuple(
        str(cd.get("image") or cd.get("Image") or "") for cd in td.container_definitions
    )


def _managed(service: Any) -> bool:
    return hasattr(service, _ROLLOUTS)


def _primary(service: Any) -> dict[str, Any] | None:
    for d in service.deployments:
        if d.get("status") == "PRIMARY":
            return d
    return None


def _sync_counts(backend: Any, service: Any) -> None:
    """Service counts = sums over deployments; move the cluster's counts by the difference."""
    running = sum(int(d.get("runningCount") or 0) for d in service.deployments)
    pending = sum(int(d.get("pendingCount") or 0) for d in service.deployments)
    cluster = backend.clusters.get(service.cluster_name)
    if cluster is not None and service.status == "ACTIVE":
        cluster.running_tasks_count += running - (service.running_count or 0)
        cluster.pending_tasks_count += pending - (service.pending_count or 0)
    service.running_count = running
    service.pending_count = pending


def _failed_tasks(desired: int) -> int:
    # ECS deployment circuit breaker threshold: 50% of desired, at least 3, at most 200.
    return max(3, min(200, math.ceil(desired / 2)))


def _evaluate(backend: Any, service: Any, now: float) -> None:
    """Decide the PRIMARY deployment if its time has come (once; the result is stored)."""
    if not _managed(service) or service.status != "ACTIVE":
        return
    rollouts: dict[str, _Rollout] = getattr(service, _ROLLOUTS)
    primary = _primary(service)
    if primary is None or primary.get("rolloutState") != "IN_PROGRESS":
        return
    rollout = rollouts.get(primary["id"])
    if rollout is None or (_SD is not None and _SD.drives(service, primary["id"])):
        return
    due = rollout.created + _CONFIG.deploy_seconds
    if now < due:
        return
    name, dep_id = service.name, primary["id"]
    patterns = _CONFIG.patterns()
    failed = any(p.search(img) for img in rollout.images for p in patterns)
    desired = int(primary.get("desiredCount") or 0)
    primary["updatedAt"] = _utc(due)
    if failed:
        primary.update(
            rolloutState="FAILED",
            rolloutStateReason=FAILED_REASON,
            failedTasks=_failed_tasks(desired),
            runningCount=0,
            pendingCount=0,
        )
        _add_events(
            service,
            due,
            [f"(service {name}) (deployment {dep_id}) deployment failed: tasks failed to start."],
        )
    else:
        _complete(backend, service, primary, due)
    _sync_counts(backend, service)
    _log(
        {
            "t": due,
            "kind": "deployment",
            "state": primary["rolloutState"],
            "deploymentId": dep_id,
            "service": name,
            "cluster": service.cluster_name,
            "taskDefinition": primary.get("taskDefinition"),
            "decidedAt": now,
        }
    )


def _complete(backend: Any, service: Any, primary: dict[str, Any], due: float) -> None:
    """`primary` completed at `due`: its tasks run, every older deployment is drained."""
    rollouts: dict[str, _Rollout] = getattr(service, _ROLLOUTS)
    rollout = rollouts.get(primary["id"]) or _Rollout(due, ())
    name, dep_id = service.name, primary["id"]
    desired = int(primary.get("desiredCount") or 0)
    primary["updatedAt"] = _utc(due)
    primary.update(
        rolloutState="COMPLETED",
        rolloutStateReason=f"ECS deployment {dep_id} completed.",
        runningCount=desired,
        pendingCount=0,
    )
    rollout.task_ids = _new_task_ids(desired)
    stopped: list[str] = []
    for d in service.deployments:
        if d is not primary:
            old = rollouts.pop(d["id"], None)
            if old is not None and int(d.get("runningCount") or 0) > 0:
                stopped.extend(old.task_ids)
    service.deployments[:] = [primary]
    messages = []
    if rollout.task_ids:
        messages.append(
            f"(service {name}) has started {len(rollout.task_ids)} tasks: "
            f"{_tasks_text(rollout.task_ids)}."
        )
    if stopped:
        messages.append(
            f"(service {name}) has stopped {len(stopped)} running tasks: "
            f"{_tasks_text(stopped)}."
        )
    messages.append(f"(service {name}) (deployment {dep_id}) deployment completed.")
    messages.append(f"(service {name}) has reached a steady state.")
    _add_events(service, due, messages)
    _sync_counts(backend, service)


def _start_deployment(backend: Any, service: Any, now: float) -> dict[str, Any]:
    ts = _utc(now)
    previous = _primary(service) or {}
    for d in service.deployments:
        if d.get("status") == "PRIMARY":
            d["status"] = "ACTIVE"
            d["updatedAt"] = ts
    dep_id = _new_deployment_id()
    desired = int(service.desired_count or 0)
    deployment = {
        "id": dep_id,
        "status": "PRIMARY",
        "taskDefinition": service.task_definition,
        "desiredCount": desired,
        "pendingCount": desired,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": ts,
        "updatedAt": ts,
        "launchType": service.launch_type,
        "platformVersion": service.platform_version,
        "platformFamily": previous.get("platformFamily"),
        "networkConfiguration": service.network_configuration or None,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": f"ECS deployment {dep_id} in progress.",
    }
    service.deployments.insert(0, deployment)
    getattr(service, _ROLLOUTS)[dep_id] = _Rollout(now, _images(backend, service.task_definition))
    return deployment


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def install(config: Config | None = None) -> None:
    """Patch moto's ECS models in this process (idempotent; config may be replaced)."""
    global _CONFIG, _INSTALLED
    if config is not None:
        _CONFIG = config
    if _INSTALLED:
        return
    from moto.core.utils import utcnow
    from moto.ecs import models as m
    from moto.ecs.responses import EC2ContainerServiceResponse as Response
    from moto.utilities.utils import get_partition

    Backend = m.EC2ContainerServiceBackend
    global _SD
    import types

    import moto_service_deployments

    _SD = moto_service_deployments.install(
        Backend,
        Response,
        types.SimpleNamespace(
            lock=_LOCK,
            utc=_utc,
            random=_random,
            patterns=lambda: _CONFIG.patterns(),
            images=_images,
            complete=_complete,
            add_events=_add_events,
            sync_counts=_sync_counts,
        ),
    )
    orig_td_init = m.TaskDefinition.__init__
    orig_describe_td = Backend.describe_task_definition
    orig_create = Backend.create_service
    orig_update = Backend.update_service
    orig_describe = Backend.describe_services
    orig_list = Backend.list_services
    # EC2ContainerServiceResponse.dispatch (moto's Flask view for ECS) does
    # cls()._dispatch(request) -> setup_class(request) + call_action(): once per HTTP request.
    orig_dispatch = Response._dispatch
    orig_call_action = Response.call_action

    def dispatch_(self: Any, *args: Any, **kwargs: Any) -> Any:
        setattr(self, _ARRIVED, time.time())
        return orig_dispatch(self, *args, **kwargs)

    def call_action(self: Any) -> Any:
        t = getattr(self, _ARRIVED, None)
        t = time.time() if t is None else t
        try:
            action = self._get_action() or ""
        except Exception:
            action = ""
        body = getattr(self, "body", None)
        fault = _fault(action, body)
        if _CONFIG.log_path:
            record = _call_record(t, action, body)
            if fault is not None:
                record["fault"] = fault[0]
            _log(record)
        if fault is not None:
            code, message = fault
            headers = {
                "status": 400,
                "Content-Type": "application/x-amz-json-1.1",
                "x-amzn-ErrorType": code,
            }
            return 400, headers, json.dumps({"__type": code, "message": message})
        return orig_call_action(self)

    def td_init(self: Any, *args: Any, **kwargs: Any) -> None:
        orig_td_init(self, *args, **kwargs)
        self.registered_at = utcnow()
        # arn:<partition>:ecs:<region>:<account>:task-definition/<family>:<rev>
        parts = self.arn.split(":")
        self.registered_by = f"arn:{parts[1]}:iam::{parts[4]}:root"

    def describe_task_definition(self: Any, task_definition_str: str) -> Any:
        name = task_definition_str.split("/")[-1]
        if ":" not in name:
            active = [
                rev
                for rev, td in self.task_definitions.get(name, {}).items()
                if td.status == "ACTIVE"
            ]
            if active:
                return self.task_definitions[name][max(active)]
            raise m.TaskDefinitionNotFoundException()
        return orig_describe_td(self, task_definition_str)

    def create_service(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            service = orig_create(self, *args, **kwargs)
            if service.deployment_controller.get("type", "ECS") != "ECS" or not service.deployments:
                return service
            now = time.time()
            ts = _utc(now)
            dep_id = _new_deployment_id()
            desired = int(service.desired_count or 0)
            service.deployments[0].update(
                id=dep_id,
                status="PRIMARY",
                taskDefinition=service.task_definition,
                desiredCount=desired,
                runningCount=desired,
                pendingCount=0,
                failedTasks=0,
                createdAt=ts,
                updatedAt=ts,
                rolloutState="COMPLETED",
                rolloutStateReason=f"ECS deployment {dep_id} completed.",
            )
            rollout = _Rollout(now, _images(self, service.task_definition), _new_task_ids(desired))
            setattr(service, _ROLLOUTS, {dep_id: rollout})
            name = service.name
            messages = []
            if rollout.task_ids:
                messages.append(
                    f"(service {name}) has started {desired} tasks: {_tasks_text(rollout.task_ids)}."
                )
            messages.append(f"(service {name}) (deployment {dep_id}) deployment completed.")
            messages.append(f"(service {name}) has reached a steady state.")
            _add_events(service, now, messages)
            _sync_counts(self, service)
            _SD.on_create(service, now)
            return service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        props = dict(service_properties)
        service_ref = props.get("service")
        if not service_ref:
            return orig_update(self, service_properties)
        with _LOCK:
            service = self._get_service(props.get("cluster", "default"), service_ref.split("/")[-1])
            if not _managed(service):
                return orig_update(self, service_properties)
            now = time.time()
            _evaluate(self, service, now)
            _SD.evaluate(self, service, now)
            # moto's own forceNewDeployment only re-stamps deployments[0]; we do it properly.
            force = _truthy(props.pop("force_new_deployment", False))
            td_str = props.get("task_definition")
            new_td = self.describe_task_definition(td_str) if td_str else None
            previous_td = service.task_definition
            old_running, old_pending = service.running_count, service.pending_count
            desired_given = props.get("desired_count") is not None
            orig_update(self, props)
            if not desired_given:
                # moto subtracted the service's counts from the cluster and only re-adds them
                # when desiredCount is given; restore "cluster includes the service's counts".
                cluster = self._get_cluster(service.cluster_arn)
                self.update_cluster_resources(cluster, old_running, task_state="RUNNING")
                self.update_cluster_resources(cluster, old_pending, task_state="PENDING")
            if new_td is not None:
                service.task_definition = new_td.arn
            primary = _primary(service)
            if primary is not None and desired_given:
                desired = int(service.desired_count or 0)
                primary["desiredCount"] = desired
                if primary.get("rolloutState") == "COMPLETED":
                    primary.update(runningCount=desired, pendingCount=0)
                elif primary.get("rolloutState") == "IN_PROGRESS":
                    primary["pendingCount"] = max(desired - int(primary.get("runningCount") or 0), 0)
                primary["updatedAt"] = _utc(now)
            if force or (new_td is not None and new_td.arn != previous_td):
                previous = _primary(service)
                started = _start_deployment(self, service, now)
                _SD.on_deployment(self, service, started, previous, now)
            _sync_counts(self, service)
            return service

    def describe_services(self: Any, cluster_str: str, names: list[str]) -> Any:
        with _LOCK:
            services, failures = orig_describe(self, cluster_str, names)
            now = time.time()
            for service in services:
                _evaluate(self, service, now)
                _SD.evaluate(self, service, now)
            return services, failures

    def list_services(self: Any, cluster_str: str, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            cluster = self._get_cluster(cluster_str)
            now = time.time()
            for service in list(self.services.values()):
                if service.cluster_name == cluster.name:
                    _evaluate(self, service, now)
                    _SD.evaluate(self, service, now)
            return orig_list(self, cluster_str, *args, **kwargs)

    m.TaskDefinition.__init__ = td_init
    Backend.describe_task_definition = describe_task_definition
    Backend.create_service = create_service
    Backend.update_service = update_service
    Backend.describe_services = describe_services
    Backend.list_services = list_services
    Response._dispatch = dispatch_
    Response.call_action = call_action
    _INSTALLED = True


# ---------------------------------------------------------------------------------------------
# Tasks that stop (RunTask, for migrations): see "Tasks that stop" in the module docstring.
# Kept apart from the service deployments above: its own config, state and install_tasks().
# ---------------------------------------------------------------------------------------------

ENV_TASK_SECONDS = "MOTO_ECS_TASK_SECONDS"
ENV_TASK_EXIT_FILE = "MOTO_ECS_TASK_EXIT_FILE"
TASK_STOPPED_REASON = "Essential container in task exited"
_TASK = "_moto_launcher_task"  # attribute on moto's Task objects: a _RunTask


@dataclass(frozen=True)
class TaskConfig:
    seconds: float = 0.5
    exit_file: str | None = None

    @staticmethod
    def from_env(env: Any = None) -> "TaskConfig":
        env = os.environ if env is None else env
        raw = env.get(ENV_TASK_SECONDS, "").strip()
        try:
            seconds = float(raw) if raw else 0.5
        except ValueError:
            _die(f"{ENV_TASK_SECONDS}={raw!r} is not a number")
        if not math.isfinite(seconds) or seconds < 0:
            _die(f"{ENV_TASK_SECONDS}={raw!r} must be a finite number >= 0")
        return TaskConfig(seconds, env.get(ENV_TASK_EXIT_FILE) or None)

    def exit_for(self, command: str) -> tuple[int | None, str | None]:
        """(exit code, log line) for a task running `command`: the exit file's first match;
        code None: the task hangs."""
        if not self.exit_file:
            return 0, None
        try:
            with open(self.exit_file, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return 0, None
        for line in lines:
            fields = line.strip().split(None, 2)
            if len(fields) < 2 or fields[0].startswith("#"):
                continue
            try:
                pattern = re.compile(fields[0])
                code = None if fields[1] == "hang" else int(fields[1])
            except (re.error, ValueError):
                continue
            if pattern.search(command):
                return code, (fields[2] if len(fields) > 2 else None)
        return 0, None


@dataclass
class _RunTask:
    """Launcher-private bookkeeping of one RunTask task (never serialized)."""

    started: float
    command: list[str]  # effective command of its first essential container
    container: str  # that container's name
    stopped: bool = False


_TASK_CONFIG = TaskConfig()
_TASKS_INSTALLED = False


def _container_defs(backend: Any, task: Any) -> list[dict[str, Any]]:
    try:
        td = backend.describe_task_definition(task.task_definition_arn)
    except Exception:
        return []
    return list(td.container_definitions or [])


def _effective_command(defs: list[dict[str, Any]], overrides: dict[str, Any]) -> tuple[str, list[str]]:
    """(container, command) of the first essential container: its override, else its definition's."""
    main = next((d for d in defs if d.get("essential", True) is not False), defs[0] if defs else {})
    name = main.get("name") or ""
    command = list(main.get("command") or [])
    for o in (overrides or {}).get("containerOverrides") or []:
        if o.get("name") == name and o.get("command") is not None:
            command = list(o["command"])
    return name, command


def _task_logs(backend: Any, task: Any, definition: dict[str, Any], lines: list[str], when: float) -> None:
    """Write `lines` to the container's awslogs stream, if it has one (see the docstring)."""
    config = definition.get("logConfiguration") or {}
    options = config.get("options") or {}
    group, prefix = options.get("awslogs-group"), options.get("awslogs-stream-prefix")
    if config.get("logDriver") != "awslogs" or not group or not prefix:
        return
    from moto.logs.models import logs_backends

    region = options.get("awslogs-region") or task.region_name
    logs = logs_backends[backend.account_id][region]
    stream = f"{prefix}/{definition.get('name')}/{task.id}"
    try:
        if group not in logs.groups:
            logs.create_log_group(group, {})
        logs.ensure_log_stream(group, stream)
        stamp = int(when * 1000)
        logs.put_log_events(group, stream, [{"timestamp": stamp + i, "message": m} for i, m in enumerate(lines)])
    except Exception as e:  # a log that cannot be written must not break ECS
        print(f"moto_launcher: cannot write log stream {group}/{stream}: {e}", file=sys.stderr, flush=True)


def _task_settle(backend: Any, task: Any, now: float) -> None:
    """Stop a RunTask task whose time has come (once)."""
    state: _RunTask | None = getattr(task, _TASK, None)
    if state is None or state.stopped or now < state.started + _TASK_CONFIG.seconds:
        return
    code, message = _TASK_CONFIG.exit_for(" ".join(state.command))
    if code is None:
        return  # hangs until StopTask
    state.stopped = True
    due = state.started + _TASK_CONFIG.seconds
    task.last_status = "STOPPED"
    task.desired_status = "STOPPED"
    task.stopped_reason = TASK_STOPPED_REASON
    task.stop_code = "EssentialContainerExited"
    task.stopping_at = task.stopped_at = task.execution_stopped_at = _utc(due)
    for c in task.containers:
        c.last_status = "STOPPED"
        c.exitCode = code if c.name == state.container else 0
    defs = {d.get("name"): d for d in _container_defs(backend, task)}
    if state.container in defs:
        lines = [f"$ {' '.join(state.command)}"] + ([message] if message else []) + [f"exit {code}"]
        _task_logs(backend, task, defs[state.container], lines, due)
    _log({"t": due, "kind": "task", "event": "stopped", "taskArn": task.task_arn,
          "exitCode": code, "stopCode": "EssentialContainerExited"})


def install_tasks(config: TaskConfig | None = None) -> None:
    """Patch moto's ECS RunTask/DescribeTasks/ListTasks/StopTask (idempotent)."""
    global _TASK_CONFIG, _TASKS_INSTALLED
    if config is not None:
        _TASK_CONFIG = config
    if _TASKS_INSTALLED:
        return
    from moto.ecs import models as m

    Backend = m.EC2ContainerServiceBackend
    orig_run = Backend.run_task
    orig_describe = Backend.describe_tasks
    orig_list = Backend.list_tasks
    orig_stop = Backend.stop_task

    def run_task(self: Any, cluster_str: str, task_definition_str: str, count: int,
                 overrides: Any, started_by: str, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            tasks = orig_run(self, cluster_str, task_definition_str, count, overrides, started_by, *args, **kwargs)
            now = time.time()
            for task in tasks:
                defs = _container_defs(self, task)
                containers = []
                for d in defs:
                    c = m.Container(self.describe_task_definition(task.task_definition_arn))
                    c.name, c.image, c.command = d.get("name"), d.get("image"), d.get("command")
                    c.last_status, c.exitCode = "RUNNING", None
                    containers.append(c)
                if containers:
                    task.containers = containers
                # A state machine without transitions: the status changes only here.
                task._transitions = []
                task.last_status = "RUNNING"
                task.stop_code = None
                name, command = _effective_command(defs, overrides or {})
                setattr(task, _TASK, _RunTask(now, command, name))
                overridden = any(
                    o.get("name") == name and o.get("command") is not None
                    for o in (overrides or {}).get("containerOverrides") or []
                )
                _log({"t": now, "kind": "task", "event": "run", "taskArn": task.task_arn,
                      "cluster": task.cluster_name, "taskDefinition": task.task_definition_arn,
                      "startedBy": started_by or "", "command": command, "overridden": overridden})
            return tasks

    def describe_tasks(self: Any, cluster_str: str, tasks: list[str]) -> Any:
        with _LOCK:
            found = orig_describe(self, cluster_str, tasks)
            now = time.time()
            for task in found:
                _task_settle(self, task, now)
            return found

    def list_tasks(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            now = time.time()
            for cluster_tasks in self.tasks.values():
                for task in cluster_tasks.values():
                    _task_settle(self, task, now)
            return orig_list(self, *args, **kwargs)

    def stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
        with _LOCK:
            task = orig_stop(self, cluster_str, task_str, reason)
            state: _RunTask | None = getattr(task, _TASK, None)
            if state is not None and not state.stopped:
                state.stopped = True
                task.stop_code = "UserInitiated"
                task.stopping_at = task.stopped_at = _utc(time.time())
                for c in task.containers:
                    c.last_status, c.exitCode = "STOPPED", None
                _log({"t": time.time(), "kind": "task", "event": "stopped", "taskArn": task.task_arn,
                      "exitCode": None, "stopCode": "UserInitiated"})
            return task

    Backend.run_task = run_task
    Backend.describe_tasks = describe_tasks
    Backend.list_tasks = list_tasks
    Backend.stop_task = stop_task
    _TASKS_INSTALLED = True


CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/"


def _from_cbor(value: Any) -> Any:
    """A decoded CBOR value as JSON: timestamps to epoch seconds, bytes to base64."""
    if isinstance(value, dict):
        return {k: _from_cbor(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_cbor(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(value).decode()
    return value


def _to_cbor(value: Any, key: str = "") -> Any:
    """Moto's JSON answer for CBOR: `*Timestamp` members as datetimes (tag 1 when encoded)."""
    if isinstance(value, dict):
        return {k: _to_cbor(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cbor(v, key) for v in value]
    if key.endswith("Timestamp") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    return value


def install_cbor() -> None:
    """Serve CloudWatch's RPC v2 CBOR requests through moto's JSON protocol (see above)."""
    import io

    import cbor2
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication as App

    orig_call = App.__call__

    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(CBOR_PATH):
            return orig_call(self, environ, start_response)
        operation = path[len(CBOR_PATH):]
        if _CONFIG.log_path:
            scope = re.search(r"Credential=[^/]+/\d+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
            _log({"t": time.time(), "kind": "call", "api": "cloudwatch", "action": operation,
                  "region": scope.group(1) if scope else None})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        request = _from_cbor(cbor2.loads(raw)) if raw else {}
        data = json.dumps(request).encode()
        environ = dict(environ)
        environ.update(
            {
                "PATH_INFO": "/",
                "CONTENT_TYPE": "application/x-amz-json-1.0",
                "HTTP_X_AMZ_TARGET": f"GraniteServiceVersion20100801.{operation}",
                "CONTENT_LENGTH": str(len(data)),
                "wsgi.input": io.BytesIO(data),
            }
        )
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = status, headers
            return lambda chunk: None

        body = b"".join(orig_call(self, environ, capture))
        payload = json.loads(body) if body.strip() else {}
        encoded = cbor2.dumps(_to_cbor(payload), datetime_as_timestamp=True, timezone=datetime.timezone.utc)
        headers = [
            (k, v)
            for k, v in answer.get("headers", [])
            if k.lower() not in ("content-type", "content-length")
        ]
        headers += [
            ("Content-Type", "application/cbor"),
            ("Content-Length", str(len(encoded))),
            ("smithy-protocol", "rpc-v2-cbor"),
        ]
        start_response(answer.get("status", "500 INTERNAL SERVER ERROR"), headers)
        return [encoded]

    App.__call__ = call


def main(argv: list[str] | None = None) -> None:
    config = Config.from_env()
    install(config)
    task_config = TaskConfig.from_env()
    install_tasks(task_config)
    install_cbor()
    print(
        f"moto_launcher: RunTask tasks stop ({ENV_TASK_SECONDS}={task_config.seconds}, "
        f"{ENV_TASK_EXIT_FILE}={task_config.exit_file!r})",
        file=sys.stderr,
        flush=True,
    )
    print(
        f"moto_launcher: ECS rollouts enabled ({ENV_DEPLOY_SECONDS}={config.deploy_seconds}, "
        f"{ENV_FAIL_IMAGE}={config.fail_image.pattern if config.fail_image else None!r}, "
        f"{ENV_FAIL_FILE}={config.fail_file!r}, {ENV_LOG}={config.log_path!r}, "
        f"{ENV_FAULTS_FILE}={config.faults_file!r})",
        file=sys.stderr,
        flush=True,
    )
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
