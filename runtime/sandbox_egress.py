"""Starting a sandbox with egress only: bwrap, then slirp4netns attached to its network namespace.

How one egress sandbox starts (`popen`): bwrap is spawned with --info-fd (it
writes the sandbox's pid), --block-fd (it waits before exec'ing the command)
and --sync-fd (it holds that pipe open as long as the sandbox lives); then
slirp4netns is attached to the pid and waited on (--ready-fd), the forward
is opened, and the block-fd released. slirp4netns's --exit-fd and a watcher
thread read the other end of the sync pipe: when the sandbox is gone, they
end, whatever way it ended.

Standard library only; never imports Django.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import socket
import subprocess
import threading
import time
from collections.abc import Sequence

from . import sandbox_forward
from .sandbox_network import READY_TIMEOUT_S, TOOL, NetworkUnavailable, tool_path

NS_GET_USERNS = 0xB701  # ioctl: the user namespace owning a namespace


def popen(
    argv: Sequence[str],
    *,
    bwrap: str,
    forward: Sequence[tuple[str, int]] = (),
    join_userns: bool = False,
    **popen_kwargs,
) -> subprocess.Popen:
    """subprocess.Popen of a bwrap argv (sandbox.command()), its network connected before it runs.

    argv must ask for --unshare-net; `forward` lists the loopback (address,
    port) pairs of the host reachable at the same address inside.
    """
    launch = _Launch()
    args = list(argv)
    at = args.index(bwrap) + 1
    args[at:at] = launch.bwrap_args()
    pass_fds = (*popen_kwargs.pop("pass_fds", ()), *launch.child_fds())
    try:
        proc = subprocess.Popen(args, pass_fds=pass_fds, **popen_kwargs)
    except BaseException:
        launch.close()
        raise
    launch.close_child_ends()
    try:
        launch.connect(forward=forward, join_userns=join_userns)
    except BaseException:
        launch.close()
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        raise
    return proc


class _Launch:
    """The descriptors of one egress sandbox's start, and what outlives it until the sandbox ends."""

    def __init__(self) -> None:
        self.info_r, self.info_w = os.pipe()
        self.block_r, self.block_w = os.pipe()
        # bwrap holds sync_w while the sandbox lives: sync_r then reads EOF.
        self.sync_r, self.sync_w = os.pipe()

    def bwrap_args(self) -> list[str]:
        return [
            "--info-fd",
            str(self.info_w),
            "--block-fd",
            str(self.block_r),
            "--sync-fd",
            str(self.sync_w),
        ]

    def child_fds(self) -> tuple[int, ...]:
        return (self.info_w, self.block_r, self.sync_w)

    def close_child_ends(self) -> None:
        for fd in self.child_fds():
            os.close(fd)
        self.info_w = self.block_r = self.sync_w = -1

    def close(self) -> None:
        for name in ("info_r", "info_w", "block_r", "block_w", "sync_r", "sync_w"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)

    def connect(self, *, forward: Sequence[tuple[str, int]], join_userns: bool) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        pid = self._child_pid(deadline)
        _wait_for_loopback(pid, deadline)
        tool = self._start_tool(pid, join_userns, deadline)
        try:
            listeners = sandbox_forward.listen_inside(pid, forward, join_userns)
        except BaseException:
            tool.kill()
            tool.wait()
            raise
        threading.Thread(
            target=_watch,
            args=(self.sync_r, tool, listeners),
            name=f"sandbox network {pid}",
            daemon=True,
        ).start()
        self.sync_r = -1  # the watcher's now
        # Released: bwrap execs the command, in a namespace that is connected.
        os.write(self.block_w, b"1")
        self.close()

    def _child_pid(self, deadline: float) -> int:
        data = b""
        while True:
            with contextlib.suppress(ValueError):
                return int(json.loads(data)["child-pid"])
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.info_r], [], [], remaining)[0]:
                raise NetworkUnavailable("bubblewrap did not report its sandbox's pid")
            chunk = os.read(self.info_r, 4096)
            if not chunk:
                raise NetworkUnavailable(
                    "bubblewrap exited before its sandbox's network was set up"
                )
            data += chunk

    def _start_tool(
        self, pid: int, join_userns: bool, deadline: float
    ) -> subprocess.Popen:
        # Unprivileged, the namespace belongs to a user namespace of bwrap's
        # (not the one its child ends up in): slirp4netns joins that one.
        owner = _owning_userns(pid) if join_userns else -1
        ready_r, ready_w = os.pipe()
        argv = [
            tool_path() or TOOL,
            "--configure",
            "--disable-host-loopback",
            "--mtu=65520",
            f"--ready-fd={ready_w}",
            f"--exit-fd={self.sync_r}",
        ]
        if owner >= 0:
            argv.append(f"--userns-path=/proc/self/fd/{owner}")
        argv += [str(pid), "tap0"]
        try:
            tool = subprocess.Popen(
                argv,
                pass_fds=(ready_w, self.sync_r, *([owner] if owner >= 0 else [])),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            os.close(ready_r)
            raise NetworkUnavailable(f"{TOOL} could not start: {exc}") from None
        finally:
            os.close(ready_w)
            if owner >= 0:
                os.close(owner)
        try:
            remaining = max(0.0, deadline - time.monotonic())
            ready = select.select([ready_r], [], [], remaining)[0] and os.read(
                ready_r, 1
            )
        finally:
            os.close(ready_r)
        if ready != b"1":
            tool.kill()
            _, err = tool.communicate()
            detail = (err.decode(errors="replace").strip().splitlines() or ["?"])[-1]
            raise NetworkUnavailable(
                f"{TOOL} did not set up the sandbox's network ({detail})"
            )
        # Its chatter is of no interest once it runs; a full pipe would block it.
        threading.Thread(target=tool.stderr.read, daemon=True).start()
        return tool


def _wait_for_loopback(pid: int, deadline: float) -> None:
    """Until bwrap has set up the namespace's loopback (127.0.0.1 up, then it blocks on --block-fd).

    slirp4netns brings `lo` up too: started earlier, it makes bwrap's own
    set-up fail ("loopback: Failed RTM_NEWADDR").
    """
    while True:
        try:
            with open(f"/proc/{pid}/net/fib_trie") as routes:
                if "127.0.0.1" in routes.read():
                    return
        except OSError:
            raise NetworkUnavailable(
                "bubblewrap exited before its sandbox's network was set up"
            ) from None
        if time.monotonic() > deadline:
            raise NetworkUnavailable("bubblewrap did not set up its loopback")
        time.sleep(0.0005)


def _owning_userns(pid: int) -> int:
    """A descriptor of the user namespace that owns the network namespace of `pid`."""
    net = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        return fcntl.ioctl(net, NS_GET_USERNS)
    except OSError as exc:
        raise NetworkUnavailable(
            f"no owner of the sandbox's namespace: {exc}"
        ) from None
    finally:
        os.close(net)


def _watch(
    sync_r: int,
    tool: subprocess.Popen,
    listeners: list[tuple[socket.socket, tuple[str, int]]],
) -> None:
    """Until the sandbox ends: relay its connections to the forwarded port; then reap the tool."""
    by_fd = {sock.fileno(): (sock, address) for sock, address in listeners}
    try:
        while True:
            readable = select.select([sync_r, *by_fd], [], [])[0]
            if sync_r in readable:
                return  # EOF: bwrap and everything in the sandbox are gone
            for fd in readable:
                sock, address = by_fd[fd]
                with contextlib.suppress(OSError):
                    inner, _ = sock.accept()
                    threading.Thread(
                        target=sandbox_forward.relay, args=(inner, address), daemon=True
                    ).start()
    finally:
        os.close(sync_r)
        for sock, _ in listeners:
            sock.close()
        try:
            tool.wait(READY_TIMEOUT_S)  # it reads the same EOF on --exit-fd
        except subprocess.TimeoutExpired:
            tool.kill()
            tool.wait()
