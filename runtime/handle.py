"""The pool's handle on one zygote process: start it, send it runs, read its exit reports.

Standard library only; never imports Django.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from . import protocol
from .sandbox import Sandbox, exit_signal, runtime_script, venv_root

# A zygote still importing after this long is replaced (a module stuck at import).
ZYGOTE_START_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 5.0
ZYGOTE_GONE_REASON = "The pipeline's runtime process exited unexpectedly"
# Only code inside the sandbox (an execution of this pipeline) can signal the
# zygote, bar the kernel's OOM killer: a failure of the pipeline, not ours.
ZYGOTE_KILLED_REASON = (
    "The pipeline's runtime process was killed by signal {number} ({name}) while "
    "this execution ran; an execution must not signal processes it did not start"
)

logger = logging.getLogger(__name__)


class ZygoteGone(Exception):
    """The zygote died or was stopped before it could take the run."""


class PendingRun:
    """One run sent to a zygote, waiting for its exit report."""

    def __init__(self) -> None:
        self.exit: dict | None = None
        self.gone = False
        self.wake_r, self.wake_w = os.pipe()
        # The reader thread may wake us just as run() finishes and closes the
        # pipe: writing after that could hit a reused descriptor number.
        self._lock = threading.Lock()
        self._closed = False

    def finish(self, exit: dict | None) -> None:
        """Record the exit report (None: the zygote is gone), then wake run()."""
        if exit is None:
            self.gone = True
        else:
            self.exit = exit
        with self._lock:
            if not self._closed:
                os.write(self.wake_w, b"x")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            os.close(self.wake_r)
            os.close(self.wake_w)


class ZygoteHandle:
    """The pool's handle on one zygote process; its thread starts the process and reads its reports."""

    def __init__(
        self,
        spec,
        identity: tuple,
        runtime_env: dict[str, str],
        sandbox: Sandbox | None = None,
    ) -> None:
        self.key = spec.zygote_key
        self.sandbox = sandbox
        self.work_root = getattr(spec, "work_root", None)
        self.identity = identity
        self.python = spec.python_executable
        self.code_dir = spec.code_dir
        self.function_path = spec.function_path
        self.function_name = spec.function_name
        self.runtime_env = runtime_env
        self.import_env = dict(getattr(spec, "import_env", None) or {})
        self.created = time.monotonic()
        self.ready = threading.Event()
        self.pid: int | None = None
        self.rss_kib: int | None = None
        self.start_error: str | None = None
        self.failure: dict | None = None  # the "failed" report of an import that raised
        self.dead = False
        # The signal that killed the zygote while it served (not when we stopped it).
        self.killed_by: int | None = None
        # inflight, retired and last_used belong to the pool's lock.
        self.inflight = 0
        self.retired = False
        self.last_used = self.created
        # The zygote's kernel group (execution_groups.py's ZygoteCgroup), set before start(): it
        # joins it at spawn, and all of it is killed when the zygote is gone.
        self.cgroup = None
        # Its spare child's slot (execution_groups.SpareSlot), set with cgroup.
        self.spares = None
        self.spare_runs = 0  # runs a spare took (for tests and diagnostics)
        self._state = threading.Lock()  # pending, dead, sock, stopping
        # Never held while waiting on the state lock: the reader thread only
        # takes the state lock, so a blocked send cannot stall exit reports.
        self._send_lock = threading.Lock()
        self._pending: dict[int, PendingRun] = {}
        self._ids = itertools.count(1)
        self._sock: socket.socket | None = None
        self._stopping = False
        self._thread = threading.Thread(
            target=self._serve, name=f"zygote {self.key}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def submit(
        self, request: bytes, fds: list[int], spare: int | None = None
    ) -> tuple[int, PendingRun]:
        """Send a run; spare: the id of the spare waiting in the run's group (fds' cgroup.procs)."""
        pending = PendingRun()
        with self._state:
            if self.dead or self._sock is None:
                pending.close()
                raise ZygoteGone
            run_id = next(self._ids)
            self._pending[run_id] = pending
            sock = self._sock
        try:
            with self._send_lock:
                header = {"op": "run", "id": run_id}
                if spare is not None:
                    header["spare"] = spare
                protocol.send_frame(sock, header, request, fds)
        except OSError as exc:
            self.forget(run_id)
            pending.close()
            raise ZygoteGone from exc
        return run_id, pending

    def prepare(self, spare_id: int, fds: list[int]) -> bool:
        """Ask the zygote to fork a spare child into the group of fds; False when the zygote is gone."""
        with self._state:
            sock = None if self.dead else self._sock
        if sock is None:
            return False
        try:
            with self._send_lock:
                protocol.send_frame(
                    sock, {"op": "prepare", "spare": spare_id}, b"", fds
                )
        except OSError:
            return False
        return True

    def kill(self, run_id: int) -> None:
        """Ask the zygote to SIGKILL the run's process group (it knows whether the pid is still its child)."""
        with self._state:
            sock = None if self.dead else self._sock
        if sock is None:
            return
        try:
            with self._send_lock:
                protocol.send_frame(sock, {"op": "kill", "id": run_id})
        except OSError:
            pass  # zygote gone: it killed its children on the way out

    def forget(self, run_id: int) -> None:
        with self._state:
            self._pending.pop(run_id, None)

    def stop(self) -> None:
        """Close our end: the zygote sees EOF, kills its children and exits."""
        with self._state:
            self._stopping = True
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def abandon_after_fork(self) -> None:
        """In a forked copy of the worker: drop our copy of the socket without touching the zygote."""
        sock = self._sock
        if sock is not None:
            sock.close()

    def _serve(self) -> None:
        # This thread spawns the zygote and lives exactly as long as it: the
        # zygote's PR_SET_PDEATHSIG fires when its parent *thread* exits.
        home = proc = None
        try:
            # Sandboxed, HOME is the sandbox's private /tmp.
            if self.sandbox is None:
                home = tempfile.mkdtemp(prefix="craft-zygote-")
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                proc = self._spawn(theirs, home or "/tmp")
            except BaseException:
                ours.close()
                raise
            finally:
                theirs.close()
            with self._state:
                self._sock = ours
                self.pid = proc.pid
                stopping = self._stopping
            if stopping:
                ours.shutdown(socket.SHUT_RDWR)
            self._read_start(ours, proc)
            while True:
                frame = protocol.recv_frame(ours)
                if frame is None:
                    return
                header, _, fds = frame
                protocol.close_fds(fds)
                if header.get("op") == "exited":
                    with self._state:
                        pending = self._pending.pop(header["id"], None)
                        self.spare_runs += bool(header.get("spare"))
                    if pending is not None:
                        pending.finish(header)
                elif header.get("op") == "spare_gone" and self.spares is not None:
                    self.spares.gone(header["spare"], header.get("again", True))
        # Cannot start the interpreter, or a broken stream.
        except (OSError, ValueError) as exc:
            if not self.ready.is_set():
                self.start_error = (
                    f"Could not start the pipeline's runtime with {self.python}: {exc}"
                )
            else:
                logger.warning("zygote %s: %s", self.key, exc)
        finally:
            with self._state:
                self.dead = True
                pending_runs = list(self._pending.values())
                self._pending.clear()
                sock, self._sock = self._sock, None
            if sock is not None:
                sock.close()
            if proc is not None:
                # Reaped before the runs hear of it, so they can say why it died.
                reap(proc)
                if not self._stopping:
                    self.killed_by = self._exit_signal(proc.returncode)
                if not self.ready.is_set() and self.start_error is None:
                    self._died_while_importing(proc.returncode)
            if self.spares is not None:
                self.spares.close()
            if self.cgroup is not None:
                self.cgroup.destroy()
            for pending in pending_runs:
                pending.finish(None)
            self.ready.set()
            if home is not None:
                shutil.rmtree(home, ignore_errors=True)

    def _spawn(self, sock: socket.socket, home: str) -> subprocess.Popen:
        argv = [
            self.python,
            runtime_script("zygote.py", self.sandbox),
            "--serve",
            str(sock.fileno()),
            # Sandboxed, our parent is bwrap's init, pid 1 of its namespace.
            "1" if self.sandbox else str(os.getpid()),
            self.code_dir,
            self.function_path,
            self.function_name,
        ]
        if self.sandbox is not None:
            venv = venv_root(self.python)
            argv = self.sandbox.command(
                argv,
                key=self.key,
                read_only=[self.code_dir, *([venv] if venv else [])],
                read_write=[self.work_root] if self.work_root else [],
                cwd=self.code_dir,
            )
        if self.cgroup is not None:
            argv = self.cgroup.wrap_argv(argv)
        # The sandbox's popen connects its network (egress) before it runs.
        popen = self.sandbox.popen if self.sandbox is not None else subprocess.Popen
        return popen(
            argv,
            pass_fds=(sock.fileno(),),
            env=self._environment(home),
            cwd=self.code_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # no terminal signal reaches it directly
        )

    def _died_while_importing(self, returncode: int) -> None:
        if self._stopping:
            self.start_error = ZYGOTE_GONE_REASON
            return
        # A crash inside the module's import (a C extension's segfault, an
        # os._exit) is the pipeline's failure, like an exception there.
        number = self._exit_signal(returncode)
        if number is not None:
            how = f"the process was killed by signal {number} ({signal_name(number)})"
        else:
            how = f"the process exited with code {returncode}"
        self.failure = {"reason": f"Importing {self.function_path} failed: {how}"}

    def _exit_signal(self, returncode: int) -> int | None:
        if self.sandbox is not None:
            return exit_signal(returncode)  # bwrap reports 128 + N
        return -returncode if returncode < 0 else None

    def _read_start(self, sock: socket.socket, proc: subprocess.Popen) -> None:
        frame = protocol.recv_frame(sock)
        if frame is None:
            return  # the finally of _serve reports the exit code
        header = frame[0]
        if header.get("op") == "failed":
            self.failure = header
        else:
            self.rss_kib = header.get("rss_kib")
            logger.info(
                "zygote %s ready: pid %s, import %.3f s",
                self.key,
                proc.pid,
                header.get("import_s", 0),
            )
        self.ready.set()

    def _environment(self, home: str) -> dict[str, str]:
        # Never the worker's environment: it holds DATABASE_URL, SECRET_KEY
        # and broker URLs. PATH is harmless and lets the module find tools.
        path = os.environ.get("PATH") or os.defpath
        bindir = os.path.dirname(self.python)
        if bindir and bindir not in path.split(os.pathsep):
            path = bindir + os.pathsep + path
        env = {"PATH": path, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": home}
        env.update(self.runtime_env)
        env.update(self.import_env)
        return env


def reap(proc: subprocess.Popen) -> None:
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
