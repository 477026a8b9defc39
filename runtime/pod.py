"""A low-latency pod: imports one pipeline's module once and runs every execution in this process.

Started by pod_client.py as
`<python> pod.py SOCK_FD CODE_DIR FUNCTION_PATH FUNCTION_NAME MAX_PARALLEL RAM_MIB POD_DIR`
inside the pipeline's sandbox. Standard library only; never imports Django.

Unlike the zygote, nothing is forked: globals and files written in the
working directory outlive an execution (the point of the mode). `async def`
functions run as coroutines on one event loop, plain `def` ones in threads;
the host never sends more than MAX_PARALLEL runs at once. Each line printed
is sent to the host tagged with the run that printed it (a contextvar, which
threads started by the function inherit too).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib.util
import inspect
import io
import json
import os
import resource
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and sys.path[0] in ("", HERE):
    del sys.path[0]

RSS_CHECK_S = 0.02
STATS_EVERY_S = 2.0
# Address space beyond the RAM request (thread stacks, malloc arenas, mapped
# libraries) before MemoryError: the RSS watcher is the real limit.
ADDRESS_SPACE_SLACK_MIB = 1024
OVER_RAM_EXIT = 3


def _load_sibling(name: str):
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
outputs = _load_sibling("outputs")
user_code = _load_sibling("user_code")
prctl = _load_sibling("prctl")
rlimits = _load_sibling("rlimits")

current_run: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "craft_current_run", default=None
)


def inherit_context_in_threads() -> None:
    """Threads started by an execution print into that execution's log."""
    original_start = threading.Thread.start

    def start(self, *args, **kwargs):
        context = contextvars.copy_context()
        run = self.run
        self.run = lambda: context.run(run)
        return original_start(self, *args, **kwargs)

    threading.Thread.start = start


class RunStream(io.TextIOBase):
    """sys.stdout / sys.stderr: complete lines go to the host, tagged with the current run."""

    def __init__(self, pod: Pod, stream: str) -> None:
        self.pod = pod
        self.stream = stream
        self.partial: dict[int | None, str] = {}
        self.lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        run_id = current_run.get()
        with self.lock:
            buffered = self.partial.pop(run_id, "") + text
            *lines, rest = buffered.split("\n")
            if rest:
                self.partial[run_id] = rest
        for line in lines:
            self.pod.send(
                {"op": "log", "id": run_id, "stream": self.stream, "line": line}
            )
        return len(text)

    def flush_run(self, run_id: int) -> None:
        with self.lock:
            rest = self.partial.pop(run_id, "")
        if rest:
            self.pod.send(
                {"op": "log", "id": run_id, "stream": self.stream, "line": rest}
            )

    def isatty(self) -> bool:
        return False


class Pod:
    def __init__(self, sock: socket.socket, max_parallel: int, ram_mib: int) -> None:
        self.sock = sock
        self.send_lock = threading.Lock()
        self.ram_mib = ram_mib
        self.function = None
        self.is_async = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.threads = ThreadPoolExecutor(max_workers=max(1, max_parallel))
        self.streams = {
            "stdout": RunStream(self, "stdout"),
            "stderr": RunStream(self, "stderr"),
        }

    def send(self, header: dict) -> None:
        with self.send_lock:
            protocol.send_frame(self.sock, header)

    # -- start ---------------------------------------------------------------

    def load(self, code_dir: str, function_path: str, function_name: str) -> bool:
        sys.stdout, sys.stderr = self.streams["stdout"], self.streams["stderr"]
        started = time.monotonic()
        try:
            self.function = user_code.load_function(
                code_dir, function_path, function_name
            )
        except BaseException as exc:  # the user's import error is reported, not ours
            user_code.print_traceback(exc)
            self.send({"op": "failed", "reason": user_code.describe(exc)})
            return False
        self.is_async = inspect.iscoroutinefunction(self.function)
        if self.is_async:
            self.loop = asyncio.new_event_loop()
            threading.Thread(
                target=self.loop.run_forever, name="pod-loop", daemon=True
            ).start()
        self.limit_address_space()
        threading.Thread(target=self.watch_memory, name="pod-rss", daemon=True).start()
        self.send(
            {
                "op": "ready",
                "pid": os.getpid(),
                "import_s": time.monotonic() - started,
                "rss_kib": rss_kib(),
            }
        )
        return True

    def limit_address_space(self) -> None:
        if self.ram_mib <= 0:
            return
        baseline = rlimits.vm_size_bytes()
        if baseline is not None:
            limit = baseline + (self.ram_mib + ADDRESS_SPACE_SLACK_MIB) * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def watch_memory(self) -> None:
        """The RAM request is enforced on the resident set: past it the pod stops at once."""
        last_stats = 0.0
        while True:
            used = rss_kib() or 0
            if self.ram_mib > 0 and used > self.ram_mib * 1024:
                self.over_ram(used)
            now = time.monotonic()
            if now - last_stats >= STATS_EVERY_S:
                last_stats = now
                with contextlib.suppress(OSError):
                    self.send({"op": "stats", "rss_kib": used})
            time.sleep(RSS_CHECK_S)

    def over_ram(self, used_kib: int) -> None:
        with contextlib.suppress(OSError):
            self.send({"op": "over_ram", "rss_kib": used_kib})
        os._exit(OVER_RAM_EXIT)

    # -- runs ----------------------------------------------------------------

    def serve(self) -> None:
        while True:
            frame = protocol.recv_frame(self.sock)
            if frame is None:
                return  # the host closed its end: stop
            header, payload, fds = frame
            protocol.close_fds(fds)
            if header.get("op") != "run":
                continue
            request = json.loads(payload)
            run_id = header["id"]
            if self.is_async:
                asyncio.run_coroutine_threadsafe(
                    self.run_async(run_id, request), self.loop
                )
            else:
                self.threads.submit(
                    contextvars.copy_context().run, self.run_sync, run_id, request
                )

    def begin(self, run_id: int, request: dict) -> None:
        current_run.set(run_id)
        # Environment variables are those current when the execution starts.
        os.environ.clear()
        os.environ.update(request["env"])

    def run_sync(self, run_id: int, request: dict) -> None:
        self.begin(run_id, request)
        report = {"function_started_at": time.time()}
        try:
            value = self.function(**request["inputs"])
            if inspect.isawaitable(value):
                value = asyncio.run(_awaited(value))
            self.succeeded(report, value, request)
        except BaseException as exc:
            self.failed(report, exc)
        self.finish(run_id, report)

    async def run_async(self, run_id: int, request: dict) -> None:
        self.begin(run_id, request)
        report = {"function_started_at": time.time()}
        timeout_s = request.get("timeout_s") or None
        try:
            value = await asyncio.wait_for(
                self.function(**request["inputs"]), timeout=timeout_s
            )
            self.succeeded(report, value, request)
        except asyncio.TimeoutError:  # noqa: UP041 - the pod may run on Python < 3.11
            report.update(ok=False, reason=protocol.timeout_reason(timeout_s))
        except BaseException as exc:
            self.failed(report, exc)
        self.finish(run_id, report)

    def succeeded(self, report: dict, value, request: dict) -> None:
        report["function_ended_at"] = time.time()
        try:
            report["outputs"] = outputs.check_outputs(value, request["outputs"])
            report["ok"] = True
        except outputs.OutputError as exc:
            print(str(exc), file=sys.stderr)
            report.update(ok=False, reason=str(exc))

    def failed(self, report: dict, exc: BaseException) -> None:
        if isinstance(exc, MemoryError):
            self.over_ram(rss_kib() or 0)
        report.update(ok=False, reason=user_code.describe(exc))
        user_code.print_traceback(exc)

    def finish(self, run_id: int, report: dict) -> None:
        report.setdefault("function_ended_at", time.time())
        for stream in self.streams.values():
            stream.flush_run(run_id)
        try:
            data = json.dumps(report, allow_nan=False)
        except (TypeError, ValueError) as exc:
            data = json.dumps({"ok": False, "reason": user_code.describe(exc)})
        self.send({"op": "done", "id": run_id, "report": json.loads(data)})


async def _awaited(awaitable):
    return await awaitable


def rss_kib() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() // 1024
    except (OSError, ValueError, IndexError):
        return None


def main(argv: list[str]) -> int:
    # POD_DIR is the working directory already; named so `ps` tells pods apart.
    sock_fd, code_dir, function_path, function_name, max_parallel, ram_mib, _ = argv
    prctl.set_parent_death_signal()
    sock = socket.socket(fileno=int(sock_fd))
    sock.set_inheritable(False)
    inherit_context_in_threads()
    pod = Pod(sock, int(max_parallel), int(ram_mib))
    try:
        if pod.load(code_dir, function_path, function_name):
            pod.serve()
    except (ConnectionError, BrokenPipeError):
        pass  # the host went away
    return 0


if __name__ == "__main__":
    os._exit(main(sys.argv[1:]))
