"""The zygote: imports one pipeline's module once, then forks a fresh child per execution.

Started by pool.py as `<python> zygote.py --serve SOCK_FD POOL_PID CODE_DIR FUNCTION_PATH FUNCTION_NAME`
with any Python >= 3.8 (a pipeline's own virtualenv), a minimal environment and
stdin on /dev/null. Standard library only; never imports Django.

Single-threaded by construction (R12): one poll() loop over the pool's socket
and a signal wakeup pipe; SIGCHLD wakes it and children are reaped with wait4,
no polling sleeps. If the user's module started Python threads at import,
forking would copy locks held by those threads, so runs are then spawned
(posix_spawn, a fresh interpreter that imports the module itself) instead.

Frames from the pool: "run" (a child for one execution), "kill", and
"prepare": fork a spare child now, from the same unchanged state, which
joins the next execution's cgroup off the critical path and waits on a
socketpair for its run (see execution_groups.py). A "run" naming a spare
still waiting goes to it; otherwise a child is forked (or spawned) then.
A spare that dies first is reaped and reported "spare_gone".
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import os
import select
import signal
import socket
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
# Python puts the script's folder first on sys.path: drop it, so the user's
# modules never see ours and ours never shadow theirs.
if sys.path and sys.path[0] in ("", HERE):
    del sys.path[0]

MAX_IMPORT_LOG_BYTES = 256 * 1024
FORK_RETRIES = 40
FORK_RETRY_S = 0.05


def _load_sibling(name: str):
    """Load a module of this folder under a private name (child.py finds its siblings there).

    A module's siblings are loaded before it: it takes them from sys.modules.
    """
    module_name = f"_craft_runtime_{name}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(
            module_name, os.path.join(HERE, f"{name}.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return module


protocol = _load_sibling("protocol")
_load_sibling("outputs")
user_code = _load_sibling("user_code")
prctl = _load_sibling("prctl")
_load_sibling("rlimits")
inherited_fds = _load_sibling("inherited_fds")
child = _load_sibling("child")
seeds = _load_sibling("seeds")


class Zygote:
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
            _flush_std()
            if failure is not None:
                user_code.print_traceback(failure)
                _flush_std()
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
            pid = self.hand_over(spare, payload, fds[:3]) if spare else None
            if pid is None:
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
            if not self.fork_safe():
                # Runs are spawned: a fork could copy a lock held by a thread.
                self.send({"op": "spare_gone", "spare": spare_id, "again": False})
                return
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                pid = self.fork_spare(theirs, ours, fds)
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

    def fork_spare(
        self, channel: socket.socket, ours: socket.socket, cgroup_fds: list[int]
    ) -> int:
        _flush_std()
        zygote_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                seeds.in_child()
                child.wait_as_spare(
                    self.function,
                    channel,
                    [*self.zygote_fds(), ours.fileno()],
                    zygote_pid,
                    self.sockets,
                    cgroup_fds,
                )
            finally:
                os._exit(70)  # wait_as_spare never returns
        return pid

    def hand_over(
        self, spare: tuple[int, socket.socket], payload: bytes, fds: list[int]
    ) -> int | None:
        """Give the run to a spare child: its pid, or None when it died meanwhile."""
        pid, channel = spare
        request_fd = -1
        try:
            # In a file, not on the socket: a large request never blocks us.
            request_fd = os.memfd_create("craft-run-request", os.MFD_CLOEXEC)
            view = memoryview(payload)
            while view:
                view = view[os.write(request_fd, view) :]
            protocol.send_frame(channel, {"op": "run"}, b"", [*fds, request_fd])
        except OSError:
            _kill_group(pid)  # reaped and reported gone by reap()
            return None
        finally:
            if request_fd >= 0:
                os.close(request_fd)
            channel.close()
        del self.spare_ids[pid]
        return pid

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
                if self.fork_safe():
                    return self.fork(payload, fds)
                return self.spawn(payload, fds)
            except BlockingIOError:  # EAGAIN: RLIMIT_NPROC reached
                if attempt == FORK_RETRIES - 1:
                    raise
                self.reap()
                time.sleep(FORK_RETRY_S)
        raise AssertionError("unreachable")

    def fork_safe(self) -> bool:
        threading = sys.modules.get("threading")
        return threading is None or threading.active_count() <= 1

    def fork(self, payload: bytes, fds: list[int]) -> int:
        fds, cgroup_fds = fds[:3], fds[3:]
        _flush_std()
        zygote_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                seeds.in_child()
                child.run_forked(
                    self.function,
                    payload,
                    fds,
                    self.zygote_fds(),
                    zygote_pid,
                    self.sockets,
                    cgroup_fds,
                )
            finally:
                os._exit(70)  # run_forked never returns; this guards against surprises
        return pid

    def spawn(self, payload: bytes, fds: list[int]) -> int:
        (stdout_fd, stderr_fd, result_fd), cgroup_fds = fds[:3], fds[3:]
        request_fd = os.memfd_create("craft-run-request", os.MFD_CLOEXEC)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(request_fd, view) :]
            for fd in (result_fd, request_fd, *cgroup_fds):
                os.set_inheritable(fd, True)
            argv = [
                sys.executable,
                os.path.join(HERE, "zygote.py"),
                "--exec",
                *self.module_args,
                str(result_fd),
                str(request_fd),
                str(os.getpid()),
                # The new process joins the run's cgroup before importing user code.
                ",".join(str(fd) for fd in cgroup_fds),
            ]
            actions = [
                (os.POSIX_SPAWN_DUP2, stdout_fd, 1),
                (os.POSIX_SPAWN_DUP2, stderr_fd, 2),
            ]
            return os.posix_spawn(
                sys.executable, argv, self.env, file_actions=actions, setsid=True
            )
        finally:
            os.close(request_fd)

    def kill(self, run_id: int) -> None:
        pid = self.pids.get(run_id)
        if pid is not None:
            _kill_group(pid)

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
            _kill_group(pid)
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
            _kill_group(pid)


def _kill_group(pid: int) -> None:
    # The pid too: a child killed before its setsid() has no group yet.
    for kill in (os.kill, os.killpg):
        with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
            kill(pid, signal.SIGKILL)


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


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        # Replaced or closed by user code: nothing of ours is buffered there.
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()


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


def _serve_main(argv: list[str]) -> int:
    sock_fd, pool_pid = int(argv[0]), int(argv[1])
    # If the pool dies, we die: EOF on the socket is the main signal, this
    # covers a zygote stuck in user import code. Best effort, Linux only.
    prctl.set_parent_death_signal()
    if os.getppid() != pool_pid:
        return 0
    # Orphans left by an execution (its grandchildren) become ours, and the
    # reap loop collects them: without this they are zombies forever where
    # pid 1 does not reap, as in a container whose pid 1 is the worker.
    prctl.set_child_subreaper()
    sock = socket.socket(fileno=sock_fd)
    sock.set_inheritable(False)
    diag_fd = os.dup(2)  # the worker's stderr, for our own crash reports
    zygote = Zygote(sock, diag_fd)
    try:
        zygote.load(*argv[2:5])
        if zygote.function is not None:
            zygote.serve()
        return 0
    except (ConnectionError, BrokenPipeError):
        return 0  # the pool went away while we talked to it
    except Exception:  # our own bug: say so on the worker's stderr, then stop
        os.write(diag_fd, traceback.format_exc().encode("utf-8", "replace"))
        return 70
    finally:
        zygote.shutdown()


def _inspect_main() -> int:
    """`zygote.py --inspect`: the build's check of the function (JSON request on stdin, verdict last on stdout).

    The user module's own prints go to stderr so they cannot corrupt the verdict.
    """
    inspector = _load_sibling("inspect_function")
    real_stdout = sys.stdout
    request = json.loads(sys.stdin.read())
    with contextlib.redirect_stdout(sys.stderr):
        result = inspector.verdict(request, user_code.load_module)
    real_stdout.write("\n" + json.dumps(result) + "\n")
    real_stdout.flush()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inspect"]:
        sys.exit(_inspect_main())
    if sys.argv[1:2] == ["--exec"]:
        child.run_spawned(sys.argv[2:])
    elif sys.argv[1:2] == ["--serve"]:
        os._exit(_serve_main(sys.argv[2:]))
    else:
        sys.exit(
            "usage: zygote.py --serve SOCK_FD POOL_PID CODE_DIR FUNCTION_PATH FUNCTION_NAME"
        )
