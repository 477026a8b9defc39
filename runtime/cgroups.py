"""Kernel grouping of user processes: a cgroup per zygote, per elastic execution and per pod.

A process group or a session is the process's own to leave (`setsid`); a
cgroup is not: whatever an execution forks stays in its cgroup, so the
platform can count its memory and pids together (every process, children
included) and kill all of it at the end, double forks included.

What a machine offers differs, so this module finds out once per process:

- a cgroup v2 hierarchy (pure v2 at /sys/fs/cgroup, or the "unified" one
  beside v1 controllers): `cgroup.kill` kills a whole group at once, and its
  memory/pids controllers count when they can be enabled for our groups;
- cgroup v1 `memory`, `pids` (and `freezer`, to kill without cgroup.kill).

Our groups live under the cgroup this process is in (never at the root),
in one folder per process, `craft-<pid>`, removed with the process's pool;
folders of dead processes are swept when the next one starts. Nothing here
works without root (or a delegated cgroup): `probe()` says so, and callers
fall back to per-process rlimits and process-group kills.

A process joins a group by writing "0" to each of its `cgroup.procs` files:
a forked child through descriptors the platform opened (the kernel checks
the opener's credentials, so an unprivileged child may use them), a
sandbox by `wrap_argv`, a tiny shell that joins before it execs bwrap.

Standard library only; never imports Django.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import itertools
import os
import shutil
import signal
import threading
import time
from collections.abc import Sequence

CGROUP_ROOT = "/sys/fs/cgroup"
MIB = 1024 * 1024
PREFIX = "craft-"
# How long kill_all() waits for the killed processes to leave the group.
KILL_WAIT_S = 1.0
# v1 without cgroup.kill: rounds of freeze, kill every pid, thaw.
KILL_ROUNDS = 50
SYSTEM_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
# Joins the groups named by "$@" (after a count), then runs the rest; env
# takes out what the shell itself exported (PWD, SHLVL, _), so the command
# gets exactly its caller's environment.
JOIN_SCRIPT = (
    'n=$1; shift; while [ "$n" -gt 0 ]; do echo 0 > "$1" || exit 125; '
    'shift; n=$((n - 1)); done; exec "$0" -u PWD -u OLDPWD -u SHLVL -u _ "$@"'
)
UNAVAILABLE = (
    "cgroups unavailable ({why}): memory limits are per process (rlimits) and "
    "processes left behind are killed by process group only; run the platform "
    "as root with a writable /sys/fs/cgroup"
)

_ids = itertools.count(1)
_lock = threading.Lock()
_support: tuple[int, Support] | None = None  # (pid, support) of this process
_bases: dict[int, Cgroup | None] = {}  # pid -> this process's craft-<pid> group


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
                _enable_v2_controllers(support.unified)
            base = Cgroup._make(
                support.dirs, f"{PREFIX}{pid}", parent=None, nested=True
            )
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
            group = made = Cgroup._make(
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


def wrap_argv(
    argv: Sequence[str],
    procs_paths: Sequence[str] = (),
    *,
    fsize_bytes: int | None = None,
) -> list[str]:
    """argv run after joining the groups of procs_paths (and with RLIMIT_FSIZE set); argv itself when neither."""
    if (procs_paths or fsize_bytes) and shutil.which(argv[0]) is None:
        # As Popen itself would: the caller reports a missing interpreter.
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
    prefix: list[str] = []
    if procs_paths:
        env = shutil.which("env", path=SYSTEM_PATH) or "/usr/bin/env"
        prefix += ["/bin/sh", "-c", JOIN_SCRIPT, env, str(len(procs_paths))]
        prefix += list(procs_paths)
    if fsize_bytes:
        prlimit = shutil.which("prlimit", path=SYSTEM_PATH) or "prlimit"
        prefix += [prlimit, f"--fsize={fsize_bytes}", "--"]
    return prefix + list(argv)


class Cgroup:
    """One group, as a folder in each hierarchy we use; build with root().child()."""

    def __init__(
        self,
        dirs: dict[str, str],
        *,
        v2: frozenset[str] = frozenset(),
        can_kill: bool | None = None,
    ) -> None:
        self.dirs = dirs
        self.v2 = v2  # v2 controllers this group has (enabled in its parent)
        self.memory = False  # whether a memory limit was set on it
        # Below a group, so is cgroup.kill (one look per zygote, not per run).
        self.can_kill = can_kill
        if can_kill is None:
            self.can_kill = "unified" in dirs and os.path.exists(
                os.path.join(dirs["unified"], "cgroup.kill")
            )
        # v2 controllers the groups below may use (set by _make when nested).
        self.for_children: frozenset[str] = frozenset()

    @property
    def limits_memory(self) -> bool:
        """Whether a memory limit on a group below counts every process."""
        return "memory" in self.dirs or "memory" in self.for_children

    @property
    def limits_pids(self) -> bool:
        return "pids" in self.dirs or "pids" in self.for_children

    @classmethod
    def _make(
        cls,
        parents: dict[str, str],
        name: str,
        *,
        parent: Cgroup | None,
        memory_mib: int = 0,
        pids_max: int = 0,
        nested: bool = False,
    ) -> Cgroup | None:
        """Create `name` under each of parents; None where not one folder could be made.

        nested: groups will be made below it, so it holds no process itself
        (v2 enables controllers only for groups without processes).
        """
        dirs: dict[str, str] = {}
        for kind, folder in parents.items():
            path = os.path.join(folder, name)
            try:
                os.mkdir(path, 0o755)
            except FileExistsError:
                pass  # a leftover of a process with our pid: reused, emptied below
            except OSError:
                if parent is not None:
                    # A child must be in every hierarchy of its parent, or a
                    # limit or the kill would miss it.
                    Cgroup(dirs).remove()
                    return None
                continue  # a hierarchy we may not write after all
            dirs[kind] = path
        if not dirs:
            return None
        if parent is None:
            v2 = frozenset(_v2_controllers(dirs.get("unified"), "cgroup.controllers"))
            group = cls(dirs, v2=v2)
        else:
            group = cls(dirs, v2=parent.for_children, can_kill=parent.can_kill)
        try:
            if nested and "unified" in dirs:
                _enable_v2_controllers(dirs["unified"])
                group.for_children = frozenset(
                    _v2_controllers(dirs["unified"], "cgroup.subtree_control")
                )
            if memory_mib > 0:
                group.memory = group._limit_memory(memory_mib * MIB)
            if pids_max > 0:
                group._limit_pids(pids_max)
        except OSError:
            group.destroy()
            return None
        return group

    def child(
        self, name: str, *, memory_mib: int = 0, pids_max: int = 0, nested: bool = False
    ) -> Cgroup:
        """A new group under this one, with its limits; OSError when it cannot be made."""
        group = Cgroup._make(
            self.dirs,
            name,
            parent=self,
            memory_mib=memory_mib,
            pids_max=pids_max,
            nested=nested,
        )
        if group is None:
            raise OSError(f"cannot create the cgroup {name}")
        return group

    def unique_child(self, stem: str, **options) -> Cgroup:
        return self.child(f"{stem}-{next(_ids)}", **options)

    # -- joining ------------------------------------------------------------

    def procs_paths(self) -> list[str]:
        return [os.path.join(path, "cgroup.procs") for path in self.dirs.values()]

    def open_procs(self) -> list[int]:
        """Write-only descriptors of our cgroup.procs files: writing "0" to each moves the writer in."""
        fds: list[int] = []
        try:
            for path in self.procs_paths():
                fds.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        return fds

    def wrap_argv(
        self, argv: Sequence[str], *, fsize_bytes: int | None = None
    ) -> list[str]:
        """argv started inside this group (see the module's wrap_argv)."""
        return wrap_argv(argv, self.procs_paths(), fsize_bytes=fsize_bytes)

    # -- limits and what happened -------------------------------------------

    def limit_memory(self, mib: int) -> None:
        """Set the memory limit of a group made without one (a spare's, when its run arrives)."""
        self.memory = self._limit_memory(mib * MIB) or self.memory

    def _limit_memory(self, limit: int) -> bool:
        done = False
        unified = self.dirs.get("unified")
        if unified and "memory" in self.v2:
            _write(unified, "memory.max", str(limit))
            with contextlib.suppress(FileNotFoundError):  # no swap accounting
                _write(unified, "memory.swap.max", "0")
            # One OOM kill takes the whole group: the execution (or pod) ends.
            with contextlib.suppress(FileNotFoundError):
                _write(unified, "memory.oom.group", "1")
            done = True
        if "memory" in self.dirs:
            _write(self.dirs["memory"], "memory.limit_in_bytes", str(limit))
            with contextlib.suppress(FileNotFoundError):  # swapaccount=0
                _write(self.dirs["memory"], "memory.memsw.limit_in_bytes", str(limit))
            done = True
        return done

    def _limit_pids(self, pids_max: int) -> None:
        unified = self.dirs.get("unified")
        if unified and "pids" in self.v2:
            _write(unified, "pids.max", str(pids_max))
        if "pids" in self.dirs:
            _write(self.dirs["pids"], "pids.max", str(pids_max))

    def oom_kills(self) -> int:
        """Processes of this group the kernel killed for its memory limit (0 when unknown)."""
        count = 0
        if "memory" in self.dirs:
            count += _field(self.dirs["memory"], "memory.oom_control", "oom_kill")
        unified = self.dirs.get("unified")
        if unified and "memory" in self.v2:
            count += _field(unified, "memory.events", "oom_kill")
        return count

    def populated(self) -> bool:
        """Whether any process (of this group or a group below) is alive."""
        unified = self.dirs.get("unified")
        if unified:
            with contextlib.suppress(OSError):
                return _field(unified, "cgroup.events", "populated") > 0
        return bool(self._pids())

    def _pids(self) -> list[int]:
        folder = next(iter(self.dirs.values()), None)
        found = []
        for path, _, _ in os.walk(folder or "/nonexistent"):
            with (
                contextlib.suppress(OSError),
                open(os.path.join(path, "cgroup.procs")) as procs,
            ):
                found += [int(line) for line in procs if line.strip()]
        return found

    # -- the end -------------------------------------------------------------

    def kill_all(self, wait_s: float = KILL_WAIT_S) -> bool:
        """SIGKILL every process of the group (and of groups below); True once none is left.

        wait_s=0 only sends the kill.
        """
        if not self.populated():
            return True
        if self.can_kill:
            with contextlib.suppress(OSError):
                _write(self.dirs["unified"], "cgroup.kill", "1")
        else:
            self._kill_by_pid(wait_s)
        return self._wait_empty(wait_s)

    def _kill_by_pid(self, wait_s: float) -> None:
        # Without cgroup.kill: freeze (so nothing forks between reading the
        # list and the kill), kill each pid, thaw, until the group is empty.
        freezer = self.dirs.get("freezer")
        deadline = time.monotonic() + wait_s
        for _ in range(KILL_ROUNDS):
            if freezer:
                with contextlib.suppress(OSError):
                    _write(freezer, "freezer.state", "FROZEN")
            pids = self._pids()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if freezer:
                with contextlib.suppress(OSError):
                    _write(freezer, "freezer.state", "THAWED")
            if not pids or time.monotonic() > deadline:
                return
            time.sleep(0.001)

    def _wait_empty(self, wait_s: float) -> bool:
        deadline = time.monotonic() + wait_s
        pause = 0.0002
        while self.populated():
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
        return True

    def remove(self) -> bool:
        """rmdir the group's folders (groups below first); False when a process still holds one."""
        removed = True
        for path in self.dirs.values():
            try:
                os.rmdir(path)  # a leaf, the usual case: no walk
                continue
            except FileNotFoundError:
                continue
            except OSError:
                pass  # groups below it, or still populated
            for folder, _, _ in sorted(
                os.walk(path), key=lambda entry: -entry[0].count("/")
            ):
                try:
                    os.rmdir(folder)
                except FileNotFoundError:
                    pass
                except OSError:
                    removed = False
        return removed

    def destroy(self, wait_s: float = KILL_WAIT_S) -> bool:
        """kill_all(), then remove(); True when nothing is left."""
        return self.kill_all(wait_s) and self.remove()


# -- helpers -----------------------------------------------------------------


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


def _v2_controllers(folder: str | None, name: str) -> set[str]:
    """The controllers listed in a v2 group's cgroup.controllers or cgroup.subtree_control."""
    if not folder:
        return set()
    try:
        with open(os.path.join(folder, name)) as f:
            return set(f.read().split())
    except OSError:
        return set()


def _enable_v2_controllers(folder: str) -> None:
    """Let groups below folder use memory and pids where its parent lets it (pure v2 machines)."""
    available = _v2_controllers(folder, "cgroup.controllers")
    enabled = _v2_controllers(folder, "cgroup.subtree_control")
    for controller in ("memory", "pids"):
        if controller in available and controller not in enabled:
            # EBUSY where folder holds processes: then it stays off.
            with contextlib.suppress(OSError):
                _write(folder, "cgroup.subtree_control", f"+{controller}")


def _write(folder: str, name: str, value: str) -> None:
    fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _field(folder: str, name: str, key: str) -> int:
    """The number after `key` in a flat-keyed cgroup file; 0 when absent."""
    try:
        with open(os.path.join(folder, name), "rb") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == key.encode():
                    return int(parts[1])
    except FileNotFoundError:
        pass  # the controller is not there
    return 0


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


def _kernel_at_least(major: int, minor: int) -> bool:
    try:
        numbers = os.uname().release.split("-")[0].split(".")
        return (int(numbers[0]), int(numbers[1])) >= (major, minor)
    except (ValueError, IndexError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
