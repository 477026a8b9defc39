"""Wire format between the pool and a zygote, and the sentences both sides write.

A frame is `>II` (header length, payload length), a JSON header, then opaque
payload bytes; file descriptors travel as SCM_RIGHTS with the frame's first byte.
Runs under any Python >= 3.8 (a pipeline's virtualenv), standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct

PREFIX = struct.Struct(">II")
MAX_FDS = 8

# Past this the child refuses to send its outputs and the pool stops reading:
# outputs end up in a database row, a 10 GB output must fail, not fill memory.
MAX_RESULT_BYTES = 64 * 1024 * 1024

MEMORY_LIMIT_REASON = "Execution exceeded its memory limit of {mib} MiB"
TIMEOUT_REASON = "Execution timed out after {seconds} s"
SIGNAL_REASON = "Execution process was killed by signal {number} ({name})"
RESULT_TOO_LARGE_REASON = "Execution outputs exceed the limit of {mib} MiB"


def memory_limit_reason(mib: int) -> str:
    return MEMORY_LIMIT_REASON.format(mib=mib)


def timeout_reason(seconds: float) -> str:
    return TIMEOUT_REASON.format(seconds=f"{seconds:g}")


def send_frame(
    sock: socket.socket, header: dict, payload: bytes = b"", fds: list[int] = ()
) -> None:
    """Send one frame; the caller serialises senders (one frame must not interleave with another)."""
    head = json.dumps(header, separators=(",", ":")).encode()
    data = PREFIX.pack(len(head), len(payload)) + head + payload
    sent = socket.send_fds(sock, [data], list(fds)) if fds else sock.send(data)
    # A signal can interrupt a large blocking send part-way; the descriptors
    # went with the first byte, the rest is plain data.
    if sent < len(data):
        sock.sendall(memoryview(data)[sent:])


def recv_frame(sock: socket.socket) -> tuple[dict, bytes, list[int]] | None:
    """Read one frame (blocking); None at end of stream.

    Received descriptors are close-on-exec: socket.recv_fds() ignores its
    flags argument, so this calls recvmsg with MSG_CMSG_CLOEXEC itself, and a
    subprocess started by user code never inherits another execution's pipes.
    """
    fds: list[int] = []
    flags = getattr(socket, "MSG_CMSG_CLOEXEC", 0)
    data, ancdata, msg_flags, _ = sock.recvmsg(
        PREFIX.size, socket.CMSG_SPACE(MAX_FDS * 4), flags
    )
    for level, kind, cdata in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(cdata) - len(cdata) % 4
            fds.extend(struct.unpack(f"{usable // 4}i", cdata[:usable]))
    if not data:
        close_fds(fds)
        return None
    try:
        if msg_flags & getattr(socket, "MSG_CTRUNC", 0):
            raise ConnectionError("file descriptors were truncated in transit")
        prefix = data + _recv_exact(sock, PREFIX.size - len(data))
        head_len, payload_len = PREFIX.unpack(prefix)
        body = _recv_exact(sock, head_len + payload_len)
        return json.loads(body[:head_len]), body[head_len:], fds
    except BaseException:
        # Descriptors must not leak when the frame is unusable.
        close_fds(fds)
        raise


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:], size - got)
        if n == 0:
            raise ConnectionError("stream ended inside a frame")
        got += n
    return bytes(buf)


def close_fds(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):  # already closed
            os.close(fd)
