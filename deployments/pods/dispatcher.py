"""A deployment's executions on its pod: take them in order, claim, run on the pod, record.

The PodDispatcher's thread takes execution pks from the deployment's Redis
list (in arrival order; Pending rows whose message was lost are found by a
scan), claims each Pending -> Running, stages its inputs, sends it to the pod
and records the result. Queue mode runs one at a time; parallel mode up to
max_parallel_executions_per_pod, in threads of ours waiting on the pod.

The PodRunner (runner.py) keeps the pod itself alive; the dispatcher asks it
only whether the pod is up, to start it, and to run a request on it, and the
runner tells the dispatcher what the pod said or how it died.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import redis
from django.db import connection
from django.utils import timezone

from deployments.pods import services
from deployments.pods.in_flight import InFlight, InFlightRuns
from deployments.pods.run_threads import RunThreads, connection_after_run
from executions.models import Execution, ExecutionStatus
from executions.services.lifecycle import (
    execution_error,
    execution_finish,
    execution_release,
)
from executions.services.logs import LogSink
from executions.services.run_ledger import execution_claim_to_run
from executions.services.runners import execution_attempt_record
from executions.services.staging import (
    UserInputError,
    child_environment,
    execution_to_run,
    inputs_stage,
    outputs_store,
)
from platform_site.clients.db_retry import DATABASE_BLIPS, db_retry
from platform_site.clients.redis_client import redis_client
from runtime import confined

if TYPE_CHECKING:
    from deployments.pods.runner import PodRunner

logger = logging.getLogger(__name__)

POP_TIMEOUT_S = 1
# Pending rows older than this without a pop are taken from the database.
LOST_MESSAGE_AFTER_S = 2.0
# A coroutine is cancelled by the pod itself at its timeout; sync code is
# stopped by recycling the pod a little later.
TIMEOUT_GRACE_S = 1.0
RESTART_PAUSE_S = 0.5
# A run this short keeps its database connection for recording its result.
KEEP_CONNECTION_S = 0.05

POD_DIED = "The pod running this execution died ({how})"
POD_RETRY = "[platform] The pod running this execution died ({how}); it runs once more on a new pod."
TIMEOUT = "Execution timed out after {seconds} s (the pod was recycled to stop it)"
NOT_STARTED = "The deployment's pod could not start: {reason}"


class PodDispatcher:
    """Takes a deployment's executions in order and runs each on the runner's pod."""

    def __init__(self, runner: PodRunner) -> None:
        self.runner = runner
        self.pk = runner.pk
        self.slots = threading.Semaphore(runner.parallel)
        self.runs = InFlightRuns()
        # Executions to run once more (their pod died), right after the next in line.
        self.retries: collections.deque[str] = collections.deque()
        self.next_taken = False
        self.threads = RunThreads(runner.parallel, f"pods {self.pk}")

    def abandon(self) -> None:
        """The host stops: in-flight runs are the host's to settle; retries are Pending again."""
        self.runs.abandon_all()
        self.threads.stop()
        while self.retries:
            self._hand_back(self.retries.popleft(), retry=False)

    # -- its thread ----------------------------------------------------------

    def run(self) -> None:
        runner = self.runner
        client = redis_client()
        last_scan = 0.0
        while not runner.stopping.is_set():
            busy = False
            try:
                if runner.failed_reason is None and (
                    runner.pod is None or not runner.up.is_set()
                ):
                    restart = runner.pod is not None
                    if restart:
                        time.sleep(RESTART_PAUSE_S)
                        if runner.stopping.is_set():
                            return
                    runner.start_pod(restart=restart)
                    continue
                busy = self._take_one(client, time.monotonic() - last_scan > 1.0)
                if not busy:
                    last_scan = time.monotonic()
            except redis.RedisError:
                logger.warning("pods %s: Redis is away", self.pk)
                time.sleep(1)
            except Exception:
                logger.exception("pods %s: dispatch failed", self.pk)
                time.sleep(1)
            finally:
                # Kept while executions keep coming (in queue mode they run on
                # this thread); a quiet deployment holds none.
                if busy:
                    connection_after_run(keep=self.runner.parallel == 1)
                else:
                    connection.close()
        connection.close()

    def _take_one(self, client: redis.Redis, scan: bool) -> bool:
        """Wait for a free slot, take the next execution and hand it to _handle; False when none came.

        The slot goes back on every path that does not reach _handle (which
        gives it back itself), exceptions included: a Redis error during the
        pop must not leave a queue-mode deployment without its one slot.
        """
        self.slots.acquire()
        handed = False
        try:
            pk, retry = self._next(client, scan)
            if pk is None:
                return False
            if (
                self.runner.stopping.is_set()
            ):  # taken as the host stops: next in line again
                self._hand_back(pk, retry, claimed=False)
                return True
            if not self.runner.up.is_set() and self.runner.failed_reason is None:
                # The pod died while we waited: it stays next in line.
                if retry:
                    self.retries.appendleft(pk)
                else:
                    client.rpush(services.pod_queue_key(self.pk), pk)
                return True
            if self.runner.parallel == 1:
                handed = True
                self._handle(pk, retry)
            else:
                self.threads.submit(functools.partial(self._handle, pk, retry))
                handed = True
            return True
        finally:
            if not handed:
                self.slots.release()

    def _next(self, client: redis.Redis, scan: bool) -> tuple[str | None, bool]:
        """(execution pk, is a retry), or (None, False) when nothing came within POP_TIMEOUT_S."""
        # A retry goes right after the execution that was next in line.
        # (The client answers bytes: it does not decode responses.)
        key = services.pod_queue_key(self.pk)
        if self.retries:
            queued = None if self.next_taken else cast("bytes | None", client.rpop(key))
            if queued is None:
                self.next_taken = False
                return self.retries.popleft(), True
            self.next_taken = True
            return queued.decode(), False
        popped = cast(
            "tuple[bytes, bytes] | None", client.brpop([key], timeout=POP_TIMEOUT_S)
        )
        if popped is not None:
            return popped[1].decode(), False
        if scan:
            return self._lost_pending(), False
        return None, False

    def _lost_pending(self) -> str | None:
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
        # Set once the pod has the execution: before, a failure hands it back.
        handed_over = threading.Event()
        try:
            if retry:  # claimed already, by its first run
                execution = execution_to_run(pk)
            else:
                execution = execution_claim_to_run(
                    execution_pk=pk,
                    runner=self.runner.host,
                    pipeline=self.runner.pipeline,
                )
            if execution is None:
                return
            if self.runner.failed_reason is not None:
                execution_error(
                    execution=execution,
                    reason=NOT_STARTED.format(reason=self.runner.failed_reason),
                    from_status=ExecutionStatus.RUNNING,
                )
                return
            self._run(execution, retry, handed_over)
        except DATABASE_BLIPS:
            connection.close()  # in doubt: the next execution takes a fresh one
            if handed_over.is_set():
                # Its result could not be recorded even with retries: the
                # sweeper settles it once the database is back.
                logger.exception("pods %s: recording %s failed", self.pk, pk)
            else:
                self._hand_back(pk, retry)
        except Exception as exc:
            logger.exception("pods %s: execution %s failed", self.pk, pk)
            execution = db_retry(
                lambda: Execution.objects.filter(pk=pk).first(),
                what=f"reading execution {pk}",
            )
            if execution is not None:
                execution_error(
                    execution=execution,
                    reason=f"Platform error while running: {exc.__class__.__name__}: {exc}",
                    from_status=ExecutionStatus.RUNNING,
                )
        finally:
            self.slots.release()

    def _hand_back(self, pk: str, retry: bool, *, claimed: bool = True) -> None:
        """An execution the pod never got (a database blip, the host stopping): Pending again, next in line.

        Its function never started, so it runs once, later, never ends Error.
        """
        logger.warning("pods %s: %s handed back before it started", self.pk, pk)
        if retry and not self.runner.stopping.is_set():
            self.retries.appendleft(pk)
            return
        if claimed or retry:
            execution_release(execution_pk=pk)
        with contextlib.suppress(redis.RedisError):  # the scan of Pending rows finds it
            redis_client().rpush(services.pod_queue_key(self.pk), pk)

    def _run(
        self, execution: Execution, retry: bool, handed_over: threading.Event
    ) -> None:
        # Made only when a file input is staged: a call without files touches no disk.
        work_dir = self.runner.pod_dir / "runs" / str(execution.id)
        try:
            try:
                inputs = inputs_stage(execution, work_dir)
                if self.runner.sandbox is not None and work_dir.exists():
                    self.runner.sandbox.hand_over(str(work_dir), self.runner.key)
            except (UserInputError, confined.Refused) as exc:
                # Refused: the pod's code planted a link where its inputs go.
                execution_finish(
                    execution=execution, status=ExecutionStatus.FAILED, reason=str(exc)
                )
                return
            env = child_environment(execution, work_dir)
            env["HOME"] = str(self.runner.pod_dir)
            env["TMPDIR"] = str(self.runner.pod_dir / ".tmp")
            pipeline = execution.pipeline
            assert pipeline is not None  # execution_to_run loaded it
            request = {
                "inputs": inputs,
                "outputs": [
                    {"name": o["name"], "data_type": o["data_type"]}
                    for o in pipeline.outputs
                ],
                "env": env,
                "timeout_s": execution.timeout_s,
            }
            self._send_and_record(execution, request, retry, handed_over)
        finally:
            if work_dir.exists():
                shutil.rmtree(work_dir, ignore_errors=True)

    def _send_and_record(
        self,
        execution: Execution,
        request: dict[str, Any],
        retry: bool,
        handed_over: threading.Event,
    ) -> None:
        # Its thread starts with the first line: a silent call costs no thread.
        sink = LogSink(execution)
        if retry:
            sink.on_log(
                "stderr", time.time(), POD_RETRY.format(how="see the deployment log")
            )
        item = InFlight(
            execution=execution,
            work_dir=self.runner.pod_dir,
            sink=sink,
            deadline=float("inf"),
        )
        run_id = self.runs.add(item)
        process_started = time.time()
        try:
            item.deadline = time.monotonic() + execution.timeout_s + TIMEOUT_GRACE_S
            pod = self.runner.pod
            if (
                not self.runner.up.is_set()
                or pod is None
                or not pod.run(run_id, request)
            ):
                item.died, item.never_started = "it was not running", True
            else:
                handed_over.set()
                if not item.done.wait(KEEP_CONNECTION_S):
                    # A long run must not pin a pooled connection meanwhile.
                    connection.close()
                    item.done.wait()
        finally:
            self.runs.pop(run_id)
            sink.stop()
        if item.abandoned:
            return
        if item.timed_out:
            execution_finish(
                execution=execution,
                status=ExecutionStatus.FAILED,
                reason=TIMEOUT.format(seconds=execution.timeout_s),
            )
            return
        if item.died is not None:
            if item.never_started:
                self.retries.append(str(execution.pk))
                return
            if item.retryable and not retry:
                execution_attempt_record(
                    execution=execution,
                    attempt={
                        "runner": self.runner.host,
                        "ended": POD_DIED.format(how=item.died),
                    },
                )
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
        self, execution: Execution, report: dict[str, Any], process_started: float
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
        stored, failure = outputs_store(
            execution, report.get("outputs") or {}, self.runner.pod_dir
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
