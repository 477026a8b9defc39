"""Runners (workers, pod hosts): their leases, and the one rule for what a dead one held.

Every process that runs executions beats a lease about every second and
stamps its name on what it claims. When one dies, whoever learns it first
settles what it held: its supervisor at once (runplatform restarts it), or
any sweeper once its lease is silent for RUNNER_LEASE_S (another machine,
a frozen process).

The rule, the same in every mode (README "When a process dies"): an
execution handed back before its function started is Pending again and runs
once (deployments/pods/dispatcher.py, running.py); one held by a process that died is
taken as started, and
- in queue mode (low latency, one at a time) runs once more, before any
  other (the seeds: "the failed one will be retried before any other task");
- in parallel and elastic mode ends Error naming what died, since it may
  have had side effects.
Each attempt cut short is recorded (`Execution.attempts`).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from executions.models import (
    Execution,
    ExecutionStatus,
    RunnerKind,
    RunnerLease,
)
from executions.services.lifecycle import execution_channel
from executions.signals import execution_runs_again
from platform_site.http import notify
from platform_site.operations.roles import node_name

logger = logging.getLogger(__name__)

DIED_REASON = (
    "Its {what} ({name}) {how} while the function ran; it is not run again, "
    "since it may have had side effects"
)


def runner_name(pid: int | None = None) -> str:
    """This process's name as a runner (or that of `pid` on this machine)."""
    return f"{node_name()}:{pid or os.getpid()}"


def runner_beat(*, name: str, kind: str, now: datetime | None = None) -> None:
    """The runner is alive: one UPDATE (an INSERT the first time)."""
    now = now or timezone.now()
    if RunnerLease.objects.filter(name=name).update(beat_at=now, kind=kind):
        return
    try:
        RunnerLease.objects.create(name=name, kind=kind, beat_at=now)
    except IntegrityError:  # made meanwhile by our own earlier, retried beat
        RunnerLease.objects.filter(name=name).update(beat_at=now)


def runner_retire(*, name: str) -> None:
    """A clean stop: it handed back what it held, nothing is left to settle."""
    RunnerLease.objects.filter(name=name).delete()


def runners_silent(*, now: datetime | None = None) -> dict[str, datetime]:
    """{runner name: its last beat} of the runners silent past RUNNER_LEASE_S."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.RUNNER_LEASE_S)
    return dict(
        RunnerLease.objects.filter(beat_at__lt=cutoff).values_list("name", "beat_at")
    )


def runners_settle_silent(
    *, now: datetime | None = None, seen: dict[str, datetime] | None = None
) -> int:
    """Settle what runners silent past RUNNER_LEASE_S held. Returns how many executions.

    With `seen` (runners_silent() of an earlier look), only those still at the
    beat seen then: a runner whose beats failed while the database restarted
    beats again within a second of its return, and is never taken for dead.
    """
    now = now or timezone.now()
    silent = runners_silent(now=now)
    if seen is not None:
        silent = {n: beat for n, beat in silent.items() if seen.get(n) == beat}
    settled = 0
    for lease in RunnerLease.objects.filter(name__in=silent):
        if lease.beat_at != silent[lease.name]:
            continue  # it beat meanwhile
        silent_s = int((now - lease.beat_at).total_seconds())
        settled += runner_settle(
            name=lease.name,
            kind=lease.kind,
            how=f"stopped answering for {silent_s} s",
        )
        # Conditional: a runner that beat meanwhile keeps its lease.
        RunnerLease.objects.filter(name=lease.name, beat_at=lease.beat_at).delete()
    return settled


def runner_settle(*, name: str, kind: str, how: str = "died") -> int:
    """Apply the rule to every execution `name` still holds Running. Returns how many."""
    held = Execution.objects.filter(
        status=ExecutionStatus.RUNNING, runner=name
    ).select_related("deployment")
    settled = 0
    for execution in held:
        attempt = {
            "runner": name,
            "started_at": _iso(execution.started_at),
            "ended": f"its {kind} {how}",
        }
        if _runs_again(execution):
            settled += _run_again(execution, attempt)
        else:
            settled += _error(execution, attempt, kind=kind, how=how)
    if settled:
        logger.warning(
            "Settled %d execution(s) of %s %s (%s)", settled, kind, name, how
        )
    return settled


def execution_attempt_record(*, execution: Execution, attempt: dict) -> None:
    """Note an attempt cut short that its own runner runs again (a pod died, its host did not)."""
    attempt = {"started_at": _iso(execution.started_at), **attempt}
    execution.attempts = [*execution.attempts, attempt]
    Execution.objects.filter(pk=execution.pk).update(attempts=execution.attempts)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _runs_again(execution: Execution) -> bool:
    """Queue mode's retry: once, and only for a low-latency deployment running one at a time."""
    deployment = execution.deployment
    return (
        deployment is not None
        and deployment.mode == "low_latency"
        and not deployment.enable_parallel_executions
        and not execution.attempts
    )


def _run_again(execution: Execution, attempt: dict) -> int:
    updated = Execution.objects.filter(
        pk=execution.pk, status=ExecutionStatus.RUNNING, runner=execution.runner
    ).update(
        status=ExecutionStatus.PENDING,
        runner="",
        started_at=None,
        heartbeat_at=None,
        attempts=[*execution.attempts, attempt],
    )
    if updated:
        execution_runs_again.send(sender=Execution, execution=execution)
    return updated


def _error(execution: Execution, attempt: dict, *, kind: str, how: str) -> int:
    what = "pod host" if kind == RunnerKind.POD_HOST else kind
    updated = Execution.objects.filter(
        pk=execution.pk, status=ExecutionStatus.RUNNING, runner=execution.runner
    ).update(
        status=ExecutionStatus.ERROR,
        status_reason=DIED_REASON.format(what=what, name=execution.runner, how=how),
        end_date=timezone.now(),
        attempts=[*execution.attempts, attempt],
    )
    if updated:
        notify.publish(execution_channel(execution))
    return updated


CHILD_KINDS = {"worker": RunnerKind.WORKER, "pods": RunnerKind.POD_HOST}


def settle_dead_child(sender, *, name: str, pid: int, **kwargs) -> None:
    """platform_site.signals.child_died: a worker or pod host of this machine died.

    What it held is settled now, not when its lease runs out.
    """
    kind = CHILD_KINDS.get(name)
    if kind is None:
        return
    runner = runner_name(pid)
    runner_settle(name=runner, kind=kind, how="died")
    runner_retire(name=runner)
