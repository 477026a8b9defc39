"""One client per process and configuration: the rule every pooled client follows.

A client holds sockets (a Redis pool, boto3's HTTP pool): creating one per
call costs a connect each time, and a forked child must never share its
parent's. So a client is made once per (pid, key) and reused by the
process's threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")

_made: dict[tuple[int, Hashable], object] = {}
_lock = threading.Lock()


def per_process(key: Hashable, make: Callable[[], T]) -> T:
    """The client this process made for `key`, made by `make()` on first use."""
    slot = (os.getpid(), key)
    found = _made.get(slot)
    if found is None:
        with _lock:
            found = _made.get(slot)
            if found is None:
                found = _made[slot] = make()
    return found  # type: ignore[return-value]
