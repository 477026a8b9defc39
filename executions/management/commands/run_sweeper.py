"""Reap Running executions whose worker died; re-send Pending ones whose message was lost;
delete executions past PLATFORM_RETENTION_DAYS.

Every change is a conditional UPDATE, so several sweepers can run side by side.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import DatabaseError, connection
from redis import RedisError

from executions.services import (
    broker_lost_messages,
    executions_reap_lost,
    executions_requeue_pending,
)
from executions.services.retention import RETENTION_BATCH, executions_expire
from executions.services.runners import runners_settle_silent, runners_silent
from pipelines.services.pipelines import pipeline_requeue_stale
from platform_site.clients.redis_client import redis_client
from platform_site.operations.loops import LoopCommand

logger = logging.getLogger(__name__)

IDLE_SLEEP_S = 1.0
# Lost pipeline builds are rare and a re-sent build waits behind the queue:
# looking once a minute keeps a slow queue from filling with duplicates.
PIPELINE_SWEEP_INTERVAL_S = 60.0
# Retention deletes by the day: once a minute is plenty, batch after batch
# while there is a backlog.
RETENTION_SWEEP_INTERVAL_S = 60.0


class Command(LoopCommand):
    help = "Reap stuck Running executions and re-enqueue lost Pending ones."
    part = "sweeper"
    last_pipeline_sweep = float("-inf")
    last_retention_sweep = float("-inf")
    # Since when the database has answered every step: after an outage,
    # runners get a full lease to beat again before silence means death.
    database_up_since: float | None = None
    # The silent runners of the last step (runners_silent()).
    silent_runners: dict = {}

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Run one sweep and exit."
        )

    def handle(self, *args, **options):
        if options["once"]:
            self.step()
            return
        super().handle(*args, **options)

    def settle_step(self) -> bool:
        """Settle what silent workers and pod hosts held (runners.py's one rule)."""
        now = time.monotonic()
        if self.database_up_since is None:
            self.database_up_since = now
        if now - self.database_up_since < settings.RUNNER_LEASE_S:
            return False
        # Twice silent at the same beat, a step apart: never a runner that
        # only missed beats while the database restarted between two steps.
        seen, self.silent_runners = self.silent_runners, runners_silent()
        settled = runners_settle_silent(seen=seen)
        if settled:
            logger.warning("Settled %d execution(s) of silent runners", settled)
        return bool(settled)

    def reap_step(self) -> bool:
        reaped = executions_reap_lost()
        if reaped:
            logger.info("Marked %d silent execution(s) as Error", reaped)
        return bool(reaped)

    def requeue_step(self) -> bool:
        try:
            lost = broker_lost_messages(redis_client())
        except RedisError:
            return False  # nothing can be re-sent before the broker is back
        if lost:
            logger.warning(
                "The broker holds none of our messages (new, flushed or restarted "
                "bare): re-sending every Pending execution"
            )
        requeued = executions_requeue_pending(broker_lost=lost)
        if requeued:
            logger.info("Re-enqueued %d pending execution(s)", requeued)
        return bool(requeued)

    def pipeline_step(self) -> bool:
        now = time.monotonic()
        if now - self.last_pipeline_sweep < PIPELINE_SWEEP_INTERVAL_S:
            return False
        self.last_pipeline_sweep = now
        requeued = pipeline_requeue_stale()
        if requeued:
            logger.info("Re-enqueued the build of %d pipeline(s)", requeued)
        return bool(requeued)

    def retention_step(self) -> bool:
        """One batch of expired executions; again at once while batches come back full."""
        now = time.monotonic()
        if now - self.last_retention_sweep < RETENTION_SWEEP_INTERVAL_S:
            return False
        deleted = executions_expire()
        if deleted:
            logger.info("Deleted %d execution(s) past retention", deleted)
        full = deleted >= RETENTION_BATCH
        self.last_retention_sweep = float("-inf") if full else now
        return full

    def step(self) -> bool:
        """One pass over every sweep; True when any found work."""
        found = False
        for sweep in (
            self.settle_step,
            self.reap_step,
            self.requeue_step,
            self.pipeline_step,
            self.retention_step,
        ):
            try:
                found = sweep() or found
            except DatabaseError:
                # One failing sweep (the database restarting) must not skip the others.
                logger.exception("Sweeper step %s failed", sweep.__name__)
                connection.close()
                self.database_up_since = None
        return found

    def idle_pause(self) -> float:
        return IDLE_SLEEP_S
