"""One step of the scheduler: fire the oldest due ticks of periodic deployments, in batches.

Shaped like healthchecks' sendalerts: the management command loops over
`scheduler_step()` while it finds work, and sleeps until the next due time
(capped) when it does not. Claiming is by row lock (`SELECT … FOR UPDATE SKIP
LOCKED`), and the unique constraint (deployment, scheduled_for) on executions
makes a double fire impossible even with two schedulers.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from deployments.models import Deployment, DeploymentStatus, ExecutionRule
from deployments.schedules import schedule_next_run
from deployments.services.deployment_triggers import deployment_tick_build
from executions.models import ExecutionStatus
from executions.services import execution_record_unrun
from executions.services.creation import (
    BuiltExecution,
    executions_save,
)
from platform_site.http.errors import ApiError

logger = logging.getLogger(__name__)

MAX_SLEEP_S = 1.0
# Deployments claimed per transaction: big enough that 500 due on one minute
# take a handful of commits, small enough that executions start being sent early.
BATCH_SIZE = 100
MAX_SKIPPED_RECORDS = 100
SKIPPED_REASON = "Missed while the scheduler was down; one catch-up execution ran for the tick of {tick}."


def _due(now: datetime):
    return Deployment.objects.filter(
        execution_rule=ExecutionRule.PERIODIC,
        is_enabled=True,
        next_run_at__lte=now,
    ).exclude(status=DeploymentStatus.DISABLED)


def scheduler_step(
    *, now: datetime | None = None, batch_size: int = BATCH_SIZE
) -> bool:
    """Fire the oldest due ticks, up to `batch_size` deployments in one transaction.

    Returns True when there was one ("found work?"): the loop then goes on at
    once, so a minute with hundreds of due deployments is worked through in
    a few transactions instead of one per deployment.

    Catch-up policy: the next fire time is computed from *now*, not from the
    tick just fired. After a scheduler outage each deployment therefore fires
    exactly ONE catch-up execution (for its oldest missed tick, recorded with
    that `scheduled_for`), then resumes its normal cadence; it never replays a
    storm of missed ticks, and never gets stuck however long the outage was.
    The other missed ticks are recorded as `Skipped` executions (at most
    MAX_SKIPPED_RECORDS per catch-up), and a tick that cannot start (e.g. a
    mapped environment variable is gone) as `Failed` with the reason, so no
    tick ever disappears silently.
    """
    now = now or timezone.now()
    try:
        deployments = _fire_batch(now, batch_size, guarded=False)
    except IntegrityError:
        # Another scheduler fired one of these ticks meanwhile (rare: rows are
        # locked): the same batch again, each deployment in its own savepoint.
        deployments = _fire_batch(now, batch_size, guarded=True)
    if not deployments:
        return False
    # One line per batch: hundreds of deployments on one minute would flood the log.
    logger.info(
        "Fired the due ticks of %d deployment(s), oldest %s",
        len(deployments),
        deployments[0].next_run_at,
    )
    return True


def _fire_batch(now: datetime, batch_size: int, *, guarded: bool) -> list[Deployment]:
    """Claim and fire up to batch_size due deployments in one transaction.

    Unguarded, a batch costs no savepoint per deployment, and an
    IntegrityError (a tick fired twice) rolls the whole batch back.
    """
    next_run = _memo(schedule_next_run)
    with transaction.atomic():
        deployments = list(
            _due(now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("pipeline", "created_by")
            .order_by("next_run_at")[:batch_size]
        )
        upcoming: dict[datetime, list[int]] = defaultdict(list)
        fired = []
        for deployment in deployments:
            tick = _tick(deployment, guarded=guarded)
            if tick is not None:
                if guarded:
                    _save_guarded(deployment, tick)
                else:
                    fired.append(tick)
            _record_missed(
                deployment,
                after=deployment.next_run_at,
                until=now,
                next_run=next_run,
                guarded=guarded,
            )
            upcoming[next_run(deployment.schedule, after=now)].append(deployment.pk)
        if fired:
            executions_save(fired)  # the whole batch in two statements
        # One UPDATE per distinct next time: a batch mostly shares a few schedules.
        for next_run_at, pks in upcoming.items():
            Deployment.objects.filter(pk__in=pks).update(next_run_at=next_run_at)
    return deployments


def _tick(deployment: Deployment, *, guarded: bool) -> BuiltExecution | None:
    """The execution of its due tick, or None after recording why it cannot start."""
    tick = deployment.next_run_at
    try:
        return deployment_tick_build(deployment=deployment, scheduled_for=tick)
    except ApiError as exc:
        # The tick cannot run (e.g. a mapped environment variable is gone):
        # record why and move on to the next tick rather than retrying forever.
        logger.warning(
            "Tick %s of %s not started: %s", tick, deployment.name, exc.message
        )
        _record_unrun(
            deployment,
            tick,
            ExecutionStatus.FAILED,
            f"Not started: {exc.message}",
            guarded=guarded,
        )
        return None


def _save_guarded(deployment: Deployment, tick: BuiltExecution) -> None:
    try:
        with transaction.atomic():  # a lost race must not poison the batch
            executions_save([tick])
    except IntegrityError:
        logger.info(
            "Tick %s of %s was already fired", deployment.next_run_at, deployment.name
        )


def _savepoint(guarded: bool):
    return transaction.atomic() if guarded else contextlib.nullcontext()


def _memo(fn: Callable[..., datetime]) -> Callable[..., datetime]:
    """next-run times cached for one step: a batch asks the same few questions."""
    cache: dict[tuple[str, datetime], datetime] = {}

    def cached(schedule: str, *, after: datetime) -> datetime:
        key = (schedule, after)
        if key not in cache:
            cache[key] = fn(schedule, after=after)
        return cache[key]

    return cached


def _record_unrun(
    deployment: Deployment, tick: datetime, status: str, reason: str, *, guarded: bool
) -> None:
    try:
        with _savepoint(guarded):  # another scheduler may have it
            execution_record_unrun(
                deployment=deployment, scheduled_for=tick, status=status, reason=reason
            )
    except IntegrityError:
        if not guarded:
            raise


def _record_missed(
    deployment: Deployment,
    *,
    after: datetime,
    until: datetime,
    next_run: Callable[..., datetime] = schedule_next_run,
    guarded: bool = True,
) -> None:
    """Record ticks in (after, until] as Skipped: they passed while nothing fired them."""
    tick = after
    for _ in range(MAX_SKIPPED_RECORDS):
        tick = next_run(deployment.schedule, after=tick)
        if tick > until:
            return
        _record_unrun(
            deployment,
            tick,
            ExecutionStatus.SKIPPED,
            SKIPPED_REASON.format(tick=after.isoformat()),
            guarded=guarded,
        )
    logger.warning(
        "%s missed more than %d ticks; only the first were recorded",
        deployment.name,
        MAX_SKIPPED_RECORDS,
    )


def seconds_until_next_tick(
    *, now: datetime | None = None, cap: float = MAX_SLEEP_S
) -> float:
    """How long the loop may sleep: until the earliest next_run_at, at most `cap`."""
    now = now or timezone.now()
    # The same rows as _due, or one that never fires (status disabled, past
    # next_run_at) would make the loop spin without sleeping.
    earliest = (
        Deployment.objects.filter(
            execution_rule=ExecutionRule.PERIODIC,
            is_enabled=True,
            next_run_at__isnull=False,
        )
        .exclude(status=DeploymentStatus.DISABLED)
        .order_by("next_run_at")
        .values_list("next_run_at", flat=True)
        .first()
    )
    if earliest is None:
        return cap
    return max(0.0, min(cap, (earliest - now).total_seconds()))
