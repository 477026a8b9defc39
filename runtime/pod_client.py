"""The pod host's handle on one pod process (pod.py): start it sandboxed, send runs, read its reports.

Standard library only; never imports Django. Reports arrive on a reader
thread and go to the `events` callback as (kind, header): "log", "done",
"stats", "over_ram", "exited" (the process is gone; header has "returncode").
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass

from . import protocol
from .sandbox import Sandbox, runtime_script, venv_root

START_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class PodSpec:
    key: str  # the sandbox key (its uid when root)
    python_executable: str
    code_dir: str
    function_path: str
    function_name: str
    pod_dir: str  # the pod's working directory; the one folder it may write
    max_parallel: int
    ram_mib: int  # <= 0: no limit
    env: dict[str, str]  # the process's environment while it imports the module


class PodProcess:
    def __init__(
        self,
        spec: PodSpec,
        events: Callable[[str, dict], None],
        sandbox: Sandbox | None = None,
        wrap_argv: Callable[[list[str]], list[str]] | None = None,
    ) -> None:
        """wrap_argv: applied to the pod's argv last (control_group.wrap_argv: its cgroup, its file size cap)."""
        self.spec = spec
        self.events = events
        self.sandbox = sandbox
        self.wrap_argv = wrap_argv
        self.ready = threading.Event()
        self.failure: str | None = None  # why it did not become ready
        self.pid: int | None = None
        self.rss_kib: int | None = None
        self.proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()

    def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = self._spawn(theirs)
        except OSError as exc:
            ours.close()
            self.failure = (
                f"Could not start the pod with {self.spec.python_executable}: {exc}"
            )
            self.ready.set()
            return
        finally:
            theirs.close()
        self._sock = ours
        threading.Thread(
            target=self._read, name=f"pod {self.spec.key}", daemon=True
        ).start()
        threading.Thread(target=self._drain_output, daemon=True).start()

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> bool:
        """True once the module is imported; False with `failure` set otherwise."""
        if not self.ready.wait(timeout_s):
            self.failure = f"The pod did not import the module within {timeout_s:g} s"
            self.kill()
        return self.failure is None

    def run(self, run_id: int, request: dict) -> bool:
        """Send one run; False when the pod is gone (its "exited" event follows)."""
        sock = self._sock
        if sock is None:
            return False
        payload = json.dumps(request).encode()
        try:
            with self._send_lock:
                protocol.send_frame(sock, {"op": "run", "id": run_id}, payload)
        except OSError:
            return False
        return True

    def kill(self) -> None:
        """SIGKILL the whole sandbox (bwrap and the pod); the reader reports "exited"."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Close our end: the pod sees EOF and exits; killed if it lingers."""
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self.proc is not None:
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.kill()

    # -- internals -----------------------------------------------------------

    def _spawn(self, sock: socket.socket) -> subprocess.Popen:
        spec = self.spec
        argv = [
            spec.python_executable,
            runtime_script("pod.py", self.sandbox),
            str(sock.fileno()),
            spec.code_dir,
            spec.function_path,
            spec.function_name,
            str(spec.max_parallel),
            str(spec.ram_mib),
            spec.pod_dir,
        ]
        if self.sandbox is not None:
            venv = venv_root(spec.python_executable)
            argv = self.sandbox.command(
                argv,
                key=spec.key,
                read_only=[spec.code_dir, *([venv] if venv else [])],
                read_write=[spec.pod_dir],
                cwd=spec.pod_dir,
            )
        if self.wrap_argv is not None:
            argv = self.wrap_argv(argv)
        # The sandbox's popen connects its network (egress) before it runs.
        popen = self.sandbox.popen if self.sandbox is not None else subprocess.Popen
        return popen(
            argv,
            pass_fds=(sock.fileno(),),
            env=spec.env,
            cwd=spec.pod_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _read(self) -> None:
        sock = self._sock
        try:
            while True:
                frame = protocol.recv_frame(sock)
                if frame is None:
                    break
                header, _, fds = frame
                protocol.close_fds(fds)
                op = header.get("op")
                if op == "ready":
                    self.pid = header.get("pid")
                    self.rss_kib = header.get("rss_kib")
                    self.ready.set()
                elif op == "failed":
                    self.failure = header.get("reason") or "the module failed to import"
                    self.ready.set()
                else:
                    if op == "stats":
                        self.rss_kib = header.get("rss_kib")
                    self.events(op, header)
        except (OSError, ValueError):
            pass  # a broken stream: the process is treated as gone
        finally:
            self._sock = None
            sock.close()
            self.kill()
            returncode = self.proc.wait()
            if not self.ready.is_set():
                self.failure = self.failure or (
                    f"The pod exited while importing the module (code {returncode})"
                )
                self.ready.set()
            self.events("exited", {"returncode": returncode})

    def _drain_output(self) -> None:
        """What reaches fds 1/2 without print() (C code, subprocesses) is pod output."""
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.events("log", {"id": None, "stream": "stdout", "line": line})
