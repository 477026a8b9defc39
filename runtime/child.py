"""What runs inside one execution's process: isolate it, call the function, check and send its outputs.

Loaded by zygote.py under a private module name (a user module called `child`
or `protocol` cannot shadow it). Runs under any Python >= 3.8, standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import inspect
import json
import os
import signal
import socket
import sys
import time

try:
    from . import inherited_fds, prctl, protocol, rlimits, user_code
    from .outputs import OutputError, check_outputs
except ImportError:  # loaded by zygote.py as plain files, outside the package
    protocol = sys.modules["_craft_runtime_protocol"]
    OutputError = sys.modules["_craft_runtime_outputs"].OutputError
    check_outputs = sys.modules["_craft_runtime_outputs"].check_outputs
    user_code = sys.modules["_craft_runtime_user_code"]
    prctl = sys.modules["_craft_runtime_prctl"]
    rlimits = sys.modules["_craft_runtime_rlimits"]
    inherited_fds = sys.modules["_craft_runtime_inherited_fds"]

MIB = 1024 * 1024
DISK_QUOTA_REASON = "Execution exceeded its disk quota of {mib} MiB"
# A spare child's exit code when it cannot join its run's cgroup.
SPARE_CANNOT_JOIN = 72

SOCKETS_NOTICE = (
    "[runtime] {count} socket(s) opened while the pipeline module was imported are "
    "disconnected in this execution: open connections inside the function"
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
            "reason": f"Could not prepare the execution: its cgroup: {user_code.describe(exc)}",
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
    prctl.set_parent_death_signal()
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
        inherited_fds.disconnect_sockets(sockets)
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
    prctl.set_parent_death_signal()
    if os.getppid() != int(zygote_pid):
        os._exit(70)
    result_fd, request_fd = int(result_fd), int(request_fd)
    os.set_inheritable(result_fd, False)
    try:
        join_cgroups(cgroup_fds)
    except OSError as exc:
        _cannot_join(result_fd, exc)
    request = _read_all(request_fd)
    inherited_fds.line_buffered_stdio()
    try:
        function = user_code.load_function(code_dir, function_path, function_name)
    except BaseException as exc:
        # Whatever the import raised is the user's error to report.
        user_code.print_traceback(exc)
        _send_report(result_fd, {"ok": False, "reason": user_code.describe(exc)})
        inherited_fds.flush_stdio()
        os._exit(1)
    run_execution(function, request, result_fd)


def run_execution(function, request: bytes, result_fd: int):
    """Prepare this process for one execution, call the function, send the report and exit."""
    code = 70
    try:
        code = _run(function, request, result_fd)
    finally:
        # os._exit skips atexit handlers and the zygote's inherited cleanups.
        inherited_fds.flush_stdio()
        os._exit(code)


def _run(function, request_bytes: bytes, result_fd: int) -> int:
    report: dict = {"ok": False, "function_started_at": None, "function_ended_at": None}
    try:
        request = json.loads(request_bytes)
        memory_mib = int(request.get("memory_limit_mib") or 0)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["work_dir"])
        rlimits.apply_limits(
            0 if request.get("memory_cgroup") else memory_mib,
            request.get("cpu_limit_s"),
            int(request.get("disk_limit_mib") or 0),
        )
    except Exception as exc:
        # The platform could not set the process up: not the user's fault.
        report.update(
            reason=f"Could not prepare the execution: {user_code.describe(exc)}",
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
            protocol.memory_limit_reason(memory_mib)
            if memory_mib
            else user_code.describe(exc)
        )
        user_code.print_traceback(exc)
    except BaseException as exc:  # anything the user's code raised, SystemExit included
        report["reason"] = user_code.describe(exc)
        disk_mib = int(request.get("disk_limit_mib") or 0)
        if isinstance(exc, OSError) and exc.errno == errno.EFBIG and disk_mib > 0:
            # RLIMIT_FSIZE is the disk cap: one file may not hold more.
            report["reason"] = DISK_QUOTA_REASON.format(mib=disk_mib)
        user_code.print_traceback(exc)
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
        data = json.dumps({"ok": False, "reason": user_code.describe(exc)}).encode()
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
