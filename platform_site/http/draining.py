"""Set when this process is asked to stop: held requests answer at once instead of holding.

Set from a signal handler, so it is one plain assignment: no lock, no Event.
"""

from __future__ import annotations

_draining = False


def start_draining() -> None:
    global _draining
    _draining = True


def is_draining() -> bool:
    return _draining
