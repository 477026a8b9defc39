"""Worker-side glue: one ZygotePool per worker process (lazy), closed on shutdown."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from celery.signals import worker_ready, worker_shutdown, worker_shutting_down
from django.conf import settings
from django.db import DatabaseError, connection

from executions.models import Execution, ExecutionStatus, RunnerKind
from executions.services import execution_error
from executions.services.runners import runner_beat, runner_name
from executions.services.variables import environment_variables_keep
from pipelines.sandbox import ZYGOTE_ENV, get_sandbox
from platform_site.operations import health, liveness

_pool = None
_lock = threading.Lock()


def get_pool():
    """The process-wide pool (thread-safe); the runtime is imported only when first needed."""
    global _pool
    with _lock:
        if _pool is None:
            from runtime.pool import ZygotePool

            environment_variables_keep()
            _pool = ZygotePool(
                runtime_env=dict(ZYGOTE_ENV),
                sandbox=get_sandbox(),
                use_cgroups=settings.CGROUPS_ENABLED,
            )
        return _pool


def close_pool() -> None:
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()


@worker_shutdown.connect
def _close_pool_on_shutdown(**kwargs) -> None:
    close_pool()


# -- a graceful SIGTERM -------------------------------------------------------
# Celery's warm shutdown hands back the messages it has not started (acks_late)
# and waits for the running ones, however long; `make run` SIGKILLs it after
# 5 s. Runs still going after STOP_GRACE_S are stopped here and end Error at
# once with a reason that says so, instead of "no heartbeat" 30 s later.
STOP_GRACE_S = 3.0
WORKER_STOPPED_REASON = (
    "The worker was stopped (SIGTERM) before the function ended; it is not "
    "retried, since it may have had side effects"
)
_running: set[str] = set()
_running_lock = threading.Lock()
_stop_requested = False


@contextmanager
def running(execution_pk: str) -> Iterator[None]:
    """Marks an execution as run by this worker for as long as the block lasts."""
    with _running_lock:
        _running.add(execution_pk)
    try:
        yield
    finally:
        with _running_lock:
            _running.discard(execution_pk)


@worker_shutting_down.connect
def _on_shutting_down(**kwargs) -> None:
    # Called from Celery's signal handler: one assignment, the watcher acts.
    global _stop_requested
    _stop_requested = True


def stop_watcher() -> None:
    """Started with the worker: waits for a stop, gives runs STOP_GRACE_S, then ends the rest."""

    def watch() -> None:
        while not _stop_requested:
            time.sleep(0.2)
        time.sleep(STOP_GRACE_S)
        with _running_lock:
            left = list(_running)
        if not left:
            return
        for execution in Execution.objects.filter(pk__in=left):
            execution_error(
                execution=execution,
                reason=WORKER_STOPPED_REASON,
                from_status=ExecutionStatus.RUNNING,
            )
        close_pool()  # kills the zygotes and their runs: the tasks return at once

    threading.Thread(target=watch, name="stop-watcher", daemon=True).start()


# -- the worker's lease -------------------------------------------------------
LEASE_BEAT_S = 1.0


def lease_beater() -> None:
    """Started with the worker: beats its runner lease every second (runners.py).

    A worker that stops beating (killed, frozen, cut off) is taken for dead
    after PLATFORM_RUNNER_LEASE_S and what it held is settled.
    """
    name = runner_name()

    def beat() -> None:
        # Until the process ends: runs finishing in the stop's grace are still ours.
        while True:
            try:
                runner_beat(name=name, kind=RunnerKind.WORKER)
            except DatabaseError:
                pass  # the database is away: the sweeper waits for it too
            finally:
                connection.close()
            time.sleep(LEASE_BEAT_S)

    threading.Thread(target=beat, name="worker-lease", daemon=True).start()


@worker_ready.connect
def _start_beating(**kwargs) -> None:
    """/healthz reports the worker as up while this beats; its runner lease beats too."""

    def loop() -> None:
        while True:
            # The broker may be briefly away; keep beating.
            with contextlib.suppress(Exception):
                health.beat("worker")
            time.sleep(5)

    threading.Thread(target=loop, name="worker-heartbeat", daemon=True).start()
    liveness.touch_forever()
    stop_watcher()
    lease_beater()
