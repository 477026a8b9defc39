"""What runs inside one execution's process: isolate it, call the function, check and send its outputs.

Loaded by zygote.py under a private module name (a user module called `child`
or `protocol` cannot shadow it). Runs under any Python >= 3.8, standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import inspect
import json
import os
import resource
import signal
import socket
import stat
import sys
import time
import traceback

try:
    from . import protocol
    from .outputs import OutputError, check_outputs
except ImportError:  # loaded by zygote.py as plain files, outside the package
    protocol = sys.modules["_craft_runtime_protocol"]
    OutputError = sys.modules["_craft_runtime_outputs"].OutputError
    check_outputs = sys.modules["_craft_runtime_outputs"].check_outputs

MIB = 1024 * 1024
# Bounds against a runaway execution (X10); the wall-clock limit is the pool's.
MAX_FILE_BYTES = 4 * 1024 * MIB
MAX_PROCESSES = 4096
MAX_REASON_CHARS = 500
DISK_QUOTA_REASON = "Execution exceeded its disk quota of {mib} MiB"
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
# A spare child's exit code when it cannot join its run's cgroup.
SPARE_CANNOT_JOIN = 72

SOCKETS_NOTICE = (
    "[runtime] {count} socket(s) opened while the pipeline module was imported are "
    "disconnected in this execution: open connections inside the function"
)

_HERE = os.path.dirname(os.path.abspath(__file__))
_libc_prctl = None


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send `sig` when our parent thread dies; False where unavailable."""
    return _prctl(PR_SET_PDEATHSIG, int(sig))


def set_child_subreaper() -> bool:
    """Become the parent of orphaned descendants, so we reap them; False where unavailable."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def _prctl(option: int, value: int) -> bool:
    global _libc_prctl
    if not sys.platform.startswith("linux"):
        return False
    if _libc_prctl is None:
        try:
            import ctypes

            _libc_prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (ImportError, OSError, AttributeError):
            return False
    return _libc_prctl(option, value, 0, 0, 0) == 0


def load_module(code_dir: str, function_path: str):
    """Import the user's file code_dir/function_path as a module (the one loader of the runtime)."""
    path = os.path.join(code_dir, function_path)
    # code_dir first, then the module's own folder so that `import helpers`
    # next to src/main.py works as it would with `python src/main.py`.
    for entry in (os.path.dirname(path), code_dir):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    name = os.path.splitext(os.path.basename(path))[0]
    # Registered in sys.modules (dataclasses and pickle look the module up
    # there) but never over a module already loaded, e.g. a user "json.py".
    if not name.isidentifier() or name in sys.modules:
        name = "__pipeline__"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"Cannot load {function_path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_function(code_dir: str, function_path: str, function_name: str):
    """Import the user's module from code_dir/function_path and return the function."""
    module = load_module(code_dir, function_path)
    try:
        function = getattr(module, function_name)
    except AttributeError:
        raise AttributeError(
            f"{function_path} has no function '{function_name}'"
        ) from None
    if not callable(function):
        raise TypeError(f"'{function_name}' in {function_path} is not callable")
    return function


def describe(exc: BaseException) -> str:
    """One readable line: "<ExcType>: <message>"."""
    message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:MAX_REASON_CHARS]


def print_traceback(exc: BaseException) -> None:
    """Print the traceback to stderr (the execution's logs), without the runtime's frames on top."""
    tb = exc.__traceback__
    while tb is not None and _is_runtime_frame(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    # Logs are best effort; the reason still goes through the result pipe.
    with contextlib.suppress(OSError, ValueError, MemoryError):
        traceback.print_exception(type(exc), exc, tb, file=sys.stderr)


def _is_runtime_frame(filename: str) -> bool:
    return (
        filename.startswith("<frozen importlib") or os.path.dirname(filename) == _HERE
    )


def join_cgroups(fds: list[int]) -> None:
    """Move this process into the run's cgroup (write "0" to each cgroup.procs) and close them.

    The pool opened them as root; the kernel checks the opener, so this
    unprivileged process may. Done before any user code runs: whatever it
    starts is then in the group, counted and killed with it.
    """
    try:
        for fd in fds:
            os.write(fd, b"0")
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def _cannot_join(result_fd: int, exc: BaseException) -> None:
    _send_report(
        result_fd,
        {
            "ok": False,
            "reason": f"Could not prepare the execution: its cgroup: {describe(exc)}",
            "platform_error": True,
        },
    )
    os._exit(1)


def run_forked(
    function,
    request: bytes,
    fds: list[int],
    zygote_fds: list[int],
    zygote_pid: int,
    sockets: list[int],
    cgroup_fds: list[int] = (),
):
    """Entry point of a child just forked by the zygote; never returns.

    sockets: descriptors the module opened at import (found by the zygote once).
    """
    stdout_fd, stderr_fd, result_fd = fds
    try:
        join_cgroups(list(cgroup_fds))
    except OSError as exc:
        _cannot_join(result_fd, exc)
    try:
        _leave_zygote(zygote_fds, zygote_pid)
        _take_stdio(stdout_fd, stderr_fd, sockets)
    except BaseException:
        os._exit(71)  # cannot even report: the pool sees "exited with code 71"
    run_execution(function, request, result_fd)


def wait_as_spare(
    function,
    channel: socket.socket,
    zygote_fds: list[int],
    zygote_pid: int,
    sockets: list[int],
    cgroup_fds: list[int],
):
    """Entry point of a spare child, forked by the zygote before its run is known; never returns.

    It does now what a child forked at run time would do first (join the
    run's cgroup: the slow part, leave the zygote's session), then waits on
    channel for its run: the request in a memfd, then stdout, stderr and
    result descriptors. No user code runs before the run arrives; EOF (the
    zygote gave up on it) ends it.
    """
    try:
        join_cgroups(list(cgroup_fds))
    except OSError:
        os._exit(SPARE_CANNOT_JOIN)  # the zygote reports the spare gone; runs fork
    try:
        _leave_zygote(zygote_fds, zygote_pid)
        frame = protocol.recv_frame(channel)
        if frame is None:
            os._exit(0)
        stdout_fd, stderr_fd, result_fd, request_fd = frame[2]
        channel.close()
        request = _read_all(request_fd)
        _take_stdio(stdout_fd, stderr_fd, sockets)
    except BaseException:
        os._exit(71)
    run_execution(function, request, result_fd)


def _leave_zygote(zygote_fds: list[int], zygote_pid: int) -> None:
    """Own session, death with the zygote, default signals, none of the zygote's descriptors."""
    # Own session and process group: the pool kills the whole group.
    os.setsid()
    set_parent_death_signal()
    if os.getppid() != zygote_pid:
        os._exit(70)  # the zygote died before prctl took effect
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for fd in zygote_fds:
        os.close(fd)


def _take_stdio(stdout_fd: int, stderr_fd: int, sockets: list[int]) -> None:
    # sys.stdout/sys.stderr were made line-buffered over fds 1/2 by the zygote.
    os.dup2(stdout_fd, 1)
    os.dup2(stderr_fd, 2)
    os.close(stdout_fd)
    os.close(stderr_fd)
    if sockets:
        disconnect_sockets(sockets)
        print(SOCKETS_NOTICE.format(count=len(sockets)), file=sys.stderr)


def _read_all(fd: int) -> bytes:
    """The whole content of a file descriptor (a memfd or a file), from its start; closes it."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def run_spawned(argv: list[str]) -> None:
    """Entry point of `zygote.py --exec ...`, used when the zygote is not safe to fork; never returns."""
    code_dir, function_path, function_name, result_fd, request_fd, zygote_pid = argv[:6]
    cgroup_fds = [int(fd) for fd in (argv[6:7] or [""])[0].split(",") if fd]
    set_parent_death_signal()
    if os.getppid() != int(zygote_pid):
        os._exit(70)
    result_fd, request_fd = int(result_fd), int(request_fd)
    os.set_inheritable(result_fd, False)
    try:
        join_cgroups(cgroup_fds)
    except OSError as exc:
        _cannot_join(result_fd, exc)
    request = _read_all(request_fd)
    line_buffered_stdio()
    try:
        function = load_function(code_dir, function_path, function_name)
    except BaseException as exc:
        # Whatever the import raised is the user's error to report.
        print_traceback(exc)
        _send_report(result_fd, {"ok": False, "reason": describe(exc)})
        _flush_stdio()
        os._exit(1)
    run_execution(function, request, result_fd)


def run_execution(function, request: bytes, result_fd: int):
    """Prepare this process for one execution, call the function, send the report and exit."""
    code = 70
    try:
        code = _run(function, request, result_fd)
    finally:
        # os._exit skips atexit handlers and the zygote's inherited cleanups.
        _flush_stdio()
        os._exit(code)


def _run(function, request_bytes: bytes, result_fd: int) -> int:
    report: dict = {"ok": False, "function_started_at": None, "function_ended_at": None}
    try:
        request = json.loads(request_bytes)
        memory_mib = int(request.get("memory_limit_mib") or 0)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["work_dir"])
        _apply_limits(
            0 if request.get("memory_cgroup") else memory_mib,
            request.get("cpu_limit_s"),
            int(request.get("disk_limit_mib") or 0),
        )
    except Exception as exc:
        # The platform could not set the process up: not the user's fault.
        report.update(
            reason=f"Could not prepare the execution: {describe(exc)}",
            platform_error=True,
        )
        _send_report(result_fd, report)
        return 1
    try:
        report["function_started_at"] = time.time()
        value = function(**request["inputs"])
        if inspect.isawaitable(value):
            value = _await(value)
        report["function_ended_at"] = time.time()
        report["outputs"] = check_outputs(value, request["outputs"])
        report["ok"] = True
    except OutputError as exc:
        report["reason"] = str(exc)
        print(str(exc), file=sys.stderr)
    except MemoryError as exc:
        report["reason"] = (
            protocol.memory_limit_reason(memory_mib) if memory_mib else describe(exc)
        )
        print_traceback(exc)
    except BaseException as exc:  # anything the user's code raised, SystemExit included
        report["reason"] = describe(exc)
        disk_mib = int(request.get("disk_limit_mib") or 0)
        if isinstance(exc, OSError) and exc.errno == errno.EFBIG and disk_mib > 0:
            # RLIMIT_FSIZE is the disk cap: one file may not hold more.
            report["reason"] = DISK_QUOTA_REASON.format(mib=disk_mib)
        print_traceback(exc)
    if report["function_ended_at"] is None:
        report["function_ended_at"] = time.time()
    _send_report(result_fd, report)
    return 0 if report["ok"] else 1


def _await(awaitable):
    import asyncio

    if inspect.iscoroutine(awaitable):
        return asyncio.run(awaitable)

    async def wait():
        return await awaitable

    return asyncio.run(wait())


def _send_report(result_fd: int, report: dict) -> None:
    try:
        data = json.dumps(report, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        # Outputs were checked; keep a readable reason anyway.
        data = json.dumps({"ok": False, "reason": describe(exc)}).encode()
    if len(data) > protocol.MAX_RESULT_BYTES:
        reason = protocol.RESULT_TOO_LARGE_REASON.format(
            mib=protocol.MAX_RESULT_BYTES // MIB
        )
        print(reason, file=sys.stderr)
        data = json.dumps(
            {**report, "ok": False, "outputs": None, "reason": reason}
        ).encode()
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(result_fd, view) :]
        os.close(result_fd)
    except OSError:
        pass  # the pool stopped listening (killed us, or went away)


def _apply_limits(
    memory_mib: int, cpu_s: float | None = None, disk_mib: int = 0
) -> None:
    """rlimits of the execution; memory_mib 0 where its cgroup counts the memory instead."""
    _lower_limit(resource.RLIMIT_CORE, 0)
    if cpu_s:
        _lower_limit(resource.RLIMIT_CPU, int(cpu_s))
    # No single file past the disk cap, not even one unlinked while open
    # (the cap's walk of the folder cannot see those).
    max_file = min(MAX_FILE_BYTES, disk_mib * MIB) if disk_mib > 0 else MAX_FILE_BYTES
    _lower_limit(resource.RLIMIT_FSIZE, max_file)
    if hasattr(resource, "RLIMIT_NPROC"):
        _lower_limit(resource.RLIMIT_NPROC, MAX_PROCESSES)
    if memory_mib > 0:
        # Relative to what the zygote already maps: numpy alone reserves
        # hundreds of MiB of address space it never touches.
        baseline = vm_size_bytes()
        if baseline is not None:
            _lower_limit(resource.RLIMIT_AS, baseline + memory_mib * MIB)


def _lower_limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    if soft == resource.RLIM_INFINITY or value < soft:
        # Hard limit too, so user code cannot raise it back.
        resource.setrlimit(which, (value, value))


def vm_size_bytes() -> int | None:
    """This process's virtual size (VmSize); None without procfs."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return None  # no procfs: no address-space limit


def line_buffered_stdio() -> None:
    """Make sys.stdout/sys.stderr line-buffered UTF-8 over fds 1 and 2, so print() lines arrive at once."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, f"__{name}__", None)
        try:
            # In place: loggers created at import keep a reference to this object.
            stream.reconfigure(
                encoding="utf-8", errors="backslashreplace", line_buffering=True
            )
        except (AttributeError, ValueError, OSError):  # absent or not a TextIOWrapper
            stream = open(  # noqa: SIM115 - lives as long as the process
                fd,
                "w",
                encoding="utf-8",
                errors="backslashreplace",
                buffering=1,
                closefd=False,
            )
            setattr(sys, f"__{name}__", stream)
        if getattr(sys, name, None) is None:
            setattr(sys, name, stream)


def inherited_sockets(exclude: set[int]) -> list[int]:
    """Descriptors of this process that are sockets, but for those in exclude."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []  # no procfs: nothing we can inspect
    found = []
    for name in names:
        fd = int(name)
        if fd <= 2 or fd in exclude:
            continue
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                found.append(fd)
        except OSError:
            continue  # the listing's own descriptor, closed since
    return found


def disconnect_sockets(fds: list[int]) -> None:
    """Put an unconnected socket in place of each of fds.

    Two executions writing on one forked database or broker connection
    corrupt each other's traffic (R12); a dead socket fails cleanly instead,
    and the fd number stays taken, so the client's later close() cannot close
    a descriptor opened by this execution.
    """
    dummy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        for fd in fds:
            os.dup2(dummy.fileno(), fd, inheritable=os.get_inheritable(fd))
    finally:
        dummy.close()


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        # Stream gone or pipe closed: nothing left to deliver.
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
