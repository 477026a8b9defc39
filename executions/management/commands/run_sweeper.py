"""Reap Running executions whose worker died; re-enqueue Pending ones whose message was lost.

Shaped like healthchecks' sendalerts: a loop over one-step methods that say
whether they found work; signals only set a shutdown flag. Every change is a
conditional UPDATE, so several sweepers can run side by side.
"""

from __future__ import annotations

import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from deployments.services.pipelines import pipeline_requeue_stale
from executions.services import executions_reap_lost, executions_requeue_pending
from platform_site import health

logger = logging.getLogger(__name__)

IDLE_SLEEP_S = 1.0
# Lost pipeline builds are rare and a re-sent build waits behind the queue:
# looking once a minute keeps a slow queue from filling with duplicates.
PIPELINE_SWEEP_INTERVAL_S = 60.0


class Command(BaseCommand):
    help = "Reap stuck Running executions and re-enqueue lost Pending ones."

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Run one sweep and exit."
        )

    def on_signal(self, signum, frame) -> None:
        self.shutdown = True

    def reap_step(self) -> bool:
        reaped = executions_reap_lost()
        if reaped:
            logger.info("Marked %d execution(s) whose worker was lost as Error", reaped)
        return bool(reaped)

    def requeue_step(self) -> bool:
        requeued = executions_requeue_pending()
        if requeued:
            logger.info("Re-enqueued %d pending execution(s)", requeued)
        return bool(requeued)

    def pipeline_step(self) -> bool:
        now = time.monotonic()
        if (
            now - getattr(self, "last_pipeline_sweep", float("-inf"))
            < PIPELINE_SWEEP_INTERVAL_S
        ):
            return False
        self.last_pipeline_sweep = now
        requeued = pipeline_requeue_stale()
        if requeued:
            logger.info("Re-enqueued the build of %d pipeline(s)", requeued)
        return bool(requeued)

    def beat_step(self) -> bool:
        try:
            health.beat("sweeper")
        except Exception:  # any broker error: the sweep itself does not need Redis
            logger.warning("Could not report the sweeper heartbeat")
        return False

    def sweep(self) -> bool:
        """One pass over every step; True when any found work."""
        found = False
        for step in (
            self.reap_step,
            self.requeue_step,
            self.pipeline_step,
            self.beat_step,
        ):
            try:
                found = step() or found
            except DatabaseError:
                logger.exception("Sweeper step %s failed", step.__name__)
                close_old_connections()
        return found

    def handle(self, *args, **options):
        self.shutdown = False
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        if options["once"]:
            self.sweep()
            return
        while not self.shutdown:
            found = self.sweep()
            close_old_connections()
            if not found:
                time.sleep(IDLE_SLEEP_S)
