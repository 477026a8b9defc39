"""One low-latency deployment on a pod host: its pod process, and the executions it runs.

A dispatcher thread takes execution pks from the deployment's Redis list (in
arrival order; Pending rows whose message was lost are found by a scan),
claims each Pending -> Running, stages its inputs, sends it to the pod and
records the result. Queue mode runs one at a time; parallel mode up to
max_parallel_executions_per_pod, in threads of ours waiting on the pod.

A pod that dies is started again: the executions it was running end Error
(over its RAM request), or are run once more right after the execution that
was next in line (any other death). A sync execution past its timeout ends
Failed and its pod is recycled.
"""

from __future__ import annotations

import collections
import itertools
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import F
from django.utils import timezone

from deployments.models import Deployment, DeploymentStatus
from executions.models import Execution, ExecutionStatus
from executions.services.lifecycle import (
    execution_claim,
    execution_error,
    execution_finish,
)
from executions.services.logs import LogSink
from executions.services.running import (
    UserInputError,
    _stage_inputs,
    _store_outputs,
    child_environment,
)
from executions.worker import ZYGOTE_ENV, get_sandbox
from platform_site.health import redis_client
from platform_site.units import ram_request_mib
from pods import services
from pods.models import Pod, PodStatus

logger = logging.getLogger(__name__)

POP_TIMEOUT_S = 1
# Pending rows older than this without a pop are taken from the database.
LOST_MESSAGE_AFTER_S = 2.0
# A coroutine is cancelled by the pod itself at its timeout; sync code is
# stopped by recycling the pod a little later.
TIMEOUT_GRACE_S = 1.0
RESTART_PAUSE_S = 0.5

POD_DIED = "The pod running this execution died ({how})"
POD_RETRY = "[platform] The pod running this execution died ({how}); it runs once more on a new pod."
OVER_RAM = "The pod exceeded its RAM request of {ram}"
TIMEOUT = "Execution timed out after {seconds} s (the pod was recycled to stop it)"
RECYCLED = "Pod recycled: execution {execution_id} ran past its timeout of {seconds} s."
NOT_STARTED = "The deployment's pod could not start: {reason}"


@dataclass
class InFlight:
    execution: Execution
    work_dir: Path
    sink: LogSink
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)
    report: dict | None = None
    died: str | None = None  # why the pod died under it
    retryable: bool = False
    timed_out: bool = False


def generation(deployment: Deployment) -> tuple:
    """What the pod depends on: a change recreates it."""
    return (
        deployment.pipeline_id,
        deployment.enable_parallel_executions,
        deployment.max_parallel_executions_per_pod,
        deployment.ram_request,
        deployment.gpu_request,
    )


def pod_dir_for(deployment_pk) -> Path:
    return settings.DATA_DIR / "pods" / str(deployment_pk)


class PodRunner:
    def __init__(self, deployment: Deployment, host: str) -> None:
        self.deployment = deployment
        self.pk = deployment.pk
        self.host = host
        self.generation = generation(deployment)
        self.parallel = (
            deployment.max_parallel_executions_per_pod
            if deployment.enable_parallel_executions
            else 1
        )
        self.ram_mib = ram_request_mib(deployment.ram_request) or 0
        self.pod_dir = pod_dir_for(self.pk)
        self.sandbox = get_sandbox()
        self.key = f"pod:{self.pk}"
        self.pod = None
        self.pod_id = ""
        self.failed_reason: str | None = None
        self.stopping = threading.Event()
        self.slots = threading.Semaphore(self.parallel)
        self.inflight: dict[int, InFlight] = {}
        self.lock = threading.Lock()
        self.retries: collections.deque[str] = collections.deque()
        self.next_taken = False
        self.run_ids = itertools.count(1)
        self.up = threading.Event()
        self.over_ram_seen = False
        self.recycling = False

    # -- life of the pod -----------------------------------------------------

    def start(self) -> None:
        threading.Thread(
            target=self._dispatch, name=f"pods {self.pk}", daemon=True
        ).start()
        threading.Thread(
            target=self._watch, name=f"pods-watch {self.pk}", daemon=True
        ).start()

    def stop(self) -> None:
        self.stopping.set()
        self.up.clear()
        with self.lock:
            items = list(self.inflight.values())
        for item in items:
            item.died = "the deployment was disabled, deleted or changed"
            item.done.set()
        pod = self.pod
        if pod is not None:
            pod.stop()

    def running_pks(self) -> list:
        with self.lock:
            return [item.execution.pk for item in self.inflight.values()]

    def _start_pod(self, *, restart: bool) -> None:
        from executions.runtime.pod_client import PodProcess, PodSpec

        deployment = Deployment.objects.select_related("pipeline").get(pk=self.pk)
        pipeline = deployment.pipeline
        self.pod_dir.mkdir(parents=True, exist_ok=True)
        (self.pod_dir / "runs").mkdir(exist_ok=True)
        if self.sandbox is not None:
            self.sandbox.hand_over(str(self.pod_dir), self.key)
        from deployments.services.pipeline_local import pipeline_local_ensure

        pipeline_local_ensure(pipeline=pipeline)
        env = {**ZYGOTE_ENV, "HOME": str(self.pod_dir), "MALLOC_ARENA_MAX": "2"}
        if deployment.gpu_request:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(
                str(n) for n in range(deployment.gpu_request)
            )
        spec = PodSpec(
            key=self.key,
            python_executable=pipeline.python_executable,
            code_dir=str(pipeline.code_dir),
            function_path=pipeline.function_path,
            function_name=pipeline.function_name,
            pod_dir=str(self.pod_dir),
            max_parallel=self.parallel,
            ram_mib=self.ram_mib,
            env=env,
        )
        self.over_ram_seen = False
        self.recycling = False
        pod = PodProcess(
            spec, lambda kind, header: self._on_event(kind, header, pod), self.sandbox
        )
        self.pod = pod
        self.pod_id = Pod.objects.filter(deployment_id=self.pk).values_list(
            "pod_id", flat=True
        ).first() or str(self.pk)
        services.pod_update(
            deployment_pk=self.pk,
            host=self.host,
            status=PodStatus.RESTARTING if restart else PodStatus.STARTING,
        )
        self.pod.start()
        if self.pod.wait_ready():
            self.failed_reason = None
            services.pod_update(
                deployment_pk=self.pk,
                host=self.host,
                status=PodStatus.RUNNING,
                pid=self.pod.pid,
                rss_kib=self.pod.rss_kib,
                started_at=timezone.now(),
            )
            self._log(f"Pod {self.pod_id} is up (pid {self.pod.pid}).")
            services.deployment_status_set(
                deployment_pk=self.pk, status=DeploymentStatus.UP
            )
            self.up.set()
            return
        self.failed_reason = self.pod.failure
        self._log(NOT_STARTED.format(reason=self.pod.failure), stream="stderr")
        services.pod_update(
            deployment_pk=self.pk, host=self.host, status=PodStatus.FAILED
        )
        services.deployment_status_set(
            deployment_pk=self.pk, status=DeploymentStatus.CREATION_FAILED
        )

    def _log(self, message: str, stream: str = "stdout") -> None:
        services.pod_log(
            deployment_pk=self.pk, pod_id=self.pod_id, message=message, stream=stream
        )

    def _on_event(self, kind: str, header: dict, pod) -> None:
        """From the reader thread of `pod` (an older pod's late events are ignored)."""
        if pod is not self.pod:
            return
        if kind == "log":
            item = self.inflight.get(header.get("id"))
            if item is not None:
                item.sink.on_log(header["stream"], time.time(), header["line"])
            else:
                self._log(header["line"], stream=header.get("stream", "stdout"))
        elif kind == "done":
            item = self.inflight.get(header["id"])
            if item is not None:
                item.report = header["report"]
                item.done.set()
        elif kind == "stats":
            services.pod_update(
                deployment_pk=self.pk, host=self.host, rss_kib=header.get("rss_kib")
            )
        elif kind == "over_ram":
            self.over_ram_seen = True
        elif kind == "exited" and pod.failure is None:
            # A pod that never started is _start_pod's to report.
            self._pod_exited(header.get("returncode"))
        close_old_connections()

    def _pod_exited(self, returncode) -> None:
        self.up.clear()
        if self.stopping.is_set() or self.failed_reason is not None:
            return
        if self.over_ram_seen:
            how = OVER_RAM.format(ram=self.deployment.ram_request)
        elif self.recycling:
            how = "recycled after an execution ran past its timeout"
        else:
            how = f"exit code {returncode}"
        with self.lock:
            items = list(self.inflight.values())
        for item in items:
            if item.done.is_set():
                continue
            item.died = how
            item.retryable = not self.over_ram_seen and not item.timed_out
            item.done.set()
        self._log(f"Pod {self.pod_id} stopped ({how}); starting it again.", "stderr")
        Pod.objects.filter(deployment_id=self.pk).update(restarts=F("restarts") + 1)
        services.deployment_status_set(
            deployment_pk=self.pk, status=DeploymentStatus.DOWN_RETRYING
        )

    def _watch(self) -> None:
        """Timeouts of sync code: fail the execution, recycle its pod."""
        while not self.stopping.is_set():
            time.sleep(0.1)
            now = time.monotonic()
            with self.lock:
                late = [
                    item
                    for item in self.inflight.values()
                    if not item.done.is_set()
                    and not item.timed_out
                    and now > item.deadline
                ]
            for item in late:
                item.timed_out = True
                self.recycling = True
                self._log(
                    RECYCLED.format(
                        execution_id=item.execution.execution_id,
                        seconds=item.execution.timeout_s,
                    ),
                    "stderr",
                )
                item.done.set()
                pod = self.pod
                if pod is not None:
                    pod.kill()

    # -- executions ----------------------------------------------------------

    def _dispatch(self) -> None:
        client = redis_client()
        last_scan = 0.0
        while not self.stopping.is_set():
            try:
                if self.pod is None or (
                    not self.up.is_set() and self.failed_reason is None
                ):
                    restart = self.pod is not None
                    if restart:
                        time.sleep(RESTART_PAUSE_S)
                        if self.stopping.is_set():
                            return
                    self._start_pod(restart=restart)
                    continue
                self.slots.acquire()
                pk, retry = self._next(client, time.monotonic() - last_scan > 1.0)
                if pk is None:
                    last_scan = time.monotonic()
                    self.slots.release()
                    continue
                if not self.up.is_set() and self.failed_reason is None:
                    # The pod died while we waited: it stays next in line.
                    if retry:
                        self.retries.appendleft(pk)
                    else:
                        client.rpush(services.pod_queue_key(self.pk), pk)
                    self.slots.release()
                    continue
                if self.parallel == 1:
                    self._handle(pk, retry)
                else:
                    threading.Thread(
                        target=self._handle, args=(pk, retry), daemon=True
                    ).start()
            except redis.RedisError:
                logger.warning("pods %s: Redis is away", self.pk)
                time.sleep(1)
            except Exception:
                logger.exception("pods %s: dispatch failed", self.pk)
                time.sleep(1)
            finally:
                close_old_connections()

    def _next(self, client, scan: bool):
        """(execution pk, is a retry), or (None, False) when nothing came within POP_TIMEOUT_S."""
        # A retry goes right after the execution that was next in line.
        if self.retries:
            popped = None
            if not self.next_taken:
                popped = client.rpop(services.pod_queue_key(self.pk))
            if popped is None:
                self.next_taken = False
                return self.retries.popleft(), True
            self.next_taken = True
            return popped.decode(), False
        popped = client.brpop(services.pod_queue_key(self.pk), timeout=POP_TIMEOUT_S)
        if popped is not None:
            return popped[1].decode(), False
        if scan:
            return self._lost_pending(), False
        return None, False

    def _lost_pending(self):
        cutoff = timezone.now() - timedelta(seconds=LOST_MESSAGE_AFTER_S)
        pk = (
            Execution.objects.filter(
                deployment_id=self.pk,
                status=ExecutionStatus.PENDING,
                created_at__lt=cutoff,
            )
            .order_by("created_at")
            .values_list("pk", flat=True)
            .first()
        )
        return str(pk) if pk else None

    def _handle(self, pk: str, retry: bool) -> None:
        try:
            if not retry and not execution_claim(execution_pk=pk):
                return
            execution = (
                Execution.objects.select_related("pipeline").filter(pk=pk).first()
            )
            if execution is None:
                return
            if self.failed_reason is not None:
                execution_error(
                    execution=execution,
                    reason=NOT_STARTED.format(reason=self.failed_reason),
                    from_status=ExecutionStatus.RUNNING,
                )
                return
            self._run(execution, retry)
        except Exception as exc:
            logger.exception("pods %s: execution %s failed", self.pk, pk)
            execution = Execution.objects.filter(pk=pk).first()
            if execution is not None:
                execution_error(
                    execution=execution,
                    reason=f"Platform error while running: {exc.__class__.__name__}: {exc}",
                    from_status=ExecutionStatus.RUNNING,
                )
        finally:
            self.slots.release()
            connection.close()

    def _run(self, execution: Execution, retry: bool) -> None:
        work_dir = self.pod_dir / "runs" / str(execution.id)
        (work_dir / ".tmp").mkdir(parents=True, exist_ok=True)
        try:
            try:
                inputs = _stage_inputs(execution, work_dir)
            except UserInputError as exc:
                execution_finish(
                    execution=execution, status=ExecutionStatus.FAILED, reason=str(exc)
                )
                return
            if self.sandbox is not None:
                self.sandbox.hand_over(str(work_dir), self.key)
            env = child_environment(execution, work_dir)
            env["HOME"] = str(self.pod_dir)
            pipeline = execution.pipeline
            request = {
                "inputs": inputs,
                "outputs": [
                    {"name": o["name"], "data_type": o["data_type"]}
                    for o in pipeline.outputs
                ],
                "env": env,
                "timeout_s": execution.timeout_s,
            }
            self._send_and_record(execution, request, retry)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)

    def _send_and_record(
        self, execution: Execution, request: dict, retry: bool
    ) -> None:
        sink = LogSink(execution)
        sink.start()
        if retry:
            sink.on_log(
                "stderr", time.time(), POD_RETRY.format(how="see the deployment log")
            )
        item = InFlight(
            execution=execution,
            work_dir=Path(request["env"]["TMPDIR"]).parent,
            sink=sink,
            deadline=float("inf"),
        )
        run_id = next(self.run_ids)
        with self.lock:
            self.inflight[run_id] = item
        process_started = time.time()
        try:
            item.deadline = time.monotonic() + execution.timeout_s + TIMEOUT_GRACE_S
            if not self.up.is_set() or not self.pod.run(run_id, request):
                item.died, item.retryable = "it was not running", True
            else:
                # A long run must not pin a pooled connection meanwhile.
                connection.close()
                item.done.wait()
        finally:
            with self.lock:
                self.inflight.pop(run_id, None)
            sink.stop()
        if item.timed_out:
            execution_finish(
                execution=execution,
                status=ExecutionStatus.FAILED,
                reason=TIMEOUT.format(seconds=execution.timeout_s),
            )
            return
        if item.died is not None:
            if item.retryable and not retry:
                self.retries.append(str(execution.pk))
                return
            execution_error(
                execution=execution,
                reason=POD_DIED.format(how=item.died)
                if not item.died.startswith("The pod exceeded")
                else item.died,
                from_status=ExecutionStatus.RUNNING,
            )
            return
        self._record(execution, item.report or {}, process_started)

    def _record(
        self, execution: Execution, report: dict, process_started: float
    ) -> None:
        timeline = {
            "process_started_at": _when(process_started),
            "function_started_at": _when(report.get("function_started_at")),
            "function_ended_at": _when(report.get("function_ended_at")),
        }
        if not report.get("ok"):
            execution_finish(
                execution=execution,
                status=ExecutionStatus.FAILED,
                reason=report.get("reason") or "The function failed",
                timeline=timeline,
            )
            return
        stored, failure = _store_outputs(
            execution, report.get("outputs") or {}, self.pod_dir
        )
        execution_finish(
            execution=execution,
            status=ExecutionStatus.FAILED if failure else ExecutionStatus.SUCCEEDED,
            reason=failure,
            outputs=stored,
            timeline=timeline,
        )


def _when(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch else None
