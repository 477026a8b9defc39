"""A child's proof of life for the supervisor of `make run` (platform_site/operations/supervisor.py).

The supervisor names a file in PLATFORM_LIVENESS_FILE; the child touches it
from the loop that does its work. A child whose file goes stale (frozen by
SIGSTOP, deadlocked, stuck in a call that never returns) is killed and
restarted, which /healthz alone could only report.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

LIVENESS_ENV = "PLATFORM_LIVENESS_FILE"
TOUCH_EVERY_S = 1.0

_last_touch = float("-inf")


def touch() -> None:
    """Say "alive" (at most once a second); nothing when no supervisor watches."""
    global _last_touch
    path = os.environ.get(LIVENESS_ENV)
    now = time.monotonic()
    if not path or now - _last_touch < TOUCH_EVERY_S:
        return
    _last_touch = now
    # OSError: the supervisor's folder is gone, so it is stopping us anyway.
    with contextlib.suppress(OSError):
        Path(path).touch()


def touch_forever(interval_s: float = TOUCH_EVERY_S) -> None:
    """For a process whose work loop is not ours (uvicorn, Celery): a thread that touches."""

    def loop() -> None:
        while True:
            touch()
            time.sleep(interval_s)

    if os.environ.get(LIVENESS_ENV):
        threading.Thread(target=loop, name="liveness", daemon=True).start()
