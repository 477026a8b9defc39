"""The sandbox's own network namespace with egress only (PLATFORM_SANDBOX_NETWORK=egress).

As rootless container engines do, the sandbox gets a network namespace of
its own (bwrap --unshare-net) connected to the outside by Debian's
`slirp4netns` (user-mode networking, like QEMU's): TCP and UDP leave through
sockets of the host, so functions and `pip install` reach the internet, while
`--disable-host-loopback` keeps the host's 127.0.0.1 (PostgreSQL, Redis, the
platform) out of reach. DNS inside goes to slirp4netns's resolver (10.0.2.3),
which asks the host's.

The one exception is the platform's own HTTP port when its public URL is on
loopback (`forward`): executions call the API from inside (pipeline metrics,
with a token scoped to their execution). A listening socket is opened *inside*
the sandbox's namespace on that address and port, and each connection to it
is relayed to the same address and port of the host; every other loopback
port inside answers "connection refused". (passt's `pasta -T` does the same
in one tool, but Debian 12's pasta cannot join a namespace as root.)

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
import ctypes
import fcntl
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

EGRESS, NONE, HOST = "egress", "none", "host"
MODES = (EGRESS, NONE, HOST)
TOOL = "slirp4netns"
TOOL_PACKAGE = "slirp4netns"  # Debian/Ubuntu (and Fedora) package name
TUN_DEVICE = "/dev/net/tun"
DNS_ADDRESS = "10.0.2.3"  # slirp4netns's resolver, as seen from inside
# Written over /etc/resolv.conf inside (the host's may name a loopback resolver).
RESOLV_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resolv.conf")
READY_TIMEOUT_S = 10.0
# Relayed connections reach the platform from this address, never from
# 127.0.0.1: a reverse proxy there, trusted for its forwarded headers, is
# never confused with user code.
RELAY_SOURCE_IPV4 = "127.0.0.2"
CONNECT_TIMEOUT_S = 5.0
CLONE_NEWNET = 0x40000000
NS_GET_USERNS = 0xB701  # ioctl: the user namespace owning a namespace


class NetworkUnavailable(OSError):
    """The sandbox's network could not be set up; the sandbox was killed."""


def tool_problem() -> str | None:
    """Why egress cannot be had on this machine (None: it can), naming what to install."""
    if tool_path() is None:
        return (
            f"{TOOL} was not found: sandboxed user code gets no network "
            f"(PLATFORM_SANDBOX_NETWORK=none). Install the Debian/Ubuntu package "
            f"{TOOL_PACKAGE} (apt-get install {TOOL_PACKAGE}) to give it egress "
            "to the internet without the host's loopback"
        )
    if not os.access(TUN_DEVICE, os.R_OK | os.W_OK):
        return (
            f"{TUN_DEVICE} is missing or not readable and writable by this user, "
            f"which {TOOL} needs: sandboxed user code gets no network "
            "(PLATFORM_SANDBOX_NETWORK=none)"
        )
    return None


def effective_mode(requested: str) -> str:
    """The mode sandboxes get: egress falls back to none (no network) where it cannot be had."""
    if requested == EGRESS and tool_problem() is not None:
        return NONE
    return requested


def tool_path() -> str | None:
    return shutil.which(TOOL) or shutil.which(TOOL, path="/usr/bin:/bin")


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
            listeners = _listen_inside(pid, forward, join_userns)
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


def _listen_inside(
    pid: int, forward: Sequence[tuple[str, int]], join_userns: bool
) -> list[tuple[socket.socket, tuple[str, int]]]:
    """A listening socket per (address, port) of `forward`, in the network namespace of `pid`."""
    if not forward:
        return []
    if join_userns:
        return _listen_inside_helper(pid, forward)
    # A network namespace is per thread: a short-lived thread joins it,
    # opens the sockets, and ends (the sockets stay in that namespace).
    found: list = []
    errors: list[str] = []

    def listen() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(fd, CLONE_NEWNET)
            finally:
                os.close(fd)
            for address in forward:
                found.append((_listener(address), address))
        except OSError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=listen, name=f"sandbox forward {pid}")
    thread.start()
    thread.join()
    if errors:
        for sock, _ in found:
            sock.close()
        raise NetworkUnavailable(
            f"could not open the platform's port inside the sandbox: {errors[0]}"
        )
    return found


# Unprivileged, the namespace belongs to a user namespace of bwrap's, which
# only a single-threaded process can join: a fresh interpreter does, and sends
# the sockets back.
_HELPER = """
import ctypes, fcntl, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
pid, chan = sys.argv[1], socket.socket(fileno=int(sys.argv[2]))
net = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
for fd, flag in ((fcntl.ioctl(net, 0xB701), 0x10000000), (net, 0x40000000)):
    if libc.setns(fd, flag) != 0:
        sys.exit("setns: " + os.strerror(ctypes.get_errno()))
socks = []
for item in sys.argv[3:]:
    host, port = item.rsplit(",", 1)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, int(port)))
    s.listen(64)
    socks.append(s)
socket.send_fds(chan, [b"ok"], [s.fileno() for s in socks])
"""


def _listen_inside_helper(
    pid: int, forward: Sequence[tuple[str, int]]
) -> list[tuple[socket.socket, tuple[str, int]]]:
    ours, theirs = socket.socketpair()
    with ours:
        try:
            argv = [sys.executable, "-I", "-S", "-c", _HELPER, str(pid)]
            argv += [str(theirs.fileno()), *(f"{h},{p}" for h, p in forward)]
            done = subprocess.run(
                argv,
                pass_fds=(theirs.fileno(),),
                capture_output=True,
                timeout=READY_TIMEOUT_S,
            )
        finally:
            theirs.close()
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip() or "no message"
            raise NetworkUnavailable(
                f"could not open the platform's port inside the sandbox: {detail}"
            )
        _, fds, _, _ = socket.recv_fds(ours, 16, len(forward))
    return [
        (socket.socket(fileno=fd), address)
        for fd, address in zip(fds, forward, strict=True)
    ]


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


def _setns(fd: int, flag: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, flag) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def _listener(address: tuple[str, int]) -> socket.socket:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind(address)
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    return sock


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
                        target=_relay, args=(inner, address), daemon=True
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


def _relay(inner: socket.socket, address: tuple[str, int]) -> None:
    """One connection from inside the sandbox to the host's `address`, both ways."""
    source = None if ":" in address[0] else (RELAY_SOURCE_IPV4, 0)
    try:
        outer = socket.create_connection(address, CONNECT_TIMEOUT_S, source)
    except OSError:
        inner.close()
        return
    outer.settimeout(None)
    back = threading.Thread(target=_copy, args=(outer, inner), daemon=True)
    back.start()
    _copy(inner, outer)
    back.join()
    inner.close()
    outer.close()


def _copy(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)
