"""One step of the scheduler: fire the oldest due ticks of periodic deployments, in batches.

Shaped like healthchecks' sendalerts: the management command loops over
`scheduler_step()` while it finds work, and sleeps until the next due time
(capped) when it does not. Claiming is by row lock (`SELECT … FOR UPDATE SKIP
LOCKED`), and the unique constraint (deployment, scheduled_for) on executions
makes a double fire impossible even with two schedulers.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from deployments.models import Deployment, DeploymentStatus, ExecutionRule
from deployments.schedules import schedule_next_run
from deployments.services.deployment_triggers import deployment_fire_tick
from executions.models import ExecutionStatus
from executions.services import execution_record_unrun
from platform_site.errors import ApiError

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
    next_run = _memo(schedule_next_run)
    with transaction.atomic():
        deployments = list(
            _due(now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("pipeline", "created_by")
            .order_by("next_run_at")[:batch_size]
        )
        if not deployments:
            return False
        upcoming: dict[datetime, list[int]] = defaultdict(list)
        for deployment in deployments:
            _fire(deployment)
            _record_missed(
                deployment, after=deployment.next_run_at, until=now, next_run=next_run
            )
            upcoming[next_run(deployment.schedule, after=now)].append(deployment.pk)
        # One UPDATE per distinct next time: a batch mostly shares a few schedules.
        for next_run_at, pks in upcoming.items():
            Deployment.objects.filter(pk__in=pks).update(next_run_at=next_run_at)
    # One line per batch: hundreds of deployments on one minute would flood the log.
    logger.info(
        "Fired the due ticks of %d deployment(s), oldest %s",
        len(deployments),
        deployments[0].next_run_at,
    )
    return True


def _fire(deployment: Deployment) -> None:
    """Start the execution of its due tick, or record why it could not start."""
    tick = deployment.next_run_at
    try:
        with transaction.atomic():  # a savepoint: a lost race must not poison the batch
            execution = deployment_fire_tick(deployment=deployment, scheduled_for=tick)
        logger.debug(
            "Fired %s for tick %s: %s", deployment.name, tick, execution.execution_id
        )
    except IntegrityError:
        logger.info("Tick %s of %s was already fired", tick, deployment.name)
    except ApiError as exc:
        # The tick cannot run (e.g. a mapped environment variable is gone):
        # record why and move on to the next tick rather than retrying forever.
        logger.warning(
            "Tick %s of %s not started: %s", tick, deployment.name, exc.message
        )
        _record_unrun(
            deployment, tick, ExecutionStatus.FAILED, f"Not started: {exc.message}"
        )


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
    deployment: Deployment, tick: datetime, status: str, reason: str
) -> None:
    try:
        with transaction.atomic():  # a savepoint: another scheduler may have it
            execution_record_unrun(
                deployment=deployment, scheduled_for=tick, status=status, reason=reason
            )
    except IntegrityError:
        pass


def _record_missed(
    deployment: Deployment,
    *,
    after: datetime,
    until: datetime,
    next_run: Callable[..., datetime] = schedule_next_run,
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
