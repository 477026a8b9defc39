"""A zygote's kernel groups: its own, one per execution, and the next execution's made ahead of time.

Moving a process into a cgroup costs ~15 ms the first time (the kernel's
cgroup_threadgroup_rwsem write lock waits for an RCU grace period), far more
than the rest of a run's start. So each zygote keeps one spare child: the
pool makes the next execution's group ahead of time and sends the zygote a
"prepare" frame with its cgroup.procs descriptors; the zygote forks the
spare, which joins the group (the slow move, off the critical path) and
waits. A run then goes to the spare, its memory limit written into the
group at that moment (a control-file write). Whenever no spare is ready
(the first run, a burst, a spare that died, a zygote that must spawn) the
run takes today's path: a group made now, joined by a child forked now.

Standard library only; never imports Django.
"""

from __future__ import annotations

import itertools
import logging
import threading

from . import protocol
from .control_group import Cgroup

logger = logging.getLogger(__name__)

# Spares that die one after another before taking a run (a group they cannot
# join, a fork the sandbox refuses): after this many, no more are prepared.
MAX_SPARE_FAILURES = 3


class ZygoteCgroup:
    """A zygote's kernel group: the zygote in a leaf `zygote`, each execution in a group beside it.

    (cgroup v2 lets a group with limits below it hold no process itself.)
    """

    def __init__(self, root: Cgroup, max_pids: int) -> None:
        self.group = root.unique_child("zygote", nested=True, pids_max=max_pids)
        try:
            self.leaf = self.group.child("zygote")
        except OSError:
            self.group.destroy()
            raise
        self.max_pids = max_pids

    def wrap_argv(self, argv: list[str]) -> list[str]:
        return self.leaf.wrap_argv(argv)

    def execution(self, memory_limit_mib: int = 0) -> Cgroup:
        return self.group.unique_child(
            "run", memory_mib=max(0, memory_limit_mib), pids_max=self.max_pids
        )

    def destroy(self) -> None:
        if not self.group.destroy():
            logger.warning("zygote cgroup %s not removed", self.group.dirs)


class SpareSlot:
    """One zygote's spare: the group made ahead for its next execution, and whether a child waits in it.

    zygote: the ZygoteHandle; its prepare(spare_id, fds) sends the frame
    (False once the zygote is gone). Thread-safe: runs take and refill it,
    the handle's reader thread reports spares that died.
    """

    def __init__(self, zygote, cgroup: ZygoteCgroup) -> None:
        self.zygote = zygote
        self.cgroup = cgroup
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._ready: tuple[int, Cgroup] | None = None
        self._preparing = False
        self._sending: int | None = None  # the spare whose prepare frame is on its way
        self._died: int | None = None  # ...reported dead before that send returned
        self._failures = 0
        self._closed = False

    def take(self) -> tuple[int, Cgroup] | None:
        """The spare's id and group for the next run (the caller destroys the group); None when none is ready."""
        with self._lock:
            ready, self._ready = self._ready, None
            return ready

    def ready(self) -> tuple[int, Cgroup] | None:
        """The spare waiting now, if any (for tests and diagnostics)."""
        with self._lock:
            return self._ready

    def refill(self) -> None:
        """Prepare the next spare unless one is ready or being prepared (never raises)."""
        with self._lock:
            if (
                self._closed
                or self._ready is not None
                or self._preparing
                or self._failures >= MAX_SPARE_FAILURES
            ):
                return
            self._preparing = True
            spare_id = self._sending = next(self._ids)
        group, fds = None, []
        try:
            group = self.cgroup.execution()
            fds = group.open_procs()
            # Sent without our lock: a send may wait on the zygote, whose
            # reports (gone()) must never wait on us.
            sent = self.zygote.prepare(spare_id, fds)
            with self._lock:
                if sent and self._died != spare_id and not self._closed:
                    self._ready = (spare_id, group)
                    group = None
                elif sent:
                    self._failures += 1
        except OSError as exc:
            logger.warning("no spare for zygote %s: %s", self.zygote.key, exc)
            with self._lock:
                self._failures += 1
        finally:
            protocol.close_fds(fds)  # only the spare may hold them
            with self._lock:
                self._preparing = False
                self._sending = None
            if group is not None:
                group.destroy()

    def gone(self, spare_id: int, again: bool = True) -> None:
        """The zygote reports spare_id dead before taking a run (or never forked): remove its group, replace it."""
        with self._lock:
            if self._sending == spare_id:
                self._died = spare_id  # refill() removes its group
                if not again:
                    self._failures = MAX_SPARE_FAILURES
                return
            if self._ready is None or self._ready[0] != spare_id:
                return  # already taken by a run, which falls back to a fork
            _, group = self._ready
            self._ready = None
            self._failures = self._failures + 1 if again else MAX_SPARE_FAILURES
        group.destroy()
        # Not on the caller's thread: the handle's reader must keep reading
        # the zygote's reports while the frame is sent.
        threading.Thread(target=self.refill, name="spare refill", daemon=True).start()

    def close(self) -> None:
        """No more spares; remove the waiting one's group (its child is killed with it)."""
        with self._lock:
            self._closed = True
            ready, self._ready = self._ready, None
        if ready is not None:
            ready[1].destroy()
