"""The platform's own port inside an egress sandbox: a listener in its namespace, relayed to the host.

The one exception to "no loopback of the host" is the platform's own HTTP
port when its public URL is on loopback (`forward`): executions call the API
from inside (pipeline metrics, with a token scoped to their execution). A
listening socket is opened *inside* the sandbox's namespace on that address
and port, and each connection to it is relayed to the same address and port
of the host; every other loopback port inside answers "connection refused".
(passt's `pasta -T` does the same in one tool, but Debian 12's pasta cannot
join a namespace as root.)

Standard library only; never imports Django.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence

from .sandbox_network import READY_TIMEOUT_S, NetworkUnavailable

# Relayed connections reach the platform from this address, never from
# 127.0.0.1: a reverse proxy there, trusted for its forwarded headers, is
# never confused with user code.
RELAY_SOURCE_IPV4 = "127.0.0.2"
CONNECT_TIMEOUT_S = 5.0
CLONE_NEWNET = 0x40000000


def listen_inside(
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


def relay(inner: socket.socket, address: tuple[str, int]) -> None:
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
