"""Kernel grouping of user processes: a cgroup per zygote, per elastic execution and per pod.

A process group or a session is the process's own to leave (`setsid`); a
cgroup is not: whatever an execution forks stays in its cgroup, so the
platform can count its memory and pids together (every process, children
included) and kill all of it at the end, double forks included.

What a machine offers differs: cgroup_support.py finds out once per
process (cgroup v2 with cgroup.kill, v1 memory, pids, freezer).
One group is a Cgroup (control_group.py).

Our groups live under the cgroup this process is in (never at the root),
in one folder per process, `craft-<pid>`, removed with the process's pool;
folders of dead processes are swept when the next one starts. Nothing here
works without root (or a delegated cgroup): `probe()` says so, and callers
fall back to per-process rlimits and process-group kills.

Standard library only; never imports Django.
"""

from __future__ import annotations

import atexit
import os
import threading

from .cgroup_files import enable_v2_controllers
from .cgroup_support import Support, detect
from .control_group import Cgroup

PREFIX = "craft-"
UNAVAILABLE = (
    "cgroups unavailable ({why}): memory limits are per process (rlimits) and "
    "processes left behind are killed by process group only; run the platform "
    "as root with a writable /sys/fs/cgroup"
)

_lock = threading.Lock()
_bases: dict[int, Cgroup | None] = {}  # pid -> this process's craft-<pid> group


def root() -> Cgroup | None:
    """This process's own group (craft-<pid>), created on first use; None where no cgroup can be made."""
    pid = os.getpid()
    with _lock:
        if pid in _bases:
            return _bases[pid]
        support = detect()
        base = None
        if support.problem is None:
            _sweep(support)
            if support.unified:
                # Only possible where our own group is the root (no-internal-
                # process rule); elsewhere they are delegated, or off.
                enable_v2_controllers(support.unified)
            base = Cgroup.make(support.dirs, f"{PREFIX}{pid}", parent=None, nested=True)
            if base is None:
                support.problem = "cannot create a cgroup under our own"
            else:
                atexit.register(_remove_empty, base, pid)
        _bases[pid] = base
        return base


def _remove_empty(group: Cgroup, pid: int) -> None:
    """At exit: our folder goes if nothing is left in it (never a kill: a fork shares the hook)."""
    if os.getpid() == pid:
        group.remove()


_probes: dict[int, str] = {}


def available() -> bool:
    """Whether this process can make cgroups (a group is made and removed to find out)."""
    return not probe().startswith("cgroups unavailable")


def probe() -> str:
    """One line for /healthz and the startup banner: what grouping user processes get here.

    Made once per process, by creating a group and removing it: a process
    that never runs user code (the web server) keeps no folder.
    """
    pid = os.getpid()
    if pid in _probes:
        return _probes[pid]
    with _lock:
        group = _bases.get(pid)
        made = None
        support = detect()
        if group is None and support.problem is None:
            group = made = Cgroup.make(
                support.dirs, f"{PREFIX}probe-{pid}", parent=None, nested=True
            )
    line = _describe(group, support)
    if made is not None:
        made.remove()
    _probes[pid] = line
    return line


def _describe(group: Cgroup | None, support: Support) -> str:
    if group is None:
        return UNAVAILABLE.format(why=support.problem or "cannot create a cgroup")
    parts = []
    if "unified" in group.dirs:
        parts.append("v2" + (" with cgroup.kill" if group.can_kill else ""))
    v1 = [kind for kind in ("memory", "pids", "freezer") if kind in group.dirs]
    if v1:
        parts.append("v1 " + ", ".join(v1))
    limits = [
        name
        for name, on in (("memory", group.limits_memory), ("pids", group.limits_pids))
        if on
    ]
    return (
        f"cgroups: {' + '.join(parts)}; a cgroup per execution and per pod, "
        f"killed whole at its end; limits counting every process: "
        f"{', '.join(limits) or 'none'}"
    )


def warning() -> str | None:
    """The startup / /healthz warning when no cgroup can be made, else None."""
    return None if available() else probe()


def _sweep(support: Support) -> None:
    """Remove the groups of platform processes that died without closing theirs."""
    for folder in support.dirs.values():
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if not name.startswith(PREFIX) or not name[len(PREFIX) :].isdigit():
                continue
            pid = int(name[len(PREFIX) :])
            if pid == os.getpid() or _alive(pid):
                continue
            stale = Cgroup(
                {kind: os.path.join(path, name) for kind, path in support.dirs.items()}
            )
            stale.dirs = {k: p for k, p in stale.dirs.items() if os.path.isdir(p)}
            stale.destroy(wait_s=0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
