"""One cgroup (Cgroup: its folder in each hierarchy we use): made with its limits, joined, killed whole, removed.

A process joins a group by writing "0" to each of its `cgroup.procs` files:
a forked child through descriptors the platform opened (the kernel checks
the opener's credentials, so an unprivileged child may use them), a
sandbox by `wrap_argv`, a tiny shell that joins before it execs bwrap.
Standard library only; never imports Django.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
import signal
import time
from collections.abc import Sequence

from . import cgroup_files

MIB = 1024 * 1024
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

_ids = itertools.count(1)


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
    """One group, as a folder in each hierarchy we use; build with cgroups.root().child()."""

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
        # v2 controllers the groups below may use (set by make when nested).
        self.for_children: frozenset[str] = frozenset()

    @property
    def limits_memory(self) -> bool:
        """Whether a memory limit on a group below counts every process."""
        return "memory" in self.dirs or "memory" in self.for_children

    @property
    def limits_pids(self) -> bool:
        return "pids" in self.dirs or "pids" in self.for_children

    @classmethod
    def make(
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
            v2 = frozenset(
                cgroup_files.v2_controllers(dirs.get("unified"), "cgroup.controllers")
            )
            group = cls(dirs, v2=v2)
        else:
            group = cls(dirs, v2=parent.for_children, can_kill=parent.can_kill)
        try:
            if nested and "unified" in dirs:
                cgroup_files.enable_v2_controllers(dirs["unified"])
                group.for_children = frozenset(
                    cgroup_files.v2_controllers(
                        dirs["unified"], "cgroup.subtree_control"
                    )
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
        group = Cgroup.make(
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
            cgroup_files.write(unified, "memory.max", str(limit))
            with contextlib.suppress(FileNotFoundError):  # no swap accounting
                cgroup_files.write(unified, "memory.swap.max", "0")
            # One OOM kill takes the whole group: the execution (or pod) ends.
            with contextlib.suppress(FileNotFoundError):
                cgroup_files.write(unified, "memory.oom.group", "1")
            done = True
        if "memory" in self.dirs:
            cgroup_files.write(self.dirs["memory"], "memory.limit_in_bytes", str(limit))
            with contextlib.suppress(FileNotFoundError):  # swapaccount=0
                cgroup_files.write(
                    self.dirs["memory"], "memory.memsw.limit_in_bytes", str(limit)
                )
            done = True
        return done

    def _limit_pids(self, pids_max: int) -> None:
        unified = self.dirs.get("unified")
        if unified and "pids" in self.v2:
            cgroup_files.write(unified, "pids.max", str(pids_max))
        if "pids" in self.dirs:
            cgroup_files.write(self.dirs["pids"], "pids.max", str(pids_max))

    def oom_kills(self) -> int:
        """Processes of this group the kernel killed for its memory limit (0 when unknown)."""
        count = 0
        if "memory" in self.dirs:
            count += cgroup_files.field(
                self.dirs["memory"], "memory.oom_control", "oom_kill"
            )
        unified = self.dirs.get("unified")
        if unified and "memory" in self.v2:
            count += cgroup_files.field(unified, "memory.events", "oom_kill")
        return count

    def populated(self) -> bool:
        """Whether any process (of this group or a group below) is alive."""
        unified = self.dirs.get("unified")
        if unified:
            with contextlib.suppress(OSError):
                return cgroup_files.field(unified, "cgroup.events", "populated") > 0
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
                cgroup_files.write(self.dirs["unified"], "cgroup.kill", "1")
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
                    cgroup_files.write(freezer, "freezer.state", "FROZEN")
            pids = self._pids()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if freezer:
                with contextlib.suppress(OSError):
                    cgroup_files.write(freezer, "freezer.state", "THAWED")
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
