from __future__ import annotations

import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connection
from redis import RedisError

from deployments.scheduler import MAX_SLEEP_S, scheduler_step, seconds_until_next_tick
from platform_site import health

logger = logging.getLogger(__name__)

BEAT_EVERY_S = 2.0
ERROR_BACKOFF_S = 1.0


class Command(BaseCommand):
    help = "Start periodic deployments' executions on their CRON ticks (UTC)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-sleep",
            type=float,
            default=MAX_SLEEP_S,
            help="Longest sleep between checks, in seconds (default %(default)s).",
        )

    def on_signal(self, signum, frame) -> None:
        # Only set a flag: the loop finishes the step it is in, then exits.
        self.shutdown = True

    def beat(self) -> None:
        now = time.monotonic()
        if now - self.last_beat < BEAT_EVERY_S:
            return
        try:
            health.beat("scheduler")
            self.last_beat = now
        except RedisError:
            logger.warning("Could not record the scheduler heartbeat")

    def sleep(self, seconds: float) -> None:
        """Sleep on the monotonic clock, in short slices so a signal is honoured quickly."""
        deadline = time.monotonic() + seconds
        while not self.shutdown:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, 0.25))

    def handle(self, *args, **options):
        self.shutdown = False
        self.last_beat = float("-inf")
        max_sleep = options["max_sleep"]
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        self.stdout.write("Scheduler started")
        while not self.shutdown:
            self.beat()
            try:
                if scheduler_step():
                    continue  # more may be due right now
                pause = seconds_until_next_tick(cap=max_sleep)
            except DatabaseError:
                # The database went away (restart, failover): reconnect next turn.
                logger.exception("Scheduler step failed")
                close_old_connections()
                connection.close()
                pause = ERROR_BACKOFF_S
            except Exception:  # a bug must not stop every schedule: log and retry
                logger.exception("Scheduler step failed")
                pause = ERROR_BACKOFF_S
            self.sleep(pause)
        self.stdout.write("Scheduler stopped")
