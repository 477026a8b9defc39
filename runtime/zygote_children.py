"""The zygote's children: a run's process forked, spawned, or a spare forked ahead and handed the run; killed whole.

Forking copies the imported module, which is the point of the zygote; but if
the module started Python threads at import, a fork would copy locks held by
those threads, so runs are then spawned (posix_spawn, a fresh interpreter
that imports the module itself: `zygote.py --exec`). Each child leads its own
process group, which is what a kill ends. Loaded by zygote.py as a plain file
under a private name; runs under any Python >= 3.8, standard library only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys

try:
    from . import child, inherited_fds, protocol, seeds
except ImportError:  # loaded by zygote.py as plain files, outside the package
    child = sys.modules["_craft_runtime_child"]
    inherited_fds = sys.modules["_craft_runtime_inherited_fds"]
    protocol = sys.modules["_craft_runtime_protocol"]
    seeds = sys.modules["_craft_runtime_seeds"]

HERE = os.path.dirname(os.path.abspath(__file__))


def fork_safe() -> bool:
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() <= 1


def fork_spare(
    function,
    channel: socket.socket,
    zygote_fds: list[int],
    sockets: list[int],
    cgroup_fds: list[int],
) -> int:
    """Fork a spare child that waits on channel for its run; zygote_fds: what it must close."""
    inherited_fds.flush_std()
    zygote_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            seeds.in_child()
            child.wait_as_spare(
                function,
                channel,
                zygote_fds,
                zygote_pid,
                sockets,
                cgroup_fds,
            )
        finally:
            os._exit(70)  # wait_as_spare never returns
    return pid


def hand_over(
    spare: tuple[int, socket.socket], payload: bytes, fds: list[int]
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
        kill_group(pid)  # reaped and reported gone by the zygote's reap()
        return None
    finally:
        if request_fd >= 0:
            os.close(request_fd)
        channel.close()
    return pid


def fork_run(
    function,
    payload: bytes,
    fds: list[int],
    zygote_fds: list[int],
    sockets: list[int],
) -> int:
    """Fork the run's process; fds: stdout, stderr, result, then its cgroup.procs files."""
    fds, cgroup_fds = fds[:3], fds[3:]
    inherited_fds.flush_std()
    zygote_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            seeds.in_child()
            child.run_forked(
                function,
                payload,
                fds,
                zygote_fds,
                zygote_pid,
                sockets,
                cgroup_fds,
            )
        finally:
            os._exit(70)  # run_forked never returns; this guards against surprises
    return pid


def spawn_run(
    module_args: list[str], env: dict[str, str], payload: bytes, fds: list[int]
) -> int:
    """Spawn `zygote.py --exec` for the run (module_args: code_dir, function_path, function_name)."""
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
            *module_args,
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
            sys.executable, argv, env, file_actions=actions, setsid=True
        )
    finally:
        os.close(request_fd)


def kill_group(pid: int) -> None:
    # The pid too: a child killed before its setsid() has no group yet.
    for kill in (os.kill, os.killpg):
        with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
            kill(pid, signal.SIGKILL)
