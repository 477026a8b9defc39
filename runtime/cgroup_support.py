"""Where this process's cgroups are, and which of them we may write: found out once per process.

What a machine offers differs:

- a cgroup v2 hierarchy (pure v2 at /sys/fs/cgroup, or the "unified" one
  beside v1 controllers): `cgroup.kill` kills a whole group at once, and its
  memory/pids controllers count when they can be enabled for our groups;
- cgroup v1 `memory`, `pids` (and `freezer`, to kill without cgroup.kill).

Read from /proc/self/cgroup and /proc/self/mountinfo; nothing is written here.
Standard library only; never imports Django.
"""

from __future__ import annotations

import os

_support: tuple[int, Support] | None = None  # (pid, support) of this process


class Support:
    """What this machine lets us do: folders of our own cgroup per hierarchy."""

    def __init__(self) -> None:
        self.unified: str | None = None  # our cgroup's folder in the v2 hierarchy
        self.memory: str | None = None  # v1 folders
        self.pids: str | None = None
        self.freezer: str | None = None
        self.problem: str | None = None

    @property
    def dirs(self) -> dict[str, str]:
        found = {
            "unified": self.unified,
            "memory": self.memory,
            "pids": self.pids,
            "freezer": self.freezer,
        }
        return {kind: path for kind, path in found.items() if path}


def detect() -> Support:
    """Where this process's cgroups are and which ones we may write; cached per process."""
    global _support
    pid = os.getpid()
    if _support is not None and _support[0] == pid:
        return _support[1]
    support = Support()
    try:
        own = _own_cgroups()
        mounts = _cgroup_mounts()
    except OSError as exc:
        support.problem = f"cannot read /proc: {exc.strerror}"
        _support = (pid, support)
        return support
    for fstype, options, root, mountpoint in mounts:
        if fstype == "cgroup2":
            if support.unified is None and "" in own:
                support.unified = _folder(mountpoint, root, own[""])
            continue
        for kind in ("memory", "pids", "freezer"):
            if kind in options and getattr(support, kind) is None:
                key = next((k for k in own if kind in k.split(",")), None)
                if key is not None:
                    setattr(support, kind, _folder(mountpoint, root, own[key]))
    for kind, path in list(support.dirs.items()):
        if not os.access(path, os.W_OK):
            setattr(support, kind, None)
    if support.unified and support.freezer:
        # cgroup.kill (Linux 5.14) makes the v1 freezer unnecessary.
        probe_kill = os.path.join(os.path.dirname(support.unified), "cgroup.kill")
        if os.path.exists(probe_kill) or _kernel_at_least(5, 14):
            support.freezer = None
    if not support.dirs:
        support.problem = (
            "not root, or /sys/fs/cgroup is read-only"
            if mounts
            else "no cgroup file system mounted"
        )
    _support = (pid, support)
    return support


def _own_cgroups() -> dict[str, str]:
    """{controllers ("" for v2): path} from /proc/self/cgroup."""
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            parts = line.rstrip("\n").split(":", 2)
            if len(parts) == 3:
                own[parts[1]] = parts[2]
    return own


def _cgroup_mounts() -> list[tuple[str, set[str], str, str]]:
    """(fstype, options, root, mountpoint) of each cgroup mount, from /proc/self/mountinfo."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if "-" not in fields:
                continue
            sep = fields.index("-")
            fstype = fields[sep + 1]
            if fstype not in ("cgroup", "cgroup2"):
                continue
            options = (
                set(fields[sep + 3].split(",")) if len(fields) > sep + 3 else set()
            )
            root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
            found.append((fstype, options, root, mountpoint))
    return found


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def _folder(mountpoint: str, root: str, own: str) -> str | None:
    """Our cgroup's folder under a mount of the hierarchy mounted from `root`."""
    if root == "/":
        return os.path.normpath(mountpoint + own)
    if own == root or own.startswith(root.rstrip("/") + "/"):
        return os.path.normpath(mountpoint + own[len(root) :])
    return None  # our cgroup is not visible through this mount


def _kernel_at_least(major: int, minor: int) -> bool:
    try:
        numbers = os.uname().release.split("-")[0].split(".")
        return (int(numbers[0]), int(numbers[1])) >= (major, minor)
    except (ValueError, IndexError):
        return False
