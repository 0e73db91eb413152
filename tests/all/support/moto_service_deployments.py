"""Service deployments for the test launcher: ECS's own rolling, blue/green, canary and linear
strategies, followed through the service-deployment API.

Why this exists
===============
Moto 5.2.5 has no service-deployment API (``ListServiceDeployments``,
``DescribeServiceDeployments``, ``DescribeServiceRevisions``, ``StopServiceDeployment``,
``ContinueServiceDeployment``) and ignores ``deploymentConfiguration.strategy``. The release
agent deploys with ECS's native strategies and follows them through that API, so
``moto_launcher.py`` installs this module into moto's ECS backend. Requests are still parsed and
answers serialized by moto (from botocore's ECS model, which has these operations); only the
state machine below is ours. It is a model of the documented behaviour, kept small; the
launcher's self-test (``moto_launcher_selftest.py``) checks it against boto3.

Environment (read at launch)
============================
``MOTO_ECS_STAGE_SECONDS``   float >= 0, default ``0.2``: how long each lifecycle stage of a
                             blue/green, canary or linear deployment lasts.
``MOTO_ECS_MINUTE_SECONDS``  float > 0, default ``1.0``: how long one "minute" of ECS's
                             minute-valued settings lasts (``bakeTimeInMinutes``,
                             ``canaryBakeTimeInMinutes``, ``stepBakeTimeInMinutes``, a hook's
                             ``timeoutInMinutes``), so tests can use them in seconds.

What it models
==============
* Every service gets a *service revision* (``arn:...:service-revision/<cluster>/<service>/<id>``,
  with its ``taskDefinition``) at ``CreateService`` and at each new deployment.
* Each deployment that ``UpdateService`` starts (see the launcher's "What changes in ECS") gets
  a *service deployment* (``arn:...:service-deployment/<cluster>/<service>/<id>``) with
  ``status``, ``lifecycleStage``, ``targetServiceRevision`` (with
  ``requestedProductionTrafficWeight``), ``sourceServiceRevisions``, the
  ``deploymentConfiguration`` it was started with, ``rollback``, ``alarms`` and
  ``lifecycleHookDetails``. A newer one stops an older one still in progress (``STOPPED``,
  "superseded").
* ``ROLLING`` (the default): the service deployment mirrors the launcher's rolling deployment:
  ``SUCCESSFUL`` when it completes, ``STOPPED`` with the failure as ``statusReason`` when it
  fails (the launcher never rolls a rolling deployment back). No stages.
* ``BLUE_GREEN``, ``CANARY``, ``LINEAR``: the launcher's rolling decision is not used. The
  deployment walks its stages, each ``MOTO_ECS_STAGE_SECONDS`` long: ``PRE_SCALE_UP``,
  ``SCALE_UP``, ``POST_SCALE_UP``, ``TEST_TRAFFIC_SHIFT``, ``POST_TEST_TRAFFIC_SHIFT``, then
  ``PRODUCTION_TRAFFIC_SHIFT`` (blue/green: one shift to 100%; canary: ``canaryPercent`` for one
  stage plus ``canaryBakeTimeInMinutes``, then 100%; linear: ``stepPercent`` steps, each plus
  ``stepBakeTimeInMinutes``), ``POST_PRODUCTION_TRAFFIC_SHIFT``, ``BAKE_TIME``
  (``bakeTimeInMinutes``), ``CLEAN_UP``, then ``SUCCESSFUL``: the rolling deployment record
  completes as the launcher's would (older ones drained, the usual events).
* A failure pattern (``MOTO_ECS_FAIL_IMAGE``/``MOTO_ECS_FAIL_FILE``) matching the new image
  fails it at the end of ``SCALE_UP``; an alarm of ``deploymentConfiguration.alarms`` (with
  ``enable`` and ``rollback``) in state ``ALARM`` in moto's CloudWatch fails it at any moment
  (``alarms.triggeredAlarmNames``). Either starts an automatic rollback.
* A ``PAUSE`` lifecycle hook (``targetType=PAUSE``) at a stage holds the deployment at the end of
  that stage with a ``lifecycleHookDetails`` entry ``AWAITING_ACTION`` (``hookId``,
  ``expiresAt`` = ``timeoutInMinutes``, default 1440, ``timeoutAction``, default
  ``ROLLBACK``) until ``ContinueServiceDeployment`` (``CONTINUE``: the next stage starts then;
  ``ROLLBACK``) or the timeout (``TIMED_OUT``, then the timeout action). Lambda hooks
  (``AWS_LAMBDA``) are not run: nothing here runs functions; they succeed at once.
* Rollback (automatic, ``StopServiceDeployment`` with ``stopType=ROLLBACK``, the default, or a
  hook's): ``ROLLBACK_IN_PROGRESS`` for two stage lengths, then ``ROLLBACK_SUCCESSFUL``, with
  ``rollback.reason``/``startedAt``/``serviceRevisionArn``; ``lifecycleStage`` keeps the stage
  it failed in. The service is then back on the source revision's task definition, whose
  rolling deployment record is PRIMARY and ``COMPLETED`` again. ``stopType=ABORT``:
  ``STOPPED`` where it stands. Stopping a deployment that is not in progress is an
  ``InvalidParameterException``.
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

ENV_STAGE_SECONDS = "MOTO_ECS_STAGE_SECONDS"
ENV_MINUTE_SECONDS = "MOTO_ECS_MINUTE_SECONDS"

NATIVE = ("BLUE_GREEN", "CANARY", "LINEAR")
ACTIVE = ("PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "STOP_REQUESTED")
SETUP_STAGES = ["PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT"]

_SDS = "_moto_launcher_service_deployments"  # on moto's Service: newest first
_REVISION = "_moto_launcher_revision"  # on moto's Service: its current revision ARN


def _number(env: Any, name: str, default: float, positive: bool) -> float:
    raw = (env.get(name) or "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        print(f"moto_launcher: {name}={raw!r} must be a finite number {'>' if positive else '>='} 0",
              file=sys.stderr, flush=True)
        sys.exit(2)
    return value


@dataclass
class _Stage:
    name: str
    seconds: float
    weight: float  # production traffic on the new revision during the stage


@dataclass
class _State:
    """Private bookkeeping of one service deployment (never serialized)."""

    service: Any
    record: dict[str, Any]  # the API shape, served as is
    legacy_id: str  # the rolling deployment record it drives (or mirrors)
    source_td: str | None
    source_legacy: dict[str, Any] | None  # the record that was PRIMARY before it
    native: bool
    stages: list[_Stage] = field(default_factory=list)
    position: int = 0
    stage_started: float = 0.0
    rollback_done: float | None = None
    passed_hooks: set[str] = field(default_factory=set)


class ServiceDeployments:
    """The model, installed into moto's ECS backend by :func:`install`."""

    def __init__(self, api: Any, env: Any = None) -> None:
        env = os.environ if env is None else env
        self.stage_seconds = _number(env, ENV_STAGE_SECONDS, 0.2, False)
        self.minute = _number(env, ENV_MINUTE_SECONDS, 1.0, True)
        self.api = api  # the launcher's helpers: lock, utc, random, patterns, complete, add_events, sync_counts
        self.states: dict[str, _State] = {}
        self.revisions: dict[str, dict[str, Any]] = {}

    # -- revisions and service deployments -----------------------------------------------

    def _arn(self, service: Any, kind: str, ident: str) -> str:
        parts = service.arn.split(":")  # arn:aws:ecs:<region>:<account>:service/<cluster>/<name>
        return f"arn:{parts[1]}:ecs:{parts[3]}:{parts[4]}:{kind}/{service.cluster_name}/{service.name}/{ident}"

    def _revision(self, service: Any, now: float) -> str:
        arn = self._arn(service, "service-revision", str(self.api.random().randint(10**18, 10**19 - 1)))
        self.revisions[arn] = {
            "serviceRevisionArn": arn,
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "taskDefinition": service.task_definition,
            "launchType": service.launch_type,
            "platformVersion": service.platform_version,
            "createdAt": self.api.utc(now),
        }
        setattr(service, _REVISION, arn)
        return arn

    def on_create(self, service: Any, now: float) -> None:
        self._revision(service, now)
        setattr(service, _SDS, [])

    def drives(self, service: Any, legacy_id: str) -> bool:
        """Whether the rolling record `legacy_id` is decided here, not by the launcher's timer."""
        return any(s.legacy_id == legacy_id and s.native for s in self._of(service))

    def _of(self, service: Any) -> list[_State]:
        return [self.states[r["serviceDeploymentArn"]] for r in getattr(service, _SDS, [])]

    def on_deployment(self, backend: Any, service: Any, legacy: dict[str, Any], previous: dict[str, Any] | None, now: float) -> None:
        """A new deployment started: its service deployment, stopping an older one."""
        if not hasattr(service, _SDS):
            self.on_create(service, now)
        for s in self._of(service):
            if s.record["status"] in ACTIVE:
                self._finish(s, "STOPPED", now, "Superseded by a newer deployment.")
        source = getattr(service, _REVISION, None)
        source_td = self.revisions.get(source, {}).get("taskDefinition") if source else None
        target = self._revision(service, now)
        config = copy.deepcopy(getattr(service, "deployment_configuration", None) or {})
        strategy = str(config.get("strategy") or "ROLLING")
        ident = "".join(self.api.random().choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(20))
        arn = self._arn(service, "service-deployment", ident)
        desired = int(service.desired_count or 0)
        alarms = config.get("alarms") or {}
        record: dict[str, Any] = {
            "serviceDeploymentArn": arn,
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "createdAt": self.api.utc(now),
            "startedAt": self.api.utc(now),
            "updatedAt": self.api.utc(now),
            "status": "IN_PROGRESS",
            "targetServiceRevision": {
                "arn": target,
                "requestedTaskCount": desired,
                "runningTaskCount": 0,
                "pendingTaskCount": desired,
                "requestedProductionTrafficWeight": 0.0,
                "requestedTestTrafficWeight": 0.0,
            },
            "sourceServiceRevisions": [
                {"arn": source, "requestedTaskCount": desired, "runningTaskCount": desired, "pendingTaskCount": 0,
                 "requestedProductionTrafficWeight": 100.0}
            ] if source else [],
            "deploymentConfiguration": config,
            "alarms": {
                "status": "MONITORING" if alarms.get("enable") else "DISABLED",
                "alarmNames": list(alarms.get("alarmNames") or []),
                "triggeredAlarmNames": [],
            },
        }
        state = _State(service, record, legacy["id"], source_td, previous, strategy in NATIVE, stage_started=now)
        if state.native:
            state.stages = self._stages(strategy, config)
            record["lifecycleStage"] = state.stages[0].name
        self.states[arn] = state
        getattr(service, _SDS).insert(0, record)

    def _stages(self, strategy: str, config: dict[str, Any]) -> list[_Stage]:
        step = self.stage_seconds
        stages = [_Stage(name, step, 0.0) for name in SETUP_STAGES]
        if strategy == "CANARY":
            canary = config.get("canaryConfiguration") or {}
            percent = float(canary.get("canaryPercent") or 5.0)
            bake = float(canary.get("canaryBakeTimeInMinutes") or 0) * self.minute
            stages.append(_Stage("PRODUCTION_TRAFFIC_SHIFT", step + bake, percent))
            stages.append(_Stage("PRODUCTION_TRAFFIC_SHIFT", step, 100.0))
        elif strategy == "LINEAR":
            linear = config.get("linearConfiguration") or {}
            percent = max(float(linear.get("stepPercent") or 10.0), 1.0)
            bake = float(linear.get("stepBakeTimeInMinutes") or 0) * self.minute
            weight = 0.0
            while weight < 100.0:
                weight = min(100.0, weight + percent)
                stages.append(_Stage("PRODUCTION_TRAFFIC_SHIFT", step + (bake if weight < 100.0 else 0.0), weight))
        else:
            stages.append(_Stage("PRODUCTION_TRAFFIC_SHIFT", step, 100.0))
        stages.append(_Stage("POST_PRODUCTION_TRAFFIC_SHIFT", step, 100.0))
        bake = float(config.get("bakeTimeInMinutes") or 0) * self.minute
        stages.append(_Stage("BAKE_TIME", bake, 100.0))
        stages.append(_Stage("CLEAN_UP", step, 100.0))
        return stages

    # -- progress ------------------------------------------------------------------------

    def evaluate(self, backend: Any, service: Any, now: float) -> None:
        """Move the service's deployments on to `now` (lazily, like the launcher's)."""
        for state in self._of(service):
            if state.record["status"] in ACTIVE:
                self._advance(backend, state, now)

    def _advance(self, backend: Any, s: _State, now: float) -> None:
        r = s.record
        if r["status"] == "STOP_REQUESTED":
            self._finish(s, "STOPPED", now, "Stopped by request.")
            return
        if r["status"] in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"):
            r["status"] = "ROLLBACK_IN_PROGRESS"
            if s.rollback_done is not None and now >= s.rollback_done:
                self._rolled_back(backend, s, s.rollback_done)
            return
        if not s.native:
            legacy = self._legacy(s)
            state = (legacy or {}).get("rolloutState")
            if state == "COMPLETED":
                self._finish(s, "SUCCESSFUL", now, None)
            elif state == "FAILED":
                self._finish(s, "STOPPED", now, (legacy or {}).get("rolloutStateReason"))
            elif legacy is None:
                self._finish(s, "STOPPED", now, "Superseded by a newer deployment.")
            return
        fired = self._firing_alarms(s)
        if fired:
            r["alarms"]["status"] = "TRIGGERED"
            r["alarms"]["triggeredAlarmNames"] = fired
            self._start_rollback(s, now, f"Alarm(s) {', '.join(fired)} went into ALARM state.")
            return
        hook = self._awaiting(s)
        if hook is not None:
            expires = hook["_expires"]
            if now < expires:
                return
            hook["status"] = "TIMED_OUT"
            if hook.get("timeoutAction", "ROLLBACK") == "ROLLBACK":
                self._start_rollback(s, expires, f"Lifecycle hook {hook['hookId']} timed out.")
                return
            self._next_stage(s, expires)
        while s.position < len(s.stages):
            stage = s.stages[s.position]
            end = s.stage_started + stage.seconds
            if now < end:
                break
            if stage.name == "SCALE_UP":
                images = self.api.images(backend, s.service.task_definition)
                if any(p.search(i) for i in images for p in self.api.patterns()):
                    self._start_rollback(s, end, "ECS deployment circuit breaker: tasks failed to start.")
                    return
            if self._pause(s, stage.name, end):
                return
            self._next_stage(s, end)
        if s.position >= len(s.stages):
            when = s.stage_started
            legacy = self._legacy(s)
            if legacy is not None:
                self.api.complete(backend, s.service, legacy, when)
            self._finish(s, "SUCCESSFUL", when, None)

    def _next_stage(self, s: _State, when: float) -> None:
        s.position += 1
        s.stage_started = when
        r = s.record
        r["updatedAt"] = self.api.utc(when)
        r.pop("lifecycleHookDetails", None)
        if s.position < len(s.stages):
            stage = s.stages[s.position]
            r["lifecycleStage"] = stage.name
            target = r["targetServiceRevision"]
            target["requestedProductionTrafficWeight"] = stage.weight
            if stage.name in ("TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT"):
                target["requestedTestTrafficWeight"] = 100.0
            if s.position > SETUP_STAGES.index("SCALE_UP"):
                target.update(runningTaskCount=target["requestedTaskCount"], pendingTaskCount=0)
            for source in r["sourceServiceRevisions"]:
                source["requestedProductionTrafficWeight"] = 100.0 - stage.weight

    def _hooks(self, s: _State, stage: str) -> list[dict[str, Any]]:
        hooks = s.record["deploymentConfiguration"].get("lifecycleHooks") or []
        return [h for h in hooks if stage in (h.get("lifecycleStages") or [])]

    def _pause(self, s: _State, stage: str, end: float) -> bool:
        """Hold at the end of `stage` for its first PAUSE hook not yet passed."""
        for i, hook in enumerate(self._hooks(s, stage)):
            key = f"{s.position}/{i}"
            if key in s.passed_hooks or (hook.get("targetType") or "AWS_LAMBDA") != "PAUSE":
                continue
            timeout = hook.get("timeoutConfiguration") or {}
            minutes = float(timeout.get("timeoutInMinutes") or 1440)
            expires = end + minutes * self.minute
            s.passed_hooks.add(key)
            s.record["lifecycleHookDetails"] = [
                {
                    "hookId": f"hook-{self.api.random().uuid4().hex[:12]}",
                    "targetType": "PAUSE",
                    "status": "AWAITING_ACTION",
                    "expiresAt": self.api.utc(expires),
                    "timeoutAction": timeout.get("action") or "ROLLBACK",
                    "_expires": expires,
                }
            ]
            s.record["updatedAt"] = self.api.utc(end)
            return True
        return False

    def _awaiting(self, s: _State) -> dict[str, Any] | None:
        for hook in s.record.get("lifecycleHookDetails") or []:
            if hook.get("status") == "AWAITING_ACTION":
                return hook
        return None

    def _firing_alarms(self, s: _State) -> list[str]:
        alarms = s.record["deploymentConfiguration"].get("alarms") or {}
        if not (alarms.get("enable") and alarms.get("rollback")):
            return []
        try:
            from moto.cloudwatch.models import cloudwatch_backends

            parts = s.service.arn.split(":")
            backend = cloudwatch_backends[parts[4]][parts[3]]
        except Exception:
            return []
        fired = []
        for name in alarms.get("alarmNames") or []:
            alarm = backend.alarms.get(name)
            if alarm is not None and alarm.state_value == "ALARM":
                fired.append(name)
        return fired

    def _legacy(self, s: _State) -> dict[str, Any] | None:
        for d in s.service.deployments:
            if d.get("id") == s.legacy_id:
                return d
        return None

    def _start_rollback(self, s: _State, when: float, reason: str) -> None:
        r = s.record
        r["status"] = "ROLLBACK_IN_PROGRESS"
        r["statusReason"] = reason
        r["updatedAt"] = self.api.utc(when)
        sources = r["sourceServiceRevisions"]
        r["rollback"] = {
            "reason": reason,
            "startedAt": self.api.utc(when),
            "serviceRevisionArn": sources[0]["arn"] if sources else None,
        }
        for hook in r.get("lifecycleHookDetails") or []:
            if hook.get("status") == "AWAITING_ACTION":
                hook["status"] = "FAILED"
        s.rollback_done = when + 2 * self.stage_seconds

    def _rolled_back(self, backend: Any, s: _State, when: float) -> None:
        service = s.service
        legacy = self._legacy(s)
        if s.source_td is not None:
            service.task_definition = s.source_td
            setattr(service, _REVISION, s.record["sourceServiceRevisions"][0]["arn"])
        if s.source_legacy is not None:
            s.source_legacy.update(status="PRIMARY", rolloutState="COMPLETED", updatedAt=self.api.utc(when))
            desired = int(s.source_legacy.get("desiredCount") or 0)
            s.source_legacy.update(runningCount=desired, pendingCount=0)
            service.deployments[:] = [s.source_legacy]
        elif legacy is not None:
            legacy.update(rolloutState="FAILED", rolloutStateReason=s.record.get("statusReason"))
        self.api.add_events(
            service, when,
            [f"(service {service.name}) (deployment {s.legacy_id}) deployment rolled back: {s.record.get('statusReason')}"],
        )
        self.api.sync_counts(backend, service)
        self._finish(s, "ROLLBACK_SUCCESSFUL", when, s.record.get("statusReason"))

    def _finish(self, s: _State, status: str, when: float, reason: str | None) -> None:
        r = s.record
        r["status"] = status
        if reason:
            r["statusReason"] = reason
        r["finishedAt"] = self.api.utc(when)
        r["updatedAt"] = self.api.utc(when)
        if status == "STOPPED":
            r["stoppedAt"] = self.api.utc(when)
        if r["alarms"]["status"] == "MONITORING":
            r["alarms"]["status"] = "MONITORING_COMPLETE"

    # -- the API -------------------------------------------------------------------------

    def _state(self, arn: str) -> _State:
        from moto.ecs.exceptions import InvalidParameterException

        state = self.states.get(arn or "")
        if state is None:
            raise InvalidParameterException(f"Service deployment {arn} does not exist.")
        return state

    @staticmethod
    def _public(record: dict[str, Any]) -> dict[str, Any]:
        out = dict(record)
        if "lifecycleHookDetails" in out:
            out["lifecycleHookDetails"] = [
                {k: v for k, v in h.items() if not k.startswith("_")} for h in out["lifecycleHookDetails"]
            ]
        return out

    def list(self, backend: Any, cluster: str, service_name: str, statuses: list[str] | None) -> list[dict[str, Any]]:
        service = backend._get_service(cluster or "default", (service_name or "").split("/")[-1])
        self.evaluate(backend, service, time.time())
        out = []
        for r in getattr(service, _SDS, []):
            if statuses and r["status"] not in statuses:
                continue
            out.append({
                k: r.get(k)
                for k in ("serviceDeploymentArn", "serviceArn", "clusterArn", "startedAt", "createdAt",
                          "finishedAt", "status", "statusReason")
                if r.get(k) is not None
            } | {"targetServiceRevisionArn": r["targetServiceRevision"]["arn"]})
        return out

    def describe(self, backend: Any, arns: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        found, failures = [], []
        now = time.time()
        for arn in arns or []:
            state = self.states.get(arn)
            if state is None:
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            self.evaluate(backend, state.service, now)
            found.append(self._public(state.record))
        return found, failures

    def describe_revisions(self, arns: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        found = [self.revisions[a] for a in arns or [] if a in self.revisions]
        failures = [{"arn": a, "reason": "MISSING"} for a in arns or [] if a not in self.revisions]
        return found, failures

    def stop(self, backend: Any, arn: str, stop_type: str | None) -> str:
        from moto.ecs.exceptions import InvalidParameterException

        s = self._state(arn)
        now = time.time()
        self.evaluate(backend, s.service, now)
        if s.record["status"] not in ("PENDING", "IN_PROGRESS"):
            raise InvalidParameterException(
                f"Service deployment {arn} is {s.record['status']}, not in progress: it cannot be stopped."
            )
        if (stop_type or "ROLLBACK") == "ABORT":
            self._finish(s, "STOPPED", now, "Stopped by request.")
        else:
            s.record["status"] = "ROLLBACK_REQUESTED"
            self._start_rollback(s, now, "Rollback requested by StopServiceDeployment.")
            s.record["status"] = "ROLLBACK_REQUESTED"
        return arn

    def resume(self, backend: Any, arn: str, hook_id: str, action: str | None) -> str:
        from moto.ecs.exceptions import InvalidParameterException

        s = self._state(arn)
        now = time.time()
        self.evaluate(backend, s.service, now)
        hook = self._awaiting(s)
        if hook is None or hook.get("hookId") != hook_id:
            raise InvalidParameterException(
                f"Service deployment {arn} has no lifecycle hook {hook_id} awaiting action."
            )
        if (action or "CONTINUE") == "ROLLBACK":
            hook["status"] = "FAILED"
            self._start_rollback(s, now, f"Rolled back at lifecycle hook {hook_id}.")
        else:
            hook["status"] = "SUCCEEDED"
            self._next_stage(s, now)
        return arn


def install(Backend: Any, Response: Any, api: Any) -> ServiceDeployments:
    """Add the service-deployment operations to moto's ECS responses; the model."""
    from moto.core.responses import ActionResult

    model = ServiceDeployments(api)

    def list_service_deployments(self: Any) -> Any:
        with api.lock:
            items = model.list(self.ecs_backend, self._get_param("cluster"), self._get_param("service"),
                               self._get_param("status"))
        return ActionResult({"serviceDeployments": items})

    def describe_service_deployments(self: Any) -> Any:
        with api.lock:
            found, failures = model.describe(self.ecs_backend, self._get_param("serviceDeploymentArns"))
        return ActionResult({"serviceDeployments": found, "failures": failures})

    def describe_service_revisions(self: Any) -> Any:
        with api.lock:
            found, failures = model.describe_revisions(self._get_param("serviceRevisionArns"))
        return ActionResult({"serviceRevisions": found, "failures": failures})

    def stop_service_deployment(self: Any) -> Any:
        with api.lock:
            arn = model.stop(self.ecs_backend, self._get_param("serviceDeploymentArn"), self._get_param("stopType"))
        return ActionResult({"serviceDeploymentArn": arn})

    def continue_service_deployment(self: Any) -> Any:
        with api.lock:
            arn = model.resume(self.ecs_backend, self._get_param("serviceDeploymentArn"),
                               self._get_param("hookId"), self._get_param("action"))
        return ActionResult({"serviceDeploymentArn": arn})

    Response.list_service_deployments = list_service_deployments
    Response.describe_service_deployments = describe_service_deployments
    Response.describe_service_revisions = describe_service_revisions
    Response.stop_service_deployment = stop_service_deployment
    Response.continue_service_deployment = continue_service_deployment
    return model
