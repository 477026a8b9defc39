"""Linux prctl switches of the runtime's processes: die with the parent, adopt orphans.

The zygote, each execution's process and the pod die when the process that
started them dies (no user code outlives its worker), and the zygote reaps
what an execution leaves behind. Loaded by zygote.py and pod.py as a plain
file under a private name; runs under any Python >= 3.8, standard library only.
"""

from __future__ import annotations

import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_libc_prctl = None


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send `sig` when our parent thread dies; False where unavailable."""
    return _prctl(PR_SET_PDEATHSIG, int(sig))


def set_child_subreaper() -> bool:
    """Become the parent of orphaned descendants, so we reap them; False where unavailable."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def _prctl(option: int, value: int) -> bool:
    global _libc_prctl
    if not sys.platform.startswith("linux"):
        return False
    if _libc_prctl is None:
        try:
            import ctypes

            _libc_prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (ImportError, OSError, AttributeError):
            return False
    return _libc_prctl(option, value, 0, 0, 0) == 0
