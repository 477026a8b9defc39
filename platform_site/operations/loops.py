"""The loop of the platform's long-running commands (scheduler, sweeper).

Shaped like healthchecks' sendalerts: repeat a one-step method that says
whether it found work; go again at once when it did, sleep (on the
monotonic clock) when it did not. Signal handlers only set a flag, so a
step is never cut in the middle. A database outage or a bug in one step
is logged and retried after a pause: it must not stop every schedule.
"""

from __future__ import annotations

import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, connection
from redis import RedisError

from platform_site.operations import health, liveness

logger = logging.getLogger(__name__)

BEAT_EVERY_S = 2.0
ERROR_PAUSE_S = 1.0
SLEEP_SLICE_S = 0.25


class LoopCommand(BaseCommand):
    """Subclasses set `part` (its name in /healthz) and define step() and idle_pause()."""

    part = ""

    def step(self) -> bool:
        """Do one unit of work; True when there was some (the loop goes on at once)."""
        raise NotImplementedError

    def idle_pause(self) -> float:
        """Seconds to sleep after a step that found nothing."""
        return 1.0

    def on_signal(self, signum, frame) -> None:
        # Only a flag: the loop finishes the step it is in, then exits.
        self.shutdown = True

    def handle(self, *args, **options):
        self.shutdown = False
        self.last_beat = float("-inf")
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        self.stdout.write(f"{self.part} started")
        while not self.shutdown:
            self.beat()
            self.sleep(self.turn())
        self.stdout.write(f"{self.part} stopped")

    def turn(self) -> float:
        """One step; returns how long to sleep before the next."""
        try:
            return 0.0 if self.step() else self.idle_pause()
        except DatabaseError:
            # The database went away (restart, failover): a fresh connection next turn.
            logger.exception("%s step failed", self.part)
            return ERROR_PAUSE_S
        except Exception:  # a bug must not stop the loop: log and retry
            logger.exception("%s step failed", self.part)
            return ERROR_PAUSE_S
        finally:
            # Back to the pool between steps (a dead one is dropped there).
            connection.close()

    def beat(self) -> None:
        liveness.touch()
        now = time.monotonic()
        if now - self.last_beat < BEAT_EVERY_S:
            return
        try:
            health.beat(self.part)
            self.last_beat = now
        except RedisError:
            logger.warning("Could not record the %s heartbeat", self.part)

    def sleep(self, seconds: float) -> None:
        """Sleep in short slices so that a stop request is honoured quickly."""
        deadline = time.monotonic() + seconds
        while not self.shutdown:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, SLEEP_SLICE_S))
