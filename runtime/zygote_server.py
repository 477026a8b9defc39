"""The zygote's loop: the module imported once, the pool's frames served, the children reaped and reported.

Single-threaded by construction (R12): one poll() loop over the pool's socket
and a signal wakeup pipe; SIGCHLD wakes it and children are reaped with wait4,
no polling sleeps. If the user's module started Python threads at import,
forking would copy locks held by those threads, so runs are then spawned
(zygote_children.py) instead.

Frames from the pool: "run" (a child for one execution), "kill", and
"prepare": fork a spare child now, from the same unchanged state, which
joins the next execution's cgroup off the critical path and waits on a
socketpair for its run (see execution_groups.py). A "run" naming a spare
still waiting goes to it; otherwise a child is forked (or spawned) then.
A spare that dies first is reaped and reported "spare_gone".

Loaded by zygote.py (`--serve`) as a plain file under a private name; runs
under any Python >= 3.8, standard library only.
"""

from __future__ import annotations

import gc
import os
import select
import signal
import socket
import sys
import tempfile
import time

try:
    from . import inherited_fds, protocol, seeds, user_code, zygote_children
except ImportError:  # loaded by zygote.py as plain files, outside the package
    inherited_fds = sys.modules["_craft_runtime_inherited_fds"]
    protocol = sys.modules["_craft_runtime_protocol"]
    seeds = sys.modules["_craft_runtime_seeds"]
    user_code = sys.modules["_craft_runtime_user_code"]
    zygote_children = sys.modules["_craft_runtime_zygote_children"]

MAX_IMPORT_LOG_BYTES = 256 * 1024
FORK_RETRIES = 40
FORK_RETRY_S = 0.05


class Zygote:
    """One pipeline's module, imported once; the pool's frames served in one loop."""

    def __init__(self, sock: socket.socket, diag_fd: int) -> None:
        self.sock = sock
        self.diag_fd = diag_fd
        self.function = None
        self.module_args: list[str] = []
        self.env = dict(os.environ)  # saved before user code can change it
        # pid -> (run id, started_at, whether a spare took it)
        self.children: dict[int, tuple[int, float, bool]] = {}
        self.pids: dict[int, int] = {}  # run id -> pid
        # Spare children waiting for a run (see execution_groups.py).
        self.spares: dict[
            int, tuple[int, socket.socket]
        ] = {}  # spare id -> (pid, channel)
        self.spare_ids: dict[int, int] = {}  # pid -> spare id, until it takes a run
        self.sockets: list[int] = []  # opened by the module at import
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)

    # -- start ---------------------------------------------------------------

    def load(self, code_dir: str, function_path: str, function_name: str) -> None:
        """Import the user's module with fds 1/2 captured; report ready or failed to the pool."""
        self.module_args = [code_dir, function_path, function_name]
        inherited_fds.line_buffered_stdio()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            started = time.monotonic()
            failure = None
            try:
                seeds.watch_import()
                self.function = user_code.load_function(
                    code_dir, function_path, function_name
                )
                seeds.after_import()
                if _is_coroutine_function(self.function):
                    import asyncio  # noqa: F401 - paid once here, not in every execution
            except BaseException as exc:
                # The user's import error is reported, not fatal to us.
                failure = exc
            import_s = time.monotonic() - started
            inherited_fds.flush_std()
            if failure is not None:
                user_code.print_traceback(failure)
                inherited_fds.flush_std()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.close(devnull)
            logs = {"stdout": _read_lines(out), "stderr": _read_lines(err)}
        if failure is not None:
            protocol.send_frame(
                self.sock,
                {"op": "failed", "reason": user_code.describe(failure), **logs},
            )
            return
        own = {self.sock.fileno(), self.wake_r, self.wake_w, self.diag_fd}
        self.sockets = inherited_fds.inherited_sockets(exclude=own)
        # Objects that exist now are left alone by the collector in the
        # children: a collection writes to each object's header, and every
        # page it writes to is copied (copy-on-write) in that child.
        gc.freeze()
        protocol.send_frame(
            self.sock,
            {
                "op": "ready",
                "pid": os.getpid(),
                "import_s": import_s,
                "rss_kib": _status_kib(b"VmRSS:"),
                **logs,
            },
        )

    # -- loop ----------------------------------------------------------------

    def serve(self) -> None:
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, _noop)
        # The C-level handler writes the signal number here, waking poll().
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        while True:
            for fd, _ in poller.poll():
                if fd == self.wake_r:
                    signals = _drain(self.wake_r)
                    self.reap()
                    if {signal.SIGTERM, signal.SIGINT, signal.SIGHUP} & set(signals):
                        return
                    continue
                frame = protocol.recv_frame(self.sock)
                if frame is None:
                    return  # the pool closed its end or died
                header, payload, fds = frame
                if header["op"] == "run":
                    self.start_run(header["id"], payload, fds, header.get("spare"))
                elif header["op"] == "prepare":
                    self.prepare(header["spare"], fds)
                elif header["op"] == "kill":
                    self.kill(header["id"])
                else:
                    protocol.close_fds(fds)

    def start_run(
        self, run_id: int, payload: bytes, fds: list[int], spare_id: int | None = None
    ) -> None:
        """fds: stdout, stderr, result, then the cgroup.procs files of the run's group (if it has one).

        spare_id: the spare waiting in that group takes the run if it still
        can; otherwise a child forked now joins the group itself.
        """
        spare = self.spares.pop(spare_id, None) if spare_id is not None else None
        try:
            if len(fds) < 3:
                raise ValueError(f"run needs 3 descriptors, got {len(fds)}")
            started_at = time.time()
            pid = zygote_children.hand_over(spare, payload, fds[:3]) if spare else None
            if pid is not None:
                del self.spare_ids[pid]  # it took the run: a spare no more
            else:
                pid = self.start_process(payload, fds)
        except (OSError, ValueError) as exc:
            # Fork/spawn refused (EAGAIN, ENOMEM): this run only.
            self.send(
                {
                    "op": "exited",
                    "id": run_id,
                    "error": f"Could not start the execution process: {exc}",
                }
            )
            return
        finally:
            protocol.close_fds(fds)
        from_spare = spare is not None and pid == spare[0]
        self.children[pid] = (run_id, started_at, from_spare)
        self.pids[run_id] = pid

    def prepare(self, spare_id: int, fds: list[int]) -> None:
        """Fork a spare child into the group of fds (a cgroup.procs each); it waits for a run."""
        try:
            if not zygote_children.fork_safe():
                # Runs are spawned: a fork could copy a lock held by a thread.
                self.send({"op": "spare_gone", "spare": spare_id, "again": False})
                return
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                pid = zygote_children.fork_spare(
                    self.function,
                    theirs,
                    [*self.zygote_fds(), ours.fileno()],
                    self.sockets,
                    fds,
                )
            except OSError:
                ours.close()
                self.send({"op": "spare_gone", "spare": spare_id, "again": True})
                return
            finally:
                theirs.close()
            self.spares[spare_id] = (pid, ours)
            self.spare_ids[pid] = spare_id
        finally:
            protocol.close_fds(fds)

    def zygote_fds(self) -> list[int]:
        """What a child must close: our socket, the wakeup pipe, our stderr, the spares' channels."""
        own = [self.sock.fileno(), self.wake_r, self.wake_w, self.diag_fd]
        return own + [channel.fileno() for _, channel in self.spares.values()]

    def start_process(self, payload: bytes, fds: list[int]) -> int:
        """Fork (or spawn) the run's process, waiting a little while the process limit is full.

        The processes of a killed fork bomb leave the sandbox's count only
        once reaped: the next execution should not pay for them.
        """
        for attempt in range(FORK_RETRIES):
            try:
                if zygote_children.fork_safe():
                    return zygote_children.fork_run(
                        self.function, payload, fds, self.zygote_fds(), self.sockets
                    )
                return zygote_children.spawn_run(
                    self.module_args, self.env, payload, fds
                )
            except BlockingIOError:  # EAGAIN: RLIMIT_NPROC reached
                if attempt == FORK_RETRIES - 1:
                    raise
                self.reap()
                time.sleep(FORK_RETRY_S)
        raise AssertionError("unreachable")

    def kill(self, run_id: int) -> None:
        pid = self.pids.get(run_id)
        if pid is not None:
            zygote_children.kill_group(pid)

    def reap(self) -> None:
        while True:
            try:
                # WNOWAIT leaves the child a zombie, so its pid (= its process
                # group id) cannot be reused while we kill what it left behind.
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or info.si_pid == 0:
                return
            pid = info.si_pid
            zygote_children.kill_group(pid)
            _, status, usage = os.wait4(pid, 0)
            spare_id = self.spare_ids.pop(pid, None)
            if spare_id is not None:
                # Died before taking a run (killed, OOM): the pool replaces it.
                spare = self.spares.pop(spare_id, None)
                if spare is not None:
                    spare[1].close()
                self.send({"op": "spare_gone", "spare": spare_id, "again": True})
                continue
            run = self.children.pop(pid, None)
            if run is None:
                continue
            run_id, started_at, from_spare = run
            self.pids.pop(run_id, None)
            self.send(
                {
                    "op": "exited",
                    "id": run_id,
                    "started_at": started_at,
                    "exit_code": os.WEXITSTATUS(status)
                    if os.WIFEXITED(status)
                    else None,
                    "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                    "maxrss_kib": usage.ru_maxrss,
                    "cpu_s": usage.ru_utime + usage.ru_stime,
                    "spare": from_spare,
                }
            )

    def send(self, header: dict) -> None:
        protocol.send_frame(self.sock, header)

    def shutdown(self) -> None:
        """Kill every execution still running (the pool is gone or asked us to stop)."""
        for pid in [*self.children, *self.spare_ids]:
            zygote_children.kill_group(pid)


def _noop(signum, frame) -> None:
    """Signals only wake the loop through the wakeup fd."""


def _drain(fd: int) -> bytes:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


def _read_lines(f) -> list[str]:
    f.seek(0)
    data = f.read(MAX_IMPORT_LOG_BYTES)
    return data.decode("utf-8", "replace").splitlines()


def _status_kib(field: bytes) -> int | None:
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass  # no procfs
    return None


def _is_coroutine_function(function) -> bool:
    import inspect

    return inspect.iscoroutinefunction(function)
